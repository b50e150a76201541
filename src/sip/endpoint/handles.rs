//! The handles the TU holds for server transactions: [`InviteServer`]
//! and [`NonInviteServer`]. Their verbs become commands to the endpoint
//! task; dropping one unanswered answers 500 for it.

use tokio::sync::{mpsc, oneshot};

use super::super::dialog::{DialogEvent, DialogKey, ServerDialog};
use super::super::message::Request;
use super::super::transaction::ServerKey;
use super::super::{SipError, StatusCode};
use super::Command;

/// A server INVITE transaction as the TU sees it.
#[derive(Debug)]
pub struct InviteServer {
    pub(super) request: Request,
    pub(super) tx: ServerKey,
    pub(super) local_tag: String,
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) cancel: Option<oneshot::Receiver<()>>,
    /// A final response was sent (or the endpoint answered for us).
    pub(super) done: bool,
}

impl InviteServer {
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Our To tag, the same in 180 and 200 (RFC 3261 §12.1.1).
    pub fn local_tag(&self) -> &str {
        &self.local_tag
    }

    /// 180 Ringing (100 Trying was sent when the INVITE arrived).
    pub async fn ringing(&mut self) {
        self.respond(StatusCode::RINGING, Vec::new(), None);
    }

    /// A final non-2xx response.
    pub async fn reject(self, status: StatusCode) {
        self.reject_with(status, Vec::new()).await
    }

    /// A final non-2xx response with extra headers (Accept with a 415,
    /// RFC 3261 §21.4.13; Allow with a 405).
    pub async fn reject_with(mut self, status: StatusCode, headers: Vec<(String, String)>) {
        self.respond(status, headers, None);
        self.done = true;
    }

    /// 200 with our SDP; the 2xx is retransmitted (RFC 3261 §13.3.1.4)
    /// until the ACK comes, which resolves this. Without ACK after 64*T1
    /// the call is hung up with BYE and this fails.
    pub async fn answer(mut self, sdp: Vec<u8>) -> Result<ServerDialog, SipError> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let ack_body = self.send_answer(sdp, Some(events_tx)).await?;
        Ok(ServerDialog {
            ack_body,
            key: DialogKey {
                call_id: self.request.call_id.clone(),
                local_tag: self.local_tag.clone(),
            },
            events,
            commands: self.commands.clone(),
        })
    }

    pub(crate) async fn answer_in_dialog(mut self, sdp: Vec<u8>) -> Result<Vec<u8>, SipError> {
        self.send_answer(sdp, None).await
    }

    async fn send_answer(
        &mut self,
        sdp: Vec<u8>,
        events: Option<mpsc::UnboundedSender<Box<DialogEvent>>>,
    ) -> Result<Vec<u8>, SipError> {
        self.done = true;
        let (reply, result) = oneshot::channel();
        self.commands
            .send(Command::Answer {
                tx: self.tx.clone(),
                sdp,
                events,
                reply,
            })
            .map_err(|_| SipError::EndpointClosed)?;
        result.await.map_err(|_| SipError::EndpointClosed)?
    }

    /// Resolves when a CANCEL took the transaction down (the endpoint has
    /// already answered 487). Cancel-safe; pends forever otherwise.
    pub async fn cancelled(&mut self) {
        match self.cancel.as_mut() {
            Some(receiver) => {
                if receiver.await.is_ok() {
                    self.done = true;
                    return;
                }
                self.cancel = None;
                std::future::pending::<()>().await
            }
            None => std::future::pending::<()>().await,
        }
    }

    fn respond(
        &self,
        status: StatusCode,
        headers: Vec<(String, String)>,
        body: Option<(String, Vec<u8>)>,
    ) {
        let _ = self.commands.send(Command::Respond {
            tx: self.tx.clone(),
            status,
            headers,
            body,
        });
    }
}

impl Drop for InviteServer {
    fn drop(&mut self) {
        // Never leave a transaction unanswered.
        if !self.done {
            self.respond(StatusCode::SERVER_INTERNAL_ERROR, Vec::new(), None);
        }
    }
}

/// A server non-INVITE transaction as the TU sees it.
#[derive(Debug)]
pub struct NonInviteServer {
    pub(super) request: Request,
    pub(super) tx: ServerKey,
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) done: bool,
}

impl NonInviteServer {
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Send the final response (with extra headers and an optional body).
    pub async fn respond(
        mut self,
        status: StatusCode,
        headers: Vec<(String, String)>,
        body: Option<(String, Vec<u8>)>,
    ) {
        self.done = true;
        let _ = self.commands.send(Command::Respond {
            tx: self.tx.clone(),
            status,
            headers,
            body,
        });
    }
}

impl Drop for NonInviteServer {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.commands.send(Command::Respond {
                tx: self.tx.clone(),
                status: StatusCode::SERVER_INTERNAL_ERROR,
                headers: Vec::new(),
                body: None,
            });
        }
    }
}

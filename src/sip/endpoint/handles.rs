//! The handles the TU holds for transactions: [`InviteServer`] and
//! [`NonInviteServer`] for requests we received, [`InviteClient`] for a
//! call we place. Their verbs become commands to the endpoint task;
//! dropping a server handle unanswered answers 500 for it, dropping a call
//! we place before its final response cancels it.

use tokio::sync::{mpsc, oneshot};

use super::super::dialog::{ClientDialog, DialogEvent, DialogKey, DialogLink, ServerDialog};
use super::super::digest::{ChallengeKind, ClientRequest, authorization};
use super::super::message::Request;
use super::super::message::random_token;
use super::super::transaction::{ClientKey, ServerKey};
use super::super::{SipError, StatusCode};
use super::requests::NewRequest;
use super::{Command, InviteEvent};

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
            link: DialogLink {
                key: DialogKey {
                    call_id: self.request.call_id.clone(),
                    local_tag: self.local_tag.clone(),
                },
                events,
                commands: self.commands.clone(),
            },
            ack_body,
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

/// A response to a call we place, as [`InviteClient::next_response`]
/// yields it.
#[derive(Debug)]
pub enum InviteResponse {
    /// 180 Ringing, 183 Session Progress… (100 Trying is not passed on)
    /// with its body (early media SDP, if any).
    Provisional { status: StatusCode, body: Vec<u8> },
    /// The peer answered: the dialog, whose 2xx has been acknowledged
    /// (RFC 3261 §13.2.2.4). A 2xx that crossed our CANCEL comes here
    /// too: the call is up, and the TU hangs it up if it no longer wants
    /// it (§9.1).
    Answered(ClientDialog),
    /// A final non-2xx response (487 after [`InviteClient::cancel`]); the
    /// transaction has acknowledged it (§17.1.1.3).
    Rejected(StatusCode),
    /// A 401 or 407 with challenges: [`InviteClient::authenticate`] tries
    /// again with credentials; a TU without any treats it as rejected.
    Challenged(Challenge),
}

/// What a 401 or 407 asked for (RFC 3261 §22.2, §22.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub kind: ChallengeKind,
    /// Every WWW-Authenticate (or Proxy-Authenticate) value, in order.
    pub challenges: Vec<String>,
}

impl Challenge {
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }
}

/// A client INVITE transaction as the TU sees it: a call we place.
#[derive(Debug)]
pub struct InviteClient {
    tx: ClientKey,
    /// The request as sent, for a retry with credentials.
    request: Box<NewRequest>,
    call_id: String,
    events: mpsc::UnboundedReceiver<InviteEvent>,
    commands: mpsc::UnboundedSender<Command>,
    /// The final response has been yielded.
    finished: bool,
}

impl InviteClient {
    pub(super) fn new(
        request: &NewRequest,
        events: mpsc::UnboundedReceiver<InviteEvent>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> InviteClient {
        InviteClient {
            tx: ClientKey {
                branch: request.branch.clone(),
                method: request.method.as_str().to_owned(),
                transport: request.target.transport,
            },
            request: Box::new(request.clone()),
            call_id: request.call_id.clone(),
            events,
            commands,
            finished: false,
        }
    }

    /// Answer a challenge (RFC 3261 §22.2): the INVITE again with our
    /// credentials, in the same call (Call-ID and From tag) with the next
    /// CSeq, as a new handle. Fails when the challenge offers nothing we
    /// can answer (neither MD5 nor SHA-256 with `qop=auth` or none).
    pub fn authenticate(
        self,
        challenge: &Challenge,
        username: &str,
        password: &str,
    ) -> Result<InviteClient, SipError> {
        let cnonce = random_token();
        let value = authorization(
            challenge.challenges.iter().map(String::as_str),
            username,
            password,
            ClientRequest {
                method: self.request.method_name(),
                uri: self.request.uri(),
                cnonce: &cnonce,
                nc: 1,
            },
        )
        .map_err(|_| SipError::UnusableChallenge)?;
        let retry = self
            .request
            .with_credentials((challenge.kind.credentials_header().to_owned(), value));
        let (events_tx, events) = mpsc::unbounded_channel();
        let client = InviteClient::new(&retry, events, self.commands.clone());
        self.commands
            .send(Command::Invite {
                request: Box::new(retry),
                events: events_tx,
            })
            .map_err(|_| SipError::EndpointClosed)?;
        Ok(client)
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The next response: provisional ones, then the final one, then
    /// `None`. A 2xx is acknowledged here, as it is handed over. Fails
    /// with [`SipError::TransactionTimeout`] when no response came
    /// (timer B, 64*T1) or no final one within 64*T1 of our CANCEL
    /// (§9.1). A phone that rings rings for as long as it likes (§17.1.1.2:
    /// no timer once a provisional response has come): the TU's ring
    /// timeout cancels. Cancel-safe.
    pub async fn next_response(&mut self) -> Option<Result<InviteResponse, SipError>> {
        if self.finished {
            return None;
        }
        let Some(event) = self.events.recv().await else {
            self.finished = true;
            return Some(Err(SipError::EndpointClosed));
        };
        let response = match event {
            InviteEvent::Provisional { status, body } => {
                return Some(Ok(InviteResponse::Provisional { status, body }));
            }
            InviteEvent::Answered {
                dialog,
                cseq,
                answer,
                events,
            } => {
                // RFC 3261 §13.2.2.4: the ACK of a 2xx is the UAC core's,
                // a request of its own.
                let ack = Command::Ack {
                    dialog: dialog.clone(),
                    cseq,
                };
                let _ = self.commands.send(ack);
                let link = DialogLink {
                    key: dialog,
                    events,
                    commands: self.commands.clone(),
                };
                Ok(InviteResponse::Answered(ClientDialog { link, answer }))
            }
            InviteEvent::Rejected(status) => Ok(InviteResponse::Rejected(status)),
            InviteEvent::Challenged(challenge) => Ok(InviteResponse::Challenged(challenge)),
            InviteEvent::Failed(error) => Err(error),
        };
        self.finished = true;
        Some(response)
    }

    /// Give up on the call (RFC 3261 §9.1): the CANCEL goes at once if a
    /// provisional response has come, else as soon as one does; the
    /// INVITE then ends with 487 ([`InviteResponse::Rejected`]). Nothing
    /// happens once the final response is in.
    pub fn cancel(&self) {
        let _ = self.commands.send(Command::Cancel {
            tx: self.tx.clone(),
        });
    }
}

impl Drop for InviteClient {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.cancel();
        // A 2xx already here that nobody will take: acknowledge it and
        // hang up (§13.2.2.4, §15).
        while let Ok(event) = self.events.try_recv() {
            if let InviteEvent::Answered { dialog, cseq, .. } = event {
                let ack = Command::Ack {
                    dialog: dialog.clone(),
                    cseq,
                };
                let _ = self.commands.send(ack);
                let (reply, _) = oneshot::channel();
                let _ = self.commands.send(Command::Bye { dialog, reply });
            }
        }
    }
}

//! Dialogs (RFC 3261 §12) as the endpoint keeps them, and the handles the
//! TU gets: [`ServerDialog`] for a call we answered, [`DialogEvent`] for
//! what the peer sends inside it, [`ReInvite`] for a target refresh.
//!
//! Owns the dialog state (Call-ID, tags, remote target, route set, local
//! CSeq) and the rules for building in-dialog requests (§12.2.1.1). Knows
//! no socket; the endpoint task sends what is built here.

use std::net::{IpAddr, SocketAddr};

use rsipstack::sip::{Host, Uri};
use tokio::sync::{mpsc, oneshot};

use super::endpoint::{Command, InviteServer, NonInviteServer};
use super::message::{Method, OutgoingRequest, Request, new_branch, random_token};
use super::{SipError, StatusCode, Transport};

/// A dialog is found by Call-ID and our (local) tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DialogKey {
    pub(crate) call_id: String,
    pub(crate) local_tag: String,
}

/// The UAS side of a dialog (RFC 3261 §12.1.1), kept by the endpoint task.
#[derive(Debug)]
pub(crate) struct DialogState {
    pub(crate) key: DialogKey,
    /// Our From in requests we send: the INVITE's To plus our tag.
    local_party: String,
    /// Their From value, with their tag: our To.
    remote_party: String,
    remote_target: Option<Uri>,
    /// Record-Route of the INVITE, in order (UAS route set, §12.1.1).
    route_set: Vec<String>,
    local_cseq: u32,
    /// The highest CSeq the peer has used in this dialog (RFC 3261 §12.1.1:
    /// the INVITE's to start with).
    pub(crate) remote_cseq: u32,
    /// Where the INVITE came from and how.
    pub(crate) peer: SocketAddr,
    pub(crate) transport: Transport,
    pub(crate) events: mpsc::UnboundedSender<Box<DialogEvent>>,
}

impl DialogState {
    pub(crate) fn from_invite(
        invite: &Request,
        local_tag: &str,
        events: mpsc::UnboundedSender<Box<DialogEvent>>,
    ) -> DialogState {
        DialogState {
            key: DialogKey {
                call_id: invite.call_id.clone(),
                local_tag: local_tag.to_owned(),
            },
            local_party: format!(
                "{};tag={}",
                invite.header("To").unwrap_or_default(),
                local_tag
            ),
            remote_party: invite.header("From").unwrap_or_default().to_owned(),
            remote_target: invite.contact_uri(),
            route_set: invite.record_route(),
            local_cseq: 0,
            remote_cseq: invite.cseq,
            peer: invite.source,
            transport: invite.transport,
            events,
        }
    }

    /// A target refresh (re-INVITE) replaces the remote target (§12.2.2).
    pub(crate) fn refresh_target(&mut self, request: &Request) {
        if let Some(target) = request.contact_uri() {
            self.remote_target = Some(target);
        }
    }

    /// Build a BYE (§15.1.1, §12.2.1.1): Request-URI is the remote target,
    /// Route is the route set, CSeq one more than our last.
    pub(crate) fn bye(&mut self, local_addr: SocketAddr, user_agent: &str) -> OutgoingRequest {
        self.local_cseq += 1;
        let branch = new_branch();
        let uri = self
            .remote_target
            .as_ref()
            .map(Uri::to_string)
            .unwrap_or_else(|| format!("sip:{}", self.peer));
        OutgoingRequest {
            method: Method::Bye,
            uri,
            via: format!(
                "SIP/2.0/{} {};branch={};rport",
                self.transport, local_addr, branch
            ),
            branch,
            from: self.local_party.clone(),
            to: self.remote_party.clone(),
            call_id: self.key.call_id.clone(),
            cseq: self.local_cseq,
            routes: self.route_set.clone(),
            extra: vec![("User-Agent".to_owned(), user_agent.to_owned())],
        }
    }

    /// Where in-dialog requests go: the first route if loose-routed, else
    /// the remote target, when either names an IP address (we have no DNS
    /// resolver); otherwise back to where the INVITE came from.
    pub(crate) fn next_hop(&self) -> SocketAddr {
        let first_route = self
            .route_set
            .first()
            .and_then(|r| rsipstack::sip::parse_uri(r).ok());
        first_route
            .as_ref()
            .or(self.remote_target.as_ref())
            .and_then(uri_socket_addr)
            .unwrap_or(self.peer)
    }
}

fn uri_socket_addr(uri: &Uri) -> Option<SocketAddr> {
    let ip: IpAddr = match &uri.host_with_port.host {
        Host::IpAddr(ip) => *ip,
        Host::Domain(domain) => domain.to_string().parse().ok()?,
    };
    let port = uri
        .host_with_port
        .port
        .as_ref()
        .map(|p| p.0)
        .unwrap_or(super::DEFAULT_SIP_PORT);
    Some(SocketAddr::new(ip, port))
}

/// What the peer sends inside a dialog.
#[derive(Debug)]
pub enum DialogEvent {
    /// The peer hung up: the endpoint has answered the BYE with 200 and
    /// the dialog has ended.
    Bye,
    /// A re-INVITE (session refresh or hold).
    ReInvite(ReInvite),
    /// INFO (e.g. SIP INFO DTMF).
    Info(NonInviteServer),
    /// Any other in-dialog request.
    Other(NonInviteServer),
}

/// An in-dialog INVITE: answered or rejected without creating a dialog.
#[derive(Debug)]
pub struct ReInvite {
    pub(crate) server: InviteServer,
}

impl ReInvite {
    pub fn request(&self) -> &Request {
        self.server.request()
    }

    /// 200 with our SDP; resolves with the ACK's body when it arrives.
    pub async fn answer(self, sdp: Vec<u8>) -> Result<Vec<u8>, SipError> {
        self.server.answer_in_dialog(sdp).await
    }

    pub async fn reject(self, status: StatusCode) {
        self.server.reject(status).await
    }

    /// A final non-2xx response with extra headers (see
    /// [`InviteServer::reject_with`]).
    pub async fn reject_with(self, status: StatusCode, headers: Vec<(String, String)>) {
        self.server.reject_with(status, headers).await
    }
}

/// A call we answered (UAS dialog). Dropping it deregisters the dialog.
#[derive(Debug)]
pub struct ServerDialog {
    pub(crate) key: DialogKey,
    /// The body of the ACK that confirmed the dialog.
    pub(crate) ack_body: Vec<u8>,
    /// Boxed: a channel allocates its slots 32 at a time, and an unboxed
    /// event (a whole request) made that 10 KiB and more for every call.
    pub(crate) events: mpsc::UnboundedReceiver<Box<DialogEvent>>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
}

impl ServerDialog {
    pub fn call_id(&self) -> &str {
        &self.key.call_id
    }

    /// The body of the ACK: the SDP answer when our 200 carried the offer
    /// (RFC 3264 §5), else usually empty.
    pub fn ack_body(&self) -> &[u8] {
        &self.ack_body
    }

    /// The next request from the peer; `None` once the dialog has ended.
    /// Cancel-safe.
    pub async fn next_event(&mut self) -> Option<DialogEvent> {
        self.events.recv().await.map(|event| *event)
    }

    /// Hang up: BYE in a client non-INVITE transaction; the final status.
    /// The dialog ends whatever the answer.
    pub async fn bye(&mut self) -> Result<StatusCode, SipError> {
        let (reply, result) = oneshot::channel();
        self.commands
            .send(Command::Bye {
                dialog: self.key.clone(),
                reply,
            })
            .map_err(|_| SipError::EndpointClosed)?;
        result.await.map_err(|_| SipError::EndpointClosed)?
    }
}

impl Drop for ServerDialog {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::DialogGone(self.key.clone()));
    }
}

/// A fresh local tag (RFC 3261 §19.3).
pub(crate) fn new_tag() -> String {
    random_token()
}

//! Dialogs (RFC 3261 §12) as the endpoint keeps them, and the handles the
//! TU gets: [`ServerDialog`] for a call we answered, [`ClientDialog`] for
//! a call we placed, [`DialogEvent`] for what the peer sends inside
//! either, [`ReInvite`] for a target refresh.
//!
//! Owns the dialog state (Call-ID, tags, remote target, route set, local
//! CSeq) of both sides (§12.1.1 UAS, §12.1.2 UAC) and the rules for
//! building in-dialog requests (§12.2.1.1) and the ACK of a 2xx
//! (§13.2.2.4). Knows no socket; the endpoint task sends what is built
//! here.

use std::net::{IpAddr, SocketAddr};

use rsipstack::sip::{Host, Uri};
use tokio::sync::{mpsc, oneshot};

use super::endpoint::{Command, InviteServer, NonInviteServer, ReInvited};
use super::message::{Method, OutgoingRequest, Request, Response, new_branch, random_token};
use super::{SipError, StatusCode, Transport};

/// A dialog is found by Call-ID and our (local) tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DialogKey {
    pub(crate) call_id: String,
    pub(crate) local_tag: String,
}

/// Events of a dialog, for its TU handle. Boxed: a channel allocates its
/// slots 32 at a time, and an unboxed event (a whole request) made that
/// 10 KiB and more for every call.
pub(crate) type DialogEvents = mpsc::UnboundedSender<Box<DialogEvent>>;

/// One side of a dialog, kept by the endpoint task.
#[derive(Debug)]
pub(crate) struct DialogState {
    pub(crate) key: DialogKey,
    /// Our From in requests we send, with our tag.
    local_party: String,
    /// Our To in requests we send, with their tag.
    remote_party: String,
    /// Their tag (the INVITE's From tag, or the 2xx's To tag).
    pub(crate) remote_tag: String,
    remote_target: Option<Uri>,
    /// The route set (§12.1.1, §12.1.2), in the order requests use it.
    route_set: Vec<String>,
    local_cseq: u32,
    /// The highest CSeq the peer has used in this dialog (RFC 3261 §12.1.1:
    /// the INVITE's to start with; §12.1.2: none, 0, for the UAC).
    pub(crate) remote_cseq: u32,
    /// Where the INVITE came from (or went to) and how.
    pub(crate) peer: SocketAddr,
    pub(crate) transport: Transport,
    pub(crate) events: DialogEvents,
}

impl DialogState {
    /// The UAS side, from the INVITE we answer (§12.1.1).
    pub(crate) fn from_invite(
        invite: &Request,
        local_tag: &str,
        events: DialogEvents,
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
            remote_tag: invite.from_tag().unwrap_or_default().to_owned(),
            remote_target: invite.contact_uri(),
            route_set: invite.record_route(),
            local_cseq: 0,
            remote_cseq: invite.cseq,
            peer: invite.source,
            transport: invite.transport,
            events,
        }
    }

    /// The UAC side, from the INVITE we sent to `peer` and its 2xx
    /// (§12.1.2): the route set is the 2xx's Record-Route reversed, the
    /// remote target its Contact, our CSeq the INVITE's.
    pub(crate) fn from_2xx(
        invite: &OutgoingRequest,
        local_tag: &str,
        response: &Response,
        (peer, transport): (SocketAddr, Transport),
        events: DialogEvents,
    ) -> DialogState {
        let mut route_set = response.record_route();
        route_set.reverse();
        DialogState {
            key: DialogKey {
                call_id: invite.call_id.clone(),
                local_tag: local_tag.to_owned(),
            },
            local_party: invite.from.clone(),
            remote_party: response.to().unwrap_or(&invite.to).to_owned(),
            remote_tag: response.to_tag().unwrap_or_default(),
            remote_target: response.contact_uri(),
            route_set,
            local_cseq: invite.cseq,
            remote_cseq: 0,
            peer,
            transport,
            events,
        }
    }

    /// A target refresh (re-INVITE) replaces the remote target (§12.2.2).
    pub(crate) fn refresh_target(&mut self, request: &Request) {
        if let Some(target) = request.contact_uri() {
            self.remote_target = Some(target);
        }
    }

    /// A new request in the dialog (§12.2.1.1): Request-URI is the remote
    /// target, Route is the route set, CSeq one more than our last.
    pub(crate) fn request(
        &mut self,
        method: Method,
        local_addr: SocketAddr,
        user_agent: &str,
    ) -> OutgoingRequest {
        self.local_cseq += 1;
        self.build(method, self.local_cseq, local_addr, user_agent)
    }

    /// A BYE (§15.1.1).
    pub(crate) fn bye(&mut self, local_addr: SocketAddr, user_agent: &str) -> OutgoingRequest {
        self.request(Method::Bye, local_addr, user_agent)
    }

    /// The ACK of the 2xx to our INVITE with CSeq `cseq` (§13.2.2.4): a
    /// request of its own (new branch) with the INVITE's CSeq number.
    pub(crate) fn ack(
        &self,
        cseq: u32,
        local_addr: SocketAddr,
        user_agent: &str,
    ) -> OutgoingRequest {
        self.build(Method::Ack, cseq, local_addr, user_agent)
    }

    fn build(
        &self,
        method: Method,
        cseq: u32,
        local_addr: SocketAddr,
        user_agent: &str,
    ) -> OutgoingRequest {
        let branch = new_branch();
        let uri = self
            .remote_target
            .as_ref()
            .map(Uri::to_string)
            .unwrap_or_else(|| format!("sip:{}", self.peer));
        OutgoingRequest {
            method,
            uri,
            via: format!(
                "SIP/2.0/{} {};branch={};rport",
                self.transport, local_addr, branch
            ),
            branch,
            from: self.local_party.clone(),
            to: self.remote_party.clone(),
            call_id: self.key.call_id.clone(),
            cseq,
            routes: self.route_set.clone(),
            extra: vec![("User-Agent".to_owned(), user_agent.to_owned())],
            body: None,
        }
    }

    /// Where in-dialog requests go: the first route if loose-routed, else
    /// the remote target, when either names an IP address (we have no DNS
    /// resolver); otherwise back to where the INVITE came from (went to).
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

/// What both dialog handles hold: the key, the peer's requests and the
/// way to the endpoint. Dropping it deregisters the dialog.
#[derive(Debug)]
pub(crate) struct DialogLink {
    pub(crate) key: DialogKey,
    pub(crate) events: mpsc::UnboundedReceiver<Box<DialogEvent>>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
}

impl DialogLink {
    async fn next_event(&mut self) -> Option<DialogEvent> {
        self.events.recv().await.map(|event| *event)
    }

    async fn bye(&mut self) -> Result<StatusCode, SipError> {
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

impl Drop for DialogLink {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::DialogGone(self.key.clone()));
    }
}

/// A call we answered (UAS dialog). Dropping it deregisters the dialog.
#[derive(Debug)]
pub struct ServerDialog {
    pub(crate) link: DialogLink,
    /// The body of the ACK that confirmed the dialog.
    pub(crate) ack_body: Vec<u8>,
}

impl ServerDialog {
    pub fn call_id(&self) -> &str {
        &self.link.key.call_id
    }

    /// The body of the ACK: the SDP answer when our 200 carried the offer
    /// (RFC 3264 §5), else usually empty.
    pub fn ack_body(&self) -> &[u8] {
        &self.ack_body
    }

    /// The next request from the peer; `None` once the dialog has ended.
    /// Cancel-safe.
    pub async fn next_event(&mut self) -> Option<DialogEvent> {
        self.link.next_event().await
    }

    /// Hang up: BYE in a client non-INVITE transaction; the final status.
    /// The dialog ends whatever the answer.
    pub async fn bye(&mut self) -> Result<StatusCode, SipError> {
        self.link.bye().await
    }
}

/// A call we placed and the peer answered (UAC dialog, RFC 3261 §12.1.2);
/// its 2xx has been acknowledged. Dropping it deregisters the dialog.
#[derive(Debug)]
pub struct ClientDialog {
    pub(crate) link: DialogLink,
    /// The body of the 2xx: the SDP answer to our offer.
    pub(crate) answer: Vec<u8>,
}

impl ClientDialog {
    pub fn call_id(&self) -> &str {
        &self.link.key.call_id
    }

    /// The body of the 2xx: the answer to the offer in our INVITE
    /// (RFC 3264 §5).
    pub fn answer(&self) -> &[u8] {
        &self.answer
    }

    /// The next request from the peer; `None` once the dialog has ended.
    /// Cancel-safe.
    pub async fn next_event(&mut self) -> Option<DialogEvent> {
        self.link.next_event().await
    }

    /// Hang up: BYE in a client non-INVITE transaction; the final status.
    /// The dialog ends whatever the answer.
    pub async fn bye(&mut self) -> Result<StatusCode, SipError> {
        self.link.bye().await
    }

    /// A re-INVITE with a new offer (hold: `a=sendonly`, RFC 3264 §8.4):
    /// the final status and, on 2xx, the answer; the 2xx is acknowledged
    /// before this returns (§13.2.2.4). A non-2xx leaves the session as it
    /// was (§14.1).
    pub async fn reinvite(&mut self, sdp: Vec<u8>) -> Result<(StatusCode, Vec<u8>), SipError> {
        let (reply, result) = oneshot::channel();
        self.link
            .commands
            .send(Command::ReInvite {
                dialog: self.link.key.clone(),
                sdp,
                reply,
            })
            .map_err(|_| SipError::EndpointClosed)?;
        let ReInvited { status, body, cseq } =
            result.await.map_err(|_| SipError::EndpointClosed)??;
        if status.is_success() {
            self.link
                .commands
                .send(Command::Ack {
                    dialog: self.link.key.clone(),
                    cseq,
                })
                .map_err(|_| SipError::EndpointClosed)?;
        }
        Ok((status, body))
    }
}

/// A fresh local tag (RFC 3261 §19.3).
pub(crate) fn new_tag() -> String {
    random_token()
}

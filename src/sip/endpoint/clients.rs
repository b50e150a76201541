//! The client transaction table (RFC 3261 §17.1): one state machine per
//! request we sent, with where it goes and who waits for its outcome.
//!
//! Owns starting transactions, matching responses to them (§17.1.3),
//! their retransmission and timeout timers, the ACK of a non-2xx to an
//! INVITE (§17.1.1.3), the CANCEL of an INVITE (§9.1: only once a
//! provisional response has come) and telling the waiter how it went.
//! A 2xx to an INVITE is handed back to the caller, whose dialog it makes
//! (§13.2.2.4). Sans-IO: what is to be sent or armed goes into the
//! [`Outbox`]. Knows no dialog state: requests come built.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::super::dialog::DialogKey;
use super::super::digest::ChallengeKind;
use super::super::message::{OutgoingRequest, Response};
use super::super::transaction::{
    Action, ClientInvite, ClientInviteState, ClientKey, ClientNonInvite, Timer, Timers,
};
use super::super::{SipError, StatusCode, Transport};
use super::handles::Challenge;
use super::outbox::Outbox;
use super::timers::TimerTarget;
use super::{InviteEvent, ReInvited};

/// Who hears the final status of a request (or the timeout).
pub(super) type StatusReply = oneshot::Sender<Result<StatusCode, SipError>>;
/// Who hears how a re-INVITE went.
pub(super) type ReInviteReply = oneshot::Sender<Result<ReInvited, SipError>>;

/// Who waits for an INVITE's outcome.
#[derive(Debug)]
pub(super) enum InviteWaiter {
    /// The handle of a call we place: every response but 100.
    Call(mpsc::UnboundedSender<InviteEvent>),
    /// A re-INVITE in a dialog: the final response only.
    ReInvite(Option<ReInviteReply>),
}

/// Where an INVITE is with its CANCEL (§9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    NotWanted,
    /// Asked for before any provisional response: sent when one comes.
    Wanted,
    Sent,
}

struct InviteParts {
    machine: ClientInvite,
    /// For the ACK of a non-2xx and for the CANCEL.
    request: OutgoingRequest,
    dialog: DialogKey,
    waiter: InviteWaiter,
    cancel: Cancel,
    /// A 2xx has come.
    answered: bool,
}

enum Kind {
    Invite(Box<InviteParts>),
    NonInvite(ClientNonInvite, Option<StatusReply>),
}

struct Entry {
    kind: Kind,
    dest: SocketAddr,
    transport: Transport,
    method: String,
}

/// A 2xx to one of our INVITEs, for the dialog layer (§13.2.2.4).
#[derive(Debug)]
pub(super) struct Success {
    pub(super) request: OutgoingRequest,
    pub(super) dialog: DialogKey,
    pub(super) peer: (SocketAddr, Transport),
    /// Who waits for it; `None` for a retransmitted 2xx.
    pub(super) waiter: Option<InviteWaiter>,
}

/// What a response came to.
#[derive(Debug)]
pub(super) enum Matched {
    /// It matches no transaction of ours: discarded (RFC 3261 §18.1.2).
    Nothing,
    /// It matched and moved the transaction on.
    Handled,
    /// A retransmission the transaction had no use for.
    Absorbed,
    /// A 2xx to an INVITE.
    Success(Box<Success>),
}

/// The live client transactions, by their §17.1.3 key.
pub(super) struct ClientTable {
    entries: HashMap<ClientKey, Entry>,
    timers: Timers,
}

impl ClientTable {
    pub(super) fn new(timers: Timers) -> ClientTable {
        ClientTable {
            entries: HashMap::new(),
            timers,
        }
    }

    /// Send `request` in a new client non-INVITE transaction (§17.1.2);
    /// `reply` hears its final status.
    pub(super) fn start_non_invite(
        &mut self,
        request: &OutgoingRequest,
        (dest, transport): (SocketAddr, Transport),
        reply: Option<StatusReply>,
        now: Instant,
        out: &mut Outbox,
    ) {
        let (machine, actions) = ClientNonInvite::start(
            request.to_bytes(),
            transport.is_reliable(),
            self.timers,
            now,
        );
        let key = key_of(request, transport);
        let entry = Entry {
            kind: Kind::NonInvite(machine, reply),
            dest,
            transport,
            method: key.method.clone(),
        };
        self.entries.insert(key.clone(), entry);
        self.run(&key, actions, None, now, out);
    }

    /// Send `request` in a new client INVITE transaction (§17.1.1) for
    /// the dialog `dialog` (to be, or a re-INVITE's).
    pub(super) fn start_invite(
        &mut self,
        request: OutgoingRequest,
        dialog: DialogKey,
        (dest, transport): (SocketAddr, Transport),
        waiter: InviteWaiter,
        now: Instant,
        out: &mut Outbox,
    ) -> ClientKey {
        let (machine, actions) = ClientInvite::start(
            request.to_bytes(),
            transport.is_reliable(),
            self.timers,
            now,
        );
        let key = key_of(&request, transport);
        let parts = InviteParts {
            machine,
            request,
            dialog,
            waiter,
            cancel: Cancel::NotWanted,
            answered: false,
        };
        let entry = Entry {
            kind: Kind::Invite(Box::new(parts)),
            dest,
            transport,
            method: key.method.clone(),
        };
        self.entries.insert(key.clone(), entry);
        self.run(&key, actions, None, now, out);
        key
    }

    /// Cancel an INVITE (§9.1): at once if a provisional response has
    /// come, else as soon as one does; nothing once it has a final one.
    pub(super) fn cancel(&mut self, key: &ClientKey, now: Instant, out: &mut Outbox) {
        let Some(Entry {
            kind: Kind::Invite(parts),
            ..
        }) = self.entries.get_mut(key)
        else {
            return;
        };
        if parts.cancel != Cancel::NotWanted {
            return;
        }
        parts.cancel = Cancel::Wanted;
        if parts.machine.state() == ClientInviteState::Proceeding {
            self.send_cancel(key, now, out);
        }
    }

    /// The CANCEL in a client non-INVITE transaction of its own (§9.1); its
    /// 200 tells nothing, the INVITE's 487 tells the waiter.
    fn send_cancel(&mut self, key: &ClientKey, now: Instant, out: &mut Outbox) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let Kind::Invite(parts) = &mut entry.kind else {
            return;
        };
        parts.cancel = Cancel::Sent;
        let cancel = parts.request.cancel();
        let peer = (entry.dest, entry.transport);
        self.start_non_invite(&cancel, peer, None, now, out);
        let give_up = now + self.timers.timeout();
        out.schedule(give_up, TimerTarget::CancelTimeout(key.clone()));
    }

    /// RFC 3261 §9.1: 64*T1 after the CANCEL, an INVITE still without a
    /// final response is given up on: the waiter hears of a timeout.
    pub(super) fn on_cancel_timeout(&mut self, key: &ClientKey) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let Kind::Invite(parts) = &entry.kind else {
            return;
        };
        let state = parts.machine.state();
        if matches!(
            state,
            ClientInviteState::Calling | ClientInviteState::Proceeding
        ) {
            entry.time_out(self.timers.timeout());
            self.entries.remove(key);
        }
    }

    /// A response to one of our requests (the caller has checked it has a
    /// branch to match on).
    pub(super) fn on_response(
        &mut self,
        key: &ClientKey,
        response: &Response,
        now: Instant,
        out: &mut Outbox,
    ) -> Matched {
        let Some(entry) = self.entries.get_mut(key) else {
            return Matched::Nothing;
        };
        let actions = match &mut entry.kind {
            Kind::NonInvite(machine, _) => machine.on_response(response.status, now),
            Kind::Invite(parts) => {
                let status = response.status;
                // §17.1.1.3: the ACK of a non-2xx is the transaction's.
                let ack = if status.is_final() && !status.is_success() {
                    parts.request.ack_for(response)
                } else {
                    Vec::new()
                };
                parts.machine.on_response(status, ack, now)
            }
        };
        if actions.is_empty() {
            return Matched::Absorbed;
        }
        self.run(key, actions, Some(response), now, out)
            .map_or(Matched::Handled, |success| {
                Matched::Success(Box::new(success))
            })
    }

    pub(super) fn on_timer(
        &mut self,
        key: &ClientKey,
        timer: Timer,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let actions = match &mut entry.kind {
            Kind::NonInvite(machine, _) => machine.on_timer(timer, now),
            Kind::Invite(parts) => parts.machine.on_timer(timer, now),
        };
        self.run(key, actions, None, now, out);
    }

    /// Carry out a transaction's actions; a 2xx to an INVITE comes back.
    fn run(
        &mut self,
        key: &ClientKey,
        actions: Vec<Action>,
        response: Option<&Response>,
        now: Instant,
        out: &mut Outbox,
    ) -> Option<Success> {
        let mut success = None;
        for action in actions {
            let Some(entry) = self.entries.get_mut(key) else {
                break;
            };
            match action {
                Action::Send(bytes) => out.send(entry.dest, entry.transport, bytes),
                Action::Schedule(timer, at) => {
                    out.schedule(at, TimerTarget::Client(key.clone(), timer))
                }
                Action::DeliverResponse(status) => {
                    success = self.deliver(key, status, response, now, out).or(success);
                }
                Action::Timeout => {
                    let waited = self.timers.timeout();
                    entry.time_out(waited);
                }
                Action::Terminated => {
                    self.entries.remove(key);
                }
            }
        }
        success
    }

    fn deliver(
        &mut self,
        key: &ClientKey,
        status: StatusCode,
        response: Option<&Response>,
        now: Instant,
        out: &mut Outbox,
    ) -> Option<Success> {
        let body = response.map(|r| r.body.as_slice()).unwrap_or_default();
        let entry = self.entries.get_mut(key)?;
        let peer = (entry.dest, entry.transport);
        let parts = match &mut entry.kind {
            Kind::NonInvite(_, reply) => {
                if let Some(reply) = reply.take().filter(|_| status.is_final()) {
                    let _ = reply.send(Ok(status));
                }
                return None;
            }
            Kind::Invite(parts) => parts,
        };
        if status.is_provisional() {
            parts.provisional(status, body);
            if parts.cancel == Cancel::Wanted {
                self.send_cancel(key, now, out);
            }
            return None;
        }
        if !status.is_success() {
            parts.rejected(status, response);
            return None;
        }
        // RFC 6026 §7.2: every 2xx reaches us, the retransmissions (and a
        // forked one) too; only the first has a waiter.
        let waiter = match &mut parts.waiter {
            _ if parts.answered => None,
            InviteWaiter::Call(events) => Some(InviteWaiter::Call(events.clone())),
            InviteWaiter::ReInvite(reply) => reply.take().map(|r| InviteWaiter::ReInvite(Some(r))),
        };
        parts.answered = true;
        Some(Success {
            request: parts.request.clone(),
            dialog: parts.dialog.clone(),
            peer,
            waiter,
        })
    }
}

impl Entry {
    /// Timer B or F (or the CANCEL's wait) has run out: the waiter hears
    /// it.
    fn time_out(&mut self, waited: std::time::Duration) {
        let error = || SipError::TransactionTimeout {
            method: self.method.clone(),
            waited,
        };
        match &mut self.kind {
            Kind::NonInvite(_, reply) => {
                if let Some(reply) = reply.take() {
                    let _ = reply.send(Err(error()));
                }
            }
            Kind::Invite(parts) => match &mut parts.waiter {
                InviteWaiter::Call(events) => {
                    let _ = events.send(InviteEvent::Failed(error()));
                }
                InviteWaiter::ReInvite(reply) => {
                    if let Some(reply) = reply.take() {
                        let _ = reply.send(Err(error()));
                    }
                }
            },
        }
    }
}

impl InviteParts {
    /// A provisional response: the call's handle hears all but 100
    /// (hop by hop, §8.2.6.1).
    fn provisional(&mut self, status: StatusCode, body: &[u8]) {
        if let InviteWaiter::Call(events) = &self.waiter
            && status != StatusCode::TRYING
        {
            let _ = events.send(InviteEvent::Provisional {
                status,
                body: body.to_vec(),
            });
        }
    }

    /// A final non-2xx response (the transaction has sent its ACK). A
    /// 401 or 407 hands its challenges over, for a retry with credentials
    /// (RFC 3261 §22.2).
    fn rejected(&mut self, status: StatusCode, response: Option<&Response>) {
        match &mut self.waiter {
            InviteWaiter::Call(events) => {
                let header = match status {
                    StatusCode::UNAUTHORIZED => Some(ChallengeKind::Unauthorized),
                    StatusCode::PROXY_AUTHENTICATION_REQUIRED => {
                        Some(ChallengeKind::ProxyAuthenticationRequired)
                    }
                    _ => None,
                };
                let challenges: Vec<String> = match (header, response) {
                    (Some(kind), Some(response)) => response
                        .headers_named(kind.challenge_header())
                        .map(str::to_owned)
                        .collect(),
                    _ => Vec::new(),
                };
                let event = match header {
                    Some(kind) if !challenges.is_empty() => {
                        InviteEvent::Challenged(Challenge { kind, challenges })
                    }
                    _ => InviteEvent::Rejected(status),
                };
                let _ = events.send(event);
            }
            InviteWaiter::ReInvite(reply) => {
                if let Some(reply) = reply.take() {
                    let _ = reply.send(Ok(ReInvited {
                        status,
                        body: Vec::new(),
                        cseq: self.request.cseq,
                    }));
                }
            }
        }
    }
}

/// A client transaction's key (§17.1.3): our branch and the method, and
/// the transport its responses come back on (§18.2.2).
fn key_of(request: &OutgoingRequest, transport: Transport) -> ClientKey {
    ClientKey {
        branch: request.branch.clone(),
        method: request.method.as_str().to_owned(),
        transport,
    }
}

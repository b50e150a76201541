//! The client transaction table (RFC 3261 §17.1): one state machine per
//! request we sent, with where it goes and who waits for its final
//! response.
//!
//! Owns starting transactions, matching responses to them (§17.1.3),
//! their retransmission and timeout timers and reporting the outcome.
//! Sans-IO: what is to be sent or armed goes into the [`Outbox`]. Knows
//! no dialog: the request comes built.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::super::message::{OutgoingRequest, Response};
use super::super::transaction::{Action, ClientKey, ClientNonInvite, Timer, Timers};
use super::super::{SipError, StatusCode, Transport};
use super::outbox::Outbox;
use super::timers::TimerTarget;

/// Who hears the final status of a request (or the timeout).
pub(super) type StatusReply = oneshot::Sender<Result<StatusCode, SipError>>;

struct Entry {
    machine: ClientNonInvite,
    dest: SocketAddr,
    transport: Transport,
    reply: Option<StatusReply>,
    method: String,
}

/// What a response came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Matched {
    /// It matches no transaction of ours: discarded (RFC 3261 §18.1.2).
    Nothing,
    /// It matched and moved the transaction on.
    Handled,
    /// A retransmission the transaction had no use for.
    Absorbed,
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
        dest: SocketAddr,
        transport: Transport,
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
        let key = ClientKey {
            branch: request.branch.clone(),
            method: request.method.as_str().to_owned(),
        };
        self.entries.insert(
            key.clone(),
            Entry {
                machine,
                dest,
                transport,
                reply,
                method: request.method.as_str().to_owned(),
            },
        );
        self.run(&key, actions, out);
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
        let actions = entry.machine.on_response(response.status, now);
        if actions.is_empty() {
            return Matched::Absorbed;
        }
        self.run(key, actions, out);
        Matched::Handled
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
        let actions = entry.machine.on_timer(timer, now);
        self.run(key, actions, out);
    }

    fn run(&mut self, key: &ClientKey, actions: Vec<Action>, out: &mut Outbox) {
        for action in actions {
            let Some(entry) = self.entries.get_mut(key) else {
                return;
            };
            match action {
                Action::Send(bytes) => out.send(entry.dest, entry.transport, bytes),
                Action::Schedule(timer, at) => {
                    out.schedule(at, TimerTarget::Client(key.clone(), timer))
                }
                Action::DeliverResponse(status) if status.is_final() => {
                    if let Some(reply) = entry.reply.take() {
                        let _ = reply.send(Ok(status));
                    }
                }
                Action::DeliverResponse(_) => {}
                Action::Timeout => {
                    if let Some(reply) = entry.reply.take() {
                        let _ = reply.send(Err(SipError::TransactionTimeout {
                            method: entry.method.clone(),
                            // Timer F (§17.1.2.2) has fired.
                            waited: self.timers.timeout(),
                        }));
                    }
                }
                Action::Terminated => {
                    self.entries.remove(key);
                }
            }
        }
    }
}

//! The server transaction table (RFC 3261 §17.2): one state machine per
//! request we received, with the request, our To tag and, for an INVITE,
//! the signal a CANCEL sends its TU handle (§9.2).
//!
//! Owns creating transactions, absorbing retransmissions, sending the
//! responses the TU or the endpoint gives, CANCEL matching and the
//! transactions' timers. Sans-IO: what is to be sent or armed goes into
//! the [`Outbox`]. Knows no dialog and no TU handle.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::super::dialog::new_tag;
use super::super::message::{
    Method, Request, ResponseParts, build_bad_request, build_response, response_destination,
    response_fallback,
};
use super::super::transaction::{
    Action, ServerInvite, ServerInviteState, ServerKey, ServerNonInvite, Timer, Timers,
};
use super::super::{StatusCode, Transport};
use super::outbox::Outbox;
use super::timers::TimerTarget;

enum Machine {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

impl Machine {
    fn new(request: &Request, timers: Timers) -> Machine {
        let reliable = request.transport.is_reliable();
        if request.method == Method::Invite {
            Machine::Invite(ServerInvite::new(reliable, timers))
        } else {
            Machine::NonInvite(ServerNonInvite::new(reliable, timers))
        }
    }

    fn on_response(&mut self, status: StatusCode, bytes: Vec<u8>, now: Instant) -> Vec<Action> {
        match self {
            Machine::Invite(machine) => machine.on_response(status, bytes, now),
            Machine::NonInvite(machine) => machine.on_response(status, bytes, now),
        }
    }

    fn is_proceeding_invite(&self) -> bool {
        matches!(self, Machine::Invite(m) if m.state() == ServerInviteState::Proceeding)
    }
}

struct Entry {
    machine: Machine,
    /// The request, while responses are still to be built from it; dropped
    /// with the final response, so that a transaction kept for Timer J or
    /// I (32 s over UDP, absorbing retransmissions) holds no more than the
    /// bytes it sends again.
    request: Option<Request>,
    /// Where its responses go (RFC 3261 §18.2.2).
    route: Route,
    local_tag: String,
    /// Tells the InviteServer a CANCEL took it down.
    cancel: Option<oneshot::Sender<()>>,
}

/// Where a transaction's responses go.
#[derive(Debug, Clone, Copy)]
struct Route {
    dest: SocketAddr,
    fallback: Option<SocketAddr>,
    transport: Transport,
}

impl Route {
    fn of(request: &Request) -> Route {
        Route {
            dest: response_destination(request),
            fallback: response_fallback(request),
            transport: request.transport,
        }
    }
}

impl Entry {
    fn new(
        machine: Machine,
        request: Request,
        local_tag: String,
        cancel: Option<oneshot::Sender<()>>,
    ) -> Entry {
        Entry {
            machine,
            route: Route::of(&request),
            request: Some(request),
            local_tag,
            cancel,
        }
    }
}

/// What a request that matched a live transaction came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Known {
    /// A retransmission: absorbed, the last response sent again if any.
    Retransmission,
    /// The ACK of our non-2xx final response (§17.2.1).
    AckOfFailure,
    /// The ACK of a 2xx: not part of the INVITE transaction (§17.1.1.3,
    /// RFC 6026 §7.1); it belongs to the dialog.
    AckOfSuccess,
}

/// The live server transactions, by their §17.2.3 key.
pub(super) struct ServerTable {
    entries: HashMap<ServerKey, Entry>,
    timers: Timers,
    /// The Server header of every response.
    user_agent: String,
}

impl ServerTable {
    pub(super) fn new(timers: Timers, user_agent: String) -> ServerTable {
        ServerTable {
            entries: HashMap::new(),
            timers,
            user_agent,
        }
    }

    /// A request for a transaction we have: a retransmission, or an ACK.
    /// `None` when there is no such transaction.
    pub(super) fn on_known(
        &mut self,
        key: &ServerKey,
        method: &Method,
        now: Instant,
        out: &mut Outbox,
    ) -> Option<Known> {
        let entry = self.entries.get_mut(key)?;
        let (known, actions) = match (&mut entry.machine, method) {
            (Machine::Invite(machine), Method::Ack) => {
                if machine.state() == ServerInviteState::Accepted {
                    return Some(Known::AckOfSuccess);
                }
                (Known::AckOfFailure, machine.on_ack(now))
            }
            (Machine::Invite(machine), _) => (Known::Retransmission, machine.on_retransmission()),
            (Machine::NonInvite(machine), _) => {
                (Known::Retransmission, machine.on_retransmission())
            }
        };
        self.run(key, actions, out);
        Some(known)
    }

    /// RFC 3261 §9.2: 481 when the CANCEL matches no INVITE; else 200 to
    /// the CANCEL and, while the INVITE has no final response, 487 to it
    /// and the signal to its TU handle.
    pub(super) fn on_cancel(&mut self, request: Request, now: Instant, out: &mut Outbox) {
        let invite_key = ServerKey::of_invite(&request);
        let Some(invite) = self.entries.get(&invite_key) else {
            let status = StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST;
            return self.reply(request, status, &[], now, out);
        };
        let proceeding = invite.machine.is_proceeding_invite();
        self.reply(request, StatusCode::OK, &[], now, out);
        if proceeding {
            if let Some(cancel) = self
                .entries
                .get_mut(&invite_key)
                .and_then(|entry| entry.cancel.take())
            {
                let _ = cancel.send(());
            }
            self.respond(
                &invite_key,
                StatusCode::REQUEST_TERMINATED,
                &[],
                None,
                now,
                out,
            );
        }
    }

    /// Open a server INVITE transaction and send 100 Trying (§17.2.1). The
    /// receiver resolves when a CANCEL takes the transaction down.
    pub(super) fn open_invite(
        &mut self,
        request: &Request,
        local_tag: &str,
        now: Instant,
        out: &mut Outbox,
    ) -> (ServerKey, oneshot::Receiver<()>) {
        let (cancel, cancelled) = oneshot::channel();
        let key = self.open(request, local_tag.to_owned(), Some(cancel));
        self.respond(&key, StatusCode::TRYING, &[], None, now, out);
        (key, cancelled)
    }

    /// Open a server non-INVITE transaction (§17.2.2); the TU answers it.
    pub(super) fn open_non_invite(&mut self, request: &Request, local_tag: String) -> ServerKey {
        self.open(request, local_tag, None)
    }

    fn open(
        &mut self,
        request: &Request,
        local_tag: String,
        cancel: Option<oneshot::Sender<()>>,
    ) -> ServerKey {
        let key = ServerKey::for_request(request);
        self.entries.insert(
            key.clone(),
            Entry::new(
                Machine::new(request, self.timers),
                request.clone(),
                local_tag,
                cancel,
            ),
        );
        key
    }

    /// Answer a request on the endpoint's own account, in a fresh server
    /// transaction so retransmissions get the same answer.
    pub(super) fn reply(
        &mut self,
        request: Request,
        status: StatusCode,
        headers: &[(String, String)],
        now: Instant,
        out: &mut Outbox,
    ) {
        let local_tag = request.to_tag().map(str::to_owned).unwrap_or_else(new_tag);
        let bytes = build_response(
            &request,
            status,
            &self.user_agent,
            &ResponseParts {
                to_tag: Some(&local_tag),
                headers,
                ..ResponseParts::default()
            },
        );
        self.reply_with(request, status, bytes, now, out);
    }

    /// 400 with the reason (RFC 3261 §8.2, §20.43), in a fresh transaction;
    /// `host` names us in the Warning.
    pub(super) fn reply_bad_request(
        &mut self,
        request: Request,
        reason: &str,
        host: &str,
        now: Instant,
        out: &mut Outbox,
    ) {
        let bytes = build_bad_request(&request, reason, &self.user_agent, host);
        self.reply_with(request, StatusCode::BAD_REQUEST, bytes, now, out);
    }

    fn reply_with(
        &mut self,
        request: Request,
        status: StatusCode,
        bytes: Vec<u8>,
        now: Instant,
        out: &mut Outbox,
    ) {
        let key = ServerKey::for_request(&request);
        let mut machine = Machine::new(&request, self.timers);
        let actions = machine.on_response(status, bytes, now);
        let mut entry = Entry::new(machine, request, String::new(), None);
        // The final response is built: nothing more is built from it.
        entry.request = None;
        self.entries.insert(key.clone(), entry);
        self.run(&key, actions, out);
    }

    /// Send a response in an existing transaction; the bytes sent, or
    /// `None` when there is no such transaction or its state takes no
    /// response any more.
    pub(super) fn respond(
        &mut self,
        key: &ServerKey,
        status: StatusCode,
        headers: &[(String, String)],
        body: Option<(&str, &[u8])>,
        now: Instant,
        out: &mut Outbox,
    ) -> Option<Vec<u8>> {
        let entry = self.entries.get_mut(key)?;
        let request = entry.request.as_ref()?;
        let bytes = build_response(
            request,
            status,
            &self.user_agent,
            &ResponseParts {
                to_tag: Some(&entry.local_tag),
                headers,
                body,
                ..ResponseParts::default()
            },
        );
        let actions = entry.machine.on_response(status, bytes.clone(), now);
        if actions.is_empty() {
            return None;
        }
        if status.0 >= 200 {
            entry.request = None;
        }
        self.run(key, actions, out);
        Some(bytes)
    }

    /// The request and our To tag of an INVITE transaction that has no
    /// final response yet.
    pub(super) fn proceeding_invite(&self, key: &ServerKey) -> Option<(&Request, &str)> {
        self.entries
            .get(key)
            .filter(|entry| entry.machine.is_proceeding_invite())
            .and_then(|entry| Some((entry.request.as_ref()?, entry.local_tag.as_str())))
    }

    pub(super) fn on_timer(
        &mut self,
        key: &ServerKey,
        timer: Timer,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let actions = match &mut entry.machine {
            Machine::Invite(machine) => machine.on_timer(timer, now),
            Machine::NonInvite(machine) => machine.on_timer(timer, now),
        };
        self.run(key, actions, out);
    }

    fn run(&mut self, key: &ServerKey, actions: Vec<Action>, out: &mut Outbox) {
        let Some(entry) = self.entries.get(key) else {
            return;
        };
        let Route {
            dest,
            fallback,
            transport,
        } = entry.route;
        for action in actions {
            match action {
                Action::Send(bytes) => out.send_response(dest, fallback, transport, bytes),
                Action::Schedule(timer, at) => {
                    out.schedule(at, TimerTarget::Server(key.clone(), timer))
                }
                Action::Terminated => {
                    self.entries.remove(key);
                }
                Action::Timeout | Action::DeliverResponse(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::super::Transport;
    use super::super::super::message::{Message, parse};
    use super::*;

    fn timers() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }

    fn request(method: &str, branch: &str) -> Request {
        let text = format!(
            "{method} sip:4008@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{branch}\r\n\
             From: <sip:caller@192.0.2.10>;tag=caller\r\n\
             To: <sip:4008@127.0.0.1>\r\n\
             Call-ID: servers-test\r\n\
             CSeq: 1 {method}\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let source = "192.0.2.10:5060".parse().expect("address");
        match parse(text.as_bytes(), source, Transport::Udp) {
            Ok(Message::Request(request)) => *request,
            other => panic!("test request must parse: {other:?}"),
        }
    }

    fn status_lines(out: &mut Outbox) -> Vec<String> {
        out.sends
            .drain(..)
            .map(|sent| {
                let text = String::from_utf8_lossy(&sent.bytes).into_owned();
                text.lines().next().unwrap_or_default().to_owned()
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancel_of_a_proceeding_invite_gets_200_then_487_and_signals_the_handle() {
        let (now, mut out) = (Instant::now(), Outbox::default());
        let mut servers = ServerTable::new(timers(), "test".to_owned());
        let invite = request("INVITE", "inv");
        let (key, mut cancelled) = servers.open_invite(&invite, "ours", now, &mut out);
        assert_eq!(status_lines(&mut out), ["SIP/2.0 100 Trying"]);
        servers.on_cancel(request("CANCEL", "inv"), now, &mut out);
        assert_eq!(
            status_lines(&mut out),
            ["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]
        );
        assert!(cancelled.try_recv().is_ok(), "the handle hears of it");
        assert!(servers.proceeding_invite(&key).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_retransmission_is_absorbed_and_gets_the_last_response_again() {
        let (now, mut out) = (Instant::now(), Outbox::default());
        let mut servers = ServerTable::new(timers(), "test".to_owned());
        let options = request("OPTIONS", "opt");
        let key = servers.open_non_invite(&options, "ours".to_owned());
        assert_eq!(
            servers.on_known(&key, &Method::Options, now, &mut out),
            Some(Known::Retransmission)
        );
        assert!(out.sends.is_empty(), "§17.2.2: Trying absorbs");
        servers.respond(&key, StatusCode::OK, &[], None, now, &mut out);
        assert_eq!(status_lines(&mut out), ["SIP/2.0 200 OK"]);
        servers.on_known(&key, &Method::Options, now, &mut out);
        assert_eq!(status_lines(&mut out), ["SIP/2.0 200 OK"]);
        assert_eq!(out.timers.len(), 1, "timer J");
    }
}

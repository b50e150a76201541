//! RFC 3261 §17 transaction state machines, sans-IO: each takes an event
//! and the current time and returns [`Action`]s (send these bytes to the
//! transaction's peer, arm this timer, hand this to the TU, terminated).
//!
//! Owns the states and timers A–L of §17 (with RFC 6026's Accepted
//! states) and the matching keys of §17.1.3 / §17.2.3. Knows no socket,
//! no dialog and nothing about what the bytes say beyond status classes.

use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use super::message::{Method, Request};
use super::{StatusCode, Transport};

/// RFC 3261 §17.1.1.2: timer B/F/H/J (and RFC 6026 L/M) are 64*T1, and
/// so is the wait for the ACK of a 2xx (§13.3.1.4).
const TIMEOUT_MULTIPLIER: u32 = 64;
/// RFC 3261 §17.1.1.2: timer D is at least 32 s on unreliable transports.
pub(crate) const TIMER_D_UNRELIABLE: Duration = Duration::from_secs(32);

/// The RFC 3261 timers, named as in §17 and RFC 6026 §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// INVITE request retransmit (client).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait time for response retransmits (client INVITE).
    D,
    /// Non-INVITE request retransmit (client).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE final response retransmit (server).
    G,
    /// Wait time for ACK receipt (server INVITE).
    H,
    /// Wait time for ACK retransmits (server INVITE).
    I,
    /// Wait time for non-INVITE request retransmits (server).
    J,
    /// Wait time for response retransmits (client non-INVITE).
    K,
    /// Wait time for accepted INVITE request retransmits (server, RFC 6026).
    L,
    /// Wait time for retransmission of 2xx to INVITE (client, RFC 6026).
    M,
}

/// The timer values a transaction works with (from `SipConfig`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timers {
    pub(crate) t1: Duration,
    pub(crate) t2: Duration,
    pub(crate) t4: Duration,
}

impl Timers {
    /// 64*T1: see [`TIMEOUT_MULTIPLIER`].
    pub(crate) fn timeout(&self) -> Duration {
        self.t1 * TIMEOUT_MULTIPLIER
    }
}

/// What the owner of a transaction must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send these bytes to the transaction's peer.
    Send(Vec<u8>),
    /// Fire `Timer` at this instant (call `on_timer`).
    Schedule(Timer, Instant),
    /// Hand the received response with this status to the TU (client side).
    DeliverResponse(StatusCode),
    /// No final response came in time (timer B or F), or no ACK (timer H).
    Timeout,
    /// The transaction is over; forget it.
    Terminated,
}

/// A server transaction key (RFC 3261 §17.2.3): branch, sent-by and method,
/// where ACK maps to INVITE; CANCEL keeps its own. Also the transport and
/// the source host the request came from: the responses of a transaction
/// go back the way its request came (§18.2.2), so a request with the
/// branch of one that came another way (TCP instead of UDP, or from
/// another host) is another transaction, not a retransmission. Not the
/// source port: a client may send the ACK or CANCEL of a TCP INVITE on a
/// new connection (§17.1.1.3, §9.1 name the destination, not the source).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ServerKey {
    branch: String,
    sent_by: String,
    method: String,
    transport: Transport,
    source: IpAddr,
}

impl ServerKey {
    pub(crate) fn for_request(request: &Request) -> ServerKey {
        Self::with_method(request, Self::key_method(&request.method))
    }

    /// The key of the INVITE a CANCEL or ACK refers to (§9.2, §17.2.3).
    pub(crate) fn of_invite(request: &Request) -> ServerKey {
        Self::with_method(request, "INVITE")
    }

    fn key_method(method: &Method) -> &str {
        match method {
            Method::Ack => "INVITE",
            other => other.as_str(),
        }
    }

    fn with_method(request: &Request, method: &str) -> ServerKey {
        let via = &request.top_via;
        let branch = match (&via.branch, via.is_rfc3261()) {
            (Some(branch), true) => branch.clone(),
            // RFC 3261 §17.2.3 (RFC 2543 peers): fall back to the fields
            // that identify the request; good enough for retransmissions.
            _ => format!(
                "2543:{}:{}:{}:{}",
                request.call_id,
                request.cseq,
                request.from_tag().unwrap_or_default(),
                via.branch.as_deref().unwrap_or_default()
            ),
        };
        ServerKey {
            branch,
            sent_by: via.sent_by.clone(),
            method: method.to_owned(),
            transport: request.transport,
            source: request.source.ip(),
        }
    }
}

/// A client transaction key (RFC 3261 §17.1.3): our branch and the CSeq
/// method, and the transport the request went over, which its responses
/// come back on (§18.2.2): a response with our branch over another
/// transport is not one of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    pub(crate) branch: String,
    pub(crate) method: String,
    pub(crate) transport: Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerInviteState {
    Proceeding,
    Completed,
    Confirmed,
    /// RFC 6026 §7.1: after a 2xx, absorbing INVITE retransmissions.
    Accepted,
    Terminated,
}

/// Server INVITE transaction (RFC 3261 §17.2.1, RFC 6026 §7.1).
#[derive(Debug)]
pub(crate) struct ServerInvite {
    state: ServerInviteState,
    reliable: bool,
    timers: Timers,
    last_response: Option<Vec<u8>>,
    g_interval: Duration,
}

impl ServerInvite {
    pub(crate) fn new(reliable: bool, timers: Timers) -> ServerInvite {
        ServerInvite {
            state: ServerInviteState::Proceeding,
            reliable,
            timers,
            last_response: None,
            g_interval: timers.t1,
        }
    }

    pub(crate) fn state(&self) -> ServerInviteState {
        self.state
    }

    /// The TU sends a response (§17.2.1).
    pub(crate) fn on_response(
        &mut self,
        status: StatusCode,
        bytes: Vec<u8>,
        now: Instant,
    ) -> Vec<Action> {
        match self.state {
            ServerInviteState::Proceeding => {
                // The copy kept for retransmissions is exactly its length
                // (the built one has spare capacity).
                self.last_response = Some(bytes.clone());
                let mut actions = vec![Action::Send(bytes)];
                if status.is_success() {
                    // RFC 6026 §8.2: 2xx moves to Accepted, timer L = 64*T1.
                    self.state = ServerInviteState::Accepted;
                    actions.push(Action::Schedule(Timer::L, now + self.timers.timeout()));
                } else if status.is_final() {
                    // §17.2.1: 300-699 → Completed; G (unreliable) and H.
                    self.state = ServerInviteState::Completed;
                    if !self.reliable {
                        actions.push(Action::Schedule(Timer::G, now + self.g_interval));
                    }
                    actions.push(Action::Schedule(Timer::H, now + self.timers.timeout()));
                }
                actions
            }
            // RFC 6026 §8.5: further 2xx from the TU are passed to the transport.
            ServerInviteState::Accepted if status.is_success() => vec![Action::Send(bytes)],
            _ => Vec::new(),
        }
    }

    /// A retransmission of the INVITE arrived (§17.2.1).
    pub(crate) fn on_retransmission(&mut self) -> Vec<Action> {
        match self.state {
            ServerInviteState::Proceeding | ServerInviteState::Completed => self
                .last_response
                .iter()
                .cloned()
                .map(Action::Send)
                .collect(),
            // RFC 6026 §8.3: absorbed in Accepted; §17.2.1: in Confirmed too.
            _ => Vec::new(),
        }
    }

    /// An ACK for a non-2xx final response (§17.2.1).
    pub(crate) fn on_ack(&mut self, now: Instant) -> Vec<Action> {
        if self.state != ServerInviteState::Completed {
            return Vec::new();
        }
        self.state = ServerInviteState::Confirmed;
        let wait = if self.reliable {
            Duration::ZERO
        } else {
            self.timers.t4
        };
        vec![Action::Schedule(Timer::I, now + wait)]
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, now: Instant) -> Vec<Action> {
        match (self.state, timer) {
            (ServerInviteState::Completed, Timer::G) => {
                // §17.2.1: retransmit, double G up to T2.
                self.g_interval = (self.g_interval * 2).min(self.timers.t2);
                let mut actions: Vec<Action> = self
                    .last_response
                    .iter()
                    .cloned()
                    .map(Action::Send)
                    .collect();
                actions.push(Action::Schedule(Timer::G, now + self.g_interval));
                actions
            }
            (ServerInviteState::Completed, Timer::H) => {
                self.state = ServerInviteState::Terminated;
                vec![Action::Timeout, Action::Terminated]
            }
            (ServerInviteState::Confirmed, Timer::I) | (ServerInviteState::Accepted, Timer::L) => {
                self.state = ServerInviteState::Terminated;
                vec![Action::Terminated]
            }
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Server non-INVITE transaction (RFC 3261 §17.2.2).
#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    state: NonInviteState,
    reliable: bool,
    timers: Timers,
    last_response: Option<Vec<u8>>,
}

impl ServerNonInvite {
    pub(crate) fn new(reliable: bool, timers: Timers) -> ServerNonInvite {
        ServerNonInvite {
            state: NonInviteState::Trying,
            reliable,
            timers,
            last_response: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> NonInviteState {
        self.state
    }

    pub(crate) fn on_response(
        &mut self,
        status: StatusCode,
        bytes: Vec<u8>,
        now: Instant,
    ) -> Vec<Action> {
        if !matches!(
            self.state,
            NonInviteState::Trying | NonInviteState::Proceeding
        ) {
            return Vec::new();
        }
        // The copy kept for retransmissions (through Timer J) is exactly
        // its length (the built one has spare capacity).
        self.last_response = Some(bytes.clone());
        let mut actions = vec![Action::Send(bytes)];
        if status.is_final() {
            // §17.2.2: timer J = 64*T1 unreliable, zero reliable.
            self.state = NonInviteState::Completed;
            let wait = if self.reliable {
                Duration::ZERO
            } else {
                self.timers.timeout()
            };
            actions.push(Action::Schedule(Timer::J, now + wait));
        } else {
            self.state = NonInviteState::Proceeding;
        }
        actions
    }

    /// §17.2.2: Trying absorbs; Proceeding and Completed resend the last response.
    pub(crate) fn on_retransmission(&mut self) -> Vec<Action> {
        match self.state {
            NonInviteState::Proceeding | NonInviteState::Completed => self
                .last_response
                .iter()
                .cloned()
                .map(Action::Send)
                .collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, _now: Instant) -> Vec<Action> {
        if self.state == NonInviteState::Completed && timer == Timer::J {
            self.state = NonInviteState::Terminated;
            return vec![Action::Terminated];
        }
        Vec::new()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientInviteState {
    Calling,
    Proceeding,
    Completed,
    /// RFC 6026 §7.2: after a 2xx, passing further 2xx to the TU.
    Accepted,
    Terminated,
}

/// Client INVITE transaction (RFC 3261 §17.1.1, RFC 6026 §7.2). The ACK for
/// a non-2xx response is built by the owner and handed in (§17.1.1.3).
#[derive(Debug)]
pub(crate) struct ClientInvite {
    state: ClientInviteState,
    reliable: bool,
    timers: Timers,
    request: Vec<u8>,
    ack: Option<Vec<u8>>,
    a_interval: Duration,
}

impl ClientInvite {
    /// Start: send the INVITE, arm A (unreliable) and B (§17.1.1.2).
    pub(crate) fn start(
        request: Vec<u8>,
        reliable: bool,
        timers: Timers,
        now: Instant,
    ) -> (ClientInvite, Vec<Action>) {
        let mut actions = vec![Action::Send(request.clone())];
        if !reliable {
            actions.push(Action::Schedule(Timer::A, now + timers.t1));
        }
        actions.push(Action::Schedule(Timer::B, now + timers.timeout()));
        let transaction = ClientInvite {
            state: ClientInviteState::Calling,
            reliable,
            timers,
            request,
            ack: None,
            a_interval: timers.t1,
        };
        (transaction, actions)
    }

    pub(crate) fn state(&self) -> ClientInviteState {
        self.state
    }

    /// A response arrived; `ack` is the ACK the owner built for it, used
    /// only when the response is a non-2xx final one.
    pub(crate) fn on_response(
        &mut self,
        status: StatusCode,
        ack: Vec<u8>,
        now: Instant,
    ) -> Vec<Action> {
        match self.state {
            ClientInviteState::Calling | ClientInviteState::Proceeding => {
                if status.is_provisional() {
                    self.state = ClientInviteState::Proceeding;
                    vec![Action::DeliverResponse(status)]
                } else if status.is_success() {
                    // RFC 6026 §8.4: Accepted, timer M = 64*T1.
                    self.state = ClientInviteState::Accepted;
                    vec![
                        Action::DeliverResponse(status),
                        Action::Schedule(Timer::M, now + self.timers.timeout()),
                    ]
                } else {
                    // §17.1.1.2: ACK, deliver, Completed, timer D.
                    self.state = ClientInviteState::Completed;
                    self.ack = Some(ack.clone());
                    let wait = if self.reliable {
                        Duration::ZERO
                    } else {
                        TIMER_D_UNRELIABLE
                    };
                    vec![
                        Action::Send(ack),
                        Action::DeliverResponse(status),
                        Action::Schedule(Timer::D, now + wait),
                    ]
                }
            }
            // §17.1.1.2: retransmitted final responses get the ACK again.
            ClientInviteState::Completed if status.is_final() && !status.is_success() => {
                self.ack.iter().cloned().map(Action::Send).collect()
            }
            ClientInviteState::Accepted if status.is_success() => {
                vec![Action::DeliverResponse(status)]
            }
            _ => Vec::new(),
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, now: Instant) -> Vec<Action> {
        match (self.state, timer) {
            (ClientInviteState::Calling, Timer::A) => {
                // §17.1.1.2: retransmit and double A (no cap for INVITE).
                self.a_interval *= 2;
                vec![
                    Action::Send(self.request.clone()),
                    Action::Schedule(Timer::A, now + self.a_interval),
                ]
            }
            (ClientInviteState::Calling, Timer::B) => {
                self.state = ClientInviteState::Terminated;
                vec![Action::Timeout, Action::Terminated]
            }
            (ClientInviteState::Completed, Timer::D) | (ClientInviteState::Accepted, Timer::M) => {
                self.state = ClientInviteState::Terminated;
                vec![Action::Terminated]
            }
            _ => Vec::new(),
        }
    }
}

/// Client non-INVITE transaction (RFC 3261 §17.1.2).
#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    state: NonInviteState,
    reliable: bool,
    timers: Timers,
    request: Vec<u8>,
    e_interval: Duration,
}

impl ClientNonInvite {
    /// Start: send the request, arm E (unreliable) and F (§17.1.2.2).
    pub(crate) fn start(
        request: Vec<u8>,
        reliable: bool,
        timers: Timers,
        now: Instant,
    ) -> (ClientNonInvite, Vec<Action>) {
        let mut actions = vec![Action::Send(request.clone())];
        if !reliable {
            actions.push(Action::Schedule(Timer::E, now + timers.t1));
        }
        actions.push(Action::Schedule(Timer::F, now + timers.timeout()));
        let transaction = ClientNonInvite {
            state: NonInviteState::Trying,
            reliable,
            timers,
            request,
            e_interval: timers.t1,
        };
        (transaction, actions)
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> NonInviteState {
        self.state
    }

    pub(crate) fn on_response(&mut self, status: StatusCode, now: Instant) -> Vec<Action> {
        match self.state {
            NonInviteState::Trying | NonInviteState::Proceeding => {
                if status.is_provisional() {
                    self.state = NonInviteState::Proceeding;
                    return vec![Action::DeliverResponse(status)];
                }
                // §17.1.2.2: Completed, timer K = T4 unreliable, zero reliable.
                self.state = NonInviteState::Completed;
                let wait = if self.reliable {
                    Duration::ZERO
                } else {
                    self.timers.t4
                };
                vec![
                    Action::DeliverResponse(status),
                    Action::Schedule(Timer::K, now + wait),
                ]
            }
            _ => Vec::new(),
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, now: Instant) -> Vec<Action> {
        match (self.state, timer) {
            (NonInviteState::Trying, Timer::E) => {
                // §17.1.2.2: E doubles up to T2 while Trying.
                self.e_interval = (self.e_interval * 2).min(self.timers.t2);
                vec![
                    Action::Send(self.request.clone()),
                    Action::Schedule(Timer::E, now + self.e_interval),
                ]
            }
            (NonInviteState::Proceeding, Timer::E) => {
                // §17.1.2.2: in Proceeding, retransmit every T2.
                vec![
                    Action::Send(self.request.clone()),
                    Action::Schedule(Timer::E, now + self.timers.t2),
                ]
            }
            (NonInviteState::Trying | NonInviteState::Proceeding, Timer::F) => {
                self.state = NonInviteState::Terminated;
                vec![Action::Timeout, Action::Terminated]
            }
            (NonInviteState::Completed, Timer::K) => {
                self.state = NonInviteState::Terminated;
                vec![Action::Terminated]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;

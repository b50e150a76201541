//! The dialog table (RFC 3261 §12): the dialogs the endpoint keeps, by
//! Call-ID and our tag, each with the 2xx/ACK state of its last INVITE:
//! for a call we answered, our 2xx while it waits for its ACK
//! (§13.3.1.4: resent at T1 doubling to T2 over UDP, given up after
//! 64*T1); for a call we placed, the ACK we sent, sent again for each
//! retransmission of the 2xx (§13.2.2.4).
//!
//! Owns registering and ending dialogs, the in-dialog CSeq rule
//! (§12.2.2), the 2xx retransmission and ACK wait, and passing what the
//! peer sends on to the dialog's TU handle. Sans-IO: what is to be sent
//! or armed goes into the [`Outbox`]. The dialog state and the requests
//! built from it are `sip::dialog`'s; transactions are not known here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use tokio::sync::mpsc;

use super::super::dialog::{DialogEvent, DialogKey, DialogState};
use super::super::message::{Method, OutgoingRequest, Request, Response};
use super::super::transaction::Timers;
use super::super::{SipError, Transport};
use super::clients::{InviteWaiter, Success};
use super::outbox::{Outbox, Reach};
use super::requests::contact;
use super::timers::TimerTarget;
use super::{InviteEvent, ReInvited};

/// The body type of the offer in a re-INVITE we send (RFC 3264).
const SDP: &str = "application/sdp";

/// A request built in a dialog, and where it goes and how.
pub(super) type Routed = (OutgoingRequest, (SocketAddr, Transport));

/// Who hears the ACK's body (or why no ACK came).
pub(super) type AckReply = oneshot::Sender<Result<Vec<u8>, SipError>>;

/// The 2xx just sent, to wait for its ACK with.
pub(super) struct Sent2xx {
    /// The INVITE's CSeq, which the ACK repeats.
    pub(super) cseq: u32,
    pub(super) response: Vec<u8>,
    pub(super) dest: SocketAddr,
    pub(super) reply: AckReply,
}

/// A 2xx waiting for its ACK (RFC 3261 §13.3.1.4).
struct PendingAck {
    sent: Sent2xx,
    /// The next retransmission interval.
    interval: Duration,
}

/// The ACK we sent for the 2xx to our INVITE (§13.2.2.4).
struct SentAck {
    cseq: u32,
    bytes: Vec<u8>,
    dest: SocketAddr,
}

struct Entry {
    state: DialogState,
    pending_ack: Option<PendingAck>,
    sent_ack: Option<SentAck>,
}

/// What an ACK outside any transaction came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ack {
    /// It acknowledged the 2xx we were waiting with.
    Confirmed,
    /// Its dialog has no 2xx waiting: a retransmitted ACK.
    Repeated,
    /// It is for no dialog we know.
    Unmatched,
}

/// Whether a request inside a dialog may go on (RFC 3261 §12.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InDialog {
    /// No such dialog: 481.
    Unknown,
    /// A CSeq lower than the peer's last one: 500.
    OutOfOrder,
    /// A BYE while our 2xx still waits for its ACK: the ACK was lost and
    /// the caller hung up already. The dialog has ended (RFC 3261 §15) and
    /// the TU, still waiting for the ACK, has been told; the BYE gets 200.
    EndedBeforeAck,
    /// In order; the peer's CSeq is now this request's.
    InOrder,
}

/// The live dialogs.
pub(super) struct DialogTable {
    entries: HashMap<DialogKey, Entry>,
    timers: Timers,
}

impl DialogTable {
    pub(super) fn new(timers: Timers) -> DialogTable {
        DialogTable {
            entries: HashMap::new(),
            timers,
        }
    }

    pub(super) fn contains(&self, key: &DialogKey) -> bool {
        self.entries.contains_key(key)
    }

    pub(super) fn insert(&mut self, state: DialogState) {
        self.entries.insert(
            state.key.clone(),
            Entry {
                state,
                pending_ack: None,
                sent_ack: None,
            },
        );
    }

    /// End a dialog; its state, to build a last request from.
    pub(super) fn remove(&mut self, key: &DialogKey) -> Option<DialogState> {
        self.entries.remove(key).map(|entry| entry.state)
    }

    /// The state, to build a request in the dialog from.
    pub(super) fn state_mut(&mut self, key: &DialogKey) -> Option<&mut DialogState> {
        self.entries.get_mut(key).map(|entry| &mut entry.state)
    }

    /// End a dialog with BYE (§15.1.1): the request to send in a client
    /// transaction, or `None` when there is no such dialog.
    pub(super) fn bye(
        &mut self,
        key: &DialogKey,
        reach: &impl Reach,
        user_agent: &str,
    ) -> Option<Routed> {
        let mut state = self.remove(key)?;
        let local_addr = reach.local_addr(state.peer);
        let peer = in_dialog_peer(reach, &state);
        Some((state.bye(local_addr, user_agent), peer))
    }

    /// A re-INVITE with our new offer in the dialog `key` (§14.1).
    pub(super) fn reinvite(
        &mut self,
        key: &DialogKey,
        sdp: Vec<u8>,
        reach: &impl Reach,
        user_agent: &str,
    ) -> Option<Routed> {
        let state = self.state_mut(key)?;
        let local_addr = reach.local_addr(state.peer);
        let peer = in_dialog_peer(reach, state);
        let mut request = state.request(Method::Invite, local_addr, user_agent);
        request
            .extra
            .push(("Contact".to_owned(), contact(local_addr, peer.1)));
        request.body = Some((SDP.to_owned(), sdp));
        Some((request, peer))
    }

    /// Send the ACK of the 2xx to our INVITE `cseq` (§13.2.2.4), and keep
    /// it for the 2xx's retransmissions.
    pub(super) fn ack(
        &mut self,
        key: &DialogKey,
        cseq: u32,
        reach: &impl Reach,
        user_agent: &str,
        out: &mut Outbox,
    ) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let local_addr = reach.local_addr(entry.state.peer);
        let bytes = entry.state.ack(cseq, local_addr, user_agent).to_bytes();
        let (dest, transport) = in_dialog_peer(reach, &entry.state);
        out.send(dest, transport, bytes.clone());
        entry.sent_ack = Some(SentAck { cseq, bytes, dest });
    }

    /// A 2xx to one of our INVITEs (§13.2.2.4). The first makes the UAC
    /// dialog (§12.1.2) and goes to the call's handle, which sends the
    /// ACK, or answers the re-INVITE; a retransmission gets the ACK sent
    /// again; a 2xx from another fork is acknowledged and ended. What
    /// comes back is a BYE to send: for that fork, or for a call whose
    /// handle is gone (nobody wants it).
    pub(super) fn on_invite_2xx(
        &mut self,
        success: Success,
        response: &Response,
        reach: &impl Reach,
        user_agent: &str,
        out: &mut Outbox,
    ) -> Option<Routed> {
        let key = success.dialog.clone();
        let cseq = success.request.cseq;
        match success.waiter {
            Some(InviteWaiter::Call(ref events)) => {
                let (dialog_events, receiver) = mpsc::unbounded_channel();
                let state = DialogState::from_2xx(
                    &success.request,
                    &key.local_tag,
                    response,
                    success.peer,
                    dialog_events,
                );
                self.insert(state);
                let answered = InviteEvent::Answered {
                    dialog: key.clone(),
                    cseq,
                    answer: response.body.clone(),
                    events: receiver,
                };
                if events.send(answered).is_ok() {
                    return None;
                }
                self.ack(&key, cseq, reach, user_agent, out);
                self.bye(&key, reach, user_agent)
            }
            Some(InviteWaiter::ReInvite(reply)) => {
                let reinvited = ReInvited {
                    status: response.status,
                    body: response.body.clone(),
                    cseq,
                };
                // Nobody left to acknowledge it: we do.
                if reply.is_none_or(|reply| reply.send(Ok(reinvited)).is_err()) {
                    self.ack(&key, cseq, reach, user_agent, out);
                }
                None
            }
            None => self.on_repeated_2xx(&success, response, reach, user_agent, out),
        }
    }

    /// A 2xx after the first: a retransmission, or another fork's.
    fn on_repeated_2xx(
        &mut self,
        success: &Success,
        response: &Response,
        reach: &impl Reach,
        user_agent: &str,
        out: &mut Outbox,
    ) -> Option<Routed> {
        let (request, key) = (&success.request, &success.dialog);
        let to_tag = response.to_tag();
        let entry = self.entries.get(key)?;
        if Some(&entry.state.remote_tag) == to_tag.as_ref() {
            if let Some(ack) = entry.sent_ack.as_ref().filter(|a| a.cseq == request.cseq) {
                out.send(ack.dest, entry.state.transport, ack.bytes.clone());
            }
            return None;
        }
        // §13.2.2.4: we keep the first dialog; this one is acknowledged
        // and ended at once.
        let (events, _) = mpsc::unbounded_channel();
        let mut fork =
            DialogState::from_2xx(request, &key.local_tag, response, success.peer, events);
        let local_addr = reach.local_addr(fork.peer);
        let route = in_dialog_peer(reach, &fork);
        let ack = fork.ack(request.cseq, local_addr, user_agent);
        out.send(route.0, route.1, ack.to_bytes());
        Some((fork.bye(local_addr, user_agent), route))
    }

    /// Wait for the ACK of the 2xx just sent: resend it over UDP and give
    /// up after 64*T1 (RFC 3261 §13.3.1.4; over TCP the 2xx is not resent,
    /// but the ACK wait still applies).
    pub(super) fn await_ack(
        &mut self,
        key: &DialogKey,
        sent: Sent2xx,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let cseq = sent.cseq;
        if !entry.state.transport.is_reliable() {
            out.schedule(
                now + self.timers.t1,
                TimerTarget::Retransmit2xx(key.clone(), cseq),
            );
        }
        out.schedule(
            now + self.timers.timeout(),
            TimerTarget::AckTimeout(key.clone(), cseq),
        );
        entry.pending_ack = Some(PendingAck {
            sent,
            interval: self.timers.t1,
        });
    }

    /// An ACK outside a server transaction: the ACK for a 2xx (§13.3.1.4).
    pub(super) fn on_ack(&mut self, request: &Request) -> Ack {
        let Some(local_tag) = request.to_tag() else {
            return Ack::Unmatched;
        };
        let key = DialogKey {
            call_id: request.call_id.clone(),
            local_tag: local_tag.to_owned(),
        };
        let Some(entry) = self.entries.get_mut(&key) else {
            return Ack::Unmatched;
        };
        match entry.pending_ack.take_if(|p| p.sent.cseq == request.cseq) {
            Some(pending) => {
                let _ = pending.sent.reply.send(Ok(request.body.clone()));
                Ack::Confirmed
            }
            None => Ack::Repeated,
        }
    }

    /// RFC 3261 §13.3.1.4: resend the 2xx at T1, doubling up to T2.
    pub(super) fn retransmit_2xx(
        &mut self,
        key: &DialogKey,
        cseq: u32,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let Some(pending) = entry.pending_ack.as_mut().filter(|p| p.sent.cseq == cseq) else {
            return;
        };
        pending.interval = (pending.interval * 2).min(self.timers.t2);
        out.send(
            pending.sent.dest,
            entry.state.transport,
            pending.sent.response.clone(),
        );
        out.schedule(
            now + pending.interval,
            TimerTarget::Retransmit2xx(key.clone(), cseq),
        );
    }

    /// No ACK within 64*T1 (RFC 3261 §13.3.1.4): the TU hears so; `true`
    /// when the dialog is to be hung up with BYE.
    pub(super) fn ack_timeout(&mut self, key: &DialogKey, cseq: u32) -> bool {
        let Some(entry) = self.entries.get_mut(key) else {
            return false;
        };
        let Some(pending) = entry.pending_ack.take_if(|p| p.sent.cseq == cseq) else {
            return false;
        };
        let waited = self.timers.timeout();
        let _ = pending
            .sent
            .reply
            .send(Err(SipError::AckTimeout { waited }));
        true
    }

    /// Check a request inside the dialog `key` against RFC 3261 §12.2.2
    /// and §15 before it is handled.
    pub(super) fn check_request(&mut self, key: &DialogKey, request: &Request) -> InDialog {
        let Some(entry) = self.entries.get_mut(key) else {
            return InDialog::Unknown;
        };
        if request.cseq < entry.state.remote_cseq {
            return InDialog::OutOfOrder;
        }
        entry.state.remote_cseq = request.cseq;
        if request.method == Method::Bye
            && let Some(pending) = entry.pending_ack.take()
        {
            let _ = pending.sent.reply.send(Err(SipError::DialogEnded {
                call_id: key.call_id.clone(),
            }));
            self.entries.remove(key);
            return InDialog::EndedBeforeAck;
        }
        InDialog::InOrder
    }

    /// A target refresh (re-INVITE) replaces the remote target (§12.2.2).
    pub(super) fn refresh_target(&mut self, key: &DialogKey, request: &Request) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.state.refresh_target(request);
        }
    }

    /// Hand what the peer sent to the dialog's TU handle. A handle that is
    /// gone drops the event, whose drop answers 500 when it needs an
    /// answer (the BYE has had its 200).
    pub(super) fn deliver(&self, key: &DialogKey, event: DialogEvent) {
        if let Some(entry) = self.entries.get(key) {
            let _ = entry.state.events.send(Box::new(event));
        }
    }
}

/// Where a request inside `dialog` goes and how: over TCP, the connection
/// the dialog was made on while it lives; else its next hop (§12.2.1.1).
fn in_dialog_peer(reach: &impl Reach, dialog: &DialogState) -> (SocketAddr, Transport) {
    let transport = dialog.transport;
    if transport == Transport::Tcp && reach.is_connected(dialog.peer) {
        (dialog.peer, transport)
    } else {
        (dialog.next_hop(), transport)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::Transport;
    use super::super::super::message::{Message, parse};
    use super::*;
    use tokio::sync::mpsc;

    const T1: Duration = Duration::from_millis(500);
    const T2: Duration = Duration::from_secs(4);

    fn request(method: &str, to_tag: &str, cseq: u32) -> Request {
        let text = format!(
            "{method} sip:4008@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{method}{cseq}\r\n\
             From: <sip:caller@192.0.2.10>;tag=caller\r\n\
             To: <sip:4008@127.0.0.1>{to_tag}\r\n\
             Call-ID: dialogs-test\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:caller@192.0.2.10>\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let source = "192.0.2.10:5060".parse().expect("address");
        match parse(text.as_bytes(), source, Transport::Udp) {
            Ok(Message::Request(request)) => *request,
            other => panic!("test request must parse: {other:?}"),
        }
    }

    /// A dialog answered with a 2xx that waits for its ACK.
    fn answered(
        now: Instant,
        out: &mut Outbox,
    ) -> (
        DialogTable,
        DialogKey,
        oneshot::Receiver<Result<Vec<u8>, SipError>>,
    ) {
        let mut dialogs = DialogTable::new(Timers {
            t1: T1,
            t2: T2,
            t4: Duration::from_secs(5),
        });
        let (events, _) = mpsc::unbounded_channel();
        let state = DialogState::from_invite(&request("INVITE", "", 1), "ours", events);
        let key = state.key.clone();
        dialogs.insert(state);
        let (reply, answer) = oneshot::channel();
        let sent = Sent2xx {
            cseq: 1,
            response: b"SIP/2.0 200 OK\r\n\r\n".to_vec(),
            dest: "192.0.2.10:5060".parse().expect("address"),
            reply,
        };
        dialogs.await_ack(&key, sent, now, out);
        (dialogs, key, answer)
    }

    #[tokio::test(start_paused = true)]
    async fn the_2xx_is_resent_at_t1_doubling_to_t2_until_the_ack() {
        let (now, mut out) = (Instant::now(), Outbox::default());
        let (mut dialogs, key, mut answer) = answered(now, &mut out);
        assert_eq!(
            out.timers,
            [
                (now + T1, TimerTarget::Retransmit2xx(key.clone(), 1)),
                (now + T1 * 64, TimerTarget::AckTimeout(key.clone(), 1)),
            ]
        );
        out.timers.clear();
        let mut at = now + T1;
        for interval in [T1 * 2, T1 * 4, T2, T2] {
            dialogs.retransmit_2xx(&key, 1, at, &mut out);
            assert_eq!(out.sends.len(), 1);
            out.sends.clear();
            at += interval;
            assert_eq!(
                out.timers.pop(),
                Some((at, TimerTarget::Retransmit2xx(key.clone(), 1)))
            );
        }
        assert_eq!(
            dialogs.on_ack(&request("ACK", ";tag=ours", 1)),
            Ack::Confirmed
        );
        assert!(matches!(answer.try_recv(), Ok(Ok(_))));
        dialogs.retransmit_2xx(&key, 1, at, &mut out);
        assert!(out.sends.is_empty(), "nothing resent after the ACK");
        assert_eq!(
            dialogs.on_ack(&request("ACK", ";tag=ours", 1)),
            Ack::Repeated
        );
        assert!(!dialogs.ack_timeout(&key, 1), "no BYE once acknowledged");
    }

    #[tokio::test(start_paused = true)]
    async fn a_bye_while_the_2xx_waits_ends_the_dialog_and_the_answer() {
        let (now, mut out) = (Instant::now(), Outbox::default());
        let (mut dialogs, key, mut answer) = answered(now, &mut out);
        assert_eq!(
            dialogs.check_request(&key, &request("BYE", ";tag=ours", 2)),
            InDialog::EndedBeforeAck
        );
        assert!(matches!(
            answer.try_recv(),
            Ok(Err(SipError::DialogEnded { .. }))
        ));
        assert!(!dialogs.contains(&key));
        assert_eq!(
            dialogs.check_request(&key, &request("INFO", ";tag=ours", 3)),
            InDialog::Unknown
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_with_a_lower_cseq_is_out_of_order() {
        let (now, mut out) = (Instant::now(), Outbox::default());
        let (mut dialogs, key, _answer) = answered(now, &mut out);
        let info = request("INFO", ";tag=ours", 5);
        assert_eq!(dialogs.check_request(&key, &info), InDialog::InOrder);
        let older = request("INFO", ";tag=ours", 4);
        assert_eq!(dialogs.check_request(&key, &older), InDialog::OutOfOrder);
    }
}

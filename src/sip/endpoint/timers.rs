//! The endpoint's one timer queue: every transaction timer (RFC 3261 §17)
//! and every dialog timer (the 2xx retransmission and the ACK wait of
//! §13.3.1.4) as a deadline and the [`TimerTarget`] it is for.
//!
//! One ordered map instead of a sleep per timer: the loop sleeps until the
//! first deadline. Timers are never cancelled; one whose transaction or
//! dialog is gone finds nothing when it fires and is ignored. Knows no
//! socket and does nothing when a timer fires beyond handing it back.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::super::dialog::DialogKey;
use super::super::transaction::{ClientKey, ServerKey, Timer};

/// What a timer is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TimerTarget {
    /// A timer of a server transaction.
    Server(ServerKey, Timer),
    /// A timer of a client transaction.
    Client(ClientKey, Timer),
    /// Resend the 2xx of the INVITE with this CSeq (RFC 3261 §13.3.1.4).
    Retransmit2xx(DialogKey, u32),
    /// Give up waiting for the ACK of the 2xx with this CSeq.
    AckTimeout(DialogKey, u32),
    /// Give up waiting for the final response of a cancelled INVITE
    /// (RFC 3261 §9.1: 64*T1 after the CANCEL).
    CancelTimeout(ClientKey),
}

/// Deadlines in order; those at the same instant in the order scheduled.
#[derive(Debug, Default)]
pub(super) struct TimerQueue {
    queue: BTreeMap<(Instant, u64), TimerTarget>,
    /// Tie-breaker for deadlines at the same instant.
    seq: u64,
}

impl TimerQueue {
    pub(super) fn schedule(&mut self, at: Instant, target: TimerTarget) {
        self.seq += 1;
        self.queue.insert((at, self.seq), target);
    }

    /// The first deadline, if any timer is armed.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.queue.keys().next().map(|(at, _)| *at)
    }

    /// The first timer due at `now`, taken off the queue.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<TimerTarget> {
        let entry = self.queue.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key(call_id: &str) -> DialogKey {
        DialogKey {
            call_id: call_id.to_owned(),
            local_tag: "tag".to_owned(),
        }
    }

    #[test]
    fn timers_come_due_in_deadline_order_and_ties_in_scheduling_order() {
        let now = Instant::now();
        let mut timers = TimerQueue::default();
        timers.schedule(
            now + Duration::from_secs(2),
            TimerTarget::AckTimeout(key("late"), 1),
        );
        timers.schedule(now, TimerTarget::Retransmit2xx(key("first"), 1));
        timers.schedule(now, TimerTarget::Retransmit2xx(key("second"), 1));
        assert_eq!(timers.next_deadline(), Some(now));
        assert_eq!(
            timers.pop_due(now),
            Some(TimerTarget::Retransmit2xx(key("first"), 1))
        );
        assert_eq!(
            timers.pop_due(now),
            Some(TimerTarget::Retransmit2xx(key("second"), 1))
        );
        assert_eq!(timers.pop_due(now), None, "the late one is not due yet");
        assert_eq!(timers.len(), 1);
        assert_eq!(
            timers.pop_due(now + Duration::from_secs(2)),
            Some(TimerTarget::AckTimeout(key("late"), 1))
        );
        assert_eq!(timers.next_deadline(), None);
    }
}

//! The endpoint's counters: relaxed atomics the endpoint task bumps and any
//! handle reads as a [`Counters`] snapshot. Knows nothing of what is
//! counted beyond the names.

use std::sync::atomic::{AtomicU64, Ordering};

/// Snapshot of the endpoint's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub messages_in: u64,
    pub messages_out: u64,
    pub dropped_unparseable: u64,
    pub answered_bad_request: u64,
    pub retransmissions_absorbed: u64,
}

/// The live counters, shared by the endpoint task and its handles.
#[derive(Debug, Default)]
pub(super) struct CounterCells {
    pub(super) messages_in: AtomicU64,
    pub(super) messages_out: AtomicU64,
    pub(super) dropped_unparseable: AtomicU64,
    pub(super) answered_bad_request: AtomicU64,
    pub(super) retransmissions_absorbed: AtomicU64,
}

impl CounterCells {
    pub(super) fn snapshot(&self) -> Counters {
        Counters {
            messages_in: self.messages_in.load(Ordering::Relaxed),
            messages_out: self.messages_out.load(Ordering::Relaxed),
            dropped_unparseable: self.dropped_unparseable.load(Ordering::Relaxed),
            answered_bad_request: self.answered_bad_request.load(Ordering::Relaxed),
            retransmissions_absorbed: self.retransmissions_absorbed.load(Ordering::Relaxed),
        }
    }
}

/// Count one more.
pub(super) fn bump(cell: &AtomicU64) {
    cell.fetch_add(1, Ordering::Relaxed);
}

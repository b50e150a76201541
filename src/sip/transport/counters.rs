//! What the TCP transport counts: connections open now and the ways they
//! were refused or ended, for the metrics to read. Atomics bumped on
//! connection events only, never per message.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the TCP transport's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TcpCounters {
    /// Connections open now, accepted and our own.
    pub(crate) open: u64,
    /// Connections accepted.
    pub(crate) accepted: u64,
    /// Connections closed at once: their source had as many open as allowed.
    pub(crate) refused_per_source: u64,
    /// Connections closed at once, or not opened: as many were open as allowed.
    pub(crate) refused_total: u64,
    /// Connections closed after no traffic for the idle timeout.
    pub(crate) closed_idle: u64,
    /// Connections closed holding a message not whole within the message
    /// timeout, or one the peer would not take.
    pub(crate) closed_message_timeout: u64,
    /// Connections that stopped reading at bytes no framing could cut.
    pub(crate) closed_malformed: u64,
    /// Messages over the size limit (answered 513 when readable).
    pub(crate) too_large: u64,
    /// Messages without a usable Content-Length (answered 400).
    pub(crate) no_content_length: u64,
    /// CRLF pongs sent for double-CRLF pings (RFC 5626 §4.4.1).
    pub(crate) pongs: u64,
    /// Responses dropped: their connection was gone and nowhere else was
    /// left to send them (RFC 3261 §18.2.2).
    pub(crate) responses_undeliverable: u64,
}

/// The live counts, shared by the socket tasks and the transports.
#[derive(Debug, Default)]
pub(crate) struct TcpCounterCells {
    pub(crate) open: AtomicU64,
    pub(crate) accepted: AtomicU64,
    pub(crate) refused_per_source: AtomicU64,
    pub(crate) refused_total: AtomicU64,
    pub(crate) closed_idle: AtomicU64,
    pub(crate) closed_message_timeout: AtomicU64,
    pub(crate) closed_malformed: AtomicU64,
    pub(crate) too_large: AtomicU64,
    pub(crate) no_content_length: AtomicU64,
    pub(crate) pongs: AtomicU64,
    pub(crate) responses_undeliverable: AtomicU64,
}

impl TcpCounterCells {
    pub(crate) fn snapshot(&self) -> TcpCounters {
        let read = |cell: &AtomicU64| cell.load(Ordering::Relaxed);
        TcpCounters {
            open: read(&self.open),
            accepted: read(&self.accepted),
            refused_per_source: read(&self.refused_per_source),
            refused_total: read(&self.refused_total),
            closed_idle: read(&self.closed_idle),
            closed_message_timeout: read(&self.closed_message_timeout),
            closed_malformed: read(&self.closed_malformed),
            too_large: read(&self.too_large),
            no_content_length: read(&self.no_content_length),
            pongs: read(&self.pongs),
            responses_undeliverable: read(&self.responses_undeliverable),
        }
    }

    /// How many connections are open now.
    pub(crate) fn open_now(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }
}

pub(crate) fn bump(cell: &AtomicU64) {
    cell.fetch_add(1, Ordering::Relaxed);
}

/// One open connection in the `open` count, for as long as it is held
/// (the task that owns the connection holds it, so an aborted task gives
/// its place back too).
#[derive(Debug)]
pub(crate) struct OpenSlot(std::sync::Arc<TcpCounterCells>);

impl OpenSlot {
    pub(crate) fn take(counters: &std::sync::Arc<TcpCounterCells>) -> OpenSlot {
        bump(&counters.open);
        OpenSlot(counters.clone())
    }

    pub(crate) fn counters(&self) -> &std::sync::Arc<TcpCounterCells> {
        &self.0
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

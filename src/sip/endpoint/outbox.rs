//! The tables' boundary with the transports: the [`Outbox`], what they
//! ask to be done while they handle one event (messages to send, timers
//! to arm), and [`Reach`], what they may ask of the transports. The
//! tables stay free of sockets; the loop empties the outbox after each
//! event, sending in the order the messages were put in.

use std::net::SocketAddr;

use tokio::time::Instant;

use super::super::Transport;
use super::super::transport::Transports;
use super::timers::TimerTarget;

/// How a peer reaches us, as the transports know it.
pub(super) trait Reach {
    /// Our address as `peer` should see it (Via, Contact).
    fn local_addr(&self, peer: SocketAddr) -> SocketAddr;
    /// Whether a TCP connection to `peer` is up.
    fn is_connected(&self, peer: SocketAddr) -> bool;
}

impl Reach for Transports {
    fn local_addr(&self, peer: SocketAddr) -> SocketAddr {
        self.advertised_addr(peer)
    }

    fn is_connected(&self, peer: SocketAddr) -> bool {
        Transports::is_connected(self, peer)
    }
}

/// How one message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delivery {
    /// A request, an ACK or a retransmitted 2xx: to `dest`, over a new
    /// connection if none is up.
    Direct,
    /// A server transaction's response (RFC 3261 §18.2.2): over its
    /// request's connection while open, else to `fallback` (see
    /// `Transports::send_response`).
    Response { fallback: Option<SocketAddr> },
}

/// One message to send.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub(super) dest: SocketAddr,
    pub(super) transport: Transport,
    pub(super) delivery: Delivery,
    pub(super) bytes: Vec<u8>,
}

/// Sends and timers asked for, in order; reused from event to event.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    pub(super) sends: Vec<Outgoing>,
    pub(super) timers: Vec<(Instant, TimerTarget)>,
}

impl Outbox {
    pub(super) fn send(&mut self, dest: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        self.sends.push(Outgoing {
            dest,
            transport,
            delivery: Delivery::Direct,
            bytes,
        });
    }

    /// A response to the request that came from `dest`; `fallback` is
    /// where it goes if that connection is gone.
    pub(super) fn send_response(
        &mut self,
        dest: SocketAddr,
        fallback: Option<SocketAddr>,
        transport: Transport,
        bytes: Vec<u8>,
    ) {
        self.sends.push(Outgoing {
            dest,
            transport,
            delivery: Delivery::Response { fallback },
            bytes,
        });
    }

    pub(super) fn schedule(&mut self, at: Instant, target: TimerTarget) {
        self.timers.push((at, target));
    }
}

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

/// One message to send.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub(super) dest: SocketAddr,
    pub(super) transport: Transport,
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
            bytes,
        });
    }

    pub(super) fn schedule(&mut self, at: Instant, target: TimerTarget) {
        self.timers.push((at, target));
    }
}

//! What the endpoint's tables ask to be done while they handle one event:
//! messages to send and timers to arm. The tables stay free of sockets
//! (they only fill the outbox); the loop empties it after each event,
//! sending in the order the messages were put in.

use std::net::SocketAddr;

use tokio::time::Instant;

use super::super::Transport;
use super::timers::TimerTarget;

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

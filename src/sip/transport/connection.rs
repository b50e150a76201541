//! One TCP connection's life (RFC 3261 §18.3): its bytes framed into
//! messages for the endpoint, what the endpoint queues written to it,
//! RFC 5626 double-CRLF pings answered, and its end: when idle, when a
//! message takes too long, when the peer goes, or at bytes that cannot be
//! framed. In that last case (and when the peer goes with responses owed)
//! reading stops, but the responses to what was delivered still go out on
//! the connection for a short grace (RFC 3261 §18.2.2) before it closes.
//!
//! Knows framing, not messages: what a message says is the endpoint's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};

use super::super::message::{Frame, FrameError, StreamFramer};
use super::super::{SipConfig, Transport};
use super::TransportEvent;
use super::counters::{OpenSlot, TcpCounterCells, bump};

/// Read chunk for TCP connections.
const READ_CHUNK: usize = 4096;
/// How long a connection that stopped reading still carries the
/// endpoint's responses to the messages it delivered.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// How long, after our FIN, input is still read and thrown away: closing a
/// socket with unread input makes the kernel send a reset, which can
/// destroy our last responses before the peer has read them.
const LINGER: Duration = Duration::from_secs(2);
/// RFC 5626 §4.4.1: the keep-alive ping a client sends, and our pong.
const PING: &[u8] = b"\r\n\r\n";
const PONG: &[u8] = b"\r\n";

/// What every TCP connection is held to (from [`SipConfig`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpSettings {
    pub(crate) max_message_size: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) message_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_source: usize,
}

impl TcpSettings {
    pub(crate) fn from_config(config: &SipConfig) -> TcpSettings {
        TcpSettings {
            max_message_size: config.max_message_size,
            idle_timeout: config.tcp_idle_timeout,
            message_timeout: config.tcp_message_timeout,
            max_connections: config.tcp_max_connections,
            max_connections_per_source: config.tcp_max_connections_per_source,
        }
    }
}

/// Why a connection stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The peer closed or reset the connection; `owed` when messages were
    /// delivered since our last write, whose responses get the grace.
    PeerClosed { owed: bool },
    /// Bytes no framing can cut; `delivered` when their header section
    /// went to the endpoint to be answered (400, 513). Responses get the
    /// grace either way.
    Unframeable { delivered: bool },
    /// No traffic either way for the idle timeout.
    Idle,
    /// A message not whole, or not taken by the peer, within the timeout.
    MessageTimeout,
    /// Writing failed: the peer is gone.
    WriteFailed,
    /// The endpoint stopped listening.
    EndpointGone,
}

/// When an open connection is due to close (sans-IO): the idle timeout
/// after the last traffic, and the message timeout after a message began.
#[derive(Debug)]
struct Deadlines {
    idle: Duration,
    message: Duration,
    last_traffic: Instant,
    message_began: Option<Instant>,
}

impl Deadlines {
    fn new(settings: &TcpSettings, now: Instant) -> Deadlines {
        Deadlines {
            idle: settings.idle_timeout,
            message: settings.message_timeout,
            last_traffic: now,
            message_began: None,
        }
    }

    /// Bytes went either way (keep-alives included, RFC 5626 §4.4.1).
    fn traffic(&mut self, now: Instant) {
        self.last_traffic = now;
    }

    /// After framing a read: `pending` when part of a message is left in
    /// the buffer, `completed` when a message ended in this read (so what
    /// is left began with it).
    fn framed(&mut self, now: Instant, pending: bool, completed: bool) {
        self.message_began = match self.message_began {
            _ if !pending => None,
            Some(began) if !completed => Some(began),
            _ => Some(now),
        };
    }

    fn next(&self) -> Instant {
        let idle = self.last_traffic + self.idle;
        self.message_began
            .map_or(idle, |began| idle.min(began + self.message))
    }

    fn expired(&self, now: Instant) -> Option<Ending> {
        if self
            .message_began
            .is_some_and(|began| now >= began + self.message)
        {
            Some(Ending::MessageTimeout)
        } else if now >= self.last_traffic + self.idle {
            Some(Ending::Idle)
        } else {
            None
        }
    }
}

/// Finds RFC 5626 §4.4.1 double-CRLF pings in the keep-alive bytes between
/// messages, also when one is split across reads.
#[derive(Debug, Default)]
struct PingDetector {
    matched: usize,
}

impl PingDetector {
    /// Whether these keep-alive bytes (CR and LF only) complete a ping.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        let mut ping = false;
        for byte in bytes {
            self.matched = match self.matched {
                matched if *byte == PING[matched] => matched + 1,
                _ if *byte == PING[0] => 1,
                _ => 0,
            };
            if self.matched == PING.len() {
                ping = true;
                self.matched = 0;
            }
        }
        ping
    }

    /// A message came: the CRLFs before it were no ping.
    fn reset(&mut self) {
        self.matched = 0;
    }
}

/// The reading side's state between reads.
#[derive(Debug, Default)]
struct Reading {
    framer: StreamFramer,
    pings: PingDetector,
    /// Messages were delivered since our last write: responses are owed.
    owed: bool,
}

/// One TCP connection, accepted or ours, and what it reports to.
pub(super) struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    queue: mpsc::UnboundedReceiver<Vec<u8>>,
    events: mpsc::Sender<TransportEvent>,
    settings: TcpSettings,
    counters: Arc<TcpCounterCells>,
    /// Its place among the open connections, given back when it ends.
    _slot: OpenSlot,
}

impl Connection {
    pub(super) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        queue: mpsc::UnboundedReceiver<Vec<u8>>,
        events: mpsc::Sender<TransportEvent>,
        settings: TcpSettings,
        slot: OpenSlot,
    ) -> Connection {
        Connection {
            stream,
            peer,
            queue,
            events,
            settings,
            counters: slot.counters().clone(),
            _slot: slot,
        }
    }

    /// Run the connection until it is closed, then tell the endpoint.
    pub(super) async fn run(mut self) {
        let ending = self.read_messages().await;
        tracing::debug!(peer = %self.peer, ?ending, "TCP connection ending");
        match ending {
            Ending::Idle => bump(&self.counters.closed_idle),
            Ending::MessageTimeout => bump(&self.counters.closed_message_timeout),
            Ending::Unframeable { .. } => bump(&self.counters.closed_malformed),
            _ => {}
        }
        match ending {
            Ending::PeerClosed { owed: true } | Ending::Unframeable { .. } => {
                self.close_gracefully().await
            }
            Ending::WriteFailed => {}
            _ => {
                let _ = self.flush_queued().await;
            }
        }
        self.queue.close();
        let malformed = ending == Ending::Unframeable { delivered: false };
        let _ = self
            .events
            .send(TransportEvent::Closed {
                peer: self.peer,
                malformed,
            })
            .await;
    }

    /// Read, frame and deliver until the connection is to close.
    async fn read_messages(&mut self) -> Ending {
        let mut buffer: Vec<u8> = Vec::with_capacity(READ_CHUNK);
        let mut chunk = [0u8; READ_CHUNK];
        let mut reading = Reading::default();
        let mut deadlines = Deadlines::new(&self.settings, Instant::now());
        let sleep = sleep_until(deadlines.next());
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                read = self.stream.read(&mut chunk) => {
                    let length = match read {
                        Ok(0) | Err(_) => return Ending::PeerClosed { owed: reading.owed },
                        Ok(length) => length,
                    };
                    let now = Instant::now();
                    deadlines.traffic(now);
                    buffer.extend_from_slice(&chunk[..length]);
                    let completed = match self.deliver(&mut buffer, &mut reading).await {
                        Ok(completed) => completed,
                        Err(ending) => return ending,
                    };
                    deadlines.framed(now, !buffer.is_empty(), completed);
                    if deadlines.next() < sleep.deadline() {
                        sleep.as_mut().reset(deadlines.next());
                    }
                }
                outgoing = self.queue.recv() => match outgoing {
                    Some(bytes) => {
                        if let Err(ending) = self.write(&bytes).await {
                            return ending;
                        }
                        deadlines.traffic(Instant::now());
                        reading.owed = false;
                    }
                    None => return Ending::EndpointGone,
                },
                () = &mut sleep => match deadlines.expired(Instant::now()) {
                    Some(ending) => return ending,
                    None => sleep.as_mut().reset(deadlines.next()),
                },
            }
        }
    }

    /// Hand every whole message in `buffer` to the endpoint and answer a
    /// ping with a pong; `Ok(true)` when a message was delivered.
    async fn deliver(
        &mut self,
        buffer: &mut Vec<u8>,
        reading: &mut Reading,
    ) -> Result<bool, Ending> {
        let mut completed = false;
        let mut ping = false;
        loop {
            match reading.framer.next(buffer, self.settings.max_message_size) {
                Ok(Frame::Incomplete) => break,
                Ok(Frame::KeepAlive(length)) => {
                    ping |= reading.pings.feed(&buffer[..length]);
                    buffer.drain(..length);
                }
                Ok(Frame::Message(length)) => {
                    reading.pings.reset();
                    let bytes: Vec<u8> = buffer.drain(..length).collect();
                    self.report(TransportEvent::Message {
                        bytes,
                        source: self.peer,
                        transport: Transport::Tcp,
                    })
                    .await?;
                    completed = true;
                    reading.owed = true;
                }
                Err(error) => return Err(self.refuse(buffer, error).await),
            }
        }
        if ping {
            // RFC 5626 §4.4.1: a double-CRLF ping gets a single CRLF pong.
            bump(&self.counters.pongs);
            self.write(PONG).await?;
        }
        Ok(completed)
    }

    /// The stream cannot be framed past here: the header section, when
    /// readable, goes to the endpoint to be answered (400 without a usable
    /// Content-Length, RFC 3261 §18.3; 513 when too large, §21.5.11).
    async fn refuse(&mut self, buffer: &[u8], error: FrameError) -> Ending {
        tracing::debug!(peer = %self.peer, %error, "TCP stream cannot be framed");
        let event = match error {
            FrameError::NoContentLength { head } => {
                bump(&self.counters.no_content_length);
                TransportEvent::Message {
                    bytes: buffer[..head].to_vec(),
                    source: self.peer,
                    transport: Transport::Tcp,
                }
            }
            FrameError::TooLarge { head } => {
                bump(&self.counters.too_large);
                TransportEvent::TooLarge {
                    head: buffer[..head].to_vec(),
                    source: self.peer,
                }
            }
            FrameError::HeadTooLarge => {
                bump(&self.counters.too_large);
                return Ending::Unframeable { delivered: false };
            }
        };
        match self.report(event).await {
            Ok(()) => Ending::Unframeable { delivered: true },
            Err(ending) => ending,
        }
    }

    async fn report(&self, event: TransportEvent) -> Result<(), Ending> {
        self.events
            .send(event)
            .await
            .map_err(|_| Ending::EndpointGone)
    }

    /// Write one message; a peer that takes none of it within the message
    /// timeout is treated like one whose message does not arrive.
    async fn write(&mut self, bytes: &[u8]) -> Result<(), Ending> {
        match timeout(self.settings.message_timeout, self.stream.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Ending::WriteFailed),
            Err(_) => Err(Ending::MessageTimeout),
        }
    }

    /// Write what the endpoint has queued already and take no more: from
    /// now on it sends elsewhere (RFC 3261 §18.2.2).
    async fn flush_queued(&mut self) -> Result<(), Ending> {
        self.queue.close();
        while let Ok(bytes) = self.queue.try_recv() {
            self.write(&bytes).await?;
        }
        Ok(())
    }

    /// Reading has stopped: for [`CLOSE_GRACE`] the endpoint's responses
    /// still go out while input is thrown away; then what is queued is
    /// flushed, our FIN sent, and input thrown away for [`LINGER`] more.
    async fn close_gracefully(&mut self) {
        let until = Instant::now() + CLOSE_GRACE;
        let mut chunk = [0u8; READ_CHUNK];
        let mut open = true;
        loop {
            tokio::select! {
                outgoing = self.queue.recv() => match outgoing {
                    Some(bytes) => {
                        if self.write(&bytes).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                },
                read = self.stream.read(&mut chunk), if open => {
                    open = matches!(read, Ok(length) if length > 0);
                }
                () = sleep_until(until) => break,
            }
        }
        if self.flush_queued().await.is_err() {
            return;
        }
        let _ = self.stream.shutdown().await;
        if open {
            let _ = timeout(LINGER, discard_input(&mut self.stream)).await;
        }
    }
}

/// Read and throw away until the peer closes.
async fn discard_input(stream: &mut TcpStream) {
    let mut chunk = [0u8; READ_CHUNK];
    while matches!(stream.read(&mut chunk).await, Ok(length) if length > 0) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TcpSettings {
        TcpSettings::from_config(&SipConfig::default())
    }

    #[test]
    fn a_ping_is_a_double_crlf_also_split_across_reads() {
        let mut pings = PingDetector::default();
        assert!(pings.feed(b"\r\n\r\n"));
        assert!(!pings.feed(b"\r\n"), "half a ping");
        assert!(pings.feed(b"\r\n"), "the other half");
        assert!(!pings.feed(b"\n\n\r\n"), "stray line feeds are no ping");
        pings.reset();
        assert!(!pings.feed(b"\r\n"), "a message came between the halves");
    }

    #[tokio::test(start_paused = true)]
    async fn traffic_pushes_the_idle_deadline_back() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(&settings(), start);
        assert_eq!(deadlines.next(), start + Duration::from_secs(300));
        deadlines.traffic(start + Duration::from_secs(200));
        let at = start + Duration::from_secs(300);
        assert_eq!(deadlines.expired(at), None);
        assert_eq!(deadlines.next(), start + Duration::from_secs(500));
        assert_eq!(
            deadlines.expired(start + Duration::from_secs(500)),
            Some(Ending::Idle)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_left_partial_must_end_within_the_message_timeout() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(&settings(), start);
        deadlines.framed(start, true, false);
        let later = start + Duration::from_secs(4);
        deadlines.traffic(later);
        deadlines.framed(later, true, false);
        assert_eq!(
            deadlines.next(),
            start + Duration::from_secs(10),
            "began at the start"
        );
        assert_eq!(
            deadlines.expired(start + Duration::from_secs(10)),
            Some(Ending::MessageTimeout)
        );
        // A message ended in that read: what is left is a new one.
        deadlines.framed(later, true, true);
        assert_eq!(deadlines.next(), later + Duration::from_secs(10));
        deadlines.framed(later, false, true);
        assert_eq!(deadlines.next(), later + Duration::from_secs(300));
    }
}

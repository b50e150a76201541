//! The SIP transports (RFC 3261 §18): one UDP socket and one TCP listener
//! on the same port, and the table of live TCP connections used to send
//! responses back on the connection a request came on (§18.2.2) and to
//! reuse a connection for requests we originate.
//!
//! Owns sockets and the tasks that read them; hands whole messages (bytes,
//! source, transport) to the endpoint over one channel. Knows nothing of
//! transactions or dialogs. `admission` lets TCP connections in within
//! the limits, `connection` runs one (framing, keep-alives, timeouts,
//! closing), `counters` counts what they do.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::SendError;
use tokio::task::JoinSet;

use super::{SipConfig, SipError, Transport};

mod admission;
mod connection;
mod counters;

use admission::{accept_tcp, connect_tcp, outbound_slot};
use connection::TcpSettings;
use counters::{TcpCounterCells, TcpCounters, bump};

/// How often we try another ephemeral port when TCP cannot take the port
/// UDP got (only when the configured port is 0).
const BIND_ATTEMPTS: usize = 8;
/// Queue of messages from the socket tasks to the endpoint.
const INBOUND_QUEUE: usize = 1024;
/// The SIP UDP socket's receive buffer asked for (see `enlarge_receive_buffer`).
const UDP_RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// Something the transports report to the endpoint.
#[derive(Debug)]
pub(crate) enum TransportEvent {
    /// One whole message.
    Message {
        bytes: Vec<u8>,
        source: SocketAddr,
        transport: Transport,
    },
    /// A TCP connection is up (accepted or connected); send to it here.
    Connected {
        peer: SocketAddr,
        writer: mpsc::UnboundedSender<Vec<u8>>,
    },
    /// A TCP connection closed (peer, error, timeout, or a stream that
    /// could not be framed; `malformed` when nothing of that reached the
    /// endpoint).
    Closed { peer: SocketAddr, malformed: bool },
    /// A TCP message over the size limit, of which only the header section
    /// was read: to be answered 513 (RFC 3261 §21.5.11) if it is a request.
    TooLarge { head: Vec<u8>, source: SocketAddr },
    /// A datagram larger than the limit was dropped.
    Oversized,
}

/// The sockets and connection table, owned by the endpoint task.
pub(crate) struct Transports {
    udp: Arc<UdpSocket>,
    local_addr: SocketAddr,
    connections: HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>,
    events: mpsc::Sender<TransportEvent>,
    settings: TcpSettings,
    counters: Arc<TcpCounterCells>,
    /// Socket tasks (UDP reader, TCP acceptor, outgoing connections);
    /// aborted when the transports are dropped.
    tasks: JoinSet<()>,
}

impl Transports {
    /// Bind UDP first, then TCP on the same port (RFC 3261 §18: a UA
    /// listens on both); with port 0 TCP takes UDP's port, retrying a few
    /// times if that port is taken for TCP.
    pub(crate) async fn bind(
        config: &SipConfig,
    ) -> Result<(Transports, mpsc::Receiver<TransportEvent>), SipError> {
        let (udp, listener) = bind_pair(config.listen).await?;
        let local_addr = udp.local_addr().map_err(|source| SipError::Bind {
            transport: Transport::Udp,
            addr: config.listen,
            source,
        })?;
        let udp = Arc::new(udp);
        let (events, receiver) = mpsc::channel(INBOUND_QUEUE);
        let settings = TcpSettings::from_config(config);
        let counters = Arc::new(TcpCounterCells::default());
        let mut tasks = JoinSet::new();
        tasks.spawn(read_udp(
            udp.clone(),
            events.clone(),
            config.max_message_size,
        ));
        tasks.spawn(accept_tcp(
            listener,
            events.clone(),
            settings,
            counters.clone(),
        ));
        let transports = Transports {
            udp,
            local_addr,
            connections: HashMap::new(),
            events,
            settings,
            counters,
            tasks,
        };
        Ok((transports, receiver))
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Our address as `peer` should see it (Contact, Via): see
    /// [`advertised_ip`].
    pub(crate) fn advertised_addr(&self, peer: SocketAddr) -> SocketAddr {
        SocketAddr::new(
            advertised_ip(self.local_addr.ip(), peer),
            self.local_addr.port(),
        )
    }

    /// Track a connection reported by a socket task.
    pub(crate) fn on_connected(
        &mut self,
        peer: SocketAddr,
        writer: mpsc::UnboundedSender<Vec<u8>>,
    ) {
        self.connections.insert(peer, writer);
    }

    /// Whether a live TCP connection to `peer` exists.
    pub(crate) fn is_connected(&self, peer: SocketAddr) -> bool {
        self.connections.get(&peer).is_some_and(|w| !w.is_closed())
    }

    /// Forget a closed connection (unless a newer one to the peer is live).
    pub(crate) fn on_closed(&mut self, peer: SocketAddr) {
        if self.connections.get(&peer).is_some_and(|w| w.is_closed()) {
            self.connections.remove(&peer);
        }
    }

    /// What the TCP transport has counted so far.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "read by the metrics, not wired yet")
    )]
    pub(crate) fn counters(&self) -> TcpCounters {
        self.counters.snapshot()
    }

    /// Send one message. TCP reuses a live connection to `dest`, else
    /// connects.
    pub(crate) async fn send(&mut self, dest: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        match transport {
            Transport::Udp => {
                // UDP is lossy anyway; the transaction layer retransmits.
                if let Err(error) = self.udp.send_to(&bytes, dest).await {
                    tracing::debug!(%dest, %error, "UDP send failed");
                }
            }
            Transport::Tcp => {
                if let Err(bytes) = self.send_on_connection(dest, bytes) {
                    self.connect(dest, bytes);
                }
            }
        }
    }

    /// Send a response (RFC 3261 §18.2.2): on TCP over the connection its
    /// request came on (`dest`, the request's source) while it is open,
    /// else over a connection to `fallback`, the sent-by port; with no
    /// fallback it is dropped and counted, never sent to `dest` over a new
    /// connection (an ephemeral port, see `response_fallback`).
    pub(crate) async fn send_response(
        &mut self,
        dest: SocketAddr,
        fallback: Option<SocketAddr>,
        transport: Transport,
        bytes: Vec<u8>,
    ) {
        if transport == Transport::Udp {
            return self.send(dest, transport, bytes).await;
        }
        let Err(bytes) = self.send_on_connection(dest, bytes) else {
            return;
        };
        match fallback {
            Some(fallback) => self.send(fallback, transport, bytes).await,
            None => {
                tracing::debug!(%dest, "response dropped: its connection is gone");
                bump(&self.counters.responses_undeliverable);
            }
        }
    }

    /// Queue `bytes` on the live connection to `dest`; they come back when
    /// there is none.
    fn send_on_connection(&self, dest: SocketAddr, bytes: Vec<u8>) -> Result<(), Vec<u8>> {
        match self.connections.get(&dest) {
            Some(writer) => writer.send(bytes).map_err(|SendError(bytes)| bytes),
            None => Err(bytes),
        }
    }

    /// Open a connection to `dest` for `bytes`, queued until it is up;
    /// dropped when as many connections are open as allowed.
    fn connect(&mut self, dest: SocketAddr, bytes: Vec<u8>) {
        // Forget the outgoing connections that have ended.
        while self.tasks.try_join_next().is_some() {}
        let Some(slot) = outbound_slot(&self.counters, &self.settings) else {
            tracing::debug!(%dest, "TCP connection limit reached, message dropped");
            return;
        };
        let (writer, queue) = mpsc::unbounded_channel();
        let _ = writer.send(bytes);
        self.connections.insert(dest, writer);
        self.tasks.spawn(connect_tcp(
            dest,
            queue,
            self.events.clone(),
            self.settings,
            slot,
        ));
    }
}

/// The address to tell `peer` to reach us at, when we listen on `listen`:
/// `listen` itself, unless it is unspecified (`0.0.0.0`, `::`: every
/// interface), which no peer can send to; then the address this host
/// sends from towards `peer`, as the routing table says (a UDP socket
/// connected to `peer` reports it; nothing is sent). If even that fails,
/// the loopback address of the family. Behind NAT neither is the address
/// the peer must use; that needs the trunk's help (or a SBC) as ever.
pub fn advertised_ip(listen: IpAddr, peer: SocketAddr) -> IpAddr {
    if !listen.is_unspecified() {
        return listen;
    }
    let any: SocketAddr = match peer {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    std::net::UdpSocket::bind(any)
        .and_then(|probe| {
            probe.connect(peer)?;
            probe.local_addr()
        })
        .map(|local| local.ip())
        .unwrap_or(match peer {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        })
}

/// Asks for a UDP receive buffer of [`UDP_RECEIVE_BUFFER`] (the kernel caps
/// it at `net.core.rmem_max`): the default (about 200 KiB) holds a few
/// hundred messages, which a burst of calls overflows while the endpoint
/// task waits for a worker thread, and every message dropped there is a
/// retransmission or, for an ACK, a call that never gets confirmed.
fn enlarge_receive_buffer(udp: &UdpSocket) {
    let socket = socket2::SockRef::from(udp);
    if let Err(error) = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER) {
        tracing::warn!(%error, "cannot enlarge the SIP UDP receive buffer");
    }
}

async fn bind_pair(listen: SocketAddr) -> Result<(UdpSocket, TcpListener), SipError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let udp = UdpSocket::bind(listen)
            .await
            .map_err(|source| SipError::Bind {
                transport: Transport::Udp,
                addr: listen,
                source,
            })?;
        let addr = udp.local_addr().map_err(|source| SipError::Bind {
            transport: Transport::Udp,
            addr: listen,
            source,
        })?;
        enlarge_receive_buffer(&udp);
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok((udp, listener)),
            Err(error)
                if listen.port() == 0
                    && error.kind() == ErrorKind::AddrInUse
                    && attempt < BIND_ATTEMPTS =>
            {
                continue;
            }
            Err(source) => {
                return Err(SipError::Bind {
                    transport: Transport::Tcp,
                    addr,
                    source,
                });
            }
        }
    }
}

async fn read_udp(socket: Arc<UdpSocket>, events: mpsc::Sender<TransportEvent>, max: usize) {
    // One byte more than the limit tells an oversized datagram apart.
    let mut buffer = vec![0u8; max + 1];
    loop {
        let event = match socket.recv_from(&mut buffer).await {
            Ok((length, _)) if length > max => TransportEvent::Oversized,
            Ok((length, source)) => TransportEvent::Message {
                bytes: buffer[..length].to_vec(),
                source,
                transport: Transport::Udp,
            },
            // ICMP errors surface here on some systems; keep reading.
            Err(error) => {
                tracing::debug!(%error, "UDP receive failed");
                continue;
            }
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;

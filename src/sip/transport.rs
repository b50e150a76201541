//! The SIP transports (RFC 3261 §18): one UDP socket and one TCP listener
//! on the same port, TCP connections with their read buffers and
//! Content-Length framing, and the table of live connections used to send
//! responses back on the connection a request came on and to reuse a
//! connection for requests we originate.
//!
//! Owns sockets and the tasks that read them; hands whole messages (bytes,
//! source, transport) to the endpoint over one channel. Knows nothing of
//! transactions or dialogs.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::message::{Frame, frame};
use super::{SipConfig, SipError, Transport};

/// How often we try another ephemeral port when TCP cannot take the port
/// UDP got (only when the configured port is 0).
const BIND_ATTEMPTS: usize = 8;
/// Queue of messages from the socket tasks to the endpoint.
const INBOUND_QUEUE: usize = 1024;
/// Read chunk for TCP connections.
const TCP_READ_CHUNK: usize = 4096;
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
    /// A TCP connection closed (peer, error, or malformed stream).
    Closed { peer: SocketAddr, malformed: bool },
    /// A datagram larger than the limit was dropped.
    Oversized,
}

/// The sockets and connection table, owned by the endpoint task.
pub(crate) struct Transports {
    udp: Arc<UdpSocket>,
    local_addr: SocketAddr,
    connections: HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>,
    events: mpsc::Sender<TransportEvent>,
    max_message_size: usize,
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
        let mut tasks = JoinSet::new();
        tasks.spawn(read_udp(
            udp.clone(),
            events.clone(),
            config.max_message_size,
        ));
        tasks.spawn(accept_tcp(
            listener,
            events.clone(),
            config.max_message_size,
        ));
        let transports = Transports {
            udp,
            local_addr,
            connections: HashMap::new(),
            events,
            max_message_size: config.max_message_size,
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

    /// Send one message. TCP reuses a live connection to `dest` (the one a
    /// request came on, for responses), else connects.
    pub(crate) async fn send(&mut self, dest: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        match transport {
            Transport::Udp => {
                // UDP is lossy anyway; the transaction layer retransmits.
                if let Err(error) = self.udp.send_to(&bytes, dest).await {
                    tracing::debug!(%dest, %error, "UDP send failed");
                }
            }
            Transport::Tcp => {
                if let Some(writer) = self.connections.get(&dest)
                    && writer.send(bytes.clone()).is_ok()
                {
                    return;
                }
                let (writer, queue) = mpsc::unbounded_channel();
                // Queued until the connection is up.
                let _ = writer.send(bytes);
                self.connections.insert(dest, writer);
                self.tasks.spawn(connect_tcp(
                    dest,
                    queue,
                    self.events.clone(),
                    self.max_message_size,
                ));
            }
        }
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

async fn accept_tcp(listener: TcpListener, events: mpsc::Sender<TransportEvent>, max: usize) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (writer, queue) = mpsc::unbounded_channel();
                    if events.send(TransportEvent::Connected { peer, writer }).await.is_err() {
                        return;
                    }
                    connections.spawn(run_connection(stream, peer, queue, events.clone(), max));
                }
                Err(error) => tracing::debug!(%error, "TCP accept failed"),
            },
            // Reap finished connection tasks.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connect_tcp(
    peer: SocketAddr,
    queue: mpsc::UnboundedReceiver<Vec<u8>>,
    events: mpsc::Sender<TransportEvent>,
    max: usize,
) {
    match TcpStream::connect(peer).await {
        Ok(stream) => run_connection(stream, peer, queue, events, max).await,
        Err(error) => {
            tracing::debug!(%peer, %error, "TCP connect failed");
            drop(queue);
            let _ = events
                .send(TransportEvent::Closed {
                    peer,
                    malformed: false,
                })
                .await;
        }
    }
}

/// One TCP connection: frame incoming bytes by Content-Length, skip CRLF
/// keep-alives (RFC 5626 §3.5.1), write what the endpoint queues. A
/// malformed or oversized stream closes the connection.
async fn run_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    events: mpsc::Sender<TransportEvent>,
    max: usize,
) {
    let mut buffer: Vec<u8> = Vec::with_capacity(TCP_READ_CHUNK);
    let mut chunk = [0u8; TCP_READ_CHUNK];
    let malformed = loop {
        tokio::select! {
            read = stream.read(&mut chunk) => match read {
                Ok(0) | Err(_) => break false,
                Ok(length) => {
                    buffer.extend_from_slice(&chunk[..length]);
                    match drain_frames(&mut buffer, peer, &events, max).await {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(()) => break true,
                    }
                }
            },
            outgoing = queue.recv() => match outgoing {
                Some(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        break false;
                    }
                }
                None => break false,
            },
        }
    };
    queue.close();
    let _ = events
        .send(TransportEvent::Closed { peer, malformed })
        .await;
}

/// Hand every complete message in `buffer` to the endpoint. `Ok(false)`
/// when the endpoint is gone, `Err` when the stream is malformed.
async fn drain_frames(
    buffer: &mut Vec<u8>,
    peer: SocketAddr,
    events: &mpsc::Sender<TransportEvent>,
    max: usize,
) -> Result<bool, ()> {
    loop {
        match frame(buffer, max).map_err(|_| ())? {
            Frame::Incomplete => return Ok(true),
            Frame::KeepAlive(length) => {
                buffer.drain(..length);
            }
            Frame::Message(length) => {
                let bytes: Vec<u8> = buffer.drain(..length).collect();
                let event = TransportEvent::Message {
                    bytes,
                    source: peer,
                    transport: Transport::Tcp,
                };
                if events.send(event).await.is_err() {
                    return Ok(false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_specific_listen_address_is_advertised_as_it_is() {
        let listen: IpAddr = "192.0.2.7".parse().expect("ip");
        let peer: SocketAddr = "127.0.0.1:5060".parse().expect("addr");
        assert_eq!(advertised_ip(listen, peer), listen);
    }

    #[test]
    fn an_unspecified_listen_address_becomes_the_one_towards_the_peer() {
        let peer: SocketAddr = "127.0.0.1:5060".parse().expect("addr");
        assert_eq!(
            advertised_ip(Ipv4Addr::UNSPECIFIED.into(), peer),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        let peer: SocketAddr = "[::1]:5060".parse().expect("addr");
        assert_eq!(
            advertised_ip(Ipv6Addr::UNSPECIFIED.into(), peer),
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        );
    }
}

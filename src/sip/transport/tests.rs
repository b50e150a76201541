//! The transports over real loopback sockets, a raw TCP stream playing the
//! peer; `over_the_endpoint` has what a TCP peer sees of the whole stack.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, sleep, timeout};

use super::*;

mod over_the_endpoint;

/// Virtual time (paused clock) a test waits for something at most.
const WAIT: Duration = Duration::from_secs(60);
/// Virtual time after which a connection not closed is taken as open.
const STILL_OPEN: Duration = Duration::from_millis(100);

fn config() -> SipConfig {
    SipConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..SipConfig::default()
    }
}

async fn bound(config: &SipConfig) -> (Transports, mpsc::Receiver<TransportEvent>) {
    Transports::bind(config).await.expect("bind on loopback")
}

async fn connect_from(source: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind((source, 0).into()).expect("bind the source");
    socket.connect(to).await.expect("connect")
}

/// Whether the daemon closes `stream` (end of stream or reset) within
/// `wait`; bytes it sends meanwhile (pongs) are skipped.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    let until = Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(until, stream.read(&mut chunk)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

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

#[tokio::test(start_paused = true)]
async fn connections_over_the_per_source_limit_are_closed_at_once_and_counted() {
    let config = config();
    let (transports, _events) = bound(&config).await;
    let limit = config.tcp_max_connections_per_source;
    let mut streams = Vec::new();
    for _ in 0..limit + 8 {
        streams.push(connect_from(Ipv4Addr::LOCALHOST, transports.local_addr()).await);
    }
    for (index, stream) in streams.iter_mut().enumerate() {
        let closed = closed_within(stream, STILL_OPEN).await;
        assert_eq!(closed, index >= limit, "connection {index}");
    }
    let counters = transports.counters();
    assert_eq!(counters.accepted, limit as u64);
    assert_eq!(counters.refused_per_source, 8);
    assert_eq!(counters.open, limit as u64);
    // One that ends gives its place back to its source.
    drop(streams.swap_remove(0));
    sleep(STILL_OPEN).await;
    let mut again = connect_from(Ipv4Addr::LOCALHOST, transports.local_addr()).await;
    assert!(!closed_within(&mut again, STILL_OPEN).await);
    assert_eq!(transports.counters().refused_per_source, 8);
}

#[tokio::test(start_paused = true)]
async fn over_the_total_limit_a_connection_is_closed_whatever_its_source() {
    let config = SipConfig {
        tcp_max_connections: 3,
        tcp_max_connections_per_source: 2,
        ..config()
    };
    let (transports, _events) = bound(&config).await;
    let (one, two) = (Ipv4Addr::LOCALHOST, Ipv4Addr::new(127, 0, 0, 2));
    let mut streams = Vec::new();
    for source in [one, one, one, two, two] {
        streams.push(connect_from(source, transports.local_addr()).await);
    }
    let mut closed = Vec::new();
    for stream in &mut streams {
        closed.push(closed_within(stream, STILL_OPEN).await);
    }
    // The third from `one` is over its source's limit, the second from
    // `two` over the total.
    assert_eq!(closed, [false, false, true, false, true]);
    let counters = transports.counters();
    assert_eq!(
        (counters.refused_per_source, counters.refused_total),
        (1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn crlf_pings_get_pongs_and_keep_a_connection_open_until_it_is_idle() {
    let config = config();
    let (transports, _events) = bound(&config).await;
    let mut stream = connect_from(Ipv4Addr::LOCALHOST, transports.local_addr()).await;
    let mut pong = [0u8; 2];
    for _ in 0..2 {
        // RFC 5626 §4.4.1: a double CRLF, answered with a single CRLF.
        stream.write_all(b"\r\n\r\n").await.expect("ping");
        timeout(WAIT, stream.read_exact(&mut pong))
            .await
            .expect("in time")
            .expect("pong");
        assert_eq!(&pong, b"\r\n");
        sleep(config.tcp_idle_timeout * 2 / 3).await;
    }
    // Two thirds of the timeout after the last ping: still open, although
    // more than the timeout has passed since the connection was made.
    let last_ping = Instant::now() - config.tcp_idle_timeout * 2 / 3;
    assert!(!closed_within(&mut stream, STILL_OPEN).await);
    assert!(closed_within(&mut stream, config.tcp_idle_timeout).await);
    assert!(Instant::now() - last_ping >= config.tcp_idle_timeout);
    let counters = transports.counters();
    assert_eq!((counters.closed_idle, counters.pongs), (1, 2));
    assert_eq!(counters.open, 0);
}

#[tokio::test(start_paused = true)]
async fn a_message_not_whole_within_the_message_timeout_closes_its_connection() {
    let config = config();
    let (transports, _events) = bound(&config).await;
    let mut stream = connect_from(Ipv4Addr::LOCALHOST, transports.local_addr()).await;
    stream
        .write_all(b"OPTIONS sip:4008@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1")
        .await
        .expect("write");
    let almost = config.tcp_message_timeout - Duration::from_secs(1);
    assert!(!closed_within(&mut stream, almost).await);
    // More of the same message does not make it any younger.
    stream
        .write_all(b":5060;branch=z9hG4bKslow\r\n")
        .await
        .expect("write");
    assert!(closed_within(&mut stream, Duration::from_secs(2)).await);
    assert_eq!(transports.counters().closed_message_timeout, 1);
}

#[tokio::test(start_paused = true)]
async fn a_header_section_over_the_limit_closes_the_connection_unanswered() {
    let config = SipConfig {
        max_message_size: 1024,
        ..config()
    };
    let (transports, mut events) = bound(&config).await;
    let mut stream = connect_from(Ipv4Addr::LOCALHOST, transports.local_addr()).await;
    let head = format!(
        "OPTIONS sip:4008@127.0.0.1 SIP/2.0\r\nX: {}",
        "a".repeat(2000)
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    assert!(closed_within(&mut stream, WAIT).await);
    let counters = transports.counters();
    assert_eq!((counters.too_large, counters.closed_malformed), (1, 1));
    let malformed = loop {
        let event = timeout(WAIT, events.recv()).await.expect("in time");
        if let Some(TransportEvent::Closed { malformed, .. }) = event {
            break malformed;
        }
    };
    assert!(malformed, "counted as unparseable by the endpoint");
}

//! The endpoint over real loopback sockets; a raw socket plays the peer.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::super::dialog::{DialogEvent, ServerDialog};
use super::super::message::{ALLOW, Frame, frame};
use super::super::{SipConfig, SipError, StatusCode, Transport};
use super::{Endpoint, Incoming, InviteServer};

mod uac;

/// Virtual time (paused clock) a test waits for a message at most.
const WAIT: Duration = Duration::from_secs(60);

async fn endpoint() -> (Endpoint, mpsc::Receiver<Incoming>) {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..SipConfig::default()
    };
    Endpoint::bind_on_current_runtime(&config)
        .await
        .expect("bind on loopback")
}

#[tokio::test]
async fn the_endpoint_on_its_own_thread_answers_and_stops_with_its_handles() {
    let config = SipConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..SipConfig::default()
    };
    let (endpoint, incoming) = Endpoint::bind(&config).await.expect("bind on loopback");
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    let options = request("OPTIONS", me, "o1", "call-thread", None, 1);
    send(&socket, endpoint.local_addr(), &options).await;
    drop(incoming);
    // Nobody takes the OPTIONS (the TU is gone): the endpoint's own thread
    // still answers it, with 500 from the dropped handle.
    let answer = recv(&socket).await;
    assert!(status_line(&answer).starts_with("SIP/2.0 5"), "{answer}");
    // The same port cannot be bound while the endpoint lives...
    let addr = endpoint.local_addr();
    assert!(std::net::UdpSocket::bind(addr).is_err());
    // ...and is released once its last handle is gone and the thread ends.
    drop(endpoint);
    let mut released = false;
    for _ in 0..200 {
        if std::net::UdpSocket::bind(addr).is_ok() {
            released = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(released, "the endpoint thread let go of {addr}");
}

async fn peer() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.expect("peer socket")
}

fn request(
    method: &str,
    peer: SocketAddr,
    branch: &str,
    call_id: &str,
    to_tag: Option<&str>,
    cseq: u32,
) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let body = if method == "INVITE" { "v=0\r\n" } else { "" };
    format!(
        "{method} sip:4008@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {peer};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:13800138000@127.0.0.1>;tag=caller\r\n\
         To: <sip:4008@127.0.0.1>{to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:13800138000@{peer}>\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

async fn send(socket: &UdpSocket, to: SocketAddr, text: &str) {
    socket.send_to(text.as_bytes(), to).await.expect("send");
}

async fn recv(socket: &UdpSocket) -> String {
    let mut buffer = vec![0u8; 65536];
    let (length, _) = timeout(WAIT, socket.recv_from(&mut buffer))
        .await
        .expect("a message within the wait")
        .expect("recv");
    String::from_utf8_lossy(&buffer[..length]).into_owned()
}

fn status_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn to_tag(message: &str) -> String {
    let to = header(message, "To").expect("To");
    to.split(";tag=").nth(1).expect("tag").to_owned()
}

async fn next_invite(incoming: &mut mpsc::Receiver<Incoming>) -> InviteServer {
    match timeout(WAIT, incoming.recv())
        .await
        .expect("incoming in time")
    {
        Some(Incoming::Invite(server)) => server,
        other => panic!("expected an INVITE, got {other:?}"),
    }
}

/// INVITE, 100, answer, 200, ACK: an established dialog.
async fn established(
    socket: &UdpSocket,
    endpoint: &Endpoint,
    incoming: &mut mpsc::Receiver<Incoming>,
    call_id: &str,
) -> (ServerDialog, String) {
    let me = socket.local_addr().expect("addr");
    let (answering, tag) = answered(socket, endpoint, incoming, call_id).await;
    send(
        socket,
        endpoint.local_addr(),
        &request("ACK", me, "ack", call_id, Some(&tag), 1),
    )
    .await;
    let dialog = answering.await.expect("task").expect("answered");
    (dialog, tag)
}

/// A call answered 200 and not yet acknowledged: the task waiting for the
/// ACK, and our To tag.
async fn answered(
    socket: &UdpSocket,
    endpoint: &Endpoint,
    incoming: &mut mpsc::Receiver<Incoming>,
    call_id: &str,
) -> (
    tokio::task::JoinHandle<Result<ServerDialog, SipError>>,
    String,
) {
    let me = socket.local_addr().expect("addr");
    send(
        socket,
        endpoint.local_addr(),
        &request("INVITE", me, "inv", call_id, None, 1),
    )
    .await;
    assert!(status_line(&recv(socket).await).contains("100"));
    let server = next_invite(incoming).await;
    let answering = tokio::spawn(server.answer(b"v=0\r\n".to_vec()));
    let ok = recv(socket).await;
    assert!(status_line(&ok).contains("200"), "{ok}");
    (answering, to_tag(&ok))
}

#[tokio::test(start_paused = true)]
async fn invite_gets_100_then_180_and_the_200_is_retransmitted_until_ack() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    send(
        &socket,
        endpoint.local_addr(),
        &request("INVITE", me, "a1", "call-1", None, 1),
    )
    .await;
    let trying = recv(&socket).await;
    assert_eq!(status_line(&trying), "SIP/2.0 100 Trying");
    assert!(
        header(&trying, "Via")
            .expect("Via")
            .contains(&format!("rport={}", me.port()))
    );
    let mut server = next_invite(&mut incoming).await;
    assert_eq!(server.request().to_user(), Some("4008"));
    server.ringing().await;
    let ringing = recv(&socket).await;
    assert_eq!(status_line(&ringing), "SIP/2.0 180 Ringing");
    assert_eq!(to_tag(&ringing), server.local_tag());
    let tag = server.local_tag().to_owned();
    let answering = tokio::spawn(server.answer(b"v=0\r\n".to_vec()));
    let first = recv(&socket).await;
    assert_eq!(status_line(&first), "SIP/2.0 200 OK");
    assert_eq!(to_tag(&first), tag);
    assert_eq!(header(&first, "Content-Type"), Some("application/sdp"));
    assert!(
        header(&first, "Contact")
            .expect("Contact")
            .contains(&endpoint.local_addr().to_string())
    );
    // RFC 3261 §13.3.1.4: retransmitted until the ACK.
    let again = recv(&socket).await;
    assert_eq!(status_line(&again), "SIP/2.0 200 OK");
    send(
        &socket,
        endpoint.local_addr(),
        &request("ACK", me, "a2", "call-1", Some(&tag), 1),
    )
    .await;
    let dialog = answering.await.expect("task").expect("ACK arrived");
    assert_eq!(dialog.call_id(), "call-1");
    // After the ACK nothing more is sent.
    let mut buffer = [0u8; 2048];
    assert!(
        timeout(Duration::from_secs(10), socket.recv_from(&mut buffer))
            .await
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn an_unacknowledged_200_ends_in_bye_and_an_error() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    send(
        &socket,
        endpoint.local_addr(),
        &request("INVITE", me, "n1", "call-noack", None, 1),
    )
    .await;
    recv(&socket).await;
    let server = next_invite(&mut incoming).await;
    let answering = tokio::spawn(server.answer(b"v=0\r\n".to_vec()));
    let bye = loop {
        let message = recv(&socket).await;
        if message.starts_with("BYE ") {
            break message;
        }
        assert_eq!(status_line(&message), "SIP/2.0 200 OK");
    };
    assert!(
        bye.starts_with(&format!("BYE sip:13800138000@{me} SIP/2.0")),
        "{bye}"
    );
    let error = answering.await.expect("task").expect_err("no ACK");
    assert!(matches!(error, SipError::AckTimeout { .. }));
}

#[tokio::test]
async fn a_retransmitted_invite_is_absorbed() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    let invite = request("INVITE", me, "r1", "call-2", None, 1);
    send(&socket, endpoint.local_addr(), &invite).await;
    assert!(status_line(&recv(&socket).await).contains("100"));
    let _server = next_invite(&mut incoming).await;
    send(&socket, endpoint.local_addr(), &invite).await;
    // §17.2.1: the last provisional response is sent again.
    assert!(status_line(&recv(&socket).await).contains("100"));
    assert!(incoming.try_recv().is_err(), "not delivered twice");
    assert_eq!(endpoint.counters().retransmissions_absorbed, 1);
}

#[tokio::test]
async fn cancel_before_answer_gives_200_and_487() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    send(
        &socket,
        endpoint.local_addr(),
        &request("INVITE", me, "c1", "call-3", None, 1),
    )
    .await;
    recv(&socket).await;
    let mut server = next_invite(&mut incoming).await;
    send(
        &socket,
        endpoint.local_addr(),
        &request("CANCEL", me, "c1", "call-3", None, 1),
    )
    .await;
    let mut statuses = vec![recv(&socket).await, recv(&socket).await];
    statuses.sort();
    assert!(
        statuses[0].starts_with("SIP/2.0 200 OK") && statuses[0].contains("CANCEL"),
        "{statuses:?}"
    );
    assert!(
        statuses[1].starts_with("SIP/2.0 487 Request Terminated"),
        "{statuses:?}"
    );
    timeout(WAIT, server.cancelled())
        .await
        .expect("cancelled resolves");
    let tag = to_tag(&statuses[1]);
    send(
        &socket,
        endpoint.local_addr(),
        &request("ACK", me, "c1", "call-3", Some(&tag), 1),
    )
    .await;
    let error = server.answer(Vec::new()).await.expect_err("cancelled");
    assert!(matches!(error, SipError::Cancelled));
}

#[tokio::test]
async fn cancel_matching_nothing_gets_481() {
    let (endpoint, _incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    send(
        &socket,
        endpoint.local_addr(),
        &request("CANCEL", me, "x1", "call-x", None, 1),
    )
    .await;
    assert!(status_line(&recv(&socket).await).starts_with("SIP/2.0 481"));
}

#[tokio::test]
async fn options_is_delivered_and_answered() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    send(
        &socket,
        endpoint.local_addr(),
        &request("OPTIONS", me, "o1", "call-4", None, 1),
    )
    .await;
    let Some(Incoming::Options(server)) = timeout(WAIT, incoming.recv()).await.expect("in time")
    else {
        panic!("expected OPTIONS");
    };
    assert_eq!(server.request().method(), "OPTIONS");
    server
        .respond(
            StatusCode::OK,
            vec![("Accept".into(), "application/sdp".into())],
            None,
        )
        .await;
    let ok = recv(&socket).await;
    assert_eq!(status_line(&ok), "SIP/2.0 200 OK");
    assert_eq!(header(&ok, "Accept"), Some("application/sdp"));
}

#[tokio::test]
async fn dropping_a_request_handle_answers_500() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    send(
        &socket,
        endpoint.local_addr(),
        &request("OPTIONS", me, "d1", "call-d", None, 1),
    )
    .await;
    drop(timeout(WAIT, incoming.recv()).await.expect("in time"));
    assert!(status_line(&recv(&socket).await).starts_with("SIP/2.0 500"));
}

#[tokio::test]
async fn subscribe_gets_405_with_allow_and_unknown_methods_501() {
    let (endpoint, _incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    send(
        &socket,
        endpoint.local_addr(),
        &request("SUBSCRIBE", me, "g1", "call-5", None, 1),
    )
    .await;
    let response = recv(&socket).await;
    assert!(status_line(&response).starts_with("SIP/2.0 405"));
    assert_eq!(header(&response, "Allow"), Some(ALLOW));
    send(
        &socket,
        endpoint.local_addr(),
        &request("FROBNICATE", me, "g2", "call-5", None, 2),
    )
    .await;
    let response = recv(&socket).await;
    assert!(status_line(&response).starts_with("SIP/2.0 501"));
    assert_eq!(header(&response, "Allow"), Some(ALLOW));
}

#[tokio::test]
async fn a_request_to_us_with_max_forwards_zero_is_processed() {
    // RFC 3261 §8.2 has a UAS check no Max-Forwards (483 is a proxy's
    // answer, §16.3); RFC 4475 §3.3.11: an endpoint processes it.
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    let text = request("OPTIONS", me, "m0", "call-mf0", None, 1)
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    send(&socket, endpoint.local_addr(), &text).await;
    let Some(Incoming::Options(server)) = timeout(WAIT, incoming.recv()).await.expect("in time")
    else {
        panic!("expected the OPTIONS to reach the TU");
    };
    server.respond(StatusCode::OK, Vec::new(), None).await;
    assert_eq!(status_line(&recv(&socket).await), "SIP/2.0 200 OK");
    let text = request("INVITE", me, "m1", "call-6", None, 1)
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    send(&socket, endpoint.local_addr(), &text).await;
    assert_eq!(status_line(&recv(&socket).await), "SIP/2.0 100 Trying");
    next_invite(&mut incoming).await;
}

#[tokio::test]
async fn an_unknown_require_gets_420_with_unsupported() {
    let (endpoint, _incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    let text = request("INVITE", me, "m2", "call-7", None, 1)
        .replace("Max-Forwards: 70", "Max-Forwards: 70\r\nRequire: 100rel");
    send(&socket, endpoint.local_addr(), &text).await;
    let response = recv(&socket).await;
    assert!(status_line(&response).starts_with("SIP/2.0 420"));
    assert_eq!(header(&response, "Unsupported"), Some("100rel"));
}

#[tokio::test]
async fn garbage_is_dropped_and_counted_and_the_next_request_is_answered() {
    let (endpoint, _incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    send(
        &socket,
        endpoint.local_addr(),
        "\u{1}\u{2} definitely not SIP\r\n\r\n",
    )
    .await;
    send(
        &socket,
        endpoint.local_addr(),
        &request("SUBSCRIBE", me, "z1", "call-8", None, 1),
    )
    .await;
    assert!(status_line(&recv(&socket).await).starts_with("SIP/2.0 405"));
    assert_eq!(endpoint.counters().dropped_unparseable, 1);
}

#[tokio::test]
async fn an_invalid_request_gets_400_with_the_reason() {
    let (endpoint, _incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    let text = request("OPTIONS", me, "b1", "call-9", None, 1)
        .replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
    send(&socket, endpoint.local_addr(), &text).await;
    let response = recv(&socket).await;
    assert_eq!(
        status_line(&response),
        "SIP/2.0 400 CSeq method does not match the request method"
    );
    assert!(
        header(&response, "Warning")
            .expect("Warning")
            .starts_with("399 ")
    );
    assert_eq!(endpoint.counters().answered_bad_request, 1);
}

#[tokio::test]
async fn draining_answers_new_invites_503() {
    let (endpoint, _incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    endpoint.shutdown();
    send(
        &socket,
        endpoint.local_addr(),
        &request("INVITE", me, "s1", "call-10", None, 1),
    )
    .await;
    assert!(status_line(&recv(&socket).await).starts_with("SIP/2.0 503"));
}

#[tokio::test]
async fn a_bye_instead_of_the_lost_ack_gets_200_and_ends_the_answer() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    let (answering, tag) = answered(&socket, &endpoint, &mut incoming, "call-lost-ack").await;
    // The ACK never arrives; the caller hangs up.
    send(
        &socket,
        endpoint.local_addr(),
        &request("BYE", me, "bye-lost-ack", "call-lost-ack", Some(&tag), 2),
    )
    .await;
    let mut response = recv(&socket).await;
    // A 2xx retransmission may come first.
    while header(&response, "CSeq").is_some_and(|cseq| cseq.ends_with("INVITE")) {
        response = recv(&socket).await;
    }
    assert!(
        status_line(&response).starts_with("SIP/2.0 200"),
        "{response}"
    );
    assert!(header(&response, "CSeq").expect("CSeq").ends_with("BYE"));
    let answered = timeout(WAIT, answering)
        .await
        .expect("in time")
        .expect("task");
    assert!(
        matches!(answered, Err(SipError::DialogEnded { .. })),
        "{answered:?}"
    );
}

#[tokio::test]
async fn bye_from_the_peer_reaches_the_dialog() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    let (mut dialog, tag) = established(&socket, &endpoint, &mut incoming, "call-11").await;
    send(
        &socket,
        endpoint.local_addr(),
        &request("BYE", me, "bye1", "call-11", Some(&tag), 2),
    )
    .await;
    // The endpoint answers the BYE itself, before the TU looks.
    assert!(status_line(&recv(&socket).await).starts_with("SIP/2.0 200"));
    let Some(DialogEvent::Bye) = timeout(WAIT, dialog.next_event()).await.expect("in time") else {
        panic!("expected BYE");
    };
    assert!(
        dialog.next_event().await.is_none(),
        "the dialog ends after BYE"
    );
    // A request in the ended dialog gets 481.
    send(
        &socket,
        endpoint.local_addr(),
        &request("INFO", me, "i1", "call-11", Some(&tag), 3),
    )
    .await;
    assert!(status_line(&recv(&socket).await).starts_with("SIP/2.0 481"));
}

#[tokio::test]
async fn an_in_dialog_request_with_a_lower_cseq_is_refused_with_500() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    let (mut dialog, tag) = established(&socket, &endpoint, &mut incoming, "call-13").await;
    // RFC 3261 §12.2.2: INFO with CSeq 5, then one with CSeq 4.
    send(
        &socket,
        endpoint.local_addr(),
        &request("INFO", me, "info5", "call-13", Some(&tag), 5),
    )
    .await;
    let Some(DialogEvent::Info(info)) = timeout(WAIT, dialog.next_event()).await.expect("in time")
    else {
        panic!("expected INFO");
    };
    info.respond(StatusCode::OK, Vec::new(), None).await;
    assert!(status_line(&recv(&socket).await).starts_with("SIP/2.0 200"));
    send(
        &socket,
        endpoint.local_addr(),
        &request("INFO", me, "info4", "call-13", Some(&tag), 4),
    )
    .await;
    assert!(status_line(&recv(&socket).await).starts_with("SIP/2.0 500"));
}

#[tokio::test(start_paused = true)]
async fn our_bye_is_retransmitted_over_udp_until_answered() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let (mut dialog, _) = established(&socket, &endpoint, &mut incoming, "call-12").await;
    let hanging_up = tokio::spawn(async move { dialog.bye().await });
    let first = recv(&socket).await;
    assert!(first.starts_with("BYE "), "{first}");
    assert!(header(&first, "CSeq").expect("CSeq").ends_with("BYE"));
    let second = recv(&socket).await;
    assert_eq!(first, second, "timer E retransmits the same BYE");
    let response = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: call-12\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        header(&first, "Via").expect("Via"),
        header(&first, "From").expect("From"),
        header(&first, "To").expect("To"),
        header(&first, "CSeq").expect("CSeq"),
    );
    send(&socket, endpoint.local_addr(), &response).await;
    let status = hanging_up.await.expect("task").expect("answered");
    assert_eq!(status, StatusCode::OK);
}

async fn tcp_read_message(stream: &mut TcpStream, pending: &mut Vec<u8>) -> String {
    loop {
        match frame(pending, 65535) {
            Ok(Frame::Message(length)) => {
                let bytes: Vec<u8> = pending.drain(..length).collect();
                return String::from_utf8_lossy(&bytes).into_owned();
            }
            // A pong (RFC 5626 §4.4.1) for a ping the test sent.
            Ok(Frame::KeepAlive(length)) => {
                pending.drain(..length);
                continue;
            }
            _ => {}
        }
        let mut chunk = [0u8; 4096];
        let n = timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("in time")
            .expect("read");
        assert!(n > 0, "connection closed");
        pending.extend_from_slice(&chunk[..n]);
    }
}

fn tcp_request(method: &str, me: SocketAddr, branch: &str, call_id: &str) -> String {
    request(method, me, branch, call_id, None, 1).replace("SIP/2.0/UDP", "SIP/2.0/TCP")
}

#[tokio::test]
async fn tcp_two_messages_in_one_segment_are_both_answered() {
    let (endpoint, _incoming) = endpoint().await;
    let mut stream = TcpStream::connect(endpoint.local_addr())
        .await
        .expect("connect");
    let me = stream.local_addr().expect("addr");
    let both = format!(
        "\r\n\r\n{}{}",
        tcp_request("SUBSCRIBE", me, "t1", "call-13"),
        tcp_request("SUBSCRIBE", me, "t2", "call-13")
    );
    stream.write_all(both.as_bytes()).await.expect("write");
    let mut pending = Vec::new();
    let first = tcp_read_message(&mut stream, &mut pending).await;
    let second = tcp_read_message(&mut stream, &mut pending).await;
    assert!(
        first.starts_with("SIP/2.0 405") && first.contains("SUBSCRIBE"),
        "{first}"
    );
    assert!(
        second.starts_with("SIP/2.0 405") && second.contains("SUBSCRIBE"),
        "{second}"
    );
}

#[tokio::test]
async fn tcp_message_split_over_two_segments_is_reassembled() {
    let (endpoint, mut incoming) = endpoint().await;
    let mut stream = TcpStream::connect(endpoint.local_addr())
        .await
        .expect("connect");
    let me = stream.local_addr().expect("addr");
    let invite = tcp_request("INVITE", me, "t3", "call-14");
    let (head, tail) = invite.split_at(invite.len() / 2);
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.flush().await.expect("flush");
    tokio::task::yield_now().await;
    stream.write_all(tail.as_bytes()).await.expect("write");
    let mut pending = Vec::new();
    let trying = tcp_read_message(&mut stream, &mut pending).await;
    assert!(trying.starts_with("SIP/2.0 100"), "{trying}");
    let server = next_invite(&mut incoming).await;
    assert_eq!(server.request().transport(), Transport::Tcp);
    assert_eq!(server.request().body(), b"v=0\r\n");
    server.reject(StatusCode::BUSY_HERE).await;
    let busy = tcp_read_message(&mut stream, &mut pending).await;
    assert!(busy.starts_with("SIP/2.0 486"), "{busy}");
}

#[tokio::test]
async fn listening_on_every_interface_the_contact_is_the_address_towards_the_caller() {
    let config = SipConfig {
        listen: "0.0.0.0:0".parse().expect("addr"),
        ..SipConfig::default()
    };
    let (endpoint, mut incoming) = Endpoint::bind_on_current_runtime(&config)
        .await
        .expect("bind");
    let port = endpoint.local_addr().port();
    let to: SocketAddr = ([127, 0, 0, 1], port).into();
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    send(
        &socket,
        to,
        &request("INVITE", me, "inv", "call-any", None, 1),
    )
    .await;
    assert!(status_line(&recv(&socket).await).contains("100"));
    let server = next_invite(&mut incoming).await;
    let _answering = tokio::spawn(server.answer(b"v=0\r\n".to_vec()));
    let ok = recv(&socket).await;
    assert!(status_line(&ok).contains("200"), "{ok}");
    let contact = header(&ok, "Contact").expect("Contact in the 200");
    assert!(
        contact.contains(&format!("sip:127.0.0.1:{port}")),
        "a caller on loopback is told the loopback address: {contact}"
    );
}

#[tokio::test]
async fn a_rejection_carries_the_headers_the_tu_gives() {
    let (endpoint, mut incoming) = endpoint().await;
    let socket = peer().await;
    let me = socket.local_addr().expect("addr");
    send(
        &socket,
        endpoint.local_addr(),
        &request("INVITE", me, "rw", "call-reject-with", None, 1),
    )
    .await;
    assert!(status_line(&recv(&socket).await).contains("100"));
    let server = next_invite(&mut incoming).await;
    let accept = vec![("Accept".to_owned(), "application/sdp".to_owned())];
    server
        .reject_with(StatusCode::UNSUPPORTED_MEDIA_TYPE, accept)
        .await;
    let refusal = recv(&socket).await;
    assert_eq!(status_line(&refusal), "SIP/2.0 415 Unsupported Media Type");
    assert_eq!(header(&refusal, "Accept"), Some("application/sdp"));
}

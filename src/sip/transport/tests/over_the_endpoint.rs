//! What a TCP peer sees of the whole stack (transports and endpoint):
//! responses on its connection also when the stream goes bad, 400 and 513
//! before a close, responses when its connection is gone, and transactions
//! kept apart by transport.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout};

use super::{STILL_OPEN, WAIT, closed_within};
use crate::sip::message::{Frame, frame};
use crate::sip::{Endpoint, Incoming, InviteServer, SipConfig, StatusCode};

/// Virtual time after which nothing more is expected to arrive.
const QUIET: Duration = Duration::from_secs(5);

async fn endpoint(config: SipConfig) -> (Endpoint, mpsc::Receiver<Incoming>) {
    Endpoint::bind_on_current_runtime(&config)
        .await
        .expect("bind on loopback")
}

fn config() -> SipConfig {
    super::config()
}

/// A request whose Via names `transport` and `sent_by`.
fn request(
    method: &str,
    sent_by: std::net::SocketAddr,
    transport: &str,
    branch: &str,
    call_id: &str,
) -> String {
    let body = if method == "INVITE" { "v=0\r\n" } else { "" };
    format!(
        "{method} sip:4008@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {sent_by};branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:13800138000@127.0.0.1>;tag=caller\r\n\
         To: <sip:4008@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:13800138000@{sent_by};transport={}>\r\n\
         Content-Length: {}\r\n\r\n{body}",
        transport.to_ascii_lowercase(),
        body.len()
    )
}

/// The next message on `stream`, pongs skipped; `None` when the daemon
/// closes it. A reset fails the test: it can destroy responses unread.
async fn next_message(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<String> {
    loop {
        match frame(pending, 65535) {
            Ok(Frame::Message(length)) => {
                let bytes: Vec<u8> = pending.drain(..length).collect();
                return Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            Ok(Frame::KeepAlive(length)) => {
                pending.drain(..length);
                continue;
            }
            _ => {}
        }
        let mut chunk = [0u8; 4096];
        let length = timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("in time")
            .expect("closed without a reset");
        if length == 0 {
            return None;
        }
        pending.extend_from_slice(&chunk[..length]);
    }
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

async fn next_invite(incoming: &mut mpsc::Receiver<Incoming>) -> InviteServer {
    match timeout(WAIT, incoming.recv()).await.expect("in time") {
        Some(Incoming::Invite(server)) => server,
        other => panic!("expected an INVITE, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn messages_before_junk_get_their_responses_on_that_connection_before_it_closes() {
    let (endpoint, _incoming) = endpoint(config()).await;
    let mut stream = TcpStream::connect(endpoint.local_addr())
        .await
        .expect("connect");
    let me = stream.local_addr().expect("addr");
    let text = format!(
        "{}{}junk that is no SIP\r\n\r\nmore junk",
        request("SUBSCRIBE", me, "TCP", "j1", "call-junk"),
        request("SUBSCRIBE", me, "TCP", "j2", "call-junk"),
    );
    stream.write_all(text.as_bytes()).await.expect("write");
    let mut pending = Vec::new();
    let first = next_message(&mut stream, &mut pending)
        .await
        .expect("a response");
    let second = next_message(&mut stream, &mut pending)
        .await
        .expect("a response");
    assert!(
        first.starts_with("SIP/2.0 405") && first.contains("SUBSCRIBE"),
        "{first}"
    );
    assert!(
        second.starts_with("SIP/2.0 405") && second.contains("SUBSCRIBE"),
        "{second}"
    );
    assert_eq!(
        next_message(&mut stream, &mut pending).await,
        None,
        "then it closes"
    );
    assert_eq!(endpoint.counters().dropped_unparseable, 1, "the junk");
}

#[tokio::test(start_paused = true)]
async fn a_tcp_request_over_the_size_limit_gets_513_then_the_connection_closes() {
    let config = SipConfig {
        max_message_size: 4096,
        ..config()
    };
    let (endpoint, mut incoming) = endpoint(config).await;
    let mut stream = TcpStream::connect(endpoint.local_addr())
        .await
        .expect("connect");
    let me = stream.local_addr().expect("addr");
    let body = "a".repeat(10_000);
    let invite = request("INVITE", me, "TCP", "big", "call-big").replace(
        "Content-Length: 5\r\n\r\nv=0\r\n",
        &format!("Content-Length: {}\r\n\r\n{body}", body.len()),
    );
    stream.write_all(invite.as_bytes()).await.expect("write");
    let mut pending = Vec::new();
    let response = next_message(&mut stream, &mut pending)
        .await
        .expect("a response");
    assert_eq!(status_line(&response), "SIP/2.0 513 Message Too Large");
    assert!(header(&response, "CSeq").expect("CSeq").ends_with("INVITE"));
    assert_eq!(
        next_message(&mut stream, &mut pending).await,
        None,
        "then it closes"
    );
    assert!(incoming.try_recv().is_err(), "the TU never sees it");
}

#[tokio::test(start_paused = true)]
async fn a_tcp_request_without_content_length_gets_400_then_the_connection_closes() {
    let (endpoint, _incoming) = endpoint(config()).await;
    let mut stream = TcpStream::connect(endpoint.local_addr())
        .await
        .expect("connect");
    let me = stream.local_addr().expect("addr");
    let options = request("OPTIONS", me, "TCP", "nolength", "call-nolength")
        .replace("Content-Length: 0\r\n", "");
    stream.write_all(options.as_bytes()).await.expect("write");
    let mut pending = Vec::new();
    let response = next_message(&mut stream, &mut pending)
        .await
        .expect("a response");
    // RFC 3261 §18.3: Content-Length is mandatory on a stream.
    assert_eq!(
        status_line(&response),
        "SIP/2.0 400 Content-Length is mandatory on TCP"
    );
    assert_eq!(
        next_message(&mut stream, &mut pending).await,
        None,
        "then it closes"
    );
    assert_eq!(endpoint.counters().answered_bad_request, 1);
}

/// An INVITE over a fresh connection, its 100 Trying read, the
/// connection closed by the caller and the close seen by the daemon.
async fn invite_then_hang_up_the_connection(
    stream: TcpStream,
    sent_by: std::net::SocketAddr,
    incoming: &mut mpsc::Receiver<Incoming>,
    call_id: &str,
) -> InviteServer {
    let mut stream = stream;
    let invite = request("INVITE", sent_by, "TCP", call_id, call_id);
    stream.write_all(invite.as_bytes()).await.expect("write");
    let mut pending = Vec::new();
    let trying = next_message(&mut stream, &mut pending).await.expect("100");
    assert!(trying.starts_with("SIP/2.0 100"), "{trying}");
    let server = next_invite(incoming).await;
    drop(stream);
    sleep(QUIET).await;
    server
}

#[tokio::test(start_paused = true)]
async fn a_response_whose_connection_is_gone_goes_to_the_via_sent_by_port() {
    let (endpoint, mut incoming) = endpoint(config()).await;
    // The caller listens here, and says so in its Via.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let sent_by = listener.local_addr().expect("addr");
    let stream = TcpStream::connect(endpoint.local_addr())
        .await
        .expect("connect");
    let server =
        invite_then_hang_up_the_connection(stream, sent_by, &mut incoming, "call-gone").await;
    server.reject(StatusCode::BUSY_HERE).await;
    // RFC 3261 §18.2.2: a new connection to the received address at the
    // sent-by port.
    let (mut back, _) = timeout(WAIT, listener.accept())
        .await
        .expect("the daemon connects to the sent-by port")
        .expect("accept");
    let busy = next_message(&mut back, &mut Vec::new())
        .await
        .expect("a response");
    assert!(busy.starts_with("SIP/2.0 486"), "{busy}");
}

#[tokio::test(start_paused = true)]
async fn a_response_whose_connection_is_gone_never_goes_to_its_ephemeral_source_port() {
    let (endpoint, mut incoming) = endpoint(config()).await;
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("reuseaddr");
    let stream = socket
        .connect(endpoint.local_addr())
        .await
        .expect("connect");
    // A careless client: the Via names the port it connected from.
    let me = stream.local_addr().expect("addr");
    let server =
        invite_then_hang_up_the_connection(stream, me, &mut incoming, "call-ephemeral").await;
    // Some other program now has that port.
    let squatter = TcpSocket::new_v4().expect("socket");
    squatter.set_reuseaddr(true).expect("reuseaddr");
    squatter.bind(me).expect("bind the freed port");
    let squatter = squatter.listen(8).expect("listen");
    server.reject(StatusCode::BUSY_HERE).await;
    assert!(
        timeout(QUIET, squatter.accept()).await.is_err(),
        "the response must not be sent to whoever has the port now"
    );
}

#[tokio::test(start_paused = true)]
async fn a_tcp_request_with_the_branch_of_a_udp_one_is_a_new_transaction_answered_over_tcp() {
    let (endpoint, _incoming) = endpoint(config()).await;
    let udp = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let me = udp.local_addr().expect("addr");
    let register = request("SUBSCRIBE", me, "UDP", "shared", "call-shared");
    udp.send_to(register.as_bytes(), endpoint.local_addr())
        .await
        .expect("send");
    let mut buffer = vec![0u8; 65536];
    let length = timeout(WAIT, udp.recv(&mut buffer))
        .await
        .expect("in time")
        .expect("recv");
    assert!(buffer[..length].starts_with(b"SIP/2.0 405"));
    // The same bytes over TCP well within timer J (64*T1): not a
    // retransmission of the UDP request, since its answer goes elsewhere.
    let mut stream = TcpStream::connect(endpoint.local_addr())
        .await
        .expect("connect");
    stream.write_all(register.as_bytes()).await.expect("write");
    let answer = next_message(&mut stream, &mut Vec::new())
        .await
        .expect("an answer over TCP");
    assert!(answer.starts_with("SIP/2.0 405"), "{answer}");
    assert!(
        timeout(STILL_OPEN, udp.recv(&mut buffer)).await.is_err(),
        "nothing more over UDP"
    );
    assert_eq!(endpoint.counters().retransmissions_absorbed, 0);
}

#[tokio::test(start_paused = true)]
async fn a_response_over_udp_does_not_answer_our_bye_over_tcp() {
    let (endpoint, mut incoming) = endpoint(config()).await;
    let mut stream = TcpStream::connect(endpoint.local_addr())
        .await
        .expect("connect");
    let me = stream.local_addr().expect("addr");
    let mut pending = Vec::new();
    let invite = request("INVITE", me, "TCP", "dialog", "call-tcp-bye");
    stream.write_all(invite.as_bytes()).await.expect("write");
    next_message(&mut stream, &mut pending).await.expect("100");
    let server = next_invite(&mut incoming).await;
    let answering = tokio::spawn(server.answer(b"v=0\r\n".to_vec()));
    let ok = next_message(&mut stream, &mut pending).await.expect("200");
    let tag = header(&ok, "To")
        .and_then(|to| to.split(";tag=").nth(1))
        .expect("tag");
    let ack = request("ACK", me, "TCP", "ack", "call-tcp-bye").replace(
        "To: <sip:4008@127.0.0.1>",
        &format!("To: <sip:4008@127.0.0.1>;tag={tag}"),
    );
    stream.write_all(ack.as_bytes()).await.expect("write");
    let mut dialog = answering.await.expect("task").expect("answered");
    let mut hanging_up = tokio::spawn(async move { dialog.bye().await });
    let bye = next_message(&mut stream, &mut pending)
        .await
        .expect("BYE on the connection");
    assert!(bye.starts_with("BYE "), "{bye}");
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: call-tcp-bye\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        header(&bye, "Via").expect("Via"),
        header(&bye, "From").expect("From"),
        header(&bye, "To").expect("To"),
        header(&bye, "CSeq").expect("CSeq"),
    );
    let udp = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    udp.send_to(ok.as_bytes(), endpoint.local_addr())
        .await
        .expect("send");
    assert!(
        timeout(STILL_OPEN, &mut hanging_up).await.is_err(),
        "a 200 over UDP is not the answer to a BYE sent over TCP"
    );
    stream.write_all(ok.as_bytes()).await.expect("write");
    let status = timeout(WAIT, hanging_up)
        .await
        .expect("in time")
        .expect("task")
        .expect("answered");
    assert_eq!(status, StatusCode::OK);
    assert!(
        !closed_within(&mut stream, STILL_OPEN).await,
        "the connection stays"
    );
}

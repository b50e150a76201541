use super::*;

const SOURCE: &str = "192.0.2.10:5062";

fn source() -> SocketAddr {
    SOURCE.parse().expect("test address")
}

fn invite(extra: &str) -> String {
    format!(
        "INVITE sip:4008@hotline.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP pc33.example.com:5070;branch=z9hG4bK776asdhds{extra}\r\n\
         Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:4008@hotline.example>\r\n\
         From: \"Zhang San\" <sip:13800138000@carrier.example>;tag=1928301774\r\n\
         P-Asserted-Identity: <sip:+8613800138000@carrier.example>\r\n\
         Call-ID: a84b4c76e66710@pc33.example.com\r\n\
         CSeq: 314159 INVITE\r\n\
         Contact: <sip:13800138000@192.0.2.10:5062>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: 4\r\n\r\nv=0\n"
    )
}

fn parse_request(text: &str) -> Result<Request, ParseError> {
    match parse(text.as_bytes(), source(), Transport::Udp)? {
        Message::Request(request) => Ok(*request),
        Message::Response(_) => panic!("expected a request"),
    }
}

fn invalid_reason(text: &str) -> String {
    match parse_request(text) {
        Err(ParseError::Invalid { reason, .. }) => reason,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn a_typical_invite_exposes_caller_callee_and_body() {
    let request = parse_request(&invite("")).expect("valid INVITE");
    assert_eq!(request.method(), "INVITE");
    assert_eq!(request.request_uri_user(), Some("4008"));
    assert_eq!(
        request.request_uri_host().as_deref(),
        Some("hotline.example")
    );
    assert_eq!(request.from_user(), Some("13800138000"));
    assert_eq!(request.from_display_name(), Some("Zhang San"));
    assert_eq!(request.from_tag(), Some("1928301774"));
    assert_eq!(request.to_user(), Some("4008"));
    assert_eq!(request.to_tag(), None);
    assert_eq!(
        request.p_asserted_identity_user().as_deref(),
        Some("+8613800138000")
    );
    assert_eq!(request.call_id(), "a84b4c76e66710@pc33.example.com");
    assert_eq!(request.cseq(), 314159);
    assert_eq!(request.content_type(), Some("application/sdp"));
    assert_eq!(request.body(), b"v=0\n");
    assert_eq!(request.vias.len(), 2);
    assert!(request.top_via.is_rfc3261());
}

#[test]
fn compact_and_folded_headers_are_understood() {
    let text = "OPTIONS sip:hotline.example SIP/2.0\r\n\
                v: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKc1\r\n\
                Max-Forwards: 70\r\n\
                t: <sip:hotline.example>\r\n\
                f: <sip:a@example.com>\r\n  ;tag=77\r\n\
                i: compact-1\r\n\
                CSeq: 1 OPTIONS\r\n\
                l: 0\r\n\r\n";
    let request = parse_request(text).expect("valid OPTIONS");
    assert_eq!(request.from_tag(), Some("77"));
    assert_eq!(request.call_id(), "compact-1");
}

#[test]
fn missing_call_id_or_via_is_unanswerable() {
    let no_call_id = invite("").replace("Call-ID: a84b4c76e66710@pc33.example.com\r\n", "");
    assert!(matches!(
        parse_request(&no_call_id),
        Err(ParseError::Unanswerable { .. })
    ));
    let no_via = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
    assert!(matches!(
        parse_request(no_via),
        Err(ParseError::Unanswerable { .. })
    ));
    assert!(matches!(
        parse(b"\x16\x03\x01 hello tls", source(), Transport::Udp),
        Err(ParseError::Incomplete | ParseError::Unanswerable { .. })
    ));
    assert!(matches!(
        parse(
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            source(),
            Transport::Udp
        ),
        Err(ParseError::Unanswerable { .. })
    ));
}

#[test]
fn answerable_defects_are_invalid_with_a_reason() {
    let cseq_mismatch = invite("").replace("CSeq: 314159 INVITE", "CSeq: 314159 BYE");
    assert!(invalid_reason(&cseq_mismatch).contains("CSeq method"));
    let no_from = invite("").replace(
        "From: \"Zhang San\" <sip:13800138000@carrier.example>;tag=1928301774\r\n",
        "",
    );
    assert!(invalid_reason(&no_from).contains("From"));
    let bad_max_forwards = invite("").replace("Max-Forwards: 70", "Max-Forwards: seventy");
    assert!(invalid_reason(&bad_max_forwards).contains("Max-Forwards"));
    let long_body = invite("").replace("Content-Length: 4", "Content-Length: 400");
    assert!(invalid_reason(&long_body).contains("Content-Length"));
    let bad_uri = invite("").replace("INVITE sip:4008@hotline.example", "INVITE sip:");
    assert!(invalid_reason(&bad_uri).contains("Request-URI"));
}

#[test]
fn a_shorter_content_length_discards_the_extra_bytes() {
    let text = invite("").replace("Content-Length: 4", "Content-Length: 2");
    assert_eq!(parse_request(&text).expect("valid").body(), b"v=");
}

#[test]
fn response_copies_vias_from_to_call_id_cseq_and_adds_received() {
    let request = parse_request(&invite("")).expect("valid INVITE");
    let bytes = build_response(
        &request,
        StatusCode::RINGING,
        "hotline/0.1",
        &ResponseParts {
            to_tag: Some("abc"),
            ..ResponseParts::default()
        },
    );
    let text = String::from_utf8(bytes).expect("utf-8");
    assert!(text.starts_with("SIP/2.0 180 Ringing\r\n"), "{text}");
    assert!(
        text.contains(
            "Via: SIP/2.0/UDP pc33.example.com:5070;branch=z9hG4bK776asdhds;received=192.0.2.10\r\n"
        ),
        "{text}"
    );
    assert!(text.contains("Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1\r\n"));
    assert!(text.contains("To: <sip:4008@hotline.example>;tag=abc\r\n"));
    assert!(
        text.contains("From: \"Zhang San\" <sip:13800138000@carrier.example>;tag=1928301774\r\n")
    );
    assert!(text.contains("Call-ID: a84b4c76e66710@pc33.example.com\r\n"));
    assert!(text.contains("CSeq: 314159 INVITE\r\n"));
    assert!(text.contains("Server: hotline/0.1\r\n"));
    assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    let reparsed = parse(text.as_bytes(), source(), Transport::Udp).expect("our response parses");
    assert!(matches!(reparsed, Message::Response(r) if r.status == StatusCode::RINGING));
}

#[test]
fn trying_never_carries_a_to_tag() {
    let request = parse_request(&invite("")).expect("valid INVITE");
    let parts = ResponseParts {
        to_tag: Some("abc"),
        ..ResponseParts::default()
    };
    let text = String::from_utf8(build_response(&request, StatusCode::TRYING, "ua", &parts))
        .expect("utf-8");
    assert!(
        text.contains("To: <sip:4008@hotline.example>\r\n"),
        "{text}"
    );
}

#[test]
fn rport_is_filled_and_the_response_goes_to_the_source_port() {
    let request = parse_request(&invite(";rport")).expect("valid INVITE");
    let via = request.top_via.for_response(request.source);
    assert!(via.contains(";received=192.0.2.10"), "{via}");
    assert!(via.contains(";rport=5062"), "{via}");
    assert_eq!(response_destination(&request), source());
}

#[test]
fn without_rport_udp_responses_go_to_the_received_ip_and_sent_by_port() {
    let request = parse_request(&invite("")).expect("valid INVITE");
    assert_eq!(
        response_destination(&request),
        "192.0.2.10:5070".parse::<SocketAddr>().expect("addr")
    );
}

#[test]
fn received_is_not_added_when_sent_by_is_the_source_address() {
    let text = invite("").replace("pc33.example.com:5070", "192.0.2.10:5062");
    let request = parse_request(&text).expect("valid INVITE");
    let via = request.top_via.for_response(request.source);
    assert!(!via.contains("received"), "{via}");
}

#[test]
fn tcp_responses_go_back_to_the_connection_peer() {
    let request = match parse(invite("").as_bytes(), source(), Transport::Tcp) {
        Ok(Message::Request(request)) => *request,
        other => panic!("expected request, got {other:?}"),
    };
    assert_eq!(response_destination(&request), source());
}

#[test]
fn bad_request_carries_the_reason_and_a_warning() {
    let text = invite("").replace("CSeq: 314159 INVITE", "CSeq: 314159 BYE");
    let Err(ParseError::Invalid { reason, request }) = parse_request(&text) else {
        panic!("expected Invalid");
    };
    let response =
        String::from_utf8(build_bad_request(&request, &reason, "ua", "127.0.0.1")).expect("utf-8");
    assert!(
        response.starts_with(&format!("SIP/2.0 400 {reason}\r\n")),
        "{response}"
    );
    assert!(response.contains("Warning: 399 127.0.0.1 \""));
}

#[test]
fn stream_framing_uses_content_length_and_skips_keepalives() {
    let message = invite("");
    let mut buffer = b"\r\n\r\n".to_vec();
    assert_eq!(frame(&buffer, 65535).expect("frame"), Frame::KeepAlive(4));
    buffer.clear();
    buffer.extend_from_slice(message.as_bytes());
    buffer.extend_from_slice(message.as_bytes());
    assert_eq!(
        frame(&buffer, 65535).expect("frame"),
        Frame::Message(message.len())
    );
    assert_eq!(
        frame(&buffer[..message.len() - 1], 65535).expect("frame"),
        Frame::Incomplete
    );
    assert_eq!(
        frame(&buffer[..20], 65535).expect("frame"),
        Frame::Incomplete
    );
}

#[test]
fn stream_framing_tells_what_is_left_to_answer_when_it_fails() {
    let message = invite("");
    let head = message.find("\r\n\r\n").expect("blank line") + 4;
    let without = message.replace("Content-Length: 4\r\n", "");
    assert_eq!(
        frame(without.as_bytes(), 65535),
        Err(FrameError::NoContentLength {
            head: head - "Content-Length: 4\r\n".len()
        })
    );
    let bad = message.replace("Content-Length: 4", "Content-Length: four");
    assert!(matches!(
        frame(bad.as_bytes(), 65535),
        Err(FrameError::NoContentLength { .. })
    ));
    // Two lengths that disagree could frame the stream either way.
    let two = message.replace("Content-Length: 4", "Content-Length: 4\r\nl: 40");
    assert!(matches!(
        frame(two.as_bytes(), 65535),
        Err(FrameError::NoContentLength { .. })
    ));
    assert_eq!(
        frame(message.as_bytes(), head + 3),
        Err(FrameError::TooLarge { head })
    );
    let huge = message.replace(
        "Content-Length: 4",
        "Content-Length: 99999999999999999999999",
    );
    assert!(matches!(
        frame(huge.as_bytes(), 65535),
        Err(FrameError::NoContentLength { .. } | FrameError::TooLarge { .. })
    ));
    assert_eq!(frame(&[b'A'; 200], 100), Err(FrameError::HeadTooLarge));
}

#[test]
fn a_framer_fed_a_byte_at_a_time_finds_each_message_once() {
    let message = invite("");
    let stream = format!("{message}\r\n\r\n{message}");
    let mut framer = StreamFramer::default();
    let mut buffer = Vec::new();
    let mut found = Vec::new();
    for byte in stream.bytes() {
        buffer.push(byte);
        loop {
            match framer.next(&buffer, 65535).expect("frames") {
                Frame::Incomplete => break,
                Frame::KeepAlive(length) => {
                    found.push(("keep-alive", length));
                    buffer.drain(..length);
                }
                Frame::Message(length) => {
                    found.push(("message", length));
                    buffer.drain(..length);
                }
            }
        }
    }
    // The CRLF run arrives byte by byte: four keep-alives of one byte.
    let mut expected = vec![("message", message.len())];
    expected.extend([("keep-alive", 1); 4]);
    expected.push(("message", message.len()));
    assert_eq!(found, expected);
    assert!(buffer.is_empty());
}

#[test]
fn ack_for_a_non_2xx_takes_the_to_of_the_response() {
    let request = OutgoingRequest {
        method: Method::Invite,
        uri: "sip:bob@192.0.2.20".to_owned(),
        via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc".to_owned(),
        branch: "z9hG4bKabc".to_owned(),
        from: "<sip:hotline@127.0.0.1>;tag=ours".to_owned(),
        to: "<sip:bob@192.0.2.20>".to_owned(),
        call_id: "out-1".to_owned(),
        cseq: 7,
        routes: vec!["<sip:proxy.example;lr>".to_owned()],
        extra: Vec::new(),
        body: None,
    };
    let response = "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc\r\n\
                    To: <sip:bob@192.0.2.20>;tag=theirs\r\nFrom: <sip:hotline@127.0.0.1>;tag=ours\r\n\
                    Call-ID: out-1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n";
    let Ok(Message::Response(response)) = parse(response.as_bytes(), source(), Transport::Udp)
    else {
        panic!("expected a response");
    };
    let ack = String::from_utf8(request.ack_for(&response)).expect("utf-8");
    assert!(ack.starts_with("ACK sip:bob@192.0.2.20 SIP/2.0\r\n"));
    assert!(ack.contains("To: <sip:bob@192.0.2.20>;tag=theirs\r\n"));
    assert!(ack.contains("CSeq: 7 ACK\r\n"));
    assert!(ack.contains("Route: <sip:proxy.example;lr>\r\n"));
    assert!(ack.contains("branch=z9hG4bKabc"));
}

#[test]
fn unknown_methods_parse_as_extensions() {
    let text = "NEWMETHOD sip:a@hotline.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKn\r\n\
                Max-Forwards: 70\r\nFrom: <sip:b@example.com>;tag=1\r\nTo: <sip:a@hotline.example>\r\n\
                Call-ID: n1\r\nCSeq: 1 NEWMETHOD\r\nContent-Length: 0\r\n\r\n";
    let request = parse_request(text).expect("valid");
    assert_eq!(request.method, Method::Extension("NEWMETHOD".to_owned()));
}

fn fixtures(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sip")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixture folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            (
                path.display().to_string(),
                std::fs::read(&path).expect("fixture"),
            )
        })
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    ["valid", "invalid", "uas"]
        .into_iter()
        .flat_map(fixtures)
        .find(|(path, _)| path.ends_with(&format!("{name}.sip")))
        .map(|(_, bytes)| bytes)
        .unwrap_or_else(|| panic!("fixture {name}"))
}

#[test]
fn every_rfc_4475_valid_message_parses_and_every_request_is_answerable() {
    let all = fixtures("valid");
    assert_eq!(all.len(), 13, "RFC 4475 §3.1.1 has 13 messages");
    for (name, bytes) in all {
        match parse(&bytes, source(), Transport::Udp) {
            Ok(Message::Request(request)) => {
                assert!(!request.call_id().is_empty(), "{name}");
                assert!(request.version_supported, "{name}");
                let response = build_response(
                    &request,
                    StatusCode::OK,
                    "hotline",
                    &ResponseParts::default(),
                );
                let text = String::from_utf8_lossy(&response);
                assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{name}");
                assert!(
                    text.contains(&format!("Call-ID: {}\r\n", request.call_id())),
                    "{name}"
                );
            }
            Ok(Message::Response(_)) => {}
            Err(error) => panic!("{name}: {error}"),
        }
    }
}

#[test]
fn rfc_4475_dblreq_is_read_as_the_register_alone() {
    // §3.1.1.8: Content-Length 0 ends the REGISTER; the INVITE after it in
    // the same datagram is not a second message (RFC 3261 §18.3).
    let Ok(Message::Request(request)) = parse(&fixture("3.1.1.8-dblreq"), source(), Transport::Udp)
    else {
        panic!("dblreq parses");
    };
    assert_eq!(request.method(), "REGISTER");
    assert!(request.body().is_empty());
}

#[test]
fn rfc_4475_mpart01_keeps_its_binary_body_whole() {
    let Ok(Message::Request(request)) =
        parse(&fixture("3.1.1.11-mpart01"), source(), Transport::Udp)
    else {
        panic!("mpart01 parses");
    };
    assert_eq!(request.body().len(), 553);
    assert!(request.body().ends_with(b"--7a9cbec02ceef655--\r\n"));
}

/// What we do with an RFC 4475 §3.1.2 message.
#[derive(Debug)]
enum Verdict {
    /// 400 with the reason.
    Invalid,
    /// Dropped and counted.
    Unanswerable,
    /// Parsed on purpose; the string says why that is safe here.
    Accepted(&'static str),
}

#[test]
fn every_rfc_4475_invalid_message_is_refused_or_knowingly_accepted() {
    use Verdict::{Accepted, Invalid, Unanswerable};
    let expected = [
        ("3.1.2.1-badinv01", Invalid),
        ("3.1.2.2-clerr", Invalid),
        ("3.1.2.3-ncl", Invalid),
        ("3.1.2.4-scalar02", Invalid),
        ("3.1.2.5-scalarlg", Unanswerable),
        ("3.1.2.6-quotbal", Invalid),
        ("3.1.2.7-ltgtruri", Invalid),
        // §3.1.2.8-10: the request line itself is broken, so there is no
        // method or URI to answer for; dropping is what the RFC allows.
        ("3.1.2.8-lwsruri", Unanswerable),
        ("3.1.2.9-lwsstart", Unanswerable),
        ("3.1.2.10-trws", Unanswerable),
        ("3.1.2.11-escruri", Invalid),
        (
            "3.1.2.12-baddate",
            Accepted("we never read Date, so its non-GMT zone cannot mislead us"),
        ),
        (
            "3.1.2.13-regbadct",
            Accepted("REGISTER is answered 405; its Contact is never read"),
        ),
        (
            "3.1.2.14-badaspec",
            Accepted(
                "spaces inside <> around a URI are read leniently (RFC 3261 §7.3.1 robustness)",
            ),
        ),
        ("3.1.2.15-baddn", Invalid),
        (
            "3.1.2.16-badvers",
            Accepted("well formed but SIP/7.0: screening answers 505"),
        ),
        ("3.1.2.17-mismatch01", Invalid),
        ("3.1.2.18-mismatch02", Invalid),
        ("3.1.2.19-bigcode", Unanswerable),
    ];
    assert_eq!(fixtures("invalid").len(), expected.len());
    for (name, verdict) in expected {
        let outcome = parse(&fixture(name), source(), Transport::Udp);
        match (&verdict, &outcome) {
            (Invalid, Err(ParseError::Invalid { reason, .. })) => {
                assert!(!reason.is_empty(), "{name}");
            }
            (Unanswerable, Err(ParseError::Unanswerable { .. })) => {}
            (Accepted(why), Ok(Message::Request(_))) => assert!(!why.is_empty()),
            _ => panic!("{name}: expected {verdict:?}, got {outcome:?}"),
        }
    }
}

#[test]
fn rfc_4475_badvers_is_kept_for_a_505() {
    let Ok(Message::Request(request)) =
        parse(&fixture("3.1.2.16-badvers"), source(), Transport::Udp)
    else {
        panic!("badvers parses");
    };
    assert!(!request.version_supported);
}

#[test]
fn a_request_without_max_forwards_is_accepted() {
    // RFC 4475 §3.4.1 (inv2543) has none, nor a From tag or Content-Length.
    assert!(matches!(
        parse(&fixture("3.4.1-inv2543"), source(), Transport::Udp),
        Ok(Message::Request(_))
    ));
    let text = invite("").replace("Max-Forwards: 70\r\n", "");
    assert!(parse_request(&text).is_ok());
}

#[test]
fn unknown_uri_schemes_parse_for_a_416() {
    let Ok(Message::Request(request)) = parse(&fixture("3.3.3-novelsc"), source(), Transport::Udp)
    else {
        panic!("novelsc parses");
    };
    assert!(!request.uri_scheme_supported);
}

/// A small seeded generator (xorshift64*) so the mutation test is the same
/// on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the grammar, for insertions.
const INTERESTING: &[u8] = b"\r\n:;,\"<>\\/ \t\x00\xff%@=?";
const MUTATIONS_PER_FIXTURE: usize = 64;

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let at = at.min(out.len() - 1);
                out[at] ^= 1 << rng.below(8);
            }
            1 => out.truncate(at),
            2 => {
                let byte = if rng.below(2) == 0 {
                    INTERESTING[rng.below(INTERESTING.len())]
                } else {
                    rng.next() as u8
                };
                out.insert(at, byte);
            }
            3 => {
                // Duplicate one whole header line.
                let lines: Vec<&[u8]> = out.split(|b| *b == b'\n').collect();
                if lines.len() > 2 {
                    let pick = 1 + rng.below(lines.len() - 2);
                    let mut copy = lines[pick].to_vec();
                    copy.push(b'\n');
                    let offset: usize = lines[..pick].iter().map(|l| l.len() + 1).sum();
                    out.splice(offset..offset, copy);
                }
            }
            _ => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
        }
    }
    out
}

#[test]
fn mutated_torture_messages_never_panic_and_end_in_a_known_outcome() {
    let mut rng = Rng(0x5eed_4475_3261_0001);
    let all: Vec<_> = ["valid", "invalid", "uas"]
        .into_iter()
        .flat_map(fixtures)
        .collect();
    let mut outcomes = [0usize; 4];
    for (_, bytes) in &all {
        for _ in 0..MUTATIONS_PER_FIXTURE {
            let mutated = mutate(&mut rng, bytes);
            for transport in [Transport::Udp, Transport::Tcp] {
                let slot = match parse(&mutated, source(), transport) {
                    Ok(Message::Request(request)) => {
                        build_response(&request, StatusCode::OK, "h", &ResponseParts::default());
                        0
                    }
                    Ok(Message::Response(_)) => 0,
                    Err(ParseError::Invalid { reason, request }) => {
                        build_bad_request(&request, &reason, "h", "127.0.0.1");
                        1
                    }
                    Err(ParseError::Unanswerable { .. }) => 2,
                    // A datagram without the blank line: dropped like
                    // Unanswerable by the endpoint.
                    Err(ParseError::Incomplete) => 3,
                };
                outcomes[slot] += 1;
            }
            if let Ok(Frame::Message(length)) = frame(&mutated, 65535) {
                let _ = parse(&mutated[..length], source(), Transport::Tcp);
            }
        }
    }
    let total: usize = outcomes.iter().sum();
    assert_eq!(total, all.len() * MUTATIONS_PER_FIXTURE * 2);
    // The mutations reach every outcome, so the test exercises all paths.
    assert!(outcomes.iter().all(|count| *count > 0), "{outcomes:?}");
}

#[test]
fn truncated_prefixes_of_the_torture_messages_never_panic() {
    for (_, bytes) in fixtures("valid").into_iter().chain(fixtures("invalid")) {
        for end in 0..bytes.len() {
            let _ = parse(&bytes[..end], source(), Transport::Udp);
            let _ = frame(&bytes[..end], 65535);
        }
    }
}

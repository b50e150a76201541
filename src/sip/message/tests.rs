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
fn stream_framing_rejects_missing_content_length_and_oversize() {
    let without = invite("").replace("Content-Length: 4\r\n", "");
    assert!(frame(without.as_bytes(), 65535).is_err());
    assert!(frame(invite("").as_bytes(), 100).is_err());
    assert!(frame(&[b'A'; 200], 100).is_err());
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

#[test]
fn every_rfc_4475_valid_message_parses() {
    let all = fixtures("valid");
    assert!(!all.is_empty());
    for (name, bytes) in all {
        match parse(&bytes, source(), Transport::Udp) {
            Ok(Message::Request(request)) => {
                assert!(!request.call_id().is_empty(), "{name}");
            }
            Ok(Message::Response(_)) => {}
            Err(error) => panic!("{name}: {error}"),
        }
    }
}

#[test]
fn rfc_4475_wsinv_reads_through_the_whitespace() {
    let (_, bytes) = fixtures("valid")
        .into_iter()
        .find(|(n, _)| n.contains("wsinv"))
        .expect("wsinv");
    let Ok(Message::Request(request)) = parse(&bytes, source(), Transport::Udp) else {
        panic!("wsinv parses");
    };
    assert_eq!(request.to_tag(), Some("1918181833n"));
    assert_eq!(request.from_tag(), Some("98asjd8"));
    assert_eq!(request.cseq(), 9);
    assert_eq!(request.body().len(), 150);
    assert_eq!(request.vias.len(), 3);
    assert_eq!(
        request.header("NewFangledHeader"),
        Some("newfangled value continued newfangled value")
    );
}

#[test]
fn every_rfc_4475_invalid_message_is_invalid_or_unanswerable() {
    let all = fixtures("invalid");
    assert!(!all.is_empty());
    for (name, bytes) in all {
        match parse(&bytes, source(), Transport::Udp) {
            Err(ParseError::Invalid { .. } | ParseError::Unanswerable { .. }) => {}
            other => panic!("{name}: {other:?}"),
        }
    }
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

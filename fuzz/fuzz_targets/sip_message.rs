//! The SIP message parser on every datagram or stream message the endpoint
//! is handed (RFC 3261 §7; responses are parsed, then set aside), and the
//! response the endpoint builds from whatever request came out of it,
//! a 400 for an invalid one included (RFC 3261 §8.2.6).
#![no_main]

use std::net::SocketAddr;

use hotline::sip::{ParseError, StatusCode, Transport, build_response, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let source = SocketAddr::from(([192, 0, 2, 7], 5060));
    for transport in [Transport::Udp, Transport::Tcp] {
        let (request, status) = match parse_request(data, source, transport) {
            Ok(request) => (request, StatusCode::OK),
            Err(ParseError::Invalid { request, .. }) => (*request, StatusCode::BAD_REQUEST),
            Err(ParseError::Incomplete | ParseError::Unanswerable { .. }) => continue,
        };
        let _ = (
            request.method(),
            request.request_uri_user(),
            request.request_uri_host(),
            request.from_user(),
            request.from_display_name(),
            request.from_tag(),
            request.to_user(),
            request.to_tag(),
            request.p_asserted_identity_user(),
            request.call_id(),
            request.cseq(),
            request.content_type(),
            request.header("Contact"),
            request.body().len(),
        );
        let response = build_response(&request, status, "fuzz-tag", "hotline-fuzz");
        assert!(
            response.starts_with(b"SIP/2.0 "),
            "a response starts with its status line"
        );
    }
});

//! The message bodies the hotline understands, per method, and the answer
//! to one it does not (RFC 3261 §8.2.3: 415 Unsupported Media Type with
//! an Accept header listing what it takes, §21.4.13).
//!
//! The endpoint below hands every body up untouched: what a body means
//! is the TU's to judge, so the list of types is here, not in `sip`.

use crate::sip::Request;

/// Session descriptions, in INVITE and re-INVITE (RFC 3264).
pub const SDP: &str = "application/sdp";
/// Keypad digits sent in INFO (the de facto `Signal=`/`Duration=` body).
pub const DTMF_RELAY: &str = "application/dtmf-relay";
/// Every body type the hotline takes, for the Accept of OPTIONS
/// (RFC 3261 §11.2).
pub const ACCEPT: &str = "application/sdp, application/dtmf-relay";

/// Whether `request` carries a body of a type other than `accepted`
/// (one media type; parameters and case do not matter, RFC 2045 §5.1).
/// A body without Content-Type breaks RFC 3261 §20.15, but peers send
/// one: it is read as what the method expects rather than refused.
pub(crate) fn is_unsupported(request: &Request, accepted: &str) -> bool {
    if request.body().is_empty() {
        return false;
    }
    request.content_type().is_some_and(|value| {
        let media_type = value.split(';').next().unwrap_or_default().trim();
        !media_type.eq_ignore_ascii_case(accepted)
    })
}

/// The Accept header of a 415 refusing a body where `accepted` was
/// expected (RFC 3261 §21.4.13).
pub(crate) fn accept_header(accepted: &str) -> Vec<(String, String)> {
    vec![("Accept".to_owned(), accepted.to_owned())]
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::sip::{Transport, parse_request};

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let content_type = content_type
            .map(|value| format!("Content-Type: {value}\r\n"))
            .unwrap_or_default();
        let text = format!(
            "INVITE sip:4008@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKct\r\n\
             From: <sip:caller@192.0.2.10>;tag=caller\r\n\
             To: <sip:4008@127.0.0.1>\r\n\
             Call-ID: content-test\r\n\
             CSeq: 1 INVITE\r\n\
             {content_type}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let source: SocketAddr = "192.0.2.10:5060".parse().expect("address");
        parse_request(text.as_bytes(), source, Transport::Udp).expect("test request parses")
    }

    #[test]
    fn a_body_of_another_type_is_unsupported() {
        assert!(is_unsupported(&request(Some("text/plain"), "hello"), SDP));
        assert!(is_unsupported(
            &request(Some("application/unknownformat"), "<audio/>"),
            SDP
        ));
    }

    #[test]
    fn the_accepted_type_matches_whatever_its_case_and_parameters() {
        assert!(!is_unsupported(
            &request(Some("application/sdp"), "v=0"),
            SDP
        ));
        assert!(!is_unsupported(
            &request(Some("Application/SDP ; charset=utf-8"), "v=0"),
            SDP
        ));
    }

    #[test]
    fn no_body_or_no_content_type_is_not_refused() {
        assert!(!is_unsupported(&request(Some("text/plain"), ""), SDP));
        assert!(!is_unsupported(&request(None, "v=0"), SDP));
    }
}

//! Screening of a new request before any transaction or TU sees it: the
//! refusals the endpoint gives on its own, in the order of RFC 3261 §8.2
//! (version, method §8.2.1, then headers §8.2.2). Max-Forwards is not
//! looked at: §8.2 has no such check for a UAS, and 483 (§16.3 step 2) is
//! what a proxy answers; we are the request's destination, never a proxy. Sans-IO: a request
//! in, maybe a status and its extra headers out. Knows no socket, no
//! transaction and no dialog.

use super::super::StatusCode;
use super::super::message::{ALLOW, Method, Request};

/// Option tags we support (RFC 3261 §19.2); none for now.
const SUPPORTED_EXTENSIONS: &[&str] = &[];

/// A status the endpoint answers a new request with, and its extra headers.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) status: StatusCode,
    pub(super) headers: Vec<(String, String)>,
}

impl Refusal {
    fn bare(status: StatusCode) -> Refusal {
        Refusal {
            status,
            headers: Vec::new(),
        }
    }
}

/// What the endpoint answers `request` (not an ACK or CANCEL, not part of
/// a known transaction) on its own, or `None` to carry on.
pub(super) fn screen(request: &Request) -> Option<Refusal> {
    // RFC 3261 §21.5.7 (and RFC 4475 §3.1.2.16).
    if !request.version_supported {
        return Some(Refusal::bare(StatusCode::VERSION_NOT_SUPPORTED));
    }
    let allow = || vec![("Allow".to_owned(), ALLOW.to_owned())];
    // RFC 3261 §8.2.1.
    if matches!(request.method, Method::Extension(_)) {
        return Some(Refusal {
            status: StatusCode::NOT_IMPLEMENTED,
            headers: allow(),
        });
    }
    if request.method.is_known_unsupported() {
        return Some(Refusal {
            status: StatusCode::METHOD_NOT_ALLOWED,
            headers: allow(),
        });
    }
    // RFC 3261 §8.2.2.1 (and RFC 4475 §3.3.2, §3.3.3).
    if !request.uri_scheme_supported {
        return Some(Refusal::bare(StatusCode::UNSUPPORTED_URI_SCHEME));
    }
    // RFC 3261 §8.2.2.3 (and RFC 4475 §3.3.5).
    let unsupported: Vec<String> = request
        .required_extensions()
        .into_iter()
        .filter(|tag| !SUPPORTED_EXTENSIONS.contains(&tag.as_str()))
        .collect();
    if !unsupported.is_empty() {
        return Some(Refusal {
            status: StatusCode::BAD_EXTENSION,
            headers: vec![("Unsupported".to_owned(), unsupported.join(", "))],
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::super::Transport;
    use super::super::super::message::{Message, ParseError, parse};
    use super::*;

    fn fixture(path: &str) -> Vec<u8> {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sip")
            .join(format!("{path}.sip"));
        std::fs::read(&file).expect("fixture")
    }

    fn screened(path: &str) -> Option<StatusCode> {
        let source = "192.0.2.10:5060".parse().expect("address");
        match parse(&fixture(path), source, Transport::Udp) {
            Ok(Message::Request(request)) => screen(&request).map(|refusal| refusal.status),
            other => panic!("{path}: expected a request, got {other:?}"),
        }
    }

    #[test]
    fn rfc_4475_uas_cases_get_the_status_the_rfc_asks_for() {
        let expected = [
            // §3.2.1: a bare magic cookie is still a branch; OPTIONS goes on.
            ("uas/3.2.1-badbranch", None),
            ("uas/3.3.2-unkscm", Some(StatusCode::UNSUPPORTED_URI_SCHEME)),
            (
                "uas/3.3.3-novelsc",
                Some(StatusCode::UNSUPPORTED_URI_SCHEME),
            ),
            // §3.3.4: a REGISTER whose To is no SIP URI: its Request-URI
            // is ours, so it reaches the registrar, which answers 416
            // (RFC 3261 §10.3 step 4: the address of record is read from To).
            ("uas/3.3.4-unksm2", None),
            ("uas/3.3.5-bext01", Some(StatusCode::BAD_EXTENSION)),
            // §3.3.6 and §3.3.15 (415, 406) are the TU's to judge: the body
            // and Accept reach it with the INVITE (the TU knows which body
            // types it takes, and answers 415 with Accept, RFC 3261 §8.2.3).
            ("uas/3.3.6-invut", None),
            // §3.3.7, §3.3.12–14: REGISTERs the registrar judges (credentials
            // for another realm, contact parameters, escaped contacts).
            ("uas/3.3.7-regaut01", None),
            // §3.3.11: an OPTIONS with Max-Forwards 0. A proxy answers 483
            // (RFC 3261 §16.3); "an endpoint should process the request as
            // if the Max-Forwards field value were still positive", and
            // RFC 3261 §8.2 has a UAS check no Max-Forwards.
            ("uas/3.3.11-zeromf", None),
            ("uas/3.3.12-cparam01", None),
            ("uas/3.3.13-cparam02", None),
            ("uas/3.3.14-regescrt", None),
            ("uas/3.3.15-sdp01", None),
            // §3.4.1: no Max-Forwards, no From tag, no branch: still a call.
            ("uas/3.4.1-inv2543", None),
            (
                "invalid/3.1.2.16-badvers",
                Some(StatusCode::VERSION_NOT_SUPPORTED),
            ),
            ("valid/3.1.1.2-intmeth", Some(StatusCode::NOT_IMPLEMENTED)),
            ("valid/3.1.1.5-esc02", Some(StatusCode::NOT_IMPLEMENTED)),
            ("valid/3.1.1.1-wsinv", None),
        ];
        for (path, status) in expected {
            assert_eq!(screened(path), status, "{path}");
        }
    }

    #[test]
    fn rfc_4475_uas_cases_the_parser_refuses_are_invalid_or_dropped() {
        let source = "192.0.2.10:5060".parse().expect("address");
        // §3.3.8 and §3.3.9: duplicate single headers, clashing lengths.
        for path in ["uas/3.3.8-multi01", "uas/3.3.9-mcl01"] {
            assert!(
                matches!(
                    parse(&fixture(path), source, Transport::Udp),
                    Err(ParseError::Invalid { .. })
                ),
                "{path}"
            );
        }
        // §3.3.1 asks for 400, but without Call-ID no well-formed response
        // (RFC 3261 §8.2.6.2 copies it) can be built: dropped and counted.
        assert!(matches!(
            parse(&fixture("uas/3.3.1-insuf"), source, Transport::Udp),
            Err(ParseError::Unanswerable { .. })
        ));
    }
}

//! The SDP parser on an offer or answer body (RFC 4566), then what the
//! endpoint does with a parsed one: negotiate (RFC 3264 §6), read it as an
//! answer, and build our answer, which our own parser must read back.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use hotline::sip::sdp::{AudioCodec, Sdp, accept_answer, build_answer, negotiate};
use libfuzzer_sys::fuzz_target;

const LOCAL_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const LOCAL_PORT: u16 = 40_000;

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = Sdp::parse(data) else {
        return;
    };
    for media in &offer.media {
        let _ = (
            offer.rtp_address(media),
            offer.direction_of(media),
            media.is_rejected(),
            media.telephone_event_payload_type(),
            media.payload_types().count(),
        );
    }
    let _ = accept_answer(&offer);
    let Ok(negotiated) = negotiate(&offer, &[AudioCodec::Pcmu, AudioCodec::Pcma]) else {
        return;
    };
    let answer = build_answer(&offer, 1, 1, LOCAL_IP, LOCAL_PORT, &negotiated);
    let reread = Sdp::parse(&answer);
    assert!(
        reread.is_ok(),
        "our answer {:?} does not parse: {reread:?}",
        String::from_utf8_lossy(&answer)
    );
});

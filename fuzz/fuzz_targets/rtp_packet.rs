//! The RTP packet parser on one received datagram (RFC 3550 §5.1: CSRCs,
//! header extension and padding all inside it).
#![no_main]

use hotline::media::{RTP_HEADER_LEN, RtpPacket};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = RtpPacket::parse(data) {
        assert!(
            packet.payload.len() + RTP_HEADER_LEN <= data.len(),
            "the payload lies inside the datagram"
        );
    }
});

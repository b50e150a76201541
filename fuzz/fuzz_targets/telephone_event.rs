//! RFC 4733 telephone-event on a stream of RTP datagrams as the media
//! session receives them: each is parsed as RTP (RFC 3550 §5.1), its payload
//! as a telephone event (§2.3), and all of them go through one digit
//! receiver, whose state carries from packet to packet (§2.5.1).
//!
//! The input is a sequence of datagrams, each preceded by one length byte.
#![no_main]

use hotline::media::{DtmfReceiver, RtpPacket, TelephoneEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut receiver = DtmfReceiver::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (datagram, next) = tail.split_at(usize::from(len).min(tail.len()));
        rest = next;
        let Ok(packet) = RtpPacket::parse(datagram) else {
            continue;
        };
        if let Ok(event) = TelephoneEvent::parse(packet.payload) {
            let _ = event.digit();
        }
        if let Some(digit) = receiver.receive(packet.ssrc, packet.timestamp, packet.payload) {
            assert!("0123456789*#ABCD".contains(digit.as_char()), "{digit}");
        }
    }
});

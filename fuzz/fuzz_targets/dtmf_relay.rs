//! The `application/dtmf-relay` body of a SIP INFO (`Signal=5`), as text
//! the way the endpoint hands it over (lossy UTF-8).
#![no_main]

use hotline::media::parse_dtmf_relay;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    if let Some(digit) = parse_dtmf_relay(&body) {
        assert!("0123456789*#ABCD".contains(digit.as_char()), "{digit}");
    }
});

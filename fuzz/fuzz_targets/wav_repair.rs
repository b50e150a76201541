//! WAV repair (RIFF/WAVE) on whatever a crash or a stranger left in the
//! recordings folder. A repaired file must need no second repair, and an
//! intact one is left as it was.
#![no_main]

use hotline::recording::repair;
use hotline_fuzz::scratch_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("wav", data);
    let Ok(first) = repair(&path) else {
        return;
    };
    let after = std::fs::read(&path).expect("the scratch file is readable");
    if !first.was_damaged {
        assert_eq!(after, data, "an intact file is not written to");
    }
    let second = repair(&path).expect("a repaired file is still a WAV");
    assert!(
        !second.was_damaged,
        "a repaired file needs no second repair"
    );
    assert_eq!(second.duration, first.duration);
    assert_eq!(second.sha256, first.sha256);
});

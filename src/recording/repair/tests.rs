//! Tests of `repair`.

use super::*;
use crate::recording::WavRecorder;
use sha2::{Digest, Sha256};

/// Bytes of one stereo sample frame.
const FRAME_BYTES: usize = 4;

fn ramp(frames: usize, offset: usize) -> Vec<i16> {
    (offset..offset + frames)
        .flat_map(|i| [i as i16, -(i as i16) - 1])
        .collect()
}

fn le_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// A finished recording of `frames` sample frames.
fn finished(dir: &Path, name: &str, frames: usize) -> PathBuf {
    let path = dir.join(name);
    let mut recorder = WavRecorder::create(&path).expect("create");
    recorder.append(&ramp(frames, 0)).expect("append");
    recorder.finish().expect("finish");
    path
}

fn read_back(path: &Path) -> (hound::WavSpec, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).expect("hound opens the repaired file");
    let samples = reader
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    (reader.spec(), samples)
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append");
    file.write_all(bytes).expect("append");
}

#[test]
fn samples_written_after_the_last_sync_are_counted_and_a_partial_frame_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.wav");
    let mut recorder = WavRecorder::create(&path).expect("create");
    recorder.append(&ramp(100, 0)).expect("append");
    recorder.sync_header().expect("sync");
    // The process dies: the header still says 100 frames, but 50 more and
    // half a frame reached the file.
    std::mem::forget(recorder);
    let mut tail = le_bytes(&ramp(50, 100));
    tail.extend_from_slice(&[0xAA, 0xBB, 0xCC]);
    append_bytes(&path, &tail);

    let report = repair(&path).expect("repair");

    assert!(report.was_damaged);
    assert_eq!(report.duration, duration_of(150, 8000));
    let (spec, samples) = read_back(&path);
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    assert_eq!(samples, ramp(150, 0));
    let bytes = fs::read(&path).expect("read");
    assert_eq!(bytes.len(), CANONICAL_HEADER_LEN + 150 * FRAME_BYTES);
    assert_eq!(bytes[..CANONICAL_HEADER_LEN], canonical_header(600));
    assert_eq!(report.sha256, hex::encode(Sha256::digest(&bytes)));
}

#[test]
fn a_crash_before_the_first_sync_is_repaired_from_zero_sizes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("early.wav");
    let mut bytes = canonical_header(0).to_vec();
    bytes[RIFF_SIZE_OFFSET..RIFF_SIZE_OFFSET + 4].copy_from_slice(&0u32.to_le_bytes());
    bytes.extend(le_bytes(&ramp(10, 0)));
    fs::write(&path, &bytes).expect("write");

    let report = repair(&path).expect("repair");

    assert!(report.was_damaged);
    assert_eq!(read_back(&path).1, ramp(10, 0));
}

#[test]
fn a_file_cut_mid_sample_keeps_its_whole_frames() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = finished(dir.path(), "cut.wav", 100);
    let file = OpenOptions::new().write(true).open(&path).expect("open");
    file.set_len((CANONICAL_HEADER_LEN + 60 * FRAME_BYTES + 3) as u64)
        .expect("truncate");
    drop(file);

    let report = repair(&path).expect("repair");

    assert!(report.was_damaged);
    assert_eq!(report.duration, duration_of(60, 8000));
    assert_eq!(read_back(&path).1, ramp(60, 0));
}

#[test]
fn an_intact_recording_is_reported_undamaged_and_left_byte_identical() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = finished(dir.path(), "fine.wav", 8000);
    let before = fs::read(&path).expect("read");
    let modified = fs::metadata(&path)
        .expect("metadata")
        .modified()
        .expect("mtime");

    let report = repair(&path).expect("repair");

    assert!(!report.was_damaged);
    assert_eq!(report.duration, Duration::from_secs(1));
    assert_eq!(report.sha256, hex::encode(Sha256::digest(&before)));
    assert_eq!(fs::read(&path).expect("read again"), before);
    assert_eq!(
        fs::metadata(&path)
            .expect("metadata")
            .modified()
            .expect("mtime"),
        modified
    );
}

#[test]
fn a_chunk_after_the_data_is_not_mistaken_for_samples() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = finished(dir.path(), "tagged.wav", 10);
    // An editor appended a LIST chunk of odd size, pad byte included.
    let list = b"LIST\x05\x00\x00\x00INFO!\x00";
    append_bytes(&path, list);
    let mut bytes = fs::read(&path).expect("read");
    let riff = (bytes.len() - 8) as u32;
    bytes[RIFF_SIZE_OFFSET..RIFF_SIZE_OFFSET + 4].copy_from_slice(&riff.to_le_bytes());
    fs::write(&path, &bytes).expect("write");

    let report = repair(&path).expect("repair");

    assert!(!report.was_damaged);
    assert_eq!(fs::read(&path).expect("read again"), bytes);
}

#[test]
fn a_wrong_riff_size_alone_is_fixed_without_touching_the_samples() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = finished(dir.path(), "riff.wav", 10);
    let mut bytes = fs::read(&path).expect("read");
    bytes[RIFF_SIZE_OFFSET..RIFF_SIZE_OFFSET + 4].copy_from_slice(&7u32.to_le_bytes());
    fs::write(&path, &bytes).expect("write");

    let report = repair(&path).expect("repair");

    assert!(report.was_damaged);
    let repaired = fs::read(&path).expect("read again");
    assert_eq!(repaired[..CANONICAL_HEADER_LEN], canonical_header(40));
    assert_eq!(
        repaired[CANONICAL_HEADER_LEN..],
        bytes[CANONICAL_HEADER_LEN..]
    );
}

#[test]
fn a_file_shorter_than_a_header_becomes_an_empty_recording() {
    let dir = tempfile::tempdir().expect("temp dir");
    for len in [0, 3, 20, CANONICAL_HEADER_LEN - 1] {
        let path = dir.path().join(format!("short-{len}.wav"));
        fs::write(&path, &canonical_header(0)[..len]).expect("write");

        let report = repair(&path).expect("repair");

        assert!(report.was_damaged, "length {len}");
        assert_eq!(report.duration, Duration::ZERO);
        assert_eq!(fs::read(&path).expect("read"), canonical_header(0));
        let (spec, samples) = read_back(&path);
        assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
        assert!(samples.is_empty());
    }
}

#[test]
fn garbage_is_not_a_wav_and_is_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let long_garbage: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut no_data = canonical_header(0)[..36].to_vec();
    no_data.extend_from_slice(b"junk\x04\x00\x00\x00abcd");
    let mut zero_align = canonical_header(0).to_vec();
    zero_align[32..34].copy_from_slice(&0u16.to_le_bytes());
    let mut bad_chunk_id = canonical_header(0)[..12].to_vec();
    bad_chunk_id.extend_from_slice(&[0xff; 40]);
    let cases: [(&str, &[u8]); 6] = [
        ("hello", b"hello"),
        ("short-riff-but-not-wave", b"RIFF\x00\x00\x00\x00AVI "),
        ("long", &long_garbage),
        ("no-data-chunk", &no_data),
        ("zero-block-align", &zero_align),
        ("bad-chunk-id", &bad_chunk_id),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        fs::write(&path, bytes).expect("write");

        let error = repair(&path).expect_err(name);

        assert!(
            matches!(error, RecordingError::NotWav { .. }),
            "{name}: {error}"
        );
        assert_eq!(fs::read(&path).expect("read"), bytes, "{name} untouched");
    }
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("missing.wav");
    let error = repair(&path).expect_err("missing");
    assert!(matches!(&error, RecordingError::Io { path: p, .. } if *p == path));
}

#[test]
fn mangled_headers_never_panic_and_what_repairs_plays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut original = canonical_header(400).to_vec();
    original.extend(le_bytes(&ramp(100, 0)));
    // A fixed linear congruential sequence: reproducible "random" damage.
    let mut state: u32 = 0x2545_f491;
    let mut next = move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        state
    };
    let mut repaired = 0;
    let mut refused = 0;
    for round in 0..300 {
        let mut bytes = original.clone();
        for _ in 0..(next() % 4 + 1) {
            let at = next() as usize % CANONICAL_HEADER_LEN;
            bytes[at] = next() as u8;
        }
        bytes.truncate(next() as usize % original.len() + 1);
        let path = dir.path().join(format!("mangled-{round}.wav"));
        fs::write(&path, &bytes).expect("write");

        let Ok(_) = repair(&path) else {
            refused += 1;
            continue;
        };
        repaired += 1;
        let mut reader = hound::WavReader::open(&path)
            .unwrap_or_else(|error| panic!("round {round}: repaired file does not open: {error}"));
        let len = fs::metadata(&path).expect("metadata").len();
        let counted = u64::from(reader.len()) * u64::from(reader.spec().bits_per_sample / 8);
        assert!(counted <= len, "round {round}");
        assert!(reader.samples::<i16>().all(|s| s.is_ok()), "round {round}");
    }
    assert!(
        repaired > 50 && refused > 50,
        "repaired {repaired}, refused {refused}"
    );
}

#[test]
fn repair_all_checks_every_recording_under_the_root() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fine = finished(dir.path(), "a/fine.wav", 10);
    let broken = dir.path().join("a/b/broken.WAV");
    fs::create_dir_all(broken.parent().expect("parent")).expect("mkdir");
    fs::write(&broken, &canonical_header(0)[..10]).expect("write");
    let garbage = dir.path().join("garbage.wav");
    fs::write(&garbage, b"not audio").expect("write");
    fs::write(dir.path().join("notes.txt"), b"ignored").expect("write");

    let outcomes = repair_all(dir.path()).expect("walk");

    let seen: Vec<(&Path, Option<bool>)> = outcomes
        .iter()
        .map(|o| {
            (
                o.path.as_path(),
                o.result.as_ref().ok().map(|r| r.was_damaged),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (broken.as_path(), Some(true)),
            (fine.as_path(), Some(false)),
            (garbage.as_path(), None),
        ]
    );
}

#[test]
fn repair_all_of_a_missing_root_finds_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outcomes = repair_all(&dir.path().join("never-created")).expect("walk");
    assert!(outcomes.is_empty());
}

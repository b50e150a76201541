//! Tests of `writer`.

use super::*;
use sha2::{Digest, Sha256};

/// A wait that only guards against a hung writer; it never paces a test.
const WRITER_GUARD: Duration = Duration::from_secs(30);

fn config(root: &Path, header_sync: Duration, writer_threads: usize) -> RecordingConfig {
    RecordingConfig {
        root: root.to_path_buf(),
        header_sync,
        writer_threads,
    }
}

/// Frame `n` of a test call: left and right carry `n` and its negation,
/// plus the sample index, so order and channels can both be checked.
fn frames(n: usize) -> (Frame, Frame) {
    let mut left = [0i16; SAMPLES_PER_FRAME];
    let mut right = [0i16; SAMPLES_PER_FRAME];
    for i in 0..SAMPLES_PER_FRAME {
        left[i] = (n * 1000 + i) as i16;
        right[i] = -((n * 1000 + i) as i16);
    }
    (left, right)
}

fn expected_samples(count: usize) -> Vec<i16> {
    expected_range(0..count)
}

fn expected_range(frame_numbers: std::ops::Range<usize>) -> Vec<i16> {
    frame_numbers
        .flat_map(|n| {
            let (left, right) = frames(n);
            left.into_iter()
                .zip(right)
                .flat_map(|(l, r)| [l, r])
                .collect::<Vec<_>>()
        })
        .collect()
}

fn read_samples(path: &Path) -> Vec<i16> {
    let mut reader = hound::WavReader::open(path).expect("hound opens the recording");
    assert_eq!(reader.spec().channels, 2);
    assert_eq!(reader.spec().sample_rate, 8000);
    reader
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect()
}

#[tokio::test]
async fn frames_pushed_through_call_recorders_end_up_in_their_files_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = RecordingService::start(&config(dir.path(), Duration::from_secs(2), 2));
    let mut first = service
        .open(PathBuf::from("day/one.wav"))
        .expect("open one");
    let mut second = service
        .open(PathBuf::from("day/two.wav"))
        .expect("open two");
    for n in 0..60 {
        let (left, right) = frames(n);
        first.push_frame(&left, &right);
        if n < 37 {
            second.push_frame(&left, &right);
        }
    }
    let one = first.finish().await.expect("finish one");
    let two = second.finish().await.expect("finish two");
    service.shutdown();

    assert_eq!(one.path, dir.path().join("day/one.wav"));
    assert_eq!(one.frames, 60 * SAMPLES_PER_FRAME as u64);
    assert_eq!(one.duration, Duration::from_millis(1200));
    assert_eq!(read_samples(&one.path), expected_samples(60));
    let bytes = std::fs::read(&one.path).expect("read one");
    assert_eq!(one.sha256, hex::encode(Sha256::digest(&bytes)));

    assert_eq!(two.frames, 37 * SAMPLES_PER_FRAME as u64);
    assert_eq!(read_samples(&two.path), expected_samples(37));
    let bytes = std::fs::read(&two.path).expect("read two");
    assert_eq!(two.sha256, hex::encode(Sha256::digest(&bytes)));
}

#[test]
fn the_header_is_brought_up_to_date_while_the_call_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = RecordingService::start(&config(dir.path(), Duration::ZERO, 1));
    let mut recorder = service.open(PathBuf::from("live.wav")).expect("open");
    for n in 0..FRAMES_PER_BLOCK {
        let (left, right) = frames(n);
        recorder.push_frame(&left, &right);
    }
    // The writer gives the block back only after appending and syncing it.
    let spare = recorder
        .spares
        .recv_timeout(WRITER_GUARD)
        .expect("block comes back");
    assert!(spare.is_empty());
    assert!(spare.capacity() >= BLOCK_SAMPLES);

    assert_eq!(
        read_samples(recorder.path()),
        expected_samples(FRAMES_PER_BLOCK)
    );
    drop(recorder);
    service.shutdown();
}

#[test]
fn a_dropped_recorder_still_leaves_a_finished_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = RecordingService::start(&config(dir.path(), Duration::from_secs(2), 1));
    let mut recorder = service.open(PathBuf::from("dropped.wav")).expect("open");
    let path = recorder.path().to_path_buf();
    for n in 0..30 {
        let (left, right) = frames(n);
        recorder.push_frame(&left, &right);
    }
    drop(recorder);
    service.shutdown();

    assert_eq!(read_samples(&path), expected_samples(30));
    let report = repair(&path).expect("repair check");
    assert!(
        !report.was_damaged,
        "a dropped recording has a correct header"
    );
}

#[tokio::test]
async fn shutdown_finishes_open_recordings_and_later_use_is_harmless() {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = RecordingService::start(&config(dir.path(), Duration::from_secs(2), 1));
    let mut recorder = service.open(PathBuf::from("open.wav")).expect("open");
    for n in 0..30 {
        let (left, right) = frames(n);
        recorder.push_frame(&left, &right);
    }
    service.shutdown();

    // Only the full block reached the writer; the partial one never will.
    assert_eq!(
        read_samples(recorder.path()),
        expected_samples(FRAMES_PER_BLOCK)
    );
    for n in 0..(2 * FRAMES_PER_BLOCK) {
        let (left, right) = frames(n);
        recorder.push_frame(&left, &right);
    }
    let error = recorder.finish().await.expect_err("writer is gone");
    assert!(matches!(error, RecordingError::WriterGone { .. }));
}

#[test]
fn an_existing_recording_is_not_opened_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = RecordingService::start(&config(dir.path(), Duration::from_secs(2), 1));
    let recorder = service.open(PathBuf::from("same.wav")).expect("first open");
    let error = service
        .open(PathBuf::from("same.wav"))
        .expect_err("second open refused");
    assert!(matches!(error, RecordingError::Create { .. }));
    drop(recorder);
    service.shutdown();
}

#[tokio::test]
async fn files_opened_on_the_creator_thread_are_recorded_like_the_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = RecordingService::start(&config(dir.path(), Duration::from_secs(2), 2));
    // The first one into a directory that does not exist yet.
    let mut recorders = Vec::new();
    for i in 0..20 {
        let path = PathBuf::from(format!("JF/2026/11/23/{i}.wav"));
        recorders.push(service.open_async(path).await.expect("open_async"));
    }
    for (i, recorder) in recorders.iter_mut().enumerate() {
        for n in 0..i {
            let (left, right) = frames(n);
            recorder.push_frame(&left, &right);
        }
    }
    for (i, recorder) in recorders.into_iter().enumerate() {
        let summary = recorder.finish().await.expect("finish");
        assert_eq!(
            summary.path,
            dir.path().join(format!("JF/2026/11/23/{i}.wav"))
        );
        assert_eq!(read_samples(&summary.path), expected_samples(i));
    }
    let error = service
        .open_async(PathBuf::from("JF/2026/11/23/3.wav"))
        .await
        .expect_err("an existing recording is refused");
    assert!(matches!(error, RecordingError::Create { .. }));
    service.shutdown();
}

#[test]
fn an_absolute_path_is_used_as_given() {
    let dir = tempfile::tempdir().expect("temp dir");
    let elsewhere = tempfile::tempdir().expect("second temp dir");
    let service = RecordingService::start(&config(dir.path(), Duration::from_secs(2), 0));
    let path = elsewhere.path().join("abs.wav");
    let recorder = service.open(path.clone()).expect("open");
    assert_eq!(recorder.path(), path);
    drop(recorder);
    service.shutdown();
    assert!(hound::WavReader::open(&path).is_ok());
}

#[test]
fn a_header_sync_is_due_only_after_new_samples_and_the_interval() {
    let start = Instant::now();
    let mut sync = HeaderSync::new(Duration::from_secs(2), start);
    assert!(
        !sync.is_due(start + Duration::from_secs(5)),
        "nothing new to sync"
    );
    assert_eq!(sync.due_in(start), None);

    sync.appended();
    assert!(!sync.is_due(start + Duration::from_millis(1999)));
    assert!(sync.is_due(start + Duration::from_secs(2)));
    assert_eq!(
        sync.due_in(start + Duration::from_millis(500)),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        sync.due_in(start + Duration::from_secs(3)),
        Some(Duration::ZERO)
    );

    sync.synced(start + Duration::from_secs(3));
    assert!(!sync.is_due(start + Duration::from_secs(10)));
    sync.appended();
    assert!(!sync.is_due(start + Duration::from_millis(4999)));
    assert!(sync.is_due(start + Duration::from_secs(5)));
}

#[test]
fn a_full_writer_queue_holds_samples_back_without_losing_them() {
    let (commands, inbox) = mpsc::sync_channel(1);
    let (_give_back, spares) = mpsc::sync_channel(SPARE_BLOCKS);
    let mut recorder = CallRecorder {
        id: 7,
        path: PathBuf::from("held.wav"),
        commands,
        block: Vec::with_capacity(BLOCK_SAMPLES),
        spares,
        held_back: false,
        writer_gone: false,
        finished: false,
    };
    let push = |recorder: &mut CallRecorder, numbers: std::ops::Range<usize>| {
        for n in numbers {
            let (left, right) = frames(n);
            recorder.push_frame(&left, &right);
        }
    };

    push(&mut recorder, 0..FRAMES_PER_BLOCK);
    // The queue (one slot) is now full: the next block stays and grows.
    push(&mut recorder, FRAMES_PER_BLOCK..55);
    assert!(recorder.held_back);
    assert_eq!(recorder.block, expected_range(FRAMES_PER_BLOCK..55));

    let Ok(Command::Block { id: 7, samples }) = inbox.try_recv() else {
        panic!("the first block is queued");
    };
    assert_eq!(samples, expected_samples(FRAMES_PER_BLOCK));
    push(&mut recorder, 55..56);
    let Ok(Command::Block { id: 7, samples }) = inbox.try_recv() else {
        panic!("the held-back block goes as soon as there is room");
    };
    assert_eq!(samples, expected_range(FRAMES_PER_BLOCK..56));
    assert!(!recorder.held_back);
    assert!(recorder.block.is_empty());
    assert!(recorder.block.capacity() >= BLOCK_SAMPLES);

    drop(recorder);
    let Ok(Command::Finish {
        id: 7,
        samples,
        reply: None,
    }) = inbox.try_recv()
    else {
        panic!("dropping the recorder finishes the file");
    };
    assert!(samples.is_empty());
}

/// A file as a writer thread holds it, with `frames_written` frames of
/// the test call appended.
fn open_file(path: &Path, frames_written: usize) -> OpenFile {
    let (spares, _) = mpsc::sync_channel(SPARE_BLOCKS);
    let mut file = OpenFile {
        recorder: Box::new(WavRecorder::create(path).expect("create")),
        spares,
        header: HeaderSync::new(Duration::from_secs(2), Instant::now()),
        failure: None,
    };
    file.append(&expected_samples(frames_written));
    file
}

#[test]
fn recordings_finished_in_one_batch_are_closed_hashed_and_answered_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut finishing = Vec::new();
    let mut summaries = Vec::new();
    for (n, frames_written) in [3, 0, 7, 1].into_iter().enumerate() {
        let path = dir.path().join(format!("{n}.wav"));
        let (reply, summary) = oneshot::channel();
        finishing.push((open_file(&path, frames_written), Some(reply)));
        summaries.push((path, frames_written, summary));
    }
    // One that failed earlier: repaired, and its failure reported.
    let broken_path = dir.path().join("broken.wav");
    let mut broken = open_file(&broken_path, 2);
    broken.failure = Some(RecordingError::TooLong {
        path: broken_path.clone(),
    });
    let (reply, mut broken_summary) = oneshot::channel();
    finishing.push((broken, Some(reply)));

    finish_together(&mut finishing);

    assert!(finishing.is_empty());
    for (path, frames_written, mut summary) in summaries {
        let summary = summary.try_recv().expect("answered").expect("finished");
        assert_eq!(summary.path, path);
        assert_eq!(summary.frames, (frames_written * SAMPLES_PER_FRAME) as u64);
        assert_eq!(read_samples(&path), expected_samples(frames_written));
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(summary.sha256, hex::encode(Sha256::digest(&bytes)));
    }
    assert!(matches!(
        broken_summary.try_recv().expect("answered"),
        Err(RecordingError::TooLong { .. })
    ));
    assert!(!repair(&broken_path).expect("check").was_damaged);
}

#[cfg(target_os = "linux")]
#[test]
fn a_filesystem_is_synced_once_for_a_batch_and_a_lone_file_on_its_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let closed = |name: &str| open_file(&dir.path().join(name), 1).close().expect("close");
    let (one, two) = (closed("one.wav"), closed("two.wav"));
    let device = device_of(&one).expect("fstat");
    assert_eq!(device_of(&two), Some(device));
    assert_eq!(
        sync_filesystems([(device, &one), (device, &two)].into_iter()),
        vec![device]
    );
    assert!(
        sync_filesystems([(device, &one)].into_iter()).is_empty(),
        "a lone file is fsynced by itself"
    );
}

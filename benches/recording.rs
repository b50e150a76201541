//! Recording hot paths: WAV write throughput of 20 ms stereo frames, and the
//! cost of `push_frame` on the packet path. Each bench writes one-minute
//! files and deletes them, so the disk holds one at a time, and lets the
//! writer thread catch up between files (outside the timed part) so the
//! steady state is measured rather than a growing backlog.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hotline::media::{Frame, SAMPLES_PER_FRAME, StereoSink};
use hotline::recording::{RecordingConfig, RecordingService, WavRecorder};

/// Bytes of one 20 ms stereo 16-bit frame.
const FRAME_BYTES: u64 = (SAMPLES_PER_FRAME * 2 * 2) as u64;
/// Frames per file: one minute of 20 ms frames.
const FRAMES_PER_FILE: u64 = 3000;
/// Frames between header syncs in the WAV bench: the default 2 s.
const FRAMES_PER_SYNC: u64 = 100;

fn test_frames() -> (Frame, Frame) {
    let mut left = [0i16; SAMPLES_PER_FRAME];
    let mut right = [0i16; SAMPLES_PER_FRAME];
    for i in 0..SAMPLES_PER_FRAME {
        left[i] = (i as i16).wrapping_mul(97);
        right[i] = (i as i16).wrapping_mul(-61);
    }
    (left, right)
}

/// Appends `iters` frames through `WavRecorder`, syncing the header every
/// 2 s of audio as the writer thread does; returns the time spent writing.
fn wav_frames(dir: &Path, interleaved: &[i16], iters: u64) -> Duration {
    let mut spent = Duration::ZERO;
    let mut left = iters;
    let mut file_no = 0u32;
    while left > 0 {
        let path = dir.join(format!("wav-{file_no}.wav"));
        file_no += 1;
        let mut recorder = WavRecorder::create(&path).expect("create");
        let frames = left.min(FRAMES_PER_FILE);
        let start = Instant::now();
        for frame in 1..=frames {
            recorder.append(black_box(interleaved)).expect("append");
            if frame % FRAMES_PER_SYNC == 0 {
                recorder.sync_header().expect("sync");
            }
        }
        spent += start.elapsed();
        left -= frames;
        recorder.finish().expect("finish");
        std::fs::remove_file(&path).expect("remove");
    }
    spent
}

fn wav_write(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (left, right) = test_frames();
    let interleaved: Vec<i16> = left
        .iter()
        .zip(&right)
        .flat_map(|(&l, &r)| [l, r])
        .collect();
    let mut group = c.benchmark_group("recording");
    group.throughput(Throughput::Bytes(FRAME_BYTES));
    group.bench_function("wav_append_20ms_stereo_frame", |b| {
        b.iter_custom(|iters| wav_frames(dir.path(), &interleaved, iters))
    });
    group.finish();
}

fn push_frame(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = RecordingConfig {
        root: dir.path().to_path_buf(),
        header_sync: Duration::from_secs(2),
        writer_threads: 1,
    };
    let service = RecordingService::start(&config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (left, right) = test_frames();
    let mut group = c.benchmark_group("recording");
    group.throughput(Throughput::Bytes(FRAME_BYTES));
    let mut file_no = 0u32;
    group.bench_function("call_recorder_push_frame", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left_to_push = iters;
            while left_to_push > 0 {
                let name = PathBuf::from(format!("push-{file_no}.wav"));
                file_no += 1;
                let mut recorder = service.open(name).expect("open");
                let frames = left_to_push.min(FRAMES_PER_FILE);
                let start = Instant::now();
                for _ in 0..frames {
                    recorder.push_frame(black_box(&left), black_box(&right));
                }
                spent += start.elapsed();
                left_to_push -= frames;
                // Waiting for the summary lets the writer catch up.
                let summary = runtime.block_on(recorder.finish()).expect("finish");
                std::fs::remove_file(&summary.path).expect("remove");
            }
            spent
        })
    });
    group.finish();
    service.shutdown();
}

criterion_group!(benches, wav_write, push_frame);
criterion_main!(benches);

//! One stereo WAV file being written: 8 kHz, 16-bit PCM, the canonical 44-byte
//! header, kept playable on disk while it grows. Knows files and samples only;
//! threads and channels are `writer`'s business.
//!
//! The header is ours ([`canonical_header`], what hound writes for this
//! format) and the samples go to the file as one `write` per block: hound's
//! writer converts and checks sample by sample and updates the header with
//! three seeks, which cost more than the recording's own I/O on the writer
//! thread. hound stays the reference reader in the tests.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::hash::sha256_file;
use super::{RecordingError, Result};

/// Sample rate of every recording (G.711 narrowband).
pub const SAMPLE_RATE_HZ: u32 = 8000;
/// Channels of every recording: left = caller, right = operator.
pub const CHANNELS: u16 = 2;
/// Bits per sample of every recording (linear PCM).
pub(crate) const BITS_PER_SAMPLE: u16 = 16;
/// Bytes per sample frame (one sample of each channel).
pub(crate) const BLOCK_ALIGN: u16 = CHANNELS * BITS_PER_SAMPLE / 8;
/// `RIFF` + size + `WAVE` + 24-byte `fmt ` chunk + `data` + size.
pub(crate) const CANONICAL_HEADER_LEN: usize = 44;
/// Offset of the RIFF chunk size field.
pub(crate) const RIFF_SIZE_OFFSET: usize = 4;
/// Offset of the `data` chunk size field in the canonical header.
pub(crate) const DATA_SIZE_OFFSET: usize = 40;
/// Size of a plain PCM `fmt ` chunk body (PCMWAVEFORMAT).
pub(crate) const PCM_FMT_LEN: u32 = 16;
/// `wFormatTag` of linear PCM.
pub(crate) const WAVE_FORMAT_PCM: u16 = 1;
/// Largest data chunk whose RIFF size (data + 36) still fits in 32 bits,
/// rounded down to whole sample frames.
const MAX_DATA_BYTES: u64 = {
    let max = u32::MAX as u64 - (CANONICAL_HEADER_LEN as u64 - 8);
    max - max % BLOCK_ALIGN as u64
};
/// Nanoseconds in one second, to turn sample frames into a duration.
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// What a finished recording is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    /// Where the file is.
    pub path: PathBuf,
    /// Samples per channel.
    pub frames: u64,
    /// Length of the audio.
    pub duration: Duration,
    /// Lowercase hex SHA-256 of the whole final file.
    pub sha256: String,
}

/// A stereo recording being written to one file (synchronous; one owner).
pub struct WavRecorder {
    path: PathBuf,
    /// Written at its end by `write`, its header by positional writes.
    file: File,
    /// Sample frames appended so far.
    frames: u64,
    /// Sample frames the header on disk counts.
    synced_frames: u64,
    /// The little-endian bytes of the block being appended (reused).
    bytes: Vec<u8>,
}

impl std::fmt::Debug for WavRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavRecorder")
            .field("path", &self.path)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl WavRecorder {
    /// Creates the file (and its parent directories) with an empty but
    /// playable header. An existing file is never overwritten.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        // The directory of the day usually exists: try the file first and
        // make the directories only when it is missing (one syscall a call
        // instead of a lookup of every parent and then the file).
        let mut file = match create_new(&path) {
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    fs::create_dir_all(parent).map_err(|source| RecordingError::CreateDir {
                        path: parent.to_path_buf(),
                        source,
                    })?;
                }
                create_new(&path)
            }
            opened => opened,
        }
        .map_err(|source| RecordingError::Create {
            path: path.clone(),
            source,
        })?;
        // On disk at once, so that even a crash before the first sync
        // leaves a valid (empty) WAV.
        if let Err(source) = file.write_all(&canonical_header(0)) {
            return Err(RecordingError::Io { path, source });
        }
        Ok(Self {
            path,
            file,
            frames: 0,
            synced_frames: 0,
            bytes: Vec::new(),
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Samples per channel written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Appends interleaved samples (left, right, left, right, …).
    pub fn append(&mut self, interleaved: &[i16]) -> Result<()> {
        if !interleaved.len().is_multiple_of(usize::from(CHANNELS)) {
            return Err(RecordingError::PartialFrame {
                path: self.path.clone(),
                samples: interleaved.len(),
            });
        }
        let new_frames = (interleaved.len() / usize::from(CHANNELS)) as u64;
        let data_bytes = (self.frames + new_frames) * u64::from(BLOCK_ALIGN);
        if data_bytes > MAX_DATA_BYTES {
            return Err(RecordingError::TooLong {
                path: self.path.clone(),
            });
        }
        self.bytes.clear();
        self.bytes.resize(interleaved.len() * 2, 0);
        for (out, sample) in self.bytes.chunks_exact_mut(2).zip(interleaved) {
            out.copy_from_slice(&sample.to_le_bytes());
        }
        self.file
            .write_all(&self.bytes)
            .map_err(|source| RecordingError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.frames += new_frames;
        Ok(())
    }

    /// Brings the RIFF and data sizes on disk up to date, so that the file
    /// plays as it is now even if the process dies next. One positional
    /// write; nothing when the header is current.
    pub fn sync_header(&mut self) -> Result<()> {
        if self.synced_frames == self.frames {
            return Ok(());
        }
        // MAX_DATA_BYTES keeps this within 32 bits.
        let data_len = u32::try_from(self.frames * u64::from(BLOCK_ALIGN)).unwrap_or(u32::MAX);
        let header = canonical_header(data_len);
        self.file
            .write_all_at(&header[RIFF_SIZE_OFFSET..], RIFF_SIZE_OFFSET as u64)
            .map_err(|source| RecordingError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.synced_frames = self.frames;
        Ok(())
    }

    /// Writes the final header, `fsync`s the file and hashes it.
    pub fn finish(self) -> Result<RecordingSummary> {
        let closed = self.close()?;
        closed.sync()?;
        closed.summarise()
    }

    /// Writes the final header; the file is not yet durable (see
    /// [`ClosedRecording`]).
    pub(crate) fn close(mut self) -> Result<ClosedRecording> {
        self.sync_header()?;
        Ok(ClosedRecording {
            path: self.path,
            file: self.file,
            frames: self.frames,
        })
    }
}

/// A recording whose last byte is written but not yet on stable storage:
/// [`sync`](Self::sync) it, or make its whole filesystem durable with
/// others (see `writer`), then [`summarise`](Self::summarise) it.
#[derive(Debug)]
pub(crate) struct ClosedRecording {
    path: PathBuf,
    file: File,
    frames: u64,
}

impl ClosedRecording {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// `fsync`s this one file.
    pub(crate) fn sync(&self) -> Result<()> {
        self.file.sync_all().map_err(|source| RecordingError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Closes the file and hashes it.
    pub(crate) fn summarise(self) -> Result<RecordingSummary> {
        let Self { path, file, frames } = self;
        drop(file);
        let sha256 = sha256_file(&path).map_err(|source| RecordingError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(RecordingSummary {
            duration: duration_of(frames, SAMPLE_RATE_HZ),
            path,
            frames,
            sha256,
        })
    }
}

/// Opens a new file for writing; an existing one is an error.
fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Length of `frames` sample frames at `rate_hz` (a zero rate is no audio).
pub(crate) fn duration_of(frames: u64, rate_hz: u32) -> Duration {
    if rate_hz == 0 {
        return Duration::ZERO;
    }
    let rate = u64::from(rate_hz);
    Duration::from_secs(frames / rate) + Duration::from_nanos(frames % rate * NANOS_PER_SEC / rate)
}

/// The canonical header of a recording holding `data_len` bytes of samples:
/// a plain PCMWAVEFORMAT `fmt ` chunk, exactly what hound writes for our spec.
pub(crate) fn canonical_header(data_len: u32) -> [u8; CANONICAL_HEADER_LEN] {
    let byte_rate = SAMPLE_RATE_HZ * u32::from(BLOCK_ALIGN);
    let riff_size = data_len.saturating_add(CANONICAL_HEADER_LEN as u32 - 8);
    let mut header = [0u8; CANONICAL_HEADER_LEN];
    let fields: [&[u8]; 13] = [
        b"RIFF",
        &riff_size.to_le_bytes(),
        b"WAVE",
        b"fmt ",
        &PCM_FMT_LEN.to_le_bytes(),
        &WAVE_FORMAT_PCM.to_le_bytes(),
        &CHANNELS.to_le_bytes(),
        &SAMPLE_RATE_HZ.to_le_bytes(),
        &byte_rate.to_le_bytes(),
        &BLOCK_ALIGN.to_le_bytes(),
        &BITS_PER_SAMPLE.to_le_bytes(),
        b"data",
        &data_len.to_le_bytes(),
    ];
    let mut at = 0;
    for field in fields {
        header[at..at + field.len()].copy_from_slice(field);
        at += field.len();
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use hound::SampleFormat;
    use sha2::{Digest, Sha256};

    /// `frames` stereo frames whose left and right channels are told apart.
    fn ramp(frames: usize) -> Vec<i16> {
        (0..frames)
            .flat_map(|i| [i as i16, -(i as i16) - 1])
            .collect()
    }

    #[test]
    fn a_new_recording_is_a_playable_empty_wav_with_the_canonical_header() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a/b/new.wav");
        let recorder = WavRecorder::create(&path).expect("create");
        let bytes = fs::read(&path).expect("read");
        assert_eq!(bytes, canonical_header(0));
        let reader = hound::WavReader::open(&path).expect("hound opens it");
        assert_eq!(reader.len(), 0);
        drop(recorder);
    }

    #[test]
    fn written_frames_read_back_in_the_right_channels() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("call.wav");
        let mut recorder = WavRecorder::create(&path).expect("create");
        let samples = ramp(1000);
        for chunk in samples.chunks(320) {
            recorder.append(chunk).expect("append");
        }
        let summary = recorder.finish().expect("finish");

        assert_eq!(summary.frames, 1000);
        assert_eq!(summary.duration, Duration::from_millis(125));
        assert_eq!(summary.path, path);
        let bytes = fs::read(&path).expect("read");
        assert_eq!(summary.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(bytes[..CANONICAL_HEADER_LEN], canonical_header(4000));
        assert_eq!(bytes.len(), CANONICAL_HEADER_LEN + 4000);

        let mut reader = hound::WavReader::open(&path).expect("hound opens it");
        let spec = reader.spec();
        assert_eq!(spec.channels, 2);
        assert_eq!(spec.sample_rate, 8000);
        assert_eq!(spec.bits_per_sample, 16);
        assert_eq!(spec.sample_format, SampleFormat::Int);
        assert_eq!(reader.len(), 2000);
        let read: Vec<i16> = reader
            .samples::<i16>()
            .map(|s| s.expect("sample"))
            .collect();
        assert_eq!(read, samples);
        assert_eq!(read[2 * 7], 7, "left channel holds the left samples");
        assert_eq!(read[2 * 7 + 1], -8, "right channel holds the right samples");
    }

    #[test]
    fn after_a_header_sync_the_file_plays_as_far_as_it_was_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("growing.wav");
        let mut recorder = WavRecorder::create(&path).expect("create");
        recorder.append(&ramp(160)).expect("append");
        recorder.sync_header().expect("sync");

        let reader = hound::WavReader::open(&path).expect("hound opens it mid-call");
        assert_eq!(reader.len(), 320);
        assert_eq!(reader.duration(), 160);

        recorder.append(&ramp(160)).expect("append more");
        recorder.sync_header().expect("sync again");
        let reader = hound::WavReader::open(&path).expect("hound opens it again");
        assert_eq!(reader.duration(), 320);
        assert_eq!(recorder.frames(), 320);
    }

    #[test]
    fn an_odd_number_of_samples_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("odd.wav");
        let mut recorder = WavRecorder::create(&path).expect("create");
        let error = recorder.append(&[1, 2, 3]).expect_err("odd count refused");
        assert!(matches!(
            error,
            RecordingError::PartialFrame { samples: 3, .. }
        ));
        assert_eq!(recorder.finish().expect("finish").frames, 0);
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("taken.wav");
        fs::write(&path, b"an older recording").expect("write");
        let error = WavRecorder::create(&path).expect_err("existing file refused");
        assert!(matches!(error, RecordingError::Create { .. }));
        assert_eq!(fs::read(&path).expect("read"), b"an older recording");
    }

    #[test]
    fn durations_are_exact_for_whole_and_partial_seconds() {
        assert_eq!(duration_of(8000, 8000), Duration::from_secs(1));
        assert_eq!(duration_of(8001, 8000), Duration::from_nanos(1_000_125_000));
        assert_eq!(duration_of(3, 0), Duration::ZERO);
    }
}

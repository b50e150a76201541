//! Crash-safe stereo call recordings (left = caller, right = operator).
//!
//! This layer owns the WAV files under the recordings root: writing them
//! ([`WavRecorder`]), keeping their header playable while they grow, finishing
//! them with a SHA-256 of the final file, repairing what a crash left behind
//! ([`repair`]), and the writer threads that keep all of it off the packet path
//! ([`RecordingService`], whose [`CallRecorder`] is a [`crate::media::StereoSink`]).
//!
//! It knows media types only: no SIP, no SQL, no calls, owners or work orders.
//! Where a recording is stored and what it belongs to is the caller's business.

mod hash;
mod repair;
mod wav;
mod writer;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use repair::{RepairOutcome, RepairReport, repair, repair_all};
pub use wav::{CHANNELS, RecordingSummary, SAMPLE_RATE_HZ, WavRecorder};
pub use writer::{CallRecorder, RecordingService};

/// Result of this layer.
pub type Result<T, E = RecordingError> = std::result::Result<T, E>;

/// Everything that can go wrong with a recording file.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The directory that should hold a recording could not be created.
    #[error("cannot create recording directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A recording file could not be created (it may already exist: recordings
    /// are never overwritten).
    #[error("cannot create recording {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Reading, writing or syncing a recording file failed.
    #[error("I/O error on recording {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Samples were appended that do not make whole stereo sample frames.
    #[error("{samples} samples appended to {path} are not whole stereo frames")]
    PartialFrame { path: PathBuf, samples: usize },
    /// The recording would outgrow the 4 GiB a RIFF size field can describe.
    #[error("recording {path} would exceed the 4 GiB WAV limit")]
    TooLong { path: PathBuf },
    /// The file is not a RIFF/WAVE file this layer can read or repair.
    #[error("{path} is not a WAV file")]
    NotWav { path: PathBuf },
    /// The writer thread of this recording is gone (service shut down, or no
    /// writer thread could be started).
    #[error("the writer thread of recording {path} is gone")]
    WriterGone { path: PathBuf },
}

/// The `[recording]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingConfig {
    /// Directory under which relative recording paths are created.
    pub root: PathBuf,
    /// How often an open recording's header is brought up to date on disk,
    /// which bounds what a kill -9 can lose (this plus one block, 500 ms).
    #[serde(with = "humantime_serde")]
    pub header_sync: Duration,
    /// Number of writer threads the open recordings are spread over.
    pub writer_threads: usize,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            root: PathBuf::from("recordings"),
            header_sync: Duration::from_secs(2),
            writer_threads: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_takes_the_defaults() {
        let config: RecordingConfig = toml::from_str("").expect("empty TOML parses");
        assert_eq!(config, RecordingConfig::default());
        assert_eq!(config.root, PathBuf::from("recordings"));
        assert_eq!(config.header_sync, Duration::from_secs(2));
        assert_eq!(config.writer_threads, 1);
    }

    #[test]
    fn durations_are_written_like_humans_write_them() {
        let config: RecordingConfig = toml::from_str(
            "root = \"/var/lib/hotline/rec\"\nheader_sync = \"500ms\"\nwriter_threads = 4\n",
        )
        .expect("valid section parses");
        assert_eq!(config.root, PathBuf::from("/var/lib/hotline/rec"));
        assert_eq!(config.header_sync, Duration::from_millis(500));
        assert_eq!(config.writer_threads, 4);
    }

    #[test]
    fn an_unknown_key_is_named_in_the_error() {
        let error = toml::from_str::<RecordingConfig>("header_synk = \"1s\"\n")
            .expect_err("unknown key is rejected");
        assert!(error.to_string().contains("header_synk"), "{error}");
    }
}

//! Voiced frames: whether a decoded 20 ms frame of the remote side carries
//! speech, judged by its energy against a threshold in dBFS, and the
//! [`Dbfs`] level the threshold is configured in.
//!
//! A plain energy threshold, no voice-activity model: what a caller says
//! into a telephone is tens of decibels above the line's idle noise, and a
//! frame costs one pass of 160 multiply-adds on the packet path. Sans-IO;
//! knows nothing of what the count is used for.

use serde::{Deserialize, Deserializer};

use super::{Frame, MediaError, SAMPLES_PER_FRAME};

/// The RMS of a full-scale square wave of 16-bit samples: 0 dBFS.
const FULL_SCALE: f64 = 32768.0;
/// The quietest level that can be configured: far below G.711's smallest
/// step (μ-law ±8, about -72 dBFS).
const LOWEST_DBFS: i8 = -96;

/// A level relative to digital full scale in whole decibels: 0 is full
/// scale, -96 the lowest accepted. Written as a number in the config
/// (`speech_threshold_dbfs = -45`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dbfs(i8);

impl Dbfs {
    /// A level of `db` decibels, which must lie in -96..=0.
    pub fn new(db: i64) -> Result<Dbfs, MediaError> {
        i8::try_from(db)
            .ok()
            .filter(|db| (LOWEST_DBFS..=0).contains(db))
            .map(Dbfs)
            .ok_or(MediaError::LevelRange { db })
    }

    /// The level in decibels.
    pub fn db(self) -> i8 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Dbfs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Dbfs, D::Error> {
        let db = i64::deserialize(deserializer)?;
        Dbfs::new(db).map_err(serde::de::Error::custom)
    }
}

/// Tells voiced frames from silence and line noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpeechDetector {
    /// The sum of squared samples a frame at the threshold level has.
    min_energy: u64,
}

impl SpeechDetector {
    /// A detector for frames whose RMS level is at least `threshold`.
    pub(crate) fn new(threshold: Dbfs) -> SpeechDetector {
        let rms = FULL_SCALE * 10f64.powf(f64::from(threshold.0) / 20.0);
        // At most 160 × 2^30, exactly representable in an f64 and a u64.
        let min_energy = (rms * rms * SAMPLES_PER_FRAME as f64).ceil() as u64;
        SpeechDetector { min_energy }
    }

    /// Whether `frame` is at or above the threshold.
    pub(crate) fn is_speech(&self, frame: &Frame) -> bool {
        energy(frame) >= self.min_energy
    }
}

/// The sum of squared samples. Each square fits an `i32` (at most 2^30), so
/// the loop widens once per sample and vectorises.
fn energy(frame: &Frame) -> u64 {
    frame
        .iter()
        .map(|&s| {
            let s = i32::from(s);
            u64::from((s * s).unsigned_abs())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::SILENCE;

    fn detector(db: i64) -> SpeechDetector {
        SpeechDetector::new(Dbfs::new(db).expect("level in range"))
    }

    /// A square wave of amplitude `level`: its RMS is `level`.
    fn square(level: i16) -> Frame {
        std::array::from_fn(|i| if i % 2 == 0 { level } else { -level })
    }

    #[test]
    fn frames_at_or_above_the_threshold_are_speech_and_quieter_ones_are_not() {
        let speech = detector(-45);
        // -45 dBFS is an RMS of 184.3.
        assert!(speech.is_speech(&square(185)));
        assert!(!speech.is_speech(&square(184)));
        assert!(!speech.is_speech(&SILENCE));
        assert!(speech.is_speech(&square(i16::MAX)));
        assert!(speech.is_speech(&[i16::MIN; SAMPLES_PER_FRAME]));
        // One loud click in a silent frame is below the threshold's energy.
        let mut click = SILENCE;
        click[80] = 2000;
        assert!(!speech.is_speech(&click));
    }

    #[test]
    fn full_scale_and_the_lowest_level_bound_the_threshold() {
        assert!(detector(0).is_speech(&[i16::MIN; SAMPLES_PER_FRAME]));
        assert!(!detector(0).is_speech(&square(i16::MAX)));
        assert!(detector(-96).is_speech(&square(1)));
        assert!(!detector(-96).is_speech(&SILENCE));
    }

    #[test]
    fn levels_outside_the_range_are_refused_naming_the_value() {
        for db in [1, -97, 1000, i64::MIN] {
            let err = Dbfs::new(db).expect_err("out of range");
            assert!(err.to_string().contains(&db.to_string()), "{err}");
        }
        assert_eq!(Dbfs::new(-45).map(Dbfs::db).ok(), Some(-45));
    }
}

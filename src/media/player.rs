//! Prompts (8 kHz mono audio held in memory, cheap to clone) and the
//! [`Playback`] cursor that cuts a prompt into 20 ms frames.
//!
//! Loading happens once, off the packet path; playing only copies samples.
//! Knows nothing of codecs, RTP or what a prompt says.

use std::f32::consts::TAU;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{CLOCK_RATE, Frame, MediaError, SAMPLES_PER_FRAME, WavProblem};

/// The only bit depth a prompt file may have.
const PROMPT_BITS_PER_SAMPLE: u16 = 16;
/// Peak amplitude of generated tones: about -12 dBFS, clearly audible
/// without clipping after G.711.
const TONE_AMPLITUDE: f32 = 8000.0;

/// Audio to play to the remote side: 8 kHz mono samples and a name for logs.
/// Cloning shares the samples.
#[derive(Clone)]
pub struct Prompt {
    name: Arc<str>,
    samples: Arc<[i16]>,
}

impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("name", &self.name)
            .field("duration", &self.duration())
            .finish()
    }
}

impl Prompt {
    /// Reads a WAV file, which must be 8000 Hz mono 16-bit integer PCM.
    /// The prompt's name is the path.
    pub fn load_wav(path: impl AsRef<Path>) -> Result<Prompt, MediaError> {
        let path = path.as_ref();
        let read_error = |source| MediaError::PromptRead {
            path: path.to_owned(),
            source,
        };
        let reader = hound::WavReader::open(path).map_err(read_error)?;
        let spec = reader.spec();
        let problem = if spec.sample_format != hound::SampleFormat::Int {
            Some(WavProblem::FloatSamples)
        } else if spec.sample_rate != CLOCK_RATE {
            Some(WavProblem::SampleRate(spec.sample_rate))
        } else if spec.channels != 1 {
            Some(WavProblem::Channels(spec.channels))
        } else if spec.bits_per_sample != PROMPT_BITS_PER_SAMPLE {
            Some(WavProblem::BitsPerSample(spec.bits_per_sample))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(MediaError::PromptFormat {
                path: path.to_owned(),
                problem,
            });
        }
        let samples = reader
            .into_samples::<i16>()
            .collect::<Result<Vec<i16>, _>>()
            .map_err(read_error)?;
        Ok(Prompt::from_samples(path.display().to_string(), samples))
    }

    /// A prompt from samples already at 8 kHz.
    pub fn from_samples(name: impl Into<Arc<str>>, samples: Vec<i16>) -> Prompt {
        Prompt {
            name: name.into(),
            samples: samples.into(),
        }
    }

    /// A sine tone, e.g. the beep before a voice message.
    pub fn tone(name: impl Into<Arc<str>>, freq_hz: f32, duration: Duration) -> Prompt {
        let count = duration_to_samples(duration);
        let step = TAU * freq_hz / CLOCK_RATE as f32;
        let samples = (0..count)
            .map(|n| (TONE_AMPLITUDE * (step * n as f32).sin()) as i16)
            .collect();
        Prompt::from_samples(name, samples)
    }

    /// The name given at creation (the path for a loaded file).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// How long the prompt plays.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / f64::from(CLOCK_RATE))
    }

    /// A cursor at the start of this prompt.
    pub fn playback(&self) -> Playback {
        Playback {
            prompt: self.clone(),
            position: 0,
        }
    }
}

/// Samples in `duration` at [`CLOCK_RATE`], rounded down.
fn duration_to_samples(duration: Duration) -> usize {
    (duration.as_secs_f64() * f64::from(CLOCK_RATE)) as usize
}

/// A position in a prompt being played, handing out 20 ms frames.
#[derive(Debug, Clone)]
pub struct Playback {
    prompt: Prompt,
    position: usize,
}

impl Playback {
    /// Copies the next frame into `out`, padding the last one with silence.
    /// Returns false, leaving `out` alone, once the prompt is finished.
    pub fn next_frame(&mut self, out: &mut Frame) -> bool {
        let remaining = self.prompt.samples.get(self.position..).unwrap_or_default();
        if remaining.is_empty() {
            return false;
        }
        let n = remaining.len().min(SAMPLES_PER_FRAME);
        out[..n].copy_from_slice(&remaining[..n]);
        out[n..].fill(0);
        self.position += n;
        true
    }

    /// True once every sample has been handed out.
    pub fn is_finished(&self) -> bool {
        self.position >= self.prompt.samples.len()
    }

    /// The prompt being played.
    pub fn prompt(&self) -> &Prompt {
        &self.prompt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, spec: hound::WavSpec, samples: &[i16]) {
        let mut w = hound::WavWriter::create(path, spec).expect("create wav");
        for &s in samples {
            if spec.sample_format == hound::SampleFormat::Float {
                w.write_sample(f32::from(s)).expect("write");
            } else {
                w.write_sample(s).expect("write");
            }
        }
        w.finalize().expect("finalize");
    }

    fn spec(rate: u32, channels: u16, bits: u16, format: hound::SampleFormat) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        }
    }

    #[test]
    fn an_8k_mono_16_bit_wav_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("greeting.wav");
        let samples: Vec<i16> = (0..400).map(|i| i as i16).collect();
        write_wav(&path, spec(8000, 1, 16, hound::SampleFormat::Int), &samples);
        let prompt = Prompt::load_wav(&path).expect("valid prompt");
        assert_eq!(prompt.samples(), &samples[..]);
        assert_eq!(prompt.duration(), Duration::from_millis(50));
        assert!(prompt.name().ends_with("greeting.wav"));
    }

    #[test]
    fn other_wav_formats_are_refused_naming_path_and_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            (spec(16000, 1, 16, hound::SampleFormat::Int), "16000 Hz"),
            (spec(8000, 2, 16, hound::SampleFormat::Int), "2 channels"),
            (spec(8000, 1, 8, hound::SampleFormat::Int), "8 bits"),
            (
                spec(8000, 1, 32, hound::SampleFormat::Float),
                "floating point",
            ),
        ];
        for (i, (spec, expected)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("bad{i}.wav"));
            if spec.bits_per_sample == 8 {
                let mut w = hound::WavWriter::create(&path, spec).expect("create wav");
                w.write_sample(1i8).expect("write");
                w.finalize().expect("finalize");
            } else {
                write_wav(&path, spec, &[1, 2, 3, 4]);
            }
            let err = Prompt::load_wav(&path).expect_err("wrong format");
            let text = err.to_string();
            assert!(matches!(err, MediaError::PromptFormat { .. }), "{text}");
            assert!(text.contains(&format!("bad{i}.wav")), "{text}");
            assert!(text.contains(expected), "{text}");
        }
    }

    #[test]
    fn a_missing_or_non_wav_file_is_a_read_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.wav");
        assert!(matches!(
            Prompt::load_wav(&missing),
            Err(MediaError::PromptRead { .. })
        ));
        let text = dir.path().join("text.wav");
        std::fs::write(&text, "not a wav").expect("write");
        let err = Prompt::load_wav(&text).expect_err("not a wav");
        assert!(err.to_string().contains("text.wav"));
    }

    #[test]
    fn playback_hands_out_frames_and_pads_the_last() {
        let samples: Vec<i16> = (1..=350).collect();
        let prompt = Prompt::from_samples("p", samples);
        let mut playback = prompt.playback();
        let mut frame = [7i16; SAMPLES_PER_FRAME];
        assert!(playback.next_frame(&mut frame));
        assert_eq!(frame[0], 1);
        assert_eq!(frame[159], 160);
        assert!(playback.next_frame(&mut frame));
        assert_eq!(frame[0], 161);
        assert!(!playback.is_finished());
        assert!(playback.next_frame(&mut frame));
        assert_eq!(frame[29], 350);
        assert!(frame[30..].iter().all(|&s| s == 0));
        assert!(playback.is_finished());
        assert!(!playback.next_frame(&mut frame));
    }

    #[test]
    fn an_empty_prompt_is_finished_at_once() {
        let mut playback = Prompt::from_samples("empty", Vec::new()).playback();
        let mut frame = [0i16; SAMPLES_PER_FRAME];
        assert!(playback.is_finished());
        assert!(!playback.next_frame(&mut frame));
    }

    #[test]
    fn a_tone_has_the_asked_length_and_frequency() {
        let tone = Prompt::tone("beep", 1000.0, Duration::from_millis(500));
        assert_eq!(tone.samples().len(), 4000);
        assert_eq!(tone.duration(), Duration::from_millis(500));
        // 1 kHz at 8 kHz: period of 8 samples, peak at n = 2.
        assert_eq!(tone.samples()[0], 0);
        assert!(tone.samples()[2] > 7900);
        assert!(tone.samples()[6] < -7900);
        // 1000 cycles per second: 500 upward zero crossings in 0.5 s.
        let crossings = tone
            .samples()
            .windows(2)
            .filter(|w| w[0] < 0 && w[1] >= 0)
            .count();
        assert!((499..=500).contains(&crossings), "{crossings}");
    }
}

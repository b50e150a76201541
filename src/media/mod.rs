//! # media
//!
//! Everything that happens to a call's audio once SIP has agreed on where it
//! goes: RTP packets (RFC 3550), the G.711 codecs (PCMU/PCMA, RFC 3551),
//! telephone-event digits (RFC 4733) and SIP INFO `application/dtmf-relay`
//! digits, prompt playback, the pool of RTP ports, and the per-call media
//! engine whose shards drive every call's session from one 20 ms tick.
//!
//! This layer knows no SIP, no SQL and no business words: it is told a remote
//! address, a codec, a payload type and which way audio flows, it is handed
//! prompts, and it reports digits, the end of a prompt, silence of the
//! remote side and how many of its frames were voiced. A second leg of a
//! call (the operator's phone) can be bridged to the caller's session, each
//! sending what the other received. The stereo audio of a call leaves
//! through a [`StereoSink`], which the recording layer implements.
//!
//! The cores ([`g711`](Codec), [`rtp`](RtpPacket), [`dtmf`](DtmfReceiver),
//! [`player`](Playback)) are sans-IO; only the session and its
//! [`MediaEngine`] touch sockets.

mod bridge;
mod config;
mod direction;
mod dtmf;
mod engine;
mod g711;
mod player;
mod ports;
mod ring;
mod rtp;
mod session;
mod speech;

use std::path::PathBuf;
use std::time::Duration;

pub use config::{MediaConfig, PortRange};
pub use direction::MediaDirection;
pub use dtmf::{Digit, DtmfReceiver, TelephoneEvent, parse_dtmf_relay};
pub use engine::{EngineStopped, LegHandle, MediaEngine, MediaHandle, NotBeside};
pub use g711::Codec;
pub use player::{Playback, Prompt};
pub use ports::{PortLease, RtpPortPool};
pub use rtp::{RTP_HEADER_LEN, RTP_VERSION, RtpPacket, RtpWriter};
pub use session::{MediaEvent, MediaStats, SessionParams};
pub use speech::Dbfs;

/// The sampling rate of every codec this layer speaks (RFC 3551 §4.5.14).
pub const CLOCK_RATE: u32 = 8000;
/// Samples in one 20 ms frame at [`CLOCK_RATE`].
pub const SAMPLES_PER_FRAME: usize = 160;
/// The packetisation interval: one RTP packet and one recorded frame each
/// (RFC 3551 §4.5: 20 ms is the default for G.711).
pub const FRAME_DURATION: Duration = Duration::from_millis(20);

/// One 20 ms frame of 8 kHz mono linear PCM.
pub type Frame = [i16; SAMPLES_PER_FRAME];

/// A silent frame.
pub const SILENCE: Frame = [0; SAMPLES_PER_FRAME];

/// Where a media session delivers the call's audio, one stereo frame every
/// 20 ms for the whole life of the session.
///
/// `left` is what the remote side sent (decoded, or silence), `right` is what
/// this side sent (the prompt frame, or silence). Called on the packet path:
/// an implementation must not block.
pub trait StereoSink: Send {
    /// Takes one 20 ms stereo frame.
    fn push_frame(&mut self, left: &Frame, right: &Frame);
}

impl<T: StereoSink + ?Sized> StereoSink for Box<T> {
    fn push_frame(&mut self, left: &Frame, right: &Frame) {
        (**self).push_frame(left, right);
    }
}

/// What can go wrong in the media layer.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Fewer bytes than an RTP fixed header (RFC 3550 §5.1).
    #[error("RTP packet of {len} bytes is shorter than the 12-byte fixed header")]
    RtpTooShort {
        /// Length of the datagram.
        len: usize,
    },
    /// The version field is not 2 (RFC 3550 §5.1).
    #[error("RTP version {version} is not 2")]
    RtpVersion {
        /// The version found.
        version: u8,
    },
    /// The CSRC list or header extension runs past the end of the datagram.
    #[error("RTP header of {header_len} bytes does not fit in a {len}-byte packet")]
    RtpTruncated {
        /// Length the header claims.
        header_len: usize,
        /// Length of the datagram.
        len: usize,
    },
    /// The padding count is zero or larger than the payload (RFC 3550 §5.1, P bit).
    #[error("RTP padding length {pad_len} is invalid")]
    RtpPadding {
        /// The padding count found in the last octet.
        pad_len: u8,
    },
    /// An RFC 4733 telephone-event payload shorter than 4 bytes (§2.3).
    #[error("telephone-event payload of {len} bytes is shorter than 4")]
    TelephoneEventTooShort {
        /// Length of the payload.
        len: usize,
    },
    /// A prompt file could not be opened or read as WAV.
    #[error("cannot read prompt {path}: {source}")]
    PromptRead {
        /// The prompt file.
        path: PathBuf,
        /// Why hound failed.
        source: hound::Error,
    },
    /// A prompt file is WAV but not 8000 Hz mono 16-bit PCM.
    #[error("prompt {path} must be 8000 Hz mono 16-bit PCM, but {problem}")]
    PromptFormat {
        /// The prompt file.
        path: PathBuf,
        /// What is wrong with it.
        problem: WavProblem,
    },
    /// A level in dBFS outside -96..=0.
    #[error("level {db} dBFS is outside -96..=0")]
    LevelRange {
        /// The level as written.
        db: i64,
    },
    /// A port range that cannot be used for RTP.
    #[error("invalid RTP port range {text:?}: {problem}")]
    PortRange {
        /// The range as written.
        text: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Every even port of the range is leased or could not be bound.
    #[error("no free RTP port in {range} on {ip}")]
    NoFreePort {
        /// The configured range.
        range: PortRange,
        /// The address binding was tried on.
        ip: std::net::IpAddr,
    },
}

/// Why a prompt WAV file is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WavProblem {
    /// Not 8000 Hz.
    #[error("its sample rate is {0} Hz")]
    SampleRate(u32),
    /// Not mono.
    #[error("it has {0} channels")]
    Channels(u16),
    /// Not 16 bits per sample.
    #[error("it has {0} bits per sample")]
    BitsPerSample(u16),
    /// Float instead of integer PCM.
    #[error("its samples are floating point")]
    FloatSamples,
}

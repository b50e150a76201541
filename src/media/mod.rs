//! Media: RTP, G.711, RFC 4733 digits and the per-call session; knows no SIP and nothing above it.

/// Samples in one 20 ms frame at 8 kHz.
pub const SAMPLES_PER_FRAME: usize = 160;

/// One 20 ms frame of 16-bit linear PCM at 8 kHz.
pub type Frame = [i16; SAMPLES_PER_FRAME];

/// Where a media session hands its stereo frames (left = caller, right = operator).
pub trait StereoSink: Send {
    /// Takes one 20 ms frame per channel; must not block the packet path.
    fn push_frame(&mut self, left: &Frame, right: &Frame);
}

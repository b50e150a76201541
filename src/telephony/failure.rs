//! The catalogue of ways an inbound call can end other than normally: each
//! with a stable code (stored with the call, shown on the console) and the
//! SIP status the caller receives when the call is refused before answer.

use crate::sip::StatusCode;

/// Why a call was refused or ended abnormally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFailure {
    /// The INVITE came from a network that is not a trusted trunk.
    UntrustedSource,
    /// The dialled number is not a hotline number.
    UnknownNumber,
    /// The offer has no codec we speak.
    NoCommonCodec,
    /// The SDP could not be read.
    BadSdp,
    /// The INVITE's body is not SDP (RFC 3261 §8.2.3).
    UnsupportedBody,
    /// No RTP port was free.
    NoMediaPort,
    /// The recording could not be opened (disk full, permissions).
    RecordingFailed,
    /// The caller never acknowledged our 200 OK.
    AckTimeout,
    /// No RTP arrived for the inactivity timeout.
    RtpTimeout,
    /// The daemon is shutting down.
    Shutdown,
    /// The daemon died under the call; its record was finished at the next
    /// start.
    DaemonRestarted,
}

impl CallFailure {
    /// Stable code, stored in `calls.end_code`.
    pub fn code(self) -> &'static str {
        match self {
            CallFailure::UntrustedSource => "untrusted_source",
            CallFailure::UnknownNumber => "unknown_number",
            CallFailure::NoCommonCodec => "no_common_codec",
            CallFailure::BadSdp => "bad_sdp",
            CallFailure::UnsupportedBody => "unsupported_body",
            CallFailure::NoMediaPort => "no_media_port",
            CallFailure::RecordingFailed => "recording_failed",
            CallFailure::AckTimeout => "ack_timeout",
            CallFailure::RtpTimeout => "rtp_timeout",
            CallFailure::Shutdown => "shutdown",
            CallFailure::DaemonRestarted => "daemon_restarted",
        }
    }

    /// The status that refuses the INVITE with this failure.
    pub fn status(self) -> StatusCode {
        match self {
            CallFailure::UntrustedSource => StatusCode::FORBIDDEN,
            CallFailure::UnknownNumber => StatusCode::NOT_FOUND,
            CallFailure::NoCommonCodec => StatusCode::NOT_ACCEPTABLE_HERE,
            CallFailure::BadSdp => StatusCode::BAD_REQUEST,
            CallFailure::UnsupportedBody => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CallFailure::NoMediaPort
            | CallFailure::RecordingFailed
            | CallFailure::Shutdown
            | CallFailure::DaemonRestarted => StatusCode::SERVICE_UNAVAILABLE,
            CallFailure::AckTimeout | CallFailure::RtpTimeout => StatusCode::REQUEST_TIMEOUT,
        }
    }
}

//! How a call ended, as its record keeps it (`calls.end_reason`) and as
//! people read it. The stored names are a contract with the store, the API
//! and reports; the words people read are in `labels.rs`. Why a call
//! failed in detail (`calls.end_code`) is telephony's catalogue.

use std::fmt;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The caller hung up (their BYE).
    #[serde(rename = "caller_hangup")]
    CallerHangUp,
    /// The hotline ended the call when its flow was done (our BYE).
    #[serde(rename = "hotline_hangup")]
    HotlineHangUp,
    /// The caller gave up before the call was answered (CANCEL).
    Cancelled,
    /// Refused before answer (the end code says why).
    Rejected,
    /// No RTP arrived from the caller for the inactivity timeout.
    RtpTimeout,
    /// The caller never acknowledged our answer.
    AckTimeout,
    /// The daemon was shutting down.
    Shutdown,
    /// The daemon died under the call; finished at the next start.
    Crashed,
    /// Anything else that ended the call abnormally (the end code says what).
    Error,
}

impl EndReason {
    /// Every reason, in the order reports list them.
    pub const ALL: [EndReason; 9] = [
        EndReason::CallerHangUp,
        EndReason::HotlineHangUp,
        EndReason::Cancelled,
        EndReason::Rejected,
        EndReason::RtpTimeout,
        EndReason::AckTimeout,
        EndReason::Shutdown,
        EndReason::Crashed,
        EndReason::Error,
    ];

    /// The name stored in `calls.end_reason` and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::CallerHangUp => "caller_hangup",
            EndReason::HotlineHangUp => "hotline_hangup",
            EndReason::Cancelled => "cancelled",
            EndReason::Rejected => "rejected",
            EndReason::RtpTimeout => "rtp_timeout",
            EndReason::AckTimeout => "ack_timeout",
            EndReason::Shutdown => "shutdown",
            EndReason::Crashed => "crashed",
            EndReason::Error => "error",
        }
    }

    /// The reason a stored name stands for.
    pub fn parse(stored: &str) -> Option<EndReason> {
        EndReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == stored)
    }

    /// What it means to a person (中文).
    pub fn label(self) -> &'static str {
        super::labels::end_reason(self)
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_from_its_stored_name_and_has_a_label() {
        for reason in EndReason::ALL {
            assert_eq!(EndReason::parse(reason.as_str()), Some(reason));
            assert!(!reason.label().is_empty());
            let json = serde_json::to_string(&reason).expect("serialises");
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
        assert_eq!(EndReason::parse("hung_up"), None);
    }
}

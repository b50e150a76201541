//! Which way a session's audio flows, seen from this side: whether it sends
//! RTP and whether it expects RTP from the remote side.
//!
//! The media layer's own word for it, so that it needs no SDP: whoever
//! negotiated the call maps the offer/answer direction (RFC 3264 §5.1) onto
//! it. Sans-IO, a value and two questions.

/// The direction of this side's stream (RFC 3264 §5.1 names, read from
/// this side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MediaDirection {
    /// We send and the remote side sends.
    #[default]
    SendRecv,
    /// We send; the remote side does not (it put us on hold with
    /// `recvonly`, or listens only): a prompt is still heard.
    SendOnly,
    /// We do not send; the remote side does (it held us with `sendonly`,
    /// e.g. to play its own music on hold).
    RecvOnly,
    /// Neither side sends.
    Inactive,
}

impl MediaDirection {
    /// Whether this side sends RTP (RFC 3264 §5.1: not when `recvonly` or
    /// `inactive`).
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether RTP is expected from the remote side, so that its absence
    /// is inactivity.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sendrecv_and_sendonly_send_and_only_sendrecv_and_recvonly_receive() {
        let table = [
            (MediaDirection::SendRecv, true, true),
            (MediaDirection::SendOnly, true, false),
            (MediaDirection::RecvOnly, false, true),
            (MediaDirection::Inactive, false, false),
        ];
        for (direction, sends, receives) in table {
            assert_eq!(direction.sends(), sends, "{direction:?}");
            assert_eq!(direction.receives(), receives, "{direction:?}");
        }
        assert_eq!(MediaDirection::default(), MediaDirection::SendRecv);
    }
}

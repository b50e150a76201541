//! Stream framing (RFC 3261 §18.3): where a message ends in the bytes of a
//! TCP connection, by the empty line after the headers and the
//! Content-Length, mandatory on streams; and the CRLF keep-alives between
//! messages (RFC 5626 §3.5.1). Sans-IO: a buffer in, extents out.
//!
//! A stream whose framing fails cannot be resynchronised; what the
//! failure leaves readable (the header section) tells the endpoint whether
//! there is still someone to answer.

use super::parse::find_blank_line;

/// The empty line that ends a header section.
const BLANK_LINE: &[u8] = b"\r\n\r\n";

/// Result of looking for one message at the start of a stream buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// This many bytes of CRLF keep-alive to discard (RFC 5626 §3.5.1).
    KeepAlive(usize),
    /// A whole message of this many bytes is at the start of the buffer.
    Message(usize),
    /// Not enough bytes yet.
    Incomplete,
}

/// Why a stream cannot go on after the messages before this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FrameError {
    /// The header section (the first `head` bytes, the empty line
    /// included) has no Content-Length, a malformed one or two that
    /// disagree: RFC 3261 §18.3 makes it mandatory on streams, so the
    /// request is answered 400 and the stream closed.
    #[error("no usable Content-Length on a stream")]
    NoContentLength { head: usize },
    /// The header section (`head` bytes) announces a message larger than
    /// the limit: answered 513 (RFC 3261 §21.5.11) and the stream closed.
    #[error("message larger than the limit")]
    TooLarge { head: usize },
    /// No end of the header section within the limit: nothing readable to
    /// answer.
    #[error("header section larger than the limit")]
    HeadTooLarge,
}

/// The framing state of one stream: how far the search for the end of the
/// header section got, and the length of a message whose header section is
/// complete, so that a message arriving in small pieces has each byte
/// looked at once rather than once per piece.
#[derive(Debug, Default)]
pub(crate) struct StreamFramer {
    /// Bytes at the start of the buffer searched for the empty line in
    /// vain.
    searched: usize,
    /// The whole length of the message at the start of the buffer, once
    /// its header section is complete.
    total: Option<usize>,
}

impl StreamFramer {
    /// Look for the first message in `buf`, which holds what the stream
    /// delivered after everything this framer returned before (the caller
    /// drains what a `KeepAlive` or `Message` covers).
    pub(crate) fn next(
        &mut self,
        buf: &[u8],
        max_message_size: usize,
    ) -> Result<Frame, FrameError> {
        if let Some(total) = self.total {
            if buf.len() < total {
                return Ok(Frame::Incomplete);
            }
            *self = StreamFramer::default();
            return Ok(Frame::Message(total));
        }
        if self.searched == 0 {
            let crlf = buf
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            if crlf > 0 {
                return Ok(Frame::KeepAlive(crlf));
            }
        }
        // The empty line may straddle what was searched and what is new.
        let from = self.searched.saturating_sub(BLANK_LINE.len() - 1);
        let Some(offset) = find_blank_line(&buf[from..]) else {
            if buf.len() > max_message_size {
                return Err(FrameError::HeadTooLarge);
            }
            self.searched = buf.len();
            return Ok(Frame::Incomplete);
        };
        let head = from + offset + BLANK_LINE.len();
        let length = content_length(&buf[..head]).ok_or(FrameError::NoContentLength { head })?;
        let total = head
            .checked_add(length)
            .filter(|total| *total <= max_message_size)
            .ok_or(FrameError::TooLarge { head })?;
        if buf.len() < total {
            self.total = Some(total);
            return Ok(Frame::Incomplete);
        }
        *self = StreamFramer::default();
        Ok(Frame::Message(total))
    }
}

/// Find the extent of the first message in a stream buffer with a fresh
/// [`StreamFramer`] (for the tests' own stream readers).
#[cfg(test)]
pub(crate) fn frame(buf: &[u8], max_message_size: usize) -> Result<Frame, FrameError> {
    StreamFramer::default().next(buf, max_message_size)
}

/// The Content-Length of a header section (full or compact name, RFC 3261
/// §7.3.3), read from the bytes; `None` when absent, malformed, or given
/// twice with different values (which framing could read either way).
fn content_length(head: &[u8]) -> Option<usize> {
    let mut found = None;
    for line in head.split(|b| *b == b'\n').skip(1) {
        // A folded continuation line (RFC 3261 §7.3.1) names no header.
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            continue;
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if !name.eq_ignore_ascii_case(b"Content-Length") && !name.eq_ignore_ascii_case(b"l") {
            continue;
        }
        let value: usize = std::str::from_utf8(line[colon + 1..].trim_ascii())
            .ok()?
            .parse()
            .ok()?;
        if found.is_some_and(|known| known != value) {
            return None;
        }
        found = Some(value);
    }
    found
}

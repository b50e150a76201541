//! The voice message of one call: where it lies on the call's clock, how
//! much of it the caller spoke, and so whether it is a message at all.
//!
//! The media session counts the caller's voiced 20 ms frames; the message
//! reads that count when it starts (after the beep) and when it ends. A
//! message shorter than `voicemail.min_length`, or with less speech than
//! `voicemail.min_speech`, is empty: the call record keeps it, but it
//! becomes no work order. The judgement is sans-IO; only [`VoiceMessage::start`]
//! and [`VoiceMessage::end`] ask the media handle.

use std::time::Duration;

use tracing::warn;

use crate::media::{FRAME_DURATION, MediaHandle};

use super::config::VoicemailConfig;

/// What became of a finished call's voice message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MessageOutcome {
    /// No message was started (the caller hung up before the beep).
    NotLeft,
    /// A message: it becomes a work order.
    Taken,
    /// Too short or without speech: no work order. The caller still wanted
    /// something; a missed-call callback belongs here.
    Empty,
}

/// One end of the message: the call's clock then (ms since the answer) and
/// the caller's voiced frames so far, when the media session could say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    at_ms: i64,
    voiced_frames: Option<u64>,
}

/// The voice message of a call, from the beep to its end.
#[derive(Debug, Default)]
pub(super) struct VoiceMessage {
    start: Option<Mark>,
    end: Option<Mark>,
}

impl VoiceMessage {
    /// The message starts at `at_ms`; reads the caller's voiced frames.
    pub(super) async fn start<S>(&mut self, at_ms: i64, media: &MediaHandle<S>) {
        self.started(at_ms, voiced_frames(media).await);
    }

    /// The message ends at `at_ms`; reads the caller's voiced frames.
    /// Returns the message's start and end for the call record.
    pub(super) async fn end<S>(&mut self, at_ms: i64, media: &MediaHandle<S>) -> (i64, i64) {
        self.ended(at_ms, voiced_frames(media).await)
    }

    fn started(&mut self, at_ms: i64, voiced_frames: Option<u64>) {
        self.start = Some(Mark {
            at_ms,
            voiced_frames,
        });
        self.end = None;
    }

    /// A message that never started starts where it ends.
    fn ended(&mut self, at_ms: i64, voiced_frames: Option<u64>) -> (i64, i64) {
        let end = Mark {
            at_ms,
            voiced_frames,
        };
        let start = *self.start.get_or_insert(end);
        self.end = Some(end);
        (start.at_ms, end.at_ms)
    }

    /// Whether the message was left, and if it is one.
    pub(super) fn outcome(&self, config: &VoicemailConfig) -> MessageOutcome {
        let Some(start) = self.start else {
            return MessageOutcome::NotLeft;
        };
        let Some(end) = self.end else {
            // Never ended (cannot happen through the IVR, which ends every
            // message it starts): nothing to judge, nothing to lose.
            return MessageOutcome::Taken;
        };
        let length = Duration::from_millis(u64::try_from(end.at_ms - start.at_ms).unwrap_or(0));
        let speech = match (start.voiced_frames, end.voiced_frames) {
            (Some(before), Some(after)) => {
                let frames = u32::try_from(after.saturating_sub(before)).unwrap_or(u32::MAX);
                Some(FRAME_DURATION.saturating_mul(frames))
            }
            _ => None,
        };
        judge(length, speech, config)
    }
}

/// Empty when shorter than the minimum, or with less speech than the
/// minimum; an unknown amount of speech is judged by the length alone.
fn judge(length: Duration, speech: Option<Duration>, config: &VoicemailConfig) -> MessageOutcome {
    let too_short = length < config.min_length;
    let silent = speech.is_some_and(|speech| speech < config.min_speech);
    if too_short || silent {
        MessageOutcome::Empty
    } else {
        MessageOutcome::Taken
    }
}

/// The caller's voiced frames so far; `None` if the media session is gone
/// (only while the runtime shuts down).
async fn voiced_frames<S>(media: &MediaHandle<S>) -> Option<u64> {
    match media.stats().await {
        Ok(stats) => Some(stats.voiced_frames),
        Err(err) => {
            warn!(%err, "cannot read the caller's speech; the message is judged by its length");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 ms frames in `ms`.
    fn frames(ms: u64) -> u64 {
        ms / 20
    }

    fn outcome(length_ms: i64, voiced: Option<(u64, u64)>) -> MessageOutcome {
        let mut message = VoiceMessage::default();
        message.started(10_000, voiced.map(|(before, _)| before));
        message.ended(10_000 + length_ms, voiced.map(|(_, after)| after));
        message.outcome(&VoicemailConfig::default())
    }

    #[test]
    fn a_message_with_enough_length_and_speech_is_taken() {
        assert_eq!(
            outcome(3000, Some((7, 7 + frames(1500)))),
            MessageOutcome::Taken
        );
        assert_eq!(
            outcome(1000, Some((0, frames(500)))),
            MessageOutcome::Taken,
            "exactly the minimums"
        );
    }

    #[test]
    fn a_message_under_a_second_is_empty_however_loud() {
        assert_eq!(outcome(980, Some((0, frames(980)))), MessageOutcome::Empty);
        assert_eq!(outcome(0, None), MessageOutcome::Empty);
    }

    #[test]
    fn a_long_message_with_too_little_speech_is_empty() {
        assert_eq!(outcome(60_000, Some((40, 40))), MessageOutcome::Empty);
        assert_eq!(
            outcome(60_000, Some((40, 40 + frames(480)))),
            MessageOutcome::Empty
        );
    }

    #[test]
    fn speech_frames_before_the_message_do_not_count() {
        // The caller spoke during the menu (1000 frames), then nothing.
        assert_eq!(outcome(5000, Some((1000, 1003))), MessageOutcome::Empty);
    }

    #[test]
    fn unknown_speech_is_judged_by_the_length_alone() {
        assert_eq!(outcome(5000, None), MessageOutcome::Taken);
        let mut half = VoiceMessage::default();
        half.started(0, Some(3));
        half.ended(5000, None);
        assert_eq!(
            half.outcome(&VoicemailConfig::default()),
            MessageOutcome::Taken
        );
    }

    #[test]
    fn no_message_started_is_not_left_and_an_end_alone_is_an_empty_message() {
        let config = VoicemailConfig::default();
        assert_eq!(
            VoiceMessage::default().outcome(&config),
            MessageOutcome::NotLeft
        );
        let mut message = VoiceMessage::default();
        assert_eq!(message.ended(4200, Some(9)), (4200, 4200));
        assert_eq!(message.outcome(&config), MessageOutcome::Empty);
    }

    #[test]
    fn the_minimums_come_from_the_config() {
        let config = VoicemailConfig {
            min_length: Duration::from_millis(200),
            min_speech: Duration::ZERO,
            ..VoicemailConfig::default()
        };
        assert_eq!(
            judge(Duration::from_millis(300), Some(Duration::ZERO), &config),
            MessageOutcome::Taken
        );
        assert_eq!(
            judge(Duration::from_millis(100), None, &config),
            MessageOutcome::Empty
        );
    }
}

//! An answered call to its end: the IVR's actions are carried out on the
//! media session and the call record, what the caller does (digits over RTP
//! or SIP INFO, hold, hang-up) and the media's silence are fed back to it,
//! and when either side ends the call the recording is finished.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::media::MediaEvent;
use crate::sip::sdp::Negotiated;
use crate::sip::{ALLOW, DialogEvent, NonInviteServer, ReInvite, StatusCode};

use super::super::config::{MENU_CHOICE_OTHER, MenuChoice};
use super::super::content::{self, DTMF_RELAY};
use super::super::failure::CallFailure;
use super::super::ivr::{Choice, Ivr, IvrAction, IvrEvent};
use super::super::record::{CallRecordWriter, Side};
use super::super::service::CallServices;
use super::super::voicemail::{MessageOutcome, VoiceMessage};
use super::Ending;
use super::answer::Answered;
use super::offer::{self, LocalMedia};
use super::queue::{self, CallerInfo, Waited};

/// What an answered call came to.
pub(super) struct Outcome {
    pub(super) ending: Ending,
    /// When the call ended (before the recording was finalised).
    pub(super) ended_at: SystemTime,
    /// The recording's length.
    pub(super) duration_ms: Option<i64>,
    pub(super) sha256: Option<String>,
    /// Whether a voice message was left, and whether it is one (a work
    /// order) or empty.
    pub(super) message: MessageOutcome,
    pub(super) hung_up_by: Side,
}

/// What carrying out the IVR's actions came to.
enum Performed {
    /// The call goes on; these actions follow (the IVR's answer to what
    /// the queue came to).
    Next(Vec<IvrAction>),
    /// The call is over.
    Over(Ending, Side),
}

/// What one event asks of the conversation.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Feed this to the IVR.
    Ivr(IvrEvent),
    /// Nothing for the IVR (answered in place, or nothing to do).
    Continue,
    /// The call is over this way; hang up first when `bye` says so.
    End { ending: Ending, bye: bool },
}

/// What woke the conversation.
enum Happened {
    Media(Option<MediaEvent>),
    /// Boxed: a dialog event is large and rare.
    Dialog(Option<Box<DialogEvent>>),
    Timer,
    Shutdown,
}

/// The conversation's own state besides the IVR.
struct Conversation<'a> {
    services: &'a Arc<CallServices>,
    record: &'a CallRecordWriter,
    caller: &'a CallerInfo,
    /// The menu choice's code, once made.
    menu_choice: Option<&'static str>,
    call: Answered,
    ivr: Ivr,
    /// The IVR's single timer: when it fires and its generation.
    timer: Option<(tokio::time::Instant, u32)>,
    /// The voice message, once the beep has sounded.
    message: VoiceMessage,
}

/// Runs the IVR over an answered call to its end.
pub(super) async fn converse(
    services: &Arc<CallServices>,
    record: &CallRecordWriter,
    caller: &CallerInfo,
    call: Answered,
    shutdown: &CancellationToken,
) -> Outcome {
    let queued = MenuChoice::ALL
        .into_iter()
        .filter(|choice| services.queue.queues(choice.code()))
        .collect();
    let mut conversation = Conversation {
        services,
        record,
        caller,
        menu_choice: None,
        call,
        ivr: Ivr::new(services.ivr.clone(), services.voicemail.clone()).with_queue(queued),
        timer: None,
        message: VoiceMessage::default(),
    };
    let mut pending = conversation.ivr.start();
    let (ending, hung_up_by) = loop {
        match conversation
            .perform(std::mem::take(&mut pending), shutdown)
            .await
        {
            Performed::Over(ending, side) => break (ending, side),
            Performed::Next(next) if !next.is_empty() => {
                pending = next;
                continue;
            }
            Performed::Next(_) => {}
        }
        match conversation.next_step(shutdown).await {
            Step::Ivr(event) => pending = conversation.ivr.handle(event),
            Step::Continue => {}
            Step::End { ending, bye } => {
                conversation.close_message().await;
                if bye {
                    drop(conversation.call.dialog.bye().await);
                }
                let side = if ending == Ending::CALLER_HANG_UP {
                    Side::Caller
                } else {
                    Side::Hotline
                };
                break (ending, side);
            }
        }
    };
    let ended_at = SystemTime::now();
    let message = conversation.message.outcome(&services.voicemail);
    let mut outcome = finish(conversation.call, ending, ended_at, message).await;
    outcome.hung_up_by = hung_up_by;
    outcome
}

impl Conversation<'_> {
    /// Carries out the IVR's actions, the wait for an operator included.
    async fn perform(
        &mut self,
        actions: Vec<IvrAction>,
        shutdown: &CancellationToken,
    ) -> Performed {
        for action in actions {
            match action {
                IvrAction::Play(id) => self.call.media.play(self.services.prompts.get(id).clone()),
                IvrAction::StartTimer { after, generation } => {
                    self.timer = Some((tokio::time::Instant::now() + after, generation));
                }
                IvrAction::MenuChosen(choice) => {
                    let (digit, code) = match choice {
                        Choice::Digit(digit, menu) => (Some(digit.to_string()), menu.code()),
                        Choice::Other => (None, MENU_CHOICE_OTHER),
                    };
                    info!(choice = code, "menu choice");
                    self.menu_choice = Some(code);
                    self.record.menu_choice(digit.as_deref(), code).await;
                }
                IvrAction::Queue => {
                    let waited = queue::wait_for_operator(
                        self.services,
                        self.record,
                        self.caller,
                        self.menu_choice,
                        &mut self.call,
                        shutdown,
                    )
                    .await;
                    return match waited {
                        Waited::NoOperator => {
                            Performed::Next(self.ivr.handle(IvrEvent::NoOperator))
                        }
                        Waited::Over { ending, hung_up_by } => {
                            self.ivr.hung_up();
                            Performed::Over(ending, hung_up_by)
                        }
                    };
                }
                IvrAction::VoicemailStarted => {
                    let at = elapsed_ms(self.call.answered_at);
                    self.message.start(at, &self.call.media).await;
                }
                IvrAction::VoicemailEnded => self.end_message().await,
                IvrAction::HangUp => {
                    if let Err(err) = self.call.dialog.bye().await {
                        info!(%err, "our BYE was not answered");
                    }
                    return Performed::Over(Ending::HOTLINE_HANG_UP, Side::Hotline);
                }
            }
        }
        if self.ivr.is_done() {
            Performed::Over(Ending::HOTLINE_HANG_UP, Side::Hotline)
        } else {
            Performed::Next(Vec::new())
        }
    }

    /// Waits for the next thing that happens to the call and says what it
    /// asks for.
    async fn next_step(&mut self, shutdown: &CancellationToken) -> Step {
        let timer_at = self.timer.map(|(at, _)| at);
        let happened = tokio::select! {
            event = self.call.media_events.recv() => Happened::Media(event),
            event = self.call.dialog.next_event() => Happened::Dialog(event.map(Box::new)),
            () = sleep_until(timer_at), if timer_at.is_some() => Happened::Timer,
            () = shutdown.cancelled() => Happened::Shutdown,
        };
        match happened {
            Happened::Media(event) => media_step(event),
            Happened::Dialog(event) => self.dialog_step(event.map(|event| *event)).await,
            Happened::Timer => match self.timer.take() {
                Some((_, generation)) => Step::Ivr(IvrEvent::Timer(generation)),
                None => Step::Continue,
            },
            Happened::Shutdown => Step::End {
                ending: Ending::failed(CallFailure::Shutdown),
                bye: true,
            },
        }
    }

    async fn dialog_step(&mut self, event: Option<DialogEvent>) -> Step {
        match event {
            Some(DialogEvent::Bye) | None => Step::End {
                ending: Ending::CALLER_HANG_UP,
                bye: false,
            },
            Some(DialogEvent::ReInvite(reinvite)) => {
                self.answer_reinvite(reinvite).await;
                Step::Continue
            }
            Some(DialogEvent::Info(info)) => {
                let digit = answer_info(info).await;
                digit.map_or(Step::Continue, |digit| Step::Ivr(IvrEvent::Digit(digit)))
            }
            Some(DialogEvent::Other(other)) => {
                refuse_in_dialog(other).await;
                Step::Continue
            }
        }
    }

    /// A hang-up while the message is being recorded ends the message there.
    async fn close_message(&mut self) {
        if self.ivr.hung_up().contains(&IvrAction::VoicemailEnded) {
            self.end_message().await;
        }
    }

    /// The voice message ends now: its span goes into the call record.
    async fn end_message(&mut self) {
        let at = elapsed_ms(self.call.answered_at);
        let (start, end) = self.message.end(at, &self.call.media).await;
        self.record.voicemail(start, end).await;
    }

    /// Hold and resume (RFC 3264 §8.4): answer the direction the caller asks
    /// for and stop or restart sending.
    async fn answer_reinvite(&mut self, reinvite: ReInvite) {
        if let Some(negotiated) = answer_reinvite(&mut self.call.local, reinvite).await {
            apply_to_caller(&mut self.call, negotiated);
        }
    }
}

/// Answers a re-INVITE on one side of a call with that side's SDP: its
/// refusal when we cannot read it (the session stays as it was), else our
/// answer; the new parameters when the offer changed them. The answer goes
/// out after the parameters are returned for the media, so the first packet
/// in the new direction is not late.
pub(crate) async fn answer_reinvite(
    local: &mut LocalMedia,
    reinvite: ReInvite,
) -> Option<Negotiated> {
    let answer = match local.answer_reinvite(reinvite.request()) {
        Ok(answer) => answer,
        Err(refusal) => {
            info!(%refusal, "re-INVITE refused");
            reinvite
                .reject_with(refusal.status(), refusal.headers())
                .await;
            return None;
        }
    };
    let negotiated = answer.negotiated;
    let body = answer.body;
    tokio::spawn(async move {
        drop(reinvite.answer(body).await);
    });
    negotiated
}

/// The caller's media follows a renegotiation (a hold or a resume).
pub(super) fn apply_to_caller(call: &mut Answered, negotiated: Negotiated) {
    let direction = offer::media_direction(&negotiated);
    info!(?direction, "re-INVITE from the caller");
    call.media.update(
        negotiated.remote_rtp,
        offer::media_codec(negotiated.codec),
        negotiated.telephone_event_pt,
    );
    call.media.set_direction(direction);
    call.negotiated = negotiated;
}

/// A request inside a dialog that we do not serve: 405 with what we do.
pub(crate) async fn refuse_in_dialog(other: NonInviteServer) {
    let allow = vec![("Allow".to_string(), ALLOW.to_string())];
    other
        .respond(StatusCode::METHOD_NOT_ALLOWED, allow, None)
        .await;
}

/// What a media event asks of the conversation.
fn media_step(event: Option<MediaEvent>) -> Step {
    match event {
        Some(MediaEvent::Digit(digit)) => Step::Ivr(IvrEvent::Digit(digit.as_char())),
        Some(MediaEvent::PlaybackFinished) => Step::Ivr(IvrEvent::PromptFinished),
        Some(MediaEvent::Inactive) | None => {
            info!("no RTP from the caller; hanging up");
            Step::End {
                ending: Ending::failed(CallFailure::RtpTimeout),
                bye: true,
            }
        }
    }
}

/// Stops the media, finishes the recording and says what the call came to.
async fn finish(
    call: Answered,
    ending: Ending,
    ended_at: SystemTime,
    message: MessageOutcome,
) -> Outcome {
    let duration_ms = elapsed_ms(call.answered_at);
    let summary = match call.media.stop().await {
        Ok((recorder, stats)) => {
            info!(
                packets_received = stats.packets_received,
                packets_sent = stats.packets_sent,
                packets_lost = stats.packets_lost_estimate,
                "media ended"
            );
            recorder
                .finish()
                .await
                .inspect_err(|err| warn!(%err, "recording could not be finished"))
                .ok()
        }
        Err(err) => {
            // The engine dropped the recorder, which finalised the file
            // without a hash.
            warn!(%err, "media session lost");
            None
        }
    };
    let (duration_ms, sha256) = match summary {
        Some(summary) => (
            i64::try_from(summary.duration.as_millis()).unwrap_or(duration_ms),
            Some(summary.sha256),
        ),
        None => (duration_ms, None),
    };
    Outcome {
        ending,
        ended_at,
        duration_ms: Some(duration_ms),
        sha256,
        message,
        hung_up_by: Side::Hotline,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Answer an INFO: 415 with Accept for a body that is not
/// `application/dtmf-relay` (RFC 3261 §8.2.3), else 200; the digit it
/// carried, if any.
pub(crate) async fn answer_info(info: NonInviteServer) -> Option<char> {
    let request = info.request();
    if content::is_unsupported(request, DTMF_RELAY) {
        let accept = content::accept_header(DTMF_RELAY);
        info.respond(StatusCode::UNSUPPORTED_MEDIA_TYPE, accept, None)
            .await;
        return None;
    }
    let digit = std::str::from_utf8(request.body())
        .ok()
        .and_then(crate::media::parse_dtmf_relay)
        .map(|digit| digit.as_char());
    info.respond(StatusCode::OK, Vec::new(), None).await;
    digit
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Digit;

    #[test]
    fn media_events_become_ivr_events_and_silence_ends_the_call() {
        let digit = Digit::new('5').expect("a digit");
        assert_eq!(
            media_step(Some(MediaEvent::Digit(digit))),
            Step::Ivr(IvrEvent::Digit('5'))
        );
        assert_eq!(
            media_step(Some(MediaEvent::PlaybackFinished)),
            Step::Ivr(IvrEvent::PromptFinished)
        );
        let silence = Step::End {
            ending: Ending::failed(CallFailure::RtpTimeout),
            bye: true,
        };
        assert_eq!(media_step(Some(MediaEvent::Inactive)), silence);
        assert_eq!(media_step(None), silence);
    }
}

//! An operator answered: the call is put through (B2BUA). The operator's
//! leg gets a media session of its own on the caller's shard, bridged to
//! the caller's, so media flows through the daemon both ways (transcoded
//! when the phones differ) and the caller's stereo recording goes on: left
//! the caller, right the operator. A hold from either side (re-INVITE
//! `sendonly`/`inactive`) plays the hold music to the other; a BYE from
//! either side ends both legs, and the record says who hung up.

use std::time::{Duration, Instant, SystemTime};

use tokio::net::UdpSocket;
use tracing::{info, warn};

use crate::desk::RingFailure;
use crate::events::Event;
use crate::media::{LegHandle, MediaEvent, MediaStats, PortLease};
use crate::recording::CallRecorder;
use crate::sip::{ClientDialog, DialogEvent};
use crate::store::{CallLeg, unix_millis};

use super::super::failure::CallFailure;
use super::super::record::Side;
use super::Ending;
use super::answer::session_params;
use super::conversation::{answer_info, answer_reinvite, apply_to_caller, refuse_in_dialog};
use super::offer::{self, LocalMedia};
use super::queue::{OUTCOME_ANSWERED, Queue, Rang, Waited, millis};

/// An operator's phone that has just answered, with what its leg needs.
pub(super) struct Ringing {
    pub(super) operator: String,
    pub(super) leg: CallLeg,
    pub(super) dialog: ClientDialog,
    pub(super) socket: UdpSocket,
    /// Keeps the leg's RTP port ours while the call lasts.
    pub(super) lease: PortLease,
    pub(super) local: LocalMedia,
}

/// What woke the bridged call.
enum Happened {
    Caller(Option<Box<DialogEvent>>),
    Operator(Option<Box<DialogEvent>>),
    CallerMedia(Option<MediaEvent>),
    OperatorMedia(Option<MediaEvent>),
    Shutdown,
}

/// Which sides hold, and for how long the call has been on hold.
#[derive(Debug, Default)]
struct Holds {
    caller: bool,
    operator: bool,
    since: Option<Instant>,
    total: Duration,
}

impl Holds {
    /// Notes a side's hold or resume.
    fn set(&mut self, side: Side, holds: bool, now: Instant) {
        match side {
            Side::Caller => self.caller = holds,
            _ => self.operator = holds,
        }
        match (self.caller || self.operator, self.since) {
            (true, None) => self.since = Some(now),
            (false, Some(since)) => {
                self.total += now.saturating_duration_since(since);
                self.since = None;
            }
            _ => {}
        }
    }

    /// The time on hold up to `now`.
    fn total(&self, now: Instant) -> Duration {
        self.total
            + self
                .since
                .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }
}

/// Puts the call through to the operator who answered and carries the
/// conversation to its end.
pub(super) async fn put_through(queue: &mut Queue<'_>, ringing: Ringing) -> Rang {
    let Ringing {
        operator,
        mut leg,
        mut dialog,
        socket,
        lease,
        mut local,
    } = ringing;
    let services = queue.services;
    let call_id = queue.caller.call_id.clone();
    let negotiated = match offer::read_ack_answer(dialog.answer()) {
        Ok(negotiated) => negotiated,
        Err(failure) => {
            info!(
                code = failure.code(),
                operator, "the operator's phone answered without usable SDP"
            );
            drop(dialog.bye().await);
            return not_put_through(queue, &operator, leg, RingFailure::Refused).await;
        }
    };
    let params = session_params(services, &negotiated);
    let Ok((leg_media, mut leg_events)) = services
        .media
        .start_leg(&queue.call.media, socket, params)
        .await
    else {
        drop(dialog.bye().await);
        return not_put_through(queue, &operator, leg, RingFailure::Unreachable).await;
    };
    if !services.board.answered(&call_id, &operator).await {
        let _ = leg_media.stop().await;
        drop(dialog.bye().await);
        return not_put_through(queue, &operator, leg, RingFailure::CallerLeft).await;
    }
    queue.call.media.stop_playback();
    if let Err(err) = queue.call.media.bridge(&leg_media) {
        warn!(%err, "the operator's leg cannot be bridged");
    }
    let answered = Instant::now();
    leg.answered_at = Some(unix_millis(SystemTime::now()));
    queue.answered().await;
    info!(operator, "put through to an operator");
    services.bus.publish(Event::CallAnswered {
        operator: operator.clone(),
        call_id: call_id.clone(),
        at: unix_millis(SystemTime::now()),
    });
    let mut holds = Holds::default();
    let (ending, hung_up_by) = loop {
        let happened = tokio::select! {
            event = queue.call.dialog.next_event() => Happened::Caller(event.map(Box::new)),
            event = dialog.next_event() => Happened::Operator(event.map(Box::new)),
            event = queue.call.media_events.recv() => Happened::CallerMedia(event),
            event = leg_events.recv() => Happened::OperatorMedia(event),
            () = queue.shutdown.cancelled() => Happened::Shutdown,
        };
        match happened {
            Happened::Caller(Some(event)) => match *event {
                DialogEvent::Bye => {
                    drop(dialog.bye().await);
                    break (Ending::CALLER_HANG_UP, Side::Caller);
                }
                DialogEvent::ReInvite(reinvite) => {
                    if let Some(negotiated) = answer_reinvite(&mut queue.call.local, reinvite).await
                    {
                        apply_to_caller(queue.call, negotiated);
                        let holds_now = !offer::media_direction(&negotiated).sends();
                        if holds_now != holds.caller {
                            info!(hold = holds_now, "the caller holds or resumes");
                            hold_music(&leg_media, holds_now, queue);
                        }
                        holds.set(Side::Caller, holds_now, Instant::now());
                    }
                }
                DialogEvent::Info(info) => drop(answer_info(info).await),
                DialogEvent::Other(other) => refuse_in_dialog(other).await,
            },
            Happened::Caller(None) => {
                drop(dialog.bye().await);
                break (Ending::CALLER_HANG_UP, Side::Caller);
            }
            Happened::Operator(Some(event)) => match *event {
                DialogEvent::Bye => {
                    drop(queue.call.dialog.bye().await);
                    break (Ending::HOTLINE_HANG_UP, Side::Operator);
                }
                DialogEvent::ReInvite(reinvite) => {
                    if let Some(negotiated) = answer_reinvite(&mut local, reinvite).await {
                        let direction = offer::media_direction(&negotiated);
                        leg_media.update(
                            negotiated.remote_rtp,
                            offer::media_codec(negotiated.codec),
                            negotiated.telephone_event_pt,
                        );
                        leg_media.set_direction(direction);
                        let holds_now = !direction.sends();
                        if holds_now != holds.operator {
                            info!(hold = holds_now, "the operator holds or resumes");
                            if holds_now {
                                queue.call.media.play(services.prompts.hold.clone());
                            } else {
                                queue.call.media.stop_playback();
                            }
                        }
                        holds.set(Side::Operator, holds_now, Instant::now());
                    }
                }
                DialogEvent::Info(info) => drop(answer_info(info).await),
                DialogEvent::Other(other) => refuse_in_dialog(other).await,
            },
            Happened::Operator(None) => {
                drop(queue.call.dialog.bye().await);
                break (Ending::HOTLINE_HANG_UP, Side::Operator);
            }
            Happened::CallerMedia(Some(MediaEvent::PlaybackFinished)) => {
                if holds.operator {
                    queue.call.media.play(services.prompts.hold.clone());
                }
            }
            Happened::OperatorMedia(Some(MediaEvent::PlaybackFinished)) => {
                if holds.caller {
                    leg_media.play(services.prompts.hold.clone());
                }
            }
            Happened::CallerMedia(Some(MediaEvent::Digit(_)))
            | Happened::OperatorMedia(Some(MediaEvent::Digit(_))) => {}
            Happened::CallerMedia(Some(MediaEvent::Inactive) | None) => {
                info!("no RTP from the caller; hanging up both sides");
                drop(dialog.bye().await);
                drop(queue.call.dialog.bye().await);
                break (Ending::failed(CallFailure::RtpTimeout), Side::Hotline);
            }
            Happened::OperatorMedia(Some(MediaEvent::Inactive) | None) => {
                info!(
                    operator,
                    "no RTP from the operator's phone; hanging up both sides"
                );
                drop(dialog.bye().await);
                drop(queue.call.dialog.bye().await);
                break (Ending::failed(CallFailure::RtpTimeout), Side::Hotline);
            }
            Happened::Shutdown => {
                drop(dialog.bye().await);
                drop(queue.call.dialog.bye().await);
                break (Ending::failed(CallFailure::Shutdown), Side::Hotline);
            }
        }
    };
    let now = Instant::now();
    let talk_ms = millis(now.saturating_duration_since(answered));
    let hold_ms = millis(holds.total(now));
    let stats: Option<MediaStats> = leg_media.stop().await.ok();
    drop(lease);
    if let Some(stats) = stats {
        info!(
            packets_received = stats.packets_received,
            packets_sent = stats.packets_sent,
            packets_lost = stats.packets_lost_estimate,
            "operator's leg ended"
        );
    }
    services.board.call_ended(&operator).await;
    queue.record.talked(&leg.user_id, talk_ms, hold_ms).await;
    leg.outcome = OUTCOME_ANSWERED.to_string();
    leg.ended_at = Some(unix_millis(SystemTime::now()));
    queue.record.leg(leg).await;
    services.bus.publish(Event::CallEnded {
        operator,
        call_id,
        hung_up_by: hung_up_by.as_str().to_string(),
        at: unix_millis(SystemTime::now()),
    });
    Rang::Over(Waited::Over { ending, hung_up_by })
}

/// The operator hears the hold music while the caller holds, and the
/// conversation again when they resume.
fn hold_music(leg: &LegHandle<CallRecorder>, holds: bool, queue: &Queue<'_>) {
    if holds {
        leg.play(queue.services.prompts.hold.clone());
    } else {
        leg.stop_playback();
    }
}

/// The phone answered but the call could not be put through: the ring
/// counts as failed and the call waits on.
async fn not_put_through(
    queue: &Queue<'_>,
    operator: &str,
    mut leg: CallLeg,
    failure: RingFailure,
) -> Rang {
    leg.outcome = match failure {
        RingFailure::CallerLeft => "caller_left",
        RingFailure::Unreachable => "unreachable",
        _ => "refused",
    }
    .to_string();
    leg.ended_at = Some(unix_millis(SystemTime::now()));
    queue.record.leg(leg).await;
    queue
        .services
        .board
        .ring_failed(&queue.caller.call_id, operator, failure)
        .await;
    Rang::Failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_time_counts_while_either_side_holds() {
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        let mut holds = Holds::default();
        holds.set(Side::Caller, true, at(10));
        holds.set(Side::Operator, true, at(12));
        holds.set(Side::Caller, false, at(15));
        assert_eq!(holds.total(at(16)), Duration::from_secs(6));
        holds.set(Side::Operator, false, at(20));
        holds.set(Side::Operator, false, at(25));
        assert_eq!(holds.total(at(30)), Duration::from_secs(10));
    }
}

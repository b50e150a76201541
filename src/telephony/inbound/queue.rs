//! Waiting for an operator: the caller joins the queue of the operators'
//! board, hears the queue prompt, hold music and their place in the queue
//! while the board picks whom to ring; each operator it picks is rung
//! (INVITE to their phone, with the screen pop published the moment it
//! leaves) while the caller hears ringback, until one answers (the call is
//! put through, `bridge`), the caller gives up (放弃呼叫: the ringing leg is
//! cancelled at once and a missed-call callback is owed), nobody can answer
//! or the wait is too long (the caller leaves a voice message).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::desk::RingFailure;
use crate::desk::archive::Resident;
use crate::events::{CallerCard, Event};
use crate::media::{MediaEvent, Prompt};
use crate::sip::{
    DialogEvent, InviteClient, InviteResponse, Party, SipError, StatusCode, Target, advertised_ip,
};
use crate::store::{CallLeg, QueueSpan, unix_millis};

use super::super::failure::CallFailure;
use super::super::operators::{LeaveReason, PhoneTarget, QueueEvent, WaitingCall};
use super::super::record::{CallRecordWriter, Side};
use super::super::screen_pop::{self, CardQuestion};
use super::super::service::CallServices;
use super::Ending;
use super::answer::Answered;
use super::bridge::{self, Ringing};
use super::conversation::{answer_info, answer_reinvite, apply_to_caller, refuse_in_dialog};
use super::offer::LocalMedia;

/// Who calls, as the queue and the operator's screen need it.
#[derive(Debug, Clone)]
pub(super) struct CallerInfo {
    pub(super) call_id: String,
    pub(super) community: String,
    /// The number as received, in E.164 when it reads as one, and masked
    /// for logs and the supervisors' queue view.
    pub(super) number: String,
    pub(super) e164: Option<String>,
    pub(super) masked: String,
    /// `person`, `household` or `unknown`.
    pub(super) match_kind: String,
    pub(super) people: Vec<Resident>,
}

impl CallerInfo {
    /// The number a callback dials.
    fn callback_number(&self) -> &str {
        self.e164.as_deref().unwrap_or(&self.number)
    }
}

/// How the wait came out.
#[derive(Debug)]
pub(super) enum Waited {
    /// Nobody could answer, or the caller waited `queue.max_wait`: the
    /// caller is to leave a voice message.
    NoOperator,
    /// The call is over; both legs have been hung up as needed.
    Over { ending: Ending, hung_up_by: Side },
}

/// What the caller hears while waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hearing {
    /// The queue prompt, then the music.
    Intro,
    Music,
    /// Their place, then the music.
    Place,
    Ringback,
}

/// One call's wait.
pub(super) struct Queue<'a> {
    pub(super) services: &'a Arc<CallServices>,
    pub(super) record: &'a CallRecordWriter,
    pub(super) caller: &'a CallerInfo,
    pub(super) call: &'a mut Answered,
    pub(super) shutdown: &'a CancellationToken,
    hearing: Hearing,
    card: CallerCard,
    display_name: String,
    menu_choice: Option<String>,
    entered_at: SystemTime,
    /// The wait is over once the ring in progress has failed.
    overdue: bool,
}

/// How one ring of an operator came out.
pub(super) enum Rang {
    /// Unanswered: the call waits for the next operator.
    Failed,
    /// The call is over (talked and ended, or the caller gave up).
    Over(Waited),
}

/// Puts the call in the queue and waits; see the module doc.
pub(super) async fn wait_for_operator(
    services: &Arc<CallServices>,
    record: &CallRecordWriter,
    caller: &CallerInfo,
    menu_choice: Option<&str>,
    call: &mut Answered,
    shutdown: &CancellationToken,
) -> Waited {
    let entered_at = SystemTime::now();
    // The card is put together before the call can be offered, so that no
    // ring waits for it.
    let card = screen_pop::caller_card(
        services,
        CardQuestion {
            call_id: &caller.call_id,
            number: &caller.number,
            e164: caller.e164.as_deref(),
            match_kind: &caller.match_kind,
            people: &caller.people,
        },
    )
    .await;
    let waiting = WaitingCall {
        call_id: caller.call_id.clone(),
        community: caller.community.clone(),
        caller: caller.masked.clone(),
        menu_choice: menu_choice.map(str::to_string),
    };
    let Ok(events) = services.board.join(waiting).await else {
        info!("nobody can answer: voice message");
        record
            .queued(span(entered_at, LeaveReason::Voicemail.as_str()))
            .await;
        return Waited::NoOperator;
    };
    info!("waiting for an operator");
    let mut queue = Queue {
        services,
        record,
        caller,
        call,
        shutdown,
        hearing: Hearing::Intro,
        card,
        display_name: screen_pop::display_name(&caller.people, &caller.number),
        menu_choice: menu_choice.map(str::to_string),
        entered_at,
        overdue: false,
    };
    queue.hear(Hearing::Intro);
    queue.wait(events).await
}

/// What woke the waiting caller.
enum Happened {
    Queue(Option<QueueEvent>),
    Media(Option<MediaEvent>),
    Dialog(Option<Box<DialogEvent>>),
    MaxWait,
    Announce,
    Shutdown,
}

impl Queue<'_> {
    async fn wait(&mut self, mut events: mpsc::UnboundedReceiver<QueueEvent>) -> Waited {
        let services = self.services;
        let config = &services.queue;
        let max_wait_at = Instant::now() + config.max_wait;
        let mut announce_at = Instant::now() + config.announce_every;
        loop {
            let happened = tokio::select! {
                event = events.recv() => Happened::Queue(event),
                event = self.call.media_events.recv() => Happened::Media(event),
                event = self.call.dialog.next_event() => Happened::Dialog(event.map(Box::new)),
                () = tokio::time::sleep_until(max_wait_at), if !self.overdue => Happened::MaxWait,
                () = tokio::time::sleep_until(announce_at) => Happened::Announce,
                () = self.shutdown.cancelled() => Happened::Shutdown,
            };
            match happened {
                Happened::Queue(Some(QueueEvent::Ring {
                    operator,
                    user_id,
                    phones,
                })) => match self.ring(&operator, &user_id, &phones).await {
                    Rang::Over(waited) => return waited,
                    Rang::Failed if self.overdue => {
                        return self.give_up(LeaveReason::MaxWait).await;
                    }
                    Rang::Failed => {
                        self.hear(Hearing::Music);
                        announce_at = Instant::now() + config.announce_every;
                    }
                },
                Happened::Queue(Some(QueueEvent::NobodyToAnswer) | None) => {
                    info!("nobody can answer any more: voice message");
                    return self.give_up(LeaveReason::Voicemail).await;
                }
                Happened::Media(Some(MediaEvent::PlaybackFinished)) => self.hear(Hearing::Music),
                Happened::Media(Some(MediaEvent::Digit(_))) => {}
                Happened::Media(Some(MediaEvent::Inactive) | None) => {
                    return self
                        .abandoned(Ending::failed(CallFailure::RtpTimeout))
                        .await;
                }
                Happened::Dialog(Some(event)) => {
                    if self.caller_request(*event).await {
                        return self.abandoned(Ending::CALLER_HANG_UP).await;
                    }
                }
                Happened::Dialog(None) => return self.abandoned(Ending::CALLER_HANG_UP).await,
                Happened::MaxWait => {
                    info!("waited too long: voice message");
                    return self.give_up(LeaveReason::MaxWait).await;
                }
                Happened::Announce => {
                    announce_at = Instant::now() + config.announce_every;
                    if let Some(place) = services.board.position(&self.caller.call_id).await {
                        self.hear_place(place);
                    }
                }
                Happened::Shutdown => return self.stopped().await,
            }
        }
    }

    /// Plays what the caller is to hear now.
    fn hear(&mut self, hearing: Hearing) {
        let prompts = &self.services.prompts;
        let prompt: &Prompt = match hearing {
            Hearing::Intro => &prompts.queue,
            Hearing::Music | Hearing::Place => &prompts.hold,
            Hearing::Ringback => &prompts.ringback,
        };
        self.hearing = hearing;
        self.call.media.play(prompt.clone());
    }

    fn hear_place(&mut self, place: usize) {
        self.hearing = Hearing::Place;
        self.call
            .media
            .play(self.services.prompts.position(place).clone());
    }

    /// A request from the caller while waiting or ringing; true when they
    /// hung up.
    async fn caller_request(&mut self, event: DialogEvent) -> bool {
        match event {
            DialogEvent::Bye => return true,
            DialogEvent::ReInvite(reinvite) => {
                if let Some(negotiated) = answer_reinvite(&mut self.call.local, reinvite).await {
                    apply_to_caller(self.call, negotiated);
                }
            }
            DialogEvent::Info(info) => drop(answer_info(info).await),
            DialogEvent::Other(other) => refuse_in_dialog(other).await,
        }
        false
    }

    /// The wait is over without an operator: the call leaves the queue for
    /// a voice message.
    async fn give_up(&mut self, reason: LeaveReason) -> Waited {
        self.call.media.stop_playback();
        self.leave(reason).await;
        Waited::NoOperator
    }

    /// The caller gave up (放弃呼叫), or their line went silent: out of the
    /// queue, and a callback is owed.
    async fn abandoned(&mut self, ending: Ending) -> Waited {
        info!("the caller gave up waiting");
        self.leave(LeaveReason::Abandoned).await;
        self.record
            .missed(self.caller.callback_number(), &self.caller.community)
            .await;
        let hung_up_by = if ending.failure.is_some() {
            drop(self.call.dialog.bye().await);
            Side::Hotline
        } else {
            Side::Caller
        };
        Waited::Over { ending, hung_up_by }
    }

    /// The daemon stops while the caller waits.
    async fn stopped(&mut self) -> Waited {
        self.leave(LeaveReason::Shutdown).await;
        drop(self.call.dialog.bye().await);
        Waited::Over {
            ending: Ending::failed(CallFailure::Shutdown),
            hung_up_by: Side::Hotline,
        }
    }

    /// The call leaves the board's queue unanswered; its wait goes into the
    /// record.
    async fn leave(&self, reason: LeaveReason) {
        self.services
            .board
            .leave(&self.caller.call_id, reason)
            .await;
        self.record
            .queued(span(self.entered_at, reason.as_str()))
            .await;
    }

    /// Rings the operator's first reachable phone (the one registered last)
    /// until it answers, refuses, the ring times out or the caller gives up.
    async fn ring(&mut self, operator: &str, user_id: &str, phones: &[PhoneTarget]) -> Rang {
        let Some(phone) = phones.first() else {
            self.ring_failed(operator, RingFailure::Unreachable).await;
            return Rang::Failed;
        };
        let services = self.services;
        let media_ip = advertised_ip(services.media_ip, phone.address);
        let (socket, lease) = match services.ports.bind(media_ip).await {
            Ok(bound) => bound,
            Err(err) => {
                warn!(%err, "no RTP port for the operator's leg");
                self.ring_failed(operator, RingFailure::Unreachable).await;
                return Rang::Failed;
            }
        };
        let local = LocalMedia::new(
            u64::from(rand::random::<u32>()),
            SocketAddr::new(media_ip, lease.port()),
        );
        let started = SystemTime::now();
        let mut leg = CallLeg {
            id: uuid::Uuid::now_v7().to_string(),
            call_id: self.caller.call_id.clone(),
            user_id: user_id.to_string(),
            contact: phone.contact.clone(),
            ring_started_at: unix_millis(started),
            answered_at: None,
            ended_at: None,
            outcome: String::new(),
            sip_status: None,
        };
        let invite = self.invite(operator, phone, &local);
        let Ok(mut invite) = invite else {
            leg.outcome = OUTCOME_UNREACHABLE.to_string();
            self.record.leg(leg).await;
            self.ring_failed(operator, RingFailure::Unreachable).await;
            return Rang::Failed;
        };
        info!(operator, contact = %phone.contact, "ringing an operator");
        self.hear(Hearing::Ringback);
        let ring_deadline = Instant::now() + services.queue.ring_timeout;
        loop {
            let step = tokio::select! {
                response = invite.next_response() => RingStep::Response(response),
                () = tokio::time::sleep_until(ring_deadline) => RingStep::Timeout,
                event = self.call.media_events.recv() => RingStep::Media(event),
                event = self.call.dialog.next_event() => RingStep::Dialog(event.map(Box::new)),
                () = self.shutdown.cancelled() => RingStep::Shutdown,
            };
            let failure = match step {
                RingStep::Response(Some(Ok(InviteResponse::Provisional { .. }))) => continue,
                RingStep::Response(Some(Ok(InviteResponse::Answered(dialog)))) => {
                    let ringing = Ringing {
                        operator: operator.to_string(),
                        leg,
                        dialog,
                        socket,
                        lease,
                        local,
                    };
                    return bridge::put_through(self, ringing).await;
                }
                RingStep::Response(Some(Ok(InviteResponse::Rejected(status)))) => {
                    leg.sip_status = Some(i32::from(status.0));
                    refusal(status)
                }
                // An operator's phone has nothing to challenge us for.
                RingStep::Response(Some(Ok(InviteResponse::Challenged(challenge)))) => {
                    let status = challenge.status();
                    leg.sip_status = Some(i32::from(status.0));
                    refusal(status)
                }
                RingStep::Response(Some(Err(err))) => {
                    info!(%err, operator, "the operator's phone did not answer the INVITE");
                    if matches!(err, SipError::TransactionTimeout { .. }) {
                        services
                            .board
                            .phone_reachable(operator, &phone.contact, false)
                            .await;
                    }
                    RingFailure::Unreachable
                }
                RingStep::Response(None) => RingFailure::Unreachable,
                RingStep::Timeout => {
                    // The CANCEL goes now; the 487 and its ACK are the
                    // endpoint's (a 2xx crossing it is acknowledged and hung
                    // up there).
                    info!(operator, "ring timeout: next operator");
                    drop(invite);
                    RingFailure::NoAnswer
                }
                RingStep::Media(Some(MediaEvent::PlaybackFinished)) => {
                    self.hear(Hearing::Ringback);
                    continue;
                }
                RingStep::Media(Some(MediaEvent::Digit(_))) => continue,
                RingStep::Media(Some(MediaEvent::Inactive) | None) => {
                    drop(invite);
                    return self.left_while_ringing(operator, leg, true).await;
                }
                RingStep::Dialog(Some(event)) => {
                    if !self.caller_request(*event).await {
                        continue;
                    }
                    drop(invite);
                    return self.left_while_ringing(operator, leg, false).await;
                }
                RingStep::Dialog(None) => {
                    drop(invite);
                    return self.left_while_ringing(operator, leg, false).await;
                }
                RingStep::Shutdown => {
                    drop(invite);
                    leg.outcome = OUTCOME_CALLER_LEFT.to_string();
                    leg.ended_at = Some(unix_millis(SystemTime::now()));
                    self.record.leg(leg).await;
                    return Rang::Over(self.stopped().await);
                }
            };
            leg.outcome = outcome_of(failure).to_string();
            leg.ended_at = Some(unix_millis(SystemTime::now()));
            self.record.leg(leg).await;
            self.ring_failed(operator, failure).await;
            return Rang::Failed;
        }
    }

    /// The INVITE to the operator's phone, the screen pop published as it
    /// leaves.
    fn invite(
        &self,
        operator: &str,
        phone: &PhoneTarget,
        local: &LocalMedia,
    ) -> Result<InviteClient, SipError> {
        let services = self.services;
        let host = advertised_ip(services.endpoint.local_addr().ip(), phone.address);
        let host = match host {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        let from = Party::new(format!("sip:{}@{host}", sip_user(&self.caller.number)))
            .with_display_name(self.display_name.clone());
        let to = Party::new(format!("sip:{operator}@{host}"));
        let target = Target {
            addr: phone.address,
            transport: phone.transport,
            uri: phone.contact.clone(),
        };
        services.bus.publish(Event::CallOffered {
            operator: operator.to_string(),
            call_id: self.caller.call_id.clone(),
            community: self.caller.community.clone(),
            menu_choice: self.menu_choice.clone(),
            caller: Box::new(self.card.clone()),
            at: unix_millis(SystemTime::now()),
        });
        services
            .endpoint
            .invite(target, (from, to), Vec::new(), local.offer_body())
            .inspect_err(|err| warn!(%err, operator, "cannot ring the operator"))
    }

    async fn ring_failed(&self, operator: &str, failure: RingFailure) {
        self.services
            .board
            .ring_failed(&self.caller.call_id, operator, failure)
            .await;
    }

    /// The caller hung up (or went silent) while an operator's phone rang:
    /// the INVITE has been dropped, which cancels it at once.
    async fn left_while_ringing(&mut self, operator: &str, mut leg: CallLeg, silent: bool) -> Rang {
        leg.outcome = OUTCOME_CALLER_LEFT.to_string();
        leg.ended_at = Some(unix_millis(SystemTime::now()));
        self.record.leg(leg).await;
        self.ring_failed(operator, RingFailure::CallerLeft).await;
        let ending = if silent {
            Ending::failed(CallFailure::RtpTimeout)
        } else {
            Ending::CALLER_HANG_UP
        };
        Rang::Over(self.abandoned(ending).await)
    }

    /// The wait ended answered: its span goes into the record.
    pub(super) async fn answered(&self) {
        self.record.queued(span(self.entered_at, "answered")).await;
    }
}

/// What happened while a phone rang.
enum RingStep {
    Response(Option<Result<InviteResponse, SipError>>),
    Timeout,
    Media(Option<MediaEvent>),
    Dialog(Option<Box<DialogEvent>>),
    Shutdown,
}

/// `call_legs.outcome` values.
pub(super) const OUTCOME_ANSWERED: &str = "answered";
const OUTCOME_NO_ANSWER: &str = "no_answer";
const OUTCOME_REFUSED: &str = "refused";
const OUTCOME_UNREACHABLE: &str = "unreachable";
const OUTCOME_CALLER_LEFT: &str = "caller_left";

fn outcome_of(failure: RingFailure) -> &'static str {
    match failure {
        RingFailure::NoAnswer => OUTCOME_NO_ANSWER,
        RingFailure::Refused => OUTCOME_REFUSED,
        RingFailure::Unreachable => OUTCOME_UNREACHABLE,
        RingFailure::CallerLeft => OUTCOME_CALLER_LEFT,
    }
}

/// What a phone's final refusal says: busy or declined (the operator's
/// choice) or not there.
fn refusal(status: StatusCode) -> RingFailure {
    match status {
        StatusCode::BUSY_HERE
        | StatusCode::BUSY_EVERYWHERE
        | StatusCode::DECLINE
        | StatusCode::REQUEST_TERMINATED => RingFailure::Refused,
        _ => RingFailure::Unreachable,
    }
}

/// The user part of our From for a caller's number: its digits (and a
/// leading `+`), or `anonymous` for a number that has none.
fn sip_user(number: &str) -> String {
    let user: String = number
        .chars()
        .enumerate()
        .filter(|(index, c)| c.is_ascii_digit() || (*index == 0 && *c == '+'))
        .map(|(_, c)| c)
        .collect();
    if user.trim_start_matches('+').is_empty() {
        "anonymous".to_string()
    } else {
        user
    }
}

/// The call's time in the queue, from `entered_at` to now.
fn span(entered_at: SystemTime, outcome: &str) -> QueueSpan {
    QueueSpan {
        entered_at: unix_millis(entered_at),
        left_at: unix_millis(SystemTime::now()),
        outcome: outcome.to_string(),
    }
}

/// Durations in milliseconds for the record.
pub(super) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_declined_are_refusals_anything_else_is_unreachable() {
        for status in [486, 600, 603] {
            assert_eq!(refusal(StatusCode(status)), RingFailure::Refused);
        }
        for status in [404, 408, 480, 500, 503] {
            assert_eq!(refusal(StatusCode(status)), RingFailure::Unreachable);
        }
        assert_eq!(outcome_of(RingFailure::NoAnswer), "no_answer");
        assert_eq!(outcome_of(RingFailure::CallerLeft), "caller_left");
    }

    #[test]
    fn our_from_carries_the_callers_digits() {
        assert_eq!(sip_user("+86 138-1234-5678"), "+8613812345678");
        assert_eq!(sip_user("0871-65123456"), "087165123456");
        assert_eq!(sip_user("anonymous"), "anonymous");
        assert_eq!(sip_user("+"), "anonymous");
        assert_eq!(sip_user(""), "anonymous");
    }
}

//! One survey call (回访): dial the owner through the trunk, answer its
//! challenge, ring until the ring timeout, and once answered ask the
//! question, take one key (RFC 4733 or SIP INFO; the question once more
//! after none or a wrong one), thank and hang up. The call is recorded
//! (left = owner, right = the daemon) with a call record of its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::desk::callbacks::{AttemptOutcome, AttemptReport, Satisfaction};
use crate::desk::{EndReason, VoiceMessageReporter};
use crate::media::{MediaEvent, Prompt};
use crate::sip::{
    ClientDialog, DialogEvent, InviteResponse, Party, SipError, StatusCode, Target, advertised_ip,
};
use crate::store::{CallWrite, NewCall, unix_millis};

use super::super::failure::CallFailure;
use super::super::inbound::answer::{mark_answered, open_recording, session_params};
use super::super::inbound::conversation::{answer_info, answer_reinvite, refuse_in_dialog};
use super::super::inbound::offer::{self, LocalMedia};
use super::super::record::{CallRecordWriter, Ended, Side};
use super::super::service::CallServices;
use super::trunks::Trunk;

/// The longest a survey call may last once answered (the question twice
/// and the thanks take well under a minute).
const MAX_SURVEY: std::time::Duration = std::time::Duration::from_secs(180);
/// Challenges answered per call (one per header kind is all a trunk asks).
const MAX_CHALLENGES: usize = 2;

/// What the survey needs to know of its call.
pub(super) struct SurveyCall<'a> {
    pub(super) services: &'a Arc<CallServices>,
    pub(super) trunk: &'a Trunk,
    pub(super) number: &'a str,
    pub(super) community: &'a str,
    /// The question for this work order, and the question alone.
    pub(super) question: Prompt,
    pub(super) again: Prompt,
    pub(super) thanks: Prompt,
    pub(super) ring_timeout: std::time::Duration,
    pub(super) digit_timeout: std::time::Duration,
}

/// Where the INVITE went.
struct Dialled {
    report: AttemptReport,
    answered: Option<(
        ClientDialog,
        LocalMedia,
        tokio::net::UdpSocket,
        crate::media::PortLease,
    )>,
}

fn report(outcome: AttemptOutcome, status: Option<u16>, responses: Vec<u16>) -> AttemptReport {
    AttemptReport {
        outcome,
        sip_status: status,
        responses,
        call_id: None,
        digit: None,
        satisfaction: None,
    }
}

/// Places the call and, when answered, runs the survey; what it came to.
pub(super) async fn call(survey: SurveyCall<'_>, shutdown: &CancellationToken) -> AttemptReport {
    let dialled = dial(&survey, shutdown).await;
    let Some((dialog, local, socket, lease)) = dialled.answered else {
        return dialled.report;
    };
    let mut report = dialled.report;
    converse(&survey, dialog, local, socket, lease, &mut report, shutdown).await;
    report
}

/// The SIP user of a number: digits, `+` kept.
fn sip_user(number: &str) -> String {
    number
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

fn host_of(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        v4 => v4.to_string(),
    }
}

async fn dial(survey: &SurveyCall<'_>, shutdown: &CancellationToken) -> Dialled {
    let services = survey.services;
    let trunk = &survey.trunk.config;
    let failed = |outcome| Dialled {
        report: report(outcome, None, Vec::new()),
        answered: None,
    };
    let media_ip = advertised_ip(services.media_ip, trunk.address);
    let Ok((socket, lease)) = services.ports.bind(media_ip).await else {
        warn!("no RTP port for a callback");
        return failed(AttemptOutcome::TrunkFailure);
    };
    let local = LocalMedia::new(
        u64::from(rand::random::<u32>()),
        SocketAddr::new(media_ip, lease.port()),
    );
    let ours = advertised_ip(services.endpoint.local_addr().ip(), trunk.address);
    let ours = host_of(SocketAddr::new(ours, services.endpoint.local_addr().port()));
    let caller = format!("sip:{}@{ours}", sip_user(&trunk.caller_id));
    let user = sip_user(survey.number);
    let target = Target {
        addr: trunk.address,
        transport: survey.trunk.transport(),
        uri: format!("sip:{user}@{}", host_of(trunk.address)),
    };
    let to = Party::new(format!("sip:{user}@{}", host_of(trunk.address)));
    let headers = vec![("P-Asserted-Identity".to_owned(), format!("<{caller}>"))];
    let invite = services.endpoint.invite(
        target,
        (Party::new(caller.clone()), to),
        headers,
        local.offer_body(),
    );
    let Ok(mut invite) = invite else {
        return failed(AttemptOutcome::TrunkFailure);
    };
    let mut responses = Vec::new();
    let mut challenges = 0;
    let deadline = tokio::time::Instant::now() + survey.ring_timeout;
    loop {
        let next = tokio::select! {
            next = invite.next_response() => next,
            () = tokio::time::sleep_until(deadline) => {
                // The CANCEL goes as the handle is dropped; a 2xx crossing
                // it is acknowledged and hung up by the endpoint.
                info!("callback: no answer within the ring timeout");
                drop(invite);
                return Dialled {
                    report: report(AttemptOutcome::NoAnswer, None, responses),
                    answered: None,
                };
            }
            () = shutdown.cancelled() => {
                drop(invite);
                return failed(AttemptOutcome::Interrupted);
            }
        };
        match next {
            Some(Ok(InviteResponse::Provisional { status, .. })) => responses.push(status.0),
            Some(Ok(InviteResponse::Answered(dialog))) => {
                responses.push(StatusCode::OK.0);
                return Dialled {
                    report: report(AttemptOutcome::Answered, Some(200), responses),
                    answered: Some((dialog, local, socket, lease)),
                };
            }
            Some(Ok(InviteResponse::Challenged(challenge))) => {
                let status = challenge.status().0;
                responses.push(status);
                let credentials = trunk.username.as_deref().zip(trunk.password.as_deref());
                let realm_ok = challenge
                    .challenges
                    .iter()
                    .any(|c| survey.trunk.answers_realm(c));
                match credentials {
                    Some((username, password)) if challenges < MAX_CHALLENGES && realm_ok => {
                        challenges += 1;
                        match invite.authenticate(&challenge, username, password) {
                            Ok(again) => invite = again,
                            Err(err) => {
                                warn!(%err, "callback: cannot answer the trunk's challenge");
                                return rejected(status, responses);
                            }
                        }
                    }
                    _ => {
                        warn!(
                            status,
                            "callback: the trunk wants credentials we do not have"
                        );
                        return rejected(status, responses);
                    }
                }
            }
            Some(Ok(InviteResponse::Rejected(status))) => {
                responses.push(status.0);
                info!(status = status.0, "callback: not answered");
                return rejected(status.0, responses);
            }
            Some(Err(err)) => {
                info!(%err, "callback: the trunk did not answer");
                let outcome = match err {
                    SipError::TransactionTimeout { .. } => AttemptOutcome::TrunkFailure,
                    _ => AttemptOutcome::TrunkFailure,
                };
                return Dialled {
                    report: report(outcome, None, responses),
                    answered: None,
                };
            }
            None => return failed(AttemptOutcome::TrunkFailure),
        }
    }
}

fn rejected(status: u16, responses: Vec<u16>) -> Dialled {
    let outcome = match status {
        // A challenge we could not answer is the trunk's failure.
        401 | 407 => AttemptOutcome::TrunkFailure,
        other => AttemptOutcome::of_status(other),
    };
    Dialled {
        report: report(outcome, Some(status), responses),
        answered: None,
    }
}

/// Where the survey is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The question plays (a key may come already).
    Asking { again: bool },
    /// The question is over; a key is awaited until the timer.
    Waiting { again: bool },
    /// The thanks play; then BYE.
    Thanking,
}

#[allow(clippy::too_many_arguments)]
async fn converse(
    survey: &SurveyCall<'_>,
    mut dialog: ClientDialog,
    mut local: LocalMedia,
    socket: tokio::net::UdpSocket,
    _lease: crate::media::PortLease,
    report: &mut AttemptReport,
    shutdown: &CancellationToken,
) {
    let services = survey.services;
    let call_id = uuid::Uuid::now_v7().to_string();
    report.call_id = Some(call_id.clone());
    let number = survey.number.to_owned();
    let new_call = NewCall {
        id: call_id.clone(),
        sip_call_id: dialog_call_id(&dialog),
        direction: "outbound".to_owned(),
        caller_raw: number.clone(),
        caller: Some(number.clone()),
        dialled: number,
        community: Some(survey.community.to_owned()),
        offered_at: unix_millis(SystemTime::now()),
        node: services.node.clone(),
    };
    let mut record = CallRecordWriter {
        services: services.clone(),
        id: call_id.clone(),
        reporter: VoiceMessageReporter::default(),
    };
    let ended = |reason, failure, duration_ms, sha256, side| Ended {
        at: SystemTime::now(),
        reason,
        failure,
        status: Some(StatusCode::OK),
        duration_ms,
        sha256,
        hung_up_by: Some(side),
    };
    let offered = CallWrite::Offered {
        call: new_call,
        caller: None,
    };
    if let Err(err) = services.journal.write(offered).await {
        warn!(%err, "cannot record the survey call");
        drop(dialog.bye().await);
        report.call_id = None;
        return;
    }
    let negotiated = match offer::read_ack_answer(dialog.answer()) {
        Ok(negotiated) => negotiated,
        Err(failure) => {
            info!(
                code = failure.code(),
                "the owner's phone answered without usable SDP"
            );
            drop(dialog.bye().await);
            record
                .ended(ended(
                    EndReason::Error,
                    Some(failure),
                    None,
                    None,
                    Side::Hotline,
                ))
                .await;
            return;
        }
    };
    let recorder = match open_recording(services, survey.community, &call_id).await {
        Ok(opened) => opened,
        Err(failure) => {
            drop(dialog.bye().await);
            record
                .ended(ended(
                    EndReason::Error,
                    Some(failure),
                    None,
                    None,
                    Side::Hotline,
                ))
                .await;
            return;
        }
    };
    let (recorder, relative_path) = recorder;
    let params = session_params(services, &negotiated);
    let Ok((media, mut events)) = services.media.start_session(socket, params, recorder).await
    else {
        drop(dialog.bye().await);
        let failure = Some(CallFailure::Shutdown);
        record
            .ended(ended(
                EndReason::Shutdown,
                failure,
                None,
                None,
                Side::Hotline,
            ))
            .await;
        return;
    };
    let answered_at = Instant::now();
    mark_answered(services, &call_id, relative_path).await;
    media.play(survey.question.clone());
    let mut stage = Stage::Asking { again: false };
    let mut timer: Option<tokio::time::Instant> = None;
    let hard_stop = tokio::time::Instant::now() + MAX_SURVEY;
    let mut digit: Option<char> = None;
    let (reason, failure, side) = loop {
        enum Woke {
            Media(Option<MediaEvent>),
            Dialog(Option<Box<DialogEvent>>),
            Timer,
            Stop,
        }
        let timer_at = timer.unwrap_or(hard_stop).min(hard_stop);
        let woke = tokio::select! {
            event = events.recv() => Woke::Media(event),
            event = dialog.next_event() => Woke::Dialog(event.map(Box::new)),
            () = tokio::time::sleep_until(timer_at) => Woke::Timer,
            () = shutdown.cancelled() => Woke::Stop,
        };
        let key = match woke {
            Woke::Media(Some(MediaEvent::Digit(d))) => Some(d.as_char()),
            Woke::Media(Some(MediaEvent::PlaybackFinished)) => {
                match stage {
                    Stage::Asking { again } => {
                        stage = Stage::Waiting { again };
                        timer = Some(tokio::time::Instant::now() + survey.digit_timeout);
                    }
                    Stage::Thanking => {
                        drop(dialog.bye().await);
                        break (EndReason::HotlineHangUp, None, Side::Hotline);
                    }
                    Stage::Waiting { .. } => {}
                }
                None
            }
            Woke::Media(Some(MediaEvent::Inactive) | None) => {
                drop(dialog.bye().await);
                break (
                    EndReason::RtpTimeout,
                    Some(CallFailure::RtpTimeout),
                    Side::Hotline,
                );
            }
            Woke::Dialog(Some(event)) => match *event {
                DialogEvent::Bye => break (EndReason::CallerHangUp, None, Side::Caller),
                DialogEvent::Info(info) => answer_info(info).await,
                DialogEvent::ReInvite(reinvite) => {
                    if let Some(negotiated) = answer_reinvite(&mut local, reinvite).await {
                        media.update(
                            negotiated.remote_rtp,
                            offer::media_codec(negotiated.codec),
                            negotiated.telephone_event_pt,
                        );
                        media.set_direction(offer::media_direction(&negotiated));
                    }
                    None
                }
                DialogEvent::Other(other) => {
                    refuse_in_dialog(other).await;
                    None
                }
            },
            Woke::Dialog(None) => break (EndReason::CallerHangUp, None, Side::Caller),
            Woke::Timer if tokio::time::Instant::now() >= hard_stop => {
                drop(dialog.bye().await);
                break (EndReason::HotlineHangUp, None, Side::Hotline);
            }
            Woke::Timer => {
                timer = None;
                match stage {
                    Stage::Waiting { again: false } => {
                        media.play(survey.again.clone());
                        stage = Stage::Asking { again: true };
                    }
                    Stage::Waiting { again: true } => {
                        media.play(survey.thanks.clone());
                        stage = Stage::Thanking;
                    }
                    _ => {}
                }
                None
            }
            Woke::Stop => {
                drop(dialog.bye().await);
                break (
                    EndReason::Shutdown,
                    Some(CallFailure::Shutdown),
                    Side::Hotline,
                );
            }
        };
        let (Some(key), Stage::Asking { again } | Stage::Waiting { again }) = (key, stage) else {
            continue;
        };
        match Satisfaction::from_digit(key) {
            Some(answer) => {
                info!(digit = %key, "survey answered");
                digit = Some(key);
                report.satisfaction = Some(answer);
                timer = None;
                media.play(survey.thanks.clone());
                stage = Stage::Thanking;
            }
            None if !again => {
                digit = Some(key);
                timer = None;
                media.play(survey.again.clone());
                stage = Stage::Asking { again: true };
            }
            None => {
                digit = Some(key);
                timer = None;
                media.play(survey.thanks.clone());
                stage = Stage::Thanking;
            }
        }
    };
    report.digit = digit;
    let (duration_ms, sha256) = match media.stop().await {
        Ok((recorder, _stats)) => match recorder.finish().await {
            Ok(summary) => (
                i64::try_from(summary.duration.as_millis()).ok(),
                Some(summary.sha256),
            ),
            Err(err) => {
                warn!(%err, "the survey's recording could not be finished");
                (None, None)
            }
        },
        Err(err) => {
            warn!(%err, "media session lost");
            (None, None)
        }
    };
    let duration_ms = duration_ms.or_else(|| i64::try_from(answered_at.elapsed().as_millis()).ok());
    record
        .ended(ended(reason, failure, duration_ms, sha256, side))
        .await;
}

fn dialog_call_id(dialog: &ClientDialog) -> String {
    dialog.call_id().to_owned()
}

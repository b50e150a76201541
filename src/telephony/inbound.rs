//! One inbound call, from INVITE to the finished call record, in one task:
//! refuse it or ring it, answer it, run the IVR over its media session,
//! record it, and write what happened into the store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::desk::{self, AreaCode};
use crate::media::{Codec, MediaEvent, MediaHandle, PortLease, SessionParams};
use crate::recording::CallRecorder;
use crate::sip::sdp::{self, AudioCodec, Direction, Negotiated, Sdp};
use crate::sip::{
    ALLOW, DialogEvent, InviteServer, NonInviteServer, ReInvite, ServerDialog, SipError,
    StatusCode, advertised_ip,
};
use crate::store::{CallWrite, NewCall, unix_millis};

use super::caller::look_up_caller;
use super::config::{CommunityConfig, MENU_CHOICE_OTHER};
use super::content::{self, DTMF_RELAY};
use super::failure::CallFailure;
use super::ivr::{Choice, Ivr, IvrAction, IvrEvent};
use super::offer::{Offer, read_offer};
use super::record::CallRecordWriter;
use super::service::CallServices;

/// How a call that was answered ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    CallerHangUp,
    HotlineHangUp,
    Failure(CallFailure),
}

impl Ending {
    fn reason(self) -> &'static str {
        match self {
            Ending::CallerHangUp => "caller_hangup",
            Ending::HotlineHangUp => "hotline_hangup",
            Ending::Failure(CallFailure::Shutdown) => "shutdown",
            Ending::Failure(CallFailure::RtpTimeout) => "rtp_timeout",
            Ending::Failure(CallFailure::AckTimeout) => "ack_timeout",
            Ending::Failure(_) => "error",
        }
    }
}

/// Handles one INVITE to its end.
pub(crate) async fn handle(
    services: Arc<CallServices>,
    invite: InviteServer,
    shutdown: CancellationToken,
) {
    let caller = desk::normalise(&caller_of(&invite), None)
        .map(|number| number.mask())
        .unwrap_or_else(|_| "unknown".to_string());
    let span = info_span!("call", call_id = %invite.request().call_id(), from = %caller);
    handle_invite(services, invite, shutdown)
        .instrument(span)
        .await;
}

/// The caller: P-Asserted-Identity when the trunk sends it, else From.
fn caller_of(invite: &InviteServer) -> String {
    let request = invite.request();
    request
        .p_asserted_identity_user()
        .or_else(|| request.from_user().map(str::to_string))
        .unwrap_or_default()
}

async fn handle_invite(
    services: Arc<CallServices>,
    invite: InviteServer,
    shutdown: CancellationToken,
) {
    let request = invite.request();
    let source = request.source();
    if !services.hotline.is_trusted(source.ip()) {
        info!(%source, "refused: not a trusted trunk");
        invite.reject(CallFailure::UntrustedSource.status()).await;
        return;
    }
    let dialled = request.request_uri_user().unwrap_or_default().to_string();
    let Some(community) = services.hotline.community_for(&dialled).cloned() else {
        info!(dialled, "refused: not a hotline number");
        invite.reject(CallFailure::UnknownNumber.status()).await;
        return;
    };
    let caller_raw = caller_of(&invite);
    let area_code = community
        .area_code
        .as_deref()
        .and_then(|code| AreaCode::parse(code).ok());
    let caller = desk::normalise(&caller_raw, area_code.as_ref())
        .ok()
        .map(|number| number.number().to_string());
    let call = NewCall {
        id: uuid::Uuid::now_v7().to_string(),
        sip_call_id: request.call_id().to_string(),
        direction: "inbound".to_string(),
        caller_raw,
        caller,
        dialled,
        community: Some(community.code.clone()),
        offered_at: unix_millis(SystemTime::now()),
        node: services.node.clone(),
    };
    let caller = look_up_caller(&services, &call.caller_raw, area_code.as_ref()).await;
    let call_id = call.id.clone();
    if let Err(err) = services
        .journal
        .write(CallWrite::Offered {
            call,
            caller: Some(caller.stored),
        })
        .await
    {
        warn!(%err, "cannot record the call; refusing it");
        invite.reject(StatusCode::SERVICE_UNAVAILABLE).await;
        return;
    }
    let mut record = CallRecordWriter {
        services: services.clone(),
        id: call_id.clone(),
        reporter: caller.reporter,
    };
    match ring_and_answer(&services, &community, &call_id, invite, &shutdown).await {
        Err(Refused {
            status,
            reason,
            code,
        }) => {
            record
                .ended(SystemTime::now(), reason, code, Some(status), None, None)
                .await;
        }
        Ok(answered) => {
            let outcome = run_answered(&services, &record, answered, &shutdown).await;
            let code = match outcome.ending {
                Ending::Failure(failure) => Some(failure.code()),
                _ => None,
            };
            record
                .ended(
                    outcome.ended_at,
                    outcome.ending.reason(),
                    code,
                    Some(StatusCode::OK),
                    outcome.duration_ms,
                    outcome.sha256,
                )
                .await;
            if outcome.message_taken {
                record.voicemail_ticket().await;
            }
        }
    }
}

/// Why a call ended before it was answered.
struct Refused {
    status: StatusCode,
    reason: &'static str,
    code: Option<&'static str>,
}

impl Refused {
    fn failure(failure: CallFailure) -> Refused {
        Refused {
            status: failure.status(),
            reason: "rejected",
            code: Some(failure.code()),
        }
    }
}

/// An answered call, ready for the IVR.
struct Answered {
    dialog: ServerDialog,
    media: MediaHandle<CallRecorder>,
    /// Keeps the RTP port ours for the life of the call.
    _port: PortLease,
    media_events: mpsc::Receiver<MediaEvent>,
    negotiated: Negotiated,
    answered_at: Instant,
    sdp_version: u64,
    session_id: u64,
    local_rtp: std::net::SocketAddr,
}

async fn ring_and_answer(
    services: &Arc<CallServices>,
    community: &CommunityConfig,
    call_id: &str,
    mut invite: InviteServer,
    shutdown: &CancellationToken,
) -> Result<Answered, Refused> {
    let offered = match read_offer(invite.request()) {
        Ok(offered) => offered,
        Err(refusal) => {
            info!(%refusal, "refused");
            let failure = refusal.failure();
            invite
                .reject_with(refusal.status(), refusal.headers())
                .await;
            return Err(Refused::failure(failure));
        }
    };
    // The address in our SDP, which the caller sends its RTP to.
    let media_ip = advertised_ip(services.media_ip, invite.request().source());
    let (socket, lease) = match services.ports.bind(media_ip).await {
        Ok(bound) => bound,
        Err(err) => {
            warn!(%err, "refused: no RTP port");
            invite.reject(CallFailure::NoMediaPort.status()).await;
            return Err(Refused::failure(CallFailure::NoMediaPort));
        }
    };
    invite.ringing().await;
    tokio::select! {
        () = tokio::time::sleep(services.hotline.answer_delay) => {}
        () = invite.cancelled() => {
            info!("cancelled before answer");
            return Err(Refused { status: StatusCode::REQUEST_TERMINATED, reason: "cancelled", code: None });
        }
        () = shutdown.cancelled() => {
            invite.reject(CallFailure::Shutdown.status()).await;
            return Err(Refused::failure(CallFailure::Shutdown));
        }
    }
    let session_id = u64::from(rand::random::<u32>());
    let local_port = lease.port();
    let body = match &offered {
        Some(offer) => sdp::build_answer(
            &offer.sdp,
            session_id,
            1,
            media_ip,
            local_port,
            &offer.negotiated,
        ),
        None => sdp::build_offer(session_id, 1, media_ip, local_port, Direction::SendRecv),
    };
    let recorder = match open_recording(services, community, call_id).await {
        Ok(recorder) => recorder,
        Err(failure) => {
            invite.reject(failure.status()).await;
            return Err(Refused::failure(failure));
        }
    };
    let dialog = match invite.answer(body).await {
        Ok(answered) => answered,
        Err(SipError::DialogEnded { .. }) => {
            // Our ACK was lost and the caller's BYE came instead.
            info!("caller hung up before the ACK arrived");
            drop(recorder.0.finish().await);
            return Err(Refused {
                status: StatusCode::OK,
                reason: Ending::CallerHangUp.reason(),
                code: None,
            });
        }
        Err(err) => {
            warn!(%err, "answer not acknowledged");
            drop(recorder.0.finish().await);
            return Err(Refused {
                status: StatusCode::OK,
                reason: Ending::Failure(CallFailure::AckTimeout).reason(),
                code: Some(CallFailure::AckTimeout.code()),
            });
        }
    };
    let negotiated = match offered {
        Some(Offer { negotiated, .. }) => negotiated,
        // RFC 3264 §5: with no offer in the INVITE, ours went in the 200 and
        // the answer comes in the ACK.
        None => match Sdp::parse(dialog.ack_body())
            .map_err(|_| ())
            .and_then(|answer| sdp::accept_answer(&answer).map_err(|_| ()))
        {
            Ok(negotiated) => negotiated,
            Err(()) => {
                info!("ACK carried no usable SDP answer; hanging up");
                let mut dialog = dialog;
                drop(dialog.bye().await);
                drop(recorder.0.finish().await);
                return Err(Refused {
                    status: StatusCode::OK,
                    reason: "rejected",
                    code: Some(CallFailure::BadSdp.code()),
                });
            }
        },
    };
    let (recorder, relative_path) = recorder;
    let params = SessionParams {
        remote: negotiated.remote_rtp,
        codec: media_codec(negotiated.codec),
        dtmf_payload_type: negotiated.telephone_event_pt,
        inactivity_timeout: services.inactivity_timeout,
    };
    // The recording runs from here: the answer time is taken with it, so
    // the WAV and the call record measure the same span.
    let Ok((media, media_events)) = services.media.start_session(socket, params, recorder).await
    else {
        // Only while the runtime shuts down: the engine dropped the
        // recorder, which finalises the file.
        let mut dialog = dialog;
        drop(dialog.bye().await);
        return Err(Refused {
            status: StatusCode::OK,
            reason: "rejected",
            code: Some(CallFailure::Shutdown.code()),
        });
    };
    media.set_hold(negotiated.direction != Direction::SendRecv);
    let answered_at = Instant::now();
    // Queued, not waited for: the caller may hang up at once, and the BYE
    // must not wait for a commit to be answered. The journal keeps the
    // order of this call's writes and logs a failure.
    if let Err(err) = services
        .journal
        .queue(CallWrite::Answered {
            id: call_id.to_string(),
            answered_at: unix_millis(SystemTime::now()),
            recording_path: Some(relative_path),
        })
        .await
    {
        warn!(%err, "cannot mark the call answered");
    }
    Ok(Answered {
        dialog,
        media,
        _port: lease,
        media_events,
        negotiated,
        answered_at,
        sdp_version: 1,
        session_id,
        local_rtp: std::net::SocketAddr::new(media_ip, local_port),
    })
}

fn media_codec(codec: AudioCodec) -> Codec {
    match codec {
        AudioCodec::Pcmu => Codec::Pcmu,
        AudioCodec::Pcma => Codec::Pcma,
    }
}

/// Opens the call's recording at `<root>/<community>/YYYY/MM/DD/<call id>.wav`
/// (the date in the configured zone); returns it with the path relative to
/// the root, which is what the call record keeps.
async fn open_recording(
    services: &Arc<CallServices>,
    community: &CommunityConfig,
    call_id: &str,
) -> Result<(CallRecorder, String), CallFailure> {
    let today = chrono::Utc::now().with_timezone(&services.time_zone);
    let relative = format!(
        "{}/{}/{call_id}.wav",
        community.code,
        today.format("%Y/%m/%d")
    );
    let path: PathBuf = services.recordings_root.join(&relative);
    // Creating a file can wait on the filesystem's journal: the recording
    // service's creator thread does it, not a runtime worker, where it
    // would hold up the media ticks and the other calls.
    match services.recordings.open_async(path).await {
        Ok(recorder) => Ok((recorder, relative)),
        Err(err) => {
            warn!(%err, "cannot open the recording; refusing the call");
            Err(CallFailure::RecordingFailed)
        }
    }
}

/// What an answered call came to.
struct Outcome {
    ending: Ending,
    /// When the call ended (before the recording was finalised).
    ended_at: SystemTime,
    /// The recording's length.
    duration_ms: Option<i64>,
    sha256: Option<String>,
    /// A voice message was recorded (it becomes a work order).
    message_taken: bool,
}

/// Runs the IVR over an answered call to its end.
async fn run_answered(
    services: &Arc<CallServices>,
    record: &CallRecordWriter,
    mut call: Answered,
    shutdown: &CancellationToken,
) -> Outcome {
    let mut ivr = Ivr::new(services.ivr.clone(), services.voicemail.clone());
    let mut timer: Option<(tokio::time::Instant, u32)> = None;
    let mut voicemail_start: Option<i64> = None;
    let mut pending = ivr.start();
    let ending = loop {
        for action in std::mem::take(&mut pending) {
            match action {
                IvrAction::Play(id) => call.media.play(services.prompts.get(id).clone()),
                IvrAction::StartTimer { after, generation } => {
                    timer = Some((tokio::time::Instant::now() + after, generation));
                }
                IvrAction::MenuChosen(choice) => {
                    let (digit, code) = match choice {
                        Choice::Digit(digit, menu) => (Some(digit.to_string()), menu.code()),
                        Choice::Other => (None, MENU_CHOICE_OTHER),
                    };
                    info!(choice = code, "menu choice");
                    record.menu_choice(digit.as_deref(), code).await;
                }
                IvrAction::VoicemailStarted => voicemail_start = Some(elapsed_ms(call.answered_at)),
                IvrAction::VoicemailEnded => {
                    let end = elapsed_ms(call.answered_at);
                    record.voicemail(voicemail_start.unwrap_or(end), end).await;
                }
                IvrAction::HangUp => {}
            }
            if action == IvrAction::HangUp {
                if let Err(err) = call.dialog.bye().await {
                    info!(%err, "our BYE was not answered");
                }
                break;
            }
        }
        if ivr.is_done() {
            break Ending::HotlineHangUp;
        }
        let timer_at = timer.map(|(at, _)| at);
        tokio::select! {
            event = call.media_events.recv() => match event {
                Some(MediaEvent::Digit(digit)) => pending = ivr.handle(IvrEvent::Digit(digit.as_char())),
                Some(MediaEvent::PlaybackFinished) => pending = ivr.handle(IvrEvent::PromptFinished),
                Some(MediaEvent::Inactive) | None => {
                    info!("no RTP from the caller; hanging up");
                    close_message(&mut ivr, record, &call, voicemail_start).await;
                    drop(call.dialog.bye().await);
                    break Ending::Failure(CallFailure::RtpTimeout);
                }
            },
            event = call.dialog.next_event() => match event {
                Some(DialogEvent::Bye) => {
                    close_message(&mut ivr, record, &call, voicemail_start).await;
                    break Ending::CallerHangUp;
                }
                Some(DialogEvent::ReInvite(reinvite)) => answer_reinvite(&mut call, reinvite).await,
                Some(DialogEvent::Info(info)) => {
                    if let Some(digit) = answer_info(info).await {
                        pending = ivr.handle(IvrEvent::Digit(digit));
                    }
                }
                Some(DialogEvent::Other(other)) => {
                    let allow = vec![("Allow".to_string(), ALLOW.to_string())];
                    other.respond(StatusCode::METHOD_NOT_ALLOWED, allow, None).await;
                }
                None => {
                    close_message(&mut ivr, record, &call, voicemail_start).await;
                    break Ending::CallerHangUp;
                }
            },
            () = sleep_until(timer_at), if timer_at.is_some() => {
                if let Some((_, generation)) = timer.take() {
                    pending = ivr.handle(IvrEvent::Timer(generation));
                }
            }
            () = shutdown.cancelled() => {
                close_message(&mut ivr, record, &call, voicemail_start).await;
                drop(call.dialog.bye().await);
                break Ending::Failure(CallFailure::Shutdown);
            }
        }
    };
    let ended_at = SystemTime::now();
    let duration_ms = elapsed_ms(call.answered_at);
    let message_taken = voicemail_start.is_some();
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
        message_taken,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A hang-up while the message is being recorded ends the message there.
async fn close_message(
    ivr: &mut Ivr,
    record: &CallRecordWriter,
    call: &Answered,
    voicemail_start: Option<i64>,
) {
    if ivr.hung_up().contains(&IvrAction::VoicemailEnded) {
        let end = elapsed_ms(call.answered_at);
        record.voicemail(voicemail_start.unwrap_or(end), end).await;
    }
}

/// Hold and resume (RFC 3264 §8.4): answer the direction the caller asks
/// for and stop or restart sending.
async fn answer_reinvite(call: &mut Answered, reinvite: ReInvite) {
    let Offer {
        sdp: offer,
        negotiated,
    } = match read_offer(reinvite.request()) {
        Ok(Some(offer)) => offer,
        Ok(None) => {
            // An offerless re-INVITE: offer what we have (RFC 3264 §5).
            call.sdp_version += 1;
            let body = sdp::build_offer(
                call.session_id,
                call.sdp_version,
                call.local_rtp.ip(),
                call.local_rtp.port(),
                Direction::SendRecv,
            );
            drop(reinvite.answer(body).await);
            return;
        }
        Err(refusal) => {
            info!(%refusal, "re-INVITE refused");
            reinvite
                .reject_with(refusal.status(), refusal.headers())
                .await;
            return;
        }
    };
    call.sdp_version += 1;
    let body = sdp::build_answer(
        &offer,
        call.session_id,
        call.sdp_version,
        call.local_rtp.ip(),
        call.local_rtp.port(),
        &negotiated,
    );
    let on_hold = negotiated.direction != Direction::SendRecv;
    info!(on_hold, "re-INVITE");
    call.media.update(
        negotiated.remote_rtp,
        media_codec(negotiated.codec),
        negotiated.telephone_event_pt,
    );
    call.media.set_hold(on_hold);
    call.negotiated = negotiated;
    drop(reinvite.answer(body).await);
}

/// Answer an INFO: 415 with Accept for a body that is not
/// `application/dtmf-relay` (RFC 3261 §8.2.3), else 200; the digit it
/// carried, if any.
async fn answer_info(info: NonInviteServer) -> Option<char> {
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

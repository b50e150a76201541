//! Answering an admitted call: read the offer, take an RTP port, ring,
//! open the recording, send our 200 and wait for its ACK, then start the
//! media session; or say why the call ended before it was answered.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::media::{MediaEvent, MediaHandle, PortLease, SessionParams};
use crate::recording::CallRecorder;
use crate::sip::sdp::Negotiated;
use crate::sip::{InviteServer, ServerDialog, SipError, StatusCode, advertised_ip};
use crate::store::{CallWrite, unix_millis};

use super::super::config::CommunityConfig;
use super::super::failure::CallFailure;
use super::super::service::CallServices;
use super::Ending;
use super::offer::{self, LocalMedia, Offered};

/// A call that ended before it was answered: the final status the caller
/// got (200 when our answer was sent but the call did not get going) and
/// how the record ends.
#[derive(Debug)]
pub(super) struct Refused {
    pub(super) status: StatusCode,
    pub(super) ending: Ending,
}

impl Refused {
    fn failure(failure: CallFailure) -> Refused {
        Refused {
            status: failure.status(),
            ending: Ending::refused(failure),
        }
    }

    /// Our 200 went out, but the call ended before its media started.
    fn after_answer(ending: Ending) -> Refused {
        Refused {
            status: StatusCode::OK,
            ending,
        }
    }
}

/// An answered call, ready for the IVR.
pub(super) struct Answered {
    pub(super) dialog: ServerDialog,
    pub(super) media: MediaHandle<CallRecorder>,
    /// Keeps the RTP port ours for the life of the call.
    pub(super) _port: PortLease,
    pub(super) media_events: mpsc::Receiver<MediaEvent>,
    pub(super) negotiated: Negotiated,
    pub(super) answered_at: Instant,
    pub(super) local: LocalMedia,
}

/// Rings and answers the call; see the module doc.
pub(super) async fn answer_call(
    services: &Arc<CallServices>,
    community: &CommunityConfig,
    call_id: &str,
    mut invite: InviteServer,
    shutdown: &CancellationToken,
) -> Result<Answered, Refused> {
    let offered = match offer::read_offer(invite.request()) {
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
            return Err(reject(invite, CallFailure::NoMediaPort).await);
        }
    };
    invite.ringing().await;
    let invite = ring(services, invite, shutdown).await?;
    let local = LocalMedia::new(
        u64::from(rand::random::<u32>()),
        std::net::SocketAddr::new(media_ip, lease.port()),
    );
    let body = local.first_body(offered.as_ref());
    let (recorder, relative_path) = match open_recording(services, &community.code, call_id).await {
        Ok(recorder) => recorder,
        Err(failure) => return Err(reject(invite, failure).await),
    };
    let (dialog, negotiated) = match send_answer(invite, body, offered).await {
        Ok(answered) => answered,
        Err(refused) => {
            drop(recorder.finish().await);
            return Err(refused);
        }
    };
    let params = session_params(services, &negotiated);
    // The recording runs from here: the answer time is taken with it, so
    // the WAV and the call record measure the same span.
    let Ok((media, media_events)) = services.media.start_session(socket, params, recorder).await
    else {
        // Only while the runtime shuts down: the engine dropped the
        // recorder, which finalises the file.
        let mut dialog = dialog;
        drop(dialog.bye().await);
        return Err(Refused::after_answer(Ending::failed(CallFailure::Shutdown)));
    };
    let answered_at = Instant::now();
    mark_answered(services, call_id, relative_path).await;
    Ok(Answered {
        dialog,
        media,
        _port: lease,
        media_events,
        negotiated,
        answered_at,
        local,
    })
}

/// A media session's parameters for what offer/answer settled (the
/// caller's leg, or an operator's).
pub(crate) fn session_params(services: &CallServices, negotiated: &Negotiated) -> SessionParams {
    SessionParams {
        remote: negotiated.remote_rtp,
        codec: offer::media_codec(negotiated.codec),
        dtmf_payload_type: negotiated.telephone_event_pt,
        inactivity_timeout: services.inactivity_timeout,
        direction: offer::media_direction(negotiated),
        speech_threshold: services.speech_threshold,
    }
}

async fn reject(invite: InviteServer, failure: CallFailure) -> Refused {
    invite.reject(failure.status()).await;
    Refused::failure(failure)
}

/// Lets the call ring for the configured answer delay, unless the caller
/// cancels (the endpoint has answered 487) or the daemon shuts down.
async fn ring(
    services: &CallServices,
    mut invite: InviteServer,
    shutdown: &CancellationToken,
) -> Result<InviteServer, Refused> {
    enum Rang {
        Due,
        Cancelled,
        Shutdown,
    }
    let rang = tokio::select! {
        () = tokio::time::sleep(services.hotline.answer_delay) => Rang::Due,
        () = invite.cancelled() => Rang::Cancelled,
        () = shutdown.cancelled() => Rang::Shutdown,
    };
    match rang {
        Rang::Due => Ok(invite),
        Rang::Cancelled => {
            info!("cancelled before answer");
            Err(Refused {
                status: StatusCode::REQUEST_TERMINATED,
                ending: Ending::CANCELLED,
            })
        }
        Rang::Shutdown => Err(reject(invite, CallFailure::Shutdown).await),
    }
}

/// Sends our 200 and waits for the ACK; with no offer in the INVITE, ours
/// went in the 200 and the answer comes in the ACK (RFC 3264 §5).
async fn send_answer(
    invite: InviteServer,
    body: Vec<u8>,
    offered: Option<Offered>,
) -> Result<(ServerDialog, Negotiated), Refused> {
    let dialog = match invite.answer(body).await {
        Ok(dialog) => dialog,
        Err(SipError::DialogEnded { .. }) => {
            // Our ACK was lost and the caller's BYE came instead.
            info!("caller hung up before the ACK arrived");
            return Err(Refused::after_answer(Ending::CALLER_HANG_UP));
        }
        Err(err) => {
            warn!(%err, "answer not acknowledged");
            return Err(Refused::after_answer(Ending::failed(
                CallFailure::AckTimeout,
            )));
        }
    };
    let negotiated = match offered {
        Some(offered) => offered.negotiated,
        None => match offer::read_ack_answer(dialog.ack_body()) {
            Ok(negotiated) => negotiated,
            Err(failure) => {
                info!("ACK carried no usable SDP answer; hanging up");
                let mut dialog = dialog;
                drop(dialog.bye().await);
                return Err(Refused::after_answer(Ending::failed(failure)));
            }
        },
    };
    Ok((dialog, negotiated))
}

/// Queued, not waited for: the caller may hang up at once, and the BYE
/// must not wait for a commit to be answered. The journal keeps the order
/// of this call's writes and logs a failure.
pub(crate) async fn mark_answered(services: &CallServices, call_id: &str, relative_path: String) {
    let write = CallWrite::Answered {
        id: call_id.to_string(),
        answered_at: unix_millis(SystemTime::now()),
        recording_path: Some(relative_path),
    };
    if let Err(err) = services.journal.queue(write).await {
        warn!(%err, "cannot mark the call answered");
    }
}

/// The path of a call's recording relative to the recordings root:
/// `<community>/YYYY/MM/DD/<call id>.wav`, the date in the configured zone.
pub(super) fn recording_path(community: &str, date: chrono::NaiveDate, call_id: &str) -> String {
    format!("{community}/{}/{call_id}.wav", date.format("%Y/%m/%d"))
}

/// Opens the call's recording; returns it with its path relative to the
/// root, which is what the call record keeps.
pub(crate) async fn open_recording(
    services: &Arc<CallServices>,
    community: &str,
    call_id: &str,
) -> Result<(CallRecorder, String), CallFailure> {
    let today = chrono::Utc::now()
        .with_timezone(&services.time_zone)
        .date_naive();
    let relative = recording_path(community, today, call_id);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_is_filed_by_community_and_local_date() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 3, 9).expect("date");
        assert_eq!(
            recording_path("JF", date, "0190-abc"),
            "JF/2026/03/09/0190-abc.wav"
        );
    }

    #[test]
    fn a_refusal_before_answer_carries_the_failures_status_and_code() {
        let refused = Refused::failure(CallFailure::NoMediaPort);
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.ending.reason, crate::desk::EndReason::Rejected);
        assert_eq!(refused.ending.failure, Some(CallFailure::NoMediaPort));
        let after = Refused::after_answer(Ending::failed(CallFailure::BadSdp));
        assert_eq!(after.status, StatusCode::OK);
        assert_eq!(after.ending.reason, crate::desk::EndReason::Error);
    }
}

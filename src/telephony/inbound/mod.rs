//! One inbound call, from INVITE to the finished call record, in one task.
//! The steps, each in a file of its own:
//!
//! 1. `admission`: is it a hotline call (trusted trunk, hotline number),
//!    which community, who calls (pure).
//! 2. the call record is opened and the caller looked up in the archive;
//! 3. `answer`: ring, open the recording, answer with our SDP (`offer`,
//!    pure), wait for the ACK, start the media session;
//! 4. `conversation`: the IVR over the media session until one side hangs
//!    up, then the recording is finished; a caller who asks for a person
//!    waits in `queue` for an operator and is put through by `bridge`;
//! 5. the record is finished, and a voice message becomes a work order.

mod admission;
pub(super) mod answer;
mod bridge;
pub(super) mod conversation;
pub(super) mod offer;
mod queue;

use std::sync::Arc;
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, info_span, warn};

use crate::desk::{self, EndReason};
use crate::sip::{InviteServer, StatusCode};
use crate::store::{CallWrite, NewCall, unix_millis};

use super::caller::look_up_caller;
use super::failure::CallFailure;
use super::record::{CallRecordWriter, Ended, Side};
use super::service::CallServices;
use super::voicemail::MessageOutcome;

/// How a call ended, as its record keeps it: the reason, and for an
/// abnormal end the failure (its stable code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ending {
    reason: EndReason,
    failure: Option<CallFailure>,
}

impl Ending {
    const CALLER_HANG_UP: Ending = Ending::normal(EndReason::CallerHangUp);
    const HOTLINE_HANG_UP: Ending = Ending::normal(EndReason::HotlineHangUp);
    const CANCELLED: Ending = Ending::normal(EndReason::Cancelled);

    const fn normal(reason: EndReason) -> Ending {
        Ending {
            reason,
            failure: None,
        }
    }

    /// A call refused before answer with this failure.
    fn refused(failure: CallFailure) -> Ending {
        Ending {
            reason: EndReason::Rejected,
            failure: Some(failure),
        }
    }

    /// An answered call that ended abnormally with this failure.
    fn failed(failure: CallFailure) -> Ending {
        let reason = match failure {
            CallFailure::Shutdown => EndReason::Shutdown,
            CallFailure::RtpTimeout => EndReason::RtpTimeout,
            CallFailure::AckTimeout => EndReason::AckTimeout,
            _ => EndReason::Error,
        };
        Ending {
            reason,
            failure: Some(failure),
        }
    }
}

/// Handles one INVITE to its end.
pub(crate) async fn handle(
    services: Arc<CallServices>,
    invite: InviteServer,
    shutdown: CancellationToken,
) {
    let caller = desk::normalise(&admission::caller_of(invite.request()), None)
        .map(|number| number.mask())
        .unwrap_or_else(|_| "unknown".to_string());
    let span = info_span!("call", call_id = %invite.request().call_id(), from = %caller);
    handle_invite(services, invite, shutdown)
        .instrument(span)
        .await;
}

async fn handle_invite(
    services: Arc<CallServices>,
    invite: InviteServer,
    shutdown: CancellationToken,
) {
    let admitted = match admission::admit(&services.hotline, invite.request()) {
        Ok(admitted) => admitted,
        Err(failure) => {
            info!(source = %invite.request().source(), code = failure.code(), "refused");
            invite.reject(failure.status()).await;
            return;
        }
    };
    let call = NewCall {
        id: uuid::Uuid::now_v7().to_string(),
        sip_call_id: invite.request().call_id().to_string(),
        direction: "inbound".to_string(),
        caller_raw: admitted.caller_raw.clone(),
        caller: admitted.caller.clone(),
        dialled: admitted.dialled.clone(),
        community: Some(admitted.community.code.clone()),
        offered_at: unix_millis(SystemTime::now()),
        node: services.node.clone(),
    };
    let caller = look_up_caller(&services, &admitted.caller_raw, admitted.area_code.as_ref()).await;
    let call_id = call.id.clone();
    let caller_info = queue::CallerInfo {
        call_id: call_id.clone(),
        community: admitted.community.code.clone(),
        number: admitted.caller_raw.clone(),
        e164: admitted.caller.clone(),
        masked: desk::normalise(&admitted.caller_raw, admitted.area_code.as_ref())
            .map(|number| number.mask())
            .unwrap_or_else(|_| "unknown".to_string()),
        match_kind: caller.stored.kind.clone(),
        people: caller.people,
    };
    let offered = CallWrite::Offered {
        call,
        caller: Some(caller.stored),
    };
    if let Err(err) = services.journal.write(offered).await {
        warn!(%err, "cannot record the call; refusing it");
        invite.reject(StatusCode::SERVICE_UNAVAILABLE).await;
        return;
    }
    let mut record = CallRecordWriter {
        services: services.clone(),
        id: call_id.clone(),
        reporter: caller.reporter,
    };
    let answered =
        answer::answer_call(&services, &admitted.community, &call_id, invite, &shutdown).await;
    match answered {
        Err(refused) => {
            let ending = refused.ending;
            record
                .ended(Ended {
                    at: SystemTime::now(),
                    reason: ending.reason,
                    failure: ending.failure,
                    status: Some(refused.status),
                    duration_ms: None,
                    sha256: None,
                    hung_up_by: (ending == Ending::CANCELLED).then_some(Side::Caller),
                })
                .await;
        }
        Ok(answered) => {
            let outcome =
                conversation::converse(&services, &record, &caller_info, answered, &shutdown).await;
            record
                .ended(Ended {
                    at: outcome.ended_at,
                    reason: outcome.ending.reason,
                    failure: outcome.ending.failure,
                    status: Some(StatusCode::OK),
                    duration_ms: outcome.duration_ms,
                    sha256: outcome.sha256,
                    hung_up_by: Some(outcome.hung_up_by),
                })
                .await;
            match outcome.message {
                MessageOutcome::Taken => record.voicemail_ticket().await,
                MessageOutcome::Empty => record.empty_voice_message().await,
                MessageOutcome::NotLeft => {}
            }
        }
    }
}

//! The call record of one inbound call, written as the call goes: the
//! caller's archive match, the menu choice, the voice message's offsets, the
//! end; and, for a voice message, the work order it becomes (none for an
//! empty one).

use std::sync::Arc;
use std::time::SystemTime;

use tracing::{info, warn};

use crate::desk::{EndReason, VoiceMessageReporter};
use crate::sip::StatusCode;
use crate::store::{CallEnd, CallLeg, CallWrite, MissedCallback, QueueSpan, unix_millis};

use super::failure::CallFailure;
use super::service::CallServices;

/// Writes one call's record; store trouble is logged, never ends the call.
///
/// Writes made while the call goes on are queued in the call journal, not
/// waited for: the call task keeps serving the caller (a digit, a hang-up)
/// meanwhile. The journal commits them in order and `ended` waits for its
/// own commit, so when it returns the whole record is in the store.
pub(super) struct CallRecordWriter {
    pub(super) services: Arc<CallServices>,
    pub(super) id: String,
    /// The reporter of the work order a voice message becomes.
    pub(super) reporter: VoiceMessageReporter,
}

impl CallRecordWriter {
    /// Turns the voice message of this (finished) call into a work order.
    pub(super) async fn voicemail_ticket(&self) {
        let call = match self.services.store.call(&self.id).await {
            Ok(call) => call,
            Err(err) => {
                warn!(%err, "cannot read the call back for its work order");
                return;
            }
        };
        let reporter = self.reporter.clone();
        let choice = call.menu_choice.clone();
        match self
            .services
            .tickets
            .from_voice_message(&call, choice.as_deref(), reporter, chrono::Utc::now())
            .await
        {
            Ok(ticket) => {
                info!(ticket = %ticket.ticket.number, "voice message became a work order")
            }
            Err(err) => warn!(%err, "cannot create the work order of a voice message"),
        }
    }

    /// A voice message too short or without speech: no work order. The call
    /// record keeps the message's offsets.
    ///
    /// The caller wanted something and said nothing usable: this is where
    /// the missed-call callback (未接来电回拨) is to be scheduled once
    /// callbacks exist.
    pub(super) async fn empty_voice_message(&self) {
        info!("voice message empty: no work order");
    }

    pub(super) async fn menu_choice(&self, digit: Option<&str>, code: &str) {
        let write = CallWrite::MenuChoice {
            id: self.id.clone(),
            digit: digit.map(str::to_string),
            choice: code.to_string(),
        };
        if let Err(err) = self.services.journal.queue(write).await {
            warn!(%err, "cannot store the menu choice");
        }
    }

    pub(super) async fn voicemail(&self, start_ms: i64, end_ms: i64) {
        let write = CallWrite::Voicemail {
            id: self.id.clone(),
            start_ms,
            end_ms,
        };
        if let Err(err) = self.services.journal.queue(write).await {
            warn!(%err, "cannot store the voice-message offsets");
        }
    }

    /// The call's time in the queue.
    pub(super) async fn queued(&self, span: QueueSpan) {
        let write = CallWrite::Queued {
            id: self.id.clone(),
            span,
        };
        if let Err(err) = self.services.journal.queue(write).await {
            warn!(%err, "cannot store the call's time in the queue");
        }
    }

    /// One ring of an operator's phone, as it ended.
    pub(super) async fn leg(&self, leg: CallLeg) {
        if let Err(err) = self.services.journal.queue(CallWrite::Leg(leg)).await {
            warn!(%err, "cannot store a ring of an operator's phone");
        }
    }

    /// Who talked to the caller, for how long, and how much of it on hold.
    pub(super) async fn talked(&self, operator_id: &str, talk_ms: i64, hold_ms: i64) {
        let write = CallWrite::Talked {
            id: self.id.clone(),
            operator_id: operator_id.to_string(),
            talk_ms,
            hold_ms,
        };
        if let Err(err) = self.services.journal.queue(write).await {
            warn!(%err, "cannot store the conversation's times");
        }
    }

    /// The caller gave up waiting (放弃呼叫): a missed-call callback is owed.
    /// Written after the call record's end, which it refers to.
    pub(super) async fn missed(&self, number: &str, community: &str) {
        let entry = MissedCallback {
            id: uuid::Uuid::now_v7().to_string(),
            number: number.to_string(),
            call_id: self.id.clone(),
            community: Some(community.to_string()),
            at: unix_millis(SystemTime::now()),
        };
        match self.services.store.insert_missed_callback(&entry).await {
            Ok(true) => info!("missed call: callback owed"),
            Ok(false) => {}
            Err(err) => warn!(%err, "cannot store the missed-call callback"),
        }
    }

    pub(super) async fn ended(&mut self, ended: Ended) {
        let Ended {
            at,
            reason,
            failure,
            status,
            duration_ms,
            sha256,
            hung_up_by,
        } = ended;
        let end = CallEnd {
            ended_at: unix_millis(at),
            end_reason: reason.as_str().to_string(),
            end_code: failure.map(|failure| failure.code().to_string()),
            sip_status: status.map(|s| i32::from(s.0)),
            duration_ms,
            recording_sha256: sha256,
            hung_up_by: hung_up_by.map(|side| side.as_str().to_string()),
        };
        info!(%reason, code = failure.map(CallFailure::code), "call ended");
        let write = CallWrite::Ended {
            id: self.id.clone(),
            end,
        };
        if let Err(err) = self.services.journal.write(write).await {
            warn!(%err, "cannot finish the call record");
        }
    }
}

/// How a call ended, as its record keeps it.
#[derive(Debug)]
pub(super) struct Ended {
    pub(super) at: SystemTime,
    pub(super) reason: EndReason,
    pub(super) failure: Option<CallFailure>,
    /// The final status the caller got to its INVITE.
    pub(super) status: Option<StatusCode>,
    pub(super) duration_ms: Option<i64>,
    pub(super) sha256: Option<String>,
    pub(super) hung_up_by: Option<Side>,
}

/// Who ended a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Caller,
    Operator,
    Hotline,
}

impl Side {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Side::Caller => "caller",
            Side::Operator => "operator",
            Side::Hotline => "hotline",
        }
    }
}

//! The call record of one inbound call, written as the call goes: the
//! caller's archive match, the menu choice, the voice message's offsets, the
//! end; and, for a voice message, the work order it becomes (none for an
//! empty one).

use std::sync::Arc;
use std::time::SystemTime;

use tracing::{info, warn};

use crate::desk::{EndReason, VoiceMessageReporter};
use crate::sip::StatusCode;
use crate::store::{CallEnd, CallWrite, unix_millis};

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

    pub(super) async fn ended(
        &mut self,
        ended_at: SystemTime,
        reason: EndReason,
        failure: Option<CallFailure>,
        status: Option<StatusCode>,
        duration_ms: Option<i64>,
        sha256: Option<String>,
    ) {
        let end = CallEnd {
            ended_at: unix_millis(ended_at),
            end_reason: reason.as_str().to_string(),
            end_code: failure.map(|failure| failure.code().to_string()),
            sip_status: status.map(|s| i32::from(s.0)),
            duration_ms,
            recording_sha256: sha256,
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

//! The callback service: claims due callbacks for a dialer, says what an
//! attempt came to (the next try, a manual task, or done with the
//! survey's answer on the work order), takes back the claims of a node
//! that died, and serves the API (list, one with its attempts, manual
//! scheduling, cancel, a result recorded by hand).
//!
//! Knows no SIP: the dialer (telephony) places the calls and reports the
//! attempt. Takes `now` from the caller.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use uuid::Uuid;

use super::{AttemptOutcome, CallbackReason, CallbackStatus, CallbacksConfig, Satisfaction};
use crate::desk::{DeskError, Tickets, normalise};
use crate::store::{
    AttemptEnd, CallbackAttemptRow, CallbackQuery, CallbackRow, Claim, NewCallbackRow, Store,
    StoreError,
};

/// Most callbacks one list returns.
pub const MAX_CALLBACK_PAGE: u32 = 500;

/// A callback claimed by a dialer: the row and which attempt this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub callback: CallbackRow,
    pub attempt: i64,
}

/// What one attempt came to, as the dialer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    pub outcome: AttemptOutcome,
    pub sip_status: Option<u16>,
    /// Every status seen, in order (`100 180 200`).
    pub responses: Vec<u16>,
    /// The call record of an answered call.
    pub call_id: Option<String>,
    /// The survey's key, when one was pressed.
    pub digit: Option<char>,
    /// The survey's answer (answered calls only).
    pub satisfaction: Option<Satisfaction>,
}

/// A callback as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackView {
    pub id: String,
    pub reason: String,
    pub status: String,
    pub number: String,
    pub ticket_id: Option<String>,
    pub call_id: Option<String>,
    pub person_id: Option<String>,
    pub community: Option<String>,
    pub note: Option<String>,
    pub assignee: Option<String>,
    pub created_by: Option<String>,
    pub attempts: i64,
    pub last_cause: Option<String>,
    pub result: Option<String>,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_by: Option<String>,
}

/// A callback scheduled by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewManualCallback {
    pub number: String,
    pub ticket_id: Option<Uuid>,
    pub community: Option<String>,
    pub due_at: DateTime<Utc>,
    pub note: Option<String>,
    pub assignee: Option<String>,
}

/// The callback service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Callbacks {
    store: Store,
    tickets: Tickets,
    config: Arc<CallbacksConfig>,
    zone: Tz,
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Callbacks {
    pub fn new(store: Store, tickets: Tickets, config: CallbacksConfig, zone: Tz) -> Callbacks {
        Callbacks {
            store,
            tickets,
            config: Arc::new(config),
            zone,
        }
    }

    pub fn config(&self) -> &CallbacksConfig {
        &self.config
    }

    /// Claims up to `limit` due callbacks of these reasons for `node`.
    pub async fn claim(
        &self,
        node: &str,
        reasons: &[CallbackReason],
        limit: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claimed>, DeskError> {
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        let reasons: Vec<&str> = reasons.iter().map(|r| r.code()).collect();
        let claim = Claim {
            node,
            now: millis(now),
            lease_until: millis(now + lease),
            limit,
            reasons: &reasons,
        };
        Ok(self
            .store
            .claim_callbacks(&claim)
            .await?
            .into_iter()
            .map(|callback| Claimed {
                attempt: callback.attempts,
                callback,
            })
            .collect())
    }

    /// Ends the attempts whose dialer is gone (this node starting again,
    /// or a lease run out): each counts as an interrupted attempt and its
    /// callback goes on as after any failed one. The owner is never called
    /// twice in one slot: the retry waits its back-off. How many there
    /// were.
    pub async fn recover(&self, node: &str, now: DateTime<Utc>) -> Result<usize, DeskError> {
        let void = self.store.void_claims(node, millis(now)).await?;
        let mut ended = 0;
        for callback in void {
            let claimed = Claimed {
                attempt: callback.attempts,
                callback,
            };
            let report = AttemptReport {
                outcome: AttemptOutcome::Interrupted,
                sip_status: None,
                responses: Vec::new(),
                call_id: None,
                digit: None,
                satisfaction: None,
            };
            if self.finish(&claimed, &report, now).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Stores what an attempt came to and moves the callback on: done
    /// when the survey was answered (its answer on the work order), else
    /// the next try after the back-off, or a manual task once the
    /// attempts are used up. `false` when the claim was no longer ours
    /// (taken back meanwhile): nothing written.
    pub async fn finish(
        &self,
        claimed: &Claimed,
        report: &AttemptReport,
        now: DateTime<Utc>,
    ) -> Result<bool, DeskError> {
        let callback = &claimed.callback;
        let answered = report.outcome == AttemptOutcome::Answered;
        let (status, due) = if answered {
            (CallbackStatus::Done, now)
        } else if u32::try_from(claimed.attempt).unwrap_or(u32::MAX) >= self.config.max_attempts {
            (CallbackStatus::Manual, now)
        } else {
            let failed = u32::try_from(claimed.attempt).unwrap_or(u32::MAX);
            let wait =
                chrono::Duration::from_std(self.config.retry_after(failed)).unwrap_or_default();
            let due = self
                .config
                .next_slot(callback.community.as_deref(), now + wait, self.zone);
            (CallbackStatus::RetryWait, due)
        };
        let satisfaction = report
            .satisfaction
            .or(answered.then_some(Satisfaction::NoAnswerGiven));
        let responses = report
            .responses
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        let end = AttemptEnd {
            callback_id: callback.id.clone(),
            attempt: claimed.attempt,
            ended_at: millis(now),
            outcome: report.outcome.code().to_owned(),
            sip_status: report.sip_status.map(i32::from),
            responses,
            call_id: report.call_id.clone(),
            digit: report.digit.map(String::from),
            status: status.code().to_owned(),
            due_at: millis(due),
            last_cause: (!answered).then(|| report.outcome.code().to_owned()),
            result: satisfaction.map(|s| s.code().to_owned()),
        };
        if !self.store.end_attempt(&end).await? {
            return Ok(false);
        }
        if let (Some(satisfaction), Some(ticket)) = (satisfaction, &callback.ticket_id)
            && callback.reason == CallbackReason::Followup.code()
        {
            let call = report.call_id.as_deref();
            self.answer_on_ticket(ticket, satisfaction, &callback.id, call, "callback", now)
                .await?;
        }
        Ok(true)
    }

    async fn answer_on_ticket(
        &self,
        ticket: &str,
        satisfaction: Satisfaction,
        callback_id: &str,
        call: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DeskError> {
        let Ok(id) = Uuid::parse_str(ticket) else {
            return Ok(());
        };
        if let Some(call) = call
            && let Err(err) = self.tickets.link_call(id, call, actor, now).await
        {
            tracing::warn!(%err, "cannot link the survey call to its work order");
        }
        self.tickets
            .record_followup(id, satisfaction, callback_id, actor, now)
            .await?;
        Ok(())
    }

    /// Callbacks by the query's filters.
    pub async fn list(&self, query: &CallbackQuery) -> Result<Vec<CallbackView>, DeskError> {
        let mut query = query.clone();
        query.limit = query.limit.clamp(1, MAX_CALLBACK_PAGE);
        Ok(self
            .store
            .list_callbacks(&query)
            .await?
            .iter()
            .map(view)
            .collect())
    }

    /// One callback with its attempts.
    pub async fn get(
        &self,
        id: &str,
    ) -> Result<(CallbackView, Vec<CallbackAttemptRow>), DeskError> {
        let row = self.store.callback(id).await.map_err(not_found(id))?;
        let attempts = self.store.callback_attempts(id).await?;
        Ok((view(&row), attempts))
    }

    /// Schedules a callback by hand: due at its time (inside the calling
    /// hours), the number read like any other.
    pub async fn schedule(
        &self,
        request: NewManualCallback,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<CallbackView, DeskError> {
        let number = normalise(&request.number, None)?;
        let community = match (&request.community, request.ticket_id) {
            (Some(code), _) => Some(code.clone()),
            (None, Some(ticket)) => Some(self.tickets.get(ticket).await?.community.to_string()),
            (None, None) => None,
        };
        if let Some(ticket) = request.ticket_id {
            self.tickets.get(ticket).await?;
        }
        let due = self
            .config
            .next_slot(community.as_deref(), request.due_at.max(now), self.zone);
        let row = NewCallbackRow {
            id: Uuid::now_v7().to_string(),
            reason: CallbackReason::Manual.code().to_owned(),
            status: CallbackStatus::Pending.code().to_owned(),
            number: number.number().to_owned(),
            ticket_id: request.ticket_id.map(|t| t.to_string()),
            person_id: None,
            community,
            note: request.note.filter(|n| !n.trim().is_empty()),
            assignee: request.assignee,
            created_by: actor.to_owned(),
            due_at: millis(due),
            created_at: millis(now),
        };
        self.store.insert_callback(&row).await?;
        Ok(view(&self.store.callback(&row.id).await?))
    }

    /// Cancels an open callback that nobody is dialling.
    pub async fn cancel(
        &self,
        id: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<CallbackView, DeskError> {
        let closed = self
            .store
            .close_callback(
                id,
                CallbackStatus::Cancelled.code(),
                None,
                actor,
                millis(now),
            )
            .await
            .map_err(not_found(id))?;
        self.after_close(id, closed).await
    }

    /// The result of a callback an operator made or a visit: done, and a
    /// 回访's answer goes on its work order as the survey's would.
    pub async fn record_result(
        &self,
        id: &str,
        satisfaction: Satisfaction,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<CallbackView, DeskError> {
        let closed = self
            .store
            .close_callback(
                id,
                CallbackStatus::Done.code(),
                Some(satisfaction.code()),
                actor,
                millis(now),
            )
            .await
            .map_err(not_found(id))?;
        let view = self.after_close(id, closed).await?;
        if let Some(ticket) = &view.ticket_id
            && view.reason != CallbackReason::Missed.code()
        {
            self.answer_on_ticket(ticket, satisfaction, id, None, actor, now)
                .await?;
        }
        Ok(view)
    }

    async fn after_close(&self, id: &str, closed: bool) -> Result<CallbackView, DeskError> {
        let row = self.store.callback(id).await.map_err(not_found(id))?;
        if !closed {
            let status = CallbackStatus::from_code(&row.status).unwrap_or(CallbackStatus::Done);
            return Err(DeskError::CallbackNotOpen {
                id: id.to_owned(),
                status,
            });
        }
        Ok(view(&row))
    }
}

fn not_found(id: &str) -> impl FnOnce(StoreError) -> DeskError + '_ {
    move |err| match err {
        StoreError::NotFound { .. } => DeskError::CallbackNotFound { id: id.to_owned() },
        other => DeskError::Store(other),
    }
}

fn view(row: &CallbackRow) -> CallbackView {
    CallbackView {
        id: row.id.clone(),
        reason: row.reason.clone(),
        status: row.status.clone(),
        number: row.number.clone(),
        ticket_id: row.ticket_id.clone(),
        call_id: row.call_id.clone(),
        person_id: row.person_id.clone(),
        community: row.community.clone(),
        note: row.note.clone(),
        assignee: row.assignee.clone(),
        created_by: row.created_by.clone(),
        attempts: row.attempts,
        last_cause: row.last_cause.clone(),
        result: row.result.clone(),
        due_at: time(row.due_at),
        created_at: time(row.created_at),
        updated_at: time(row.updated_at),
        completed_at: row.completed_at.map(time),
        completed_by: row.completed_by.clone(),
    }
}

#[cfg(test)]
mod tests;

//! The ticket service: registers work orders, moves them, edits them, lists
//! them and keeps their history, over the store.
//!
//! Owns the order of things on each write: load, check the expected version,
//! apply the domain rules (`Ticket::apply`, the configuration's categories
//! and departments, the SLA), then one store transaction that writes the new
//! state, its holds and the event with the fields it changed. Numbers come
//! from the store's per-community daily counter inside the inserting
//! transaction, so nodes sharing a database never collide.
//!
//! Knows no HTTP and no SIP: the API and telephony call it and publish the
//! resulting change. Takes `now` from the caller; reads no clock.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::desk::callbacks::{
    CallbackReason, CallbackStatus, CallbacksConfig, Satisfaction, callback_number,
};
use crate::desk::labels;
use crate::desk::phone::normalise;
use crate::desk::tickets::checks::{
    MAX_DESCRIPTION_CHARS, apply_changes, check_len, hold_change, trimmed, validate,
};
use crate::desk::tickets::record::{
    changed_fields, event_from_row, event_row, from_stored, to_row,
};
use crate::desk::tickets::voice_message::{
    kind_of_menu_choice, voice_message_description, voice_message_length,
};
use crate::desk::tickets::{
    FieldChange, MAX_PAGE_SIZE, NewTicket, NewTicketRequest, Priority, SlaDeadlines, StatusKind,
    Ticket, TicketAction, TicketChanges, TicketEvent, TicketEventKind, TicketFilter, TicketNo,
    TicketPage, TicketRecord, TicketSource, VoiceMessageReporter, business_date,
};
use crate::desk::{ActionKind, CommunityCode, DeskConfig, DeskError};
use crate::store::{
    CallRecord, FollowUpChange, NewCallbackRow, Store, StoreError, StoredTicket, TicketQuery,
    VersionedWrite,
};

/// Writes without an expected version retry this often when another write
/// got in between; with one they are refused at once.
const MAX_WRITE_ATTEMPTS: usize = 3;
/// The day of the store's number counter (the date part of the number).
const COUNTER_DAY_FORMAT: &str = "%Y%m%d";
/// States a ticket is no longer open in.
const FINAL_STATUSES: [StatusKind; 2] = [StatusKind::Closed, StatusKind::Cancelled];
/// Most open tickets returned for one phone or person (the screen pop).
const OPEN_TICKETS_LIMIT: u32 = 50;
/// Who creates the tickets of voice messages.
pub const VOICE_MESSAGE_ACTOR: &str = "ivr";
/// How a ticket was looked for: named when it is not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketKey {
    Id(Uuid),
    Number(TicketNo),
}

impl fmt::Display for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TicketKey::Id(id) => write!(f, "with id {id}"),
            TicketKey::Number(number) => write!(f, "numbered {number}"),
        }
    }
}

/// What a change records in the history.
struct EventSpec {
    action: TicketEventKind,
    note: Option<String>,
    /// Whether the event moves the state (records from/to).
    moves: bool,
}

/// The ticket service. Cheap to clone: the store is a pool handle and the
/// configuration is shared.
#[derive(Debug, Clone)]
pub struct Tickets {
    store: Store,
    config: Arc<DeskConfig>,
    /// The 回访 rules; none: resolving an order schedules nothing.
    callbacks: Option<Arc<CallbacksConfig>>,
}

impl Tickets {
    /// A service over `store` with the desk's (validated) configuration.
    pub fn new(store: Store, config: DeskConfig) -> Tickets {
        Tickets {
            store,
            config: Arc::new(config),
            callbacks: None,
        }
    }

    /// The same service, scheduling the 回访 of each order it resolves by
    /// these rules.
    pub fn with_callbacks(mut self, callbacks: CallbacksConfig) -> Tickets {
        self.callbacks = Some(Arc::new(callbacks));
        self
    }

    pub fn config(&self) -> &DeskConfig {
        &self.config
    }

    /// Registers a ticket: checks it against the configuration, computes its
    /// SLA deadlines, gives it the next number of its community and day, and
    /// records its creation.
    pub async fn create(
        &self,
        mut request: NewTicketRequest,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<TicketRecord, DeskError> {
        let calls = match request.call_id.take() {
            Some(call_id) => {
                let call = self.known_call(&call_id).await?;
                reporter_from_call(&mut request, &call);
                vec![call.id]
            }
            None => Vec::new(),
        };
        let phone = request
            .reporter_phone
            .as_deref()
            .map(str::trim)
            .filter(|raw| !raw.is_empty())
            .map(|raw| normalise(raw, None))
            .transpose()?;
        let department = match (&request.department, &request.category) {
            (Some(department), _) => Some(department.clone()),
            (None, Some(category)) => Some(
                self.config
                    .category_for(request.kind, category)?
                    .department
                    .clone(),
            ),
            (None, None) => None,
        };
        let new = NewTicket {
            kind: request.kind,
            priority: request.priority,
            grade: request.grade,
            source: request.source,
            category: request.category,
        };
        let mut ticket = self.open(new, &request.community, now)?;
        ticket.department = department;
        let record = TicketRecord {
            ticket,
            community: request.community,
            room: request.room,
            location: trimmed(request.location),
            reporter_name: trimmed(request.reporter_name),
            reporter_phone_raw: phone.as_ref().map(|p| p.received().to_owned()),
            reporter_phone: phone.as_ref().map(|p| p.number().to_owned()),
            person_id: trimmed(request.person_id),
            description: request.description.trim().to_owned(),
            assignee: trimmed(request.assignee),
            fee_cents: request.fee_cents,
            paid: request.paid,
            satisfaction: None,
            escalated: false,
            created_by: actor.to_owned(),
            updated_at: now,
            version: 1,
        };
        self.insert(record, None, &calls, now).await
    }

    /// The ticket of a voice message left in `call`: its kind from the menu
    /// choice (`repair`… as stored on the call; `operator`, `other` or none
    /// make an `other` ticket), source voice message, status new, the
    /// reporter as the archive matched them, the call (and so its recording)
    /// linked. Asking twice for the same call returns the first ticket.
    pub async fn from_voice_message(
        &self,
        call: &CallRecord,
        menu_choice: Option<&str>,
        reporter: VoiceMessageReporter,
        now: DateTime<Utc>,
    ) -> Result<TicketRecord, DeskError> {
        if let Some(existing) = self
            .tickets_of_call(&call.id)
            .await?
            .into_iter()
            .find(|t| t.ticket.source == TicketSource::VoiceMessage)
        {
            return Ok(existing);
        }
        let community = call
            .community
            .as_deref()
            .ok_or_else(|| DeskError::CallWithoutCommunity {
                call_id: call.id.clone(),
            })
            .and_then(|code| CommunityCode::new(code).map_err(DeskError::from))?;
        let new = NewTicket {
            kind: kind_of_menu_choice(menu_choice),
            priority: Priority::Normal,
            grade: None,
            source: TicketSource::VoiceMessage,
            category: None,
        };
        let record = TicketRecord {
            ticket: self.open(new, &community, now)?,
            community,
            room: reporter.room,
            location: None,
            reporter_name: trimmed(reporter.name),
            reporter_phone_raw: Some(call.caller_raw.clone()),
            reporter_phone: call.caller.clone(),
            person_id: trimmed(reporter.person_id),
            description: voice_message_description(voice_message_length(call)),
            assignee: None,
            fee_cents: None,
            paid: false,
            satisfaction: None,
            escalated: false,
            created_by: VOICE_MESSAGE_ACTOR.to_owned(),
            updated_at: now,
            version: 1,
        };
        self.insert(record, None, std::slice::from_ref(&call.id), now)
            .await
    }

    /// A new ticket with a provisional number (sequence 1): the real one is
    /// given on insert.
    fn open(
        &self,
        new: NewTicket,
        community: &CommunityCode,
        now: DateTime<Utc>,
    ) -> Result<Ticket, DeskError> {
        let date = business_date(now, self.config.time_zone);
        let number = TicketNo::new(community.clone(), date, 1)?;
        Ticket::open(new, Uuid::now_v7(), number, now, &self.config.sla)
    }

    async fn insert(
        &self,
        record: TicketRecord,
        note: Option<&str>,
        calls: &[String],
        now: DateTime<Utc>,
    ) -> Result<TicketRecord, DeskError> {
        validate(&record, &self.config)?;
        let community = record.community.clone();
        let date = record.ticket.number.date();
        let day = date.format(COUNTER_DAY_FORMAT).to_string();
        let actor = record.created_by.clone();
        let row = self
            .store
            .insert_ticket(community.as_str(), &day, calls, |seq| {
                let mut record = record;
                let in_range = u32::try_from(seq).map_err(|_| DeskError::CounterOutOfRange {
                    community: community.clone(),
                    day: day.clone(),
                    seq,
                })?;
                record.ticket.number = TicketNo::new(community.clone(), date, in_range)?;
                let event = event_row(
                    now,
                    &actor,
                    TicketEventKind::Created,
                    (None, Some(record.ticket.status.kind())),
                    note,
                    &[],
                );
                Ok::<_, DeskError>((to_row(&record, now), event))
            })
            .await?;
        from_stored(StoredTicket {
            row,
            holds: Vec::new(),
        })
    }

    /// One ticket by id.
    pub async fn get(&self, id: Uuid) -> Result<TicketRecord, DeskError> {
        let stored = self
            .store
            .ticket(&id.to_string())
            .await
            .map_err(not_found(TicketKey::Id(id)))?;
        from_stored(stored)
    }

    /// One ticket by number.
    pub async fn get_by_number(&self, number: &TicketNo) -> Result<TicketRecord, DeskError> {
        let stored = self
            .store
            .ticket_by_number(&number.to_string())
            .await
            .map_err(not_found(TicketKey::Number(number.clone())))?;
        from_stored(stored)
    }

    /// The tickets matching `filter`, newest first; `overdue` is judged at `now`.
    pub async fn list(
        &self,
        filter: &TicketFilter,
        now: DateTime<Utc>,
    ) -> Result<TicketPage, DeskError> {
        let codes =
            |statuses: &[StatusKind]| statuses.iter().map(|s| s.code().to_owned()).collect();
        let reporter_phone = filter
            .reporter_phone
            .as_deref()
            .map(|raw| normalise(raw, None).map(|p| p.number().to_owned()))
            .transpose()?;
        let limit = filter.limit.clamp(1, MAX_PAGE_SIZE);
        let query = TicketQuery {
            statuses: codes(&filter.status),
            excluded_statuses: if filter.open {
                codes(&FINAL_STATUSES)
            } else {
                Vec::new()
            },
            kinds: filter.kind.iter().map(|k| k.code().to_owned()).collect(),
            community: filter.community.as_ref().map(ToString::to_string),
            due_before: filter.overdue.then(|| now.timestamp_millis()),
            created_from: filter.created_from.map(|t| t.timestamp_millis()),
            created_until: filter.created_until.map(|t| t.timestamp_millis()),
            text: filter.text.clone(),
            department: filter.department.as_ref().map(ToString::to_string),
            assignee: filter.assignee.clone(),
            reporter_phone,
            person_id: filter.person_id.clone(),
            limit,
            offset: filter.offset,
        };
        let page = self.store.list_tickets(&query).await?;
        Ok(TicketPage {
            tickets: page
                .tickets
                .into_iter()
                .map(from_stored)
                .collect::<Result<_, _>>()?,
            total: page.total,
            limit,
            offset: filter.offset,
        })
    }

    /// The tickets not closed or cancelled reported from this phone (as
    /// given; normalised first), newest first: for the screen pop.
    pub async fn open_tickets_of_phone(&self, phone: &str) -> Result<Vec<TicketRecord>, DeskError> {
        let filter = TicketFilter {
            open: true,
            reporter_phone: Some(phone.to_owned()),
            limit: OPEN_TICKETS_LIMIT,
            ..TicketFilter::default()
        };
        Ok(self.list(&filter, DateTime::<Utc>::MIN_UTC).await?.tickets)
    }

    /// The tickets not closed or cancelled of an archive person, newest first.
    pub async fn open_tickets_of_person(
        &self,
        person_id: &str,
    ) -> Result<Vec<TicketRecord>, DeskError> {
        let filter = TicketFilter {
            open: true,
            person_id: Some(person_id.to_owned()),
            limit: OPEN_TICKETS_LIMIT,
            ..TicketFilter::default()
        };
        Ok(self.list(&filter, DateTime::<Utc>::MIN_UTC).await?.tickets)
    }

    /// Moves a ticket by the state machine. A refused action changes nothing
    /// and names the actions allowed instead. With `expected_version`, a
    /// ticket changed meanwhile is refused ([`DeskError::StaleVersion`]).
    pub async fn transition(
        &self,
        id: Uuid,
        action: TicketAction,
        actor: &str,
        note: Option<&str>,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<TicketRecord, DeskError> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        self.modify(id, actor, expected_version, now, |record| {
            let kind = action.kind();
            record.ticket.apply(action.clone(), now)?;
            Ok(Some(EventSpec {
                action: TicketEventKind::of_action(kind),
                note: note.map(str::to_owned),
                moves: true,
            }))
        })
        .await
    }

    /// Edits fields; the event lists each changed field, old → new. A
    /// priority change recomputes the SLA deadlines from the creation time.
    /// Nothing changed: nothing recorded, the ticket returned as it is.
    pub async fn update_fields(
        &self,
        id: Uuid,
        changes: &TicketChanges,
        actor: &str,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<TicketRecord, DeskError> {
        let sla = self.config.sla;
        self.modify(id, actor, expected_version, now, |record| {
            let before = record.clone();
            apply_changes(record, changes)?;
            let t = &mut record.ticket;
            if t.priority != before.ticket.priority {
                t.deadlines = SlaDeadlines::compute(t.created_at, sla.target(t.kind, t.priority));
            }
            Ok((*record != before).then_some(EventSpec {
                action: TicketEventKind::Updated,
                note: None,
                moves: false,
            }))
        })
        .await
    }

    /// Load, change, check, write; retried when another write got in between
    /// and no version was expected.
    async fn modify<F>(
        &self,
        id: Uuid,
        actor: &str,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
        mut change: F,
    ) -> Result<TicketRecord, DeskError>
    where
        F: FnMut(&mut TicketRecord) -> Result<Option<EventSpec>, DeskError>,
    {
        let mut seen = expected_version.unwrap_or_default();
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self.get(id).await?;
            if let Some(expected) = expected_version
                && expected != current.version
            {
                return Err(DeskError::StaleVersion {
                    id,
                    expected,
                    current: current.version,
                });
            }
            let mut next = current.clone();
            let Some(spec) = change(&mut next)? else {
                return Ok(current);
            };
            validate(&next, &self.config)?;
            next.version = current.version + 1;
            next.updated_at = now;
            let changes = changed_fields(&current, &next);
            let statuses = if spec.moves {
                (
                    Some(current.ticket.status.kind()),
                    Some(next.ticket.status.kind()),
                )
            } else {
                (None, None)
            };
            let event = event_row(
                now,
                actor,
                spec.action,
                statuses,
                spec.note.as_deref(),
                &changes,
            );
            let hold = hold_change(&current.ticket, &next.ticket);
            let followup = self.followup_change(&current, &next, actor, now).await?;
            let row = to_row(&next, now);
            match self
                .store
                .update_ticket(&row, current.version, hold, &event, followup.as_ref())
                .await
                .map_err(not_found(TicketKey::Id(id)))?
            {
                VersionedWrite::Written { .. } => return Ok(next),
                VersionedWrite::Stale { current: now_at } => {
                    seen = now_at;
                    if let Some(expected) = expected_version {
                        return Err(DeskError::StaleVersion {
                            id,
                            expected,
                            current: now_at,
                        });
                    }
                }
            }
        }
        Err(DeskError::StaleVersion {
            id,
            expected: expected_version.unwrap_or(seen),
            current: seen,
        })
    }

    /// Adds a comment to the history (no field changes, no version bump).
    pub async fn comment(
        &self,
        id: Uuid,
        actor: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<TicketEvent, DeskError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DeskError::EmptyComment);
        }
        check_len("comment", Some(text), MAX_DESCRIPTION_CHARS)?;
        let mut row = event_row(
            now,
            actor,
            TicketEventKind::Commented,
            (None, None),
            Some(text),
            &[],
        );
        row.seq = self
            .store
            .append_ticket_event(&id.to_string(), &row)
            .await
            .map_err(not_found(TicketKey::Id(id)))?;
        event_from_row(id, row)
    }

    /// The history of a ticket, oldest first.
    pub async fn history(&self, id: Uuid) -> Result<Vec<TicketEvent>, DeskError> {
        self.get(id).await?;
        self.store
            .ticket_events(&id.to_string())
            .await?
            .into_iter()
            .map(|row| event_from_row(id, row))
            .collect()
    }

    /// Links a call (and so its recording) to a ticket; `false` when it was
    /// linked already (nothing recorded then).
    pub async fn link_call(
        &self,
        id: Uuid,
        call_id: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DeskError> {
        self.known_call(call_id).await?;
        let change = call_change(None, Some(call_id));
        let event = event_row(
            now,
            actor,
            TicketEventKind::CallLinked,
            (None, None),
            None,
            &[change],
        );
        self.store
            .link_ticket_call(&id.to_string(), call_id, &event)
            .await
            .map_err(not_found(TicketKey::Id(id)))
    }

    /// Unlinks a call; `false` when it was not linked.
    pub async fn unlink_call(
        &self,
        id: Uuid,
        call_id: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DeskError> {
        let change = call_change(Some(call_id), None);
        let event = event_row(
            now,
            actor,
            TicketEventKind::CallUnlinked,
            (None, None),
            None,
            &[change],
        );
        self.store
            .unlink_ticket_call(&id.to_string(), call_id, &event)
            .await
            .map_err(not_found(TicketKey::Id(id)))
    }

    /// The calls linked to a ticket, in the order they were linked; their
    /// records name the recordings.
    pub async fn calls_of(&self, id: Uuid) -> Result<Vec<CallRecord>, DeskError> {
        self.get(id).await?;
        let mut calls = Vec::new();
        for call_id in self.store.ticket_call_ids(&id.to_string()).await? {
            calls.push(self.known_call(&call_id).await?);
        }
        Ok(calls)
    }

    /// The tickets a call is linked to, oldest first.
    pub async fn tickets_of_call(&self, call_id: &str) -> Result<Vec<TicketRecord>, DeskError> {
        self.store
            .tickets_of_call(call_id)
            .await?
            .into_iter()
            .map(from_stored)
            .collect()
    }

    async fn known_call(&self, call_id: &str) -> Result<CallRecord, DeskError> {
        self.store.call(call_id).await.map_err(|e| match e {
            StoreError::NotFound { .. } => DeskError::CallNotFound {
                call_id: call_id.to_owned(),
            },
            other => DeskError::Store(other),
        })
    }
}

impl Tickets {
    /// What a write does to the order's callbacks: resolving it owes its
    /// 回访 (by the kind's policy: due `after` it, at the first moment of
    /// the calling hours; a manual task for a person not to be called),
    /// cancelling or reopening it drops the follow-ups not yet dialled,
    /// closing it every open callback.
    async fn followup_change(
        &self,
        before: &TicketRecord,
        after: &TicketRecord,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<FollowUpChange>, DeskError> {
        let (was, is) = (before.ticket.status.kind(), after.ticket.status.kind());
        if was == is {
            return Ok(None);
        }
        match is {
            StatusKind::Cancelled | StatusKind::Reopened => {
                return Ok(Some(FollowUpChange::Cancel {
                    every_reason: false,
                }));
            }
            StatusKind::Closed => {
                return Ok(Some(FollowUpChange::Cancel { every_reason: true }));
            }
            StatusKind::Resolved => {}
            _ => return Ok(None),
        }
        let Some(rules) = &self.callbacks else {
            return Ok(None);
        };
        let Some(delay) = rules.followup_after(after.ticket.kind) else {
            return Ok(None);
        };
        let (phones, do_not_call) = match &after.person_id {
            Some(person) => self.store.callback_phones(person).await?,
            None => (Vec::new(), false),
        };
        let Some(number) = callback_number(&phones, after.reporter_phone.as_deref()) else {
            // Nobody to call: the 回访 is a person's task.
            return Ok(Some(FollowUpChange::Schedule(Box::new(self.followup_row(
                after,
                String::new(),
                CallbackStatus::Manual,
                now,
                actor,
                now,
            )))));
        };
        let status = if do_not_call {
            CallbackStatus::Manual
        } else {
            CallbackStatus::Pending
        };
        let earliest = now + chrono::Duration::from_std(delay).unwrap_or_default();
        let due = rules.next_slot(
            Some(after.community.as_str()),
            earliest,
            self.config.time_zone,
        );
        Ok(Some(FollowUpChange::Schedule(Box::new(self.followup_row(
            after,
            number.to_owned(),
            status,
            due,
            actor,
            now,
        )))))
    }

    fn followup_row(
        &self,
        record: &TicketRecord,
        number: String,
        status: CallbackStatus,
        due: DateTime<Utc>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> NewCallbackRow {
        NewCallbackRow {
            id: Uuid::now_v7().to_string(),
            reason: CallbackReason::Followup.code().to_owned(),
            status: status.code().to_owned(),
            number,
            ticket_id: Some(record.ticket.id.to_string()),
            person_id: record.person_id.clone(),
            community: Some(record.community.to_string()),
            note: None,
            assignee: None,
            created_by: actor.to_owned(),
            due_at: due.timestamp_millis(),
            created_at: now.timestamp_millis(),
        }
    }

    /// The 回访's answer on the order: stored as its satisfaction; a
    /// resolved order moves to followed-up, and a dissatisfied owner
    /// reopens it (history note naming the callback) and raises it to
    /// complaint grade. Returns the order as it ends up.
    pub async fn record_followup(
        &self,
        id: Uuid,
        satisfaction: Satisfaction,
        callback_id: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<TicketRecord, DeskError> {
        let note = format!("{}（{callback_id}）", labels::followup_note(satisfaction));
        let record = self
            .modify(id, actor, None, now, |record| {
                record.satisfaction = Some(satisfaction);
                let moves = record.ticket.status.kind() == StatusKind::Resolved;
                if moves {
                    record.ticket.apply(TicketAction::FollowUp, now)?;
                }
                Ok(Some(EventSpec {
                    action: TicketEventKind::of_action(ActionKind::FollowUp),
                    note: Some(note.clone()),
                    moves,
                }))
            })
            .await?;
        if satisfaction != Satisfaction::Dissatisfied
            || record.ticket.status.kind() != StatusKind::FollowedUp
        {
            return Ok(record);
        }
        let note = format!("{}（{callback_id}）", labels::REOPENED_BY_FOLLOWUP);
        self.modify(id, actor, None, now, |record| {
            record.ticket.apply(TicketAction::Reopen, now)?;
            record.escalated = true;
            Ok(Some(EventSpec {
                action: TicketEventKind::of_action(ActionKind::Reopen),
                note: Some(note.clone()),
                moves: true,
            }))
        })
        .await
    }
}

/// Maps the store's "not found" to the ticket that was looked for.
fn not_found(key: TicketKey) -> impl FnOnce(StoreError) -> DeskError {
    move |e| match e {
        StoreError::NotFound { .. } => DeskError::TicketNotFound { key },
        other => DeskError::Store(other),
    }
}

fn call_change(from: Option<&str>, to: Option<&str>) -> FieldChange {
    FieldChange {
        field: "calls".to_owned(),
        from: from.map_or(serde_json::Value::Null, |c| c.into()),
        to: to.map_or(serde_json::Value::Null, |c| c.into()),
    }
}

/// The reporter of a ticket made from a call defaults to the call's
/// caller as the archive matched them: what the request leaves out is
/// filled in (the caller's number, name, archive person and first room).
fn reporter_from_call(request: &mut NewTicketRequest, call: &CallRecord) {
    let blank = |field: &Option<String>| field.as_deref().is_none_or(|v| v.trim().is_empty());
    if blank(&request.reporter_phone) {
        request.reporter_phone = Some(call.caller_raw.clone());
    }
    if blank(&request.reporter_name) {
        request.reporter_name = call.caller_name.clone();
    }
    if blank(&request.person_id) {
        request.person_id = call.caller_person_id.clone();
    }
    if request.room.is_none() && request.location.is_none() {
        request.room = call
            .caller_rooms
            .as_deref()
            .and_then(|rooms| rooms.split('、').next())
            .and_then(|room| room.parse().ok());
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod followup_tests;

//! A stored work order and its history, as the desk reads and writes them.
//!
//! Owns [`TicketRecord`] (the [`Ticket`] with who reported it, where, what
//! was said, who handles it and what it costs), [`TicketEvent`] (one entry of
//! the history, with the fields it changed) and the translation to and from
//! the store's rows, including `due_at`, the earliest deadline still owed,
//! which the store indexes for the "overdue" filter. No queries here: the
//! service (`service.rs`) calls the store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::desk::DeskError;
use crate::desk::callbacks::Satisfaction;
use crate::desk::rooms::RoomAddress;
use crate::desk::tickets::{
    ActionKind, CategoryCode, CommunityCode, ComplaintGrade, DepartmentCode, Hold, Milestone,
    Priority, Resumable, SlaDeadlines, SlaState, StatusKind, Ticket, TicketKind, TicketNo,
    TicketSource, TicketStatus,
};
use crate::store::{StoredTicket, TicketEventRow, TicketHoldRow, TicketRow};

/// Fields left out of the recorded changes: they change with every write.
const UNRECORDED_FIELDS: &[&str] = &["version", "updated_at"];

/// A work order as stored: the domain [`Ticket`] (flattened into the same
/// JSON object) and the details around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    #[serde(flatten)]
    pub ticket: Ticket,
    pub community: CommunityCode,
    /// The owner's room, when the request concerns one.
    pub room: Option<RoomAddress>,
    /// A public place (`3栋电梯厅`), when it concerns one.
    pub location: Option<String>,
    pub reporter_name: Option<String>,
    /// The number as given or received.
    pub reporter_phone_raw: Option<String>,
    /// The canonical number (E.164, or a service number as dialled).
    pub reporter_phone: Option<String>,
    /// The archive's person, when the reporter was matched.
    pub person_id: Option<String>,
    pub description: String,
    pub assignee: Option<String>,
    /// Paid service only: the fee in fen (1/100 yuan).
    pub fee_cents: Option<i64>,
    /// Paid service only: whether the fee was paid.
    pub paid: bool,
    /// What the owner said in the 回访 (the survey's answer or the result
    /// an operator recorded).
    pub satisfaction: Option<Satisfaction>,
    /// Raised to complaint grade by a dissatisfied owner.
    pub escalated: bool,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change of the fields; send it back to refuse a write
    /// over someone else's.
    pub version: i64,
}

/// What an entry of the history records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketEventKind {
    Created,
    Dispatch,
    Start,
    Resolve,
    FollowUp,
    Close,
    Hold,
    Resume,
    Reopen,
    Cancel,
    /// Fields edited (department, assignee, priority…).
    Updated,
    Commented,
    CallLinked,
    CallUnlinked,
}

/// One field changed by an event, old → new (JSON values as the API shows them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: serde_json::Value,
    pub to: serde_json::Value,
}

/// One entry of a ticket's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketEvent {
    /// 1 for the creation, then one more per event.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: TicketEventKind,
    pub from_status: Option<StatusKind>,
    pub to_status: Option<StatusKind>,
    pub note: Option<String>,
    pub changes: Vec<FieldChange>,
}

impl TicketEventKind {
    pub const ALL: &'static [TicketEventKind] = &[
        TicketEventKind::Created,
        TicketEventKind::Dispatch,
        TicketEventKind::Start,
        TicketEventKind::Resolve,
        TicketEventKind::FollowUp,
        TicketEventKind::Close,
        TicketEventKind::Hold,
        TicketEventKind::Resume,
        TicketEventKind::Reopen,
        TicketEventKind::Cancel,
        TicketEventKind::Updated,
        TicketEventKind::Commented,
        TicketEventKind::CallLinked,
        TicketEventKind::CallUnlinked,
    ];

    /// The stable code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            TicketEventKind::Created => "created",
            TicketEventKind::Dispatch => "dispatch",
            TicketEventKind::Start => "start",
            TicketEventKind::Resolve => "resolve",
            TicketEventKind::FollowUp => "follow_up",
            TicketEventKind::Close => "close",
            TicketEventKind::Hold => "hold",
            TicketEventKind::Resume => "resume",
            TicketEventKind::Reopen => "reopen",
            TicketEventKind::Cancel => "cancel",
            TicketEventKind::Updated => "updated",
            TicketEventKind::Commented => "commented",
            TicketEventKind::CallLinked => "call_linked",
            TicketEventKind::CallUnlinked => "call_unlinked",
        }
    }

    /// The event of a state-machine action.
    pub fn of_action(action: ActionKind) -> Self {
        match action {
            ActionKind::Dispatch => TicketEventKind::Dispatch,
            ActionKind::Start => TicketEventKind::Start,
            ActionKind::Resolve => TicketEventKind::Resolve,
            ActionKind::FollowUp => TicketEventKind::FollowUp,
            ActionKind::Close => TicketEventKind::Close,
            ActionKind::Hold => TicketEventKind::Hold,
            ActionKind::Resume => TicketEventKind::Resume,
            ActionKind::Reopen => TicketEventKind::Reopen,
            ActionKind::Cancel => TicketEventKind::Cancel,
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.code() == code)
    }
}

/// The fields that differ between two states of a ticket, by field name
/// (`version` and `updated_at` left out).
pub(crate) fn changed_fields(before: &TicketRecord, after: &TicketRecord) -> Vec<FieldChange> {
    let as_object = |record: &TicketRecord| match serde_json::to_value(record)
        .expect("a TicketRecord has only string keys")
    {
        serde_json::Value::Object(fields) => fields,
        _ => serde_json::Map::new(),
    };
    let (before, after) = (as_object(before), as_object(after));
    after
        .iter()
        .filter(|(field, _)| !UNRECORDED_FIELDS.contains(&field.as_str()))
        .filter_map(|(field, to)| {
            let from = before
                .get(field)
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            (from != *to).then(|| FieldChange {
                field: field.clone(),
                from,
                to: to.clone(),
            })
        })
        .collect()
}

/// The earliest deadline still owed at `now`, time on hold given back; `None`
/// while on hold (the clocks stop, so it cannot fall overdue) or when nothing
/// is owed. Without an open hold the effective deadlines no longer depend on
/// `now`, so the value stays true until the next write recomputes it.
pub(crate) fn due_at(ticket: &Ticket, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if ticket.holds.iter().any(|h| h.until.is_none()) {
        return None;
    }
    [Milestone::Respond, Milestone::Arrive, Milestone::Resolve]
        .into_iter()
        .filter_map(|m| match ticket.sla_state(m, now) {
            Some(SlaState::Pending { due } | SlaState::Overdue { due }) => Some(due),
            _ => None,
        })
        .min()
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn resumable_code(resumable: Resumable) -> &'static str {
    match resumable {
        Resumable::New => "new",
        Resumable::Dispatched => "dispatched",
        Resumable::InProgress => "in_progress",
        Resumable::Reopened => "reopened",
    }
}

fn resumable_from_code(code: &str) -> Option<Resumable> {
    [
        Resumable::New,
        Resumable::Dispatched,
        Resumable::InProgress,
        Resumable::Reopened,
    ]
    .into_iter()
    .find(|r| resumable_code(*r) == code)
}

pub(crate) fn status_kind_from_code(code: &str) -> Option<StatusKind> {
    StatusKind::ALL.iter().copied().find(|k| k.code() == code)
}

/// The row of a record; `due_at` is computed from the record at `now`.
pub(crate) fn to_row(record: &TicketRecord, now: DateTime<Utc>) -> TicketRow {
    let t = &record.ticket;
    let (resume_to, cancel_reason) = match &t.status {
        TicketStatus::OnHold { resume_to } => (Some(resumable_code(*resume_to).to_owned()), None),
        TicketStatus::Cancelled { reason } => (None, Some(reason.clone())),
        _ => (None, None),
    };
    TicketRow {
        id: t.id.to_string(),
        number: t.number.to_string(),
        community: record.community.to_string(),
        kind: t.kind.code().to_owned(),
        category: t.category.as_ref().map(ToString::to_string),
        priority: t.priority.code().to_owned(),
        grade: t.grade.map(|g| g.code().to_owned()),
        source: t.source.code().to_owned(),
        status: t.status.kind().code().to_owned(),
        resume_to,
        cancel_reason,
        room: record.room.as_ref().map(ToString::to_string),
        location: record.location.clone(),
        reporter_name: record.reporter_name.clone(),
        reporter_phone_raw: record.reporter_phone_raw.clone(),
        reporter_phone: record.reporter_phone.clone(),
        person_id: record.person_id.clone(),
        description: record.description.clone(),
        department: t.department.as_ref().map(ToString::to_string),
        assignee: record.assignee.clone(),
        fee_cents: record.fee_cents,
        paid: record.paid,
        satisfaction: record.satisfaction.map(|s| s.code().to_owned()),
        escalated: record.escalated,
        respond_by: millis(t.deadlines.respond_by),
        arrive_by: t.deadlines.arrive_by.map(millis),
        resolve_by: millis(t.deadlines.resolve_by),
        responded_at: t.responded_at.map(millis),
        arrived_at: t.arrived_at.map(millis),
        resolved_at: t.resolved_at.map(millis),
        due_at: due_at(t, now).map(millis),
        created_by: record.created_by.clone(),
        created_at: millis(t.created_at),
        updated_at: millis(record.updated_at),
        version: record.version,
        last_event_seq: 0,
    }
}

/// Reads a stored ticket back; a value the desk cannot read is named.
pub(crate) fn from_stored(stored: StoredTicket) -> Result<TicketRecord, DeskError> {
    let StoredTicket { row, holds } = stored;
    let corrupt = |field: &'static str| DeskError::CorruptTicket {
        id: row.id.clone(),
        field,
    };
    let time = |field: &'static str, ms: i64| {
        DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| corrupt(field))
    };
    let opt_time = |field: &'static str, ms: Option<i64>| ms.map(|ms| time(field, ms)).transpose();
    let status = match status_kind_from_code(&row.status).ok_or_else(|| corrupt("status"))? {
        StatusKind::New => TicketStatus::New,
        StatusKind::Dispatched => TicketStatus::Dispatched,
        StatusKind::InProgress => TicketStatus::InProgress,
        StatusKind::Resolved => TicketStatus::Resolved,
        StatusKind::FollowedUp => TicketStatus::FollowedUp,
        StatusKind::Closed => TicketStatus::Closed,
        StatusKind::Reopened => TicketStatus::Reopened,
        StatusKind::OnHold => TicketStatus::OnHold {
            resume_to: row
                .resume_to
                .as_deref()
                .and_then(resumable_from_code)
                .ok_or_else(|| corrupt("resume_to"))?,
        },
        StatusKind::Cancelled => TicketStatus::Cancelled {
            reason: row
                .cancel_reason
                .clone()
                .ok_or_else(|| corrupt("cancel_reason"))?,
        },
    };
    let holds = holds
        .iter()
        .map(|h: &TicketHoldRow| {
            Ok(Hold {
                from: time("holds", h.started_at)?,
                until: opt_time("holds", h.ended_at)?,
            })
        })
        .collect::<Result<Vec<_>, DeskError>>()?;
    let ticket = Ticket {
        id: Uuid::parse_str(&row.id).map_err(|_| corrupt("id"))?,
        number: TicketNo::parse(&row.number).map_err(|_| corrupt("number"))?,
        kind: TicketKind::from_code(&row.kind).map_err(|_| corrupt("kind"))?,
        priority: Priority::from_code(&row.priority).map_err(|_| corrupt("priority"))?,
        grade: row
            .grade
            .as_deref()
            .map(ComplaintGrade::from_code)
            .transpose()
            .map_err(|_| corrupt("grade"))?,
        source: TicketSource::from_code(&row.source).map_err(|_| corrupt("source"))?,
        category: row
            .category
            .as_deref()
            .map(CategoryCode::new)
            .transpose()
            .map_err(|_| corrupt("category"))?,
        department: row
            .department
            .as_deref()
            .map(DepartmentCode::new)
            .transpose()
            .map_err(|_| corrupt("department"))?,
        status,
        created_at: time("created_at", row.created_at)?,
        deadlines: SlaDeadlines {
            respond_by: time("respond_by", row.respond_by)?,
            arrive_by: opt_time("arrive_by", row.arrive_by)?,
            resolve_by: time("resolve_by", row.resolve_by)?,
        },
        responded_at: opt_time("responded_at", row.responded_at)?,
        arrived_at: opt_time("arrived_at", row.arrived_at)?,
        resolved_at: opt_time("resolved_at", row.resolved_at)?,
        holds,
    };
    Ok(TicketRecord {
        community: CommunityCode::new(&row.community).map_err(|_| corrupt("community"))?,
        room: row
            .room
            .as_deref()
            .map(RoomAddress::parse)
            .transpose()
            .map_err(|_| corrupt("room"))?,
        updated_at: time("updated_at", row.updated_at)?,
        ticket,
        location: row.location,
        reporter_name: row.reporter_name,
        reporter_phone_raw: row.reporter_phone_raw,
        reporter_phone: row.reporter_phone,
        person_id: row.person_id,
        description: row.description,
        assignee: row.assignee,
        fee_cents: row.fee_cents,
        paid: row.paid,
        satisfaction: row
            .satisfaction
            .as_deref()
            .map(|code| Satisfaction::from_code(code).ok_or_else(|| corrupt("satisfaction")))
            .transpose()?,
        escalated: row.escalated,
        created_by: row.created_by,
        version: row.version,
    })
}

/// The row of a new event (its seq is given by the store).
pub(crate) fn event_row(
    at: DateTime<Utc>,
    actor: &str,
    action: TicketEventKind,
    statuses: (Option<StatusKind>, Option<StatusKind>),
    note: Option<&str>,
    changes: &[FieldChange],
) -> TicketEventRow {
    TicketEventRow {
        id: Uuid::now_v7().to_string(),
        seq: 0,
        at: millis(at),
        actor: actor.to_owned(),
        action: action.code().to_owned(),
        from_status: statuses.0.map(|s| s.code().to_owned()),
        to_status: statuses.1.map(|s| s.code().to_owned()),
        note: note.map(str::to_owned),
        changes: serde_json::to_string(changes).expect("field changes serialise to JSON"),
    }
}

/// Reads an event row back.
pub(crate) fn event_from_row(
    ticket_id: Uuid,
    row: TicketEventRow,
) -> Result<TicketEvent, DeskError> {
    let corrupt = |field: &'static str| DeskError::CorruptTicketEvent {
        ticket_id,
        seq: row.seq,
        field,
    };
    let status = |code: &Option<String>, field| {
        code.as_deref()
            .map(|c| status_kind_from_code(c).ok_or_else(|| corrupt(field)))
            .transpose()
    };
    Ok(TicketEvent {
        seq: row.seq,
        at: DateTime::<Utc>::from_timestamp_millis(row.at).ok_or_else(|| corrupt("at"))?,
        action: TicketEventKind::from_code(&row.action).ok_or_else(|| corrupt("action"))?,
        from_status: status(&row.from_status, "from_status")?,
        to_status: status(&row.to_status, "to_status")?,
        changes: serde_json::from_str(&row.changes).map_err(|_| corrupt("changes"))?,
        actor: row.actor,
        note: row.note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::tickets::{NewTicket, SlaConfig, TicketAction, business_date};
    use chrono::{TimeDelta, TimeZone};
    use chrono_tz::Asia::Shanghai;

    fn sh(d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(2026, 11, d, h, min, 0)
            .single()
            .expect("Shanghai has no DST gaps")
            .with_timezone(&Utc)
    }

    fn record(at: DateTime<Utc>) -> TicketRecord {
        let community = CommunityCode::new("JF").expect("valid");
        let number =
            TicketNo::new(community.clone(), business_date(at, Shanghai), 7).expect("valid");
        let new = NewTicket {
            kind: TicketKind::Repair,
            priority: Priority::Urgent,
            grade: None,
            source: TicketSource::PhoneCall,
            category: None,
        };
        TicketRecord {
            ticket: Ticket::open(new, Uuid::now_v7(), number, at, &SlaConfig::default())
                .expect("valid"),
            community,
            room: Some(RoomAddress::parse("3栋2单元1201").expect("valid")),
            location: None,
            reporter_name: Some("王芳".into()),
            reporter_phone_raw: Some("13812345678".into()),
            reporter_phone: Some("+8613812345678".into()),
            person_id: None,
            description: "厨房漏水".into(),
            assignee: None,
            fee_cents: None,
            paid: false,
            satisfaction: None,
            escalated: false,
            created_by: "op1".into(),
            updated_at: at,
            version: 1,
        }
    }

    fn stored(record: &TicketRecord, now: DateTime<Utc>) -> StoredTicket {
        StoredTicket {
            row: to_row(record, now),
            holds: record
                .ticket
                .holds
                .iter()
                .map(|h| TicketHoldRow {
                    started_at: millis(h.from),
                    ended_at: h.until.map(millis),
                })
                .collect(),
        }
    }

    #[test]
    fn a_record_round_trips_through_its_row_in_every_status_shape() {
        let mut r = record(sh(23, 10, 0));
        assert_eq!(from_stored(stored(&r, sh(23, 10, 0))).ok(), Some(r.clone()));
        r.ticket
            .apply(TicketAction::Hold, sh(23, 10, 5))
            .expect("allowed");
        assert_eq!(from_stored(stored(&r, sh(23, 10, 5))).ok(), Some(r.clone()));
        r.ticket
            .apply(
                TicketAction::Cancel {
                    reason: "重复".into(),
                },
                sh(23, 10, 6),
            )
            .expect("allowed");
        assert_eq!(from_stored(stored(&r, sh(23, 10, 6))).ok(), Some(r));
    }

    #[test]
    fn an_unreadable_status_is_named_with_the_ticket() {
        let r = record(sh(23, 10, 0));
        let mut s = stored(&r, sh(23, 10, 0));
        s.row.status = "lost".into();
        let err = from_stored(s).expect_err("corrupt");
        assert_eq!(
            err.to_string(),
            format!(
                "ticket {} has an unreadable `status` in the store",
                r.ticket.id
            )
        );
    }

    #[test]
    fn due_at_is_the_earliest_owed_deadline_and_none_on_hold() {
        let mut r = record(sh(23, 10, 0));
        assert_eq!(due_at(&r.ticket, sh(23, 10, 0)), Some(sh(23, 10, 30)));
        r.ticket
            .apply(TicketAction::Dispatch, sh(23, 10, 5))
            .expect("allowed");
        // Responded; arrive-by 10:30 is now the earliest owed.
        assert_eq!(due_at(&r.ticket, sh(23, 10, 5)), Some(sh(23, 10, 30)));
        r.ticket
            .apply(TicketAction::Hold, sh(23, 10, 10))
            .expect("allowed");
        assert_eq!(due_at(&r.ticket, sh(23, 12, 0)), None);
        r.ticket
            .apply(TicketAction::Resume, sh(23, 12, 10))
            .expect("allowed");
        assert_eq!(
            due_at(&r.ticket, sh(23, 12, 10)),
            Some(sh(23, 10, 30) + TimeDelta::hours(2))
        );
    }

    #[test]
    fn changed_fields_lists_old_and_new_values_but_not_the_version() {
        let before = record(sh(23, 10, 0));
        let mut after = before.clone();
        after.assignee = Some("李师傅".into());
        after.ticket.department = Some(DepartmentCode::new("engineering").expect("valid"));
        after.version = 2;
        after.updated_at = sh(23, 11, 0);
        let changes = changed_fields(&before, &after);
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["assignee", "department"]);
        assert_eq!(changes[0].from, serde_json::Value::Null);
        assert_eq!(changes[0].to, serde_json::json!("李师傅"));
    }

    #[test]
    fn event_kinds_round_trip_through_their_codes_and_serde() {
        for kind in TicketEventKind::ALL {
            assert_eq!(TicketEventKind::from_code(kind.code()), Some(*kind));
            let json = serde_json::to_string(kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.code()));
        }
        for action in ActionKind::ALL {
            assert_eq!(TicketEventKind::of_action(*action).code(), action.code());
        }
    }
}

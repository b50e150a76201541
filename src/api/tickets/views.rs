//! The JSON shapes of the ticket routes: what a client sends (bodies and the
//! list query, unknown fields refused) and what it gets back, each with its
//! OpenAPI schema, and the schemas of the desk's coded enums.
//!
//! Only translation: the rules are the desk's, the routes are in
//! `tickets.rs`. Codes are the desk's stable snake_case codes; the Chinese
//! labels come along for display.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::desk::call_log::CallRecord;
use crate::desk::callbacks::Satisfaction;
use crate::desk::{
    ActionKind, CategoryCode, CommunityCode, ComplaintGrade, DepartmentCode, Milestone,
    NewTicketRequest, Priority, Resumable, RoomAddress, StatusKind, TicketChanges, TicketEvent,
    TicketEventKind, TicketKind, TicketRecord, TicketSource, TicketStatus,
};

/// The milestones, in the order of a ticket's life (the desk has no list).
const MILESTONES: [Milestone; 3] = [Milestone::Respond, Milestone::Arrive, Milestone::Resolve];

/// A string schema listing the serde codes of `values`.
fn code_schema<T: Serialize>(values: &[T], description: &str) -> RefOr<Schema> {
    let codes: Vec<String> = values
        .iter()
        .filter_map(|v| match serde_json::to_value(v) {
            Ok(serde_json::Value::String(code)) => Some(code),
            _ => None,
        })
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes))
        .description(Some(description))
        .into()
}

/// Gives each coded desk enum its OpenAPI schema: a string of its codes.
macro_rules! coded_schema {
    ($($ty:ty => $values:expr, $description:literal;)+) => {$(
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                code_schema($values, $description)
            }
        }

        impl ToSchema for $ty {}
    )+};
}

coded_schema! {
    TicketKind => TicketKind::ALL, "repair (报修), complaint (投诉), paid_service (有偿服务), inquiry (咨询), other (其他)";
    Priority => Priority::ALL, "urgent (紧急) or normal (一般): picks the SLA";
    ComplaintGrade => ComplaintGrade::ALL, "Complaints only: ordinary (一般), serious (较重), major (重大)";
    TicketSource => TicketSource::ALL, "How the request reached the desk";
    StatusKind => StatusKind::ALL, "Where a ticket is: new (受理) → dispatched (派工) → in_progress (处理中) → resolved (已完成) → followed_up (已回访) → closed (归档); on_hold (挂起), reopened (重新打开), cancelled (已取消) on the side";
    ActionKind => ActionKind::ALL, "Something done to a ticket; each status allows some (see `allowed_actions`)";
    TicketEventKind => TicketEventKind::ALL, "What an entry of the history records";
    Milestone => &MILESTONES, "One of the three SLA promises: respond, arrive (repairs), resolve";
    Satisfaction => &Satisfaction::ALL, "The 回访 answer: satisfied (满意, key 1), basically_satisfied (基本满意, 2), dissatisfied (不满意, 3), no_answer_given (answered, no usable key)";
}

/// `POST /api/tickets` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTicketBody {
    /// The community's code (`JF`): 2 to 8 capitals or digits.
    #[schema(value_type = String, example = "JF")]
    community: CommunityCode,
    kind: TicketKind,
    priority: Priority,
    #[serde(default)]
    grade: Option<ComplaintGrade>,
    /// Defaults to `api`.
    #[serde(default)]
    source: Option<TicketSource>,
    /// One of the kind's categories (`GET /api/categories?kind=`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    category: Option<CategoryCode>,
    /// The owner's room (`3栋2单元1201`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    room: Option<RoomAddress>,
    /// A public place (`3栋电梯厅`).
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    reporter_name: Option<String>,
    /// As given; a local landline needs its area code.
    #[serde(default)]
    reporter_phone: Option<String>,
    #[serde(default)]
    person_id: Option<String>,
    description: String,
    /// Defaults to the category's department.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    department: Option<DepartmentCode>,
    #[serde(default)]
    assignee: Option<String>,
    /// Paid service only, in fen; not negative.
    #[serde(default)]
    fee_cents: Option<i64>,
    /// Paid service only.
    #[serde(default)]
    paid: bool,
    /// The call it comes from (`GET /api/calls`, the screen pop's
    /// `call_id`): linked at creation; the reporter's name, phone, archive
    /// person and room default to the call's caller as the archive matched
    /// them.
    #[serde(default)]
    call_id: Option<String>,
}

impl From<NewTicketBody> for NewTicketRequest {
    fn from(body: NewTicketBody) -> NewTicketRequest {
        NewTicketRequest {
            community: body.community,
            kind: body.kind,
            priority: body.priority,
            grade: body.grade,
            source: body.source.unwrap_or(TicketSource::Api),
            category: body.category,
            room: body.room,
            location: body.location,
            reporter_name: body.reporter_name,
            reporter_phone: body.reporter_phone,
            person_id: body.person_id,
            description: body.description,
            department: body.department,
            assignee: body.assignee,
            fee_cents: body.fee_cents,
            paid: body.paid,
            call_id: body.call_id,
        }
    }
}

/// `PATCH /api/tickets/{ticket}` body: a field left out stays, `null` clears
/// an optional one. Operators may change the description, the reporter, the
/// room or place, the category, the department and the assignee; `priority`,
/// `grade`, `fee_cents` and `paid` need a supervisor (they move the SLA, the
/// complaint statistics and money).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TicketPatch {
    /// Refuse the change (409) if the ticket is no longer at this version.
    pub(crate) expected_version: Option<i64>,
    pub(crate) priority: Option<Priority>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<ComplaintGrade>)]
    pub(crate) grade: Option<Option<ComplaintGrade>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub(crate) category: Option<Option<CategoryCode>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub(crate) department: Option<Option<DepartmentCode>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub(crate) assignee: Option<Option<String>>,
    pub(crate) description: Option<String>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub(crate) room: Option<Option<RoomAddress>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub(crate) location: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub(crate) reporter_name: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub(crate) reporter_phone: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub(crate) person_id: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub(crate) fee_cents: Option<Option<i64>>,
    pub(crate) paid: Option<bool>,
}

impl TicketPatch {
    /// The fields of this patch that need a supervisor, by name.
    pub(crate) fn supervisor_fields(&self) -> Vec<&'static str> {
        [
            ("priority", self.priority.is_some()),
            ("grade", self.grade.is_some()),
            ("fee_cents", self.fee_cents.is_some()),
            ("paid", self.paid.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, set)| set.then_some(field))
        .collect()
    }

    /// The desk's change set.
    pub(crate) fn into_changes(self) -> TicketChanges {
        TicketChanges {
            priority: self.priority,
            grade: self.grade,
            category: self.category,
            department: self.department,
            assignee: self.assignee,
            description: self.description,
            room: self.room,
            location: self.location,
            reporter_name: self.reporter_name,
            reporter_phone: self.reporter_phone,
            person_id: self.person_id,
            fee_cents: self.fee_cents,
            paid: self.paid,
        }
    }
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `POST /api/tickets/{ticket}/transitions` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitionBody {
    pub(crate) action: ActionKind,
    /// Recorded in the history.
    #[serde(default)]
    pub(crate) note: Option<String>,
    /// `cancel` only, and required there.
    #[serde(default)]
    pub(crate) reason: Option<String>,
    /// Refuse the move (409) if the ticket is no longer at this version.
    #[serde(default)]
    pub(crate) expected_version: Option<i64>,
}

/// `POST /api/tickets/{ticket}/comments` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommentBody {
    /// Up to 4000 characters.
    pub(crate) text: String,
}

/// `POST /api/tickets/{ticket}/calls` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkCallBody {
    /// A call of the call log (`GET /api/calls`).
    pub(crate) call_id: String,
}

/// `GET /api/tickets` query. `status` and `kind` take several values, as a
/// comma list (`kind=repair,complaint`) or repeated (`kind=repair&kind=complaint`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, default)]
#[into_params(parameter_in = Query)]
pub(crate) struct TicketQuery {
    /// Any of these statuses.
    #[param(value_type = Option<Vec<StatusKind>>, style = Form, explode = true)]
    pub(crate) status: Option<String>,
    /// Any of these kinds.
    #[param(value_type = Option<Vec<TicketKind>>, style = Form, explode = true)]
    pub(crate) kind: Option<String>,
    #[param(value_type = Option<String>)]
    pub(crate) community: Option<CommunityCode>,
    /// Only tickets past a deadline now (time on hold given back).
    pub(crate) overdue: Option<bool>,
    /// Only tickets not closed or cancelled.
    pub(crate) open: Option<bool>,
    /// Created at or after (RFC 3339).
    pub(crate) created_from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub(crate) created_until: Option<DateTime<Utc>>,
    /// Part of the description, number, reporter name or phone.
    pub(crate) text: Option<String>,
    #[param(value_type = Option<String>)]
    pub(crate) department: Option<DepartmentCode>,
    pub(crate) assignee: Option<String>,
    /// The reporter's phone as written; normalised before matching.
    pub(crate) reporter_phone: Option<String>,
    /// Tickets in the page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub(crate) limit: Option<u32>,
    /// Newest tickets to skip (default 0).
    pub(crate) offset: Option<u64>,
}

/// The parameters that take several values.
pub(crate) const LIST_PARAMETERS: [&str; 2] = ["status", "kind"];

/// A ticket as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TicketView {
    id: String,
    /// `JF-20261123-0007`.
    number: String,
    community: String,
    kind: TicketKind,
    kind_label: String,
    priority: Priority,
    grade: Option<ComplaintGrade>,
    source: TicketSource,
    category: Option<String>,
    department: Option<String>,
    status: StatusKind,
    status_label: String,
    /// On hold: the status it resumes to.
    resume_to: Option<StatusKind>,
    /// Cancelled: why.
    cancel_reason: Option<String>,
    /// The actions the status allows.
    allowed_actions: Vec<ActionKind>,
    room: Option<String>,
    location: Option<String>,
    reporter_name: Option<String>,
    /// As given or received.
    reporter_phone_raw: Option<String>,
    /// E.164, or a service number as dialled.
    reporter_phone: Option<String>,
    person_id: Option<String>,
    description: String,
    assignee: Option<String>,
    fee_cents: Option<i64>,
    paid: bool,
    /// What the owner said in the 回访; none before it.
    satisfaction: Option<Satisfaction>,
    /// Raised to complaint grade by a dissatisfied owner.
    escalated: bool,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Send it back as `expected_version` to refuse a write over someone else's.
    version: i64,
    respond_by: DateTime<Utc>,
    /// Repairs only.
    arrive_by: Option<DateTime<Utc>>,
    resolve_by: DateTime<Utc>,
    responded_at: Option<DateTime<Utc>>,
    arrived_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    /// Time on hold, given back to the deadlines.
    holds: Vec<HoldView>,
    /// The milestones past due and not reached at the time of the answer.
    overdue: Vec<Milestone>,
}

/// One stretch on hold; `until` is `null` while it lasts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HoldView {
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
}

impl TicketView {
    /// The view of `record`, its overdue milestones judged at `now`.
    pub(crate) fn new(record: TicketRecord, now: DateTime<Utc>) -> TicketView {
        let overdue = record.ticket.overdue(now);
        let t = record.ticket;
        let status = t.status.kind();
        let (resume_to, cancel_reason) = match t.status {
            TicketStatus::OnHold { resume_to } => (Some(resumed_status(resume_to)), None),
            TicketStatus::Cancelled { reason } => (None, Some(reason)),
            _ => (None, None),
        };
        TicketView {
            id: t.id.to_string(),
            number: t.number.to_string(),
            community: record.community.to_string(),
            kind: t.kind,
            kind_label: t.kind.label_zh().to_owned(),
            priority: t.priority,
            grade: t.grade,
            source: t.source,
            category: t.category.map(String::from),
            department: t.department.map(String::from),
            status,
            status_label: status.label_zh().to_owned(),
            resume_to,
            cancel_reason,
            allowed_actions: status.allowed_actions().to_vec(),
            room: record.room.map(|r| r.to_string()),
            location: record.location,
            reporter_name: record.reporter_name,
            reporter_phone_raw: record.reporter_phone_raw,
            reporter_phone: record.reporter_phone,
            person_id: record.person_id,
            description: record.description,
            assignee: record.assignee,
            fee_cents: record.fee_cents,
            paid: record.paid,
            satisfaction: record.satisfaction,
            escalated: record.escalated,
            created_by: record.created_by,
            created_at: t.created_at,
            updated_at: record.updated_at,
            version: record.version,
            respond_by: t.deadlines.respond_by,
            arrive_by: t.deadlines.arrive_by,
            resolve_by: t.deadlines.resolve_by,
            responded_at: t.responded_at,
            arrived_at: t.arrived_at,
            resolved_at: t.resolved_at,
            holds: t
                .holds
                .iter()
                .map(|h| HoldView {
                    from: h.from,
                    until: h.until,
                })
                .collect(),
            overdue,
        }
    }
}

/// The status a held ticket resumes to.
fn resumed_status(resume_to: Resumable) -> StatusKind {
    match resume_to {
        Resumable::New => StatusKind::New,
        Resumable::Dispatched => StatusKind::Dispatched,
        Resumable::InProgress => StatusKind::InProgress,
        Resumable::Reopened => StatusKind::Reopened,
    }
}

/// A page of tickets, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TicketList {
    tickets: Vec<TicketView>,
    /// How many tickets match in all.
    total: u64,
    limit: u32,
    offset: u64,
}

impl TicketList {
    pub(crate) fn new(tickets: Vec<TicketView>, total: u64, limit: u32, offset: u64) -> Self {
        TicketList {
            tickets,
            total,
            limit,
            offset,
        }
    }
}

/// One entry of a ticket's history.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TicketEventView {
    /// 1 for the creation, then one more per entry.
    seq: i64,
    at: DateTime<Utc>,
    /// The username of who did it (`ivr` for voice messages).
    actor: String,
    action: TicketEventKind,
    from_status: Option<StatusKind>,
    to_status: Option<StatusKind>,
    note: Option<String>,
    /// The fields it changed, old → new.
    changes: Vec<FieldChangeView>,
}

/// One field changed by an entry of the history.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FieldChangeView {
    field: String,
    /// The value before (any JSON).
    #[schema(value_type = Object)]
    from: serde_json::Value,
    /// The value after (any JSON).
    #[schema(value_type = Object)]
    to: serde_json::Value,
}

impl From<TicketEvent> for TicketEventView {
    fn from(event: TicketEvent) -> TicketEventView {
        TicketEventView {
            seq: event.seq,
            at: event.at,
            actor: event.actor,
            action: event.action,
            from_status: event.from_status,
            to_status: event.to_status,
            note: event.note,
            changes: event
                .changes
                .into_iter()
                .map(|c| FieldChangeView {
                    field: c.field,
                    from: c.from,
                    to: c.to,
                })
                .collect(),
        }
    }
}

/// A call linked to a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LinkedCallView {
    id: String,
    direction: String,
    caller: Option<String>,
    caller_raw: String,
    offered_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    has_recording: bool,
    /// Where the recording is on the server: shown to supervisors and
    /// administrators only (recordings are theirs to audit).
    recording_path: Option<String>,
    recording_sha256: Option<String>,
}

impl LinkedCallView {
    /// The view of `call`; the recording's path only if `show_path`.
    pub(crate) fn new(call: CallRecord, show_path: bool) -> LinkedCallView {
        let time = |millis: i64| DateTime::from_timestamp_millis(millis).unwrap_or_default();
        LinkedCallView {
            id: call.id,
            direction: call.direction,
            caller: call.caller,
            caller_raw: call.caller_raw,
            offered_at: time(call.offered_at),
            ended_at: call.ended_at.map(time),
            duration_ms: call.duration_ms,
            has_recording: call.recording_path.is_some(),
            recording_path: call.recording_path.filter(|_| show_path),
            recording_sha256: call.recording_sha256,
        }
    }
}

/// A ticket with its history and its calls.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TicketDetail {
    ticket: TicketView,
    /// Oldest first.
    history: Vec<TicketEventView>,
    /// In the order they were linked.
    calls: Vec<LinkedCallView>,
}

impl TicketDetail {
    pub(crate) fn new(
        ticket: TicketView,
        history: Vec<TicketEventView>,
        calls: Vec<LinkedCallView>,
    ) -> Self {
        TicketDetail {
            ticket,
            history,
            calls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::parse_json;

    #[test]
    fn an_enum_schema_lists_the_codes_the_desk_accepts() {
        let RefOr::T(Schema::Object(object)) = TicketKind::schema() else {
            panic!("a string schema");
        };
        let codes: Vec<_> = object
            .enum_values
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect();
        let want: Vec<_> = TicketKind::ALL
            .iter()
            .map(|k| k.code().to_owned())
            .collect();
        assert_eq!(codes, want);
        let RefOr::T(Schema::Object(object)) = Milestone::schema() else {
            panic!("a string schema");
        };
        assert_eq!(object.enum_values.map(|v| v.len()), Some(3));
    }

    #[test]
    fn a_patch_names_the_fields_that_need_a_supervisor() {
        let patch: TicketPatch =
            parse_json(br#"{"assignee": null, "description": "x"}"#).expect("valid");
        assert!(patch.supervisor_fields().is_empty());
        assert_eq!(patch.assignee, Some(None));
        let patch: TicketPatch =
            parse_json(br#"{"priority": "urgent", "grade": null, "paid": true}"#).expect("valid");
        assert_eq!(patch.supervisor_fields(), ["priority", "grade", "paid"]);
    }

    #[test]
    fn a_new_ticket_without_a_source_comes_from_the_api() {
        let body: NewTicketBody = parse_json(
            r#"{"community": "JF", "kind": "repair", "priority": "normal", "description": "漏水"}"#
                .as_bytes(),
        )
        .expect("valid");
        let request = NewTicketRequest::from(body);
        assert_eq!(request.source, TicketSource::Api);
        let err = parse_json::<NewTicketBody>(
            br#"{"community": "jf", "kind": "repair", "priority": "normal", "description": "x"}"#,
        )
        .expect_err("lower-case community");
        assert_eq!(err.body().field.as_deref(), Some("community"));
    }
}

//! Work-order rows: the tickets, their holds, their append-only history, the
//! per-community daily number counters and the calls they concern.
//!
//! Rows are plain data (codes as text, times as UTC milliseconds); the desk
//! gives them meaning, checks them and computes what goes in (numbers, SLA
//! deadlines, `due_at`, the JSON of the changed fields). Every write that
//! changes a ticket appends its event in the same transaction.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{FollowUpChange, Store, StoreError};

/// A ticket as stored. `version` counts the changes of its fields (optimistic
/// concurrency); `last_event_seq` the events of its history.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRow {
    pub id: String,
    pub number: String,
    pub community: String,
    pub kind: String,
    pub category: Option<String>,
    pub priority: String,
    pub grade: Option<String>,
    pub source: String,
    pub status: String,
    pub resume_to: Option<String>,
    pub cancel_reason: Option<String>,
    pub room: Option<String>,
    pub location: Option<String>,
    pub reporter_name: Option<String>,
    pub reporter_phone_raw: Option<String>,
    pub reporter_phone: Option<String>,
    pub person_id: Option<String>,
    pub description: String,
    pub department: Option<String>,
    pub assignee: Option<String>,
    pub fee_cents: Option<i64>,
    pub paid: bool,
    /// The 回访 result (`satisfied`, `basically_satisfied`, …).
    pub satisfaction: Option<String>,
    /// A dissatisfied owner raised it to complaint grade.
    pub escalated: bool,
    pub respond_by: i64,
    pub arrive_by: Option<i64>,
    pub resolve_by: i64,
    pub responded_at: Option<i64>,
    pub arrived_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub due_at: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
    pub last_event_seq: i64,
}

/// One stretch of time on hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketHoldRow {
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

/// A ticket with its holds, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTicket {
    pub row: TicketRow,
    pub holds: Vec<TicketHoldRow>,
}

/// One entry of a ticket's history. `seq` is given by the store on append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketEventRow {
    pub id: String,
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub note: Option<String>,
    /// JSON text.
    pub changes: String,
}

/// What a change does to the ticket's holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldChange {
    /// A hold starts at this instant.
    Start(i64),
    /// The open hold ends at this instant.
    End(i64),
}

/// Whether a versioned write went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionedWrite {
    /// Written; the event got this seq.
    Written { seq: i64 },
    /// Someone changed the ticket since `expected`: nothing was written.
    Stale { current: i64 },
}

/// Filters of [`Store::list_tickets`]; `None` / empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketQuery {
    pub statuses: Vec<String>,
    /// Leave out tickets in these statuses (the final ones, for "open").
    pub excluded_statuses: Vec<String>,
    pub kinds: Vec<String>,
    pub community: Option<String>,
    /// Only tickets with a deadline owed before this instant.
    pub due_before: Option<i64>,
    /// Created at or after.
    pub created_from: Option<i64>,
    /// Created before.
    pub created_until: Option<i64>,
    /// Substring of the description, number, reporter name or phone.
    pub text: Option<String>,
    pub department: Option<String>,
    pub assignee: Option<String>,
    pub reporter_phone: Option<String>,
    pub person_id: Option<String>,
    pub limit: u32,
    pub offset: u64,
}

/// One page of tickets, newest first, with the count of all that match.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRowPage {
    pub tickets: Vec<StoredTicket>,
    pub total: u64,
}

/// `LIKE … ESCAPE` character for the text search.
const LIKE_ESCAPE: char = '\\';
/// The columns the text search looks in.
const SEARCHED_COLUMNS: &[&str] = &[
    "description",
    "number",
    "reporter_name",
    "reporter_phone_raw",
    "reporter_phone",
];

const TICKET_COLUMNS: &str = "id, number, community, kind, category, priority, grade, source, \
     status, resume_to, cancel_reason, room, location, reporter_name, reporter_phone_raw, \
     reporter_phone, person_id, description, department, assignee, fee_cents, paid, respond_by, \
     arrive_by, resolve_by, responded_at, arrived_at, resolved_at, due_at, created_by, \
     created_at, updated_at, version, last_event_seq, satisfaction, escalated";

const EVENT_COLUMNS: &str = "id, seq, at, actor, action, from_status, to_status, note, changes";

fn ticket_from_row(row: &AnyRow) -> Result<TicketRow, sqlx::Error> {
    Ok(TicketRow {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        community: row.try_get("community")?,
        kind: row.try_get("kind")?,
        category: row.try_get("category")?,
        priority: row.try_get("priority")?,
        grade: row.try_get("grade")?,
        source: row.try_get("source")?,
        status: row.try_get("status")?,
        resume_to: row.try_get("resume_to")?,
        cancel_reason: row.try_get("cancel_reason")?,
        room: row.try_get("room")?,
        location: row.try_get("location")?,
        reporter_name: row.try_get("reporter_name")?,
        reporter_phone_raw: row.try_get("reporter_phone_raw")?,
        reporter_phone: row.try_get("reporter_phone")?,
        person_id: row.try_get("person_id")?,
        description: row.try_get("description")?,
        department: row.try_get("department")?,
        assignee: row.try_get("assignee")?,
        fee_cents: row.try_get("fee_cents")?,
        paid: row.try_get::<i32, _>("paid")? != 0,
        satisfaction: row.try_get("satisfaction")?,
        escalated: super::callbacks::flag(row, "escalated")?,
        respond_by: row.try_get("respond_by")?,
        arrive_by: row.try_get("arrive_by")?,
        resolve_by: row.try_get("resolve_by")?,
        responded_at: row.try_get("responded_at")?,
        arrived_at: row.try_get("arrived_at")?,
        resolved_at: row.try_get("resolved_at")?,
        due_at: row.try_get("due_at")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
        last_event_seq: row.try_get("last_event_seq")?,
    })
}

fn event_from_row(row: &AnyRow) -> Result<TicketEventRow, sqlx::Error> {
    Ok(TicketEventRow {
        id: row.try_get("id")?,
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        from_status: row.try_get("from_status")?,
        to_status: row.try_get("to_status")?,
        note: row.try_get("note")?,
        changes: row.try_get("changes")?,
    })
}

/// A bound value of a query built at run time.
enum Param {
    Text(String),
    Int(i64),
}

/// The parameters of a query built at run time, numbered as they are added.
#[derive(Default)]
struct Params(Vec<Param>);

impl Params {
    /// Adds a parameter and returns its placeholder (`$3`).
    fn add(&mut self, param: Param) -> String {
        self.0.push(param);
        format!("${}", self.0.len())
    }

    /// `column IN ($1, $2…)` (or `NOT IN`); `None` for no values.
    fn any_of(&mut self, column: &str, values: &[String], negate: bool) -> Option<String> {
        if values.is_empty() {
            return None;
        }
        let list: Vec<String> = values
            .iter()
            .map(|v| self.add(Param::Text(v.clone())))
            .collect();
        let op = if negate { "NOT IN" } else { "IN" };
        Some(format!("{column} {op} ({})", list.join(", ")))
    }
}

/// The `WHERE` clause of a list query and its parameters.
fn where_clause(query: &TicketQuery) -> (String, Params) {
    let mut conditions: Vec<String> = Vec::new();
    let mut params = Params::default();
    conditions.extend(params.any_of("status", &query.statuses, false));
    conditions.extend(params.any_of("status", &query.excluded_statuses, true));
    conditions.extend(params.any_of("kind", &query.kinds, false));
    let equal_text = [
        ("community", &query.community),
        ("department", &query.department),
        ("assignee", &query.assignee),
        ("reporter_phone", &query.reporter_phone),
        ("person_id", &query.person_id),
    ];
    for (column, value) in equal_text {
        if let Some(value) = value {
            let p = params.add(Param::Text(value.clone()));
            conditions.push(format!("{column} = {p}"));
        }
    }
    if let Some(before) = query.due_before {
        let p = params.add(Param::Int(before));
        conditions.push(format!("due_at IS NOT NULL AND due_at < {p}"));
    }
    if let Some(from) = query.created_from {
        let p = params.add(Param::Int(from));
        conditions.push(format!("created_at >= {p}"));
    }
    if let Some(until) = query.created_until {
        let p = params.add(Param::Int(until));
        conditions.push(format!("created_at < {p}"));
    }
    if let Some(text) = query
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        let p = params.add(Param::Text(pattern));
        let any: Vec<String> = SEARCHED_COLUMNS
            .iter()
            .map(|c| format!("LOWER({c}) LIKE {p} ESCAPE '{LIKE_ESCAPE}'"))
            .collect();
        conditions.push(format!("({})", any.join(" OR ")));
    }
    if conditions.is_empty() {
        (String::new(), params)
    } else {
        (format!(" WHERE {}", conditions.join(" AND ")), params)
    }
}

/// `text` with the `LIKE` wildcards taken literally.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
            escaped.push(LIKE_ESCAPE);
        }
        escaped.push(c);
    }
    escaped
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    params: &Params,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for param in &params.0 {
        query = match param {
            Param::Text(text) => query.bind(text.clone()),
            Param::Int(value) => query.bind(*value),
        };
    }
    query
}

async fn insert_event(
    tx: &mut Transaction<'_, Any>,
    ticket_id: &str,
    event: &TicketEventRow,
    seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ticket_events (id, ticket_id, seq, at, actor, action, from_status, \
         to_status, note, changes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&event.id)
    .bind(ticket_id)
    .bind(seq)
    .bind(event.at)
    .bind(&event.actor)
    .bind(&event.action)
    .bind(&event.from_status)
    .bind(&event.to_status)
    .bind(&event.note)
    .bind(&event.changes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Bumps the event counter of a ticket; its new value is the next event's seq.
async fn next_event_seq(
    tx: &mut Transaction<'_, Any>,
    ticket_id: &str,
    at: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE tickets SET last_event_seq = last_event_seq + 1, updated_at = $2 \
         WHERE id = $1 RETURNING last_event_seq",
    )
    .bind(ticket_id)
    .bind(at)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| r.try_get::<i64, _>("last_event_seq"))
        .transpose()
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        entity: "ticket",
        id: id.to_string(),
    }
}

impl Store {
    /// Inserts a new ticket with its first event and linked calls, in one
    /// transaction that also allocates its sequence number: `make` gets the
    /// sequence (1, 2, … per `community` and `day`) and returns the ticket
    /// (its `number` made from it) and the creation event.
    ///
    /// The counter upsert is the transaction's first statement, so on SQLite
    /// it takes the write lock before anything is read (no stale snapshot to
    /// upgrade) and on PostgreSQL the counter row lock orders concurrent
    /// creations; a failed insert rolls the counter back with it.
    pub async fn insert_ticket<F, E>(
        &self,
        community: &str,
        day: &str,
        calls: &[String],
        make: F,
    ) -> Result<TicketRow, E>
    where
        F: FnOnce(i64) -> Result<(TicketRow, TicketEventRow), E>,
        E: From<StoreError>,
    {
        let mut tx = self.pool().begin().await.map_err(StoreError::from)?;
        let seq: i64 = sqlx::query(
            "INSERT INTO ticket_counters (community, day, next) VALUES ($1, $2, 1) \
             ON CONFLICT (community, day) DO UPDATE SET next = ticket_counters.next + 1 \
             RETURNING next",
        )
        .bind(community)
        .bind(day)
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("next"))
        .map_err(StoreError::from)?;
        let (mut row, event) = make(seq)?;
        row.last_event_seq = 1;
        self.insert_ticket_row(&mut tx, &row)
            .await
            .map_err(StoreError::from)?;
        insert_event(&mut tx, &row.id, &event, 1)
            .await
            .map_err(StoreError::from)?;
        for call_id in calls {
            sqlx::query(
                "INSERT INTO ticket_calls (ticket_id, call_id, linked_at) VALUES ($1, $2, $3)",
            )
            .bind(&row.id)
            .bind(call_id)
            .bind(row.created_at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(row)
    }

    async fn insert_ticket_row(
        &self,
        tx: &mut Transaction<'_, Any>,
        row: &TicketRow,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO tickets ({TICKET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, \
             $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36)"
        ))
        .bind(&row.id)
        .bind(&row.number)
        .bind(&row.community)
        .bind(&row.kind)
        .bind(&row.category)
        .bind(&row.priority)
        .bind(&row.grade)
        .bind(&row.source)
        .bind(&row.status)
        .bind(&row.resume_to)
        .bind(&row.cancel_reason)
        .bind(&row.room)
        .bind(&row.location)
        .bind(&row.reporter_name)
        .bind(&row.reporter_phone_raw)
        .bind(&row.reporter_phone)
        .bind(&row.person_id)
        .bind(&row.description)
        .bind(&row.department)
        .bind(&row.assignee)
        .bind(row.fee_cents)
        .bind(i32::from(row.paid))
        .bind(row.respond_by)
        .bind(row.arrive_by)
        .bind(row.resolve_by)
        .bind(row.responded_at)
        .bind(row.arrived_at)
        .bind(row.resolved_at)
        .bind(row.due_at)
        .bind(&row.created_by)
        .bind(row.created_at)
        .bind(row.updated_at)
        .bind(row.version)
        .bind(row.last_event_seq)
        .bind(&row.satisfaction)
        .bind(i32::from(row.escalated))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Writes the new state of a ticket if it is still at `expected_version`
    /// (the new version is `row.version`), applies the hold change and
    /// appends the event, all in one transaction. `id`, `number`,
    /// `community`, `kind`, `source`, `created_*` and `last_event_seq` are
    /// never rewritten.
    pub async fn update_ticket(
        &self,
        row: &TicketRow,
        expected_version: i64,
        hold: Option<HoldChange>,
        event: &TicketEventRow,
        followup: Option<&FollowUpChange>,
    ) -> Result<VersionedWrite, StoreError> {
        let mut tx = self.pool().begin().await?;
        let written = sqlx::query(
            "UPDATE tickets SET category = $3, priority = $4, grade = $5, status = $6, \
             resume_to = $7, cancel_reason = $8, room = $9, location = $10, \
             reporter_name = $11, reporter_phone_raw = $12, reporter_phone = $13, \
             person_id = $14, description = $15, department = $16, assignee = $17, \
             fee_cents = $18, paid = $19, respond_by = $20, arrive_by = $21, resolve_by = $22, \
             responded_at = $23, arrived_at = $24, resolved_at = $25, due_at = $26, \
             updated_at = $27, version = $28, satisfaction = $29, escalated = $30, \
             last_event_seq = last_event_seq + 1 \
             WHERE id = $1 AND version = $2 RETURNING last_event_seq",
        )
        .bind(&row.id)
        .bind(expected_version)
        .bind(&row.category)
        .bind(&row.priority)
        .bind(&row.grade)
        .bind(&row.status)
        .bind(&row.resume_to)
        .bind(&row.cancel_reason)
        .bind(&row.room)
        .bind(&row.location)
        .bind(&row.reporter_name)
        .bind(&row.reporter_phone_raw)
        .bind(&row.reporter_phone)
        .bind(&row.person_id)
        .bind(&row.description)
        .bind(&row.department)
        .bind(&row.assignee)
        .bind(row.fee_cents)
        .bind(i32::from(row.paid))
        .bind(row.respond_by)
        .bind(row.arrive_by)
        .bind(row.resolve_by)
        .bind(row.responded_at)
        .bind(row.arrived_at)
        .bind(row.resolved_at)
        .bind(row.due_at)
        .bind(row.updated_at)
        .bind(row.version)
        .bind(&row.satisfaction)
        .bind(i32::from(row.escalated))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(written) = written else {
            let current: Option<i64> = sqlx::query("SELECT version FROM tickets WHERE id = $1")
                .bind(&row.id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("version"))
                .transpose()?;
            return match current {
                Some(current) => Ok(VersionedWrite::Stale { current }),
                None => Err(not_found(&row.id)),
            };
        };
        let seq: i64 = written.try_get("last_event_seq")?;
        match hold {
            Some(HoldChange::Start(at)) => {
                sqlx::query(
                    "INSERT INTO ticket_holds (ticket_id, started_at, ended_at) \
                     VALUES ($1, $2, NULL)",
                )
                .bind(&row.id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            Some(HoldChange::End(at)) => {
                sqlx::query(
                    "UPDATE ticket_holds SET ended_at = $2 \
                     WHERE ticket_id = $1 AND ended_at IS NULL",
                )
                .bind(&row.id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            None => {}
        }
        insert_event(&mut tx, &row.id, event, seq).await?;
        match followup {
            Some(FollowUpChange::Schedule(callback)) => {
                super::callbacks::insert_callback(&mut tx, callback).await?;
            }
            Some(FollowUpChange::Cancel { every_reason }) => {
                super::callbacks::cancel_callbacks_of_ticket(
                    &mut tx,
                    &row.id,
                    *every_reason,
                    row.updated_at,
                )
                .await?;
            }
            None => {}
        }
        tx.commit().await?;
        Ok(VersionedWrite::Written { seq })
    }

    /// Appends an event that changes no field (a comment): no version check,
    /// no version bump. Returns its seq.
    pub async fn append_ticket_event(
        &self,
        ticket_id: &str,
        event: &TicketEventRow,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let seq = next_event_seq(&mut tx, ticket_id, event.at)
            .await?
            .ok_or_else(|| not_found(ticket_id))?;
        insert_event(&mut tx, ticket_id, event, seq).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Links a call to a ticket and appends `event`; `false` (and no event)
    /// when it was linked already.
    pub async fn link_ticket_call(
        &self,
        ticket_id: &str,
        call_id: &str,
        event: &TicketEventRow,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let seq = next_event_seq(&mut tx, ticket_id, event.at)
            .await?
            .ok_or_else(|| not_found(ticket_id))?;
        let done = sqlx::query(
            "INSERT INTO ticket_calls (ticket_id, call_id, linked_at) VALUES ($1, $2, $3) \
             ON CONFLICT (ticket_id, call_id) DO NOTHING",
        )
        .bind(ticket_id)
        .bind(call_id)
        .bind(event.at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_event(&mut tx, ticket_id, event, seq).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Unlinks a call from a ticket and appends `event`; `false` (and no
    /// event) when it was not linked.
    pub async fn unlink_ticket_call(
        &self,
        ticket_id: &str,
        call_id: &str,
        event: &TicketEventRow,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let seq = next_event_seq(&mut tx, ticket_id, event.at)
            .await?
            .ok_or_else(|| not_found(ticket_id))?;
        let done = sqlx::query("DELETE FROM ticket_calls WHERE ticket_id = $1 AND call_id = $2")
            .bind(ticket_id)
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_event(&mut tx, ticket_id, event, seq).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// One ticket by id, with its holds.
    pub async fn ticket(&self, id: &str) -> Result<StoredTicket, StoreError> {
        self.ticket_where("id", id).await
    }

    /// One ticket by number (`JF-20261123-0007`), with its holds.
    pub async fn ticket_by_number(&self, number: &str) -> Result<StoredTicket, StoreError> {
        self.ticket_where("number", number).await
    }

    async fn ticket_where(&self, column: &str, value: &str) -> Result<StoredTicket, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| not_found(value))?;
        let row = ticket_from_row(&row)?;
        let mut tickets = self.with_holds(vec![row]).await?;
        Ok(tickets.pop().expect("one row in, one ticket out"))
    }

    /// Attaches the holds to each row (one query for all of them).
    async fn with_holds(&self, rows: Vec<TicketRow>) -> Result<Vec<StoredTicket>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=rows.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT ticket_id, started_at, ended_at FROM ticket_holds \
             WHERE ticket_id IN ({}) ORDER BY started_at",
            placeholders.join(", ")
        );
        let params = Params(rows.iter().map(|r| Param::Text(r.id.clone())).collect());
        let holds = bind_all(sqlx::query(&sql), &params)
            .fetch_all(self.pool())
            .await?;
        let mut tickets: Vec<StoredTicket> = rows
            .into_iter()
            .map(|row| StoredTicket {
                row,
                holds: Vec::new(),
            })
            .collect();
        for hold in &holds {
            let ticket_id: String = hold.try_get("ticket_id")?;
            let hold_row = TicketHoldRow {
                started_at: hold.try_get("started_at")?,
                ended_at: hold.try_get("ended_at")?,
            };
            if let Some(ticket) = tickets.iter_mut().find(|t| t.row.id == ticket_id) {
                ticket.holds.push(hold_row);
            }
        }
        Ok(tickets)
    }

    /// Tickets matching `query`, newest first, and how many match in all.
    pub async fn list_tickets(&self, query: &TicketQuery) -> Result<TicketRowPage, StoreError> {
        let (clause, mut params) = where_clause(query);
        let total: i64 = bind_all(
            sqlx::query(&format!("SELECT COUNT(*) AS total FROM tickets{clause}")),
            &params,
        )
        .fetch_one(self.pool())
        .await?
        .try_get("total")?;
        let limit = params.add(Param::Int(i64::from(query.limit)));
        let offset = params.add(Param::Int(i64::try_from(query.offset).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets{clause} \
             ORDER BY created_at DESC, id DESC LIMIT {limit} OFFSET {offset}"
        );
        let rows = bind_all(sqlx::query(&sql), &params)
            .fetch_all(self.pool())
            .await?;
        let rows = rows
            .iter()
            .map(ticket_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TicketRowPage {
            tickets: self.with_holds(rows).await?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    /// The history of a ticket, oldest first.
    pub async fn ticket_events(&self, ticket_id: &str) -> Result<Vec<TicketEventRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM ticket_events WHERE ticket_id = $1 ORDER BY seq"
        ))
        .bind(ticket_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(event_from_row).collect::<Result<_, _>>()?)
    }

    /// The ids of the calls linked to a ticket, in the order they were linked.
    pub async fn ticket_call_ids(&self, ticket_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT call_id FROM ticket_calls WHERE ticket_id = $1 ORDER BY linked_at, call_id",
        )
        .bind(ticket_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("call_id"))
            .collect::<Result<_, _>>()?)
    }

    /// The tickets a call is linked to, oldest first.
    pub async fn tickets_of_call(&self, call_id: &str) -> Result<Vec<StoredTicket>, StoreError> {
        let columns: Vec<String> = TICKET_COLUMNS
            .split(", ")
            .map(|c| format!("t.{c}"))
            .collect();
        let rows = sqlx::query(&format!(
            "SELECT {} FROM tickets t JOIN ticket_calls tc ON tc.ticket_id = t.id \
             WHERE tc.call_id = $1 ORDER BY t.created_at, t.id",
            columns.join(", ")
        ))
        .bind(call_id)
        .fetch_all(self.pool())
        .await?;
        let rows = rows
            .iter()
            .map(ticket_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.with_holds(rows).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn row(id: &str, number: &str, created_at: i64) -> TicketRow {
        TicketRow {
            id: id.to_string(),
            number: number.to_string(),
            community: "JF".into(),
            kind: "repair".into(),
            category: None,
            priority: "normal".into(),
            grade: None,
            source: "phone_call".into(),
            status: "new".into(),
            resume_to: None,
            cancel_reason: None,
            room: None,
            location: None,
            reporter_name: Some("王芳".into()),
            reporter_phone_raw: Some("138 1234 5678".into()),
            reporter_phone: Some("+8613812345678".into()),
            person_id: None,
            description: "厨房漏水 100%".into(),
            department: None,
            assignee: None,
            fee_cents: None,
            paid: false,
            satisfaction: None,
            escalated: false,
            respond_by: created_at + 1_000,
            arrive_by: None,
            resolve_by: created_at + 5_000,
            responded_at: None,
            arrived_at: None,
            resolved_at: None,
            due_at: Some(created_at + 1_000),
            created_by: "op1".into(),
            created_at,
            updated_at: created_at,
            version: 1,
            last_event_seq: 0,
        }
    }

    fn event(at: i64, action: &str) -> TicketEventRow {
        TicketEventRow {
            id: uuid::Uuid::now_v7().to_string(),
            seq: 0,
            at,
            actor: "op1".into(),
            action: action.into(),
            from_status: None,
            to_status: Some("new".into()),
            note: None,
            changes: "[]".into(),
        }
    }

    async fn insert(store: &Store, id: &str, created_at: i64) -> TicketRow {
        store
            .insert_ticket("JF", "20261123", &[], |seq| {
                Ok::<_, StoreError>((
                    row(id, &format!("JF-20261123-{seq:04}"), created_at),
                    event(created_at, "created"),
                ))
            })
            .await
            .expect("insert")
    }

    #[tokio::test]
    async fn a_ticket_row_round_trips_with_its_first_event_on_both_engines() {
        for store in testing::stores().await {
            let inserted = insert(&store, "t1", 1_000).await;
            assert_eq!(inserted.number, "JF-20261123-0001");
            let loaded = store.ticket("t1").await.expect("by id");
            assert_eq!(loaded.row, inserted);
            assert!(loaded.holds.is_empty());
            let by_number = store
                .ticket_by_number("JF-20261123-0001")
                .await
                .expect("by number");
            assert_eq!(by_number.row.id, "t1");
            let events = store.ticket_events("t1").await.expect("events");
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].seq, 1);
            assert_eq!(events[0].action, "created");
            let missing = store.ticket("nope").await.expect_err("missing");
            assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
        }
    }

    #[tokio::test]
    async fn a_versioned_update_writes_once_and_then_is_stale_on_both_engines() {
        for store in testing::stores().await {
            let mut row = insert(&store, "t1", 1_000).await;
            row.status = "on_hold".into();
            row.resume_to = Some("new".into());
            row.version = 2;
            let first = store
                .update_ticket(
                    &row,
                    1,
                    Some(HoldChange::Start(2_000)),
                    &event(2_000, "hold"),
                    None,
                )
                .await
                .expect("update");
            assert_eq!(first, VersionedWrite::Written { seq: 2 });
            let again = store
                .update_ticket(&row, 1, None, &event(2_500, "hold"), None)
                .await
                .expect("stale is not an error");
            assert_eq!(again, VersionedWrite::Stale { current: 2 });
            row.status = "new".into();
            row.resume_to = None;
            row.version = 3;
            store
                .update_ticket(
                    &row,
                    2,
                    Some(HoldChange::End(3_000)),
                    &event(3_000, "resume"),
                    None,
                )
                .await
                .expect("resume");
            let loaded = store.ticket("t1").await.expect("load");
            assert_eq!(loaded.row.version, 3);
            assert_eq!(
                loaded.holds,
                [TicketHoldRow {
                    started_at: 2_000,
                    ended_at: Some(3_000)
                }]
            );
            let actions: Vec<_> = store
                .ticket_events("t1")
                .await
                .expect("events")
                .into_iter()
                .map(|e| (e.seq, e.action))
                .collect();
            assert_eq!(
                actions,
                [
                    (1, "created".into()),
                    (2, "hold".into()),
                    (3, "resume".into())
                ]
            );
            let mut ghost = row.clone();
            ghost.id = "ghost".into();
            let err = store
                .update_ticket(&ghost, 1, None, &event(1, "x"), None)
                .await
                .expect_err("missing");
            assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
        }
    }

    #[tokio::test]
    async fn text_search_takes_wildcards_literally_on_both_engines() {
        for store in testing::stores().await {
            insert(&store, "t1", 1_000).await;
            let mut other = row("t2", "JF-20261123-0099", 2_000);
            other.description = "100 percent".into();
            store
                .insert_ticket("JF", "20261123", &[], |_| {
                    Ok::<_, StoreError>((other, event(2_000, "created")))
                })
                .await
                .expect("insert");
            let query = |text: &str| TicketQuery {
                text: Some(text.into()),
                limit: 10,
                ..TicketQuery::default()
            };
            let page = store.list_tickets(&query("100%")).await.expect("list");
            assert_eq!(page.total, 1);
            assert_eq!(page.tickets[0].row.id, "t1");
            let page = store.list_tickets(&query("jf-2026")).await.expect("list");
            assert_eq!(page.total, 2);
            assert_eq!(page.tickets[0].row.id, "t2", "newest first");
        }
    }
}

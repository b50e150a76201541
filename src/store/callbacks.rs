//! Callbacks and their attempts: rows, the atomic claim that keeps two
//! dialers (threads or nodes) off one callback, and the conditional writes
//! that end an attempt. What the statuses mean is the desk's; here they
//! are columns.
//!
//! A claim moves due callbacks to `dialing` under a lease and opens one
//! attempt each, in one transaction: PostgreSQL picks the rows with
//! `FOR UPDATE SKIP LOCKED`, so concurrent claimers take different rows
//! without waiting; SQLite has one writer, and the `status` test in the
//! UPDATE itself makes a second claimer find nothing. Every later write of
//! the attempt names the attempt number and is refused once the callback
//! moved on (its lease taken back), so a slow dialer never overwrites a
//! newer state.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Engine, Store, StoreError};

/// The stored reason of a missed-call callback.
pub const CALLBACK_MISSED: &str = "missed";
/// The stored status of a callback nobody has dialled yet.
pub const CALLBACK_PENDING: &str = "pending";

/// A callback owed to a caller who gave up waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedCallback {
    pub id: String,
    /// The caller's number (E.164 when it read as one, else as received).
    pub number: String,
    pub call_id: String,
    pub community: Option<String>,
    pub at: i64,
}

/// A callback to store (a 回访 or one scheduled by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallbackRow {
    pub id: String,
    pub reason: String,
    pub status: String,
    pub number: String,
    pub ticket_id: Option<String>,
    pub person_id: Option<String>,
    pub community: Option<String>,
    pub note: Option<String>,
    pub assignee: Option<String>,
    pub created_by: String,
    pub due_at: i64,
    pub created_at: i64,
}

/// A stored callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRow {
    pub id: String,
    pub reason: String,
    pub status: String,
    pub number: String,
    pub call_id: Option<String>,
    pub ticket_id: Option<String>,
    pub person_id: Option<String>,
    pub community: Option<String>,
    pub note: Option<String>,
    pub assignee: Option<String>,
    pub created_by: Option<String>,
    pub attempts: i64,
    pub claimed_by: Option<String>,
    pub lease_until: Option<i64>,
    pub last_cause: Option<String>,
    pub result: Option<String>,
    pub completed_at: Option<i64>,
    pub completed_by: Option<String>,
    pub due_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One try of a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAttemptRow {
    pub callback_id: String,
    pub attempt: i64,
    pub node: String,
    pub trunk: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub outcome: Option<String>,
    pub sip_status: Option<i32>,
    pub responses: String,
    pub call_id: Option<String>,
    pub digit: Option<String>,
}

/// How an attempt ended and where its callback goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEnd {
    pub callback_id: String,
    pub attempt: i64,
    pub ended_at: i64,
    pub outcome: String,
    pub sip_status: Option<i32>,
    pub responses: String,
    pub call_id: Option<String>,
    pub digit: Option<String>,
    /// The callback's next status and due time.
    pub status: String,
    pub due_at: i64,
    pub last_cause: Option<String>,
    pub result: Option<String>,
}

/// What a ticket write does to the order's callbacks, in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUpChange {
    /// Resolved: its 回访 is owed (nothing when one is live already).
    Schedule(Box<NewCallbackRow>),
    /// Cancelled or reopened (its follow-ups not yet dialled), or closed
    /// (`every_reason`: every open callback of the order).
    Cancel { every_reason: bool },
}

/// Which callbacks a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackQuery {
    pub status: Option<String>,
    pub reason: Option<String>,
    pub community: Option<String>,
    pub due_before: Option<i64>,
    pub assignee: Option<String>,
    pub ticket_id: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// A claim of due callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim<'a> {
    pub node: &'a str,
    pub now: i64,
    pub lease_until: i64,
    pub limit: u32,
    /// Only these reasons (the dialer of missed calls may differ).
    pub reasons: &'a [&'a str],
}

const COLUMNS: &str = "id, reason, status, number, call_id, ticket_id, person_id, community, \
     note, assignee, created_by, attempts, claimed_by, lease_until, last_cause, result, \
     completed_at, completed_by, due_at, created_at, updated_at";

const ATTEMPT_COLUMNS: &str = "callback_id, attempt, node, trunk, started_at, ended_at, outcome, \
     sip_status, responses, call_id, digit";

/// Statuses a dialer may claim from.
const CLAIMABLE: &str = "('pending', 'retry_wait')";

fn callback_from_row(row: &AnyRow) -> Result<CallbackRow, sqlx::Error> {
    Ok(CallbackRow {
        id: row.try_get("id")?,
        reason: row.try_get("reason")?,
        status: row.try_get("status")?,
        number: row.try_get("number")?,
        call_id: row.try_get("call_id")?,
        ticket_id: row.try_get("ticket_id")?,
        person_id: row.try_get("person_id")?,
        community: row.try_get("community")?,
        note: row.try_get("note")?,
        assignee: row.try_get("assignee")?,
        created_by: row.try_get("created_by")?,
        attempts: row
            .try_get::<i64, _>("attempts")
            .or_else(|_| row.try_get::<i32, _>("attempts").map(i64::from))?,
        claimed_by: row.try_get("claimed_by")?,
        lease_until: row.try_get("lease_until")?,
        last_cause: row.try_get("last_cause")?,
        result: row.try_get("result")?,
        completed_at: row.try_get("completed_at")?,
        completed_by: row.try_get("completed_by")?,
        due_at: row.try_get("due_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn attempt_from_row(row: &AnyRow) -> Result<CallbackAttemptRow, sqlx::Error> {
    Ok(CallbackAttemptRow {
        callback_id: row.try_get("callback_id")?,
        attempt: row
            .try_get::<i64, _>("attempt")
            .or_else(|_| row.try_get::<i32, _>("attempt").map(i64::from))?,
        node: row.try_get("node")?,
        trunk: row.try_get("trunk")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        outcome: row.try_get("outcome")?,
        sip_status: row.try_get("sip_status")?,
        responses: row.try_get("responses")?,
        call_id: row.try_get("call_id")?,
        digit: row.try_get("digit")?,
    })
}

fn rows(found: &[AnyRow]) -> Result<Vec<CallbackRow>, StoreError> {
    Ok(found
        .iter()
        .map(callback_from_row)
        .collect::<Result<_, _>>()?)
}

impl Store {
    /// Stores a missed-call callback, pending and due at once; `false` when
    /// the call already has one (written by this or another node).
    pub async fn insert_missed_callback(&self, entry: &MissedCallback) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO callbacks (id, reason, status, number, call_id, community, due_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) \
             ON CONFLICT (call_id) WHERE reason = 'missed' DO NOTHING",
        )
        .bind(&entry.id)
        .bind(CALLBACK_MISSED)
        .bind(CALLBACK_PENDING)
        .bind(&entry.number)
        .bind(&entry.call_id)
        .bind(&entry.community)
        .bind(entry.at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a callback; `false` when its work order already has a live
    /// follow-up.
    pub async fn insert_callback(&self, row: &NewCallbackRow) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        insert_callback(&mut conn, row).await
    }

    /// One callback.
    pub async fn callback(&self, id: &str) -> Result<CallbackRow, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM callbacks WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound {
                entity: "callback",
                id: id.to_owned(),
            })?;
        Ok(callback_from_row(&row)?)
    }

    /// The callbacks with this status, oldest due first.
    pub async fn callbacks_with_status(
        &self,
        status: &str,
        limit: u32,
    ) -> Result<Vec<CallbackRow>, StoreError> {
        let query = CallbackQuery {
            status: Some(status.to_owned()),
            limit,
            ..CallbackQuery::default()
        };
        self.list_callbacks(&query).await
    }

    /// Callbacks by the query's filters, the soonest due first.
    pub async fn list_callbacks(
        &self,
        query: &CallbackQuery,
    ) -> Result<Vec<CallbackRow>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM callbacks WHERE 1 = 1");
        let mut texts: Vec<&str> = Vec::new();
        let filters = [
            ("status", &query.status),
            ("reason", &query.reason),
            ("community", &query.community),
            ("assignee", &query.assignee),
            ("ticket_id", &query.ticket_id),
        ];
        for (column, value) in filters {
            if let Some(value) = value {
                texts.push(value);
                sql.push_str(&format!(" AND {column} = ${}", texts.len()));
            }
        }
        let mut next = texts.len();
        if query.due_before.is_some() {
            next += 1;
            sql.push_str(&format!(" AND due_at < ${next}"));
        }
        sql.push_str(&format!(
            " ORDER BY due_at, id LIMIT ${} OFFSET ${}",
            next + 1,
            next + 2
        ));
        let mut q = sqlx::query(&sql);
        for text in texts {
            q = q.bind(text);
        }
        if let Some(before) = query.due_before {
            q = q.bind(before);
        }
        let found = q
            .bind(i64::from(query.limit))
            .bind(i64::from(query.offset))
            .fetch_all(self.pool())
            .await?;
        rows(&found)
    }

    /// The attempts of a callback, first first.
    pub async fn callback_attempts(&self, id: &str) -> Result<Vec<CallbackAttemptRow>, StoreError> {
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM callback_attempts WHERE callback_id = $1 ORDER BY attempt"
        );
        let found = sqlx::query(&sql).bind(id).fetch_all(self.pool()).await?;
        Ok(found
            .iter()
            .map(attempt_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Claims up to `claim.limit` due callbacks for `claim.node`: each is
    /// `dialing` under the lease with its next attempt opened. No callback
    /// is ever returned to two claimers.
    pub async fn claim_callbacks(&self, claim: &Claim<'_>) -> Result<Vec<CallbackRow>, StoreError> {
        if claim.reasons.is_empty() || claim.limit == 0 {
            return Ok(Vec::new());
        }
        let reasons = claim
            .reasons
            .iter()
            .enumerate()
            .map(|(i, _)| format!("${}", i + 6))
            .collect::<Vec<_>>()
            .join(", ");
        let lock = match self.engine() {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE callbacks SET status = 'dialing', claimed_by = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE status IN {CLAIMABLE} AND id IN (SELECT id FROM callbacks \
             WHERE status IN {CLAIMABLE} AND due_at <= $4 AND reason IN ({reasons}) \
             ORDER BY due_at, id LIMIT $5{lock}) RETURNING {COLUMNS}"
        );
        let mut tx = self.pool().begin().await?;
        let mut q = sqlx::query(&sql)
            .bind(claim.node)
            .bind(claim.lease_until)
            .bind(claim.now)
            .bind(claim.now)
            .bind(i64::from(claim.limit));
        for reason in claim.reasons {
            q = q.bind(*reason);
        }
        let claimed = rows(&q.fetch_all(&mut *tx).await?)?;
        for callback in &claimed {
            sqlx::query(
                "INSERT INTO callback_attempts (callback_id, attempt, node, started_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&callback.id)
            .bind(callback.attempts)
            .bind(claim.node)
            .bind(claim.now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Callbacks being dialled whose claim is void: held by `node` (which
    /// is starting again, so nothing of its own is still dialling) or past
    /// their lease.
    pub async fn void_claims(&self, node: &str, now: i64) -> Result<Vec<CallbackRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM callbacks WHERE status = 'dialing' \
             AND (claimed_by = $1 OR lease_until < $2) ORDER BY due_at, id"
        );
        let found = sqlx::query(&sql)
            .bind(node)
            .bind(now)
            .fetch_all(self.pool())
            .await?;
        rows(&found)
    }

    /// Notes which trunk an attempt went out on.
    pub async fn set_attempt_trunk(
        &self,
        callback_id: &str,
        attempt: i64,
        trunk: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE callback_attempts SET trunk = $3 WHERE callback_id = $1 AND attempt = $2",
        )
        .bind(callback_id)
        .bind(attempt)
        .bind(trunk)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Ends an attempt and moves its callback on, if the callback is still
    /// at that attempt and dialling; `false` (nothing written) otherwise.
    pub async fn end_attempt(&self, end: &AttemptEnd) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query(
            "UPDATE callbacks SET status = $3, due_at = $4, last_cause = $5, \
             result = COALESCE($6, result), claimed_by = NULL, lease_until = NULL, \
             completed_at = CASE WHEN $3 = 'done' THEN $7 ELSE completed_at END, \
             updated_at = $7 WHERE id = $1 AND attempts = $2 AND status = 'dialing'",
        )
        .bind(&end.callback_id)
        .bind(end.attempt)
        .bind(&end.status)
        .bind(end.due_at)
        .bind(&end.last_cause)
        .bind(&end.result)
        .bind(end.ended_at)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE callback_attempts SET ended_at = $3, outcome = $4, sip_status = $5, \
             responses = $6, call_id = $7, digit = $8 WHERE callback_id = $1 AND attempt = $2",
        )
        .bind(&end.callback_id)
        .bind(end.attempt)
        .bind(end.ended_at)
        .bind(&end.outcome)
        .bind(end.sip_status)
        .bind(&end.responses)
        .bind(&end.call_id)
        .bind(&end.digit)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sets an open callback's status by hand (cancel, manual result); the
    /// result and who recorded it when given. `false` when it was not open.
    pub async fn close_callback(
        &self,
        id: &str,
        status: &str,
        result: Option<&str>,
        by: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE callbacks SET status = $2, result = COALESCE($3, result), \
             completed_by = $4, completed_at = $5, claimed_by = NULL, lease_until = NULL, \
             updated_at = $5 WHERE id = $1 AND status IN ('pending', 'retry_wait', 'manual')",
        )
        .bind(id)
        .bind(status)
        .bind(result)
        .bind(by)
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The archive's phones of a person as (number, is a mobile), and
    /// whether they are not to be called (勿扰).
    pub async fn callback_phones(
        &self,
        person_id: &str,
    ) -> Result<(Vec<(String, bool)>, bool), StoreError> {
        let found = sqlx::query(
            "SELECT number, kind FROM archive_phones WHERE person_id = $1 ORDER BY created_at, id",
        )
        .bind(person_id)
        .fetch_all(self.pool())
        .await?;
        let phones = found
            .iter()
            .map(|row| {
                let number: String = row.try_get("number")?;
                let kind: String = row.try_get("kind")?;
                Ok((number, kind == "mobile"))
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let dnd = sqlx::query("SELECT do_not_call FROM archive_people WHERE id = $1")
            .bind(person_id)
            .fetch_optional(self.pool())
            .await?
            .map(|row| flag(&row, "do_not_call"))
            .transpose()?
            .unwrap_or(false);
        Ok((phones, dnd))
    }

    /// Marks a person not to be called automatically (勿扰), or lifts it.
    pub async fn set_do_not_call(&self, person_id: &str, on: bool) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE archive_people SET do_not_call = $2 WHERE id = $1")
            .bind(person_id)
            .bind(i32::from(on))
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                entity: "person",
                id: person_id.to_owned(),
            });
        }
        Ok(())
    }
}

/// An integer flag column, whichever width the engine gives it.
pub(super) fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    row.try_get::<i32, _>(column)
        .map(|v| v != 0)
        .or_else(|_| row.try_get::<i64, _>(column).map(|v| v != 0))
        .or_else(|_| row.try_get::<bool, _>(column))
}

/// Inserts a callback on `conn` (a transaction of a ticket write, or a
/// lone connection); `false` when the work order already has a live
/// follow-up.
pub(super) async fn insert_callback(
    conn: &mut sqlx::AnyConnection,
    row: &NewCallbackRow,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO callbacks (id, reason, status, number, ticket_id, person_id, community, \
         note, assignee, created_by, due_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
         ON CONFLICT (ticket_id) WHERE reason = 'followup' \
         AND status IN ('pending', 'dialing', 'retry_wait', 'manual') DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.reason)
    .bind(&row.status)
    .bind(&row.number)
    .bind(&row.ticket_id)
    .bind(&row.person_id)
    .bind(&row.community)
    .bind(&row.note)
    .bind(&row.assignee)
    .bind(&row.created_by)
    .bind(row.due_at)
    .bind(row.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Cancels a work order's open callbacks (all of them, or its follow-ups
/// not yet being dialled) on `conn`.
pub(super) async fn cancel_callbacks_of_ticket(
    conn: &mut sqlx::AnyConnection,
    ticket_id: &str,
    every_reason: bool,
    at: i64,
) -> Result<(), StoreError> {
    let reasons = if every_reason {
        ""
    } else {
        " AND reason = 'followup'"
    };
    let sql = format!(
        "UPDATE callbacks SET status = 'cancelled', updated_at = $2 WHERE ticket_id = $1 \
         AND status IN ('pending', 'retry_wait', 'manual'){reasons}"
    );
    sqlx::query(&sql)
        .bind(ticket_id)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;

//! Call records: written by telephony as a call goes through its life,
//! read by the CLI, the API and the crash repair at start.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// A call as it is offered, before anything else is known.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    pub id: String,
    pub sip_call_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub caller_raw: String,
    pub caller: Option<String>,
    pub dialled: String,
    pub community: Option<String>,
    pub offered_at: i64,
    pub node: String,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallEnd {
    pub ended_at: i64,
    pub end_reason: String,
    pub end_code: Option<String>,
    pub sip_status: Option<i32>,
    pub duration_ms: Option<i64>,
    pub recording_sha256: Option<String>,
    /// `caller`, `operator` or `hotline` (a call never answered: none).
    pub hung_up_by: Option<String>,
}

/// A call's time in the queue for an operator.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpan {
    pub entered_at: i64,
    pub left_at: i64,
    /// `answered`, `abandoned`, `voicemail`, `max_wait`, `shutdown`.
    pub outcome: String,
}

/// One ring of an operator's phone for a call, as it ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CallLeg {
    pub id: String,
    pub call_id: String,
    pub user_id: String,
    pub contact: String,
    pub ring_started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// `answered`, `no_answer`, `refused`, `unreachable`, `caller_left`.
    pub outcome: String,
    pub sip_status: Option<i32>,
}

/// A call record as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CallRecord {
    pub id: String,
    pub sip_call_id: String,
    pub direction: String,
    pub caller_raw: String,
    pub caller: Option<String>,
    pub dialled: String,
    pub community: Option<String>,
    pub offered_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub end_code: Option<String>,
    pub sip_status: Option<i32>,
    pub menu_digit: Option<String>,
    pub menu_choice: Option<String>,
    pub voicemail_start_ms: Option<i64>,
    pub voicemail_end_ms: Option<i64>,
    pub recording_path: Option<String>,
    pub duration_ms: Option<i64>,
    pub recording_sha256: Option<String>,
    pub node: String,
    /// `person`, `household` or `unknown` (outbound calls: none).
    pub caller_match: Option<String>,
    pub caller_person_id: Option<String>,
    pub caller_name: Option<String>,
    /// The matched person's rooms, canonical, separated by `、`.
    pub caller_rooms: Option<String>,
    pub queue_entered_at: Option<i64>,
    pub queue_left_at: Option<i64>,
    pub queue_outcome: Option<String>,
    /// The user id of the operator who answered.
    pub operator_id: Option<String>,
    /// From the operator's answer to the end, and the part of it on hold.
    pub talk_ms: Option<i64>,
    pub hold_ms: Option<i64>,
    pub hung_up_by: Option<String>,
}

/// What the archive said about a caller.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallerMatch {
    pub kind: String,
    pub person_id: Option<String>,
    pub name: Option<String>,
    pub rooms: Option<String>,
}

const CALL_COLUMNS: &str = "id, sip_call_id, direction, caller_raw, caller, dialled, community, \
     offered_at, answered_at, ended_at, end_reason, end_code, sip_status, menu_digit, \
     menu_choice, voicemail_start_ms, voicemail_end_ms, recording_path, duration_ms, \
     recording_sha256, node, caller_match, caller_person_id, caller_name, caller_rooms, \
     queue_entered_at, queue_left_at, queue_outcome, operator_id, talk_ms, hold_ms, hung_up_by";

fn call_from_row(row: &AnyRow) -> Result<CallRecord, sqlx::Error> {
    Ok(CallRecord {
        id: row.try_get("id")?,
        sip_call_id: row.try_get("sip_call_id")?,
        direction: row.try_get("direction")?,
        caller_raw: row.try_get("caller_raw")?,
        caller: row.try_get("caller")?,
        dialled: row.try_get("dialled")?,
        community: row.try_get("community")?,
        offered_at: row.try_get("offered_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
        end_reason: row.try_get("end_reason")?,
        end_code: row.try_get("end_code")?,
        sip_status: row.try_get("sip_status")?,
        menu_digit: row.try_get("menu_digit")?,
        menu_choice: row.try_get("menu_choice")?,
        voicemail_start_ms: row.try_get("voicemail_start_ms")?,
        voicemail_end_ms: row.try_get("voicemail_end_ms")?,
        recording_path: row.try_get("recording_path")?,
        duration_ms: row.try_get("duration_ms")?,
        recording_sha256: row.try_get("recording_sha256")?,
        node: row.try_get("node")?,
        caller_match: row.try_get("caller_match")?,
        caller_person_id: row.try_get("caller_person_id")?,
        caller_name: row.try_get("caller_name")?,
        caller_rooms: row.try_get("caller_rooms")?,
        queue_entered_at: row.try_get("queue_entered_at")?,
        queue_left_at: row.try_get("queue_left_at")?,
        queue_outcome: row.try_get("queue_outcome")?,
        operator_id: row.try_get("operator_id")?,
        talk_ms: row.try_get("talk_ms")?,
        hold_ms: row.try_get("hold_ms")?,
        hung_up_by: row.try_get("hung_up_by")?,
    })
}

/// One write to a call record, as the call goes. The [`Store`] methods
/// below apply one at once; the [`CallJournal`](super::CallJournal) applies
/// many in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum CallWrite {
    /// The call has just been offered, with what the archive said about its
    /// caller.
    Offered {
        call: NewCall,
        caller: Option<CallerMatch>,
    },
    /// The call was answered; its recording goes to `recording_path`.
    Answered {
        id: String,
        answered_at: i64,
        recording_path: Option<String>,
    },
    /// The menu digit the caller pressed and the choice it means.
    MenuChoice {
        id: String,
        digit: Option<String>,
        choice: String,
    },
    /// Where in the recording the voice message starts and ends.
    Voicemail {
        id: String,
        start_ms: i64,
        end_ms: i64,
    },
    /// The call waited in the queue for an operator.
    Queued { id: String, span: QueueSpan },
    /// An operator's phone rang for the call; written when its ring (or
    /// its conversation) is over.
    Leg(CallLeg),
    /// An operator talked to the caller.
    Talked {
        id: String,
        operator_id: String,
        talk_ms: i64,
        hold_ms: i64,
    },
    /// The call is over.
    Ended { id: String, end: CallEnd },
}

impl CallWrite {
    /// The id of the call this write is for.
    pub fn call_id(&self) -> &str {
        match self {
            CallWrite::Offered { call, .. } => &call.id,
            CallWrite::Answered { id, .. }
            | CallWrite::MenuChoice { id, .. }
            | CallWrite::Voicemail { id, .. }
            | CallWrite::Queued { id, .. }
            | CallWrite::Talked { id, .. }
            | CallWrite::Ended { id, .. } => id,
            CallWrite::Leg(leg) => &leg.call_id,
        }
    }

    /// Runs the write's one statement on `conn` (a connection or a
    /// transaction). An update of a call that does not exist is
    /// [`StoreError::NotFound`] and changes nothing.
    pub(super) async fn apply(&self, conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
        match self {
            CallWrite::Offered { call, caller } => {
                sqlx::query(
                    "INSERT INTO calls (id, sip_call_id, direction, caller_raw, caller, dialled, \
                     community, offered_at, node, caller_match, caller_person_id, caller_name, \
                     caller_rooms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&call.id)
                .bind(&call.sip_call_id)
                .bind(&call.direction)
                .bind(&call.caller_raw)
                .bind(&call.caller)
                .bind(&call.dialled)
                .bind(&call.community)
                .bind(call.offered_at)
                .bind(&call.node)
                .bind(caller.as_ref().map(|c| c.kind.clone()))
                .bind(caller.as_ref().and_then(|c| c.person_id.clone()))
                .bind(caller.as_ref().and_then(|c| c.name.clone()))
                .bind(caller.as_ref().and_then(|c| c.rooms.clone()))
                .execute(conn)
                .await?;
                Ok(())
            }
            CallWrite::Answered {
                id,
                answered_at,
                recording_path,
            } => {
                let done = sqlx::query(
                    "UPDATE calls SET answered_at = $2, recording_path = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(*answered_at)
                .bind(recording_path)
                .execute(conn)
                .await?;
                expect_one(done.rows_affected(), id)
            }
            CallWrite::MenuChoice { id, digit, choice } => {
                let done =
                    sqlx::query("UPDATE calls SET menu_digit = $2, menu_choice = $3 WHERE id = $1")
                        .bind(id)
                        .bind(digit)
                        .bind(choice)
                        .execute(conn)
                        .await?;
                expect_one(done.rows_affected(), id)
            }
            CallWrite::Voicemail {
                id,
                start_ms,
                end_ms,
            } => {
                let done = sqlx::query(
                    "UPDATE calls SET voicemail_start_ms = $2, voicemail_end_ms = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(*start_ms)
                .bind(*end_ms)
                .execute(conn)
                .await?;
                expect_one(done.rows_affected(), id)
            }
            CallWrite::Queued { id, span } => {
                let done = sqlx::query(
                    "UPDATE calls SET queue_entered_at = $2, queue_left_at = $3, \
                     queue_outcome = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(span.entered_at)
                .bind(span.left_at)
                .bind(&span.outcome)
                .execute(conn)
                .await?;
                expect_one(done.rows_affected(), id)
            }
            CallWrite::Leg(leg) => {
                sqlx::query(
                    "INSERT INTO call_legs (id, call_id, user_id, contact, ring_started_at, \
                     answered_at, ended_at, outcome, sip_status) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&leg.id)
                .bind(&leg.call_id)
                .bind(&leg.user_id)
                .bind(&leg.contact)
                .bind(leg.ring_started_at)
                .bind(leg.answered_at)
                .bind(leg.ended_at)
                .bind(&leg.outcome)
                .bind(leg.sip_status)
                .execute(conn)
                .await?;
                Ok(())
            }
            CallWrite::Talked {
                id,
                operator_id,
                talk_ms,
                hold_ms,
            } => {
                let done = sqlx::query(
                    "UPDATE calls SET operator_id = $2, talk_ms = $3, hold_ms = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(operator_id)
                .bind(*talk_ms)
                .bind(*hold_ms)
                .execute(conn)
                .await?;
                expect_one(done.rows_affected(), id)
            }
            CallWrite::Ended { id, end } => {
                let done = sqlx::query(
                    "UPDATE calls SET ended_at = $2, end_reason = $3, end_code = $4, \
                     sip_status = $5, duration_ms = $6, recording_sha256 = $7, hung_up_by = $8 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(end.ended_at)
                .bind(&end.end_reason)
                .bind(&end.end_code)
                .bind(end.sip_status)
                .bind(end.duration_ms)
                .bind(&end.recording_sha256)
                .bind(&end.hung_up_by)
                .execute(conn)
                .await?;
                expect_one(done.rows_affected(), id)
            }
        }
    }
}

impl Store {
    /// Applies one call-record write on its own.
    pub async fn write_call(&self, write: &CallWrite) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        write.apply(&mut conn).await
    }

    /// Records a call that has just been offered.
    pub async fn insert_call(&self, call: &NewCall) -> Result<(), StoreError> {
        self.insert_call_matched(call, None).await
    }

    /// Records a call that has just been offered, with what the archive
    /// said about its caller (one statement: the call path writes little).
    pub async fn insert_call_matched(
        &self,
        call: &NewCall,
        caller: Option<&CallerMatch>,
    ) -> Result<(), StoreError> {
        self.write_call(&CallWrite::Offered {
            call: call.clone(),
            caller: caller.cloned(),
        })
        .await
    }

    /// Marks the call answered and names the file its recording goes to.
    pub async fn call_answered(
        &self,
        id: &str,
        answered_at: i64,
        recording_path: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write_call(&CallWrite::Answered {
            id: id.to_string(),
            answered_at,
            recording_path: recording_path.map(str::to_string),
        })
        .await
    }

    /// Stores the menu digit the caller pressed and the choice it means.
    pub async fn call_menu_choice(
        &self,
        id: &str,
        digit: Option<&str>,
        choice: &str,
    ) -> Result<(), StoreError> {
        self.write_call(&CallWrite::MenuChoice {
            id: id.to_string(),
            digit: digit.map(str::to_string),
            choice: choice.to_string(),
        })
        .await
    }

    /// Stores where in the recording the voice message starts and ends.
    pub async fn call_voicemail(
        &self,
        id: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<(), StoreError> {
        self.write_call(&CallWrite::Voicemail {
            id: id.to_string(),
            start_ms,
            end_ms,
        })
        .await
    }

    /// Finishes the call record.
    pub async fn call_ended(&self, id: &str, end: &CallEnd) -> Result<(), StoreError> {
        self.write_call(&CallWrite::Ended {
            id: id.to_string(),
            end: end.clone(),
        })
        .await
    }

    /// One call by id.
    pub async fn call(&self, id: &str) -> Result<CallRecord, StoreError> {
        let row = sqlx::query(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound {
                entity: "call",
                id: id.to_string(),
            })?;
        Ok(call_from_row(&row)?)
    }

    /// The newest calls first.
    pub async fn list_calls(&self, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        self.list_calls_page(limit, 0).await
    }

    /// The newest calls first, skipping the first `offset` (one query over
    /// the `calls_offered_at` index).
    pub async fn list_calls_page(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM calls ORDER BY offered_at DESC, id DESC \
             LIMIT $1 OFFSET $2"
        ))
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(call_from_row).collect::<Result<_, _>>()?)
    }

    /// The rings of operators' phones for a call, in order.
    pub async fn call_legs(&self, call_id: &str) -> Result<Vec<CallLeg>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, call_id, user_id, contact, ring_started_at, answered_at, ended_at, \
             outcome, sip_status FROM call_legs WHERE call_id = $1 ORDER BY ring_started_at, id",
        )
        .bind(call_id)
        .fetch_all(self.pool())
        .await?;
        let leg = |row: &AnyRow| -> Result<CallLeg, sqlx::Error> {
            Ok(CallLeg {
                id: row.try_get("id")?,
                call_id: row.try_get("call_id")?,
                user_id: row.try_get("user_id")?,
                contact: row.try_get("contact")?,
                ring_started_at: row.try_get("ring_started_at")?,
                answered_at: row.try_get("answered_at")?,
                ended_at: row.try_get("ended_at")?,
                outcome: row.try_get("outcome")?,
                sip_status: row.try_get("sip_status")?,
            })
        };
        Ok(rows.iter().map(leg).collect::<Result<_, _>>()?)
    }

    /// The latest calls from this caller (canonical number) before the call
    /// `except`, newest first: the screen pop's history.
    pub async fn recent_calls_of(
        &self,
        caller: &str,
        except: &str,
        limit: u32,
    ) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE caller = $1 AND id <> $2 \
             ORDER BY offered_at DESC, id DESC LIMIT $3"
        ))
        .bind(caller)
        .bind(except)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(call_from_row).collect::<Result<_, _>>()?)
    }

    /// Calls of this node that never ended: left behind by a crash.
    pub async fn unfinished_calls(&self, node: &str) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE ended_at IS NULL AND node = $1 \
             ORDER BY offered_at"
        ))
        .bind(node)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(call_from_row).collect::<Result<_, _>>()?)
    }
}

fn expect_one(rows: u64, id: &str) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            entity: "call",
            id: id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn new_call(id: &str, offered_at: i64) -> NewCall {
        NewCall {
            id: id.to_string(),
            sip_call_id: format!("{id}@127.0.0.1"),
            direction: "inbound".into(),
            caller_raw: "13812345678".into(),
            caller: Some("+8613812345678".into()),
            dialled: "hotline".into(),
            community: Some("JF".into()),
            offered_at,
            node: "node-a".into(),
        }
    }

    #[tokio::test]
    async fn a_call_record_goes_through_its_life_on_both_engines() {
        for store in testing::stores().await {
            let caller = CallerMatch {
                kind: "person".into(),
                person_id: Some("p1".into()),
                name: Some("王芳".into()),
                rooms: Some("3栋2单元1201".into()),
            };
            store
                .insert_call_matched(&new_call("c1", 1_000), Some(&caller))
                .await
                .expect("insert");
            store
                .call_answered("c1", 2_000, Some("JF/2026/11/23/c1.wav"))
                .await
                .expect("answered");
            store
                .call_menu_choice("c1", Some("1"), "repair")
                .await
                .expect("menu");
            store.call_voicemail("c1", 9_000, 15_000).await.expect("vm");
            let end = CallEnd {
                ended_at: 20_000,
                end_reason: "caller_hangup".into(),
                end_code: None,
                sip_status: Some(200),
                duration_ms: Some(18_000),
                recording_sha256: Some("ab".repeat(32)),
                hung_up_by: Some("caller".into()),
            };
            store.call_ended("c1", &end).await.expect("ended");
            let call = store.call("c1").await.expect("get");
            assert_eq!(call.answered_at, Some(2_000));
            assert_eq!(call.menu_digit.as_deref(), Some("1"));
            assert_eq!(call.voicemail_end_ms, Some(15_000));
            assert_eq!(call.end_reason.as_deref(), Some("caller_hangup"));
            assert_eq!(call.sip_status, Some(200));
            assert_eq!(call.recording_sha256, end.recording_sha256);
            assert_eq!(call.caller_match.as_deref(), Some("person"));
            assert_eq!(call.caller_rooms.as_deref(), Some("3栋2单元1201"));
            assert_eq!(call.hung_up_by.as_deref(), Some("caller"));
        }
    }

    #[tokio::test]
    async fn the_queue_the_rings_and_the_talk_are_kept_on_both_engines() {
        for store in testing::stores().await {
            store
                .insert_user(&crate::store::NewUser {
                    id: "u1".into(),
                    username: "zhang".into(),
                    display_name: None,
                    role: "operator".into(),
                    password_hash: "x".into(),
                    created_at: 1,
                })
                .await
                .expect("user");
            store
                .insert_call(&new_call("c0", 500))
                .await
                .expect("older");
            store
                .insert_call(&new_call("c1", 1_000))
                .await
                .expect("insert");
            let span = QueueSpan {
                entered_at: 3_000,
                left_at: 9_000,
                outcome: "answered".into(),
            };
            let leg = |id: &str, at: i64, outcome: &str| CallLeg {
                id: id.into(),
                call_id: "c1".into(),
                user_id: "u1".into(),
                contact: "sip:zhang@127.0.0.1:5062".into(),
                ring_started_at: at,
                answered_at: (outcome == "answered").then_some(at + 1_000),
                ended_at: Some(at + 2_000),
                outcome: outcome.into(),
                sip_status: (outcome == "refused").then_some(486),
            };
            for write in [
                CallWrite::Queued {
                    id: "c1".into(),
                    span,
                },
                CallWrite::Leg(leg("l2", 6_000, "answered")),
                CallWrite::Leg(leg("l1", 4_000, "refused")),
                CallWrite::Talked {
                    id: "c1".into(),
                    operator_id: "u1".into(),
                    talk_ms: 30_000,
                    hold_ms: 5_000,
                },
            ] {
                store.write_call(&write).await.expect("write");
            }
            let call = store.call("c1").await.expect("get");
            assert_eq!(
                (call.queue_entered_at, call.queue_left_at),
                (Some(3_000), Some(9_000))
            );
            assert_eq!(call.queue_outcome.as_deref(), Some("answered"));
            assert_eq!(call.operator_id.as_deref(), Some("u1"));
            assert_eq!((call.talk_ms, call.hold_ms), (Some(30_000), Some(5_000)));
            let legs = store.call_legs("c1").await.expect("legs");
            let outcomes: Vec<&str> = legs.iter().map(|l| l.outcome.as_str()).collect();
            assert_eq!(outcomes, ["refused", "answered"], "in ring order");
            assert_eq!(legs[0].sip_status, Some(486));
            let recent = store
                .recent_calls_of("+8613812345678", "c1", 5)
                .await
                .expect("recent");
            let ids: Vec<&str> = recent.iter().map(|c| c.id.as_str()).collect();
            assert_eq!(ids, ["c0"], "the call itself is not its own history");
            let missing = CallWrite::Talked {
                id: "nope".into(),
                operator_id: "u1".into(),
                talk_ms: 1,
                hold_ms: 0,
            };
            assert!(matches!(
                store.write_call(&missing).await,
                Err(StoreError::NotFound { .. })
            ));
        }
    }

    #[tokio::test]
    async fn calls_are_listed_newest_first_and_unfinished_ones_are_found() {
        for store in testing::stores().await {
            for (id, at) in [("a", 1), ("b", 3), ("c", 2)] {
                store.insert_call(&new_call(id, at)).await.expect("insert");
            }
            let end = CallEnd {
                ended_at: 5,
                end_reason: "cancelled".into(),
                ..CallEnd::default()
            };
            store.call_ended("b", &end).await.expect("end");
            let ids: Vec<_> = store
                .list_calls(2)
                .await
                .expect("list")
                .into_iter()
                .map(|c| c.id)
                .collect();
            assert_eq!(ids, ["b", "c"]);
            let unfinished: Vec<_> = store
                .unfinished_calls("node-a")
                .await
                .expect("unfinished")
                .into_iter()
                .map(|c| c.id)
                .collect();
            assert_eq!(unfinished, ["a", "c"]);
            assert!(
                store
                    .unfinished_calls("node-b")
                    .await
                    .expect("other")
                    .is_empty()
            );
        }
    }

    #[tokio::test]
    async fn updating_an_unknown_call_is_not_found() {
        for store in testing::stores().await {
            let err = store.call_answered("nope", 1, None).await.unwrap_err();
            assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
        }
    }

    #[tokio::test]
    async fn pages_of_calls_are_newest_first_and_do_not_overlap_on_both_engines() {
        for store in testing::stores().await {
            for (id, at) in [("a", 1), ("b", 4), ("c", 2), ("d", 3)] {
                store.insert_call(&new_call(id, at)).await.expect("insert");
            }
            let page = |limit, offset| {
                let store = store.clone();
                async move {
                    store
                        .list_calls_page(limit, offset)
                        .await
                        .expect("page")
                        .into_iter()
                        .map(|c| c.id)
                        .collect::<Vec<_>>()
                }
            };
            assert_eq!(page(2, 0).await, ["b", "d"]);
            assert_eq!(page(2, 2).await, ["c", "a"]);
            assert!(page(2, 4).await.is_empty());
            assert!(page(2, u64::MAX).await.is_empty());
        }
    }
}

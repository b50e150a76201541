//! The call journal: call-record writes from every call in progress,
//! committed together.
//!
//! Each call writes its record three times or more (offered, answered,
//! ended). One transaction per write makes the store's commit (the SQLite
//! write lock and WAL append, a PostgreSQL round trip and flush) the cost of
//! every call, and at hundreds of calls a second the writers queue behind
//! each other. The journal is one task that takes every write waiting, runs
//! them in one transaction and answers each caller when it has committed: a
//! write is as durable as before when its future completes, and a burst
//! shares one commit (group commit).

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Connection};
use tokio::sync::{mpsc, oneshot};

use super::{CallWrite, Store, StoreError};

/// Writes waiting before callers wait to hand theirs over.
const QUEUE_LEN: usize = 4096;
/// Writes committed together at most.
const MAX_BATCH: usize = 256;

/// One write and whoever waits for it.
struct Pending {
    write: CallWrite,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// Hands call-record writes to the journal task. Cheap to clone; the task
/// ends when the last handle is gone.
#[derive(Debug, Clone)]
pub struct CallJournal {
    inbox: mpsc::Sender<Pending>,
}

impl CallJournal {
    /// Starts the journal task on the current tokio runtime.
    pub fn start(store: Store) -> Self {
        let (inbox, queue) = mpsc::channel(QUEUE_LEN);
        tokio::spawn(run(store, queue));
        Self { inbox }
    }

    /// Applies `write` and returns once it has been committed (or has
    /// failed: then nothing of it was written).
    pub async fn write(&self, write: CallWrite) -> Result<(), StoreError> {
        let (done, result) = oneshot::channel();
        self.inbox
            .send(Pending { write, done })
            .await
            .map_err(|_| StoreError::JournalStopped)?;
        result.await.map_err(|_| StoreError::JournalStopped)?
    }

    /// Queues `write` behind every write queued before it and returns
    /// without waiting for the commit; a failure is logged by the journal.
    /// For writes a call need not wait for (it goes on with the caller
    /// meanwhile); later writes of the same call still commit after it.
    pub async fn queue(&self, write: CallWrite) -> Result<(), StoreError> {
        let (done, _unheard) = oneshot::channel();
        self.inbox
            .send(Pending { write, done })
            .await
            .map_err(|_| StoreError::JournalStopped)
    }
}

/// Answers whoever waits for a write; logs a failure nobody waits for.
fn answer(pending: Pending, result: Result<(), StoreError>) {
    let Pending { write, done } = pending;
    if let Err(Err(error)) = done.send(result) {
        tracing::warn!(%error, call = write.call_id(), ?write, "a queued call-record write failed");
    }
}

async fn run(store: Store, mut queue: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // The journal's own connection, kept between batches: taking one from
    // the pool for every batch costs a health check, which on SQLite is a
    // round trip to the connection's worker thread like any statement.
    let mut held: Option<PoolConnection<Any>> = None;
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match commit_on_held(&store, &mut held, &batch).await {
            Ok(results) => {
                for (pending, result) in batch.drain(..).zip(results) {
                    answer(pending, result);
                }
            }
            Err(error) => {
                // One write broke the transaction (or the commit failed, or
                // no connection was to be had): nothing of the batch was
                // written. Each write goes again alone, so only the broken
                // one fails.
                tracing::warn!(%error, writes = batch.len(), "call journal batch failed; writing one by one");
                for pending in batch.drain(..) {
                    let result = store.write_call(&pending.write).await;
                    answer(pending, result);
                }
            }
        }
    }
}

/// [`commit_together`] on the journal's connection, taken from the pool
/// when there is none. The connection is kept only when the batch
/// committed; after an error it goes back to the pool, which drops it if it
/// is broken.
async fn commit_on_held(
    store: &Store,
    held: &mut Option<PoolConnection<Any>>,
    batch: &[Pending],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut conn = match held.take() {
        Some(conn) => conn,
        None => store.pool().acquire().await?,
    };
    let results = commit_together(&mut conn, batch).await?;
    *held = Some(conn);
    Ok(results)
}

/// Runs every write of `batch` in one transaction (a single write runs on
/// its own: one statement is atomic without one). A write that found no
/// call to update gets its own `NotFound` and the others still commit; any
/// other error rolls the whole batch back.
async fn commit_together(
    conn: &mut AnyConnection,
    batch: &[Pending],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    if let [single] = batch {
        return match single.write.apply(conn).await {
            Ok(()) => Ok(vec![Ok(())]),
            Err(error @ StoreError::NotFound { .. }) => Ok(vec![Err(error)]),
            Err(error) => Err(error),
        };
    }
    let mut transaction = conn.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for pending in batch {
        match pending.write.apply(&mut transaction).await {
            Ok(()) => results.push(Ok(())),
            Err(error @ StoreError::NotFound { .. }) => results.push(Err(error)),
            Err(error) => return Err(error),
        }
    }
    transaction.commit().await?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::stores;
    use crate::store::{CallEnd, NewCall};

    fn offered(id: &str) -> CallWrite {
        CallWrite::Offered {
            call: NewCall {
                id: id.to_string(),
                sip_call_id: format!("{id}@trunk"),
                direction: "inbound".to_string(),
                caller_raw: "13800138000".to_string(),
                caller: Some("+8613800138000".to_string()),
                dialled: "hotline".to_string(),
                community: Some("JF".to_string()),
                offered_at: 1_000,
                node: "node-1".to_string(),
            },
            caller: None,
        }
    }

    fn ended(id: &str) -> CallWrite {
        CallWrite::Ended {
            id: id.to_string(),
            end: CallEnd {
                ended_at: 5_000,
                end_reason: "caller_hangup".to_string(),
                duration_ms: Some(4_000),
                ..CallEnd::default()
            },
        }
    }

    #[tokio::test]
    async fn concurrent_writes_are_all_committed_on_both_engines() {
        for store in stores().await {
            let engine = store.engine();
            let journal = CallJournal::start(store.clone());
            let calls: Vec<String> = (0..300).map(|i| format!("{engine:?}-call-{i}")).collect();
            write_concurrently(&journal, calls.iter().map(|id| offered(id)).collect()).await;
            write_concurrently(&journal, calls.iter().map(|id| ended(id)).collect()).await;
            for id in &calls {
                let call = store.call(id).await.expect("stored");
                assert_eq!(call.ended_at, Some(5_000), "{engine:?}");
                assert_eq!(call.duration_ms, Some(4_000));
            }
        }
    }

    #[tokio::test]
    async fn a_broken_write_fails_alone_and_the_rest_of_its_batch_commits() {
        for store in stores().await {
            let engine = store.engine();
            let journal = CallJournal::start(store.clone());
            let good = format!("{engine:?}-good");
            let taken = format!("{engine:?}-taken");
            journal.write(offered(&taken)).await.expect("first insert");
            // In one burst: a new call, a duplicate id (the insert breaks
            // the transaction), and an end for a call that does not exist.
            let (new, duplicate, missing) = tokio::join!(
                journal.write(offered(&good)),
                journal.write(offered(&taken)),
                journal.write(ended("no-such-call")),
            );
            new.expect("the good write commits");
            assert!(
                matches!(duplicate, Err(StoreError::Query(_))),
                "{engine:?}: {duplicate:?}"
            );
            assert!(matches!(missing, Err(StoreError::NotFound { .. })));
            assert_eq!(store.call(&good).await.expect("stored").id, good);
        }
    }

    #[tokio::test]
    async fn writes_one_at_a_time_commit_alone_and_a_failed_one_harms_no_later_write() {
        for store in stores().await {
            let engine = store.engine();
            let journal = CallJournal::start(store.clone());
            let first = format!("{engine:?}-alone-1");
            let second = format!("{engine:?}-alone-2");
            journal.write(offered(&first)).await.expect("insert");
            assert!(matches!(
                journal.write(ended("no-such-call")).await,
                Err(StoreError::NotFound { .. })
            ));
            assert!(matches!(
                journal.write(offered(&first)).await,
                Err(StoreError::Query(_))
            ));
            // The journal's connection is still good after both failures.
            journal.write(offered(&second)).await.expect("insert");
            journal.write(ended(&second)).await.expect("end");
            assert_eq!(store.call(&first).await.expect("stored").ended_at, None);
            assert_eq!(
                store.call(&second).await.expect("stored").ended_at,
                Some(5_000)
            );
        }
    }

    #[tokio::test]
    async fn a_queued_write_commits_before_the_writes_queued_after_it() {
        for store in stores().await {
            let engine = store.engine();
            let journal = CallJournal::start(store.clone());
            let id = format!("{engine:?}-queued");
            journal.queue(offered(&id)).await.expect("queued");
            // Waited for: committed only after the queued insert it needs.
            journal.write(ended(&id)).await.expect("end after insert");
            assert_eq!(store.call(&id).await.expect("stored").ended_at, Some(5_000));
            // A queued write that fails hurts no one else.
            journal.queue(ended("no-such-call")).await.expect("queued");
            journal.write(ended(&id)).await.expect("still writes");
        }
    }

    /// Writes every one of `writes` from its own task, all at once.
    async fn write_concurrently(journal: &CallJournal, writes: Vec<CallWrite>) {
        let mut tasks = tokio::task::JoinSet::new();
        for write in writes {
            let journal = journal.clone();
            tasks.spawn(async move { journal.write(write).await });
        }
        while let Some(result) = tasks.join_next().await {
            result.expect("writer task").expect("written");
        }
    }
}

//! Reading and checking an archive file's rows on a thread of their own,
//! handed to the import in batches over a bounded channel: the file is
//! parsed and checked while the store stages the batch before.
//!
//! Memory stays flat: at most [`BATCHES_AHEAD`] batches wait.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ArchiveError;
use super::row::{Header, RejectedRow, ValidRow, validate};
use super::source::{Record, Source};
use crate::desk::AreaCode;

/// Rows a batch carries.
const BATCH_ROWS: usize = 500;
/// Batches read ahead of the import.
const BATCHES_AHEAD: usize = 4;

/// A row of the file and what its check found.
pub(crate) struct Checked {
    pub record: Record,
    pub check: Result<ValidRow, RejectedRow>,
}

type Batch = Result<Vec<Checked>, ArchiveError>;

/// The checked rows of a file, in file order, as the reading thread
/// produces them.
pub(crate) struct CheckedRows {
    batches: mpsc::Receiver<Batch>,
    /// Taken when the last batch is in.
    reader: Option<JoinHandle<()>>,
}

impl CheckedRows {
    /// Starts reading `source` (past its header) on a blocking thread. The
    /// thread stops at the end of the file, at the first read error (which
    /// it hands over), or when this is dropped.
    pub fn spawn(
        mut source: Source,
        header: Header,
        default_community: Option<String>,
        area: Option<AreaCode>,
    ) -> CheckedRows {
        let (tx, batches) = mpsc::channel(BATCHES_AHEAD);
        let reader = tokio::task::spawn_blocking(move || {
            let mut batch = Vec::with_capacity(BATCH_ROWS);
            let (mut rows, mut waited) = (0u64, Duration::ZERO);
            let started = Instant::now();
            loop {
                let record = match source.next_record() {
                    Ok(Some(record)) => record,
                    Ok(None) => break,
                    Err(error) => {
                        // The reader is gone if the import failed first.
                        let _ = tx.blocking_send(Err(error));
                        return;
                    }
                };
                let check = validate(
                    &header,
                    &record,
                    default_community.as_deref(),
                    area.as_ref(),
                );
                batch.push(Checked { record, check });
                rows += 1;
                if batch.len() >= BATCH_ROWS {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                    let sent = Instant::now();
                    if tx.blocking_send(Ok(full)).is_err() {
                        return;
                    }
                    waited += sent.elapsed();
                }
            }
            tracing::debug!(
                rows,
                busy_ms = (started.elapsed() - waited).as_millis(),
                "archive rows read"
            );
            if !batch.is_empty() {
                let _ = tx.blocking_send(Ok(batch));
            }
        });
        CheckedRows {
            batches,
            reader: Some(reader),
        }
    }

    /// The next batch, `None` after the last.
    pub async fn next_batch(&mut self) -> Option<Batch> {
        let batch = self.batches.recv().await;
        if batch.is_none() {
            // The channel also closes when the thread panics: that must not
            // pass for the end of the file (and a commit of half of it).
            // (A cancelled thread means the runtime is shutting down, and
            // this import with it.)
            if let Some(reader) = self.reader.take()
                && let Err(error) = reader.await
                && error.is_panic()
            {
                std::panic::resume_unwind(error.into_panic());
            }
        }
        batch
    }
}

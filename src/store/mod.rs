//! The SQL store: one pool over SQLite (the embedded default, a WAL file
//! under the data directory) or PostgreSQL (shared by several nodes), the
//! numbered migrations under `migrations/` (the same files for both engines,
//! run at start), and the queries.
//!
//! It knows nothing above it: no SIP, no media, no HTTP. Rows are plain data
//! types defined here; the layers above give them meaning.

mod archive;
mod archive_edit;
mod archive_import;
mod callbacks;
mod calls;
mod config;
mod error;
mod journal;
mod operators;
mod tickets;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Executor;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

pub use archive::{
    ArchiveCommunity, ArchivePerson, ArchivePhone, ArchiveResidence, ExportCursor, ExportRow,
    LOOKUP_LIMIT, RoomQuery,
};
pub use archive_import::{
    ArchiveImport, ConflictField, ConflictRow, ImportCounts, StagedPhone, StagedRow,
};
pub use callbacks::{
    AttemptEnd, CALLBACK_MISSED, CALLBACK_PENDING, CallbackAttemptRow, CallbackQuery, CallbackRow,
    Claim, FollowUpChange, MissedCallback, NewCallbackRow,
};
pub use calls::{CallEnd, CallLeg, CallRecord, CallWrite, CallerMatch, NewCall, QueueSpan};
pub use config::StoreConfig;
pub use error::StoreError;
pub use journal::CallJournal;
pub use operators::{BindingChange, BindingRow, OperatorStateRow, SipCredentialRow};
pub use tickets::{
    HoldChange, StoredTicket, TicketEventRow, TicketHoldRow, TicketQuery, TicketRow, TicketRowPage,
    VersionedWrite,
};
pub use users::{NewToken, NewUser, TokenOwner, UserRow};

/// The SQL pool, whichever engine is behind it.
pub type Pool = sqlx::AnyPool;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// How long a SQLite writer waits for the lock before it gives up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// File name of the embedded database inside the data directory.
pub const SQLITE_FILE_NAME: &str = "hotline.db";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The store: a connection pool plus the queries.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    engine: Engine,
}

impl Store {
    /// Opens the database named by `config` (or the embedded SQLite file under
    /// `data_dir` when no URL is configured) and runs the migrations.
    pub async fn open(config: &StoreConfig, data_dir: &Path) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let url = match config.database_url.as_str() {
            "" => {
                std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
                    path: data_dir.to_path_buf(),
                    source,
                })?;
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.join(SQLITE_FILE_NAME).display()
                )
            }
            url => url.to_string(),
        };
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl {
                url: redact_url(&url),
            });
        };
        let options = AnyConnectOptions::from_str(&url).map_err(|source| StoreError::Connect {
            url: redact_url(&url),
            source,
        })?;
        let pool = AnyPoolOptions::new()
            .max_connections(config.max_connections)
            // A pooled SQLite connection is a file in this process and
            // cannot go stale; checking it before each use cost every query
            // an extra round trip to its worker thread. A PostgreSQL
            // connection can (server restart), so it is still checked.
            .test_before_acquire(engine == Engine::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers (the CLI, the API) run beside the
                        // daemon's writer; NORMAL is durable in WAL mode except
                        // for the last commits before a power loss.
                        conn.execute(
                            format!(
                                "PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL;",
                                SQLITE_BUSY_TIMEOUT.as_millis()
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact_url(&url),
                source,
            })?;
        if engine == Engine::Sqlite {
            // A persistent property of the file: set once, kept across opens.
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool, engine })
    }

    /// The engine behind this store.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool, for queries of the layers' own modules in this folder.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Closes every connection; pending queries finish first.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A database URL with its password replaced, fit for logs and errors.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Milliseconds since the Unix epoch, the form every time takes in the store.
pub fn unix_millis(time: std::time::SystemTime) -> i64 {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://hotline:secret@db:5432/hotline"),
            "postgres://hotline:***@db:5432/hotline"
        );
        assert_eq!(
            redact_url("postgres://127.0.0.1/test"),
            "postgres://127.0.0.1/test"
        );
    }

    #[tokio::test]
    async fn sqlite_is_built_with_a_page_cache_per_connection() {
        // `.cargo/config.toml` takes the flag out (why: there); a build
        // without that file gets one shared LRU again, and slow imports.
        let store = testing::sqlite().await;
        let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
            .fetch_all(store.pool())
            .await
            .expect("compile options");
        assert!(options.iter().any(|o| o.starts_with("THREADSAFE")));
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }

    #[tokio::test]
    async fn migrations_run_on_both_engines_and_twice_is_harmless() {
        for store in testing::stores().await {
            MIGRATOR.run(store.pool()).await.expect("second run");
        }
    }
}

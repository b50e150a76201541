//! Test support: a fresh store on each engine.
//!
//! PostgreSQL is reached at `HOTLINE_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each call creates a new
//! database there. Without a reachable server the PostgreSQL half is skipped
//! with a note, except when `CI` is set: there a missing server fails the test.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor};

use super::{Store, StoreConfig};

static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The admin URL of the test PostgreSQL server.
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("HOTLINE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A new, empty, migrated SQLite store in a temporary directory (kept alive
/// for the life of the process by leaking its guard).
pub(crate) async fn sqlite() -> Store {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&StoreConfig::default(), dir.path())
        .await
        .expect("open sqlite");
    std::mem::forget(dir);
    store
}

/// A new, empty, migrated PostgreSQL store in a database of its own.
pub(crate) async fn postgres() -> Option<Store> {
    sqlx::any::install_default_drivers();
    let admin_url = postgres_admin_url();
    let mut admin = match sqlx::AnyConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!("note: PostgreSQL at {admin_url} unreachable ({err}); skipping its half");
            return None;
        }
        Err(err) => panic!("CI is set and PostgreSQL at {admin_url} is unreachable: {err}"),
    };
    let name = format!(
        "hotline_test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
        .await
        .expect("drop old test database");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("create test database");
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base)
        .expect("URL with a database");
    let config = StoreConfig {
        database_url: format!("{base}/{name}"),
        max_connections: 4,
    };
    Some(
        Store::open(&config, std::path::Path::new("."))
            .await
            .expect("open postgres"),
    )
}

/// One fresh store per available engine: SQLite always, PostgreSQL when reachable.
pub(crate) async fn stores() -> Vec<Store> {
    let mut stores = vec![sqlite().await];
    stores.extend(postgres().await);
    stores
}

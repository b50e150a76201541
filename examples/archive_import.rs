//! Imports an archive file into the embedded SQLite store of a data
//! directory and prints the summary and the time taken: the measurement
//! behind the 1,000,000-row import figure (run under `/usr/bin/time -v`).
//!
//! `cargo run --release --example archive_import -- FILE DATA_DIR [--dry-run]`
//!
//! `HOTLINE_LOG=hotline=debug` logs the time of each phase on stderr.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use hotline::desk::AreaCode;
use hotline::desk::archive::{ImportOptions, import_file, terminal_progress};
use hotline::store::{Store, StoreConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(data_dir)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: archive_import FILE DATA_DIR [--dry-run]");
    };
    let dry_run = args.next().as_deref() == Some("--dry-run");
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOTLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let store = Store::open(&StoreConfig::default(), &PathBuf::from(data_dir)).await?;
    let started = Instant::now();
    let report = import_file(
        &store,
        &PathBuf::from(file),
        ImportOptions {
            dry_run,
            default_area_code: Some(AreaCode::parse("0871")?),
            community: None,
            now: SystemTime::now(),
            progress: terminal_progress("importing"),
        },
    )
    .await?;
    println!(
        "{} ({} s, encoding {})",
        report.summary,
        started.elapsed().as_secs_f64(),
        report.encoding
    );
    store.close().await;
    Ok(())
}

//! Ticket creation through the HTTP API, end to end: the real router served
//! in-process on 127.0.0.1, an operator logged in, then C concurrent clients
//! (each with its own connection) POST N tickets to `/api/tickets` over
//! loopback. Prints tickets per second and the p50/p99 latency of one
//! creation, on SQLite (a temporary directory) and on PostgreSQL (a fresh
//! database, when reachable).
//!
//! `cargo bench --bench tickets_api`; `HOTLINE_BENCH_CLIENTS` (default 16)
//! and `HOTLINE_BENCH_TICKETS` (default 2000) change the load;
//! `HOTLINE_TEST_PG` the PostgreSQL admin URL (default
//! `postgres://postgres@127.0.0.1:5432/postgres`).

use std::time::{Duration, Instant};

use hotline::api::{self, ApiConfig, ApiState};
use hotline::desk::call_log::CallLog;
use hotline::desk::users::{Role, Users};
use hotline::desk::{DeskConfig, Tickets};
use hotline::store::{Store, StoreConfig};
use serde_json::json;
use tokio::sync::oneshot;

const DEFAULT_CLIENTS: usize = 16;
const DEFAULT_TICKETS: usize = 2000;
const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PASSWORD: &str = "correct horse";
/// How long to wait for PostgreSQL before leaving it out.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Pool size of the store under load: one per client at the default load.
const POOL_SIZE: u32 = 16;

/// Tickets created when the bench runs as a smoke test.
const SMOKE_TICKETS: usize = 50;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// A fresh PostgreSQL database and the URL to it, or why not.
async fn fresh_pg_database(admin_url: &str) -> Result<String, String> {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let mut admin =
        tokio::time::timeout(PG_CONNECT_TIMEOUT, sqlx::AnyConnection::connect(admin_url))
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?;
    let name = format!("hotline_bench_{}", std::process::id());
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin
            .execute(statement.as_str())
            .await
            .map_err(|e| e.to_string())?;
    }
    let (base, _) = admin_url
        .rsplit_once('/')
        .ok_or("the admin URL names no database")?;
    Ok(format!("{base}/{name}"))
}

async fn drop_pg_database(admin_url: &str, url: &str) {
    use sqlx::{Connection, Executor};
    let Some((_, name)) = url.rsplit_once('/') else {
        return;
    };
    if let Ok(mut admin) = sqlx::AnyConnection::connect(admin_url).await {
        let _ = admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await;
    }
}

/// What one run measured.
struct Figures {
    tickets: usize,
    failures: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }
}

/// Serves the API over `store`, logs in, and creates `tickets` tickets from
/// `clients` concurrent clients.
async fn run(store: Store, clients: usize, tickets: usize) -> Figures {
    let users = Users::new(store.clone());
    users
        .add("bench", None, Role::Operator, PASSWORD)
        .await
        .expect("add the operator");
    let state = ApiState::new(ApiConfig::default(), users, CallLog::new(store.clone()))
        .with_tickets(Tickets::new(store, DeskConfig::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, api::router(state), async move {
        let _ = stopped.await;
    }));
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .json(&json!({"username": "bench", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login JSON");
    let token = login["token"].as_str().expect("a token").to_string();

    let started = Instant::now();
    let mut workers = Vec::new();
    for client_no in 0..clients {
        let share = tickets / clients + usize::from(client_no < tickets % clients);
        let (base, token) = (base.clone(), token.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::with_capacity(share);
            let mut failures = 0;
            for i in 0..share {
                let body = json!({
                    "community": "JF",
                    "kind": "repair",
                    "priority": if i % 5 == 0 { "urgent" } else { "normal" },
                    "source": "phone_call",
                    "category": "water_electric",
                    "room": format!("{}栋{}单元{}", 1 + client_no % 9, 1 + i % 3, 101 + i % 20),
                    "reporter_phone": "13812345678",
                    "description": format!("厨房水管漏水 #{client_no}-{i}"),
                });
                let sent = Instant::now();
                let response = client
                    .post(format!("{base}/api/tickets"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                let created = match response {
                    Ok(response) => {
                        let ok = response.status() == reqwest::StatusCode::CREATED;
                        ok && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                failures += usize::from(!created);
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(tickets);
    let mut failures = 0;
    for worker in workers {
        let (mut some, failed) = worker.await.expect("a client finished");
        latencies.append(&mut some);
        failures += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let _ = stop.send(());
    let _ = server.await;
    Figures {
        tickets,
        failures,
        elapsed,
        latencies,
    }
}

fn report(engine: &str, clients: usize, figures: &Figures) {
    let per_second = figures.tickets as f64 / figures.elapsed.as_secs_f64();
    println!(
        "{engine:<10} {clients:>3} clients  {:>5} tickets  {:>8.1} tickets/s  p50 {:>7.2} ms  p99 {:>7.2} ms  failures {}",
        figures.tickets,
        per_second,
        figures.percentile(50.0).as_secs_f64() * 1000.0,
        figures.percentile(99.0).as_secs_f64() * 1000.0,
        figures.failures,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken from the command line.
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this
    // main without it, as a smoke test with a small load.
    let full = std::env::args().any(|arg| arg == "--bench");
    let clients = env_count("HOTLINE_BENCH_CLIENTS", DEFAULT_CLIENTS);
    let tickets = env_count(
        "HOTLINE_BENCH_TICKETS",
        if full { DEFAULT_TICKETS } else { SMOKE_TICKETS },
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        println!("ticket creation through POST /api/tickets over loopback");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = StoreConfig {
            max_connections: POOL_SIZE,
            ..StoreConfig::default()
        };
        let store = Store::open(&config, dir.path()).await.expect("open sqlite");
        report("sqlite", clients, &run(store, clients, tickets).await);

        let admin_url = std::env::var("HOTLINE_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.into());
        match fresh_pg_database(&admin_url).await {
            Ok(url) => {
                let config = StoreConfig {
                    database_url: url.clone(),
                    max_connections: POOL_SIZE,
                };
                let store = Store::open(&config, dir.path())
                    .await
                    .expect("open postgres");
                let figures = run(store, clients, tickets).await;
                report("postgres", clients, &figures);
                drop_pg_database(&admin_url, &url).await;
            }
            Err(why) => println!("postgres   skipped: {admin_url} not reachable ({why})"),
        }
    });
}

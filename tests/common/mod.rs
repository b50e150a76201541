//! End-to-end test support: the daemon started as the real binary on free
//! ports with a config of the test's own, SIPp as the peer (or, where SIPp
//! cannot check, a caller of our own: `caller`), and the CLI to read what
//! the daemon stored.
#![allow(dead_code)]

pub mod api;

pub mod caller;

pub mod phones;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether a peer program is missing; in CI that fails the test.
pub fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and {program} is not installed (scripts/test.sh installs it)"
        );
        eprintln!("note: {program} not installed; skipping");
    }
    found
}

/// Every daemon of a test run gets its own RTP range.
static NEXT_RTP: AtomicU16 = AtomicU16::new(0);

/// A daemon under test.
pub struct Daemon {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub sip: SocketAddr,
    pub http: SocketAddr,
    stderr_log: PathBuf,
    /// `--database-url`, when not the embedded SQLite.
    database_url: Option<String>,
}

/// Extra TOML written into the test's config (top-level sections merge by
/// being written after the base).
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    pub answer_delay: &'static str,
    pub extra: String,
    pub database_url: Option<String>,
    pub trust_loopback: bool,
    /// `--sip-listen`.
    pub sip_listen: &'static str,
    /// Lines of the shipped config replaced, each found exactly once
    /// (e.g. `ring_timeout = "20s"` → `ring_timeout = "2s"`).
    pub replacements: Vec<(&'static str, String)>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            answer_delay: "200ms",
            extra: String::new(),
            database_url: None,
            trust_loopback: true,
            sip_listen: "127.0.0.1:0",
            replacements: Vec::new(),
        }
    }
}

impl DaemonOptions {
    /// A config that trusts only a network the tests are not on.
    pub fn untrusting_loopback(mut self) -> Self {
        self.trust_loopback = false;
        self
    }
}

impl Daemon {
    pub fn start(options: DaemonOptions) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, options)
    }

    /// Starts a daemon on an existing data directory (a restart).
    pub fn start_in(dir: tempfile::TempDir, options: DaemonOptions) -> Daemon {
        let config = dir.path().join("hotline.toml");
        let shipped =
            std::fs::read_to_string(repo().join("config/hotline.toml")).expect("shipped config");
        let prompts = repo().join("tests/fixtures/prompts");
        let text = replace_once(
            &shipped,
            "answer_delay = \"1s\"",
            &format!("answer_delay = \"{}\"", options.answer_delay),
        );
        let text = replace_once(
            &text,
            "prompts_dir = \"prompts\"",
            &format!("prompts_dir = \"{}\"", prompts.display()),
        );
        let text = replace_once(
            &text,
            "inactivity_timeout = \"30s\"",
            "inactivity_timeout = \"10s\"",
        );
        let text = if options.trust_loopback {
            text
        } else {
            replace_once(
                &text,
                "trusted_sources = [\"127.0.0.0/8\", \"::1/128\"]",
                "trusted_sources = [\"192.0.2.0/24\"]",
            )
        };
        let text = options
            .replacements
            .iter()
            .fold(text, |text, (from, to)| replace_once(&text, from, to));
        std::fs::write(&config, format!("{text}\n{}", options.extra)).expect("write config");
        let block = NEXT_RTP.fetch_add(1, Ordering::Relaxed);
        let low = 30000 + (std::process::id() as u16 % 100) * 200 + (block % 10) * 20;
        let rtp = format!("{low}-{}", low + 19);
        let stderr_log = dir.path().join("daemon.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_hotline"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--sip-listen")
            .arg(options.sip_listen)
            .arg("--http-listen")
            .arg("127.0.0.1:0")
            .arg("--rtp-ports")
            .arg(&rtp)
            .env("HOTLINE_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log).expect("log file"));
        if let Some(url) = &options.database_url {
            command.arg("--database-url").arg(url);
        }
        let mut child = command.spawn().expect("start hotline");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep reading so the daemon never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(&stderr_log).unwrap_or_default();
                panic!("the daemon printed no ready line; its log:\n{log}");
            }
        };
        let field = |key: &str| -> SocketAddr {
            line.strip_prefix("ready ")
                .and_then(|rest| {
                    rest.split_whitespace()
                        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
                })
                .and_then(|addr| addr.parse().ok())
                .unwrap_or_else(|| panic!("no {key}= in the ready line: {line}"))
        };
        let sip = field("sip");
        let http = field("http");
        Daemon {
            child: Some(child),
            dir,
            config,
            sip,
            http,
            stderr_log,
            database_url: options.database_url.clone(),
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// kill -9, keeping the data directory for a restart.
    pub fn kill9(mut self) -> tempfile::TempDir {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let dir = tempfile::tempdir().expect("placeholder");
        std::mem::replace(&mut self.dir, dir)
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("the daemon did not stop within 15 s of SIGTERM");
        }
    }

    /// Runs a `hotline` subcommand against this daemon's config and store,
    /// with `stdin` as its standard input.
    pub fn cli(&self, args: &[&str], stdin: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(
                self.database_url
                    .iter()
                    .flat_map(|url| ["--database-url", url]),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run hotline");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    }

    /// `hotline calls list --json` against this daemon's store.
    pub fn calls(&self) -> Vec<serde_json::Value> {
        let output = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .arg("calls")
            .arg("list")
            .arg("--json")
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(
                self.database_url
                    .iter()
                    .flat_map(|url| ["--database-url", url]),
            )
            .output()
            .expect("run calls list");
        assert!(
            output.status.success(),
            "calls list failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("calls list prints JSON")
    }

    /// Waits until `calls()` satisfies `done` (the record is written as the
    /// call ends, a moment after SIPp sees the BYE).
    pub fn wait_for_calls(
        &self,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let calls = self.calls();
            if done(&calls) || Instant::now() > deadline {
                return calls;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn recordings(&self) -> PathBuf {
        self.dir.path().join("recordings")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `text` with the one occurrence of `from` replaced; a test config built
/// from the shipped file must not silently keep a default it meant to
/// change, so a `from` that is not there (or is there twice) fails.
pub fn replace_once(text: &str, from: &str, to: &str) -> String {
    let found = text.matches(from).count();
    assert_eq!(
        found, 1,
        "the shipped config has {found} occurrences of {from:?}; update the test config"
    );
    text.replacen(from, to, 1)
}

/// A UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// An even UDP port whose successor is free too (SIPp's media port pair).
pub fn free_media_port() -> u16 {
    for _ in 0..100 {
        let port = free_udp_port() & !1;
        if port > 1024
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()
        {
            return port;
        }
    }
    panic!("no free media port pair");
}

/// What a SIPp run left.
pub struct SippRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub dir: tempfile::TempDir,
}

impl SippRun {
    pub fn explain(&self, daemon: &Daemon) -> String {
        let mut logs = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            for entry in entries.flatten() {
                logs.push_str(&format!("--- {}\n", entry.path().display()));
                logs.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        format!(
            "sipp stdout:\n{}\nsipp stderr:\n{}\n{logs}\n--- daemon log:\n{}",
            self.stdout,
            self.stderr,
            daemon.log()
        )
    }
}

/// Runs one SIPp scenario from `tests/sipp/` against `target`.
pub fn sipp(scenario: &str, target: SocketAddr, args: &[&str]) -> SippRun {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_udp_port().to_string();
    let scenario_path = repo().join("tests/sipp").join(scenario);
    let output = Command::new("timeout")
        .arg("60")
        .arg("sipp")
        .arg("-sf")
        .arg(&scenario_path)
        .arg("-i")
        .arg("127.0.0.1")
        .arg("-p")
        .arg(&port)
        .arg("-m")
        .arg("1")
        .arg("-s")
        .arg("hotline")
        .arg("-timeout")
        .arg("40s")
        .arg("-timeout_error")
        .arg("-trace_err")
        .arg("-error_file")
        .arg(dir.path().join("errors.log"))
        .arg("-nostdin")
        .arg("-mi")
        .arg("127.0.0.1")
        .arg("-mp")
        .arg(free_media_port().to_string())
        .args(args)
        .arg(target.to_string())
        // rtp_stream opens its files relative to the working directory.
        .current_dir(repo())
        .output()
        .expect("run sipp");
    SippRun {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        dir,
    }
}

/// A SIPp that runs in the background: an operator's phone (a UAS
/// scenario) listening on a port of the loopback.
pub struct SippChild {
    child: Child,
    dir: tempfile::TempDir,
}

/// Starts SIPp with a UAS scenario of `tests/sipp/` on `port`, taking one
/// call, with `args` (e.g. `-key talk_ms 4000`). It traces every message
/// it sees (`messages.log`).
pub fn sipp_uas(scenario: &str, port: u16, args: &[&str]) -> SippChild {
    let dir = tempfile::tempdir().expect("temp dir");
    let child = Command::new("timeout")
        .arg("60")
        .arg("sipp")
        .arg("-sf")
        .arg(repo().join("tests/sipp").join(scenario))
        .arg("-i")
        .arg("127.0.0.1")
        .arg("-p")
        .arg(port.to_string())
        .arg("-m")
        .arg("1")
        .arg("-timeout")
        .arg("50s")
        .arg("-timeout_error")
        .arg("-trace_err")
        .arg("-error_file")
        .arg(dir.path().join("errors.log"))
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(dir.path().join("messages.log"))
        .arg("-nostdin")
        .arg("-mi")
        .arg("127.0.0.1")
        .arg("-mp")
        .arg(free_media_port().to_string())
        .args(args)
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sipp");
    SippChild { child, dir }
}

impl SippChild {
    /// Waits for its call to end (at most its own timeout).
    pub fn wait(self) -> SippRun {
        let output = self.child.wait_with_output().expect("sipp ran");
        SippRun {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            dir: self.dir,
        }
    }
}

impl SippRun {
    /// The SIP messages it traced (`-trace_msg`), if any.
    pub fn messages(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("messages.log")).unwrap_or_default()
    }
}

/// Reads a WAV fully: (channels, sample rate, bits, samples per channel, interleaved samples).
pub fn read_wav(path: &Path) -> (u16, u32, u16, usize, Vec<i16>) {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = reader.spec();
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    let frames = samples.len() / usize::from(spec.channels.max(1));
    (
        spec.channels,
        spec.sample_rate,
        spec.bits_per_sample,
        frames,
        samples,
    )
}

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("HOTLINE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

static NEXT_DB: AtomicU16 = AtomicU16::new(0);

/// Creates a new, empty database on the server at `admin_url`; its URL.
pub async fn create_postgres_database(admin_url: &str) -> Result<String, sqlx::Error> {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(admin_url).await?;
    let name = format!(
        "hotline_test_{}_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    let base = admin_url
        .rsplit_once('/')
        .map(|(base, _)| base)
        .expect("URL with a database");
    Ok(format!("{base}/{name}"))
}

/// A fresh PostgreSQL database for a daemon under test; `None` (with a
/// note) when none is reachable, which fails the test when `CI` is set.
pub fn postgres_database() -> Option<String> {
    let admin = postgres_admin_url();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    match runtime.block_on(create_postgres_database(&admin)) {
        Ok(url) => Some(url),
        Err(err) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set and PostgreSQL at {admin} is unreachable: {err}"
            );
            eprintln!("note: PostgreSQL unreachable ({err}); skipping");
            None
        }
    }
}

/// A migrated store for in-process tests: SQLite in `dir`, or, with
/// `HOTLINE_TEST_PG` set, a fresh PostgreSQL database on that server.
pub async fn open_store(dir: &Path) -> hotline::store::Store {
    use hotline::store::{Store, StoreConfig};
    let Ok(admin_url) = std::env::var("HOTLINE_TEST_PG") else {
        return Store::open(&StoreConfig::default(), dir)
            .await
            .expect("open sqlite");
    };
    let url = create_postgres_database(&admin_url)
        .await
        .expect("HOTLINE_TEST_PG reachable");
    let config = StoreConfig {
        database_url: url,
        max_connections: 4,
    };
    Store::open(&config, dir).await.expect("open postgres")
}

/// The recording of call `call_id` under `root` (`<community>/YYYY/MM/DD/<id>.wav`).
pub fn find_wav(root: &Path, call_id: &str) -> PathBuf {
    fn walk(dir: &Path, name: &str) -> Option<PathBuf> {
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if let Some(found) = walk(&path, name) {
                    return Some(found);
                }
            } else if path.file_name().is_some_and(|n| n == name) {
                return Some(path);
            }
        }
        None
    }
    let name = format!("{call_id}.wav");
    walk(root, &name).unwrap_or_else(|| panic!("no {name} under {}", root.display()))
}

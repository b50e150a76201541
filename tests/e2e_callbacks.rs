//! Callbacks against the real binary: a work order resolved through the
//! API is followed up by a survey call through a trunk (a SIPp UAS playing
//! the owner's phone behind it), the owner's key lands on the order; busy
//! then answered at the retry; on SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::phones::{CONSOLE_PASSWORD, add_operator};
use common::{Daemon, DaemonOptions, free_udp_port, sipp_uas};
use reqwest::Method;
use serde_json::{Value, json};

/// A daemon with one trunk to `port`, all-day calling hours, repairs
/// followed up at once and a quick retry.
fn dialing(port: u16, database_url: Option<String>) -> DaemonOptions {
    DaemonOptions {
        database_url,
        replacements: vec![
            (
                "calling_hours = \"09:00-20:00\"",
                "calling_hours = \"00:00-24:00\"".to_string(),
            ),
            (
                "retry = [\"30m\", \"2h\", \"24h\"]",
                "retry = [\"3s\"]".to_string(),
            ),
            (
                "ring_timeout = \"30s\"",
                "ring_timeout = \"5s\"".to_string(),
            ),
            (
                "digit_timeout = \"8s\"",
                "digit_timeout = \"2s\"".to_string(),
            ),
            (
                "[callbacks.policy.repair]\nafter = \"2h\"",
                "[callbacks.policy.repair]\nafter = \"0s\"".to_string(),
            ),
        ],
        extra: format!(
            "[[trunks]]\nname = \"carrier\"\naddress = \"127.0.0.1:{port}\"\ncaller_id = \"96888\"\n"
        ),
        ..DaemonOptions::default()
    }
}

/// The API of a running daemon, from a test thread.
struct Api {
    runtime: tokio::runtime::Runtime,
    base: String,
    client: reqwest::Client,
    token: String,
}

impl Api {
    fn new(daemon: &Daemon) -> Api {
        add_operator(daemon, "zhang", "supervisor", "张伟");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let client = reqwest::Client::new();
        let base = format!("http://{}", daemon.http);
        let body = json!({"username": "zhang", "password": CONSOLE_PASSWORD});
        let (status, answer) = runtime.block_on(common::api::call_with(
            &client,
            &base,
            Method::POST,
            "/api/login",
            None,
            Some(body),
        ));
        assert!(status.is_success(), "{answer}");
        let token = answer["token"].as_str().expect("token").to_string();
        Api {
            runtime,
            base,
            client,
            token,
        }
    }

    fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        self.runtime.block_on(common::api::call_with(
            &self.client,
            &self.base,
            method,
            path,
            Some(&self.token),
            body,
        ))
    }

    fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, body);
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    /// A repair reported from the owner's mobile, resolved at once.
    fn resolved_repair(&self) -> String {
        let ticket = self.ok(
            Method::POST,
            "/api/tickets",
            Some(json!({
                "community": "JF",
                "kind": "repair",
                "priority": "normal",
                "description": "楼道灯不亮",
                "reporter_name": "王芳",
                "reporter_phone": "13800138000",
            })),
        );
        let number = ticket["number"].as_str().expect("number").to_string();
        self.ok(
            Method::POST,
            &format!("/api/tickets/{number}/transitions"),
            Some(json!({"action": "resolve"})),
        );
        number
    }

    /// Waits (at most 30 s) until the ticket satisfies `done`.
    fn wait_for_ticket(&self, number: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let detail = self.ok(Method::GET, &format!("/api/tickets/{number}"), None);
            let ticket = detail["ticket"].clone();
            if done(&ticket) || Instant::now() > deadline {
                return ticket;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Resolves a repair; the owner answers and presses `digit`; what the
/// ticket and the callback say afterwards.
fn survey_answered(database_url: Option<String>, digit: &str) -> (Value, Vec<Value>) {
    let port = free_udp_port();
    let owner = sipp_uas(
        "uas_owner_survey.xml",
        port,
        &["-key", "digit", digit, "-key", "key_ms", "1000"],
    );
    let daemon = Daemon::start(dialing(port, database_url));
    let api = Api::new(&daemon);
    let number = api.resolved_repair();
    let run = owner.wait();
    assert!(run.success, "{}\n{}", run.explain(&daemon), run.messages());
    let ticket = api.wait_for_ticket(&number, |t| !t["satisfaction"].is_null());
    let callbacks = api.ok(Method::GET, "/api/callbacks?reason=followup", None);
    let callbacks = callbacks["callbacks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (ticket, callbacks)
}

fn check_satisfied(ticket: &Value, callbacks: &[Value]) {
    assert_eq!(ticket["satisfaction"], "satisfied", "{ticket:#}");
    assert_eq!(ticket["status"], "followed_up", "{ticket:#}");
    assert_eq!(callbacks.len(), 1, "{callbacks:#?}");
    assert_eq!(callbacks[0]["status"], "done");
    assert_eq!(callbacks[0]["result"], "satisfied");
    assert_eq!(callbacks[0]["attempts"], 1);
}

#[test]
fn a_resolved_repair_is_followed_up_and_the_owners_1_stored_on_the_order() {
    if !common::have("sipp") {
        return;
    }
    let (ticket, callbacks) = survey_answered(None, "1");
    check_satisfied(&ticket, &callbacks);
}

#[test]
fn the_survey_works_the_same_on_postgresql() {
    if !common::have("sipp") {
        return;
    }
    let Some(url) = common::postgres_database() else {
        return;
    };
    let (ticket, callbacks) = survey_answered(Some(url), "1");
    check_satisfied(&ticket, &callbacks);
}

#[test]
fn a_dissatisfied_owner_reopens_the_order_and_raises_it() {
    if !common::have("sipp") {
        return;
    }
    let (ticket, _) = survey_answered(None, "3");
    assert_eq!(ticket["satisfaction"], "dissatisfied", "{ticket:#}");
    assert_eq!(ticket["status"], "reopened", "{ticket:#}");
    assert_eq!(ticket["escalated"], true, "{ticket:#}");
}

#[test]
fn a_busy_owner_is_called_again_after_the_back_off_and_answers() {
    if !common::have("sipp") {
        return;
    }
    let port = free_udp_port();
    let busy = sipp_uas("uas_busy.xml", port, &[]);
    let daemon = Daemon::start(dialing(port, None));
    let api = Api::new(&daemon);
    let number = api.resolved_repair();
    let run = busy.wait();
    assert!(run.success, "{}", run.explain(&daemon));
    let owner = sipp_uas(
        "uas_owner_survey.xml",
        port,
        &["-key", "digit", "2", "-key", "key_ms", "1000"],
    );
    let run = owner.wait();
    assert!(run.success, "{}\n{}", run.explain(&daemon), run.messages());
    let ticket = api.wait_for_ticket(&number, |t| !t["satisfaction"].is_null());
    assert_eq!(ticket["satisfaction"], "basically_satisfied", "{ticket:#}");
    let list = api.ok(Method::GET, "/api/callbacks?reason=followup", None);
    let id = list["callbacks"][0]["id"].as_str().expect("id").to_string();
    let detail = api.ok(Method::GET, &format!("/api/callbacks/{id}"), None);
    let attempts = detail["attempts"].as_array().expect("attempts");
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["busy", "answered"], "{detail:#}");
    assert_eq!(attempts[0]["sip_status"], 486);
    assert_eq!(attempts[1]["trunk"], "carrier");
}

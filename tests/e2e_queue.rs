//! The queue and the bridge against the real binary: SIPp as the trunk
//! caller pressing 0 (SIP INFO) and SIPp UAS scenarios as the operators'
//! phones, registered with digest; the screen pop and the call's events on
//! the WebSocket, in order; both voices in the stereo WAV, each on its own
//! channel (the operator's phone speaks PCMA, the caller PCMU: the daemon
//! transcodes); the longest-idle order, 486 → next, ring timeout → CANCEL →
//! next, the wait given up for a voice message; the caller giving up while
//! a phone rings (CANCEL, missed-call callback); hold and resume.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::phones::{CONSOLE_PASSWORD, add_operator, register_phone};
use common::{Daemon, DaemonOptions, SippRun, read_wav, sipp, sipp_uas};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// The caller's tone (tests/fixtures/caller_tone.ulaw) and the operator's
/// (tests/fixtures/operator_tone.alaw).
const CALLER_HZ: f64 = 800.0;
const OPERATOR_HZ: f64 = 1800.0;
/// The hold music of the test prompts (tests/fixtures/prompts/hold.wav).
const HOLD_HZ: f64 = 250.0;

/// The daemon's queue timings shortened for a test.
fn quick_queue(ring_timeout: &str, max_wait: &str) -> DaemonOptions {
    DaemonOptions {
        replacements: vec![
            (
                "ring_timeout = \"20s\"",
                format!("ring_timeout = \"{ring_timeout}\""),
            ),
            ("max_wait = \"120s\"", format!("max_wait = \"{max_wait}\"")),
            ("wrap_up = \"10s\"", "wrap_up = \"1s\"".to_string()),
            (
                "announce_every = \"30s\"",
                "announce_every = \"2s\"".to_string(),
            ),
        ],
        ..DaemonOptions::default()
    }
}

/// The API of a running daemon, from a test thread.
struct Api {
    runtime: tokio::runtime::Runtime,
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn new(daemon: &Daemon) -> Api {
        Api {
            runtime: tokio::runtime::Runtime::new().expect("runtime"),
            base: format!("http://{}", daemon.http),
            client: reqwest::Client::new(),
        }
    }

    fn call(&self, method: Method, path: &str, token: &str) -> Value {
        let (status, body) = self.runtime.block_on(common::api::call_with(
            &self.client,
            &self.base,
            method,
            path,
            Some(token),
            None,
        ));
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    fn token(&self, username: &str) -> String {
        let body = serde_json::json!({"username": username, "password": CONSOLE_PASSWORD});
        let (status, answer) = self.runtime.block_on(common::api::call_with(
            &self.client,
            &self.base,
            Method::POST,
            "/api/login",
            None,
            Some(body),
        ));
        assert!(status.is_success(), "{answer}");
        answer["token"].as_str().expect("token").to_string()
    }

    /// Collects what the live socket sends to the holder of `token`.
    fn listen(&self, token: &str) -> Arc<Mutex<Vec<Value>>> {
        let url = format!("{}/api/live", self.base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("request");
        let protocols = format!("hotline.live, bearer.{token}");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(&protocols).expect("header"),
        );
        let (mut socket, _) = self
            .runtime
            .block_on(tokio_tungstenite::connect_async(request))
            .expect("the live socket");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        self.runtime.spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Ok(text) = message.to_text()
                    && let Ok(value) = serde_json::from_str::<Value>(text)
                {
                    sink.lock().expect("messages").push(value);
                }
            }
        });
        messages
    }

    /// Waits until `name` has the state `state` (or 20 s pass).
    fn wait_for_state(&self, token: &str, name: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let list = self.call(Method::GET, "/api/operators", token);
            let now = list["operators"]
                .as_array()
                .expect("operators")
                .iter()
                .find(|op| op["name"] == name)
                .map(|op| op["state"].clone());
            if now.as_ref().and_then(Value::as_str) == Some(state) {
                return;
            }
            assert!(Instant::now() < deadline, "{name} is {now:?}, not {state}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The caller: presses 0 a second after answer and talks until the daemon
/// hangs up.
fn caller(daemon: &Daemon) -> SippRun {
    sipp(
        "uac_queue.xml",
        daemon.sip,
        &["-key", "digit", "0", "-key", "menu_ms", "1000"],
    )
}

/// A caller who presses 0 a second after answer and, `prompt_ms` after
/// that, speaks a voice message for 3 s and hangs up.
fn voicemail_caller(daemon: &Daemon, prompt_ms: &str) -> SippRun {
    sipp(
        "uac_info_digit.xml",
        daemon.sip,
        &[
            "-key",
            "digit",
            "0",
            "-key",
            "menu_ms",
            "1000",
            "-key",
            "prompt_ms",
            prompt_ms,
            "-key",
            "message_ms",
            "3000",
        ],
    )
}

/// A daemon with one operator, zhang, whose phone has registered (from the
/// returned port, for a SIPp UAS to take) and who is available; with the
/// API and zhang's token.
fn zhang_available(options: DaemonOptions) -> (Daemon, Api, String, u16) {
    let daemon = Daemon::start(options);
    add_operator(&daemon, "zhang", "operator", "张伟");
    let api = Api::new(&daemon);
    let token = api.token("zhang");
    let port = register_phone(&daemon, "zhang");
    api.wait_for_state(&token, "zhang", "available");
    (daemon, api, token, port)
}

/// The power of `freq` in `samples` (Goertzel), relative to their energy:
/// near 1 for a pure tone at `freq`, near 0 for silence or another tone.
fn tone_share(samples: &[f64], freq: f64) -> f64 {
    let omega = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let energy: f64 = samples.iter().map(|x| x * x).sum();
    if energy < 1e3 {
        return 0.0;
    }
    2.0 * power / (energy * samples.len() as f64)
}

/// 100 ms windows of one channel that are mostly the tone `freq`.
fn windows_with(channel: &[f64], freq: f64) -> usize {
    channel
        .chunks(800)
        .filter(|window| window.len() == 800 && tone_share(window, freq) > 0.5)
        .count()
}

/// The left (caller) and right (what the caller hears) channels of a
/// stereo call recording.
fn channels(path: &std::path::Path) -> (Vec<f64>, Vec<f64>) {
    let (channels, rate, bits, _, samples) = read_wav(path);
    assert_eq!((channels, rate, bits), (2, 8000, 16));
    let left = samples.iter().step_by(2).map(|&s| f64::from(s)).collect();
    let right = samples
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&s| f64::from(s))
        .collect();
    (left, right)
}

/// The events of one type, in order.
fn of_type<'a>(messages: &'a [Value], kind: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["type"] == kind).collect()
}

/// Where a message of this type (and, for states, this state) first comes.
fn first_index(messages: &[Value], kind: &str, state: Option<&str>) -> usize {
    messages
        .iter()
        .position(|m| m["type"] == kind && state.is_none_or(|s| m["state"] == s))
        .unwrap_or_else(|| panic!("no {kind} {state:?} in {messages:#?}"))
}

/// Puts the test caller (13800138000) in the owner archive: 王芳, owner of
/// 7栋1501.
fn known_caller(daemon: &Daemon) {
    let file = daemon.dir.path().join("owners.csv");
    std::fs::write(
        &file,
        "小区,楼栋,单元,房号,姓名,身份,手机,电话,备注\n俊发示范小区,7,,1501,王芳,业主,13800138000,,\n",
    )
    .expect("archive file");
    let import = daemon.cli(&["archive", "import", file.to_str().expect("path")], "");
    assert!(
        import.status.success(),
        "{}{}",
        String::from_utf8_lossy(&import.stdout),
        String::from_utf8_lossy(&import.stderr)
    );
}

fn answered_call_is_bridged_recorded_and_shown(options: DaemonOptions) {
    let daemon = Daemon::start(options);
    known_caller(&daemon);
    add_operator(&daemon, "zhang", "operator", "张伟");
    add_operator(&daemon, "boss", "supervisor", "王主管");
    let api = Api::new(&daemon);
    let zhang = api.token("zhang");
    let boss = api.token("boss");
    let zhang_live = api.listen(&zhang);
    let boss_live = api.listen(&boss);
    let port = register_phone(&daemon, "zhang");
    api.wait_for_state(&boss, "zhang", "available");
    let phone = sipp_uas(
        "uas_operator.xml",
        port,
        &["-key", "ring_ms", "500", "-key", "talk_ms", "4000"],
    );
    let call = caller(&daemon);
    let phone = phone.wait();
    assert!(call.success, "caller: {}", call.explain(&daemon));
    assert!(phone.success, "phone: {}", phone.explain(&daemon));
    assert!(
        phone
            .messages()
            .contains("From: \"王芳 7栋1501\" <sip:13800138000@"),
        "the desk phone shows who calls: {}",
        phone.messages()
    );
    api.wait_for_state(&boss, "zhang", "available");

    // The operator's screen: the pop as their phone rang, then the call's
    // answer and end, with their own states in between, in that order.
    let messages = zhang_live.lock().expect("messages").clone();
    let offered = of_type(&messages, "call.offered");
    assert_eq!(offered.len(), 1, "{messages:#?}");
    let pop = offered[0];
    assert_eq!(pop["operator"], "zhang");
    assert_eq!(pop["community"], "JF");
    assert_eq!(pop["menu_choice"], "operator");
    assert_eq!(pop["caller"]["number"], "13800138000");
    assert_eq!(pop["caller"]["e164"], "+8613800138000");
    assert_eq!(pop["caller"]["match"], "person");
    let people = pop["caller"]["people"].as_array().expect("people");
    assert_eq!(people.len(), 1, "{pop:#}");
    assert_eq!(people[0]["name"], "王芳");
    assert_eq!(people[0]["residences"][0]["role"], "owner", "{pop:#}");
    assert!(pop["caller"]["open_tickets"].is_array());
    assert!(pop["caller"]["recent_calls"].is_array());
    let call_id = pop["call_id"].as_str().expect("call id").to_string();
    let ringing = first_index(&messages, "operator.state", Some("ringing"));
    let offered_at = first_index(&messages, "call.offered", None);
    let answered_at = first_index(&messages, "call.answered", None);
    let on_call = first_index(&messages, "operator.state", Some("on_call"));
    let ended_at = first_index(&messages, "call.ended", None);
    let wrap_up = first_index(&messages, "operator.state", Some("wrap_up"));
    assert!(
        ringing < answered_at && offered_at < answered_at,
        "{messages:#?}"
    );
    assert!(answered_at < ended_at && on_call < wrap_up, "{messages:#?}");
    assert!(ended_at <= wrap_up + 1, "{messages:#?}");
    assert_eq!(messages[ended_at]["hung_up_by"], "operator");
    assert!(
        messages
            .iter()
            .all(|m| m["operator"].is_null() || m["operator"] == "zhang"),
        "an operator sees only their own: {messages:#?}"
    );
    // The supervisor's wallboard: the queue's join and leave.
    let wallboard = boss_live.lock().expect("messages").clone();
    let joined = of_type(&wallboard, "queue.joined");
    let left = of_type(&wallboard, "queue.left");
    assert_eq!((joined.len(), left.len()), (1, 1), "{wallboard:#?}");
    assert_eq!(left[0]["reason"], "answered");
    assert_eq!(left[0]["call_id"], call_id.as_str());

    // The call record: the wait, the ring, who talked, who hung up.
    let record = api.call(Method::GET, &format!("/api/calls/{call_id}"), &zhang);
    assert_eq!(record["queue_outcome"], "answered", "{record:#}");
    assert_eq!(record["hung_up_by"], "operator");
    assert!(record["operator_id"].is_string());
    let talk_ms = record["talk_ms"].as_i64().expect("talk time");
    assert!((3_000..10_000).contains(&talk_ms), "{record:#}");
    assert_eq!(record["hold_ms"], 0);
    assert!(record["wait_ms"].as_i64().expect("wait") >= 0);
    let legs = record["legs"].as_array().expect("legs");
    assert_eq!(legs.len(), 1, "{record:#}");
    assert_eq!(legs[0]["outcome"], "answered");
    assert_eq!(legs[0]["operator_id"], record["operator_id"]);

    // The operator writes the work order of the call: linked to it, the
    // reporter taken from the archive's match.
    let body = serde_json::json!({
        "community": "JF",
        "kind": "repair",
        "priority": "normal",
        "description": "厨房水管漏水",
        "call_id": call_id,
    });
    let (status, ticket) = api.runtime.block_on(common::api::call_with(
        &api.client,
        &api.base,
        Method::POST,
        "/api/tickets",
        Some(&zhang),
        Some(body),
    ));
    assert_eq!(status, reqwest::StatusCode::CREATED, "{ticket:#}");
    assert_eq!(ticket["reporter_name"], "王芳", "{ticket:#}");
    assert_eq!(ticket["room"], "7栋1501", "{ticket:#}");
    let number = ticket["number"].as_str().expect("number");
    let detail = api.call(Method::GET, &format!("/api/tickets/{number}"), &zhang);
    assert_eq!(detail["calls"][0]["id"], call_id.as_str(), "{detail:#}");

    // Both voices in the one stereo WAV, each on its own channel.
    let wav = common::find_wav(&daemon.recordings(), &call_id);
    let (left, right) = channels(&wav);
    let operator_windows = windows_with(&right, OPERATOR_HZ);
    assert!(
        operator_windows >= 30,
        "the operator is heard on the right for {operator_windows} × 100 ms"
    );
    assert!(
        windows_with(&left, CALLER_HZ) >= 40,
        "the caller speaks on the left"
    );
    assert_eq!(
        windows_with(&left, OPERATOR_HZ),
        0,
        "the operator is not on the left"
    );
    assert_eq!(
        windows_with(&right, CALLER_HZ),
        0,
        "the caller does not hear themself"
    );
}

#[test]
fn an_answered_call_is_bridged_recorded_in_stereo_and_shown_to_the_operator() {
    if !common::have("sipp") {
        return;
    }
    answered_call_is_bridged_recorded_and_shown(quick_queue("20s", "120s"));
}

#[test]
fn on_postgresql_too_an_answered_call_is_bridged_and_recorded() {
    if !common::have("sipp") {
        return;
    }
    let Some(url) = common::postgres_database() else {
        return;
    };
    let options = DaemonOptions {
        database_url: Some(url),
        ..quick_queue("20s", "120s")
    };
    answered_call_is_bridged_recorded_and_shown(options);
}

/// The call log once its newest call has ended.
fn ended_calls(daemon: &Daemon) -> Vec<Value> {
    let calls =
        daemon.wait_for_calls(|calls| calls.first().is_some_and(|c| !c["ended_at"].is_null()));
    assert!(!calls.is_empty(), "no call recorded: {}", daemon.log());
    calls
}

/// The callbacks the daemon's SQLite store holds.
fn pending_callbacks(daemon: &Daemon) -> Vec<hotline::store::CallbackRow> {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store =
            hotline::store::Store::open(&hotline::store::StoreConfig::default(), daemon.dir.path())
                .await
                .expect("the daemon's store");
        let rows = store
            .callbacks_with_status(hotline::store::CALLBACK_PENDING, 10)
            .await
            .expect("callbacks");
        store.close().await;
        rows
    })
}

#[test]
fn the_longest_idle_is_rung_first_busy_and_ring_out_fail_over_then_the_wait_ends_in_a_voice_message()
 {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(quick_queue("2s", "6s"));
    add_operator(&daemon, "li", "operator", "李娜");
    add_operator(&daemon, "zhang", "operator", "张伟");
    let api = Api::new(&daemon);
    let token = api.token("zhang");
    // li is available first, so idle longest.
    let li_port = register_phone(&daemon, "li");
    api.wait_for_state(&token, "li", "available");
    std::thread::sleep(Duration::from_millis(50));
    let zhang_port = register_phone(&daemon, "zhang");
    api.wait_for_state(&token, "zhang", "available");
    let li = sipp_uas("uas_busy.xml", li_port, &[]);
    let zhang = sipp_uas("uas_no_answer.xml", zhang_port, &[]);
    // The caller waits: li is busy, zhang rings out; nobody else is left,
    // so the caller waits to max_wait (6 s), then leaves a message.
    let call = voicemail_caller(&daemon, "7000");
    let (li, zhang) = (li.wait(), zhang.wait());
    assert!(call.success, "caller: {}", call.explain(&daemon));
    assert!(li.success, "li: {}", li.explain(&daemon));
    assert!(zhang.success, "zhang: {}", zhang.explain(&daemon));
    let calls = ended_calls(&daemon);
    let call_id = calls[0]["id"].as_str().expect("id").to_string();
    let record = api.call(Method::GET, &format!("/api/calls/{call_id}"), &token);
    assert_eq!(record["queue_outcome"], "max_wait", "{record:#}");
    assert!(record["voicemail_start_ms"].is_i64(), "{record:#}");
    let legs = record["legs"].as_array().expect("legs");
    let outcomes: Vec<(&str, Option<i64>)> = legs
        .iter()
        .map(|leg| {
            (
                leg["outcome"].as_str().unwrap_or(""),
                leg["sip_status"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [("refused", Some(486)), ("no_answer", None)],
        "li first (longest idle, busy), then zhang (rang out): {record:#}"
    );
    assert!(
        legs[0]["contact"]
            .as_str()
            .unwrap_or("")
            .ends_with(&li_port.to_string())
    );
    // The voice message became a work order; the caller is owed no callback.
    let tickets = api.call(Method::GET, "/api/tickets?limit=10", &token);
    assert_eq!(
        tickets["tickets"].as_array().map(Vec::len),
        Some(1),
        "{tickets:#}"
    );
    assert!(pending_callbacks(&daemon).is_empty());
}

#[test]
fn a_caller_who_hangs_up_while_a_phone_rings_cancels_it_and_is_owed_a_callback() {
    if !common::have("sipp") {
        return;
    }
    let (daemon, api, token, port) = zhang_available(quick_queue("20s", "120s"));
    // The phone rings for 20 s at most; the caller gives up after 3 s, and
    // the phone's CANCEL must come long before its ring timeout would.
    let phone = sipp_uas("uas_no_answer.xml", port, &[]);
    let call = sipp(
        "uac_queue_abandon.xml",
        daemon.sip,
        &[
            "-key", "digit", "0", "-key", "menu_ms", "1000", "-key", "wait_ms", "3000",
        ],
    );
    let phone = phone.wait();
    assert!(call.success, "caller: {}", call.explain(&daemon));
    assert!(phone.success, "phone: {}", phone.explain(&daemon));
    let calls = ended_calls(&daemon);
    let call_id = calls[0]["id"].as_str().expect("id").to_string();
    let record = api.call(Method::GET, &format!("/api/calls/{call_id}"), &token);
    assert_eq!(record["queue_outcome"], "abandoned", "{record:#}");
    assert_eq!(record["hung_up_by"], "caller");
    assert_eq!(record["legs"][0]["outcome"], "caller_left", "{record:#}");
    let callbacks = pending_callbacks(&daemon);
    assert_eq!(callbacks.len(), 1, "one missed-call callback");
    assert_eq!(callbacks[0].reason, "missed");
    assert_eq!(callbacks[0].number, "+8613800138000");
    assert_eq!(callbacks[0].call_id.as_deref(), Some(call_id.as_str()));
    // The operator is free again at once.
    api.wait_for_state(&token, "zhang", "available");
}

#[test]
fn an_operator_puts_the_caller_on_hold_and_back_and_the_hold_time_is_kept() {
    if !common::have("sipp") {
        return;
    }
    let (daemon, api, token, port) = zhang_available(quick_queue("20s", "120s"));
    let phone = sipp_uas(
        "uas_operator_hold.xml",
        port,
        &[
            "-key", "ring_ms", "300", "-key", "talk_ms", "1500", "-key", "hold_ms", "2500",
        ],
    );
    let call = caller(&daemon);
    let phone = phone.wait();
    assert!(call.success, "caller: {}", call.explain(&daemon));
    assert!(phone.success, "phone: {}", phone.explain(&daemon));
    let calls = ended_calls(&daemon);
    let call_id = calls[0]["id"].as_str().expect("id").to_string();
    let record = api.call(Method::GET, &format!("/api/calls/{call_id}"), &token);
    let hold_ms = record["hold_ms"].as_i64().expect("hold time");
    assert!((2_000..4_500).contains(&hold_ms), "{record:#}");
    // While held, the caller hears the hold music instead of the operator.
    let wav = common::find_wav(&daemon.recordings(), &call_id);
    let (_, right) = channels(&wav);
    let music = windows_with(&right, HOLD_HZ);
    assert!(music >= 15, "hold music for {music} × 100 ms");
    assert!(
        windows_with(&right, OPERATOR_HZ) >= 20,
        "the operator before and after"
    );
}

#[test]
fn with_nobody_logged_in_the_caller_goes_straight_to_the_voice_message() {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(quick_queue("20s", "120s"));
    add_operator(&daemon, "zhang", "operator", "张伟");
    let call = voicemail_caller(&daemon, "1200");
    assert!(call.success, "caller: {}", call.explain(&daemon));
    let calls = ended_calls(&daemon);
    assert_eq!(calls[0]["queue_outcome"], "voicemail", "{:#}", calls[0]);
    assert!(calls[0]["voicemail_start_ms"].is_i64(), "{:#}", calls[0]);
}

/// A phone of our own on a socket: it answers OPTIONS 200 while `answering`.
fn keepalive_phone(socket: std::net::UdpSocket, answering: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut buffer = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, from)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buffer[..len]).to_string();
        if !text.starts_with("OPTIONS ") || !answering.load(Ordering::Relaxed) {
            continue;
        }
        let header = |name: &str| {
            text.lines()
                .find(|line| line.starts_with(name))
                .unwrap_or_default()
                .to_string()
        };
        let response = format!(
            "SIP/2.0 200 OK\r\n{}\r\n{}\r\n{};tag=phone\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n",
            header("Via:"),
            header("From:"),
            header("To:"),
            header("Call-ID:"),
            header("CSeq:"),
        );
        drop(socket.send_to(response.as_bytes(), from));
    }
}

#[test]
fn a_phone_that_stops_answering_keep_alives_is_unreachable_until_it_answers_again() {
    let daemon = Daemon::start(DaemonOptions {
        replacements: vec![
            ("keepalive = \"30s\"", "keepalive = \"1s\"".to_string()),
            // Timer F (64 × T1) is then 3.2 s.
            ("t1 = \"500ms\"", "t1 = \"50ms\"".to_string()),
        ],
        ..DaemonOptions::default()
    });
    add_operator(&daemon, "zhang", "operator", "张伟");
    let api = Api::new(&daemon);
    let token = api.token("zhang");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (status, _) = common::phones::register_with(
        &socket,
        daemon.sip,
        "zhang",
        common::phones::PHONE_PASSWORD,
        1,
    );
    assert_eq!(status, 200);
    let answering = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(AtomicBool::new(false));
    let phone = {
        let (answering, stop) = (answering.clone(), stop.clone());
        std::thread::spawn(move || keepalive_phone(socket, answering, stop))
    };
    api.wait_for_state(&token, "zhang", "available");
    // Answered keep-alives keep the operator available.
    std::thread::sleep(Duration::from_secs(3));
    api.wait_for_state(&token, "zhang", "available");
    answering.store(false, Ordering::Relaxed);
    api.wait_for_state(&token, "zhang", "offline");
    let list = api.call(Method::GET, "/api/operators", &token);
    assert_eq!(
        list["operators"][0]["phones"][0]["reachable"], false,
        "{list:#}"
    );
    assert!(daemon.log().contains("phone does not answer keep-alives"));
    answering.store(true, Ordering::Relaxed);
    api.wait_for_state(&token, "zhang", "available");
    stop.store(true, Ordering::Relaxed);
    phone.join().expect("phone thread");
}

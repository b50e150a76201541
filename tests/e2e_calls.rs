//! End-to-end: the real daemon driven by SIPp over loopback, checked the way
//! a user would check it — SIP responses, the call record printed by
//! `hotline calls list`, and the WAV file on disk.

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use common::{Daemon, DaemonOptions, read_wav, sipp};
use serde_json::Value;
use sha2::{Digest, Sha256};

const SAMPLE_RATE: f64 = 8000.0;

/// Runs a voice-message call (`uac_voicemail.xml` or `uac_info_digit.xml`)
/// over `transport` (`u1`, `t1`) pressing `digit`, and checks SIPp passed.
fn voicemail_call(daemon: &Daemon, scenario: &str, transport: &str, digit: &str) {
    // Test prompts: greeting 0.6 s, menu 0.8 s, voicemail 0.5 s, beep 0.2 s.
    let keys = [
        "-t",
        transport,
        "-key",
        "digit",
        digit,
        "-key",
        "menu_ms",
        "1000",
        "-key",
        "prompt_ms",
        "1500",
        "-key",
        "message_ms",
        "2000",
    ];
    let run = sipp(scenario, daemon.sip, &keys);
    assert!(run.success, "{}", run.explain(daemon));
}

fn only_call(daemon: &Daemon) -> Value {
    let calls = daemon.wait_for_calls(|calls| calls.len() == 1 && !calls[0]["ended_at"].is_null());
    assert_eq!(calls.len(), 1, "{calls:?}\n{}", daemon.log());
    assert!(
        !calls[0]["ended_at"].is_null(),
        "call never ended: {calls:?}\n{}",
        daemon.log()
    );
    calls[0].clone()
}

fn rms(samples: impl Iterator<Item = i16>) -> f64 {
    let (sum, n) = samples.fold((0f64, 0usize), |(sum, n), s| {
        (sum + f64::from(s).powi(2), n + 1)
    });
    if n == 0 { 0.0 } else { (sum / n as f64).sqrt() }
}

/// Checks the recording of a finished call against its record: stereo 8 kHz
/// 16-bit, as long as the call within 100 ms, the stored hash; returns the
/// interleaved samples.
fn check_recording(daemon: &Daemon, call: &Value) -> Vec<i16> {
    let relative = call["recording_path"].as_str().expect("recording path");
    let community = call["community"].as_str().expect("community");
    assert!(relative.starts_with(&format!("{community}/")), "{relative}");
    assert!(
        relative.ends_with(&format!("{}.wav", call["id"].as_str().expect("id"))),
        "{relative}"
    );
    let path = daemon.recordings().join(relative);
    let (channels, rate, bits, frames, samples) = read_wav(&path);
    assert_eq!((channels, rate, bits), (2, 8000, 16));
    let wav_ms = frames as f64 * 1000.0 / SAMPLE_RATE;
    let call_ms = (call["ended_at"].as_i64().expect("ended")
        - call["answered_at"].as_i64().expect("answered")) as f64;
    assert!(
        (wav_ms - call_ms).abs() <= 100.0,
        "WAV {wav_ms} ms vs call {call_ms} ms"
    );
    let hash = hex::encode(Sha256::digest(std::fs::read(&path).expect("read wav")));
    assert_eq!(call["recording_sha256"].as_str(), Some(hash.as_str()));
    samples
}

fn channel(
    samples: &[i16],
    which: usize,
    from_ms: i64,
    to_ms: i64,
) -> impl Iterator<Item = i16> + '_ {
    let from = (from_ms.max(0) as usize * 8) * 2;
    let to = ((to_ms.max(0) as usize * 8) * 2).min(samples.len());
    samples[from.min(to)..to]
        .iter()
        .skip(which)
        .step_by(2)
        .copied()
}

#[test]
fn a_voicemail_call_stores_the_digit_the_message_and_a_stereo_recording() {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(DaemonOptions::default());
    voicemail_call(&daemon, "uac_voicemail.xml", "u1", "2");
    let call = only_call(&daemon);
    assert_eq!(call["menu_digit"], "2");
    assert_eq!(call["menu_choice"], "complaint");
    assert_eq!(call["end_reason"], "hotline_hangup");
    assert_eq!(call["caller"], "+8613800138000");
    assert_eq!(call["caller_raw"], "13800138000");
    assert_eq!(call["dialled"], "hotline");
    assert_eq!(call["community"], "JF");
    let start = call["voicemail_start_ms"].as_i64().expect("message start");
    let end = call["voicemail_end_ms"].as_i64().expect("message end");
    assert!(
        (1200..=3500).contains(&(end - start)),
        "message {start}..{end}"
    );
    let samples = check_recording(&daemon, &call);
    // The caller's speech is on the left while the message is taken, and
    // the daemon says nothing then (right is silent).
    let left = rms(channel(&samples, 0, start + 200, end - 200));
    let right = rms(channel(&samples, 1, start + 200, end - 200));
    assert!(left > 300.0, "caller audio on the left: rms {left}");
    assert!(
        right < 50.0,
        "the daemon is silent during the message: rms {right}"
    );
    // The greeting (our prompt) is on the right at the start, the caller silent.
    let greeting = rms(channel(&samples, 1, 50, 500));
    assert!(greeting > 300.0, "greeting on the right: rms {greeting}");
    assert!(rms(channel(&samples, 0, 50, 500)) < 50.0);
    daemon.stop();
}

#[test]
fn a_tcp_call_with_a_sip_info_digit_ends_with_the_callers_bye() {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(DaemonOptions::default());
    voicemail_call(&daemon, "uac_info_digit.xml", "t1", "1");
    let call = only_call(&daemon);
    assert_eq!(call["menu_digit"], "1");
    assert_eq!(call["menu_choice"], "repair");
    assert_eq!(call["end_reason"], "caller_hangup");
    assert!(call["voicemail_end_ms"].as_i64().is_some());
    check_recording(&daemon, &call);
}

#[test]
fn cancel_before_answer_gets_487_and_is_recorded_as_cancelled() {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(DaemonOptions {
        answer_delay: "3s",
        ..DaemonOptions::default()
    });
    let run = sipp("uac_cancel.xml", daemon.sip, &["-t", "u1"]);
    assert!(run.success, "{}", run.explain(&daemon));
    let call = only_call(&daemon);
    assert_eq!(call["end_reason"], "cancelled");
    assert_eq!(call["sip_status"], 487);
    assert!(call["answered_at"].is_null());
    assert!(call["recording_path"].is_null());
}

#[test]
fn hold_and_resume_are_answered_with_the_matching_direction() {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(DaemonOptions::default());
    let run = sipp("uac_hold.xml", daemon.sip, &["-t", "u1"]);
    assert!(run.success, "{}", run.explain(&daemon));
    let call = only_call(&daemon);
    assert_eq!(call["end_reason"], "caller_hangup");
    check_recording(&daemon, &call);
}

#[test]
fn options_is_answered_with_allow_and_accept() {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(DaemonOptions::default());
    let run = sipp("uac_options.xml", daemon.sip, &["-t", "u1"]);
    assert!(run.success, "{}", run.explain(&daemon));
    assert!(daemon.calls().is_empty());
}

#[test]
fn an_invite_without_offer_gets_our_offer_and_the_ack_answer_is_used() {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(DaemonOptions::default());
    let run = sipp("uac_no_offer.xml", daemon.sip, &["-t", "u1"]);
    assert!(run.success, "{}", run.explain(&daemon));
    let call = only_call(&daemon);
    assert_eq!(call["end_reason"], "caller_hangup");
    check_recording(&daemon, &call);
}

#[test]
fn a_video_stream_we_cannot_take_is_rejected_by_port_zero_and_the_call_goes_on() {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(DaemonOptions::default());
    let run = sipp("uac_video.xml", daemon.sip, &["-t", "u1"]);
    assert!(run.success, "{}", run.explain(&daemon));
    let call = only_call(&daemon);
    assert_eq!(call["end_reason"], "caller_hangup");
    check_recording(&daemon, &call);
}

fn raw_request(
    method: &str,
    target: std::net::SocketAddr,
    socket: &UdpSocket,
    extra: &str,
    user: &str,
) -> String {
    let local = socket.local_addr().expect("local");
    let message = format!(
        "{method} sip:{user}@{target} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-{method}-{n}\r\n\
         From: <sip:13800138000@{local}>;tag=t{n}\r\n\
         To: <sip:{user}@{target}>\r\n\
         Call-ID: raw-{method}-{n}@127.0.0.1\r\n\
         {extra}\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n",
        n = rand_suffix(),
    );
    socket.send_to(message.as_bytes(), target).expect("send");
    read_final(socket)
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
}

/// The first final (non-1xx) response.
fn read_final(socket: &UdpSocket) -> String {
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 65535];
    loop {
        let (n, _) = socket.recv_from(&mut buf).expect("a response within 5 s");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

#[test]
fn malformed_input_gets_400_or_is_dropped_and_the_daemon_goes_on() {
    let daemon = Daemon::start(DaemonOptions::default());
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    // Garbage and a message cut short: dropped.
    socket
        .send_to(b"\x00\x01garbage\r\n\r\n", daemon.sip)
        .expect("send");
    socket
        .send_to(
            b"INVITE sip:hotline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP",
            daemon.sip,
        )
        .expect("send");
    // A request that can be answered but is wrong: CSeq method differs.
    let bad = raw_request(
        "OPTIONS",
        daemon.sip,
        &socket,
        "CSeq: 1 INVITE\r\n",
        "hotline",
    );
    assert!(bad.starts_with("SIP/2.0 400"), "{bad}");
    // A Content-Length longer than the datagram (RFC 3261 §18.3).
    let local = socket.local_addr().expect("local");
    let cut = format!(
        "OPTIONS sip:hotline@{t} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-cl\r\n\
         From: <sip:a@{local}>;tag=1\r\nTo: <sip:hotline@{t}>\r\nCall-ID: cl@x\r\nCSeq: 2 OPTIONS\r\n\
         Max-Forwards: 70\r\nContent-Length: 500\r\n\r\nshort",
        t = daemon.sip
    );
    socket.send_to(cut.as_bytes(), daemon.sip).expect("send");
    let reply = read_final(&socket);
    assert!(reply.starts_with("SIP/2.0 400"), "{reply}");
    // And the daemon still answers a good request.
    let ok = raw_request(
        "OPTIONS",
        daemon.sip,
        &socket,
        "CSeq: 3 OPTIONS\r\n",
        "hotline",
    );
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(ok.contains("INVITE"), "{ok}");
    // Methods we know but do not serve, and unknown ones.
    let subscribe = raw_request(
        "SUBSCRIBE",
        daemon.sip,
        &socket,
        "CSeq: 4 SUBSCRIBE\r\n",
        "hotline",
    );
    assert!(subscribe.starts_with("SIP/2.0 405"), "{subscribe}");
    assert!(
        subscribe.to_ascii_lowercase().contains("allow:"),
        "{subscribe}"
    );
    let unknown = raw_request(
        "FROBNICATE",
        daemon.sip,
        &socket,
        "CSeq: 5 FROBNICATE\r\n",
        "hotline",
    );
    assert!(unknown.starts_with("SIP/2.0 501"), "{unknown}");
}

/// An INVITE from `socket` with `body` of `content_type`; the final response.
fn raw_invite(
    target: std::net::SocketAddr,
    socket: &UdpSocket,
    content_type: &str,
    body: &str,
) -> String {
    let local = socket.local_addr().expect("local");
    let n = rand_suffix();
    let message = format!(
        "INVITE sip:hotline@{target} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-body-{n}\r\n\
         From: <sip:13800138000@{local}>;tag=t{n}\r\n\
         To: <sip:hotline@{target}>\r\n\
         Call-ID: raw-body-{n}@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:13800138000@{local}>\r\n\
         Max-Forwards: 70\r\n\
         Content-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.send_to(message.as_bytes(), target).expect("send");
    read_final(socket)
}

#[test]
fn an_invite_whose_body_is_not_sdp_gets_415_with_accept() {
    let daemon = Daemon::start(DaemonOptions::default());
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    // RFC 3261 §8.2.3 and §21.4.13: 415 with the types we take.
    let reply = raw_invite(daemon.sip, &socket, "text/plain", "please pick up\r\n");
    assert!(
        reply.starts_with("SIP/2.0 415 Unsupported Media Type"),
        "{reply}"
    );
    assert!(
        reply.lines().any(|line| line == "Accept: application/sdp"),
        "{reply}"
    );
    let call = only_call(&daemon);
    assert_eq!(call["sip_status"], 415);
    assert_eq!(call["end_code"], "unsupported_body");
}

#[test]
fn listening_on_every_interface_a_caller_is_given_a_reachable_address() {
    let daemon = Daemon::start(DaemonOptions {
        sip_listen: "0.0.0.0:0",
        answer_delay: "0s",
        ..DaemonOptions::default()
    });
    assert!(daemon.sip.ip().is_unspecified(), "{}", daemon.sip);
    let target: std::net::SocketAddr = ([127, 0, 0, 1], daemon.sip.port()).into();
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    // No SDP in the INVITE: our offer comes in the 200.
    let ok = raw_request(
        "INVITE",
        target,
        &socket,
        "CSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\n",
        "hotline",
    );
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let contact = ok
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("contact:"))
        .expect("Contact");
    assert!(
        contact.contains(&format!("127.0.0.1:{}", daemon.sip.port())),
        "not the unspecified address: {contact}"
    );
    assert!(ok.contains("c=IN IP4 127.0.0.1\r\n"), "{ok}");
    assert!(!ok.contains("0.0.0.0"), "{ok}");
}

#[test]
fn unknown_numbers_get_404_and_untrusted_sources_get_403() {
    let daemon = Daemon::start(DaemonOptions::default());
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let reply = raw_request(
        "INVITE",
        daemon.sip,
        &socket,
        "CSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\n",
        "nobody",
    );
    assert!(reply.starts_with("SIP/2.0 404"), "{reply}");
    drop(daemon);
    let daemon = Daemon::start(
        DaemonOptions {
            extra: String::new(),
            ..DaemonOptions::default()
        }
        .untrusting_loopback(),
    );
    let reply = raw_request(
        "INVITE",
        daemon.sip,
        &socket,
        "CSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\n",
        "hotline",
    );
    assert!(reply.starts_with("SIP/2.0 403"), "{reply}");
}

#[test]
fn a_kill_9_mid_call_leaves_a_playable_recording_and_a_finished_record_after_restart() {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(DaemonOptions::default());
    // A long voice message: the call is still running when the daemon dies.
    let target = daemon.sip;
    let caller = std::thread::spawn(move || {
        let keys = [
            "-t",
            "u1",
            "-key",
            "digit",
            "3",
            "-key",
            "menu_ms",
            "1000",
            "-key",
            "prompt_ms",
            "1500",
            "-key",
            "message_ms",
            "30000",
        ];
        sipp("uac_info_digit.xml", target, &keys)
    });
    // Wait until the header has been brought up to date with some audio.
    let recordings = daemon.recordings();
    let wav = wait_for_wav(&recordings, Duration::from_secs(20), 3.0);
    let dir = daemon.kill9();
    drop(caller);
    let restarted = Daemon::start_in(dir, DaemonOptions::default());
    let call = only_call(&restarted);
    assert_eq!(call["end_reason"], "crashed");
    let (channels, rate, _, frames, _) = read_wav(&wav);
    assert_eq!((channels, rate), (2, 8000));
    assert!(
        frames as f64 / SAMPLE_RATE >= 2.0,
        "only {frames} frames survived"
    );
    let hash = hex::encode(Sha256::digest(std::fs::read(&wav).expect("read")));
    assert_eq!(call["recording_sha256"].as_str(), Some(hash.as_str()));
    assert_eq!(
        call["duration_ms"].as_i64(),
        Some((frames as f64 * 1000.0 / SAMPLE_RATE) as i64)
    );
}

/// The first WAV under `root` that a reader sees at least `seconds` long.
fn wait_for_wav(root: &Path, limit: Duration, seconds: f64) -> std::path::PathBuf {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        for path in walk(root) {
            if let Ok(reader) = hound::WavReader::open(&path)
                && f64::from(reader.duration()) / SAMPLE_RATE >= seconds
            {
                return path;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "no recording of {seconds} s appeared under {}",
        root.display()
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else if path.extension().is_some_and(|e| e == "wav") {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn a_known_callers_voice_message_becomes_a_work_order_with_the_call_linked() {
    if !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(DaemonOptions::default());
    // The owner archive knows the caller SIPp calls from.
    let csv = daemon.dir.path().join("owners.csv");
    std::fs::write(
        &csv,
        "小区,楼栋,单元,房号,姓名,身份,手机\n俊发示范小区,3,2,1201,王芳,业主,13800138000\n",
    )
    .expect("write csv");
    let out = daemon.cli(&["archive", "import", csv.to_str().expect("utf-8")], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = daemon.cli(
        &["users", "add", "op", "--role", "supervisor"],
        "operator password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    voicemail_call(&daemon, "uac_voicemail.xml", "u1", "1");
    let call = only_call(&daemon);
    assert_eq!(call["caller_match"], "person");
    assert_eq!(call["caller_name"], "王芳");
    assert_eq!(call["caller_rooms"], "3栋2单元1201");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (page, detail) = runtime.block_on(async {
        let http = reqwest::Client::new();
        let base = format!("http://{}", daemon.http);
        let login: Value = http
            .post(format!("{base}/api/login"))
            .json(&serde_json::json!({"username": "op", "password": "operator password"}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        let token = login["token"].as_str().expect("token").to_string();
        // The record is written as the call ends; the ticket just after.
        let mut page = Value::Null;
        for _ in 0..50 {
            page = http
                .get(format!("{base}/api/tickets?status=new"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("tickets")
                .json()
                .await
                .expect("json");
            if page["total"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let number = page["tickets"][0]["number"]
            .as_str()
            .unwrap_or("none")
            .to_string();
        let detail: Value = http
            .get(format!("{base}/api/tickets/{number}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("ticket")
            .json()
            .await
            .expect("json");
        let lookup: Value = http
            .get(format!(
                "{base}/api/archive/lookup?phone=%2B86%20138%200013%208000"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("lookup")
            .json()
            .await
            .expect("json");
        assert_eq!(lookup["people"][0]["name"], "王芳", "{lookup}");
        (page, detail)
    });
    assert_eq!(page["total"], 1, "{page}\n{}", daemon.log());
    let ticket = &page["tickets"][0];
    assert_eq!(ticket["kind"], "repair");
    assert_eq!(ticket["source"], "voice_message");
    assert_eq!(ticket["reporter_name"], "王芳");
    assert_eq!(ticket["room"], "3栋2单元1201");
    assert!(
        ticket["number"]
            .as_str()
            .expect("number")
            .starts_with("JF-")
    );
    assert_eq!(detail["calls"][0]["id"], call["id"], "{detail}");
}

#[test]
fn a_call_is_recorded_the_same_way_on_postgresql() {
    if !common::have("sipp") {
        return;
    }
    let Some(url) = common::postgres_database() else {
        return;
    };
    let daemon = Daemon::start(DaemonOptions {
        database_url: Some(url),
        ..DaemonOptions::default()
    });
    voicemail_call(&daemon, "uac_info_digit.xml", "u1", "4");
    // `calls list` reads the same database (the test's CLI passes the URL
    // on, as an administrator would).
    let out = daemon.cli(&["calls", "list", "--json"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["menu_choice"], "inquiry");
    // The embedded SQLite file of the data directory was not used.
    assert!(!daemon.dir.path().join("hotline.db").exists());
}

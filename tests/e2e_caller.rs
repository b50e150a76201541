//! End-to-end: the real daemon called by a caller of our own
//! (`common::caller`) that times every RTP packet the daemon sends and,
//! like a carrier, hangs up when they stop for over a second; and what
//! becomes of a voice message with nothing said in it.

mod common;

use std::time::{Duration, Instant};

use common::caller::{self, CallReport, Ending, Step, TICK};
use common::{Daemon, DaemonOptions, read_wav, repo};
use serde_json::Value;

/// A carrier's patience with a call that receives no RTP, shortened: real
/// ones wait 10–60 s, longer than any silence of the IVR in these tests.
const RTP_PATIENCE: Duration = Duration::from_secs(1);

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn only_call(daemon: &Daemon) -> Value {
    let calls = daemon.wait_for_calls(|calls| calls.len() == 1 && !calls[0]["ended_at"].is_null());
    assert_eq!(calls.len(), 1, "{calls:?}\n{}", daemon.log());
    assert!(
        !calls[0]["ended_at"].is_null(),
        "{calls:?}\n{}",
        daemon.log()
    );
    calls[0].clone()
}

/// The daemon's stream was one unbroken talkspurt: RTP all along, the
/// marker on its first packet only, sequence numbers and timestamps one
/// step per packet.
fn assert_unbroken(report: &CallReport, daemon: &Daemon) {
    let explain = || {
        format!(
            "{:?}, longest gap {:?}, {} packets\n{}",
            report.ending,
            report.longest_gap(),
            report.packets.len(),
            daemon.log()
        )
    };
    assert_eq!(report.ending, Ending::DaemonHungUp, "{}", explain());
    assert!(report.longest_gap() <= RTP_PATIENCE, "{}", explain());
    let ticks = report.ended_at.as_millis() / TICK.as_millis();
    let packets = report.packets.len() as u128;
    assert!(
        packets * 10 >= ticks * 9,
        "{packets} packets in {ticks} ticks"
    );
    let markers: Vec<_> = report.packets.iter().filter(|p| p.marker).collect();
    assert_eq!(markers.len(), 1, "one talkspurt: {markers:?}");
    assert!(report.packets[0].marker);
    assert!(report.packets.iter().all(|p| p.payload_type == 0));
    for pair in report.packets.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1), "{pair:?}");
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
    }
}

/// The work orders as a supervisor (made with the CLI) lists them, once
/// `done` holds of the page or after `limit`.
fn work_orders_when(daemon: &Daemon, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let out = daemon.cli(
        &["users", "add", "qa", "--role", "supervisor"],
        "supervisor password\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let base = format!("http://{}", daemon.http);
        let login: Value = http
            .post(format!("{base}/api/login"))
            .json(&serde_json::json!({"username": "qa", "password": "supervisor password"}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        let token = login["token"].as_str().expect("token").to_string();
        let deadline = Instant::now() + limit;
        loop {
            let page: Value = http
                .get(format!("{base}/api/tickets"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("tickets")
                .json()
                .await
                .expect("json");
            if done(&page) || Instant::now() > deadline {
                return page;
            }
            tokio::time::sleep(ms(200)).await;
        }
    })
}

fn rms(samples: impl Iterator<Item = i16>) -> f64 {
    let (sum, n) = samples.fold((0f64, 0usize), |(sum, n), s| {
        (sum + f64::from(s).powi(2), n + 1)
    });
    if n == 0 { 0.0 } else { (sum / n as f64).sqrt() }
}

/// The caller's channel (left) of the call's recording from `from_ms` to `to_ms`.
fn callers_audio(daemon: &Daemon, call: &Value, from_ms: i64, to_ms: i64) -> Vec<i16> {
    let relative = call["recording_path"].as_str().expect("recording path");
    let (channels, _, _, _, samples) = read_wav(&daemon.recordings().join(relative));
    assert_eq!(channels, 2);
    let at = |ms: i64| (usize::try_from(ms).unwrap_or(0) * 8 * 2).min(samples.len());
    samples[at(from_ms)..at(to_ms)]
        .iter()
        .step_by(2)
        .copied()
        .collect()
}

#[test]
fn rtp_flows_for_the_whole_call_so_a_caller_that_hangs_up_on_silence_stays_on() {
    let daemon = Daemon::start(DaemonOptions::default());
    let message =
        std::fs::read(repo().join("tests/fixtures/caller_message.ulaw")).expect("fixture");
    // Test prompts: greeting 0.6 s and menu 0.8 s end at 1.4 s; the caller
    // takes 1.5 s to choose (no prompt plays); voicemail prompt 0.5 s and
    // beep 0.2 s; 2.5 s of message, 1.5 s of saying nothing, the end key;
    // thanks 0.5 s and the daemon's BYE.
    let script = [
        (Duration::ZERO, Step::Silence),
        (ms(2900), Step::Digit('1')),
        (ms(3900), Step::Audio(message)),
        (ms(6400), Step::Silence),
        (ms(7900), Step::Digit('#')),
    ];
    let report = caller::call(daemon.sip, "hotline", &script, RTP_PATIENCE);
    assert_unbroken(&report, &daemon);
    // While the message was taken nothing played: the stream was silence.
    let quiet = report
        .packets
        .iter()
        .filter(|p| p.at > ms(4300) && p.at < ms(7800));
    assert!(quiet.clone().count() > 150);
    assert!(quiet.clone().all(|p| p.silent), "silence while recording");

    let call = only_call(&daemon);
    assert_eq!(call["end_reason"], "hotline_hangup");
    assert_eq!(call["menu_choice"], "repair");
    let start = call["voicemail_start_ms"].as_i64().expect("message start");
    let end = call["voicemail_end_ms"].as_i64().expect("message end");
    assert!((3000..=5000).contains(&(end - start)), "{start}..{end}");
    let page = work_orders_when(&daemon, Duration::from_secs(5), |page| page["total"] == 1);
    assert_eq!(page["total"], 1, "{page}\n{}", daemon.log());
    assert_eq!(page["tickets"][0]["source"], "voice_message");
    assert_eq!(page["tickets"][0]["kind"], "repair");
    daemon.stop();
}

#[test]
fn a_voice_message_of_silence_is_recorded_but_becomes_no_work_order() {
    let daemon = Daemon::start(DaemonOptions::default());
    let silence =
        std::fs::read(repo().join("tests/fixtures/caller_silence.ulaw")).expect("fixture");
    // The digit during the menu; the end key during the voicemail prompt
    // skips to the beep; then 2 s of an open line, and the end key.
    let script = [
        (Duration::ZERO, Step::Silence),
        (ms(1000), Step::Digit('2')),
        (ms(1200), Step::Digit('#')),
        (ms(1400), Step::Audio(silence)),
        (ms(3500), Step::Digit('#')),
    ];
    let report = caller::call(daemon.sip, "hotline", &script, RTP_PATIENCE);
    assert_unbroken(&report, &daemon);

    let call = only_call(&daemon);
    assert_eq!(call["end_reason"], "hotline_hangup");
    assert_eq!(call["menu_choice"], "complaint");
    let start = call["voicemail_start_ms"].as_i64().expect("message start");
    let end = call["voicemail_end_ms"].as_i64().expect("message end");
    // The message began after the beep (0.2 s) that the end key brought on,
    // not after the 0.5 s prompt that it cut short.
    let skip_key = i64::try_from(report.step_times[2].as_millis()).expect("ms");
    assert!(
        start >= skip_key + 150 && start <= skip_key + 450,
        "message starts {start} ms, end key pressed at {skip_key} ms"
    );
    assert!(end - start >= 1500, "long enough: empty for want of speech");
    assert!(rms(callers_audio(&daemon, &call, start, end).into_iter()) < 50.0);

    // The decision is logged as the call ends, before its work order would
    // be made: none comes.
    let page = work_orders_when(&daemon, Duration::from_secs(1), |page| page["total"] != 0);
    assert_eq!(page["total"], 0, "{page}");
    assert!(
        daemon.log().contains("voice message empty"),
        "{}",
        daemon.log()
    );
    daemon.stop();
}

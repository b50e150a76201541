//! A real softphone as an operator's phone: baresip (Debian package)
//! registers with digest, is rung for a queued call, answers it on its
//! own, and its voice (a sine tone from its `ausine` source) is bridged to
//! the caller and recorded on the operator's channel; when it quits, its
//! un-REGISTER takes the operator offline.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::phones::{PHONE_PASSWORD, add_operator};
use common::{Daemon, DaemonOptions, free_udp_port, read_wav, sipp};

/// What baresip says: its `ausine` source.
const PHONE_HZ: f64 = 1800.0;

/// baresip with a config of its own: one account for `user` at the daemon,
/// answering calls at once.
struct Baresip {
    child: Child,
    dir: tempfile::TempDir,
}

impl Baresip {
    fn start(daemon: &Daemon, user: &str) -> Baresip {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_udp_port();
        std::fs::write(
            dir.path().join("config"),
            format!(
                "poll_method epoll\n\
                 sip_listen 127.0.0.1:{port}\n\
                 audio_player aubridge,nil\n\
                 audio_source ausine,{PHONE_HZ}\n\
                 ausrc_srate 48000\n\
                 auplay_srate 48000\n\
                 ausrc_channels 2\n\
                 auplay_channels 2\n\
                 audio_alert aubridge,nil\n\
                 module_path /usr/lib/baresip/modules\n\
                 module g711.so\n\
                 module ausine.so\n\
                 module aubridge.so\n\
                 module_app account.so\n"
            ),
        )
        .expect("config");
        std::fs::write(
            dir.path().join("accounts"),
            format!(
                "<sip:{user}@{};transport=udp>;auth_pass={PHONE_PASSWORD};answermode=auto;regint=60\n",
                daemon.sip
            ),
        )
        .expect("accounts");
        let log = std::fs::File::create(dir.path().join("baresip.log")).expect("log");
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start baresip");
        Baresip { child, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// Asks it to quit as a user would (SIGTERM): it un-REGISTERs first.
    fn quit(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `users list` line of `name` once `done` says so (or 20 s passed).
fn users_line(daemon: &Daemon, name: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = daemon.cli(&["users", "list"], "");
        let line = String::from_utf8_lossy(&list.stdout)
            .lines()
            .find(|line| line.starts_with(&format!("{name}\t")))
            .unwrap_or_default()
            .to_string();
        if done(&line) || Instant::now() > deadline {
            return line;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// 100 ms windows of one channel that are mostly the tone `freq`.
fn windows_with(channel: &[f64], freq: f64) -> usize {
    let omega = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * omega.cos();
    channel
        .chunks(800)
        .filter(|window| {
            let (mut s1, mut s2) = (0.0, 0.0);
            for &x in *window {
                let s0 = x + coeff * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
            let energy: f64 = window.iter().map(|x| x * x).sum();
            energy > 1e3 && 2.0 * power / (energy * window.len() as f64) > 0.5
        })
        .count()
}

#[test]
fn baresip_registers_with_digest_answers_a_queued_call_and_its_voice_is_recorded() {
    if !common::have("baresip") || !common::have("sipp") {
        return;
    }
    let daemon = Daemon::start(DaemonOptions::default());
    add_operator(&daemon, "zhang", "operator", "张伟");
    let phone = Baresip::start(&daemon, "zhang");
    // baresip's contact is its own (`sip:zhang-0x…@127.0.0.1:PORT`).
    let line = users_line(&daemon, "zhang", |line| line.contains("@127.0.0.1:"));
    assert!(
        line.contains("sip:zhang") && line.contains("@127.0.0.1:"),
        "baresip registered: {line}\n--- baresip:\n{}\n--- daemon:\n{}",
        phone.log(),
        daemon.log()
    );
    // A caller asks for a person, talks for 5 s and hangs up.
    let call = sipp(
        "uac_queue_abandon.xml",
        daemon.sip,
        &[
            "-key", "digit", "0", "-key", "menu_ms", "1000", "-key", "wait_ms", "6000",
        ],
    );
    assert!(
        call.success,
        "caller: {}\n--- baresip:\n{}",
        call.explain(&daemon),
        phone.log()
    );
    let calls =
        daemon.wait_for_calls(|calls| calls.first().is_some_and(|c| !c["ended_at"].is_null()));
    let record = &calls[0];
    assert_eq!(
        record["queue_outcome"],
        "answered",
        "{record:#}\n{}",
        phone.log()
    );
    assert_eq!(record["hung_up_by"], "caller");
    let call_id = record["id"].as_str().expect("id");
    let wav = common::find_wav(&daemon.recordings(), call_id);
    let (_, _, _, _, samples) = read_wav(&wav);
    let right: Vec<f64> = samples
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&s| f64::from(s))
        .collect();
    let left: Vec<f64> = samples.iter().step_by(2).map(|&s| f64::from(s)).collect();
    let heard = windows_with(&right, PHONE_HZ);
    assert!(
        heard >= 20,
        "baresip heard on the right for {heard} × 100 ms"
    );
    assert_eq!(windows_with(&left, PHONE_HZ), 0, "and not on the left");

    phone.quit();
    let line = users_line(&daemon, "zhang", |line| line.ends_with("\t-"));
    assert!(
        line.ends_with("\t-"),
        "the un-REGISTER removed the binding: {line}"
    );
}

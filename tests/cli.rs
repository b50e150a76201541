//! The command line as an administrator uses it: config checks, users, and
//! the daemon's HTTP API reachable at the address of its `ready` line.

mod common;

use std::process::Command;

use common::{Daemon, DaemonOptions, repo};

fn hotline(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run hotline")
}

#[test]
fn check_config_accepts_the_shipped_file() {
    let out = hotline(&["check-config", "--config", "config/hotline.toml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("config/hotline.toml"));
}

#[test]
fn check_config_names_the_file_and_key_of_an_error() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[sip]\nlisten = \"127.0.0.1:5060\"\nlistne = 3\n").expect("write");
    let out = hotline(&["check-config", "--config", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("`sip.listne`"), "{err}");
    // A value problem is named the same way.
    std::fs::write(&path, "[media]\nrtp_ports = \"9-3\"\n").expect("write");
    let out = hotline(&["check-config", "--config", path.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`media.rtp_ports`"), "{err}");
}

#[tokio::test]
async fn a_user_added_on_the_command_line_logs_in_to_the_running_daemon() {
    let daemon = Daemon::start(DaemonOptions::default());
    let out = daemon.cli(
        &[
            "users",
            "add",
            "zhang",
            "--role",
            "supervisor",
            "--display-name",
            "张主管",
        ],
        "correct horse battery\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = daemon.cli(&["users", "list"], "");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("zhang") && listed.contains("张主管"),
        "{listed}"
    );

    let http = reqwest::Client::new();
    let base = format!("http://{}", daemon.http);
    let login: serde_json::Value = http
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"username": "zhang", "password": "correct horse battery"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    assert_eq!(login["role"], "supervisor");
    let token = login["token"].as_str().expect("token");
    let calls = http
        .get(format!("{base}/api/calls"))
        .bearer_auth(token)
        .send()
        .await
        .expect("calls");
    assert_eq!(calls.status(), 200);

    // A new password ends the old sessions.
    let out = daemon.cli(&["users", "passwd", "zhang"], "another long secret\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = http
        .get(format!("{base}/api/calls"))
        .bearer_auth(token)
        .send()
        .await
        .expect("calls");
    assert_eq!(again.status(), 401);
}

#[test]
fn a_short_password_is_refused() {
    let daemon = Daemon::start(DaemonOptions::default());
    let out = daemon.cli(&["users", "add", "li", "--role", "operator"], "short\n");
    assert!(!out.status.success());
}

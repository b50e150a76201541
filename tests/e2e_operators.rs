//! Operators' phones against the real binary: a phone registering with
//! digest authentication (the crate's own digest client answering the
//! daemon's challenge over a real socket), the binding kept across a
//! restart, the un-REGISTER, and wrong passwords challenged again until the
//! source is locked out while others go on. Credentials are set with
//! `hotline users sip-password`, as an administrator would.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::phones::{PHONE_PASSWORD, register, register_with, register_with_for, with_operator};
use common::{Daemon, DaemonOptions};
/// How long a test waits for the daemon to see a registration change.
const SETTLE: Duration = Duration::from_secs(20);

/// The `users list` line of `name`.
fn users_line(daemon: &Daemon, name: &str) -> String {
    let list = daemon.cli(&["users", "list"], "");
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .find(|line| line.starts_with(&format!("{name}\t")))
        .unwrap_or_default()
        .to_string()
}

/// Waits until `users list` for `name` satisfies `done`.
fn wait_for_line(daemon: &Daemon, name: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + SETTLE;
    loop {
        let line = users_line(daemon, name);
        if done(&line) || Instant::now() > deadline {
            return line;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_phone_registers_with_digest_the_binding_survives_a_restart_and_goes_with_the_un_register() {
    let daemon = with_operator(Daemon::start(DaemonOptions::default()));
    let before = users_line(&daemon, "zhang");
    assert!(before.contains("已设置"), "{before}");
    assert!(before.ends_with("\t-"), "no phone yet: {before}");
    let phone = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (status, _) = register_with(&phone, daemon.sip, "zhang", PHONE_PASSWORD, 1);
    assert_eq!(status, 200, "{}", daemon.log());
    let contact = format!("sip:zhang@{}", phone.local_addr().expect("address"));
    let line = wait_for_line(&daemon, "zhang", |line| line.contains(&contact));
    assert!(line.contains(&contact), "{line}");
    assert!(
        !daemon.log().contains(PHONE_PASSWORD),
        "the password is never logged"
    );

    // A restart does not forget who is logged in.
    let options = DaemonOptions {
        sip_listen: Box::leak(daemon.sip.to_string().into_boxed_str()),
        ..DaemonOptions::default()
    };
    let dir = daemon.kill9();
    let daemon = Daemon::start_in(dir, options);
    assert!(users_line(&daemon, "zhang").contains(&contact));

    let (status, _) = register_with_for(&phone, daemon.sip, "zhang", PHONE_PASSWORD, 3, 0);
    assert_eq!(status, 200, "the un-REGISTER is accepted");
    let line = wait_for_line(&daemon, "zhang", |line| line.ends_with("\t-"));
    assert!(
        line.ends_with("\t-"),
        "the un-REGISTER removed the binding: {line}"
    );
}

#[test]
fn wrong_phone_passwords_are_challenged_again_then_that_source_is_locked_out() {
    let daemon = with_operator(Daemon::start(DaemonOptions::default()));
    let guesser = UdpSocket::bind("127.0.0.2:0").expect("a second loopback address");
    let mut cseq = 1;
    for attempt in 0..5 {
        let (status, challenges) = register_with(&guesser, daemon.sip, "zhang", "wrong-pass", cseq);
        cseq += 2;
        assert_eq!(
            status, 401,
            "attempt {attempt}: a wrong password is challenged again"
        );
        assert!(!challenges.is_empty());
    }
    let (status, challenges) = register(&guesser, daemon.sip, "zhang", cseq, None);
    assert_eq!(status, 403, "the guessing source is locked out");
    assert!(challenges.is_empty(), "and gets no challenge");
    assert!(daemon.log().contains("locked out"), "{}", daemon.log());

    let phone = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (status, _) = register_with(&phone, daemon.sip, "zhang", PHONE_PASSWORD, 1);
    assert_eq!(status, 200, "another source registers as usual");
    let line = wait_for_line(&daemon, "zhang", |line| {
        line.contains("sip:zhang@127.0.0.1:")
    });
    assert!(line.contains("sip:zhang@127.0.0.1:"), "{line}");
}

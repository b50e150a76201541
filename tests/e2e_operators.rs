//! Operators' phones against the real binary: a phone registering with
//! digest authentication (the crate's own digest client answering the
//! daemon's challenge over a real socket), the binding kept across a
//! restart, the un-REGISTER, and wrong passwords challenged again until the
//! source is locked out while others go on. Credentials are set with
//! `hotline users sip-password`, as an administrator would.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{Daemon, DaemonOptions};
use hotline::sip::{ClientRequest, authorization};

const CONSOLE_PASSWORD: &str = "console-pass1";
const PHONE_PASSWORD: &str = "phone-pass1";
/// How long a test waits for the daemon to see a registration change.
const SETTLE: Duration = Duration::from_secs(20);

/// A daemon with one operator, `zhang`, whose phone password is set.
fn daemon_with_operator() -> Daemon {
    let daemon = Daemon::start(DaemonOptions::default());
    let added = daemon.cli(
        &[
            "users",
            "add",
            "zhang",
            "--role",
            "operator",
            "--display-name",
            "张伟",
        ],
        &format!("{CONSOLE_PASSWORD}\n"),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let set = daemon.cli(
        &["users", "sip-password", "zhang"],
        &format!("{PHONE_PASSWORD}\n"),
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(String::from_utf8_lossy(&set.stdout).contains("话机密码已设置"));
    daemon
}

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

/// A REGISTER for `user` from `socket`, with an Authorization header when
/// given; returns the status line and the response's challenge headers.
fn register(
    socket: &UdpSocket,
    registrar: SocketAddr,
    user: &str,
    cseq: u32,
    authorization: Option<&str>,
) -> (u16, Vec<String>) {
    register_for(socket, registrar, user, cseq, authorization, 300)
}

/// Like [`register`], asking for `expires` seconds (0: un-REGISTER).
fn register_for(
    socket: &UdpSocket,
    registrar: SocketAddr,
    user: &str,
    cseq: u32,
    authorization: Option<&str>,
    expires: u32,
) -> (u16, Vec<String>) {
    let local = socket.local_addr().expect("local address");
    let uri = format!("sip:{registrar}");
    let auth = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "REGISTER {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-reg-{cseq}-{}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{registrar}>;tag=reg{}\r\n\
         To: <sip:{user}@{registrar}>\r\n\
         Call-ID: reg-{}-{}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{user}@{local}>\r\n\
         Expires: {expires}\r\n\
         {auth}Content-Length: 0\r\n\r\n",
        local.port(),
        local.port(),
        local.port(),
        local.ip(),
    );
    socket.send_to(request.as_bytes(), registrar).expect("send");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buffer = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buffer).expect("an answer");
    let text = String::from_utf8_lossy(&buffer[..len]).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let challenges = text
        .lines()
        .filter_map(|line| line.strip_prefix("WWW-Authenticate: "))
        .map(str::to_string)
        .collect();
    (status, challenges)
}

/// REGISTERs answering each challenge with `password`; the final status.
fn register_with(
    socket: &UdpSocket,
    registrar: SocketAddr,
    user: &str,
    password: &str,
    cseq: u32,
) -> (u16, Vec<String>) {
    register_with_for(socket, registrar, user, password, cseq, 300)
}

/// Like [`register_with`], asking for `expires` seconds (0: un-REGISTER).
fn register_with_for(
    socket: &UdpSocket,
    registrar: SocketAddr,
    user: &str,
    password: &str,
    cseq: u32,
    expires: u32,
) -> (u16, Vec<String>) {
    let (status, challenges) = register_for(socket, registrar, user, cseq, None, expires);
    assert_eq!(status, 401, "a REGISTER without credentials is challenged");
    assert_eq!(challenges.len(), 2, "SHA-256 and MD5: {challenges:?}");
    assert!(
        challenges[0].contains("algorithm=SHA-256"),
        "{challenges:?}"
    );
    let uri = format!("sip:{registrar}");
    let header = authorization(
        challenges.iter().map(String::as_str),
        user,
        password,
        ClientRequest {
            method: "REGISTER",
            uri: &uri,
            cnonce: "0a4f113b",
            nc: 1,
        },
    )
    .expect("an answerable challenge");
    register_for(socket, registrar, user, cseq + 1, Some(&header), expires)
}

#[test]
fn a_phone_registers_with_digest_the_binding_survives_a_restart_and_goes_with_the_un_register() {
    let daemon = daemon_with_operator();
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
    let daemon = daemon_with_operator();
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

//! Operators' phones against the real binary: a real softphone (baresip)
//! registering with digest authentication, the binding kept across a
//! restart, the un-REGISTER when the phone quits, and wrong passwords
//! challenged again until the source is locked out while others go on.
//! Credentials are set with `hotline users sip-password`, as an
//! administrator would.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, DaemonOptions, free_udp_port, have};
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

/// A baresip softphone registering `user` with `password` at `registrar`.
struct Phone {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Phone {
    fn start(registrar: SocketAddr, user: &str, password: &str) -> Phone {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_udp_port();
        write(
            dir.path(),
            "config",
            &format!(
                "poll_method\tepoll\n\
                 sip_listen\t127.0.0.1:{port}\n\
                 module_path\t/usr/lib/baresip/modules\n\
                 module\tg711.so\n\
                 module\tausine.so\n\
                 module\taufile.so\n\
                 module_app\taccount.so\n\
                 audio_source\tausine,440\n\
                 audio_player\taufile,/dev/null\n"
            ),
        );
        write(
            dir.path(),
            "accounts",
            &format!("<sip:{user}@{registrar};transport=udp>;auth_pass={password};regint=60\n"),
        );
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start baresip");
        Phone { child, _dir: dir }
    }

    /// SIGTERM: baresip un-REGISTERs on its way out.
    fn quit(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write baresip file");
}

#[test]
fn a_baresip_phone_registers_with_digest_and_the_binding_survives_a_restart() {
    if !have("baresip") {
        return;
    }
    let daemon = daemon_with_operator();
    let before = users_line(&daemon, "zhang");
    assert!(before.contains("已设置"), "{before}");
    assert!(before.ends_with("\t-"), "no phone yet: {before}");
    let phone = Phone::start(daemon.sip, "zhang", PHONE_PASSWORD);
    let line = wait_for_line(&daemon, "zhang", |line| {
        line.contains("sip:zhang@127.0.0.1:")
    });
    assert!(
        line.contains("sip:zhang@127.0.0.1:"),
        "{line}\n{}",
        daemon.log()
    );
    let log = daemon.log();
    assert!(log.contains("registration"), "{log}");
    assert!(
        !log.contains(PHONE_PASSWORD),
        "the password is never logged"
    );

    // A restart does not forget who is logged in.
    let options = DaemonOptions {
        sip_listen: Box::leak(daemon.sip.to_string().into_boxed_str()),
        ..DaemonOptions::default()
    };
    let dir = daemon.kill9();
    let daemon = Daemon::start_in(dir, options);
    let line = users_line(&daemon, "zhang");
    assert!(line.contains("sip:zhang@127.0.0.1:"), "{line}");

    phone.quit();
    let line = wait_for_line(&daemon, "zhang", |line| line.ends_with("\t-"));
    assert!(
        line.ends_with("\t-"),
        "the un-REGISTER removed the binding: {line}"
    );
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
         Expires: 300\r\n\
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
    let (status, challenges) = register(socket, registrar, user, cseq, None);
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
    register(socket, registrar, user, cseq + 1, Some(&header))
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

//! Operators and their phones for end-to-end tests: an operator added with
//! the CLI as an administrator would (console and phone passwords), and a
//! phone's REGISTER answered with the crate's own digest client over a real
//! socket.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use hotline::sip::{ClientRequest, authorization};

use super::Daemon;

pub const CONSOLE_PASSWORD: &str = "console-pass1";
pub const PHONE_PASSWORD: &str = "phone-pass1";

/// Adds a user with this role and display name, with the console password
/// and the phone password set.
pub fn add_operator(daemon: &Daemon, name: &str, role: &str, display_name: &str) {
    let added = daemon.cli(
        &[
            "users",
            "add",
            name,
            "--role",
            role,
            "--display-name",
            display_name,
        ],
        &format!("{CONSOLE_PASSWORD}\n"),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let set = daemon.cli(
        &["users", "sip-password", name],
        &format!("{PHONE_PASSWORD}\n"),
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(String::from_utf8_lossy(&set.stdout).contains("话机密码已设置"));
}

/// A daemon with one operator, `zhang` (张伟), whose phone password is set.
pub fn with_operator(daemon: Daemon) -> Daemon {
    add_operator(&daemon, "zhang", "operator", "张伟");
    daemon
}

/// Registers `user`'s phone from a fresh socket on the loopback with
/// digest; returns the port it registered from, now free again, so that a
/// phone (a SIPp UAS) can take it and receive the calls.
pub fn register_phone(daemon: &Daemon, user: &str) -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let (status, _) = register_with(&socket, daemon.sip, user, PHONE_PASSWORD, 1);
    assert_eq!(status, 200, "{}", daemon.log());
    socket.local_addr().expect("address").port()
}

/// A REGISTER for `user` from `socket`, with an Authorization header when
/// given; returns the status line and the response's challenge headers.
pub fn register(
    socket: &UdpSocket,
    registrar: SocketAddr,
    user: &str,
    cseq: u32,
    authorization: Option<&str>,
) -> (u16, Vec<String>) {
    register_for(socket, registrar, user, cseq, authorization, 300)
}

/// Like [`register`], asking for `expires` seconds (0: un-REGISTER).
pub fn register_for(
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
pub fn register_with(
    socket: &UdpSocket,
    registrar: SocketAddr,
    user: &str,
    password: &str,
    cseq: u32,
) -> (u16, Vec<String>) {
    register_with_for(socket, registrar, user, password, cseq, 300)
}

/// Like [`register_with`], asking for `expires` seconds (0: un-REGISTER).
pub fn register_with_for(
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

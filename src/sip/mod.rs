//! # sip
//!
//! The SIP stack of the B2BUA side (RFC 3261): the transports (UDP and TCP on
//! one port), the message parser and response builder, the sans-IO
//! transaction state machines (§17), the dialogs (§12) and the endpoint task
//! that owns them all. It hands out small handles whose verbs are SIP's:
//! [`InviteServer::ringing`], [`InviteServer::answer`],
//! [`InviteServer::reject`], [`ServerDialog::bye`]; and for calls we
//! place, [`Endpoint::invite`], [`InviteClient::cancel`],
//! [`ClientDialog::bye`], [`ClientDialog::reinvite`].
//!
//! Registration has sans-IO parts of its own: digest authentication
//! (RFC 3261 §22, RFC 7616, RFC 8760: [`DigestServer`], [`authorization`]),
//! the REGISTER rules (§10.3: [`Registrar`]) and the lockout of sources
//! that keep failing ([`Lockout`]). HA1 values, bindings and the time are
//! handed to them; they store nothing.
//!
//! The message model and parser underneath are `rsipstack::sip`; nothing
//! outside this folder imports `rsipstack`: the types re-exported here are
//! ours.
//!
//! This layer knows nothing above it: no SQL, no media, no business words.
//! SDP bodies go in and out as bytes.

mod dialog;
mod digest;
mod endpoint;
mod lockout;
mod message;
mod registrar;
pub mod sdp;
mod transaction;
mod transport;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;

pub use dialog::{ClientDialog, DialogEvent, ReInvite, ServerDialog};
pub use digest::{
    Algorithm, ChallengeKind, ClientRequest, DEFAULT_MAX_TRACKED_NONCES, DEFAULT_NONCE_LIFETIME,
    DigestConfig, DigestConfigError, DigestError, DigestRequest, DigestServer, Failure, Ha1,
    Verification, authorization,
};
pub use endpoint::{
    Challenge, Counters, Endpoint, Incoming, InviteClient, InviteResponse, InviteServer,
    NonInviteServer, Party, Target,
};
pub use lockout::{Lockout, LockoutConfig};
pub use message::{ALLOW, ParseError, Request};
pub use registrar::{
    Binding, Contact, Contacts, Register, RegisterError, RegisterOutcome, Registrar,
    RegistrarConfig, RegistrarConfigError,
};
pub use transport::advertised_ip;

/// Parse one datagram into a request (responses are `Unanswerable` here).
/// The endpoint does this for every message; exposed for fuzzing and benches.
pub fn parse_request(
    data: &[u8],
    source: SocketAddr,
    transport: Transport,
) -> Result<Request, ParseError> {
    match message::parse(data, source, transport)? {
        message::Message::Request(request) => Ok(*request),
        message::Message::Response(_) => Err(ParseError::Unanswerable {
            reason: "a response, not a request".to_owned(),
        }),
    }
}

/// Build a response to `request` as the endpoint does (RFC 3261 §8.2.6.2),
/// without body or extra headers; exposed for benches.
pub fn build_response(
    request: &Request,
    status: StatusCode,
    to_tag: &str,
    server: &str,
) -> Vec<u8> {
    message::build_response(
        request,
        status,
        server,
        &message::ResponseParts {
            to_tag: Some(to_tag),
            ..message::ResponseParts::default()
        },
    )
}

/// Default SIP port (RFC 3261 §19.1.2).
pub const DEFAULT_SIP_PORT: u16 = 5060;

/// The transport a message came on or goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// RFC 768 datagrams; unreliable, so transactions retransmit.
    Udp,
    /// RFC 793 stream; reliable, so transactions do not retransmit.
    Tcp,
}

impl Transport {
    /// Whether the transport is reliable in the sense of RFC 3261 §17.
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }

    /// The token used in Via and in the `transport` URI parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in the SIP layer, as seen by its callers.
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    /// A listening socket could not be opened.
    #[error("cannot bind SIP {transport} on {addr}: {source}")]
    Bind {
        transport: Transport,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The endpoint's thread or its runtime could not be started.
    #[error("cannot start the SIP endpoint thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The endpoint task has stopped; no more messages can be sent.
    #[error("the SIP endpoint has stopped")]
    EndpointClosed,
    /// Our 2xx to an INVITE was never acknowledged (RFC 3261 §13.3.1.4);
    /// the call was hung up with BYE.
    #[error("no ACK for the 2xx to INVITE within {waited:?} (RFC 3261 §13.3.1.4)")]
    AckTimeout { waited: Duration },
    /// A client transaction got no final response (timer B or F, RFC 3261 §17.1).
    #[error("{method} got no final response within {waited:?} (RFC 3261 §17.1)")]
    TransactionTimeout { method: String, waited: Duration },
    /// The INVITE was cancelled by the caller before it was answered.
    #[error("the INVITE was cancelled (RFC 3261 §9.2)")]
    Cancelled,
    /// The dialog has already ended (BYE sent or received).
    #[error("the dialog {call_id} has ended")]
    DialogEnded { call_id: String },
    /// A URI for a request we were to send does not parse, or would break
    /// the message.
    #[error("not a usable SIP URI: {uri:?}")]
    InvalidUri { uri: String },
    /// A header name for a request we were to send is not a token
    /// (RFC 3261 §25.1).
    #[error("not a usable header name: {name:?}")]
    InvalidHeader { name: String },
    /// A method `Endpoint::request` does not send on its own: not a token,
    /// or INVITE, ACK or CANCEL, which have verbs of their own.
    #[error("not a method for a lone request: {method:?}")]
    InvalidMethod { method: String },
    /// A 401/407 offered no Digest challenge we can answer.
    #[error("no Digest challenge with MD5 or SHA-256 that we can answer")]
    UnusableChallenge,
}

/// Configuration of the SIP layer (the `[sip]` table).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// Address the UDP socket and the TCP listener bind to (same port).
    pub listen: SocketAddr,
    /// Value of the Server and User-Agent headers.
    pub user_agent: String,
    /// RTT estimate (RFC 3261 §17.1.1.1), default 500 ms.
    #[serde(with = "humantime_serde")]
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses.
    #[serde(with = "humantime_serde")]
    pub t2: Duration,
    /// Maximum duration a message remains in the network.
    #[serde(with = "humantime_serde")]
    pub t4: Duration,
    /// Largest message accepted (datagram or TCP frame), in bytes.
    pub max_message_size: usize,
    /// A TCP connection with no traffic either way for this long is
    /// closed; CRLF keep-alives (RFC 5626 §4.4.1) count as traffic.
    #[serde(with = "humantime_serde")]
    pub tcp_idle_timeout: Duration,
    /// A message begun on a TCP connection must be whole within this (and
    /// one we send taken by the peer, a connection we open made): else the
    /// connection is closed.
    #[serde(with = "humantime_serde")]
    pub tcp_message_timeout: Duration,
    /// Most TCP connections open at once (accepted and our own); one more
    /// is closed at once.
    pub tcp_max_connections: usize,
    /// Most TCP connections accepted from one IP address at once; one more
    /// is closed at once.
    pub tcp_max_connections_per_source: usize,
    /// The digest realm phones authenticate in (RFC 7616 §3.3); part of
    /// every stored phone credential, so changing it needs new passwords.
    pub realm: String,
    /// How long a digest nonce may be used before a phone is told `stale`.
    #[serde(with = "humantime_serde")]
    pub nonce_lifetime: Duration,
    /// User-Agent beginnings of phones that answer only the first challenge
    /// and cannot do SHA-256 (RFC 8760 §2.4 puts it first): they are
    /// challenged with MD5 alone.
    pub md5_only_agents: Vec<String>,
    /// `[sip.registrar]`: registration intervals and limits.
    pub registrar: RegistrarConfig,
    /// `[sip.lockout]`: sources that fail authentication too often.
    pub lockout: LockoutConfig,
}

/// The digest realm unless configured.
pub const DEFAULT_REALM: &str = "hotline";

impl SipConfig {
    /// Checks what the types alone cannot, as `(key path, problem)` pairs.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("tcp_idle_timeout", self.tcp_idle_timeout),
            ("tcp_message_timeout", self.tcp_message_timeout),
        ] {
            if value.is_zero() {
                problems.push((format!("sip.{key}"), "must be longer than 0s".to_string()));
            }
        }
        for (key, value) in [
            ("tcp_max_connections", self.tcp_max_connections),
            (
                "tcp_max_connections_per_source",
                self.tcp_max_connections_per_source,
            ),
        ] {
            if value == 0 {
                problems.push((format!("sip.{key}"), "must be at least 1".to_string()));
            }
        }
        if let Err(err) = self.digest().validate() {
            problems.push(("sip.realm".to_string(), err.to_string()));
        }
        if let Err(err) = self.registrar.validate() {
            problems.push(("sip.registrar".to_string(), err.to_string()));
        }
        problems
    }

    /// Whether a phone with this User-Agent is challenged with MD5 alone.
    pub fn md5_only(&self, user_agent: Option<&str>) -> bool {
        user_agent.is_some_and(|agent| {
            self.md5_only_agents
                .iter()
                .any(|prefix| !prefix.is_empty() && agent.starts_with(prefix.as_str()))
        })
    }

    /// The digest authentication the registrar challenges phones with.
    pub fn digest(&self) -> DigestConfig {
        DigestConfig {
            realm: self.realm.clone(),
            nonce_lifetime: self.nonce_lifetime,
            ..DigestConfig::default()
        }
    }
}

/// RFC 3261 §17.1.1.1 T1 default.
pub const DEFAULT_T1: Duration = Duration::from_millis(500);
/// RFC 3261 §17.1.2.2 T2 default.
pub const DEFAULT_T2: Duration = Duration::from_secs(4);
/// RFC 3261 §17.1.2.2 T4 default.
pub const DEFAULT_T4: Duration = Duration::from_secs(5);
/// Largest UDP payload (RFC 768 length field), our default message limit.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 65535;
/// How long an idle TCP connection is kept: five minutes, well above the
/// keep-alive interval clients use (RFC 5626 §4.4.1 suggests 95–120 s).
pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a message may take to arrive whole on TCP; a legitimate one
/// takes milliseconds.
pub const DEFAULT_TCP_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP connections open at once: far above what trunks and phones need,
/// far below the descriptors a process gets.
pub const DEFAULT_TCP_MAX_CONNECTIONS: usize = 4096;
/// TCP connections from one address: a trunk or PBX uses one or a few.
pub const DEFAULT_TCP_MAX_CONNECTIONS_PER_SOURCE: usize = 32;

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_SIP_PORT)),
            user_agent: "hotline/0.1".to_owned(),
            t1: DEFAULT_T1,
            t2: DEFAULT_T2,
            t4: DEFAULT_T4,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            tcp_idle_timeout: DEFAULT_TCP_IDLE_TIMEOUT,
            tcp_message_timeout: DEFAULT_TCP_MESSAGE_TIMEOUT,
            tcp_max_connections: DEFAULT_TCP_MAX_CONNECTIONS,
            tcp_max_connections_per_source: DEFAULT_TCP_MAX_CONNECTIONS_PER_SOURCE,
            realm: DEFAULT_REALM.to_owned(),
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
            md5_only_agents: vec!["baresip".to_string()],
            registrar: RegistrarConfig::default(),
            lockout: LockoutConfig::default(),
        }
    }
}

/// A SIP response status code (RFC 3261 §21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusCode(pub u16);

impl StatusCode {
    pub const TRYING: StatusCode = StatusCode(100);
    pub const RINGING: StatusCode = StatusCode(180);
    pub const SESSION_PROGRESS: StatusCode = StatusCode(183);
    pub const OK: StatusCode = StatusCode(200);
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    pub const UNAUTHORIZED: StatusCode = StatusCode(401);
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    pub const PROXY_AUTHENTICATION_REQUIRED: StatusCode = StatusCode(407);
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408);
    pub const UNSUPPORTED_MEDIA_TYPE: StatusCode = StatusCode(415);
    pub const UNSUPPORTED_URI_SCHEME: StatusCode = StatusCode(416);
    pub const BAD_EXTENSION: StatusCode = StatusCode(420);
    pub const INTERVAL_TOO_BRIEF: StatusCode = StatusCode(423);
    pub const TEMPORARILY_UNAVAILABLE: StatusCode = StatusCode(480);
    pub const CALL_TRANSACTION_DOES_NOT_EXIST: StatusCode = StatusCode(481);
    pub const TOO_MANY_HOPS: StatusCode = StatusCode(483);
    pub const BUSY_HERE: StatusCode = StatusCode(486);
    pub const REQUEST_TERMINATED: StatusCode = StatusCode(487);
    pub const NOT_ACCEPTABLE_HERE: StatusCode = StatusCode(488);
    pub const SERVER_INTERNAL_ERROR: StatusCode = StatusCode(500);
    pub const NOT_IMPLEMENTED: StatusCode = StatusCode(501);
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);
    pub const SERVER_TIMEOUT: StatusCode = StatusCode(504);
    pub const VERSION_NOT_SUPPORTED: StatusCode = StatusCode(505);
    pub const MESSAGE_TOO_LARGE: StatusCode = StatusCode(513);
    pub const BUSY_EVERYWHERE: StatusCode = StatusCode(600);
    pub const DECLINE: StatusCode = StatusCode(603);

    /// The standard reason phrase (RFC 3261 §21), or a class phrase for
    /// codes without one.
    pub fn reason_phrase(self) -> &'static str {
        match self.0 {
            100 => "Trying",
            180 => "Ringing",
            183 => "Session Progress",
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            407 => "Proxy Authentication Required",
            408 => "Request Timeout",
            415 => "Unsupported Media Type",
            416 => "Unsupported URI Scheme",
            420 => "Bad Extension",
            423 => "Interval Too Brief",
            480 => "Temporarily Unavailable",
            481 => "Call/Transaction Does Not Exist",
            483 => "Too Many Hops",
            486 => "Busy Here",
            487 => "Request Terminated",
            488 => "Not Acceptable Here",
            500 => "Server Internal Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            504 => "Server Time-out",
            505 => "Version Not Supported",
            513 => "Message Too Large",
            600 => "Busy Everywhere",
            603 => "Decline",
            _ => self.class_phrase(),
        }
    }

    /// A phrase for the class of a code without a standard phrase.
    fn class_phrase(self) -> &'static str {
        match self.0 / 100 {
            1 => "Provisional",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        }
    }

    /// 1xx (RFC 3261 §7.2).
    pub fn is_provisional(self) -> bool {
        (100..200).contains(&self.0)
    }

    /// 2xx.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }

    /// 200..=699: a final response.
    pub fn is_final(self) -> bool {
        self.0 >= 200
    }
}

impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0, self.reason_phrase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_matches_rfc_3261_timer_defaults() {
        let config = SipConfig::default();
        assert_eq!(config.t1, Duration::from_millis(500));
        assert_eq!(config.t2, Duration::from_secs(4));
        assert_eq!(config.t4, Duration::from_secs(5));
        assert_eq!(config.listen.port(), 5060);
        assert_eq!(config.max_message_size, 65535);
        assert_eq!(config.tcp_idle_timeout, Duration::from_secs(300));
        assert_eq!(config.tcp_message_timeout, Duration::from_secs(10));
        assert_eq!(config.tcp_max_connections, 4096);
        assert_eq!(config.tcp_max_connections_per_source, 32);
        assert!(config.validate().is_empty());
    }

    #[test]
    fn zero_tcp_limits_and_timeouts_are_named_as_problems() {
        let config: SipConfig = toml::from_str(
            "tcp_idle_timeout = \"0s\"\ntcp_message_timeout = \"2s\"\n\
             tcp_max_connections = 0\ntcp_max_connections_per_source = 1\n",
        )
        .expect("valid syntax");
        assert_eq!(config.tcp_message_timeout, Duration::from_secs(2));
        let keys: Vec<String> = config.validate().into_iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["sip.tcp_idle_timeout", "sip.tcp_max_connections"]);
    }

    #[test]
    fn config_reads_humantime_durations_and_rejects_unknown_keys() {
        let config: SipConfig =
            toml::from_str("listen = \"0.0.0.0:5070\"\nt1 = \"250ms\"\n").expect("valid config");
        assert_eq!(config.t1, Duration::from_millis(250));
        assert_eq!(config.listen.port(), 5070);
        assert_eq!(config.user_agent, "hotline/0.1");
        let error = toml::from_str::<SipConfig>("t3 = \"1s\"\n").expect_err("unknown key");
        assert!(error.to_string().contains("t3"), "{error}");
    }

    #[test]
    fn status_codes_have_their_rfc_reason_phrases() {
        assert_eq!(
            StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST.reason_phrase(),
            "Call/Transaction Does Not Exist"
        );
        assert_eq!(StatusCode::BAD_EXTENSION.0, 420);
        assert_eq!(StatusCode(499).reason_phrase(), "Client Error");
        assert!(StatusCode::RINGING.is_provisional());
        assert!(StatusCode::OK.is_success() && StatusCode::OK.is_final());
        assert_eq!(StatusCode::BUSY_HERE.to_string(), "486 Busy Here");
    }
}

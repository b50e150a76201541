//! HTTP Digest authentication as SIP uses it (RFC 3261 §22, RFC 7616,
//! RFC 8760): MD5 and SHA-256 with `qop=auth`.
//!
//! The server side ([`DigestServer`]) makes challenges whose nonces carry
//! their issue time and an HMAC, so expiry needs no table, and verifies
//! credentials against an HA1 (`H(username:realm:password)`) that the caller
//! looks up: this module knows no user store. A bounded table of the
//! highest nonce-count seen per nonce refuses replays. The client side
//! ([`authorization`]) answers a 401/407 challenge, for outbound trunks.
//!
//! Everything here is sans-IO: header values, the request's method and
//! URI, the current time and the HA1 go in; header values and verdicts come
//! out. `params` reads the auth-param lists, `nonce` mints and checks
//! nonces and counts their uses, `server` and `client` are the two roles.

use md5::Md5;
use serde::Deserialize;
use sha2::Sha256;

use super::StatusCode;

mod client;
mod nonce;
mod params;
mod server;

pub use client::{ClientRequest, DigestError, authorization};
pub use server::{
    DEFAULT_MAX_TRACKED_NONCES, DEFAULT_NONCE_LIFETIME, DigestConfig, DigestConfigError,
    DigestRequest, DigestServer, Failure, Verification,
};

/// The auth-scheme name (RFC 7616 §3.3), compared case-insensitively.
const SCHEME: &str = "Digest";
/// The only quality of protection we offer and accept (RFC 7616 §3.3).
const QOP_AUTH: &str = "auth";
/// Longest hex digest we produce: SHA-256, 32 bytes.
const MAX_HEX_LEN: usize = 64;

/// A digest algorithm (RFC 7616 §3.3, RFC 8760 §2.1). The `-sess` variants
/// and SHA-512-256 are not offered; no SIP phone we meet needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Algorithm {
    /// RFC 7616 §3.3: the default when `algorithm` is absent.
    #[serde(rename = "MD5")]
    Md5,
    /// RFC 7616 §3.3, RFC 8760 §2.1: preferred when both are offered.
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl Algorithm {
    /// The token as written in `algorithm=` (RFC 7616 §3.3).
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Read an `algorithm=` value; tokens are case-insensitive.
    pub fn parse(token: &str) -> Option<Algorithm> {
        [Algorithm::Sha256, Algorithm::Md5]
            .into_iter()
            .find(|a| a.token().eq_ignore_ascii_case(token))
    }

    /// Length of this algorithm's digest in lower-case hex.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }

    /// `H(part1:part2:…)` in lower-case hex (RFC 7616 §3.4.1 KD and H).
    fn hash(self, parts: &[&[u8]]) -> HexDigest {
        match self {
            Algorithm::Md5 => hash_parts::<Md5>(parts),
            Algorithm::Sha256 => hash_parts::<Sha256>(parts),
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.token())
    }
}

/// A digest in lower-case hex, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
struct HexDigest {
    bytes: [u8; MAX_HEX_LEN],
    len: usize,
}

impl HexDigest {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("hex digits are ASCII")
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Debug for HexDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn hash_parts<D: sha2::Digest>(parts: &[&[u8]]) -> HexDigest {
    let mut hasher = D::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            hasher.update(b":");
        }
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut hex = HexDigest {
        bytes: [0; MAX_HEX_LEN],
        len: digest.len() * 2,
    };
    hex::encode_to_slice(digest, &mut hex.bytes[..hex.len])
        .expect("the buffer holds the hex of a SHA-256 digest or shorter");
    hex
}

/// `H(username:realm:password)` for one algorithm (RFC 7616 §3.4.2), the
/// value a user store keeps instead of the password.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ha1 {
    algorithm: Algorithm,
    hex: HexDigest,
}

impl Ha1 {
    /// Compute HA1 from the clear password.
    pub fn compute(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> Ha1 {
        let hex = algorithm.hash(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()]);
        Ha1 { algorithm, hex }
    }

    /// MD5 HA1 (RFC 2617 §3.2.2.2).
    pub fn md5(username: &str, realm: &str, password: &str) -> Ha1 {
        Ha1::compute(Algorithm::Md5, username, realm, password)
    }

    /// SHA-256 HA1 (RFC 7616 §3.4.2).
    pub fn sha256(username: &str, realm: &str, password: &str) -> Ha1 {
        Ha1::compute(Algorithm::Sha256, username, realm, password)
    }

    /// A stored HA1 read back: hex of the algorithm's length, any case.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Option<Ha1> {
        let len = algorithm.hex_len();
        if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut digest = HexDigest {
            bytes: [0; MAX_HEX_LEN],
            len,
        };
        digest.bytes[..len].copy_from_slice(hex.as_bytes());
        digest.bytes[..len].make_ascii_lowercase();
        Some(Ha1 {
            algorithm,
            hex: digest,
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Lower-case hex, as stored.
    pub fn as_hex(&self) -> &str {
        self.hex.as_str()
    }
}

impl std::fmt::Debug for Ha1 {
    // An HA1 is as good as the password for this realm: never logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ha1({}, …)", self.algorithm)
    }
}

/// What goes into `response=` besides HA1 (RFC 7616 §3.4.1).
struct ResponseInput<'a> {
    method: &'a str,
    uri: &'a str,
    nonce: &'a str,
    /// `(nc, cnonce)` with `qop=auth`; `None` is the RFC 2069 form, which
    /// only the client side produces for old servers.
    qop_auth: Option<(&'a str, &'a str)>,
}

/// `response = KD(HA1, nonce:nc:cnonce:qop:HA2)` with `HA2 = H(method:uri)`
/// (RFC 7616 §3.4.1, §3.4.3); without qop `KD(HA1, nonce:HA2)` (RFC 2069).
fn response_digest(ha1: &Ha1, input: &ResponseInput<'_>) -> HexDigest {
    let algorithm = ha1.algorithm;
    let ha2 = algorithm.hash(&[input.method.as_bytes(), input.uri.as_bytes()]);
    match input.qop_auth {
        Some((nc, cnonce)) => algorithm.hash(&[
            ha1.hex.as_bytes(),
            input.nonce.as_bytes(),
            nc.as_bytes(),
            cnonce.as_bytes(),
            QOP_AUTH.as_bytes(),
            ha2.as_bytes(),
        ]),
        None => algorithm.hash(&[ha1.hex.as_bytes(), input.nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// Equality whose time does not depend on where the inputs differ, so a
/// response cannot be guessed byte by byte (RFC 7616 §5.13). The length is
/// not secret: it follows from the algorithm.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// Who challenges: the registrar or UAS (401, RFC 3261 §22.2) or a proxy
/// (407, §22.3). Each has its own pair of headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// 401 with WWW-Authenticate, answered in Authorization.
    Unauthorized,
    /// 407 with Proxy-Authenticate, answered in Proxy-Authorization.
    ProxyAuthenticationRequired,
}

impl ChallengeKind {
    pub fn status(self) -> StatusCode {
        match self {
            ChallengeKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ChallengeKind::ProxyAuthenticationRequired => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        }
    }

    /// The header that carries the challenge in the response.
    pub fn challenge_header(self) -> &'static str {
        match self {
            ChallengeKind::Unauthorized => "WWW-Authenticate",
            ChallengeKind::ProxyAuthenticationRequired => "Proxy-Authenticate",
        }
    }

    /// The header that carries the credentials in the retried request.
    pub fn credentials_header(self) -> &'static str {
        match self {
            ChallengeKind::Unauthorized => "Authorization",
            ChallengeKind::ProxyAuthenticationRequired => "Proxy-Authorization",
        }
    }
}

/// Write `value` as a quoted-string (RFC 3261 §25.1: `\` escapes `"` and
/// `\`). CR and LF cannot be escaped and are dropped.
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => {}
            _ => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests;

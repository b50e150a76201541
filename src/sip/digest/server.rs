//! The challenging side: challenges for 401/407 and the verdict on the
//! credentials of the retried request (RFC 3261 §22.2–§22.3, RFC 7616
//! §3.3–§3.4, RFC 8760 §2.4).
//!
//! The HA1 per user and algorithm comes from the caller, and so does the
//! time. Verifying does no allocation beyond the username of a success and
//! the nonce-count record's own growth.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::nonce::{CountCheck, NonceCounts, NonceMint, NonceState};
use super::params::{self, DigestParams};
use super::{
    Algorithm, Ha1, MAX_HEX_LEN, QOP_AUTH, ResponseInput, SCHEME, constant_time_eq, push_quoted,
    response_digest,
};
use crate::sip::Request;

/// RFC 7616 §5.5 leaves the lifetime to the server; five minutes covers a
/// phone's challenge round trip and a few quick refreshes.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Nonce counts kept; each entry is some 40 bytes.
pub const DEFAULT_MAX_TRACKED_NONCES: usize = 100_000;
/// Bytes of a random secret.
const SECRET_LEN: usize = 32;

/// Configuration of digest authentication.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigestConfig {
    /// The protection space (RFC 7616 §3.3), part of every stored HA1.
    pub realm: String,
    /// How long a nonce may be used before the client is told `stale`.
    #[serde(with = "humantime_serde")]
    pub nonce_lifetime: Duration,
    /// Bound of the nonce-count record (replay protection).
    pub max_tracked_nonces: usize,
    /// Algorithms offered, one challenge each in this order (RFC 8760
    /// §2.4: the preferred first). Some phones answer only the first.
    pub algorithms: Vec<Algorithm>,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            realm: "hotline".to_owned(),
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
            max_tracked_nonces: DEFAULT_MAX_TRACKED_NONCES,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }
}

/// A digest configuration that cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DigestConfigError {
    #[error("realm must not be empty")]
    EmptyRealm,
    #[error("nonce_lifetime must be at least 1s")]
    NonceLifetime,
    #[error("max_tracked_nonces must be at least 1")]
    MaxTrackedNonces,
    #[error("algorithms must name MD5, SHA-256 or both")]
    NoAlgorithm,
}

impl DigestConfig {
    pub fn validate(&self) -> Result<(), DigestConfigError> {
        if self.realm.is_empty() {
            return Err(DigestConfigError::EmptyRealm);
        }
        if self.nonce_lifetime.as_secs() == 0 {
            return Err(DigestConfigError::NonceLifetime);
        }
        if self.max_tracked_nonces == 0 {
            return Err(DigestConfigError::MaxTrackedNonces);
        }
        if self.algorithms.is_empty() {
            return Err(DigestConfigError::NoAlgorithm);
        }
        Ok(())
    }
}

/// The parts of the request that the response digest covers.
#[derive(Debug, Clone, Copy)]
pub struct DigestRequest<'a> {
    pub method: &'a str,
    /// The Request-URI as written on the request line.
    pub uri: &'a str,
}

/// The verdict on a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The credentials are good: this user knows the password.
    Ok { username: String },
    /// The response is right but the nonce is too old or not ours (or
    /// forgotten): challenge again with `stale=true` (RFC 7616 §3.3), and
    /// the phone retries without asking its user.
    Stale,
    /// The credentials are wrong; challenge again or refuse.
    Failed { reason: Failure },
    /// No Digest credentials for our realm: challenge.
    Missing,
}

/// Why credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("malformed credentials: {detail}")]
    Malformed { detail: &'static str },
    #[error("credentials for another realm")]
    OtherRealm,
    #[error("an algorithm we did not offer")]
    UnsupportedAlgorithm,
    /// RFC 3261 §22.4: a client offered `qop` must answer with it; without
    /// it nothing stops a replay while the nonce lives.
    #[error("qop missing or not auth")]
    UnsupportedQop,
    /// RFC 7616 §3.4.6: `uri=` must name the Request-URI.
    #[error("uri= does not match the Request-URI")]
    UriMismatch,
    #[error("unknown user")]
    UnknownUser,
    #[error("wrong password")]
    WrongPassword,
    /// A nonce-count not above one already accepted (RFC 7616 §3.4).
    #[error("replayed nonce count")]
    Replayed,
}

impl Failure {
    /// Whether this looks like guessing a password or a user, which a
    /// lockout counts; a garbled header or an old nonce does not.
    pub fn counts_against_source(self) -> bool {
        matches!(self, Failure::UnknownUser | Failure::WrongPassword)
    }
}

fn failed(reason: Failure) -> Verification {
    Verification::Failed { reason }
}

fn malformed(detail: &'static str) -> Verification {
    failed(Failure::Malformed { detail })
}

/// Digest authentication for one realm: challenges and verdicts.
pub struct DigestServer {
    config: DigestConfig,
    mint: NonceMint,
    counts: NonceCounts,
    opaque: String,
}

impl std::fmt::Debug for DigestServer {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestServer")
            .field("config", &self.config)
            .field("tracked_nonces", &self.counts.len())
            .finish_non_exhaustive()
    }
}

impl DigestServer {
    /// A server with this secret, once the configuration is checked.
    /// Sibling nodes given the same secret and realm accept each other's
    /// nonces.
    pub fn new(config: DigestConfig, secret: &[u8]) -> Result<DigestServer, DigestConfigError> {
        config.validate()?;
        let mint = NonceMint::new(secret, &config.realm, config.nonce_lifetime, rand::random());
        Ok(DigestServer {
            counts: NonceCounts::new(config.max_tracked_nonces),
            // RFC 7616 §3.3: opaque is returned unchanged; ours carries no
            // state (the nonce has it all), so it is not checked.
            opaque: hex::encode(rand::random::<[u8; 16]>()),
            mint,
            config,
        })
    }

    /// A server with a random secret: nonces die with the process, and the
    /// phones holding one get `stale` and retry.
    pub fn with_random_secret(config: DigestConfig) -> Result<DigestServer, DigestConfigError> {
        DigestServer::new(config, &rand::random::<[u8; SECRET_LEN]>())
    }

    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// Nonces whose counts are being kept (bounded by the config).
    pub fn tracked_nonces(&self) -> usize {
        self.counts.len()
    }

    /// The challenge header values for a 401/407, one per algorithm, all
    /// with one new nonce (RFC 8760 §2.4, RFC 7616 §3.7).
    pub fn challenge(&mut self, now: SystemTime, stale: bool) -> Vec<String> {
        let algorithms = self.config.algorithms.clone();
        self.challenge_with(now, stale, &algorithms)
    }

    /// Like [`challenge`](Self::challenge), offering only `algorithms` (in
    /// that order): for a phone known to fail on the preferred one.
    pub fn challenge_with(
        &mut self,
        now: SystemTime,
        stale: bool,
        algorithms: &[Algorithm],
    ) -> Vec<String> {
        let nonce = self.mint.mint(now);
        algorithms
            .iter()
            .map(|algorithm| {
                let mut value = String::with_capacity(192);
                value.push_str(SCHEME);
                value.push_str(" realm=");
                push_quoted(&mut value, &self.config.realm);
                value.push_str(", nonce=\"");
                value.push_str(&nonce);
                value.push_str("\", opaque=\"");
                value.push_str(&self.opaque);
                value.push_str("\", algorithm=");
                value.push_str(algorithm.token());
                value.push_str(", qop=\"auth\"");
                if stale {
                    value.push_str(", stale=true");
                }
                value
            })
            .collect()
    }

    /// Judge the credentials header values of a request (all of its
    /// Authorization or Proxy-Authorization values: a phone may send one
    /// per realm, RFC 3261 §22.3). `ha1` gives the stored HA1 of a user for
    /// an algorithm, or `None` for an unknown user.
    pub fn verify<'h>(
        &mut self,
        credentials: impl IntoIterator<Item = &'h str>,
        request: DigestRequest<'_>,
        now: SystemTime,
        ha1: impl FnOnce(&str, Algorithm) -> Option<Ha1>,
    ) -> Verification {
        let mut verdict = Verification::Missing;
        for value in credentials {
            match self.ours(value) {
                Ok(params) => return self.judge(&params, request, now, ha1),
                Err(other) => {
                    // Another realm outranks junk, junk outranks nothing.
                    if !matches!(
                        verdict,
                        Verification::Failed {
                            reason: Failure::OtherRealm
                        }
                    ) {
                        verdict = other;
                    }
                }
            }
        }
        verdict
    }

    /// [`DigestServer::verify`] on a parsed request, reading the header of
    /// `kind` and the request line.
    pub fn verify_request(
        &mut self,
        request: &Request,
        kind: super::ChallengeKind,
        now: SystemTime,
        ha1: impl FnOnce(&str, Algorithm) -> Option<Ha1>,
    ) -> Verification {
        let target = DigestRequest {
            method: request.method(),
            uri: request.request_uri_text(),
        };
        self.verify(
            request.headers_named(kind.credentials_header()),
            target,
            now,
            ha1,
        )
    }

    /// The Digest parameters of one value if they are for our realm.
    fn ours<'h>(&self, value: &'h str) -> Result<DigestParams<'h>, Verification> {
        let (scheme, mut params) =
            params::scheme(value).map_err(|_| malformed("no auth-scheme"))?;
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return Err(malformed("not a Digest credential"));
        }
        let params = DigestParams::collect(&mut params).map_err(|_| malformed("bad parameters"))?;
        match params.realm.as_deref() {
            Some(realm) if realm == self.config.realm => Ok(params),
            Some(_) => Err(failed(Failure::OtherRealm)),
            None => Err(malformed("no realm")),
        }
    }

    fn judge(
        &mut self,
        params: &DigestParams<'_>,
        request: DigestRequest<'_>,
        now: SystemTime,
        ha1: impl FnOnce(&str, Algorithm) -> Option<Ha1>,
    ) -> Verification {
        let fields = match Fields::read(params, &self.config.algorithms) {
            Ok(fields) => fields,
            Err(reason) => return failed(reason),
        };
        if !same_uri(fields.uri, request.uri) {
            return failed(Failure::UriMismatch);
        }
        let Some(ha1) = ha1(fields.username, fields.algorithm)
            .filter(|ha1| ha1.algorithm() == fields.algorithm)
        else {
            return failed(Failure::UnknownUser);
        };
        let expected = response_digest(
            &ha1,
            &ResponseInput {
                method: request.method,
                uri: fields.uri,
                nonce: fields.nonce,
                qop_auth: Some((fields.nc_text, fields.cnonce)),
            },
        );
        if !response_matches(fields.response, expected.as_bytes()) {
            return failed(Failure::WrongPassword);
        }
        let id = match self.mint.check(fields.nonce, now) {
            NonceState::Fresh(id) => id,
            NonceState::Expired | NonceState::Unknown => return Verification::Stale,
        };
        match self.counts.check(id, fields.nc) {
            CountCheck::New => {}
            CountCheck::Replayed => return failed(Failure::Replayed),
            CountCheck::Forgotten => return Verification::Stale,
        }
        // Only a right response may advance the count; otherwise anyone
        // could burn a phone's nonce with nc=ffffffff.
        self.counts.record(id, fields.nc, &self.mint, now);
        Verification::Ok {
            username: fields.username.to_owned(),
        }
    }
}

/// The credentials' fields, checked for presence and form.
struct Fields<'p> {
    username: &'p str,
    uri: &'p str,
    nonce: &'p str,
    response: &'p str,
    cnonce: &'p str,
    nc_text: &'p str,
    nc: u32,
    algorithm: Algorithm,
}

/// RFC 7616 §3.4: `nc` is exactly 8 hex digits.
const NC_LEN: usize = 8;

impl<'p> Fields<'p> {
    fn read(params: &'p DigestParams<'_>, offered: &[Algorithm]) -> Result<Fields<'p>, Failure> {
        let field = |value: &'p Option<Cow<'_, str>>, detail| {
            value.as_deref().ok_or(Failure::Malformed { detail })
        };
        if params
            .userhash
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case("true"))
        {
            return Err(Failure::Malformed {
                detail: "userhash is not offered",
            });
        }
        let algorithm = match params.algorithm.as_deref() {
            None => Algorithm::Md5,
            Some(token) => Algorithm::parse(token).ok_or(Failure::UnsupportedAlgorithm)?,
        };
        if !offered.contains(&algorithm) {
            return Err(Failure::UnsupportedAlgorithm);
        }
        if !params
            .qop
            .as_deref()
            .is_some_and(|q| q.eq_ignore_ascii_case(QOP_AUTH))
        {
            return Err(Failure::UnsupportedQop);
        }
        let nc_text = field(&params.nc, "no nc")?;
        let nc = (nc_text.len() == NC_LEN)
            .then(|| u32::from_str_radix(nc_text, 16).ok())
            .flatten()
            .ok_or(Failure::Malformed { detail: "bad nc" })?;
        Ok(Fields {
            username: field(&params.username, "no username")?,
            uri: field(&params.uri, "no uri")?,
            nonce: field(&params.nonce, "no nonce")?,
            response: field(&params.response, "no response")?,
            cnonce: field(&params.cnonce, "no cnonce")?,
            nc_text,
            nc,
            algorithm,
        })
    }
}

/// Whether the `response=` hex (any case) is the expected digest.
fn response_matches(given: &str, expected: &[u8]) -> bool {
    if given.len() != expected.len() || given.len() > MAX_HEX_LEN {
        return false;
    }
    let mut lower = [0u8; MAX_HEX_LEN];
    let lower = &mut lower[..given.len()];
    lower.copy_from_slice(given.as_bytes());
    lower.make_ascii_lowercase();
    constant_time_eq(lower, expected)
}

/// Whether `uri=` names the Request-URI (RFC 7616 §3.4.6). Phones copy the
/// request line; a proxy may change the case of the scheme or host, so
/// parsed URIs are compared when the text differs.
fn same_uri(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    let parse = |text: &str| rsipstack::sip::parse_uri(text).ok();
    match (parse(digest_uri), parse(request_uri)) {
        (Some(mut a), Some(mut b)) => {
            for uri in [&mut a, &mut b] {
                if let rsipstack::sip::Host::Domain(domain) = &mut uri.host_with_port.host {
                    domain.0.make_ascii_lowercase();
                }
            }
            a == b
        }
        _ => false,
    }
}

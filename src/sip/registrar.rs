//! The registrar's REGISTER processing (RFC 3261 §10.3), sans-IO: the
//! REGISTER's relevant parts, the address-of-record's current bindings, the
//! configuration and the time go in; the new binding set, what changed, and
//! the response to give come out.
//!
//! Steps 1–4 and 6 of §10.3 (domain, Require, authentication, whether this
//! user may register this AOR) are the caller's; so is storing bindings.
//! This module knows no users and no storage. `contact` reads Contact
//! values and compares contact URIs.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::message::Method;
use super::{Request, StatusCode, Transport};

mod contact;

/// RFC 3261 §10.3 step 7: the registrar may refuse intervals shorter than
/// its minimum only below one hour, so no minimum may exceed it.
pub const MAX_MIN_EXPIRES: Duration = Duration::from_secs(3600);
/// Upper bound of `max_expires`: Expires is a 32-bit count (§20.19).
const MAX_EXPIRES_LIMIT: Duration = Duration::from_secs(u32::MAX as u64);

/// Configuration of the registrar.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarConfig {
    /// Shorter non-zero intervals get 423 with Min-Expires (§10.3 step 7).
    #[serde(with = "humantime_serde")]
    pub min_expires: Duration,
    /// Longer intervals are shortened to this (§10.3 step 7).
    #[serde(with = "humantime_serde")]
    pub max_expires: Duration,
    /// The interval when the REGISTER suggests none (§10.2.1.1).
    #[serde(with = "humantime_serde")]
    pub default_expires: Duration,
    /// Bindings one address-of-record may hold.
    pub max_contacts: usize,
    /// How often each registered phone is sent an OPTIONS keep-alive; one
    /// that does not answer is unreachable until it answers again. Zero:
    /// no keep-alives.
    #[serde(with = "humantime_serde")]
    pub keepalive: Duration,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: Duration::from_secs(60),
            max_expires: Duration::from_secs(3600),
            default_expires: Duration::from_secs(3600),
            max_contacts: 10,
            keepalive: Duration::from_secs(30),
        }
    }
}

/// A registrar configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrarConfigError {
    #[error("min_expires must be between 1s and 1h (RFC 3261 §10.3)")]
    MinExpires,
    #[error("default_expires must lie between min_expires and max_expires")]
    DefaultExpires,
    #[error("max_expires must fit in 32 bits of seconds (RFC 3261 §20.19)")]
    MaxExpires,
    #[error("max_contacts must be at least 1")]
    MaxContacts,
}

impl RegistrarConfig {
    pub fn validate(&self) -> Result<(), RegistrarConfigError> {
        if self.min_expires.is_zero() || self.min_expires > MAX_MIN_EXPIRES {
            return Err(RegistrarConfigError::MinExpires);
        }
        if self.max_expires > MAX_EXPIRES_LIMIT {
            return Err(RegistrarConfigError::MaxExpires);
        }
        if self.default_expires < self.min_expires || self.default_expires > self.max_expires {
            return Err(RegistrarConfigError::DefaultExpires);
        }
        if self.max_contacts == 0 {
            return Err(RegistrarConfigError::MaxContacts);
        }
        Ok(())
    }
}

/// One Contact of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The URI as written, without angle brackets.
    pub uri: String,
    /// The `expires` parameter in seconds (malformed counts as 3600,
    /// RFC 3261 §20.10).
    pub expires: Option<u32>,
    /// The `+sip.instance` value (RFC 5626 §4.1), quotes removed.
    pub instance: Option<String>,
}

/// What the Contact headers of a REGISTER ask for (RFC 3261 §10.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts {
    /// No Contact: list the current bindings (§10.2.3).
    Query,
    /// `Contact: *` alone: remove every binding (§10.2.2).
    Wildcard,
    /// Add, refresh or remove these (§10.2.1, §10.2.2).
    List(Vec<Contact>),
}

/// The parts of a REGISTER that the registrar uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The canonical address-of-record from To (§10.3 step 5).
    pub aor: String,
    pub contacts: Contacts,
    /// The Expires header in seconds (malformed counts as 3600, §20.19).
    pub expires: Option<u32>,
    pub call_id: String,
    pub cseq: u32,
    /// Where the REGISTER came from: where requests to the phone go, past
    /// its NAT (the `received`/`rport` address, RFC 3581 §4).
    pub source: SocketAddr,
    pub transport: Transport,
    pub user_agent: Option<String>,
}

/// Why a REGISTER cannot be read: each is answered 400 with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("not a REGISTER")]
    NotRegister,
    #[error("To is not a SIP address-of-record")]
    BadTo,
    #[error("malformed Contact")]
    BadContact,
    /// RFC 3261 §10.3 step 6.
    #[error("Contact * with other contacts")]
    WildcardWithOthers,
}

impl Register {
    /// Read a parsed request (which the parser already checked for From,
    /// To, Call-ID and CSeq, RFC 3261 §8.2).
    pub fn from_request(request: &Request) -> Result<Register, RegisterError> {
        if request.method != Method::Register {
            return Err(RegisterError::NotRegister);
        }
        let aor = request
            .to
            .as_ref()
            .and_then(|to| contact::address_of_record(&to.uri))
            .ok_or(RegisterError::BadTo)?;
        Ok(Register {
            aor,
            contacts: contact::parse_contacts(request.headers_named("Contact"))?,
            expires: request.header("Expires").map(contact::parse_expires),
            call_id: request.call_id.clone(),
            cseq: request.cseq,
            source: request.source,
            transport: request.transport,
            user_agent: request.header("User-Agent").map(str::to_owned),
        })
    }
}

/// A contact bound to an address-of-record (RFC 3261 §10.3 step 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI as the phone wrote it: the Request-URI of requests
    /// to it.
    pub contact: String,
    pub expires_at: SystemTime,
    /// Where the REGISTER came from, where requests to the phone go.
    pub source: SocketAddr,
    pub transport: Transport,
    /// Call-ID and CSeq of the last REGISTER that set it (§10.3 step 7).
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
    /// RFC 5626 §4.1 instance identifier.
    pub instance: Option<String>,
}

impl Binding {
    /// Whole seconds left at `now`, as listed in a 200 (§10.3 step 8).
    pub fn expires_in(&self, now: SystemTime) -> u64 {
        self.expires_at
            .duration_since(now)
            .map(|left| left.as_secs())
            .unwrap_or_default()
    }

    /// Comparison key (RFC 3261 §19.1.4); a stored contact that no longer
    /// parses is compared as written.
    fn key(&self) -> String {
        contact::binding_key(&self.contact).unwrap_or_else(|| self.contact.clone())
    }
}

/// The result of one REGISTER. When refused, nothing changed (§10.3 step
/// 8: all updates or none) but expired bindings are still reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOutcome {
    pub status: StatusCode,
    /// A reason phrase instead of the standard one.
    pub reason: Option<&'static str>,
    /// Headers for the response: Contact and Date on 200, Min-Expires on
    /// 423.
    pub headers: Vec<(String, String)>,
    /// The address-of-record's bindings after this request.
    pub bindings: Vec<Binding>,
    pub added: Vec<Binding>,
    pub refreshed: Vec<Binding>,
    pub removed: Vec<Binding>,
    /// Bindings that had expired before this request and are dropped.
    pub expired: Vec<Binding>,
}

/// A refused REGISTER.
struct Refusal {
    status: StatusCode,
    reason: Option<&'static str>,
    headers: Vec<(String, String)>,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str) -> Refusal {
        Refusal {
            status,
            reason: Some(reason),
            headers: Vec::new(),
        }
    }

    /// RFC 3261 §10.3 step 7: a binding's stored Call-ID is this request's
    /// and its CSeq is not lower: an old or reordered REGISTER.
    fn out_of_order() -> Refusal {
        Refusal::new(StatusCode::SERVER_INTERNAL_ERROR, "Out of Order REGISTER")
    }
}

/// REGISTER processing with one configuration.
#[derive(Debug, Clone)]
pub struct Registrar {
    config: RegistrarConfig,
}

impl Registrar {
    /// A registrar; the configuration is checked first.
    pub fn new(config: RegistrarConfig) -> Result<Registrar, RegistrarConfigError> {
        config.validate()?;
        Ok(Registrar { config })
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Process one REGISTER for its address-of-record, whose bindings are
    /// `current`, at `now`.
    pub fn register(
        &self,
        request: &Register,
        current: &[Binding],
        now: SystemTime,
    ) -> RegisterOutcome {
        let (live, expired): (Vec<Binding>, Vec<Binding>) =
            current.iter().cloned().partition(|b| b.expires_at > now);
        let result = match &request.contacts {
            Contacts::Query => Ok(live.clone()),
            Contacts::Wildcard => remove_all(request, &live),
            Contacts::List(contacts) => self.update(request, &live, contacts, now),
        };
        match result {
            Ok(bindings) => accepted(bindings, &live, expired, now),
            Err(refusal) => RegisterOutcome {
                status: refusal.status,
                reason: refusal.reason,
                headers: refusal.headers,
                bindings: live,
                added: Vec::new(),
                refreshed: Vec::new(),
                removed: Vec::new(),
                expired,
            },
        }
    }

    /// The interval granted to one contact (§10.3 step 7): its `expires`,
    /// else the Expires header, else ours; shortened to the maximum.
    fn interval(&self, request: &Register, contact: &Contact) -> Result<Duration, Refusal> {
        let interval = contact
            .expires
            .or(request.expires)
            .map(|seconds| Duration::from_secs(seconds.into()))
            .unwrap_or(self.config.default_expires);
        if !interval.is_zero() && interval < self.config.min_expires {
            return Err(Refusal {
                status: StatusCode::INTERVAL_TOO_BRIEF,
                reason: None,
                headers: vec![(
                    "Min-Expires".to_owned(),
                    self.config.min_expires.as_secs().to_string(),
                )],
            });
        }
        Ok(interval.min(self.config.max_expires))
    }

    /// §10.3 step 7 for a list of contacts: every update applies, or none.
    fn update(
        &self,
        request: &Register,
        live: &[Binding],
        contacts: &[Contact],
        now: SystemTime,
    ) -> Result<Vec<Binding>, Refusal> {
        let intervals = contacts
            .iter()
            .map(|contact| self.interval(request, contact))
            .collect::<Result<Vec<_>, _>>()?;
        let mut bindings = live.to_vec();
        let mut keys: Vec<String> = bindings.iter().map(Binding::key).collect();
        // Keys this request already set: a contact listed twice is one
        // update, the later one winning, not an out-of-order request.
        let mut touched: Vec<String> = Vec::with_capacity(contacts.len());
        for (contact, interval) in contacts.iter().zip(intervals) {
            let key = contact::binding_key(&contact.uri)
                .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, "Malformed Contact"))?;
            let position = keys.iter().position(|k| *k == key);
            if let Some(index) = position {
                let existing = &bindings[index];
                if !touched.contains(&key)
                    && existing.call_id == request.call_id
                    && request.cseq <= existing.cseq
                {
                    return Err(Refusal::out_of_order());
                }
            }
            match (position, interval.is_zero()) {
                (Some(index), true) => {
                    bindings.remove(index);
                    keys.remove(index);
                }
                (Some(index), false) => bindings[index] = bind(request, contact, interval, now),
                (None, true) => {}
                (None, false) => {
                    bindings.push(bind(request, contact, interval, now));
                    keys.push(key.clone());
                }
            }
            touched.push(key);
        }
        if bindings.len() > self.config.max_contacts && bindings.len() > live.len() {
            return Err(Refusal::new(StatusCode::FORBIDDEN, "Too Many Contacts"));
        }
        Ok(bindings)
    }
}

fn bind(request: &Register, contact: &Contact, interval: Duration, now: SystemTime) -> Binding {
    Binding {
        contact: contact.uri.clone(),
        // The interval is at most max_expires, checked to fit 32 bits of
        // seconds; a clock beyond the year 2^63 keeps the binding for now.
        expires_at: now.checked_add(interval).unwrap_or(now),
        source: request.source,
        transport: request.transport,
        call_id: request.call_id.clone(),
        cseq: request.cseq,
        user_agent: request.user_agent.clone(),
        instance: contact.instance.clone(),
    }
}

/// §10.3 step 6: `Contact: *` needs `Expires: 0` and removes every
/// binding, unless one was set by this Call-ID with a CSeq not below ours.
fn remove_all(request: &Register, live: &[Binding]) -> Result<Vec<Binding>, Refusal> {
    if request.expires != Some(0) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "Contact * Needs Expires 0",
        ));
    }
    if live
        .iter()
        .any(|b| b.call_id == request.call_id && request.cseq <= b.cseq)
    {
        return Err(Refusal::out_of_order());
    }
    Ok(Vec::new())
}

/// A 200 listing every binding with its remaining time (§10.3 step 8),
/// and what changed against `live`.
fn accepted(
    bindings: Vec<Binding>,
    live: &[Binding],
    expired: Vec<Binding>,
    now: SystemTime,
) -> RegisterOutcome {
    let before: Vec<String> = live.iter().map(Binding::key).collect();
    let after: Vec<String> = bindings.iter().map(Binding::key).collect();
    let mut added = Vec::new();
    let mut refreshed = Vec::new();
    for (binding, key) in bindings.iter().zip(&after) {
        match before.iter().position(|k| k == key) {
            None => added.push(binding.clone()),
            Some(index) if live[index] != *binding => refreshed.push(binding.clone()),
            Some(_) => {}
        }
    }
    let removed = live
        .iter()
        .zip(&before)
        .filter(|(_, key)| !after.contains(key))
        .map(|(binding, _)| binding.clone())
        .collect();
    let mut headers: Vec<(String, String)> = bindings
        .iter()
        .map(|b| {
            let value = format!("<{}>;expires={}", b.contact, b.expires_in(now));
            ("Contact".to_owned(), value)
        })
        .collect();
    // §10.3 step 8: the response SHOULD carry a Date (§20.17, RFC 1123).
    let date = chrono::DateTime::<chrono::Utc>::from(now);
    headers.push((
        "Date".to_owned(),
        date.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
    ));
    RegisterOutcome {
        status: StatusCode::OK,
        reason: None,
        headers,
        bindings,
        added,
        refreshed,
        removed,
        expired,
    }
}

#[cfg(test)]
mod tests;

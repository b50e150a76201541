//! The Contact values of a REGISTER (RFC 3261 §20.10, §10.2.1), the
//! address-of-record of its To (§10.3 step 5), and the URI comparison that
//! decides whether two contacts are one binding (§19.1.4).

use rsipstack::sip::{Host, Param, Scheme, Uri, parse_uri};

use super::{Contact, Contacts, RegisterError};
use crate::sip::message::split_commas;

/// RFC 3261 §20.10, §20.19: a malformed expiry counts as one hour.
pub(super) const MALFORMED_EXPIRES: u32 = 3600;
/// RFC 5626 §4.1 instance identifier parameter.
const INSTANCE_PARAM: &str = "+sip.instance";
const EXPIRES_PARAM: &str = "expires";

/// An expiry in seconds (RFC 3261 §20.19: `1*DIGIT`, below 2**32);
/// anything else is malformed and counts as an hour.
pub(super) fn parse_expires(value: &str) -> u32 {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return MALFORMED_EXPIRES;
    }
    value.parse().unwrap_or(MALFORMED_EXPIRES)
}

/// All Contact header values of a request (each may hold a comma list).
pub(super) fn parse_contacts<'a>(
    values: impl Iterator<Item = &'a str>,
) -> Result<Contacts, RegisterError> {
    let mut contacts = Vec::new();
    let mut wildcard = false;
    for value in values.flat_map(split_commas) {
        if value.trim() == "*" {
            wildcard = true;
            continue;
        }
        contacts.push(parse_contact(&value).ok_or(RegisterError::BadContact)?);
    }
    match (wildcard, contacts.is_empty()) {
        // RFC 3261 §10.3 step 6: `*` must stand alone.
        (true, false) => Err(RegisterError::WildcardWithOthers),
        (true, true) => Ok(Contacts::Wildcard),
        (false, true) => Ok(Contacts::Query),
        (false, false) => Ok(Contacts::List(contacts)),
    }
}

/// One `name-addr` or `addr-spec` with its parameters. Without angle
/// brackets every `;` parameter belongs to the header, not to the URI
/// (RFC 3261 §20.10).
fn parse_contact(value: &str) -> Option<Contact> {
    let value = value.trim();
    let (uri, params) = match find_unquoted(value, b'<') {
        Some(open) => {
            let close = open + value[open..].find('>')?;
            (&value[open + 1..close], &value[close + 1..])
        }
        None => value.split_at(value.find(';').unwrap_or(value.len())),
    };
    let uri = uri.trim();
    // Only a SIP or SIPS URI with a host can be bound (RFC 3261 §10.2.1).
    sip_uri(uri)?;
    let mut contact = Contact {
        uri: uri.to_owned(),
        expires: None,
        instance: None,
    };
    for param in split_params(params) {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case(EXPIRES_PARAM) {
            contact.expires = Some(parse_expires(value));
        } else if name.eq_ignore_ascii_case(INSTANCE_PARAM) {
            contact.instance = Some(unquote(value));
        }
    }
    Some(contact)
}

/// Position of the first `byte` outside a quoted display name.
fn find_unquoted(value: &str, byte: u8) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (index, b) in value.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ if b == byte && !quoted => return Some(index),
            _ => {}
        }
    }
    None
}

/// Header parameters after the URI, split at `;` outside quotes.
fn split_params(params: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (index, b) in params.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b';' if !quoted => {
                parts.push(&params[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&params[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty())
}

/// A quoted-string's content, escapes removed; a token as is.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if !escaped && c == '\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// A SIP or SIPS URI with a host, else `None`.
fn sip_uri(text: &str) -> Option<Uri> {
    if text.is_empty() || text.contains(['<', '>', '"', ' ']) {
        return None;
    }
    let uri = parse_uri(text).ok()?;
    let sip = matches!(uri.scheme, Some(Scheme::Sip | Scheme::Sips));
    let has_host = match uri.host() {
        Host::Domain(domain) => !domain.0.is_empty(),
        Host::IpAddr(_) => true,
    };
    (sip && has_host).then_some(uri)
}

fn scheme_and_host(uri: &Uri) -> (String, String) {
    let scheme = uri
        .scheme
        .as_ref()
        .map(|s| s.to_string().to_ascii_lowercase())
        .unwrap_or_default();
    let mut host = uri.host_with_port.host.to_string();
    host.make_ascii_lowercase();
    (scheme, host)
}

/// What makes two contact URIs one binding (RFC 3261 §19.1.4): scheme and
/// host without case, user and port exactly (an absent port is not 5060),
/// and the parameters that must match when either has them (`transport`,
/// `user`, `ttl`, `method`, `maddr`). Other parameters are ignored, which
/// §19.1.4 does when only one URI has them.
pub(super) fn binding_key(uri: &str) -> Option<String> {
    let uri = sip_uri(uri)?;
    let (scheme, host) = scheme_and_host(&uri);
    let mut key = scheme;
    key.push(':');
    if let Some(auth) = &uri.auth {
        key.push_str(&auth.to_string());
        key.push('@');
    }
    key.push_str(&host);
    if let Some(port) = &uri.host_with_port.port {
        key.push(':');
        key.push_str(&port.to_string());
    }
    let mut compared: Vec<String> = uri
        .params
        .iter()
        .filter(|p| {
            matches!(
                p,
                Param::Transport(_)
                    | Param::User(_)
                    | Param::Ttl(_)
                    | Param::Method(_)
                    | Param::Maddr(_)
            )
        })
        .map(|p| p.to_string().to_ascii_lowercase())
        .collect();
    compared.sort();
    compared.iter().for_each(|p| key.push_str(p));
    Some(key)
}

/// The canonical address-of-record of a To URI (RFC 3261 §10.3 step 5):
/// parameters removed, escapes resolved (by the URI parser), scheme and
/// host in lower case.
pub(super) fn address_of_record(uri: &Uri) -> Option<String> {
    if !matches!(uri.scheme, Some(Scheme::Sip | Scheme::Sips)) {
        return None;
    }
    let (mut aor, host) = scheme_and_host(uri);
    aor.push(':');
    if let Some(user) = uri.user().filter(|u| !u.is_empty()) {
        aor.push_str(user);
        aor.push('@');
    }
    aor.push_str(&host);
    if let Some(port) = &uri.host_with_port.port {
        aor.push(':');
        aor.push_str(&port.to_string());
    }
    Some(aor)
}

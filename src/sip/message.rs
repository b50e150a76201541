//! SIP messages: parsing bytes into our request/response views, TCP framing,
//! building responses (RFC 3261 §8.2.6) and requests we originate, and the
//! Via rules of RFC 3261 §18.2 and RFC 3581.
//!
//! The header and URI grammar is `rsipstack::sip`'s; this module decides
//! which failures make a message unanswerable (drop and count) and which
//! still deserve a 400 with the reason. It knows no transaction, no dialog
//! and no socket. `frame` cuts a stream into messages, `parse` reads them,
//! `build` writes them, `via` holds the Via and response-routing rules.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use rsipstack::sip::headers::make_header;
use rsipstack::sip::param::Received;
use rsipstack::sip::typed;
use rsipstack::sip::{Header, Headers, Host, Uri, parse_uri};

use super::{StatusCode, Transport};

mod build;
mod frame;
mod parse;
mod via;

pub(crate) use build::*;
pub(crate) use frame::*;
pub(crate) use parse::*;
pub(crate) use via::*;

/// RFC 3261 §8.1.1.7: a branch starting with this is RFC 3261 compliant.
pub(crate) const MAGIC_COOKIE: &str = "z9hG4bK";
/// RFC 3261 §8.1.1.6 recommended initial Max-Forwards.
pub(crate) const DEFAULT_MAX_FORWARDS: u32 = 70;
/// The methods we implement, for Allow (RFC 3261 §20.5): the endpoint
/// answers every other method 405 or 501 itself (§8.2.1), so the TU's
/// Allow is this list too.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REGISTER";
/// Warning code 399 "miscellaneous warning" (RFC 3261 §20.43).
const WARNING_MISC: u16 = 399;
const CRLF: &str = "\r\n";
const SIP_VERSION: &str = "SIP/2.0";
/// Request-URI schemes we serve (RFC 3261 §19.1, RFC 3261 §26.2.1).
const SUPPORTED_URI_SCHEMES: [&str; 2] = ["sip", "sips"];

/// Why bytes did not become a message we can use.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The message is not complete yet (stream framing needs more bytes).
    #[error("incomplete SIP message")]
    Incomplete,
    /// Not SIP, or no usable Via, Call-ID or CSeq: nobody to answer; drop it.
    #[error("unanswerable SIP message: {reason}")]
    Unanswerable { reason: String },
    /// A request that can still be answered with 400 and this reason
    /// (RFC 3261 §8.2).
    #[error("invalid SIP request: {reason}")]
    Invalid {
        reason: String,
        request: Box<Request>,
    },
}

fn unanswerable(reason: impl Into<String>) -> ParseError {
    ParseError::Unanswerable {
        reason: reason.into(),
    }
}

/// A SIP method. Known-but-unsupported methods are kept apart from unknown
/// ones: they get 405 and 501 respectively (RFC 3261 §8.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Info,
    Register,
    Subscribe,
    Notify,
    Message,
    Refer,
    Update,
    Prack,
    Publish,
    Extension(String),
}

impl Method {
    pub(crate) fn parse(token: &str) -> Option<Method> {
        // RFC 3261 §25.1: Method = token; methods are case-sensitive.
        if token.is_empty() || !token.bytes().all(is_token_char) {
            return None;
        }
        Some(match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "REGISTER" => Method::Register,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "MESSAGE" => Method::Message,
            "REFER" => Method::Refer,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "PUBLISH" => Method::Publish,
            other => Method::Extension(other.to_owned()),
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Register => "REGISTER",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Message => "MESSAGE",
            Method::Refer => "REFER",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Publish => "PUBLISH",
            Method::Extension(name) => name,
        }
    }

    /// Methods we know but do not implement: answered 405 with Allow.
    pub(crate) fn is_known_unsupported(&self) -> bool {
        matches!(
            self,
            Method::Subscribe
                | Method::Notify
                | Method::Message
                | Method::Refer
                | Method::Update
                | Method::Prack
                | Method::Publish
        )
    }
}

/// Whether `text` is an RFC 3261 §25.1 token (a method, a header name).
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_token_char)
}

/// RFC 3261 §25.1 token characters.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// A From/To/P-Asserted-Identity value: `"Display" <uri>;tag=...`.
#[derive(Debug, Clone)]
pub(crate) struct NameAddr {
    pub(crate) display_name: Option<String>,
    pub(crate) uri: Uri,
    pub(crate) tag: Option<String>,
}

impl NameAddr {
    fn parse(value: &str) -> Option<NameAddr> {
        if !has_valid_display_name(value) {
            return None;
        }
        let parsed = typed::From::parse(&compact_params(value)).ok()?;
        let tag = parsed.tag().map(|t| t.value().to_owned());
        Some(NameAddr {
            display_name: parsed.display_name.filter(|d| !d.is_empty()),
            uri: parsed.uri,
            tag,
        })
    }
}

/// RFC 3261 §25.1 `display-name = *(token LWS) / quoted-string`: quotes
/// must balance (RFC 4475 §3.1.2.6) and an unquoted name is tokens only, so
/// no comma (RFC 4475 §3.1.2.15).
fn has_valid_display_name(value: &str) -> bool {
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ => {}
        }
    }
    if quoted {
        return false;
    }
    let Some(open) = value.find('<') else {
        return true;
    };
    let name = value[..open].trim();
    name.starts_with('"')
        || name
            .split_whitespace()
            .all(|word| word.bytes().all(is_token_char))
}

/// A request as the layers above see it (read-only view).
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) uri: Option<Uri>,
    /// The Request-URI as written on the request line (digest `uri=`,
    /// RFC 7616 §3.4.6, is compared with it).
    pub(crate) uri_text: String,
    pub(crate) headers: Headers,
    pub(crate) body: Vec<u8>,
    pub(crate) call_id: String,
    pub(crate) cseq: u32,
    pub(crate) cseq_method: String,
    pub(crate) from: Option<NameAddr>,
    pub(crate) to: Option<NameAddr>,
    pub(crate) top_via: ViaHop,
    /// All Via values in order, top first (split at commas).
    pub(crate) vias: Vec<String>,
    pub(crate) source: SocketAddr,
    pub(crate) transport: Transport,
    /// Whether the start line says `SIP/2.0`; any other version is answered
    /// 505 (RFC 3261 §21.5.7) once the request is otherwise usable.
    pub(crate) version_supported: bool,
    /// Whether the Request-URI scheme is `sip` or `sips`; any other is
    /// answered 416 (RFC 3261 §8.2.2.1).
    pub(crate) uri_scheme_supported: bool,
}

impl Request {
    /// The method name as written (`INVITE`, `OPTIONS`, …).
    pub fn method(&self) -> &str {
        self.method.as_str()
    }

    /// User part of the Request-URI (the dialled number on a trunk).
    pub fn request_uri_user(&self) -> Option<&str> {
        self.uri.as_ref().and_then(|u| u.user())
    }

    /// The Request-URI as written on the request line.
    pub fn request_uri_text(&self) -> &str {
        &self.uri_text
    }

    /// Host of the Request-URI.
    pub fn request_uri_host(&self) -> Option<String> {
        self.uri.as_ref().map(|u| u.host().to_string())
    }

    /// User part of the From URI (the caller, unless asserted otherwise).
    pub fn from_user(&self) -> Option<&str> {
        self.from.as_ref().and_then(|f| f.uri.user())
    }

    /// Display name of From, without quotes.
    pub fn from_display_name(&self) -> Option<&str> {
        self.from.as_ref().and_then(|f| f.display_name.as_deref())
    }

    /// The From tag (RFC 3261 §8.1.1.3).
    pub fn from_tag(&self) -> Option<&str> {
        self.from.as_ref().and_then(|f| f.tag.as_deref())
    }

    /// User part of the To URI.
    pub fn to_user(&self) -> Option<&str> {
        self.to.as_ref().and_then(|t| t.uri.user())
    }

    /// The To tag; set on in-dialog requests (RFC 3261 §12.2.2).
    pub fn to_tag(&self) -> Option<&str> {
        self.to.as_ref().and_then(|t| t.tag.as_deref())
    }

    /// User part of the first P-Asserted-Identity (RFC 3325 §9.1).
    pub fn p_asserted_identity_user(&self) -> Option<String> {
        let value = self.header("P-Asserted-Identity")?;
        let first = split_commas(value).into_iter().next()?;
        NameAddr::parse(&first)?.uri.user().map(str::to_owned)
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The CSeq sequence number (RFC 3261 §8.1.1.5).
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// The first header with this name (case-insensitive; compact forms
    /// are already expanded by the parser).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
            .map(|h| h.value())
    }

    /// The Content-Type, without parameters' interpretation.
    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type")
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Where the request came from (the TCP peer or the UDP source).
    pub fn source(&self) -> SocketAddr {
        self.source
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Every value of a header, in order (one per line, not split at
    /// commas: Authorization may come once per realm, RFC 3261 §22.3).
    pub(crate) fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        values(&self.headers, name)
    }

    /// Values of Record-Route in order (RFC 3261 §12.1.1 route set).
    pub(crate) fn record_route(&self) -> Vec<String> {
        record_route(&self.headers)
    }

    /// The URI of the first Contact (RFC 3261 §12.1.1 remote target).
    pub(crate) fn contact_uri(&self) -> Option<Uri> {
        contact_uri(&self.headers)
    }

    /// Option tags of Require (RFC 3261 §20.32).
    pub(crate) fn required_extensions(&self) -> Vec<String> {
        values(&self.headers, "Require")
            .flat_map(split_commas)
            .collect()
    }

    /// Raw value of a header for copying into a response.
    fn raw(&self, name: &str) -> Option<&str> {
        self.header(name)
    }
}

/// A response we received (to one of our client transactions).
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: Headers,
    pub(crate) cseq_method: String,
    pub(crate) branch: Option<String>,
    /// The transport it came over: part of the client transaction's key.
    pub(crate) transport: Transport,
    pub(crate) body: Vec<u8>,
}

impl Response {
    fn raw(&self, name: &str) -> Option<&str> {
        values(&self.headers, name).next()
    }

    /// The To tag: the remote tag of the dialog a 2xx makes (§12.1.2).
    pub(crate) fn to_tag(&self) -> Option<String> {
        NameAddr::parse(self.raw("To")?)?.tag
    }

    /// The To header as received, with its tag (our To in the dialog).
    pub(crate) fn to(&self) -> Option<&str> {
        self.raw("To")
    }

    /// Every value of a header, in order (a 401 may carry one
    /// WWW-Authenticate per algorithm, RFC 8760 §2.4).
    pub(crate) fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        values(&self.headers, name)
    }

    /// Values of Record-Route in order, as received (the UAC reverses
    /// them for its route set, §12.1.2).
    pub(crate) fn record_route(&self) -> Vec<String> {
        record_route(&self.headers)
    }

    /// The URI of the first Contact (RFC 3261 §12.1.2 remote target).
    pub(crate) fn contact_uri(&self) -> Option<Uri> {
        contact_uri(&self.headers)
    }
}

/// Values of the headers with this name, in order (case-insensitive).
fn values<'h, 'n>(
    headers: &'h Headers,
    name: &'n str,
) -> impl Iterator<Item = &'h str> + use<'h, 'n> {
    headers
        .iter()
        .filter(move |h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value())
}

fn record_route(headers: &Headers) -> Vec<String> {
    values(headers, "Record-Route")
        .flat_map(split_commas)
        .collect()
}

fn contact_uri(headers: &Headers) -> Option<Uri> {
    let first = split_commas(values(headers, "Contact").next()?)
        .into_iter()
        .next()?;
    NameAddr::parse(&first).map(|n| n.uri)
}

/// A parsed message.
#[derive(Debug, Clone)]
pub(crate) enum Message {
    Request(Box<Request>),
    Response(Response),
}

/// Split a header value at commas outside quotes and angle brackets
/// (RFC 3261 §7.3.1 combined header fields).
pub(crate) fn split_commas(value: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut angle) = (false, false);
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                let part = current.trim();
                if !part.is_empty() {
                    parts.push(part.to_owned());
                }
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    let part = current.trim();
    if !part.is_empty() {
        parts.push(part.to_owned());
    }
    parts
}

#[cfg(test)]
mod tests;

//! SIP messages: parsing bytes into our request/response views, TCP framing,
//! building responses (RFC 3261 §8.2.6) and requests we originate, and the
//! Via rules of RFC 3261 §18.2 and RFC 3581.
//!
//! The header and URI grammar is `rsipstack::sip`'s; this module decides
//! which failures make a message unanswerable (drop and count) and which
//! still deserve a 400 with the reason. It knows no transaction, no dialog
//! and no socket.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use rsipstack::sip::headers::make_header;
use rsipstack::sip::param::Received;
use rsipstack::sip::typed;
use rsipstack::sip::{Header, Headers, Host, Uri, parse_uri};

use super::{StatusCode, Transport};

/// RFC 3261 §8.1.1.7: a branch starting with this is RFC 3261 compliant.
pub(crate) const MAGIC_COOKIE: &str = "z9hG4bK";
/// RFC 3261 §8.1.1.6 recommended initial Max-Forwards.
pub(crate) const DEFAULT_MAX_FORWARDS: u32 = 70;
/// The methods we implement, for Allow (RFC 3261 §20.5).
pub(crate) const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO";
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
    fn parse(token: &str) -> Option<Method> {
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
            Method::Register
                | Method::Subscribe
                | Method::Notify
                | Method::Message
                | Method::Refer
                | Method::Update
                | Method::Prack
                | Method::Publish
        )
    }
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

/// The top Via of a request, with what transaction matching and response
/// routing need (RFC 3261 §17.2.3, §18.2.2).
#[derive(Debug, Clone)]
pub(crate) struct ViaHop {
    typed: typed::Via,
    pub(crate) branch: Option<String>,
    /// `host[:port]` as written, lower-cased for matching.
    pub(crate) sent_by: String,
}

impl ViaHop {
    fn parse(value: &str) -> Option<ViaHop> {
        let typed = typed::Via::parse(&normalize_via(value)).ok()?;
        let branch = typed.branch().map(|b| b.value().to_owned());
        let sent_by = typed.sent_by().to_string().to_ascii_lowercase();
        Some(ViaHop {
            typed,
            branch,
            sent_by,
        })
    }

    /// Whether the branch carries the RFC 3261 magic cookie (§17.2.3).
    pub(crate) fn is_rfc3261(&self) -> bool {
        self.branch
            .as_deref()
            .is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    fn sent_by_port(&self) -> Option<u16> {
        self.typed.sent_by().port.as_ref().map(|p| p.0)
    }

    fn sent_by_ip(&self) -> Option<IpAddr> {
        match &self.typed.sent_by().host {
            Host::IpAddr(ip) => Some(*ip),
            Host::Domain(domain) => domain.to_string().parse().ok(),
        }
    }

    fn has_rport(&self) -> bool {
        self.typed.rport().is_some()
    }

    /// The Via as it goes back in responses: `received` when the sent-by
    /// host is not the source address (RFC 3261 §18.2.1), `rport` filled
    /// when the client asked for it (RFC 3581 §4, which also requires
    /// `received`).
    fn for_response(&self, source: SocketAddr) -> String {
        let mut via = self.typed.clone();
        let rport = self.has_rport();
        if rport || self.sent_by_ip() != Some(source.ip()) {
            via = via.with_received(Received::new(source.ip().to_string()));
        }
        if rport {
            via = via.with_rport(Some(source.port()));
        }
        via.to_string()
    }
}

/// Whitespace is allowed around `;` and `=` of header parameters
/// (RFC 3261 §25.1 SEMI, EQUAL; RFC 4475 §3.1.1.1); drop it after the
/// closing `>` (or after the URI when there are no brackets).
fn compact_params(value: &str) -> String {
    let value = value.trim();
    let split = match value.rfind('>') {
        Some(close) => close + 1,
        None => value.find(';').unwrap_or(value.len()),
    };
    let (head, params) = value.split_at(split);
    let mut out = head.trim_end().to_owned();
    let mut quoted = false;
    for c in params.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted && (c == ' ' || c == '\t') {
            continue;
        }
        out.push(c);
    }
    out
}

/// Whitespace is allowed around `/` and `:` in Via (RFC 3261 §25.1 SLASH,
/// HCOLON; RFC 4475 §3.1.1.1); the typed parser wants it compact.
fn normalize_via(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.trim().chars().peekable();
    let mut in_params = false;
    while let Some(c) = chars.next() {
        if c == ';' {
            in_params = true;
        }
        if !in_params && (c == '/' || c == ':') {
            while out.ends_with([' ', '\t']) {
                out.pop();
            }
            out.push(c);
            while chars.peek().is_some_and(|n| *n == ' ' || *n == '\t') {
                chars.next();
            }
            continue;
        }
        if in_params && (c == ' ' || c == '\t') {
            continue;
        }
        out.push(c);
    }
    out
}

/// A request as the layers above see it (read-only view).
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) uri: Option<Uri>,
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

    fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name().eq_ignore_ascii_case(name))
            .map(|h| h.value())
    }

    /// Values of Record-Route in order (RFC 3261 §12.1.1 route set).
    pub(crate) fn record_route(&self) -> Vec<String> {
        self.headers_named("Record-Route")
            .flat_map(split_commas)
            .collect()
    }

    /// The URI of the first Contact (RFC 3261 §12.1.1 remote target).
    pub(crate) fn contact_uri(&self) -> Option<Uri> {
        let first = split_commas(self.header("Contact")?).into_iter().next()?;
        NameAddr::parse(&first).map(|n| n.uri)
    }

    /// Option tags of Require (RFC 3261 §20.32).
    pub(crate) fn required_extensions(&self) -> Vec<String> {
        self.headers_named("Require")
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
}

impl Response {
    fn raw(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
            .map(|h| h.value())
    }
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

/// Result of looking for one message at the start of a TCP read buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// This many bytes of CRLF keep-alive to discard (RFC 5626 §3.5.1).
    KeepAlive(usize),
    /// A whole message of this many bytes is at the start of the buffer.
    Message(usize),
    /// Not enough bytes yet.
    Incomplete,
}

/// Find the extent of the first message in a stream buffer: headers up to
/// the empty line, then Content-Length bytes, which is mandatory on streams
/// (RFC 3261 §18.3). Errors mean the stream cannot be resynchronised.
pub(crate) fn frame(buf: &[u8], max_message_size: usize) -> Result<Frame, ParseError> {
    let crlf = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if crlf > 0 {
        return Ok(Frame::KeepAlive(crlf));
    }
    let Some(header_end) = find_blank_line(buf) else {
        if buf.len() > max_message_size {
            return Err(unanswerable("header section larger than the limit"));
        }
        return Ok(Frame::Incomplete);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]);
    let mut content_length = None;
    for line in head.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("Content-Length") || name.eq_ignore_ascii_case("l") {
                let length: usize = value
                    .trim()
                    .parse()
                    .map_err(|_| unanswerable("bad Content-Length on a stream"))?;
                content_length = Some(length);
            }
        }
    }
    let length = content_length.ok_or_else(|| unanswerable("no Content-Length on a stream"))?;
    let total = header_end + 4 + length;
    if total > max_message_size {
        return Err(unanswerable("message larger than the limit"));
    }
    if buf.len() < total {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Message(total))
}

fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Header lines of a header section, with folded lines joined
/// (RFC 3261 §7.3.1) and compact names expanded by `make_header`.
fn parse_headers(section: &str) -> Result<Headers, String> {
    let mut headers = Headers::default();
    let mut pending: Option<(String, String)> = None;
    for line in section.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            match pending.as_mut() {
                Some((_, value)) => {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                None => return Err("continuation line before any header".to_owned()),
            }
            continue;
        }
        if let Some((name, value)) = pending.take() {
            headers.push(make_header(&name, value));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header line without a colon: {:.40}", line))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(format!("bad header name: {:.40}", name));
        }
        pending = Some((name.to_owned(), value.trim().to_owned()));
    }
    if let Some((name, value)) = pending {
        headers.push(make_header(&name, value));
    }
    Ok(headers)
}

fn count(headers: &Headers, name: &str) -> usize {
    headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .count()
}

fn first<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value())
}

fn parse_cseq(value: &str) -> Option<(u32, String)> {
    let mut parts = value.split_whitespace();
    // RFC 3261 §8.1.1.5: the number must be less than 2**31.
    let number: u32 = parts.next()?.parse().ok().filter(|n| *n < (1 << 31))?;
    let method = parts.next()?.to_owned();
    if parts.next().is_some() || !method.bytes().all(is_token_char) {
        return None;
    }
    Some((number, method))
}

/// Parse one whole message (a datagram, or a frame cut by [`frame`]).
pub(crate) fn parse(
    data: &[u8],
    source: SocketAddr,
    transport: Transport,
) -> Result<Message, ParseError> {
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    let start = data
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .ok_or_else(|| unanswerable("empty message"))?;
    let data = &data[start..];
    let header_end = find_blank_line(data).ok_or(ParseError::Incomplete)?;
    let head = std::str::from_utf8(&data[..header_end])
        .map_err(|_| unanswerable("header section is not UTF-8"))?;
    let (start_line, header_section) = head.split_once("\r\n").unwrap_or((head, ""));
    let available = &data[header_end + 4..];
    let headers = parse_headers(header_section);
    if start_line.starts_with("SIP/") {
        let headers = headers.map_err(unanswerable)?;
        return parse_response(start_line, headers, available).map(Message::Response);
    }
    parse_request(start_line, headers, available, source, transport)
        .map(|r| Message::Request(Box::new(r)))
}

fn parse_response(
    start_line: &str,
    headers: Headers,
    _body: &[u8],
) -> Result<Response, ParseError> {
    let mut parts = start_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if version != SIP_VERSION {
        return Err(unanswerable("unsupported SIP version in a response"));
    }
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .filter(|c| (100..700).contains(c))
        .ok_or_else(|| unanswerable("bad status code"))?;
    let via = first(&headers, "Via")
        .and_then(|v| split_commas(v).into_iter().next())
        .and_then(|v| ViaHop::parse(&v))
        .ok_or_else(|| unanswerable("response without a usable Via"))?;
    if first(&headers, "Call-ID").is_none() {
        return Err(unanswerable("response without Call-ID"));
    }
    let (_, cseq_method) = first(&headers, "CSeq")
        .and_then(parse_cseq)
        .ok_or_else(|| unanswerable("response without a usable CSeq"))?;
    Ok(Response {
        status: StatusCode(code),
        headers,
        cseq_method,
        branch: via.branch,
    })
}

fn parse_request(
    start_line: &str,
    headers: Result<Headers, String>,
    available: &[u8],
    source: SocketAddr,
    transport: Transport,
) -> Result<Request, ParseError> {
    let mut parts = start_line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(unanswerable("not a SIP request line"));
    };
    let method = Method::parse(method).ok_or_else(|| unanswerable("bad method token"))?;
    if !version.starts_with("SIP/") {
        return Err(unanswerable("not a SIP request line"));
    }
    let headers = match headers {
        Ok(headers) => headers,
        Err(_) => return Err(unanswerable("malformed header section")),
    };
    let vias: Vec<String> = headers
        .iter()
        .filter(|h| matches!(h, Header::Via(_)))
        .flat_map(|h| split_commas(h.value()))
        .collect();
    let top_via = vias
        .first()
        .and_then(|v| ViaHop::parse(v))
        .ok_or_else(|| unanswerable("no usable Via"))?;
    let call_id = first(&headers, "Call-ID")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| unanswerable("no Call-ID"))?
        .to_owned();
    let cseq_raw = first(&headers, "CSeq").ok_or_else(|| unanswerable("no CSeq"))?;
    let cseq = parse_cseq(cseq_raw);
    // A well-formed scheme other than ours is refused with 416; a malformed
    // one leaves a malformed URI, refused with 400.
    let uri_scheme_supported = match uri.split_once(':') {
        Some((scheme, _)) if is_uri_scheme(scheme) => {
            SUPPORTED_URI_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
        }
        _ => true,
    };
    let mut request = Request {
        uri: parse_request_uri(uri),
        version_supported: version == SIP_VERSION,
        uri_scheme_supported,
        cseq: cseq.as_ref().map(|c| c.0).unwrap_or_default(),
        cseq_method: cseq.as_ref().map(|c| c.1.clone()).unwrap_or_default(),
        from: first(&headers, "From").and_then(NameAddr::parse),
        to: first(&headers, "To").and_then(NameAddr::parse),
        method,
        headers,
        body: Vec::new(),
        call_id,
        top_via,
        vias,
        source,
        transport,
    };
    let invalid = |reason: String, request: Request| ParseError::Invalid {
        reason,
        request: Box::new(request),
    };
    match take_body(&request.headers, available, transport) {
        Ok(body) => request.body = body,
        Err(reason) => return Err(invalid(reason, request)),
    }
    match validate(&request, cseq.is_some()) {
        Some(reason) => Err(invalid(reason, request)),
        None => Ok(request),
    }
}

/// The body per Content-Length (RFC 3261 §18.3): longer than the datagram
/// is an error; shorter discards the rest; absent on UDP means "the rest".
fn take_body(headers: &Headers, available: &[u8], transport: Transport) -> Result<Vec<u8>, String> {
    let Some(value) = first(headers, "Content-Length") else {
        return match transport {
            Transport::Udp => Ok(available.to_vec()),
            Transport::Tcp => Err("Content-Length is mandatory on TCP".to_owned()),
        };
    };
    let length: usize = value
        .trim()
        .parse()
        .map_err(|_| format!("bad Content-Length: {:.20}", value))?;
    if length > available.len() {
        return Err(format!(
            "Content-Length {} larger than the {} body bytes received",
            length,
            available.len()
        ));
    }
    Ok(available[..length].to_vec())
}

/// RFC 3261 §8.2 checks of a request whose Via, Call-ID and CSeq are usable.
fn validate(request: &Request, cseq_ok: bool) -> Option<String> {
    // An unknown scheme is not malformed: screening answers it 416.
    if request.uri.is_none() && request.uri_scheme_supported {
        return Some("bad Request-URI".to_owned());
    }
    if request
        .vias
        .iter()
        .any(|via| via.starts_with(';') || via.contains(";;") || via.ends_with(';'))
    {
        // RFC 4475 §3.1.2.1: empty Via parameters and values.
        return Some("malformed Via".to_owned());
    }
    for name in [
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Max-Forwards",
        "Content-Length",
    ] {
        if count(&request.headers, name) > 1 {
            return Some(format!("more than one {} header", name));
        }
    }
    if request.from.is_none() {
        return Some("missing or malformed From".to_owned());
    }
    if request.to.is_none() {
        return Some("missing or malformed To".to_owned());
    }
    if !cseq_ok {
        return Some("malformed CSeq".to_owned());
    }
    if request.cseq_method != request.method.as_str() {
        return Some("CSeq method does not match the request method".to_owned());
    }
    // RFC 3261 §8.2 does not have a UAS refuse a request without
    // Max-Forwards (many peers and RFC 2543 clients omit it, RFC 4475
    // §3.4.1); only a present but malformed one is refused.
    match first(&request.headers, "Max-Forwards").map(|v| v.trim().parse::<u8>()) {
        Some(Err(_)) => Some("malformed Max-Forwards".to_owned()),
        None | Some(Ok(_)) => None,
    }
}

/// The Max-Forwards value of a valid request; a missing one counts as the
/// recommended initial value (RFC 3261 §8.1.1.6).
pub(crate) fn max_forwards(request: &Request) -> u32 {
    request
        .header("Max-Forwards")
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_FORWARDS)
}

/// RFC 3986 §3.1: `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_uri_scheme(scheme: &str) -> bool {
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// The Request-URI, or `None` when malformed: angle brackets or quotes
/// (RFC 4475 §3.1.2.7) and headers (RFC 3261 §19.1.1 Table 1: not allowed
/// in a Request-URI; RFC 4475 §3.1.2.11) are refused.
fn parse_request_uri(uri: &str) -> Option<Uri> {
    // `?` may appear in the user part (RFC 3261 §25.1 user-unreserved,
    // RFC 4475 §3.1.1.2); after the host it starts headers.
    let host_part = uri.rsplit_once('@').map_or(uri, |(_, host)| host);
    if uri.contains(['<', '>', '"']) || host_part.contains('?') {
        return None;
    }
    parse_uri(uri).ok()
}

/// What goes into a response besides the copied headers.
#[derive(Debug, Default)]
pub(crate) struct ResponseParts<'a> {
    /// Reason phrase instead of the standard one.
    pub(crate) reason: Option<&'a str>,
    /// Our To tag (RFC 3261 §8.2.6.2), added unless the To has one.
    pub(crate) to_tag: Option<&'a str>,
    /// Extra header lines.
    pub(crate) headers: &'a [(String, String)],
    /// Content type and body.
    pub(crate) body: Option<(&'a str, &'a [u8])>,
}

/// Build a response to `request` (RFC 3261 §8.2.6.2): all Via (top one with
/// received/rport), From, To (+ our tag), Call-ID, CSeq copied; Server and
/// Content-Length added.
pub(crate) fn build_response(
    request: &Request,
    status: StatusCode,
    server: &str,
    parts: &ResponseParts<'_>,
) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    let reason = parts
        .reason
        .map(sanitize_line)
        .unwrap_or_else(|| status.reason_phrase().to_owned());
    let _ = write!(out, "{} {} {}{}", SIP_VERSION, status.0, reason, CRLF);
    for (index, via) in request.vias.iter().enumerate() {
        if index == 0 {
            let _ = write!(
                out,
                "Via: {}{}",
                request.top_via.for_response(request.source),
                CRLF
            );
        } else {
            let _ = write!(out, "Via: {}{}", via, CRLF);
        }
    }
    if let Some(from) = request.raw("From") {
        let _ = write!(out, "From: {}{}", from, CRLF);
    }
    if let Some(to) = request.raw("To") {
        match parts.to_tag {
            // RFC 3261 §8.2.6.2: 100 Trying never gets a tag.
            Some(tag) if request.to_tag().is_none() && status != StatusCode::TRYING => {
                let _ = write!(out, "To: {};tag={}{}", to, tag, CRLF);
            }
            _ => {
                let _ = write!(out, "To: {}{}", to, CRLF);
            }
        }
    }
    let _ = write!(out, "Call-ID: {}{}", request.call_id, CRLF);
    if let Some(cseq) = request.raw("CSeq") {
        let _ = write!(out, "CSeq: {}{}", cseq, CRLF);
    }
    // RFC 3261 §8.2.6.1: a Timestamp is echoed in 100 Trying.
    if status == StatusCode::TRYING
        && let Some(timestamp) = request.raw("Timestamp")
    {
        let _ = write!(out, "Timestamp: {}{}", timestamp, CRLF);
    }
    let _ = write!(out, "Server: {}{}", server, CRLF);
    for (name, value) in parts.headers {
        let _ = write!(out, "{}: {}{}", name, sanitize_line(value), CRLF);
    }
    finish(out, parts.body)
}

/// A 400 for an Invalid request: the reason in the phrase and in a Warning
/// (RFC 3261 §20.43).
pub(crate) fn build_bad_request(
    request: &Request,
    reason: &str,
    server: &str,
    host: &str,
) -> Vec<u8> {
    let warning = [(
        "Warning".to_owned(),
        format!("{} {} \"{}\"", WARNING_MISC, host, reason.replace('"', "'")),
    )];
    build_response(
        request,
        StatusCode::BAD_REQUEST,
        server,
        &ResponseParts {
            reason: Some(reason),
            headers: &warning,
            ..ResponseParts::default()
        },
    )
}

fn finish(mut out: String, body: Option<(&str, &[u8])>) -> Vec<u8> {
    let body_len = body.map(|(_, b)| b.len()).unwrap_or(0);
    if let Some((content_type, _)) = body {
        let _ = write!(out, "Content-Type: {}{}", content_type, CRLF);
    }
    let _ = write!(out, "Content-Length: {}{}{}", body_len, CRLF, CRLF);
    let mut bytes = out.into_bytes();
    if let Some((_, body)) = body {
        bytes.extend_from_slice(body);
    }
    bytes
}

/// No CR or LF may sneak into a header line or reason phrase.
fn sanitize_line(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// Where a response goes (RFC 3261 §18.2.2, RFC 3581 §4): on a reliable
/// transport back over the connection (the source address identifies it);
/// on UDP to the source IP (the `received` address), at the source port if
/// the client asked with `rport`, else at the sent-by port.
pub(crate) fn response_destination(request: &Request) -> SocketAddr {
    if request.transport.is_reliable() || request.top_via.has_rport() {
        return request.source;
    }
    let port = request
        .top_via
        .sent_by_port()
        .unwrap_or(super::DEFAULT_SIP_PORT);
    SocketAddr::new(request.source.ip(), port)
}

/// A request we originate (BYE, ACK): the start line and header lines in order.
#[derive(Debug, Clone)]
pub(crate) struct OutgoingRequest {
    pub(crate) method: Method,
    pub(crate) uri: String,
    pub(crate) via: String,
    pub(crate) branch: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) call_id: String,
    pub(crate) cseq: u32,
    pub(crate) routes: Vec<String>,
    pub(crate) extra: Vec<(String, String)>,
}

impl OutgoingRequest {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.render(&self.method, &self.to, &self.extra)
    }

    fn render(&self, method: &Method, to: &str, extra: &[(String, String)]) -> Vec<u8> {
        let mut out = String::with_capacity(512);
        let _ = write!(
            out,
            "{} {} {}{}",
            method.as_str(),
            self.uri,
            SIP_VERSION,
            CRLF
        );
        let _ = write!(out, "Via: {}{}", self.via, CRLF);
        let _ = write!(out, "Max-Forwards: {}{}", DEFAULT_MAX_FORWARDS, CRLF);
        for route in &self.routes {
            let _ = write!(out, "Route: {}{}", route, CRLF);
        }
        let _ = write!(out, "From: {}{}", self.from, CRLF);
        let _ = write!(out, "To: {}{}", to, CRLF);
        let _ = write!(out, "Call-ID: {}{}", self.call_id, CRLF);
        let _ = write!(out, "CSeq: {} {}{}", self.cseq, method.as_str(), CRLF);
        for (name, value) in extra {
            let _ = write!(out, "{}: {}{}", name, value, CRLF);
        }
        finish(out, None)
    }

    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "for the client INVITE of outbound calls")
    )]
    /// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): same
    /// Request-URI, Call-ID, From, top Via and Route; To from the response;
    /// CSeq number unchanged with method ACK.
    pub(crate) fn ack_for(&self, response: &Response) -> Vec<u8> {
        let to = response.raw("To").unwrap_or(&self.to);
        self.render(&Method::Ack, to, &[])
    }
}

/// A fresh RFC 3261 branch (§8.1.1.7).
pub(crate) fn new_branch() -> String {
    format!("{}{}", MAGIC_COOKIE, random_token())
}

/// A random token for tags and branches (RFC 3261 §19.3: at least 32 bits
/// of randomness).
pub(crate) fn random_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests;

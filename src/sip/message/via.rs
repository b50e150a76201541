//! The Via rules: reading a Via hop, what goes back in a response's top
//! Via (RFC 3261 §18.2.1, RFC 3581 §4) and where a response goes
//! (§18.2.2). Also the whitespace normalisation the typed parser needs.

use super::*;

/// The top Via of a request, with what transaction matching and response
/// routing need (RFC 3261 §17.2.3, §18.2.2).
#[derive(Debug, Clone)]
pub(crate) struct ViaHop {
    pub(super) typed: typed::Via,
    pub(crate) branch: Option<String>,
    /// `host[:port]` as written, lower-cased for matching.
    pub(crate) sent_by: String,
}

impl ViaHop {
    pub(super) fn parse(value: &str) -> Option<ViaHop> {
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

    pub(super) fn sent_by_port(&self) -> Option<u16> {
        self.typed.sent_by().port.as_ref().map(|p| p.0)
    }

    pub(super) fn sent_by_ip(&self) -> Option<IpAddr> {
        match &self.typed.sent_by().host {
            Host::IpAddr(ip) => Some(*ip),
            Host::Domain(domain) => domain.to_string().parse().ok(),
        }
    }

    pub(super) fn has_rport(&self) -> bool {
        self.typed.rport().is_some()
    }

    /// The Via as it goes back in responses: `received` when the sent-by
    /// host is not the source address (RFC 3261 §18.2.1), `rport` filled
    /// when the client asked for it (RFC 3581 §4, which also requires
    /// `received`).
    pub(super) fn for_response(&self, source: SocketAddr) -> String {
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
pub(super) fn compact_params(value: &str) -> String {
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
pub(super) fn normalize_via(value: &str) -> String {
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
        .unwrap_or(super::super::DEFAULT_SIP_PORT);
    SocketAddr::new(request.source.ip(), port)
}

/// Where a response goes when the connection its request came on is gone
/// (RFC 3261 §18.2.2): a new connection to the `received` address (the
/// source IP) at the sent-by port, or the default port. Never to the gone
/// connection's own source address: that port was the client's ephemeral
/// one, which nobody listens on, or which another socket has by now.
/// `None` on UDP, which has no connection, and when nowhere else is left.
pub(crate) fn response_fallback(request: &Request) -> Option<SocketAddr> {
    if !request.transport.is_reliable() {
        return None;
    }
    let port = request
        .top_via
        .sent_by_port()
        .unwrap_or(super::super::DEFAULT_SIP_PORT);
    Some(SocketAddr::new(request.source.ip(), port)).filter(|addr| *addr != request.source)
}

//! From our decisions to bytes: responses (RFC 3261 §8.2.6), the 400 with
//! its Warning, and the requests we originate (BYE, ACK).

use super::*;

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

pub(super) fn finish(mut out: String, body: Option<(&str, &[u8])>) -> Vec<u8> {
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
pub(super) fn sanitize_line(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// A request we originate (INVITE, BYE, ACK, CANCEL, OPTIONS…): the start
/// line and header lines in order, and the body.
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
    /// Content type and body.
    pub(crate) body: Option<(String, Vec<u8>)>,
}

impl OutgoingRequest {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let body = self.body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice()));
        self.render(&self.method, &self.to, &self.extra, body)
    }

    fn render(
        &self,
        method: &Method,
        to: &str,
        extra: &[(String, String)],
        body: Option<(&str, &[u8])>,
    ) -> Vec<u8> {
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
            let _ = write!(out, "{}: {}{}", name, sanitize_line(value), CRLF);
        }
        finish(out, body)
    }

    /// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): same
    /// Request-URI, Call-ID, From, top Via and Route; To from the response;
    /// CSeq number unchanged with method ACK.
    pub(crate) fn ack_for(&self, response: &Response) -> Vec<u8> {
        let to = response.raw("To").unwrap_or(&self.to);
        self.render(&Method::Ack, to, &[], None)
    }

    /// The CANCEL of this request (RFC 3261 §9.1): the same Request-URI,
    /// Call-ID, From, To, Route and top Via (so the same branch), the CSeq
    /// number unchanged with method CANCEL, no body.
    pub(crate) fn cancel(&self) -> OutgoingRequest {
        OutgoingRequest {
            method: Method::Cancel,
            extra: Vec::new(),
            body: None,
            ..self.clone()
        }
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

//! From bytes to a [`Message`]: header folding and compact names
//! (§7.3.1), the body by Content-Length (§18.3), and the §8.2 checks that
//! decide between a usable request, a 400 with a reason and a dropped
//! message. Where a message ends on a stream is `frame`'s.

use super::*;

pub(super) fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Header lines of a header section, with folded lines joined
/// (RFC 3261 §7.3.1) and compact names expanded by `make_header`.
pub(super) fn parse_headers(section: &str) -> Result<Headers, String> {
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

pub(super) fn count(headers: &Headers, name: &str) -> usize {
    headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .count()
}

pub(super) fn first<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value())
}

pub(super) fn parse_cseq(value: &str) -> Option<(u32, String)> {
    let mut parts = value.split_whitespace();
    // RFC 3261 §8.1.1.5: the number must be less than 2**31.
    let number: u32 = parts.next()?.parse().ok().filter(|n| *n < (1 << 31))?;
    let method = parts.next()?.to_owned();
    if parts.next().is_some() || !method.bytes().all(is_token_char) {
        return None;
    }
    Some((number, method))
}

/// Parse one whole message (a datagram, or a frame cut by [`frame`](super::frame)).
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
        return parse_response(start_line, headers, available, transport).map(Message::Response);
    }
    parse_request(start_line, headers, available, source, transport)
        .map(|r| Message::Request(Box::new(r)))
}

pub(super) fn parse_response(
    start_line: &str,
    headers: Headers,
    available: &[u8],
    transport: Transport,
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
    // RFC 3261 §18.3: Content-Length says where the body ends; without
    // one (UDP may omit it) the body is the rest of the datagram.
    let length = first(&headers, "Content-Length")
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(available.len());
    let body = available
        .get(..length)
        .ok_or_else(|| unanswerable("response body shorter than its Content-Length"))?
        .to_vec();
    Ok(Response {
        status: StatusCode(code),
        headers,
        cseq_method,
        branch: via.branch,
        transport,
        body,
    })
}

pub(super) fn parse_request(
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
        uri_text: uri.to_owned(),
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
pub(super) fn take_body(
    headers: &Headers,
    available: &[u8],
    transport: Transport,
) -> Result<Vec<u8>, String> {
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
pub(super) fn validate(request: &Request, cseq_ok: bool) -> Option<String> {
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

/// RFC 3986 §3.1: `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
pub(super) fn is_uri_scheme(scheme: &str) -> bool {
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// The Request-URI, or `None` when malformed: angle brackets or quotes
/// (RFC 4475 §3.1.2.7) and headers (RFC 3261 §19.1.1 Table 1: not allowed
/// in a Request-URI; RFC 4475 §3.1.2.11) are refused.
pub(super) fn parse_request_uri(uri: &str) -> Option<Uri> {
    // `?` may appear in the user part (RFC 3261 §25.1 user-unreserved,
    // RFC 4475 §3.1.1.2); after the host it starts headers.
    let host_part = uri.rsplit_once('@').map_or(uri, |(_, host)| host);
    if uri.contains(['<', '>', '"']) || host_part.contains('?') {
        return None;
    }
    parse_uri(uri).ok()
}

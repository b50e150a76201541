//! The SDP line parser (RFC 4566 §5): one pass over the lines, session
//! level then one section per `m=`, into an [`Sdp`]. Errors name the
//! 1-based line and its text.

use std::net::IpAddr;

use super::{
    Direction, ERROR_LINE_MAX_CHARS, Fmtp, MediaDescription, Origin, PT_MAX, RtpMap, Sdp, SdpError,
};

/// Parses an SDP body (see [`Sdp::parse`]). A malformed line of a media
/// section marks that section ([`MediaDescription::malformed`]); one at
/// session level, or a line that is no `<type>=<value>` at all, fails the
/// whole body.
pub(super) fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
    let mut parser = Parser::default();
    let mut seen_version = false;
    for (index, raw) in body.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line = Line {
            number: index + 1,
            text: String::from_utf8_lossy(raw),
        };
        if !seen_version {
            if line.text != "v=0" {
                return Err(SdpError::MissingVersion {
                    line: line.number,
                    text: line.excerpt(),
                });
            }
            seen_version = true;
            continue;
        }
        parser.line(&line)?;
    }
    if !seen_version {
        return Err(SdpError::MissingVersion {
            line: 1,
            text: String::new(),
        });
    }
    parser.finish()
}

/// One non-empty line of the body being parsed.
struct Line<'a> {
    number: usize,
    text: std::borrow::Cow<'a, str>,
}

impl Line<'_> {
    fn excerpt(&self) -> String {
        self.text.chars().take(ERROR_LINE_MAX_CHARS).collect()
    }

    fn error(&self, reason: &'static str) -> SdpError {
        SdpError::BadLine {
            line: self.number,
            text: self.excerpt(),
            reason,
        }
    }
}

/// Parser state between lines.
#[derive(Default)]
struct Parser {
    origin: Option<Origin>,
    session_name: String,
    connection: Option<IpAddr>,
    direction: Option<Direction>,
    media: Vec<MediaDescription>,
}

impl Parser {
    fn line(&mut self, line: &Line<'_>) -> Result<(), SdpError> {
        let (kind, value) = match line.text.split_once('=') {
            Some((kind, value)) if kind.len() == 1 => (kind, value),
            _ => return Err(line.error("expected `<type>=<value>`")),
        };
        match (kind, self.media.last_mut()) {
            ("o", None) => self.origin = Some(parse_origin(value, line)?),
            ("s", None) => self.session_name = value.to_owned(),
            ("c", None) => self.connection = Some(parse_connection(value, line)?),
            ("c", Some(media)) => match parse_connection(value, line) {
                Ok(ip) => media.connection = Some(ip),
                Err(error) => media.mark_malformed(error),
            },
            ("m", _) => self.media.push(parse_media(value, line)?),
            ("a", None) => {
                if let Some(direction) = Direction::from_attribute(value) {
                    self.direction = Some(direction);
                }
            }
            ("a", Some(media)) => {
                if let Err(error) = parse_media_attribute(media, value, line) {
                    media.mark_malformed(error);
                }
            }
            // RFC 4566 §5: other types (i, u, e, p, b, t, r, z, k) do not
            // matter to G.711 offer/answer.
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<Sdp, SdpError> {
        Ok(Sdp {
            origin: self.origin.ok_or(SdpError::MissingLine { kind: 'o' })?,
            session_name: self.session_name,
            connection: self.connection,
            direction: self.direction,
            media: self.media,
        })
    }
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
fn parse_origin(value: &str, line: &Line<'_>) -> Result<Origin, SdpError> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let [
        username,
        session_id,
        session_version,
        _net,
        _addr_type,
        address,
    ] = fields[..]
    else {
        return Err(line.error("`o=` needs six fields"));
    };
    Ok(Origin {
        username: username.to_owned(),
        session_id: session_id
            .parse()
            .map_err(|_| line.error("session id is not a number"))?,
        session_version: session_version
            .parse()
            .map_err(|_| line.error("session version is not a number"))?,
        address: address.to_owned(),
    })
}

/// `c=IN IP4 <address>[/<ttl>[/<count>]]` (RFC 4566 §5.7).
fn parse_connection(value: &str, line: &Line<'_>) -> Result<IpAddr, SdpError> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let ["IN", addr_type, address] = fields[..] else {
        return Err(line.error("`c=` needs `IN <addrtype> <address>`"));
    };
    let address = address.split('/').next().unwrap_or(address);
    let ip: IpAddr = address
        .parse()
        .map_err(|_| line.error("connection address is not an IP address"))?;
    match (addr_type, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Ok(ip),
        _ => Err(line.error("address does not match its address type")),
    }
}

/// `m=<media> <port>[/<count>] <proto> <fmt> ...` (RFC 4566 §5.14).
fn parse_media(value: &str, line: &Line<'_>) -> Result<MediaDescription, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let (Some(media), Some(port), Some(protocol)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(line.error("`m=` needs media, port and protocol"));
    };
    let port = port.split('/').next().unwrap_or(port);
    // A bad port spoils the section, not the SDP: the answer rejects it
    // with port 0 anyway.
    let (port, malformed) = match port.parse() {
        Ok(port) => (port, None),
        Err(_) => (0, Some(line.error("port is not a number"))),
    };
    Ok(MediaDescription {
        media: media.to_owned(),
        port,
        protocol: protocol.to_owned(),
        formats: fields.map(str::to_owned).collect(),
        connection: None,
        direction: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime_ms: None,
        malformed,
    })
}

fn parse_media_attribute(
    media: &mut MediaDescription,
    value: &str,
    line: &Line<'_>,
) -> Result<(), SdpError> {
    let (name, argument) = value.split_once(':').unwrap_or((value, ""));
    match name {
        "rtpmap" => media.rtpmaps.push(parse_rtpmap(argument, line)?),
        "fmtp" => {
            let (pt, parameters) = argument.split_once(' ').unwrap_or((argument, ""));
            media.fmtps.push(Fmtp {
                payload_type: parse_payload_type(pt, line)?,
                parameters: parameters.trim().to_owned(),
            });
        }
        "ptime" => {
            media.ptime_ms = Some(
                argument
                    .trim()
                    .parse()
                    .map_err(|_| line.error("ptime is not a number"))?,
            );
        }
        _ => {
            if let Some(direction) = Direction::from_attribute(name) {
                media.direction = Some(direction);
            }
        }
    }
    Ok(())
}

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]` (RFC 4566 §6).
fn parse_rtpmap(argument: &str, line: &Line<'_>) -> Result<RtpMap, SdpError> {
    let (pt, encoding) = argument
        .split_once(' ')
        .ok_or_else(|| line.error("`rtpmap` needs `<pt> <encoding>/<rate>`"))?;
    let mut parts = encoding.trim().split('/');
    let (Some(name), Some(rate)) = (parts.next(), parts.next()) else {
        return Err(line.error("`rtpmap` needs `<encoding>/<rate>`"));
    };
    let channels = parts
        .next()
        .map(|c| {
            c.parse()
                .map_err(|_| line.error("channel count is not a number"))
        })
        .transpose()?;
    Ok(RtpMap {
        payload_type: parse_payload_type(pt, line)?,
        encoding: name.to_owned(),
        clock_rate: rate
            .parse()
            .map_err(|_| line.error("clock rate is not a number"))?,
        channels,
    })
}

fn parse_payload_type(text: &str, line: &Line<'_>) -> Result<u8, SdpError> {
    text.trim()
        .parse::<u8>()
        .ok()
        .filter(|pt| *pt <= PT_MAX)
        .ok_or_else(|| line.error("payload type is not 0-127"))
}

impl MediaDescription {
    /// Keep the first error of the section.
    fn mark_malformed(&mut self, error: SdpError) {
        self.malformed.get_or_insert(error);
    }
}

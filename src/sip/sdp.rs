//! SDP (RFC 4566) parsing and the RFC 3264 offer/answer model, for a
//! G.711-only IVR/B2BUA.
//!
//! Owns: the [`Sdp`] value parsed from a message body, the choice of codec,
//! telephone-event payload type, remote RTP address and direction
//! ([`negotiate`] for offers we answer, [`accept_answer`] for answers to our
//! own offers), and the bytes of the SDP bodies we send ([`build_answer`],
//! [`build_offer`]).
//!
//! Must not know: sockets, SIP messages or dialogs, and anything about calls
//! or the business. It is a sans-IO value layer: bytes in, values out.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

mod parse;

/// RFC 3551 §6: static payload type of PCMU.
const PT_PCMU: u8 = 0;
/// RFC 3551 §6: static payload type of PCMA.
const PT_PCMA: u8 = 8;
/// Highest RTP payload type (7 bits, RFC 3550 §5.1).
const PT_MAX: u8 = 127;
/// Payload type we use for telephone-event in our own offers.
pub const OFFER_TELEPHONE_EVENT_PT: u8 = 101;
/// G.711 and RFC 4733 telephone-event clock rate.
const CLOCK_RATE_8K: u32 = 8000;
/// RFC 4733 §3.3: events 0-15 are DTMF digits, 16 is flash.
const TELEPHONE_EVENTS: &str = "0-16";
/// Packetisation time of the audio we send, in milliseconds.
const PTIME_MS: u32 = 20;
/// Session name (`s=`) and origin user name (`o=`) of the SDP we build.
const SDP_SESSION_NAME: &str = "hotline";
/// RTP over UDP profiles we can speak (RFC 3551; RFC 4585 is compatible).
const RTP_PROFILES: [&str; 2] = ["RTP/AVP", "RTP/AVPF"];
/// How much of an offending line an error keeps.
const ERROR_LINE_MAX_CHARS: usize = 80;

/// Everything that can go wrong parsing SDP or running offer/answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body does not start with `v=0` (RFC 4566 §5.1).
    #[error("SDP does not start with `v=0` (line {line}: {text:?})")]
    MissingVersion { line: usize, text: String },
    /// A line is not `<type>=<value>` or its value is malformed.
    #[error("SDP line {line} is malformed ({reason}): {text:?}")]
    BadLine {
        line: usize,
        text: String,
        reason: &'static str,
    },
    /// A mandatory line is absent (RFC 4566 §5: `o=` is required).
    #[error("SDP has no `{kind}=` line")]
    MissingLine { kind: char },
    /// No audio stream we could use: none offered, all rejected, or none
    /// over RTP/AVP.
    #[error("SDP has no usable audio stream")]
    NoAudioStream,
    /// The audio stream has no `c=` line, neither at media nor session level.
    #[error("audio stream has no connection address")]
    NoConnectionAddress,
    /// No payload type of the audio stream is a codec we support.
    #[error("no common audio codec")]
    NoCommonCodec,
}

impl SdpError {
    /// Whether the SDP itself is malformed (rather than readable but of no
    /// use to us).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            Self::MissingVersion { .. } | Self::BadLine { .. } | Self::MissingLine { .. }
        )
    }
}

/// A G.711 codec (ITU-T G.711, RFC 3551 §4.5.14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// µ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl AudioCodec {
    /// The static payload type RFC 3551 §6 assigns.
    pub fn static_payload_type(self) -> u8 {
        match self {
            Self::Pcmu => PT_PCMU,
            Self::Pcma => PT_PCMA,
        }
    }

    /// The encoding name used in `a=rtpmap` (RFC 3551 §6).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }

    fn from_static_payload_type(pt: u8) -> Option<Self> {
        match pt {
            PT_PCMU => Some(Self::Pcmu),
            PT_PCMA => Some(Self::Pcma),
            _ => None,
        }
    }

    fn from_rtpmap(map: &RtpMap) -> Option<Self> {
        if map.clock_rate != CLOCK_RATE_8K || map.channels.is_some_and(|c| c != 1) {
            return None;
        }
        [Self::Pcmu, Self::Pcma]
            .into_iter()
            .find(|codec| map.encoding.eq_ignore_ascii_case(codec.encoding_name()))
    }
}

/// A stream's direction attribute (RFC 3264 §5.1, RFC 4566 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The direction an answerer uses for a stream offered with `self`
    /// (RFC 3264 §6.1).
    pub fn answer_to(self) -> Self {
        match self {
            Self::SendRecv => Self::SendRecv,
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            Self::Inactive => Self::Inactive,
        }
    }

    /// Whether media flows towards the side that declared `self`.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }

    /// Whether the side that declared `self` sends media.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    fn attribute(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    fn from_attribute(name: &str) -> Option<Self> {
        [
            Self::SendRecv,
            Self::SendOnly,
            Self::RecvOnly,
            Self::Inactive,
        ]
        .into_iter()
        .find(|d| d.attribute() == name)
    }

    /// RFC 3264 §8.4: a legacy hold (`c=0.0.0.0`) means the holder does not
    /// want to receive, so whatever it declared, it at most sends.
    fn without_receiving(self) -> Self {
        match self {
            Self::SendRecv | Self::SendOnly => Self::SendOnly,
            Self::RecvOnly | Self::Inactive => Self::Inactive,
        }
    }
}

/// The `o=` line (RFC 4566 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: u64,
    pub session_version: u64,
    /// The unicast address as written (may be a host name).
    pub address: String,
}

/// An `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` attribute (RFC 4566 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
}

/// An `a=fmtp:<pt> <parameters>` attribute (RFC 4566 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    pub payload_type: u8,
    pub parameters: String,
}

/// One `m=` section with the attributes that follow it (RFC 4566 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `application`…
    pub media: String,
    /// 0 means the stream is rejected or disabled (RFC 3264 §6).
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, `udp/BFCP`…
    pub protocol: String,
    /// The format list as written: payload types for RTP profiles.
    pub formats: Vec<String>,
    /// Media-level `c=` address, if any.
    pub connection: Option<IpAddr>,
    /// Media-level direction attribute, if any.
    pub direction: Option<Direction>,
    pub rtpmaps: Vec<RtpMap>,
    pub fmtps: Vec<Fmtp>,
    pub ptime_ms: Option<u32>,
    /// The first line of this section that could not be read (its port,
    /// an attribute, its `c=`). The section is then of no use to us, but
    /// the rest of the SDP is: RFC 3264 §6 has the answer reject such a
    /// stream with port 0, in its place, like any other we do not take.
    pub malformed: Option<SdpError>,
}

impl MediaDescription {
    /// RFC 3264 §6: a port of zero marks a rejected (or disabled) stream.
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// Whether this is an audio stream over plain RTP that we could use.
    fn is_usable_audio(&self) -> bool {
        self.media == "audio"
            && !self.is_rejected()
            && self.malformed.is_none()
            && RTP_PROFILES.contains(&self.protocol.as_str())
    }

    /// The payload types of the format list, in order, skipping anything
    /// that is not a payload type.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt <= PT_MAX)
    }

    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.rtpmaps.iter().find(|m| m.payload_type == payload_type)
    }

    /// The codec a payload type stands for: its rtpmap when there is one,
    /// else its static assignment (RFC 3551 §6).
    pub fn codec_of(&self, payload_type: u8) -> Option<AudioCodec> {
        match self.rtpmap(payload_type) {
            Some(map) => AudioCodec::from_rtpmap(map),
            None => AudioCodec::from_static_payload_type(payload_type),
        }
    }

    /// The payload type of `telephone-event/8000` (RFC 4733 §7.1.1), if it
    /// is both mapped and listed in the format list.
    pub fn telephone_event_payload_type(&self) -> Option<u8> {
        self.payload_types().find(|pt| {
            self.rtpmap(*pt).is_some_and(|m| {
                m.encoding.eq_ignore_ascii_case("telephone-event") && m.clock_rate == CLOCK_RATE_8K
            })
        })
    }
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    pub origin: Origin,
    pub session_name: String,
    /// Session-level `c=` address, if any.
    pub connection: Option<IpAddr>,
    /// Session-level direction attribute, if any.
    pub direction: Option<Direction>,
    pub media: Vec<MediaDescription>,
}

impl Sdp {
    /// Parses an SDP body. Lines may end in CRLF or LF alone; errors name the
    /// 1-based line number and its text.
    pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
        parse::parse(body)
    }

    /// The address and port an audio stream's RTP goes to: its media-level
    /// `c=`, else the session-level one (RFC 4566 §5.7).
    pub fn rtp_address(&self, media: &MediaDescription) -> Option<SocketAddr> {
        media
            .connection
            .or(self.connection)
            .map(|ip| SocketAddr::new(ip, media.port))
    }

    /// The direction a stream was declared with: media level, else session
    /// level, else sendrecv (RFC 3264 §5.1); a legacy `c=0.0.0.0` hold
    /// (RFC 3264 §8.4) removes the receiving half.
    pub fn direction_of(&self, media: &MediaDescription) -> Direction {
        let declared = media
            .direction
            .or(self.direction)
            .unwrap_or(Direction::SendRecv);
        match media.connection.or(self.connection) {
            Some(ip) if ip.is_unspecified() => declared.without_receiving(),
            _ => declared,
        }
    }

    /// The first audio stream over RTP with a non-zero port, and its index;
    /// when there is none, why: the error of the first malformed audio
    /// section, else [`SdpError::NoAudioStream`].
    fn usable_audio(&self) -> Result<(usize, &MediaDescription), SdpError> {
        if let Some(found) = self
            .media
            .iter()
            .enumerate()
            .find(|(_, m)| m.is_usable_audio())
        {
            return Ok(found);
        }
        Err(self
            .media
            .iter()
            .filter(|m| m.media == "audio")
            .find_map(|m| m.malformed.clone())
            .unwrap_or(SdpError::NoAudioStream))
    }
}

/// What offer/answer settled for the audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Index of the audio `m=` line in the offer (or answer) it came from.
    pub media_index: usize,
    /// Where to send RTP (`0.0.0.0:port` on a legacy hold).
    pub remote_rtp: SocketAddr,
    pub codec: AudioCodec,
    /// The payload type the peer uses for `codec`.
    pub codec_payload_type: u8,
    /// The peer's `telephone-event/8000` payload type (RFC 4733), if any.
    pub telephone_event_pt: Option<u8>,
    /// Our direction for the stream.
    pub direction: Direction,
}

/// Answers an offer (RFC 3264 §6.1): the first payload type in the offer's
/// order whose codec is in `supported` wins.
pub fn negotiate(offer: &Sdp, supported: &[AudioCodec]) -> Result<Negotiated, SdpError> {
    let (media_index, media) = offer.usable_audio()?;
    let (codec_payload_type, codec) = media
        .payload_types()
        .find_map(|pt| {
            media
                .codec_of(pt)
                .filter(|c| supported.contains(c))
                .map(|c| (pt, c))
        })
        .ok_or(SdpError::NoCommonCodec)?;
    let remote_rtp = offer
        .rtp_address(media)
        .ok_or(SdpError::NoConnectionAddress)?;
    Ok(Negotiated {
        media_index,
        remote_rtp,
        codec,
        codec_payload_type,
        telephone_event_pt: media.telephone_event_payload_type(),
        direction: offer.direction_of(media).answer_to(),
    })
}

/// Reads the answer to an offer made with [`build_offer`] (RFC 3264 §5,
/// e.g. the SDP in the ACK of an offerless INVITE). The answer lists a
/// subset of what we offered; its first G.711 payload type is the codec.
pub fn accept_answer(answer: &Sdp) -> Result<Negotiated, SdpError> {
    // Reading an answer is the same walk as reading an offer: its first
    // usable audio stream, its first G.711 payload type, and our direction is
    // the mirror of the direction it declares (RFC 3264 §6.1).
    negotiate(answer, &[AudioCodec::Pcmu, AudioCodec::Pcma])
}

/// Builds our answer to `offer` (RFC 3264 §6): one `m=` line per offered
/// stream, in the same order; the negotiated audio stream carries the codec
/// and telephone-event, every other stream is rejected with port 0.
pub fn build_answer(
    offer: &Sdp,
    session_id: u64,
    version: u64,
    local_ip: IpAddr,
    local_port: u16,
    negotiated: &Negotiated,
) -> Vec<u8> {
    let mut out = session_header(session_id, version, local_ip);
    for (index, media) in offer.media.iter().enumerate() {
        if index == negotiated.media_index {
            let audio = AudioSection {
                port: local_port,
                codecs: &[(negotiated.codec_payload_type, negotiated.codec)],
                telephone_event_pt: negotiated.telephone_event_pt,
                direction: negotiated.direction,
            };
            audio.write(&mut out);
        } else {
            // RFC 3264 §6: a rejected stream keeps its media, protocol and
            // (at least one) format, with port 0.
            let formats = if media.formats.is_empty() {
                String::from("0")
            } else {
                media.formats.join(" ")
            };
            push_line(
                &mut out,
                format_args!("m={} 0 {} {formats}", media.media, media.protocol),
            );
        }
    }
    out.into_bytes()
}

/// Builds our offer (RFC 3264 §5) for an offerless INVITE or a re-INVITE:
/// PCMU, PCMA and telephone-event 101, with `direction`.
pub fn build_offer(
    session_id: u64,
    version: u64,
    local_ip: IpAddr,
    local_port: u16,
    direction: Direction,
) -> Vec<u8> {
    let mut out = session_header(session_id, version, local_ip);
    let audio = AudioSection {
        port: local_port,
        codecs: &[(PT_PCMU, AudioCodec::Pcmu), (PT_PCMA, AudioCodec::Pcma)],
        telephone_event_pt: Some(OFFER_TELEPHONE_EVENT_PT),
        direction,
    };
    audio.write(&mut out);
    out.into_bytes()
}

/// The `m=audio` section of an SDP we send.
struct AudioSection<'a> {
    port: u16,
    codecs: &'a [(u8, AudioCodec)],
    telephone_event_pt: Option<u8>,
    direction: Direction,
}

impl AudioSection<'_> {
    fn write(&self, out: &mut String) {
        let mut formats: Vec<String> = self.codecs.iter().map(|(pt, _)| pt.to_string()).collect();
        formats.extend(self.telephone_event_pt.map(|pt| pt.to_string()));
        push_line(
            out,
            format_args!("m=audio {} RTP/AVP {}", self.port, formats.join(" ")),
        );
        for (pt, codec) in self.codecs {
            push_line(
                out,
                format_args!("a=rtpmap:{pt} {}/{CLOCK_RATE_8K}", codec.encoding_name()),
            );
        }
        if let Some(pt) = self.telephone_event_pt {
            push_line(
                out,
                format_args!("a=rtpmap:{pt} telephone-event/{CLOCK_RATE_8K}"),
            );
            push_line(out, format_args!("a=fmtp:{pt} {TELEPHONE_EVENTS}"));
        }
        push_line(out, format_args!("a=ptime:{PTIME_MS}"));
        push_line(out, format_args!("a={}", self.direction.attribute()));
    }
}

/// `v=`, `o=`, `s=`, `c=` and `t=` (RFC 4566 §5 order).
fn session_header(session_id: u64, version: u64, local_ip: IpAddr) -> String {
    let mut out = String::new();
    let address = address_field(local_ip);
    push_line(&mut out, format_args!("v=0"));
    push_line(
        &mut out,
        format_args!("o={SDP_SESSION_NAME} {session_id} {version} {address}"),
    );
    push_line(&mut out, format_args!("s={SDP_SESSION_NAME}"));
    push_line(&mut out, format_args!("c={address}"));
    push_line(&mut out, format_args!("t=0 0"));
    out
}

/// `IN IP4 <addr>` or `IN IP6 <addr>` (RFC 4566 §5.7).
fn address_field(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("IN IP4 {v4}"),
        IpAddr::V6(v6) => format!("IN IP6 {v6}"),
    }
}

/// Appends one line ending in CRLF (RFC 4566 §5).
fn push_line(out: &mut String, line: std::fmt::Arguments<'_>) {
    out.write_fmt(line)
        .expect("writing to a String cannot fail");
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests;

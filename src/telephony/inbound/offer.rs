//! The SDP side of one inbound call (RFC 3264): reading the caller's offer
//! (its body type, RFC 3261 §8.2.3, then its SDP), our answer (or our
//! offer when the INVITE had none, §5), the answer that comes back in the
//! ACK, and re-INVITEs (hold and resume, §8.4); or the refusal each
//! failure gets. Pure: requests in, bytes and negotiated parameters out,
//! so each step is tested without a peer.

use std::fmt;
use std::net::SocketAddr;

use crate::media::{Codec, MediaDirection};
use crate::sip::sdp::{self, AudioCodec, Direction, Negotiated, Sdp, SdpError};
use crate::sip::{Request, StatusCode};

use super::super::content::{self, SDP};
use super::super::failure::CallFailure;

/// Codecs we answer with, in our order of preference for offers we make.
pub(crate) const SUPPORTED_CODECS: [AudioCodec; 2] = [AudioCodec::Pcmu, AudioCodec::Pcma];

/// What the caller offered and what we agreed on.
#[derive(Debug)]
pub(super) struct Offered {
    pub(super) sdp: Sdp,
    pub(super) negotiated: Negotiated,
}

/// Why an offer, in an INVITE or a re-INVITE, cannot be answered.
#[derive(Debug)]
pub(crate) enum OfferRefusal {
    /// The body is not SDP (415 with Accept, RFC 3261 §21.4.13).
    NotSdp,
    /// The SDP cannot be read.
    Unreadable(SdpError),
    /// No stream we can use or no common codec.
    NotAcceptable(SdpError),
}

impl OfferRefusal {
    pub(crate) fn failure(&self) -> CallFailure {
        match self {
            OfferRefusal::NotSdp => CallFailure::UnsupportedBody,
            OfferRefusal::Unreadable(_) => CallFailure::BadSdp,
            OfferRefusal::NotAcceptable(_) => CallFailure::NoCommonCodec,
        }
    }

    /// The refusal's status: 415, 400 or 488.
    pub(crate) fn status(&self) -> StatusCode {
        self.failure().status()
    }

    /// The headers that go with the refusal: Accept for a 415.
    pub(crate) fn headers(&self) -> Vec<(String, String)> {
        match self {
            OfferRefusal::NotSdp => content::accept_header(SDP),
            OfferRefusal::Unreadable(_) | OfferRefusal::NotAcceptable(_) => Vec::new(),
        }
    }
}

impl fmt::Display for OfferRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OfferRefusal::NotSdp => f.write_str("the body is not SDP"),
            OfferRefusal::Unreadable(err) => write!(f, "unreadable SDP offer: {err}"),
            OfferRefusal::NotAcceptable(err) => write!(f, "no usable audio: {err}"),
        }
    }
}

/// Reads the offer of an INVITE or a re-INVITE: `None` when it has no
/// body (RFC 3264 §5: our offer goes in the 200 and the answer comes in
/// the ACK).
pub(super) fn read_offer(request: &Request) -> Result<Option<Offered>, OfferRefusal> {
    if request.body().is_empty() {
        return Ok(None);
    }
    if content::is_unsupported(request, SDP) {
        return Err(OfferRefusal::NotSdp);
    }
    let sdp = Sdp::parse(request.body()).map_err(OfferRefusal::Unreadable)?;
    let negotiated = sdp::negotiate(&sdp, &SUPPORTED_CODECS).map_err(|err| {
        // A malformed audio section (the only one) makes the SDP unreadable
        // to us; a readable one without G.711 is not acceptable here.
        if err.is_malformed() {
            OfferRefusal::Unreadable(err)
        } else {
            OfferRefusal::NotAcceptable(err)
        }
    })?;
    Ok(Some(Offered { sdp, negotiated }))
}

/// Reads the SDP answer of an ACK to our offer (RFC 3264 §5).
pub(crate) fn read_ack_answer(body: &[u8]) -> Result<Negotiated, CallFailure> {
    let answer = Sdp::parse(body).map_err(|_| CallFailure::BadSdp)?;
    sdp::accept_answer(&answer).map_err(|_| CallFailure::BadSdp)
}

/// Our side of the call's session description: the origin's session id and
/// version (RFC 4566 §5.2: the version grows with every change) and the
/// address our RTP socket listens on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalMedia {
    session_id: u64,
    version: u64,
    rtp: SocketAddr,
}

/// What a re-INVITE comes to: our SDP, and the new parameters when the
/// offer changed them (an offerless re-INVITE changes nothing until its ACK).
#[derive(Debug)]
pub(crate) struct ReInviteAnswer {
    pub(crate) body: Vec<u8>,
    pub(crate) negotiated: Option<Negotiated>,
}

impl LocalMedia {
    pub(crate) fn new(session_id: u64, rtp: SocketAddr) -> LocalMedia {
        LocalMedia {
            session_id,
            version: 1,
            rtp,
        }
    }

    /// The SDP of our 200 to the INVITE: the answer to its offer, or our
    /// offer when it had none.
    pub(super) fn first_body(&self, offered: Option<&Offered>) -> Vec<u8> {
        let (ip, port) = (self.rtp.ip(), self.rtp.port());
        match offered {
            Some(offered) => sdp::build_answer(
                &offered.sdp,
                self.session_id,
                self.version,
                ip,
                port,
                &offered.negotiated,
            ),
            None => sdp::build_offer(self.session_id, self.version, ip, port, Direction::SendRecv),
        }
    }

    /// Our offer in an INVITE we send (to an operator's phone): PCMU, PCMA
    /// and telephone-event, both ways.
    pub(crate) fn offer_body(&self) -> Vec<u8> {
        let (ip, port) = (self.rtp.ip(), self.rtp.port());
        sdp::build_offer(self.session_id, self.version, ip, port, Direction::SendRecv)
    }

    /// Answers a re-INVITE (RFC 3264 §8): one without a body gets our
    /// offer (§5), a readable one its answer; one we cannot answer its
    /// refusal (415, 400 or 488), and the session stays as it was.
    pub(crate) fn answer_reinvite(
        &mut self,
        reinvite: &Request,
    ) -> Result<ReInviteAnswer, OfferRefusal> {
        let (ip, port) = (self.rtp.ip(), self.rtp.port());
        let Some(offered) = read_offer(reinvite)? else {
            self.version += 1;
            let body =
                sdp::build_offer(self.session_id, self.version, ip, port, Direction::SendRecv);
            return Ok(ReInviteAnswer {
                body,
                negotiated: None,
            });
        };
        self.version += 1;
        let Offered {
            sdp: offer,
            negotiated,
        } = offered;
        let body = sdp::build_answer(&offer, self.session_id, self.version, ip, port, &negotiated);
        Ok(ReInviteAnswer {
            body,
            negotiated: Some(negotiated),
        })
    }
}

/// The media layer's codec for a negotiated one.
pub(crate) fn media_codec(codec: AudioCodec) -> Codec {
    match codec {
        AudioCodec::Pcmu => Codec::Pcmu,
        AudioCodec::Pcma => Codec::Pcma,
    }
}

/// Our direction of the stream, for the media session (RFC 3264 §5.1). A
/// legacy hold (`c=0.0.0.0`, RFC 3264 §8.4) is answered `recvonly`, but a
/// peer of RFC 2543's time often stops sending too: it is taken as
/// inactive, so that its silence does not end the call.
pub(crate) fn media_direction(negotiated: &Negotiated) -> MediaDirection {
    match negotiated.direction {
        Direction::SendRecv => MediaDirection::SendRecv,
        Direction::SendOnly => MediaDirection::SendOnly,
        Direction::RecvOnly if negotiated.remote_rtp.ip().is_unspecified() => {
            MediaDirection::Inactive
        }
        Direction::RecvOnly => MediaDirection::RecvOnly,
        Direction::Inactive => MediaDirection::Inactive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Transport, parse_request};

    const OFFER: &str = "v=0\r\no=caller 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\n\
        t=0 0\r\nm=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

    /// An INVITE whose body is `body`, of `content_type` when given.
    fn typed(content_type: Option<&str>, body: &str) -> Request {
        let content_type = content_type
            .map(|value| format!("Content-Type: {value}\r\n"))
            .unwrap_or_default();
        let text = format!(
            "INVITE sip:4008@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKoffer\r\n\
             From: <sip:caller@192.0.2.7>;tag=caller\r\n\
             To: <sip:4008@127.0.0.1>\r\n\
             Call-ID: offer-test\r\n\
             CSeq: 1 INVITE\r\n\
             {content_type}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let source = "192.0.2.7:5060".parse().expect("address");
        parse_request(text.as_bytes(), source, Transport::Udp).expect("test request parses")
    }

    /// An INVITE (or re-INVITE) with `body` as SDP; no body when empty.
    fn invite(body: &str) -> Request {
        typed(Some("application/sdp").filter(|_| !body.is_empty()), body)
    }

    fn failure(request: &Request) -> Option<CallFailure> {
        read_offer(request).err().map(|refusal| refusal.failure())
    }

    fn local() -> LocalMedia {
        LocalMedia::new(42, "127.0.0.1:30000".parse().expect("address"))
    }

    fn text(body: &[u8]) -> &str {
        std::str::from_utf8(body).expect("SDP is text")
    }

    fn without_g711() -> String {
        OFFER
            .replace("8 0 101", "18")
            .replace("a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n", "")
    }

    #[test]
    fn an_offer_is_negotiated_with_the_callers_first_common_codec() {
        let offered = read_offer(&invite(OFFER))
            .expect("readable")
            .expect("an offer");
        assert_eq!(offered.negotiated.codec, AudioCodec::Pcma);
        assert_eq!(offered.negotiated.telephone_event_pt, Some(101));
        assert_eq!(offered.negotiated.remote_rtp.port(), 40000);
        let body = local().first_body(Some(&offered));
        assert!(
            text(&body).contains("m=audio 30000 RTP/AVP 8 101"),
            "{}",
            text(&body)
        );
    }

    #[test]
    fn an_offerless_invite_gets_our_offer_and_the_ack_answer_is_read() {
        assert!(read_offer(&invite("")).expect("no offer is fine").is_none());
        let body = local().first_body(None);
        assert!(text(&body).contains("a=sendrecv"));
        let answer = OFFER.replace("8 0 101", "0 101");
        let negotiated = read_ack_answer(answer.as_bytes()).expect("usable answer");
        assert_eq!(negotiated.codec, AudioCodec::Pcmu);
        assert_eq!(read_ack_answer(b"junk").err(), Some(CallFailure::BadSdp));
    }

    #[test]
    fn unreadable_offers_and_offers_without_our_codecs_are_refused_with_their_failure() {
        assert_eq!(failure(&invite("not sdp")), Some(CallFailure::BadSdp));
        assert_eq!(
            failure(&invite(&without_g711())),
            Some(CallFailure::NoCommonCodec)
        );
        // The only audio stream malformed: the SDP is unreadable to us
        // (400), not merely without a codec of ours (488).
        let broken = OFFER.replace("m=audio 40000", "m=audio 70000");
        assert_eq!(failure(&invite(&broken)), Some(CallFailure::BadSdp));
    }

    #[test]
    fn a_body_that_is_not_sdp_is_refused_415_with_accept() {
        let refusal =
            read_offer(&typed(Some("text/plain"), "please pick up")).expect_err("not SDP");
        assert_eq!(refusal.failure(), CallFailure::UnsupportedBody);
        assert_eq!(refusal.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            refusal.headers(),
            [("Accept".to_owned(), "application/sdp".to_owned())]
        );
        // Parameters and case do not matter; a body without Content-Type
        // is read as SDP.
        let upper = typed(Some("Application/SDP; charset=utf-8"), OFFER);
        assert!(read_offer(&upper).is_ok_and(|offered| offered.is_some()));
        assert!(read_offer(&typed(None, OFFER)).is_ok_and(|offered| offered.is_some()));
    }

    #[test]
    fn a_hold_reinvite_is_answered_recvonly_and_each_answer_raises_the_version() {
        let mut media = local();
        let hold = OFFER.replace("a=sendrecv", "a=sendonly");
        let answer = media.answer_reinvite(&invite(&hold)).expect("answered");
        assert!(text(&answer.body).contains("a=recvonly"));
        assert!(
            text(&answer.body).contains(" 42 2 IN IP4"),
            "{}",
            text(&answer.body)
        );
        let negotiated = answer.negotiated.expect("new parameters");
        assert_eq!(media_direction(&negotiated), MediaDirection::RecvOnly);
        let legacy = OFFER.replace("c=IN IP4 192.0.2.7", "c=IN IP4 0.0.0.0");
        let legacy = media.answer_reinvite(&invite(&legacy)).expect("answered");
        let negotiated = legacy.negotiated.expect("new parameters");
        assert_eq!(media_direction(&negotiated), MediaDirection::Inactive);
        let resume = media.answer_reinvite(&invite(OFFER)).expect("answered");
        assert!(text(&resume.body).contains(" 42 4 IN IP4"));
        let offerless = media.answer_reinvite(&invite("")).expect("answered");
        assert!(offerless.negotiated.is_none());
        assert!(text(&offerless.body).contains(" 42 5 IN IP4"));
    }

    #[test]
    fn a_bad_reinvite_leaves_the_session_as_it_was() {
        let mut media = local();
        let mut status = |request: Request| {
            media
                .answer_reinvite(&request)
                .err()
                .map(|refusal| refusal.status())
        };
        assert_eq!(status(invite("junk")), Some(StatusCode::BAD_REQUEST));
        assert_eq!(
            status(invite(&without_g711())),
            Some(StatusCode::NOT_ACCEPTABLE_HERE)
        );
        assert_eq!(
            status(typed(Some("text/plain"), "hold please")),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        let next = media.answer_reinvite(&invite(OFFER)).expect("answered");
        assert!(text(&next.body).contains(" 42 2 IN IP4"));
    }
}

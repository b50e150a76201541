//! The SDP side of one inbound call (RFC 3264): reading the caller's offer,
//! our answer (or our offer when the INVITE had none, §5), the answer that
//! comes back in the ACK, and re-INVITEs (hold and resume, §8.4). Pure:
//! bytes in, bytes and negotiated parameters out, so each step is tested
//! without a peer.

use std::net::SocketAddr;

use crate::media::{Codec, MediaDirection};
use crate::sip::StatusCode;
use crate::sip::sdp::{self, AudioCodec, Direction, Negotiated, Sdp};

use super::super::failure::CallFailure;

/// Codecs we answer with, in our order of preference for offers we make.
pub(crate) const SUPPORTED_CODECS: [AudioCodec; 2] = [AudioCodec::Pcmu, AudioCodec::Pcma];

/// What the caller offered in the INVITE and what we agreed on.
#[derive(Debug)]
pub(super) struct Offered {
    pub(super) sdp: Sdp,
    pub(super) negotiated: Negotiated,
}

/// Reads the INVITE's offer: `None` for an offerless INVITE (our offer goes
/// in the 200 and the answer comes in the ACK).
pub(super) fn read_offer(body: &[u8]) -> Result<Option<Offered>, CallFailure> {
    if body.is_empty() {
        return Ok(None);
    }
    let sdp = Sdp::parse(body).map_err(|_| CallFailure::BadSdp)?;
    let negotiated =
        sdp::negotiate(&sdp, &SUPPORTED_CODECS).map_err(|_| CallFailure::NoCommonCodec)?;
    Ok(Some(Offered { sdp, negotiated }))
}

/// Reads the SDP answer of an ACK to our offer (RFC 3264 §5).
pub(super) fn read_ack_answer(body: &[u8]) -> Result<Negotiated, CallFailure> {
    let answer = Sdp::parse(body).map_err(|_| CallFailure::BadSdp)?;
    sdp::accept_answer(&answer).map_err(|_| CallFailure::BadSdp)
}

/// Our side of the call's session description: the origin's session id and
/// version (RFC 4566 §5.2: the version grows with every change) and the
/// address our RTP socket listens on.
#[derive(Debug, Clone, Copy)]
pub(super) struct LocalMedia {
    session_id: u64,
    version: u64,
    rtp: SocketAddr,
}

/// What a re-INVITE comes to: our SDP, and the new parameters when the
/// offer changed them (an offerless re-INVITE changes nothing until its ACK).
#[derive(Debug)]
pub(super) struct ReInviteAnswer {
    pub(super) body: Vec<u8>,
    pub(super) negotiated: Option<Negotiated>,
}

impl LocalMedia {
    pub(super) fn new(session_id: u64, rtp: SocketAddr) -> LocalMedia {
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

    /// Answers a re-INVITE's body (RFC 3264 §8): an empty one gets our
    /// offer (§5), a readable one its answer, a bad one 400 and one with no
    /// codec of ours 488 (the session stays as it was).
    pub(super) fn answer_reinvite(&mut self, offer: &[u8]) -> Result<ReInviteAnswer, StatusCode> {
        let (ip, port) = (self.rtp.ip(), self.rtp.port());
        if offer.is_empty() {
            self.version += 1;
            let body =
                sdp::build_offer(self.session_id, self.version, ip, port, Direction::SendRecv);
            return Ok(ReInviteAnswer {
                body,
                negotiated: None,
            });
        }
        let offer = Sdp::parse(offer).map_err(|_| StatusCode::BAD_REQUEST)?;
        let negotiated = sdp::negotiate(&offer, &SUPPORTED_CODECS)
            .map_err(|_| StatusCode::NOT_ACCEPTABLE_HERE)?;
        self.version += 1;
        let body = sdp::build_answer(&offer, self.session_id, self.version, ip, port, &negotiated);
        Ok(ReInviteAnswer {
            body,
            negotiated: Some(negotiated),
        })
    }
}

/// The media layer's codec for a negotiated one.
pub(super) fn media_codec(codec: AudioCodec) -> Codec {
    match codec {
        AudioCodec::Pcmu => Codec::Pcmu,
        AudioCodec::Pcma => Codec::Pcma,
    }
}

/// Our direction of the stream, for the media session (RFC 3264 §5.1). A
/// legacy hold (`c=0.0.0.0`, RFC 3264 §8.4) is answered `recvonly`, but a
/// peer of RFC 2543's time often stops sending too: it is taken as
/// inactive, so that its silence does not end the call.
pub(super) fn media_direction(negotiated: &Negotiated) -> MediaDirection {
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

    const OFFER: &str = "v=0\r\no=caller 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\n\
        t=0 0\r\nm=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

    fn local() -> LocalMedia {
        LocalMedia::new(42, "127.0.0.1:30000".parse().expect("address"))
    }

    fn text(body: &[u8]) -> &str {
        std::str::from_utf8(body).expect("SDP is text")
    }

    #[test]
    fn an_offer_is_negotiated_with_the_callers_first_common_codec() {
        let offered = read_offer(OFFER.as_bytes())
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
        assert!(read_offer(b"").expect("no offer is fine").is_none());
        let body = local().first_body(None);
        assert!(text(&body).contains("a=sendrecv"));
        let answer = OFFER.replace("8 0 101", "0 101");
        let negotiated = read_ack_answer(answer.as_bytes()).expect("usable answer");
        assert_eq!(negotiated.codec, AudioCodec::Pcmu);
        assert_eq!(read_ack_answer(b"junk").err(), Some(CallFailure::BadSdp));
    }

    #[test]
    fn unreadable_offers_and_offers_without_our_codecs_are_refused_with_their_failure() {
        assert_eq!(read_offer(b"not sdp").err(), Some(CallFailure::BadSdp));
        let g729 = OFFER
            .replace("8 0 101", "18")
            .replace("a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n", "");
        assert_eq!(
            read_offer(g729.as_bytes()).err(),
            Some(CallFailure::NoCommonCodec)
        );
    }

    #[test]
    fn a_hold_reinvite_is_answered_recvonly_and_each_answer_raises_the_version() {
        let mut media = local();
        let hold = OFFER.replace("a=sendrecv", "a=sendonly");
        let answer = media.answer_reinvite(hold.as_bytes()).expect("answered");
        assert!(text(&answer.body).contains("a=recvonly"));
        assert!(
            text(&answer.body).contains(" 42 2 IN IP4"),
            "{}",
            text(&answer.body)
        );
        let negotiated = answer.negotiated.expect("new parameters");
        assert_eq!(media_direction(&negotiated), MediaDirection::RecvOnly);
        let legacy = OFFER.replace("c=IN IP4 192.0.2.7", "c=IN IP4 0.0.0.0");
        let legacy = media.answer_reinvite(legacy.as_bytes()).expect("answered");
        let negotiated = legacy.negotiated.expect("new parameters");
        assert_eq!(media_direction(&negotiated), MediaDirection::Inactive);
        let resume = media.answer_reinvite(OFFER.as_bytes()).expect("answered");
        assert!(text(&resume.body).contains(" 42 4 IN IP4"));
        let offerless = media.answer_reinvite(b"").expect("answered");
        assert!(offerless.negotiated.is_none());
        assert!(text(&offerless.body).contains(" 42 5 IN IP4"));
    }

    #[test]
    fn a_bad_reinvite_leaves_the_session_as_it_was() {
        let mut media = local();
        assert_eq!(
            media.answer_reinvite(b"junk").err(),
            Some(StatusCode::BAD_REQUEST)
        );
        let g729 = OFFER
            .replace("8 0 101", "18")
            .replace("a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n", "");
        assert_eq!(
            media.answer_reinvite(g729.as_bytes()).err(),
            Some(StatusCode::NOT_ACCEPTABLE_HERE)
        );
        let next = media.answer_reinvite(OFFER.as_bytes()).expect("answered");
        assert!(text(&next.body).contains(" 42 2 IN IP4"));
    }
}

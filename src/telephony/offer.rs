//! Reading the caller's offer, in an INVITE or a re-INVITE: its body type
//! (RFC 3261 §8.2.3), its SDP (RFC 4566) and the codec we answer with
//! (RFC 3264 §6), or the refusal each failure gets.

use crate::sip::sdp::{self, AudioCodec, Negotiated, Sdp, SdpError};
use crate::sip::{Request, StatusCode};

use super::content::{self, SDP};
use super::failure::CallFailure;

/// Codecs we answer with, in our order of preference for offers we make.
pub(crate) const SUPPORTED_CODECS: [AudioCodec; 2] = [AudioCodec::Pcmu, AudioCodec::Pcma];

/// An offer we can answer.
#[derive(Debug)]
pub(crate) struct Offer {
    pub(crate) sdp: Sdp,
    pub(crate) negotiated: Negotiated,
}

/// Why an offer cannot be answered.
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

    pub(crate) fn status(&self) -> StatusCode {
        self.failure().status()
    }

    /// The headers that go with the refusal: Accept for a 415.
    pub(crate) fn headers(&self) -> Vec<(String, String)> {
        match self {
            OfferRefusal::NotSdp => content::accept_header(SDP),
            _ => Vec::new(),
        }
    }
}

impl std::fmt::Display for OfferRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OfferRefusal::NotSdp => f.write_str("the body is not SDP"),
            OfferRefusal::Unreadable(err) => write!(f, "unreadable SDP offer: {err}"),
            OfferRefusal::NotAcceptable(err) => write!(f, "no usable audio: {err}"),
        }
    }
}

/// The offer in `request`, `None` when it has no body (RFC 3264 §5: we
/// offer, and the answer comes in the ACK).
pub(crate) fn read_offer(request: &Request) -> Result<Option<Offer>, OfferRefusal> {
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
    Ok(Some(Offer { sdp, negotiated }))
}

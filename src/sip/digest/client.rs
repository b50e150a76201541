//! The challenged side: the Authorization (or Proxy-Authorization) value
//! that answers a 401/407 (RFC 3261 §22.2–§22.3, RFC 7616 §3.4), for our
//! outbound trunks and for tests of the server.
//!
//! SHA-256 is chosen when offered, else MD5 (RFC 8760 §2.4). A challenge
//! without `qop` is answered the RFC 2069 way, as old carrier equipment
//! still sends such challenges; one offering only `auth-int` is refused.

use super::params::{self, DigestParams};
use super::{Algorithm, Ha1, QOP_AUTH, ResponseInput, SCHEME, push_quoted, response_digest};

/// What a challenge could not be answered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("no Digest challenge with MD5 or SHA-256 that we can answer")]
    NoUsableChallenge,
}

/// The request being authorised and the client's choices for it.
#[derive(Debug, Clone, Copy)]
pub struct ClientRequest<'a> {
    pub method: &'a str,
    /// The Request-URI, copied into `uri=`.
    pub uri: &'a str,
    /// A fresh unpredictable value per challenge (RFC 7616 §3.4).
    pub cnonce: &'a str,
    /// Requests sent with this nonce so far, this one included: 1 first.
    pub nc: u32,
}

/// One challenge we can answer.
struct Offer<'a> {
    params: DigestParams<'a>,
    algorithm: Algorithm,
    qop_auth: bool,
}

/// Read one challenge; `None` when we cannot answer it.
fn offer<'a>(params: DigestParams<'a>) -> Option<Offer<'a>> {
    params.realm.as_ref()?;
    params.nonce.as_ref()?;
    let algorithm = match params.algorithm.as_deref() {
        None => Algorithm::Md5,
        Some(token) => Algorithm::parse(token)?,
    };
    let qop_auth = match params.qop.as_deref() {
        None => false,
        Some(list) => {
            // RFC 7616 §3.3: qop is a quoted list of tokens.
            if !list
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case(QOP_AUTH))
            {
                return None;
            }
            true
        }
    };
    Some(Offer {
        params,
        algorithm,
        qop_auth,
    })
}

/// Every challenge we can answer in these header values, in order.
fn offers<'h>(challenges: impl IntoIterator<Item = &'h str>) -> Vec<Offer<'h>> {
    let mut found = Vec::new();
    for value in challenges {
        let mut rest = Some(value);
        while let Some(text) = rest.take() {
            let Ok((scheme, mut params)) = params::scheme(text) else {
                break;
            };
            let collected = DigestParams::collect(&mut params);
            rest = params.next_challenge();
            if let Ok(collected) = collected
                && scheme.eq_ignore_ascii_case(SCHEME)
                && let Some(offer) = offer(collected)
            {
                found.push(offer);
            }
        }
    }
    found
}

/// The credentials value answering the best of `challenges` (all the
/// WWW-Authenticate or Proxy-Authenticate values of the response).
pub fn authorization<'h>(
    challenges: impl IntoIterator<Item = &'h str>,
    username: &str,
    password: &str,
    request: ClientRequest<'_>,
) -> Result<String, DigestError> {
    let offers = offers(challenges);
    let chosen = offers
        .iter()
        .find(|o| o.algorithm == Algorithm::Sha256)
        .or_else(|| offers.first())
        .ok_or(DigestError::NoUsableChallenge)?;
    let realm = chosen.params.realm.as_deref().unwrap_or_default();
    let nonce = chosen.params.nonce.as_deref().unwrap_or_default();
    let ha1 = Ha1::compute(chosen.algorithm, username, realm, password);
    let nc = format!("{:08x}", request.nc);
    let qop_auth = chosen.qop_auth.then_some((nc.as_str(), request.cnonce));
    let response = response_digest(
        &ha1,
        &ResponseInput {
            method: request.method,
            uri: request.uri,
            nonce,
            qop_auth,
        },
    );
    let mut out = String::with_capacity(320);
    out.push_str(SCHEME);
    for (name, value) in [
        (" username=", username),
        (", realm=", realm),
        (", nonce=", nonce),
        (", uri=", request.uri),
        (", response=", response.as_str()),
    ] {
        out.push_str(name);
        push_quoted(&mut out, value);
    }
    out.push_str(", algorithm=");
    out.push_str(chosen.algorithm.token());
    if let Some((nc, cnonce)) = qop_auth {
        out.push_str(", cnonce=");
        push_quoted(&mut out, cnonce);
        // RFC 3261 §25.1 message-qop and nonce-count: tokens, not quoted.
        out.push_str(", qop=auth, nc=");
        out.push_str(nc);
    }
    if let Some(opaque) = chosen.params.opaque.as_deref() {
        out.push_str(", opaque=");
        push_quoted(&mut out, opaque);
    }
    Ok(out)
}

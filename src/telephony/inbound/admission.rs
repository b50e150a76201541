//! Whether an INVITE is a hotline call, before anything is spent on it:
//! it must come from a trusted trunk and dial a hotline number, which
//! selects the community; the caller is read from P-Asserted-Identity or
//! From and normalised with the community's area code. Pure: the request's
//! parts and the config in, the admitted call or the refusal out.

use std::net::SocketAddr;

use crate::desk::{self, AreaCode};
use crate::sip::Request;

use super::super::config::{CommunityConfig, HotlineConfig};
use super::super::failure::CallFailure;

/// An INVITE the hotline takes.
#[derive(Debug, Clone)]
pub(super) struct Admitted {
    pub(super) community: CommunityConfig,
    /// The dialled number as received (Request-URI user).
    pub(super) dialled: String,
    /// The caller number as received.
    pub(super) caller_raw: String,
    /// The caller in E.164, when it reads as a phone number.
    pub(super) caller: Option<String>,
    /// The community's area code, completing local landline numbers.
    pub(super) area_code: Option<AreaCode>,
}

/// The caller: P-Asserted-Identity when the trunk sends it, else From.
pub(super) fn caller_of(request: &Request) -> String {
    request
        .p_asserted_identity_user()
        .or_else(|| request.from_user().map(str::to_string))
        .unwrap_or_default()
}

/// Admits an INVITE or says why not (RFC 3261 §8.2: 403 for a source we
/// do not serve, 404 for a number that is not ours).
pub(super) fn admit(hotline: &HotlineConfig, request: &Request) -> Result<Admitted, CallFailure> {
    admit_parts(
        hotline,
        request.source(),
        request.request_uri_user().unwrap_or_default(),
        caller_of(request),
    )
}

fn admit_parts(
    hotline: &HotlineConfig,
    source: SocketAddr,
    dialled: &str,
    caller_raw: String,
) -> Result<Admitted, CallFailure> {
    if !hotline.is_trusted(source.ip()) {
        return Err(CallFailure::UntrustedSource);
    }
    let community = hotline
        .community_for(dialled)
        .cloned()
        .ok_or(CallFailure::UnknownNumber)?;
    let area_code = community
        .area_code
        .as_deref()
        .and_then(|code| AreaCode::parse(code).ok());
    let caller = desk::normalise(&caller_raw, area_code.as_ref())
        .ok()
        .map(|number| number.number().to_string());
    Ok(Admitted {
        community,
        dialled: dialled.to_string(),
        caller_raw,
        caller,
        area_code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hotline() -> HotlineConfig {
        toml::from_str(
            r#"
            answer_delay = "0s"
            trusted_sources = ["192.0.2.0/24"]
            [[communities]]
            code = "JF"
            name = "俊发城"
            numbers = ["96888"]
            area_code = "0871"
            "#,
        )
        .expect("hotline config")
    }

    fn source(ip: &str) -> SocketAddr {
        format!("{ip}:5060").parse().expect("address")
    }

    #[test]
    fn a_trusted_call_to_a_hotline_number_is_admitted_with_its_community() {
        let admitted = admit_parts(
            &hotline(),
            source("192.0.2.9"),
            "96888",
            "13800138000".into(),
        )
        .expect("admitted");
        assert_eq!(admitted.community.code, "JF");
        assert_eq!(admitted.caller.as_deref(), Some("+8613800138000"));
        assert_eq!(admitted.caller_raw, "13800138000");
    }

    #[test]
    fn a_local_landline_is_completed_with_the_communitys_area_code() {
        let admitted = admit_parts(&hotline(), source("192.0.2.9"), "96888", "63110000".into())
            .expect("admitted");
        assert_eq!(admitted.caller.as_deref(), Some("+8687163110000"));
    }

    #[test]
    fn an_anonymous_caller_is_admitted_without_a_number() {
        let admitted = admit_parts(&hotline(), source("192.0.2.9"), "96888", "anonymous".into())
            .expect("admitted");
        assert_eq!(admitted.caller, None);
    }

    #[test]
    fn untrusted_sources_and_other_numbers_are_refused_with_their_failure() {
        let refused = admit_parts(&hotline(), source("198.51.100.1"), "96888", String::new());
        assert_eq!(refused.err(), Some(CallFailure::UntrustedSource));
        let refused = admit_parts(&hotline(), source("192.0.2.9"), "110", String::new());
        assert_eq!(refused.err(), Some(CallFailure::UnknownNumber));
    }
}

//! The requests we originate outside a dialog (RFC 3261 §8.1.1): what the
//! TU asks for ([`Target`], [`Party`]), checked before anything is sent,
//! and the request built from it once the endpoint knows the address the
//! peer reaches us at. Sans-IO; knows no transaction.

use std::net::SocketAddr;

use super::super::dialog::{DialogKey, new_tag};
use super::super::message::{Method, OutgoingRequest, is_token, new_branch, random_token};
use super::super::{SipError, Transport};

/// Where a request we originate goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The next hop the request is sent to (we resolve no names).
    pub addr: SocketAddr,
    pub transport: Transport,
    /// The Request-URI (§8.1.1.1), e.g. `sip:8001@192.168.1.20:5062`.
    pub uri: String,
}

/// The From or the To of a request we originate (§8.1.1.2, §8.1.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Shown by the peer's phone (quoted for us).
    pub display_name: Option<String>,
    pub uri: String,
}

impl Party {
    pub fn new(uri: impl Into<String>) -> Party {
        Party {
            display_name: None,
            uri: uri.into(),
        }
    }

    pub fn with_display_name(mut self, name: impl Into<String>) -> Party {
        self.display_name = Some(name.into());
        self
    }

    /// `"Display" <uri>`, the name a quoted-string (§25.1: `"` and `\`
    /// escaped, line breaks dropped).
    fn name_addr(&self) -> String {
        match &self.display_name {
            Some(name) => {
                let quoted: String = name
                    .chars()
                    .filter(|c| *c != '\r' && *c != '\n')
                    .flat_map(|c| match c {
                        '"' | '\\' => vec!['\\', c],
                        other => vec![other],
                    })
                    .collect();
                format!("\"{quoted}\" <{}>", self.uri)
            }
            None => format!("<{}>", self.uri),
        }
    }
}

/// A request the TU asked for, checked, with the identifiers its handle
/// chose (so that it knows its Call-ID and its transaction at once).
#[derive(Debug, Clone)]
pub(crate) struct NewRequest {
    pub(super) method: Method,
    pub(super) target: Target,
    from: Party,
    to: Party,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
    pub(super) call_id: String,
    local_tag: String,
    pub(super) branch: String,
    cseq: u32,
}

/// The first CSeq of a request outside a dialog (§8.1.1.5: any number
/// below 2**31; a new Call-ID starts from 1).
const FIRST_CSEQ: u32 = 1;

impl NewRequest {
    /// Checks the URIs and header names (nothing of the TU's may break
    /// the message's syntax) and draws a Call-ID (§8.1.1.4), our From tag
    /// (§8.1.1.3) and a branch (§8.1.1.7).
    pub(super) fn new(
        method: Method,
        target: Target,
        (from, to): (Party, Party),
        headers: Vec<(String, String)>,
        body: Option<(String, Vec<u8>)>,
    ) -> Result<NewRequest, SipError> {
        for uri in [&target.uri, &from.uri, &to.uri] {
            if rsipstack::sip::parse_uri(uri).is_err() || uri.contains(['<', '>', '\r', '\n']) {
                return Err(SipError::InvalidUri { uri: uri.clone() });
            }
        }
        if let Some((name, _)) = headers.iter().find(|(name, _)| !is_token(name)) {
            return Err(SipError::InvalidHeader { name: name.clone() });
        }
        Ok(NewRequest {
            method,
            target,
            from,
            to,
            headers,
            body,
            call_id: format!("{}{}", random_token(), random_token()),
            local_tag: new_tag(),
            branch: new_branch(),
            cseq: FIRST_CSEQ,
        })
    }

    /// The same request again with credentials (RFC 3261 §22.2): same
    /// Call-ID, From tag and To, the CSeq one higher, a new branch (a new
    /// transaction), and `credentials` in place of any earlier value of
    /// that header.
    pub(super) fn with_credentials(&self, (name, value): (String, String)) -> NewRequest {
        let mut retry = self.clone();
        retry
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        retry.headers.push((name, value));
        retry.branch = new_branch();
        retry.cseq = self.cseq + 1;
        retry
    }

    /// The Request-URI, which the credentials cover (`uri=`).
    pub(super) fn uri(&self) -> &str {
        &self.target.uri
    }

    pub(super) fn method_name(&self) -> &str {
        self.method.as_str()
    }

    /// The dialog an INVITE would make: its Call-ID and our tag.
    pub(super) fn dialog(&self) -> DialogKey {
        DialogKey {
            call_id: self.call_id.clone(),
            local_tag: self.local_tag.clone(),
        }
    }

    pub(super) fn peer(&self) -> (SocketAddr, Transport) {
        (self.target.addr, self.target.transport)
    }

    /// The request (§8.1.1), `local_addr` being where the peer reaches
    /// us: Via with our branch and rport (RFC 3581), and for an INVITE a
    /// Contact (§8.1.1.8).
    pub(super) fn build(&self, local_addr: SocketAddr, user_agent: &str) -> OutgoingRequest {
        let transport = self.target.transport;
        let mut extra = Vec::with_capacity(self.headers.len() + 2);
        if self.method == Method::Invite {
            extra.push(("Contact".to_owned(), contact(local_addr, transport)));
        }
        extra.push(("User-Agent".to_owned(), user_agent.to_owned()));
        extra.extend(self.headers.iter().cloned());
        OutgoingRequest {
            method: self.method.clone(),
            uri: self.target.uri.clone(),
            via: format!(
                "SIP/2.0/{transport} {local_addr};branch={};rport",
                self.branch
            ),
            branch: self.branch.clone(),
            from: format!("{};tag={}", self.from.name_addr(), self.local_tag),
            to: self.to.name_addr(),
            call_id: self.call_id.clone(),
            cseq: self.cseq,
            routes: Vec::new(),
            extra,
            body: self.body.clone(),
        }
    }
}

/// Our Contact (§8.1.1.8, §12.1.1): the address the peer reaches us at,
/// with the transport.
pub(super) fn contact(local_addr: SocketAddr, transport: Transport) -> String {
    format!(
        "<sip:{local_addr};transport={}>",
        transport.as_str().to_ascii_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            addr: "192.0.2.20:5062".parse().expect("address"),
            transport: Transport::Udp,
            uri: "sip:8001@192.0.2.20:5062".to_owned(),
        }
    }

    fn parties() -> (Party, Party) {
        (
            Party::new("sip:4008@hotline.example").with_display_name("物业 \"热线\""),
            Party::new("sip:8001@192.0.2.20"),
        )
    }

    #[test]
    fn an_invite_has_the_request_uri_our_tag_a_contact_and_the_offer() {
        let sdp = Some(("application/sdp".to_owned(), b"v=0\r\n".to_vec()));
        let extra = vec![("X-Call".to_owned(), "42".to_owned())];
        let new = NewRequest::new(Method::Invite, target(), parties(), extra, sdp)
            .expect("valid request");
        let local = "192.0.2.1:5060".parse().expect("address");
        let text = String::from_utf8(new.build(local, "hotline/test").to_bytes()).expect("utf-8");
        assert!(
            text.starts_with("INVITE sip:8001@192.0.2.20:5062 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains(&format!(
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch={};rport\r\n",
            new.branch
        )));
        assert!(text.contains(&format!(
            "From: \"物业 \\\"热线\\\"\" <sip:4008@hotline.example>;tag={}\r\n",
            new.dialog().local_tag
        )));
        assert!(text.contains("To: <sip:8001@192.0.2.20>\r\n"));
        assert!(text.contains(&format!("Call-ID: {}\r\n", new.call_id)));
        assert!(text.contains("CSeq: 1 INVITE\r\n"));
        assert!(text.contains("Contact: <sip:192.0.2.1:5060;transport=udp>\r\n"));
        assert!(text.contains("X-Call: 42\r\n"));
        assert!(
            text.ends_with("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n")
        );
    }

    #[test]
    fn a_uri_or_header_name_that_would_break_the_message_is_refused() {
        let mut bad = target();
        bad.uri = "sip:8001@192.0.2.20>\r\nX: y".to_owned();
        assert!(matches!(
            NewRequest::new(Method::Options, bad, parties(), Vec::new(), None),
            Err(SipError::InvalidUri { .. })
        ));
        let headers = vec![("Bad Name".to_owned(), "x".to_owned())];
        assert!(matches!(
            NewRequest::new(Method::Options, target(), parties(), headers, None),
            Err(SipError::InvalidHeader { .. })
        ));
    }
}

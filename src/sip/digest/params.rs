//! Reading challenge and credentials values (RFC 7235 §2.1, RFC 3261
//! §25.1): `scheme param=value, param="quoted, \"value\"", …`.
//!
//! Names are case-insensitive, whitespace may surround `=` and `,`, quoted
//! strings may hold commas and backslash escapes. Values borrow from the
//! header unless they had escapes. Junk is an error, never a panic: the
//! parser only slices at ASCII delimiters, which are char boundaries.

use std::borrow::Cow;

/// Why a challenge or credentials value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParamError {
    #[error("no auth-scheme")]
    NoScheme,
    #[error("a parameter without a name")]
    NoName,
    #[error("a parameter without `=`")]
    NoEquals,
    #[error("a parameter without a value")]
    NoValue,
    #[error("an unterminated quoted string")]
    Unterminated,
    #[error("junk after a parameter value")]
    Junk,
    #[error("a parameter given twice")]
    Duplicate,
}

/// RFC 7230 §3.2.6 tchar (the same set as RFC 3261 §25.1 token, plus `^`
/// and `|`), which is also what scheme and parameter names are.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Split a value into its auth-scheme and the parameters after it.
pub(crate) fn scheme(value: &str) -> Result<(&str, Params<'_>), ParamError> {
    let value = value.trim_start_matches([' ', '\t']);
    let end = value
        .bytes()
        .position(|b| !is_tchar(b))
        .unwrap_or(value.len());
    if end == 0 || value.as_bytes().get(end).is_some_and(|b| !is_ows(*b)) {
        return Err(ParamError::NoScheme);
    }
    Ok((&value[..end], Params::new(&value[end..])))
}

/// The `name=value` pairs of one challenge or credentials. Stops at the
/// end, at the first error, or where a second challenge starts in the same
/// value (RFC 7235 §4.1 allows a list); [`Params::next_challenge`] then
/// says where.
pub(crate) struct Params<'a> {
    text: &'a str,
    pos: usize,
    done: bool,
    next_challenge: Option<usize>,
}

impl<'a> Params<'a> {
    fn new(text: &'a str) -> Params<'a> {
        Params {
            text,
            pos: 0,
            done: false,
            next_challenge: None,
        }
    }

    /// The rest of the value from a second challenge on, once iteration
    /// stopped there.
    pub(crate) fn next_challenge(&self) -> Option<&'a str> {
        self.next_challenge.map(|start| &self.text[start..])
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn parse_one(&mut self) -> Result<Option<(&'a str, Cow<'a, str>)>, ParamError> {
        self.skip_while(|b| is_ows(b) || b == b',');
        if self.peek().is_none() {
            return Ok(None);
        }
        let name_start = self.pos;
        if self.skip_while(is_tchar) == 0 {
            return Err(ParamError::NoName);
        }
        let name = &self.text[name_start..self.pos];
        let spaces = self.skip_while(is_ows);
        match self.peek() {
            Some(b'=') => self.pos += 1,
            Some(b) if spaces > 0 && is_tchar(b) => {
                // `name` was the scheme of the next challenge.
                self.next_challenge = Some(name_start);
                return Ok(None);
            }
            _ => return Err(ParamError::NoEquals),
        }
        self.skip_while(is_ows);
        let value = match self.peek() {
            Some(b'"') => self.quoted()?,
            _ => self.token()?,
        };
        self.skip_while(is_ows);
        match self.peek() {
            None | Some(b',') => Ok(Some((name, value))),
            Some(_) => Err(ParamError::Junk),
        }
    }

    /// A token value; leniently anything up to a comma or whitespace, as
    /// some peers send a URI or a base64 nonce unquoted.
    fn token(&mut self) -> Result<Cow<'a, str>, ParamError> {
        let start = self.pos;
        if self.skip_while(|b| !is_ows(b) && b != b',' && b != b'"') == 0 {
            return Err(ParamError::NoValue);
        }
        Ok(Cow::Borrowed(&self.text[start..self.pos]))
    }

    /// A quoted-string (RFC 3261 §25.1): `\` takes the next byte as is.
    fn quoted(&mut self) -> Result<Cow<'a, str>, ParamError> {
        self.pos += 1;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut unescaped: Option<Vec<u8>> = None;
        loop {
            let b = *bytes.get(self.pos).ok_or(ParamError::Unterminated)?;
            match b {
                b'"' => break,
                b'\\' => {
                    let escaped = *bytes.get(self.pos + 1).ok_or(ParamError::Unterminated)?;
                    unescaped
                        .get_or_insert_with(|| bytes[start..self.pos].to_vec())
                        .push(escaped);
                    self.pos += 2;
                    continue;
                }
                _ => {
                    if let Some(out) = unescaped.as_mut() {
                        out.push(b);
                    }
                }
            }
            self.pos += 1;
        }
        let end = self.pos;
        self.pos += 1;
        match unescaped {
            None => Ok(Cow::Borrowed(&self.text[start..end])),
            // Dropping ASCII backslashes from UTF-8 leaves UTF-8, but an
            // escaped byte inside a multi-byte character would not.
            Some(bytes) => String::from_utf8(bytes)
                .map(Cow::Owned)
                .map_err(|_| ParamError::Junk),
        }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<(&'a str, Cow<'a, str>), ParamError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.parse_one();
        if !matches!(item, Ok(Some(_))) {
            self.done = true;
        }
        item.transpose()
    }
}

/// The Digest parameters of a challenge (RFC 7616 §3.3) or credentials
/// (§3.4) that we use; others are ignored, as §3.3 and §3.4 ask.
#[derive(Debug, Default)]
pub(crate) struct DigestParams<'a> {
    pub(crate) realm: Option<Cow<'a, str>>,
    pub(crate) nonce: Option<Cow<'a, str>>,
    pub(crate) opaque: Option<Cow<'a, str>>,
    pub(crate) algorithm: Option<Cow<'a, str>>,
    pub(crate) qop: Option<Cow<'a, str>>,
    pub(crate) stale: Option<Cow<'a, str>>,
    pub(crate) username: Option<Cow<'a, str>>,
    pub(crate) uri: Option<Cow<'a, str>>,
    pub(crate) response: Option<Cow<'a, str>>,
    pub(crate) cnonce: Option<Cow<'a, str>>,
    pub(crate) nc: Option<Cow<'a, str>>,
    pub(crate) userhash: Option<Cow<'a, str>>,
}

impl<'a> DigestParams<'a> {
    /// Collect the parameters; a parameter given twice is an error
    /// (RFC 7616 §3.4: each appears at most once).
    pub(crate) fn collect(params: &mut Params<'a>) -> Result<DigestParams<'a>, ParamError> {
        let mut out = DigestParams::default();
        for item in params {
            let (name, value) = item?;
            let Some(slot) = out.slot(name) else {
                continue;
            };
            if slot.replace(value).is_some() {
                return Err(ParamError::Duplicate);
            }
        }
        Ok(out)
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<Cow<'a, str>>> {
        let slots = [
            ("realm", &mut self.realm),
            ("nonce", &mut self.nonce),
            ("opaque", &mut self.opaque),
            ("algorithm", &mut self.algorithm),
            ("qop", &mut self.qop),
            ("stale", &mut self.stale),
            ("username", &mut self.username),
            ("uri", &mut self.uri),
            ("response", &mut self.response),
            ("cnonce", &mut self.cnonce),
            ("nc", &mut self.nc),
            ("userhash", &mut self.userhash),
        ];
        slots
            .into_iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, slot)| slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(value: &str) -> Result<Vec<(String, String)>, ParamError> {
        let (_, params) = scheme(value)?;
        params
            .map(|item| item.map(|(n, v)| (n.to_owned(), v.into_owned())))
            .collect()
    }

    #[test]
    fn quoted_values_keep_commas_and_lose_their_escapes() {
        let got = pairs(r#"Digest realm="a, \"b\" \\ c",nonce=xyz ,  qop="auth,auth-int""#)
            .expect("valid");
        assert_eq!(
            got,
            [
                ("realm".to_owned(), r#"a, "b" \ c"#.to_owned()),
                ("nonce".to_owned(), "xyz".to_owned()),
                ("qop".to_owned(), "auth,auth-int".to_owned()),
            ]
        );
    }

    #[test]
    fn whitespace_around_equals_and_commas_is_allowed() {
        let got = pairs("Digest  realm = \"r\" ,\tnc= 00000001 ,").expect("valid");
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], ("nc".to_owned(), "00000001".to_owned()));
    }

    #[test]
    fn names_are_matched_case_insensitively_and_duplicates_refused() {
        let (_, mut params) = scheme("digest REALM=\"r\", Nonce=\"n\"").expect("scheme");
        let digest = DigestParams::collect(&mut params).expect("valid");
        assert_eq!(digest.realm.as_deref(), Some("r"));
        assert_eq!(digest.nonce.as_deref(), Some("n"));
        let (_, mut params) = scheme("Digest realm=a, Realm=b").expect("scheme");
        assert_eq!(
            DigestParams::collect(&mut params).err(),
            Some(ParamError::Duplicate)
        );
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        for junk in [
            "",
            "   ",
            "\"Digest\"",
            "Digest realm",
            "Digest realm=",
            "Digest realm=\"open",
            "Digest realm=\"x\\",
            "Digest realm=\"x\"y",
            "Digest =x",
            "Digest realm=\"é\\",
            "Digest,realm=x",
        ] {
            let result = pairs(junk);
            assert!(result.is_err(), "{junk:?} gave {result:?}");
        }
    }

    #[test]
    fn a_second_challenge_in_the_same_value_is_found() {
        let value = "Digest realm=\"a\", nonce=\"1\", Digest realm=\"b\", nonce=\"2\"";
        let (name, mut params) = scheme(value).expect("scheme");
        assert_eq!(name, "Digest");
        let first = DigestParams::collect(&mut params).expect("first");
        assert_eq!(first.realm.as_deref(), Some("a"));
        let rest = params.next_challenge().expect("a second challenge");
        let (_, mut params) = scheme(rest).expect("second scheme");
        let second = DigestParams::collect(&mut params).expect("second");
        assert_eq!(second.nonce.as_deref(), Some("2"));
    }
}

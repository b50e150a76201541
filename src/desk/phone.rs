//! Phone numbers as owners give them and as trunks send them.
//!
//! Owns reading the usual Chinese shapes (`138-1234-5678`, `0871-6512 3456`,
//! `(0871)65123456`, `+86 871 65123456`, `…转8021`, `4008123123`, full-width
//! digits) into one canonical form: E.164 (ITU-T E.164) for mobiles and
//! landlines, the bare digits for service numbers (400/800, 95xxx, short
//! codes), which are not dialled with a country code. Also owns masking for
//! logs. Knows nothing of SIP URIs: the caller passes the user part.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::desk::{fullwidth, labels};

/// Country code of China (ITU-T E.164 assignment).
const CN: &str = "86";
/// International prefix when dialling out of China.
const INTERNATIONAL_PREFIX: &str = "00";
/// Trunk prefix before an area code (`0871`).
const TRUNK_PREFIX: char = '0';
/// Mobile numbers: 11 digits, `1[3-9]…` (MIIT numbering plan).
const MOBILE_LEN: usize = 11;
/// Local landline numbers: 7 or 8 digits, never starting with 0 or 1.
const LOCAL_MIN: usize = 7;
const LOCAL_MAX: usize = 8;
/// ITU-T E.164 §6.1: at most 15 digits after the `+`.
const E164_MAX_DIGITS: usize = 15;
/// Shortest international number we accept (country code + subscriber).
const E164_MIN_DIGITS: usize = 8;
/// Longest extension (分机号).
const EXTENSION_MAX: usize = 6;
/// 400 / 800 numbers are 10 digits.
const TOLL_FREE_LEN: usize = 10;
/// 95xxx / 96xxx service numbers: 5 or 6 digits.
const SERVICE_5_6: std::ops::RangeInclusive<usize> = 5..=6;
/// Short codes: 110, 12345, 10086.
const SHORT_CODE: std::ops::RangeInclusive<usize> = 3..=5;
/// Digits kept in clear at each end of a masked number.
const MASK_HEAD: usize = 3;
const MASK_TAIL: usize = 4;
/// Words that introduce an extension, lower-cased; `;ext=` is RFC 3966 §5.1.5.
const EXTENSION_MARKERS: &[&str] = &[
    ";ext=",
    "分机号",
    "分机",
    "分機",
    "转",
    "轉",
    "ext.",
    "ext",
    "x",
    "#",
    ",",
];

/// Why a phone number could not be read. Carries no digits of the number:
/// errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    #[error("the phone number is empty")]
    Empty,
    #[error("a phone number cannot contain `{ch}`")]
    InvalidCharacter { ch: char },
    #[error("`+` may only start a phone number")]
    MisplacedPlus,
    #[error("extension `{extension}` must be 1 to 6 digits")]
    BadExtension { extension: String },
    #[error("a {kind} number has no extension")]
    ExtensionNotAllowed { kind: PhoneKind },
    #[error("a {digits}-digit local number needs an area code and none is configured")]
    MissingAreaCode { digits: usize },
    #[error("`{area}` is not a Chinese area code")]
    InvalidAreaCode { area: String },
    #[error("a local landline number has 7 or 8 digits, not {digits}")]
    InvalidLocalNumber { digits: usize },
    #[error("{digits} digits match no mobile, landline or service number")]
    Unrecognised { digits: usize },
    #[error("not an E.164 number: {reason}")]
    InvalidE164 { reason: &'static str },
}

/// What sort of number it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// 手机
    Mobile,
    /// 固定电话 (possibly with an extension)
    Landline,
    /// 400/800, 95xxx, short codes: kept as dialled, not E.164.
    Service,
    /// A number outside China, kept in E.164.
    International,
}

impl PhoneKind {
    pub fn code(self) -> &'static str {
        match self {
            PhoneKind::Mobile => "mobile",
            PhoneKind::Landline => "landline",
            PhoneKind::Service => "service",
            PhoneKind::International => "international",
        }
    }

    pub fn label_zh(self) -> &'static str {
        labels::phone_kind(self)
    }
}

impl fmt::Display for PhoneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A number in E.164 form, `+8613812345678`. `Debug` shows it masked.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl E164 {
    /// Checks the canonical form: `+`, then 8 to 15 digits, not starting with 0.
    pub fn parse(value: &str) -> Result<Self, PhoneError> {
        let digits = value.strip_prefix('+').ok_or(PhoneError::InvalidE164 {
            reason: "it must start with +",
        })?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::InvalidE164 {
                reason: "only digits may follow the +",
            });
        }
        Self::from_digits(digits)
    }

    fn from_digits(digits: &str) -> Result<Self, PhoneError> {
        if !(E164_MIN_DIGITS..=E164_MAX_DIGITS).contains(&digits.len()) {
            return Err(PhoneError::InvalidE164 {
                reason: "it must have 8 to 15 digits",
            });
        }
        if digits.starts_with('0') {
            return Err(PhoneError::InvalidE164 {
                reason: "a country code never starts with 0",
            });
        }
        Ok(Self(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: `+86 138****5678`; the country code and the ends stay.
    pub fn mask(&self) -> String {
        let digits = &self.0[1..];
        match digits.strip_prefix(CN) {
            Some(national) => format!("+{CN} {}", mask_middle(national)),
            None => format!("+{}", mask_middle(digits)),
        }
    }
}

fn mask_middle(digits: &str) -> String {
    let head = if digits.len() > MASK_HEAD + MASK_TAIL {
        MASK_HEAD
    } else {
        0
    };
    let tail = MASK_TAIL.min(digits.len());
    let hidden = digits.len() - head - tail;
    format!(
        "{}{}{}",
        &digits[..head],
        "*".repeat(hidden),
        &digits[digits.len() - tail..]
    )
}

impl TryFrom<String> for E164 {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, PhoneError> {
        Self::parse(&value)
    }
}

impl From<E164> for String {
    fn from(number: E164) -> String {
        number.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("E164").field(&self.mask()).finish()
    }
}

/// A Chinese area code (区号), held without its trunk `0`: `871` for `0871`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

impl AreaCode {
    /// Reads `0871`, `871`, `010` or `10`.
    pub fn parse(value: &str) -> Result<Self, PhoneError> {
        let invalid = || PhoneError::InvalidAreaCode {
            area: value.to_owned(),
        };
        let digits = value.strip_prefix(TRUNK_PREFIX).unwrap_or(value);
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        match area_len(digits) {
            Some(len) if len == digits.len() => Ok(Self(digits.to_owned())),
            _ => Err(invalid()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AreaCode {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, PhoneError> {
        Self::parse(&value)
    }
}

impl From<AreaCode> for String {
    fn from(area: AreaCode) -> String {
        format!("{TRUNK_PREFIX}{}", area.0)
    }
}

/// Length of the area code at the start of a national number (without its
/// trunk 0): 2 digits for 10 (Beijing) and 2x, 3 digits for 3xx–9xx.
fn area_len(national: &str) -> Option<usize> {
    let bytes = national.as_bytes();
    match (bytes.first(), bytes.get(1)) {
        (Some(b'1'), Some(b'0')) | (Some(b'2'), Some(_)) => Some(2),
        (Some(b'3'..=b'9'), Some(_)) if bytes.len() >= 3 => Some(3),
        _ => None,
    }
}

/// The number once read.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Number {
    E164(E164),
    Service(String),
}

/// A phone number as received and in canonical form. `Debug` shows it masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NormalisedPhone {
    received: String,
    kind: PhoneKind,
    number: Number,
    extension: Option<String>,
}

impl NormalisedPhone {
    /// The text as received, trimmed (what the store keeps beside the number).
    pub fn received(&self) -> &str {
        &self.received
    }

    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// The E.164 number; `None` for service numbers.
    pub fn e164(&self) -> Option<&E164> {
        match &self.number {
            Number::E164(e164) => Some(e164),
            Number::Service(_) => None,
        }
    }

    /// The canonical number without extension: what archive lookups match on.
    pub fn number(&self) -> &str {
        match &self.number {
            Number::E164(e164) => e164.as_str(),
            Number::Service(digits) => digits,
        }
    }

    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// For logs: the number masked (service numbers are public and stay).
    pub fn mask(&self) -> String {
        match &self.number {
            Number::E164(e164) => e164.mask(),
            Number::Service(digits) => digits.clone(),
        }
    }
}

impl fmt::Display for NormalisedPhone {
    /// The canonical number, with `;ext=` (RFC 3966 §5.1.5) when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.number())?;
        match &self.extension {
            Some(ext) => write!(f, ";ext={ext}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for NormalisedPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NormalisedPhone")
            .field("kind", &self.kind)
            .field("number", &self.mask())
            .field("extension", &self.extension)
            .finish()
    }
}

/// Reads a phone number. A local landline number without area code gets
/// `default_area_code` (the community's); without one it is refused.
pub fn normalise(
    raw: &str,
    default_area_code: Option<&AreaCode>,
) -> Result<NormalisedPhone, PhoneError> {
    let received = raw.trim();
    if received.is_empty() {
        return Err(PhoneError::Empty);
    }
    let folded = fullwidth::fold_str(received).to_lowercase();
    let (main, explicit_extension) = split_extension(&folded)?;
    let shape = Shape::read(main)?;
    let (kind, number, extension) = match classify(&shape.digits, shape.plus, default_area_code) {
        Ok((kind, number)) => (kind, number, explicit_extension),
        // `0871-65123456-8021`: the last dash group is an extension when
        // the rest is a landline on its own.
        Err(err) => match (explicit_extension, shape.dash_tail()) {
            (None, Some((head, tail))) => match classify(head, shape.plus, default_area_code) {
                Ok((PhoneKind::Landline, number)) => {
                    (PhoneKind::Landline, number, Some(tail.to_owned()))
                }
                _ => return Err(err),
            },
            _ => return Err(err),
        },
    };
    if extension.is_some() && kind == PhoneKind::Mobile {
        return Err(PhoneError::ExtensionNotAllowed { kind });
    }
    Ok(NormalisedPhone {
        received: received.to_owned(),
        kind,
        number,
        extension,
    })
}

/// Splits `main转8021` at the earliest extension marker.
fn split_extension(folded: &str) -> Result<(&str, Option<String>), PhoneError> {
    let earliest = EXTENSION_MARKERS
        .iter()
        .filter_map(|marker| folded.find(marker).map(|at| (at, *marker)))
        .min_by_key(|(at, marker)| (*at, std::cmp::Reverse(marker.len())));
    let Some((at, marker)) = earliest else {
        return Ok((folded, None));
    };
    let extension: String = folded[at + marker.len()..]
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | ':' | '-' | '='))
        .collect();
    let valid = (1..=EXTENSION_MAX).contains(&extension.len())
        && extension.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(PhoneError::BadExtension { extension });
    }
    Ok((&folded[..at], Some(extension)))
}

/// The digits of a number and where its last dash group starts.
struct Shape {
    digits: String,
    plus: bool,
    /// Number of digits before the last `-`.
    last_dash: Option<usize>,
}

impl Shape {
    fn read(main: &str) -> Result<Self, PhoneError> {
        let mut shape = Shape {
            digits: String::with_capacity(main.len()),
            plus: false,
            last_dash: None,
        };
        for ch in main.chars() {
            match ch {
                '0'..='9' => shape.digits.push(ch),
                '+' if shape.plus || !shape.digits.is_empty() => {
                    return Err(PhoneError::MisplacedPlus);
                }
                '+' => shape.plus = true,
                '-' if !shape.digits.is_empty() => shape.last_dash = Some(shape.digits.len()),
                '-' | ' ' | '(' | ')' | '.' | '/' => {}
                _ => return Err(PhoneError::InvalidCharacter { ch }),
            }
        }
        if shape.digits.is_empty() {
            return Err(PhoneError::Unrecognised { digits: 0 });
        }
        Ok(shape)
    }

    /// The digits before and after the last dash, when what follows could be
    /// an extension.
    fn dash_tail(&self) -> Option<(&str, &str)> {
        let at = self.last_dash?;
        let (head, tail) = self.digits.split_at(at);
        (1..=EXTENSION_MAX)
            .contains(&tail.len())
            .then_some((head, tail))
    }
}

fn classify(
    digits: &str,
    plus: bool,
    area: Option<&AreaCode>,
) -> Result<(PhoneKind, Number), PhoneError> {
    if plus {
        return match digits.strip_prefix(CN) {
            Some(national) => classify_national(national, true, area),
            None => international(digits),
        };
    }
    if let Some(rest) = digits.strip_prefix(INTERNATIONAL_PREFIX) {
        return match rest.strip_prefix(CN) {
            Some(national) => classify_national(national, true, area),
            None => international(rest),
        };
    }
    // `8613812345678`, `8687165123456`: the country code without `+`. Only
    // when what follows is as long as a national number (9 to 11 digits),
    // so a local `86123456` stays local.
    if let Some(national) = digits.strip_prefix(CN)
        && (LOCAL_MIN + 2..=MOBILE_LEN).contains(&national.len())
    {
        return classify_national(national, true, area);
    }
    classify_national(digits, false, area)
}

/// A number inside China; `after_country_code` when `+86` was given, so a
/// bare local number is not possible.
fn classify_national(
    digits: &str,
    after_country_code: bool,
    area: Option<&AreaCode>,
) -> Result<(PhoneKind, Number), PhoneError> {
    if is_service(digits) {
        return Ok((PhoneKind::Service, Number::Service(digits.to_owned())));
    }
    // `0871…`, `+86 (0)871…`, and `0138…` (long-distance prefix before a mobile).
    if let Some(national) = digits.strip_prefix(TRUNK_PREFIX) {
        if is_mobile(national) {
            return chinese(PhoneKind::Mobile, national);
        }
        return landline(national);
    }
    if is_mobile(digits) {
        return chinese(PhoneKind::Mobile, digits);
    }
    if after_country_code {
        return landline(digits);
    }
    if is_local(digits) {
        return match area {
            Some(area) => chinese(PhoneKind::Landline, &format!("{}{digits}", area.0)),
            None => Err(PhoneError::MissingAreaCode {
                digits: digits.len(),
            }),
        };
    }
    Err(PhoneError::Unrecognised {
        digits: digits.len(),
    })
}

fn is_mobile(digits: &str) -> bool {
    let bytes = digits.as_bytes();
    bytes.len() == MOBILE_LEN && bytes[0] == b'1' && matches!(bytes[1], b'3'..=b'9')
}

fn is_local(digits: &str) -> bool {
    (LOCAL_MIN..=LOCAL_MAX).contains(&digits.len()) && matches!(digits.as_bytes()[0], b'2'..=b'9')
}

fn is_service(digits: &str) -> bool {
    let len = digits.len();
    ((digits.starts_with("400") || digits.starts_with("800")) && len == TOLL_FREE_LEN)
        || ((digits.starts_with("95") || digits.starts_with("96")) && SERVICE_5_6.contains(&len))
        || (digits.starts_with('1') && SHORT_CODE.contains(&len))
}

/// A national number without trunk 0: area code then local number.
fn landline(national: &str) -> Result<(PhoneKind, Number), PhoneError> {
    // `0400…`: no area code starts like a service number; reading it as one
    // would give an E.164 number that reads back as the service number.
    let area = area_len(national).filter(|_| !is_service(national));
    let Some(area) = area else {
        // The two digits that already rule out every area code.
        let shown = national.len().min(2);
        return Err(PhoneError::InvalidAreaCode {
            area: format!("{TRUNK_PREFIX}{}", &national[..shown]),
        });
    };
    let local = &national[area..];
    if !is_local(local) {
        return Err(PhoneError::InvalidLocalNumber {
            digits: local.len(),
        });
    }
    chinese(PhoneKind::Landline, national)
}

fn chinese(kind: PhoneKind, national: &str) -> Result<(PhoneKind, Number), PhoneError> {
    Ok((
        kind,
        Number::E164(E164::from_digits(&format!("{CN}{national}"))?),
    ))
}

fn international(digits: &str) -> Result<(PhoneKind, Number), PhoneError> {
    Ok((
        PhoneKind::International,
        Number::E164(E164::from_digits(digits)?),
    ))
}

#[cfg(test)]
mod tests;

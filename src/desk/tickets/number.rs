//! Work-order numbers: `JF-20261123-0007`.
//!
//! Owns the shape of a number (community code, business date, sequence) and
//! the business date of an instant in the configured time zone. The sequence
//! itself is the store's (a per-community, per-day counter); this module only
//! formats and checks it, so numbers stay unique across nodes sharing a store.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Separator between the three parts.
const SEPARATOR: char = '-';
/// `chrono` format of the date part.
const DATE_FORMAT: &str = "%Y%m%d";
/// Digits of the date part.
const DATE_LEN: usize = 8;
/// The sequence is zero-padded to at least this many digits.
const SEQ_MIN_WIDTH: usize = 4;
/// Community codes: 2 to 8 ASCII capitals or digits, starting with a capital.
const COMMUNITY_CODE_MIN_LEN: usize = 2;
const COMMUNITY_CODE_MAX_LEN: usize = 8;

/// Why a ticket number or one of its parts is not valid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TicketNoError {
    #[error("community code `{code}` must be 2 to 8 capitals or digits, starting with a capital")]
    InvalidCommunityCode { code: String },
    #[error("the sequence must be 1 or more")]
    ZeroSequence,
    #[error("ticket number `{value}` is not CODE-YYYYMMDD-NNNN")]
    Malformed { value: String },
    #[error("ticket number `{value}` has no valid date")]
    InvalidDate { value: String },
}

/// A community's short code (`JF`), the first part of its ticket numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommunityCode(String);

impl CommunityCode {
    pub fn new(code: &str) -> Result<Self, TicketNoError> {
        let mut chars = code.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_uppercase());
        let rest_ok = chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        let len_ok = (COMMUNITY_CODE_MIN_LEN..=COMMUNITY_CODE_MAX_LEN).contains(&code.len());
        if first_ok && rest_ok && len_ok {
            Ok(Self(code.to_owned()))
        } else {
            Err(TicketNoError::InvalidCommunityCode {
                code: code.to_owned(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CommunityCode {
    type Error = TicketNoError;
    fn try_from(code: String) -> Result<Self, TicketNoError> {
        Self::new(&code)
    }
}

impl From<CommunityCode> for String {
    fn from(code: CommunityCode) -> String {
        code.0
    }
}

impl fmt::Display for CommunityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The date an instant falls on in the business time zone: the date part of
/// a ticket number and the day of the store's counter.
pub fn business_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// A work-order number, `CODE-YYYYMMDD-NNNN`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TicketNo {
    community: CommunityCode,
    date: NaiveDate,
    seq: u32,
}

impl TicketNo {
    /// The number for the `seq`-th ticket (from 1) of `community` on `date`
    /// (a business date, see [`business_date`]).
    pub fn new(community: CommunityCode, date: NaiveDate, seq: u32) -> Result<Self, TicketNoError> {
        if seq == 0 {
            return Err(TicketNoError::ZeroSequence);
        }
        Ok(Self {
            community,
            date,
            seq,
        })
    }

    /// Reads a number as formatted by `Display`; anything else (lower case,
    /// missing padding, extra zeros) is refused so one ticket has one number.
    pub fn parse(value: &str) -> Result<Self, TicketNoError> {
        let malformed = || TicketNoError::Malformed {
            value: value.to_owned(),
        };
        let mut parts = value.split(SEPARATOR);
        let (Some(code), Some(date), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let community = CommunityCode::new(code).map_err(|_| malformed())?;
        if date.len() != DATE_LEN || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let date = NaiveDate::parse_from_str(date, DATE_FORMAT).map_err(|_| {
            TicketNoError::InvalidDate {
                value: value.to_owned(),
            }
        })?;
        if seq.len() < SEQ_MIN_WIDTH || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let seq: u32 = seq.parse().map_err(|_| malformed())?;
        let number = Self::new(community, date, seq).map_err(|_| malformed())?;
        if number.to_string() != value {
            return Err(malformed());
        }
        Ok(number)
    }

    pub fn community(&self) -> &CommunityCode {
        &self.community
    }

    pub fn date(&self) -> NaiveDate {
        self.date
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }
}

impl fmt::Display for TicketNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{SEPARATOR}{}{SEPARATOR}{:0width$}",
            self.community,
            self.date.format(DATE_FORMAT),
            self.seq,
            width = SEQ_MIN_WIDTH
        )
    }
}

impl FromStr for TicketNo {
    type Err = TicketNoError;
    fn from_str(value: &str) -> Result<Self, TicketNoError> {
        Self::parse(value)
    }
}

impl TryFrom<String> for TicketNo {
    type Error = TicketNoError;
    fn try_from(value: String) -> Result<Self, TicketNoError> {
        Self::parse(&value)
    }
}

impl From<TicketNo> for String {
    fn from(number: TicketNo) -> String {
        number.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Asia::Shanghai;

    fn jf() -> CommunityCode {
        CommunityCode::new("JF").expect("valid code")
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn a_number_is_formatted_with_a_padded_sequence() {
        let no = TicketNo::new(jf(), date(2026, 11, 23), 7).expect("valid");
        assert_eq!(no.to_string(), "JF-20261123-0007");
    }

    #[test]
    fn a_sequence_past_four_digits_widens_the_number() {
        let no = TicketNo::new(jf(), date(2026, 11, 23), 12345).expect("valid");
        assert_eq!(no.to_string(), "JF-20261123-12345");
        assert_eq!(TicketNo::parse("JF-20261123-12345").ok(), Some(no));
    }

    #[test]
    fn a_formatted_number_parses_back_to_its_parts() {
        let no = TicketNo::parse("JF2-20261123-0007").expect("valid");
        assert_eq!(no.community().as_str(), "JF2");
        assert_eq!(no.date(), date(2026, 11, 23));
        assert_eq!(no.seq(), 7);
        let json = serde_json::to_string(&no).expect("serialises");
        assert_eq!(json, "\"JF2-20261123-0007\"");
        let back: TicketNo = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, no);
    }

    #[test]
    fn malformed_numbers_are_refused() {
        for bad in [
            "",
            "JF",
            "JF-20261123",
            "jf-20261123-0007",
            "JF-2026112-0007",
            "JF-20261123-007",
            "JF-20261123-00007",
            "JF-20261123-0000",
            "JF-20261123-0007-1",
            "JF-2026-11-23-0007",
            "JF-20261123-00a7",
            "J-20261123-0007",
            "JF_X-20261123-0007",
            " JF-20261123-0007",
        ] {
            assert!(TicketNo::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn an_impossible_date_is_named_as_such() {
        assert_eq!(
            TicketNo::parse("JF-20260230-0001"),
            Err(TicketNoError::InvalidDate {
                value: "JF-20260230-0001".to_owned()
            })
        );
    }

    #[test]
    fn sequence_zero_and_bad_community_codes_are_refused() {
        assert_eq!(
            TicketNo::new(jf(), date(2026, 1, 1), 0),
            Err(TicketNoError::ZeroSequence)
        );
        for bad in ["", "J", "jf", "1JF", "JF-1", "ABCDEFGHI", "俊发"] {
            assert!(CommunityCode::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_business_date_follows_shanghai_not_utc() {
        // 2026-11-23 16:30 UTC is 00:30 on the 24th in Shanghai (UTC+8).
        let at = Utc
            .with_ymd_and_hms(2026, 11, 23, 16, 30, 0)
            .single()
            .expect("valid");
        assert_eq!(business_date(at, Shanghai), date(2026, 11, 24));
        assert_eq!(business_date(at, chrono_tz::UTC), date(2026, 11, 23));
        let no = TicketNo::new(jf(), business_date(at, Shanghai), 1).expect("valid");
        assert_eq!(no.to_string(), "JF-20261124-0001");
    }
}

//! Room addresses: building (楼栋) / entrance (单元) / room (房号).
//!
//! Owns reading the ways owners and archives write them (`3栋2单元1201`,
//! `3号楼2单元1201室`, `3-2-1201`, `B座1201`, `三栋二单元1201`, full-width
//! digits) and the one canonical form they are shown and matched in:
//! `3栋2单元1201`, or `3栋1201` without an entrance. Knows nothing of
//! communities or owners.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::desk::{fullwidth, labels};

/// Longest building or room designation, in characters.
const PART_MAX_LEN: usize = 8;
/// Highest entrance number.
const ENTRANCE_MAX: u16 = 99;

/// Why a room address could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RoomError {
    #[error("the room address is empty")]
    Empty,
    #[error("a room address cannot contain `{ch}`")]
    UnexpectedCharacter { ch: char },
    #[error("`{marker}` follows no number")]
    MarkerWithoutValue { marker: &'static str },
    #[error("`{marker}` is out of place")]
    MarkerOutOfPlace { marker: &'static str },
    #[error("the building is missing")]
    MissingBuilding,
    #[error("the room number is missing")]
    MissingRoom,
    #[error("{parts} parts; expected building, entrance (optional) and room")]
    TooManyParts { parts: usize },
    #[error("`{value}` is not a building (letters or digits, at most 8)")]
    InvalidBuilding { value: String },
    #[error("`{value}` is not an entrance (1 to 99)")]
    InvalidEntrance { value: String },
    #[error("`{value}` is not a room number (digits, optionally letters, at most 8)")]
    InvalidRoom { value: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Building,
    Entrance,
    RoomSuffix,
}

/// Words that end a part, longest first so `号楼` wins over `号`.
const MARKERS: &[(&str, Marker)] = &[
    ("号楼", Marker::Building),
    ("#楼", Marker::Building),
    ("單元", Marker::Entrance),
    ("单元", Marker::Entrance),
    ("栋", Marker::Building),
    ("棟", Marker::Building),
    ("幢", Marker::Building),
    ("座", Marker::Building),
    ("#", Marker::Building),
    ("室", Marker::RoomSuffix),
    ("号", Marker::RoomSuffix),
    ("房", Marker::RoomSuffix),
];

/// Characters between parts in the short form `3-2-1201`.
const SEPARATORS: &[char] = &['-', '/'];

/// Chinese numerals and their digit values; `十`/`百` are units.
const CHINESE_DIGITS: &[(char, u32)] = &[
    ('零', 0),
    ('〇', 0),
    ('一', 1),
    ('二', 2),
    ('两', 2),
    ('三', 3),
    ('四', 4),
    ('五', 5),
    ('六', 6),
    ('七', 7),
    ('八', 8),
    ('九', 9),
];
const TEN: char = '十';
const HUNDRED: char = '百';

/// A room in a community: `3栋2单元1201`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomAddress {
    building: String,
    entrance: Option<u16>,
    room: String,
}

impl RoomAddress {
    /// From parts already split (import columns): `("3", Some(2), "1201")`.
    pub fn new(building: &str, entrance: Option<u16>, room: &str) -> Result<Self, RoomError> {
        let building = building_value(&fold(building))?;
        if let Some(e) = entrance
            && !(1..=ENTRANCE_MAX).contains(&e)
        {
            return Err(RoomError::InvalidEntrance {
                value: e.to_string(),
            });
        }
        let room = room_value(&fold(room))?;
        Ok(Self {
            building,
            entrance,
            room,
        })
    }

    /// Reads the usual ways of writing an address.
    pub fn parse(text: &str) -> Result<Self, RoomError> {
        let text = fold(text);
        let segments = segments(&text)?;
        let (building, entrance, room) = match segments.as_slice() {
            [] => return Err(RoomError::Empty),
            [(_, Some(Marker::Building | Marker::Entrance))] => return Err(RoomError::MissingRoom),
            [_] => return Err(RoomError::MissingBuilding),
            [.., (_, Some(Marker::Building | Marker::Entrance))] => {
                return Err(RoomError::MissingRoom);
            }
            [(_, Some(Marker::Entrance)), _] => return Err(RoomError::MissingBuilding),
            [b, r] => (b, None, r),
            [b, e, r] => (b, Some(e), r),
            more => {
                return Err(RoomError::TooManyParts { parts: more.len() });
            }
        };
        expect_marker(building.1, Marker::Building)?;
        if let Some(entrance) = entrance {
            expect_marker(entrance.1, Marker::Entrance)?;
        }
        expect_marker(room.1, Marker::RoomSuffix)?;
        Ok(Self {
            building: building_value(&building.0)?,
            entrance: entrance.map(|e| entrance_value(&e.0)).transpose()?,
            room: room_value(&room.0)?,
        })
    }

    /// `3`, `B`.
    pub fn building(&self) -> &str {
        &self.building
    }

    pub fn entrance(&self) -> Option<u16> {
        self.entrance
    }

    /// `1201`.
    pub fn room(&self) -> &str {
        &self.room
    }
}

/// Full-width to ASCII, ASCII letters upper-cased, whitespace removed.
fn fold(text: &str) -> String {
    fullwidth::fold_str(text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn marker_text(marker: Marker) -> &'static str {
    match marker {
        Marker::Building => labels::BUILDING,
        Marker::Entrance => labels::ENTRANCE,
        Marker::RoomSuffix => "室",
    }
}

/// A part is allowed only its own marker (or none).
fn expect_marker(found: Option<Marker>, allowed: Marker) -> Result<(), RoomError> {
    match found {
        Some(marker) if marker != allowed => Err(RoomError::MarkerOutOfPlace {
            marker: marker_text(marker),
        }),
        _ => Ok(()),
    }
}

/// Splits `3号楼2单元1201室` into `[("3", 楼), ("2", 单元), ("1201", 室)]`.
fn segments(text: &str) -> Result<Vec<(String, Option<Marker>)>, RoomError> {
    let mut segments: Vec<(String, Option<Marker>)> = Vec::new();
    let mut value = String::new();
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        if segments
            .last()
            .is_some_and(|(_, m)| *m == Some(Marker::RoomSuffix))
        {
            // Nothing may follow 室/号.
            return Err(RoomError::MarkerOutOfPlace {
                marker: marker_text(Marker::RoomSuffix),
            });
        }
        if let Some((word, marker)) = MARKERS.iter().find(|(word, _)| rest.starts_with(word)) {
            if value.is_empty() {
                return Err(RoomError::MarkerWithoutValue { marker: word });
            }
            segments.push((std::mem::take(&mut value), Some(*marker)));
            rest = &rest[word.len()..];
            continue;
        }
        if SEPARATORS.contains(&ch) {
            if !value.is_empty() {
                segments.push((std::mem::take(&mut value), None));
            }
        } else if ch.is_ascii_alphanumeric() || is_chinese_numeral(ch) {
            value.push(ch);
        } else {
            return Err(RoomError::UnexpectedCharacter { ch });
        }
        rest = &rest[ch.len_utf8()..];
    }
    if !value.is_empty() {
        segments.push((value, None));
    }
    Ok(segments)
}

fn is_chinese_numeral(ch: char) -> bool {
    ch == TEN || ch == HUNDRED || CHINESE_DIGITS.iter().any(|(c, _)| *c == ch)
}

/// `三` → 3, `十二` → 12, `二十三` → 23, `一百零五` → 105, `一二〇一` → 1201.
fn chinese_number(text: &str) -> Option<u32> {
    let digit = |ch: char| {
        CHINESE_DIGITS
            .iter()
            .find(|(c, _)| *c == ch)
            .map(|(_, d)| *d)
    };
    if !text.contains([TEN, HUNDRED]) {
        return text
            .chars()
            .try_fold(0u32, |n, ch| n.checked_mul(10)?.checked_add(digit(ch)?));
    }
    let (mut total, mut current) = (0u32, 0u32);
    for ch in text.chars() {
        match ch {
            TEN => total += current.max(1) * 10,
            HUNDRED => total += current.max(1) * 100,
            _ => {
                current = digit(ch)?;
                continue;
            }
        }
        current = 0;
    }
    Some(total + current)
}

/// Digits with leading zeros dropped (`03` → `3`), or a Chinese number as digits.
fn numeric(text: &str) -> Option<String> {
    if text.chars().all(|c| c.is_ascii_digit()) {
        let trimmed = text.trim_start_matches('0');
        return (!trimmed.is_empty()).then(|| trimmed.to_owned());
    }
    chinese_number(text)
        .filter(|n| *n > 0)
        .map(|n| n.to_string())
}

fn building_value(text: &str) -> Result<String, RoomError> {
    let invalid = || RoomError::InvalidBuilding {
        value: text.to_owned(),
    };
    let value = if text.chars().all(|c| c.is_ascii_digit()) || !text.is_ascii() {
        numeric(text).ok_or_else(invalid)?
    } else if text.chars().all(|c| c.is_ascii_alphanumeric()) {
        text.to_owned()
    } else {
        return Err(invalid());
    };
    if value.is_empty() || value.len() > PART_MAX_LEN {
        return Err(invalid());
    }
    Ok(value)
}

fn entrance_value(text: &str) -> Result<u16, RoomError> {
    numeric(text)
        .and_then(|n| n.parse::<u16>().ok())
        .filter(|n| (1..=ENTRANCE_MAX).contains(n))
        .ok_or_else(|| RoomError::InvalidEntrance {
            value: text.to_owned(),
        })
}

fn room_value(text: &str) -> Result<String, RoomError> {
    let valid = !text.is_empty()
        && text.len() <= PART_MAX_LEN
        && text.chars().all(|c| c.is_ascii_alphanumeric())
        && text.chars().any(|c| c.is_ascii_digit());
    if valid {
        Ok(text.to_owned())
    } else {
        Err(RoomError::InvalidRoom {
            value: text.to_owned(),
        })
    }
}

impl fmt::Display for RoomAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.building, labels::BUILDING)?;
        if let Some(entrance) = self.entrance {
            write!(f, "{entrance}{}", labels::ENTRANCE)?;
        }
        f.write_str(&self.room)
    }
}

impl FromStr for RoomAddress {
    type Err = RoomError;
    fn from_str(text: &str) -> Result<Self, RoomError> {
        Self::parse(text)
    }
}

impl TryFrom<String> for RoomAddress {
    type Error = RoomError;
    fn try_from(text: String) -> Result<Self, RoomError> {
        Self::parse(&text)
    }
}

impl From<RoomAddress> for String {
    fn from(address: RoomAddress) -> String {
        address.to_string()
    }
}

#[cfg(test)]
mod tests;

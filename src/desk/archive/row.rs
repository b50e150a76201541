//! One row of an archive file: finding the header, reading a record by it,
//! and checking it (room with [`RoomAddress`], phones with [`normalise`]) —
//! or saying which column of which row is wrong, and why.
//!
//! Pure: no file, no store.

use std::fmt;

use serde::Serialize;

use super::Role;
use super::columns::{Column, role_from_cell};
use super::source::Record;
use crate::desk::{AreaCode, NormalisedPhone, PhoneError, RoomAddress, RoomError, normalise};

/// Fewest recognised header cells for a row to be the header (title rows
/// above the header, common in Excel exports, are skipped).
const HEADER_MIN_COLUMNS: usize = 3;
/// The character a decoder puts where the bytes were not valid text.
const REPLACEMENT: char = '\u{FFFD}';
/// Joins building, entrance and room cells into one address to parse.
const PART_SEPARATOR: &str = "-";

/// Why a row was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RejectReason {
    /// A required value is empty.
    Missing,
    /// The bytes are not text in the file's encoding.
    InvalidText,
    /// A cell holds a control character (U+0000 and the like), which no
    /// text of the archive may hold.
    ControlCharacter,
    Phone {
        #[serde(serialize_with = "as_text")]
        error: PhoneError,
    },
    Room {
        #[serde(serialize_with = "as_text")]
        error: RoomError,
    },
    UnknownRole {
        value: String,
    },
    /// Same person and room as an earlier row, but another role or note.
    Conflict {
        with_row: u64,
    },
}

fn as_text<S: serde::Serializer, E: fmt::Display>(error: &E, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(error)
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::Missing => f.write_str("the value is missing"),
            RejectReason::InvalidText => {
                f.write_str("the text is not valid in the file's encoding")
            }
            RejectReason::ControlCharacter => {
                f.write_str("单元格含有控制字符(如 U+0000),请删除后再导入")
            }
            RejectReason::Phone { error } => write!(f, "unreadable phone number: {error}"),
            RejectReason::Room { error } => write!(f, "unreadable room: {error}"),
            RejectReason::UnknownRole { value } => {
                write!(
                    f,
                    "unknown role `{value}` (业主/owner, 租户/tenant, 家属/household)"
                )
            }
            RejectReason::Conflict { with_row } => write!(
                f,
                "same person and room as row {with_row}, but says otherwise"
            ),
        }
    }
}

/// A refused row: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedRow {
    pub row: u64,
    pub column: Column,
    pub reason: RejectReason,
}

impl fmt::Display for RejectedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}, {}: {}", self.row, self.column, self.reason)
    }
}

/// The header row: which field holds which column.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    positions: [Option<usize>; Column::ALL.len()],
    /// The header cells as written, for the rejected file.
    pub cells: Vec<String>,
    /// Whether the file speaks Chinese (the rejected file answers in kind).
    pub chinese: bool,
}

impl Header {
    /// The header, when `record` names enough known columns.
    pub fn detect(record: &Record) -> Option<Header> {
        let mut positions = [None; Column::ALL.len()];
        let mut chinese = false;
        for (at, cell) in record.fields.iter().enumerate() {
            if let Some(column) = Column::from_header(cell) {
                let slot = &mut positions[column as usize];
                if slot.is_none() {
                    *slot = Some(at);
                    chinese |= !cell.is_ascii();
                }
            }
        }
        let found = positions.iter().flatten().count();
        (found >= HEADER_MIN_COLUMNS).then(|| Header {
            positions,
            cells: record.fields.clone(),
            chinese,
        })
    }

    pub fn has(&self, column: Column) -> bool {
        self.positions[column as usize].is_some()
    }

    fn cell<'r>(&self, record: &'r Record, column: Column) -> &'r str {
        self.positions[column as usize]
            .and_then(|at| record.fields.get(at))
            .map_or("", String::as_str)
    }

    /// The header text of `column` as the file wrote it.
    pub fn name_of(&self, column: Column) -> &str {
        self.positions[column as usize]
            .and_then(|at| self.cells.get(at))
            .map_or(column.label_zh(), String::as_str)
    }
}

/// A row that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValidRow {
    pub community: String,
    pub address: RoomAddress,
    pub name: String,
    pub role: Role,
    pub note: String,
    pub mobile: Option<NormalisedPhone>,
    pub phone: Option<NormalisedPhone>,
}

impl ValidRow {
    /// The person's identity beside community and name (see the module doc
    /// of `desk::archive`).
    pub fn identity(&self) -> String {
        match self.mobile.as_ref().or(self.phone.as_ref()) {
            Some(phone) => format!("tel:{phone}"),
            None => format!("room:{}", self.address),
        }
    }
}

/// Checks one record against the header.
pub(crate) fn validate(
    header: &Header,
    record: &Record,
    default_community: Option<&str>,
    area: Option<&AreaCode>,
) -> Result<ValidRow, RejectedRow> {
    let reject = |column, reason| RejectedRow {
        row: record.row,
        column,
        reason,
    };
    for column in Column::ALL {
        let cell = header.cell(record, column);
        if cell.contains(REPLACEMENT) {
            return Err(reject(column, RejectReason::InvalidText));
        }
        if crate::desk::plain_text::has_control_character(cell) {
            return Err(reject(column, RejectReason::ControlCharacter));
        }
    }
    let required = |column| match header.cell(record, column) {
        "" => Err(reject(column, RejectReason::Missing)),
        value => Ok(value),
    };
    let community = match (header.cell(record, Column::Community), default_community) {
        ("", Some(default)) => default,
        _ => required(Column::Community)?,
    };
    let address = address(header, record).map_err(|(column, reason)| reject(column, reason))?;
    let name = required(Column::Name)?;
    let role_cell = required(Column::Role)?;
    let role = role_from_cell(role_cell).ok_or_else(|| {
        reject(
            Column::Role,
            RejectReason::UnknownRole {
                value: role_cell.to_owned(),
            },
        )
    })?;
    let phone_in = |column| match header.cell(record, column) {
        "" => Ok(None),
        raw => normalise(raw, area)
            .map(Some)
            .map_err(|error| reject(column, RejectReason::Phone { error })),
    };
    Ok(ValidRow {
        community: community.to_owned(),
        address,
        name: name.to_owned(),
        role,
        note: header.cell(record, Column::Note).to_owned(),
        mobile: phone_in(Column::Mobile)?,
        phone: phone_in(Column::Phone)?,
    })
}

/// The room from the building, entrance and room cells, or from the room
/// cell alone when it holds the whole address (`3栋2单元1201`).
fn address(header: &Header, record: &Record) -> Result<RoomAddress, (Column, RejectReason)> {
    let room = header.cell(record, Column::Room);
    if room.is_empty() {
        return Err((Column::Room, RejectReason::Missing));
    }
    let building = header.cell(record, Column::Building);
    let text = if building.is_empty() {
        room.to_owned()
    } else {
        [building, header.cell(record, Column::Entrance), room]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(PART_SEPARATOR)
    };
    RoomAddress::parse(&text).map_err(|error| {
        let column = match error {
            RoomError::MissingBuilding | RoomError::InvalidBuilding { .. }
                if header.has(Column::Building) =>
            {
                Column::Building
            }
            RoomError::InvalidEntrance { .. } if header.has(Column::Entrance) => Column::Entrance,
            _ => Column::Room,
        };
        (column, RejectReason::Room { error })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(row: u64, fields: &[&str]) -> Record {
        Record {
            row,
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    fn header() -> Header {
        Header::detect(&record(
            1,
            &[
                "小区", "楼栋", "单元", "房号", "姓名", "身份", "手机", "电话", "备注",
            ],
        ))
        .expect("header")
    }

    #[test]
    fn a_title_row_is_not_a_header_but_the_column_row_is() {
        assert!(Header::detect(&record(1, &["金福花园业主档案", "", ""])).is_none());
        let english = Header::detect(&record(2, &["Name", "Room", "Role"])).expect("header");
        assert!(!english.chinese && english.has(Column::Name));
        assert!(header().chinese);
    }

    #[test]
    fn a_good_row_is_read_with_its_parts_and_phones() {
        let row = validate(
            &header(),
            &record(
                2,
                &[
                    "金福花园",
                    "3栋",
                    "2",
                    "1201室",
                    "张三",
                    "业主",
                    "138 1234 5678",
                    "65123456转8021",
                    "",
                ],
            ),
            None,
            Some(&AreaCode::parse("0871").expect("area")),
        )
        .expect("valid");
        assert_eq!(row.address.to_string(), "3栋2单元1201");
        assert_eq!(row.identity(), "tel:+8613812345678");
        assert_eq!(
            row.phone.expect("phone").to_string(),
            "+8687165123456;ext=8021"
        );
    }

    #[test]
    fn a_row_without_phone_is_identified_by_its_room_and_the_room_cell_may_hold_it_all() {
        let header = Header::detect(&record(1, &["房号", "姓名", "身份"])).expect("header");
        let row = validate(
            &header,
            &record(2, &["3号楼2单元1201", "李四", "租户"]),
            Some("金福花园"),
            None,
        )
        .expect("valid");
        assert_eq!(row.identity(), "room:3栋2单元1201");
        assert_eq!(row.community, "金福花园");
    }

    #[test]
    fn each_bad_cell_is_named_with_its_row_column_and_reason() {
        let bad = |fields: &[&str]| {
            validate(&header(), &record(7, fields), None, None).expect_err("rejected")
        };
        let missing_room = bad(&["金福花园", "3", "2", "", "张三", "业主", "", "", ""]);
        assert_eq!((missing_room.row, missing_room.column), (7, Column::Room));
        assert_eq!(missing_room.reason, RejectReason::Missing);
        let phone = bad(&[
            "金福花园",
            "3",
            "2",
            "1201",
            "张三",
            "业主",
            "138-1234-567",
            "",
            "",
        ]);
        assert_eq!(phone.column, Column::Mobile);
        assert!(matches!(phone.reason, RejectReason::Phone { .. }));
        let role = bad(&["金福花园", "3", "2", "1201", "张三", "保姆", "", "", ""]);
        assert_eq!(role.column, Column::Role);
        let entrance = bad(&["金福花园", "3", "200", "1201", "张三", "业主", "", "", ""]);
        assert_eq!(entrance.column, Column::Entrance);
        let text = bad(&[
            "金福花园",
            "3",
            "2",
            "1201",
            "张\u{FFFD}",
            "业主",
            "",
            "",
            "",
        ]);
        assert_eq!(
            (text.column, text.reason),
            (Column::Name, RejectReason::InvalidText)
        );
    }
}

//! The owner archive (业主档案): communities (小区), rooms (楼栋 / 单元 /
//! 房号), people (业主 owner, 租户 tenant, 家属 household member) in rooms,
//! and their phones; imported from the administrator's CSV or Excel file,
//! exported back, and looked up by phone (the screen pop), room or name.
//!
//! Owns reading import files (header detection in Chinese or English, UTF-8
//! with or without BOM else GBK, xlsx), checking each row with
//! [`normalise`](crate::desk::normalise) and [`RoomAddress`], the rejected
//! file, and the identity rules below. Must not know SQL (the store does
//! the writing) nor terminals beyond the optional progress bar the CLI asks
//! for ([`terminal_progress`]).
//!
//! # Identity rules
//!
//! - A **community** is found by its name or its code. A name the archive
//!   does not know creates the community with a code derived from the name
//!   (`C` + 7 hex digits of its SHA-256); [`Store::upsert_community`] (the
//!   `[[hotline.communities]]` sync at start) later gives it its configured
//!   code when the names match.
//! - A **room** is (community, building, entrance, room) in canonical form
//!   (`3栋2单元1201`; entrance 0 when the address has none).
//! - A **person** is (community, name, identity): the identity is the first
//!   phone of the row (手机 if given, else 电话, with its extension), else
//!   the room. So a family sharing a line are several people with the same
//!   number, and a person with the same phone in two rows of different rooms
//!   is one person in two rooms.
//! - A **residence** (one file row) is (person, room) with a role and a note.
//!   A later row with the same key and another role, or another mobile or
//!   landline than an earlier row gives, is rejected as a conflict with that
//!   row. One that differs only in its note is not: the notes are kept
//!   joined with "；" in file order, each once. The same row twice is
//!   unchanged (on a fresh archive too); a repeat giving a phone the earlier
//!   rows do not adds it.
//!   Re-importing a row with a changed role or note updates the residence; a
//!   new phone for a known person is added (counted as an update). Nothing is
//!   ever deleted by an import, and a phone keeps the text first received.
//!
//! [`Store::upsert_community`]: crate::store::Store::upsert_community

mod columns;
mod edit;
mod export;
mod import;
mod lookup;
mod progress;
mod reader;
mod row;
mod source;

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;
use thiserror::Error;

use crate::desk::{PhoneError, RoomError};
use crate::store::StoreError;

pub use columns::Column;
pub use edit::{
    EditError, add_phone, remove_phone, remove_residence, rename_person, set_residence,
};
pub use export::export_file;
pub use import::{FileCheck, ImportOptions, ImportReport, ImportSummary, check_file, import_file};
pub use lookup::{Residence, Resident, ResidentPhone, by_name, by_phone, by_room};
pub use progress::terminal_progress;
pub use row::{RejectReason, RejectedRow};

/// A person's role in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 业主
    Owner,
    /// 租户
    Tenant,
    /// 家属
    Household,
}

impl Role {
    /// The code kept in the store.
    pub fn code(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Tenant => "tenant",
            Role::Household => "household",
        }
    }

    /// From a stored code.
    pub fn from_code(code: &str) -> Option<Role> {
        [Role::Owner, Role::Tenant, Role::Household]
            .into_iter()
            .find(|role| role.code() == code)
    }

    pub fn label_zh(self) -> &'static str {
        columns::role_label(self)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an import or export could not run at all (bad rows are not errors:
/// they are reported in [`ImportReport`]).
#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: malformed CSV: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{path}: cannot read the workbook: {source}")]
    Workbook {
        path: PathBuf,
        source: calamine::Error,
    },
    #[error("{path}: the workbook has no sheet")]
    NoSheet { path: PathBuf },
    /// A cell reference beyond Excel's 1,048,576 rows or 16,384 columns:
    /// no spreadsheet program wrote that file.
    #[error("{path}: a cell at row {row}, column {column} lies outside any sheet")]
    CellOutsideSheet {
        path: PathBuf,
        row: u64,
        column: u64,
    },
    #[error("{path}: not a .csv or .xlsx file")]
    UnsupportedFormat { path: PathBuf },
    #[error(
        "{path}: no header row (小区/community, 房号/room, 姓名/name…) in the first {rows} rows"
    )]
    NoHeader { path: PathBuf, rows: usize },
    #[error("{path}: the header has no {column} column")]
    MissingColumn { path: PathBuf, column: Column },
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error("stored {what} `{value}` is not valid")]
    CorruptRecord { what: &'static str, value: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

//! The business of the service desk (客服中心): phone numbers, room
//! addresses and work orders (工单), as the seed procedures describe them.
//!
//! Owns the domain rules: how a caller's number is read and masked
//! ([`normalise`]), how a room is written ([`RoomAddress`]), how a ticket is
//! classified ([`TicketKind`], [`Priority`], [`ComplaintGrade`]), numbered
//! ([`TicketNo`]), moved ([`TicketStatus::transition`]) and timed
//! ([`SlaConfig`], [`SlaState`]), and the desk's configuration
//! ([`DeskConfig`]). All Chinese labels live in one file (`labels.rs`).
//!
//! Pure: no SQL, no sockets, no SIP types, no clock. Callers pass the current
//! time, ids and sequence numbers in, then store the result and publish the
//! change (`telephony`, `api`).

pub mod archive;
mod config;
mod fullwidth;
mod labels;
mod phone;
mod rooms;
mod tickets;

use thiserror::Error;

pub use archive::{
    ArchiveError, ImportOptions, ImportReport, ImportSummary, RejectedRow, Resident, Role,
    export_file, import_file,
};
pub use config::{DEFAULT_TIME_ZONE, DeskConfig};
pub use phone::{AreaCode, E164, NormalisedPhone, PhoneError, PhoneKind, normalise};
pub use rooms::{RoomAddress, RoomError};
pub use tickets::{
    ActionKind, Category, CategoryCode, CommunityCode, ComplaintGrade, Department, DepartmentCode,
    Hold, Milestone, NewTicket, Priority, Resumable, SlaByPriority, SlaConfig, SlaDeadlines,
    SlaState, SlaTarget, StatusKind, Ticket, TicketAction, TicketKind, TicketNo, TicketNoError,
    TicketSource, TicketStatus, TransitionError, business_date, effective_deadline,
};

/// Everything the desk refuses, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeskError {
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    TicketNo(#[from] TicketNoError),
    #[error("unknown {what} code `{code}`")]
    UnknownCode { what: &'static str, code: String },
    #[error("invalid {what} `{code}`: lower-case letters, digits and `_`, starting with a letter")]
    InvalidCode { what: &'static str, code: String },
    #[error("config `{path}`: {reason}")]
    InvalidConfig { path: String, reason: &'static str },
    #[error("only complaints are graded, not {kind}")]
    GradeOnlyForComplaints { kind: TicketKind },
    #[error("unknown category `{code}`")]
    UnknownCategory { code: CategoryCode },
    #[error("category `{code}` belongs to {category_kind}, not {kind}")]
    CategoryOfOtherKind {
        code: CategoryCode,
        kind: TicketKind,
        category_kind: TicketKind,
    },
}

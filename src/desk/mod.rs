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

mod acd;
pub mod archive;
mod board;
mod call_end;
pub mod call_log;
pub mod callbacks;
mod config;
mod fullwidth;
mod labels;
mod phone;
pub mod plain_text;
mod presence;
mod rooms;
mod tickets;
pub mod users;

use thiserror::Error;
use uuid::Uuid;

use crate::store::StoreError;

pub use acd::{Acd, AcdAction, GroupRule, QueuedCallId, WaitingView};
pub use archive::{
    ArchiveError, ImportOptions, ImportReport, ImportSummary, RejectedRow, Resident,
    Role as ResidentRole, export_file, import_file,
};
pub use board::{
    BREAK_REASON_MAX_CHARS, BoardError, BoardFuture, OperatorBoard, OperatorView, PhoneView,
    WaitingCallView, WantedState, break_reason,
};
pub use call_end::EndReason;
pub use config::{DEFAULT_TIME_ZONE, DeskConfig};
pub use labels::BREAK_REASONS;
pub use phone::{AreaCode, E164, NormalisedPhone, PhoneError, PhoneKind, normalise};
pub use presence::{
    DEFAULT_RING_OUTS_TO_BREAK, OperatorState, Presence, PresenceRules, RingFailure, StateChange,
    longest_idle,
};
pub use rooms::{RoomAddress, RoomError};
pub use tickets::{
    ActionKind, Category, CategoryCode, CommunityCode, ComplaintGrade, Department, DepartmentCode,
    Hold, Milestone, NewTicket, Priority, Resumable, SlaByPriority, SlaConfig, SlaDeadlines,
    SlaState, SlaTarget, StatusKind, Ticket, TicketAction, TicketKind, TicketNo, TicketNoError,
    TicketSource, TicketStatus, TransitionError, business_date, effective_deadline,
};
pub use tickets::{
    DEFAULT_PAGE_SIZE, FieldChange, MAX_PAGE_SIZE, NewTicketRequest, TicketChanges, TicketEvent,
    TicketEventKind, TicketFilter, TicketKey, TicketPage, TicketRecord, Tickets,
    VOICE_MESSAGE_ACTOR, VoiceMessageReporter,
};

/// Everything the desk refuses, with what was wrong. Not `Clone`/`Eq`: it
/// carries the store's errors (`sqlx` ones) as they are.
#[derive(Debug, Error)]
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
    #[error("a fee and its payment are for paid service only, not {kind}")]
    FeeOnlyForPaidService { kind: TicketKind },
    #[error("a fee cannot be negative ({fee_cents} fen)")]
    NegativeFee { fee_cents: i64 },
    #[error("unknown department `{code}`")]
    UnknownDepartment { code: DepartmentCode },
    #[error("a ticket needs a description")]
    EmptyDescription,
    #[error("a comment needs some text")]
    EmptyComment,
    #[error("{field} is longer than {max} characters")]
    TextTooLong { field: &'static str, max: usize },
    #[error("no ticket {key}")]
    TicketNotFound { key: TicketKey },
    #[error("ticket {id} was changed meanwhile: it is at version {current}, not {expected}")]
    StaleVersion {
        id: Uuid,
        expected: i64,
        current: i64,
    },
    #[error("no call {call_id}")]
    CallNotFound { call_id: String },
    #[error("call {call_id} has no community: a ticket cannot be numbered for it")]
    CallWithoutCommunity { call_id: String },
    #[error("the ticket counter of {community} on {day} is out of range ({seq})")]
    CounterOutOfRange {
        community: CommunityCode,
        day: String,
        seq: i64,
    },
    #[error("ticket {id} has an unreadable `{field}` in the store")]
    CorruptTicket { id: String, field: &'static str },
    #[error("event {seq} of ticket {ticket_id} has an unreadable `{field}` in the store")]
    CorruptTicketEvent {
        ticket_id: Uuid,
        seq: i64,
        field: &'static str,
    },
    #[error("no callback {id}")]
    CallbackNotFound { id: String },
    #[error("callback {id} is {status}: only an open callback nobody is dialling can be closed")]
    CallbackNotOpen {
        id: String,
        status: callbacks::CallbackStatus,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

//! Telephony: where a call meets the business. Inbound calls (accept or
//! refuse, ring, answer), the IVR menu, the voice message, and the call
//! record. It uses `sip`, `media`, `recording` and `store` through their
//! `mod.rs` APIs and keeps each call's state in one task of its own
//! (`inbound`); `service` hands each INVITE to such a task.

mod caller;
mod config;
mod content;
mod failure;
mod inbound;
mod ivr;
mod operators;
pub mod outbound;
mod record;
mod recovery;
mod screen_pop;
mod service;
mod voicemail;

pub use config::{
    CommunityConfig, HotlineConfig, IvrConfig, MENU_CHOICE_OTHER, MenuChoice, PromptFiles,
    VoicemailConfig,
};
pub use content::ACCEPT;
pub use failure::CallFailure;
pub use operators::{
    Board, GroupConfig, LeaveReason, NobodyToAnswer, OperatorInfo, Phone, PhoneTarget, QueueConfig,
    QueueEvent, RegistrarError, RegistrarHandle, WaitingCall, start_board, start_registrar,
};
pub use recovery::recover;
pub use service::{CallServices, Prompts, ringback_tone, run};

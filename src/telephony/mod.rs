//! Telephony: where a call meets the business. Inbound calls (accept or
//! refuse, ring, answer), the IVR menu, the voice message, and the call
//! record. It uses `sip`, `media`, `recording` and `store` through their
//! `mod.rs` APIs and keeps each call's state in one task of its own.

mod config;
mod ivr;

pub use config::{
    CommunityConfig, HotlineConfig, IvrConfig, MENU_CHOICE_OTHER, MenuChoice, PromptFiles,
    VoicemailConfig,
};

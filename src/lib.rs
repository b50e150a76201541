//! # hotline
//!
//! The customer-service hotline of a property-management company, as one
//! daemon: it answers the hotline over SIP, records every call, takes voice
//! messages, and (in later layers) pops the owner archive, keeps work orders
//! and dials follow-up callbacks.
//!
//! The crate is layered; an arrow means "may use" (see `docs/ARCHITECTURE.md`):
//!
//! ```text
//! main / cli ─► app (wiring, config)
//! app ─► api, telephony, desk, store
//! api ─► desk, events
//! telephony ─► sip, media, recording, desk, events
//! desk ─► store
//! sip, media, store    — know nothing above them
//! recording            ─► media types only
//! ```
//!
//! - [`sip`]: transport, transactions (RFC 3261 §17), dialogs, SDP.
//! - [`media`]: RTP, G.711, RFC 4733 digits, prompt playback, the per-call media session.
//! - [`recording`]: crash-safe stereo WAV recordings.
//! - [`store`]: the SQL store (SQLite or PostgreSQL) and its migrations.
//! - [`desk`]: the business: owner archive, work orders.
//! - [`telephony`]: where a call meets the business: inbound calls, IVR, voice messages.
//! - [`app`]: configuration and wiring; [`cli`]: the command line.

pub mod api;
pub mod app;
pub mod cli;
pub mod desk;
pub mod events;
pub mod media;
pub mod recording;
pub mod sip;
pub mod store;
pub mod telephony;
pub mod text;

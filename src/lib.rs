//! # hotline
//!
//! The customer-service hotline of a property-management company, as one
//! daemon: it answers the hotline over SIP, records every call, takes voice
//! messages, queues callers for the operators and puts them through, pops
//! the owner archive on the operator's screen and keeps work orders. What it
//! does for whom, and what is planned (the follow-up callback dialer, among
//! others), is in `docs/PRODUCT.md`.
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

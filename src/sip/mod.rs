//! sip

pub mod sdp;

//! A voice message left in the IVR, as a work order: the kind its menu
//! choice means and the description operators read.
//!
//! Knows the menu choices only by their stored codes (`repair`…), never the
//! telephony types.

use std::time::Duration;

use crate::desk::labels::{
    VOICE_MESSAGE_SECONDS_UNIT, VOICE_MESSAGE_SEE_RECORDING, VOICE_MESSAGE_TEXT,
};
use crate::desk::tickets::TicketKind;
use crate::store::CallRecord;

/// Menu choice codes (`telephony::MenuChoice::code`) and the kind they mean;
/// `operator`, `other` and anything unknown make an `other` ticket.
const MENU_CHOICE_KINDS: &[(&str, TicketKind)] = &[
    ("repair", TicketKind::Repair),
    ("complaint", TicketKind::Complaint),
    ("paid_service", TicketKind::PaidService),
    ("inquiry", TicketKind::Inquiry),
];

/// The kind a menu choice code pre-classifies a call as.
pub(crate) fn kind_of_menu_choice(choice: Option<&str>) -> TicketKind {
    choice
        .and_then(|c| MENU_CHOICE_KINDS.iter().find(|(code, _)| *code == c))
        .map_or(TicketKind::Other, |(_, kind)| *kind)
}

/// How long the voice message in a call lasts, when the call says.
pub(crate) fn voice_message_length(call: &CallRecord) -> Option<Duration> {
    let (start, end) = (call.voicemail_start_ms?, call.voicemail_end_ms?);
    u64::try_from(end - start).ok().map(Duration::from_millis)
}

pub(crate) fn voice_message_description(length: Option<Duration>) -> String {
    match length {
        Some(length) => format!(
            "{VOICE_MESSAGE_TEXT} {} {VOICE_MESSAGE_SECONDS_UNIT}，{VOICE_MESSAGE_SEE_RECORDING}",
            length.as_secs_f64().round()
        ),
        None => format!("{VOICE_MESSAGE_TEXT}，{VOICE_MESSAGE_SEE_RECORDING}"),
    }
}

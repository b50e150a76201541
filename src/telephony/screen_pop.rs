//! The screen pop: what an operator's screen shows the moment their phone
//! rings for a call. Put together once per call, when it joins the queue,
//! from what the call already knows (the archive's people) and two reads
//! (their open work orders, the caller's last calls); each ring then
//! publishes it as it is.

use std::collections::HashSet;

use serde_json::{Value, json};
use tracing::debug;

use crate::desk::archive::Resident;
use crate::events::CallerCard;
use crate::store::CallRecord;

use super::service::CallServices;

/// Open work orders on the card.
const OPEN_TICKETS: usize = 10;
/// Earlier calls on the card.
const RECENT_CALLS: u32 = 5;

/// What the card needs to know of the caller.
pub(super) struct CardQuestion<'a> {
    pub(super) call_id: &'a str,
    /// The number as received, and in E.164 when it reads as one.
    pub(super) number: &'a str,
    pub(super) e164: Option<&'a str>,
    /// `person`, `household` or `unknown`.
    pub(super) match_kind: &'a str,
    pub(super) people: &'a [Resident],
}

/// The card of this caller. Store trouble leaves a part empty, never fails
/// the call.
pub(super) async fn caller_card(services: &CallServices, question: CardQuestion<'_>) -> CallerCard {
    let mut tickets = Vec::new();
    for person in question.people {
        match services.tickets.open_tickets_of_person(&person.id).await {
            Ok(found) => tickets.extend(found),
            Err(err) => debug!(%err, "open work orders not read for the screen pop"),
        }
    }
    if let Some(e164) = question.e164 {
        match services.tickets.open_tickets_of_phone(e164).await {
            Ok(found) => tickets.extend(found),
            Err(err) => debug!(%err, "open work orders not read for the screen pop"),
        }
    }
    let mut seen = HashSet::new();
    tickets.retain(|ticket| seen.insert(ticket.ticket.id));
    tickets.sort_by_key(|ticket| std::cmp::Reverse(ticket.ticket.created_at));
    tickets.truncate(OPEN_TICKETS);
    let recent = match question.e164 {
        Some(e164) => services
            .store
            .recent_calls_of(e164, question.call_id, RECENT_CALLS)
            .await
            .unwrap_or_else(|err| {
                debug!(%err, "last calls not read for the screen pop");
                Vec::new()
            }),
        None => Vec::new(),
    };
    CallerCard {
        number: question.number.to_string(),
        e164: question.e164.map(str::to_string),
        match_kind: question.match_kind.to_string(),
        people: serde_json::to_value(question.people).unwrap_or(Value::Null),
        open_tickets: serde_json::to_value(&tickets).unwrap_or(Value::Null),
        recent_calls: Value::Array(recent.iter().map(recent_call).collect()),
    }
}

/// An earlier call as the card lists it.
fn recent_call(call: &CallRecord) -> Value {
    json!({
        "call_id": call.id,
        "offered_at": call.offered_at,
        "menu_choice": call.menu_choice,
        "end_reason": call.end_reason,
        "queue_outcome": call.queue_outcome,
        "operator_id": call.operator_id,
        "duration_ms": call.duration_ms,
    })
}

/// The name an operator's phone shows for the caller (the From display
/// name of our INVITE): the archive's name and first room, e.g. `张伟
/// 7栋1501`, else the number.
pub(super) fn display_name(people: &[Resident], number: &str) -> String {
    let Some(person) = people.first() else {
        return number.to_string();
    };
    match person.residences.first() {
        Some(residence) => format!("{} {}", person.name, residence.address),
        None => person.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::archive::{Residence, Role};

    fn resident(name: &str, room: Option<&str>) -> Resident {
        Resident {
            id: "p1".into(),
            name: name.into(),
            community_code: "JF".into(),
            community_name: "俊发".into(),
            residences: room
                .map(|room| Residence {
                    address: room.parse().expect("a room"),
                    role: Role::Owner,
                    note: String::new(),
                })
                .into_iter()
                .collect(),
            phones: Vec::new(),
        }
    }

    #[test]
    fn the_phone_shows_the_name_and_first_room_else_the_number() {
        assert_eq!(
            display_name(&[resident("张伟", Some("7栋1501"))], "13812345678"),
            "张伟 7栋1501"
        );
        assert_eq!(display_name(&[resident("张伟", None)], "138"), "张伟");
        assert_eq!(display_name(&[], "13812345678"), "13812345678");
    }
}

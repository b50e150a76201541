//! Who is calling: the owner archive's answer for an inbound caller (the
//! screen pop's question), kept with the call record and used as the
//! reporter of the work order a voice message becomes.

use tracing::{debug, info};

use crate::desk::archive::Resident;
use crate::desk::{AreaCode, VoiceMessageReporter, archive};
use crate::store::CallerMatch;

use super::service::CallServices;

/// What the archive says about a caller: what the call record keeps, and
/// the reporter of a work order the call may become.
pub(super) struct Caller {
    pub(super) stored: CallerMatch,
    pub(super) reporter: VoiceMessageReporter,
    /// Everyone the archive knows with that number (the screen pop's).
    pub(super) people: Vec<Resident>,
}

/// Looks the caller up in the owner archive (the screen pop's question);
/// archive trouble makes the caller unknown, never fails the call.
pub(super) async fn look_up_caller(
    services: &CallServices,
    caller_raw: &str,
    area_code: Option<&AreaCode>,
) -> Caller {
    let unknown = Caller {
        stored: CallerMatch {
            kind: CALLER_UNKNOWN.to_string(),
            ..CallerMatch::default()
        },
        reporter: VoiceMessageReporter::default(),
        people: Vec::new(),
    };
    let people = match archive::by_phone(&services.store, caller_raw, area_code).await {
        Ok(people) => people,
        Err(err) => {
            debug!(%err, "caller not looked up");
            return unknown;
        }
    };
    let Some(first) = people.first() else {
        return unknown;
    };
    let rooms: Vec<String> = first
        .residences
        .iter()
        .map(|residence| residence.address.to_string())
        .collect();
    info!(people = people.len(), "caller found in the archive");
    Caller {
        stored: CallerMatch {
            kind: if people.len() == 1 {
                CALLER_PERSON
            } else {
                CALLER_HOUSEHOLD
            }
            .to_string(),
            person_id: Some(first.id.clone()),
            name: Some(first.name.clone()),
            rooms: (!rooms.is_empty()).then(|| rooms.join("、")),
        },
        reporter: VoiceMessageReporter {
            name: Some(first.name.clone()),
            person_id: Some(first.id.clone()),
            room: first.residences.first().map(|r| r.address.clone()),
        },
        people,
    }
}

/// `calls.caller_match` values.
const CALLER_PERSON: &str = "person";
const CALLER_HOUSEHOLD: &str = "household";
const CALLER_UNKNOWN: &str = "unknown";

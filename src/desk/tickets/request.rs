//! What callers ask of the ticket service: a new ticket, a change of its
//! fields, a list filter, and the page that answers it.
//!
//! Plain serde types (snake_case, unknown fields refused) so the API can take
//! them as JSON bodies as they are. Checks that need the configuration (a
//! category of the kind, a known department) are the service's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::desk::rooms::RoomAddress;
use crate::desk::tickets::{
    CategoryCode, CommunityCode, ComplaintGrade, DepartmentCode, Priority, StatusKind, TicketKind,
    TicketRecord, TicketSource,
};

/// Page size of a list when none is asked for.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page a list returns.
pub const MAX_PAGE_SIZE: u32 = 500;

/// A ticket to register (operator form, API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTicketRequest {
    pub community: CommunityCode,
    pub kind: TicketKind,
    pub priority: Priority,
    /// Complaints only.
    #[serde(default)]
    pub grade: Option<ComplaintGrade>,
    pub source: TicketSource,
    /// One of the kind's configured categories.
    #[serde(default)]
    pub category: Option<CategoryCode>,
    #[serde(default)]
    pub room: Option<RoomAddress>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub reporter_name: Option<String>,
    /// As given; normalised by the service (a local landline needs its area code).
    #[serde(default)]
    pub reporter_phone: Option<String>,
    #[serde(default)]
    pub person_id: Option<String>,
    pub description: String,
    /// Defaults to the category's department.
    #[serde(default)]
    pub department: Option<DepartmentCode>,
    #[serde(default)]
    pub assignee: Option<String>,
    /// Paid service only, in fen.
    #[serde(default)]
    pub fee_cents: Option<i64>,
    /// Paid service only.
    #[serde(default)]
    pub paid: bool,
    /// The call it comes from (during or after it): linked at creation, and
    /// the reporter (name, phone, archive person, room) defaults to what
    /// the archive said about its caller.
    #[serde(default)]
    pub call_id: Option<String>,
}

/// Fields to change. A field left out stays; for the optional ones `null`
/// clears it. Kind, source, community and number never change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketChanges {
    pub priority: Option<Priority>,
    #[serde(deserialize_with = "present")]
    pub grade: Option<Option<ComplaintGrade>>,
    #[serde(deserialize_with = "present")]
    pub category: Option<Option<CategoryCode>>,
    #[serde(deserialize_with = "present")]
    pub department: Option<Option<DepartmentCode>>,
    #[serde(deserialize_with = "present")]
    pub assignee: Option<Option<String>>,
    pub description: Option<String>,
    #[serde(deserialize_with = "present")]
    pub room: Option<Option<RoomAddress>>,
    #[serde(deserialize_with = "present")]
    pub location: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    pub reporter_name: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    pub reporter_phone: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    pub person_id: Option<Option<String>>,
    #[serde(deserialize_with = "present")]
    pub fee_cents: Option<Option<i64>>,
    pub paid: Option<bool>,
}

/// A field that is present, `null` or not: `Some(None)` for `null`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Which tickets to list; every filter left out matches all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketFilter {
    /// Any of these statuses.
    pub status: Vec<StatusKind>,
    /// Any of these kinds.
    pub kind: Vec<TicketKind>,
    pub community: Option<CommunityCode>,
    /// Only tickets past a deadline now (time on hold given back).
    pub overdue: bool,
    /// Only tickets not closed or cancelled.
    pub open: bool,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_until: Option<DateTime<Utc>>,
    /// Substring of the description, number, reporter name or phone.
    pub text: Option<String>,
    pub department: Option<DepartmentCode>,
    pub assignee: Option<String>,
    /// The reporter's phone, normalised before matching.
    pub reporter_phone: Option<String>,
    pub person_id: Option<String>,
    /// At most [`MAX_PAGE_SIZE`].
    pub limit: u32,
    pub offset: u64,
}

impl Default for TicketFilter {
    fn default() -> Self {
        Self {
            status: Vec::new(),
            kind: Vec::new(),
            community: None,
            overdue: false,
            open: false,
            created_from: None,
            created_until: None,
            text: None,
            department: None,
            assignee: None,
            reporter_phone: None,
            person_id: None,
            limit: DEFAULT_PAGE_SIZE,
            offset: 0,
        }
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketPage {
    pub tickets: Vec<TicketRecord>,
    /// How many tickets match in all.
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

/// Who left a voice message, as far as the archive knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceMessageReporter {
    pub name: Option<String>,
    pub person_id: Option<String>,
    pub room: Option<RoomAddress>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_tells_a_missing_field_from_a_null_one() {
        let changes: TicketChanges =
            serde_json::from_str(r#"{"assignee": null, "department": "engineering"}"#)
                .expect("valid");
        assert_eq!(changes.assignee, Some(None));
        assert_eq!(
            changes.department,
            Some(Some(DepartmentCode::new("engineering").expect("valid")))
        );
        assert_eq!(changes.location, None);
        assert_eq!(changes.priority, None);
        assert!(serde_json::from_str::<TicketChanges>(r#"{"kind": "repair"}"#).is_err());
    }

    #[test]
    fn a_new_ticket_request_reads_its_minimal_json() {
        let request: NewTicketRequest = serde_json::from_str(
            r#"{"community": "JF", "kind": "repair", "priority": "urgent",
                "source": "phone_call", "description": "厨房漏水",
                "room": "3栋2单元1201"}"#,
        )
        .expect("valid");
        assert_eq!(request.kind, TicketKind::Repair);
        assert_eq!(
            request.room.map(|r| r.to_string()).as_deref(),
            Some("3栋2单元1201")
        );
        assert!(!request.paid);
    }

    #[test]
    fn an_empty_filter_lists_everything_a_page_at_a_time() {
        let filter: TicketFilter = serde_json::from_str("{}").expect("valid");
        assert_eq!(filter, TicketFilter::default());
        assert_eq!(filter.limit, DEFAULT_PAGE_SIZE);
        let filter: TicketFilter =
            serde_json::from_str(r#"{"status": ["new", "on_hold"], "overdue": true}"#)
                .expect("valid");
        assert_eq!(filter.status, [StatusKind::New, StatusKind::OnHold]);
    }
}

//! The checks and edits every ticket write goes through: what the
//! configuration and the kind allow, text limits, requested field changes,
//! and what a state change did to the holds.
//!
//! Pure: no store, no clock. The service (`service.rs`) calls these between
//! loading a ticket and writing it.

use crate::desk::phone::normalise;
use crate::desk::tickets::{Ticket, TicketChanges, TicketKind, TicketRecord};
use crate::desk::{DeskConfig, DeskError};
use crate::store::HoldChange;

/// Longest description or comment, in characters.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 4_000;
/// Longest name, location, assignee or person id, in characters.
const MAX_SHORT_TEXT_CHARS: usize = 200;

/// `None` for a missing or blank text, else the text trimmed.
pub(crate) fn trimmed(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

pub(crate) fn check_len(
    field: &'static str,
    text: Option<&str>,
    max: usize,
) -> Result<(), DeskError> {
    match text {
        Some(text) if text.chars().count() > max => Err(DeskError::TextTooLong { field, max }),
        _ => Ok(()),
    }
}

/// What the configuration and the kind allow, checked on every write.
pub(crate) fn validate(record: &TicketRecord, config: &DeskConfig) -> Result<(), DeskError> {
    let t = &record.ticket;
    if t.grade.is_some() && t.kind != TicketKind::Complaint {
        return Err(DeskError::GradeOnlyForComplaints { kind: t.kind });
    }
    if let Some(category) = &t.category {
        config.category_for(t.kind, category)?;
    }
    if let Some(department) = &t.department
        && config.department(department).is_none()
    {
        return Err(DeskError::UnknownDepartment {
            code: department.clone(),
        });
    }
    if t.kind != TicketKind::PaidService && (record.fee_cents.is_some() || record.paid) {
        return Err(DeskError::FeeOnlyForPaidService { kind: t.kind });
    }
    if let Some(fee_cents) = record.fee_cents
        && fee_cents < 0
    {
        return Err(DeskError::NegativeFee { fee_cents });
    }
    if record.description.trim().is_empty() {
        return Err(DeskError::EmptyDescription);
    }
    check_len(
        "description",
        Some(&record.description),
        MAX_DESCRIPTION_CHARS,
    )?;
    for (field, text) in [
        ("location", &record.location),
        ("reporter_name", &record.reporter_name),
        ("person_id", &record.person_id),
        ("assignee", &record.assignee),
    ] {
        check_len(field, text.as_deref(), MAX_SHORT_TEXT_CHARS)?;
    }
    Ok(())
}

/// Applies the requested field changes (checked afterwards by `validate`).
pub(crate) fn apply_changes(
    record: &mut TicketRecord,
    changes: &TicketChanges,
) -> Result<(), DeskError> {
    let t = &mut record.ticket;
    if let Some(priority) = changes.priority {
        t.priority = priority;
    }
    if let Some(grade) = changes.grade {
        t.grade = grade;
    }
    if let Some(category) = &changes.category {
        t.category = category.clone();
    }
    if let Some(department) = &changes.department {
        t.department = department.clone();
    }
    if let Some(description) = &changes.description {
        record.description = description.trim().to_owned();
    }
    if let Some(room) = &changes.room {
        record.room = room.clone();
    }
    for (field, change) in [
        (&mut record.assignee, &changes.assignee),
        (&mut record.location, &changes.location),
        (&mut record.reporter_name, &changes.reporter_name),
        (&mut record.person_id, &changes.person_id),
    ] {
        if let Some(value) = change {
            *field = trimmed(value.clone());
        }
    }
    if let Some(phone) = &changes.reporter_phone {
        let phone = phone
            .as_deref()
            .map(str::trim)
            .filter(|raw| !raw.is_empty())
            .map(|raw| normalise(raw, None))
            .transpose()?;
        record.reporter_phone_raw = phone.as_ref().map(|p| p.received().to_owned());
        record.reporter_phone = phone.as_ref().map(|p| p.number().to_owned());
    }
    if let Some(fee_cents) = changes.fee_cents {
        record.fee_cents = fee_cents;
    }
    if let Some(paid) = changes.paid {
        record.paid = paid;
    }
    Ok(())
}

/// What a change did to the holds: one started, or the open one ended.
pub(crate) fn hold_change(before: &Ticket, after: &Ticket) -> Option<HoldChange> {
    if after.holds.len() > before.holds.len() {
        return after
            .holds
            .last()
            .map(|h| HoldChange::Start(h.from.timestamp_millis()));
    }
    before
        .holds
        .iter()
        .zip(&after.holds)
        .find_map(|(b, a)| match (b.until, a.until) {
            (None, Some(until)) => Some(HoldChange::End(until.timestamp_millis())),
            _ => None,
        })
}

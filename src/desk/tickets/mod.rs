//! Work orders (工单): what they are, how they move, when they are due.
//!
//! Owns the [`Ticket`] value and the rules applied to it: classification
//! (`kind.rs`), the state machine (`status.rs`), numbering (`number.rs`) and
//! SLA deadlines (`sla.rs`). Pure: the caller supplies ids, sequence numbers
//! and the current time, then stores the result and publishes the change.

mod checks;
mod kind;
mod number;
mod record;
mod request;
mod service;
mod sla;
mod status;
mod voice_message;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use kind::{
    Category, CategoryCode, ComplaintGrade, Department, DepartmentCode, Priority, TicketKind,
    TicketSource,
};
pub(crate) use kind::{default_categories, default_departments};
pub use number::{CommunityCode, TicketNo, TicketNoError, business_date};
pub use record::{FieldChange, TicketEvent, TicketEventKind, TicketRecord};
pub use request::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, NewTicketRequest, TicketChanges, TicketFilter, TicketPage,
    VoiceMessageReporter,
};
pub use service::{TicketKey, Tickets, VOICE_MESSAGE_ACTOR};
pub use sla::{
    Hold, Milestone, SlaByPriority, SlaConfig, SlaDeadlines, SlaState, SlaTarget,
    effective_deadline,
};
pub use status::{ActionKind, Resumable, StatusKind, TicketAction, TicketStatus, TransitionError};

use crate::desk::DeskError;

/// What the operator (or the API) registers; the rest is computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    pub kind: TicketKind,
    pub priority: Priority,
    /// Complaints only (seed 004 §2.2.1).
    #[serde(default)]
    pub grade: Option<ComplaintGrade>,
    pub source: TicketSource,
    #[serde(default)]
    pub category: Option<CategoryCode>,
}

/// A work order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: Uuid,
    pub number: TicketNo,
    pub kind: TicketKind,
    pub priority: Priority,
    pub grade: Option<ComplaintGrade>,
    pub source: TicketSource,
    pub category: Option<CategoryCode>,
    /// The department it is dispatched to, once known.
    pub department: Option<DepartmentCode>,
    pub status: TicketStatus,
    pub created_at: DateTime<Utc>,
    pub deadlines: SlaDeadlines,
    /// First dispatch or resolution: the response the SLA measures.
    pub responded_at: Option<DateTime<Utc>>,
    /// First start of work (on site, for repairs).
    pub arrived_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub holds: Vec<Hold>,
}

impl Ticket {
    /// A new ticket in 受理 with its SLA deadlines. `id` and `number` come
    /// from the caller (UUIDv7, the store's daily counter).
    pub fn open(
        new: NewTicket,
        id: Uuid,
        number: TicketNo,
        now: DateTime<Utc>,
        sla: &SlaConfig,
    ) -> Result<Ticket, DeskError> {
        if new.grade.is_some() && new.kind != TicketKind::Complaint {
            return Err(DeskError::GradeOnlyForComplaints { kind: new.kind });
        }
        let deadlines = SlaDeadlines::compute(now, sla.target(new.kind, new.priority));
        Ok(Ticket {
            id,
            number,
            kind: new.kind,
            priority: new.priority,
            grade: new.grade,
            source: new.source,
            category: new.category,
            department: None,
            status: TicketStatus::INITIAL,
            created_at: now,
            deadlines,
            responded_at: None,
            arrived_at: None,
            resolved_at: None,
            holds: Vec::new(),
        })
    }

    /// Applies `action` at `now`: moves the state and records the moments the
    /// SLA measures and the holds. Nothing changes when it is refused.
    pub fn apply(
        &mut self,
        action: TicketAction,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        let kind = action.kind();
        let next = self.status.clone().transition(action)?;
        match kind {
            ActionKind::Dispatch => {
                self.responded_at.get_or_insert(now);
            }
            ActionKind::Start => {
                self.responded_at.get_or_insert(now);
                self.arrived_at.get_or_insert(now);
            }
            ActionKind::Resolve => {
                self.responded_at.get_or_insert(now);
                self.resolved_at = Some(now);
            }
            ActionKind::Hold => self.holds.push(Hold {
                from: now,
                until: None,
            }),
            // The hold just ended; a cancelled hold ends with the ticket.
            ActionKind::Resume | ActionKind::Cancel => {
                if let Some(open) = self.holds.iter_mut().find(|h| h.until.is_none()) {
                    open.until = Some(now);
                }
            }
            // Handled again: it is no longer resolved. Deadlines stay: a redo
            // counts against the original promise.
            ActionKind::Reopen => self.resolved_at = None,
            ActionKind::FollowUp | ActionKind::Close => {}
        }
        self.status = next;
        Ok(())
    }

    /// Where a milestone stands at `now` (`None`: no arrive-by for this kind).
    pub fn sla_state(&self, milestone: Milestone, now: DateTime<Utc>) -> Option<SlaState> {
        let nominal = self.deadlines.nominal(milestone)?;
        let reached = match milestone {
            Milestone::Respond => self.responded_at,
            // Resolved without a recorded start: the work was done by then.
            Milestone::Arrive => self.arrived_at.or(self.resolved_at),
            Milestone::Resolve => self.resolved_at,
        };
        if reached.is_none() && self.status.is_final() {
            // A cancelled ticket owes nothing any more.
            return None;
        }
        Some(SlaState::at(nominal, &self.holds, reached, now))
    }

    /// The milestones past due and not reached at `now`.
    pub fn overdue(&self, now: DateTime<Utc>) -> Vec<Milestone> {
        [Milestone::Respond, Milestone::Arrive, Milestone::Resolve]
            .into_iter()
            .filter(|m| matches!(self.sla_state(*m, now), Some(SlaState::Overdue { .. })))
            .collect()
    }

    /// Whether any milestone is past due and not reached at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        !self.overdue(now).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeDelta, TimeZone};
    use chrono_tz::Asia::Shanghai;

    fn sh(d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(2026, 11, d, h, min, 0)
            .single()
            .expect("Shanghai has no DST gaps")
            .with_timezone(&Utc)
    }

    fn ticket(kind: TicketKind, priority: Priority, at: DateTime<Utc>) -> Ticket {
        let number = TicketNo::new(
            CommunityCode::new("JF").expect("valid"),
            business_date(at, Shanghai),
            7,
        )
        .expect("valid");
        let new = NewTicket {
            kind,
            priority,
            grade: None,
            source: TicketSource::PhoneCall,
            category: None,
        };
        Ticket::open(new, Uuid::nil(), number, at, &SlaConfig::default()).expect("valid ticket")
    }

    #[test]
    fn a_new_ticket_starts_in_new_with_deadlines_from_the_sla() {
        let t = ticket(TicketKind::Repair, Priority::Urgent, sh(23, 23, 55));
        assert_eq!(t.status, TicketStatus::New);
        assert_eq!(t.number.to_string(), "JF-20261123-0007");
        assert_eq!(t.deadlines.respond_by, sh(24, 0, 25));
        assert_eq!(t.deadlines.arrive_by, Some(sh(24, 0, 25)));
        assert!(!t.is_overdue(sh(24, 0, 25)));
        assert_eq!(
            t.overdue(sh(24, 0, 26)),
            vec![Milestone::Respond, Milestone::Arrive]
        );
    }

    #[test]
    fn a_grade_on_anything_but_a_complaint_is_refused() {
        let new = NewTicket {
            kind: TicketKind::Repair,
            priority: Priority::Normal,
            grade: Some(ComplaintGrade::Major),
            source: TicketSource::Api,
            category: None,
        };
        let number = TicketNo::new(
            CommunityCode::new("JF").expect("valid"),
            NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid"),
            1,
        )
        .expect("valid");
        let err = Ticket::open(
            new,
            Uuid::nil(),
            number,
            sh(23, 9, 0),
            &SlaConfig::default(),
        )
        .expect_err("repairs have no grade");
        assert_eq!(err.to_string(), "only complaints are graded, not repair");
    }

    #[test]
    fn dispatch_and_start_record_the_response_and_the_arrival_once() {
        let mut t = ticket(TicketKind::Repair, Priority::Urgent, sh(23, 10, 0));
        t.apply(TicketAction::Dispatch, sh(23, 10, 5))
            .expect("allowed");
        t.apply(TicketAction::Dispatch, sh(23, 10, 8))
            .expect("re-dispatch");
        t.apply(TicketAction::Start, sh(23, 10, 25))
            .expect("allowed");
        assert_eq!(t.responded_at, Some(sh(23, 10, 5)));
        assert_eq!(t.arrived_at, Some(sh(23, 10, 25)));
        assert!(!t.is_overdue(sh(23, 13, 59)));
        assert_eq!(t.overdue(sh(23, 14, 1)), vec![Milestone::Resolve]);
        t.apply(TicketAction::Resolve, sh(23, 14, 30))
            .expect("allowed");
        assert!(!t.is_overdue(sh(23, 15, 0)));
        assert!(matches!(
            t.sla_state(Milestone::Resolve, sh(23, 15, 0)),
            Some(SlaState::Met { late: true, .. })
        ));
    }

    #[test]
    fn time_on_hold_is_given_back_to_the_ticket() {
        let mut t = ticket(TicketKind::Repair, Priority::Urgent, sh(23, 10, 0));
        t.apply(TicketAction::Dispatch, sh(23, 10, 5))
            .expect("allowed");
        t.apply(TicketAction::Hold, sh(23, 10, 10))
            .expect("allowed");
        // Three hours on hold (the owner is not home): not overdue.
        assert!(!t.is_overdue(sh(23, 13, 10)));
        t.apply(TicketAction::Resume, sh(23, 13, 10))
            .expect("allowed");
        assert_eq!(t.status, TicketStatus::Dispatched);
        assert_eq!(t.holds.len(), 1);
        assert_eq!(t.holds[0].until, Some(sh(23, 13, 10)));
        // Arrive-by 10:30 + 3 h = 13:30.
        assert!(!t.is_overdue(sh(23, 13, 30)));
        assert_eq!(t.overdue(sh(23, 13, 31)), vec![Milestone::Arrive]);
        let due = t.deadlines.resolve_by + TimeDelta::hours(3);
        assert_eq!(
            t.sla_state(Milestone::Resolve, sh(23, 13, 31)),
            Some(SlaState::Pending { due })
        );
    }

    #[test]
    fn a_refused_action_changes_nothing() {
        let mut t = ticket(TicketKind::Inquiry, Priority::Normal, sh(23, 10, 0));
        let before = t.clone();
        let err = t
            .apply(TicketAction::Close, sh(23, 10, 1))
            .expect_err("not allowed");
        assert!(matches!(err, TransitionError::NotAllowed { .. }));
        assert_eq!(t, before);
    }

    #[test]
    fn an_inquiry_answered_on_the_phone_goes_straight_to_resolved() {
        let mut t = ticket(TicketKind::Inquiry, Priority::Normal, sh(23, 10, 0));
        t.apply(TicketAction::Resolve, sh(23, 10, 3))
            .expect("allowed");
        assert_eq!(t.responded_at, Some(sh(23, 10, 3)));
        assert_eq!(t.sla_state(Milestone::Arrive, sh(23, 10, 3)), None);
        t.apply(TicketAction::FollowUp, sh(24, 9, 0))
            .expect("allowed");
        t.apply(TicketAction::Close, sh(24, 9, 1)).expect("allowed");
        assert!(t.status.is_final());
        assert!(!t.is_overdue(sh(30, 0, 0)));
    }

    #[test]
    fn a_reopened_ticket_is_no_longer_resolved_and_can_fall_overdue() {
        let mut t = ticket(TicketKind::Complaint, Priority::Urgent, sh(23, 10, 0));
        t.apply(TicketAction::Resolve, sh(23, 12, 0))
            .expect("allowed");
        t.apply(TicketAction::Reopen, sh(23, 20, 0))
            .expect("allowed");
        assert_eq!(t.resolved_at, None);
        assert_eq!(t.overdue(sh(24, 10, 1)), vec![Milestone::Resolve]);
    }

    #[test]
    fn a_cancelled_ticket_is_never_overdue_and_its_hold_is_closed() {
        let mut t = ticket(TicketKind::Repair, Priority::Normal, sh(23, 10, 0));
        t.apply(TicketAction::Hold, sh(23, 10, 5)).expect("allowed");
        t.apply(
            TicketAction::Cancel {
                reason: "业主自行处理".to_owned(),
            },
            sh(23, 11, 0),
        )
        .expect("allowed");
        assert_eq!(t.holds[0].until, Some(sh(23, 11, 0)));
        assert!(!t.is_overdue(sh(30, 0, 0)));
    }
}

//! The work-order state machine.
//!
//! Owns which state follows which action: 受理 → 派工 → 处理中 → 已完成 →
//! 已回访 → 归档, with 挂起 / 重新打开 / 已取消 as side paths. It is a pure
//! function of (state, action); who did it, when, and the audit trail belong to
//! the caller (`Ticket::apply` and the store).
//!
//! The main path follows seed 002 §7.1: record (受理), pass to the department
//! (派工), handle, report back (已完成), follow up (回访, §7.1.9), then archive
//! (存档, §7.1.10). Archiving therefore needs a follow-up first.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::desk::labels;

/// Where a ticket is in its life. `OnHold` remembers where to resume;
/// `Cancelled` keeps its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TicketStatus {
    /// 受理: registered, not yet dispatched.
    New,
    /// 派工: passed to a department.
    Dispatched,
    /// 处理中: the department is on it.
    InProgress,
    /// 已完成: the department reports it done.
    Resolved,
    /// 已回访: the owner was asked how it went.
    FollowedUp,
    /// 归档: archived; final.
    Closed,
    /// 挂起: waiting (parts, the owner's availability); SLA clocks stop.
    OnHold { resume_to: Resumable },
    /// 重新打开: the owner was not satisfied; to be handled again.
    Reopened,
    /// 已取消: withdrawn, duplicate…; final.
    Cancelled { reason: String },
}

/// A state a ticket can be put on hold from, and resumes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resumable {
    New,
    Dispatched,
    InProgress,
    Reopened,
}

/// The state without its data: what the store indexes and lists filter by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    New,
    Dispatched,
    InProgress,
    Resolved,
    FollowedUp,
    Closed,
    OnHold,
    Reopened,
    Cancelled,
}

/// Something done to a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TicketAction {
    /// Pass to a department (again, when it was the wrong one).
    Dispatch,
    /// The department starts (for repairs: is on site).
    Start,
    /// Done (also straight from 受理 when answered on the phone).
    Resolve,
    /// The follow-up callback (回访) took place.
    FollowUp,
    /// Archive.
    Close,
    Hold,
    Resume,
    /// Handle again after resolution (e.g. a dissatisfied follow-up).
    Reopen,
    Cancel {
        reason: String,
    },
}

/// The action without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Dispatch,
    Start,
    Resolve,
    FollowUp,
    Close,
    Hold,
    Resume,
    Reopen,
    Cancel,
}

/// An action the machine refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransitionError {
    #[error("cannot {action} a ticket that is {from}; allowed: {}", list(allowed))]
    NotAllowed {
        from: StatusKind,
        action: ActionKind,
        allowed: Vec<ActionKind>,
    },
    #[error("a cancellation needs a reason")]
    MissingCancelReason,
}

fn list(actions: &[ActionKind]) -> String {
    if actions.is_empty() {
        return "nothing (final state)".to_owned();
    }
    actions
        .iter()
        .map(|a| a.code())
        .collect::<Vec<_>>()
        .join(", ")
}

impl TicketStatus {
    /// The state a new ticket starts in.
    pub const INITIAL: TicketStatus = TicketStatus::New;

    /// The state after `action`, or why not.
    pub fn transition(self, action: TicketAction) -> Result<TicketStatus, TransitionError> {
        use TicketStatus as S;
        let kind = action.kind();
        let next = match (&self, action) {
            (S::New | S::Dispatched | S::InProgress | S::Reopened, TicketAction::Dispatch) => {
                Some(S::Dispatched)
            }
            (S::Dispatched | S::Reopened, TicketAction::Start) => Some(S::InProgress),
            (S::New | S::Dispatched | S::InProgress, TicketAction::Resolve) => Some(S::Resolved),
            (S::Resolved, TicketAction::FollowUp) => Some(S::FollowedUp),
            (S::FollowedUp, TicketAction::Close) => Some(S::Closed),
            (S::Resolved | S::FollowedUp, TicketAction::Reopen) => Some(S::Reopened),
            (S::OnHold { resume_to }, TicketAction::Resume) => Some(resume_to.status()),
            (_, TicketAction::Hold) => {
                Resumable::from_status(&self).map(|resume_to| S::OnHold { resume_to })
            }
            (
                S::New | S::Dispatched | S::InProgress | S::OnHold { .. } | S::Reopened,
                TicketAction::Cancel { reason },
            ) => {
                let reason = reason.trim();
                if reason.is_empty() {
                    return Err(TransitionError::MissingCancelReason);
                }
                Some(S::Cancelled {
                    reason: reason.to_owned(),
                })
            }
            _ => None,
        };
        next.ok_or_else(|| TransitionError::NotAllowed {
            from: self.kind(),
            action: kind,
            allowed: self.kind().allowed_actions().to_vec(),
        })
    }

    /// The state without its data.
    pub fn kind(&self) -> StatusKind {
        match self {
            TicketStatus::New => StatusKind::New,
            TicketStatus::Dispatched => StatusKind::Dispatched,
            TicketStatus::InProgress => StatusKind::InProgress,
            TicketStatus::Resolved => StatusKind::Resolved,
            TicketStatus::FollowedUp => StatusKind::FollowedUp,
            TicketStatus::Closed => StatusKind::Closed,
            TicketStatus::OnHold { .. } => StatusKind::OnHold,
            TicketStatus::Reopened => StatusKind::Reopened,
            TicketStatus::Cancelled { .. } => StatusKind::Cancelled,
        }
    }

    /// Whether nothing can happen to the ticket any more.
    pub fn is_final(&self) -> bool {
        self.kind().allowed_actions().is_empty()
    }
}

impl Resumable {
    fn status(self) -> TicketStatus {
        match self {
            Resumable::New => TicketStatus::New,
            Resumable::Dispatched => TicketStatus::Dispatched,
            Resumable::InProgress => TicketStatus::InProgress,
            Resumable::Reopened => TicketStatus::Reopened,
        }
    }

    fn from_status(status: &TicketStatus) -> Option<Resumable> {
        match status {
            TicketStatus::New => Some(Resumable::New),
            TicketStatus::Dispatched => Some(Resumable::Dispatched),
            TicketStatus::InProgress => Some(Resumable::InProgress),
            TicketStatus::Reopened => Some(Resumable::Reopened),
            _ => None,
        }
    }
}

impl StatusKind {
    /// Every state, in the order of the main path then the side paths.
    pub const ALL: &'static [StatusKind] = &[
        StatusKind::New,
        StatusKind::Dispatched,
        StatusKind::InProgress,
        StatusKind::Resolved,
        StatusKind::FollowedUp,
        StatusKind::Closed,
        StatusKind::OnHold,
        StatusKind::Reopened,
        StatusKind::Cancelled,
    ];

    /// The actions the machine accepts in this state (the table
    /// `TicketStatus::transition` implements; a test holds them together).
    pub fn allowed_actions(self) -> &'static [ActionKind] {
        use ActionKind as A;
        match self {
            StatusKind::New => &[A::Dispatch, A::Resolve, A::Hold, A::Cancel],
            StatusKind::Dispatched => &[A::Dispatch, A::Start, A::Resolve, A::Hold, A::Cancel],
            StatusKind::InProgress => &[A::Dispatch, A::Resolve, A::Hold, A::Cancel],
            StatusKind::Resolved => &[A::FollowUp, A::Reopen],
            StatusKind::FollowedUp => &[A::Close, A::Reopen],
            StatusKind::Closed | StatusKind::Cancelled => &[],
            StatusKind::OnHold => &[A::Resume, A::Cancel],
            StatusKind::Reopened => &[A::Dispatch, A::Start, A::Hold, A::Cancel],
        }
    }

    /// The stable code (`in_progress`).
    pub fn code(self) -> &'static str {
        match self {
            StatusKind::New => "new",
            StatusKind::Dispatched => "dispatched",
            StatusKind::InProgress => "in_progress",
            StatusKind::Resolved => "resolved",
            StatusKind::FollowedUp => "followed_up",
            StatusKind::Closed => "closed",
            StatusKind::OnHold => "on_hold",
            StatusKind::Reopened => "reopened",
            StatusKind::Cancelled => "cancelled",
        }
    }

    /// The Chinese label (受理, 派工…).
    pub fn label_zh(self) -> &'static str {
        labels::status(self)
    }
}

impl ActionKind {
    /// Every action.
    pub const ALL: &'static [ActionKind] = &[
        ActionKind::Dispatch,
        ActionKind::Start,
        ActionKind::Resolve,
        ActionKind::FollowUp,
        ActionKind::Close,
        ActionKind::Hold,
        ActionKind::Resume,
        ActionKind::Reopen,
        ActionKind::Cancel,
    ];

    /// The stable code (`follow_up`).
    pub fn code(self) -> &'static str {
        match self {
            ActionKind::Dispatch => "dispatch",
            ActionKind::Start => "start",
            ActionKind::Resolve => "resolve",
            ActionKind::FollowUp => "follow_up",
            ActionKind::Close => "close",
            ActionKind::Hold => "hold",
            ActionKind::Resume => "resume",
            ActionKind::Reopen => "reopen",
            ActionKind::Cancel => "cancel",
        }
    }

    /// The Chinese label (派工, 回访…).
    pub fn label_zh(self) -> &'static str {
        labels::action(self)
    }
}

impl TicketAction {
    /// The action without its data.
    pub fn kind(&self) -> ActionKind {
        match self {
            TicketAction::Dispatch => ActionKind::Dispatch,
            TicketAction::Start => ActionKind::Start,
            TicketAction::Resolve => ActionKind::Resolve,
            TicketAction::FollowUp => ActionKind::FollowUp,
            TicketAction::Close => ActionKind::Close,
            TicketAction::Hold => ActionKind::Hold,
            TicketAction::Resume => ActionKind::Resume,
            TicketAction::Reopen => ActionKind::Reopen,
            TicketAction::Cancel { .. } => ActionKind::Cancel,
        }
    }
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ActionKind as A;
    use StatusKind as K;

    /// One representative status per kind (`OnHold` resumes to dispatched).
    fn status_of(kind: StatusKind) -> TicketStatus {
        match kind {
            K::New => TicketStatus::New,
            K::Dispatched => TicketStatus::Dispatched,
            K::InProgress => TicketStatus::InProgress,
            K::Resolved => TicketStatus::Resolved,
            K::FollowedUp => TicketStatus::FollowedUp,
            K::Closed => TicketStatus::Closed,
            K::OnHold => TicketStatus::OnHold {
                resume_to: Resumable::Dispatched,
            },
            K::Reopened => TicketStatus::Reopened,
            K::Cancelled => TicketStatus::Cancelled {
                reason: "duplicate".to_owned(),
            },
        }
    }

    fn action_of(kind: ActionKind) -> TicketAction {
        match kind {
            A::Dispatch => TicketAction::Dispatch,
            A::Start => TicketAction::Start,
            A::Resolve => TicketAction::Resolve,
            A::FollowUp => TicketAction::FollowUp,
            A::Close => TicketAction::Close,
            A::Hold => TicketAction::Hold,
            A::Resume => TicketAction::Resume,
            A::Reopen => TicketAction::Reopen,
            A::Cancel => TicketAction::Cancel {
                reason: "业主撤回".to_owned(),
            },
        }
    }

    /// The full table of allowed transitions, written out by hand.
    const EXPECTED: &[(StatusKind, ActionKind, StatusKind)] = &[
        (K::New, A::Dispatch, K::Dispatched),
        (K::New, A::Resolve, K::Resolved),
        (K::New, A::Hold, K::OnHold),
        (K::New, A::Cancel, K::Cancelled),
        (K::Dispatched, A::Dispatch, K::Dispatched),
        (K::Dispatched, A::Start, K::InProgress),
        (K::Dispatched, A::Resolve, K::Resolved),
        (K::Dispatched, A::Hold, K::OnHold),
        (K::Dispatched, A::Cancel, K::Cancelled),
        (K::InProgress, A::Dispatch, K::Dispatched),
        (K::InProgress, A::Resolve, K::Resolved),
        (K::InProgress, A::Hold, K::OnHold),
        (K::InProgress, A::Cancel, K::Cancelled),
        (K::Resolved, A::FollowUp, K::FollowedUp),
        (K::Resolved, A::Reopen, K::Reopened),
        (K::FollowedUp, A::Close, K::Closed),
        (K::FollowedUp, A::Reopen, K::Reopened),
        (K::OnHold, A::Resume, K::Dispatched),
        (K::OnHold, A::Cancel, K::Cancelled),
        (K::Reopened, A::Dispatch, K::Dispatched),
        (K::Reopened, A::Start, K::InProgress),
        (K::Reopened, A::Hold, K::OnHold),
        (K::Reopened, A::Cancel, K::Cancelled),
    ];

    #[test]
    fn every_allowed_transition_leads_where_the_table_says() {
        for (from, action, to) in EXPECTED {
            let next = status_of(*from)
                .transition(action_of(*action))
                .unwrap_or_else(|e| panic!("{from} --{action}--> refused: {e}"));
            assert_eq!(next.kind(), *to, "{from} --{action}-->");
        }
    }

    #[test]
    fn every_other_pair_is_refused_with_the_allowed_actions() {
        let mut refused = 0;
        for from in K::ALL {
            for action in A::ALL {
                if EXPECTED.iter().any(|(f, a, _)| f == from && a == action) {
                    continue;
                }
                let err = status_of(*from)
                    .transition(action_of(*action))
                    .expect_err("not in the table");
                let TransitionError::NotAllowed {
                    from: f,
                    action: a,
                    allowed,
                } = err
                else {
                    panic!("{from} --{action}--> refused for the wrong reason");
                };
                assert_eq!((f, a), (*from, *action));
                let expected: Vec<_> = EXPECTED
                    .iter()
                    .filter(|(f, _, _)| f == from)
                    .map(|(_, a, _)| *a)
                    .collect();
                assert_eq!(allowed, expected, "allowed from {from}");
                refused += 1;
            }
        }
        assert_eq!(refused, K::ALL.len() * A::ALL.len() - EXPECTED.len());
    }

    #[test]
    fn a_refusal_explains_what_is_allowed_instead() {
        let err = TicketStatus::Resolved
            .transition(TicketAction::Close)
            .expect_err("close needs a follow-up first");
        assert_eq!(
            err.to_string(),
            "cannot close a ticket that is resolved; allowed: follow_up, reopen"
        );
        let err = TicketStatus::Closed
            .transition(TicketAction::Reopen)
            .expect_err("closed is final");
        assert_eq!(
            err.to_string(),
            "cannot reopen a ticket that is closed; allowed: nothing (final state)"
        );
    }

    #[test]
    fn a_held_ticket_resumes_to_the_state_it_was_held_from() {
        for from in [
            TicketStatus::New,
            TicketStatus::Dispatched,
            TicketStatus::InProgress,
            TicketStatus::Reopened,
        ] {
            let held = from
                .clone()
                .transition(TicketAction::Hold)
                .expect("holdable");
            assert_eq!(held.kind(), K::OnHold);
            assert_eq!(held.transition(TicketAction::Resume).ok(), Some(from));
        }
    }

    #[test]
    fn a_held_ticket_cannot_be_held_twice() {
        let held = TicketStatus::InProgress
            .transition(TicketAction::Hold)
            .expect("holdable");
        assert!(held.transition(TicketAction::Hold).is_err());
    }

    #[test]
    fn a_cancellation_keeps_its_trimmed_reason_and_refuses_a_blank_one() {
        let cancelled = TicketStatus::New
            .transition(TicketAction::Cancel {
                reason: "  重复登记 ".to_owned(),
            })
            .expect("new can be cancelled");
        assert_eq!(
            cancelled,
            TicketStatus::Cancelled {
                reason: "重复登记".to_owned()
            }
        );
        assert!(cancelled.is_final());
        let err = TicketStatus::New
            .transition(TicketAction::Cancel {
                reason: " ".to_owned(),
            })
            .expect_err("blank reason");
        assert_eq!(err, TransitionError::MissingCancelReason);
    }

    #[test]
    fn statuses_serialise_with_stable_codes_and_their_data() {
        let held = TicketStatus::OnHold {
            resume_to: Resumable::InProgress,
        };
        let json = serde_json::to_string(&held).expect("serialises");
        assert_eq!(json, r#"{"status":"on_hold","resume_to":"in_progress"}"#);
        let back: TicketStatus = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, held);
        for kind in K::ALL {
            let json = serde_json::to_string(kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.code()));
        }
        for kind in A::ALL {
            let json = serde_json::to_string(kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.code()));
        }
        assert_eq!(K::InProgress.label_zh(), "处理中");
        assert_eq!(A::FollowUp.label_zh(), "回访");
    }
}

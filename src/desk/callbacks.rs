//! Callbacks (回访 and 未接来电回拨): what is owed to whom, when it may be
//! dialled, what an attempt came to and what follows from it.
//!
//! Owns the rules: the 回访 of a resolved work order is due `after` its
//! kind's policy, at the first moment inside the calling hours that is not
//! a quiet day (§7.1.9 of the service procedure: every order ends with a
//! follow-up asking whether the owner is satisfied); a failed attempt is
//! retried with back-off up to `max_attempts`, then becomes a manual task;
//! the survey's digit is a [`Satisfaction`]. Pure: the dialer (telephony)
//! and the store carry the rules out.

mod config;
mod service;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use config::{CallbacksConfig, CallingHours, MissedMode};
pub use service::{
    AttemptReport, CallbackView, Callbacks, Claimed, MAX_CALLBACK_PAGE, NewManualCallback,
};

/// Why a callback is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackReason {
    /// 回访: the survey call after a work order is resolved.
    Followup,
    /// 未接来电回拨: a caller who gave up waiting in the queue.
    Missed,
    /// Scheduled by an operator or supervisor.
    Manual,
}

/// Where a callback is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    /// Due at its time; nobody dials it yet.
    Pending,
    /// Claimed by a dialer, which is calling.
    Dialing,
    /// An attempt failed; due again at its time.
    RetryWait,
    /// For a person to handle (no automatic call: 勿扰, attempts used up,
    /// or a survey that needs a human).
    Manual,
    /// Done: the survey answered or the result recorded.
    Done,
    /// Not wanted any more (the work order closed, cancelled or reopened).
    Cancelled,
}

/// How satisfied the owner said they are (the survey's digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    /// 满意 (1)
    Satisfied,
    /// 基本满意 (2)
    BasicallySatisfied,
    /// 不满意 (3)
    Dissatisfied,
    /// The owner answered but pressed nothing usable.
    NoAnswerGiven,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The owner picked up.
    Answered,
    /// 486 Busy Here / 600 Busy Everywhere.
    Busy,
    /// Rang out (our ring timeout, or 408/480 from the network).
    NoAnswer,
    /// The number cannot be reached (404, 410, 484, 604…).
    Unreachable,
    /// The owner refused the call (603 Decline).
    Declined,
    /// The trunk failed us: no response, 5xx, 401/407 we cannot answer.
    TrunkFailure,
    /// The dialer stopped during the attempt (a crash, a restart).
    Interrupted,
}

macro_rules! codes {
    ($name:ident { $($variant:ident => $code:literal),* $(,)? }) => {
        impl $name {
            pub const ALL: [$name; [$($code),*].len()] = [$($name::$variant),*];

            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            pub fn from_code(code: &str) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

codes!(CallbackReason { Followup => "followup", Missed => "missed", Manual => "manual" });
codes!(CallbackStatus {
    Pending => "pending",
    Dialing => "dialing",
    RetryWait => "retry_wait",
    Manual => "manual",
    Done => "done",
    Cancelled => "cancelled",
});
codes!(Satisfaction {
    Satisfied => "satisfied",
    BasicallySatisfied => "basically_satisfied",
    Dissatisfied => "dissatisfied",
    NoAnswerGiven => "no_answer_given",
});
codes!(AttemptOutcome {
    Answered => "answered",
    Busy => "busy",
    NoAnswer => "no_answer",
    Unreachable => "unreachable",
    Declined => "declined",
    TrunkFailure => "trunk_failure",
    Interrupted => "interrupted",
});

impl CallbackStatus {
    /// Still to be dialled or handled.
    pub fn is_open(self) -> bool {
        !matches!(self, CallbackStatus::Done | CallbackStatus::Cancelled)
    }
}

impl Satisfaction {
    /// The survey key: 1 satisfied, 2 basically satisfied, 3 dissatisfied.
    pub fn from_digit(digit: char) -> Option<Satisfaction> {
        match digit {
            '1' => Some(Satisfaction::Satisfied),
            '2' => Some(Satisfaction::BasicallySatisfied),
            '3' => Some(Satisfaction::Dissatisfied),
            _ => None,
        }
    }

    /// Counts towards the satisfaction rate (满意 + 基本满意).
    pub fn is_satisfied(self) -> bool {
        matches!(
            self,
            Satisfaction::Satisfied | Satisfaction::BasicallySatisfied
        )
    }
}

impl AttemptOutcome {
    /// What a final SIP status to our INVITE means for the callback
    /// (RFC 3261 §21).
    pub fn of_status(status: u16) -> AttemptOutcome {
        match status {
            200..=299 => AttemptOutcome::Answered,
            486 | 600 => AttemptOutcome::Busy,
            408 | 480 | 487 => AttemptOutcome::NoAnswer,
            603 => AttemptOutcome::Declined,
            404 | 410 | 484 | 485 | 604 => AttemptOutcome::Unreachable,
            _ => AttemptOutcome::TrunkFailure,
        }
    }
}

/// The callback's number: the reporter's mobile, else another of their
/// phones, else the number the order came from. `phones` are the
/// archive's numbers of the reporter as (number, is mobile).
pub fn callback_number<'a>(
    phones: &'a [(String, bool)],
    order_number: Option<&'a str>,
) -> Option<&'a str> {
    phones
        .iter()
        .find(|(_, mobile)| *mobile)
        .or_else(|| phones.first())
        .map(|(number, _)| number.as_str())
        .or(order_number)
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests;

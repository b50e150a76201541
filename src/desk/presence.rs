//! Operator presence (坐席状态) and the queue's choice of whom to ring: the
//! states an operator goes through, what moves them, and the longest-idle
//! rule. Pure: events and the current time in, the new state (and whether
//! it changed, so the caller stores and publishes it) out. The telephony
//! layer feeds it what the phones and calls do, the API what the operator
//! chooses.

use std::fmt;
use std::time::{Duration, SystemTime};

/// Where an operator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorState {
    /// No reachable phone.
    Offline,
    /// Ready for the next call.
    Available,
    /// A call is ringing their phone.
    Ringing,
    /// On a call.
    OnCall,
    /// Finishing the last call's paperwork (整理); ends by itself.
    WrapUp,
    /// Away, with a reason.
    Break,
}

impl OperatorState {
    pub const ALL: [OperatorState; 6] = [
        OperatorState::Offline,
        OperatorState::Available,
        OperatorState::Ringing,
        OperatorState::OnCall,
        OperatorState::WrapUp,
        OperatorState::Break,
    ];

    /// The name stored and used by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorState::Offline => "offline",
            OperatorState::Available => "available",
            OperatorState::Ringing => "ringing",
            OperatorState::OnCall => "on_call",
            OperatorState::WrapUp => "wrap_up",
            OperatorState::Break => "break",
        }
    }

    pub fn parse(stored: &str) -> Option<OperatorState> {
        OperatorState::ALL
            .into_iter()
            .find(|s| s.as_str() == stored)
    }

    /// What it means to a person (中文).
    pub fn label(self) -> &'static str {
        super::labels::operator_state(self)
    }
}

impl fmt::Display for OperatorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a ring of an operator's phone ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingFailure {
    /// Nobody picked up before the ring timeout (we CANCELled).
    NoAnswer,
    /// The phone refused (486, 603, 480, 408…).
    Refused,
    /// The phone could not be reached.
    Unreachable,
    /// The caller gave up while it rang (not the operator's doing).
    CallerLeft,
}

/// How many ring-outs in a row set an operator on break, unless configured.
pub const DEFAULT_RING_OUTS_TO_BREAK: u32 = 2;

/// Presence rules an administrator may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceRules {
    /// After each call (`queue.wrap_up`).
    pub wrap_up: Duration,
    /// Ring-outs in a row that set the operator on break; 0 never does.
    pub ring_outs_to_break: u32,
}

/// One operator's presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    state: OperatorState,
    /// Since when the operator is in `state`.
    since: SystemTime,
    /// The break reason while on break.
    reason: Option<String>,
    /// Since when the operator is idle: the end of their last call or
    /// wrap-up, else when they became available. What longest-idle sorts by.
    idle_since: SystemTime,
    /// The break the operator chose (or was put on), with its reason: a
    /// phone registering does not make them available.
    chosen_break: Option<String>,
    /// Whether a phone of theirs is registered and reachable.
    phone_up: bool,
    /// Rings in a row they let ring out.
    ring_outs: u32,
    /// When wrap-up ends by itself.
    wrap_up_until: Option<SystemTime>,
}

/// A state change for the caller to store and publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub state: OperatorState,
    pub reason: Option<String>,
    pub at: SystemTime,
}

impl Presence {
    /// An operator with no phone up yet.
    pub fn offline(now: SystemTime) -> Presence {
        Presence {
            state: OperatorState::Offline,
            since: now,
            reason: None,
            idle_since: now,
            chosen_break: None,
            phone_up: false,
            ring_outs: 0,
            wrap_up_until: None,
        }
    }

    pub fn state(&self) -> OperatorState {
        self.state
    }

    pub fn since(&self) -> SystemTime {
        self.since
    }

    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    pub fn idle_since(&self) -> SystemTime {
        self.idle_since
    }

    pub fn wrap_up_until(&self) -> Option<SystemTime> {
        self.wrap_up_until
    }

    /// Whether a call may be offered now.
    pub fn is_available(&self) -> bool {
        self.state == OperatorState::Available
    }

    /// Whether the operator could take calls later (their phone is up),
    /// even if busy or on break now: a caller may wait for them.
    pub fn could_become_available(&self) -> bool {
        self.phone_up
    }

    /// The phone registered (or became reachable again) or lost its last
    /// reachable binding.
    pub fn phone(&mut self, up: bool, now: SystemTime) -> Option<StateChange> {
        self.phone_up = up;
        match (up, self.state) {
            (true, OperatorState::Offline) if self.chosen_break.is_some() => {
                let reason = self.chosen_break.clone();
                self.enter(OperatorState::Break, reason, now)
            }
            (true, OperatorState::Offline) => self.become_available(now),
            // A phone that re-registers mid-call changes nothing.
            (true, _) => None,
            // Busy operators finish their call; they go offline after it.
            (false, OperatorState::Ringing | OperatorState::OnCall) => None,
            (false, OperatorState::Offline) => None,
            (false, _) => self.enter(OperatorState::Offline, None, now),
        }
    }

    /// The operator says they are ready. Ends a break or a wrap-up early;
    /// without a phone up they stay offline (but no longer on break).
    pub fn set_available(&mut self, now: SystemTime) -> Option<StateChange> {
        self.chosen_break = None;
        match self.state {
            OperatorState::Break | OperatorState::WrapUp => {
                if self.phone_up {
                    self.become_available(now)
                } else {
                    self.enter(OperatorState::Offline, None, now)
                }
            }
            _ => None,
        }
    }

    /// The operator goes on break (小休, 用餐…). Not while a call rings or
    /// is up: it applies when that call ends (returns no change now).
    pub fn set_break(&mut self, reason: &str, now: SystemTime) -> Option<StateChange> {
        self.chosen_break = Some(reason.to_string());
        match self.state {
            OperatorState::Available | OperatorState::WrapUp | OperatorState::Break => {
                self.enter(OperatorState::Break, Some(reason.to_string()), now)
            }
            OperatorState::Offline | OperatorState::Ringing | OperatorState::OnCall => None,
        }
    }

    /// A call is offered: their phone rings. Only an available operator
    /// may be offered a call (one call at a time).
    pub fn offer(&mut self, now: SystemTime) -> Option<StateChange> {
        if self.state != OperatorState::Available {
            return None;
        }
        self.enter(OperatorState::Ringing, None, now)
    }

    /// They answered the call that rang.
    pub fn answered(&mut self, now: SystemTime) -> Option<StateChange> {
        if self.state != OperatorState::Ringing {
            return None;
        }
        self.ring_outs = 0;
        self.enter(OperatorState::OnCall, None, now)
    }

    /// The ring ended without an answer.
    pub fn ring_failed(
        &mut self,
        failure: RingFailure,
        rules: &PresenceRules,
        now: SystemTime,
    ) -> Option<StateChange> {
        if self.state != OperatorState::Ringing {
            return None;
        }
        if failure == RingFailure::NoAnswer {
            self.ring_outs += 1;
        }
        if rules.ring_outs_to_break > 0 && self.ring_outs >= rules.ring_outs_to_break {
            self.ring_outs = 0;
            let reason = super::labels::BREAK_NO_ANSWER.to_string();
            self.chosen_break = Some(reason.clone());
            return self.enter(OperatorState::Break, Some(reason), now);
        }
        self.after_call(now, false)
    }

    /// The call they were on ended: wrap-up (or straight on when wrap-up
    /// is zero), then available.
    pub fn call_ended(&mut self, rules: &PresenceRules, now: SystemTime) -> Option<StateChange> {
        if self.state != OperatorState::OnCall {
            return None;
        }
        if rules.wrap_up.is_zero() {
            return self.after_call(now, true);
        }
        self.idle_since = now;
        self.wrap_up_until = Some(now + rules.wrap_up);
        self.enter(OperatorState::WrapUp, None, now)
    }

    /// Time passes: a wrap-up that is due ends.
    pub fn tick(&mut self, now: SystemTime) -> Option<StateChange> {
        match (self.state, self.wrap_up_until) {
            (OperatorState::WrapUp, Some(until)) if until <= now => self.after_call(now, true),
            _ => None,
        }
    }

    /// Where an operator goes when a call (or its ring) is over: a break
    /// they asked for meanwhile, offline without a phone, else available.
    fn after_call(&mut self, now: SystemTime, idle_from_now: bool) -> Option<StateChange> {
        self.wrap_up_until = None;
        if idle_from_now {
            self.idle_since = now;
        }
        if !self.phone_up {
            self.enter(OperatorState::Offline, None, now)
        } else if self.chosen_break.is_some() {
            let reason = self.chosen_break.clone();
            self.enter(OperatorState::Break, reason, now)
        } else {
            self.enter(OperatorState::Available, None, now)
        }
    }

    fn become_available(&mut self, now: SystemTime) -> Option<StateChange> {
        self.idle_since = now;
        self.enter(OperatorState::Available, None, now)
    }

    fn enter(
        &mut self,
        state: OperatorState,
        reason: Option<String>,
        now: SystemTime,
    ) -> Option<StateChange> {
        if state != OperatorState::WrapUp {
            self.wrap_up_until = None;
        }
        if self.state == state && self.reason == reason {
            return None;
        }
        self.reason = reason.clone();
        self.state = state;
        self.since = now;
        Some(StateChange {
            state,
            reason,
            at: now,
        })
    }
}

/// The longest-idle available operator among `candidates` (name and
/// presence), skipping those already tried for this call; ties go to the
/// name first in order, so the choice is reproducible.
pub fn longest_idle<'a, I>(candidates: I, tried: &[&str]) -> Option<&'a str>
where
    I: IntoIterator<Item = (&'a str, &'a Presence)>,
{
    candidates
        .into_iter()
        .filter(|(name, presence)| presence.is_available() && !tried.contains(name))
        .min_by(|(a_name, a), (b_name, b)| {
            a.idle_since
                .cmp(&b.idle_since)
                .then_with(|| a_name.cmp(b_name))
        })
        .map(|(name, _)| name)
}

#[cfg(test)]
mod tests;

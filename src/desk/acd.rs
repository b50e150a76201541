//! Automatic call distribution (排队与分配): which waiting call rings which
//! operator. Owns the queue of waiting calls (first come, first served),
//! every operator's [`Presence`], the operator groups and their
//! communities, and the rules that keep the queue honest:
//!
//! - a call rings one operator at a time, and an operator is offered one
//!   call at a time;
//! - the longest-idle available operator of the call's group is rung; one
//!   who refused or let it ring out is not rung again for that call;
//! - a call leaves the queue only answered, or given up (by the caller or
//!   by the flow: voice message, maximum wait).
//!
//! Pure: events and the current time in, [`AcdAction`]s out. The telephony
//! layer runs it in one task and carries the actions out (rings phones,
//! stores and publishes state changes).

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use super::presence::{Presence, PresenceRules, RingFailure, StateChange, longest_idle};

/// A call in the queue, as the ACD knows it: an opaque id.
pub type QueuedCallId = String;

/// Which communities' calls a group takes and which operators are in it;
/// `None` means all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRule {
    pub name: String,
    pub communities: Option<Vec<String>>,
    pub operators: Option<Vec<String>>,
}

impl GroupRule {
    fn serves(&self, community: &str) -> bool {
        self.communities
            .as_ref()
            .is_none_or(|codes| codes.iter().any(|code| code == community))
    }

    fn includes(&self, operator: &str) -> bool {
        self.operators
            .as_ref()
            .is_none_or(|names| names.iter().any(|name| name == operator))
    }
}

/// What the telephony layer is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdAction {
    /// Ring this operator's phone for this call.
    Ring {
        call: QueuedCallId,
        operator: String,
    },
    /// An operator's state changed: store it, publish it.
    StateChanged {
        operator: String,
        change: StateChange,
        /// The call it concerns (ringing, on call).
        call: Option<QueuedCallId>,
    },
}

/// A call waiting for an operator.
#[derive(Debug, Clone)]
struct Waiting {
    call: QueuedCallId,
    community: String,
    entered_at: SystemTime,
    /// Operators who refused it or let it ring out.
    tried: Vec<String>,
    /// The operator whose phone rings for it now.
    ringing: Option<String>,
}

/// One operator as the ACD keeps them.
#[derive(Debug, Clone)]
struct Operator {
    presence: Presence,
    /// The call their phone rings for, or that they are on.
    call: Option<QueuedCallId>,
}

/// A waiting call as others see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingView {
    pub call: QueuedCallId,
    pub community: String,
    pub entered_at: SystemTime,
    pub ringing: Option<String>,
}

/// The queue and the operators.
#[derive(Debug)]
pub struct Acd {
    rules: PresenceRules,
    groups: Vec<GroupRule>,
    operators: BTreeMap<String, Operator>,
    waiting: VecDeque<Waiting>,
}

impl Acd {
    pub fn new(rules: PresenceRules, groups: Vec<GroupRule>) -> Acd {
        Acd {
            rules,
            groups,
            operators: BTreeMap::new(),
            waiting: VecDeque::new(),
        }
    }

    /// Adds an operator (offline until their phone is up); an operator
    /// already known is kept as they are.
    pub fn add_operator(&mut self, name: &str, now: SystemTime) {
        self.operators
            .entry(name.to_string())
            .or_insert_with(|| Operator {
                presence: Presence::offline(now),
                call: None,
            });
    }

    /// The presence of one operator.
    pub fn presence(&self, name: &str) -> Option<&Presence> {
        self.operators.get(name).map(|o| &o.presence)
    }

    /// Every operator with their presence and call, by name.
    pub fn operators(&self) -> impl Iterator<Item = (&str, &Presence, Option<&str>)> {
        self.operators
            .iter()
            .map(|(name, op)| (name.as_str(), &op.presence, op.call.as_deref()))
    }

    /// The calls waiting, first come first.
    pub fn waiting(&self) -> Vec<WaitingView> {
        self.waiting
            .iter()
            .map(|w| WaitingView {
                call: w.call.clone(),
                community: w.community.clone(),
                entered_at: w.entered_at,
                ringing: w.ringing.clone(),
            })
            .collect()
    }

    /// The call's place in the queue, from 1.
    pub fn position(&self, call: &str) -> Option<usize> {
        self.waiting
            .iter()
            .position(|w| w.call == call)
            .map(|index| index + 1)
    }

    /// Whether some operator who serves `community` has a phone up (and so
    /// a caller may wait for them).
    pub fn could_answer(&self, community: &str) -> bool {
        self.operators
            .iter()
            .any(|(name, op)| op.presence.could_become_available() && self.serves(name, community))
    }

    fn serves(&self, operator: &str, community: &str) -> bool {
        self.groups
            .iter()
            .any(|group| group.serves(community) && group.includes(operator))
    }

    /// A call joins the queue.
    pub fn join(&mut self, call: &str, community: &str, now: SystemTime) -> Vec<AcdAction> {
        if self.position(call).is_some() {
            return Vec::new();
        }
        self.waiting.push_back(Waiting {
            call: call.to_string(),
            community: community.to_string(),
            entered_at: now,
            tried: Vec::new(),
            ringing: None,
        });
        self.dispatch(now)
    }

    /// A call leaves the queue unanswered (the caller hung up, or the flow
    /// gave up on it). An operator whose phone rang for it is free again.
    pub fn leave(&mut self, call: &str, now: SystemTime) -> Vec<AcdAction> {
        let Some(index) = self.waiting.iter().position(|w| w.call == call) else {
            return Vec::new();
        };
        let mut actions = Vec::new();
        if let Some(waiting) = self.waiting.remove(index)
            && let Some(operator) = waiting.ringing
        {
            self.ring_over(&operator, call, RingFailure::CallerLeft, now, &mut actions);
        }
        actions.extend(self.dispatch(now));
        actions
    }

    /// The ring of `operator` for `call` ended unanswered: the call waits
    /// for the next operator, who is rung at once if there is one.
    pub fn ring_failed(
        &mut self,
        call: &str,
        operator: &str,
        failure: RingFailure,
        now: SystemTime,
    ) -> Vec<AcdAction> {
        let Some(waiting) = self
            .waiting
            .iter_mut()
            .find(|w| w.call == call && w.ringing.as_deref() == Some(operator))
        else {
            return Vec::new();
        };
        waiting.ringing = None;
        if failure != RingFailure::CallerLeft {
            waiting.tried.push(operator.to_string());
        }
        let mut actions = Vec::new();
        self.ring_over(operator, call, failure, now, &mut actions);
        actions.extend(self.dispatch(now));
        actions
    }

    /// The operator answered: the call leaves the queue, they are on it.
    /// False when that ring was no longer current (the caller had left).
    pub fn answered(
        &mut self,
        call: &str,
        operator: &str,
        now: SystemTime,
    ) -> (bool, Vec<AcdAction>) {
        let Some(index) = self
            .waiting
            .iter()
            .position(|w| w.call == call && w.ringing.as_deref() == Some(operator))
        else {
            return (false, Vec::new());
        };
        self.waiting.remove(index);
        let mut actions = Vec::new();
        if let Some(op) = self.operators.get_mut(operator)
            && let Some(change) = op.presence.answered(now)
        {
            actions.push(state_changed(operator, change, Some(call)));
        }
        actions.extend(self.dispatch(now));
        (true, actions)
    }

    /// The call the operator was on ended.
    pub fn call_ended(&mut self, operator: &str, now: SystemTime) -> Vec<AcdAction> {
        let rules = self.rules;
        let mut actions = Vec::new();
        if let Some(op) = self.operators.get_mut(operator) {
            let call = op.call.take();
            if let Some(change) = op.presence.call_ended(&rules, now) {
                actions.push(state_changed(operator, change, call.as_deref()));
            }
        }
        actions.extend(self.dispatch(now));
        actions
    }

    /// An operator's phone is up (registered and reachable) or not.
    pub fn phone(&mut self, operator: &str, up: bool, now: SystemTime) -> Vec<AcdAction> {
        self.change(operator, now, |presence, now| presence.phone(up, now))
    }

    /// The operator says they are ready.
    pub fn set_available(&mut self, operator: &str, now: SystemTime) -> Vec<AcdAction> {
        self.change(operator, now, Presence::set_available)
    }

    /// The operator goes on break.
    pub fn set_break(&mut self, operator: &str, reason: &str, now: SystemTime) -> Vec<AcdAction> {
        self.change(operator, now, |presence, now| {
            presence.set_break(reason, now)
        })
    }

    /// Time passes: wrap-ups that are due end, and waiting calls may ring.
    pub fn tick(&mut self, now: SystemTime) -> Vec<AcdAction> {
        let mut actions = Vec::new();
        for (name, op) in &mut self.operators {
            if let Some(change) = op.presence.tick(now) {
                actions.push(state_changed(name, change, None));
            }
        }
        actions.extend(self.dispatch(now));
        actions
    }

    fn change(
        &mut self,
        operator: &str,
        now: SystemTime,
        apply: impl FnOnce(&mut Presence, SystemTime) -> Option<StateChange>,
    ) -> Vec<AcdAction> {
        let mut actions = Vec::new();
        if let Some(op) = self.operators.get_mut(operator)
            && let Some(change) = apply(&mut op.presence, now)
        {
            actions.push(state_changed(operator, change, op.call.as_deref()));
        }
        actions.extend(self.dispatch(now));
        actions
    }

    fn ring_over(
        &mut self,
        operator: &str,
        call: &str,
        failure: RingFailure,
        now: SystemTime,
        actions: &mut Vec<AcdAction>,
    ) {
        let rules = self.rules;
        if let Some(op) = self.operators.get_mut(operator) {
            if op.call.as_deref() == Some(call) {
                op.call = None;
            }
            if let Some(change) = op.presence.ring_failed(failure, &rules, now) {
                actions.push(state_changed(operator, change, None));
            }
        }
    }

    /// Offers waiting calls, oldest first, to the longest-idle available
    /// operator of their group who has not had them.
    fn dispatch(&mut self, now: SystemTime) -> Vec<AcdAction> {
        let mut actions = Vec::new();
        for index in 0..self.waiting.len() {
            if self.waiting[index].ringing.is_some() {
                continue;
            }
            let waiting = &self.waiting[index];
            let tried: Vec<&str> = waiting.tried.iter().map(String::as_str).collect();
            let candidates = self
                .operators
                .iter()
                .filter(|(name, _)| self.serves(name, &waiting.community))
                .map(|(name, op)| (name.as_str(), &op.presence));
            let Some(chosen) = longest_idle(candidates, &tried).map(str::to_string) else {
                continue;
            };
            let call = waiting.call.clone();
            let Some(op) = self.operators.get_mut(&chosen) else {
                continue;
            };
            let Some(change) = op.presence.offer(now) else {
                continue;
            };
            op.call = Some(call.clone());
            self.waiting[index].ringing = Some(chosen.clone());
            actions.push(state_changed(&chosen, change, Some(&call)));
            actions.push(AcdAction::Ring {
                call,
                operator: chosen,
            });
        }
        actions
    }
}

fn state_changed(operator: &str, change: StateChange, call: Option<&str>) -> AcdAction {
    AcdAction::StateChanged {
        operator: operator.to_string(),
        change,
        call: call.map(str::to_string),
    }
}

#[cfg(test)]
mod tests;

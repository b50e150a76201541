use std::collections::BTreeSet;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use super::*;
use crate::desk::presence::{DEFAULT_RING_OUTS_TO_BREAK, OperatorState};

const RULES: PresenceRules = PresenceRules {
    wrap_up: Duration::from_secs(10),
    ring_outs_to_break: DEFAULT_RING_OUTS_TO_BREAK,
};

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
}

fn everyone() -> Vec<GroupRule> {
    vec![GroupRule {
        name: "all".to_string(),
        communities: None,
        operators: None,
    }]
}

/// An ACD with these operators' phones up, in this order (the first is
/// the longest idle).
fn acd(names: &[&str]) -> Acd {
    let mut acd = Acd::new(RULES, everyone());
    for (n, name) in names.iter().enumerate() {
        acd.add_operator(name, at(0));
        acd.phone(name, true, at(n as u64));
    }
    acd
}

fn rings(actions: &[AcdAction]) -> Vec<(String, String)> {
    actions
        .iter()
        .filter_map(|action| match action {
            AcdAction::Ring { call, operator } => Some((call.clone(), operator.clone())),
            AcdAction::StateChanged { .. } => None,
        })
        .collect()
}

fn ring(call: &str, operator: &str) -> (String, String) {
    (call.to_string(), operator.to_string())
}

#[test]
fn a_call_rings_the_longest_idle_operator_and_the_next_after_a_ring_out() {
    let mut acd = acd(&["zhang", "li", "wang"]);
    let actions = acd.join("c1", "JF", at(10));
    assert_eq!(rings(&actions), [ring("c1", "zhang")]);
    assert_eq!(
        acd.presence("zhang").map(Presence::state),
        Some(OperatorState::Ringing)
    );
    let actions = acd.ring_failed("c1", "zhang", RingFailure::NoAnswer, at(30));
    assert_eq!(rings(&actions), [ring("c1", "li")]);
    let actions = acd.ring_failed("c1", "li", RingFailure::Refused, at(31));
    assert_eq!(rings(&actions), [ring("c1", "wang")], "each operator once");
    let actions = acd.ring_failed("c1", "wang", RingFailure::Unreachable, at(32));
    assert!(rings(&actions).is_empty(), "nobody left who has not had it");
    assert_eq!(acd.position("c1"), Some(1), "the call still waits");
}

#[test]
fn an_answered_call_leaves_the_queue_and_the_operator_wraps_up() {
    let mut acd = acd(&["zhang", "li"]);
    acd.join("c1", "JF", at(10));
    let (current, _) = acd.answered("c1", "zhang", at(12));
    assert!(current);
    assert_eq!(acd.position("c1"), None);
    assert_eq!(
        acd.presence("zhang").map(Presence::state),
        Some(OperatorState::OnCall)
    );
    let actions = acd.join("c2", "JF", at(13));
    assert_eq!(rings(&actions), [ring("c2", "li")], "zhang is busy");
    acd.answered("c2", "li", at(14));
    let actions = acd.join("c3", "JF", at(15));
    assert!(rings(&actions).is_empty(), "everyone busy: c3 waits");
    acd.call_ended("zhang", at(60));
    assert!(rings(&acd.tick(at(65))).is_empty(), "still wrapping up");
    let actions = acd.tick(at(70));
    assert_eq!(rings(&actions), [ring("c3", "zhang")]);
}

#[test]
fn a_caller_leaving_while_it_rings_frees_the_operator_without_a_ring_out() {
    let mut acd = acd(&["zhang"]);
    acd.join("c1", "JF", at(10));
    acd.leave("c1", at(11));
    assert_eq!(
        acd.presence("zhang").map(Presence::state),
        Some(OperatorState::Available)
    );
    let (current, _) = acd.answered("c1", "zhang", at(12));
    assert!(!current, "a late answer for a call that left is refused");
    acd.join("c2", "JF", at(20));
    acd.ring_failed("c2", "zhang", RingFailure::NoAnswer, at(40));
    acd.join("c3", "JF", at(41));
    assert_eq!(
        acd.presence("zhang").map(Presence::state),
        Some(OperatorState::Ringing),
        "one ring-out so far: the caller who left did not count"
    );
}

#[test]
fn calls_are_served_first_come_first_served() {
    let mut acd = acd(&["zhang"]);
    acd.set_break("zhang", "小休", at(5));
    acd.join("c1", "JF", at(10));
    acd.join("c2", "JF", at(11));
    assert_eq!(acd.position("c2"), Some(2));
    let actions = acd.set_available("zhang", at(12));
    assert_eq!(rings(&actions), [ring("c1", "zhang")]);
}

#[test]
fn groups_serve_their_communities_with_their_operators() {
    let groups = vec![
        GroupRule {
            name: "north".to_string(),
            communities: Some(vec!["JF".to_string()]),
            operators: Some(vec!["zhang".to_string()]),
        },
        GroupRule {
            name: "south".to_string(),
            communities: Some(vec!["LH".to_string()]),
            operators: Some(vec!["li".to_string()]),
        },
    ];
    let mut acd = Acd::new(RULES, groups);
    for name in ["zhang", "li"] {
        acd.add_operator(name, at(0));
    }
    acd.phone("li", true, at(1));
    assert!(!acd.could_answer("JF"), "zhang's phone is down");
    assert!(acd.could_answer("LH"));
    assert!(rings(&acd.join("c1", "JF", at(2))).is_empty());
    assert_eq!(
        rings(&acd.phone("zhang", true, at(3))),
        [ring("c1", "zhang")]
    );
    assert!(!acd.could_answer("ZZ"), "no group serves it");
}

/// Random events against the invariants: no call rings two operators, no
/// operator is offered two calls, and every call that joined ends up
/// answered or having left, never lost.
#[test]
fn random_events_keep_the_invariants() {
    let names = ["a", "b", "c", "d"];
    for seed in 0..200_u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut acd = acd(&names);
        let mut joined = BTreeSet::new();
        let mut answered = BTreeSet::new();
        let mut left = BTreeSet::new();
        let mut on_call: BTreeSet<String> = BTreeSet::new();
        for step in 0..300_u64 {
            let now = at(100 + step);
            let operator = names[rng.gen_range(0..names.len())];
            match rng.gen_range(0..9) {
                0 | 1 => {
                    let call = format!("c{step}");
                    acd.join(&call, "JF", now);
                    joined.insert(call);
                }
                2 => {
                    if let Some(w) = acd.waiting().first().cloned() {
                        acd.leave(&w.call, now);
                        left.insert(w.call);
                    }
                }
                3 | 4 => {
                    let ringing = acd.waiting().into_iter().find(|w| w.ringing.is_some());
                    if let Some(w) = ringing {
                        let op = w.ringing.clone().expect("ringing");
                        if rng.gen_bool(0.5) {
                            let (current, _) = acd.answered(&w.call, &op, now);
                            assert!(current);
                            answered.insert(w.call);
                            on_call.insert(op);
                        } else {
                            acd.ring_failed(&w.call, &op, RingFailure::NoAnswer, now);
                        }
                    }
                }
                5 => {
                    if on_call.remove(operator) {
                        acd.call_ended(operator, now);
                    }
                }
                6 => {
                    acd.phone(operator, rng.gen_bool(0.7), now);
                }
                7 => {
                    if rng.gen_bool(0.5) {
                        acd.set_available(operator, now);
                    } else {
                        acd.set_break(operator, "小休", now);
                    }
                }
                _ => {
                    acd.tick(now);
                }
            }
            let waiting = acd.waiting();
            let mut ringing_ops = BTreeSet::new();
            for w in &waiting {
                if let Some(op) = &w.ringing {
                    assert!(
                        ringing_ops.insert(op.clone()),
                        "seed {seed}: {op} offered two calls"
                    );
                    let (_, presence, call) = acd
                        .operators()
                        .find(|(name, _, _)| name == op)
                        .expect("known operator");
                    assert_eq!(presence.state(), OperatorState::Ringing, "seed {seed}");
                    assert_eq!(call, Some(w.call.as_str()), "seed {seed}");
                }
            }
            for (name, presence, call) in acd.operators() {
                if presence.state() == OperatorState::Ringing {
                    assert!(
                        ringing_ops.contains(name),
                        "seed {seed}: {name} rings for nothing"
                    );
                }
                if presence.state() == OperatorState::OnCall {
                    assert!(call.is_some(), "seed {seed}: {name} on no call");
                }
            }
            for call in &joined {
                let queued = waiting.iter().any(|w| &w.call == call);
                let done = answered.contains(call) || left.contains(call);
                assert!(queued != done, "seed {seed}: {call} lost or twice");
            }
        }
    }
}

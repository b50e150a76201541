use super::*;

const RULES: PresenceRules = PresenceRules {
    wrap_up: Duration::from_secs(10),
    ring_outs_to_break: DEFAULT_RING_OUTS_TO_BREAK,
};

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
}

fn online(seconds: u64) -> Presence {
    let mut presence = Presence::offline(at(0));
    presence.phone(true, at(seconds));
    presence
}

#[test]
fn a_registered_phone_makes_an_operator_available_and_losing_it_offline() {
    let mut presence = Presence::offline(at(0));
    let change = presence.phone(true, at(5)).expect("a change");
    assert_eq!(change.state, OperatorState::Available);
    assert_eq!(presence.since(), at(5));
    assert_eq!(
        presence.phone(true, at(6)),
        None,
        "a refresh changes nothing"
    );
    let change = presence.phone(false, at(9)).expect("a change");
    assert_eq!(change.state, OperatorState::Offline);
}

#[test]
fn a_chosen_break_survives_the_phone_registering_again() {
    let mut presence = online(1);
    let change = presence.set_break("用餐", at(2)).expect("a change");
    assert_eq!(change.reason.as_deref(), Some("用餐"));
    presence.phone(false, at(3));
    let change = presence.phone(true, at(4)).expect("a change");
    assert_eq!(change.state, OperatorState::Break);
    assert_eq!(presence.reason(), Some("用餐"));
    let change = presence.set_available(at(5)).expect("a change");
    assert_eq!(change.state, OperatorState::Available);
    assert_eq!(presence.reason(), None);
}

#[test]
fn a_call_goes_ringing_on_call_wrap_up_then_available() {
    let mut presence = online(1);
    assert_eq!(
        presence.offer(at(2)).map(|c| c.state),
        Some(OperatorState::Ringing)
    );
    assert_eq!(presence.offer(at(2)), None, "one call at a time");
    assert_eq!(
        presence.answered(at(3)).map(|c| c.state),
        Some(OperatorState::OnCall)
    );
    let change = presence.call_ended(&RULES, at(60)).expect("a change");
    assert_eq!(change.state, OperatorState::WrapUp);
    assert_eq!(presence.wrap_up_until(), Some(at(70)));
    assert_eq!(presence.tick(at(69)), None);
    let change = presence.tick(at(70)).expect("wrap-up over");
    assert_eq!(change.state, OperatorState::Available);
    assert_eq!(
        presence.idle_since(),
        at(70),
        "idle from the end of wrap-up"
    );
}

#[test]
fn wrap_up_can_be_ended_early_and_zero_wrap_up_skips_it() {
    let mut presence = online(1);
    presence.offer(at(2));
    presence.answered(at(3));
    presence.call_ended(&RULES, at(10));
    assert_eq!(
        presence.set_available(at(12)).map(|c| c.state),
        Some(OperatorState::Available)
    );
    let no_wrap_up = PresenceRules {
        wrap_up: Duration::ZERO,
        ..RULES
    };
    presence.offer(at(20));
    presence.answered(at(21));
    let change = presence.call_ended(&no_wrap_up, at(30)).expect("a change");
    assert_eq!(change.state, OperatorState::Available);
    assert_eq!(presence.idle_since(), at(30));
}

#[test]
fn a_break_asked_for_during_a_call_applies_when_it_ends() {
    let mut presence = online(1);
    presence.offer(at(2));
    presence.answered(at(3));
    assert_eq!(presence.set_break("小休", at(4)), None, "not mid-call");
    assert_eq!(presence.state(), OperatorState::OnCall);
    presence.call_ended(&RULES, at(10));
    let change = presence.tick(at(20)).expect("wrap-up over");
    assert_eq!(change.state, OperatorState::Break);
    assert_eq!(change.reason.as_deref(), Some("小休"));
}

#[test]
fn two_ring_outs_in_a_row_set_the_operator_on_break() {
    let mut presence = online(1);
    presence.offer(at(2));
    let change = presence
        .ring_failed(RingFailure::NoAnswer, &RULES, at(22))
        .expect("a change");
    assert_eq!(change.state, OperatorState::Available);
    assert_eq!(
        presence.idle_since(),
        at(1),
        "keeps their place in the queue"
    );
    presence.offer(at(30));
    let change = presence
        .ring_failed(RingFailure::NoAnswer, &RULES, at(50))
        .expect("a change");
    assert_eq!(change.state, OperatorState::Break);
    assert_eq!(change.reason.as_deref(), Some("未接听"));
}

#[test]
fn an_answer_or_a_caller_leaving_does_not_count_as_a_ring_out() {
    let mut presence = online(1);
    presence.offer(at(2));
    presence.ring_failed(RingFailure::NoAnswer, &RULES, at(22));
    presence.offer(at(30));
    presence.ring_failed(RingFailure::CallerLeft, &RULES, at(31));
    presence.offer(at(40));
    presence.answered(at(41));
    presence.call_ended(&RULES, at(50));
    presence.tick(at(60));
    presence.offer(at(70));
    let change = presence
        .ring_failed(RingFailure::NoAnswer, &RULES, at(90))
        .expect("a change");
    assert_eq!(
        change.state,
        OperatorState::Available,
        "the count restarted"
    );
    let never = PresenceRules {
        ring_outs_to_break: 0,
        ..RULES
    };
    presence.offer(at(100));
    let change = presence
        .ring_failed(RingFailure::NoAnswer, &never, at(120))
        .expect("a change");
    assert_eq!(change.state, OperatorState::Available);
}

#[test]
fn a_phone_lost_mid_call_takes_effect_after_the_call() {
    let mut presence = online(1);
    presence.offer(at(2));
    presence.answered(at(3));
    assert_eq!(presence.phone(false, at(4)), None);
    assert_eq!(presence.phone(true, at(5)), None, "re-registering mid-call");
    presence.phone(false, at(6));
    presence.call_ended(&RULES, at(10));
    let change = presence.tick(at(20)).expect("wrap-up over");
    assert_eq!(change.state, OperatorState::Offline);
    assert!(!presence.could_become_available());
}

#[test]
fn the_longest_idle_available_operator_not_yet_tried_is_chosen() {
    let zhang = online(30);
    let li = online(10);
    let mut wang = online(5);
    wang.set_break("培训", at(40));
    let zhao = online(10);
    let all = [
        ("zhang", &zhang),
        ("li", &li),
        ("wang", &wang),
        ("zhao", &zhao),
    ];
    assert_eq!(longest_idle(all, &[]), Some("li"), "ties go by name");
    assert_eq!(longest_idle(all, &["li"]), Some("zhao"));
    assert_eq!(longest_idle(all, &["li", "zhao", "zhang"]), None);
}

#[test]
fn every_state_reads_back_from_its_stored_name_and_has_a_label() {
    for state in OperatorState::ALL {
        assert_eq!(OperatorState::parse(state.as_str()), Some(state));
        assert!(!state.label().is_empty());
        let json = serde_json::to_string(&state).expect("serialises");
        assert_eq!(json, format!("\"{}\"", state.as_str()));
    }
}

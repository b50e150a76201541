use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;

use super::*;

/// A moment in Shanghai time.
fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("a moment")
        .with_timezone(&Utc)
}

#[test]
fn calling_hours_read_as_written_and_refuse_what_is_not_a_span() {
    let hours: CallingHours = "09:00-20:00".parse().expect("valid");
    assert_eq!(hours.to_string(), "09:00-20:00");
    let all: CallingHours = "00:00-24:00".parse().expect("valid");
    assert_eq!(all, CallingHours::ALL_DAY);
    for bad in [
        "9-20",
        "20:00-09:00",
        "09:00-24:30",
        "09:60-10:00",
        "",
        "09:00",
    ] {
        assert!(bad.parse::<CallingHours>().is_err(), "{bad}");
    }
}

#[test]
fn a_callback_is_due_at_the_first_moment_inside_the_calling_hours() {
    let config = CallbacksConfig::default();
    // Inside: at once.
    let noon = local(2026, 12, 7, 12, 0);
    assert_eq!(config.next_slot(None, noon, Shanghai), noon);
    // Before the start: the start of that day.
    assert_eq!(
        config.next_slot(None, local(2026, 12, 7, 6, 30), Shanghai),
        local(2026, 12, 7, 9, 0)
    );
    // At or after the end: the next morning.
    assert_eq!(
        config.next_slot(None, local(2026, 12, 7, 20, 0), Shanghai),
        local(2026, 12, 8, 9, 0)
    );
    assert_eq!(
        config.next_slot(None, local(2026, 12, 7, 23, 59), Shanghai),
        local(2026, 12, 8, 9, 0)
    );
}

#[test]
fn quiet_days_are_skipped_and_a_community_keeps_its_own_hours() {
    let mut config = CallbacksConfig {
        quiet_days: vec![
            chrono::NaiveDate::from_ymd_opt(2026, 12, 8).expect("date"),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 9).expect("date"),
        ],
        ..CallbacksConfig::default()
    };
    config.communities.insert(
        "JF".to_owned(),
        config::CommunityOverride {
            calling_hours: Some("10:30-18:00".parse().expect("valid")),
            trunk: Some("unicom".to_owned()),
        },
    );
    let evening = local(2026, 12, 7, 21, 0);
    assert_eq!(
        config.next_slot(None, evening, Shanghai),
        local(2026, 12, 10, 9, 0)
    );
    assert_eq!(
        config.next_slot(Some("JF"), evening, Shanghai),
        local(2026, 12, 10, 10, 30)
    );
    assert_eq!(config.trunk_of(Some("JF")), Some("unicom"));
    assert_eq!(config.trunk_of(Some("XY")), None);
    // A quiet day is skipped even inside the hours.
    assert_eq!(
        config.next_slot(None, local(2026, 12, 8, 12, 0), Shanghai),
        local(2026, 12, 10, 9, 0)
    );
    config.calling_hours = CallingHours::ALL_DAY;
    config.quiet_days.clear();
    assert_eq!(config.next_slot(None, evening, Shanghai), evening);
}

#[test]
fn retries_back_off_by_the_list_and_the_last_wait_repeats() {
    let config = CallbacksConfig::default();
    let minutes = |failed| config.retry_after(failed).as_secs() / 60;
    assert_eq!(minutes(1), 30);
    assert_eq!(minutes(2), 120);
    assert_eq!(minutes(3), 24 * 60);
    assert_eq!(minutes(9), 24 * 60);
}

#[test]
fn the_section_reads_from_toml_with_policies_and_refuses_an_unknown_kind() {
    let text = r#"
        calling_hours = "08:30-21:00"
        quiet_days = ["2027-02-17"]
        retry = ["10m", "1h"]
        max_attempts = 4
        missed = "automatic"
        [policy.repair]
        after = "0s"
        [policy.teleport]
        after = "1h"
        [communities.JF]
        calling_hours = "00:00-24:00"
    "#;
    let config: CallbacksConfig = toml::from_str(text).expect("valid TOML");
    assert_eq!(config.calling_hours.to_string(), "08:30-21:00");
    assert_eq!(config.retry_after(1).as_secs(), 600);
    assert_eq!(config.max_attempts, 4);
    assert_eq!(config.missed, MissedMode::Automatic);
    assert_eq!(
        config.followup_after(crate::desk::TicketKind::Repair),
        Some(std::time::Duration::ZERO)
    );
    assert_eq!(
        config.followup_after(crate::desk::TicketKind::Inquiry),
        None
    );
    assert_eq!(config.hours_of(Some("JF")), CallingHours::ALL_DAY);
    let problems = config.validate();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, "callbacks.policy.teleport");
    assert!(toml::from_str::<CallbacksConfig>("calling_hour = \"x\"").is_err());
}

#[test]
fn the_survey_digit_and_the_sip_status_mean_what_the_owner_did() {
    assert_eq!(Satisfaction::from_digit('1'), Some(Satisfaction::Satisfied));
    assert_eq!(
        Satisfaction::from_digit('2'),
        Some(Satisfaction::BasicallySatisfied)
    );
    assert_eq!(
        Satisfaction::from_digit('3'),
        Some(Satisfaction::Dissatisfied)
    );
    assert_eq!(Satisfaction::from_digit('4'), None);
    assert!(Satisfaction::BasicallySatisfied.is_satisfied());
    assert!(!Satisfaction::Dissatisfied.is_satisfied());
    assert_eq!(AttemptOutcome::of_status(200), AttemptOutcome::Answered);
    assert_eq!(AttemptOutcome::of_status(486), AttemptOutcome::Busy);
    assert_eq!(AttemptOutcome::of_status(600), AttemptOutcome::Busy);
    assert_eq!(AttemptOutcome::of_status(480), AttemptOutcome::NoAnswer);
    assert_eq!(AttemptOutcome::of_status(603), AttemptOutcome::Declined);
    assert_eq!(AttemptOutcome::of_status(404), AttemptOutcome::Unreachable);
    assert_eq!(AttemptOutcome::of_status(503), AttemptOutcome::TrunkFailure);
    for status in CallbackStatus::ALL {
        assert_eq!(CallbackStatus::from_code(status.code()), Some(status));
    }
}

#[test]
fn the_number_is_the_mobile_else_another_phone_else_the_orders() {
    let phones = vec![
        ("+86871651234".to_owned(), false),
        ("+8613800138000".to_owned(), true),
    ];
    assert_eq!(callback_number(&phones, Some("x")), Some("+8613800138000"));
    assert_eq!(
        callback_number(&phones[..1], Some("x")),
        Some("+86871651234")
    );
    assert_eq!(
        callback_number(&[], Some("+8613900139000")),
        Some("+8613900139000")
    );
    assert_eq!(callback_number(&[], None), None);
}

//! Service-level deadlines: respond-by, arrive-by (repairs), resolve-by.
//!
//! Owns the SLA rules (kind × priority → durations, from config), the
//! deadlines a ticket gets on creation, and how time on hold (挂起) moves them.
//! Clocks run around the clock (the hotline is 24 h, seed 004 §2.1.1 (2)), so
//! a deadline is an instant in UTC; the business time zone only matters for
//! display. Takes `now` as an argument, never reads a clock.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::desk::DeskError;
use crate::desk::tickets::{Priority, TicketKind};

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
/// Longest SLA duration accepted in config; longer is a typo.
const MAX_SLA: Duration = Duration::from_secs(366 * DAY);

/// The 30-minute response the seeds set for every request: seed 004 §1.3
/// "客服响应时效缩短至30分钟内"; DESIGN.md lists it among the KPIs.
const RESPOND: Duration = Duration::from_secs(30 * MINUTE);
/// Urgent repairs: on site within 30 minutes — the national 普通住宅小区物业
/// 管理服务等级标准 (一级: "急修半小时内…到达现场"); the seeds give no figure.
const ARRIVE_URGENT_REPAIR: Duration = Duration::from_secs(30 * MINUTE);
/// Other repairs: the same standard says "按双方约定时间"; one day is the
/// default appointment window.
const ARRIVE_NORMAL_REPAIR: Duration = Duration::from_secs(DAY);

/// Deadlines of one kind × priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTarget {
    /// Time to the first response (dispatch or answer).
    #[serde(with = "humantime_serde")]
    pub respond: Duration,
    /// Time to be on site (repairs); none for kinds without a visit.
    #[serde(default, with = "humantime_serde")]
    pub arrive: Option<Duration>,
    /// Time to resolution.
    #[serde(with = "humantime_serde")]
    pub resolve: Duration,
}

/// Targets of one kind, by priority. Both must be given when the kind is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaByPriority {
    pub urgent: SlaTarget,
    pub normal: SlaTarget,
}

/// SLA rules: `[desk.sla.repair.urgent] respond = "30m"`. A kind left out
/// keeps its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    pub repair: SlaByPriority,
    pub complaint: SlaByPriority,
    pub paid_service: SlaByPriority,
    pub inquiry: SlaByPriority,
    pub other: SlaByPriority,
}

const fn target(respond: Duration, arrive: Option<Duration>, resolve_hours: u64) -> SlaTarget {
    SlaTarget {
        respond,
        arrive,
        resolve: Duration::from_secs(resolve_hours * HOUR),
    }
}

impl Default for SlaConfig {
    /// Response within 30 minutes everywhere (seed 004 §1.3). Resolution
    /// times are our professional defaults: the seeds ask for 时限节点 (seed
    /// 004 §2.2.2.1) without figures.
    fn default() -> Self {
        Self {
            repair: SlaByPriority {
                urgent: target(RESPOND, Some(ARRIVE_URGENT_REPAIR), 4),
                normal: target(RESPOND, Some(ARRIVE_NORMAL_REPAIR), 72),
            },
            complaint: SlaByPriority {
                urgent: target(RESPOND, None, 24),
                normal: target(RESPOND, None, 72),
            },
            paid_service: SlaByPriority {
                urgent: target(RESPOND, None, 24),
                normal: target(RESPOND, None, 72),
            },
            inquiry: SlaByPriority {
                urgent: target(RESPOND, None, 2),
                normal: target(RESPOND, None, 24),
            },
            other: SlaByPriority {
                urgent: target(RESPOND, None, 24),
                normal: target(RESPOND, None, 72),
            },
        }
    }
}

impl SlaConfig {
    /// The target for a kind and priority.
    pub fn target(&self, kind: TicketKind, priority: Priority) -> &SlaTarget {
        let by_priority = match kind {
            TicketKind::Repair => &self.repair,
            TicketKind::Complaint => &self.complaint,
            TicketKind::PaidService => &self.paid_service,
            TicketKind::Inquiry => &self.inquiry,
            TicketKind::Other => &self.other,
        };
        match priority {
            Priority::Urgent => &by_priority.urgent,
            Priority::Normal => &by_priority.normal,
        }
    }

    /// Checks every target; the error names the key path (`sla.repair.urgent.respond`).
    pub fn validate(&self) -> Result<(), DeskError> {
        for kind in TicketKind::ALL {
            for priority in Priority::ALL {
                let path = format!("sla.{}.{}", kind.code(), priority.code());
                self.target(*kind, *priority).validate(&path)?;
            }
        }
        Ok(())
    }
}

impl SlaTarget {
    fn validate(&self, path: &str) -> Result<(), DeskError> {
        let invalid = |key: &str, reason: &'static str| DeskError::InvalidConfig {
            path: format!("{path}.{key}"),
            reason,
        };
        let durations = [
            ("respond", Some(self.respond)),
            ("arrive", self.arrive),
            ("resolve", Some(self.resolve)),
        ];
        for (key, duration) in durations {
            match duration {
                Some(d) if d.is_zero() => return Err(invalid(key, "must be longer than zero")),
                Some(d) if d > MAX_SLA => return Err(invalid(key, "must be at most 366 days")),
                _ => {}
            }
        }
        if self.respond > self.resolve {
            return Err(invalid("respond", "must not be longer than resolve"));
        }
        if self.arrive.is_some_and(|a| a > self.resolve) {
            return Err(invalid("arrive", "must not be longer than resolve"));
        }
        Ok(())
    }
}

/// One stretch of time on hold; `until` is `None` while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

/// One of the three promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    Respond,
    Arrive,
    Resolve,
}

/// The deadlines a ticket gets on creation, before any hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaDeadlines {
    pub respond_by: DateTime<Utc>,
    pub arrive_by: Option<DateTime<Utc>>,
    pub resolve_by: DateTime<Utc>,
}

impl SlaDeadlines {
    /// Deadlines of a ticket created at `created_at`.
    pub fn compute(created_at: DateTime<Utc>, target: &SlaTarget) -> Self {
        Self {
            respond_by: add(created_at, target.respond),
            arrive_by: target.arrive.map(|d| add(created_at, d)),
            resolve_by: add(created_at, target.resolve),
        }
    }

    /// The nominal deadline of a milestone (`None`: no arrive-by for this kind).
    pub fn nominal(&self, milestone: Milestone) -> Option<DateTime<Utc>> {
        match milestone {
            Milestone::Respond => Some(self.respond_by),
            Milestone::Arrive => self.arrive_by,
            Milestone::Resolve => Some(self.resolve_by),
        }
    }
}

fn add(at: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| at.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The deadline once time on hold is added back: every hold that starts
/// before the (already extended) deadline pushes it by its length; a hold
/// still open counts until `now`, so an open hold never makes a ticket
/// overdue. A hold that starts after the deadline passed changes nothing.
pub fn effective_deadline(
    nominal: DateTime<Utc>,
    holds: &[Hold],
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = holds
        .iter()
        .map(|h| (h.from, h.until.unwrap_or(now).max(h.from)))
        .collect();
    spans.sort();
    let mut deadline = nominal;
    // Where counted hold time ends so far: overlapping holds count once.
    let mut counted_to: Option<DateTime<Utc>> = None;
    for (from, until) in spans {
        let from = counted_to.map_or(from, |c| from.max(c));
        if from >= until {
            continue;
        }
        if from >= deadline {
            break;
        }
        deadline = deadline
            .checked_add_signed(until - from)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        counted_to = Some(until);
    }
    deadline
}

/// Where a milestone stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SlaState {
    /// Not reached yet, still in time.
    Pending { due: DateTime<Utc> },
    /// Not reached, and past due.
    Overdue { due: DateTime<Utc> },
    /// Reached at `at`; `late` when after its deadline.
    Met {
        at: DateTime<Utc>,
        due: DateTime<Utc>,
        late: bool,
    },
}

impl SlaState {
    /// Where a milestone with this nominal deadline stands, given the holds,
    /// when it was reached (if it was), and `now`.
    pub fn at(
        nominal: DateTime<Utc>,
        holds: &[Hold],
        reached: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        match reached {
            Some(at) => {
                let due = effective_deadline(nominal, holds, at);
                Self::Met {
                    at,
                    due,
                    late: at > due,
                }
            }
            None => {
                let due = effective_deadline(nominal, holds, now);
                if now > due {
                    Self::Overdue { due }
                } else {
                    Self::Pending { due }
                }
            }
        }
    }

    /// Whether the promise is broken now or was broken.
    pub fn is_breached(&self) -> bool {
        matches!(self, Self::Overdue { .. } | Self::Met { late: true, .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Asia::Shanghai;

    /// An instant given as Shanghai wall-clock time.
    fn sh(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("Shanghai has no DST gaps")
            .with_timezone(&Utc)
    }

    fn mins(n: i64) -> TimeDelta {
        TimeDelta::minutes(n)
    }

    #[test]
    fn an_urgent_repair_must_be_answered_and_reached_within_thirty_minutes() {
        let created = sh(2026, 11, 23, 10, 0);
        let target = SlaConfig::default()
            .target(TicketKind::Repair, Priority::Urgent)
            .to_owned();
        let deadlines = SlaDeadlines::compute(created, &target);
        assert_eq!(deadlines.respond_by, sh(2026, 11, 23, 10, 30));
        assert_eq!(deadlines.arrive_by, Some(sh(2026, 11, 23, 10, 30)));
        assert_eq!(deadlines.resolve_by, sh(2026, 11, 23, 14, 0));
    }

    #[test]
    fn only_repairs_have_an_arrive_by_by_default() {
        let sla = SlaConfig::default();
        for kind in TicketKind::ALL {
            for priority in Priority::ALL {
                let target = sla.target(*kind, *priority);
                assert_eq!(target.arrive.is_some(), *kind == TicketKind::Repair);
                assert_eq!(target.respond, RESPOND);
            }
        }
        assert!(sla.validate().is_ok());
    }

    #[test]
    fn a_deadline_late_in_the_evening_falls_on_the_next_shanghai_day() {
        let created = sh(2026, 11, 23, 23, 50);
        let target = SlaConfig::default()
            .target(TicketKind::Complaint, Priority::Normal)
            .to_owned();
        let deadlines = SlaDeadlines::compute(created, &target);
        assert_eq!(deadlines.respond_by, sh(2026, 11, 24, 0, 20));
        assert_eq!(deadlines.resolve_by, sh(2026, 11, 26, 23, 50));
        let local = deadlines.respond_by.with_timezone(&Shanghai);
        assert_eq!(
            local.format("%Y-%m-%d %H:%M").to_string(),
            "2026-11-24 00:20"
        );
    }

    #[test]
    fn without_holds_the_deadline_is_the_nominal_one() {
        let nominal = sh(2026, 11, 23, 10, 30);
        assert_eq!(
            effective_deadline(nominal, &[], sh(2026, 11, 23, 11, 0)),
            nominal
        );
    }

    #[test]
    fn a_closed_hold_before_the_deadline_pushes_it_by_its_length() {
        let nominal = sh(2026, 11, 23, 10, 30);
        let holds = [Hold {
            from: sh(2026, 11, 23, 10, 10),
            until: Some(sh(2026, 11, 23, 10, 55)),
        }];
        let now = sh(2026, 11, 23, 11, 0);
        assert_eq!(effective_deadline(nominal, &holds, now), nominal + mins(45));
    }

    #[test]
    fn an_open_hold_keeps_moving_the_deadline_with_now() {
        let nominal = sh(2026, 11, 23, 10, 30);
        let holds = [Hold {
            from: sh(2026, 11, 23, 10, 20),
            until: None,
        }];
        for now in [sh(2026, 11, 23, 10, 25), sh(2026, 11, 23, 18, 0)] {
            let due = effective_deadline(nominal, &holds, now);
            assert_eq!(due, now + mins(10));
            assert_eq!(
                SlaState::at(nominal, &holds, None, now),
                SlaState::Pending { due }
            );
        }
    }

    #[test]
    fn a_hold_started_after_the_deadline_does_not_excuse_it() {
        let nominal = sh(2026, 11, 23, 10, 30);
        let holds = [Hold {
            from: sh(2026, 11, 23, 10, 40),
            until: None,
        }];
        let now = sh(2026, 11, 23, 12, 0);
        assert_eq!(effective_deadline(nominal, &holds, now), nominal);
        assert!(SlaState::at(nominal, &holds, None, now).is_breached());
    }

    #[test]
    fn successive_holds_add_up_and_a_hold_past_the_extended_deadline_counts_not() {
        let nominal = sh(2026, 11, 23, 10, 30);
        let holds = [
            // 20 minutes: deadline becomes 10:50.
            Hold {
                from: sh(2026, 11, 23, 10, 0),
                until: Some(sh(2026, 11, 23, 10, 20)),
            },
            // Starts 10:45, before 10:50: 15 more minutes, deadline 11:05.
            Hold {
                from: sh(2026, 11, 23, 10, 45),
                until: Some(sh(2026, 11, 23, 11, 0)),
            },
            // Starts after 11:05: too late to count.
            Hold {
                from: sh(2026, 11, 23, 11, 10),
                until: Some(sh(2026, 11, 23, 12, 0)),
            },
        ];
        let due = effective_deadline(nominal, &holds, sh(2026, 11, 23, 13, 0));
        assert_eq!(due, sh(2026, 11, 23, 11, 5));
    }

    #[test]
    fn overlapping_holds_are_counted_once_and_order_does_not_matter() {
        let nominal = sh(2026, 11, 23, 10, 30);
        let holds = [
            Hold {
                from: sh(2026, 11, 23, 10, 10),
                until: Some(sh(2026, 11, 23, 10, 40)),
            },
            Hold {
                from: sh(2026, 11, 23, 10, 0),
                until: Some(sh(2026, 11, 23, 10, 20)),
            },
        ];
        let due = effective_deadline(nominal, &holds, sh(2026, 11, 23, 13, 0));
        assert_eq!(due, nominal + mins(40));
    }

    #[test]
    fn an_overnight_hold_moves_the_deadline_across_the_shanghai_day_boundary() {
        // Urgent repair at 23:40: respond by 00:10. On hold 23:50 → 00:30
        // (the owner asked to come back later): 40 minutes back, due 00:50.
        let created = sh(2026, 11, 23, 23, 40);
        let target = SlaConfig::default()
            .target(TicketKind::Repair, Priority::Urgent)
            .to_owned();
        let deadlines = SlaDeadlines::compute(created, &target);
        assert_eq!(deadlines.respond_by, sh(2026, 11, 24, 0, 10));
        let holds = [Hold {
            from: sh(2026, 11, 23, 23, 50),
            until: Some(sh(2026, 11, 24, 0, 30)),
        }];
        let nominal = deadlines.respond_by;
        assert_eq!(
            SlaState::at(nominal, &holds, None, sh(2026, 11, 24, 0, 45)),
            SlaState::Pending {
                due: sh(2026, 11, 24, 0, 50)
            }
        );
        assert_eq!(
            SlaState::at(nominal, &holds, None, sh(2026, 11, 24, 0, 51)),
            SlaState::Overdue {
                due: sh(2026, 11, 24, 0, 50)
            }
        );
        // Without the hold it would have been overdue at 00:45 already.
        assert!(SlaState::at(nominal, &[], None, sh(2026, 11, 24, 0, 45)).is_breached());
    }

    #[test]
    fn a_milestone_met_is_late_only_when_reached_after_its_deadline() {
        let nominal = sh(2026, 11, 23, 10, 30);
        let on_time = SlaState::at(
            nominal,
            &[],
            Some(sh(2026, 11, 23, 10, 30)),
            sh(2026, 11, 25, 0, 0),
        );
        assert!(!on_time.is_breached());
        let late = SlaState::at(
            nominal,
            &[],
            Some(sh(2026, 11, 23, 10, 31)),
            sh(2026, 11, 23, 10, 31),
        );
        assert_eq!(
            late,
            SlaState::Met {
                at: sh(2026, 11, 23, 10, 31),
                due: nominal,
                late: true
            }
        );
        // A hold still open when it was reached counts up to that moment.
        let holds = [Hold {
            from: sh(2026, 11, 23, 10, 0),
            until: None,
        }];
        let met = SlaState::at(
            nominal,
            &holds,
            Some(sh(2026, 11, 23, 11, 0)),
            sh(2026, 11, 23, 12, 0),
        );
        assert!(!met.is_breached());
    }

    #[test]
    fn sla_config_reads_humantime_durations_and_keeps_defaults_for_missing_kinds() {
        let toml = r#"
            [repair.urgent]
            respond = "15m"
            arrive = "20m"
            resolve = "2h"
            [repair.normal]
            respond = "1h"
            resolve = "3days"
        "#;
        let sla: SlaConfig = toml::from_str(toml).expect("valid config");
        assert_eq!(sla.repair.urgent.respond, Duration::from_secs(15 * MINUTE));
        assert_eq!(
            sla.repair.urgent.arrive,
            Some(Duration::from_secs(20 * MINUTE))
        );
        assert_eq!(sla.repair.normal.arrive, None);
        assert_eq!(sla.repair.normal.resolve, Duration::from_secs(3 * DAY));
        assert_eq!(sla.complaint, SlaConfig::default().complaint);
        assert!(sla.validate().is_ok());
    }

    #[test]
    fn sla_config_refuses_unknown_keys_and_a_half_given_kind() {
        let unknown = "[repair.urgent]\nrespond = \"15m\"\nresolve = \"2h\"\nreply = \"1m\"\n";
        let err = toml::from_str::<SlaConfig>(unknown).expect_err("unknown key");
        assert!(err.to_string().contains("reply"), "{err}");
        let half = "[repair.urgent]\nrespond = \"15m\"\nresolve = \"2h\"\n";
        let err = toml::from_str::<SlaConfig>(half).expect_err("normal missing");
        assert!(err.to_string().contains("normal"), "{err}");
        assert!(toml::from_str::<SlaConfig>("[inquiries]\n").is_err());
    }

    #[test]
    fn sla_validation_names_the_key_path_of_a_bad_target() {
        let mut sla = SlaConfig::default();
        sla.complaint.urgent.resolve = Duration::from_secs(10 * MINUTE);
        let err = sla.validate().expect_err("respond > resolve");
        assert_eq!(
            err.to_string(),
            "config `sla.complaint.urgent.respond`: must not be longer than resolve"
        );
        let mut sla = SlaConfig::default();
        sla.inquiry.normal.respond = Duration::ZERO;
        let err = sla.validate().expect_err("zero");
        assert!(err.to_string().contains("sla.inquiry.normal.respond"));
        let mut sla = SlaConfig::default();
        sla.other.normal.arrive = Some(Duration::from_secs(400 * DAY));
        assert!(sla.validate().is_err());
    }
}

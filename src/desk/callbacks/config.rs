//! `[callbacks]`: calling hours, quiet days, the 回访 policy per work-order
//! kind, retries, and how a missed call is called back.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Duration as TimeDelta, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

use crate::desk::TicketKind;

/// Minutes in a day: the end of `"00:00-24:00"`.
const DAY_MINUTES: u32 = 24 * 60;
/// Days looked ahead for an open slot before giving up (a year of quiet
/// days is a configuration mistake, not a schedule).
const MAX_DAYS_AHEAD: i64 = 400;

/// When callbacks may be dialled, in the business time zone: `"09:00-20:00"`
/// (start included, end excluded), `"00:00-24:00"` for all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallingHours {
    start_min: u32,
    end_min: u32,
}

impl CallingHours {
    pub const ALL_DAY: CallingHours = CallingHours {
        start_min: 0,
        end_min: DAY_MINUTES,
    };

    fn contains(self, minute: u32) -> bool {
        (self.start_min..self.end_min).contains(&minute)
    }
}

impl FromStr for CallingHours {
    type Err = String;

    fn from_str(text: &str) -> Result<CallingHours, String> {
        let bad =
            || format!("`{text}`: write calling hours as \"HH:MM-HH:MM\", e.g. \"09:00-20:00\"");
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let minutes = |part: &str| -> Option<u32> {
            let (h, m) = part.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let (start_min, end_min) = (
            minutes(start).ok_or_else(bad)?,
            minutes(end).ok_or_else(bad)?,
        );
        if start_min >= end_min {
            return Err(format!("`{text}`: the end must come after the start"));
        }
        Ok(CallingHours { start_min, end_min })
    }
}

impl fmt::Display for CallingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start_min), hm(self.end_min))
    }
}

impl<'de> Deserialize<'de> for CallingHours {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How a missed call is called back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedMode {
    /// The longest-idle available operator's phone rings first; when they
    /// answer, the owner is dialled and bridged to them.
    OperatorFirst,
    /// The owner is dialled and hears the missed-call prompt and the menu.
    Automatic,
}

/// `[callbacks.policy.<kind>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// How long after resolution the first attempt is due.
    #[serde(with = "humantime_serde")]
    pub after: Duration,
}

/// `[callbacks.communities.<code>]`: what a community sets for itself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunityOverride {
    pub calling_hours: Option<CallingHours>,
    /// The `[[trunks]]` its callbacks go out on (else the first).
    pub trunk: Option<String>,
}

/// `[callbacks]` in the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbacksConfig {
    /// Whether this node dials (every node may; claims keep them apart).
    pub enabled: bool,
    pub calling_hours: CallingHours,
    /// Dates never dialled on (holidays), `YYYY-MM-DD`.
    pub quiet_days: Vec<NaiveDate>,
    pub communities: BTreeMap<String, CommunityOverride>,
    /// By work-order kind code; a kind without a policy gets no automatic
    /// 回访.
    pub policy: BTreeMap<String, Policy>,
    /// How long the owner's phone rings before the attempt counts as not
    /// answered.
    #[serde(with = "humantime_serde")]
    pub ring_timeout: Duration,
    /// The wait before each retry: the first after the first failed
    /// attempt, and so on; the last repeats.
    #[serde(deserialize_with = "durations")]
    pub retry: Vec<Duration>,
    /// Attempts before the callback becomes a manual task.
    pub max_attempts: u32,
    pub missed: MissedMode,
    /// How long a dialer's claim holds: a claim not finished by then (its
    /// node died) is taken back and the attempt counted as interrupted.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How often the dialer looks for due callbacks.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long the survey waits for a key after its question.
    #[serde(with = "humantime_serde")]
    pub digit_timeout: Duration,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        let policy = [
            (TicketKind::Repair, 2 * 3600),
            (TicketKind::Complaint, 24 * 3600),
            (TicketKind::PaidService, 2 * 3600),
        ]
        .into_iter()
        .map(|(kind, secs)| {
            let after = Duration::from_secs(secs);
            (kind.code().to_owned(), Policy { after })
        })
        .collect();
        CallbacksConfig {
            enabled: true,
            calling_hours: CallingHours {
                start_min: 9 * 60,
                end_min: 20 * 60,
            },
            quiet_days: Vec::new(),
            communities: BTreeMap::new(),
            policy,
            ring_timeout: Duration::from_secs(30),
            retry: vec![
                Duration::from_secs(30 * 60),
                Duration::from_secs(2 * 3600),
                Duration::from_secs(24 * 3600),
            ],
            max_attempts: 3,
            missed: MissedMode::OperatorFirst,
            lease: Duration::from_secs(10 * 60),
            poll_interval: Duration::from_secs(1),
            digit_timeout: Duration::from_secs(8),
        }
    }
}

fn durations<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| humantime::parse_duration(text).map_err(serde::de::Error::custom))
        .collect()
}

impl CallbacksConfig {
    /// Problems serde cannot see, each with its key path.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for kind in self.policy.keys() {
            if TicketKind::from_code(kind).is_err() {
                problems.push((
                    format!("callbacks.policy.{kind}"),
                    "not a work-order kind (repair, complaint, paid_service, inquiry, other)"
                        .to_owned(),
                ));
            }
        }
        if self.max_attempts == 0 {
            problems.push((
                "callbacks.max_attempts".to_owned(),
                "must be at least 1".to_owned(),
            ));
        }
        if self.lease < Duration::from_secs(60) {
            problems.push((
                "callbacks.lease".to_owned(),
                "must be at least 1m (longer than a survey call)".to_owned(),
            ));
        }
        problems
    }

    /// The calling hours of a community (its own, else the common ones).
    pub fn hours_of(&self, community: Option<&str>) -> CallingHours {
        community
            .and_then(|code| self.communities.get(code))
            .and_then(|o| o.calling_hours)
            .unwrap_or(self.calling_hours)
    }

    /// The trunk a community's callbacks go out on, when it names one.
    pub fn trunk_of(&self, community: Option<&str>) -> Option<&str> {
        community
            .and_then(|code| self.communities.get(code))
            .and_then(|o| o.trunk.as_deref())
    }

    /// How long after resolution a work order of this kind is followed up;
    /// `None`: no automatic 回访.
    pub fn followup_after(&self, kind: TicketKind) -> Option<Duration> {
        self.policy.get(kind.code()).map(|p| p.after)
    }

    /// The wait before the attempt after `failed` failed attempts.
    pub fn retry_after(&self, failed: u32) -> Duration {
        let index = usize::try_from(failed.saturating_sub(1)).unwrap_or(usize::MAX);
        self.retry
            .get(index)
            .or(self.retry.last())
            .copied()
            .unwrap_or(Duration::from_secs(30 * 60))
    }

    /// The first moment at or after `at` when a callback of `community` may
    /// be dialled: inside its calling hours, on a day that is not quiet.
    pub fn next_slot(&self, community: Option<&str>, at: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let hours = self.hours_of(community);
        let local = at.with_timezone(&zone);
        let mut day = local.date_naive();
        for offset in 0..MAX_DAYS_AHEAD {
            if offset > 0 {
                day = day.succ_opt().unwrap_or(day);
            }
            if self.quiet_days.contains(&day) {
                continue;
            }
            let start = local_moment(zone, day, hours.start_min);
            let end = local_moment(zone, day, hours.end_min);
            if offset == 0 {
                let minute = local_minute(&local);
                if hours.contains(minute) && at < end {
                    return at;
                }
                if at < start {
                    return start;
                }
                continue;
            }
            return start;
        }
        at
    }
}

/// The minute of the day of a local time.
fn local_minute(local: &DateTime<Tz>) -> u32 {
    use chrono::Timelike;
    local.hour() * 60 + local.minute()
}

/// The instant a day's minute starts in the zone (the earlier one in a
/// repeated hour; the first existing one after a skipped hour).
fn local_moment(zone: Tz, day: NaiveDate, minute: u32) -> DateTime<Utc> {
    if minute >= DAY_MINUTES {
        let next = day.succ_opt().unwrap_or(day);
        return local_moment(zone, next, 0);
    }
    let time = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap_or_default();
    let naive = day.and_time(time);
    let mut probe = naive;
    for _ in 0..4 {
        if let Some(found) = zone.from_local_datetime(&probe).earliest() {
            return found.with_timezone(&Utc);
        }
        probe += TimeDelta::minutes(30);
    }
    Utc.from_utc_datetime(&naive)
}

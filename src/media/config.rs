//! The media layer's part of the configuration: the RTP port range, the
//! inactivity timeout and the level from which a received frame counts as
//! speech.
//!
//! ```toml
//! [media]
//! rtp_ports = "20000-29999"
//! inactivity_timeout = "30s"
//! speech_threshold_dbfs = -45
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::{Dbfs, MediaError};

/// Default RTP port range, written as in the config file.
const DEFAULT_RTP_PORTS: PortRange = PortRange {
    low: 20000,
    high: 29999,
};
/// Default silence of the remote side after which a session reports it.
const DEFAULT_INACTIVITY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default speech threshold in dBFS: well above a telephone line's idle
/// noise (-60 dBFS and below) and G.711's smallest step (about -72), well
/// below speech (-30 to -15).
const DEFAULT_SPEECH_THRESHOLD_DBFS: i64 = -45;

/// Configuration of the media layer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// UDP ports RTP sessions bind to (even ones only; RFC 3550 §11).
    pub rtp_ports: PortRange,
    /// How long the remote side may send no RTP before the session reports
    /// [`MediaEvent::Inactive`](super::MediaEvent::Inactive).
    #[serde(with = "humantime_serde")]
    pub inactivity_timeout: Duration,
    /// A received 20 ms frame whose RMS level is at least this counts as
    /// voiced ([`MediaStats::voiced_frames`](super::MediaStats::voiced_frames)).
    pub speech_threshold_dbfs: Dbfs,
}

impl Default for MediaConfig {
    fn default() -> MediaConfig {
        MediaConfig {
            rtp_ports: DEFAULT_RTP_PORTS,
            inactivity_timeout: DEFAULT_INACTIVITY_TIMEOUT,
            speech_threshold_dbfs: Dbfs::new(DEFAULT_SPEECH_THRESHOLD_DBFS)
                .expect("the default level is in range"),
        }
    }
}

/// An inclusive range of UDP ports, written `"20000-29999"`. The low end is
/// even, since RTP uses even ports and leaves the odd one above to RTCP
/// (RFC 3550 §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    low: u16,
    high: u16,
}

impl PortRange {
    /// A range from `low` to `high` inclusive; `low` must be even and below `high`.
    pub fn new(low: u16, high: u16) -> Result<PortRange, MediaError> {
        let problem = if low >= high {
            Some("the low port must be below the high port")
        } else if !low.is_multiple_of(2) {
            Some("the low port must be even (RFC 3550 §11)")
        } else if low == 0 {
            Some("port 0 cannot be configured")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(MediaError::PortRange {
                text: format!("{low}-{high}"),
                problem,
            }),
            None => Ok(PortRange { low, high }),
        }
    }

    /// The lowest port.
    pub fn low(&self) -> u16 {
        self.low
    }

    /// The highest port.
    pub fn high(&self) -> u16 {
        self.high
    }

    /// The even ports of the range, lowest first.
    pub fn even_ports(&self) -> impl Iterator<Item = u16> + use<> {
        (self.low..=self.high).step_by(2)
    }

    /// How many even ports the range holds.
    pub fn even_port_count(&self) -> usize {
        usize::from((self.high - self.low) / 2) + 1
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

impl FromStr for PortRange {
    type Err = MediaError;

    fn from_str(text: &str) -> Result<PortRange, MediaError> {
        let invalid = |problem| MediaError::PortRange {
            text: text.to_owned(),
            problem,
        };
        let (low, high) = text
            .split_once('-')
            .ok_or_else(|| invalid("expected LOW-HIGH, e.g. 20000-29999"))?;
        let low = low
            .trim()
            .parse()
            .map_err(|_| invalid("the low port is not a port number"))?;
        let high = high
            .trim()
            .parse()
            .map_err(|_| invalid("the high port is not a port number"))?;
        PortRange::new(low, high).map_err(|e| match e {
            MediaError::PortRange { problem, .. } => invalid(problem),
            other => other,
        })
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PortRange, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_gives_the_defaults() {
        let config: MediaConfig = toml::from_str("").expect("empty config");
        assert_eq!(config, MediaConfig::default());
        assert_eq!(config.rtp_ports.to_string(), "20000-29999");
        assert_eq!(config.inactivity_timeout, Duration::from_secs(30));
        assert_eq!(config.speech_threshold_dbfs.db(), -45);
    }

    #[test]
    fn a_full_section_parses() {
        let config: MediaConfig =
            toml::from_str("rtp_ports = \"30000-30099\"\ninactivity_timeout = \"1m 30s\"\nspeech_threshold_dbfs = -50\n")
                .expect("valid config");
        assert_eq!(
            config.rtp_ports,
            PortRange::new(30000, 30099).expect("valid range")
        );
        assert_eq!(config.rtp_ports.even_port_count(), 50);
        assert_eq!(config.inactivity_timeout, Duration::from_secs(90));
        assert_eq!(config.speech_threshold_dbfs.db(), -50);
    }

    #[test]
    fn bad_port_ranges_are_refused_with_the_reason() {
        for (text, reason) in [
            ("30000", "LOW-HIGH"),
            ("abc-30000", "low port"),
            ("30000-70000", "high port"),
            ("30000-20000", "below"),
            ("30000-30000", "below"),
            ("30001-30099", "even"),
            ("0-100", "port 0"),
        ] {
            let err = text.parse::<PortRange>().expect_err(text);
            let shown = err.to_string();
            assert!(shown.contains(text) && shown.contains(reason), "{shown}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = toml::from_str::<MediaConfig>("rtp_port = \"1-2\"").expect_err("unknown key");
        assert!(err.to_string().contains("rtp_port"), "{err}");
        let err = toml::from_str::<MediaConfig>("rtp_ports = \"9-8\"").expect_err("bad range");
        assert!(err.to_string().contains("rtp_ports"), "{err}");
        let err = toml::from_str::<MediaConfig>("inactivity_timeout = \"soon\"").expect_err("bad");
        assert!(err.to_string().contains("inactivity_timeout"), "{err}");
        let err = toml::from_str::<MediaConfig>("speech_threshold_dbfs = 3").expect_err("loud");
        let shown = err.to_string();
        assert!(
            shown.contains("speech_threshold_dbfs") && shown.contains("-96..=0"),
            "{shown}"
        );
        let err = toml::from_str::<MediaConfig>("speech_threshold_dbfs = -45.5").expect_err("frac");
        assert!(err.to_string().contains("speech_threshold_dbfs"), "{err}");
    }
}

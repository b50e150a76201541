//! Telephony's part of the configuration: which calls are accepted and for
//! which community, how the IVR menu is set up, and the voice-message limits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// `[hotline]`: who may send calls and which numbers are the hotline.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HotlineConfig {
    /// How long a call rings (180) before it is answered.
    #[serde(with = "humantime_serde")]
    pub answer_delay: Duration,
    /// Networks whose calls are accepted (carrier trunks, the PBX); calls
    /// from anywhere else are refused with 403.
    pub trusted_sources: Vec<IpNet>,
    /// The communities this hotline serves, each with its numbers.
    pub communities: Vec<CommunityConfig>,
}

/// `[[hotline.communities]]`: one community (小区) and the numbers that reach it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CommunityConfig {
    /// Short code, used in work-order numbers and recording paths (e.g. `JF`).
    pub code: String,
    pub name: String,
    /// Dialled numbers (Request-URI user) that reach this community.
    pub numbers: Vec<String>,
    /// Area code completed onto local landline numbers (e.g. `0871`).
    #[serde(default)]
    pub area_code: Option<String>,
}

impl Default for HotlineConfig {
    fn default() -> Self {
        HotlineConfig {
            answer_delay: Duration::from_secs(1),
            trusted_sources: vec![
                "127.0.0.0/8".parse().expect("literal network"),
                "::1/128".parse().expect("literal network"),
            ],
            communities: Vec::new(),
        }
    }
}

impl HotlineConfig {
    /// The community a dialled number (the Request-URI user) reaches.
    pub fn community_for(&self, dialled: &str) -> Option<&CommunityConfig> {
        let wanted = digits_of(dialled);
        self.communities.iter().find(|community| {
            community.numbers.iter().any(|number| {
                number.eq_ignore_ascii_case(dialled)
                    || (!wanted.is_empty() && digits_of(number) == wanted)
            })
        })
    }

    /// Whether a call from `ip` may be accepted.
    pub fn is_trusted(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.trusted_sources.iter().any(|net| net.contains(&ip))
    }

    /// Problems a well-formed file can still have, each with its key path.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut numbers = BTreeMap::new();
        let mut codes = BTreeMap::new();
        for (i, community) in self.communities.iter().enumerate() {
            let path = format!("hotline.communities[{i}]");
            if community.code.is_empty()
                || !community.code.chars().all(|c| c.is_ascii_alphanumeric())
            {
                problems.push((
                    format!("{path}.code"),
                    "must be a non-empty ASCII letters-and-digits code".to_string(),
                ));
            }
            if let Some(first) = codes.insert(community.code.clone(), i) {
                problems.push((
                    format!("{path}.code"),
                    format!(
                        "`{}` is already used by communities[{first}]",
                        community.code
                    ),
                ));
            }
            if let Some(area_code) = &community.area_code
                && crate::desk::AreaCode::parse(area_code).is_err()
            {
                problems.push((
                    format!("{path}.area_code"),
                    format!("`{area_code}` is not an area code (e.g. 0871)"),
                ));
            }
            if community.numbers.is_empty() {
                problems.push((format!("{path}.numbers"), "must not be empty".to_string()));
            }
            for number in &community.numbers {
                if let Some(first) = numbers.insert(number.to_ascii_lowercase(), i) {
                    problems.push((
                        format!("{path}.numbers"),
                        format!("`{number}` is already a number of communities[{first}]"),
                    ));
                }
            }
        }
        problems
    }
}

fn digits_of(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// What a menu digit means.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MenuChoice {
    Repair,
    Complaint,
    PaidService,
    Inquiry,
    Operator,
}

impl MenuChoice {
    pub const ALL: [MenuChoice; 5] = [
        MenuChoice::Repair,
        MenuChoice::Complaint,
        MenuChoice::PaidService,
        MenuChoice::Inquiry,
        MenuChoice::Operator,
    ];

    /// The choice a stored code stands for.
    pub fn from_code(code: &str) -> Option<MenuChoice> {
        MenuChoice::ALL
            .into_iter()
            .find(|choice| choice.code() == code)
    }

    /// Stable code stored with the call.
    pub fn code(self) -> &'static str {
        match self {
            MenuChoice::Repair => "repair",
            MenuChoice::Complaint => "complaint",
            MenuChoice::PaidService => "paid_service",
            MenuChoice::Inquiry => "inquiry",
            MenuChoice::Operator => "operator",
        }
    }
}

/// Code stored when no valid digit was pressed.
pub const MENU_CHOICE_OTHER: &str = "other";

/// `[ivr]`: prompts and the menu.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IvrConfig {
    /// Folder of the prompt files; relative paths are taken from the folder
    /// of the config file.
    pub prompts_dir: PathBuf,
    pub prompts: PromptFiles,
    /// Digit → choice.
    pub menu: BTreeMap<String, MenuChoice>,
    /// How long to wait for a digit once the menu has been played.
    #[serde(with = "humantime_serde")]
    pub digit_timeout: Duration,
    /// How many times the menu is offered before the call is taken as "other".
    pub menu_attempts: u32,
}

/// `[ivr.prompts]`: the file of each prompt, inside `prompts_dir`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PromptFiles {
    pub greeting: PathBuf,
    pub menu: PathBuf,
    pub invalid: PathBuf,
    pub voicemail: PathBuf,
    pub beep: PathBuf,
    pub thanks: PathBuf,
    /// When the caller joins the queue for an operator.
    pub queue: PathBuf,
    /// Looped while a caller waits in the queue or is on hold.
    pub hold: PathBuf,
    /// The caller's place in the queue: the first file for the first
    /// place, and so on; a place past the list plays `position_more`.
    pub positions: Vec<PathBuf>,
    pub position_more: PathBuf,
}

impl Default for PromptFiles {
    fn default() -> Self {
        PromptFiles {
            greeting: "greeting.wav".into(),
            menu: "menu.wav".into(),
            invalid: "invalid.wav".into(),
            voicemail: "voicemail.wav".into(),
            beep: "beep.wav".into(),
            thanks: "thanks.wav".into(),
            queue: "queue.wav".into(),
            hold: "hold.wav".into(),
            positions: (1..=9)
                .map(|place| format!("position_{place}.wav").into())
                .collect(),
            position_more: "position_more.wav".into(),
        }
    }
}

impl Default for IvrConfig {
    fn default() -> Self {
        let menu = [
            ("1", MenuChoice::Repair),
            ("2", MenuChoice::Complaint),
            ("3", MenuChoice::PaidService),
            ("4", MenuChoice::Inquiry),
            ("0", MenuChoice::Operator),
        ]
        .into_iter()
        .map(|(digit, choice)| (digit.to_string(), choice))
        .collect();
        IvrConfig {
            prompts_dir: "prompts".into(),
            prompts: PromptFiles::default(),
            menu,
            digit_timeout: Duration::from_secs(5),
            menu_attempts: 2,
        }
    }
}

impl IvrConfig {
    /// The choice a digit selects.
    pub fn choice_for(&self, digit: char) -> Option<MenuChoice> {
        let mut buf = [0u8; 4];
        self.menu.get(digit.encode_utf8(&mut buf) as &str).copied()
    }

    /// Problems a well-formed file can still have, each with its key path.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for digit in self.menu.keys() {
            let mut chars = digit.chars();
            let ok = matches!((chars.next(), chars.next()), (Some(c), None) if c.is_ascii_digit() || c == '*');
            if !ok {
                problems.push((
                    format!("ivr.menu.{digit}"),
                    "a menu key must be one digit 0-9 or *".to_string(),
                ));
            }
        }
        if self.menu_attempts == 0 {
            problems.push((
                "ivr.menu_attempts".to_string(),
                "must be at least 1".to_string(),
            ));
        }
        problems
    }
}

/// `[voicemail]`: the voice message taken when nobody can pick up.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VoicemailConfig {
    /// The longest message; the recording of the message stops there.
    #[serde(with = "humantime_serde")]
    pub max_length: Duration,
    /// The key that ends the message; pressed during the voice-message
    /// prompt, it skips to the beep.
    pub end_digit: char,
    /// A shorter message is empty: no work order is made of it.
    #[serde(with = "humantime_serde")]
    pub min_length: Duration,
    /// A message with less speech than this (voiced 20 ms frames of the
    /// caller, `media.speech_threshold_dbfs`) is empty.
    #[serde(with = "humantime_serde")]
    pub min_speech: Duration,
}

impl Default for VoicemailConfig {
    fn default() -> Self {
        VoicemailConfig {
            max_length: Duration::from_secs(120),
            end_digit: '#',
            min_length: Duration::from_secs(1),
            min_speech: Duration::from_millis(500),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hotline() -> HotlineConfig {
        HotlineConfig {
            communities: vec![CommunityConfig {
                code: "JF".into(),
                name: "示范小区".into(),
                numbers: vec!["hotline".into(), "0871-65123456".into()],
                area_code: Some("0871".into()),
            }],
            ..HotlineConfig::default()
        }
    }

    #[test]
    fn a_hotline_number_is_found_by_name_or_by_digits() {
        let config = hotline();
        assert_eq!(
            config.community_for("hotline").map(|c| c.code.as_str()),
            Some("JF")
        );
        assert_eq!(
            config.community_for("HOTLINE").map(|c| c.code.as_str()),
            Some("JF")
        );
        assert_eq!(
            config
                .community_for("087165123456")
                .map(|c| c.code.as_str()),
            Some("JF")
        );
        assert!(config.community_for("other").is_none());
        assert!(config.community_for("110").is_none());
    }

    #[test]
    fn loopback_is_trusted_by_default_and_others_are_not() {
        let config = HotlineConfig::default();
        assert!(config.is_trusted("127.0.0.1".parse().expect("ip")));
        assert!(config.is_trusted("::1".parse().expect("ip")));
        assert!(config.is_trusted("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!config.is_trusted("192.0.2.7".parse().expect("ip")));
    }

    #[test]
    fn duplicate_numbers_and_codes_are_named_with_their_path() {
        let mut config = hotline();
        config.communities.push(CommunityConfig {
            code: "JF".into(),
            name: "二期".into(),
            numbers: vec!["hotline".into()],
            area_code: None,
        });
        let problems = config.validate();
        let paths: Vec<_> = problems.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "hotline.communities[1].code",
                "hotline.communities[1].numbers"
            ]
        );
    }

    #[test]
    fn the_default_menu_maps_the_five_digits() {
        let ivr = IvrConfig::default();
        assert_eq!(ivr.choice_for('1'), Some(MenuChoice::Repair));
        assert_eq!(ivr.choice_for('0'), Some(MenuChoice::Operator));
        assert_eq!(ivr.choice_for('7'), None);
        assert!(ivr.validate().is_empty());
    }

    #[test]
    fn the_voicemail_section_reads_durations_and_refuses_unknown_keys() {
        let config: VoicemailConfig =
            toml::from_str("min_length = \"2s\"\nmin_speech = \"750ms\"\n").expect("valid");
        assert_eq!(config.min_length, Duration::from_secs(2));
        assert_eq!(config.min_speech, Duration::from_millis(750));
        assert_eq!(config.max_length, Duration::from_secs(120));
        let defaults: VoicemailConfig = toml::from_str("").expect("empty");
        assert_eq!(defaults.min_length, Duration::from_secs(1));
        assert_eq!(defaults.min_speech, Duration::from_millis(500));
        let err = toml::from_str::<VoicemailConfig>("min_lenght = \"1s\"").expect_err("typo");
        assert!(err.to_string().contains("min_lenght"), "{err}");
    }

    #[test]
    fn a_menu_key_that_is_not_one_digit_is_refused() {
        let mut ivr = IvrConfig::default();
        ivr.menu.insert("12".into(), MenuChoice::Repair);
        assert_eq!(ivr.validate()[0].0, "ivr.menu.12");
    }
}

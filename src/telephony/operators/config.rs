//! `[queue]`: how waiting callers are distributed to operators.

use std::time::Duration;

use serde::Deserialize;

use crate::desk::{DEFAULT_RING_OUTS_TO_BREAK, GroupRule, PresenceRules};

/// The word that stands for "all" in a group's lists.
pub const ALL: &str = "*";

/// `[queue]` in the config file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// How long an operator's phone rings before the next one is tried.
    #[serde(with = "humantime_serde")]
    pub ring_timeout: Duration,
    /// After each call, before the operator is offered the next.
    #[serde(with = "humantime_serde")]
    pub wrap_up: Duration,
    /// The longest a caller waits before they are offered a voice message.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
    /// How often a waiting caller hears their position.
    #[serde(with = "humantime_serde")]
    pub announce_every: Duration,
    /// Calls in a row an operator lets ring out before they are set on
    /// break (未接听); 0: never.
    pub ring_outs_to_break: u32,
    /// Menu choices (by code) that put the caller in the queue; `operator`
    /// (key 0) always does.
    pub choices: Vec<String>,
    /// The operator groups.
    pub groups: Vec<GroupConfig>,
}

/// `[[queue.groups]]`: the communities a group serves and its operators.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub name: String,
    /// Community codes, or `["*"]` for every community.
    pub communities: Vec<String>,
    /// Operator user names, or `["*"]` for every operator and supervisor.
    pub operators: Vec<String>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            ring_timeout: Duration::from_secs(20),
            wrap_up: Duration::from_secs(10),
            max_wait: Duration::from_secs(120),
            announce_every: Duration::from_secs(30),
            ring_outs_to_break: DEFAULT_RING_OUTS_TO_BREAK,
            choices: Vec::new(),
            groups: vec![GroupConfig {
                name: "all".to_string(),
                communities: vec![ALL.to_string()],
                operators: vec![ALL.to_string()],
            }],
        }
    }
}

impl QueueConfig {
    /// The presence rules the desk applies.
    pub fn presence_rules(&self) -> PresenceRules {
        PresenceRules {
            wrap_up: self.wrap_up,
            ring_outs_to_break: self.ring_outs_to_break,
        }
    }

    /// The groups as the desk's ACD takes them.
    pub fn group_rules(&self) -> Vec<GroupRule> {
        self.groups
            .iter()
            .map(|group| GroupRule {
                name: group.name.clone(),
                communities: list_or_all(&group.communities),
                operators: list_or_all(&group.operators),
            })
            .collect()
    }

    /// Whether a menu choice (by code) puts the caller in the queue.
    pub fn queues(&self, choice: &str) -> bool {
        choice == super::super::MenuChoice::Operator.code()
            || self.choices.iter().any(|c| c == choice)
    }

    /// Problems a well-formed file can still have, each with its key path.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("queue.ring_timeout", self.ring_timeout),
            ("queue.max_wait", self.max_wait),
            ("queue.announce_every", self.announce_every),
        ] {
            if value.is_zero() {
                problems.push((key.to_string(), "must be longer than 0s".to_string()));
            }
        }
        for (index, choice) in self.choices.iter().enumerate() {
            if super::super::MenuChoice::from_code(choice).is_none() {
                problems.push((
                    format!("queue.choices[{index}]"),
                    format!("`{choice}` is not a menu choice"),
                ));
            }
        }
        for (index, group) in self.groups.iter().enumerate() {
            for (field, list) in [
                ("communities", &group.communities),
                ("operators", &group.operators),
            ] {
                if list.is_empty() {
                    problems.push((
                        format!("queue.groups[{index}].{field}"),
                        "list at least one, or \"*\" for all".to_string(),
                    ));
                }
            }
        }
        problems
    }
}

fn list_or_all(list: &[String]) -> Option<Vec<String>> {
    if list.iter().any(|item| item == ALL) {
        None
    } else {
        Some(list.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_ring_everyone_for_every_community() {
        let config: QueueConfig = toml::from_str("").expect("empty");
        assert_eq!(config, QueueConfig::default());
        assert_eq!(config.ring_timeout, Duration::from_secs(20));
        assert_eq!(config.wrap_up, Duration::from_secs(10));
        assert_eq!(config.max_wait, Duration::from_secs(120));
        assert_eq!(config.announce_every, Duration::from_secs(30));
        let groups = config.group_rules();
        assert_eq!(groups.len(), 1);
        assert_eq!(
            (groups[0].communities.clone(), groups[0].operators.clone()),
            (None, None)
        );
        assert!(config.validate().is_empty());
        assert!(config.queues("operator"));
        assert!(!config.queues("complaint"));
    }

    #[test]
    fn groups_and_extra_choices_are_read_and_checked() {
        let config: QueueConfig = toml::from_str(
            r#"
            ring_timeout = "15s"
            choices = ["complaint", "nonsense"]
            [[groups]]
            name = "north"
            communities = ["JF"]
            operators = []
            "#,
        )
        .expect("valid toml");
        assert!(config.queues("complaint"));
        let keys: Vec<String> = config.validate().into_iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["queue.choices[1]", "queue.groups[0].operators"]);
        assert!(toml::from_str::<QueueConfig>("ringing = \"1s\"").is_err());
    }
}

//! The desk's part of the configuration: business time zone, departments,
//! categories and SLA rules (`[desk]` in the daemon's TOML).
//!
//! Owns the defaults (from the seeds) and the checks that tie the parts
//! together (a category's department must exist). Knows nothing of the file
//! it comes from: `app::config` composes it.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::desk::DeskError;
use crate::desk::tickets::{
    Category, CategoryCode, Department, DepartmentCode, SlaConfig, TicketKind, default_categories,
    default_departments,
};

/// Business time zone unless configured (DESIGN.md: "default Asia/Shanghai").
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// `[desk]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeskConfig {
    /// IANA name (`Asia/Shanghai`): ticket dates, reports, calling hours.
    #[serde(with = "time_zone")]
    pub time_zone: Tz,
    pub departments: Vec<Department>,
    pub categories: Vec<Category>,
    pub sla: SlaConfig,
}

impl Default for DeskConfig {
    fn default() -> Self {
        Self {
            time_zone: DEFAULT_TIME_ZONE,
            departments: default_departments(),
            categories: default_categories(),
            sla: SlaConfig::default(),
        }
    }
}

impl DeskConfig {
    /// Checks what serde cannot: unique codes, names present, categories
    /// pointing at known departments, sane SLA durations. The error names the
    /// key path.
    pub fn validate(&self) -> Result<(), DeskError> {
        let invalid = |path: String, reason| Err(DeskError::InvalidConfig { path, reason });
        if self.departments.is_empty() {
            return invalid(
                "departments".to_owned(),
                "at least one department is needed",
            );
        }
        for (i, department) in self.departments.iter().enumerate() {
            if department.name.trim().is_empty() {
                return invalid(format!("departments[{i}].name"), "must not be empty");
            }
            if self.departments[..i]
                .iter()
                .any(|d| d.code == department.code)
            {
                return invalid(format!("departments[{i}].code"), "duplicate code");
            }
        }
        for (i, category) in self.categories.iter().enumerate() {
            if category.name.trim().is_empty() {
                return invalid(format!("categories[{i}].name"), "must not be empty");
            }
            if self.categories[..i].iter().any(|c| c.code == category.code) {
                return invalid(format!("categories[{i}].code"), "duplicate code");
            }
            if self.department(&category.department).is_none() {
                return invalid(
                    format!("categories[{i}].department"),
                    "names no configured department",
                );
            }
        }
        self.sla.validate()
    }

    pub fn department(&self, code: &DepartmentCode) -> Option<&Department> {
        self.departments.iter().find(|d| d.code == *code)
    }

    /// The categories an operator may choose for a kind.
    pub fn categories_of(&self, kind: TicketKind) -> impl Iterator<Item = &Category> {
        self.categories.iter().filter(move |c| c.kind == kind)
    }

    /// The category `code`, checked to belong to `kind`.
    pub fn category_for(
        &self,
        kind: TicketKind,
        code: &CategoryCode,
    ) -> Result<&Category, DeskError> {
        let category = self
            .categories
            .iter()
            .find(|c| c.code == *code)
            .ok_or_else(|| DeskError::UnknownCategory { code: code.clone() })?;
        if category.kind != kind {
            return Err(DeskError::CategoryOfOtherKind {
                code: code.clone(),
                kind,
                category_kind: category.kind,
            });
        }
        Ok(category)
    }
}

/// Serde for a time zone as its IANA name.
mod time_zone {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(tz: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(tz.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse::<Tz>()
            .map_err(|_| de::Error::custom(format!("unknown time zone `{name}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_default_config_is_valid_and_in_shanghai_time() {
        let config = DeskConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(config.time_zone, chrono_tz::Asia::Shanghai);
        let names: Vec<_> = config.departments.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["工程部", "秩序部", "保洁部", "绿化部", "客服中心"]);
    }

    #[test]
    fn an_empty_desk_table_gives_the_defaults() {
        let config: DeskConfig = toml::from_str("").expect("valid");
        assert_eq!(config, DeskConfig::default());
    }

    #[test]
    fn a_full_desk_table_is_read() {
        let text = r#"
            time_zone = "Asia/Urumqi"

            [[departments]]
            code = "engineering"
            name = "工程部"

            [[categories]]
            code = "elevator"
            name = "电梯"
            kind = "repair"
            department = "engineering"

            [sla.inquiry.urgent]
            respond = "10m"
            resolve = "1h"
            [sla.inquiry.normal]
            respond = "30m"
            resolve = "1day"
        "#;
        let config: DeskConfig = toml::from_str(text).expect("valid");
        assert!(config.validate().is_ok());
        assert_eq!(config.time_zone, chrono_tz::Asia::Urumqi);
        assert_eq!(config.categories.len(), 1);
        assert_eq!(config.sla.inquiry.urgent.respond, Duration::from_secs(600));
        assert_eq!(config.sla.repair, SlaConfig::default().repair);
        let json = serde_json::to_value(&config).expect("serialises");
        assert_eq!(json["time_zone"], "Asia/Urumqi");
    }

    #[test]
    fn unknown_keys_bad_codes_and_unknown_time_zones_are_refused() {
        for (text, needle) in [
            ("timezone = \"Asia/Shanghai\"", "timezone"),
            ("time_zone = \"Asia/Beijing\"", "Asia/Beijing"),
            ("[[departments]]\ncode = \"Eng\"\nname = \"工程\"", "Eng"),
            (
                "[[departments]]\ncode = \"eng\"\nname = \"工程\"\nphone = \"1\"",
                "phone",
            ),
            (
                "[[categories]]\ncode = \"x\"\nname = \"x\"\nkind = \"plumbing\"\ndepartment = \"engineering\"",
                "plumbing",
            ),
        ] {
            let err = toml::from_str::<DeskConfig>(text).expect_err(text);
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn validation_names_the_path_of_the_bad_entry() {
        let mut config = DeskConfig::default();
        config.departments.push(config.departments[0].clone());
        let err = config.validate().expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "config `departments[5].code`: duplicate code"
        );

        let mut config = DeskConfig::default();
        config
            .departments
            .retain(|d| d.code.as_str() != "landscaping");
        let err = config.validate().expect_err("dangling category");
        assert!(err.to_string().starts_with("config `categories["), "{err}");
        assert!(
            err.to_string()
                .ends_with("].department`: names no configured department")
        );

        let mut config = DeskConfig::default();
        config.categories[0].name = " ".to_owned();
        assert!(config.validate().is_err());

        let mut config = DeskConfig::default();
        config.departments.clear();
        assert!(config.validate().is_err());
    }

    #[test]
    fn a_category_must_belong_to_the_tickets_kind() {
        let config = DeskConfig::default();
        let noise = CategoryCode::new("noise").expect("valid");
        let category = config
            .category_for(TicketKind::Complaint, &noise)
            .expect("noise is a complaint category");
        assert_eq!(category.department.as_str(), "security");
        assert_eq!(
            config
                .category_for(TicketKind::Repair, &noise)
                .map_err(|e| e.to_string()),
            Err("category `noise` belongs to complaint, not repair".to_owned())
        );
        let unknown = CategoryCode::new("ufo").expect("valid code");
        assert!(config.category_for(TicketKind::Other, &unknown).is_err());
        assert!(
            config
                .categories_of(TicketKind::Repair)
                .any(|c| c.name == "电梯")
        );
    }
}

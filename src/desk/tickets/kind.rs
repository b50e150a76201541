//! How a work order is classified: kind, priority, complaint grade, source,
//! and the configurable departments and categories it is dispatched by.
//!
//! Every enum has a stable snake_case code (what the store, the API and the
//! config use) and a Chinese label (from `labels.rs`). Knows nothing of how
//! tickets move (`status.rs`) or when they are due (`sla.rs`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::desk::DeskError;
use crate::desk::labels;

/// Longest department or category code.
const CODE_MAX_LEN: usize = 32;

/// Declares a fieldless enum with its stable codes, `code()`, `from_code()`,
/// `ALL`, `FromStr` and `Display` (the code).
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, $label:path, { $($(#[$vmeta:meta])* $variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code (`snake_case`), as stored and sent over the API.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }

            /// The value for a stable code.
            pub fn from_code(code: &str) -> Result<Self, DeskError> {
                match code {
                    $($code => Ok($name::$variant),)+
                    _ => Err(DeskError::UnknownCode { what: $what, code: code.to_owned() }),
                }
            }

            /// The Chinese label operators see.
            pub fn label_zh(self) -> &'static str {
                $label(self)
            }
        }

        impl FromStr for $name {
            type Err = DeskError;
            fn from_str(code: &str) -> Result<Self, DeskError> {
                Self::from_code(code)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

coded_enum!(
    /// What the owner wants (seed 002 §4–7.1: 报修 / 投诉 / 有偿服务 / 其他信息).
    TicketKind, "ticket kind", labels::ticket_kind, {
        /// 报修
        Repair => "repair",
        /// 投诉 / 抱怨
        Complaint => "complaint",
        /// 有偿服务
        PaidService => "paid_service",
        /// 咨询
        Inquiry => "inquiry",
        /// 其他信息
        Other => "other",
    }
);

coded_enum!(
    /// How fast it must be handled (seed 003 §5: 分类、优先级排序).
    Priority, "priority", labels::priority, {
        /// 紧急
        Urgent => "urgent",
        /// 一般
        Normal => "normal",
    }
);

coded_enum!(
    /// Grade of a complaint. Seed 004 §2.2.1 asks for 投诉分级 without naming
    /// the levels; 一般 / 较重 / 重大 is the usual three-level scale.
    ComplaintGrade, "complaint grade", labels::complaint_grade, {
        /// 一般
        Ordinary => "ordinary",
        /// 较重
        Serious => "serious",
        /// 重大
        Major => "major",
    }
);

coded_enum!(
    /// How the request reached the desk. Seed 002 §4.1 (被动收集: the owner
    /// calls or walks in) and §4.2 (主动收集: found during a 回访).
    TicketSource, "ticket source", labels::ticket_source, {
        /// 来电
        PhoneCall => "phone_call",
        /// 留言
        VoiceMessage => "voice_message",
        /// 来访
        WalkIn => "walk_in",
        /// 回访
        Callback => "callback",
        /// 接口
        Api => "api",
    }
);

fn validate_code(what: &'static str, code: &str) -> Result<(), DeskError> {
    let mut chars = code.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if starts_with_letter && rest_ok && code.len() <= CODE_MAX_LEN {
        Ok(())
    } else {
        Err(DeskError::InvalidCode {
            what,
            code: code.to_owned(),
        })
    }
}

macro_rules! code_newtype {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks the code: `[a-z][a-z0-9_]*`, at most 32 characters.
            pub fn new(code: &str) -> Result<Self, DeskError> {
                validate_code($what, code)?;
                Ok(Self(code.to_owned()))
            }

            /// The code as stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DeskError;
            fn try_from(code: String) -> Result<Self, DeskError> {
                validate_code($what, &code)?;
                Ok(Self(code))
            }
        }

        impl From<$name> for String {
            fn from(code: $name) -> String {
                code.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

code_newtype!(
    /// Code of a department (`engineering`), configurable.
    DepartmentCode,
    "department code"
);

code_newtype!(
    /// Code of a category (`water_electric`), configurable.
    CategoryCode,
    "category code"
);

/// A department work orders are dispatched to (工程/秩序/保洁/绿化/客服).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub code: DepartmentCode,
    /// Display name (中文).
    pub name: String,
}

/// A category under one kind (水电 under 报修, 噪音 under 投诉), with the
/// department it is dispatched to by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub code: CategoryCode,
    /// Display name (中文).
    pub name: String,
    pub kind: TicketKind,
    pub department: DepartmentCode,
}

/// The default departments (`labels::DEFAULT_DEPARTMENTS`).
pub(crate) fn default_departments() -> Vec<Department> {
    labels::DEFAULT_DEPARTMENTS
        .iter()
        .map(|(code, name)| Department {
            code: DepartmentCode((*code).to_owned()),
            name: (*name).to_owned(),
        })
        .collect()
}

/// The default categories (`labels::DEFAULT_CATEGORIES`).
pub(crate) fn default_categories() -> Vec<Category> {
    labels::DEFAULT_CATEGORIES
        .iter()
        .map(|(code, name, kind, department)| Category {
            code: CategoryCode((*code).to_owned()),
            name: (*name).to_owned(),
            kind: *kind,
            department: DepartmentCode((*department).to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_code_and_serde() {
        for kind in TicketKind::ALL {
            assert_eq!(TicketKind::from_code(kind.code()).ok(), Some(*kind));
            let json = serde_json::to_string(kind).expect("an enum serialises");
            assert_eq!(json, format!("\"{}\"", kind.code()));
        }
    }

    #[test]
    fn kinds_have_the_labels_of_the_seeds() {
        let labels: Vec<_> = TicketKind::ALL.iter().map(|k| k.label_zh()).collect();
        assert_eq!(labels, ["报修", "投诉", "有偿服务", "咨询", "其他"]);
        assert_eq!(TicketKind::PaidService.code(), "paid_service");
    }

    #[test]
    fn an_unknown_kind_code_is_named_in_the_error() {
        let err = TicketKind::from_code("plumbing").expect_err("not a kind");
        assert_eq!(err.to_string(), "unknown ticket kind code `plumbing`");
    }

    #[test]
    fn priorities_grades_and_sources_round_trip_through_codes_and_serde() {
        for p in Priority::ALL {
            assert_eq!(p.code().parse::<Priority>().ok(), Some(*p));
            let back: Priority = serde_json::from_str(&format!("\"{p}\"")).expect("valid code");
            assert_eq!(back, *p);
        }
        for g in ComplaintGrade::ALL {
            assert_eq!(ComplaintGrade::from_code(g.code()).ok(), Some(*g));
        }
        for s in TicketSource::ALL {
            let back: TicketSource =
                serde_json::from_str(&format!("\"{}\"", s.code())).expect("valid code");
            assert_eq!(back, *s);
        }
        assert_eq!(Priority::Urgent.label_zh(), "紧急");
        assert_eq!(ComplaintGrade::Major.label_zh(), "重大");
        assert_eq!(TicketSource::VoiceMessage.code(), "voice_message");
    }

    #[test]
    fn department_codes_must_be_lowercase_snake_case() {
        assert!(DepartmentCode::new("engineering").is_ok());
        assert!(DepartmentCode::new("eng_2").is_ok());
        assert!(DepartmentCode::new("Engineering").is_err());
        assert!(DepartmentCode::new("2eng").is_err());
        assert!(DepartmentCode::new("").is_err());
        assert!(DepartmentCode::new("工程").is_err());
        assert!(CategoryCode::new(&"a".repeat(CODE_MAX_LEN + 1)).is_err());
    }

    #[test]
    fn default_categories_cover_every_kind_and_name_known_departments() {
        let departments = default_departments();
        let categories = default_categories();
        for kind in TicketKind::ALL {
            assert!(categories.iter().any(|c| c.kind == *kind), "{kind}");
        }
        for category in &categories {
            assert!(departments.iter().any(|d| d.code == category.department));
            assert!(validate_code("category code", category.code.as_str()).is_ok());
        }
    }
}

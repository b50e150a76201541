//! The archive's columns and roles as people write them: the header words
//! (Chinese and English) an import recognises, the headers an export
//! writes, and the role words. Words only, no logic beyond matching; these
//! belong with `desk/labels.rs` and can move there whole.

use std::fmt;

use serde::Serialize;

use super::Role;

/// A column of an archive file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Community,
    Building,
    Entrance,
    Room,
    Name,
    Role,
    Mobile,
    Phone,
    Note,
}

impl Column {
    /// Every column, in the order an export writes them.
    pub const ALL: [Column; 9] = [
        Column::Community,
        Column::Building,
        Column::Entrance,
        Column::Room,
        Column::Name,
        Column::Role,
        Column::Mobile,
        Column::Phone,
        Column::Note,
    ];

    /// The Chinese header (the one an export writes).
    pub fn label_zh(self) -> &'static str {
        self.words()[0]
    }

    /// The English header.
    pub fn label_en(self) -> &'static str {
        self.words()[1]
    }

    /// Header words, lower case: Chinese first, English second, then
    /// synonyms seen in property-management spreadsheets.
    fn words(self) -> &'static [&'static str] {
        match self {
            Column::Community => &[
                "小区",
                "community",
                "小区名称",
                "项目",
                "项目名称",
                "estate",
            ],
            Column::Building => &["楼栋", "building", "楼号", "栋号", "楼栋号", "栋", "楼"],
            Column::Entrance => &["单元", "entrance", "单元号"],
            Column::Room => &["房号", "room", "房间号", "室号", "房屋", "门牌号", "房间"],
            Column::Name => &["姓名", "name", "业主姓名", "名字", "住户姓名"],
            Column::Role => &["身份", "role", "类型", "人员类型", "住户类型", "关系"],
            Column::Mobile => &["手机", "mobile", "手机号", "手机号码", "移动电话"],
            Column::Phone => &[
                "电话",
                "phone",
                "固话",
                "固定电话",
                "联系电话",
                "座机",
                "landline",
                "tel",
                "telephone",
            ],
            Column::Note => &["备注", "note", "notes", "说明", "remark", "remarks"],
        }
    }

    /// The column a header cell names, if any.
    pub(crate) fn from_header(cell: &str) -> Option<Column> {
        let folded: String = cell
            .trim_start_matches('\u{feff}')
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_lowercase();
        Column::ALL
            .into_iter()
            .find(|column| column.words().contains(&folded.as_str()))
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.label_zh(), self.label_en())
    }
}

/// Headers of the columns a rejected file adds: (Chinese, English).
pub(crate) const REJECTED_ROW: (&str, &str) = ("行号", "row");
pub(crate) const REJECTED_COLUMN: (&str, &str) = ("列", "column");
pub(crate) const REJECTED_REASON: (&str, &str) = ("原因", "reason");

pub(crate) fn role_label(role: Role) -> &'static str {
    role_words(role)[0]
}

fn role_words(role: Role) -> &'static [&'static str] {
    match role {
        Role::Owner => &["业主", "owner", "房主", "产权人"],
        Role::Tenant => &["租户", "tenant", "租客", "承租人"],
        Role::Household => &["家属", "household", "家庭成员", "住户", "member"],
    }
}

/// The role a cell names (Chinese, English or a stored code).
pub(crate) fn role_from_cell(cell: &str) -> Option<Role> {
    let folded = cell.trim().to_lowercase();
    [Role::Owner, Role::Tenant, Role::Household]
        .into_iter()
        .find(|role| role_words(*role).contains(&folded.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_in_chinese_english_and_with_a_bom_or_spaces() {
        assert_eq!(Column::from_header("\u{feff}小区"), Some(Column::Community));
        assert_eq!(Column::from_header(" Mobile "), Some(Column::Mobile));
        assert_eq!(Column::from_header("联系 电话"), Some(Column::Phone));
        assert_eq!(Column::from_header("面积"), None);
    }

    #[test]
    fn roles_are_read_in_both_languages_and_shown_in_chinese() {
        assert_eq!(role_from_cell(" 业主 "), Some(Role::Owner));
        assert_eq!(role_from_cell("Tenant"), Some(Role::Tenant));
        assert_eq!(role_from_cell("家属"), Some(Role::Household));
        assert_eq!(role_from_cell("保姆"), None);
        assert_eq!(Role::Tenant.label_zh(), "租户");
    }
}

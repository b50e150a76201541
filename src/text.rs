//! What people read or hear, in Simplified Chinese, in one place: console
//! and command-line output. (The spoken prompts' texts are in
//! `scripts/gen-prompts.sh`, which makes the WAV files from them.)

/// `hotline check-config` when the file is good.
pub const CONFIG_OK: &str = "配置正确";
/// `hotline check-config` when the built-in defaults are used.
pub const CONFIG_BUILT_IN: &str = "(内置默认配置)";
/// Heading before configuration errors.
pub const CONFIG_ERRORS: &str = "配置有误:";
/// `hotline calls list` when there is nothing to show.
pub const NO_CALLS: &str = "没有通话记录";
/// Column headings of `hotline calls list`.
pub const CALLS_HEADER: [&str; 9] = [
    "通话ID",
    "来电时间",
    "主叫",
    "被叫",
    "小区",
    "按键",
    "时长(秒)",
    "结束原因",
    "录音",
];

/// An end reason this build does not know (a newer node's record).
pub const UNKNOWN_END_REASON: &str = "未知";
/// A call that has not ended yet.
pub const CALL_IN_PROGRESS: &str = "通话中";

/// `hotline users add|passwd` asks for the password with this.
pub const PASSWORD_PROMPT: &str = "密码: ";
/// `hotline users add` when done.
pub const USER_ADDED: &str = "已添加用户";
/// `hotline users passwd` when done.
pub const PASSWORD_CHANGED: &str = "密码已修改";
/// Column headings of `hotline users list`.
pub const USERS_HEADER: [&str; 6] = ["用户名", "姓名", "角色", "状态", "话机密码", "已注册话机"];
/// `hotline users sip-password` asks for the phone password with this.
pub const SIP_PASSWORD_PROMPT: &str = "话机(SIP)密码: ";
/// `hotline users sip-password` when done.
pub const SIP_PASSWORD_CHANGED: &str = "话机密码已设置";
/// `users list`: the user's phones have credentials.
pub const SIP_SET: &str = "已设置";
/// `users list`: the user's phones have none.
pub const SIP_NOT_SET: &str = "未设置";
/// A user who may log in.
pub const USER_ENABLED: &str = "启用";
/// A user who may not log in.
pub const USER_DISABLED: &str = "停用";

/// Progress bar label of `hotline archive import`.
pub const IMPORTING: &str = "导入中";
/// Summary heading of an import.
pub const IMPORT_DONE: &str = "导入完成";
/// Summary heading of an import with `--dry-run`.
pub const IMPORT_DRY_RUN: &str = "试导入(未写入)";
/// Counts of the import summary.
pub const INSERTED: &str = "新增";
pub const UPDATED: &str = "更新";
pub const UNCHANGED: &str = "未变";
pub const REJECTED: &str = "拒绝";
/// Where the rejected rows were written.
pub const REJECTED_FILE: &str = "被拒绝的行已写入";
/// `hotline archive export` when done (rows written).
pub const EXPORTED: &str = "已导出";

/// An API field or query parameter with a control character (the field's
/// name comes before it).
pub const CONTROL_CHARACTER: &str = "含有控制字符(如 U+0000),请删除后再提交";

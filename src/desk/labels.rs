//! Every Chinese label the desk shows, in one place.
//!
//! Owns the words operators and owners read (工单类型, 状态, 部门…) and the
//! default department and category tables. Codes (`repair`, `in_progress`)
//! live with their types; this file only maps them to 中文. It must not hold
//! logic: a translator edits this file and nothing else.

use super::phone::PhoneKind;
use super::tickets::{ActionKind, ComplaintGrade, Priority, StatusKind, TicketKind, TicketSource};

pub(crate) fn ticket_kind(kind: TicketKind) -> &'static str {
    match kind {
        TicketKind::Repair => "报修",
        TicketKind::Complaint => "投诉",
        TicketKind::PaidService => "有偿服务",
        TicketKind::Inquiry => "咨询",
        TicketKind::Other => "其他",
    }
}

pub(crate) fn priority(priority: Priority) -> &'static str {
    match priority {
        Priority::Urgent => "紧急",
        Priority::Normal => "一般",
    }
}

pub(crate) fn complaint_grade(grade: ComplaintGrade) -> &'static str {
    match grade {
        ComplaintGrade::Ordinary => "一般",
        ComplaintGrade::Serious => "较重",
        ComplaintGrade::Major => "重大",
    }
}

pub(crate) fn ticket_source(source: TicketSource) -> &'static str {
    match source {
        TicketSource::PhoneCall => "来电",
        TicketSource::VoiceMessage => "留言",
        TicketSource::WalkIn => "来访",
        TicketSource::Callback => "回访",
        TicketSource::Api => "接口",
    }
}

pub(crate) fn status(status: StatusKind) -> &'static str {
    match status {
        StatusKind::New => "受理",
        StatusKind::Dispatched => "派工",
        StatusKind::InProgress => "处理中",
        StatusKind::Resolved => "已完成",
        StatusKind::FollowedUp => "已回访",
        StatusKind::Closed => "归档",
        StatusKind::OnHold => "挂起",
        StatusKind::Reopened => "重新打开",
        StatusKind::Cancelled => "已取消",
    }
}

pub(crate) fn action(action: ActionKind) -> &'static str {
    match action {
        ActionKind::Dispatch => "派工",
        ActionKind::Start => "开始处理",
        ActionKind::Resolve => "完成",
        ActionKind::FollowUp => "回访",
        ActionKind::Close => "归档",
        ActionKind::Hold => "挂起",
        ActionKind::Resume => "恢复",
        ActionKind::Reopen => "重新打开",
        ActionKind::Cancel => "取消",
    }
}

pub(crate) fn phone_kind(kind: PhoneKind) -> &'static str {
    match kind {
        PhoneKind::Mobile => "手机",
        PhoneKind::Landline => "固话",
        PhoneKind::Service => "服务号码",
        PhoneKind::International => "国际号码",
    }
}

/// Default departments: (code, name). Seed 003 §7.0 names 保安/工程 beside
/// 客服; 秩序 is the usual modern name of 保安, 保洁/绿化 complete the set the
/// design's user table lists.
pub(crate) const DEFAULT_DEPARTMENTS: &[(&str, &str)] = &[
    ("engineering", "工程部"),
    ("security", "秩序部"),
    ("cleaning", "保洁部"),
    ("landscaping", "绿化部"),
    ("customer_service", "客服中心"),
];

/// Default categories: (code, name, kind, department code).
pub(crate) const DEFAULT_CATEGORIES: &[(&str, &str, TicketKind, &str)] = &[
    ("water_electric", "水电", TicketKind::Repair, "engineering"),
    ("doors_windows", "门窗", TicketKind::Repair, "engineering"),
    ("elevator", "电梯", TicketKind::Repair, "engineering"),
    (
        "public_facility",
        "公共设施",
        TicketKind::Repair,
        "engineering",
    ),
    ("noise", "噪音", TicketKind::Complaint, "security"),
    ("sanitation", "卫生", TicketKind::Complaint, "cleaning"),
    ("parking", "停车", TicketKind::Complaint, "security"),
    ("safety", "安全", TicketKind::Complaint, "security"),
    ("greenery", "绿化", TicketKind::Complaint, "landscaping"),
    (
        "service_attitude",
        "服务态度",
        TicketKind::Complaint,
        "customer_service",
    ),
    (
        "home_repair",
        "室内维修",
        TicketKind::PaidService,
        "engineering",
    ),
    (
        "housekeeping",
        "家政保洁",
        TicketKind::PaidService,
        "cleaning",
    ),
    ("fees", "物业费", TicketKind::Inquiry, "customer_service"),
    (
        "renovation",
        "装修",
        TicketKind::Inquiry,
        "customer_service",
    ),
    (
        "suggestion",
        "意见建议",
        TicketKind::Other,
        "customer_service",
    ),
];

/// Building marker in the canonical room address (`3栋2单元1201`).
pub(crate) const BUILDING: &str = "栋";
/// Entrance marker in the canonical room address.
pub(crate) const ENTRANCE: &str = "单元";

/// Description of a voice-message ticket (shown to operators; 中文).
pub(crate) const VOICE_MESSAGE_TEXT: &str = "语音留言";
pub(crate) const VOICE_MESSAGE_SECONDS_UNIT: &str = "秒";
pub(crate) const VOICE_MESSAGE_SEE_RECORDING: &str = "录音见关联来电";

pub(crate) fn end_reason(reason: super::EndReason) -> &'static str {
    use super::EndReason;
    match reason {
        EndReason::CallerHangUp => "来电方挂机",
        EndReason::HotlineHangUp => "系统挂机",
        EndReason::Cancelled => "接听前取消",
        EndReason::Rejected => "已拒接",
        EndReason::RtpTimeout => "媒体超时",
        EndReason::AckTimeout => "应答未确认",
        EndReason::Shutdown => "服务停止",
        EndReason::Crashed => "异常中断(已修复)",
        EndReason::Error => "系统错误",
    }
}

pub(crate) fn operator_state(state: super::OperatorState) -> &'static str {
    use super::OperatorState;
    match state {
        OperatorState::Offline => "离线",
        OperatorState::Available => "空闲",
        OperatorState::Ringing => "振铃",
        OperatorState::OnCall => "通话中",
        OperatorState::WrapUp => "整理",
        OperatorState::Break => "暂离",
    }
}

/// The break an operator is put on after letting calls ring out.
pub(crate) const BREAK_NO_ANSWER: &str = "未接听";

/// Break reasons the console offers (an operator may type another).
pub const BREAK_REASONS: [&str; 4] = ["小休", "用餐", "培训", "会议"];

pub(crate) fn satisfaction(value: super::callbacks::Satisfaction) -> &'static str {
    use super::callbacks::Satisfaction as S;
    match value {
        S::Satisfied => "满意",
        S::BasicallySatisfied => "基本满意",
        S::Dissatisfied => "不满意",
        S::NoAnswerGiven => "未评价",
    }
}

/// The history note of a 回访, e.g. `回访结果：满意`.
pub(crate) fn followup_note(value: super::callbacks::Satisfaction) -> String {
    format!("回访结果：{}", satisfaction(value))
}

/// The history note of an order reopened by a dissatisfied owner.
pub(crate) const REOPENED_BY_FOLLOWUP: &str = "回访不满意，重新处理";

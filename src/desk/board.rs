//! The operators' board as the rest of the desk sees it: who is logged in,
//! in which state, on which phones, and which calls wait. The board itself
//! runs in `telephony` (it follows the phones and the calls); the API asks
//! it through [`OperatorBoard`], which `app` hands over at start.

use std::future::Future;
use std::pin::Pin;

use super::presence::OperatorState;
use chrono::{DateTime, Utc};

/// A future the board answers with.
pub type BoardFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One registered phone of an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneView {
    /// The registered Contact URI.
    pub contact: String,
    /// `UDP` or `TCP`.
    pub transport: String,
    pub user_agent: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// False when the phone stopped answering (keep-alive or a ring).
    pub reachable: bool,
}

/// An operator as the board shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorView {
    pub name: String,
    pub display_name: Option<String>,
    pub state: OperatorState,
    pub since: DateTime<Utc>,
    /// The break reason while on break.
    pub reason: Option<String>,
    pub wrap_up_until: Option<DateTime<Utc>>,
    /// The call their phone rings for or that they are on.
    pub call_id: Option<String>,
    pub phones: Vec<PhoneView>,
}

/// A call waiting for an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingCallView {
    pub call_id: String,
    pub community: String,
    /// The caller, masked (`138****8000`).
    pub caller: String,
    pub menu_choice: Option<String>,
    pub entered_at: DateTime<Utc>,
    pub wait_ms: i64,
    /// The operator whose phone rings for it now.
    pub ringing: Option<String>,
}

/// What an operator (or a supervisor for them) may choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WantedState {
    Available,
    Break { reason: String },
}

/// Most characters a break reason may have.
pub const BREAK_REASON_MAX_CHARS: usize = 32;

/// What the board refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoardError {
    #[error("no operator `{name}`")]
    UnknownOperator { name: String },
    #[error("a break needs a reason of 1 to {BREAK_REASON_MAX_CHARS} characters")]
    BadReason,
    #[error("the operators' board is not running")]
    Stopped,
}

/// The board, as the API asks it.
pub trait OperatorBoard: Send + Sync {
    /// Every operator, by name.
    fn operators(&self) -> BoardFuture<'_, Result<Vec<OperatorView>, BoardError>>;
    /// The calls waiting now, first come first.
    fn queue(&self) -> BoardFuture<'_, Result<Vec<WaitingCallView>, BoardError>>;
    /// Sets an operator available or on break; their view after it.
    fn set_state<'a>(
        &'a self,
        name: &'a str,
        wanted: WantedState,
    ) -> BoardFuture<'a, Result<OperatorView, BoardError>>;
}

/// Checks a break reason as typed by a person: trimmed, not empty, not
/// too long, no control characters.
pub fn break_reason(reason: &str) -> Result<String, BoardError> {
    let reason = reason.trim();
    let chars = reason.chars().count();
    if chars == 0 || chars > BREAK_REASON_MAX_CHARS || reason.chars().any(char::is_control) {
        return Err(BoardError::BadReason);
    }
    Ok(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_break_reason_is_trimmed_and_must_be_short_plain_text() {
        assert_eq!(break_reason("  用餐 "), Ok("用餐".to_string()));
        assert_eq!(break_reason(""), Err(BoardError::BadReason));
        assert_eq!(break_reason("小休\u{0}"), Err(BoardError::BadReason));
        assert_eq!(break_reason(&"休".repeat(33)), Err(BoardError::BadReason));
        assert!(break_reason(&"休".repeat(32)).is_ok());
    }
}

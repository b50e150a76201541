//! The operators and the queue: `GET /api/operators` (each with state,
//! since when, phones and current call), `PUT /api/operators/{name}/state`
//! (available or on break: operators for themselves, supervisors for
//! anyone) and `GET /api/queue` (the calls waiting now). Times are RFC 3339
//! UTC.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::require_role;
use super::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::desk::users::{AuthUser, Role};
use crate::desk::{
    BoardError, OperatorState, OperatorView, PhoneView, WaitingCallView, WantedState, break_reason,
};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_operators))
        .routes(routes!(set_state))
        .routes(routes!(list_queue))
}

/// A registered phone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Phone {
    contact: String,
    /// `UDP` or `TCP`.
    transport: String,
    user_agent: Option<String>,
    expires_at: DateTime<Utc>,
    /// False when the phone stopped answering.
    reachable: bool,
}

/// An operator with their state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Operator {
    name: String,
    display_name: Option<String>,
    /// `offline`, `available`, `ringing`, `on_call`, `wrap_up` or `break`.
    state: String,
    /// The state in 中文.
    state_label: String,
    since: DateTime<Utc>,
    /// The break reason while on break.
    reason: Option<String>,
    wrap_up_until: Option<DateTime<Utc>>,
    /// The call their phone rings for or that they are on.
    call_id: Option<String>,
    phones: Vec<Phone>,
}

/// Every operator.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct OperatorList {
    operators: Vec<Operator>,
}

/// What to set: `{"state":"available"}` or `{"state":"break","reason":"用餐"}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StateRequest {
    /// `available` or `break`.
    state: String,
    /// Why, for a break (小休, 用餐, 培训, 会议, …).
    reason: Option<String>,
}

/// A call waiting for an operator.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct WaitingCall {
    call_id: String,
    community: String,
    /// The caller, masked.
    caller: String,
    menu_choice: Option<String>,
    entered_at: DateTime<Utc>,
    wait_ms: i64,
    /// The operator whose phone rings for it now.
    ringing: Option<String>,
}

/// The calls waiting now, first come first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Queue {
    calls: Vec<WaitingCall>,
    /// The longest wait now, in milliseconds (0 when none waits).
    longest_wait_ms: i64,
}

impl From<PhoneView> for Phone {
    fn from(phone: PhoneView) -> Phone {
        Phone {
            contact: phone.contact,
            transport: phone.transport,
            user_agent: phone.user_agent,
            expires_at: phone.expires_at,
            reachable: phone.reachable,
        }
    }
}

impl From<OperatorView> for Operator {
    fn from(view: OperatorView) -> Operator {
        Operator {
            name: view.name,
            display_name: view.display_name,
            state: view.state.as_str().to_string(),
            state_label: view.state.label().to_string(),
            since: view.since,
            reason: view.reason,
            wrap_up_until: view.wrap_up_until,
            call_id: view.call_id,
            phones: view.phones.into_iter().map(Phone::from).collect(),
        }
    }
}

impl From<WaitingCallView> for WaitingCall {
    fn from(view: WaitingCallView) -> WaitingCall {
        WaitingCall {
            call_id: view.call_id,
            community: view.community,
            caller: view.caller,
            menu_choice: view.menu_choice,
            entered_at: view.entered_at,
            wait_ms: view.wait_ms,
            ringing: view.ringing,
        }
    }
}

impl From<BoardError> for ApiError {
    fn from(err: BoardError) -> ApiError {
        match err {
            BoardError::UnknownOperator { name } => ApiError::NotFound {
                entity: "operator",
                id: name,
            },
            BoardError::BadReason => ApiError::InvalidField {
                field: "reason".to_string(),
                message: err.to_string(),
            },
            BoardError::Stopped => {
                tracing::error!("the operators' board is not running");
                ApiError::Internal
            }
        }
    }
}

/// Every operator, by name.
#[utoipa::path(
    get, path = "/api/operators", tag = "operators",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every operator", body = OperatorList),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
async fn list_operators(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<Json<OperatorList>, ApiError> {
    require_role(&user, Role::Operator)?;
    let operators = state.board()?.operators().await?;
    Ok(Json(OperatorList {
        operators: operators.into_iter().map(Operator::from).collect(),
    }))
}

/// Sets an operator available or on break (an operator only themselves).
#[utoipa::path(
    put, path = "/api/operators/{name}/state", tag = "operators",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The operator's user name")),
    request_body = StateRequest,
    responses(
        (status = 200, description = "The operator after the change", body = Operator),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Another operator's state", body = ErrorBody),
        (status = 404, description = "No such operator", body = ErrorBody),
        (status = 422, description = "A bad state or reason", body = ErrorBody),
    )
)]
async fn set_state(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(name): ApiPath<String>,
    ApiJson(request): ApiJson<StateRequest>,
) -> Result<Json<Operator>, ApiError> {
    require_role(&user, Role::Operator)?;
    if user.username != name {
        require_role(&user, Role::Supervisor)?;
    }
    let wanted = wanted_state(&request)?;
    let view = state.board()?.set_state(&name, wanted).await?;
    Ok(Json(Operator::from(view)))
}

fn wanted_state(request: &StateRequest) -> Result<WantedState, ApiError> {
    match OperatorState::parse(&request.state) {
        Some(OperatorState::Available) => Ok(WantedState::Available),
        Some(OperatorState::Break) => {
            let reason = break_reason(request.reason.as_deref().unwrap_or_default())?;
            Ok(WantedState::Break { reason })
        }
        _ => Err(ApiError::InvalidField {
            field: "state".to_string(),
            message: "`available` or `break`".to_string(),
        }),
    }
}

/// The calls waiting for an operator now.
#[utoipa::path(
    get, path = "/api/queue", tag = "operators",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The calls waiting, first come first", body = Queue),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
async fn list_queue(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<Json<Queue>, ApiError> {
    require_role(&user, Role::Operator)?;
    let calls = state.board()?.queue().await?;
    let longest_wait_ms = calls.iter().map(|c| c.wait_ms).max().unwrap_or(0);
    Ok(Json(Queue {
        calls: calls.into_iter().map(WaitingCall::from).collect(),
        longest_wait_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(state: &str, reason: Option<&str>) -> StateRequest {
        StateRequest {
            state: state.to_string(),
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn only_available_and_a_break_with_a_reason_may_be_asked_for() {
        assert_eq!(
            wanted_state(&request("available", None)).expect("ok"),
            WantedState::Available
        );
        assert_eq!(
            wanted_state(&request("break", Some("用餐"))).expect("ok"),
            WantedState::Break {
                reason: "用餐".to_string()
            }
        );
        for (state, reason, field) in [
            ("break", None, "reason"),
            ("on_call", None, "state"),
            ("busy", None, "state"),
        ] {
            match wanted_state(&request(state, reason)) {
                Err(ApiError::InvalidField { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{state}: {other:?}"),
            }
        }
    }
}

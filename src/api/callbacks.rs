//! Callbacks (回访 and missed-call callbacks), for operators and above:
//! `GET /api/callbacks` (filters: status, reason, community, due before,
//! assigned operator), `GET /api/callbacks/{id}` with its attempts,
//! `POST /api/callbacks` (one scheduled by hand),
//! `POST /api/callbacks/{id}/cancel` and `POST /api/callbacks/{id}/result`
//! (the result of a call made or a visit paid by a person).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ApiState;
use super::auth::require_role;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::desk::DeskError;
use crate::desk::callbacks::{
    CallbackReason, CallbackStatus, CallbackView, MAX_CALLBACK_PAGE, NewManualCallback,
    Satisfaction,
};
use crate::desk::users::{AuthUser, Role};
use crate::store::{CallbackAttemptRow, CallbackQuery};

/// Callbacks in a page when the query does not say.
const DEFAULT_PAGE: u32 = 50;

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_callbacks, schedule_callback))
        .routes(routes!(get_callback))
        .routes(routes!(cancel_callback))
        .routes(routes!(record_result))
}

/// Which callbacks.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CallbackFilter {
    /// `pending`, `dialing`, `retry_wait`, `manual`, `done`, `cancelled`.
    status: Option<String>,
    /// `followup` (回访), `missed` (未接来电回拨) or `manual`.
    reason: Option<String>,
    /// A community code.
    community: Option<String>,
    /// Only those due before this time (RFC 3339).
    due_before: Option<DateTime<Utc>>,
    /// The operator (user name) a manual task is for.
    assignee: Option<String>,
    /// Callbacks of one work order (its id).
    #[param(value_type = Option<String>)]
    ticket_id: Option<Uuid>,
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    offset: Option<u32>,
}

/// A list of callbacks, the soonest due first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallbackList {
    callbacks: Vec<CallbackBody>,
}

/// A callback.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallbackBody {
    id: String,
    /// `followup`, `missed` or `manual`.
    reason: String,
    status: String,
    /// The number dialled.
    number: String,
    ticket_id: Option<String>,
    /// For a missed call: the call the caller gave up in.
    call_id: Option<String>,
    person_id: Option<String>,
    community: Option<String>,
    note: Option<String>,
    assignee: Option<String>,
    created_by: Option<String>,
    /// Attempts made so far.
    attempts: i64,
    /// How the last failed attempt ended (`busy`, `no_answer`, …).
    last_cause: Option<String>,
    /// The answer: `satisfied`, `basically_satisfied`, `dissatisfied`,
    /// `no_answer_given`.
    result: Option<String>,
    due_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    completed_by: Option<String>,
}

impl From<CallbackView> for CallbackBody {
    fn from(v: CallbackView) -> CallbackBody {
        CallbackBody {
            id: v.id,
            reason: v.reason,
            status: v.status,
            number: v.number,
            ticket_id: v.ticket_id,
            call_id: v.call_id,
            person_id: v.person_id,
            community: v.community,
            note: v.note,
            assignee: v.assignee,
            created_by: v.created_by,
            attempts: v.attempts,
            last_cause: v.last_cause,
            result: v.result,
            due_at: v.due_at,
            created_at: v.created_at,
            updated_at: v.updated_at,
            completed_at: v.completed_at,
            completed_by: v.completed_by,
        }
    }
}

/// One try of a callback.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptBody {
    attempt: i64,
    node: String,
    trunk: Option<String>,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    /// `answered`, `busy`, `no_answer`, `unreachable`, `declined`,
    /// `trunk_failure`, `interrupted`.
    outcome: Option<String>,
    /// The final SIP status.
    sip_status: Option<i32>,
    /// Every SIP status seen, in order (`100 180 200`).
    responses: String,
    /// The call record of an answered attempt.
    call_id: Option<String>,
    /// The key the owner pressed.
    digit: Option<String>,
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl From<CallbackAttemptRow> for AttemptBody {
    fn from(a: CallbackAttemptRow) -> AttemptBody {
        AttemptBody {
            attempt: a.attempt,
            node: a.node,
            trunk: a.trunk,
            started_at: time(a.started_at),
            ended_at: a.ended_at.map(time),
            outcome: a.outcome,
            sip_status: a.sip_status,
            responses: a.responses,
            call_id: a.call_id,
            digit: a.digit,
        }
    }
}

/// A callback with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallbackDetail {
    #[serde(flatten)]
    callback: CallbackBody,
    attempts: Vec<AttemptBody>,
}

/// `POST /api/callbacks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCallbackBody {
    /// The number to call.
    #[schema(example = "13800138000", min_length = 1)]
    number: String,
    /// The work order it is about.
    #[schema(value_type = Option<String>)]
    ticket_id: Option<Uuid>,
    /// A community code (else the work order's).
    community: Option<String>,
    /// When (RFC 3339); the first moment inside the calling hours from
    /// then. Default: now.
    due_at: Option<DateTime<Utc>>,
    note: Option<String>,
    /// The operator (user name) it is for.
    assignee: Option<String>,
}

/// `POST /api/callbacks/{id}/result` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResultBody {
    satisfaction: Satisfaction,
}

fn one_of<T: Copy>(
    field: &str,
    value: Option<String>,
    parse: fn(&str) -> Option<T>,
    codes: &[&str],
) -> Result<Option<String>, ApiError> {
    match value {
        Some(code) if parse(&code).is_none() => Err(ApiError::InvalidQuery {
            field: field.to_owned(),
            message: format!("one of {}", codes.join(", ")),
        }),
        other => Ok(other),
    }
}

fn desk_error(err: DeskError) -> ApiError {
    let message = err.to_string();
    match err {
        DeskError::CallbackNotFound { id } => ApiError::NotFound {
            entity: "callback",
            id,
        },
        DeskError::CallbackNotOpen { .. } => ApiError::Conflict { message },
        DeskError::Phone(_) => ApiError::InvalidField {
            field: "number".to_owned(),
            message,
        },
        DeskError::TicketNotFound { .. } => ApiError::InvalidField {
            field: "ticket_id".to_owned(),
            message,
        },
        other => {
            tracing::error!(error = %other, "callback operation failed");
            ApiError::Internal
        }
    }
}

/// Callbacks by status, reason, community, due time or operator.
#[utoipa::path(
    get, path = "/api/callbacks", tag = "callbacks",
    security(("bearer" = [])),
    params(CallbackFilter),
    responses(
        (status = 200, description = "The callbacks, soonest due first", body = CallbackList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    )
)]
async fn list_callbacks(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiQuery(filter): ApiQuery<CallbackFilter>,
) -> Result<Json<CallbackList>, ApiError> {
    require_role(&user, Role::Operator)?;
    let statuses: Vec<&str> = CallbackStatus::ALL.iter().map(|s| s.code()).collect();
    let reasons: Vec<&str> = CallbackReason::ALL.iter().map(|r| r.code()).collect();
    let query = CallbackQuery {
        status: one_of(
            "status",
            filter.status,
            CallbackStatus::from_code,
            &statuses,
        )?,
        reason: one_of("reason", filter.reason, CallbackReason::from_code, &reasons)?,
        community: filter.community,
        due_before: filter.due_before.map(|t| t.timestamp_millis()),
        assignee: filter.assignee,
        ticket_id: filter.ticket_id.map(|t| t.to_string()),
        limit: filter
            .limit
            .unwrap_or(DEFAULT_PAGE)
            .clamp(1, MAX_CALLBACK_PAGE),
        offset: filter.offset.unwrap_or(0),
    };
    let callbacks = state.callbacks()?.list(&query).await.map_err(desk_error)?;
    Ok(Json(CallbackList {
        callbacks: callbacks.into_iter().map(CallbackBody::from).collect(),
    }))
}

/// One callback with its attempts.
#[utoipa::path(
    get, path = "/api/callbacks/{id}", tag = "callbacks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The callback's id")),
    responses(
        (status = 200, description = "The callback and its attempts", body = CallbackDetail),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
    )
)]
async fn get_callback(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CallbackDetail>, ApiError> {
    require_role(&user, Role::Operator)?;
    let (view, attempts) = state.callbacks()?.get(&id).await.map_err(desk_error)?;
    Ok(Json(CallbackDetail {
        callback: view.into(),
        attempts: attempts.into_iter().map(AttemptBody::from).collect(),
    }))
}

/// Schedules a callback by hand.
#[utoipa::path(
    post, path = "/api/callbacks", tag = "callbacks",
    security(("bearer" = [])),
    request_body = NewCallbackBody,
    responses(
        (status = 201, description = "Scheduled", body = CallbackBody),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 422, description = "A bad number or an unknown work order", body = ErrorBody),
    )
)]
async fn schedule_callback(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NewCallbackBody>,
) -> Result<(StatusCode, Json<CallbackBody>), ApiError> {
    require_role(&user, Role::Operator)?;
    let now = Utc::now();
    let request = NewManualCallback {
        number: body.number,
        ticket_id: body.ticket_id,
        community: body.community,
        due_at: body.due_at.unwrap_or(now),
        note: body.note,
        assignee: body.assignee,
    };
    let view = state
        .callbacks()?
        .schedule(request, &user.username, now)
        .await
        .map_err(desk_error)?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// Cancels a callback nobody is dialling.
#[utoipa::path(
    post, path = "/api/callbacks/{id}/cancel", tag = "callbacks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The callback's id")),
    responses(
        (status = 200, description = "Cancelled", body = CallbackBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
        (status = 409, description = "Being dialled, done or cancelled already", body = ErrorBody),
    )
)]
async fn cancel_callback(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CallbackBody>, ApiError> {
    require_role(&user, Role::Operator)?;
    let view = state
        .callbacks()?
        .cancel(&id, &user.username, Utc::now())
        .await
        .map_err(desk_error)?;
    Ok(Json(view.into()))
}

/// The result of a callback a person made (a call or a visit); a 回访's
/// answer goes on its work order as the survey's would.
#[utoipa::path(
    post, path = "/api/callbacks/{id}/result", tag = "callbacks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The callback's id")),
    request_body = ResultBody,
    responses(
        (status = 200, description = "Recorded", body = CallbackBody),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such callback", body = ErrorBody),
        (status = 409, description = "Being dialled, done or cancelled already", body = ErrorBody),
    )
)]
async fn record_result(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ResultBody>,
) -> Result<Json<CallbackBody>, ApiError> {
    require_role(&user, Role::Operator)?;
    let view = state
        .callbacks()?
        .record_result(&id, body.satisfaction, &user.username, Utc::now())
        .await
        .map_err(desk_error)?;
    Ok(Json(view.into()))
}

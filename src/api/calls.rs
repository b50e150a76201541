//! The call log, for operators and above: `GET /api/calls?limit=&offset=`
//! (newest first) and `GET /api/calls/{id}`. Times are RFC 3339 UTC.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::require_role;
use super::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use crate::desk::call_log::{CallLeg, CallRecord, MAX_PAGE};
use crate::desk::users::{AuthUser, Role};

/// Calls in a page when the query does not say.
const DEFAULT_PAGE: u32 = 50;

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_calls))
        .routes(routes!(get_call))
}

/// Which page of the call log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CallPage {
    /// Calls in the page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Newest calls to skip (default 0).
    offset: Option<u64>,
}

/// A page of the call log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct CallList {
    calls: Vec<CallView>,
    limit: u32,
    offset: u64,
}

/// A call as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct CallView {
    id: String,
    sip_call_id: String,
    /// `inbound` or `outbound`.
    direction: String,
    /// The caller number as it came in.
    caller_raw: String,
    /// The caller number in E.164, when it could be normalised.
    caller: Option<String>,
    dialled: String,
    community: Option<String>,
    offered_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    end_reason: Option<String>,
    end_code: Option<String>,
    sip_status: Option<i32>,
    menu_digit: Option<String>,
    menu_choice: Option<String>,
    /// Where the voice message starts in the recording, in milliseconds.
    voicemail_start_ms: Option<i64>,
    voicemail_end_ms: Option<i64>,
    has_recording: bool,
    duration_ms: Option<i64>,
    recording_sha256: Option<String>,
    node: String,
    /// When the caller joined and left the queue for an operator.
    queue_entered_at: Option<DateTime<Utc>>,
    queue_left_at: Option<DateTime<Utc>>,
    /// How the wait ended: `answered`, `abandoned`, `voicemail`,
    /// `max_wait`, `shutdown`.
    queue_outcome: Option<String>,
    /// The time waited in the queue, in milliseconds.
    wait_ms: Option<i64>,
    /// The user id of the operator who answered.
    operator_id: Option<String>,
    /// From the operator's answer to the end of the call, in milliseconds,
    /// and how much of it was on hold.
    talk_ms: Option<i64>,
    hold_ms: Option<i64>,
    /// Who ended the call: `caller`, `operator` or `hotline`.
    hung_up_by: Option<String>,
}

/// A call with the rings of operators' phones it made.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct CallDetail {
    #[serde(flatten)]
    call: CallView,
    /// Each ring of an operator's phone for the call, in order.
    legs: Vec<CallLegView>,
}

/// One ring of an operator's phone for a call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct CallLegView {
    /// The operator's user id.
    operator_id: String,
    /// The phone's registered contact.
    contact: String,
    ring_started_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    /// `answered`, `no_answer`, `refused`, `unreachable`, `caller_left`.
    outcome: String,
    /// The phone's final response, when it sent one.
    sip_status: Option<i32>,
}

impl From<CallLeg> for CallLegView {
    fn from(leg: CallLeg) -> CallLegView {
        CallLegView {
            operator_id: leg.user_id,
            contact: leg.contact,
            ring_started_at: time(leg.ring_started_at),
            answered_at: leg.answered_at.map(time),
            ended_at: leg.ended_at.map(time),
            outcome: leg.outcome,
            sip_status: leg.sip_status,
        }
    }
}

fn time(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

impl From<CallRecord> for CallView {
    fn from(call: CallRecord) -> CallView {
        CallView {
            id: call.id,
            sip_call_id: call.sip_call_id,
            direction: call.direction,
            caller_raw: call.caller_raw,
            caller: call.caller,
            dialled: call.dialled,
            community: call.community,
            offered_at: time(call.offered_at),
            answered_at: call.answered_at.map(time),
            ended_at: call.ended_at.map(time),
            end_reason: call.end_reason,
            end_code: call.end_code,
            sip_status: call.sip_status,
            menu_digit: call.menu_digit,
            menu_choice: call.menu_choice,
            voicemail_start_ms: call.voicemail_start_ms,
            voicemail_end_ms: call.voicemail_end_ms,
            // The path is the server's business; recordings are served to
            // supervisors by their own endpoint.
            has_recording: call.recording_path.is_some(),
            duration_ms: call.duration_ms,
            recording_sha256: call.recording_sha256,
            node: call.node,
            queue_entered_at: call.queue_entered_at.map(time),
            queue_left_at: call.queue_left_at.map(time),
            queue_outcome: call.queue_outcome,
            wait_ms: call
                .queue_entered_at
                .zip(call.queue_left_at)
                .map(|(entered, left)| left.saturating_sub(entered)),
            operator_id: call.operator_id,
            talk_ms: call.talk_ms,
            hold_ms: call.hold_ms,
            hung_up_by: call.hung_up_by,
        }
    }
}

/// The call log, newest first.
#[utoipa::path(
    get, path = "/api/calls", tag = "calls",
    security(("bearer" = [])),
    params(CallPage),
    responses(
        (status = 200, description = "A page of calls", body = CallList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    )
)]
async fn list_calls(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiQuery(page): ApiQuery<CallPage>,
) -> Result<Json<CallList>, ApiError> {
    require_role(&user, Role::Operator)?;
    let limit = page.limit.unwrap_or(DEFAULT_PAGE.min(MAX_PAGE));
    let offset = page.offset.unwrap_or(0);
    let calls = state.calls().page(limit, offset).await?;
    Ok(Json(CallList {
        calls: calls.into_iter().map(CallView::from).collect(),
        limit,
        offset,
    }))
}

/// One call.
#[utoipa::path(
    get, path = "/api/calls/{id}", tag = "calls",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's id")),
    responses(
        (status = 200, description = "The call and the rings of operators' phones it made", body = CallDetail),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such call", body = ErrorBody),
    )
)]
async fn get_call(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CallDetail>, ApiError> {
    require_role(&user, Role::Operator)?;
    let call = state.calls().get(&id).await?.into();
    let legs = state.calls().legs(&id).await?;
    Ok(Json(CallDetail {
        call,
        legs: legs.into_iter().map(CallLegView::from).collect(),
    }))
}

//! How the ticket routes refuse: every [`DeskError`] mapped to an HTTP
//! status and a stable code (404 for a ticket that is not there, 409 when the
//! state machine or a newer version stands in the way, 422 naming the field
//! a rule refuses), and the two answers [`ApiError`] has no shape for: a 409
//! that lists the allowed actions or the current version, and a 403 that
//! names the field a role may not change.
//!
//! Knows the desk's errors and HTTP; not the routes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::error::{ApiError, ErrorBody};
use crate::desk::users::Role;
use crate::desk::{ActionKind, DeskError, StatusKind, TicketNoError, TransitionError};

/// A failed ticket request.
#[derive(Debug)]
pub(crate) enum TicketError {
    /// Any of the API's common answers.
    Api(ApiError),
    /// The state machine refuses the action in this status.
    TransitionRefused {
        message: String,
        status: StatusKind,
        action: ActionKind,
        allowed: Vec<ActionKind>,
    },
    /// The ticket changed since the version the client sent.
    StaleVersion { message: String, current: i64 },
    /// The user's role may not change this field.
    FieldForbidden { field: &'static str, required: Role },
}

/// The body of a 409 from the ticket routes: `transition_not_allowed` (with
/// the status, the action and the actions allowed instead) or
/// `stale_version` (with the version the ticket is at).
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub(crate) struct ConflictBody {
    pub(crate) code: String,
    pub(crate) message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<StatusKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) action: Option<ActionKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) allowed: Option<Vec<ActionKind>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) current_version: Option<i64>,
}

impl IntoResponse for TicketError {
    fn into_response(self) -> Response {
        match self {
            TicketError::Api(err) => err.into_response(),
            TicketError::TransitionRefused {
                message,
                status,
                action,
                allowed,
            } => conflict(ConflictBody {
                code: "transition_not_allowed".to_owned(),
                message,
                status: Some(status),
                action: Some(action),
                allowed: Some(allowed),
                current_version: None,
            }),
            TicketError::StaleVersion { message, current } => conflict(ConflictBody {
                code: "stale_version".to_owned(),
                message,
                status: None,
                action: None,
                allowed: None,
                current_version: Some(current),
            }),
            TicketError::FieldForbidden { field, required } => {
                let body = ErrorBody {
                    code: "forbidden".to_owned(),
                    message: format!("changing `{field}` needs the role {required} or higher"),
                    field: Some(field.to_owned()),
                };
                (StatusCode::FORBIDDEN, Json(body)).into_response()
            }
        }
    }
}

fn conflict(body: ConflictBody) -> Response {
    (StatusCode::CONFLICT, Json(body)).into_response()
}

impl From<ApiError> for TicketError {
    fn from(err: ApiError) -> TicketError {
        TicketError::Api(err)
    }
}

/// A 422 naming `field`.
pub(crate) fn invalid(field: &str, message: impl ToString) -> TicketError {
    TicketError::Api(ApiError::InvalidField {
        field: field.to_owned(),
        message: message.to_string(),
    })
}

/// The request field a desk code belongs to (`ticket kind` → `kind`).
fn field_of_code(what: &str) -> &str {
    match what {
        "ticket kind" => "kind",
        "complaint grade" => "grade",
        "ticket source" => "source",
        "department code" => "department",
        "category code" => "category",
        other => other,
    }
}

impl From<DeskError> for TicketError {
    fn from(err: DeskError) -> TicketError {
        let message = err.to_string();
        match err {
            DeskError::Phone(_) => invalid("reporter_phone", message),
            DeskError::Room(_) => invalid("room", message),
            DeskError::Transition(TransitionError::NotAllowed {
                from,
                action,
                allowed,
            }) => TicketError::TransitionRefused {
                message,
                status: from,
                action,
                allowed,
            },
            DeskError::Transition(TransitionError::MissingCancelReason) => {
                invalid("reason", message)
            }
            DeskError::TicketNo(TicketNoError::InvalidCommunityCode { .. }) => {
                invalid("community", message)
            }
            DeskError::UnknownCode { what, .. } | DeskError::InvalidCode { what, .. } => {
                invalid(field_of_code(what), message)
            }
            DeskError::GradeOnlyForComplaints { .. } => invalid("grade", message),
            DeskError::UnknownCategory { .. } | DeskError::CategoryOfOtherKind { .. } => {
                invalid("category", message)
            }
            DeskError::FeeOnlyForPaidService { .. } | DeskError::NegativeFee { .. } => {
                invalid("fee_cents", message)
            }
            DeskError::UnknownDepartment { .. } => invalid("department", message),
            DeskError::EmptyDescription => invalid("description", message),
            DeskError::EmptyComment => invalid("text", message),
            DeskError::TextTooLong { field, .. } => {
                invalid(if field == "comment" { "text" } else { field }, message)
            }
            DeskError::CallNotFound { .. } | DeskError::CallWithoutCommunity { .. } => {
                invalid("call_id", message)
            }
            DeskError::TicketNotFound { key } => TicketError::Api(ApiError::NotFound {
                entity: "ticket",
                id: key.to_string(),
            }),
            DeskError::StaleVersion { current, .. } => {
                TicketError::StaleVersion { message, current }
            }
            DeskError::CallbackNotFound { id } => TicketError::Api(ApiError::NotFound {
                entity: "callback",
                id,
            }),
            DeskError::CallbackNotOpen { .. } => TicketError::Api(ApiError::Conflict { message }),
            DeskError::TicketNo(_)
            | DeskError::InvalidConfig { .. }
            | DeskError::CounterOutOfRange { .. }
            | DeskError::CorruptTicket { .. }
            | DeskError::CorruptTicketEvent { .. }
            | DeskError::Store(_) => {
                tracing::error!(error = %message, "ticket operation failed");
                TicketError::Api(ApiError::Internal)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::{CategoryCode, TicketKind};

    fn field(err: DeskError) -> (StatusCode, Option<String>) {
        match TicketError::from(err) {
            TicketError::Api(api) => (api.status(), api.body().field),
            other => panic!("not a common answer: {other:?}"),
        }
    }

    #[test]
    fn rule_violations_are_422_naming_the_field_of_the_request() {
        let category = CategoryCode::new("noise").expect("valid");
        assert_eq!(
            field(DeskError::CategoryOfOtherKind {
                code: category,
                kind: TicketKind::Repair,
                category_kind: TicketKind::Complaint,
            }),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("category".to_owned())
            )
        );
        assert_eq!(
            field(DeskError::NegativeFee { fee_cents: -1 }).1.as_deref(),
            Some("fee_cents")
        );
        assert_eq!(
            field(DeskError::TextTooLong {
                field: "comment",
                max: 4000
            })
            .1
            .as_deref(),
            Some("text")
        );
        assert_eq!(
            field(DeskError::UnknownCode {
                what: "ticket kind",
                code: "plumbing".to_owned()
            })
            .1
            .as_deref(),
            Some("kind")
        );
    }

    #[test]
    fn a_refused_transition_is_a_409_listing_the_allowed_actions() {
        let err = TicketError::from(DeskError::Transition(TransitionError::NotAllowed {
            from: StatusKind::Closed,
            action: ActionKind::Start,
            allowed: Vec::new(),
        }));
        assert!(matches!(
            &err,
            TicketError::TransitionRefused { status: StatusKind::Closed, allowed, .. } if allowed.is_empty()
        ));
        assert_eq!(err.into_response().status(), StatusCode::CONFLICT);
        let err = TicketError::from(DeskError::StaleVersion {
            id: uuid::Uuid::nil(),
            expected: 1,
            current: 2,
        });
        assert!(matches!(err, TicketError::StaleVersion { current: 2, .. }));
    }

    #[test]
    fn store_failures_are_internal_and_hide_their_details() {
        let err = DeskError::InvalidConfig {
            path: "sla".to_owned(),
            reason: "broken",
        };
        assert_eq!(field(err), (StatusCode::INTERNAL_SERVER_ERROR, None));
    }
}

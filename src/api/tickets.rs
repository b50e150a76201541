//! Work orders over HTTP: `POST/GET /api/tickets`, `GET/PATCH
//! /api/tickets/{ticket}`, and under a ticket its `transitions`, `comments`
//! and `calls`. `{ticket}` is the id or the number (`JF-20261123-0007`).
//!
//! Every route needs a login; operators may do everything but change the
//! priority, grade, fee or payment of a ticket, which needs a supervisor.
//! The actor in the history is the logged-in username. The rules (state
//! machine, categories, SLA) are the desk's; this module only translates.

mod refusal;
mod views;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use chrono::{DateTime, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::ApiState;
use super::auth::require_role;
use super::error::{ApiError, ApiJson, ApiPath, ErrorBody, parse_query};
use crate::desk::users::{AuthUser, Role};
use crate::desk::{
    ActionKind, DeskError, MAX_PAGE_SIZE, StatusKind, TicketAction, TicketFilter, TicketKind,
    TicketNo, TicketRecord, Tickets,
};

use refusal::{ConflictBody, TicketError, invalid};
use views::{
    CommentBody, LIST_PARAMETERS, LinkCallBody, LinkedCallView, NewTicketBody, TicketDetail,
    TicketEventView, TicketList, TicketPatch, TicketQuery, TicketView, TransitionBody,
};

/// Tickets in a page when the query does not say.
const DEFAULT_PAGE: u32 = crate::desk::DEFAULT_PAGE_SIZE;
/// Longest ticket key echoed back in a 404.
const MAX_ECHOED_KEY: usize = 64;
/// Who may change priority, grade, fee and payment.
const FIELD_EDITOR: Role = Role::Supervisor;
/// Who sees where recordings are on the server.
const RECORDING_READER: Role = Role::Supervisor;

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, create_ticket))
        .routes(routes!(get_ticket, update_ticket))
        .routes(routes!(transition_ticket))
        .routes(routes!(comment_ticket))
        .routes(routes!(link_call))
}

fn now(state: &ApiState) -> DateTime<Utc> {
    DateTime::<Utc>::from(state.now())
}

/// The ticket `key` names (its id or its number).
async fn find(tickets: &Tickets, key: &str) -> Result<TicketRecord, TicketError> {
    if let Ok(id) = Uuid::parse_str(key) {
        return Ok(tickets.get(id).await?);
    }
    if let Ok(number) = TicketNo::parse(key) {
        return Ok(tickets.get_by_number(&number).await?);
    }
    Err(unknown(key))
}

/// The id of the ticket `key` names, looked up only for a number.
async fn id_of(tickets: &Tickets, key: &str) -> Result<Uuid, TicketError> {
    match Uuid::parse_str(key) {
        Ok(id) => Ok(id),
        Err(_) => Ok(find(tickets, key).await?.ticket.id),
    }
}

fn unknown(key: &str) -> TicketError {
    TicketError::Api(ApiError::NotFound {
        entity: "ticket",
        id: key.chars().take(MAX_ECHOED_KEY).collect(),
    })
}

/// The list query; `status` and `kind` may repeat (joined into one comma list).
fn parse_ticket_query(uri: &Uri) -> Result<TicketQuery, ApiError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (key, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        if LIST_PARAMETERS.contains(&key.as_ref())
            && let Some((_, joined)) = pairs.iter_mut().find(|(k, _)| *k == key)
        {
            joined.push(',');
            joined.push_str(&value);
            continue;
        }
        pairs.push((key.into_owned(), value.into_owned()));
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let uri = Uri::try_from(format!("/?{query}")).map_err(|err| ApiError::InvalidQuery {
        field: "query".to_owned(),
        message: err.to_string(),
    })?;
    parse_query(&uri)
}

/// The values of a comma list parameter, each one of `all` by its code.
fn codes<T: Copy>(
    field: &str,
    list: Option<&str>,
    all: &[T],
    code: fn(T) -> &'static str,
) -> Result<Vec<T>, ApiError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(|value| {
            all.iter()
                .copied()
                .find(|candidate| code(*candidate) == value)
                .ok_or_else(|| ApiError::InvalidQuery {
                    field: field.to_owned(),
                    message: format!(
                        "unknown {field} `{value}`, expected one of {}",
                        all.iter().map(|c| code(*c)).collect::<Vec<_>>().join(", ")
                    ),
                })
        })
        .collect()
}

/// The desk's filter for a list query.
fn filter_of(query: TicketQuery) -> Result<TicketFilter, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::InvalidQuery {
            field: "limit".to_owned(),
            message: format!("must be 1 to {MAX_PAGE_SIZE}"),
        });
    }
    Ok(TicketFilter {
        status: codes(
            "status",
            query.status.as_deref(),
            StatusKind::ALL,
            StatusKind::code,
        )?,
        kind: codes(
            "kind",
            query.kind.as_deref(),
            TicketKind::ALL,
            TicketKind::code,
        )?,
        community: query.community,
        overdue: query.overdue.unwrap_or(false),
        open: query.open.unwrap_or(false),
        created_from: query.created_from,
        created_until: query.created_until,
        text: query.text.filter(|t| !t.trim().is_empty()),
        department: query.department,
        assignee: query.assignee,
        reporter_phone: query.reporter_phone,
        person_id: None,
        limit,
        offset: query.offset.unwrap_or(0),
    })
}

/// Tickets, newest first, filtered; each with its overdue milestones now.
#[utoipa::path(
    get, path = "/api/tickets", tag = "tickets",
    security(("bearer" = [])),
    params(TicketQuery),
    responses(
        (status = 200, description = "A page of tickets", body = TicketList),
        (status = 400, description = "A bad query parameter, named", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
    )
)]
async fn list_tickets(
    State(state): State<ApiState>,
    user: AuthUser,
    uri: Uri,
) -> Result<Json<TicketList>, TicketError> {
    require_role(&user, Role::Operator)?;
    let filter = filter_of(parse_ticket_query(&uri)?)?;
    let now = now(&state);
    let page = state
        .tickets()?
        .list(&filter, now)
        .await
        .map_err(|err| match err {
            DeskError::Phone(phone) => TicketError::Api(ApiError::InvalidQuery {
                field: "reporter_phone".to_owned(),
                message: phone.to_string(),
            }),
            other => other.into(),
        })?;
    let tickets = page
        .tickets
        .into_iter()
        .map(|record| TicketView::new(record, now))
        .collect();
    Ok(Json(TicketList::new(
        tickets,
        page.total,
        page.limit,
        page.offset,
    )))
}

/// Registers a ticket: numbered, timed by the SLA, recorded as created by
/// the logged-in user.
#[utoipa::path(
    post, path = "/api/tickets", tag = "tickets",
    security(("bearer" = [])),
    request_body = NewTicketBody,
    responses(
        (status = 201, description = "Created", body = TicketView),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 422, description = "A field is missing or wrong, named", body = ErrorBody),
    )
)]
async fn create_ticket(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NewTicketBody>,
) -> Result<(StatusCode, Json<TicketView>), TicketError> {
    require_role(&user, Role::Operator)?;
    let now = now(&state);
    let record = state
        .tickets()?
        .create(body.into(), &user.username, now)
        .await?;
    tracing::info!(by = %user.username, number = %record.ticket.number, "ticket created");
    Ok((StatusCode::CREATED, Json(TicketView::new(record, now))))
}

/// One ticket with its history and its calls.
#[utoipa::path(
    get, path = "/api/tickets/{ticket}", tag = "tickets",
    security(("bearer" = [])),
    params(("ticket" = String, Path, description = "The ticket's id or number")),
    responses(
        (status = 200, description = "The ticket", body = TicketDetail),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
    )
)]
async fn get_ticket(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<TicketDetail>, TicketError> {
    require_role(&user, Role::Operator)?;
    let tickets = state.tickets()?;
    let record = find(tickets, &key).await?;
    let id = record.ticket.id;
    let history = tickets.history(id).await?;
    let show_path = user.role.at_least(RECORDING_READER);
    let calls = tickets
        .calls_of(id)
        .await?
        .into_iter()
        .map(|call| LinkedCallView::new(call, show_path))
        .collect();
    Ok(Json(TicketDetail::new(
        TicketView::new(record, now(&state)),
        history.into_iter().map(TicketEventView::from).collect(),
        calls,
    )))
}

/// Changes fields of a ticket; the history records each, old → new.
/// `priority`, `grade`, `fee_cents` and `paid` need a supervisor.
#[utoipa::path(
    patch, path = "/api/tickets/{ticket}", tag = "tickets",
    security(("bearer" = [])),
    params(("ticket" = String, Path, description = "The ticket's id or number")),
    request_body = TicketPatch,
    responses(
        (status = 200, description = "Changed (or unchanged)", body = TicketView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed, or a field the role may not change (named)", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 409, description = "`stale_version`: changed meanwhile", body = ConflictBody),
        (status = 422, description = "A field is wrong, named", body = ErrorBody),
    )
)]
async fn update_ticket(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(key): ApiPath<String>,
    ApiJson(patch): ApiJson<TicketPatch>,
) -> Result<Json<TicketView>, TicketError> {
    require_role(&user, Role::Operator)?;
    if !user.role.at_least(FIELD_EDITOR)
        && let Some(field) = patch.supervisor_fields().first()
    {
        return Err(TicketError::FieldForbidden {
            field,
            required: FIELD_EDITOR,
        });
    }
    let tickets = state.tickets()?;
    let id = id_of(tickets, &key).await?;
    let now = now(&state);
    let expected = patch.expected_version;
    let record = tickets
        .update_fields(id, &patch.into_changes(), &user.username, expected, now)
        .await?;
    Ok(Json(TicketView::new(record, now)))
}

/// Moves a ticket by the state machine. A refused action is a 409 that
/// lists the actions its status allows.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/transitions", tag = "tickets",
    security(("bearer" = [])),
    params(("ticket" = String, Path, description = "The ticket's id or number")),
    request_body = TransitionBody,
    responses(
        (status = 200, description = "Moved", body = TicketView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 409, description = "`transition_not_allowed` (with the allowed actions) or `stale_version`", body = ConflictBody),
        (status = 422, description = "A field is wrong (a cancellation without a reason), named", body = ErrorBody),
    )
)]
async fn transition_ticket(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<TransitionBody>,
) -> Result<Json<TicketView>, TicketError> {
    require_role(&user, Role::Operator)?;
    let action = match body.action {
        ActionKind::Dispatch => TicketAction::Dispatch,
        ActionKind::Start => TicketAction::Start,
        ActionKind::Resolve => TicketAction::Resolve,
        ActionKind::FollowUp => TicketAction::FollowUp,
        ActionKind::Close => TicketAction::Close,
        ActionKind::Hold => TicketAction::Hold,
        ActionKind::Resume => TicketAction::Resume,
        ActionKind::Reopen => TicketAction::Reopen,
        ActionKind::Cancel => TicketAction::Cancel {
            reason: body.reason.clone().unwrap_or_default(),
        },
    };
    if body.action != ActionKind::Cancel && body.reason.is_some() {
        return Err(invalid("reason", "only `cancel` takes a reason"));
    }
    let tickets = state.tickets()?;
    let id = id_of(tickets, &key).await?;
    let now = now(&state);
    let record = tickets
        .transition(
            id,
            action,
            &user.username,
            body.note.as_deref(),
            body.expected_version,
            now,
        )
        .await?;
    tracing::info!(by = %user.username, number = %record.ticket.number, action = %body.action, "ticket moved");
    Ok(Json(TicketView::new(record, now)))
}

/// Adds a comment to a ticket's history.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/comments", tag = "tickets",
    security(("bearer" = [])),
    params(("ticket" = String, Path, description = "The ticket's id or number")),
    request_body = CommentBody,
    responses(
        (status = 201, description = "The history entry", body = TicketEventView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 422, description = "Empty or too long, named", body = ErrorBody),
    )
)]
async fn comment_ticket(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<CommentBody>,
) -> Result<(StatusCode, Json<TicketEventView>), TicketError> {
    require_role(&user, Role::Operator)?;
    let tickets = state.tickets()?;
    let id = id_of(tickets, &key).await?;
    let event = tickets
        .comment(id, &user.username, &body.text, now(&state))
        .await?;
    Ok((StatusCode::CREATED, Json(event.into())))
}

/// Links a call (and so its recording) to a ticket: 201 when newly linked,
/// 200 when it was linked already.
#[utoipa::path(
    post, path = "/api/tickets/{ticket}/calls", tag = "tickets",
    security(("bearer" = [])),
    params(("ticket" = String, Path, description = "The ticket's id or number")),
    request_body = LinkCallBody,
    responses(
        (status = 201, description = "Linked", body = LinkedCallView),
        (status = 200, description = "Linked already", body = LinkedCallView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 422, description = "No such call (`call_id`)", body = ErrorBody),
    )
)]
async fn link_call(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<LinkCallBody>,
) -> Result<(StatusCode, Json<LinkedCallView>), TicketError> {
    require_role(&user, Role::Operator)?;
    let tickets = state.tickets()?;
    let id = id_of(tickets, &key).await?;
    let linked = tickets
        .link_call(id, &body.call_id, &user.username, now(&state))
        .await?;
    let call = state
        .calls()
        .get(&body.call_id)
        .await
        .map_err(ApiError::from)?;
    let status = if linked {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let show_path = user.role.at_least(RECORDING_READER);
    Ok((status, Json(LinkedCallView::new(call, show_path))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> Result<TicketFilter, ApiError> {
        let uri = Uri::try_from(format!("/api/tickets?{q}")).expect("valid URI");
        filter_of(parse_ticket_query(&uri)?)
    }

    fn field_of(result: Result<TicketFilter, ApiError>) -> Option<String> {
        result.expect_err("refused").body().field
    }

    #[test]
    fn kinds_and_statuses_come_as_comma_lists_or_repeated() {
        let filter = query("kind=repair,complaint&kind=inquiry&status=on_hold").expect("valid");
        assert_eq!(
            filter.kind,
            [
                TicketKind::Repair,
                TicketKind::Complaint,
                TicketKind::Inquiry
            ]
        );
        assert_eq!(filter.status, [StatusKind::OnHold]);
        assert_eq!(filter.limit, DEFAULT_PAGE);
        let filter = query("").expect("empty");
        assert_eq!(filter, TicketFilter::default());
    }

    #[test]
    fn a_bad_filter_names_its_parameter() {
        assert_eq!(field_of(query("kind=plumbing")).as_deref(), Some("kind"));
        assert_eq!(field_of(query("status=done")).as_deref(), Some("status"));
        assert_eq!(
            field_of(query("created_from=yesterday")).as_deref(),
            Some("created_from")
        );
        assert_eq!(field_of(query("limit=0")).as_deref(), Some("limit"));
        assert_eq!(field_of(query("limit=501")).as_deref(), Some("limit"));
        assert_eq!(field_of(query("overdue=maybe")).as_deref(), Some("overdue"));
        assert_eq!(field_of(query("colour=red")).as_deref(), Some("colour"));
        assert_eq!(
            field_of(query("community=jf")).as_deref(),
            Some("community")
        );
    }

    #[test]
    fn dates_in_the_filter_are_rfc_3339() {
        let filter = query("created_from=2026-11-23T00:00:00%2B08:00&open=true").expect("valid");
        assert_eq!(
            filter.created_from.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-22T16:00:00+00:00")
        );
        assert!(filter.open);
    }
}

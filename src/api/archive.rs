//! The owner archive over HTTP: `GET /api/archive/lookup?phone=` (the
//! screen pop: who has this number) and `GET /api/archive/search?room=&name=`
//! for operators and above; edits of one person (name, phones, residences)
//! for administrators.
//!
//! Owns the query parameters, the JSON shape of a person and the mapping of
//! archive errors to HTTP; reading numbers and rooms is the desk's
//! ([`crate::desk::archive`]), SQL the store's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::require_role;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::desk::AreaCode;
use crate::desk::archive::{self, ArchiveError, EditError, Residence, Resident, ResidentPhone};
use crate::desk::users::{AuthUser, Role};
use crate::store::Store;

/// What the archive routes need: the store the archive lives in and the
/// area code of each community, by community code.
#[derive(Clone)]
pub(crate) struct ArchiveAccess {
    store: Store,
    area_codes: Arc<HashMap<String, AreaCode>>,
}

impl ArchiveAccess {
    pub(crate) fn new(store: Store, area_codes: HashMap<String, AreaCode>) -> ArchiveAccess {
        ArchiveAccess {
            store,
            area_codes: Arc::new(area_codes),
        }
    }
}

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(lookup))
        .routes(routes!(search))
        .routes(routes!(edit_person))
        .routes(routes!(add_phone))
        .routes(routes!(remove_phone))
        .routes(routes!(set_residence))
        .routes(routes!(remove_residence))
}

/// A person of the archive with their rooms and phones.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PersonView {
    /// The person's id (for the edit routes).
    id: String,
    name: String,
    /// The community's code.
    community_code: String,
    /// 小区 name.
    community_name: String,
    residences: Vec<ResidenceView>,
    phones: Vec<PhoneView>,
}

/// A person in a room.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResidenceView {
    /// Canonical: `3栋2单元1201`.
    room: String,
    /// `owner` (业主), `tenant` (租户) or `household` (家属).
    role: String,
    /// 备注.
    note: String,
}

/// A person's phone.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PhoneView {
    /// E.164 (`+8613812345678`), or the digits of a service number.
    number: String,
    extension: Option<String>,
    /// `mobile`, `landline`, `service` or `international`.
    kind: String,
    /// As it was received.
    received: String,
}

/// The people found.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PeopleView {
    people: Vec<PersonView>,
}

impl From<Resident> for PersonView {
    fn from(resident: Resident) -> PersonView {
        PersonView {
            id: resident.id,
            name: resident.name,
            community_code: resident.community_code,
            community_name: resident.community_name,
            residences: resident
                .residences
                .into_iter()
                .map(ResidenceView::from)
                .collect(),
            phones: resident.phones.into_iter().map(PhoneView::from).collect(),
        }
    }
}

impl From<Residence> for ResidenceView {
    fn from(residence: Residence) -> ResidenceView {
        ResidenceView {
            room: residence.address.to_string(),
            role: residence.role.code().to_owned(),
            note: residence.note,
        }
    }
}

impl From<ResidentPhone> for PhoneView {
    fn from(phone: ResidentPhone) -> PhoneView {
        PhoneView {
            number: phone.number,
            extension: phone.extension,
            kind: phone.kind.code().to_owned(),
            received: phone.received,
        }
    }
}

fn people(residents: Vec<Resident>) -> Json<PeopleView> {
    Json(PeopleView {
        people: residents.into_iter().map(PersonView::from).collect(),
    })
}

/// An archive error as the API answers it; `field` names the parameter a
/// bad number or room came in.
pub(crate) fn archive_error(err: ArchiveError, field: &str) -> ApiError {
    match err {
        ArchiveError::Phone(_) | ArchiveError::Room(_) => ApiError::InvalidField {
            field: field.to_owned(),
            message: err.to_string(),
        },
        other => {
            tracing::error!(error = %other, "archive request failed");
            ApiError::Internal
        }
    }
}

/// Whose number is this.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LookupQuery {
    /// The number as the caller sent it: `+86 138 1234 5678`,
    /// `0871-65123456`, or `65123456` with `community`.
    phone: String,
    /// The community's code; its area code completes a local number.
    community: Option<String>,
}

/// Who is calling: the people with this number.
#[utoipa::path(
    get, path = "/api/archive/lookup", tag = "archive",
    security(("bearer" = [])),
    params(LookupQuery),
    responses(
        (status = 200, description = "The people with this number (none: `[]`)", body = PeopleView),
        (status = 400, description = "A missing or unknown query parameter, named", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "Not a phone number (`field`: `phone`)", body = ErrorBody),
    )
)]
async fn lookup(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<LookupQuery>,
) -> Result<Json<PeopleView>, ApiError> {
    require_role(&user, Role::Operator)?;
    let access = state.archive()?;
    let area = query
        .community
        .as_deref()
        .and_then(|code| access.area_codes.get(code));
    let found = archive::by_phone(&access.store, &query.phone, area)
        .await
        .map_err(|err| archive_error(err, "phone"))?;
    Ok(people(found))
}

/// Which people: by room, by name, or both.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// A room in any usual spelling: `3栋2单元1201`, `3-2-1201`.
    room: Option<String>,
    /// The exact name.
    name: Option<String>,
    /// Only this community's people (its code).
    community: Option<String>,
}

/// The people of a room or of a name; with both, the people of that name
/// in that room.
#[utoipa::path(
    get, path = "/api/archive/search", tag = "archive",
    security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "The people found (none: `[]`)", body = PeopleView),
        (status = 400, description = "Neither `room` nor `name`, or an unknown parameter, named", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "Not a room (`field`: `room`)", body = ErrorBody),
    )
)]
async fn search(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<PeopleView>, ApiError> {
    require_role(&user, Role::Operator)?;
    let access = state.archive()?;
    let community = query.community.as_deref().filter(|c| !c.is_empty());
    let room = query.room.as_deref().filter(|r| !r.trim().is_empty());
    let name = query
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let found = match (room, name) {
        (Some(room), name) => {
            let mut found = archive::by_room(&access.store, room, community)
                .await
                .map_err(|err| archive_error(err, "room"))?;
            if let Some(name) = name {
                found.retain(|person| person.name == name);
            }
            found
        }
        (None, Some(name)) => archive::by_name(&access.store, name, community)
            .await
            .map_err(|err| archive_error(err, "name"))?,
        (None, None) => {
            return Err(ApiError::InvalidQuery {
                field: "room".to_owned(),
                message: "one of `room` or `name` is required".to_owned(),
            });
        }
    };
    Ok(people(found))
}

/// An edit error as the API answers it.
fn edit_error(err: EditError, field: &str) -> ApiError {
    match err {
        EditError::UnknownPerson { id } => ApiError::NotFound {
            entity: "person",
            id,
        },
        EditError::EmptyName
        | EditError::UnknownRole { .. }
        | EditError::Phone(_)
        | EditError::Room(_) => ApiError::InvalidField {
            field: match err {
                EditError::EmptyName => "name",
                EditError::UnknownRole { .. } => "role",
                _ => field,
            }
            .to_owned(),
            message: err.to_string(),
        },
        EditError::Duplicate => ApiError::Conflict {
            message: err.to_string(),
        },
        EditError::Store(store) => {
            tracing::error!(error = %store, "archive edit failed");
            ApiError::Internal
        }
    }
}

/// A person's new name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PersonPatch {
    name: String,
}

/// Renames a person.
#[utoipa::path(
    patch, path = "/api/archive/people/{id}", tag = "archive",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The person's id")),
    request_body = PersonPatch,
    responses(
        (status = 204, description = "Renamed"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 422, description = "An empty name (`field`: `name`)", body = ErrorBody),
    )
)]
async fn edit_person(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<PersonPatch>,
) -> Result<StatusCode, ApiError> {
    require_role(&user, Role::Admin)?;
    let access = state.archive()?;
    archive::rename_person(&access.store, &id, &patch.name)
        .await
        .map_err(|err| edit_error(err, "name"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A phone to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPhone {
    /// Any usual spelling; a local landline needs `community`.
    phone: String,
    /// The community whose area code completes a local number.
    community: Option<String>,
}

/// Adds a phone to a person (a phone they have already is left as it is).
#[utoipa::path(
    post, path = "/api/archive/people/{id}/phones", tag = "archive",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The person's id")),
    request_body = NewPhone,
    responses(
        (status = 204, description = "The person has the phone"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 422, description = "Not a phone number (`field`: `phone`)", body = ErrorBody),
    )
)]
async fn add_phone(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewPhone>,
) -> Result<StatusCode, ApiError> {
    require_role(&user, Role::Admin)?;
    let access = state.archive()?;
    let area = body
        .community
        .as_deref()
        .and_then(|code| access.area_codes.get(code));
    archive::add_phone(&access.store, &id, &body.phone, area)
        .await
        .map_err(|err| edit_error(err, "phone"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a person's phone by its number (E.164 or as written).
#[utoipa::path(
    delete, path = "/api/archive/people/{id}/phones/{number}", tag = "archive",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The person's id"),
        ("number" = String, Path, description = "The number, e.g. `+8613812345678`"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such person, or not their phone", body = ErrorBody),
        (status = 422, description = "Not a phone number (`field`: `phone`)", body = ErrorBody),
    )
)]
async fn remove_phone(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath((id, number)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_role(&user, Role::Admin)?;
    let access = state.archive()?;
    let removed = archive::remove_phone(&access.store, &id, &number, None)
        .await
        .map_err(|err| edit_error(err, "phone"))?;
    if !removed {
        return Err(ApiError::NotFound {
            entity: "phone",
            id: number,
        });
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A room for a person, in their community.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewResidence {
    /// Any usual spelling: `3栋2单元1201`, `3-2-1201`.
    room: String,
    /// `owner`, `tenant` or `household`.
    role: String,
    /// 备注; empty when left out.
    #[serde(default)]
    note: String,
}

/// Puts a person in a room of their community, or changes the role and
/// note of a room they live in.
#[utoipa::path(
    post, path = "/api/archive/people/{id}/residences", tag = "archive",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The person's id")),
    request_body = NewResidence,
    responses(
        (status = 204, description = "The person lives there"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 422, description = "A bad room or role, named", body = ErrorBody),
    )
)]
async fn set_residence(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewResidence>,
) -> Result<StatusCode, ApiError> {
    require_role(&user, Role::Admin)?;
    let access = state.archive()?;
    archive::set_residence(&access.store, &id, &body.room, &body.role, &body.note)
        .await
        .map_err(|err| edit_error(err, "room"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a person out of a room.
#[utoipa::path(
    delete, path = "/api/archive/people/{id}/residences/{room}", tag = "archive",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The person's id"),
        ("room" = String, Path, description = "The room, e.g. `3栋2单元1201`"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such person, or not their room", body = ErrorBody),
        (status = 422, description = "Not a room (`field`: `room`)", body = ErrorBody),
    )
)]
async fn remove_residence(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath((id, room)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_role(&user, Role::Admin)?;
    let access = state.archive()?;
    let removed = archive::remove_residence(&access.store, &id, &room)
        .await
        .map_err(|err| edit_error(err, "room"))?;
    if !removed {
        return Err(ApiError::NotFound {
            entity: "residence",
            id: room,
        });
    }
    Ok(StatusCode::NO_CONTENT)
}

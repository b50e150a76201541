//! The owner archive over HTTP: `GET /api/archive/lookup?phone=` (the
//! screen pop: who has this number) and `GET /api/archive/search?room=&name=`
//! for operators and above.
//!
//! Owns the query parameters, the JSON shape of a person and the mapping of
//! archive errors to HTTP; reading numbers and rooms is the desk's
//! ([`crate::desk::archive`]), SQL the store's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::require_role;
use super::error::{ApiError, ApiQuery, ErrorBody};
use crate::desk::AreaCode;
use crate::desk::archive::{self, ArchiveError, Residence, Resident, ResidentPhone};
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

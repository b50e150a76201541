//! User management, for administrators only: `GET /api/users`,
//! `POST /api/users`, `PATCH /api/users/{username}`. The rules (password
//! length, the last administrator) are the desk's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::require_role;
use super::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::desk::users::{AuthUser, Role, User, UserChanges};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user))
}

/// A user as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct UserView {
    username: String,
    display_name: Option<String>,
    role: Role,
    /// The role as the staff call it (热线接线员, 主管, 管理员).
    role_label: String,
    disabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> UserView {
        UserView {
            username: user.username,
            display_name: user.display_name,
            role_label: user.role.label().to_string(),
            role: user.role,
            disabled: user.disabled,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// `POST /api/users` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserRequest {
    username: String,
    #[serde(default)]
    display_name: Option<String>,
    role: Role,
    /// At least 8 characters.
    password: String,
}

/// `PATCH /api/users/{username}` body: absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserPatch {
    #[serde(default)]
    role: Option<Role>,
    /// Disabling ends the user's sessions.
    #[serde(default)]
    disabled: Option<bool>,
    /// At least 8 characters; ends the user's sessions.
    #[serde(default)]
    password: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    display_name: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Every user, by username.
#[utoipa::path(
    get, path = "/api/users", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every user", body = Vec<UserView>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
async fn list_users(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<Json<Vec<UserView>>, ApiError> {
    require_role(&user, Role::Admin)?;
    let users = state.users().list().await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

/// Creates a user.
#[utoipa::path(
    post, path = "/api/users", tag = "users",
    security(("bearer" = [])),
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 422, description = "A field is missing or wrong", body = ErrorBody),
    )
)]
async fn create_user(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiJson(request): ApiJson<NewUserRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    require_role(&user, Role::Admin)?;
    let created = state
        .users()
        .add(
            &request.username,
            request.display_name.as_deref(),
            request.role,
            &request.password,
        )
        .await?;
    tracing::info!(by = %user.username, username = %created.username, role = %created.role, "user created");
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Changes a user's role, display name, password or whether it is disabled.
#[utoipa::path(
    patch, path = "/api/users/{username}", tag = "users",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The user to change")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "It would leave no enabled administrator", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
async fn update_user(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiPath(username): ApiPath<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    require_role(&user, Role::Admin)?;
    let changes = UserChanges {
        role: patch.role,
        disabled: patch.disabled,
        password: patch.password,
        display_name: patch.display_name,
    };
    let updated = state.users().update(&username, &changes).await?;
    tracing::info!(by = %user.username, username = %updated.username, "user changed");
    Ok(Json(updated.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::parse_json;

    #[test]
    fn a_patch_tells_a_null_display_name_from_a_missing_one() {
        let patch: UserPatch = parse_json(br#"{"display_name":null}"#).expect("null");
        assert_eq!(patch.display_name, Some(None));
        let patch: UserPatch = parse_json(br#"{"role":"supervisor"}"#).expect("role");
        assert_eq!(
            (patch.display_name, patch.role),
            (None, Some(Role::Supervisor))
        );
        let err = parse_json::<UserPatch>(br#"{"role":"boss"}"#).unwrap_err();
        assert_eq!(err.body().field.as_deref(), Some("role"));
    }
}

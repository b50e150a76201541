//! Logging in and out, and who is asking: `POST /api/login` (rate-limited
//! per username and client address), `POST /api/logout`, `GET /api/me`,
//! the [`AuthUser`] extractor that reads `Authorization: Bearer <token>`
//! (RFC 6750 §2.1) and [`require_role`].
//!
//! Passwords and tokens are checked by the desk; this module owns only their
//! HTTP side. Client addresses are the TCP peer's: no forwarding header is
//! trusted.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::limiter::LoginKey;
use crate::desk::users::{AuthUser, Role, USERNAME_MAX_CHARS, UserError};

/// The authentication scheme of RFC 6750, compared case-insensitively
/// (RFC 9110 §11.1).
const BEARER: &str = "bearer";

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// `POST /api/login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    username: String,
    password: String,
}

/// A new session.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    role: Role,
    expires_at: DateTime<Utc>,
}

/// Who the token belongs to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Me {
    username: String,
    role: Role,
    /// The role as the staff call it (热线接线员, 主管, 管理员).
    role_label: String,
}

/// Logs in with a username and password and returns a bearer token.
#[utoipa::path(
    post, path = "/api/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 403, description = "The account is disabled", body = ErrorBody),
        (status = 422, description = "A field is missing or wrong", body = ErrorBody),
        (status = 429, description = "Too many failed logins from this address for this user", body = ErrorBody),
    )
)]
async fn login(
    State(state): State<ApiState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let key = LoginKey {
        // Bounded: longer names cannot exist, and the key lives in memory.
        username: request
            .username
            .chars()
            .take(USERNAME_MAX_CHARS + 1)
            .collect(),
        addr,
    };
    let now = state.now();
    state
        .limiter()
        .check(&key, now)
        .map_err(|retry_after| ApiError::TooManyAttempts { retry_after })?;
    let outcome = state
        .users()
        .login(
            &request.username,
            &request.password,
            state.config().token_ttl,
            now,
        )
        .await;
    match outcome {
        Ok(session) => {
            state.limiter().succeeded(&key);
            tracing::info!(username = %session.user.username, %addr, "logged in");
            Ok(Json(LoginResponse {
                token: session.token,
                role: session.user.role,
                expires_at: session.expires_at,
            }))
        }
        Err(err) => {
            if matches!(err, UserError::InvalidCredentials) {
                state.limiter().failed(&key, now);
                tracing::info!(%addr, "failed login");
            }
            Err(err.into())
        }
    }
}

/// Ends the session of the token sent.
#[utoipa::path(
    post, path = "/api/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
async fn logout(
    State(state): State<ApiState>,
    _user: AuthUser,
    parts: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer_token(parts.get(AUTHORIZATION))?;
    state.users().logout(token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the token belongs to.
#[utoipa::path(
    get, path = "/api/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The logged-in user", body = Me),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
async fn me(user: AuthUser) -> Json<Me> {
    Json(Me {
        username: user.username,
        role: user.role,
        role_label: user.role.label().to_string(),
    })
}

/// `Err(403)` unless `user` has `required` or a higher role.
pub fn require_role(user: &AuthUser, required: Role) -> Result<(), ApiError> {
    if user.role.at_least(required) {
        Ok(())
    } else {
        Err(ApiError::Forbidden { required })
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(header: Option<&axum::http::HeaderValue>) -> Result<&str, ApiError> {
    let header = header.ok_or(ApiError::MissingToken)?;
    let value = header.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case(BEARER) {
        return Err(ApiError::MissingToken);
    }
    match token.trim() {
        "" => Err(ApiError::InvalidToken),
        token => Ok(token),
    }
}

impl FromRequestParts<ApiState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = bearer_token(parts.headers.get(AUTHORIZATION))?;
        match state.users().authenticate(token, state.now()).await {
            Ok(user) => Ok(user),
            Err(err) => Err(err.into()),
        }
    }
}

/// The address of the TCP peer; unspecified when the router is driven
/// without a connection (in-process tests).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(ClientAddr(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn token_of(value: &'static str) -> Result<String, ApiError> {
        bearer_token(Some(&HeaderValue::from_static(value))).map(str::to_string)
    }

    #[test]
    fn the_bearer_token_is_read_from_the_authorization_header() {
        assert_eq!(token_of("Bearer abc").expect("token"), "abc");
        assert_eq!(token_of("bearer  abc ").expect("token"), "abc");
        assert!(matches!(
            token_of("Basic dXNlcjpwYXNz"),
            Err(ApiError::MissingToken)
        ));
        assert!(matches!(token_of("Bearer"), Err(ApiError::InvalidToken)));
        assert!(matches!(token_of("Bearer  "), Err(ApiError::InvalidToken)));
        assert!(matches!(bearer_token(None), Err(ApiError::MissingToken)));
    }

    #[test]
    fn roles_below_the_required_one_are_forbidden() {
        let user = |role| AuthUser {
            id: "u".into(),
            username: "zhang".into(),
            role,
        };
        assert!(require_role(&user(Role::Admin), Role::Operator).is_ok());
        assert!(require_role(&user(Role::Supervisor), Role::Supervisor).is_ok());
        let err = require_role(&user(Role::Operator), Role::Admin).unwrap_err();
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
    }
}

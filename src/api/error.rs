//! The API's one error type and the extractors that make every bad request
//! an [`ApiError`]: each answer is a status plus `{"code", "message"}` (and
//! `field` when one field is to blame), never a plain-text or empty body.
//!
//! Owns the mapping of desk errors to HTTP; knows nothing of the routes.

use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::desk::call_log::CallLogError;
use crate::desk::users::{Role, UserError};

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `invalid_field`, `unauthorized`, `forbidden`, …
    pub code: String,
    /// For people; names the field when one is to blame.
    pub message: String,
    /// The path of the offending field (`role`, `items[2].name`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// What an API call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not valid JSON: {message}")]
    MalformedJson { message: String },
    #[error("`{field}`: {message}")]
    InvalidField { field: String, message: String },
    #[error("query parameter `{field}`: {message}")]
    InvalidQuery { field: String, message: String },
    /// A text field or query parameter holds a control character.
    #[error("「{field}」{}", crate::text::CONTROL_CHARACTER)]
    ControlCharacter { field: String },
    #[error("bad path parameter: {message}")]
    InvalidPath { message: String },
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the body is too large")]
    PayloadTooLarge,
    #[error("the body could not be read")]
    BodyUnreadable,
    #[error("an `Authorization: Bearer <token>` header is required")]
    MissingToken,
    #[error("the token is not valid")]
    InvalidToken,
    #[error("the token has expired; log in again")]
    TokenExpired,
    #[error("this needs the role {required} or higher")]
    Forbidden { required: Role },
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("too many failed logins; try again in {} s", .retry_after.as_secs().max(1))]
    TooManyAttempts { retry_after: Duration },
    #[error("no {entity} `{id}`")]
    NotFound { entity: &'static str, id: String },
    #[error("no route {path}")]
    RouteNotFound { path: String },
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("the username `{username}` is taken")]
    UsernameTaken { username: String },
    #[error("`{username}` is the last enabled administrator")]
    LastAdmin { username: String },
    #[error("{message}")]
    Conflict { message: String },
    /// Details go to the log, not to the client.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson { .. }
            | ApiError::InvalidQuery { .. }
            | ApiError::InvalidPath { .. }
            | ApiError::BodyUnreadable => StatusCode::BAD_REQUEST,
            ApiError::InvalidField { .. } | ApiError::ControlCharacter { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MissingToken
            | ApiError::InvalidToken
            | ApiError::TokenExpired
            | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } | ApiError::AccountDisabled => StatusCode::FORBIDDEN,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound { .. } | ApiError::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UsernameTaken { .. }
            | ApiError::LastAdmin { .. }
            | ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson { .. } => "malformed_json",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::InvalidQuery { .. } => "invalid_query",
            ApiError::ControlCharacter { .. } => "control_character",
            ApiError::InvalidPath { .. } => "invalid_path",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::BodyUnreadable => "body_unreadable",
            ApiError::MissingToken => "unauthorized",
            ApiError::InvalidToken => "invalid_token",
            ApiError::TokenExpired => "token_expired",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::AccountDisabled => "account_disabled",
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::NotFound { .. } | ApiError::RouteNotFound { .. } => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::UsernameTaken { .. } => "username_taken",
            ApiError::Conflict { .. } => "conflict",
            ApiError::LastAdmin { .. } => "last_admin",
            ApiError::Internal => "internal",
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        let field = match self {
            ApiError::InvalidField { field, .. }
            | ApiError::InvalidQuery { field, .. }
            | ApiError::ControlCharacter { field } => Some(field.clone()),
            _ => None,
        };
        ErrorBody {
            code: self.code().to_string(),
            message: self.to_string(),
            field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal = self {
            tracing::error!("API request failed with an internal error");
        }
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let ApiError::MissingToken | ApiError::InvalidToken | ApiError::TokenExpired = self {
            // RFC 6750 §3: a 401 names the scheme, and the error once a token was sent.
            let challenge = if let ApiError::MissingToken = self {
                "Bearer"
            } else {
                "Bearer error=\"invalid_token\""
            };
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let ApiError::TooManyAttempts { retry_after } = self {
            // RFC 9110 §10.2.3: delay-seconds.
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
        }
        response
    }
}

impl From<UserError> for ApiError {
    fn from(err: UserError) -> ApiError {
        match err {
            UserError::UnknownRole { .. } | UserError::InvalidUsername { .. } => {
                ApiError::InvalidField {
                    field: if matches!(err, UserError::UnknownRole { .. }) {
                        "role"
                    } else {
                        "username"
                    }
                    .to_string(),
                    message: err.to_string(),
                }
            }
            UserError::PasswordTooShort { .. } | UserError::PasswordTooLong { .. } => {
                ApiError::InvalidField {
                    field: "password".to_string(),
                    message: err.to_string(),
                }
            }
            UserError::UsernameTaken { username } => ApiError::UsernameTaken { username },
            UserError::NotFound { username } => ApiError::NotFound {
                entity: "user",
                id: username,
            },
            UserError::InvalidCredentials => ApiError::InvalidCredentials,
            UserError::Disabled { .. } => ApiError::AccountDisabled,
            UserError::InvalidToken => ApiError::InvalidToken,
            UserError::TokenExpired => ApiError::TokenExpired,
            UserError::LastAdmin { username } => ApiError::LastAdmin { username },
            UserError::TakesNoCalls { .. } => ApiError::InvalidField {
                field: "role".to_string(),
                message: err.to_string(),
            },
            UserError::CorruptHash { .. }
            | UserError::Hashing(_)
            | UserError::Worker(_)
            | UserError::Store(_) => {
                tracing::error!(error = %err, "user operation failed");
                ApiError::Internal
            }
        }
    }
}

impl From<CallLogError> for ApiError {
    fn from(err: CallLogError) -> ApiError {
        match err {
            CallLogError::NotFound { id } => ApiError::NotFound { entity: "call", id },
            CallLogError::PageSize { .. } => ApiError::InvalidQuery {
                field: "limit".to_string(),
                message: err.to_string(),
            },
            CallLogError::Store(err) => {
                tracing::error!(error = %err, "call log read failed");
                ApiError::Internal
            }
        }
    }
}

/// The path of a serde error as users write it; the root is `body`.
fn field_path(path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path == "." {
        "body".to_string()
    } else {
        path
    }
}

/// A missing field is reported at its parent's path with its name only in
/// the message (`missing field `x``); this joins the two.
fn named_field(parent: &str, message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    let name = &rest[..rest.find('`')?];
    Some(if parent == "body" {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    })
}

/// A JSON request body, like `axum::Json`, whose every failure is an
/// [`ApiError`] naming the field: bad syntax 400, a wrong field 422.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers().get(CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BodyUnreadable
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5 && essence[essence.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Parses a JSON body, naming the field serde stopped at; a string (or
/// key) with a control character is refused, named, before anything else.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if may_hold_control_character(bytes)
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(field) = control_character_at(&value, "")
    {
        return Err(ApiError::ControlCharacter { field });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = field_path(err.path());
        let inner = err.into_inner();
        // serde_json reports a value of the wrong shape for an enum (a
        // number where a name is expected) as a syntax error; when the body
        // is well-formed JSON it is the field that is wrong.
        let well_formed = || serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                ApiError::InvalidField {
                    field: named_field(&path, &message).unwrap_or(path),
                    message,
                }
            }
            serde_json::error::Category::Syntax if !path.is_empty() && well_formed() => {
                ApiError::InvalidField {
                    field: path,
                    message: inner.to_string(),
                }
            }
            _ => ApiError::MalformedJson {
                message: inner.to_string(),
            },
        }
    })?;
    // Trailing bytes after the value are malformed too.
    deserializer.end().map_err(|err| ApiError::MalformedJson {
        message: err.to_string(),
    })?;
    Ok(value)
}

/// Whether a JSON text may hold a control character in a string: JSON
/// writes U+0000–U+001F only escaped (`\u00..`), DEL and U+0080–U+009F
/// may come raw. A cheap test, so that clean bodies are parsed once.
fn may_hold_control_character(bytes: &[u8]) -> bool {
    bytes
        .windows(2)
        .any(|pair| pair == b"\\u" || (pair[0] == 0xC2 && (0x80..=0x9F).contains(&pair[1])))
        || bytes.contains(&0x7F)
}

/// The path (`description`, `items[2].name`) of the first string or key
/// with a control character.
fn control_character_at(value: &serde_json::Value, path: &str) -> Option<String> {
    use crate::desk::plain_text::has_control_character;
    let join = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    match value {
        serde_json::Value::String(text) if has_control_character(text) => {
            Some(if path.is_empty() {
                "body".to_string()
            } else {
                path.to_string()
            })
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| control_character_at(item, &format!("{path}[{index}]"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(name, item)| {
            if has_control_character(name) {
                Some(join(name))
            } else {
                control_character_at(item, &join(name))
            }
        }),
        _ => None,
    }
}

/// A query string, like `axum::extract::Query`, whose failures are
/// [`ApiError::InvalidQuery`] naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(&parts.uri).map(ApiQuery)
    }
}

/// Parses the query string of `uri`, naming the parameter serde stopped at.
pub(crate) fn parse_query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    let query = uri.query().unwrap_or_default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        use crate::desk::plain_text::has_control_character;
        if has_control_character(&name) || has_control_character(&value) {
            return Err(ApiError::ControlCharacter {
                field: name.chars().filter(|c| !c.is_control()).collect(),
            });
        }
    }
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = field_path(err.path());
        let message = err.into_inner().to_string();
        ApiError::InvalidQuery {
            field: named_field(&path, &message).unwrap_or(path),
            message,
        }
    })
}

/// Path parameters, like `axum::extract::Path`, whose failures are
/// [`ApiError::InvalidPath`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|rejection| ApiError::InvalidPath {
                message: rejection.body_text(),
            })
    }
}

/// The answer for a path no route serves.
pub(crate) async fn route_not_found(uri: Uri) -> ApiError {
    ApiError::RouteNotFound {
        path: uri.path().chars().take(MAX_ECHOED_PATH).collect(),
    }
}

/// The answer for a method a route does not serve.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Longest request path echoed back in a 404 message.
const MAX_ECHOED_PATH: usize = 200;

#[cfg(test)]
mod control_character_tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        description: String,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        name: String,
    }

    fn refused_field(json: &str) -> Option<String> {
        match parse_json::<Body>(json.as_bytes()) {
            Err(ApiError::ControlCharacter { field }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn a_control_character_in_any_string_is_refused_422_naming_its_field() {
        let nul = r#"{"description": "漏水\u0000", "items": []}"#;
        assert_eq!(refused_field(nul).as_deref(), Some("description"));
        let deep = r#"{"description": "漏水", "items": [{"name": "a"}, {"name": "b\u001b"}]}"#;
        assert_eq!(refused_field(deep).as_deref(), Some("items[1].name"));
        let raw_c1 = "{\"description\": \"a\u{85}b\", \"items\": []}";
        assert_eq!(refused_field(raw_c1).as_deref(), Some("description"));
        let error = ApiError::ControlCharacter {
            field: "description".into(),
        };
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.code(), "control_character");
        assert_eq!(error.body().field.as_deref(), Some("description"));
        // Tabs, line breaks and escaped quotes are text.
        let clean = r#"{"description": "第一行\n第二行\t\"引号\"", "items": []}"#;
        assert!(parse_json::<Body>(clean.as_bytes()).is_ok());
    }

    #[test]
    fn a_control_character_in_a_query_parameter_is_refused() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Query {
            community: Option<String>,
        }
        let uri: Uri = "/api/tickets?community=%00".parse().expect("uri");
        match parse_query::<Query>(&uri) {
            Err(ApiError::ControlCharacter { field }) => assert_eq!(field, "community"),
            other => panic!("{other:?}"),
        }
        let uri: Uri = "/api/tickets?community=JF".parse().expect("uri");
        assert!(parse_query::<Query>(&uri).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        role: Role,
        count: u32,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        when: chrono::DateTime<chrono::Utc>,
    }

    fn invalid_field<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> (String, String) {
        match parse_json::<T>(json.as_bytes()) {
            Err(ApiError::InvalidField { field, message }) => (field, message),
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_field_is_named() {
        let (field, message) =
            invalid_field::<Body>(r#"{"role":"admin","count":1,"colour":"red"}"#);
        assert_eq!(field, "colour", "{message}");
        let (field, _) = invalid_field::<Body>(
            r#"{"role":"admin","count":1,"inner":{"when":"2026-01-01T00:00:00Z","x":1}}"#,
        );
        assert_eq!(field, "inner.x");
    }

    #[test]
    fn a_bad_enum_a_wrong_type_and_a_bad_date_name_their_field() {
        let (field, message) = invalid_field::<Body>(r#"{"role":"root","count":1}"#);
        assert_eq!(field, "role");
        assert!(message.contains("root"), "{message}");
        assert_eq!(
            invalid_field::<Body>(r#"{"role":"admin","count":"x"}"#).0,
            "count"
        );
        let (field, _) =
            invalid_field::<Body>(r#"{"role":"admin","count":1,"inner":{"when":"yesterday"}}"#);
        assert_eq!(field, "inner.when");
        assert_eq!(invalid_field::<Body>(r#"{"count":1}"#).0, "role");
        // A number where an enum name is expected is the field's fault too.
        assert_eq!(invalid_field::<Body>(r#"{"role":1,"count":1}"#).0, "role");
    }

    #[test]
    fn broken_json_is_malformed_not_a_field_error() {
        for text in [
            "{",
            "{\"role\":",
            "not json",
            "{\"role\":\"admin\",\"count\":1} {}",
        ] {
            let err = parse_json::<Body>(text.as_bytes()).unwrap_err();
            assert!(
                matches!(err, ApiError::MalformedJson { .. }),
                "{text}: {err:?}"
            );
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Page {
        limit: Option<u32>,
    }

    #[test]
    fn a_bad_query_parameter_is_named() {
        let uri: Uri = "/x?limit=ten".parse().expect("uri");
        match parse_query::<Page>(&uri) {
            Err(ApiError::InvalidQuery { field, .. }) => assert_eq!(field, "limit"),
            other => panic!("{other:?}"),
        }
        let uri: Uri = "/x?limt=1".parse().expect("uri");
        match parse_query::<Page>(&uri) {
            Err(ApiError::InvalidQuery { field, .. }) => assert_eq!(field, "limt"),
            other => panic!("{other:?}"),
        }
        let uri: Uri = "/x".parse().expect("uri");
        assert!(parse_query::<Page>(&uri).expect("empty").limit.is_none());
    }

    #[test]
    fn json_content_types_are_recognised() {
        for (value, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("json", false),
        ] {
            assert_eq!(
                is_json(Some(&HeaderValue::from_static(value))),
                ok,
                "{value}"
            );
        }
        assert!(!is_json(None));
    }

    #[test]
    fn errors_carry_their_status_code_and_field() {
        let err = ApiError::InvalidField {
            field: "role".into(),
            message: "unknown variant".into(),
        };
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = err.body();
        assert_eq!(
            (body.code.as_str(), body.field.as_deref()),
            ("invalid_field", Some("role"))
        );
        let err = ApiError::TooManyAttempts {
            retry_after: Duration::from_secs(30),
        };
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "30");
        let err: ApiError = UserError::PasswordTooShort { min: 8 }.into();
        assert_eq!(err.body().field.as_deref(), Some("password"));
    }
}

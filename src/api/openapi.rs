//! The OpenAPI 3.1 document of the API: its frame (title, tags, the bearer
//! security scheme) here, its paths and schemas collected from the
//! `#[utoipa::path]` handlers the router serves, so that the document and
//! the routes cannot drift apart. Served at `GET /api/openapi.json`.

use std::sync::Arc;

use axum::Extension;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::{ApiError, ErrorBody};
use crate::desk::users::Role;

/// Name of the security scheme handlers list in `security(...)`.
const BEARER_SCHEME: &str = "bearer";

/// The frame of the document; the routes add their paths to it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hotline API",
        description = "The customer-service hotline: logins, users, the call log, work orders. \
            Errors are `{\"code\", \"message\"}` with an HTTP status; send the token \
            from `POST /api/login` as `Authorization: Bearer <token>`."
    ),
    components(schemas(ErrorBody, Role)),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Logging in and out"),
        (name = "users", description = "User management (administrators)"),
        (name = "calls", description = "The call log (operators and above)"),
        (name = "tickets", description = "Work orders (工单): operators and above; priority, grade and fee changes need a supervisor"),
        (name = "departments", description = "The configured departments and categories (any role)"),
        (name = "archive", description = "The owner archive (业主档案): lookup and search for operators and above"),
        (name = "operators", description = "Operators' states, the queue and the live events (WebSocket `/api/live`); an operator sets only their own state"),
        (name = "health", description = "Liveness"),
        (name = "meta", description = "This document"),
    )
)]
pub(crate) struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

impl PartialSchema for Role {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Role::ALL.map(Role::as_str)))
            .description(Some(
                "operator (热线接线员) < supervisor (主管) < admin (管理员); \
                 each may do what the ones below may",
            ))
            .into()
    }
}

impl ToSchema for Role {}

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The document as served, rendered once.
#[derive(Debug, Clone)]
pub(crate) struct Document(Option<Arc<str>>);

impl Document {
    pub(crate) fn new(document: &utoipa::openapi::OpenApi) -> Document {
        match document.to_json() {
            Ok(json) => Document(Some(json.into())),
            Err(err) => {
                tracing::error!(error = %err, "the OpenAPI document does not serialize");
                Document(None)
            }
        }
    }
}

/// This document.
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
async fn openapi_json(document: Option<Extension<Document>>) -> Result<Response, ApiError> {
    match document {
        Some(Extension(Document(Some(json)))) => {
            Ok(([(CONTENT_TYPE, "application/json")], json.to_string()).into_response())
        }
        _ => Err(ApiError::Internal),
    }
}

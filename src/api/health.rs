//! `GET /api/health`: whether the API answers. No authentication.

use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// The API is up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    status: String,
    /// The daemon's version.
    version: String,
}

/// Whether the API answers.
#[utoipa::path(
    get, path = "/api/health", tag = "health",
    responses((status = 200, description = "Up", body = Health))
)]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

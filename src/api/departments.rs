//! What the desk is configured with, for the forms: `GET /api/departments`
//! and `GET /api/categories?kind=`. Read-only, for any logged-in role; the
//! lists are the desk's configuration ([`DeskConfig`]) as it is.
//!
//! [`DeskConfig`]: crate::desk::DeskConfig

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::require_role;
use super::error::{ApiError, ApiQuery, ErrorBody};
use crate::desk::users::{AuthUser, Role};
use crate::desk::{Category, Department, DeskConfig, TicketKind};

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_departments))
        .routes(routes!(list_categories))
}

/// A department work orders are dispatched to.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DepartmentView {
    /// `engineering`.
    code: String,
    /// 工程部.
    name: String,
}

impl From<&Department> for DepartmentView {
    fn from(department: &Department) -> DepartmentView {
        DepartmentView {
            code: department.code.to_string(),
            name: department.name.clone(),
        }
    }
}

/// A category under one kind, with the department it goes to by default.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CategoryView {
    code: String,
    name: String,
    kind: TicketKind,
    kind_label: String,
    /// The department's code.
    department: String,
    /// The department's name, when it is configured.
    department_name: Option<String>,
}

impl CategoryView {
    fn new(category: &Category, config: &DeskConfig) -> CategoryView {
        CategoryView {
            code: category.code.to_string(),
            name: category.name.clone(),
            kind: category.kind,
            kind_label: category.kind.label_zh().to_owned(),
            department: category.department.to_string(),
            department_name: config
                .department(&category.department)
                .map(|d| d.name.clone()),
        }
    }
}

/// Which categories.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CategoryQuery {
    /// Only this kind's; every category when left out.
    kind: Option<TicketKind>,
}

/// The departments, as configured.
#[utoipa::path(
    get, path = "/api/departments", tag = "departments",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The departments", body = Vec<DepartmentView>),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
async fn list_departments(
    State(state): State<ApiState>,
    user: AuthUser,
) -> Result<Json<Vec<DepartmentView>>, ApiError> {
    require_role(&user, Role::Operator)?;
    let config = state.tickets()?.config();
    Ok(Json(
        config
            .departments
            .iter()
            .map(DepartmentView::from)
            .collect(),
    ))
}

/// The categories, as configured, of one kind or of all.
#[utoipa::path(
    get, path = "/api/categories", tag = "departments",
    security(("bearer" = [])),
    params(CategoryQuery),
    responses(
        (status = 200, description = "The categories", body = Vec<CategoryView>),
        (status = 400, description = "A bad query parameter, named", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
async fn list_categories(
    State(state): State<ApiState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<CategoryQuery>,
) -> Result<Json<Vec<CategoryView>>, ApiError> {
    require_role(&user, Role::Operator)?;
    let config = state.tickets()?.config();
    Ok(Json(
        config
            .categories
            .iter()
            .filter(|c| query.kind.is_none_or(|kind| c.kind == kind))
            .map(|c| CategoryView::new(c, config))
            .collect(),
    ))
}

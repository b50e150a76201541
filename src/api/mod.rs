//! The HTTP API (axum): one [`router`] composed from one module per
//! resource (`auth`, `users`, `calls`, `tickets`, `departments`,
//! `archive`, `health`, `openapi`), one error type
//! ([`ApiError`], always a JSON body), one auth extractor ([`AuthUser`] from
//! `Authorization: Bearer`) with a role check, and one OpenAPI document
//! collected from the same routes, served at `/api/openapi.json`.
//!
//! It owns HTTP: status codes, headers, JSON shapes, the login rate limit.
//! Every business rule is the desk's; the API never reaches the store.
//!
//! A new resource is a module with `pub(crate) fn routes() ->
//! OpenApiRouter<ApiState>` whose handlers carry `#[utoipa::path]`, merged in
//! [`api_routes`]; its paths then appear in the document by construction.

mod archive;
mod auth;
mod callbacks;
mod calls;
mod departments;
mod error;
mod health;
mod limiter;
mod live;
mod openapi;
mod operators;
mod tickets;
mod users;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use serde::Deserialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::desk::call_log::CallLog;
use crate::desk::callbacks::Callbacks;
use crate::desk::users::Users;
use crate::desk::{AreaCode, OperatorBoard, Tickets};
use crate::events::Bus;
use crate::store::Store;

pub use crate::desk::users::AuthUser;
pub use auth::require_role;
pub use error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};

use limiter::LoginLimiter;

/// Where the API listens unless configured otherwise.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// `[api]` in the config file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// The address the HTTP API listens on (`--http-listen` beats it).
    pub listen: SocketAddr,
    /// How long a login token stays valid.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Failed logins allowed per username and client address …
    pub login_max_failures: u32,
    /// … within this window; then that pair waits for the window to end.
    #[serde(with = "humantime_serde")]
    pub login_window: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: DEFAULT_LISTEN,
            token_ttl: Duration::from_secs(12 * 3600),
            login_max_failures: 5,
            login_window: Duration::from_secs(5 * 60),
        }
    }
}

impl ApiConfig {
    /// Problems a well-formed file can still have, each with its key path.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.token_ttl < MIN_TOKEN_TTL {
            problems.push((
                "api.token_ttl".to_string(),
                "must be at least 1m".to_string(),
            ));
        }
        if self.login_max_failures == 0 {
            problems.push((
                "api.login_max_failures".to_string(),
                "must be at least 1".to_string(),
            ));
        }
        if self.login_window.is_zero() {
            problems.push((
                "api.login_window".to_string(),
                "must be longer than 0s".to_string(),
            ));
        }
        problems
    }
}

/// Shortest token lifetime a configuration may set.
const MIN_TOKEN_TTL: Duration = Duration::from_secs(60);

/// The source of the current time; the system clock unless a test sets one.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// What the handlers share; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    config: ApiConfig,
    users: Users,
    calls: CallLog,
    limiter: Mutex<LoginLimiter>,
    clock: Clock,
    /// The work orders, and through them the desk's configuration; `None`
    /// in a state built without them (the ticket routes then fail).
    tickets: Option<Tickets>,
    /// The owner archive; `None` in a state built without it (the archive
    /// routes then fail).
    archive: Option<archive::ArchiveAccess>,
    /// The operators' board and the event bus behind `/api/operators`,
    /// `/api/queue` and `/api/live`; `None` in a state built without them.
    operators: Option<(Arc<dyn OperatorBoard>, Bus)>,
    /// The callbacks behind `/api/callbacks`; `None` in a state built
    /// without them.
    callbacks: Option<Callbacks>,
}

impl ApiState {
    /// The state of an API over these desk services.
    pub fn new(config: ApiConfig, users: Users, calls: CallLog) -> ApiState {
        ApiState::with_clock(config, users, calls, Arc::new(SystemTime::now))
    }

    /// Like [`ApiState::new`] with another clock, for tests of expiry and
    /// rate limits that must not wait for real time.
    pub fn with_clock(config: ApiConfig, users: Users, calls: CallLog, clock: Clock) -> ApiState {
        let limiter = LoginLimiter::new(config.login_max_failures, config.login_window);
        ApiState {
            inner: Arc::new(Inner {
                config,
                users,
                calls,
                limiter: Mutex::new(limiter),
                clock,
                tickets: None,
                archive: None,
                operators: None,
                callbacks: None,
            }),
        }
    }

    /// The same state with the ticket service behind `/api/tickets`,
    /// `/api/departments` and `/api/categories` (its [`DeskConfig`] names the
    /// departments and categories). Meant for start-up: a state already
    /// shared gets a fresh login limiter.
    ///
    /// [`DeskConfig`]: crate::desk::DeskConfig
    pub fn with_tickets(self, tickets: Tickets) -> ApiState {
        ApiState {
            inner: Arc::new(Inner {
                tickets: Some(tickets),
                ..self.into_inner()
            }),
        }
    }

    /// The same state with the owner archive behind `/api/archive`: the
    /// store it lives in and each community's area code by community code
    /// (from `[[hotline.communities]]`), which completes local numbers in
    /// a lookup with `community=`. Meant for start-up, like
    /// [`ApiState::with_tickets`].
    pub fn with_archive(self, store: Store, area_codes: HashMap<String, AreaCode>) -> ApiState {
        ApiState {
            inner: Arc::new(Inner {
                archive: Some(archive::ArchiveAccess::new(store, area_codes)),
                ..self.into_inner()
            }),
        }
    }

    /// The same state with the operators' board and the event bus behind
    /// `/api/operators`, `/api/queue` and `/api/live`. Meant for start-up,
    /// like [`ApiState::with_tickets`].
    pub fn with_operators(self, board: Arc<dyn OperatorBoard>, bus: Bus) -> ApiState {
        ApiState {
            inner: Arc::new(Inner {
                operators: Some((board, bus)),
                ..self.into_inner()
            }),
        }
    }

    /// The inner state to build on; a copy with a fresh login limiter when
    /// it is already shared.
    fn into_inner(self) -> Inner {
        Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            config: shared.config.clone(),
            users: shared.users.clone(),
            calls: shared.calls.clone(),
            limiter: Mutex::new(LoginLimiter::new(
                shared.config.login_max_failures,
                shared.config.login_window,
            )),
            clock: shared.clock.clone(),
            tickets: shared.tickets.clone(),
            archive: shared.archive.clone(),
            operators: shared.operators.clone(),
            callbacks: shared.callbacks.clone(),
        })
    }

    /// The same state with the callbacks behind `/api/callbacks`. Meant
    /// for start-up, like [`ApiState::with_tickets`].
    pub fn with_callbacks(self, callbacks: Callbacks) -> ApiState {
        ApiState {
            inner: Arc::new(Inner {
                callbacks: Some(callbacks),
                ..self.into_inner()
            }),
        }
    }

    /// The callback service, like [`ApiState::tickets`].
    pub(crate) fn callbacks(&self) -> Result<&Callbacks, ApiError> {
        self.inner.callbacks.as_ref().ok_or_else(|| {
            tracing::error!("the API was built without the callbacks (ApiState::with_callbacks)");
            ApiError::Internal
        })
    }

    pub(crate) fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    pub(crate) fn users(&self) -> &Users {
        &self.inner.users
    }

    pub(crate) fn calls(&self) -> &CallLog {
        &self.inner.calls
    }

    /// The ticket service; an internal error when the state was built
    /// without it (a wiring mistake, not the client's).
    pub(crate) fn tickets(&self) -> Result<&Tickets, ApiError> {
        self.inner.tickets.as_ref().ok_or_else(|| {
            tracing::error!(
                "the API was built without the ticket service (ApiState::with_tickets)"
            );
            ApiError::Internal
        })
    }

    /// The owner archive; an internal error when the state was built
    /// without it (a wiring mistake, not the client's).
    pub(crate) fn archive(&self) -> Result<&archive::ArchiveAccess, ApiError> {
        self.inner.archive.as_ref().ok_or_else(|| {
            tracing::error!("the API was built without the archive (ApiState::with_archive)");
            ApiError::Internal
        })
    }

    /// The operators' board; an internal error when the state was built
    /// without it (a wiring mistake, not the client's).
    pub(crate) fn board(&self) -> Result<&dyn OperatorBoard, ApiError> {
        self.operators().map(|(board, _)| board)
    }

    /// The event bus, like [`ApiState::board`].
    pub(crate) fn bus(&self) -> Result<&Bus, ApiError> {
        self.operators().map(|(_, bus)| bus)
    }

    fn operators(&self) -> Result<(&dyn OperatorBoard, &Bus), ApiError> {
        match &self.inner.operators {
            Some((board, bus)) => Ok((board.as_ref(), bus)),
            None => {
                tracing::error!(
                    "the API was built without the operators (ApiState::with_operators)"
                );
                Err(ApiError::Internal)
            }
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        (self.inner.clock)()
    }

    /// The limiter, for a moment: never held across an await.
    pub(crate) fn limiter(&self) -> MutexGuard<'_, LoginLimiter> {
        // The limiter's state stays consistent whatever panicked while it
        // was held: counts only, each update a single assignment.
        self.inner
            .limiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every route of the API with its OpenAPI description.
fn api_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::routes())
        .merge(auth::routes())
        .merge(users::routes())
        .merge(calls::routes())
        .merge(tickets::routes())
        .merge(departments::routes())
        .merge(archive::routes())
        .merge(operators::routes())
        .merge(callbacks::routes())
        .merge(live::routes())
        .merge(openapi::routes())
}

/// The whole API: every route, a JSON 404 and 405 for the rest.
pub fn router(state: ApiState) -> Router {
    let (router, document) = api_routes().split_for_parts();
    router
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::Extension(openapi::Document::new(&document)))
        .with_state(state)
}

/// The OpenAPI document of the API, as served at `/api/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api_routes().into_openapi()
}

/// Serves `router` on an already bound `listener` until `shutdown`
/// completes; requests in flight then finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_defaults_and_reads_durations_as_text() {
        let config: ApiConfig = toml::from_str("").expect("empty");
        assert_eq!(config, ApiConfig::default());
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        let config: ApiConfig = toml::from_str(
            "listen = \"0.0.0.0:9000\"\ntoken_ttl = \"30m\"\nlogin_max_failures = 3\nlogin_window = \"1m\"",
        )
        .expect("full");
        assert_eq!(config.token_ttl, Duration::from_secs(1800));
        assert_eq!(config.login_window, Duration::from_secs(60));
        assert!(toml::from_str::<ApiConfig>("tokens = 1").is_err());
    }

    #[test]
    fn the_defaults_are_valid_and_useless_limits_are_named() {
        assert!(ApiConfig::default().validate().is_empty());
        let config = ApiConfig {
            token_ttl: Duration::from_secs(1),
            login_max_failures: 0,
            login_window: Duration::ZERO,
            ..ApiConfig::default()
        };
        let keys: Vec<_> = config.validate().into_iter().map(|(key, _)| key).collect();
        assert_eq!(
            keys,
            [
                "api.token_ttl",
                "api.login_max_failures",
                "api.login_window"
            ]
        );
    }
}

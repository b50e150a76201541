//! The HTTP API driven over the wire: the real router served on 127.0.0.1
//! port 0 in-process, a real HTTP client. Logins, the rate limit, token
//! expiry, every role against every endpoint, JSON errors, and the OpenAPI
//! document against the routes served.
//!
//! The store is SQLite in a temporary directory; with `HOTLINE_TEST_PG` set
//! to an admin URL (`postgres://postgres@127.0.0.1:5432/postgres`) each test
//! runs on a fresh PostgreSQL database there instead.

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use hotline::api::{self, ApiConfig, ApiState};
use hotline::desk::call_log::CallLog;
use hotline::desk::users::{Role, Users};
use hotline::store::NewCall;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const PASSWORD: &str = "correct horse";
const TTL: Duration = Duration::from_secs(3600);
const MAX_FAILURES: u32 = 3;
const WINDOW: Duration = Duration::from_secs(300);

/// A served API over a fresh store, with a clock the test moves.
struct Harness {
    base: String,
    client: reqwest::Client,
    clock_offset: Arc<AtomicU64>,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Serves the API with these users (each with [`PASSWORD`]) and one call.
    async fn start(users: &[(&str, Role)]) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = common::open_store(dir.path()).await;
        let desk_users = Users::new(store.clone());
        for (name, role) in users {
            desk_users
                .add(name, None, *role, PASSWORD)
                .await
                .expect("add user");
        }
        store
            .insert_call(&NewCall {
                id: "call-1".into(),
                sip_call_id: "call-1@127.0.0.1".into(),
                direction: "inbound".into(),
                caller_raw: "13812345678".into(),
                caller: Some("+8613812345678".into()),
                dialled: "hotline".into(),
                community: Some("JF".into()),
                offered_at: 1_700_000_000_000,
                node: "node-1".into(),
            })
            .await
            .expect("insert call");
        let config = ApiConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            token_ttl: TTL,
            login_max_failures: MAX_FAILURES,
            login_window: WINDOW,
        };
        let clock_offset = Arc::new(AtomicU64::new(0));
        let offset = clock_offset.clone();
        // Time stands still unless the test moves it.
        let start = SystemTime::now();
        let clock: api::Clock =
            Arc::new(move || start + Duration::from_millis(offset.load(Ordering::SeqCst)));
        let state = ApiState::with_clock(config, desk_users, CallLog::new(store), clock);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(api::serve(listener, api::router(state), async move {
            let _ = stopped.await;
        }));
        Harness {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            clock_offset,
            _stop: stop,
            _dir: dir,
        }
    }

    fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).expect("small");
        self.clock_offset.fetch_add(millis, Ordering::SeqCst);
    }

    /// A request; `token` as bearer, `body` as JSON. Returns status and JSON.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        common::api::call_with(&self.client, &self.base, method, path, token, body).await
    }

    async fn login_from(
        &self,
        client: &reqwest::Client,
        username: &str,
        password: &str,
    ) -> (StatusCode, Value) {
        let response = client
            .post(format!("{}/api/login", self.base))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("send");
        common::api::read(response).await
    }

    async fn login(&self, username: &str, password: &str) -> (StatusCode, Value) {
        self.login_from(&self.client, username, password).await
    }

    async fn token(&self, username: &str) -> String {
        let (status, body) = self.login(username, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_string()
    }
}

fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn a_login_gives_a_token_that_opens_the_api() {
    let api = Harness::start(&[("zhang", Role::Operator)]).await;
    let (status, body) = api.login("zhang", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "operator");
    let token = body["token"].as_str().expect("token");
    assert_eq!(token.len(), 64);
    let expires: chrono::DateTime<chrono::Utc> = body["expires_at"]
        .as_str()
        .expect("expires_at")
        .parse()
        .expect("RFC 3339");
    let ttl = expires.signed_duration_since(chrono::Utc::now());
    assert!(
        ttl > chrono::Duration::minutes(59) && ttl <= chrono::Duration::hours(1),
        "{ttl}"
    );
    let (status, me) = api.call(Method::GET, "/api/me", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        (me["username"].as_str(), me["role_label"].as_str()),
        (Some("zhang"), Some("热线接线员"))
    );
    let (status, _) = api
        .call(Method::POST, "/api/logout", Some(token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api.call(Method::GET, "/api/me", Some(token), None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    let api = Harness::start(&[("zhang", Role::Operator)]).await;
    let (status, wrong) = api.login("zhang", "wrong horse").await;
    assert_error(
        status,
        &wrong,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let (status, unknown) = api.login("li", PASSWORD).await;
    assert_error(
        status,
        &unknown,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn failed_logins_are_limited_per_user_and_address() {
    let api = Harness::start(&[("zhang", Role::Operator), ("li", Role::Operator)]).await;
    for _ in 0..MAX_FAILURES {
        let (status, body) = api.login("zhang", "wrong horse").await;
        assert_error(
            status,
            &body,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        );
    }
    let response = api
        .client
        .post(format!("{}/api/login", api.base))
        .json(&json!({"username": "zhang", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    let retry_after = response.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .to_string();
    let (status, body) = common::api::read(response).await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    );
    assert_eq!(retry_after, "300");

    // Another user from the same address, and the same user from another
    // loopback address, are not held back.
    let (status, body) = api.login("li", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .expect("client");
    let (status, body) = api.login_from(&elsewhere, "zhang", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    api.advance(WINDOW);
    let (status, body) = api.login("zhang", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "the window has ended: {body}");
}

#[tokio::test]
async fn a_token_stops_working_when_it_expires() {
    let api = Harness::start(&[("zhang", Role::Operator)]).await;
    let token = api.token("zhang").await;
    api.advance(TTL - Duration::from_secs(1));
    let (status, body) = api
        .call(Method::GET, "/api/calls", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    api.advance(Duration::from_secs(1));
    let response = api
        .client
        .get(format!("{}/api/calls", api.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    let (status, body) = common::api::read(response).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "token_expired");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}

/// A route the API serves.
struct Route {
    method: Method,
    /// The path as the OpenAPI document writes it.
    documented: &'static str,
    /// The path as called in these tests.
    called: &'static str,
    /// A body that is valid for it.
    body: Option<Value>,
    /// The lowest role allowed; `None`: anyone.
    required: Option<Role>,
}

fn route(
    method: Method,
    documented: &'static str,
    called: &'static str,
    body: Option<Value>,
    required: Option<Role>,
) -> Route {
    Route {
        method,
        documented,
        called,
        body,
        required,
    }
}

/// Every route the API serves.
fn routes() -> Vec<Route> {
    let login = json!({"username": "admin", "password": PASSWORD});
    let new_user = json!({"username": "new", "role": "operator", "password": PASSWORD});
    let patch = json!({"display_name": "王五"});
    let (operator, admin) = (Some(Role::Operator), Some(Role::Admin));
    vec![
        route(Method::GET, "/api/health", "/api/health", None, None),
        route(
            Method::GET,
            "/api/openapi.json",
            "/api/openapi.json",
            None,
            None,
        ),
        route(Method::POST, "/api/login", "/api/login", Some(login), None),
        route(Method::GET, "/api/me", "/api/me", None, operator),
        route(Method::POST, "/api/logout", "/api/logout", None, operator),
        route(Method::GET, "/api/users", "/api/users", None, admin),
        route(
            Method::POST,
            "/api/users",
            "/api/users",
            Some(new_user),
            admin,
        ),
        route(
            Method::PATCH,
            "/api/users/{username}",
            "/api/users/operator",
            Some(patch),
            admin,
        ),
        route(
            Method::GET,
            "/api/calls",
            "/api/calls?limit=10&offset=0",
            None,
            operator,
        ),
        route(
            Method::GET,
            "/api/calls/{id}",
            "/api/calls/call-1",
            None,
            operator,
        ),
    ]
}

#[tokio::test]
async fn every_role_meets_every_endpoint_as_the_table_says() {
    let api = Harness::start(&[
        ("operator", Role::Operator),
        ("supervisor", Role::Supervisor),
        ("admin", Role::Admin),
    ])
    .await;
    let mut tokens = Vec::new();
    for role in Role::ALL {
        tokens.push((role, api.token(role.as_str()).await));
    }
    for Route {
        method,
        called: path,
        body,
        required,
        ..
    } in routes()
    {
        let (status, answer) = api.call(method.clone(), path, None, body.clone()).await;
        match required {
            None => assert!(
                status.is_success(),
                "{method} {path} without a token: {status} {answer}"
            ),
            Some(_) => assert_error(status, &answer, StatusCode::UNAUTHORIZED, "unauthorized"),
        }
        for (role, token) in &mut tokens {
            let role = *role;
            let (status, answer) = api
                .call(method.clone(), path, Some(token), body.clone())
                .await;
            let allowed = required.is_none_or(|required| role.at_least(required));
            if allowed {
                let conflict = method == Method::POST
                    && path == "/api/users"
                    && status == StatusCode::CONFLICT;
                assert!(
                    status.is_success() || conflict,
                    "{role} {method} {path}: {status} {answer}"
                );
            } else {
                assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
            }
            if path == "/api/logout" {
                *token = api.token(role.as_str()).await;
            }
        }
    }
}

#[tokio::test]
async fn bad_input_gets_a_json_error_naming_the_field() {
    let api = Harness::start(&[("admin", Role::Admin)]).await;
    let token = api.token("admin").await;
    let post = |body: Value| api.call(Method::POST, "/api/users", Some(&token), Some(body));

    let (status, body) =
        post(json!({"username": "a", "role": "operator", "password": PASSWORD, "colour": "red"}))
            .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["field"], "colour");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("colour"),
        "{body}"
    );

    let (status, body) = post(json!({"username": "a", "role": "boss", "password": PASSWORD})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["field"], "role");

    let (status, body) =
        post(json!({"username": "a", "role": "operator", "password": 12345678})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["field"], "password");

    let (status, body) = post(json!({"username": "a", "role": "operator"})).await;
    assert_eq!(
        (status, &body["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("password")),
        "{body}"
    );

    let (status, body) =
        post(json!({"username": "a", "role": "operator", "password": "short"})).await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["field"], "password");

    let (status, body) = api
        .call(
            Method::PATCH,
            "/api/users/admin",
            Some(&token),
            Some(json!({"disabled": "yes"})),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("disabled")),
        "{body}"
    );

    let response = api
        .client
        .post(format!("{}/api/users", api.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .expect("send");
    let (status, body) = common::api::read(response).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "malformed_json");

    let response = api
        .client
        .post(format!("{}/api/users", api.base))
        .bearer_auth(&token)
        .body("username=a")
        .send()
        .await
        .expect("send");
    let (status, body) = common::api::read(response).await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    for (query, field) in [
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("page=2", "page"),
    ] {
        let (status, body) = api
            .call(
                Method::GET,
                &format!("/api/calls?{query}"),
                Some(&token),
                None,
            )
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
        assert_eq!(body["field"], field, "{query}");
    }
    let (status, body) = api
        .call(Method::GET, "/api/calls?limit=0", Some(&token), None)
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");

    let (status, body) = api
        .call(
            Method::POST,
            "/api/login",
            None,
            Some(json!({"username": "admin", "password": PASSWORD, "otp": 1})),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("otp")),
        "{body}"
    );
}

#[tokio::test]
async fn missing_or_bad_auth_unknown_paths_and_methods_get_json() {
    let api = Harness::start(&[]).await;
    let (status, body) = api.call(Method::GET, "/api/users", None, None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = api
        .call(Method::GET, "/api/users", Some("not-a-token"), None)
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    let (status, body) = api
        .call(Method::GET, "/api/users", Some(&"ab".repeat(32)), None)
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    let (status, body) = api.call(Method::GET, "/api/nothing/here", None, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = api.call(Method::GET, "/", None, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = api.call(Method::DELETE, "/api/health", None, None).await;
    assert_error(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let (status, body) = api.call(Method::GET, "/api/login", None, None).await;
    assert_error(
        status,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn an_admin_manages_users_and_the_rules_hold() {
    let api = Harness::start(&[("admin", Role::Admin), ("zhang", Role::Operator)]).await;
    let admin = api.token("admin").await;
    let zhang = api.token("zhang").await;

    let (status, created) = api
        .call(Method::POST, "/api/users", Some(&admin),
            Some(json!({"username": "li", "display_name": "李四", "role": "supervisor", "password": PASSWORD})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["role"].as_str(), created["role_label"].as_str()),
        (Some("supervisor"), Some("主管"))
    );
    assert!(created.get("password_hash").is_none() && created.get("password").is_none());
    let (status, body) = api
        .call(
            Method::POST,
            "/api/users",
            Some(&admin),
            Some(json!({"username": "li", "role": "operator", "password": PASSWORD})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "username_taken");

    let (status, listed) = api
        .call(Method::GET, "/api/users", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|u| u["username"].clone())
        .collect();
    assert_eq!(names, [json!("admin"), json!("li"), json!("zhang")]);

    let (status, body) = api
        .call(
            Method::PATCH,
            "/api/users/zhang",
            Some(&admin),
            Some(json!({"password": "battery staple"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api.call(Method::GET, "/api/me", Some(&zhang), None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
    let (status, _) = api.login("zhang", "battery staple").await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = api
        .call(
            Method::PATCH,
            "/api/users/zhang",
            Some(&admin),
            Some(json!({"disabled": true, "role": "supervisor"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["disabled"].as_bool(), body["role"].as_str()),
        (Some(true), Some("supervisor"))
    );
    let (status, body) = api.login("zhang", "battery staple").await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "account_disabled");

    let (status, body) = api
        .call(
            Method::PATCH,
            "/api/users/admin",
            Some(&admin),
            Some(json!({"role": "operator"})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "last_admin");
    let (status, body) = api
        .call(
            Method::PATCH,
            "/api/users/nobody",
            Some(&admin),
            Some(json!({"role": "operator"})),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn operators_read_the_call_log() {
    let api = Harness::start(&[("zhang", Role::Operator)]).await;
    let token = api.token("zhang").await;
    let (status, page) = api
        .call(Method::GET, "/api/calls", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        (page["limit"].as_u64(), page["offset"].as_u64()),
        (Some(50), Some(0))
    );
    assert_eq!(page["calls"][0]["id"], "call-1");
    assert_eq!(page["calls"][0]["offered_at"], "2023-11-14T22:13:20Z");
    let (status, page) = api
        .call(Method::GET, "/api/calls?offset=1", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["calls"], json!([]));
    let (status, call) = api
        .call(Method::GET, "/api/calls/call-1", Some(&token), None)
        .await;
    assert_eq!(
        (status, call["caller"].as_str()),
        (StatusCode::OK, Some("+8613812345678"))
    );
    let (status, body) = api
        .call(Method::GET, "/api/calls/nope", Some(&token), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

/// Paths whose routes `tests/api_tickets.rs`, `tests/api_archive.rs` and
/// `tests/api_operators.rs` check against the document.
const TICKET_ROUTE_PREFIXES: [&str; 8] = [
    "/api/tickets",
    "/api/departments",
    "/api/categories",
    "/api/archive",
    "/api/operators",
    "/api/queue",
    "/api/live",
    "/api/callbacks",
];

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes_served() {
    let api = Harness::start(&[]).await;
    let (status, document) = api.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{document}"
    );
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        if TICKET_ROUTE_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
        {
            continue;
        }
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let table: BTreeSet<_> = routes()
        .into_iter()
        .map(|route| (route.method.to_string(), route.documented.to_string()))
        .collect();
    assert_eq!(documented, table);
    // Each documented route is served: no 404 "no route", no 405.
    for Route {
        method,
        called: path,
        body,
        ..
    } in routes()
    {
        let (status, answer) = api.call(method.clone(), path, None, body).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !answer["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("no route")),
            "{method} {path}: {answer}"
        );
    }
    let generated = serde_json::to_value(api::openapi_document()).expect("JSON");
    assert_eq!(
        document, generated,
        "the served document is the generated one"
    );
    serde_json::from_value::<utoipa::openapi::OpenApi>(document).expect("a valid OpenAPI document");
}

#[tokio::test]
async fn serve_stops_when_shutdown_completes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let dir = tempfile::tempdir().expect("dir");
    let store = common::open_store(dir.path()).await;
    let state = ApiState::new(
        ApiConfig::default(),
        Users::new(store.clone()),
        CallLog::new(store),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, api::router(state), async move {
        let _ = stopped.await;
    }));
    let health = reqwest::get(format!("http://{addr}/api/health"))
        .await
        .expect("get");
    assert_eq!(health.status(), StatusCode::OK);
    stop.send(()).expect("server waiting");
    server.await.expect("joined").expect("served");
}

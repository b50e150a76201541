//! The owner archive over the wire: the real router with the archive served
//! on 127.0.0.1 port 0 in-process, a real HTTP client, a small archive
//! imported from a CSV the test writes. Lookup by phone and search by room
//! and name, every role (and no token) against every archive route, bad
//! input named, and the OpenAPI document against the archive routes served.
//!
//! The store is SQLite in a temporary directory; with `HOTLINE_TEST_PG` set
//! each test runs on a fresh PostgreSQL database there instead.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

use hotline::api::{self, ApiConfig, ApiState};
use hotline::desk::AreaCode;
use hotline::desk::archive::{ImportOptions, import_file};
use hotline::desk::call_log::CallLog;
use hotline::desk::users::{Role, Users};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const PASSWORD: &str = "correct horse";
/// The community of the archive, configured with an area code.
const COMMUNITY: &str = "JF";
const AREA_CODE: &str = "0871";
const ARCHIVE_CSV: &str = "\
小区,楼栋,单元,房号,姓名,身份,手机,电话,备注
金福花园,3,2,1201,张三,业主,138-1234-5678,0871-65123456,
金福花园,3,2,1201,李梅,家属,13912345678,0871-65123456,张三之妻
金福花园,3,2,1202,王五,租户,+86 137 0000 1111,,租期至2026年
";

/// A served API with the archive over a fresh store; one user per role.
struct Harness {
    base: String,
    client: reqwest::Client,
    tokens: Vec<(Role, String)>,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = common::open_store(dir.path()).await;
        store
            .upsert_community(COMMUNITY, "金福花园", &["hotline".to_string()])
            .await
            .expect("community");
        let csv = dir.path().join("archive.csv");
        std::fs::write(&csv, ARCHIVE_CSV).expect("write CSV");
        let report = import_file(
            &store,
            &csv,
            ImportOptions {
                dry_run: false,
                default_area_code: None,
                community: None,
                now: SystemTime::UNIX_EPOCH,
                progress: |_rows| {},
            },
        )
        .await
        .expect("import");
        assert_eq!(report.summary.inserted, 3, "{report:?}");
        let users = Users::new(store.clone());
        for role in Role::ALL {
            users
                .add(role.as_str(), None, role, PASSWORD)
                .await
                .expect("add user");
        }
        let area_codes = HashMap::from([(
            COMMUNITY.to_string(),
            AreaCode::parse(AREA_CODE).expect("area code"),
        )]);
        let state = ApiState::new(ApiConfig::default(), users, CallLog::new(store.clone()))
            .with_archive(store, area_codes);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(api::serve(listener, api::router(state), async move {
            let _ = stopped.await;
        }));
        let mut harness = Harness {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            tokens: Vec::new(),
            _stop: stop,
            _dir: dir,
        };
        for role in Role::ALL {
            let (status, body) = harness
                .call(
                    Method::POST,
                    "/api/login",
                    None,
                    Some(json!({"username": role.as_str(), "password": PASSWORD})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let token = body["token"].as_str().expect("token").to_string();
            harness.tokens.push((role, token));
        }
        harness
    }

    fn token(&self, role: Role) -> &str {
        self.tokens
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, token)| token.as_str())
            .expect("a token per role")
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

    /// A GET as an operator.
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(self.token(Role::Operator)), None)
            .await
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

/// The names of the people of an answer, sorted.
fn names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body["people"]
        .as_array()
        .unwrap_or_else(|| panic!("people: {body}"))
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect();
    names.sort();
    names
}

/// The archive routes with a call that reaches each.
fn routes() -> Vec<(Method, &'static str, &'static str)> {
    vec![
        (
            Method::GET,
            "/api/archive/lookup",
            "/api/archive/lookup?phone=13812345678",
        ),
        (
            Method::GET,
            "/api/archive/search",
            "/api/archive/search?name=%E5%BC%A0%E4%B8%89",
        ),
    ]
}

#[tokio::test]
async fn a_lookup_finds_everyone_with_the_number_however_it_is_written() {
    let api = Harness::start().await;
    let (status, body) = api
        .get("/api/archive/lookup?phone=%2B86%20138-1234-5678")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), ["张三"]);
    let person = &body["people"][0];
    assert_eq!(person["community_code"], COMMUNITY);
    assert_eq!(person["community_name"], "金福花园");
    assert_eq!(
        person["residences"],
        json!([{"room": "3栋2单元1201", "role": "owner", "note": ""}])
    );
    let numbers: BTreeSet<_> = person["phones"]
        .as_array()
        .expect("phones")
        .iter()
        .map(|p| (p["number"].to_string(), p["kind"].to_string()))
        .collect();
    assert_eq!(
        numbers,
        BTreeSet::from([
            (
                json!("+8613812345678").to_string(),
                json!("mobile").to_string()
            ),
            (
                json!("+8687165123456").to_string(),
                json!("landline").to_string()
            ),
        ])
    );

    // The family line, with its area code …
    let (status, body) = api.get("/api/archive/lookup?phone=0871-65123456").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), ["张三", "李梅"]);
    // … or local, completed by the community's area code.
    let (status, body) = api
        .get("/api/archive/lookup?phone=65123456&community=JF")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), ["张三", "李梅"]);

    // A number nobody has.
    let (status, body) = api.get("/api/archive/lookup?phone=13600000000").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"people": []})));
}

#[tokio::test]
async fn a_search_finds_the_people_of_a_room_or_a_name() {
    let api = Harness::start().await;
    let (status, body) = api.get("/api/archive/search?room=3-2-1201").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), ["张三", "李梅"]);
    let (status, body) = api
        .get("/api/archive/search?room=3-2-1201&name=%E6%9D%8E%E6%A2%85")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), ["李梅"]);
    let (status, body) = api
        .get("/api/archive/search?name=%E7%8E%8B%E4%BA%94&community=JF")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body), ["王五"]);
    assert_eq!(body["people"][0]["residences"][0]["note"], "租期至2026年");
    let (status, body) = api
        .get("/api/archive/search?name=%E7%8E%8B%E4%BA%94&community=XX")
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"people": []})));
}

#[tokio::test]
async fn bad_input_is_named() {
    let api = Harness::start().await;
    for (path, status, field) in [
        (
            "/api/archive/lookup?phone=hello",
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone",
        ),
        (
            "/api/archive/lookup?phone=65123456",
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone",
        ),
        ("/api/archive/lookup", StatusCode::BAD_REQUEST, "phone"),
        (
            "/api/archive/lookup?phone=13812345678&colour=red",
            StatusCode::BAD_REQUEST,
            "colour",
        ),
        ("/api/archive/search", StatusCode::BAD_REQUEST, "room"),
        (
            "/api/archive/search?community=JF&name=%20",
            StatusCode::BAD_REQUEST,
            "room",
        ),
        (
            "/api/archive/search?room=%E4%BD%A0%E5%A5%BD",
            StatusCode::UNPROCESSABLE_ENTITY,
            "room",
        ),
    ] {
        let (got, body) = api.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["field"], field, "{path}: {body}");
    }
}

#[tokio::test]
async fn every_role_may_read_the_archive_and_no_token_may_not() {
    let api = Harness::start().await;
    for (method, _, called) in routes() {
        let (status, body) = api.call(method.clone(), called, None, None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        let (status, body) = api
            .call(method.clone(), called, Some("not-a-token"), None)
            .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_token");
        for role in Role::ALL {
            let (status, body) = api
                .call(method.clone(), called, Some(api.token(role)), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{role:?} {called}: {body}");
            assert_eq!(names(&body), ["张三"], "{role:?} {called}");
        }
    }
}

#[tokio::test]
async fn a_state_without_the_archive_answers_internal_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open_store(dir.path()).await;
    let users = Users::new(store.clone());
    users
        .add("op", None, Role::Operator, PASSWORD)
        .await
        .expect("add user");
    let state = ApiState::new(ApiConfig::default(), users, CallLog::new(store));
    let router = api::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(api::serve(listener, router, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("http://{addr}/api/login"))
        .json(&json!({"username": "op", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("JSON");
    let token = login["token"].as_str().expect("token");
    let response = client
        .get(format!(
            "http://{addr}/api/archive/lookup?phone=13812345678"
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("lookup");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_archive_routes_served() {
    let api = Harness::start().await;
    let (status, document) = api.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/archive") {
            continue;
        }
        for (method, operation) in item.as_object().expect("path item") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            documented.insert((method.to_uppercase(), path.clone()));
            assert_eq!(
                operation["security"],
                json!([{"bearer": []}]),
                "{method} {path} needs a token"
            );
        }
    }
    let mut table: BTreeSet<_> = routes()
        .into_iter()
        .map(|(method, path, _)| (method.to_string(), path.to_string()))
        .collect();
    for (method, path) in EDIT_ROUTES {
        table.insert((method.to_string(), path.to_string()));
    }
    assert_eq!(documented, table);
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for name in ["PeopleView", "PersonView", "ResidenceView", "PhoneView"] {
        assert!(schemas.contains_key(name), "{name}");
    }
}

/// The administrators' edit routes.
const EDIT_ROUTES: [(&str, &str); 5] = [
    ("PATCH", "/api/archive/people/{id}"),
    ("POST", "/api/archive/people/{id}/phones"),
    ("DELETE", "/api/archive/people/{id}/phones/{number}"),
    ("POST", "/api/archive/people/{id}/residences"),
    ("DELETE", "/api/archive/people/{id}/residences/{room}"),
];

#[tokio::test]
async fn only_administrators_edit_a_person_and_bad_input_is_named() {
    let api = Harness::start().await;
    let (_, body) = api.get("/api/archive/search?room=3-2-1202").await;
    let id = body["people"][0]["id"].as_str().expect("id").to_string();
    let person = format!("/api/archive/people/{id}");
    let edits = [
        (Method::PATCH, person.clone(), Some(json!({"name": "王伍"}))),
        (
            Method::POST,
            format!("{person}/phones"),
            Some(json!({"phone": "65123456", "community": "JF"})),
        ),
        (
            Method::POST,
            format!("{person}/residences"),
            Some(json!({"room": "5-301", "role": "owner", "note": "新购"})),
        ),
        (
            Method::DELETE,
            format!("{person}/phones/%2B8687165123456"),
            None,
        ),
        (Method::DELETE, format!("{person}/residences/5-301"), None),
    ];
    for (method, path, body) in &edits {
        let (status, answer) = api.call(method.clone(), path, None, body.clone()).await;
        assert_error(status, &answer, StatusCode::UNAUTHORIZED, "unauthorized");
        for role in [Role::Operator, Role::Supervisor] {
            let (status, answer) = api
                .call(method.clone(), path, Some(api.token(role)), body.clone())
                .await;
            assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
        }
    }
    let admin = api.token(Role::Admin).to_string();
    let mut edits = edits.into_iter();
    for (method, path, body) in edits.by_ref().take(3) {
        let response = api
            .client
            .request(method.clone(), format!("{}{path}", api.base))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{method} {path}");
    }
    let (_, found) = api.get("/api/archive/lookup?phone=0871-65123456").await;
    assert_eq!(names(&found), ["张三", "李梅", "王伍"]);
    let (_, found) = api.get("/api/archive/search?room=5-301").await;
    assert_eq!(names(&found), ["王伍"]);
    assert_eq!(
        found["people"][0]["residences"][1]["note"], "新购",
        "{found}"
    );
    for (method, path, body) in edits {
        let response = api
            .client
            .request(method.clone(), format!("{}{path}", api.base))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("send");
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "{method} {path} {body:?}"
        );
        let (status, answer) = api.call(method, &path, Some(&admin), None).await;
        assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
    }
    let (_, found) = api.get("/api/archive/search?room=5-301").await;
    assert_eq!(found, json!({"people": []}));

    for (method, path, body, field) in [
        (Method::PATCH, person.clone(), json!({"name": " "}), "name"),
        (
            Method::POST,
            format!("{person}/phones"),
            json!({"phone": "hello"}),
            "phone",
        ),
        (
            Method::POST,
            format!("{person}/residences"),
            json!({"room": "你好", "role": "owner"}),
            "room",
        ),
        (
            Method::POST,
            format!("{person}/residences"),
            json!({"room": "5-301", "role": "king"}),
            "role",
        ),
    ] {
        let (status, answer) = api.call(method, &path, Some(&admin), Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {answer}");
        assert_eq!(answer["field"], field, "{path}: {answer}");
    }
    let (status, answer) = api
        .call(
            Method::PATCH,
            "/api/archive/people/nobody",
            Some(&admin),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
}

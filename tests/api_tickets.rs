//! Work orders over the wire: the real router with the ticket service served
//! on 127.0.0.1 port 0 in-process, a real HTTP client, a clock the test
//! moves. A whole ticket life from creation to closed, every role against
//! every ticket route, bad input named field by field, and the OpenAPI
//! document against the ticket routes served.
//!
//! The store is SQLite in a temporary directory; with `HOTLINE_TEST_PG` set
//! to an admin URL (`postgres://postgres@127.0.0.1:5432/postgres`) each test
//! runs on a fresh PostgreSQL database there instead.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use hotline::api::{self, ApiConfig, ApiState};
use hotline::desk::call_log::CallLog;
use hotline::desk::users::{Role, Users};
use hotline::desk::{DeskConfig, Tickets};
use hotline::store::NewCall;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const PASSWORD: &str = "correct horse";
/// The linked call of these tests, answered with a recording.
const CALL_ID: &str = "call-1";
const RECORDING: &str = "2026/11/23/call-1.wav";
/// Response deadline of every ticket in the default SLA.
const RESPOND: Duration = Duration::from_secs(30 * 60);

/// A served API with tickets over a fresh store; one user per role, named
/// after it, and one recorded call.
struct Harness {
    base: String,
    client: reqwest::Client,
    clock_offset: Arc<AtomicU64>,
    tokens: Vec<(Role, String)>,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = common::open_store(dir.path()).await;
        let users = Users::new(store.clone());
        for role in Role::ALL {
            users
                .add(role.as_str(), None, role, PASSWORD)
                .await
                .expect("add user");
        }
        store
            .insert_call(&NewCall {
                id: CALL_ID.into(),
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
        store
            .call_answered(CALL_ID, 1_700_000_003_000, Some(RECORDING))
            .await
            .expect("answer call");
        let clock_offset = Arc::new(AtomicU64::new(0));
        let offset = clock_offset.clone();
        // Time stands still unless the test moves it.
        let start = SystemTime::now();
        let clock: api::Clock =
            Arc::new(move || start + Duration::from_millis(offset.load(Ordering::SeqCst)));
        let tickets = Tickets::new(store.clone(), DeskConfig::default());
        let state = ApiState::with_clock(ApiConfig::default(), users, CallLog::new(store), clock)
            .with_tickets(tickets);
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
            clock_offset,
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

    fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).expect("small");
        self.clock_offset.fetch_add(millis, Ordering::SeqCst);
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

    /// A request as `role`.
    async fn as_role(
        &self,
        role: Role,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call(method, path, Some(self.token(role)), body).await
    }

    /// Lists tickets as an operator with this query string.
    async fn list(&self, query: &str) -> (StatusCode, Value) {
        let path = format!("/api/tickets?{query}");
        self.as_role(Role::Operator, Method::GET, &path, None).await
    }

    /// Creates a ticket as an operator; returns it.
    async fn create(&self, body: Value) -> Value {
        let (status, ticket) = self
            .as_role(Role::Operator, Method::POST, "/api/tickets", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ticket}");
        ticket
    }

    /// Moves a ticket as `role`; returns status and body.
    async fn act(&self, role: Role, ticket: &str, body: Value) -> (StatusCode, Value) {
        self.as_role(
            role,
            Method::POST,
            &format!("/api/tickets/{ticket}/transitions"),
            Some(body),
        )
        .await
    }

    /// Moves a ticket as `role`, which must succeed; returns the ticket.
    async fn moved(&self, role: Role, ticket: &str, action: &str) -> Value {
        let (status, body) = self.act(role, ticket, json!({"action": action})).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
        body
    }
}

fn repair() -> Value {
    json!({
        "community": "JF",
        "kind": "repair",
        "priority": "urgent",
        "source": "phone_call",
        "category": "water_electric",
        "room": "3栋2单元1201",
        "reporter_name": "陈先生",
        "reporter_phone": "13812345678",
        "description": "厨房水管漏水"
    })
}

fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// A 400 or 422 that names `field`.
fn assert_names(status: StatusCode, body: &Value, field: &str) {
    assert!(
        status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{field}: {status} {body}"
    );
    assert_eq!(body["field"], field, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn a_ticket_lives_from_creation_to_closed_over_http() {
    let api = Harness::start().await;
    let created = api.create(repair()).await;
    let number = created["number"].as_str().expect("number").to_string();
    assert!(
        number.starts_with("JF-") && number.ends_with("-0001"),
        "{number}"
    );
    assert_eq!(
        (
            created["status"].as_str(),
            created["status_label"].as_str(),
            created["created_by"].as_str(),
            created["department"].as_str(),
            created["reporter_phone"].as_str(),
        ),
        (
            Some("new"),
            Some("受理"),
            Some("operator"),
            Some("engineering"),
            Some("+8613812345678")
        )
    );
    assert_eq!(
        created["allowed_actions"],
        json!(["dispatch", "resolve", "hold", "cancel"])
    );
    assert_eq!(created["overdue"], json!([]));
    let version = created["version"].as_i64().expect("version");

    let (status, listed) = api
        .as_role(
            Role::Operator,
            Method::GET,
            "/api/tickets?kind=repair&open=true",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["tickets"][0]["number"], number.as_str());

    let (status, patched) = api
        .as_role(
            Role::Operator,
            Method::PATCH,
            &format!("/api/tickets/{number}"),
            Some(json!({"assignee": "老李", "expected_version": version})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["assignee"], "老李");
    let (status, stale) = api
        .as_role(
            Role::Operator,
            Method::PATCH,
            &format!("/api/tickets/{number}"),
            Some(json!({"assignee": "小王", "expected_version": version})),
        )
        .await;
    assert_error(status, &stale, StatusCode::CONFLICT, "stale_version");
    assert_eq!(stale["current_version"], version + 1);

    let (status, dispatched) = api
        .act(
            Role::Operator,
            &number,
            json!({"action": "dispatch", "note": "工程部老李"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    assert!(dispatched["responded_at"].is_string(), "{dispatched}");
    let held = api.moved(Role::Operator, &number, "hold").await;
    assert_eq!(
        (held["status"].as_str(), held["resume_to"].as_str()),
        (Some("on_hold"), Some("dispatched"))
    );
    api.advance(Duration::from_secs(3600));
    let resumed = api.moved(Role::Operator, &number, "resume").await;
    assert_eq!(resumed["status"], "dispatched");
    assert!(resumed["holds"][0]["until"].is_string(), "{resumed}");

    let (status, refused) = api
        .act(Role::Operator, &number, json!({"action": "close"}))
        .await;
    assert_error(
        status,
        &refused,
        StatusCode::CONFLICT,
        "transition_not_allowed",
    );
    assert_eq!(
        (&refused["status"], &refused["action"]),
        (&json!("dispatched"), &json!("close"))
    );
    assert_eq!(
        refused["allowed"],
        json!(["dispatch", "start", "resolve", "hold", "cancel"])
    );
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("allowed: dispatch, start")),
        "{refused}"
    );

    api.moved(Role::Operator, &number, "start").await;
    api.moved(Role::Operator, &number, "resolve").await;
    api.moved(Role::Supervisor, &number, "follow_up").await;
    let closed = api.moved(Role::Supervisor, &number, "close").await;
    assert_eq!(
        (&closed["status"], &closed["allowed_actions"]),
        (&json!("closed"), &json!([]))
    );
    let (status, refused) = api
        .act(
            Role::Operator,
            &number,
            json!({"action": "cancel", "reason": "重复"}),
        )
        .await;
    assert_error(
        status,
        &refused,
        StatusCode::CONFLICT,
        "transition_not_allowed",
    );
    assert_eq!(refused["allowed"], json!([]));

    let (status, comment) = api
        .as_role(
            Role::Supervisor,
            Method::POST,
            &format!("/api/tickets/{number}/comments"),
            Some(json!({"text": "  业主满意  "})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    assert_eq!(
        (comment["actor"].as_str(), comment["note"].as_str()),
        (Some("supervisor"), Some("业主满意"))
    );
    let link = json!({"call_id": CALL_ID});
    let calls_path = format!("/api/tickets/{number}/calls");
    let (status, linked) = api
        .as_role(
            Role::Operator,
            Method::POST,
            &calls_path,
            Some(link.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{linked}");
    let (status, _) = api
        .as_role(Role::Operator, Method::POST, &calls_path, Some(link))
        .await;
    assert_eq!(status, StatusCode::OK, "linked already");

    let id = created["id"].as_str().expect("id");
    let (status, detail) = api
        .as_role(
            Role::Operator,
            Method::GET,
            &format!("/api/tickets/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["ticket"]["number"], number.as_str());
    let history: Vec<(String, String)> = detail["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("action").to_string(),
                e["actor"].as_str().expect("actor").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("created", "operator"),
        ("updated", "operator"),
        ("dispatch", "operator"),
        ("hold", "operator"),
        ("resume", "operator"),
        ("start", "operator"),
        ("resolve", "operator"),
        ("follow_up", "supervisor"),
        ("close", "supervisor"),
        ("commented", "supervisor"),
        ("call_linked", "operator"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(history, want);
    assert_eq!(detail["history"][2]["note"], "工程部老李");
    assert_eq!(
        detail["history"][1]["changes"],
        json!([{"field": "assignee", "from": null, "to": "老李"}])
    );
    assert_eq!(
        (
            &detail["history"][8]["from_status"],
            &detail["history"][8]["to_status"]
        ),
        (&json!("followed_up"), &json!("closed"))
    );
    assert_eq!(detail["calls"][0]["id"], CALL_ID);
    assert_eq!(detail["calls"][0]["has_recording"], true);
    assert_eq!(detail["calls"][0]["recording_path"], Value::Null);
    let (_, detail) = api
        .as_role(
            Role::Supervisor,
            Method::GET,
            &format!("/api/tickets/{number}"),
            None,
        )
        .await;
    assert_eq!(detail["calls"][0]["recording_path"], RECORDING);
}

#[tokio::test]
async fn overdue_tickets_are_listed_and_marked_as_the_clock_moves() {
    let api = Harness::start().await;
    let urgent = api.create(repair()).await;
    let mut inquiry = repair();
    inquiry["kind"] = json!("inquiry");
    inquiry["priority"] = json!("normal");
    inquiry["category"] = Value::Null;
    inquiry["description"] = json!("物业费怎么交");
    inquiry["reporter_phone"] = json!("13900001111");
    let inquiry = api.create(inquiry).await;
    let (status, page) = api.list("overdue=true").await;
    assert_eq!((status, &page["total"]), (StatusCode::OK, &json!(0)));

    // Dispatching the inquiry meets its response deadline; the repair misses
    // both its response and its arrival.
    api.moved(
        Role::Operator,
        inquiry["number"].as_str().expect("n"),
        "dispatch",
    )
    .await;
    api.advance(RESPOND + Duration::from_secs(60));
    let (_, page) = api.list("overdue=true").await;
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["tickets"][0]["id"], urgent["id"]);
    assert_eq!(page["tickets"][0]["overdue"], json!(["respond", "arrive"]));

    for (query, want) in [
        ("", 2),
        ("kind=repair,inquiry", 2),
        ("kind=inquiry", 1),
        ("status=dispatched", 1),
        ("status=new&status=dispatched", 2),
        ("community=JF&department=engineering", 1),
        ("text=%E6%BC%8F%E6%B0%B4", 1),
        ("reporter_phone=139-0000-1111", 1),
        ("created_from=2000-01-01T00:00:00Z", 2),
        ("created_until=2000-01-01T00:00:00Z", 0),
        ("limit=1", 2),
    ] {
        let (status, page) = api.list(query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(page["total"], want, "{query}: {page}");
    }
    let (_, page) = api.list("limit=1&offset=1").await;
    assert_eq!(
        (page["tickets"].as_array().map(Vec::len), &page["limit"]),
        (Some(1), &json!(1))
    );
    assert_eq!(page["tickets"][0]["id"], urgent["id"], "newest first");
}

/// A ticket route.
struct Route {
    method: Method,
    /// The path as the OpenAPI document writes it.
    documented: &'static str,
    /// The path as called; `{n}` stands for the test ticket's number.
    called: &'static str,
    body: Option<Value>,
    /// The lowest role allowed.
    required: Role,
}

fn route(
    method: Method,
    documented: &'static str,
    called: &'static str,
    body: Option<Value>,
    required: Role,
) -> Route {
    Route {
        method,
        documented,
        called,
        body,
        required,
    }
}

/// Every ticket route, with a request each role may or may not make.
fn routes() -> Vec<Route> {
    let (operator, supervisor) = (Role::Operator, Role::Supervisor);
    let one = "/api/tickets/{ticket}";
    vec![
        route(Method::GET, "/api/tickets", "/api/tickets", None, operator),
        route(
            Method::POST,
            "/api/tickets",
            "/api/tickets",
            Some(repair()),
            operator,
        ),
        route(Method::GET, one, "/api/tickets/{n}", None, operator),
        route(
            Method::PATCH,
            one,
            "/api/tickets/{n}",
            Some(json!({"assignee": "老李", "description": "厨房和卫生间漏水"})),
            operator,
        ),
        route(
            Method::PATCH,
            one,
            "/api/tickets/{n}",
            Some(json!({"priority": "normal"})),
            supervisor,
        ),
        route(
            Method::POST,
            "/api/tickets/{ticket}/transitions",
            "/api/tickets/{n}/transitions",
            Some(json!({"action": "dispatch"})),
            operator,
        ),
        route(
            Method::POST,
            "/api/tickets/{ticket}/comments",
            "/api/tickets/{n}/comments",
            Some(json!({"text": "已联系业主"})),
            operator,
        ),
        route(
            Method::POST,
            "/api/tickets/{ticket}/calls",
            "/api/tickets/{n}/calls",
            Some(json!({"call_id": CALL_ID})),
            operator,
        ),
        route(
            Method::GET,
            "/api/departments",
            "/api/departments",
            None,
            operator,
        ),
        route(
            Method::GET,
            "/api/categories",
            "/api/categories?kind=complaint",
            None,
            operator,
        ),
    ]
}

#[tokio::test]
async fn every_role_meets_every_ticket_route_as_the_table_says() {
    let api = Harness::start().await;
    let ticket = api.create(repair()).await;
    let number = ticket["number"].as_str().expect("number");
    for Route {
        method,
        called,
        body,
        required,
        ..
    } in routes()
    {
        let path = called.replace("{n}", number);
        let (status, answer) = api.call(method.clone(), &path, None, body.clone()).await;
        assert_error(status, &answer, StatusCode::UNAUTHORIZED, "unauthorized");
        for role in Role::ALL {
            let (status, answer) = api.as_role(role, method.clone(), &path, body.clone()).await;
            if role.at_least(required) {
                assert!(
                    status.is_success(),
                    "{role} {method} {path}: {status} {answer}"
                );
            } else {
                assert_error(status, &answer, StatusCode::FORBIDDEN, "forbidden");
                assert_eq!(answer["field"], "priority", "the field is named");
            }
        }
    }
    let (_, detail) = api
        .as_role(
            Role::Operator,
            Method::GET,
            &format!("/api/tickets/{number}"),
            None,
        )
        .await;
    assert_eq!(detail["ticket"]["priority"], "normal");
    let (_, categories) = api
        .as_role(
            Role::Operator,
            Method::GET,
            "/api/categories?kind=complaint",
            None,
        )
        .await;
    let categories = categories.as_array().expect("array");
    assert!(categories.iter().all(|c| c["kind"] == "complaint"));
    assert!(
        categories
            .iter()
            .any(|c| c["code"] == "noise" && c["department"] == "security")
    );
}

#[tokio::test]
async fn bad_input_gets_a_json_error_naming_the_field() {
    let api = Harness::start().await;
    let ticket = api.create(repair()).await;
    let number = ticket["number"].as_str().expect("number");
    let with = |changes: Value| {
        let mut body = repair();
        for (key, value) in changes.as_object().expect("object") {
            body[key] = value.clone();
        }
        body
    };
    let mut no_description = repair();
    no_description
        .as_object_mut()
        .expect("object")
        .remove("description");
    for (body, field) in [
        (with(json!({"colour": "red"})), "colour"),
        (with(json!({"kind": "plumbing"})), "kind"),
        (with(json!({"community": "jf"})), "community"),
        (with(json!({"room": "楼下"})), "room"),
        (with(json!({"category": "noise"})), "category"),
        (with(json!({"category": "no_such"})), "category"),
        (with(json!({"department": "kitchen"})), "department"),
        (with(json!({"grade": "major"})), "grade"),
        (with(json!({"fee_cents": 500})), "fee_cents"),
        (
            with(json!({"kind": "paid_service", "category": "home_repair", "fee_cents": -100})),
            "fee_cents",
        ),
        (with(json!({"reporter_phone": "12"})), "reporter_phone"),
        (with(json!({"description": "   "})), "description"),
        (no_description, "description"),
    ] {
        let (status, answer) = api
            .as_role(Role::Operator, Method::POST, "/api/tickets", Some(body))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert_names(status, &answer, field);
    }

    for (query, field) in [
        ("kind=plumbing", "kind"),
        ("kind=repair&kind=plumbing", "kind"),
        ("status=finished", "status"),
        ("created_from=yesterday", "created_from"),
        ("created_until=2026-13-01T00:00:00Z", "created_until"),
        ("overdue=sometimes", "overdue"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("reporter_phone=abc", "reporter_phone"),
        ("page=2", "page"),
    ] {
        let (status, answer) = api
            .as_role(
                Role::Operator,
                Method::GET,
                &format!("/api/tickets?{query}"),
                None,
            )
            .await;
        assert_error(status, &answer, StatusCode::BAD_REQUEST, "invalid_query");
        assert_eq!(answer["field"], field, "{query}: {answer}");
    }
    let (status, answer) = api
        .as_role(
            Role::Operator,
            Method::GET,
            "/api/categories?kind=plumbing",
            None,
        )
        .await;
    assert_names(status, &answer, "kind");

    // A control character (U+0000 first: PostgreSQL cannot store it) is
    // refused the same way on both engines, naming the field, in bodies
    // and in queries alike.
    for (body, field) in [
        (with(json!({"description": "漏水\u{0}"})), "description"),
        (
            with(json!({"reporter_name": "王\u{1b}芳"})),
            "reporter_name",
        ),
        (with(json!({"location": "3栋\u{7f}"})), "location"),
    ] {
        let (status, answer) = api
            .as_role(Role::Operator, Method::POST, "/api/tickets", Some(body))
            .await;
        assert_error(
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "control_character",
        );
        assert_eq!(answer["field"], field, "{answer}");
    }
    let comment = api
        .as_role(
            Role::Operator,
            Method::POST,
            &format!("/api/tickets/{number}/comments"),
            Some(json!({"text": "已联系\u{0}"})),
        )
        .await;
    assert_error(
        comment.0,
        &comment.1,
        StatusCode::UNPROCESSABLE_ENTITY,
        "control_character",
    );
    for query in [
        "community=%00",
        "text=%E6%BC%8F%00",
        "reporter_phone=138%00",
    ] {
        let (status, answer) = api
            .as_role(
                Role::Operator,
                Method::GET,
                &format!("/api/tickets?{query}"),
                None,
            )
            .await;
        assert_error(
            status,
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "control_character",
        );
    }

    let transitions = format!("/api/tickets/{number}/transitions");
    for (body, field) in [
        (json!({"action": "explode"}), "action"),
        (json!({"action": "cancel"}), "reason"),
        (json!({"action": "cancel", "reason": "  "}), "reason"),
        (json!({"action": "dispatch", "reason": "重复"}), "reason"),
        (
            json!({"action": "dispatch", "expected_version": "one"}),
            "expected_version",
        ),
        (json!({"action": "dispatch", "by": "me"}), "by"),
    ] {
        let (status, answer) = api
            .as_role(Role::Operator, Method::POST, &transitions, Some(body))
            .await;
        assert_names(status, &answer, field);
    }
    let patch = format!("/api/tickets/{number}");
    for (body, field) in [
        (json!({"kind": "complaint"}), "kind"),
        (json!({"category": "parking"}), "category"),
        (json!({"description": ""}), "description"),
        (json!({"grade": "major"}), "grade"),
        (json!({"fee_cents": -1}), "fee_cents"),
    ] {
        let (status, answer) = api
            .as_role(Role::Supervisor, Method::PATCH, &patch, Some(body))
            .await;
        assert_names(status, &answer, field);
    }
    let (status, answer) = api
        .as_role(
            Role::Operator,
            Method::POST,
            &format!("/api/tickets/{number}/comments"),
            Some(json!({"text": " "})),
        )
        .await;
    assert_names(status, &answer, "text");
    let (status, answer) = api
        .as_role(
            Role::Operator,
            Method::POST,
            &format!("/api/tickets/{number}/calls"),
            Some(json!({"call_id": "no-such-call"})),
        )
        .await;
    assert_names(status, &answer, "call_id");

    for key in [
        "0190a5b8-0000-7000-8000-000000000000",
        "JF-20000101-0001",
        "nothing-like-a-ticket",
    ] {
        for (method, path, body) in [
            (Method::GET, format!("/api/tickets/{key}"), None),
            (
                Method::POST,
                format!("/api/tickets/{key}/transitions"),
                Some(json!({"action": "dispatch"})),
            ),
            (
                Method::POST,
                format!("/api/tickets/{key}/comments"),
                Some(json!({"text": "x"})),
            ),
        ] {
            let (status, answer) = api.as_role(Role::Operator, method, &path, body).await;
            assert_error(status, &answer, StatusCode::NOT_FOUND, "not_found");
        }
    }
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_ticket_routes_served() {
    let api = Harness::start().await;
    let (status, document) = api.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        let ours = ["/api/tickets", "/api/departments", "/api/categories"]
            .iter()
            .any(|prefix| path.starts_with(prefix));
        for (method, operation) in item.as_object().expect("path item") {
            if !ours || !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
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
    let table: BTreeSet<_> = routes()
        .into_iter()
        .map(|route| (route.method.to_string(), route.documented.to_string()))
        .collect();
    assert_eq!(documented, table);

    // Every schema referred to is in the document.
    let text = document.to_string();
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().expect("a name");
        assert!(schemas.contains_key(name), "{name} is referred to");
    }
    for name in ["TicketView", "TicketDetail", "ConflictBody", "TicketKind"] {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert_eq!(
        schemas["ActionKind"]["enum"],
        json!([
            "dispatch",
            "start",
            "resolve",
            "follow_up",
            "close",
            "hold",
            "resume",
            "reopen",
            "cancel"
        ])
    );
}

//! The operators' API over the wire: the real router and a real operators'
//! board served on 127.0.0.1 port 0 in-process. Listing operators, setting
//! states with the role rules, the queue, and the live WebSocket: its three
//! ways of authenticating and what each role receives.
//!
//! The store is SQLite in a temporary directory; with `HOTLINE_TEST_PG` set
//! each test runs on a fresh PostgreSQL database instead.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hotline::api::{ApiConfig, ApiState};
use hotline::desk::call_log::CallLog;
use hotline::desk::users::{Role, Users};
use hotline::events::Bus;
use hotline::store::BindingRow;
use hotline::telephony::{QueueConfig, start_board};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "correct horse";
/// How long a test waits for a WebSocket message before it fails.
const WAIT: Duration = Duration::from_secs(5);

struct Harness {
    api: common::api::Served,
    ws: String,
    _board: tokio_util::sync::DropGuard,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_with_phones(&[]).await
    }

    /// Like `start`, with a registered phone for each of `with_phones` in
    /// the store before the board starts (so they are available).
    async fn start_with_phones(with_phones: &[&str]) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = common::open_store(dir.path()).await;
        let users = Users::new(store.clone());
        for (name, role) in [
            ("zhang", Role::Operator),
            ("li", Role::Operator),
            ("boss", Role::Supervisor),
        ] {
            let user = users
                .add(name, None, role, PASSWORD)
                .await
                .expect("add user");
            if with_phones.contains(&name) {
                store
                    .upsert_binding(&BindingRow {
                        user_id: user.id.clone(),
                        contact: format!("sip:{name}@127.0.0.1:5062"),
                        source: "127.0.0.1:5062".to_string(),
                        transport: "UDP".to_string(),
                        call_id: format!("reg-{name}"),
                        cseq: 1,
                        user_agent: None,
                        instance: None,
                        registered_at: 1,
                        expires_at: hotline::store::unix_millis(std::time::SystemTime::now())
                            + 86_400_000,
                        unreachable_since: None,
                        node: "node-1".to_string(),
                    })
                    .await
                    .expect("binding");
            }
        }
        let bus = Bus::default();
        let shutdown = CancellationToken::new();
        let (board, _task) = start_board(
            &QueueConfig::default(),
            &store,
            bus.clone(),
            shutdown.clone(),
        )
        .await
        .expect("board");
        let state = ApiState::new(ApiConfig::default(), users, CallLog::new(store))
            .with_operators(Arc::new(board), bus);
        let api = common::api::Served::start(state).await;
        Harness {
            ws: format!("{}/api/live", api.base.replacen("http", "ws", 1)),
            api,
            _board: shutdown.drop_guard(),
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.api.call(method, path, token, body).await
    }

    async fn token(&self, username: &str) -> String {
        self.api.token(username, PASSWORD).await
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next JSON message on a socket, or `None` when it closed.
async fn next_json(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")?;
        match message.expect("a frame") {
            Message::Text(text) => return Some(serde_json::from_str(text.as_str()).expect("JSON")),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// The next message of this type, skipping others.
async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let message = next_json(socket).await.expect("socket open");
        if message["type"] == kind {
            return message;
        }
    }
}

async fn connect_with_protocol(harness: &Harness, token: &str) -> Socket {
    let mut request = harness.ws.as_str().into_client_request().expect("request");
    let protocols = format!("hotline.live, bearer.{token}");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(&protocols).expect("header"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("hotline.live")
    );
    socket
}

#[tokio::test]
async fn operators_are_listed_and_set_their_own_state_supervisors_anyones() {
    let api = Harness::start().await;
    let zhang = api.token("zhang").await;
    let boss = api.token("boss").await;
    let (status, list) = api
        .call(Method::GET, "/api/operators", Some(&zhang), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let names: Vec<&str> = list["operators"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(names, ["boss", "li", "zhang"], "call takers only, by name");
    assert_eq!(list["operators"][2]["state"], "offline");
    assert_eq!(list["operators"][2]["state_label"], "离线");
    let lunch = json!({"state": "break", "reason": "用餐"});
    let (status, zhang_after) = api
        .call(
            Method::PUT,
            "/api/operators/zhang/state",
            Some(&zhang),
            Some(lunch.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{zhang_after}");
    assert_eq!(zhang_after["name"], "zhang");
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/operators/li/state",
            Some(&zhang),
            Some(lunch.clone()),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _) = api
        .call(
            Method::PUT,
            "/api/operators/li/state",
            Some(&boss),
            Some(lunch),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/operators/li/state",
            Some(&boss),
            Some(json!({"state": "break"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/operators/li/state",
            Some(&boss),
            Some(json!({"state": "on_call"})),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("state"))
    );
    let (status, body) = api
        .call(
            Method::PUT,
            "/api/operators/nobody/state",
            Some(&boss),
            Some(json!({"state": "available"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _) = api.call(Method::GET, "/api/operators", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, queue) = api
        .call(Method::GET, "/api/queue", Some(&zhang), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queue, json!({"calls": [], "longest_wait_ms": 0}));
}

#[tokio::test]
async fn the_live_socket_authenticates_by_subprotocol_header_or_first_message() {
    let api = Harness::start().await;
    let zhang = api.token("zhang").await;
    let mut by_protocol = connect_with_protocol(&api, &zhang).await;
    let hello = next_json(&mut by_protocol).await.expect("hello");
    assert_eq!(
        (hello["type"].as_str(), hello["user"].as_str()),
        (Some("hello"), Some("zhang"))
    );

    let mut request = api.ws.as_str().into_client_request().expect("request");
    request.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {zhang}")).expect("header"),
    );
    let (mut by_header, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    assert_eq!(
        next_json(&mut by_header).await.expect("hello")["type"],
        "hello"
    );

    let (mut by_message, _) = tokio_tungstenite::connect_async(api.ws.as_str())
        .await
        .expect("upgrade");
    by_message
        .send(Message::text(
            json!({"type": "auth", "token": zhang}).to_string(),
        ))
        .await
        .expect("send");
    assert_eq!(
        next_json(&mut by_message).await.expect("hello")["type"],
        "hello"
    );

    let (mut wrong, _) = tokio_tungstenite::connect_async(api.ws.as_str())
        .await
        .expect("upgrade");
    wrong
        .send(Message::text(
            json!({"type": "auth", "token": "0".repeat(64)}).to_string(),
        ))
        .await
        .expect("send");
    let error = next_json(&mut wrong).await.expect("an error first");
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("error"), Some("invalid_token"))
    );
    assert!(
        next_json(&mut wrong).await.is_none(),
        "then the socket closes"
    );

    let mut request = api.ws.as_str().into_client_request().expect("request");
    request.headers_mut().insert(
        "Authorization",
        HeaderValue::from_static("Bearer not-a-token"),
    );
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 401)
        }
        other => panic!("a bad token with the upgrade is refused: {other:?}"),
    }
}

#[tokio::test]
async fn an_operator_hears_their_own_state_and_a_supervisor_everyones() {
    let api = Harness::start_with_phones(&["zhang", "li"]).await;
    let zhang = api.token("zhang").await;
    let boss = api.token("boss").await;
    let mut zhang_socket = connect_with_protocol(&api, &zhang).await;
    let mut boss_socket = connect_with_protocol(&api, &boss).await;
    next_of(&mut zhang_socket, "hello").await;
    next_of(&mut boss_socket, "hello").await;
    for (name, reason) in [("li", "培训"), ("zhang", "小休")] {
        let (status, body) = api
            .call(
                Method::PUT,
                &format!("/api/operators/{name}/state"),
                Some(&boss),
                Some(json!({"state": "break", "reason": reason})),
            )
            .await;
        assert_eq!(
            (status, body["state"].as_str()),
            (StatusCode::OK, Some("break"))
        );
    }
    let li = next_of(&mut boss_socket, "operator.state").await;
    let zhang_seen_by_boss = next_of(&mut boss_socket, "operator.state").await;
    assert_eq!(
        (li["operator"].as_str(), li["reason"].as_str()),
        (Some("li"), Some("培训"))
    );
    assert_eq!(zhang_seen_by_boss["operator"], "zhang");
    let own = next_of(&mut zhang_socket, "operator.state").await;
    assert_eq!(
        (
            own["operator"].as_str(),
            own["state"].as_str(),
            own["reason"].as_str()
        ),
        (Some("zhang"), Some("break"), Some("小休")),
        "zhang hears only their own change, not li's"
    );
}

#[tokio::test]
async fn the_document_lists_the_operators_routes() {
    let api = Harness::start().await;
    let (_, document) = api.call(Method::GET, "/api/openapi.json", None, None).await;
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        if ["/api/operators", "/api/queue", "/api/live"]
            .iter()
            .any(|p| path.starts_with(p))
        {
            for method in item.as_object().expect("item").keys() {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert_eq!(
        documented,
        BTreeSet::from([
            "GET /api/live".to_string(),
            "GET /api/operators".to_string(),
            "GET /api/queue".to_string(),
            "PUT /api/operators/{name}/state".to_string(),
        ])
    );
}

//! HTTP API test support: the real router served in-process on 127.0.0.1
//! port 0, and requests that read every answer as JSON (as the API
//! promises). The `tests/api_*.rs` harnesses build their state and hold a
//! [`Served`].

use hotline::api::{self, ApiState};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

/// A served API; it stops when this is dropped.
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Served {
    /// Serves `state`'s router until the returned value is dropped.
    pub async fn start(state: ApiState) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(api::serve(listener, api::router(state), async move {
            let _ = stopped.await;
        }));
        Served {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            _stop: stop,
        }
    }

    /// A request; `token` as bearer, `body` as JSON. Returns status and JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call_with(&self.client, &self.base, method, path, token, body).await
    }

    /// Logs in; the token of the session.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let body = serde_json::json!({"username": username, "password": password});
        let (status, answer) = self
            .call(Method::POST, "/api/login", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["token"].as_str().expect("token").to_string()
    }
}

/// A request through `client` to the API at `base`.
pub async fn call_with(
    client: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    read(request.send().await.expect("send")).await
}

/// Status and body; every answer of the API is JSON (204 has none).
pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    if status == StatusCode::NO_CONTENT {
        return (status, Value::Null);
    }
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{status}: not JSON ({err}): {text:?}"));
    (status, body)
}

//! `GET /api/live`: a WebSocket of JSON events (each with a `type`) for the
//! console and the wallboard. An operator receives their own calls
//! (`call.offered` — the screen pop —, `call.answered`, `call.ended`) and
//! state changes; supervisors and administrators receive every operator's
//! and the queue's (`queue.joined`, `queue.left`).
//!
//! A browser cannot set headers on a WebSocket, so the login token comes
//! one of three ways: `Authorization: Bearer` (other clients), the
//! subprotocol list `Sec-WebSocket-Protocol: hotline.live, bearer.<token>`
//! (we answer `hotline.live`), or the first message
//! `{"type":"auth","token":"…"}` within [`AUTH_WAIT`]. Tokens are never
//! logged. The token is checked again every [`RECHECK_EVERY`]: a logout or
//! an expiry ends the socket.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::{ApiError, ErrorBody};
use crate::desk::users::{AuthUser, Role};
use crate::events::{Audience, Event};

/// The subprotocol we speak and answer with.
pub(crate) const SUBPROTOCOL: &str = "hotline.live";
/// The prefix of the subprotocol entry that carries the token.
const TOKEN_PROTOCOL_PREFIX: &str = "bearer.";
/// How long a socket without a token may take to send its auth message.
pub(crate) const AUTH_WAIT: Duration = Duration::from_secs(10);
/// How often the token is checked again while the socket is open.
pub(crate) const RECHECK_EVERY: Duration = Duration::from_secs(60);
/// WebSocket close code for a policy violation (RFC 6455 §7.4.1).
const CLOSE_POLICY: u16 = 1008;

pub(crate) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(live))
}

/// The first message of a client that sent no token with the upgrade.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthMessage {
    /// Always `auth`.
    #[serde(rename = "type")]
    kind: String,
    token: String,
}

impl AuthMessage {
    fn read(text: &str) -> Option<AuthMessage> {
        serde_json::from_str::<AuthMessage>(text)
            .ok()
            .filter(|message| message.kind == "auth")
    }
}

/// Live events over a WebSocket.
#[utoipa::path(
    get, path = "/api/live", tag = "operators",
    responses(
        (status = 101, description = "Switching to the WebSocket; JSON events follow"),
        (status = 401, description = "A token was given with the upgrade and is not valid", body = ErrorBody),
    )
)]
async fn live(
    State(state): State<ApiState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Fail before the upgrade when the board is missing or the token given
    // with the upgrade is bad: the client sees an HTTP status.
    state.bus()?;
    let offered_protocols = protocols(&headers);
    let authed = match upgrade_token(&headers, &offered_protocols) {
        Some(token) => Some((
            state.users().authenticate(&token, state.now()).await?,
            token,
        )),
        None => None,
    };
    let upgrade = if offered_protocols.iter().any(|p| p == SUBPROTOCOL) {
        upgrade.protocols([SUBPROTOCOL])
    } else {
        upgrade
    };
    Ok(upgrade
        .on_upgrade(move |socket| serve_socket(state, socket, authed))
        .into_response())
}

/// The entries of `Sec-WebSocket-Protocol`.
fn protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// A token sent with the upgrade: the bearer header, else a subprotocol.
fn upgrade_token(headers: &HeaderMap, protocols: &[String]) -> Option<String> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string());
    bearer.or_else(|| {
        protocols
            .iter()
            .find_map(|p| p.strip_prefix(TOKEN_PROTOCOL_PREFIX))
            .map(str::to_string)
    })
}

/// Whether `user` may receive `event`.
pub(crate) fn may_see(user: &AuthUser, event: &Event) -> bool {
    if user.role.at_least(Role::Supervisor) {
        return true;
    }
    match event.audience() {
        Audience::Operator(name) => name == user.username,
        Audience::Supervisors => false,
    }
}

/// A socket's user and the token they came with (kept to check it again;
/// never logged).
type Authed = (AuthUser, String);

async fn serve_socket(state: ApiState, mut socket: WebSocket, authed: Option<Authed>) {
    let authed = match authed {
        Some(authed) => authed,
        None => match first_message_auth(&state, &mut socket).await {
            Some(authed) => authed,
            None => return close(socket, "invalid_token").await,
        },
    };
    let (user, token) = authed;
    let Ok(bus) = state.bus() else { return };
    let mut events = bus.subscribe();
    let hello = serde_json::json!({
        "type": "hello",
        "user": user.username,
        "role": user.role.as_str(),
    });
    if send_json(&mut socket, &hello).await.is_err() {
        return;
    }
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.tick().await;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) if may_see(&user, &event) => {
                    if send_json(&mut socket, event.as_ref()).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    let lagged = serde_json::json!({"type": "lagged", "missed": missed});
                    if send_json(&mut socket, &lagged).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return close(socket, "shutdown").await,
            },
            message = socket.recv() => match message {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                // Pings are answered by the library; anything else is ignored.
                Some(Ok(_)) => {}
            },
            _ = recheck.tick() => {
                if state.users().authenticate(&token, state.now()).await.is_err() {
                    return close(socket, "token_expired").await;
                }
            }
        }
    }
}

async fn first_message_auth(state: &ApiState, socket: &mut WebSocket) -> Option<Authed> {
    let message = tokio::time::timeout(AUTH_WAIT, socket.recv())
        .await
        .ok()??
        .ok()?;
    let Message::Text(text) = message else {
        return None;
    };
    let auth = AuthMessage::read(text.as_str())?;
    let user = state
        .users()
        .authenticate(&auth.token, state.now())
        .await
        .ok()?;
    Some((user, auth.token))
}

async fn send_json<T: serde::Serialize + ?Sized>(
    socket: &mut WebSocket,
    value: &T,
) -> Result<(), axum::Error> {
    let text = serde_json::to_string(value).map_err(axum::Error::new)?;
    socket.send(Message::Text(Utf8Bytes::from(text))).await
}

async fn close(mut socket: WebSocket, code: &'static str) {
    let error = serde_json::json!({"type": "error", "code": code});
    drop(send_json(&mut socket, &error).await);
    drop(
        socket
            .send(Message::Close(Some(CloseFrame {
                code: CLOSE_POLICY,
                reason: Utf8Bytes::from_static(code),
            })))
            .await,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn user(name: &str, role: Role) -> AuthUser {
        AuthUser {
            id: format!("id-{name}"),
            username: name.to_string(),
            role,
        }
    }

    fn state_of(operator: &str) -> Event {
        Event::OperatorState {
            operator: operator.to_string(),
            state: "available".to_string(),
            reason: None,
            call_id: None,
            since: 0,
        }
    }

    #[test]
    fn operators_see_their_own_events_and_supervisors_everything() {
        let queue = Event::QueueLeft {
            call_id: "c".to_string(),
            reason: "abandoned".to_string(),
            waiting: 0,
            longest_wait_ms: 0,
            at: 0,
        };
        let zhang = user("zhang", Role::Operator);
        assert!(may_see(&zhang, &state_of("zhang")));
        assert!(!may_see(&zhang, &state_of("li")));
        assert!(!may_see(&zhang, &queue));
        for role in [Role::Supervisor, Role::Admin] {
            let boss = user("boss", role);
            assert!(may_see(&boss, &state_of("li")));
            assert!(may_see(&boss, &queue));
        }
    }

    #[test]
    fn the_auth_message_is_read() {
        let auth = AuthMessage::read(r#"{"type":"auth","token":"abc"}"#).expect("reads");
        assert_eq!(auth.token, "abc");
        assert!(AuthMessage::read(r#"{"type":"hello","token":"abc"}"#).is_none());
        assert!(AuthMessage::read(r#"{"type":"auth","token":"abc","x":1}"#).is_none());
    }

    #[test]
    fn the_token_comes_from_the_bearer_header_or_a_subprotocol() {
        let mut headers = HeaderMap::new();
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("hotline.live, bearer.abc123"),
        );
        let offered = protocols(&headers);
        assert_eq!(offered, ["hotline.live", "bearer.abc123"]);
        assert_eq!(upgrade_token(&headers, &offered).as_deref(), Some("abc123"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer fromheader"));
        assert_eq!(
            upgrade_token(&headers, &offered).as_deref(),
            Some("fromheader")
        );
        assert_eq!(upgrade_token(&HeaderMap::new(), &[]), None);
    }
}

//! Starting the board: the operators (users with the role operator or
//! supervisor, enabled) and the phones the store still holds from before
//! a restart.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::events::Bus;
use crate::sip::Transport;
use crate::store::{BindingRow, Store, StoreError, unix_millis};

use super::board::{Board, OperatorInfo, Phone, PhoneTarget};
use super::config::QueueConfig;

/// Roles that take calls, as stored.
const CALL_TAKING_ROLES: [&str; 2] = ["operator", "supervisor"];

/// Starts the board over what the store holds; it stops on `shutdown`.
pub async fn start_board(
    config: &QueueConfig,
    store: &Store,
    bus: Bus,
    shutdown: CancellationToken,
) -> Result<(Board, tokio::task::JoinHandle<()>), StoreError> {
    let users = store.list_users().await?;
    let operators: Vec<OperatorInfo> = users
        .into_iter()
        .filter(|user| user.disabled_at.is_none())
        .filter(|user| CALL_TAKING_ROLES.contains(&user.role.as_str()))
        .map(|user| OperatorInfo {
            name: user.username,
            user_id: user.id,
            display_name: user.display_name,
        })
        .collect();
    let now = SystemTime::now();
    let phones = store
        .live_bindings(unix_millis(now))
        .await?
        .into_iter()
        .filter_map(|row| {
            let name = operators
                .iter()
                .find(|operator| operator.user_id == row.user_id)?
                .name
                .clone();
            Some((name, phone_from_row(&row)?))
        })
        .collect();
    Ok(Board::start(
        config,
        operators,
        phones,
        Some(store.clone()),
        bus,
        Arc::new(SystemTime::now),
        shutdown,
    ))
}

/// A stored binding as the board keeps it; `None` (logged) when a column
/// does not read.
pub(crate) fn phone_from_row(row: &BindingRow) -> Option<Phone> {
    let Ok(address) = row.source.parse() else {
        warn!(
            contact = row.contact,
            source = row.source,
            "unreadable binding source"
        );
        return None;
    };
    let transport = match row.transport.as_str() {
        "UDP" => Transport::Udp,
        "TCP" => Transport::Tcp,
        other => {
            warn!(
                contact = row.contact,
                transport = other,
                "unreadable binding transport"
            );
            return None;
        }
    };
    Some(Phone {
        target: PhoneTarget {
            contact: row.contact.clone(),
            address,
            transport,
        },
        user_agent: row.user_agent.clone(),
        registered_at: from_millis(row.registered_at),
        expires_at: from_millis(row.expires_at),
        reachable: row.unreachable_since.is_none(),
    })
}

fn from_millis(millis: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::{OperatorBoard, OperatorState};
    use crate::store::{NewUser, testing};

    #[tokio::test]
    async fn the_board_starts_with_the_call_takers_and_their_stored_phones() {
        let store = testing::sqlite().await;
        for (name, role) in [
            ("zhang", "operator"),
            ("boss", "supervisor"),
            ("root", "admin"),
        ] {
            store
                .insert_user(&NewUser {
                    id: format!("id-{name}"),
                    username: name.to_string(),
                    display_name: None,
                    role: role.to_string(),
                    password_hash: "x".to_string(),
                    created_at: 1,
                })
                .await
                .expect("user");
        }
        let expires_at = unix_millis(SystemTime::now()) + 60_000;
        store
            .upsert_binding(&BindingRow {
                user_id: "id-zhang".to_string(),
                contact: "sip:zhang@127.0.0.1:5062".to_string(),
                source: "127.0.0.1:5062".to_string(),
                transport: "UDP".to_string(),
                call_id: "r".to_string(),
                cseq: 1,
                user_agent: None,
                instance: None,
                registered_at: 1,
                expires_at,
                unreachable_since: None,
                node: "node-1".to_string(),
            })
            .await
            .expect("binding");
        let shutdown = CancellationToken::new();
        let (board, _task) = start_board(
            &QueueConfig::default(),
            &store,
            Bus::default(),
            shutdown.clone(),
        )
        .await
        .expect("started");
        let operators = board.operators().await.expect("running");
        let names: Vec<(&str, OperatorState)> = operators
            .iter()
            .map(|o| (o.name.as_str(), o.state))
            .collect();
        assert_eq!(
            names,
            [
                ("boss", OperatorState::Offline),
                ("zhang", OperatorState::Available)
            ]
        );
        shutdown.cancel();
    }
}

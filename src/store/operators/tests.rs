use super::*;
use crate::store::{NewUser, testing};

async fn user(store: &Store, name: &str) -> String {
    let id = format!("user-{name}");
    store
        .insert_user(&NewUser {
            id: id.clone(),
            username: name.to_string(),
            display_name: None,
            role: "operator".to_string(),
            password_hash: "x".to_string(),
            created_at: 1,
        })
        .await
        .expect("insert user");
    id
}

fn binding(user_id: &str, contact: &str, expires_at: i64) -> BindingRow {
    BindingRow {
        user_id: user_id.to_string(),
        contact: contact.to_string(),
        source: "127.0.0.1:5062".to_string(),
        transport: "UDP".to_string(),
        call_id: "reg-1".to_string(),
        cseq: 1,
        user_agent: Some("baresip".to_string()),
        instance: None,
        registered_at: 10,
        expires_at,
        unreachable_since: None,
        node: "node-a".to_string(),
    }
}

#[tokio::test]
async fn sip_credentials_are_set_replaced_and_read_with_their_user_on_both_engines() {
    for store in testing::stores().await {
        let id = user(&store, "zhang").await;
        assert_eq!(store.sip_credentials("zhang").await.expect("read"), None);
        store
            .set_sip_credentials(&id, "hotline", "md5-1", "sha-1", 5)
            .await
            .expect("set");
        store
            .set_sip_credentials(&id, "hotline", "md5-2", "sha-2", 6)
            .await
            .expect("replace");
        let row = store
            .sip_credentials("zhang")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(
            (row.ha1_md5.as_str(), row.ha1_sha256.as_str()),
            ("md5-2", "sha-2")
        );
        assert_eq!(row.role, "operator");
        assert!(!row.disabled);
        assert_eq!(store.all_sip_credentials().await.expect("all").len(), 1);
    }
}

#[tokio::test]
async fn bindings_are_refreshed_in_place_expire_and_are_removed_on_both_engines() {
    for store in testing::stores().await {
        let id = user(&store, "li").await;
        store
            .upsert_binding(&binding(&id, "sip:li@127.0.0.1:5062", 100))
            .await
            .expect("add");
        store
            .upsert_binding(&binding(&id, "sip:li@127.0.0.1:5064", 50))
            .await
            .expect("add");
        let mut refreshed = binding(&id, "sip:li@127.0.0.1:5062", 200);
        refreshed.cseq = 2;
        store.upsert_binding(&refreshed).await.expect("refresh");
        store
            .set_binding_unreachable(&id, "sip:li@127.0.0.1:5062", Some(70))
            .await
            .expect("mark");
        let live = store.live_bindings(60).await.expect("live");
        assert_eq!(live.len(), 1, "the one that expired at 50 is gone");
        assert_eq!(live[0].cseq, 2);
        assert_eq!(live[0].expires_at, 200);
        assert_eq!(live[0].unreachable_since, Some(70));
        assert!(
            store
                .delete_binding(&id, "sip:li@127.0.0.1:5062")
                .await
                .expect("delete")
        );
        assert!(
            !store
                .delete_binding(&id, "sip:li@127.0.0.1:5062")
                .await
                .expect("again")
        );
        assert!(store.live_bindings(60).await.expect("live").is_empty());
    }
}

#[tokio::test]
async fn operator_state_changes_are_logged_in_order_on_both_engines() {
    for store in testing::stores().await {
        let id = user(&store, "wang").await;
        for (n, state) in ["available", "ringing", "on_call"].into_iter().enumerate() {
            let row = OperatorStateRow {
                id: format!("s{n}"),
                user_id: id.clone(),
                state: state.to_string(),
                reason: None,
                call_id: None,
                at: 100 + n as i64,
            };
            store.insert_operator_state(&row).await.expect("insert");
        }
        let states = store.operator_states(&id, 101).await.expect("read");
        let names: Vec<&str> = states.iter().map(|s| s.state.as_str()).collect();
        assert_eq!(names, ["ringing", "on_call"]);
    }
}

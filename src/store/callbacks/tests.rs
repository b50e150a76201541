use super::*;
use crate::store::{CallWrite, NewCall, testing};

async fn call(store: &Store, id: &str) {
    let call = NewCall {
        id: id.to_string(),
        sip_call_id: format!("sip-{id}"),
        direction: "inbound".to_string(),
        caller_raw: "13800138000".to_string(),
        caller: Some("+8613800138000".to_string()),
        dialled: "96888".to_string(),
        community: Some("JF".to_string()),
        offered_at: 1,
        node: "node-a".to_string(),
    };
    let mut conn = store.pool().acquire().await.expect("connection");
    CallWrite::Offered { call, caller: None }
        .apply(&mut conn)
        .await
        .expect("call");
}

fn followup(id: &str, ticket: &str, due_at: i64) -> NewCallbackRow {
    NewCallbackRow {
        id: id.to_string(),
        reason: "followup".to_string(),
        status: "pending".to_string(),
        number: format!("+86138000{id}"),
        ticket_id: Some(ticket.to_string()),
        person_id: None,
        community: Some("JF".to_string()),
        note: None,
        assignee: None,
        created_by: "zhang".to_string(),
        due_at,
        created_at: 1,
    }
}

fn claim<'a>(node: &'a str, now: i64, limit: u32) -> Claim<'a> {
    Claim {
        node,
        now,
        lease_until: now + 600_000,
        limit,
        reasons: &["followup", "missed", "manual"],
    }
}

fn end(id: &str, attempt: i64, status: &str) -> AttemptEnd {
    AttemptEnd {
        callback_id: id.to_string(),
        attempt,
        ended_at: 50,
        outcome: "busy".to_string(),
        sip_status: Some(486),
        responses: "100 180 486".to_string(),
        call_id: None,
        digit: None,
        status: status.to_string(),
        due_at: 90,
        last_cause: Some("busy".to_string()),
        result: None,
    }
}

#[tokio::test]
async fn a_call_gets_one_missed_call_callback_at_most_on_both_engines() {
    for store in testing::stores().await {
        call(&store, "call-1").await;
        let entry = MissedCallback {
            id: "cb-1".to_string(),
            number: "+8613800138000".to_string(),
            call_id: "call-1".to_string(),
            community: Some("JF".to_string()),
            at: 5,
        };
        assert!(store.insert_missed_callback(&entry).await.expect("first"));
        let again = MissedCallback {
            id: "cb-2".to_string(),
            ..entry
        };
        assert!(!store.insert_missed_callback(&again).await.expect("second"));
        let pending = store
            .callbacks_with_status(CALLBACK_PENDING, 10)
            .await
            .expect("read");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].reason, CALLBACK_MISSED);
        assert_eq!(pending[0].due_at, 5);
    }
}

#[tokio::test]
async fn a_work_order_has_one_live_followup_at_most_on_both_engines() {
    for store in testing::stores().await {
        assert!(
            store
                .insert_callback(&followup("1", "t-1", 10))
                .await
                .expect("first")
        );
        assert!(
            !store
                .insert_callback(&followup("2", "t-1", 10))
                .await
                .expect("again")
        );
        let mut conn = store.pool().acquire().await.expect("connection");
        cancel_callbacks_of_ticket(&mut conn, "t-1", false, 20)
            .await
            .expect("cancel");
        drop(conn);
        assert_eq!(store.callback("1").await.expect("read").status, "cancelled");
        // Once the first is over, the order may be followed up again.
        assert!(
            store
                .insert_callback(&followup("3", "t-1", 10))
                .await
                .expect("new one")
        );
    }
}

#[tokio::test]
async fn due_callbacks_are_claimed_once_with_an_attempt_each_on_both_engines() {
    for store in testing::stores().await {
        for (id, due) in [("1", 10), ("2", 20), ("3", 1_000)] {
            store
                .insert_callback(&followup(id, &format!("t-{id}"), due))
                .await
                .expect("insert");
        }
        let first = store
            .claim_callbacks(&claim("node-a", 100, 1))
            .await
            .expect("claim");
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].id.as_str(), first[0].attempts), ("1", 1));
        assert_eq!(first[0].status, "dialing");
        assert_eq!(first[0].claimed_by.as_deref(), Some("node-a"));
        let second = store
            .claim_callbacks(&claim("node-b", 100, 10))
            .await
            .expect("claim");
        let ids: Vec<&str> = second.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["2"], "not yet due and already claimed ones stay");
        assert!(
            store
                .claim_callbacks(&claim("node-c", 100, 10))
                .await
                .expect("claim")
                .is_empty()
        );
        let attempts = store.callback_attempts("1").await.expect("attempts");
        assert_eq!(attempts.len(), 1);
        assert_eq!(
            (attempts[0].node.as_str(), attempts[0].started_at),
            ("node-a", 100)
        );
        assert_eq!(attempts[0].ended_at, None);
    }
}

#[tokio::test]
async fn an_attempt_ends_once_and_only_while_its_claim_holds_on_both_engines() {
    for store in testing::stores().await {
        store
            .insert_callback(&followup("1", "t-1", 10))
            .await
            .expect("insert");
        store
            .claim_callbacks(&claim("node-a", 100, 1))
            .await
            .expect("claim");
        // A stale attempt number is refused.
        assert!(
            !store
                .end_attempt(&end("1", 2, "retry_wait"))
                .await
                .expect("end")
        );
        assert!(
            store
                .end_attempt(&end("1", 1, "retry_wait"))
                .await
                .expect("end")
        );
        assert!(
            !store
                .end_attempt(&end("1", 1, "retry_wait"))
                .await
                .expect("twice")
        );
        let row = store.callback("1").await.expect("read");
        assert_eq!((row.status.as_str(), row.due_at), ("retry_wait", 90));
        assert_eq!(row.last_cause.as_deref(), Some("busy"));
        assert_eq!(row.claimed_by, None);
        let attempts = store.callback_attempts("1").await.expect("attempts");
        assert_eq!(attempts[0].outcome.as_deref(), Some("busy"));
        assert_eq!(attempts[0].responses, "100 180 486");
        // Due again: the second claim opens the second attempt.
        let again = store
            .claim_callbacks(&claim("node-b", 100, 1))
            .await
            .expect("claim");
        assert_eq!(again[0].attempts, 2);
    }
}

#[tokio::test]
async fn a_dead_nodes_claims_are_found_by_its_name_or_their_lease_on_both_engines() {
    for store in testing::stores().await {
        store
            .insert_callback(&followup("1", "t-1", 10))
            .await
            .expect("insert");
        store
            .insert_callback(&followup("2", "t-2", 10))
            .await
            .expect("insert");
        let mut a = claim("node-a", 100, 1);
        a.lease_until = 200;
        store.claim_callbacks(&a).await.expect("claim");
        store
            .claim_callbacks(&claim("node-b", 100, 1))
            .await
            .expect("claim");
        let of_b = store.void_claims("node-b", 150).await.expect("void");
        assert_eq!(
            of_b.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["2"]
        );
        let expired = store.void_claims("node-c", 201).await.expect("void");
        assert_eq!(
            expired.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["1"]
        );
    }
}

#[tokio::test]
async fn a_manual_result_closes_only_an_open_callback_on_both_engines() {
    for store in testing::stores().await {
        store
            .insert_callback(&followup("1", "t-1", 10))
            .await
            .expect("insert");
        assert!(
            store
                .close_callback("1", "done", Some("satisfied"), "li", 30)
                .await
                .expect("close")
        );
        assert!(
            !store
                .close_callback("1", "cancelled", None, "li", 31)
                .await
                .expect("again")
        );
        let row = store.callback("1").await.expect("read");
        assert_eq!(row.result.as_deref(), Some("satisfied"));
        assert_eq!(row.completed_by.as_deref(), Some("li"));
        let listed = store
            .list_callbacks(&CallbackQuery {
                status: Some("done".to_string()),
                community: Some("JF".to_string()),
                due_before: Some(11),
                limit: 10,
                ..CallbackQuery::default()
            })
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
    }
}

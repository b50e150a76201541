//! The callback service against a real store, on SQLite and PostgreSQL.

use chrono::TimeZone;
use chrono_tz::Asia::Shanghai;

use super::*;
use crate::desk::callbacks::CallingHours;
use crate::desk::{
    CommunityCode, DeskConfig, NewTicketRequest, Priority, StatusKind, TicketAction, TicketKind,
    TicketSource,
};
use crate::store::testing;

fn sh(d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(2026, 11, d, h, min, 0)
        .single()
        .expect("a moment")
        .with_timezone(&Utc)
}

fn config() -> CallbacksConfig {
    let mut config = CallbacksConfig {
        calling_hours: CallingHours::ALL_DAY,
        ..CallbacksConfig::default()
    };
    if let Some(repair) = config.policy.get_mut("repair") {
        repair.after = std::time::Duration::ZERO;
    }
    config
}

async fn services() -> Vec<(Tickets, Callbacks)> {
    testing::stores()
        .await
        .into_iter()
        .map(|store| {
            let tickets =
                Tickets::new(store.clone(), DeskConfig::default()).with_callbacks(config());
            let callbacks = Callbacks::new(store, tickets.clone(), config(), Shanghai);
            (tickets, callbacks)
        })
        .collect()
}

async fn resolved_repair(tickets: &Tickets, at: DateTime<Utc>) -> Uuid {
    let request = NewTicketRequest {
        community: CommunityCode::new("JF").expect("valid"),
        kind: TicketKind::Repair,
        priority: Priority::Normal,
        grade: None,
        source: TicketSource::PhoneCall,
        category: None,
        room: None,
        location: None,
        reporter_name: Some("王芳".into()),
        reporter_phone: Some("13812345678".into()),
        person_id: None,
        description: "楼道灯不亮".into(),
        department: None,
        assignee: None,
        fee_cents: None,
        paid: false,
        call_id: None,
    };
    let id = tickets
        .create(request, "op1", at)
        .await
        .expect("create")
        .ticket
        .id;
    tickets
        .transition(id, TicketAction::Resolve, "op1", None, None, at)
        .await
        .expect("resolve");
    id
}

fn failed(outcome: AttemptOutcome, status: u16) -> AttemptReport {
    AttemptReport {
        outcome,
        sip_status: Some(status),
        responses: vec![100, status],
        call_id: None,
        digit: None,
        satisfaction: None,
    }
}

#[tokio::test]
async fn a_survey_answered_with_1_completes_the_callback_and_follows_up_the_order() {
    for (tickets, callbacks) in services().await {
        let ticket = resolved_repair(&tickets, sh(9, 10, 0)).await;
        let claimed = callbacks
            .claim("node-a", &[CallbackReason::Followup], 10, sh(9, 10, 0))
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].attempt, 1);
        let report = AttemptReport {
            outcome: AttemptOutcome::Answered,
            sip_status: Some(200),
            responses: vec![100, 180, 200],
            call_id: None,
            digit: Some('1'),
            satisfaction: Some(Satisfaction::Satisfied),
        };
        assert!(
            callbacks
                .finish(&claimed[0], &report, sh(9, 10, 1))
                .await
                .expect("finish")
        );
        let (view, attempts) = callbacks.get(&claimed[0].callback.id).await.expect("get");
        assert_eq!(view.status, "done");
        assert_eq!(view.result.as_deref(), Some("satisfied"));
        assert_eq!(attempts[0].responses, "100 180 200");
        assert_eq!(attempts[0].digit.as_deref(), Some("1"));
        let order = tickets.get(ticket).await.expect("ticket");
        assert_eq!(order.ticket.status.kind(), StatusKind::FollowedUp);
        assert_eq!(order.satisfaction, Some(Satisfaction::Satisfied));
        // Done once: the same report again writes nothing.
        assert!(
            !callbacks
                .finish(&claimed[0], &report, sh(9, 10, 2))
                .await
                .expect("again")
        );
    }
}

#[tokio::test]
async fn failed_attempts_back_off_and_the_last_one_leaves_a_manual_task() {
    for (tickets, callbacks) in services().await {
        resolved_repair(&tickets, sh(9, 10, 0)).await;
        let mut now = sh(9, 10, 0);
        let mut dues = Vec::new();
        for (outcome, status) in [
            (AttemptOutcome::Busy, 486),
            (AttemptOutcome::NoAnswer, 487),
            (AttemptOutcome::Busy, 486),
        ] {
            let claimed = callbacks
                .claim("node-a", &[CallbackReason::Followup], 10, now)
                .await
                .expect("claim");
            assert_eq!(claimed.len(), 1, "due again at {now}");
            callbacks
                .finish(&claimed[0], &failed(outcome, status), now)
                .await
                .expect("finish");
            let (view, _) = callbacks.get(&claimed[0].callback.id).await.expect("get");
            dues.push((view.status.clone(), (view.due_at - now).num_minutes()));
            // Not due before its back-off.
            assert!(
                callbacks
                    .claim("node-a", &[CallbackReason::Followup], 10, now)
                    .await
                    .expect("claim")
                    .is_empty()
            );
            now = view.due_at;
        }
        assert_eq!(
            dues,
            [
                ("retry_wait".to_owned(), 30),
                ("retry_wait".to_owned(), 120),
                ("manual".to_owned(), 0)
            ]
        );
    }
}

#[tokio::test]
async fn a_claim_of_a_node_that_died_counts_as_an_interrupted_attempt() {
    for (tickets, callbacks) in services().await {
        resolved_repair(&tickets, sh(9, 10, 0)).await;
        let claimed = callbacks
            .claim("node-a", &[CallbackReason::Followup], 10, sh(9, 10, 0))
            .await
            .expect("claim");
        // node-a restarts: its claim is void, the attempt interrupted, and
        // the callback waits its back-off (never dialled twice at once).
        assert_eq!(
            callbacks
                .recover("node-a", sh(9, 10, 1))
                .await
                .expect("recover"),
            1
        );
        let (view, attempts) = callbacks.get(&claimed[0].callback.id).await.expect("get");
        assert_eq!(view.status, "retry_wait");
        assert_eq!(view.last_cause.as_deref(), Some("interrupted"));
        assert_eq!(attempts[0].outcome.as_deref(), Some("interrupted"));
        // The dead dialer's late report is refused.
        let late = failed(AttemptOutcome::Busy, 486);
        assert!(
            !callbacks
                .finish(&claimed[0], &late, sh(9, 10, 2))
                .await
                .expect("late")
        );
    }
}

#[tokio::test]
async fn manual_callbacks_are_scheduled_cancelled_and_given_a_result_by_hand() {
    for (tickets, callbacks) in services().await {
        let ticket = resolved_repair(&tickets, sh(9, 10, 0)).await;
        let manual = callbacks
            .schedule(
                NewManualCallback {
                    number: "0871-65123456".into(),
                    ticket_id: None,
                    community: Some("JF".into()),
                    due_at: sh(9, 15, 0),
                    note: Some("业主要求下午回电".into()),
                    assignee: Some("li".into()),
                },
                "zhang",
                sh(9, 10, 0),
            )
            .await
            .expect("schedule");
        assert_eq!(manual.reason, "manual");
        assert_eq!(manual.due_at, sh(9, 15, 0));
        let cancelled = callbacks
            .cancel(&manual.id, "zhang", sh(9, 11, 0))
            .await
            .expect("cancel");
        assert_eq!(cancelled.status, "cancelled");
        assert!(matches!(
            callbacks.cancel(&manual.id, "zhang", sh(9, 11, 0)).await,
            Err(DeskError::CallbackNotOpen { .. })
        ));
        assert!(matches!(
            callbacks.cancel("nope", "zhang", sh(9, 11, 0)).await,
            Err(DeskError::CallbackNotFound { .. })
        ));
        // The order's own 回访, answered by an operator who called.
        let followup = callbacks
            .list(&CallbackQuery {
                ticket_id: Some(ticket.to_string()),
                reason: Some("followup".into()),
                limit: 10,
                ..CallbackQuery::default()
            })
            .await
            .expect("list");
        let done = callbacks
            .record_result(
                &followup[0].id,
                Satisfaction::Dissatisfied,
                "li",
                sh(9, 12, 0),
            )
            .await
            .expect("result");
        assert_eq!(done.completed_by.as_deref(), Some("li"));
        let order = tickets.get(ticket).await.expect("ticket");
        assert_eq!(order.ticket.status.kind(), StatusKind::Reopened);
        assert!(order.escalated);
    }
}

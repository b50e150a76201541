//! Resolving, reopening and closing a work order against its 回访, on
//! SQLite and PostgreSQL.

use chrono::TimeZone;
use chrono_tz::Asia::Shanghai;

use super::*;
use crate::desk::callbacks::{CallbackStatus, CallingHours};
use crate::desk::tickets::TicketKind;
use crate::store::{CallbackQuery, testing};

fn sh(d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(2026, 11, d, h, min, 0)
        .single()
        .expect("a moment")
        .with_timezone(&Utc)
}

fn request(kind: TicketKind) -> NewTicketRequest {
    NewTicketRequest {
        community: CommunityCode::new("JF").expect("valid"),
        kind,
        priority: Priority::Normal,
        grade: None,
        source: crate::desk::TicketSource::PhoneCall,
        category: None,
        room: None,
        location: None,
        reporter_name: Some("王芳".into()),
        reporter_phone: Some("138 1234 5678".into()),
        person_id: None,
        description: "门禁坏了".into(),
        department: None,
        assignee: None,
        fee_cents: None,
        paid: false,
        call_id: None,
    }
}

async fn services() -> Vec<Tickets> {
    testing::stores()
        .await
        .into_iter()
        .map(|store| {
            Tickets::new(store, DeskConfig::default()).with_callbacks(CallbacksConfig::default())
        })
        .collect()
}

async fn followups(tickets: &Tickets, id: Uuid) -> Vec<crate::store::CallbackRow> {
    tickets
        .store
        .list_callbacks(&CallbackQuery {
            ticket_id: Some(id.to_string()),
            limit: 10,
            ..CallbackQuery::default()
        })
        .await
        .expect("list")
}

async fn resolved(tickets: &Tickets, kind: TicketKind, at: DateTime<Utc>) -> TicketRecord {
    let created = tickets
        .create(request(kind), "op1", at)
        .await
        .expect("create");
    let id = created.ticket.id;
    tickets
        .transition(id, TicketAction::Resolve, "op1", None, None, at)
        .await
        .expect("resolve")
}

#[tokio::test]
async fn a_resolved_repair_owes_its_followup_inside_the_calling_hours_on_both_engines() {
    for tickets in services().await {
        // Resolved at 19:00: due two hours later, but 20:00 ends the day.
        let record = resolved(&tickets, TicketKind::Repair, sh(9, 19, 0)).await;
        let owed = followups(&tickets, record.ticket.id).await;
        assert_eq!(owed.len(), 1);
        assert_eq!(owed[0].reason, "followup");
        assert_eq!(owed[0].status, "pending");
        assert_eq!(owed[0].number, "+8613812345678");
        assert_eq!(owed[0].due_at, sh(10, 9, 0).timestamp_millis());
        // An inquiry has no policy: nothing is owed.
        let inquiry = resolved(&tickets, TicketKind::Inquiry, sh(9, 10, 0)).await;
        assert!(followups(&tickets, inquiry.ticket.id).await.is_empty());
    }
}

#[tokio::test]
async fn a_reopened_order_drops_its_pending_followup_and_a_new_resolution_owes_one_again() {
    for tickets in services().await {
        let record = resolved(&tickets, TicketKind::Repair, sh(9, 10, 0)).await;
        let id = record.ticket.id;
        tickets
            .transition(id, TicketAction::Reopen, "sup", None, None, sh(9, 10, 5))
            .await
            .expect("reopen");
        let owed = followups(&tickets, id).await;
        assert_eq!(owed.len(), 1);
        assert_eq!(owed[0].status, "cancelled");
        for action in [TicketAction::Start, TicketAction::Resolve] {
            tickets
                .transition(id, action, "op1", None, None, sh(9, 11, 0))
                .await
                .expect("handled again");
        }
        let owed = followups(&tickets, id).await;
        let live: Vec<_> = owed.iter().filter(|c| c.status == "pending").collect();
        assert_eq!(live.len(), 1);
    }
}

#[tokio::test]
async fn the_survey_answer_moves_the_order_and_a_dissatisfied_owner_reopens_it() {
    for tickets in services().await {
        let record = resolved(&tickets, TicketKind::Repair, sh(9, 10, 0)).await;
        let done = tickets
            .record_followup(
                record.ticket.id,
                Satisfaction::Satisfied,
                "cb-1",
                "ivr",
                sh(9, 12, 0),
            )
            .await
            .expect("record");
        assert_eq!(done.ticket.status.kind(), StatusKind::FollowedUp);
        assert_eq!(done.satisfaction, Some(Satisfaction::Satisfied));
        assert!(!done.escalated);

        let record = resolved(&tickets, TicketKind::Repair, sh(9, 10, 0)).await;
        let id = record.ticket.id;
        let reopened = tickets
            .record_followup(id, Satisfaction::Dissatisfied, "cb-2", "ivr", sh(9, 12, 0))
            .await
            .expect("record");
        assert_eq!(reopened.ticket.status.kind(), StatusKind::Reopened);
        assert_eq!(reopened.satisfaction, Some(Satisfaction::Dissatisfied));
        assert!(reopened.escalated);
        let history = tickets.history(id).await.expect("history");
        let notes: Vec<_> = history.iter().filter_map(|e| e.note.as_deref()).collect();
        assert!(notes.contains(&"回访结果：不满意（cb-2）"), "{notes:?}");
        assert!(notes.contains(&"回访不满意，重新处理（cb-2）"), "{notes:?}");
    }
}

#[tokio::test]
async fn a_person_not_to_be_called_gets_a_manual_followup_and_closing_cancels_it() {
    for tickets in services().await {
        let store = tickets.store.clone();
        let created = tickets
            .create(request(TicketKind::Repair), "op1", sh(9, 10, 0))
            .await
            .expect("create");
        let id = created.ticket.id;
        // No archive person: the number the order came from is called;
        // all day hours make it due at once.
        let mut config = CallbacksConfig {
            calling_hours: CallingHours::ALL_DAY,
            ..CallbacksConfig::default()
        };
        config.policy.get_mut("repair").expect("repair").after = std::time::Duration::ZERO;
        let tickets = Tickets::new(store, DeskConfig::default()).with_callbacks(config);
        let resolved = tickets
            .transition(id, TicketAction::Resolve, "op1", None, None, sh(9, 23, 0))
            .await
            .expect("resolve");
        let owed = followups(&tickets, id).await;
        assert_eq!(owed[0].due_at, sh(9, 23, 0).timestamp_millis());
        assert_eq!(resolved.ticket.status.kind(), StatusKind::Resolved);
        tickets
            .record_followup(
                id,
                Satisfaction::BasicallySatisfied,
                "cb",
                "li",
                sh(9, 23, 5),
            )
            .await
            .expect("followed up");
        tickets
            .transition(id, TicketAction::Close, "sup", None, None, sh(9, 23, 10))
            .await
            .expect("close");
        let owed = followups(&tickets, id).await;
        assert_eq!(
            CallbackStatus::from_code(&owed[0].status),
            Some(CallbackStatus::Cancelled),
            "the pending one is cancelled with the order closed"
        );
    }
}

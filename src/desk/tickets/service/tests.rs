//! The ticket service against a real store, on SQLite and PostgreSQL.

use std::collections::BTreeSet;

use chrono::TimeZone;
use chrono_tz::Asia::Shanghai;

use super::*;
use crate::desk::TicketFilter;
use crate::desk::tickets::{
    ActionKind, CategoryCode, DepartmentCode, Milestone, TicketKind, TicketStatus, TransitionError,
};
use crate::store::{NewCall, testing};

/// An instant given as Shanghai wall-clock time, November 2026.
fn sh(d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(2026, 11, d, h, min, 0)
        .single()
        .expect("Shanghai has no DST gaps")
        .with_timezone(&Utc)
}

fn services(stores: Vec<Store>) -> Vec<Tickets> {
    stores
        .into_iter()
        .map(|store| Tickets::new(store, DeskConfig::default()))
        .collect()
}

fn jf() -> CommunityCode {
    CommunityCode::new("JF").expect("valid")
}

fn request(kind: TicketKind, priority: Priority, description: &str) -> NewTicketRequest {
    NewTicketRequest {
        community: jf(),
        kind,
        priority,
        grade: None,
        source: TicketSource::PhoneCall,
        category: None,
        room: None,
        location: None,
        reporter_name: Some("王芳".into()),
        reporter_phone: Some("138 1234 5678".into()),
        person_id: None,
        description: description.into(),
        department: None,
        assignee: None,
        fee_cents: None,
        paid: false,
        call_id: None,
    }
}

fn leak() -> NewTicketRequest {
    NewTicketRequest {
        category: Some(CategoryCode::new("water_electric").expect("valid")),
        room: Some("3栋2单元1201".parse().expect("valid room")),
        ..request(TicketKind::Repair, Priority::Urgent, "厨房水管漏水")
    }
}

fn new_call(id: &str, offered_at: DateTime<Utc>) -> NewCall {
    NewCall {
        id: id.to_owned(),
        sip_call_id: format!("{id}@127.0.0.1"),
        direction: "inbound".into(),
        caller_raw: "13812345678".into(),
        caller: Some("+8613812345678".into()),
        dialled: "hotline".into(),
        community: Some("JF".into()),
        offered_at: offered_at.timestamp_millis(),
        node: "node-a".into(),
    }
}

fn numbers(page: &TicketPage) -> Vec<String> {
    page.tickets
        .iter()
        .map(|t| t.ticket.number.to_string())
        .collect()
}

#[tokio::test]
async fn a_ticket_lives_from_new_to_closed_and_its_history_tells_every_step() {
    for tickets in services(testing::stores().await) {
        let created = tickets
            .create(leak(), "op1", sh(23, 10, 0))
            .await
            .expect("create");
        assert_eq!(created.ticket.number.to_string(), "JF-20261123-0001");
        assert_eq!(created.ticket.status, TicketStatus::New);
        assert_eq!(
            created.ticket.department.as_ref().map(|d| d.as_str()),
            Some("engineering"),
            "the category's department by default"
        );
        assert_eq!(created.reporter_phone.as_deref(), Some("+8613812345678"));
        assert_eq!(created.reporter_phone_raw.as_deref(), Some("138 1234 5678"));
        assert_eq!(created.ticket.deadlines.respond_by, sh(23, 10, 30));
        assert_eq!(created.version, 1);
        let id = created.ticket.id;
        let steps = [
            (TicketAction::Dispatch, "dispatcher", sh(23, 10, 5)),
            (TicketAction::Start, "li", sh(23, 10, 25)),
            (TicketAction::Resolve, "li", sh(23, 11, 40)),
            (TicketAction::FollowUp, "op2", sh(24, 9, 0)),
            (TicketAction::Close, "supervisor", sh(24, 9, 5)),
        ];
        for (action, actor, at) in steps.clone() {
            tickets
                .transition(id, action, actor, Some("ok"), None, at)
                .await
                .expect("allowed");
        }
        let closed = tickets.get(id).await.expect("get");
        assert_eq!(closed.ticket.status, TicketStatus::Closed);
        assert_eq!(closed.version, 6);
        assert_eq!(closed.ticket.responded_at, Some(sh(23, 10, 5)));
        assert_eq!(closed.ticket.arrived_at, Some(sh(23, 10, 25)));
        assert_eq!(closed.ticket.resolved_at, Some(sh(23, 11, 40)));
        assert_eq!(closed.updated_at, sh(24, 9, 5));
        let by_number = tickets
            .get_by_number(&closed.ticket.number)
            .await
            .expect("by number");
        assert_eq!(by_number, closed);

        let history = tickets.history(id).await.expect("history");
        let seen: Vec<_> = history
            .iter()
            .map(|e| {
                (
                    e.seq,
                    e.action,
                    e.actor.as_str(),
                    e.from_status,
                    e.to_status,
                )
            })
            .collect();
        use StatusKind as S;
        use TicketEventKind as E;
        assert_eq!(
            seen,
            [
                (1, E::Created, "op1", None, Some(S::New)),
                (
                    2,
                    E::Dispatch,
                    "dispatcher",
                    Some(S::New),
                    Some(S::Dispatched)
                ),
                (3, E::Start, "li", Some(S::Dispatched), Some(S::InProgress)),
                (4, E::Resolve, "li", Some(S::InProgress), Some(S::Resolved)),
                (
                    5,
                    E::FollowUp,
                    "op2",
                    Some(S::Resolved),
                    Some(S::FollowedUp)
                ),
                (
                    6,
                    E::Close,
                    "supervisor",
                    Some(S::FollowedUp),
                    Some(S::Closed)
                ),
            ]
        );
        let at: Vec<_> = history.iter().skip(1).map(|e| e.at).collect();
        assert_eq!(at, steps.map(|(_, _, at)| at));
        assert_eq!(history[1].note.as_deref(), Some("ok"));
        let dispatch_fields: Vec<_> = history[1]
            .changes
            .iter()
            .map(|c| c.field.as_str())
            .collect();
        assert_eq!(dispatch_fields, ["responded_at", "status"]);
        let resolve = &history[3].changes;
        assert!(resolve.iter().any(|c| c.field == "resolved_at"
            && c.from == serde_json::Value::Null
            && c.to == serde_json::to_value(sh(23, 11, 40)).expect("serialises")));
        assert_eq!(
            resolve.iter().find(|c| c.field == "status").map(|c| &c.to),
            Some(&serde_json::json!({"status": "resolved"}))
        );
    }
}

#[tokio::test]
async fn a_refused_transition_leaves_the_ticket_and_its_history_untouched() {
    for tickets in services(testing::stores().await) {
        let created = tickets
            .create(leak(), "op1", sh(23, 10, 0))
            .await
            .expect("create");
        let id = created.ticket.id;
        let err = tickets
            .transition(id, TicketAction::Close, "op1", None, None, sh(23, 10, 1))
            .await
            .expect_err("close needs resolve and follow-up first");
        let DeskError::Transition(TransitionError::NotAllowed { allowed, .. }) = &err else {
            panic!("refused for the wrong reason: {err}");
        };
        assert_eq!(
            allowed,
            &[
                ActionKind::Dispatch,
                ActionKind::Resolve,
                ActionKind::Hold,
                ActionKind::Cancel
            ]
        );
        assert_eq!(
            err.to_string(),
            "cannot close a ticket that is new; allowed: dispatch, resolve, hold, cancel"
        );
        let blank = tickets
            .transition(
                id,
                TicketAction::Cancel { reason: " ".into() },
                "op1",
                None,
                None,
                sh(23, 10, 2),
            )
            .await
            .expect_err("blank reason");
        assert!(matches!(
            blank,
            DeskError::Transition(TransitionError::MissingCancelReason)
        ));
        assert_eq!(tickets.get(id).await.expect("get"), created);
        assert_eq!(tickets.history(id).await.expect("history").len(), 1);
    }
}

#[tokio::test]
async fn time_on_hold_moves_the_deadline_and_the_overdue_list_follows() {
    for tickets in services(testing::stores().await) {
        // Urgent repair at 10:00: respond by 10:30, on site by 10:30.
        let id = tickets
            .create(leak(), "op1", sh(23, 10, 0))
            .await
            .expect("create")
            .ticket
            .id;
        let overdue = |now| {
            let tickets = tickets.clone();
            async move {
                let filter = TicketFilter {
                    overdue: true,
                    ..TicketFilter::default()
                };
                tickets.list(&filter, now).await.expect("list").total
            }
        };
        tickets
            .transition(id, TicketAction::Dispatch, "op1", None, None, sh(23, 10, 5))
            .await
            .expect("dispatch");
        tickets
            .transition(
                id,
                TicketAction::Hold,
                "op1",
                Some("业主不在家"),
                None,
                sh(23, 10, 10),
            )
            .await
            .expect("hold");
        // Three hours on hold: not overdue, though 10:30 is long past.
        assert_eq!(overdue(sh(23, 13, 0)).await, 0);
        let held = tickets.get(id).await.expect("get");
        assert!(!held.ticket.is_overdue(sh(23, 13, 0)));
        let resumed = tickets
            .transition(id, TicketAction::Resume, "op1", None, None, sh(23, 13, 10))
            .await
            .expect("resume");
        assert_eq!(resumed.ticket.status, TicketStatus::Dispatched);
        // Arrive-by 10:30 plus the three hours on hold: 13:30.
        assert_eq!(overdue(sh(23, 13, 30)).await, 0);
        assert!(!resumed.ticket.is_overdue(sh(23, 13, 30)));
        assert_eq!(overdue(sh(23, 13, 31)).await, 1);
        let loaded = tickets.get(id).await.expect("get");
        assert_eq!(loaded.ticket.holds, resumed.ticket.holds);
        assert_eq!(loaded.ticket.holds[0].until, Some(sh(23, 13, 10)));
        assert_eq!(loaded.ticket.overdue(sh(23, 13, 31)), [Milestone::Arrive]);
        // On site: nothing owed before the resolve-by (14:00 + 3 h).
        tickets
            .transition(id, TicketAction::Start, "li", None, None, sh(23, 13, 40))
            .await
            .expect("start");
        assert_eq!(overdue(sh(23, 16, 59)).await, 0);
        assert_eq!(overdue(sh(23, 17, 1)).await, 1);
    }
}

#[tokio::test]
async fn every_list_filter_narrows_the_list() {
    for tickets in services(testing::stores().await) {
        let mut noise = request(TicketKind::Complaint, Priority::Normal, "楼上装修噪音");
        noise.category = Some(CategoryCode::new("noise").expect("valid"));
        noise.grade = Some(crate::desk::ComplaintGrade::Serious);
        noise.reporter_phone = Some("13900001111".into());
        noise.person_id = Some("person-1".into());
        let mut other_estate = request(TicketKind::Inquiry, Priority::Normal, "物业费怎么交");
        other_estate.community = CommunityCode::new("YH").expect("valid");
        let mut assigned = leak();
        assigned.assignee = Some("李师傅".into());
        let leak_no = tickets
            .create(assigned, "op1", sh(23, 10, 0))
            .await
            .expect("a");
        let noise_no = tickets
            .create(noise, "op1", sh(23, 11, 0))
            .await
            .expect("b");
        let yh_no = tickets
            .create(other_estate, "op1", sh(24, 9, 0))
            .await
            .expect("c");
        tickets
            .transition(
                noise_no.ticket.id,
                TicketAction::Dispatch,
                "op1",
                None,
                None,
                sh(23, 11, 5),
            )
            .await
            .expect("dispatch");
        tickets
            .transition(
                yh_no.ticket.id,
                TicketAction::Resolve,
                "op1",
                None,
                None,
                sh(24, 9, 1),
            )
            .await
            .expect("answered");
        let list = |filter: TicketFilter| {
            let tickets = tickets.clone();
            async move { tickets.list(&filter, sh(24, 10, 0)).await.expect("list") }
        };
        let [a, b, c] = [&leak_no, &noise_no, &yh_no].map(|t| t.ticket.number.to_string());

        let all = list(TicketFilter::default()).await;
        assert_eq!(
            numbers(&all),
            [c.clone(), b.clone(), a.clone()],
            "newest first"
        );
        assert_eq!(all.total, 3);
        let by = |f: fn(&mut TicketFilter)| {
            let mut filter = TicketFilter::default();
            f(&mut filter);
            filter
        };
        let cases: Vec<(TicketFilter, Vec<&String>)> = vec![
            (by(|f| f.status = vec![StatusKind::New]), vec![&a]),
            (
                by(|f| f.status = vec![StatusKind::Dispatched, StatusKind::Resolved]),
                vec![&c, &b],
            ),
            (by(|f| f.kind = vec![TicketKind::Complaint]), vec![&b]),
            (
                by(|f| f.community = Some(CommunityCode::new("YH").expect("valid"))),
                vec![&c],
            ),
            // At 24 10:00: the leak owes its response since 10:30 yesterday;
            // the noise complaint was dispatched and owes its resolution by
            // 26 11:00; the inquiry is resolved.
            (by(|f| f.overdue = true), vec![&a]),
            (by(|f| f.created_from = Some(sh(23, 10, 30))), vec![&c, &b]),
            (by(|f| f.created_until = Some(sh(23, 10, 30))), vec![&a]),
            (by(|f| f.text = Some("噪音".into())), vec![&b]),
            (by(|f| f.text = Some("jf-20261123-0001".into())), vec![&a]),
            (by(|f| f.text = Some("王芳".into())), vec![&c, &b, &a]),
            (
                by(|f| f.department = Some(DepartmentCode::new("security").expect("valid"))),
                vec![&b],
            ),
            (by(|f| f.assignee = Some("李师傅".into())), vec![&a]),
            (
                by(|f| f.reporter_phone = Some("+86 139 0000 1111".into())),
                vec![&b],
            ),
            (by(|f| f.person_id = Some("person-1".into())), vec![&b]),
        ];
        for (filter, expected) in cases {
            let page = list(filter.clone()).await;
            let expected: Vec<String> = expected.into_iter().cloned().collect();
            assert_eq!(numbers(&page), expected, "{filter:?}");
            assert_eq!(page.total, expected.len() as u64, "{filter:?}");
        }
        let page = list(TicketFilter {
            limit: 1,
            offset: 1,
            ..TicketFilter::default()
        })
        .await;
        assert_eq!((numbers(&page), page.total), (vec![b.clone()], 3));

        let open = tickets
            .open_tickets_of_phone("13812345678")
            .await
            .expect("open of phone");
        assert_eq!(open.len(), 2, "the leak and the inquiry, not closed yet");
        assert_eq!(
            tickets
                .open_tickets_of_person("person-1")
                .await
                .expect("open of person")
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn two_hundred_concurrent_creations_get_two_hundred_consecutive_numbers() {
    const CREATIONS: u32 = 200;
    for tickets in services(testing::stores().await) {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..CREATIONS {
            let tickets = tickets.clone();
            tasks.spawn(async move {
                let description = format!("第 {i} 件");
                tickets
                    .create(
                        request(TicketKind::Inquiry, Priority::Normal, &description),
                        "load",
                        sh(23, 12, 0),
                    )
                    .await
                    .map(|t| t.ticket.number)
            });
        }
        let mut seqs = BTreeSet::new();
        while let Some(joined) = tasks.join_next().await {
            let number = joined.expect("task ran").expect("created");
            assert_eq!(
                number.date(),
                sh(23, 12, 0).with_timezone(&Shanghai).date_naive()
            );
            assert!(seqs.insert(number.seq()), "{number} handed out twice");
        }
        assert_eq!(seqs, (1..=CREATIONS).collect::<BTreeSet<_>>());
        // The next day starts again at 1.
        let tomorrow = tickets
            .create(leak(), "op1", sh(24, 0, 1))
            .await
            .expect("create");
        assert_eq!(tomorrow.ticket.number.to_string(), "JF-20261124-0001");
    }
}

#[tokio::test]
async fn a_write_over_a_stale_version_is_refused_and_changes_nothing() {
    for tickets in services(testing::stores().await) {
        let created = tickets
            .create(leak(), "op1", sh(23, 10, 0))
            .await
            .expect("create");
        let id = created.ticket.id;
        let assign = TicketChanges {
            assignee: Some(Some("李师傅".into())),
            ..TicketChanges::default()
        };
        let first = tickets
            .update_fields(id, &assign, "op1", Some(1), sh(23, 10, 1))
            .await
            .expect("at version 1");
        assert_eq!(first.version, 2);
        let reassign = TicketChanges {
            assignee: Some(Some("张师傅".into())),
            ..TicketChanges::default()
        };
        let err = tickets
            .update_fields(id, &reassign, "op2", Some(1), sh(23, 10, 2))
            .await
            .expect_err("stale");
        assert!(
            matches!(
                err,
                DeskError::StaleVersion {
                    expected: 1,
                    current: 2,
                    ..
                }
            ),
            "{err}"
        );
        let err = tickets
            .transition(
                id,
                TicketAction::Dispatch,
                "op2",
                None,
                Some(1),
                sh(23, 10, 2),
            )
            .await
            .expect_err("stale");
        assert!(matches!(err, DeskError::StaleVersion { .. }), "{err}");
        assert_eq!(tickets.get(id).await.expect("get"), first);
        assert_eq!(tickets.history(id).await.expect("history").len(), 2);
    }
}

#[tokio::test]
async fn field_edits_record_old_and_new_values_and_a_priority_change_moves_the_deadlines() {
    for tickets in services(testing::stores().await) {
        let created = tickets
            .create(leak(), "op1", sh(23, 10, 0))
            .await
            .expect("create");
        let id = created.ticket.id;
        let changes = TicketChanges {
            priority: Some(Priority::Normal),
            department: Some(Some(
                DepartmentCode::new("customer_service").expect("valid"),
            )),
            description: Some("  厨房水管漏水，已关总阀 ".into()),
            ..TicketChanges::default()
        };
        let updated = tickets
            .update_fields(id, &changes, "op2", None, sh(23, 10, 3))
            .await
            .expect("update");
        assert_eq!(updated.description, "厨房水管漏水，已关总阀");
        // Normal repairs: on site within a day, resolved within 72 h.
        assert_eq!(updated.ticket.deadlines.arrive_by, Some(sh(24, 10, 0)));
        let history = tickets.history(id).await.expect("history");
        let last = history.last().expect("an event");
        assert_eq!(last.action, TicketEventKind::Updated);
        assert_eq!((last.from_status, last.to_status), (None, None));
        let fields: Vec<_> = last.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["deadlines", "department", "description", "priority"]
        );
        assert_eq!(last.changes[1].from, serde_json::json!("engineering"));
        assert_eq!(last.changes[1].to, serde_json::json!("customer_service"));
        assert_eq!(last.changes[3].to, serde_json::json!("normal"));
        // The same values again: nothing to record.
        let same = tickets
            .update_fields(id, &changes, "op2", None, sh(23, 10, 4))
            .await
            .expect("no-op");
        assert_eq!(same.version, updated.version);
        assert_eq!(tickets.history(id).await.expect("history").len(), 2);
        let fee = TicketChanges {
            fee_cents: Some(Some(5_000)),
            ..TicketChanges::default()
        };
        let err = tickets
            .update_fields(id, &fee, "op2", None, sh(23, 10, 5))
            .await
            .expect_err("a repair has no fee");
        assert!(
            matches!(err, DeskError::FeeOnlyForPaidService { .. }),
            "{err}"
        );
    }
}

#[tokio::test]
async fn creation_refuses_what_the_configuration_and_the_kind_do_not_allow() {
    for tickets in services(testing::stores().await) {
        let now = sh(23, 10, 0);
        let mut wrong_category = leak();
        wrong_category.category = Some(CategoryCode::new("noise").expect("valid"));
        let mut graded_repair = leak();
        graded_repair.grade = Some(crate::desk::ComplaintGrade::Major);
        let mut unknown_department = leak();
        unknown_department.department = Some(DepartmentCode::new("marketing").expect("valid"));
        let mut fee_on_repair = leak();
        fee_on_repair.fee_cents = Some(1_000);
        let mut negative_fee = request(TicketKind::PaidService, Priority::Normal, "开锁");
        negative_fee.fee_cents = Some(-1);
        let blank = request(TicketKind::Other, Priority::Normal, "  ");
        let mut bad_phone = leak();
        bad_phone.reporter_phone = Some("12".into());
        for (request, expected) in [
            (
                wrong_category,
                "category `noise` belongs to complaint, not repair",
            ),
            (graded_repair, "only complaints are graded, not repair"),
            (unknown_department, "unknown department `marketing`"),
            (
                fee_on_repair,
                "a fee and its payment are for paid service only, not repair",
            ),
            (negative_fee, "a fee cannot be negative (-1 fen)"),
            (blank, "a ticket needs a description"),
        ] {
            let err = tickets
                .create(request, "op1", now)
                .await
                .expect_err(expected);
            assert_eq!(err.to_string(), expected);
        }
        let err = tickets
            .create(bad_phone, "op1", now)
            .await
            .expect_err("phone");
        assert!(matches!(err, DeskError::Phone(_)), "{err}");
        let mut paid = request(TicketKind::PaidService, Priority::Normal, "开锁");
        paid.fee_cents = Some(8_000);
        paid.paid = true;
        let created = tickets
            .create(paid, "op1", now)
            .await
            .expect("paid service");
        assert_eq!((created.fee_cents, created.paid), (Some(8_000), true));
        // Refused creations used no number.
        assert_eq!(created.ticket.number.seq(), 1);
    }
}

#[tokio::test]
async fn a_ticket_made_from_a_call_is_linked_and_its_reporter_defaults_to_the_caller() {
    for tickets in services(testing::stores().await) {
        let store = tickets.store.clone();
        let caller = crate::store::CallerMatch {
            kind: "person".into(),
            person_id: Some("person-7".into()),
            name: Some("王芳".into()),
            rooms: Some("7栋1501、3栋2单元1201".into()),
        };
        store
            .insert_call_matched(&new_call("call-7", sh(23, 9, 0)), Some(&caller))
            .await
            .expect("call");
        let from_call = NewTicketRequest {
            reporter_name: None,
            reporter_phone: None,
            call_id: Some("call-7".into()),
            ..leak()
        };
        let at = sh(23, 9, 5);
        let ticket = tickets
            .create(from_call.clone(), "zhang", at)
            .await
            .expect("created");
        assert_eq!(ticket.reporter_name.as_deref(), Some("王芳"));
        assert_eq!(ticket.reporter_phone.as_deref(), Some("+8613812345678"));
        assert_eq!(ticket.person_id.as_deref(), Some("person-7"));
        assert_eq!(
            ticket.room.as_ref().map(ToString::to_string).as_deref(),
            Some("3栋2单元1201"),
            "the request's room is kept"
        );
        let calls = tickets.calls_of(ticket.ticket.id).await.expect("calls");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].id, "call-7");
        // Without a room of its own it takes the caller's first.
        let roomless = NewTicketRequest {
            room: None,
            ..from_call.clone()
        };
        let ticket = tickets
            .create(roomless, "zhang", at)
            .await
            .expect("created");
        assert_eq!(
            ticket.room.as_ref().map(ToString::to_string).as_deref(),
            Some("7栋1501")
        );
        // What the operator typed wins over the call.
        let typed = NewTicketRequest {
            reporter_name: Some("王先生".into()),
            ..from_call.clone()
        };
        let ticket = tickets.create(typed, "zhang", at).await.expect("created");
        assert_eq!(ticket.reporter_name.as_deref(), Some("王先生"));
        // An unknown call is refused, and takes no number.
        let unknown = NewTicketRequest {
            call_id: Some("nope".into()),
            ..from_call
        };
        assert!(tickets.create(unknown, "zhang", at).await.is_err());
    }
}

#[tokio::test]
async fn a_voice_message_becomes_a_new_ticket_linked_to_its_call() {
    for tickets in services(testing::stores().await) {
        let store = tickets.store.clone();
        let offered = sh(23, 22, 0);
        store
            .insert_call(&new_call("call-1", offered))
            .await
            .expect("call");
        store
            .call_answered(
                "call-1",
                offered.timestamp_millis() + 500,
                Some("JF/call-1.wav"),
            )
            .await
            .expect("answered");
        store
            .call_menu_choice("call-1", Some("1"), "repair")
            .await
            .expect("menu");
        store
            .call_voicemail("call-1", 9_000, 32_400)
            .await
            .expect("vm");
        let call = store.call("call-1").await.expect("call");
        let reporter = VoiceMessageReporter {
            name: Some("王芳".into()),
            person_id: Some("person-1".into()),
            room: None,
        };
        let at = sh(23, 22, 1);
        let ticket = tickets
            .from_voice_message(&call, call.menu_choice.as_deref(), reporter.clone(), at)
            .await
            .expect("ticket");
        assert_eq!(ticket.ticket.kind, TicketKind::Repair);
        assert_eq!(ticket.ticket.source, TicketSource::VoiceMessage);
        assert_eq!(ticket.ticket.status, TicketStatus::New);
        assert_eq!(ticket.created_by, VOICE_MESSAGE_ACTOR);
        assert_eq!(ticket.person_id.as_deref(), Some("person-1"));
        assert_eq!(ticket.reporter_phone.as_deref(), Some("+8613812345678"));
        assert_eq!(ticket.description, "语音留言 23 秒，录音见关联来电");
        let calls = tickets.calls_of(ticket.ticket.id).await.expect("calls");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].recording_path.as_deref(), Some("JF/call-1.wav"));
        let of_call = tickets.tickets_of_call("call-1").await.expect("of call");
        assert_eq!(of_call, std::slice::from_ref(&ticket));
        // Asked again (a retry after a crash): the same ticket.
        let again = tickets
            .from_voice_message(&call, Some("1"), reporter, at)
            .await
            .expect("again");
        assert_eq!(again.ticket.id, ticket.ticket.id);
        // The operator's list of new tickets shows it.
        let new = TicketFilter {
            status: vec![StatusKind::New],
            ..TicketFilter::default()
        };
        let listed = tickets.list(&new, at).await.expect("list");
        assert_eq!(numbers(&listed), [ticket.ticket.number.to_string()]);

        store
            .insert_call(&new_call("call-2", offered))
            .await
            .expect("call");
        let operator = store.call("call-2").await.expect("call");
        let other = tickets
            .from_voice_message(
                &operator,
                Some("operator"),
                VoiceMessageReporter::default(),
                at,
            )
            .await
            .expect("ticket");
        assert_eq!(other.ticket.kind, TicketKind::Other);
        assert_eq!(other.description, "语音留言，录音见关联来电");
    }
}

#[tokio::test]
async fn comments_and_call_links_go_into_the_history() {
    for tickets in services(testing::stores().await) {
        let store = tickets.store.clone();
        let created = tickets
            .create(leak(), "op1", sh(23, 10, 0))
            .await
            .expect("create");
        let id = created.ticket.id;
        let comment = tickets
            .comment(id, "op2", " 业主来电催促 ", sh(23, 10, 20))
            .await
            .expect("comment");
        assert_eq!(
            (comment.seq, comment.note.as_deref()),
            (2, Some("业主来电催促"))
        );
        assert!(matches!(
            tickets.comment(id, "op2", " ", sh(23, 10, 21)).await,
            Err(DeskError::EmptyComment)
        ));
        store
            .insert_call(&new_call("call-9", sh(23, 10, 19)))
            .await
            .expect("call");
        assert!(
            tickets
                .link_call(id, "call-9", "op2", sh(23, 10, 21))
                .await
                .expect("link")
        );
        assert!(
            !tickets
                .link_call(id, "call-9", "op2", sh(23, 10, 22))
                .await
                .expect("again")
        );
        let err = tickets
            .link_call(id, "call-404", "op2", sh(23, 10, 22))
            .await
            .expect_err("no such call");
        assert!(matches!(err, DeskError::CallNotFound { .. }), "{err}");
        assert_eq!(tickets.calls_of(id).await.expect("calls").len(), 1);
        assert!(
            tickets
                .unlink_call(id, "call-9", "op2", sh(23, 10, 23))
                .await
                .expect("unlink")
        );
        assert!(tickets.calls_of(id).await.expect("calls").is_empty());
        let actions: Vec<_> = tickets
            .history(id)
            .await
            .expect("history")
            .into_iter()
            .map(|e| (e.seq, e.action))
            .collect();
        assert_eq!(
            actions,
            [
                (1, TicketEventKind::Created),
                (2, TicketEventKind::Commented),
                (3, TicketEventKind::CallLinked),
                (4, TicketEventKind::CallUnlinked),
            ]
        );
        // Comments and links are no field changes: the version stays.
        assert_eq!(tickets.get(id).await.expect("get").version, 1);
        let missing = Uuid::now_v7();
        let err = tickets.get(missing).await.expect_err("missing");
        assert_eq!(err.to_string(), format!("no ticket with id {missing}"));
        let err = tickets
            .comment(missing, "op1", "x", sh(23, 11, 0))
            .await
            .expect_err("missing");
        assert!(matches!(err, DeskError::TicketNotFound { .. }), "{err}");
    }
}

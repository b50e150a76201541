use std::sync::Mutex;

use super::*;
use crate::desk::OperatorState;

struct Fixture {
    board: Board,
    bus: Bus,
    time: Arc<Mutex<SystemTime>>,
    _shutdown: tokio_util::sync::DropGuard,
}

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
}

fn info(name: &str) -> OperatorInfo {
    OperatorInfo {
        name: name.to_string(),
        user_id: format!("id-{name}"),
        display_name: Some(format!("{name}师傅")),
    }
}

fn phone(name: &str, port: u16) -> Phone {
    Phone {
        target: PhoneTarget {
            contact: format!("sip:{name}@127.0.0.1:{port}"),
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            transport: Transport::Udp,
        },
        user_agent: Some("baresip".to_string()),
        registered_at: at(0),
        expires_at: at(3600),
        reachable: true,
    }
}

fn start(config: QueueConfig, names: &[&str]) -> Fixture {
    let time = Arc::new(Mutex::new(at(10)));
    let clock_time = time.clone();
    let clock: Clock = Arc::new(move || *clock_time.lock().expect("clock"));
    let bus = Bus::new(64);
    let shutdown = CancellationToken::new();
    let (board, _task) = Board::start(
        &config,
        names.iter().map(|name| info(name)).collect(),
        Vec::new(),
        None,
        bus.clone(),
        clock,
        shutdown.clone(),
    );
    Fixture {
        board,
        bus,
        time,
        _shutdown: shutdown.drop_guard(),
    }
}

fn call(id: &str) -> WaitingCall {
    WaitingCall {
        call_id: id.to_string(),
        community: "JF".to_string(),
        caller: "138****8000".to_string(),
        menu_choice: Some("operator".to_string()),
    }
}

async fn state_of(board: &Board, name: &str) -> OperatorState {
    let operators = board.operators().await.expect("running");
    operators
        .into_iter()
        .find(|o| o.name == name)
        .map(|o| o.state)
        .expect("known operator")
}

#[tokio::test(start_paused = true)]
async fn a_call_waits_only_when_someone_could_answer_and_rings_the_longest_idle() {
    let fixture = start(QueueConfig::default(), &["li", "zhang"]);
    let board = &fixture.board;
    assert_eq!(board.join(call("c0")).await.err(), Some(NobodyToAnswer));
    *fixture.time.lock().expect("clock") = at(20);
    board.phone_bound("zhang", phone("zhang", 5062)).await;
    // A round trip: the board has taken the phone at 20 before the clock moves.
    state_of(board, "zhang").await;
    *fixture.time.lock().expect("clock") = at(30);
    board.phone_bound("li", phone("li", 5064)).await;
    let mut events = board.join(call("c1")).await.expect("queued");
    let QueueEvent::Ring {
        operator, phones, ..
    } = events.recv().await.expect("a ring")
    else {
        panic!("not a ring");
    };
    assert_eq!(operator, "zhang", "idle since 20, li since 30");
    assert_eq!(phones[0].address.port(), 5062);
    assert_eq!(state_of(board, "zhang").await, OperatorState::Ringing);
    let queue = board.queue().await.expect("running");
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].ringing.as_deref(), Some("zhang"));
    board.ring_failed("c1", "zhang", RingFailure::Refused).await;
    let QueueEvent::Ring { operator, .. } = events.recv().await.expect("the next ring") else {
        panic!("not a ring");
    };
    assert_eq!(operator, "li");
    assert!(board.answered("c1", "li").await);
    assert!(board.queue().await.expect("running").is_empty());
    assert_eq!(state_of(board, "li").await, OperatorState::OnCall);
    board.call_ended("li").await;
    assert_eq!(state_of(board, "li").await, OperatorState::WrapUp);
}

#[tokio::test(start_paused = true)]
async fn state_changes_and_queue_events_are_published_in_order() {
    let fixture = start(QueueConfig::default(), &["zhang"]);
    let mut events = fixture.bus.subscribe();
    let board = &fixture.board;
    board.phone_bound("zhang", phone("zhang", 5062)).await;
    let _queued = board.join(call("c1")).await.expect("queued");
    board.leave("c1", LeaveReason::Abandoned).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let event = events.recv().await.expect("an event");
        let json = serde_json::to_value(event.as_ref()).expect("json");
        let what = match json["type"].as_str() {
            Some("operator.state") => format!("state:{}", json["state"].as_str().unwrap_or("")),
            Some("queue.left") => format!("left:{}", json["reason"].as_str().unwrap_or("")),
            other => other.unwrap_or("").to_string(),
        };
        seen.push(what);
    }
    assert_eq!(
        seen,
        [
            "state:available",
            "queue.joined",
            "state:ringing",
            "left:abandoned",
            "state:available"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_operator_sets_a_break_and_comes_back_through_the_board() {
    let fixture = start(QueueConfig::default(), &["zhang"]);
    let board = &fixture.board;
    board.phone_bound("zhang", phone("zhang", 5062)).await;
    let view = board
        .set_state(
            "zhang",
            WantedState::Break {
                reason: "用餐".to_string(),
            },
        )
        .await
        .expect("known");
    assert_eq!(view.state, OperatorState::Break);
    assert_eq!(view.reason.as_deref(), Some("用餐"));
    assert_eq!(view.phones.len(), 1);
    let view = board
        .set_state("zhang", WantedState::Available)
        .await
        .expect("known");
    assert_eq!(view.state, OperatorState::Available);
    let unknown = board.set_state("nobody", WantedState::Available).await;
    assert!(matches!(unknown, Err(BoardError::UnknownOperator { .. })));
}

#[tokio::test(start_paused = true)]
async fn a_phone_that_stops_answering_or_expires_takes_its_operator_offline() {
    let fixture = start(QueueConfig::default(), &["zhang"]);
    let board = &fixture.board;
    board.phone_bound("zhang", phone("zhang", 5062)).await;
    board
        .phone_reachable("zhang", "sip:zhang@127.0.0.1:5062", false)
        .await;
    assert_eq!(state_of(board, "zhang").await, OperatorState::Offline);
    board
        .phone_reachable("zhang", "sip:zhang@127.0.0.1:5062", true)
        .await;
    assert_eq!(state_of(board, "zhang").await, OperatorState::Available);
    board.phone_gone("zhang", "sip:zhang@127.0.0.1:5062").await;
    assert_eq!(state_of(board, "zhang").await, OperatorState::Offline);
    board.phone_bound("zhang", phone("zhang", 5062)).await;
    *fixture.time.lock().expect("clock") = at(3600);
    // The board looks at the clock on its tick.
    tokio::time::sleep(TICK * 2).await;
    assert_eq!(state_of(board, "zhang").await, OperatorState::Offline);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_call_is_told_when_the_last_phone_of_its_group_goes() {
    let fixture = start(QueueConfig::default(), &["zhang"]);
    let board = &fixture.board;
    board.phone_bound("zhang", phone("zhang", 5062)).await;
    let mut events = board.join(call("c1")).await.expect("queued");
    assert!(matches!(
        events.recv().await,
        Some(QueueEvent::Ring { user_id, .. }) if user_id == "id-zhang"
    ));
    board.ring_failed("c1", "zhang", RingFailure::Refused).await;
    board.phone_gone("zhang", "sip:zhang@127.0.0.1:5062").await;
    assert!(matches!(
        events.recv().await,
        Some(QueueEvent::NobodyToAnswer)
    ));
}

/// Who is being offered what right now, as the call tasks see it.
#[derive(Default)]
struct Offers {
    by_operator: std::collections::HashMap<String, String>,
    by_call: std::collections::HashMap<String, String>,
    violations: Vec<String>,
}

impl Offers {
    fn offer(&mut self, call: &str, operator: &str) {
        if let Some(other) = self.by_operator.get(operator) {
            self.violations
                .push(format!("{operator} offered {call} while on {other}"));
        }
        if let Some(other) = self.by_call.get(call) {
            self.violations
                .push(format!("{call} offered to {operator} while at {other}"));
        }
        self.by_operator
            .insert(operator.to_string(), call.to_string());
        self.by_call.insert(call.to_string(), operator.to_string());
    }

    fn withdraw(&mut self, call: &str, operator: &str) {
        self.by_operator.remove(operator);
        self.by_call.remove(call);
    }
}

/// How a call task's call ended.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    Answered,
    Abandoned,
    Voicemail,
}

/// One caller against the board: takes rings, refuses some, answers some
/// (re-registering the operator's phone mid-call), gives up on some.
async fn caller_task(board: Board, id: String, offers: Arc<Mutex<Offers>>, seed: u64) -> Fate {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let Ok(mut events) = board.join(call(&id)).await else {
        return Fate::Voicemail;
    };
    let patience = tokio::time::sleep(Duration::from_millis(rng.gen_range(5..400)));
    tokio::pin!(patience);
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = &mut patience => {
                // The caller hangs up: whatever rings is withdrawn first.
                let ringing = offers.lock().expect("offers").by_call.get(&id).cloned();
                if let Some(operator) = ringing {
                    offers.lock().expect("offers").withdraw(&id, &operator);
                }
                board.leave(&id, LeaveReason::Abandoned).await;
                return Fate::Abandoned;
            }
        };
        let Some(QueueEvent::Ring { operator, .. }) = event else {
            board.leave(&id, LeaveReason::Voicemail).await;
            return Fate::Voicemail;
        };
        offers.lock().expect("offers").offer(&id, &operator);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..4))).await;
        if rng.gen_bool(0.4) {
            let failure = if rng.gen_bool(0.5) {
                RingFailure::Refused
            } else {
                RingFailure::NoAnswer
            };
            offers.lock().expect("offers").withdraw(&id, &operator);
            board.ring_failed(&id, &operator, failure).await;
            continue;
        }
        if !board.answered(&id, &operator).await {
            offers.lock().expect("offers").withdraw(&id, &operator);
            continue;
        }
        // Mid-call the operator's phone refreshes its registration: they
        // stay on the call.
        let port = 5000 + operator.len() as u16;
        board.phone_bound(&operator, phone(&operator, port)).await;
        let state = state_of(&board, &operator).await;
        if state != OperatorState::OnCall {
            offers.lock().expect("offers").violations.push(format!(
                "{operator} is {state} after re-registering mid-call"
            ));
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(1..10))).await;
        offers.lock().expect("offers").withdraw(&id, &operator);
        board.call_ended(&operator).await;
        return Fate::Answered;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_never_share_an_operator_and_no_call_is_lost() {
    let config = QueueConfig {
        wrap_up: Duration::ZERO,
        ring_outs_to_break: 0,
        ..QueueConfig::default()
    };
    let names = ["a", "bb", "ccc", "dddd", "eeeee"];
    let fixture = start(config, &names);
    let board = fixture.board.clone();
    for name in names {
        board
            .phone_bound(name, phone(name, 5000 + name.len() as u16))
            .await;
    }
    let offers = Arc::new(Mutex::new(Offers::default()));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            tokio::spawn(caller_task(
                board.clone(),
                format!("c{i}"),
                offers.clone(),
                i,
            ))
        })
        .collect();
    let mut fates = Vec::new();
    for task in tasks {
        let fate = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("no call is lost: every caller's wait ends")
            .expect("caller task");
        fates.push(fate);
    }
    {
        let offers = offers.lock().expect("offers");
        assert!(offers.violations.is_empty(), "{:#?}", offers.violations);
        assert!(offers.by_call.is_empty() && offers.by_operator.is_empty());
    }
    let answered = fates.iter().filter(|f| **f == Fate::Answered).count();
    assert!(answered > 0, "{fates:?}");
    assert!(
        board.queue().await.expect("running").is_empty(),
        "nobody is left waiting"
    );
    for name in names {
        assert_eq!(state_of(&board, name).await, OperatorState::Available);
    }
}

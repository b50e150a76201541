//! The operators' board: one task that owns the desk's ACD (who is in which
//! state, which calls wait, whom to ring), every operator's registered
//! phones, and the waiting calls' channels. Call tasks, the registrar and
//! the API talk to it through a [`Board`] handle; it answers each in turn,
//! so the ACD's rules (one call per operator, one operator per call) need
//! no lock. Every state change is stored with its time and published on
//! the event bus.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::desk::{
    Acd, AcdAction, BoardError, BoardFuture, OperatorBoard, OperatorView, PhoneView, RingFailure,
    StateChange, WaitingCallView, WantedState,
};
use crate::events::{Bus, Event};
use crate::sip::Transport;
use crate::store::{OperatorStateRow, Store, unix_millis};

use super::config::QueueConfig;

/// How often the board looks at the clock (wrap-ups ending, registrations
/// expiring).
const TICK: Duration = Duration::from_millis(500);
/// Commands waiting for the board before senders wait.
const COMMAND_QUEUE: usize = 1024;

/// The source of the current time.
pub(crate) type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Where to send an INVITE to reach a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneTarget {
    /// The registered Contact URI (the Request-URI of the INVITE).
    pub contact: String,
    /// Where its REGISTER came from: where requests go (NAT).
    pub address: SocketAddr,
    pub transport: Transport,
}

/// A registered phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    pub target: PhoneTarget,
    pub user_agent: Option<String>,
    pub registered_at: SystemTime,
    pub expires_at: SystemTime,
    pub reachable: bool,
}

/// Who an operator is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInfo {
    pub name: String,
    pub user_id: String,
    pub display_name: Option<String>,
}

/// A call that wants an operator.
#[derive(Debug, Clone)]
pub struct WaitingCall {
    pub call_id: String,
    pub community: String,
    /// The caller, masked.
    pub caller: String,
    pub menu_choice: Option<String>,
}

/// What the board tells a waiting call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueEvent {
    /// Ring this operator's phones (most recently registered first).
    Ring {
        operator: String,
        /// Their user id, for the call record.
        user_id: String,
        phones: Vec<PhoneTarget>,
    },
    /// No operator who serves the call's community has a phone up any
    /// more: waiting is pointless.
    NobodyToAnswer,
}

/// Why a call left the queue unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// The caller hung up (放弃呼叫).
    Abandoned,
    /// The caller chose a voice message, or nobody could answer any more.
    Voicemail,
    /// The caller waited `queue.max_wait`.
    MaxWait,
    /// The daemon is stopping.
    Shutdown,
}

impl LeaveReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveReason::Abandoned => "abandoned",
            LeaveReason::Voicemail => "voicemail",
            LeaveReason::MaxWait => "max_wait",
            LeaveReason::Shutdown => "shutdown",
        }
    }
}

/// Nobody of the call's group has a phone up: the call should not wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NobodyToAnswer;

enum Command {
    Operators(oneshot::Sender<Vec<OperatorView>>),
    Queue(oneshot::Sender<Vec<WaitingCallView>>),
    SetState {
        name: String,
        wanted: WantedState,
        reply: oneshot::Sender<Result<OperatorView, BoardError>>,
    },
    AddOperator(OperatorInfo),
    PhoneBound {
        operator: String,
        phone: Phone,
    },
    PhoneGone {
        operator: String,
        contact: String,
    },
    PhoneReachable {
        operator: String,
        contact: String,
        reachable: bool,
    },
    Join {
        call: WaitingCall,
        reply: oneshot::Sender<Result<mpsc::UnboundedReceiver<QueueEvent>, NobodyToAnswer>>,
    },
    Leave {
        call_id: String,
        reason: LeaveReason,
    },
    RingFailed {
        call_id: String,
        operator: String,
        failure: RingFailure,
    },
    Answered {
        call_id: String,
        operator: String,
        reply: oneshot::Sender<bool>,
    },
    CallEnded {
        operator: String,
    },
    Position {
        call_id: String,
        reply: oneshot::Sender<Option<usize>>,
    },
}

/// The handle to the board; cheap to clone.
#[derive(Clone)]
pub struct Board {
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board").finish_non_exhaustive()
    }
}

/// What the board task owns.
struct BoardState {
    acd: Acd,
    operators: BTreeMap<String, OperatorInfo>,
    /// Registered phones by operator, most recent first.
    phones: HashMap<String, Vec<Phone>>,
    /// Waiting calls by id.
    waiting: HashMap<String, Waiting>,
    bus: Bus,
    log: mpsc::UnboundedSender<OperatorStateRow>,
    clock: Clock,
}

struct Waiting {
    call: WaitingCall,
    entered_at: SystemTime,
    events: mpsc::UnboundedSender<QueueEvent>,
}

impl Board {
    /// Starts the board with these operators and the phones the store still
    /// holds; it stops when `shutdown` is cancelled.
    pub(crate) fn start(
        config: &QueueConfig,
        operators: Vec<OperatorInfo>,
        phones: Vec<(String, Phone)>,
        store: Option<Store>,
        bus: Bus,
        clock: Clock,
        shutdown: CancellationToken,
    ) -> (Board, tokio::task::JoinHandle<()>) {
        let (commands, inbox) = mpsc::channel(COMMAND_QUEUE);
        let (log, log_rx) = mpsc::unbounded_channel();
        let now = clock();
        let mut state = BoardState {
            acd: Acd::new(config.presence_rules(), config.group_rules()),
            operators: BTreeMap::new(),
            phones: HashMap::new(),
            waiting: HashMap::new(),
            bus,
            log,
            clock,
        };
        for operator in operators {
            state.add_operator(operator, now);
        }
        for (operator, phone) in phones {
            state.phone_bound(&operator, phone);
        }
        let writer = store.map(|store| tokio::spawn(write_log(store, log_rx)));
        let task = tokio::spawn(async move {
            run(state, inbox, shutdown).await;
            if let Some(writer) = writer {
                drop(writer.await);
            }
        });
        (Board { commands }, task)
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).await.ok()?;
        answer.await.ok()
    }

    async fn tell(&self, command: Command) {
        if self.commands.send(command).await.is_err() {
            warn!("the operators' board has stopped");
        }
    }

    pub async fn add_operator(&self, operator: OperatorInfo) {
        self.tell(Command::AddOperator(operator)).await;
    }

    pub async fn phone_bound(&self, operator: &str, phone: Phone) {
        let operator = operator.to_string();
        self.tell(Command::PhoneBound { operator, phone }).await;
    }

    pub async fn phone_gone(&self, operator: &str, contact: &str) {
        let (operator, contact) = (operator.to_string(), contact.to_string());
        self.tell(Command::PhoneGone { operator, contact }).await;
    }

    pub async fn phone_reachable(&self, operator: &str, contact: &str, reachable: bool) {
        let (operator, contact) = (operator.to_string(), contact.to_string());
        self.tell(Command::PhoneReachable {
            operator,
            contact,
            reachable,
        })
        .await;
    }

    /// Puts a call in the queue; its events arrive on the receiver.
    pub async fn join(
        &self,
        call: WaitingCall,
    ) -> Result<mpsc::UnboundedReceiver<QueueEvent>, NobodyToAnswer> {
        self.ask(|reply| Command::Join { call, reply })
            .await
            .unwrap_or(Err(NobodyToAnswer))
    }

    pub async fn leave(&self, call_id: &str, reason: LeaveReason) {
        let call_id = call_id.to_string();
        self.tell(Command::Leave { call_id, reason }).await;
    }

    pub async fn ring_failed(&self, call_id: &str, operator: &str, failure: RingFailure) {
        let (call_id, operator) = (call_id.to_string(), operator.to_string());
        self.tell(Command::RingFailed {
            call_id,
            operator,
            failure,
        })
        .await;
    }

    /// The operator answered; false when the call had left meanwhile (the
    /// answered leg is then to be hung up).
    pub async fn answered(&self, call_id: &str, operator: &str) -> bool {
        let (call_id, operator) = (call_id.to_string(), operator.to_string());
        self.ask(|reply| Command::Answered {
            call_id,
            operator,
            reply,
        })
        .await
        .unwrap_or(false)
    }

    pub async fn call_ended(&self, operator: &str) {
        let operator = operator.to_string();
        self.tell(Command::CallEnded { operator }).await;
    }

    /// The call's place in the queue, from 1.
    pub async fn position(&self, call_id: &str) -> Option<usize> {
        let call_id = call_id.to_string();
        self.ask(|reply| Command::Position { call_id, reply })
            .await
            .flatten()
    }
}

impl OperatorBoard for Board {
    fn operators(&self) -> BoardFuture<'_, Result<Vec<OperatorView>, BoardError>> {
        Box::pin(async move {
            self.ask(Command::Operators)
                .await
                .ok_or(BoardError::Stopped)
        })
    }

    fn queue(&self) -> BoardFuture<'_, Result<Vec<WaitingCallView>, BoardError>> {
        Box::pin(async move { self.ask(Command::Queue).await.ok_or(BoardError::Stopped) })
    }

    fn set_state<'a>(
        &'a self,
        name: &'a str,
        wanted: WantedState,
    ) -> BoardFuture<'a, Result<OperatorView, BoardError>> {
        Box::pin(async move {
            let name = name.to_string();
            self.ask(|reply| Command::SetState {
                name,
                wanted,
                reply,
            })
            .await
            .unwrap_or(Err(BoardError::Stopped))
        })
    }
}

async fn run(
    mut state: BoardState,
    mut inbox: mpsc::Receiver<Command>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = inbox.recv() => match command {
                Some(command) => state.on_command(command),
                None => break,
            },
            _ = tick.tick() => state.on_tick(),
            () = shutdown.cancelled() => break,
        }
    }
    info!("operators' board stopped");
}

impl BoardState {
    fn now(&self) -> SystemTime {
        (self.clock)()
    }

    fn on_command(&mut self, command: Command) {
        let now = self.now();
        match command {
            Command::Operators(reply) => drop(reply.send(self.views())),
            Command::Queue(reply) => drop(reply.send(self.queue_views(now))),
            Command::SetState {
                name,
                wanted,
                reply,
            } => drop(reply.send(self.set_state(&name, wanted, now))),
            Command::AddOperator(operator) => self.add_operator(operator, now),
            Command::PhoneBound { operator, phone } => self.phone_bound(&operator, phone),
            Command::PhoneGone { operator, contact } => {
                if let Some(phones) = self.phones.get_mut(&operator) {
                    phones.retain(|phone| phone.target.contact != contact);
                }
                self.phone_changed(&operator, now);
            }
            Command::PhoneReachable {
                operator,
                contact,
                reachable,
            } => {
                let Some(phone) = self
                    .phones
                    .get_mut(&operator)
                    .and_then(|phones| phones.iter_mut().find(|p| p.target.contact == contact))
                else {
                    return;
                };
                if phone.reachable != reachable {
                    phone.reachable = reachable;
                    self.phone_changed(&operator, now);
                }
            }
            Command::Join { call, reply } => drop(reply.send(self.join(call, now))),
            Command::Leave { call_id, reason } => self.leave(&call_id, reason, now),
            Command::RingFailed {
                call_id,
                operator,
                failure,
            } => {
                let actions = self.acd.ring_failed(&call_id, &operator, failure, now);
                self.perform(actions);
            }
            Command::Answered {
                call_id,
                operator,
                reply,
            } => {
                let (current, actions) = self.acd.answered(&call_id, &operator, now);
                if current {
                    self.left_queue(&call_id, "answered", now);
                }
                self.perform(actions);
                let _ = reply.send(current);
            }
            Command::CallEnded { operator } => {
                let actions = self.acd.call_ended(&operator, now);
                self.perform(actions);
            }
            Command::Position { call_id, reply } => drop(reply.send(self.acd.position(&call_id))),
        }
    }

    fn on_tick(&mut self) {
        let now = self.now();
        let mut expired = Vec::new();
        for (operator, phones) in &mut self.phones {
            let before = phones.len();
            phones.retain(|phone| phone.expires_at > now);
            if phones.len() != before {
                expired.push(operator.clone());
            }
        }
        for operator in expired {
            info!(operator, "registration expired");
            self.phone_changed(&operator, now);
        }
        let actions = self.acd.tick(now);
        self.perform(actions);
    }

    fn add_operator(&mut self, operator: OperatorInfo, now: SystemTime) {
        self.acd.add_operator(&operator.name, now);
        self.operators.insert(operator.name.clone(), operator);
    }

    fn phone_bound(&mut self, operator: &str, phone: Phone) {
        let now = self.now();
        if !self.operators.contains_key(operator) {
            warn!(operator, "a phone registered for no known operator");
            return;
        }
        let phones = self.phones.entry(operator.to_string()).or_default();
        phones.retain(|known| known.target.contact != phone.target.contact);
        phones.insert(0, phone);
        self.phone_changed(operator, now);
    }

    /// Tells the ACD whether the operator has a reachable phone now.
    fn phone_changed(&mut self, operator: &str, now: SystemTime) {
        let up = self
            .phones
            .get(operator)
            .is_some_and(|phones| phones.iter().any(|phone| phone.reachable));
        let actions = self.acd.phone(operator, up, now);
        self.perform(actions);
        if !up {
            self.tell_the_hopeless();
        }
    }

    /// Tells each waiting call that nobody of its group has a phone up any
    /// more (it leaves the queue for a voice message).
    fn tell_the_hopeless(&self) {
        for waiting in self.waiting.values() {
            if !self.acd.could_answer(&waiting.call.community) {
                drop(waiting.events.send(QueueEvent::NobodyToAnswer));
            }
        }
    }

    fn set_state(
        &mut self,
        name: &str,
        wanted: WantedState,
        now: SystemTime,
    ) -> Result<OperatorView, BoardError> {
        if !self.operators.contains_key(name) {
            return Err(BoardError::UnknownOperator {
                name: name.to_string(),
            });
        }
        let actions = match &wanted {
            WantedState::Available => self.acd.set_available(name, now),
            WantedState::Break { reason } => self.acd.set_break(name, reason, now),
        };
        self.perform(actions);
        self.view(name).ok_or(BoardError::UnknownOperator {
            name: name.to_string(),
        })
    }

    fn join(
        &mut self,
        call: WaitingCall,
        now: SystemTime,
    ) -> Result<mpsc::UnboundedReceiver<QueueEvent>, NobodyToAnswer> {
        if !self.acd.could_answer(&call.community) {
            return Err(NobodyToAnswer);
        }
        let (events, receiver) = mpsc::unbounded_channel();
        let call_id = call.call_id.clone();
        let community = call.community.clone();
        let menu_choice = call.menu_choice.clone();
        self.waiting.insert(
            call_id.clone(),
            Waiting {
                call,
                entered_at: now,
                events,
            },
        );
        let actions = self.acd.join(&call_id, &community, now);
        let (waiting, longest_wait_ms) = self.queue_figures(now);
        self.bus.publish(Event::QueueJoined {
            call_id,
            community,
            menu_choice,
            waiting,
            longest_wait_ms,
            at: unix_millis(now),
        });
        self.perform(actions);
        Ok(receiver)
    }

    fn leave(&mut self, call_id: &str, reason: LeaveReason, now: SystemTime) {
        let actions = self.acd.leave(call_id, now);
        self.left_queue(call_id, reason.as_str(), now);
        self.perform(actions);
    }

    fn left_queue(&mut self, call_id: &str, reason: &str, now: SystemTime) {
        if self.waiting.remove(call_id).is_none() {
            return;
        }
        let (waiting, longest_wait_ms) = self.queue_figures(now);
        self.bus.publish(Event::QueueLeft {
            call_id: call_id.to_string(),
            reason: reason.to_string(),
            waiting,
            longest_wait_ms,
            at: unix_millis(now),
        });
    }

    /// Calls waiting and the longest wait in milliseconds.
    fn queue_figures(&self, now: SystemTime) -> (usize, i64) {
        let longest = self
            .waiting
            .values()
            .map(|w| wait_ms(w.entered_at, now))
            .max()
            .unwrap_or(0);
        (self.waiting.len(), longest)
    }

    fn perform(&mut self, actions: Vec<AcdAction>) {
        for action in actions {
            match action {
                AcdAction::Ring { call, operator } => self.ring(&call, &operator),
                AcdAction::StateChanged {
                    operator,
                    change,
                    call,
                } => self.state_changed(&operator, change, call),
            }
        }
    }

    fn ring(&mut self, call_id: &str, operator: &str) {
        let phones: Vec<PhoneTarget> = self
            .phones
            .get(operator)
            .map(|phones| {
                phones
                    .iter()
                    .filter(|phone| phone.reachable)
                    .map(|phone| phone.target.clone())
                    .collect()
            })
            .unwrap_or_default();
        let user_id = self
            .operators
            .get(operator)
            .map(|info| info.user_id.clone())
            .unwrap_or_default();
        let sent = self.waiting.get(call_id).is_some_and(|waiting| {
            waiting
                .events
                .send(QueueEvent::Ring {
                    operator: operator.to_string(),
                    user_id,
                    phones,
                })
                .is_ok()
        });
        if !sent {
            // The call task is gone without leaving: free the operator.
            let now = self.now();
            let actions = self.acd.leave(call_id, now);
            self.left_queue(call_id, LeaveReason::Abandoned.as_str(), now);
            self.perform(actions);
        }
    }

    fn state_changed(&mut self, operator: &str, change: StateChange, call: Option<String>) {
        info!(operator, state = %change.state, reason = change.reason.as_deref(), "operator state");
        let at = unix_millis(change.at);
        if let Some(info) = self.operators.get(operator) {
            let row = OperatorStateRow {
                id: uuid::Uuid::now_v7().to_string(),
                user_id: info.user_id.clone(),
                state: change.state.as_str().to_string(),
                reason: change.reason.clone(),
                call_id: call.clone(),
                at,
            };
            drop(self.log.send(row));
        }
        self.bus.publish(Event::OperatorState {
            operator: operator.to_string(),
            state: change.state.as_str().to_string(),
            reason: change.reason,
            call_id: call,
            since: at,
        });
    }

    fn views(&self) -> Vec<OperatorView> {
        self.operators
            .keys()
            .filter_map(|name| self.view(name))
            .collect()
    }

    fn view(&self, name: &str) -> Option<OperatorView> {
        let info = self.operators.get(name)?;
        let (_, presence, call) = self.acd.operators().find(|(n, _, _)| *n == name)?;
        let phones = self
            .phones
            .get(name)
            .map(|phones| phones.iter().map(phone_view).collect())
            .unwrap_or_default();
        Some(OperatorView {
            name: name.to_string(),
            display_name: info.display_name.clone(),
            state: presence.state(),
            since: utc(presence.since()),
            reason: presence.reason().map(str::to_string),
            wrap_up_until: presence.wrap_up_until().map(utc),
            call_id: call.map(str::to_string),
            phones,
        })
    }

    fn queue_views(&self, now: SystemTime) -> Vec<WaitingCallView> {
        self.acd
            .waiting()
            .into_iter()
            .filter_map(|w| {
                let waiting = self.waiting.get(&w.call)?;
                Some(WaitingCallView {
                    call_id: w.call,
                    community: w.community,
                    caller: waiting.call.caller.clone(),
                    menu_choice: waiting.call.menu_choice.clone(),
                    entered_at: utc(w.entered_at),
                    wait_ms: wait_ms(w.entered_at, now),
                    ringing: w.ringing,
                })
            })
            .collect()
    }
}

fn phone_view(phone: &Phone) -> PhoneView {
    PhoneView {
        contact: phone.target.contact.clone(),
        transport: phone.target.transport.as_str().to_string(),
        user_agent: phone.user_agent.clone(),
        expires_at: utc(phone.expires_at),
        reachable: phone.reachable,
    }
}

/// A time as the views show it; one out of chrono's range (a registration
/// "forever") shows as the Unix epoch rather than taking the board down.
fn utc(time: SystemTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(unix_millis(time)).unwrap_or_default()
}

fn wait_ms(since: SystemTime, now: SystemTime) -> i64 {
    let waited = now.duration_since(since).unwrap_or_default();
    i64::try_from(waited.as_millis()).unwrap_or(i64::MAX)
}

/// Stores the state log in order, off the board's loop.
async fn write_log(store: Store, mut rows: mpsc::UnboundedReceiver<OperatorStateRow>) {
    while let Some(row) = rows.recv().await {
        if let Err(err) = store.insert_operator_state(&row).await {
            warn!(%err, "cannot store an operator's state change");
        }
    }
}

#[cfg(test)]
mod tests;

//! The SIP endpoint: one tokio task that owns the transports, the
//! transaction table and the dialog table (no lock on the message path),
//! and the handles the TU gets from it ([`Endpoint`], [`InviteServer`],
//! [`NonInviteServer`]).
//!
//! The task answers on its own what needs no TU: retransmissions, CANCEL
//! (RFC 3261 §9.2), ACK for non-2xx, 400 for invalid requests, 481, 483,
//! 420, 405, 501, and 503 while draining. It knows nothing above SIP.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use super::dialog::{DialogEvent, DialogKey, DialogState, ReInvite, ServerDialog, new_tag};
use super::message::{
    ALLOW, Message, Method, ParseError, Request, Response, ResponseParts, build_bad_request,
    build_response, max_forwards, parse, response_destination,
};
use super::transaction::{
    Action, ClientKey, ClientNonInvite, ServerInvite, ServerInviteState, ServerKey,
    ServerNonInvite, Timer, Timers,
};
use super::transport::{TransportEvent, Transports};
use super::{SipConfig, SipError, StatusCode, Transport};

/// Out-of-dialog requests waiting for the TU.
const INCOMING_QUEUE: usize = 256;
/// RFC 3261 §13.3.1.4 / §17.1.1.2: give up on the ACK after 64*T1.
const ACK_WAIT_MULTIPLIER: u32 = 64;
/// Option tags we support (RFC 3261 §19.2); none for now.
const SUPPORTED_EXTENSIONS: &[&str] = &[];

/// Snapshot of the endpoint's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub messages_in: u64,
    pub messages_out: u64,
    pub dropped_unparseable: u64,
    pub answered_bad_request: u64,
    pub retransmissions_absorbed: u64,
}

#[derive(Debug, Default)]
struct CounterCells {
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    dropped_unparseable: AtomicU64,
    answered_bad_request: AtomicU64,
    retransmissions_absorbed: AtomicU64,
}

fn bump(cell: &AtomicU64) {
    cell.fetch_add(1, Ordering::Relaxed);
}

/// An out-of-dialog request for the TU.
#[derive(Debug)]
pub enum Incoming {
    /// A new call.
    Invite(InviteServer),
    /// OPTIONS (keep-alive probes from trunks); answer 200.
    Options(NonInviteServer),
    /// Any other out-of-dialog request we implement (INFO).
    Request(NonInviteServer),
}

/// What handles ask of the endpoint task.
#[derive(Debug)]
pub(crate) enum Command {
    Respond {
        tx: ServerKey,
        status: StatusCode,
        headers: Vec<(String, String)>,
        body: Option<(String, Vec<u8>)>,
    },
    Answer {
        tx: ServerKey,
        sdp: Vec<u8>,
        /// Events of a new dialog; `None` for a re-INVITE.
        events: Option<mpsc::UnboundedSender<DialogEvent>>,
        /// Resolved with the ACK's body (an SDP answer when the INVITE
        /// carried no offer, RFC 3264 §5).
        reply: oneshot::Sender<Result<Vec<u8>, SipError>>,
    },
    Bye {
        dialog: DialogKey,
        reply: oneshot::Sender<Result<StatusCode, SipError>>,
    },
    DialogGone(DialogKey),
    Shutdown,
}

/// Handle to the endpoint task; cheap to clone.
#[derive(Debug, Clone)]
pub struct Endpoint {
    commands: mpsc::UnboundedSender<Command>,
    local_addr: SocketAddr,
    counters: Arc<CounterCells>,
}

impl Endpoint {
    /// Bind UDP and TCP on `config.listen` and start the endpoint task.
    /// Out-of-dialog requests arrive on the returned receiver.
    pub async fn bind(
        config: &SipConfig,
    ) -> Result<(Endpoint, mpsc::Receiver<Incoming>), SipError> {
        let (transports, events) = Transports::bind(config).await?;
        let local_addr = transports.local_addr();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (incoming_tx, incoming) = mpsc::channel(INCOMING_QUEUE);
        let counters = Arc::new(CounterCells::default());
        let core = Core {
            config: config.clone(),
            timers: Timers {
                t1: config.t1,
                t2: config.t2,
                t4: config.t4,
            },
            transports,
            commands: commands.downgrade(),
            incoming: incoming_tx,
            counters: counters.clone(),
            servers: HashMap::new(),
            clients: HashMap::new(),
            dialogs: HashMap::new(),
            timer_queue: BTreeMap::new(),
            timer_seq: 0,
            draining: false,
        };
        tokio::spawn(core.run(events, command_rx));
        Ok((
            Endpoint {
                commands,
                local_addr,
                counters,
            },
            incoming,
        ))
    }

    /// The address UDP and TCP listen on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Start draining: new INVITEs get 503; calls in progress go on.
    pub fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }

    pub fn counters(&self) -> Counters {
        let c = &self.counters;
        Counters {
            messages_in: c.messages_in.load(Ordering::Relaxed),
            messages_out: c.messages_out.load(Ordering::Relaxed),
            dropped_unparseable: c.dropped_unparseable.load(Ordering::Relaxed),
            answered_bad_request: c.answered_bad_request.load(Ordering::Relaxed),
            retransmissions_absorbed: c.retransmissions_absorbed.load(Ordering::Relaxed),
        }
    }
}

/// A server INVITE transaction as the TU sees it.
#[derive(Debug)]
pub struct InviteServer {
    request: Request,
    tx: ServerKey,
    local_tag: String,
    commands: mpsc::UnboundedSender<Command>,
    cancel: Option<oneshot::Receiver<()>>,
    /// A final response was sent (or the endpoint answered for us).
    done: bool,
}

impl InviteServer {
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Our To tag, the same in 180 and 200 (RFC 3261 §12.1.1).
    pub fn local_tag(&self) -> &str {
        &self.local_tag
    }

    /// 180 Ringing (100 Trying was sent when the INVITE arrived).
    pub async fn ringing(&mut self) {
        self.respond(StatusCode::RINGING, Vec::new(), None);
    }

    /// A final non-2xx response.
    pub async fn reject(mut self, status: StatusCode) {
        self.respond(status, Vec::new(), None);
        self.done = true;
    }

    /// 200 with our SDP; the 2xx is retransmitted (RFC 3261 §13.3.1.4)
    /// until the ACK comes, which resolves this. Without ACK after 64*T1
    /// the call is hung up with BYE and this fails.
    pub async fn answer(mut self, sdp: Vec<u8>) -> Result<ServerDialog, SipError> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let ack_body = self.send_answer(sdp, Some(events_tx)).await?;
        Ok(ServerDialog {
            ack_body,
            key: DialogKey {
                call_id: self.request.call_id.clone(),
                local_tag: self.local_tag.clone(),
            },
            events,
            commands: self.commands.clone(),
        })
    }

    pub(crate) async fn answer_in_dialog(mut self, sdp: Vec<u8>) -> Result<Vec<u8>, SipError> {
        self.send_answer(sdp, None).await
    }

    async fn send_answer(
        &mut self,
        sdp: Vec<u8>,
        events: Option<mpsc::UnboundedSender<DialogEvent>>,
    ) -> Result<Vec<u8>, SipError> {
        self.done = true;
        let (reply, result) = oneshot::channel();
        self.commands
            .send(Command::Answer {
                tx: self.tx.clone(),
                sdp,
                events,
                reply,
            })
            .map_err(|_| SipError::EndpointClosed)?;
        result.await.map_err(|_| SipError::EndpointClosed)?
    }

    /// Resolves when a CANCEL took the transaction down (the endpoint has
    /// already answered 487). Cancel-safe; pends forever otherwise.
    pub async fn cancelled(&mut self) {
        match self.cancel.as_mut() {
            Some(receiver) => {
                if receiver.await.is_ok() {
                    self.done = true;
                    return;
                }
                self.cancel = None;
                std::future::pending::<()>().await
            }
            None => std::future::pending::<()>().await,
        }
    }

    fn respond(
        &self,
        status: StatusCode,
        headers: Vec<(String, String)>,
        body: Option<(String, Vec<u8>)>,
    ) {
        let _ = self.commands.send(Command::Respond {
            tx: self.tx.clone(),
            status,
            headers,
            body,
        });
    }
}

impl Drop for InviteServer {
    fn drop(&mut self) {
        // Never leave a transaction unanswered.
        if !self.done {
            self.respond(StatusCode::SERVER_INTERNAL_ERROR, Vec::new(), None);
        }
    }
}

/// A server non-INVITE transaction as the TU sees it.
#[derive(Debug)]
pub struct NonInviteServer {
    request: Request,
    tx: ServerKey,
    commands: mpsc::UnboundedSender<Command>,
    done: bool,
}

impl NonInviteServer {
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Send the final response (with extra headers and an optional body).
    pub async fn respond(
        mut self,
        status: StatusCode,
        headers: Vec<(String, String)>,
        body: Option<(String, Vec<u8>)>,
    ) {
        self.done = true;
        let _ = self.commands.send(Command::Respond {
            tx: self.tx.clone(),
            status,
            headers,
            body,
        });
    }
}

impl Drop for NonInviteServer {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.commands.send(Command::Respond {
                tx: self.tx.clone(),
                status: StatusCode::SERVER_INTERNAL_ERROR,
                headers: Vec::new(),
                body: None,
            });
        }
    }
}

enum ServerMachine {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

struct ServerEntry {
    machine: ServerMachine,
    request: Request,
    local_tag: String,
    /// Tells the InviteServer a CANCEL took it down.
    cancel: Option<oneshot::Sender<()>>,
}

struct ClientEntry {
    machine: ClientNonInvite,
    dest: SocketAddr,
    transport: Transport,
    reply: Option<oneshot::Sender<Result<StatusCode, SipError>>>,
    method: String,
}

/// A 2xx waiting for its ACK (RFC 3261 §13.3.1.4).
struct PendingAck {
    cseq: u32,
    response: Vec<u8>,
    interval: Duration,
    reply: oneshot::Sender<Result<Vec<u8>, SipError>>,
    dest: SocketAddr,
}

struct DialogEntry {
    state: DialogState,
    pending_ack: Option<PendingAck>,
}

#[derive(Debug, Clone)]
enum TimerTarget {
    Server(ServerKey, Timer),
    Client(ClientKey, Timer),
    Retransmit2xx(DialogKey, u32),
    AckTimeout(DialogKey, u32),
}

struct Core {
    config: SipConfig,
    timers: Timers,
    transports: Transports,
    commands: mpsc::WeakUnboundedSender<Command>,
    incoming: mpsc::Sender<Incoming>,
    counters: Arc<CounterCells>,
    servers: HashMap<ServerKey, ServerEntry>,
    clients: HashMap<ClientKey, ClientEntry>,
    dialogs: HashMap<DialogKey, DialogEntry>,
    timer_queue: BTreeMap<(Instant, u64), TimerTarget>,
    timer_seq: u64,
    draining: bool,
}

impl Core {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<TransportEvent>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        loop {
            let next_timer = self.timer_queue.keys().next().map(|(at, _)| *at);
            tokio::select! {
                event = events.recv() => match event {
                    Some(event) => self.on_transport_event(event).await,
                    None => break,
                },
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => break,
                },
                _ = sleep_until(next_timer.unwrap_or_else(Instant::now)), if next_timer.is_some() => {
                    self.on_timers_due().await;
                }
            }
        }
        tracing::debug!("SIP endpoint stopped");
    }

    async fn on_transport_event(&mut self, event: TransportEvent) {
        match event {
            TransportEvent::Message {
                bytes,
                source,
                transport,
            } => self.on_message(&bytes, source, transport).await,
            TransportEvent::Connected { peer, writer } => {
                self.transports.on_connected(peer, writer)
            }
            TransportEvent::Closed { peer, malformed } => {
                if malformed {
                    bump(&self.counters.dropped_unparseable);
                }
                self.transports.on_closed(peer);
            }
            TransportEvent::Oversized => bump(&self.counters.dropped_unparseable),
        }
    }

    async fn on_message(&mut self, bytes: &[u8], source: SocketAddr, transport: Transport) {
        bump(&self.counters.messages_in);
        match parse(bytes, source, transport) {
            Ok(Message::Request(request)) => self.on_request(*request).await,
            Ok(Message::Response(response)) => self.on_response(response).await,
            Err(ParseError::Invalid { reason, request }) => {
                if request.method == Method::Ack {
                    bump(&self.counters.dropped_unparseable);
                    return;
                }
                tracing::debug!(%source, %reason, "answering 400");
                bump(&self.counters.answered_bad_request);
                let host = self.transports.local_addr().ip().to_string();
                let bytes = build_bad_request(&request, &reason, &self.config.user_agent, &host);
                self.answer_new(*request, StatusCode::BAD_REQUEST, bytes)
                    .await;
            }
            Err(error) => {
                tracing::debug!(%source, %error, "dropping SIP message");
                bump(&self.counters.dropped_unparseable);
            }
        }
    }

    async fn on_request(&mut self, request: Request) {
        let key = ServerKey::for_request(&request);
        if self.servers.contains_key(&key) {
            return self.on_known_transaction(key, request).await;
        }
        match &request.method {
            Method::Ack => return self.on_ack(request),
            Method::Cancel => return self.on_cancel(request).await,
            _ => {}
        }
        if max_forwards(&request) == Some(0) {
            return self
                .reply(request, StatusCode::TOO_MANY_HOPS, Vec::new())
                .await;
        }
        let unsupported: Vec<String> = request
            .required_extensions()
            .into_iter()
            .filter(|tag| !SUPPORTED_EXTENSIONS.contains(&tag.as_str()))
            .collect();
        if !unsupported.is_empty() {
            // RFC 3261 §8.2.2.3.
            let headers = vec![("Unsupported".to_owned(), unsupported.join(", "))];
            return self
                .reply(request, StatusCode::BAD_EXTENSION, headers)
                .await;
        }
        let allow = vec![("Allow".to_owned(), ALLOW.to_owned())];
        if matches!(request.method, Method::Extension(_)) {
            // RFC 3261 §8.2.1.
            return self
                .reply(request, StatusCode::NOT_IMPLEMENTED, allow)
                .await;
        }
        if request.method.is_known_unsupported() {
            return self
                .reply(request, StatusCode::METHOD_NOT_ALLOWED, allow)
                .await;
        }
        if request.to_tag().is_some() {
            return self.on_in_dialog(request).await;
        }
        match request.method {
            Method::Invite if self.draining => {
                self.reply(request, StatusCode::SERVICE_UNAVAILABLE, Vec::new())
                    .await
            }
            Method::Invite => self.on_new_invite(request).await,
            // RFC 3261 §15.1.2: a BYE that matches no dialog gets 481.
            Method::Bye => {
                self.reply(
                    request,
                    StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                    Vec::new(),
                )
                .await
            }
            Method::Options => {
                let server = self.new_non_invite(request, None);
                self.deliver(Incoming::Options, server).await;
            }
            _ => {
                let server = self.new_non_invite(request, None);
                self.deliver(Incoming::Request, server).await;
            }
        }
    }

    async fn deliver(
        &mut self,
        wrap: fn(NonInviteServer) -> Incoming,
        server: Option<NonInviteServer>,
    ) {
        let Some(server) = server else { return };
        if let Err(error) = self.incoming.try_send(wrap(server)) {
            // The TU is overloaded or gone; the handle's drop answers 500.
            tracing::warn!(%error, "incoming queue unavailable");
        }
    }

    /// A request for a transaction we have: a retransmission, or the ACK
    /// for our non-2xx final response.
    async fn on_known_transaction(&mut self, key: ServerKey, request: Request) {
        let now = Instant::now();
        let Some(entry) = self.servers.get_mut(&key) else {
            return;
        };
        let actions = match (&mut entry.machine, &request.method) {
            (ServerMachine::Invite(machine), Method::Ack) => {
                if machine.state() == ServerInviteState::Accepted {
                    // The ACK for a 2xx is its own transaction (§17.1.1.3).
                    return self.on_ack(request);
                }
                machine.on_ack(now)
            }
            (ServerMachine::Invite(machine), _) => {
                bump(&self.counters.retransmissions_absorbed);
                machine.on_retransmission()
            }
            (ServerMachine::NonInvite(machine), _) => {
                bump(&self.counters.retransmissions_absorbed);
                machine.on_retransmission()
            }
        };
        self.run_server_actions(&key, actions).await;
    }

    /// ACK outside a server transaction: the ACK for a 2xx (§13.3.1.4).
    fn on_ack(&mut self, request: Request) {
        let Some(local_tag) = request.to_tag() else {
            return;
        };
        let key = DialogKey {
            call_id: request.call_id.clone(),
            local_tag: local_tag.to_owned(),
        };
        let Some(dialog) = self.dialogs.get_mut(&key) else {
            return;
        };
        if dialog
            .pending_ack
            .as_ref()
            .is_some_and(|p| p.cseq == request.cseq)
            && let Some(pending) = dialog.pending_ack.take()
        {
            let _ = pending.reply.send(Ok(request.body.clone()));
        } else {
            bump(&self.counters.retransmissions_absorbed);
        }
    }

    /// RFC 3261 §9.2: 200 to the CANCEL, 487 to the INVITE it matches.
    async fn on_cancel(&mut self, request: Request) {
        let invite_key = ServerKey::of_invite(&request);
        let proceeding = self.servers.get(&invite_key).is_some_and(|e| {
            matches!(&e.machine, ServerMachine::Invite(m) if m.state() == ServerInviteState::Proceeding)
        });
        if !self.servers.contains_key(&invite_key) {
            return self
                .reply(
                    request,
                    StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                    Vec::new(),
                )
                .await;
        }
        self.reply(request, StatusCode::OK, Vec::new()).await;
        if proceeding {
            if let Some(cancel) = self
                .servers
                .get_mut(&invite_key)
                .and_then(|entry| entry.cancel.take())
            {
                let _ = cancel.send(());
            }
            self.respond_in(&invite_key, StatusCode::REQUEST_TERMINATED, &[], None)
                .await;
        }
    }

    async fn on_in_dialog(&mut self, request: Request) {
        let key = DialogKey {
            call_id: request.call_id.clone(),
            local_tag: request.to_tag().unwrap_or_default().to_owned(),
        };
        if !self.dialogs.contains_key(&key) {
            return self
                .reply(
                    request,
                    StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                    Vec::new(),
                )
                .await;
        }
        let event = match request.method {
            Method::Invite => {
                if let Some(dialog) = self.dialogs.get_mut(&key) {
                    dialog.state.refresh_target(&request);
                }
                self.new_invite_server(request, key.local_tag.clone())
                    .await
                    .map(|server| DialogEvent::ReInvite(ReInvite { server }))
            }
            Method::Bye => self
                .new_non_invite(request, Some(&key))
                .map(DialogEvent::Bye),
            Method::Info => self
                .new_non_invite(request, Some(&key))
                .map(DialogEvent::Info),
            _ => self
                .new_non_invite(request, Some(&key))
                .map(DialogEvent::Other),
        };
        let Some(event) = event else { return };
        let is_bye = matches!(event, DialogEvent::Bye(_));
        if let Some(dialog) = self.dialogs.get(&key) {
            // A dialog whose handle is gone: the event's drop answers 500.
            let _ = dialog.state.events.send(event);
        }
        if is_bye {
            // RFC 3261 §15.1.2: the dialog ends with the BYE.
            self.dialogs.remove(&key);
        }
    }

    async fn on_new_invite(&mut self, request: Request) {
        let Some(server) = self.new_invite_server(request, new_tag()).await else {
            return;
        };
        if let Err(error) = self.incoming.try_send(Incoming::Invite(server)) {
            tracing::warn!("incoming queue unavailable, answering 503");
            if let mpsc::error::TrySendError::Full(Incoming::Invite(mut server))
            | mpsc::error::TrySendError::Closed(Incoming::Invite(mut server)) = error
            {
                server.done = true;
                let key = server.tx.clone();
                drop(server);
                self.respond_in(&key, StatusCode::SERVICE_UNAVAILABLE, &[], None)
                    .await;
            }
        }
    }

    /// Create a server INVITE transaction, send 100 Trying (§17.2.1) and
    /// make the TU handle.
    async fn new_invite_server(
        &mut self,
        request: Request,
        local_tag: String,
    ) -> Option<InviteServer> {
        let commands = self.commands.upgrade()?;
        let key = ServerKey::for_request(&request);
        let (cancel_tx, cancel_rx) = oneshot::channel();
        let machine = ServerInvite::new(request.transport.is_reliable(), self.timers);
        self.servers.insert(
            key.clone(),
            ServerEntry {
                machine: ServerMachine::Invite(machine),
                request: request.clone(),
                local_tag: local_tag.clone(),
                cancel: Some(cancel_tx),
            },
        );
        self.respond_in(&key, StatusCode::TRYING, &[], None).await;
        Some(InviteServer {
            request,
            tx: key,
            local_tag,
            commands,
            cancel: Some(cancel_rx),
            done: false,
        })
    }

    fn new_non_invite(
        &mut self,
        request: Request,
        dialog: Option<&DialogKey>,
    ) -> Option<NonInviteServer> {
        let commands = self.commands.upgrade()?;
        let key = ServerKey::for_request(&request);
        let machine = ServerNonInvite::new(request.transport.is_reliable(), self.timers);
        let local_tag = dialog.map(|d| d.local_tag.clone()).unwrap_or_else(new_tag);
        self.servers.insert(
            key.clone(),
            ServerEntry {
                machine: ServerMachine::NonInvite(machine),
                request: request.clone(),
                local_tag,
                cancel: None,
            },
        );
        Some(NonInviteServer {
            request,
            tx: key,
            commands,
            done: false,
        })
    }

    /// Answer a request on the endpoint's own account, in a fresh server
    /// transaction so retransmissions get the same answer.
    async fn reply(
        &mut self,
        request: Request,
        status: StatusCode,
        headers: Vec<(String, String)>,
    ) {
        let local_tag = request.to_tag().map(str::to_owned).unwrap_or_else(new_tag);
        let bytes = build_response(
            &request,
            status,
            &self.config.user_agent,
            &ResponseParts {
                to_tag: Some(&local_tag),
                headers: &headers,
                ..ResponseParts::default()
            },
        );
        self.answer_new(request, status, bytes).await;
    }

    async fn answer_new(&mut self, request: Request, status: StatusCode, bytes: Vec<u8>) {
        let key = ServerKey::for_request(&request);
        let reliable = request.transport.is_reliable();
        let now = Instant::now();
        let (machine, actions) = if request.method == Method::Invite {
            let mut machine = ServerInvite::new(reliable, self.timers);
            let actions = machine.on_response(status, bytes, now);
            (ServerMachine::Invite(machine), actions)
        } else {
            let mut machine = ServerNonInvite::new(reliable, self.timers);
            let actions = machine.on_response(status, bytes, now);
            (ServerMachine::NonInvite(machine), actions)
        };
        self.servers.insert(
            key.clone(),
            ServerEntry {
                machine,
                request,
                local_tag: String::new(),
                cancel: None,
            },
        );
        self.run_server_actions(&key, actions).await;
    }

    /// Send a response in an existing server transaction.
    async fn respond_in(
        &mut self,
        key: &ServerKey,
        status: StatusCode,
        headers: &[(String, String)],
        body: Option<(&str, &[u8])>,
    ) -> Option<Vec<u8>> {
        let now = Instant::now();
        let entry = self.servers.get_mut(key)?;
        let bytes = build_response(
            &entry.request,
            status,
            &self.config.user_agent,
            &ResponseParts {
                to_tag: Some(&entry.local_tag),
                headers,
                body,
                ..ResponseParts::default()
            },
        );
        let actions = match &mut entry.machine {
            ServerMachine::Invite(machine) => machine.on_response(status, bytes.clone(), now),
            ServerMachine::NonInvite(machine) => machine.on_response(status, bytes.clone(), now),
        };
        if actions.is_empty() {
            return None;
        }
        self.run_server_actions(key, actions).await;
        Some(bytes)
    }

    async fn run_server_actions(&mut self, key: &ServerKey, actions: Vec<Action>) {
        let Some(entry) = self.servers.get(key) else {
            return;
        };
        let dest = response_destination(&entry.request);
        let transport = entry.request.transport;
        for action in actions {
            match action {
                Action::Send(bytes) => self.send(dest, transport, bytes).await,
                Action::Schedule(timer, at) => {
                    self.schedule(at, TimerTarget::Server(key.clone(), timer))
                }
                Action::Terminated => {
                    self.servers.remove(key);
                }
                Action::Timeout | Action::DeliverResponse(_) => {}
            }
        }
    }

    async fn send(&mut self, dest: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        bump(&self.counters.messages_out);
        self.transports.send(dest, transport, bytes).await;
    }

    fn schedule(&mut self, at: Instant, target: TimerTarget) {
        self.timer_seq += 1;
        self.timer_queue.insert((at, self.timer_seq), target);
    }

    async fn on_timers_due(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.timer_queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let target = entry.remove();
            self.on_timer(target, now).await;
        }
    }

    async fn on_timer(&mut self, target: TimerTarget, now: Instant) {
        match target {
            TimerTarget::Server(key, timer) => {
                let Some(entry) = self.servers.get_mut(&key) else {
                    return;
                };
                let actions = match &mut entry.machine {
                    ServerMachine::Invite(machine) => machine.on_timer(timer, now),
                    ServerMachine::NonInvite(machine) => machine.on_timer(timer, now),
                };
                self.run_server_actions(&key, actions).await;
            }
            TimerTarget::Client(key, timer) => {
                let Some(entry) = self.clients.get_mut(&key) else {
                    return;
                };
                let actions = entry.machine.on_timer(timer, now);
                self.run_client_actions(&key, actions).await;
            }
            TimerTarget::Retransmit2xx(key, cseq) => self.retransmit_2xx(key, cseq, now).await,
            TimerTarget::AckTimeout(key, cseq) => self.ack_timeout(key, cseq).await,
        }
    }

    /// RFC 3261 §13.3.1.4: resend the 2xx at T1, doubling up to T2.
    async fn retransmit_2xx(&mut self, key: DialogKey, cseq: u32, now: Instant) {
        let Some(dialog) = self.dialogs.get_mut(&key) else {
            return;
        };
        let transport = dialog.state.transport;
        let Some(pending) = dialog.pending_ack.as_mut().filter(|p| p.cseq == cseq) else {
            return;
        };
        pending.interval = (pending.interval * 2).min(self.timers.t2);
        let (bytes, dest, next) = (
            pending.response.clone(),
            pending.dest,
            now + pending.interval,
        );
        self.send(dest, transport, bytes).await;
        self.schedule(next, TimerTarget::Retransmit2xx(key, cseq));
    }

    /// No ACK within 64*T1: hang up (RFC 3261 §13.3.1.4).
    async fn ack_timeout(&mut self, key: DialogKey, cseq: u32) {
        let Some(dialog) = self.dialogs.get_mut(&key) else {
            return;
        };
        let Some(pending) = dialog.pending_ack.take_if(|p| p.cseq == cseq) else {
            return;
        };
        let waited = self.timers.t1 * ACK_WAIT_MULTIPLIER;
        let _ = pending.reply.send(Err(SipError::AckTimeout { waited }));
        self.send_bye(key, None).await;
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Respond {
                tx,
                status,
                headers,
                body,
            } => {
                let body = body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice()));
                self.respond_in(&tx, status, &headers, body).await;
            }
            Command::Answer {
                tx,
                sdp,
                events,
                reply,
            } => self.answer(tx, sdp, events, reply).await,
            Command::Bye { dialog, reply } => self.send_bye(dialog, Some(reply)).await,
            Command::DialogGone(key) => {
                self.dialogs.remove(&key);
            }
            Command::Shutdown => self.draining = true,
        }
    }

    /// Send the 2xx and wait for the ACK; a new dialog is registered
    /// first so the ACK (an in-dialog request) finds it.
    async fn answer(
        &mut self,
        tx: ServerKey,
        sdp: Vec<u8>,
        events: Option<mpsc::UnboundedSender<DialogEvent>>,
        reply: oneshot::Sender<Result<Vec<u8>, SipError>>,
    ) {
        let Some(entry) = self.servers.get(&tx) else {
            let _ = reply.send(Err(SipError::Cancelled));
            return;
        };
        let proceeding = matches!(&entry.machine, ServerMachine::Invite(m) if m.state() == ServerInviteState::Proceeding);
        if !proceeding {
            let _ = reply.send(Err(SipError::Cancelled));
            return;
        }
        let request = entry.request.clone();
        let key = DialogKey {
            call_id: request.call_id.clone(),
            local_tag: entry.local_tag.clone(),
        };
        if let Some(events) = events {
            let state = DialogState::from_invite(&request, &key.local_tag, events);
            self.dialogs.insert(
                key.clone(),
                DialogEntry {
                    state,
                    pending_ack: None,
                },
            );
        }
        if !self.dialogs.contains_key(&key) {
            let _ = reply.send(Err(SipError::DialogEnded {
                call_id: key.call_id,
            }));
            return;
        }
        let contact = format!(
            "<sip:{};transport={}>",
            self.transports.local_addr(),
            request.transport.as_str().to_ascii_lowercase()
        );
        let headers = [
            ("Contact".to_owned(), contact),
            ("Allow".to_owned(), ALLOW.to_owned()),
        ];
        let body = Some(("application/sdp", sdp.as_slice()));
        let Some(bytes) = self.respond_in(&tx, StatusCode::OK, &headers, body).await else {
            let _ = reply.send(Err(SipError::Cancelled));
            return;
        };
        let now = Instant::now();
        let dest = response_destination(&request);
        if let Some(dialog) = self.dialogs.get_mut(&key) {
            dialog.pending_ack = Some(PendingAck {
                cseq: request.cseq,
                response: bytes,
                interval: self.timers.t1,
                reply,
                dest,
            });
        }
        // Over TCP the 2xx is not retransmitted (§13.3.1.4 applies to
        // unreliable transports), but the ACK wait still applies.
        if !request.transport.is_reliable() {
            self.schedule(
                now + self.timers.t1,
                TimerTarget::Retransmit2xx(key.clone(), request.cseq),
            );
        }
        self.schedule(
            now + self.timers.t1 * ACK_WAIT_MULTIPLIER,
            TimerTarget::AckTimeout(key, request.cseq),
        );
    }

    /// BYE in a client non-INVITE transaction (RFC 3261 §15.1.1); the
    /// dialog ends at once.
    async fn send_bye(
        &mut self,
        key: DialogKey,
        reply: Option<oneshot::Sender<Result<StatusCode, SipError>>>,
    ) {
        let Some(mut dialog) = self.dialogs.remove(&key) else {
            if let Some(reply) = reply {
                let _ = reply.send(Err(SipError::DialogEnded {
                    call_id: key.call_id,
                }));
            }
            return;
        };
        let local_addr = self.transports.local_addr();
        let request = dialog.state.bye(local_addr, &self.config.user_agent);
        let transport = dialog.state.transport;
        // Over TCP, the connection the call came on while it lives.
        let dest = if transport == Transport::Tcp && self.transports.is_connected(dialog.state.peer)
        {
            dialog.state.peer
        } else {
            dialog.state.next_hop()
        };
        let (machine, actions) = ClientNonInvite::start(
            request.to_bytes(),
            transport.is_reliable(),
            self.timers,
            Instant::now(),
        );
        let client_key = ClientKey {
            branch: request.branch.clone(),
            method: request.method.as_str().to_owned(),
        };
        self.clients.insert(
            client_key.clone(),
            ClientEntry {
                machine,
                dest,
                transport,
                reply,
                method: request.method.as_str().to_owned(),
            },
        );
        self.run_client_actions(&client_key, actions).await;
    }

    async fn on_response(&mut self, response: Response) {
        let Some(branch) = response.branch.clone() else {
            bump(&self.counters.dropped_unparseable);
            return;
        };
        let key = ClientKey {
            branch,
            method: response.cseq_method.clone(),
        };
        let Some(entry) = self.clients.get_mut(&key) else {
            // RFC 3261 §18.1.2: a response that matches nothing is discarded.
            return;
        };
        let actions = entry.machine.on_response(response.status, Instant::now());
        if actions.is_empty() {
            bump(&self.counters.retransmissions_absorbed);
        }
        self.run_client_actions(&key, actions).await;
    }

    async fn run_client_actions(&mut self, key: &ClientKey, actions: Vec<Action>) {
        for action in actions {
            let Some(entry) = self.clients.get_mut(key) else {
                return;
            };
            match action {
                Action::Send(bytes) => {
                    let (dest, transport) = (entry.dest, entry.transport);
                    self.send(dest, transport, bytes).await;
                }
                Action::Schedule(timer, at) => {
                    self.schedule(at, TimerTarget::Client(key.clone(), timer))
                }
                Action::DeliverResponse(status) if status.is_final() => {
                    if let Some(reply) = entry.reply.take() {
                        let _ = reply.send(Ok(status));
                    }
                }
                Action::DeliverResponse(_) => {}
                Action::Timeout => {
                    if let Some(reply) = entry.reply.take() {
                        let _ = reply.send(Err(SipError::TransactionTimeout {
                            method: entry.method.clone(),
                            waited: self.timers.t1 * ACK_WAIT_MULTIPLIER,
                        }));
                    }
                }
                Action::Terminated => {
                    self.clients.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

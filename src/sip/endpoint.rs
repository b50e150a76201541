//! The SIP endpoint: one task, on a thread of its own, that owns the
//! transports, the transaction table and the dialog table (no lock on the
//! message path),
//! and the handles the TU gets from it ([`Endpoint`], [`InviteServer`],
//! [`NonInviteServer`]).
//!
//! The task answers on its own what needs no TU: retransmissions, CANCEL
//! (RFC 3261 §9.2), ACK for non-2xx, 400 for invalid requests, 481, 483,
//! 420, 405, 416, 501, 505, and 503 while draining. It knows nothing above
//! SIP.
//!
//! `task` is the loop, `screening` the refusals of new requests, `server`
//! the UAS side, `client` our own requests and 2xx, `handles` what the TU
//! holds.

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
    build_response, parse, response_destination,
};
use super::transaction::{
    Action, ClientKey, ClientNonInvite, ServerInvite, ServerInviteState, ServerKey,
    ServerNonInvite, Timer, Timers,
};
use super::transport::{TransportEvent, Transports};
use super::{SipConfig, SipError, StatusCode, Transport};

mod client;
mod handles;
mod screening;
mod server;
mod task;

pub use handles::{InviteServer, NonInviteServer};

/// The endpoint's thread. The endpoint runs on a thread of its own, not
/// as a task among the calls' tasks: a burst of call work on a runtime
/// worker would otherwise hold up every SIP message behind it (a task
/// woken by another is queued on the waker's worker), which a caller sees
/// as retransmissions. The UDP reader shares the thread, so a message
/// reaches the endpoint without waking another thread.
const THREAD_NAME: &str = "hotline-sip";
/// Out-of-dialog requests waiting for the TU before new INVITEs get 503.
/// The caller has had its 100 Trying, so a wait here costs no
/// retransmission; 4096 is about two seconds of calls at 2,000 calls/s,
/// enough for the TU to ride out a scheduling hiccup, short enough that
/// real overload is refused rather than queued for ever.
const INCOMING_QUEUE: usize = 4096;
/// RFC 3261 §13.3.1.4 / §17.1.1.2: give up on the ACK after 64*T1.
const ACK_WAIT_MULTIPLIER: u32 = 64;

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
        events: Option<mpsc::UnboundedSender<Box<DialogEvent>>>,
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
    /// Bind UDP and TCP on `config.listen` and start the endpoint on a
    /// thread of its own (see [`THREAD_NAME`]). Out-of-dialog requests
    /// arrive on the returned receiver.
    pub async fn bind(
        config: &SipConfig,
    ) -> Result<(Endpoint, mpsc::Receiver<Incoming>), SipError> {
        let (started_tx, started) = oneshot::channel();
        let config = config.clone();
        std::thread::Builder::new()
            .name(THREAD_NAME.to_string())
            .spawn(move || run_thread(config, started_tx))
            .map_err(SipError::Thread)?;
        started.await.map_err(|_| SipError::EndpointClosed)?
    }

    /// Like [`bind`](Self::bind), but the endpoint runs as a task of the
    /// current runtime: the unit tests drive its timers with tokio's paused
    /// clock, which only that runtime's tasks follow.
    #[cfg(test)]
    pub(crate) async fn bind_on_current_runtime(
        config: &SipConfig,
    ) -> Result<(Endpoint, mpsc::Receiver<Incoming>), SipError> {
        let (endpoint, incoming, run) = start(config.clone()).await?;
        tokio::spawn(run);
        Ok((endpoint, incoming))
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

/// The endpoint thread: a single-threaded runtime that binds the
/// transports, reports the outcome, then runs the endpoint loop until every
/// handle is gone.
fn run_thread(
    config: SipConfig,
    started: oneshot::Sender<Result<(Endpoint, mpsc::Receiver<Incoming>), SipError>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = started.send(Err(SipError::Thread(error)));
            return;
        }
    };
    runtime.block_on(async move {
        match start(config).await {
            Ok((endpoint, incoming, run)) => {
                if started.send(Ok((endpoint, incoming))).is_ok() {
                    run.await;
                }
            }
            Err(error) => {
                let _ = started.send(Err(error));
            }
        }
    });
}

/// Binds the transports and builds the endpoint; the returned future is
/// its loop, to be run on the runtime the transports were bound on.
async fn start(
    config: SipConfig,
) -> Result<
    (
        Endpoint,
        mpsc::Receiver<Incoming>,
        impl Future<Output = ()> + use<>,
    ),
    SipError,
> {
    let (transports, events) = Transports::bind(&config).await?;
    let local_addr = transports.local_addr();
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (incoming_tx, incoming) = mpsc::channel(INCOMING_QUEUE);
    let counters = Arc::new(CounterCells::default());
    let core = Core {
        timers: Timers {
            t1: config.t1,
            t2: config.t2,
            t4: config.t4,
        },
        config,
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
    let endpoint = Endpoint {
        commands,
        local_addr,
        counters,
    };
    Ok((endpoint, incoming, core.run(events, command_rx)))
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

#[cfg(test)]
mod tests;

//! The SIP endpoint: one task, on a thread of its own, that owns the
//! transports, the transaction tables and the dialog table (no lock on
//! the message path), and the handles the TU gets from it ([`Endpoint`],
//! [`InviteServer`], [`NonInviteServer`], and for calls we place
//! [`InviteClient`]).
//!
//! The task answers on its own what needs no TU: retransmissions, CANCEL
//! (RFC 3261 §9.2), ACK for non-2xx, 400 for invalid requests, 481, 420,
//! 405, 416, 501, 505, and 503 while draining. It knows nothing above SIP.
//!
//! Each file owns one concern: `task` is the loop, which dispatches every
//! event to the owner of its state and then does the socket I/O;
//! `servers` the server transactions, `clients` the client transactions,
//! `dialogs` the dialogs with their 2xx/ACK state, `timers` the timer
//! queue, `outbox` what the tables ask to be sent and armed, `screening`
//! the refusals of new requests, `requests` the requests we originate
//! outside a dialog, `handles` what the TU holds, `counters` the
//! counters.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::dialog::{DialogEvent, DialogKey};
use super::message::Method;
use super::transaction::{ClientKey, ServerKey};
use super::transport::Transports;
use super::{SipConfig, SipError, StatusCode};

mod clients;
mod counters;
mod dialogs;
mod handles;
mod outbox;
mod requests;
mod screening;
mod servers;
mod task;
mod timers;

pub use counters::Counters;
pub use handles::{Challenge, InviteClient, InviteResponse, InviteServer, NonInviteServer};
pub use requests::{Party, Target};

use counters::CounterCells;
use requests::NewRequest;
use task::Core;

/// The body type of the offer in an INVITE we send (RFC 3264).
const SDP: &str = "application/sdp";

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
    /// Place a call: an INVITE in a client transaction of its own.
    Invite {
        request: Box<NewRequest>,
        events: mpsc::UnboundedSender<InviteEvent>,
    },
    /// CANCEL the INVITE of this transaction (RFC 3261 §9.1).
    Cancel {
        tx: ClientKey,
    },
    /// ACK the 2xx to the INVITE with this CSeq (§13.2.2.4).
    Ack {
        dialog: DialogKey,
        cseq: u32,
    },
    /// A re-INVITE with this offer in a dialog we placed.
    ReInvite {
        dialog: DialogKey,
        sdp: Vec<u8>,
        reply: oneshot::Sender<Result<ReInvited, SipError>>,
    },
    /// A lone non-INVITE request (OPTIONS).
    Request {
        request: Box<NewRequest>,
        reply: oneshot::Sender<Result<StatusCode, SipError>>,
    },
}

/// What the endpoint tells the handle of a call we place.
#[derive(Debug)]
pub(crate) enum InviteEvent {
    /// 180, 183… (not 100) with its body.
    Provisional { status: StatusCode, body: Vec<u8> },
    /// A 2xx made the dialog: its key, the INVITE's CSeq for the ACK, the
    /// answer and the dialog's events.
    Answered {
        dialog: DialogKey,
        cseq: u32,
        answer: Vec<u8>,
        events: mpsc::UnboundedReceiver<Box<DialogEvent>>,
    },
    /// A final non-2xx response (acknowledged by the transaction).
    Rejected(StatusCode),
    /// A 401 or 407 with its challenges (acknowledged too).
    Challenged(Challenge),
    /// No final response (timer B).
    Failed(SipError),
}

/// The final response to a re-INVITE we sent, and its CSeq for the ACK.
#[derive(Debug)]
pub(crate) struct ReInvited {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
    pub(crate) cseq: u32,
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

    /// Place a call (RFC 3261 §13.2.1): an INVITE to `target` from `from`
    /// to `to`, with `headers` and our SDP offer (RFC 3264 §5: the answer
    /// comes in the 2xx, [`ClientDialog::answer`](super::ClientDialog::answer)).
    /// The handle yields the responses and can cancel the call.
    pub fn invite(
        &self,
        target: Target,
        (from, to): (Party, Party),
        headers: Vec<(String, String)>,
        sdp: Vec<u8>,
    ) -> Result<InviteClient, SipError> {
        let body = Some((SDP.to_owned(), sdp)).filter(|(_, sdp)| !sdp.is_empty());
        let request = NewRequest::new(Method::Invite, target, (from, to), headers, body)?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let client = InviteClient::new(&request, events, self.commands.clone());
        self.commands
            .send(Command::Invite {
                request: Box::new(request),
                events: events_tx,
            })
            .map_err(|_| SipError::EndpointClosed)?;
        Ok(client)
    }

    /// Send a lone non-INVITE request outside any dialog (an OPTIONS
    /// keep-alive to a phone, RFC 3261 §11) in a client transaction of its
    /// own; its final status, or the timeout (timer F).
    pub async fn request(
        &self,
        method: &str,
        target: Target,
        (from, to): (Party, Party),
        headers: Vec<(String, String)>,
    ) -> Result<StatusCode, SipError> {
        let method = Method::parse(method)
            .filter(|m| !matches!(m, Method::Invite | Method::Ack | Method::Cancel))
            .ok_or_else(|| SipError::InvalidMethod {
                method: method.to_owned(),
            })?;
        let request = NewRequest::new(method, target, (from, to), headers, None)?;
        let (reply, result) = oneshot::channel();
        self.commands
            .send(Command::Request {
                request: Box::new(request),
                reply,
            })
            .map_err(|_| SipError::EndpointClosed)?;
        result.await.map_err(|_| SipError::EndpointClosed)?
    }

    pub fn counters(&self) -> Counters {
        self.counters.snapshot()
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
    let core = Core::new(
        &config,
        transports,
        commands.downgrade(),
        incoming_tx,
        counters.clone(),
    );
    let endpoint = Endpoint {
        commands,
        local_addr,
        counters,
    };
    Ok((endpoint, incoming, core.run(events, command_rx)))
}

#[cfg(test)]
mod tests;

//! The hotline service: takes what the SIP endpoint hands up, starts one
//! task per inbound call, answers OPTIONS, and on shutdown hangs up the
//! calls in progress and waits for their records to be finished.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::desk::Tickets;
use crate::events::Bus;
use crate::media::{Dbfs, MediaEngine, Prompt, RtpPortPool};
use crate::recording::{CallRecorder, RecordingService};
use crate::sip::{ALLOW, Endpoint, Incoming, NonInviteServer, StatusCode};
use crate::store::{CallJournal, Store};

use super::config::{HotlineConfig, IvrConfig, VoicemailConfig};
use super::content::ACCEPT;
use super::inbound;
use super::ivr::PromptId;
use super::operators::{Board, QueueConfig, RegistrarHandle};

/// The loaded prompts.
#[derive(Debug, Clone)]
pub struct Prompts {
    pub greeting: Prompt,
    pub menu: Prompt,
    pub invalid: Prompt,
    pub voicemail: Prompt,
    pub beep: Prompt,
    pub thanks: Prompt,
    /// Joining the queue for an operator.
    pub queue: Prompt,
    /// Music looped while waiting or on hold.
    pub hold: Prompt,
    /// The caller's place in the queue, from the first.
    pub positions: Vec<Prompt>,
    /// A place past `positions`.
    pub position_more: Prompt,
    /// What a caller hears while an operator's phone rings.
    pub ringback: Prompt,
}

/// The ringback tone of Chinese networks (GB 16838: 450 Hz, 1 s on, 4 s
/// off), one cadence, to be looped.
pub fn ringback_tone() -> Prompt {
    const ON: Duration = Duration::from_secs(1);
    const CADENCE_SAMPLES: usize = 5 * 8000;
    let mut samples = Prompt::tone("ringback", 450.0, ON).samples().to_vec();
    samples.resize(CADENCE_SAMPLES, 0);
    Prompt::from_samples("ringback", samples)
}

impl Prompts {
    /// The announcement of a place in the queue (1 is the first).
    pub(crate) fn position(&self, place: usize) -> &Prompt {
        place
            .checked_sub(1)
            .and_then(|index| self.positions.get(index))
            .unwrap_or(&self.position_more)
    }

    /// The prompt an IVR step plays.
    pub(crate) fn get(&self, id: PromptId) -> &Prompt {
        match id {
            PromptId::Greeting => &self.greeting,
            PromptId::Menu => &self.menu,
            PromptId::Invalid => &self.invalid,
            PromptId::Voicemail => &self.voicemail,
            PromptId::Beep => &self.beep,
            PromptId::Thanks => &self.thanks,
        }
    }
}

/// What every call task needs, shared read-only.
pub struct CallServices {
    pub store: Store,
    /// Call-record writes go through it, committed together.
    pub journal: CallJournal,
    pub recordings: RecordingService,
    pub recordings_root: PathBuf,
    pub ports: RtpPortPool,
    /// Drives every call's media session.
    pub media: MediaEngine<CallRecorder>,
    /// The address put in our SDP and that RTP sockets bind to; when it
    /// is unspecified (SIP listens on every interface), each call's is the
    /// local address towards its caller (`sip::advertised_ip`).
    pub media_ip: IpAddr,
    pub prompts: Prompts,
    pub hotline: HotlineConfig,
    pub ivr: IvrConfig,
    pub voicemail: VoicemailConfig,
    pub inactivity_timeout: Duration,
    /// A caller's frame at least this loud is speech (an empty voice
    /// message has too little).
    pub speech_threshold: Dbfs,
    pub node: String,
    pub time_zone: chrono_tz::Tz,
    /// Voice messages become work orders here.
    pub tickets: Tickets,
    /// Who answers: the queue of waiting calls and the operators.
    pub board: Board,
    pub queue: QueueConfig,
    /// Places the calls to operators' phones.
    pub endpoint: Endpoint,
    /// Where the screen pop and the calls' events go.
    pub bus: Bus,
}

/// Serves calls until `shutdown` is cancelled, then hangs up the calls in
/// progress and returns once every call record is finished.
pub async fn run(
    services: Arc<CallServices>,
    registrar: RegistrarHandle,
    mut incoming: mpsc::Receiver<Incoming>,
    shutdown: CancellationToken,
) {
    let calls = TaskTracker::new();
    loop {
        tokio::select! {
            request = incoming.recv() => match request {
                Some(Incoming::Invite(invite)) => {
                    calls.spawn(inbound::handle(services.clone(), invite, shutdown.child_token()));
                }
                Some(Incoming::Options(options)) => answer_options(options).await,
                Some(Incoming::Request(request)) if request.request().method() == "REGISTER" => {
                    registrar.register(request);
                }
                Some(Incoming::Request(request)) => refuse_outside_dialog(request).await,
                None => break,
            },
            () = shutdown.cancelled() => break,
        }
    }
    calls.close();
    calls.wait().await;
}

/// RFC 3261 §11.2: OPTIONS is answered as an INVITE would be, with what we
/// support.
async fn answer_options(options: NonInviteServer) {
    let headers = vec![
        ("Allow".to_string(), ALLOW.to_string()),
        ("Accept".to_string(), ACCEPT.to_string()),
        ("Accept-Language".to_string(), "zh-CN".to_string()),
    ];
    options.respond(StatusCode::OK, headers, None).await;
}

/// A request outside any dialog that only makes sense inside one (BYE,
/// INFO) refers to no call we know (RFC 3261 §15.1.2).
async fn refuse_outside_dialog(request: NonInviteServer) {
    let status = match request.request().method() {
        "BYE" | "INFO" => StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
        _ => StatusCode::METHOD_NOT_ALLOWED,
    };
    let headers = vec![("Allow".to_string(), ALLOW.to_string())];
    request.respond(status, headers, None).await;
}

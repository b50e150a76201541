//! Wiring: reads the configuration, opens the store, repairs what a crash
//! left behind, binds the SIP endpoint, starts the hotline, prints the
//! `ready` line, and shuts everything down in order on SIGINT/SIGTERM.
//!
//! Shutdown order (docs/ARCHITECTURE.md): stop taking calls, hang up the
//! calls in progress (their recordings are finished), close the store.

mod config;

use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use config::{Config, ConfigError, DEFAULT_CONFIG_PATH, Loaded, Overrides, parse};

use crate::api::{self, ApiState};
use crate::desk::Tickets;
use crate::desk::call_log::CallLog;
use crate::desk::callbacks::Callbacks;
use crate::desk::users::Users;
use crate::events::Bus;
use crate::media::{MediaEngine, Prompt, RtpPortPool};
use crate::recording::RecordingService;
use crate::sip::Endpoint;
use crate::store::{CallJournal, Store};
use crate::telephony::outbound::{self, Dialer, SURVEY_DIR, SurveyPrompts, Trunk};
use crate::telephony::{self, CallServices, Prompts};

/// Runs the daemon until SIGINT or SIGTERM.
pub async fn serve(loaded: Loaded) -> anyhow::Result<()> {
    init_tracing();
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("shutting down");
        signal.cancel();
    });
    run(loaded, shutdown, |line| println!("{line}")).await
}

/// Builds and runs everything; `ready` receives the ready line once every
/// listener is bound. Returns after `shutdown` is cancelled and all is closed.
pub async fn run(
    loaded: Loaded,
    shutdown: CancellationToken,
    ready: impl FnOnce(String),
) -> anyhow::Result<()> {
    let config = &loaded.config;
    let store = Store::open(&config.store, &config.data_dir)
        .await
        .context("opening the store")?;
    let recordings_root = loaded.recordings_root();
    let recovered = telephony::recover(&store, &config.node, &recordings_root).await?;
    if recovered > 0 {
        info!(recovered, "finished calls left open by a crash");
    }
    let prompts = load_prompts(&loaded)?;
    let recordings = RecordingService::start(&config.recording);
    let (endpoint, incoming) = Endpoint::bind(&config.sip)
        .await
        .with_context(|| format!("binding SIP on {}", config.sip.listen))?;
    let sip_addr = endpoint.local_addr();
    let http_listener = tokio::net::TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("binding HTTP on {}", config.api.listen))?;
    let http_addr = http_listener.local_addr()?;
    let tickets =
        Tickets::new(store.clone(), loaded.desk()).with_callbacks(config.callbacks.clone());
    let callbacks = Callbacks::new(
        store.clone(),
        tickets.clone(),
        config.callbacks.clone(),
        loaded.time_zone(),
    );
    let survey_prompts = SurveyPrompts::load(&loaded.prompts_dir().join(SURVEY_DIR))?;
    let media_ip = sip_addr.ip();
    sync_communities(&store, &config.hotline).await?;
    let bus = Bus::default();
    let board_shutdown = CancellationToken::new();
    let (board, board_task) =
        telephony::start_board(&config.queue, &store, bus.clone(), board_shutdown.clone())
            .await
            .context("starting the operators' board")?;
    let (registrar, registrar_task) = telephony::start_registrar(
        &config.sip,
        &config.node,
        store.clone(),
        board.clone(),
        endpoint.clone(),
        board_shutdown.clone(),
    )
    .await
    .context("starting the registrar")?;
    let services = Arc::new(CallServices {
        store: store.clone(),
        journal: CallJournal::start(store.clone()),
        recordings,
        recordings_root,
        ports: RtpPortPool::new(config.media.rtp_ports),
        media: MediaEngine::start(
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        ),
        media_ip,
        prompts,
        hotline: config.hotline.clone(),
        ivr: config.ivr.clone(),
        voicemail: config.voicemail.clone(),
        inactivity_timeout: config.media.inactivity_timeout,
        speech_threshold: config.media.speech_threshold_dbfs,
        node: config.node.clone(),
        time_zone: loaded.time_zone(),
        tickets: tickets.clone(),
        board: board.clone(),
        queue: config.queue.clone(),
        endpoint: endpoint.clone(),
        bus: bus.clone(),
    });
    let hotline = tokio::spawn(telephony::run(
        services.clone(),
        registrar,
        incoming,
        shutdown.clone(),
    ));
    let dialer = Arc::new(Dialer {
        services: services.clone(),
        callbacks: callbacks.clone(),
        tickets: tickets.clone(),
        trunks: config
            .trunks
            .iter()
            .cloned()
            .map(|t| Arc::new(Trunk::new(t)))
            .collect(),
        prompts: survey_prompts,
    });
    let dialer = tokio::spawn(outbound::run(dialer, shutdown.clone()));
    let state = ApiState::new(
        config.api.clone(),
        Users::new(store.clone()),
        CallLog::new(store.clone()),
    )
    .with_tickets(tickets)
    .with_archive(store.clone(), area_codes(&config.hotline))
    .with_operators(Arc::new(board), bus)
    .with_callbacks(callbacks);
    let http_shutdown = CancellationToken::new();
    let http = tokio::spawn(api::serve(
        http_listener,
        api::router(state),
        http_shutdown.clone().cancelled_owned(),
    ));
    info!(sip = %sip_addr, http = %http_addr, "ready");
    ready(format!("ready sip={sip_addr} http={http_addr}"));
    shutdown.cancelled().await;
    // The order of docs/ARCHITECTURE.md: no new calls, hang up the calls in
    // progress (their records finished), close the API, close the store.
    endpoint.shutdown();
    hotline.await.context("the hotline task failed")?;
    dialer.await.context("the dialer failed")?;
    board_shutdown.cancel();
    registrar_task.await.context("the registrar failed")?;
    board_task.await.context("the operators' board failed")?;
    http_shutdown.cancel();
    http.await
        .context("the HTTP task failed")?
        .context("serving HTTP")?;
    drop(services);
    store.close().await;
    Ok(())
}

/// Each community's area code, for reading local landline numbers.
fn area_codes(
    hotline: &crate::telephony::HotlineConfig,
) -> std::collections::HashMap<String, crate::desk::AreaCode> {
    hotline
        .communities
        .iter()
        .filter_map(|community| {
            let code = crate::desk::AreaCode::parse(community.area_code.as_deref()?).ok()?;
            Some((community.code.clone(), code))
        })
        .collect()
}

/// The communities of the config exist in the store with their numbers
/// (the archive and the work orders refer to them by code).
async fn sync_communities(
    store: &Store,
    hotline: &crate::telephony::HotlineConfig,
) -> anyhow::Result<()> {
    for community in &hotline.communities {
        store
            .upsert_community(&community.code, &community.name, &community.numbers)
            .await
            .with_context(|| format!("recording community {}", community.code))?;
    }
    Ok(())
}

fn load_prompts(loaded: &Loaded) -> anyhow::Result<Prompts> {
    let files: std::collections::HashMap<_, _> = loaded.prompt_files().into_iter().collect();
    let load = |name: &str| -> anyhow::Result<Prompt> {
        let key = format!("ivr.prompts.{name}");
        let path = files
            .get(&key)
            .with_context(|| format!("no prompt file for {key}"))?;
        Prompt::load_wav(path).with_context(|| format!("{key}: {}", path.display()))
    };
    Ok(Prompts {
        greeting: load("greeting")?,
        menu: load("menu")?,
        invalid: load("invalid")?,
        voicemail: load("voicemail")?,
        beep: load("beep")?,
        thanks: load("thanks")?,
        queue: load("queue")?,
        hold: load("hold")?,
        positions: (0..loaded.config.ivr.prompts.positions.len())
            .map(|index| load(&format!("positions[{index}]")))
            .collect::<anyhow::Result<_>>()?,
        position_more: load("position_more")?,
        ringback: telephony::ringback_tone(),
    })
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOTLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr: stdout carries only the `ready` line for scripts.
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

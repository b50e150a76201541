//! Calls the daemon places: the 回访 survey of resolved work orders,
//! through the carriers' trunks (`trunks`), paced and capped per trunk,
//! each callback claimed by one dialer at a time (`desk::callbacks`), one
//! task per call (`survey`).

mod prompts;
mod survey;
mod trunks;

use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};

use crate::desk::callbacks::{CallbackReason, Callbacks, Claimed};
use crate::desk::{TicketKind, Tickets};

use super::service::CallServices;

pub use prompts::{SURVEY_DIR, SurveyPrompts};
pub use trunks::{Trunk, TrunkConfig, TrunkTransport, validate as validate_trunks};

/// Most callbacks claimed in one round.
const MAX_CLAIM: usize = 50;

/// What the dialer needs.
pub struct Dialer {
    pub services: Arc<CallServices>,
    pub callbacks: Callbacks,
    pub tickets: Tickets,
    /// The first is the default.
    pub trunks: Vec<Arc<Trunk>>,
    pub prompts: SurveyPrompts,
}

impl Dialer {
    /// The trunk a community's callbacks go out on.
    fn trunk_for(&self, community: Option<&str>) -> Option<&Arc<Trunk>> {
        let named = self.callbacks.config().trunk_of(community);
        named
            .and_then(|name| self.trunks.iter().find(|t| t.config.name == name))
            .or_else(|| self.trunks.first())
    }
}

/// Dials due callbacks until `shutdown`: first the attempts a previous
/// run of this node left (interrupted), then every `poll_interval` as many
/// due ones as the trunks have free lines. Returns when every call is over.
pub async fn run(dialer: Arc<Dialer>, shutdown: CancellationToken) {
    let node = dialer.services.node.clone();
    match dialer.callbacks.recover(&node, Utc::now()).await {
        Ok(0) => {}
        Ok(n) => info!(interrupted = n, "callbacks left dialling by the last run"),
        Err(err) => warn!(%err, "cannot recover the callbacks of the last run"),
    }
    if !dialer.callbacks.config().enabled {
        info!("callbacks.enabled = false: this node dials no callbacks");
        return;
    }
    if dialer.trunks.is_empty() {
        info!("no [[trunks]] configured: callbacks are not dialled");
        return;
    }
    let calls = TaskTracker::new();
    let every = dialer.callbacks.config().poll_interval;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => break,
        }
        // Void claims of dead nodes (their lease ran out) go on too.
        if let Err(err) = dialer.callbacks.recover("", Utc::now()).await {
            warn!(%err, "cannot take back expired callback claims");
        }
        // Lines in all, less the calls dialling or waiting for a line.
        let lines: usize = dialer.trunks.iter().map(|t| t.lines()).sum();
        let room = lines.saturating_sub(calls.len()).min(MAX_CLAIM);
        if room == 0 {
            continue;
        }
        let claimed = dialer
            .callbacks
            .claim(
                &node,
                &[CallbackReason::Followup],
                u32::try_from(room).unwrap_or(u32::MAX),
                Utc::now(),
            )
            .await;
        let claimed = match claimed {
            Ok(claimed) => claimed,
            Err(err) => {
                warn!(%err, "cannot claim due callbacks");
                continue;
            }
        };
        for one in claimed {
            let span = info_span!("callback", id = %one.callback.id);
            calls.spawn(dial_one(dialer.clone(), one, shutdown.child_token()).instrument(span));
        }
    }
    calls.close();
    calls.wait().await;
}

/// One callback's attempt, from its trunk's turn to the stored outcome.
async fn dial_one(dialer: Arc<Dialer>, claimed: Claimed, shutdown: CancellationToken) {
    let callback = &claimed.callback;
    let community = callback.community.clone().unwrap_or_default();
    let Some(trunk) = dialer.trunk_for(callback.community.as_deref()).cloned() else {
        return;
    };
    let (kind, reported) = match callback
        .ticket_id
        .as_deref()
        .and_then(|t| uuid::Uuid::parse_str(t).ok())
    {
        Some(id) => match dialer.tickets.get(id).await {
            Ok(order) => (order.ticket.kind, order.ticket.created_at),
            Err(err) => {
                warn!(%err, "the callback's work order cannot be read");
                (TicketKind::Other, Utc::now())
            }
        },
        None => (TicketKind::Other, Utc::now()),
    };
    let date = reported
        .with_timezone(&dialer.services.time_zone)
        .date_naive();
    let line = tokio::select! {
        line = trunk.start() => line,
        () = shutdown.cancelled() => return,
    };
    if let Err(err) = dialer
        .services
        .store
        .set_attempt_trunk(&callback.id, claimed.attempt, &trunk.config.name)
        .await
    {
        warn!(%err, "cannot note the callback's trunk");
    }
    let config = dialer.callbacks.config();
    info!(attempt = claimed.attempt, trunk = %trunk.config.name, "dialling a callback");
    let report = survey::call(
        survey::SurveyCall {
            services: &dialer.services,
            trunk: &trunk,
            number: &callback.number,
            community: &community,
            question: dialer.prompts.question_for(kind, date),
            again: dialer.prompts.question().clone(),
            thanks: dialer.prompts.thanks.clone(),
            ring_timeout: config.ring_timeout,
            digit_timeout: config.digit_timeout,
        },
        &shutdown,
    )
    .await;
    drop(line);
    info!(outcome = %report.outcome, "callback attempt over");
    match dialer.callbacks.finish(&claimed, &report, Utc::now()).await {
        Ok(true) => {}
        Ok(false) => warn!("the callback's claim was taken back meanwhile; outcome not stored"),
        Err(err) => warn!(%err, "cannot store the callback's outcome"),
    }
}

//! The registrar of the operators' phones: one task that takes every
//! REGISTER the endpoint hands up, checks its digest credentials against
//! the users' stored HA1 values (RFC 3261 §22, RFC 7616, RFC 8760), applies
//! it to the user's bindings (§10.3), answers it, keeps the bindings in the
//! store (batched, off the answer) and tells the operators' board which
//! phones are up.
//!
//! Credentials are kept in memory: a REGISTER costs no query. A user the
//! cache does not know, or whose credentials fail, is read again from the
//! store (at most every [`RELOAD_AFTER`]), and one whose credentials verify
//! at most every [`CONFIRM_AFTER`], so `hotline users sip-password`, a
//! disabled account or a new role take effect without a restart. A source that keeps failing is locked
//! out (403 without a challenge) while others go on.
//!
//! Every `sip.registrar.keepalive` each bound phone is sent an OPTIONS
//! (RFC 3261 §11; any response will do): one that does not answer is
//! marked unreachable (in the store and on the board, which does not ring
//! it) until it answers again.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::sip::{
    Algorithm, Binding, ChallengeKind, DigestServer, Endpoint, Failure, Ha1, Lockout,
    NonInviteServer, Party, Register, RegisterError, Registrar, SipConfig, SipError, StatusCode,
    Target, Transport, Verification, advertised_ip,
};
use crate::store::{BindingChange, BindingRow, SipCredentialRow, Store, unix_millis};

use super::board::{Board, OperatorInfo, Phone, PhoneTarget};

/// Credentials that fail are read from the store again at most this often
/// (the password may just have been set).
pub(crate) const RELOAD_AFTER: Duration = Duration::from_secs(5);
/// Credentials that verify are read again at most this often, so that a
/// changed password, a disabled account or a new role takes effect
/// without a restart while a burst of REGISTERs costs no query.
pub(crate) const CONFIRM_AFTER: Duration = Duration::from_secs(60);
/// REGISTERs waiting for the registrar before the endpoint's handles
/// answer 500 for them (the TU is overloaded).
const QUEUE: usize = 4096;
/// Binding changes written to the store in one transaction at most.
const WRITE_BATCH: usize = 512;

/// What the registrar could not be started with.
#[derive(Debug, thiserror::Error)]
pub enum RegistrarError {
    #[error("sip.realm: {0}")]
    Digest(#[from] crate::sip::DigestConfigError),
    #[error("sip.registrar: {0}")]
    Registrar(#[from] crate::sip::RegistrarConfigError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The handle the SIP service hands REGISTERs to.
#[derive(Debug, Clone)]
pub struct RegistrarHandle {
    requests: mpsc::Sender<NonInviteServer>,
}

impl RegistrarHandle {
    /// Queues a REGISTER; when the registrar is overloaded or gone the
    /// handle's drop answers it 500.
    pub fn register(&self, request: NonInviteServer) {
        if let Err(err) = self.requests.try_send(request) {
            warn!(%err, "registrar queue unavailable");
        }
    }
}

/// A user's credentials as the cache keeps them.
#[derive(Debug, Clone)]
struct Credentials {
    user_id: String,
    display_name: Option<String>,
    takes_calls: bool,
    md5: Option<Ha1>,
    sha256: Option<Ha1>,
}

struct RegistrarTask {
    digest: DigestServer,
    registrar: Registrar,
    lockout: Lockout,
    node: String,
    store: Store,
    board: Board,
    credentials: HashMap<String, Credentials>,
    /// When each username was last read from the store.
    loaded: HashMap<String, Instant>,
    bindings: HashMap<String, Vec<Binding>>,
    writes: BindingWrites,
    endpoint: Endpoint,
    /// `[sip]`, for who is challenged with MD5 alone (`md5_only_agents`).
    sip: SipConfig,
    /// The phones (username, contact) whose last keep-alive went unanswered.
    unreachable: HashSet<(String, String)>,
    /// A round of keep-alives reports here.
    pings: (mpsc::UnboundedSender<Ping>, mpsc::UnboundedReceiver<Ping>),
}

/// How one keep-alive came out.
#[derive(Debug)]
struct Ping {
    username: String,
    contact: String,
    answered: bool,
}

/// Starts the registrar over the credentials and bindings in the store;
/// it stops on `shutdown`.
pub async fn start_registrar(
    config: &SipConfig,
    node: &str,
    store: Store,
    board: Board,
    endpoint: Endpoint,
    shutdown: CancellationToken,
) -> Result<(RegistrarHandle, tokio::task::JoinHandle<()>), RegistrarError> {
    let digest = DigestServer::with_random_secret(config.digest())?;
    let registrar = Registrar::new(config.registrar.clone())?;
    let mut credentials = HashMap::new();
    for row in store.all_sip_credentials().await? {
        let display_name = row.display_name.clone();
        credentials.insert(row.username.clone(), credentials_of(&row, display_name));
    }
    let bindings = stored_bindings(&store, &credentials).await?;
    let writes = BindingWrites::default();
    let write_rx = writes.clone();
    let (requests, inbox) = mpsc::channel(QUEUE);
    let task = RegistrarTask {
        digest,
        registrar,
        lockout: Lockout::new(config.lockout.clone()),
        node: node.to_string(),
        store: store.clone(),
        board,
        credentials,
        loaded: HashMap::new(),
        bindings,
        writes,
        endpoint,
        sip: config.clone(),
        unreachable: HashSet::new(),
        pings: mpsc::unbounded_channel(),
    };
    let keepalive = config.registrar.keepalive;
    let writer = tokio::spawn(write_bindings(store, write_rx));
    let handle = tokio::spawn(async move {
        task.run(inbox, keepalive, shutdown).await;
        drop(writer.await);
    });
    Ok((RegistrarHandle { requests }, handle))
}

/// Sends one OPTIONS to a phone; whether it answered (with any status).
async fn ping(
    endpoint: &Endpoint,
    contact: &str,
    source: SocketAddr,
    transport: Transport,
) -> bool {
    let host = advertised_ip(endpoint.local_addr().ip(), source);
    let host = match host {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let target = Target {
        addr: source,
        transport,
        uri: contact.to_string(),
    };
    let from = Party::new(format!("sip:hotline@{host}"));
    let to = Party::new(contact.to_string());
    match endpoint
        .request("OPTIONS", target, (from, to), Vec::new())
        .await
    {
        Ok(_) => true,
        Err(SipError::TransactionTimeout { .. }) => false,
        Err(err) => {
            debug!(%err, contact, "keep-alive not sent");
            true
        }
    }
}

fn credentials_of(row: &SipCredentialRow, display_name: Option<String>) -> Credentials {
    Credentials {
        user_id: row.user_id.clone(),
        display_name,
        takes_calls: !row.disabled && matches!(row.role.as_str(), "operator" | "supervisor"),
        md5: Ha1::from_hex(Algorithm::Md5, &row.ha1_md5),
        sha256: Ha1::from_hex(Algorithm::Sha256, &row.ha1_sha256),
    }
}

/// The stored bindings by username, as the registrar compares them.
async fn stored_bindings(
    store: &Store,
    credentials: &HashMap<String, Credentials>,
) -> Result<HashMap<String, Vec<Binding>>, RegistrarError> {
    let mut bindings: HashMap<String, Vec<Binding>> = HashMap::new();
    for row in store.live_bindings(unix_millis(SystemTime::now())).await? {
        let Some((name, _)) = credentials.iter().find(|(_, c)| c.user_id == row.user_id) else {
            continue;
        };
        let Some(phone) = super::start::phone_from_row(&row) else {
            continue;
        };
        bindings.entry(name.clone()).or_default().push(Binding {
            contact: row.contact.clone(),
            expires_at: phone.expires_at,
            source: phone.target.address,
            transport: phone.target.transport,
            call_id: row.call_id.clone(),
            cseq: u32::try_from(row.cseq).unwrap_or(0),
            user_agent: row.user_agent.clone(),
            instance: row.instance.clone(),
        });
    }
    Ok(bindings)
}

impl RegistrarTask {
    async fn run(
        mut self,
        mut inbox: mpsc::Receiver<NonInviteServer>,
        keepalive: Duration,
        shutdown: CancellationToken,
    ) {
        // A zero interval sends no keep-alives (the timer never fires).
        let every = if keepalive.is_zero() {
            Duration::from_secs(u64::from(u32::MAX))
        } else {
            keepalive
        };
        let mut round = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        round.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                request = inbox.recv() => match request {
                    Some(request) => self.on_register(request).await,
                    None => break,
                },
                _ = round.tick() => self.send_keepalives(),
                Some(ping) = self.pings.1.recv() => self.on_ping(ping).await,
                () = shutdown.cancelled() => break,
            }
        }
        debug!("registrar stopped");
    }

    /// One round of keep-alives, each phone in a task of its own; the
    /// results come back as [`Ping`]s.
    fn send_keepalives(&self) {
        for (username, bindings) in &self.bindings {
            for binding in bindings {
                let endpoint = self.endpoint.clone();
                let report = self.pings.0.clone();
                let (username, contact) = (username.clone(), binding.contact.clone());
                let (source, transport) = (binding.source, binding.transport);
                tokio::spawn(async move {
                    let answered = ping(&endpoint, &contact, source, transport).await;
                    drop(report.send(Ping {
                        username,
                        contact,
                        answered,
                    }));
                });
            }
        }
    }

    /// A phone's keep-alive came back: a change of reachability goes to the
    /// store and the board. An answer also tells the board, which may have
    /// marked the phone unreachable after a failed INVITE.
    async fn on_ping(&mut self, ping: Ping) {
        let key = (ping.username.clone(), ping.contact.clone());
        let changed = if ping.answered {
            self.unreachable.remove(&key)
        } else {
            self.unreachable.insert(key)
        };
        if !ping.answered && !changed {
            return;
        }
        if changed {
            if ping.answered {
                info!(
                    user = ping.username,
                    contact = ping.contact,
                    "phone answers again"
                );
            } else {
                warn!(
                    user = ping.username,
                    contact = ping.contact,
                    "phone does not answer keep-alives"
                );
            }
            if let Some(user) = self.credentials.get(&ping.username) {
                let since = (!ping.answered).then(|| unix_millis(SystemTime::now()));
                if let Err(err) = self
                    .store
                    .set_binding_unreachable(&user.user_id, &ping.contact, since)
                    .await
                {
                    warn!(%err, "cannot store a phone's reachability");
                }
            }
        }
        self.board
            .phone_reachable(&ping.username, &ping.contact, ping.answered)
            .await;
    }

    async fn on_register(&mut self, server: NonInviteServer) {
        let request = server.request();
        let source = request.source().ip();
        let (now, instant) = (SystemTime::now(), Instant::now());
        if self.lockout.is_locked(source, instant) {
            debug!(%source, "REGISTER from a locked-out source");
            return server
                .respond(StatusCode::FORBIDDEN, Vec::new(), None)
                .await;
        }
        let register = match Register::from_request(request) {
            Ok(register) => register,
            Err(err) => {
                debug!(%err, "unreadable REGISTER");
                return server.respond(refusal_status(err), Vec::new(), None).await;
            }
        };
        let Some(user) = aor_user(&register.aor) else {
            return server
                .respond(StatusCode::NOT_FOUND, Vec::new(), None)
                .await;
        };
        self.refresh_credentials(&user, CONFIRM_AFTER, instant)
            .await;
        let mut verdict = self.verify(&server, now);
        if let Verification::Failed {
            reason: Failure::WrongPassword | Failure::UnknownUser,
        } = verdict
            && self.refresh_credentials(&user, RELOAD_AFTER, instant).await
        {
            // The password may have been set since the cache read it.
            verdict = self.verify(&server, now);
        }
        let username = match verdict {
            Verification::Ok { username } => username,
            Verification::Stale => return self.challenge(server, now, true).await,
            Verification::Missing => return self.challenge(server, now, false).await,
            Verification::Failed { reason } => {
                if reason.counts_against_source() && self.lockout.record_failure(source, instant) {
                    warn!(%source, "too many failed registrations: source locked out");
                }
                info!(%source, %reason, "REGISTER refused");
                return self.challenge(server, now, false).await;
            }
        };
        self.lockout.record_success(source);
        // RFC 3261 §10.3 step 3: the authenticated user may register only
        // their own address of record; only call takers have phones.
        let allowed = username == user
            && self
                .credentials
                .get(&username)
                .is_some_and(|c| c.takes_calls);
        if !allowed {
            return server
                .respond(StatusCode::FORBIDDEN, Vec::new(), None)
                .await;
        }
        self.apply(server, &username, &register, now).await;
    }

    /// Reads a user's credentials from the store when the cached copy is
    /// older than `max_age` (or there is none); whether it did.
    async fn refresh_credentials(&mut self, user: &str, max_age: Duration, now: Instant) -> bool {
        let fresh = self
            .loaded
            .get(user)
            .is_some_and(|at| now.duration_since(*at) < max_age);
        if fresh {
            return false;
        }
        self.loaded.insert(user.to_string(), now);
        match self.store.sip_credentials(user).await {
            Ok(Some(row)) => {
                let display_name = row.display_name.clone();
                self.credentials
                    .insert(user.to_string(), credentials_of(&row, display_name));
            }
            Ok(None) => {
                self.credentials.remove(user);
            }
            Err(err) => warn!(%err, "cannot read SIP credentials"),
        }
        true
    }

    fn verify(&mut self, server: &NonInviteServer, now: SystemTime) -> Verification {
        let credentials = &self.credentials;
        self.digest.verify_request(
            server.request(),
            ChallengeKind::Unauthorized,
            now,
            |user, algorithm| {
                let found = credentials.get(user)?;
                match algorithm {
                    Algorithm::Md5 => found.md5,
                    Algorithm::Sha256 => found.sha256,
                }
            },
        )
    }

    async fn challenge(&mut self, server: NonInviteServer, now: SystemTime, stale: bool) {
        let header = ChallengeKind::Unauthorized.challenge_header().to_string();
        let challenges = if self.sip.md5_only(server.request().header("User-Agent")) {
            self.digest.challenge_with(now, stale, &[Algorithm::Md5])
        } else {
            self.digest.challenge(now, stale)
        };
        let headers = challenges
            .into_iter()
            .map(|value| (header.clone(), value))
            .collect();
        server
            .respond(ChallengeKind::Unauthorized.status(), headers, None)
            .await;
    }

    async fn apply(
        &mut self,
        server: NonInviteServer,
        username: &str,
        register: &Register,
        now: SystemTime,
    ) {
        let current = self.bindings.get(username).cloned().unwrap_or_default();
        let outcome = self.registrar.register(register, &current, now);
        if let Some(user) = self.credentials.get(username).cloned() {
            for gone in outcome.removed.iter().chain(&outcome.expired) {
                self.unreachable
                    .remove(&(username.to_string(), gone.contact.clone()));
                self.write(BindingChange::Delete {
                    user_id: user.user_id.clone(),
                    contact: gone.contact.clone(),
                });
                self.board.phone_gone(username, &gone.contact).await;
            }
            if !outcome.added.is_empty() {
                self.board
                    .add_operator(OperatorInfo {
                        name: username.to_string(),
                        user_id: user.user_id.clone(),
                        display_name: user.display_name.clone(),
                    })
                    .await;
            }
            for binding in outcome.added.iter().chain(&outcome.refreshed) {
                // A phone that registers is there.
                self.unreachable
                    .remove(&(username.to_string(), binding.contact.clone()));
                self.write(BindingChange::Upsert(self.row(&user.user_id, binding, now)));
                self.board
                    .phone_bound(username, phone_of(binding, now))
                    .await;
            }
        }
        if !outcome.added.is_empty() || !outcome.removed.is_empty() {
            info!(
                user = username,
                added = outcome.added.len(),
                removed = outcome.removed.len(),
                bindings = outcome.bindings.len(),
                "registration"
            );
        }
        self.bindings
            .insert(username.to_string(), outcome.bindings.clone());
        server.respond(outcome.status, outcome.headers, None).await;
    }

    fn row(&self, user_id: &str, binding: &Binding, now: SystemTime) -> BindingRow {
        BindingRow {
            user_id: user_id.to_string(),
            contact: binding.contact.clone(),
            source: binding.source.to_string(),
            transport: binding.transport.as_str().to_string(),
            call_id: binding.call_id.clone(),
            cseq: i64::from(binding.cseq),
            user_agent: binding.user_agent.clone(),
            instance: binding.instance.clone(),
            registered_at: unix_millis(now),
            expires_at: unix_millis(binding.expires_at),
            unreachable_since: None,
            node: self.node.clone(),
        }
    }

    fn write(&self, change: BindingChange) {
        self.writes.push(change);
    }
}

fn phone_of(binding: &Binding, now: SystemTime) -> Phone {
    Phone {
        target: PhoneTarget {
            contact: binding.contact.clone(),
            address: binding.source,
            transport: binding.transport,
        },
        user_agent: binding.user_agent.clone(),
        registered_at: now,
        expires_at: binding.expires_at,
        reachable: true,
    }
}

/// The answer to a REGISTER that cannot be read: a To that is no SIP
/// address of record gets 416 (RFC 3261 §8.2.2.1, RFC 4475 §3.3.4), the
/// rest 400.
fn refusal_status(err: RegisterError) -> StatusCode {
    match err {
        RegisterError::BadTo => StatusCode::UNSUPPORTED_URI_SCHEME,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The user part of an address-of-record (`sip:zhang@host` → `zhang`).
fn aor_user(aor: &str) -> Option<String> {
    let rest = aor
        .strip_prefix("sip:")
        .or_else(|| aor.strip_prefix("sips:"))?;
    let (user, _host) = rest.split_once('@')?;
    (!user.is_empty()).then(|| user.to_string())
}

/// Writes binding changes in order, a batch per transaction.
/// The binding changes waiting for the store, the newest per binding: a
/// phone that refreshes faster than the store writes costs one write per
/// round, not one per REGISTER, and what waits is bounded by the number
/// of bindings.
#[derive(Clone, Default)]
struct BindingWrites {
    shared: Arc<PendingWrites>,
}

#[derive(Default)]
struct PendingWrites {
    changes: Mutex<HashMap<(String, String), BindingChange>>,
    ready: tokio::sync::Notify,
    closed: std::sync::atomic::AtomicBool,
}

impl BindingWrites {
    fn push(&self, change: BindingChange) {
        let key = match &change {
            BindingChange::Upsert(row) => (row.user_id.clone(), row.contact.clone()),
            BindingChange::Delete { user_id, contact } => (user_id.clone(), contact.clone()),
        };
        self.shared
            .changes
            .lock()
            .expect("binding writes")
            .insert(key, change);
        self.shared.ready.notify_one();
    }

    /// What waits now; empty once closed and drained.
    fn take(&self) -> Vec<BindingChange> {
        let mut changes = self.shared.changes.lock().expect("binding writes");
        std::mem::take(&mut *changes).into_values().collect()
    }

    fn close(&self) {
        self.shared
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.shared.ready.notify_one();
    }

    fn is_closed(&self) -> bool {
        self.shared
            .closed
            .load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Drop for RegistrarTask {
    fn drop(&mut self) {
        self.writes.close();
    }
}

/// Stores the binding changes, in batches of at most [`WRITE_BATCH`], until
/// the registrar stops and what it left is written.
async fn write_bindings(store: Store, changes: BindingWrites) {
    loop {
        let pending = changes.take();
        if pending.is_empty() {
            if changes.is_closed() {
                break;
            }
            changes.shared.ready.notified().await;
            continue;
        }
        for batch in pending.chunks(WRITE_BATCH) {
            if let Err(err) = store.apply_binding_changes(batch).await {
                warn!(%err, changes = batch.len(), "cannot store phone registrations");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_of_an_address_of_record_is_its_user_part() {
        assert_eq!(aor_user("sip:zhang@127.0.0.1").as_deref(), Some("zhang"));
        assert_eq!(aor_user("sips:li@hotline").as_deref(), Some("li"));
        assert_eq!(aor_user("sip:127.0.0.1"), None);
        assert_eq!(aor_user("tel:+8613800138000"), None);
        assert_eq!(aor_user("sip:@host"), None);
    }

    #[test]
    fn a_to_that_is_no_sip_uri_gets_416_and_other_bad_registers_400() {
        assert_eq!(
            refusal_status(RegisterError::BadTo),
            StatusCode::UNSUPPORTED_URI_SCHEME
        );
        assert_eq!(
            refusal_status(RegisterError::WildcardWithOthers),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn stored_credentials_give_call_takers_their_digests() {
        let row = SipCredentialRow {
            user_id: "u".to_string(),
            username: "zhang".to_string(),
            display_name: Some("张伟".to_string()),
            role: "operator".to_string(),
            disabled: false,
            realm: "hotline".to_string(),
            ha1_md5: Ha1::md5("zhang", "hotline", "secret99")
                .as_hex()
                .to_string(),
            ha1_sha256: Ha1::sha256("zhang", "hotline", "secret99")
                .as_hex()
                .to_string(),
        };
        let credentials = credentials_of(&row, None);
        assert!(credentials.takes_calls);
        assert!(credentials.md5.is_some() && credentials.sha256.is_some());
        let admin = SipCredentialRow {
            role: "admin".to_string(),
            ..row.clone()
        };
        assert!(!credentials_of(&admin, None).takes_calls);
        let disabled = SipCredentialRow {
            disabled: true,
            ..row
        };
        assert!(!credentials_of(&disabled, None).takes_calls);
    }
}

//! A load generator of phone registrations over UDP on loopback: the
//! measurement behind the "Phone registrations" figures in BENCHMARKS.md
//! (run by `scripts/bench.sh register`).
//!
//! Each of N users `PREFIX0000…` keeps one registration flow, as a phone
//! does (RFC 3261 §10.2, RFC 7616 §3.4): REGISTER without credentials → 401
//! with the challenges → REGISTER with `Authorization` → 200; later
//! refreshes reuse the nonce with the next nonce-count (one round trip),
//! until the registrar says `stale` (then the 401 round again). All users
//! share one socket; responses are matched by Call-ID and CSeq. The users
//! are refreshed in turn, paced to RATE authenticated REGISTERs per second,
//! for SECONDS. Nothing is retransmitted: a response not back within
//! `--timeout` counts as a timeout.
//!
//! ```text
//! register_load --target 127.0.0.1:5060 --users 1000 --password secret99 --rate 5000 --seconds 20
//! register_load --create-in DATA_DIR --users 1000 --password secret99   # the users, then exit
//! register_load --target 127.0.0.1:5060 --users 200 --password secret99 --rate 200 --seconds 1 \
//!     --from-port 5299     # each user once, from the port its phone (a SIPp UAS) will take
//! ```
//!
//! `--create-in` writes the users (role operator) and their SIP credentials
//! straight into the embedded SQLite store of a data directory through the
//! store API, as `hotline users add` and `hotline users sip-password` would,
//! except that their console password hash is left unusable (`!`): argon2
//! per user would take minutes for thousands, and no bench logs in.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use clap::Parser;
use hotline::sip::{ClientRequest, Ha1, authorization};
use hotline::store::{NewUser, Store, StoreConfig, unix_millis};
use tokio::net::UdpSocket;

/// Largest datagram read.
const MAX_DATAGRAM: usize = 65_535;
/// Socket buffers: the default (~200 KiB) holds a few tens of milliseconds
/// of responses at these rates, and the generator shares two cores with
/// the daemon; drops at our own socket would count as the daemon's
/// timeouts.
const SOCKET_BUFFER: usize = 4 << 20;
/// How often the pacer and the timeout check run.
const TICK: Duration = Duration::from_millis(1);

#[derive(Debug, Parser)]
#[command(about = "Digest-authenticated REGISTER load over UDP")]
struct Args {
    /// The registrar, ADDR:PORT.
    #[arg(long)]
    target: Option<SocketAddr>,
    #[arg(long)]
    users: usize,
    #[arg(long, default_value = "op")]
    prefix: String,
    #[arg(long)]
    password: String,
    /// Authenticated REGISTERs per second, all users together.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// The Expires each REGISTER asks for.
    #[arg(long, default_value_t = 3600)]
    expires: u32,
    /// A response later than this counts as a timeout (milliseconds).
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// Create the users in this data directory and exit.
    #[arg(long)]
    create_in: Option<PathBuf>,
    /// The digest realm of the credentials created (`sip.realm`).
    #[arg(long, default_value = "hotline")]
    realm: String,
    /// Send from this loopback port (the phones' Contact and source): with
    /// `--rate` × `--seconds` = `--users`, each user registers once, and a
    /// SIPp UAS then taking the port answers the calls to all of them.
    #[arg(long)]
    from_port: Option<u16>,
}

impl Args {
    fn username(&self, index: usize) -> String {
        format!("{}{index:04}", self.prefix)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.create_in {
        return create_users(&args, dir).await;
    }
    let Some(target) = args.target else {
        bail!("--target ADDR:PORT or --create-in DATA_DIR is needed");
    };
    let socket = bind_socket(args.from_port.unwrap_or(0))?;
    let mut load = Load::new(&args, socket, target)?;
    load.run(&args).await?;
    load.tally.print(&args, load.elapsed);
    Ok(())
}

/// Writes the users and their HA1 values through the store API.
async fn create_users(args: &Args, dir: &Path) -> anyhow::Result<()> {
    let store = Store::open(&StoreConfig::default(), dir).await?;
    let now = unix_millis(SystemTime::now());
    let started = Instant::now();
    for index in 0..args.users {
        create_user(&store, args, &args.username(index), now).await?;
    }
    println!(
        "created {} users in {:.1} s",
        args.users,
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(())
}

async fn create_user(store: &Store, args: &Args, name: &str, now: i64) -> anyhow::Result<()> {
    let id = uuid::Uuid::now_v7().to_string();
    let user = NewUser {
        id: id.clone(),
        username: name.to_string(),
        display_name: None,
        role: "operator".to_string(),
        password_hash: "!".to_string(),
        created_at: now,
    };
    if !store.insert_user(&user).await? {
        bail!("user {name} exists already");
    }
    let md5 = Ha1::md5(name, &args.realm, &args.password);
    let sha256 = Ha1::sha256(name, &args.realm, &args.password);
    store
        .set_sip_credentials(&id, &args.realm, md5.as_hex(), sha256.as_hex(), now)
        .await
        .with_context(|| format!("credentials of {name}"))?;
    Ok(())
}

fn bind_socket(port: u16) -> anyhow::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_recv_buffer_size(SOCKET_BUFFER)?;
    socket.set_send_buffer_size(SOCKET_BUFFER)?;
    socket.set_nonblocking(true)?;
    let local = SocketAddr::from(([127, 0, 0, 1], port));
    socket.bind(&local.into())?;
    Ok(UdpSocket::from_std(socket.into())?)
}

/// The nonce a user answers with, and how often it was used.
struct Nonce {
    challenges: Vec<String>,
    cnonce: String,
    nc: u32,
}

/// The REGISTER a user waits on.
struct Pending {
    cseq: u32,
    sent_at: Instant,
    authenticated: bool,
}

struct User {
    name: String,
    call_id: String,
    tag: String,
    cseq: u32,
    nonce: Option<Nonce>,
    pending: Option<Pending>,
}

/// What came back, counted.
#[derive(Default)]
struct Tally {
    sent: u64,
    authenticated_sent: u64,
    ok: u64,
    /// 401 to a REGISTER without credentials: the expected challenge.
    challenged: u64,
    /// 401 with `stale=true` to credentials: a new nonce, as expected.
    stale: u64,
    /// 401 without `stale` to credentials: refused.
    refused: u64,
    other: BTreeMap<u16, u64>,
    timeouts: u64,
    /// Responses for no REGISTER waiting (after a timeout, or garbled).
    unmatched: u64,
    /// Authenticated REGISTER to its final response.
    latencies: Vec<Duration>,
}

struct Load {
    socket: UdpSocket,
    target: SocketAddr,
    local: SocketAddr,
    users: Vec<User>,
    by_call_id: HashMap<String, usize>,
    idle: VecDeque<usize>,
    /// Sent REGISTERs in send order, to find the timed-out ones.
    deadlines: VecDeque<(Instant, usize, u32)>,
    /// Users waiting for a challenge: each will send one authenticated
    /// REGISTER, already counted by the pacer.
    awaiting_challenge: u64,
    tally: Tally,
    elapsed: Duration,
}

impl Load {
    fn new(args: &Args, socket: UdpSocket, target: SocketAddr) -> anyhow::Result<Load> {
        let local = socket.local_addr()?;
        let run = hex::encode(rand::random::<[u8; 4]>());
        let users: Vec<User> = (0..args.users)
            .map(|i| User {
                name: args.username(i),
                call_id: format!("{}-{run}@register-load", args.username(i)),
                tag: hex::encode(rand::random::<[u8; 6]>()),
                cseq: 0,
                nonce: None,
                pending: None,
            })
            .collect();
        let by_call_id = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.call_id.clone(), i))
            .collect();
        Ok(Load {
            socket,
            target,
            local,
            idle: (0..users.len()).collect(),
            users,
            by_call_id,
            deadlines: VecDeque::new(),
            awaiting_challenge: 0,
            tally: Tally::default(),
            elapsed: Duration::ZERO,
        })
    }

    /// Sends for `seconds`, then waits up to the timeout for what is
    /// outstanding.
    async fn run(&mut self, args: &Args) -> anyhow::Result<()> {
        let timeout = Duration::from_millis(args.timeout_ms);
        let start = Instant::now();
        let end = start + Duration::from_secs(args.seconds);
        let total = args.rate * args.seconds;
        let mut tick = tokio::time::interval(TICK);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    let (len, _) = received?;
                    self.on_datagram(&buf[..len], args).await?;
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    self.expire(now, timeout);
                    if now < end {
                        let due = ((now - start).as_secs_f64() * args.rate as f64).ceil();
                        self.pace((due as u64).min(total), args).await?;
                    } else if self.idle.len() == self.users.len() || now > end + timeout {
                        break;
                    }
                }
            }
        }
        self.elapsed = Duration::from_secs(args.seconds);
        Ok(())
    }

    /// Starts flows until the authenticated REGISTERs sent (or about to be)
    /// reach `due`.
    async fn pace(&mut self, due: u64, args: &Args) -> anyhow::Result<()> {
        while self.tally.authenticated_sent + self.awaiting_challenge < due {
            let Some(user) = self.idle.pop_front() else {
                break;
            };
            let authenticated = self.users[user].nonce.is_some();
            if !authenticated {
                self.awaiting_challenge += 1;
            }
            self.send(user, args).await?;
        }
        Ok(())
    }

    /// Sends the user's next REGISTER, with credentials when it holds a
    /// nonce.
    async fn send(&mut self, index: usize, args: &Args) -> anyhow::Result<()> {
        let request_uri = format!("sip:{}", self.target);
        let user = &mut self.users[index];
        user.cseq += 1;
        let credentials = match &mut user.nonce {
            Some(nonce) => {
                nonce.nc += 1;
                let request = ClientRequest {
                    method: "REGISTER",
                    uri: &request_uri,
                    cnonce: &nonce.cnonce,
                    nc: nonce.nc,
                };
                let value = authorization(
                    nonce.challenges.iter().map(String::as_str),
                    &user.name,
                    &args.password,
                    request,
                )?;
                Some(value)
            }
            None => None,
        };
        let message = register_text(
            user,
            &request_uri,
            self.local,
            args.expires,
            credentials.as_deref(),
        );
        let now = Instant::now();
        let authenticated = credentials.is_some();
        user.pending = Some(Pending {
            cseq: user.cseq,
            sent_at: now,
            authenticated,
        });
        self.deadlines.push_back((now, index, user.cseq));
        self.tally.sent += 1;
        if authenticated {
            self.tally.authenticated_sent += 1;
        }
        self.socket.send_to(message.as_bytes(), self.target).await?;
        Ok(())
    }

    /// Counts the REGISTERs whose response is later than `timeout`; their
    /// users start over.
    fn expire(&mut self, now: Instant, timeout: Duration) {
        while let Some(&(sent, index, cseq)) = self.deadlines.front() {
            if now.duration_since(sent) < timeout {
                break;
            }
            self.deadlines.pop_front();
            let user = &mut self.users[index];
            if user.pending.as_ref().is_some_and(|p| p.cseq == cseq) {
                let pending = user.pending.take().expect("checked just above");
                if !pending.authenticated {
                    self.awaiting_challenge -= 1;
                }
                user.nonce = None;
                self.tally.timeouts += 1;
                self.idle.push_back(index);
            }
        }
    }

    async fn on_datagram(&mut self, data: &[u8], args: &Args) -> anyhow::Result<()> {
        let Some(response) = Response::parse(data) else {
            self.tally.unmatched += 1;
            return Ok(());
        };
        if response.status < 200 {
            return Ok(());
        }
        let Some(&index) = self.by_call_id.get(response.call_id) else {
            self.tally.unmatched += 1;
            return Ok(());
        };
        let user = &mut self.users[index];
        let Some(pending) = user.pending.take_if(|p| p.cseq == response.cseq) else {
            self.tally.unmatched += 1;
            return Ok(());
        };
        if !pending.authenticated {
            self.awaiting_challenge -= 1;
        } else {
            self.tally.latencies.push(pending.sent_at.elapsed());
        }
        match (response.status, pending.authenticated) {
            (200, _) => self.tally.ok += 1,
            (401, authenticated) if !authenticated || response.stale => {
                if authenticated {
                    self.tally.stale += 1;
                } else {
                    self.tally.challenged += 1;
                }
                let challenges = response.challenges.iter().map(|c| c.to_string()).collect();
                user.nonce = Some(Nonce {
                    challenges,
                    cnonce: hex::encode(rand::random::<[u8; 8]>()),
                    nc: 0,
                });
                // The challenge's answer goes out at once, as a phone's.
                return self.send(index, args).await;
            }
            (401, _) => {
                self.tally.refused += 1;
                user.nonce = None;
            }
            (status, _) => {
                *self.tally.other.entry(status).or_default() += 1;
                user.nonce = None;
            }
        }
        self.idle.push_back(index);
        Ok(())
    }
}

/// The REGISTER of a user's flow (RFC 3261 §10.2).
fn register_text(
    user: &User,
    request_uri: &str,
    local: SocketAddr,
    expires: u32,
    credentials: Option<&str>,
) -> String {
    let branch = hex::encode(rand::random::<[u8; 8]>());
    let name = &user.name;
    let host = local.ip();
    let mut text = format!(
        "REGISTER {request_uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{name}@{host}>;tag={tag}\r\n\
         To: <sip:{name}@{host}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{name}@{local}>\r\n\
         Expires: {expires}\r\n\
         User-Agent: register_load\r\n",
        tag = user.tag,
        call_id = user.call_id,
        cseq = user.cseq,
    );
    if let Some(value) = credentials {
        text.push_str("Authorization: ");
        text.push_str(value);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    text
}

/// What the generator reads of a response.
struct Response<'a> {
    status: u16,
    call_id: &'a str,
    cseq: u32,
    challenges: Vec<&'a str>,
    stale: bool,
}

impl<'a> Response<'a> {
    fn parse(data: &'a [u8]) -> Option<Response<'a>> {
        let text = std::str::from_utf8(data).ok()?;
        let head = text.split("\r\n\r\n").next()?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()?
            .strip_prefix("SIP/2.0 ")?
            .get(..3)?
            .parse()
            .ok()?;
        let (mut call_id, mut cseq, mut challenges) = (None, None, Vec::new());
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "call-id" | "i" => call_id = Some(value),
                "cseq" => cseq = value.split_whitespace().next()?.parse().ok(),
                "www-authenticate" => challenges.push(value),
                _ => {}
            }
        }
        let stale = challenges
            .iter()
            .any(|c| c.to_ascii_lowercase().contains("stale=true"));
        Some(Response {
            status,
            call_id: call_id?,
            cseq: cseq?,
            challenges,
            stale,
        })
    }
}

impl Tally {
    fn print(&mut self, args: &Args, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        let others: Vec<String> = self.other.iter().map(|(s, n)| format!("{s}:{n}")).collect();
        self.latencies.sort_unstable();
        let pick = |q: f64| {
            let n = self.latencies.len();
            if n == 0 {
                return f64::NAN;
            }
            self.latencies[((q * n as f64) as usize).min(n - 1)].as_secs_f64() * 1000.0
        };
        println!(
            "users={} rate={} seconds={} sent={} authenticated_sent={} ok_200={} \
             challenged_401={} stale_401={} refused_401={} other={} timeouts={} unmatched={} \
             authenticated_per_s={:.0} ok_per_s={:.0} latency_ms_p50={:.2} p99={:.2} max={:.2}",
            args.users,
            args.rate,
            args.seconds,
            self.sent,
            self.authenticated_sent,
            self.ok,
            self.challenged,
            self.stale,
            self.refused,
            if others.is_empty() {
                "-".to_string()
            } else {
                others.join(",")
            },
            self.timeouts,
            self.unmatched,
            self.authenticated_sent as f64 / seconds,
            self.ok as f64 / seconds,
            pick(0.5),
            pick(0.99),
            pick(1.0),
        );
    }
}

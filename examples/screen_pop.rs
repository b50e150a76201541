//! The screen-pop benchmark's operators (run by `scripts/bench.sh pop`):
//! N operators, each with a phone of its own (a UDP socket registered with
//! digest, which rings and never answers: 180, then 200 + 487 to the
//! daemon's CANCEL) and a console on the live WebSocket (`/api/live`,
//! logged in with the operator's password). For each ring it measures the
//! time from the INVITE reaching the phone to the `call.offered` message
//! read on that operator's socket, in one process on one clock: an
//! operator is offered one call at a time, so the k-th INVITE of a phone
//! (by Call-ID, retransmissions aside) pairs with the k-th offer on its
//! operator's socket. Prints the count, p50, p99 and max, in milliseconds
//! (negative: the screen was ahead of the phone).
//!
//! ```text
//! screen_pop --sip 127.0.0.1:5060 --http 127.0.0.1:8080 --operators 20 --prefix pop \
//!     --password secret99 --seconds 40
//! ```

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use hotline::sip::{ClientRequest, authorization};
use tokio::net::UdpSocket;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

#[derive(Debug, Parser)]
#[command(about = "Screen-pop latency: the INVITE at the phone to the call.offered on the socket")]
struct Args {
    #[arg(long)]
    sip: SocketAddr,
    #[arg(long)]
    http: SocketAddr,
    #[arg(long, default_value_t = 20)]
    operators: usize,
    /// Operators are PREFIX01, PREFIX02…
    #[arg(long, default_value = "pop")]
    prefix: String,
    /// Both their console and their phone password.
    #[arg(long)]
    password: String,
    /// How long to serve the calls.
    #[arg(long, default_value_t = 40)]
    seconds: u64,
}

/// When each operator's phone rang and their screen popped, in order.
#[derive(Default)]
struct Timeline {
    rings: HashMap<String, Vec<Instant>>,
    pops: HashMap<String, Vec<Instant>>,
}

type Shared = Arc<Mutex<Timeline>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let timeline: Shared = Arc::default();
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for index in 1..=args.operators {
        let name = format!("{}{index:02}", args.prefix);
        let token = login(&client, args.http, &name, &args.password).await?;
        tasks.push(tokio::spawn(console(
            args.http,
            name.clone(),
            token,
            timeline.clone(),
        )));
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        register(&socket, args.sip, &name, &args.password).await?;
        tasks.push(tokio::spawn(phone(socket, name, timeline.clone())));
    }
    println!("ready operators={}", args.operators);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    for task in tasks {
        task.abort();
    }
    report(&timeline.lock().expect("timeline"));
    Ok(())
}

async fn login(
    client: &reqwest::Client,
    http: SocketAddr,
    name: &str,
    password: &str,
) -> anyhow::Result<String> {
    let answer: serde_json::Value = client
        .post(format!("http://{http}/api/login"))
        .json(&serde_json::json!({"username": name, "password": password}))
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("login of {name}"))?
        .json()
        .await?;
    Ok(answer["token"].as_str().context("no token")?.to_string())
}

/// The operator's console: notes when each `call.offered` is read.
async fn console(http: SocketAddr, name: String, token: String, timeline: Shared) {
    let mut request = format!("ws://{http}/api/live")
        .into_client_request()
        .expect("request");
    let protocols = format!("hotline.live, bearer.{token}");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_str(&protocols).expect("header"),
    );
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(request).await else {
        eprintln!("{name}: no live socket");
        return;
    };
    while let Some(Ok(message)) = socket.next().await {
        let read_at = Instant::now();
        let Ok(text) = message.to_text() else {
            continue;
        };
        if text.contains("\"type\":\"call.offered\"") {
            timeline
                .lock()
                .expect("timeline")
                .pops
                .entry(name.clone())
                .or_default()
                .push(read_at);
        }
    }
}

/// A header line of a SIP message, whole.
fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find(|line| {
            line.get(..name.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(name))
        })
        .unwrap_or_default()
}

/// REGISTERs `name` with digest from `socket` (its address is the Contact).
async fn register(
    socket: &UdpSocket,
    registrar: SocketAddr,
    name: &str,
    password: &str,
) -> anyhow::Result<()> {
    let local = socket.local_addr()?;
    let uri = format!("sip:{registrar}");
    let mut authorization_line = String::new();
    for cseq in 1..=2 {
        let request = format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-pop-{name}-{cseq}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{name}@{registrar}>;tag=pop{cseq}\r\n\
             To: <sip:{name}@{registrar}>\r\n\
             Call-ID: pop-{name}@{local}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{name}@{local}>\r\n\
             Expires: 3600\r\n\
             {authorization_line}Content-Length: 0\r\n\r\n"
        );
        socket.send_to(request.as_bytes(), registrar).await?;
        let mut buffer = vec![0u8; 8192];
        let (len, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
            .await
            .context("no answer to REGISTER")??;
        let answer = String::from_utf8_lossy(&buffer[..len]).to_string();
        if answer.starts_with("SIP/2.0 200") {
            return Ok(());
        }
        let challenges: Vec<&str> = answer
            .lines()
            .filter_map(|line| line.strip_prefix("WWW-Authenticate: "))
            .collect();
        let value = authorization(
            challenges.iter().copied(),
            name,
            password,
            ClientRequest {
                method: "REGISTER",
                uri: &uri,
                cnonce: "5c0ee9a1",
                nc: 1,
            },
        )
        .context("an answerable challenge")?;
        authorization_line = format!("Authorization: {value}\r\n");
    }
    bail!("{name} could not register")
}

/// The operator's phone: rings for every INVITE, answers CANCEL with 200
/// and the INVITE with 487.
async fn phone(socket: UdpSocket, name: String, timeline: Shared) {
    let mut buffer = vec![0u8; 65_535];
    let mut seen = HashSet::new();
    let mut invites: HashMap<String, String> = HashMap::new();
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buffer).await else {
            return;
        };
        let arrived = Instant::now();
        let message = String::from_utf8_lossy(&buffer[..len]).to_string();
        let call_id = header(&message, "Call-ID:").to_string();
        let reply = |status: &str, message: &str, to_tag: bool| {
            let to = header(message, "To:");
            let to = if to_tag && !to.contains("tag=") {
                format!("{to};tag=phone")
            } else {
                to.to_string()
            };
            format!(
                "SIP/2.0 {status}\r\n{}\r\n{}\r\n{to}\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n",
                header(message, "Via:"),
                header(message, "From:"),
                header(message, "Call-ID:"),
                header(message, "CSeq:"),
            )
        };
        if message.starts_with("INVITE ") {
            if seen.insert(call_id.clone()) {
                timeline
                    .lock()
                    .expect("timeline")
                    .rings
                    .entry(name.clone())
                    .or_default()
                    .push(arrived);
            }
            let ringing = reply("180 Ringing", &message, true);
            drop(socket.send_to(ringing.as_bytes(), from).await);
            invites.insert(call_id, message);
        } else if message.starts_with("CANCEL ") {
            let ok = reply("200 OK", &message, true);
            drop(socket.send_to(ok.as_bytes(), from).await);
            if let Some(invite) = invites.remove(&call_id) {
                let terminated = reply("487 Request Terminated", &invite, true);
                drop(socket.send_to(terminated.as_bytes(), from).await);
            }
        } else if message.starts_with("OPTIONS ") {
            let ok = reply("200 OK", &message, true);
            drop(socket.send_to(ok.as_bytes(), from).await);
        }
    }
}

fn report(timeline: &Timeline) {
    let mut latencies = Vec::new();
    let mut unpaired = 0usize;
    for (name, rings) in &timeline.rings {
        let pops = timeline.pops.get(name).map(Vec::as_slice).unwrap_or(&[]);
        unpaired += rings.len().abs_diff(pops.len());
        for (ring, pop) in rings.iter().zip(pops) {
            let ms = if pop >= ring {
                pop.duration_since(*ring).as_secs_f64() * 1000.0
            } else {
                -(ring.duration_since(*pop).as_secs_f64() * 1000.0)
            };
            latencies.push(ms);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        if latencies.is_empty() {
            return f64::NAN;
        }
        latencies[((q * latencies.len() as f64) as usize).min(latencies.len() - 1)]
    };
    println!(
        "rings={} unpaired={unpaired} pop_after_invite_ms_p50={:.2} p99={:.2} max={:.2} min={:.2}",
        latencies.len(),
        pick(0.5),
        pick(0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.first().copied().unwrap_or(f64::NAN),
    );
}

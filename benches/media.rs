//! Hot paths of the media layer: G.711 per 20 ms frame, RTP parse and write,
//! RFC 4733 payload parse and the digit receiver, and the engine's 20 ms
//! tick over many sessions, alone or bridged in pairs.
//!
//! `cargo bench --bench media`

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hotline::media::{
    Codec, Dbfs, DtmfReceiver, FRAME_DURATION, Frame, LegHandle, MediaDirection, MediaEngine,
    MediaEvent, MediaHandle, Prompt, RTP_HEADER_LEN, RtpPacket, RtpWriter, SAMPLES_PER_FRAME,
    SessionParams, StereoSink, TelephoneEvent,
};
use tokio::sync::mpsc;

fn speech_like_frame() -> [i16; SAMPLES_PER_FRAME] {
    std::array::from_fn(|i| ((i as f32 * 0.3).sin() * 12000.0) as i16)
}

fn g711(c: &mut Criterion) {
    let pcm = speech_like_frame();
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let name = codec.encoding_name();
        c.bench_function(&format!("g711 {name} encode 160 samples"), |b| {
            let mut wire = [0u8; SAMPLES_PER_FRAME];
            b.iter(|| {
                codec.encode(black_box(&pcm), &mut wire);
                black_box(&wire);
            })
        });
        let mut wire = [0u8; SAMPLES_PER_FRAME];
        codec.encode(&pcm, &mut wire);
        c.bench_function(&format!("g711 {name} decode 160 samples"), |b| {
            let mut out = [0i16; SAMPLES_PER_FRAME];
            b.iter(|| {
                codec.decode(black_box(&wire), &mut out);
                black_box(&out);
            })
        });
    }
}

fn rtp(c: &mut Criterion) {
    let payload = [0xD5u8; SAMPLES_PER_FRAME];
    let mut packet = [0u8; RTP_HEADER_LEN + SAMPLES_PER_FRAME];
    let mut writer = RtpWriter::new(0x1234_5678, 1, 0);
    c.bench_function("rtp write 160-byte payload", |b| {
        b.iter(|| black_box(writer.write(&mut packet, 8, false, black_box(&payload), 160)))
    });
    let len = writer.write(&mut packet, 8, false, &payload, 160);
    c.bench_function("rtp parse 160-byte payload", |b| {
        b.iter(|| black_box(RtpPacket::parse(black_box(&packet[..len]))).is_ok())
    });
}

fn dtmf(c: &mut Criterion) {
    let payload = [5u8, 0x80 | 10, 3, 32];
    c.bench_function("rfc 4733 telephone-event parse", |b| {
        b.iter(|| black_box(TelephoneEvent::parse(black_box(&payload))).is_ok())
    });
    c.bench_function("rfc 4733 receiver, retransmitted end packet", |b| {
        let mut receiver = DtmfReceiver::new();
        receiver.receive(1, 8000, &payload);
        b.iter(|| black_box(receiver.receive(1, black_box(8000), black_box(&payload))))
    });
}

/// Sessions ticked together in the engine benches: about what one shard of
/// a busy node carries.
const SESSIONS: usize = 100;

/// A sink that drops every frame, so only the session's own work is timed.
struct NullSink;

impl StereoSink for NullSink {
    fn push_frame(&mut self, left: &Frame, right: &Frame) {
        black_box((left, right));
    }
}

fn params(remote: std::net::SocketAddr) -> SessionParams {
    SessionParams {
        remote,
        codec: Codec::Pcmu,
        dtmf_payload_type: Some(101),
        inactivity_timeout: Duration::from_secs(3600),
        direction: MediaDirection::SendRecv,
        speech_threshold: Dbfs::new(-45).expect("level in range"),
    }
}

async fn bind() -> tokio::net::UdpSocket {
    tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind")
}

/// What the sessions of an engine bench do.
enum Calls {
    /// Each sends to a peer that never answers, playing the prompt if any.
    Alone(Option<Prompt>),
    /// [`SESSIONS`] / 2 pairs of a session and a leg beside it, each
    /// sending to the other's socket, so that every session receives,
    /// decodes and sends one packet a tick; `bridged` or not.
    Pairs { bridged: bool },
}

/// The sessions an engine bench ticks, kept alive for its length.
struct Running {
    handles: Vec<(MediaHandle<NullSink>, mpsc::Receiver<MediaEvent>)>,
    legs: Vec<(LegHandle<NullSink>, mpsc::Receiver<MediaEvent>)>,
    _peer: tokio::net::UdpSocket,
}

async fn start_calls(calls: &Calls) -> Running {
    let engine = MediaEngine::start(1);
    let peer = bind().await;
    let remote = peer.local_addr().expect("peer address");
    let mut running = Running {
        handles: Vec::new(),
        legs: Vec::new(),
        _peer: peer,
    };
    match calls {
        Calls::Alone(_) => {
            for _ in 0..SESSIONS {
                let started = engine.start_session(bind().await, params(remote), NullSink);
                running.handles.push(started.await.expect("engine running"));
            }
        }
        Calls::Pairs { bridged } => {
            for _ in 0..SESSIONS / 2 {
                let (caller, leg) = (bind().await, bind().await);
                let caller_addr = caller.local_addr().expect("address");
                let leg_addr = leg.local_addr().expect("address");
                let started = engine.start_session(caller, params(leg_addr), NullSink);
                let (handle, events) = started.await.expect("engine running");
                let started = engine.start_leg(&handle, leg, params(caller_addr));
                let (leg, leg_events) = started.await.expect("engine running");
                if *bridged {
                    handle.bridge(&leg).expect("beside");
                }
                running.handles.push((handle, events));
                running.legs.push((leg, leg_events));
            }
        }
    }
    running
}

/// One shard ticking [`SESSIONS`] sessions: the timed part is `iters` ticks
/// under paused time, which tokio advances as soon as the shard is idle, so
/// the wall time is the ticks' work (receive, send, record) and the
/// timer's, nothing spent waiting. Whatever the sessions send to a socket
/// nobody reads is dropped by the kernel when it does not fit.
fn engine_ticks(c: &mut Criterion, name: &str, calls: Calls) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let mut running = runtime.block_on(start_calls(&calls));
    let prompt = match &calls {
        Calls::Alone(prompt) => prompt.clone(),
        Calls::Pairs { .. } => None,
    };
    let mut group = c.benchmark_group("engine tick");
    group.throughput(Throughput::Elements(SESSIONS as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                for (handle, events) in &mut running.handles {
                    if let Some(prompt) = &prompt {
                        handle.play(prompt.clone());
                    }
                    while events.try_recv().is_ok() {}
                }
                for (_, events) in &mut running.legs {
                    while events.try_recv().is_ok() {}
                }
                let ticks = u32::try_from(iters).unwrap_or(u32::MAX);
                let start = std::time::Instant::now();
                tokio::time::sleep(FRAME_DURATION * ticks).await;
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn engine(c: &mut Criterion) {
    engine_ticks(c, "100 sessions, no prompt", Calls::Alone(None));
    // Ten minutes, longer than any measurement: the prompt never ends.
    let prompt = Prompt::from_samples("bench", speech_like_frame().repeat(30_000));
    engine_ticks(
        c,
        "100 sessions, playing a prompt",
        Calls::Alone(Some(prompt)),
    );
    engine_ticks(
        c,
        "50 pairs sending to each other, not bridged",
        Calls::Pairs { bridged: false },
    );
    engine_ticks(c, "50 bridged pairs", Calls::Pairs { bridged: true });
}

criterion_group!(benches, g711, rtp, dtmf, engine);
criterion_main!(benches);

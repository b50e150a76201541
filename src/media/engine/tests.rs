//! Engine tests: many sessions on one shard's tick, and ending sessions by
//! dropping their handles. Per-session behaviour is tested in the session's
//! own tests.

use std::net::Ipv4Addr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::sleep;

use super::*;
use crate::media::{Codec, Frame, RtpWriter, SAMPLES_PER_FRAME, SILENCE};

/// Keeps the left channel of every frame; notes when it is dropped.
#[derive(Clone, Default)]
struct Sink {
    left: Arc<Mutex<Vec<Frame>>>,
    dropped: Arc<AtomicBool>,
}

impl StereoSink for Sink {
    fn push_frame(&mut self, left: &Frame, _right: &Frame) {
        self.left.lock().expect("sink lock").push(*left);
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

async fn bind() -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind loopback")
}

fn params(remote: std::net::SocketAddr) -> SessionParams {
    SessionParams {
        remote,
        codec: Codec::Pcmu,
        dtmf_payload_type: None,
        inactivity_timeout: Duration::from_secs(3600),
        direction: crate::media::MediaDirection::SendRecv,
        speech_threshold: crate::media::Dbfs::new(-45).expect("level in range"),
    }
}

/// One PCMU packet whose samples are all `level`.
fn packet(level: i16) -> Vec<u8> {
    let mut payload = [0u8; SAMPLES_PER_FRAME];
    Codec::Pcmu.encode(&[level; SAMPLES_PER_FRAME], &mut payload);
    let mut out = vec![0u8; 12 + SAMPLES_PER_FRAME];
    let len = RtpWriter::new(7, 1, 0).write(&mut out, 0, true, &payload, 0);
    out.truncate(len);
    out
}

fn decoded(level: i16) -> Frame {
    let mut payload = [0u8; SAMPLES_PER_FRAME];
    Codec::Pcmu.encode(&[level; SAMPLES_PER_FRAME], &mut payload);
    let mut frame = SILENCE;
    Codec::Pcmu.decode(&payload, &mut frame);
    frame
}

#[tokio::test(start_paused = true)]
async fn sessions_on_one_shard_share_its_tick_and_keep_their_own_audio() {
    let engine = MediaEngine::start(1);
    let peer = bind().await;
    let mut calls = Vec::new();
    for level in [1000, -2000, 3000] {
        let socket = bind().await;
        let local = socket.local_addr().expect("local addr");
        let sink = Sink::default();
        let (handle, _events) = engine
            .start_session(
                socket,
                params(peer.local_addr().expect("addr")),
                sink.clone(),
            )
            .await
            .expect("engine running");
        calls.push((handle, sink, local, level));
    }
    for (_, _, local, level) in &calls {
        peer.send_to(&packet(*level), local).await.expect("send");
    }
    sleep(Duration::from_millis(110)).await;
    for (handle, sink, _, level) in calls {
        let (_, stats) = handle.stop().await.expect("stopped");
        assert_eq!(stats.packets_received, 1);
        let left = sink.left.lock().expect("lock").clone();
        assert_eq!(left.len(), 5, "one frame per 20 ms for every session");
        assert_eq!(left[0], decoded(level), "each session hears its own caller");
        assert!(left[1..].iter().all(|frame| *frame == SILENCE));
    }
}

#[tokio::test(start_paused = true)]
async fn sessions_are_spread_over_the_shards_in_turn() {
    let engine = MediaEngine::start(2);
    let peer = bind().await.local_addr().expect("addr");
    let mut handles = Vec::new();
    for _ in 0..4 {
        let (handle, _events) = engine
            .start_session(bind().await, params(peer), Sink::default())
            .await
            .expect("engine running");
        handles.push(handle);
    }
    let on_first = handles
        .iter()
        .filter(|handle| handle.control.shard.same_channel(&engine.shards[0]))
        .count();
    assert_eq!(on_first, 2);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_handle_ends_its_session_and_drops_the_sink() {
    let engine = MediaEngine::start(1);
    let peer = bind().await.local_addr().expect("addr");
    let kept_sink = Sink::default();
    let (kept, _kept_events) = engine
        .start_session(bind().await, params(peer), kept_sink.clone())
        .await
        .expect("engine running");
    let dropped_sink = Sink::default();
    let (handle, mut events) = engine
        .start_session(bind().await, params(peer), dropped_sink.clone())
        .await
        .expect("engine running");
    sleep(Duration::from_millis(50)).await;
    drop(handle);
    // The session's event sender goes with it.
    assert_eq!(events.recv().await, None);
    assert!(dropped_sink.dropped.load(Ordering::SeqCst));
    let frames_at_drop = dropped_sink.left.lock().expect("lock").len();
    sleep(Duration::from_millis(100)).await;
    assert_eq!(
        dropped_sink.left.lock().expect("lock").len(),
        frames_at_drop
    );
    assert!(!kept_sink.dropped.load(Ordering::SeqCst));
    let (_, _) = kept.stop().await.expect("the other session goes on");
    assert_eq!(kept_sink.left.lock().expect("lock").len(), 7);
}

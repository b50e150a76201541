//! Media session tests over real loopback UDP sockets, with paused time.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::error::TryRecvError;
use tokio::time::{sleep, timeout};

use super::*;
use crate::media::{FRAME_DURATION, MediaEngine, MediaHandle};

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
const DTMF_PT: u8 = 101;
/// Long enough never to fire in tests that are not about it.
const NO_TIMEOUT: Duration = Duration::from_secs(3600);
/// The default threshold: an RMS of 184.3.
const SPEECH_THRESHOLD_DBFS: i64 = -45;

type Frames = Arc<Mutex<Vec<(Frame, Frame)>>>;

/// A sink that keeps every frame, for inspection.
struct RecordingSink(Frames);

impl StereoSink for RecordingSink {
    fn push_frame(&mut self, left: &Frame, right: &Frame) {
        self.0.lock().expect("test sink lock").push((*left, *right));
    }
}

struct Fixture {
    handle: MediaHandle<Box<RecordingSink>>,
    events: mpsc::Receiver<MediaEvent>,
    /// The remote side's socket.
    peer: UdpSocket,
    /// Where the session listens.
    session: SocketAddr,
    frames: Frames,
}

async fn bind() -> UdpSocket {
    UdpSocket::bind((LOCALHOST, 0))
        .await
        .expect("bind loopback")
}

fn addr(socket: &UdpSocket) -> SocketAddr {
    socket.local_addr().expect("local addr")
}

/// Starts a session whose SDP remote is `remote`, or the peer if `None`.
async fn start(
    inactivity_timeout: Duration,
    remote: Option<SocketAddr>,
    dtmf: Option<u8>,
) -> Fixture {
    start_directed(inactivity_timeout, remote, dtmf, MediaDirection::SendRecv).await
}

/// As [`start`], in `direction` from the first tick.
async fn start_directed(
    inactivity_timeout: Duration,
    remote: Option<SocketAddr>,
    dtmf: Option<u8>,
    direction: MediaDirection,
) -> Fixture {
    let socket = bind().await;
    let peer = bind().await;
    let session = addr(&socket);
    let frames = Frames::default();
    let params = SessionParams {
        remote: remote.unwrap_or(addr(&peer)),
        codec: Codec::Pcmu,
        dtmf_payload_type: dtmf,
        inactivity_timeout,
        direction,
        speech_threshold: Dbfs::new(SPEECH_THRESHOLD_DBFS).expect("level in range"),
    };
    let engine = MediaEngine::start(1);
    let (handle, events) = engine
        .start_session(socket, params, Box::new(RecordingSink(frames.clone())))
        .await
        .expect("engine running");
    Fixture {
        handle,
        events,
        peer,
        session,
        frames,
    }
}

fn rtp(payload_type: u8, marker: bool, seq: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; RTP_HEADER_LEN + payload.len()];
    let len =
        RtpWriter::new(0x5eed, seq, timestamp).write(&mut out, payload_type, marker, payload, 0);
    out.truncate(len);
    out
}

fn pcmu(frame: &Frame) -> [u8; SAMPLES_PER_FRAME] {
    let mut out = [0u8; SAMPLES_PER_FRAME];
    Codec::Pcmu.encode(frame, &mut out);
    out
}

/// What a frame sounds like after G.711 both ways.
fn through_pcmu(frame: &Frame) -> Frame {
    let mut out = SILENCE;
    Codec::Pcmu.decode(&pcmu(frame), &mut out);
    out
}

struct Received {
    at: Instant,
    marker: bool,
    seq: u16,
    timestamp: u32,
    payload_type: u8,
    payload: Vec<u8>,
}

async fn receive(socket: &UdpSocket) -> Received {
    let mut buf = [0u8; 2048];
    let (len, _) = timeout(Duration::from_secs(1), socket.recv_from(&mut buf))
        .await
        .expect("a packet within 1 s")
        .expect("receive");
    let p = RtpPacket::parse(&buf[..len]).expect("session sends valid RTP");
    Received {
        at: Instant::now(),
        marker: p.marker,
        seq: p.sequence,
        timestamp: p.timestamp,
        payload_type: p.payload_type,
        payload: p.payload.to_vec(),
    }
}

/// Whether nothing arrives on `socket` for `quiet`.
async fn nothing_for(socket: &UdpSocket, quiet: Duration) -> bool {
    let mut buf = [0u8; 2048];
    timeout(quiet, socket.recv_from(&mut buf)).await.is_err()
}

/// Reads and discards whatever is queued on `socket`.
fn drain(socket: &UdpSocket) -> usize {
    let mut buf = [0u8; 2048];
    let mut count = 0;
    while socket.try_recv_from(&mut buf).is_ok() {
        count += 1;
    }
    count
}

fn ramp_prompt(samples: usize) -> Prompt {
    let samples = (0..samples)
        .map(|i| ((i % 600) as i16) * 40 - 12000)
        .collect();
    Prompt::from_samples("ramp", samples)
}

fn prompt_frames(prompt: &Prompt) -> Vec<Frame> {
    let mut playback = prompt.playback();
    let mut frames = Vec::new();
    let mut frame = SILENCE;
    while playback.next_frame(&mut frame) {
        frames.push(frame);
    }
    frames
}

#[tokio::test(start_paused = true)]
async fn caller_audio_is_decoded_onto_the_left_channel() {
    let f = start(NO_TIMEOUT, None, None).await;
    let spoken: Frame = std::array::from_fn(|i| (i as i16) * 100 - 8000);
    f.peer
        .send_to(&rtp(0, true, 1, 0, &pcmu(&spoken)), f.session)
        .await
        .expect("send");
    sleep(Duration::from_millis(70)).await;
    let (_, stats) = f.handle.stop().await.expect("stopped");
    let frames = f.frames.lock().expect("lock").clone();
    assert_eq!(frames.len(), 3, "one frame per 20 ms");
    let heard: Vec<_> = frames.iter().filter(|(l, _)| *l != SILENCE).collect();
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].0, through_pcmu(&spoken));
    assert!(frames.iter().all(|(_, r)| *r == SILENCE));
    assert_eq!(stats.packets_received, 1);
    assert_eq!(stats.bytes_received, SAMPLES_PER_FRAME as u64);
    assert_eq!(stats.packets_sent, 3, "silence goes out meanwhile");
    assert_eq!(stats.voiced_frames, 1);
}

#[tokio::test(start_paused = true)]
async fn the_recording_has_one_frame_per_20_ms_of_the_session() {
    let f = start(NO_TIMEOUT, None, None).await;
    f.handle.play(ramp_prompt(2000));
    sleep(Duration::from_millis(1010)).await;
    let (_, stats) = f.handle.stop().await.expect("stopped");
    assert_eq!(f.frames.lock().expect("lock").len(), 50);
    assert_eq!(stats.packets_sent, 50, "13 of the prompt, then silence");
    assert_eq!(stats.bytes_sent, 50 * SAMPLES_PER_FRAME as u64);
}

#[tokio::test(start_paused = true)]
async fn a_session_sends_exactly_one_packet_per_tick_with_no_prompt() {
    let f = start(NO_TIMEOUT, None, None).await;
    let mut packets = Vec::new();
    for _ in 0..50 {
        packets.push(receive(&f.peer).await);
    }
    for (i, p) in packets.iter().enumerate() {
        assert_eq!(p.payload_type, 0);
        assert_eq!(p.payload, Codec::Pcmu.silence(), "μ-law digital silence");
        assert_eq!(p.marker, i == 0, "marker only on the first packet");
    }
    for pair in packets.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
        assert_eq!(pair[1].at - pair[0].at, FRAME_DURATION);
    }
    sleep(FRAME_DURATION / 2).await;
    assert_eq!(drain(&f.peer), 0, "one packet per tick, no more");
    let (_, stats) = f.handle.stop().await.expect("stopped");
    assert_eq!(stats.packets_sent, 50);
    assert_eq!(f.frames.lock().expect("lock").len(), 50);
}

#[tokio::test(start_paused = true)]
async fn a_prompt_goes_out_paced_with_continuous_sequence_and_timestamps() {
    let mut f = start(NO_TIMEOUT, None, None).await;
    let prompt = ramp_prompt(3 * SAMPLES_PER_FRAME + 80);
    let expected = prompt_frames(&prompt);
    f.handle.play(prompt.clone());

    let mut packets = Vec::new();
    for _ in 0..expected.len() {
        packets.push(receive(&f.peer).await);
    }
    for (i, (p, frame)) in packets.iter().zip(&expected).enumerate() {
        assert_eq!(p.payload_type, 0);
        assert_eq!(p.marker, i == 0, "marker only on the first packet");
        assert_eq!(p.payload, pcmu(frame));
    }
    for pair in packets.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
        assert_eq!(pair[1].at - pair[0].at, FRAME_DURATION);
    }
    assert_eq!(f.events.recv().await, Some(MediaEvent::PlaybackFinished));

    // Silence follows in the same stream, and so does the next prompt: no
    // marker, one sequence number and one frame of timestamp per tick.
    for _ in 0..5 {
        let silence = receive(&f.peer).await;
        assert_eq!(silence.payload, Codec::Pcmu.silence());
        packets.push(silence);
    }
    f.handle.play(prompt);
    packets.push(receive(&f.peer).await);
    let next = packets.last().expect("packets");
    assert_eq!(next.payload, pcmu(&expected[0]));
    assert!(packets.iter().skip(1).all(|p| !p.marker));
    for pair in packets.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
    }

    let (_, stats) = f.handle.stop().await.expect("stopped");
    let frames = f.frames.lock().expect("lock").clone();
    let first = frames
        .iter()
        .position(|(_, r)| *r != SILENCE)
        .expect("the prompt on the right channel");
    let right: Vec<Frame> = frames[first..first + expected.len()]
        .iter()
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(right, expected);
    assert!(frames.iter().all(|(l, _)| *l == SILENCE));
    assert!(stats.packets_sent >= 5);
}

#[tokio::test(start_paused = true)]
async fn retransmitted_rfc_4733_end_packets_give_one_digit() {
    let mut f = start(NO_TIMEOUT, None, Some(DTMF_PT)).await;
    let mut seq = 100;
    // Two presses of 5, then one of #: start, update, three end packets each
    // (RFC 4733 §2.5.1.4), each press with its own timestamp.
    for (event, timestamp) in [(5u8, 8000u32), (5, 9600), (11, 11200)] {
        let packets = [
            (true, [event, 10, 0, 160]),
            (false, [event, 10, 1, 64]),
            (false, [event, 0x80 | 10, 1, 224]),
            (false, [event, 0x80 | 10, 1, 224]),
            (false, [event, 0x80 | 10, 1, 224]),
        ];
        for (marker, payload) in packets {
            let p = rtp(DTMF_PT, marker, seq, timestamp, &payload);
            f.peer.send_to(&p, f.session).await.expect("send");
            seq += 1;
        }
    }
    // Long enough for a draining tick.
    sleep(Duration::from_millis(150)).await;
    let mut digits = Vec::new();
    while let Ok(event) = f.events.try_recv() {
        digits.push(event);
    }
    let five = Digit::new('5').expect("digit");
    let hash = Digit::new('#').expect("digit");
    assert_eq!(
        digits,
        [
            MediaEvent::Digit(five),
            MediaEvent::Digit(five),
            MediaEvent::Digit(hash)
        ]
    );
    let (_, stats) = f.handle.stop().await.expect("stopped");
    assert_eq!(stats.packets_received, 15);
    assert_eq!(stats.packets_lost_estimate, 0);
    let frames = f.frames.lock().expect("lock").clone();
    assert!(
        frames.iter().all(|(l, _)| *l == SILENCE),
        "digits are not audio"
    );
}

#[tokio::test(start_paused = true)]
async fn rtp_goes_back_to_where_the_remote_media_comes_from() {
    let sdp_address = bind().await;
    let mut f = start(NO_TIMEOUT, Some(addr(&sdp_address)), None).await;
    f.handle.play(ramp_prompt(100 * SAMPLES_PER_FRAME));
    // Before any packet arrives, RTP goes to the SDP address.
    receive(&sdp_address).await;

    let spoken: Frame = [1000; SAMPLES_PER_FRAME];
    f.peer
        .send_to(&rtp(0, true, 1, 0, &pcmu(&spoken)), f.session)
        .await
        .expect("send");
    for _ in 0..3 {
        receive(&f.peer).await;
    }
    drain(&sdp_address);
    for _ in 0..3 {
        receive(&f.peer).await;
    }
    assert_eq!(drain(&sdp_address), 0, "nothing more to the SDP address");

    // Once latched, another source is ignored.
    let stranger = bind().await;
    let noise: Frame = [-5000; SAMPLES_PER_FRAME];
    stranger
        .send_to(&rtp(0, true, 1, 0, &pcmu(&noise)), f.session)
        .await
        .expect("send");
    sleep(Duration::from_millis(60)).await;
    let (_, stats) = f.handle.stop().await.expect("stopped");
    assert_eq!(stats.packets_received, 1);
    assert_eq!(stats.packets_dropped, 1);
    let frames = f.frames.lock().expect("lock").clone();
    assert!(frames.iter().any(|(l, _)| *l == through_pcmu(&spoken)));
    assert!(!frames.iter().any(|(l, _)| *l == through_pcmu(&noise)));
    assert!(f.events.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn silence_of_the_remote_side_is_reported_once_per_silence() {
    let timeout_after = Duration::from_millis(200);
    let mut f = start(timeout_after, None, None).await;
    let mut seq = 1;
    let mut last_sent = Instant::now();
    for _ in 0..5 {
        f.peer
            .send_to(&rtp(0, false, seq, 0, &[0xFF; 160]), f.session)
            .await
            .expect("send");
        last_sent = Instant::now();
        seq += 1;
        sleep(Duration::from_millis(100)).await;
        assert_eq!(f.events.try_recv(), Err(TryRecvError::Empty));
    }
    assert_eq!(f.events.recv().await, Some(MediaEvent::Inactive));
    let silent_for = last_sent.elapsed();
    assert!(silent_for >= timeout_after && silent_for <= timeout_after + FRAME_DURATION * 2);
    sleep(Duration::from_millis(500)).await;
    assert_eq!(
        f.events.try_recv(),
        Err(TryRecvError::Empty),
        "reported once"
    );

    // RTP again re-arms the report.
    f.peer
        .send_to(&rtp(0, false, seq, 0, &[0xFF; 160]), f.session)
        .await
        .expect("send");
    assert_eq!(f.events.recv().await, Some(MediaEvent::Inactive));
    f.handle.stop().await.expect("stopped");
}

#[tokio::test(start_paused = true)]
async fn held_with_sendonly_nothing_is_sent_the_prompt_pauses_and_silence_is_reported() {
    // The remote side holds us with `sendonly`: we are `recvonly`
    // (RFC 3264 §8.4) and expect its music on hold.
    let timeout_after = Duration::from_millis(200);
    let mut f = start(timeout_after, None, None).await;
    let prompt = ramp_prompt(200 * SAMPLES_PER_FRAME);
    let expected = prompt_frames(&prompt);
    f.handle.play(prompt);
    let before = receive(&f.peer).await;
    assert!(before.marker, "the first packet of the stream");
    f.handle.set_direction(MediaDirection::RecvOnly);
    sleep(FRAME_DURATION / 2).await;
    drain(&f.peer);
    let frames_at_hold = f.frames.lock().expect("lock").len();
    assert!(nothing_for(&f.peer, Duration::from_millis(600)).await);
    assert_eq!(
        f.frames.lock().expect("lock").len(),
        frames_at_hold + 30,
        "recording goes on"
    );
    assert_eq!(f.events.try_recv(), Ok(MediaEvent::Inactive));

    f.handle.set_direction(MediaDirection::SendRecv);
    let after = receive(&f.peer).await;
    assert!(after.marker, "the first packet after the hold");
    let sent_before = after.seq.wrapping_sub(before.seq);
    assert!(sent_before <= 2, "{sent_before}");
    assert_eq!(
        after.payload,
        pcmu(&expected[usize::from(sent_before)]),
        "the prompt goes on where it paused"
    );
    let held_ticks = after.timestamp.wrapping_sub(before.timestamp) / 160;
    assert!(
        held_ticks >= 30,
        "the timestamp counted the hold: {held_ticks}"
    );
    let next = receive(&f.peer).await;
    assert!(!next.marker);
    f.handle.stop().await.expect("stopped");
}

#[tokio::test(start_paused = true)]
async fn held_with_recvonly_the_session_keeps_sending_and_reports_no_silence() {
    // The remote side says `recvonly`: we are `sendonly`; it hears us (a
    // hold prompt) but sends nothing.
    let timeout_after = Duration::from_millis(200);
    let mut f = start(timeout_after, None, None).await;
    f.handle.set_direction(MediaDirection::SendOnly);
    let mut packets = Vec::new();
    for _ in 0..40 {
        packets.push(receive(&f.peer).await);
    }
    assert!(packets[0].marker);
    assert!(packets.iter().skip(1).all(|p| !p.marker));
    assert_eq!(f.events.try_recv(), Err(TryRecvError::Empty));

    // Back to sendrecv: inactivity counts from there.
    f.handle.set_direction(MediaDirection::SendRecv);
    let resumed = Instant::now();
    assert_eq!(f.events.recv().await, Some(MediaEvent::Inactive));
    let silent_for = resumed.elapsed();
    assert!(silent_for >= timeout_after && silent_for <= timeout_after + FRAME_DURATION * 2);
    let next = receive(&f.peer).await;
    assert!(!next.marker, "sending never paused");
    f.handle.stop().await.expect("stopped");
}

#[tokio::test(start_paused = true)]
async fn an_inactive_session_sends_nothing_and_reports_no_silence_from_the_start() {
    let timeout_after = Duration::from_millis(200);
    let mut f = start_directed(timeout_after, None, None, MediaDirection::Inactive).await;
    f.handle.play(ramp_prompt(10 * SAMPLES_PER_FRAME));
    assert!(nothing_for(&f.peer, Duration::from_millis(500)).await);
    assert_eq!(f.events.try_recv(), Err(TryRecvError::Empty));
    f.handle.set_direction(MediaDirection::SendRecv);
    let first = receive(&f.peer).await;
    assert!(first.marker);
    assert_eq!(f.events.recv().await, Some(MediaEvent::PlaybackFinished));
    let (_, stats) = f.handle.stop().await.expect("stopped");
    assert!(stats.packets_sent >= 10);
    let frames = f.frames.lock().expect("lock").clone();
    assert!(frames.len() >= 25, "recorded while inactive too");
}

#[tokio::test(start_paused = true)]
async fn voiced_frames_of_the_remote_side_are_counted_and_read_while_running() {
    let f = start(NO_TIMEOUT, None, Some(DTMF_PT)).await;
    // -45 dBFS is an RMS of 184.3: 1000 is speech, 100 and silence are not.
    let levels = [1000i16, 100, 0, -3000, 1000, 100];
    for (i, level) in levels.into_iter().enumerate() {
        let seq = i as u16 + 1;
        let frame: Frame = std::array::from_fn(|n| if n % 2 == 0 { level } else { -level });
        let packet = rtp(0, i == 0, seq, 160 * u32::from(seq), &pcmu(&frame));
        f.peer.send_to(&packet, f.session).await.expect("send");
        sleep(FRAME_DURATION).await;
    }
    sleep(FRAME_DURATION * 2).await;
    let running = f.handle.stats().await.expect("running");
    assert_eq!(running.voiced_frames, 3);
    assert_eq!(running.packets_received, 6);
    // Digits are not speech; neither is the silence of missing packets.
    let digit = rtp(DTMF_PT, true, 7, 8000, &[5, 10, 0, 160]);
    f.peer.send_to(&digit, f.session).await.expect("send");
    sleep(FRAME_DURATION * 10).await;
    let (_, stats) = f.handle.stop().await.expect("stopped");
    assert_eq!(stats.voiced_frames, 3);
    assert!(stats.packets_sent > running.packets_sent);
}

#[tokio::test(start_paused = true)]
async fn stop_playback_and_replacing_a_prompt_report_no_end() {
    let mut f = start(NO_TIMEOUT, None, None).await;
    f.handle.play(ramp_prompt(50 * SAMPLES_PER_FRAME));
    receive(&f.peer).await;
    f.handle.play(ramp_prompt(2 * SAMPLES_PER_FRAME));
    f.handle.stop_playback();
    sleep(Duration::from_millis(200)).await;
    assert_eq!(f.events.try_recv(), Err(TryRecvError::Empty));
    drain(&f.peer);
    for _ in 0..5 {
        let p = receive(&f.peer).await;
        assert_eq!(
            p.payload,
            Codec::Pcmu.silence(),
            "silence after stop_playback"
        );
        assert!(!p.marker);
    }
    f.handle.stop().await.expect("stopped");
}

#[tokio::test(start_paused = true)]
async fn a_reinvite_changes_codec_and_address() {
    let mut f = start(NO_TIMEOUT, None, None).await;
    let new_peer = bind().await;
    f.handle.update(addr(&new_peer), Codec::Pcma, Some(DTMF_PT));
    f.handle.play(ramp_prompt(SAMPLES_PER_FRAME));
    let p = receive(&new_peer).await;
    assert_eq!(p.payload_type, 8);
    let spoken: Frame = [3000; SAMPLES_PER_FRAME];
    let mut alaw = [0u8; SAMPLES_PER_FRAME];
    Codec::Pcma.encode(&spoken, &mut alaw);
    new_peer
        .send_to(&rtp(8, true, 1, 0, &alaw), f.session)
        .await
        .expect("send");
    new_peer
        .send_to(&rtp(DTMF_PT, true, 2, 0, &[1, 10, 0, 160]), f.session)
        .await
        .expect("send");
    assert_eq!(f.events.recv().await, Some(MediaEvent::PlaybackFinished));
    assert_eq!(
        f.events.recv().await,
        Some(MediaEvent::Digit(Digit::new('1').expect("digit")))
    );
    sleep(Duration::from_millis(40)).await;
    f.handle.stop().await.expect("stopped");
    let mut expected = SILENCE;
    Codec::Pcma.decode(&alaw, &mut expected);
    let frames = f.frames.lock().expect("lock").clone();
    assert!(frames.iter().any(|(l, _)| *l == expected));
    assert_eq!(drain(&f.peer), 0, "the old address gets nothing");
}

#[tokio::test(start_paused = true)]
async fn a_burst_is_read_one_packet_a_tick_and_drained_every_fifth_tick() {
    let mut f = start(NO_TIMEOUT, None, Some(DTMF_PT)).await;
    let between = (DRAIN_EVERY_TICKS - 1) as usize;
    let burst = between + MAX_PACKETS_PER_TICK + 3;
    for i in 0..burst {
        // Each packet starts a new key press (its own timestamp), so each
        // one read gives one digit.
        let event = (i % 10) as u8;
        let timestamp = 8000 + 1600 * i as u32;
        let p = rtp(DTMF_PT, true, i as u16 + 1, timestamp, &[event, 10, 0, 160]);
        f.peer.send_to(&p, f.session).await.expect("send");
    }
    let digits = |events: &mut mpsc::Receiver<MediaEvent>| {
        let mut count = 0;
        while let Ok(MediaEvent::Digit(_)) = events.try_recv() {
            count += 1;
        }
        count
    };
    assert_eq!(digits(&mut f.events), 0, "nothing is read before the tick");
    sleep(FRAME_DURATION / 2).await;
    for tick in 1..=between {
        sleep(FRAME_DURATION).await;
        assert_eq!(digits(&mut f.events), 1, "one read on tick {tick}");
    }
    sleep(FRAME_DURATION).await;
    assert_eq!(
        digits(&mut f.events),
        MAX_PACKETS_PER_TICK,
        "the fifth tick drains, at most 16"
    );
    for _ in 0..3 {
        sleep(FRAME_DURATION).await;
        assert_eq!(digits(&mut f.events), 1);
    }
    sleep(FRAME_DURATION * 5).await;
    assert_eq!(digits(&mut f.events), 0);
    let (_, stats) = f.handle.stop().await.expect("stopped");
    assert_eq!(stats.packets_received, burst as u64);
    assert_eq!(stats.packets_dropped, 0);
}

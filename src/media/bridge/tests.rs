//! Bridge tests: a caller session and a leg on one shard, real loopback UDP
//! sockets on both remote sides, paused time. Each remote side sends its own
//! tone, one packet every 20 ms, half a frame off the shard's tick so that
//! every tick reads exactly one packet; what each receives is told apart by
//! the Goertzel power at each tone's frequency.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::sleep;

use crate::media::{
    Codec, Dbfs, Digit, FRAME_DURATION, Frame, LegHandle, MediaDirection, MediaEngine, MediaEvent,
    MediaHandle, NotBeside, Prompt, RTP_HEADER_LEN, RtpPacket, RtpWriter, SAMPLES_PER_FRAME,
    SILENCE, SessionParams, StereoSink,
};

/// What the caller says: 8 whole cycles a frame.
const CALLER_HZ: f64 = 400.0;
/// What the operator says: 20 whole cycles a frame.
const OPERATOR_HZ: f64 = 1000.0;
/// A prompt played on one side: 40 whole cycles a frame.
const PROMPT_HZ: f64 = 2000.0;
const TONES: [f64; 3] = [CALLER_HZ, OPERATOR_HZ, PROMPT_HZ];
const AMPLITUDE: f64 = 8000.0;
/// How much more power the heard tone has than any other.
const DOMINANCE: f64 = 100.0;
const DTMF_PT: u8 = 101;
/// Ticks of talking in each step of a test.
const TALK_TICKS: usize = 10;

type Frames = Arc<Mutex<Vec<(Frame, Frame)>>>;

/// Keeps every recorded frame.
struct RecordingSink(Frames);

impl StereoSink for RecordingSink {
    fn push_frame(&mut self, left: &Frame, right: &Frame) {
        self.0.lock().expect("test sink lock").push((*left, *right));
    }
}

/// One remote side: its socket, where its session listens, its codec and
/// the payloads it sent.
struct Peer {
    socket: UdpSocket,
    session: SocketAddr,
    codec: Codec,
    seq: u16,
    sample: usize,
    sent: Vec<[u8; SAMPLES_PER_FRAME]>,
}

impl Peer {
    /// Sends the next frame of a continuous `freq` tone.
    async fn say(&mut self, freq: f64) {
        let frame: Frame = std::array::from_fn(|i| {
            let n = (self.sample + i) as f64;
            (AMPLITUDE * (std::f64::consts::TAU * freq * n / 8000.0).sin()) as i16
        });
        self.sample += SAMPLES_PER_FRAME;
        let mut payload = [0u8; SAMPLES_PER_FRAME];
        self.codec.encode(&frame, &mut payload);
        let timestamp = (self.sample - SAMPLES_PER_FRAME) as u32;
        self.send(self.codec.payload_type(), &payload, timestamp)
            .await;
        self.sent.push(payload);
    }

    /// Sends one packet; every packet of one telephone event has the
    /// timestamp of its start (RFC 4733 §2.3.1).
    async fn send(&mut self, payload_type: u8, payload: &[u8], timestamp: u32) {
        let mut out = vec![0u8; RTP_HEADER_LEN + payload.len()];
        let len = RtpWriter::new(0xb71d, self.seq, timestamp).write(
            &mut out,
            payload_type,
            self.seq == 0,
            payload,
            0,
        );
        self.seq = self.seq.wrapping_add(1);
        self.socket
            .send_to(&out[..len], self.session)
            .await
            .expect("send");
    }

    /// The packets queued on the socket: payload type and payload.
    fn heard(&self) -> Vec<(u8, Vec<u8>)> {
        let mut buf = [0u8; 2048];
        let mut packets = Vec::new();
        while let Ok((len, _)) = self.socket.try_recv_from(&mut buf) {
            let packet = RtpPacket::parse(&buf[..len]).expect("the session sends valid RTP");
            packets.push((packet.payload_type, packet.payload.to_vec()));
        }
        packets
    }
}

struct Pair {
    caller: MediaHandle<RecordingSink>,
    caller_events: mpsc::Receiver<MediaEvent>,
    leg: LegHandle<RecordingSink>,
    leg_events: mpsc::Receiver<MediaEvent>,
    phones: Phones,
    recording: Frames,
}

/// Both remote sides.
struct Phones {
    /// The caller's phone.
    owner: Peer,
    /// The operator's phone.
    operator: Peer,
}

async fn bind() -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind loopback")
}

fn params(remote: SocketAddr, codec: Codec) -> SessionParams {
    SessionParams {
        remote,
        codec,
        dtmf_payload_type: Some(DTMF_PT),
        inactivity_timeout: Duration::from_secs(3600),
        direction: MediaDirection::SendRecv,
        speech_threshold: Dbfs::new(-45).expect("level in range"),
    }
}

async fn peer(session: &UdpSocket, codec: Codec) -> Peer {
    Peer {
        socket: bind().await,
        session: session.local_addr().expect("local addr"),
        codec,
        seq: 0,
        sample: 0,
        sent: Vec::new(),
    }
}

/// A caller session in `caller_codec` and a leg beside it in `leg_codec`,
/// not yet bridged; time is half a frame before the first tick.
async fn pair(caller_codec: Codec, leg_codec: Codec) -> Pair {
    let engine = MediaEngine::start(1);
    let (caller_socket, leg_socket) = (bind().await, bind().await);
    let owner = peer(&caller_socket, caller_codec).await;
    let operator = peer(&leg_socket, leg_codec).await;
    let recording = Frames::default();
    let owner_addr = owner.socket.local_addr().expect("addr");
    let (caller, caller_events) = engine
        .start_session(
            caller_socket,
            params(owner_addr, caller_codec),
            RecordingSink(recording.clone()),
        )
        .await
        .expect("engine running");
    let operator_addr = operator.socket.local_addr().expect("addr");
    let (leg, leg_events) = engine
        .start_leg(&caller, leg_socket, params(operator_addr, leg_codec))
        .await
        .expect("engine running");
    sleep(FRAME_DURATION / 2).await;
    Pair {
        caller,
        caller_events,
        leg,
        leg_events,
        phones: Phones { owner, operator },
        recording,
    }
}

impl Phones {
    /// `ticks` frames of each side saying its tone (none where `None`).
    async fn talk(&mut self, ticks: usize, owner: Option<f64>, operator: Option<f64>) {
        for _ in 0..ticks {
            if let Some(freq) = owner {
                self.owner.say(freq).await;
            }
            if let Some(freq) = operator {
                self.operator.say(freq).await;
            }
            sleep(FRAME_DURATION).await;
        }
    }
}

/// Power of `freq` in `samples` (Goertzel).
fn power(samples: &[i16], freq: f64) -> f64 {
    let coeff = 2.0 * (std::f64::consts::TAU * freq / 8000.0).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// Which of [`TONES`] `frame` carries, if one dominates; `None` for
/// silence.
fn tone(frame: &Frame) -> Option<f64> {
    let powers = TONES.map(|freq| power(frame, freq));
    let (best, &max) = powers
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .expect("three tones");
    let others_below = powers
        .iter()
        .enumerate()
        .all(|(i, &p)| i == best || p * DOMINANCE < max);
    (max > 1e9 && others_below).then_some(TONES[best])
}

fn decode(codec: Codec, payload: &[u8]) -> Frame {
    let mut frame = SILENCE;
    codec.decode(payload, &mut frame);
    frame
}

/// What the tones in `packets` are, decoded in `codec` (whose payload type
/// every packet must carry).
fn tones(codec: Codec, packets: &[(u8, Vec<u8>)]) -> Vec<Option<f64>> {
    packets
        .iter()
        .map(|(payload_type, payload)| {
            assert_eq!(*payload_type, codec.payload_type());
            tone(&decode(codec, payload))
        })
        .collect()
}

/// A payload in `from` as a session re-encodes it in `to`.
fn transcode(from: Codec, to: Codec, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; payload.len()];
    to.encode(&decode(from, payload), &mut out);
    out
}

fn recorded(frames: &Frames) -> Vec<(Option<f64>, Option<f64>)> {
    let frames = frames.lock().expect("lock");
    frames.iter().map(|(l, r)| (tone(l), tone(r))).collect()
}

#[tokio::test(start_paused = true)]
async fn each_side_hears_the_others_tone_untouched_in_the_same_codec() {
    let mut p = pair(Codec::Pcmu, Codec::Pcmu).await;
    p.caller.bridge(&p.leg).expect("same shard");
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    let to_operator = p.phones.operator.heard();
    let to_owner = p.phones.owner.heard();
    // μ-law decoded and encoded again is the same octet (G.711 round trip).
    let relayed: Vec<_> = to_operator
        .iter()
        .map(|(_, payload)| payload.clone())
        .collect();
    assert_eq!(relayed, p.phones.owner.sent);
    let relayed: Vec<_> = to_owner
        .iter()
        .map(|(_, payload)| payload.clone())
        .collect();
    assert_eq!(relayed, p.phones.operator.sent);
    assert_eq!(
        tones(Codec::Pcmu, &to_operator),
        [Some(CALLER_HZ); TALK_TICKS]
    );
    assert_eq!(
        tones(Codec::Pcmu, &to_owner),
        [Some(OPERATOR_HZ); TALK_TICKS]
    );
}

#[tokio::test(start_paused = true)]
async fn a_pcmu_caller_and_a_pcma_leg_are_transcoded_both_ways() {
    let mut p = pair(Codec::Pcmu, Codec::Pcma).await;
    p.caller.bridge(&p.leg).expect("same shard");
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    let to_operator = p.phones.operator.heard();
    let to_owner = p.phones.owner.heard();
    assert_eq!(
        tones(Codec::Pcma, &to_operator),
        [Some(CALLER_HZ); TALK_TICKS]
    );
    assert_eq!(
        tones(Codec::Pcmu, &to_owner),
        [Some(OPERATOR_HZ); TALK_TICKS]
    );
    for ((_, payload), sent) in to_operator.iter().zip(&p.phones.owner.sent) {
        assert_eq!(*payload, transcode(Codec::Pcmu, Codec::Pcma, sent));
    }
    for ((_, payload), sent) in to_owner.iter().zip(&p.phones.operator.sent) {
        assert_eq!(*payload, transcode(Codec::Pcma, Codec::Pcmu, sent));
    }
}

#[tokio::test(start_paused = true)]
async fn the_recording_has_the_caller_left_and_the_operator_right_while_bridged() {
    let mut p = pair(Codec::Pcmu, Codec::Pcma).await;
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    p.caller.bridge(&p.leg).expect("same shard");
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    let (_, stats) = p.caller.stop().await.expect("stopped");
    let frames = recorded(&p.recording);
    assert_eq!(frames.len(), 2 * TALK_TICKS, "one frame per tick, no more");
    let (before, during) = frames.split_at(TALK_TICKS);
    assert!(before.iter().all(|&f| f == (Some(CALLER_HZ), None)));
    assert!(
        during
            .iter()
            .all(|&f| f == (Some(CALLER_HZ), Some(OPERATOR_HZ)))
    );
    assert_eq!(stats.voiced_frames, 2 * TALK_TICKS as u64);
}

#[tokio::test(start_paused = true)]
async fn a_prompt_on_one_side_is_heard_instead_of_the_bridge_by_that_side_only() {
    let mut p = pair(Codec::Pcma, Codec::Pcmu).await;
    p.caller.bridge(&p.leg).expect("same shard");
    // Hold music for the operator, long enough for the step.
    p.leg.play(Prompt::tone(
        "hold",
        PROMPT_HZ as f32,
        Duration::from_secs(1),
    ));
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    let to_operator = tones(Codec::Pcmu, &p.phones.operator.heard());
    let to_owner = tones(Codec::Pcma, &p.phones.owner.heard());
    assert_eq!(to_operator, [Some(PROMPT_HZ); TALK_TICKS]);
    assert_eq!(to_owner, [Some(OPERATOR_HZ); TALK_TICKS]);

    // Then a prompt for the caller, which the recording shows it heard.
    p.leg.stop_playback();
    p.caller.play(Prompt::tone(
        "notice",
        PROMPT_HZ as f32,
        Duration::from_secs(1),
    ));
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    let to_operator = tones(Codec::Pcmu, &p.phones.operator.heard());
    let to_owner = tones(Codec::Pcma, &p.phones.owner.heard());
    assert_eq!(to_operator, [Some(CALLER_HZ); TALK_TICKS]);
    assert_eq!(to_owner, [Some(PROMPT_HZ); TALK_TICKS]);
    let (_, _) = p.caller.stop().await.expect("stopped");
    let frames = recorded(&p.recording);
    let (hold, notice) = frames.split_at(TALK_TICKS);
    assert!(
        hold.iter()
            .all(|&f| f == (Some(CALLER_HZ), Some(OPERATOR_HZ)))
    );
    assert!(
        notice
            .iter()
            .all(|&f| f == (Some(CALLER_HZ), Some(PROMPT_HZ)))
    );
}

#[tokio::test(start_paused = true)]
async fn a_prompt_that_ends_gives_the_bridged_side_back() {
    let mut p = pair(Codec::Pcmu, Codec::Pcmu).await;
    p.caller.bridge(&p.leg).expect("same shard");
    p.leg
        .play(Prompt::tone("beep", PROMPT_HZ as f32, FRAME_DURATION * 3));
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    let to_operator = tones(Codec::Pcmu, &p.phones.operator.heard());
    assert_eq!(to_operator[..3], [Some(PROMPT_HZ); 3]);
    assert_eq!(to_operator[3..], [Some(CALLER_HZ); TALK_TICKS - 3]);
    assert_eq!(p.leg_events.try_recv(), Ok(MediaEvent::PlaybackFinished));
    assert!(p.caller_events.try_recv().is_err(), "the leg's event only");
}

#[tokio::test(start_paused = true)]
async fn unbridging_returns_both_sides_to_silence() {
    let mut p = pair(Codec::Pcmu, Codec::Pcma).await;
    p.caller.bridge(&p.leg).expect("same shard");
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    p.phones.owner.heard();
    p.phones.operator.heard();
    p.caller.unbridge();
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    let to_operator = p.phones.operator.heard();
    let to_owner = p.phones.owner.heard();
    assert_eq!(to_operator.len(), TALK_TICKS, "the leg keeps sending");
    assert!(
        to_operator
            .iter()
            .all(|(_, pl)| pl == Codec::Pcma.silence())
    );
    assert_eq!(to_owner.len(), TALK_TICKS, "the caller keeps sending");
    assert!(to_owner.iter().all(|(_, pl)| pl == Codec::Pcmu.silence()));
    let (_, _) = p.caller.stop().await.expect("stopped");
    let frames = recorded(&p.recording);
    assert!(
        frames[TALK_TICKS..]
            .iter()
            .all(|&f| f == (Some(CALLER_HZ), None))
    );
}

#[tokio::test(start_paused = true)]
async fn stopping_the_leg_while_bridged_leaves_the_caller_session_running() {
    let mut p = pair(Codec::Pcmu, Codec::Pcmu).await;
    p.caller.bridge(&p.leg).expect("same shard");
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    let leg_stats = p.leg.stop().await.expect("stopped");
    assert_eq!(leg_stats.packets_received, TALK_TICKS as u64);
    assert_eq!(leg_stats.packets_sent, TALK_TICKS as u64);
    assert_eq!(
        p.leg_events.recv().await,
        None,
        "the leg's events end with it"
    );
    p.phones.owner.heard();
    p.phones.talk(TALK_TICKS, Some(CALLER_HZ), None).await;
    let to_owner = p.phones.owner.heard();
    assert_eq!(to_owner.len(), TALK_TICKS);
    assert!(to_owner.iter().all(|(_, pl)| pl == Codec::Pcmu.silence()));
    let (_, stats) = p.caller.stop().await.expect("the caller session goes on");
    assert_eq!(stats.packets_sent, 2 * TALK_TICKS as u64);
    let frames = recorded(&p.recording);
    assert_eq!(frames.len(), 2 * TALK_TICKS);
    assert!(
        frames[TALK_TICKS..]
            .iter()
            .all(|&f| f == (Some(CALLER_HZ), None))
    );
}

#[tokio::test(start_paused = true)]
async fn stopping_the_caller_while_bridged_leaves_the_leg_sending_silence() {
    let mut p = pair(Codec::Pcmu, Codec::Pcma).await;
    p.caller.bridge(&p.leg).expect("same shard");
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    let (_, _) = p.caller.stop().await.expect("stopped");
    p.phones.operator.heard();
    p.phones.talk(TALK_TICKS, None, Some(OPERATOR_HZ)).await;
    let to_operator = p.phones.operator.heard();
    assert_eq!(to_operator.len(), TALK_TICKS);
    assert!(
        to_operator
            .iter()
            .all(|(_, pl)| pl == Codec::Pcma.silence())
    );
    let stats = p.leg.stop().await.expect("the leg goes on");
    assert_eq!(stats.packets_received, 2 * TALK_TICKS as u64);
}

#[tokio::test(start_paused = true)]
async fn a_leg_on_hold_sends_nothing_while_the_caller_still_hears_it() {
    let mut p = pair(Codec::Pcmu, Codec::Pcmu).await;
    p.caller.bridge(&p.leg).expect("same shard");
    // The operator's phone held us with `sendonly`: we do not send to it.
    p.leg.set_direction(MediaDirection::RecvOnly);
    p.phones
        .talk(TALK_TICKS, Some(CALLER_HZ), Some(OPERATOR_HZ))
        .await;
    assert!(p.phones.operator.heard().is_empty());
    let to_owner = tones(Codec::Pcmu, &p.phones.owner.heard());
    assert_eq!(to_owner, [Some(OPERATOR_HZ); TALK_TICKS]);
}

#[tokio::test(start_paused = true)]
async fn a_leg_reports_its_own_digits() {
    let mut p = pair(Codec::Pcmu, Codec::Pcmu).await;
    p.caller.bridge(&p.leg).expect("same shard");
    // RFC 4733 §2.5.1: a start and an end packet of the digit 1.
    p.phones.operator.send(DTMF_PT, &[1, 10, 0, 160], 0).await;
    sleep(FRAME_DURATION).await;
    p.phones
        .operator
        .send(DTMF_PT, &[1, 0x80 | 10, 1, 64], 0)
        .await;
    sleep(FRAME_DURATION).await;
    let one = Digit::new('1').expect("digit");
    assert_eq!(p.leg_events.try_recv(), Ok(MediaEvent::Digit(one)));
    assert!(p.leg_events.try_recv().is_err(), "one digit");
    assert!(
        p.caller_events.try_recv().is_err(),
        "not the caller's digit"
    );
    let to_owner = p.phones.owner.heard();
    assert!(to_owner.iter().all(|(_, pl)| pl == Codec::Pcmu.silence()));
}

#[tokio::test(start_paused = true)]
async fn a_leg_of_another_shard_is_not_bridged() {
    let engine = MediaEngine::start(2);
    let remote = bind().await.local_addr().expect("addr");
    let sink = || RecordingSink(Frames::default());
    let (first, _first_events) = engine
        .start_session(bind().await, params(remote, Codec::Pcmu), sink())
        .await
        .expect("engine running");
    let (second, _second_events) = engine
        .start_session(bind().await, params(remote, Codec::Pcmu), sink())
        .await
        .expect("engine running");
    let (leg, _leg_events) = engine
        .start_leg(&first, bind().await, params(remote, Codec::Pcmu))
        .await
        .expect("engine running");
    assert_eq!(second.bridge(&leg), Err(NotBeside));
    assert_eq!(first.bridge(&leg), Ok(()));
}

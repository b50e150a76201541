//! The per-call media session: the state that owns the call's RTP socket,
//! receives and decodes the remote audio, plays prompts at the 20 ms pace,
//! reports digits, counts the remote side's voiced frames, and hands one
//! stereo frame per 20 ms to a [`StereoSink`].
//!
//! While its direction lets it send, a session sends one packet every tick
//! for the whole call: the prompt, else the received frame of the session
//! it is bridged to (see [`Bridges`](super::bridge::Bridges)), else digital
//! silence. A leg (the operator's phone) is a session without a sink.
//! Carriers and SBCs hang up a call that receives no RTP for 10–60 s
//! (docs/PRODUCT.md), and the IVR's waits (a digit, the voice message) are
//! longer than that; the stream stays one talkspurt, so only its first
//! packet and the first after a pause in sending carry the marker (RFC 3551
//! §4.1).
//!
//! With the engine, the only files of this layer that touch sockets. A
//! session has no task of its own: a shard of the
//! [`MediaEngine`](super::MediaEngine) ticks it every 20 ms, and each tick
//! first drains the socket without waiting, then sends and records. The
//! socket is taken out of tokio's reactor, so no thread wakes for a packet.
//! The packet path makes no allocation, takes no lock and makes no syscall
//! beyond one receive and one send per tick, plus one empty receive every
//! fifth tick when the socket is drained (docs/ARCHITECTURE.md). Knows
//! nothing of SIP: whoever negotiated the call passes the remote address,
//! codec, payload types and [`MediaDirection`].

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::rtp::{SequenceOrder, SequenceTracker};
use super::speech::SpeechDetector;
use super::{
    Codec, Dbfs, Digit, DtmfReceiver, Frame, MediaDirection, Playback, Prompt, RTP_HEADER_LEN,
    RtpPacket, RtpWriter, SAMPLES_PER_FRAME, SILENCE, StereoSink, ring::SampleRing,
};

/// Largest datagram read; anything RTP over Ethernet fits (RFC 3550 §11
/// leaves the size to the lower layer; 1500-byte MTU).
pub(super) const RECEIVE_BUFFER_LEN: usize = 1500;
/// One G.711 packet: header plus one octet per sample.
const SEND_BUFFER_LEN: usize = RTP_HEADER_LEN + SAMPLES_PER_FRAME;
/// RTP timestamp units per tick (RFC 3551 §4.5.14: 8000 Hz clock).
const SAMPLES_PER_TICK: u32 = SAMPLES_PER_FRAME as u32;
/// Events waiting for the call task before new ones are dropped.
const EVENT_CHANNEL_CAPACITY: usize = 32;
/// Datagrams read on a draining tick at most, so a flood cannot hold up the
/// tick; the rest waits in the socket buffer for the next one. Far above the
/// one packet per 20 ms of a well-behaved sender, and twice what the sample
/// ring keeps.
const MAX_PACKETS_PER_TICK: usize = 16;
/// Every this many ticks the socket is read until it is empty; the ticks in
/// between read one datagram. A sender at 20 ms is kept up with by the one
/// read, which costs a single syscall whether or not a packet came; the
/// drain catches up on bursts, faster clocks and shorter packet times
/// within 100 ms, instead of paying an empty receive on every tick.
const DRAIN_EVERY_TICKS: u32 = 5;

/// What the session needs to know about the other side, as negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionParams {
    /// Where to send RTP until a packet arrives (the SDP `c=`/`m=` address).
    pub remote: SocketAddr,
    /// The audio codec both sides agreed on.
    pub codec: Codec,
    /// The payload type of `telephone-event` (RFC 4733), if negotiated.
    pub dtmf_payload_type: Option<u8>,
    /// Silence of the remote side after which [`MediaEvent::Inactive`] is sent.
    pub inactivity_timeout: Duration,
    /// Which way audio flows at the start (a later change:
    /// [`MediaHandle::set_direction`](super::MediaHandle::set_direction)).
    pub direction: MediaDirection,
    /// A received frame at least this loud counts as voiced
    /// ([`MediaStats::voiced_frames`]).
    pub speech_threshold: Dbfs,
}

/// What the session reports to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// A key was pressed (RFC 4733), reported once at the start of the press.
    Digit(Digit),
    /// The prompt given to [`MediaHandle::play`] has been sent entirely.
    /// Not sent for a prompt that was replaced or stopped.
    PlaybackFinished,
    /// No RTP arrived for the inactivity timeout, counted from the start of
    /// the session, the last packet or the moment the remote side was to
    /// send again (not while the direction says it does not send). Sent
    /// once per silence; arriving RTP re-arms it.
    Inactive,
}

/// Counters of one session, returned by [`MediaHandle::stop`] and, while it
/// runs, by [`MediaHandle::stats`](super::MediaHandle::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// Valid RTP packets accepted from the remote side (audio, digits, other).
    pub packets_received: u64,
    /// RTP packets sent.
    pub packets_sent: u64,
    /// Packets the remote side sent that never arrived (RFC 3550 A.3).
    pub packets_lost_estimate: u64,
    /// Payload octets received in accepted packets.
    pub bytes_received: u64,
    /// Payload octets sent (RFC 3550 §6.4.1 sender's octet count).
    pub bytes_sent: u64,
    /// Datagrams dropped: not RTP, or from another address than the latched one.
    pub packets_dropped: u64,
    /// Received samples dropped because the remote side sent faster than
    /// real time.
    pub samples_overrun: u64,
    /// 20 ms frames of the remote side's audio at or above the speech
    /// threshold (silence, line noise and missing packets are not).
    pub voiced_frames: u64,
}

/// Orders from a [`MediaHandle`](super::MediaHandle), applied by the shard
/// between ticks.
#[derive(Debug)]
pub(super) enum Command {
    Play(Prompt),
    StopPlayback,
    Update {
        remote: SocketAddr,
        codec: Codec,
        dtmf_payload_type: Option<u8>,
    },
    Direction(MediaDirection),
    /// The counters so far go to the sender.
    Stats(oneshot::Sender<MediaStats>),
}

/// The state of one call's media, owned by its task; `S` receives the
/// stereo frames (the recording). A bridged leg has no sink of its own.
pub struct MediaSession<S> {
    /// The call's RTP socket, non-blocking and outside the reactor; `None`
    /// only if it could not be taken out of the reactor (then nothing is
    /// sent or received, and the silence is reported as inactivity).
    socket: Option<std::net::UdpSocket>,
    /// The address RTP goes to: the SDP one, then the latched source.
    remote: SocketAddr,
    /// The source of the first valid packet (RFC 4961 symmetric RTP).
    latched: Option<SocketAddr>,
    codec: Codec,
    dtmf_payload_type: Option<u8>,
    inactivity_timeout: Duration,
    /// The recording; `None` for a leg, whose audio the session it is
    /// bridged to records.
    sink: Option<S>,
    /// Whether the shard has bridged this session to another one: it is
    /// then ticked after its partner has taken its frame.
    bridged: bool,
    events: mpsc::Sender<MediaEvent>,
    writer: RtpWriter,
    tracker: SequenceTracker,
    dtmf: DtmfReceiver,
    ring: SampleRing,
    playback: Option<Playback>,
    direction: MediaDirection,
    speech: SpeechDetector,
    /// Whether the previous tick sent a packet; the first one after a tick
    /// that sent nothing (the session's first, or the end of a hold)
    /// carries the marker bit (RFC 3551 §4.1).
    sent_last_tick: bool,
    last_received: Instant,
    inactive_reported: bool,
    /// Ticks so far, to know which ones drain the socket.
    ticks: u32,
    frames: Scratch,
    stats: MediaStats,
}

/// The buffers one tick works in, kept with the session so that a tick
/// neither clears nor copies frames it does not have to: each is wholly
/// overwritten when used, and a silent channel is zeroed only when it
/// turns silent.
struct Scratch {
    left: Frame,
    right: Frame,
    left_silent: bool,
    right_silent: bool,
    /// A received packet's samples on their way into the ring.
    decoded: Frame,
    payload: [u8; SAMPLES_PER_FRAME],
    packet: [u8; SEND_BUFFER_LEN],
}

impl Default for Scratch {
    fn default() -> Self {
        Self {
            left: SILENCE,
            right: SILENCE,
            left_silent: true,
            right_silent: true,
            decoded: SILENCE,
            payload: [0; SAMPLES_PER_FRAME],
            packet: [0; SEND_BUFFER_LEN],
        }
    }
}

impl Scratch {
    /// Makes the left frame silence (nothing to do when it is already).
    fn silence_left(&mut self) {
        if !self.left_silent {
            self.left = SILENCE;
            self.left_silent = true;
        }
    }

    /// Makes the right frame silence (nothing to do when it is already).
    fn silence_right(&mut self) {
        if !self.right_silent {
            self.right = SILENCE;
            self.right_silent = true;
        }
    }
}

impl<S: StereoSink> MediaSession<S> {
    /// A session on an already bound socket, to be driven by a shard of the
    /// [`MediaEngine`](super::MediaEngine), recording into `sink` (none for
    /// a leg); also returns where its events arrive.
    pub(super) fn new(
        socket: UdpSocket,
        params: SessionParams,
        sink: Option<S>,
    ) -> (Self, mpsc::Receiver<MediaEvent>) {
        let (event_tx, event_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
        let local = socket.local_addr().ok();
        // Out of the reactor: nothing waits on this socket (the tick polls
        // it), so its readiness events would only wake a thread per packet.
        // tokio sockets are non-blocking, and `into_std` keeps that.
        let socket = match socket.into_std() {
            Ok(socket) => Some(socket),
            Err(error) => {
                tracing::error!(%error, "RTP socket could not leave the reactor");
                None
            }
        };
        tracing::debug!(?local, remote = %params.remote, codec = params.codec.encoding_name(), "media session");
        let session = MediaSession {
            socket,
            remote: params.remote,
            latched: None,
            codec: params.codec,
            dtmf_payload_type: params.dtmf_payload_type,
            inactivity_timeout: params.inactivity_timeout,
            sink,
            bridged: false,
            events: event_tx,
            writer: RtpWriter::random(),
            tracker: SequenceTracker::default(),
            dtmf: DtmfReceiver::new(),
            ring: SampleRing::default(),
            playback: None,
            direction: params.direction,
            speech: SpeechDetector::new(params.speech_threshold),
            sent_last_tick: false,
            last_received: Instant::now(),
            inactive_reported: false,
            ticks: 0,
            frames: Scratch::default(),
            stats: MediaStats::default(),
        };
        (session, event_rx)
    }

    /// Ends the session: the sink back (none for a leg), and the final
    /// counters.
    pub(super) fn finish(self) -> (Option<S>, MediaStats) {
        let stats = self.snapshot();
        tracing::debug!(?stats, "media session ended");
        (self.sink, stats)
    }

    /// The counters so far.
    fn snapshot(&self) -> MediaStats {
        MediaStats {
            packets_lost_estimate: self.tracker.lost_estimate(),
            samples_overrun: self.ring.dropped(),
            ..self.stats
        }
    }

    pub(super) fn apply(&mut self, command: Command) {
        match command {
            Command::Play(prompt) => {
                tracing::debug!(prompt = prompt.name(), "playing");
                self.playback = Some(prompt.playback());
            }
            Command::StopPlayback => self.playback = None,
            Command::Update {
                remote,
                codec,
                dtmf_payload_type,
            } => {
                if codec != self.codec {
                    self.ring.clear();
                }
                self.remote = remote;
                self.latched = None;
                self.codec = codec;
                self.dtmf_payload_type = dtmf_payload_type;
            }
            Command::Direction(direction) => {
                if !self.direction.receives() && direction.receives() {
                    // Inactivity counts from when the remote side is to
                    // send again.
                    self.last_received = Instant::now();
                    self.inactive_reported = false;
                }
                tracing::debug!(?direction, "media direction");
                self.direction = direction;
            }
            Command::Stats(reply) => {
                // A caller that went away wants no answer.
                let _ = reply.send(self.snapshot());
            }
        }
    }

    /// Handles what has arrived since the last tick, without waiting: one
    /// datagram, or on every [`DRAIN_EVERY_TICKS`]th tick up to
    /// [`MAX_PACKETS_PER_TICK`], stopping at the first `WouldBlock` (the
    /// socket is non-blocking).
    pub(super) fn drain_socket(&mut self, buffer: &mut [u8; RECEIVE_BUFFER_LEN], now: Instant) {
        self.ticks = self.ticks.wrapping_add(1);
        let reads = if self.ticks.is_multiple_of(DRAIN_EVERY_TICKS) {
            MAX_PACKETS_PER_TICK
        } else {
            1
        };
        for _ in 0..reads {
            let Some(socket) = &self.socket else { return };
            match socket.recv_from(buffer) {
                Ok((len, from)) => self.receive(&buffer[..len], from, now),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(error) => tracing::debug!(%error, "RTP receive failed"),
            }
        }
    }

    /// Takes this tick's received frame into the left channel: the oldest
    /// one in the ring, or silence when none is due. Comes before
    /// [`tick`](Self::tick), so that a bridged partner can send it.
    pub(super) fn take_frame(&mut self) {
        let frames = &mut self.frames;
        if self.ring.pop_frame(&mut frames.left) {
            frames.left_silent = false;
            if self.speech.is_speech(&frames.left) {
                self.stats.voiced_frames += 1;
            }
        } else {
            frames.silence_left();
        }
    }

    /// This tick's received frame, once [`take_frame`](Self::take_frame)
    /// has taken it; `None` when it is silence.
    pub(super) fn received(&self) -> Option<&Frame> {
        (!self.frames.left_silent).then_some(&self.frames.left)
    }

    /// Whether the shard has bridged this session to another one.
    pub(super) fn is_bridged(&self) -> bool {
        self.bridged
    }

    /// Marks the session bridged or not; the shard keeps the pairs.
    pub(super) fn set_bridged(&mut self, bridged: bool) {
        if bridged != self.bridged {
            tracing::debug!(bridged, "media bridge");
        }
        self.bridged = bridged;
    }

    /// One 20 ms step: one packet out while the direction sends (the
    /// prompt, else the `bridged` partner's received frame, else silence),
    /// exactly one frame to the sink (a leg has none).
    pub(super) fn tick(&mut self, now: Instant, bridged: Option<&Frame>) {
        let sends = self.direction.sends();
        let frames = &mut self.frames;
        // Not sending pauses the prompt: it goes on where it stopped. A
        // prompt is heard instead of the bridged side (hold music,
        // ringback).
        let playing = sends
            && self
                .playback
                .as_mut()
                .is_some_and(|playback| playback.next_frame(&mut frames.right));
        let audible = match bridged {
            _ if playing => true,
            Some(heard) if sends => {
                frames.right.copy_from_slice(heard);
                true
            }
            _ => false,
        };
        if audible {
            frames.right_silent = false;
        } else {
            frames.silence_right();
        }
        if sends {
            self.send_frame(audible);
        } else {
            // The timestamp keeps the sampling clock while nothing is sent
            // (RFC 3550 §5.1), so the stream follows on when sending resumes.
            self.writer.advance(SAMPLES_PER_TICK);
        }
        self.sent_last_tick = sends;
        if self.playback.as_ref().is_some_and(Playback::is_finished) {
            self.playback = None;
            self.emit(MediaEvent::PlaybackFinished);
        }
        if let Some(sink) = &mut self.sink {
            sink.push_frame(&self.frames.left, &self.frames.right);
        }

        if self.direction.receives()
            && !self.inactive_reported
            && now.saturating_duration_since(self.last_received) >= self.inactivity_timeout
        {
            self.inactive_reported = true;
            tracing::info!(timeout = ?self.inactivity_timeout, "no RTP from the remote side");
            self.emit(MediaEvent::Inactive);
        }
    }

    /// Sends the right frame (`audible`) or the codec's precomputed
    /// silence, which needs no encoding.
    fn send_frame(&mut self, audible: bool) {
        let frames = &mut self.frames;
        let payload: &[u8; SAMPLES_PER_FRAME] = if audible {
            self.codec.encode(&frames.right, &mut frames.payload);
            &frames.payload
        } else {
            self.codec.silence()
        };
        let marker = !self.sent_last_tick;
        let len = self.writer.write(
            &mut frames.packet,
            self.codec.payload_type(),
            marker,
            payload,
            SAMPLES_PER_TICK,
        );
        let target = self.latched.unwrap_or(self.remote);
        let Some(socket) = &self.socket else { return };
        match socket.send_to(&frames.packet[..len], target) {
            Ok(_) => {
                self.stats.packets_sent += 1;
                self.stats.bytes_sent += SAMPLES_PER_FRAME as u64;
            }
            Err(error) => tracing::debug!(%error, %target, "RTP send failed"),
        }
    }

    fn receive(&mut self, datagram: &[u8], from: SocketAddr, now: Instant) {
        let Ok(packet) = RtpPacket::parse(datagram) else {
            self.stats.packets_dropped += 1;
            return;
        };
        match self.latched {
            Some(latched) if latched != from => {
                self.stats.packets_dropped += 1;
                return;
            }
            Some(_) => {}
            None => {
                // RFC 4961 §4: send back to where the media comes from.
                if from != self.remote {
                    tracing::debug!(%from, sdp = %self.remote, "RTP source latched");
                }
                self.latched = Some(from);
            }
        }
        self.last_received = now;
        self.inactive_reported = false;
        self.stats.packets_received += 1;
        self.stats.bytes_received += packet.payload.len() as u64;
        let order = self.tracker.observe(packet.ssrc, packet.sequence);

        if Some(packet.payload_type) == self.dtmf_payload_type {
            // Telephone events go to the digit receiver, never to the audio.
            if let Some(digit) = self
                .dtmf
                .receive(packet.ssrc, packet.timestamp, packet.payload)
            {
                tracing::debug!(%digit, "digit");
                self.emit(MediaEvent::Digit(digit));
            }
        } else if packet.payload_type == self.codec.payload_type() && order == SequenceOrder::Newer
        {
            for chunk in packet.payload.chunks(SAMPLES_PER_FRAME) {
                let decoded = &mut self.frames.decoded[..chunk.len()];
                self.codec.decode(chunk, decoded);
                self.ring.push(decoded);
            }
        }
    }

    fn emit(&self, event: MediaEvent) {
        if let Err(error) = self.events.try_send(event) {
            tracing::warn!(?event, %error, "media event dropped");
        }
    }
}

#[cfg(test)]
mod tests;

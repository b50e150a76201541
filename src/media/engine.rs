//! The media engine: a few shard tasks, each driving many calls' media
//! sessions from one shared 20 ms tick.
//!
//! A task and a timer per call would wake the process once per call every
//! 20 ms; a shard wakes once per 20 ms for all of its calls and walks them in
//! turn (drain the socket, send, record), which is what a media server's
//! packet loop does. Commands from a call (play, direction, stats, bridge,
//! stop) reach its shard through the shard's inbox and are applied at once;
//! the per-call state and what one tick does live in [`MediaSession`], the
//! pairs of bridged sessions in [`Bridges`]. A second leg of a call (the
//! operator's phone, [`LegHandle`]) is started on the shard of the session
//! it is to be bridged to, so that one tick serves both.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use slab::Slab;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use super::bridge::Bridges;
use super::session::{Command, MediaSession, RECEIVE_BUFFER_LEN};
use super::{FRAME_DURATION, MediaEvent, MediaStats, SessionParams, StereoSink};

mod leg;

pub use leg::LegHandle;

/// What a stopped session hands back: its sink (none for a leg) and its
/// counters.
type Finished<S> = (Option<S>, MediaStats);

/// What a handle or the engine tells a shard.
enum ShardMessage<S> {
    /// Take over this session; its first frame is recorded on the next tick.
    Add {
        session: Box<MediaSession<S>>,
        /// Where the session's key in the shard goes.
        key: oneshot::Sender<usize>,
    },
    /// A command for the session under `key`.
    Command { key: usize, command: Command },
    /// Bridge the sessions under `a` and `b`, ending their other bridges.
    Bridge { a: usize, b: usize },
    /// End the bridge the session under `key` is in.
    Unbridge { key: usize },
    /// End the session under `key` and its bridge; its sink and counters go
    /// to `reply` (nowhere when the handle was dropped).
    Stop {
        key: usize,
        reply: Option<oneshot::Sender<Finished<S>>>,
    },
}

/// Starts media sessions on its shards. Cheap to clone; the shards end when
/// the engine and every handle are gone.
pub struct MediaEngine<S> {
    shards: Arc<[mpsc::UnboundedSender<ShardMessage<S>>]>,
    next: Arc<AtomicUsize>,
}

impl<S> Clone for MediaEngine<S> {
    fn clone(&self) -> Self {
        Self {
            shards: self.shards.clone(),
            next: self.next.clone(),
        }
    }
}

impl<S> std::fmt::Debug for MediaEngine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl<S: StereoSink + 'static> MediaEngine<S> {
    /// Spawns `shards` shard tasks (at least one) on the current tokio
    /// runtime; one per core lets the runtime spread them over its workers.
    pub fn start(shards: usize) -> Self {
        let shards: Arc<[_]> = (0..shards.max(1))
            .map(|index| {
                let (inbox_tx, inbox) = mpsc::unbounded_channel();
                tokio::spawn(
                    run_shard(inbox).instrument(tracing::info_span!("media_shard", index)),
                );
                inbox_tx
            })
            .collect();
        Self {
            shards,
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Starts a session on an already bound socket (from
    /// [`RtpPortPool::bind`](super::RtpPortPool::bind)), on the next shard
    /// in turn. The first frame reaches the sink at that shard's next tick,
    /// at most 20 ms later.
    pub async fn start_session(
        &self,
        socket: tokio::net::UdpSocket,
        params: SessionParams,
        sink: S,
    ) -> Result<(MediaHandle<S>, mpsc::Receiver<MediaEvent>), EngineStopped> {
        let (session, events) = MediaSession::new(socket, params, Some(sink));
        let shard = &self.shards[self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len()];
        let control = Control::add(shard, session).await?;
        Ok((MediaHandle { control }, events))
    }
}

/// The shard a session was given to is gone (its runtime is shutting down,
/// or it panicked): the session's sink was dropped with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the media engine has stopped")]
pub struct EngineStopped;

/// A leg is bridged only to a session of the shard it was started on
/// ([`MediaEngine::start_leg`] beside that session or one on its shard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the leg runs on another media shard than the session")]
pub struct NotBeside;

/// The way to one session in a shard, shared by [`MediaHandle`] and
/// [`LegHandle`]. Dropping it ends the session.
struct Control<S> {
    shard: mpsc::UnboundedSender<ShardMessage<S>>,
    key: usize,
    stopped: bool,
}

impl<S> Control<S> {
    /// Hands `session` to `shard` and learns its key.
    async fn add(
        shard: &mpsc::UnboundedSender<ShardMessage<S>>,
        session: MediaSession<S>,
    ) -> Result<Self, EngineStopped> {
        let (key_tx, key_rx) = oneshot::channel();
        shard
            .send(ShardMessage::Add {
                session: Box::new(session),
                key: key_tx,
            })
            .map_err(|_| EngineStopped)?;
        let key = key_rx.await.map_err(|_| EngineStopped)?;
        Ok(Self {
            shard: shard.clone(),
            key,
            stopped: false,
        })
    }

    fn send(&self, command: Command) {
        self.tell(ShardMessage::Command {
            key: self.key,
            command,
        });
    }

    fn tell(&self, message: ShardMessage<S>) {
        if self.shard.send(message).is_err() {
            tracing::warn!("media engine stopped before a command reached its session");
        }
    }

    async fn stats(&self) -> Result<MediaStats, EngineStopped> {
        let (reply, result) = oneshot::channel();
        let message = ShardMessage::Command {
            key: self.key,
            command: Command::Stats(reply),
        };
        self.shard.send(message).map_err(|_| EngineStopped)?;
        result.await.map_err(|_| EngineStopped)
    }

    async fn stop(mut self) -> Result<Finished<S>, EngineStopped> {
        self.stopped = true;
        let (reply, result) = oneshot::channel();
        self.shard
            .send(ShardMessage::Stop {
                key: self.key,
                reply: Some(reply),
            })
            .map_err(|_| EngineStopped)?;
        result.await.map_err(|_| EngineStopped)
    }
}

impl<S> Drop for Control<S> {
    fn drop(&mut self) {
        if !self.stopped {
            // A shard that is gone has dropped the session already.
            let _ = self.shard.send(ShardMessage::Stop {
                key: self.key,
                reply: None,
            });
        }
    }
}

/// Controls one running session. Dropping it ends the session too, dropping
/// the sink; call [`stop`](Self::stop) to get the sink back.
pub struct MediaHandle<S> {
    control: Control<S>,
}

impl<S> std::fmt::Debug for MediaHandle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaHandle")
            .field("key", &self.control.key)
            .finish_non_exhaustive()
    }
}

impl<S> MediaHandle<S> {
    /// Plays `prompt` once from its start, replacing whatever was playing.
    /// While bridged, the prompt is heard instead of the other side.
    pub fn play(&self, prompt: super::Prompt) {
        self.control.send(Command::Play(prompt));
    }

    /// Stops the prompt being played, if any; silence (or the bridged side)
    /// follows.
    pub fn stop_playback(&self) {
        self.control.send(Command::StopPlayback);
    }

    /// Applies a renegotiation (re-INVITE): new address, codec and
    /// telephone-event payload type. The source latch is reset.
    pub fn update(
        &self,
        remote: std::net::SocketAddr,
        codec: super::Codec,
        dtmf_payload_type: Option<u8>,
    ) {
        self.control.send(Command::Update {
            remote,
            codec,
            dtmf_payload_type,
        });
    }

    /// Changes which way audio flows (a hold or a resume). While the
    /// direction does not send, nothing is sent and the prompt pauses;
    /// while the remote side does not send, its silence is not reported as
    /// inactivity. What arrives, and silence, are recorded throughout.
    pub fn set_direction(&self, direction: super::MediaDirection) {
        self.control.send(Command::Direction(direction));
    }

    /// Bridges `leg` to this session: from the next tick on, each sends
    /// the other's received audio (in its own codec), except while a prompt
    /// plays on it, which then replaces the other side for its remote end
    /// only. The recording goes on: left what this side's remote end says,
    /// right what it hears. Ends whatever bridge either was in.
    pub fn bridge(&self, leg: &LegHandle<S>) -> Result<(), NotBeside> {
        if !self.control.shard.same_channel(&leg.control.shard) {
            return Err(NotBeside);
        }
        self.control.tell(ShardMessage::Bridge {
            a: self.control.key,
            b: leg.control.key,
        });
        Ok(())
    }

    /// Ends this session's bridge, if any: both sides go back to their
    /// prompt or silence.
    pub fn unbridge(&self) {
        self.control.tell(ShardMessage::Unbridge {
            key: self.control.key,
        });
    }

    /// The session's counters so far (e.g. its voiced frames at the start
    /// and end of a voice message). Answered between two ticks.
    pub async fn stats(&self) -> Result<MediaStats, EngineStopped> {
        self.control.stats().await
    }

    /// Ends the session (and its bridge) and returns the sink (to finish
    /// the recording) and the counters.
    pub async fn stop(self) -> Result<(S, MediaStats), EngineStopped> {
        match self.control.stop().await? {
            (Some(sink), stats) => Ok((sink, stats)),
            // Not reached: the session of a `MediaHandle` has its sink.
            (None, _) => Err(EngineStopped),
        }
    }
}

/// The sessions of one shard and their bridges.
struct Shard<S> {
    sessions: Slab<MediaSession<S>>,
    bridges: Bridges,
    buffer: [u8; RECEIVE_BUFFER_LEN],
}

impl<S: StereoSink> Shard<S> {
    fn apply(&mut self, message: ShardMessage<S>) {
        match message {
            ShardMessage::Add { session, key } => {
                let entry = self.sessions.vacant_entry();
                let index = entry.key();
                entry.insert(*session);
                if key.send(index).is_err() {
                    // Its starter went away before learning the key: no
                    // handle will ever stop it.
                    self.sessions.remove(index);
                }
            }
            ShardMessage::Command { key, command } => {
                if let Some(session) = self.sessions.get_mut(key) {
                    session.apply(command);
                }
            }
            ShardMessage::Bridge { a, b } => self.bridges.join(&mut self.sessions, a, b),
            ShardMessage::Unbridge { key } => self.bridges.leave(&mut self.sessions, key),
            ShardMessage::Stop { key, reply } => {
                self.bridges.leave(&mut self.sessions, key);
                if let Some(session) = self.sessions.try_remove(key) {
                    let result = session.finish();
                    if let Some(reply) = reply {
                        // A stopper that went away drops the sink here.
                        let _ = reply.send(result);
                    }
                }
            }
        }
    }

    /// One 20 ms tick of every session: each drains its socket and takes
    /// its frame, an unbridged one sends and records at once, then the
    /// bridged pairs do, each side with the other's frame.
    fn tick(&mut self, now: Instant) {
        for (_, session) in &mut self.sessions {
            session.drain_socket(&mut self.buffer, now);
            session.take_frame();
            if !session.is_bridged() {
                session.tick(now, None);
            }
        }
        self.bridges.tick(&mut self.sessions, now);
    }
}

/// One shard: applies messages as they come and ticks every session every
/// 20 ms while it has any. Idle shards do not wake.
async fn run_shard<S: StereoSink>(mut inbox: mpsc::UnboundedReceiver<ShardMessage<S>>) {
    let mut shard = Shard {
        sessions: Slab::new(),
        bridges: Bridges::default(),
        buffer: [0u8; RECEIVE_BUFFER_LEN],
    };
    let mut ticker = tokio::time::interval(FRAME_DURATION);
    // A late tick is caught up at once, so recordings lose no frame to
    // scheduling.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    loop {
        tokio::select! {
            biased;
            message = inbox.recv() => {
                let Some(message) = message else { break };
                if matches!(message, ShardMessage::Add { .. }) && shard.sessions.is_empty() {
                    // The first tick comes one frame after the first session.
                    ticker.reset();
                }
                shard.apply(message);
            }
            now = ticker.tick(), if !shard.sessions.is_empty() => shard.tick(now),
        }
    }
}

#[cfg(test)]
mod tests;

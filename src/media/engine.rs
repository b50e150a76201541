//! The media engine: a few shard tasks, each driving many calls' media
//! sessions from one shared 20 ms tick.
//!
//! A task and a timer per call would wake the process once per call every
//! 20 ms; a shard wakes once per 20 ms for all of its calls and walks them in
//! turn (drain the socket, send, record), which is what a media server's
//! packet loop does. Commands from a call (play, direction, stats, stop)
//! reach its shard through the shard's inbox and are applied at once; the
//! per-call state and what one tick does live in [`MediaSession`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use slab::Slab;
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;
use tracing::Instrument;

use super::session::{Command, MediaSession, RECEIVE_BUFFER_LEN};
use super::{FRAME_DURATION, MediaEvent, MediaStats, SessionParams, StereoSink};

/// What a [`MediaHandle`] or the engine tells a shard.
enum ShardMessage<S> {
    /// Take over this session; its first frame is recorded on the next tick.
    Add {
        session: Box<MediaSession<S>>,
        /// Where the session's key in the shard goes.
        key: oneshot::Sender<usize>,
    },
    /// A command for the session under `key`.
    Command { key: usize, command: Command },
    /// End the session under `key`; its sink and counters go to `reply`
    /// (nowhere when the handle was dropped).
    Stop {
        key: usize,
        reply: Option<oneshot::Sender<(S, MediaStats)>>,
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
        let (session, events) = MediaSession::new(socket, params, sink);
        let shard = &self.shards[self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len()];
        let (key_tx, key_rx) = oneshot::channel();
        shard
            .send(ShardMessage::Add {
                session: Box::new(session),
                key: key_tx,
            })
            .map_err(|_| EngineStopped)?;
        let key = key_rx.await.map_err(|_| EngineStopped)?;
        let handle = MediaHandle {
            shard: shard.clone(),
            key,
            stopped: false,
        };
        Ok((handle, events))
    }
}

/// The shard a session was given to is gone (its runtime is shutting down,
/// or it panicked): the session's sink was dropped with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the media engine has stopped")]
pub struct EngineStopped;

/// Controls one running session. Dropping it ends the session too, dropping
/// the sink; call [`stop`](Self::stop) to get the sink back.
pub struct MediaHandle<S> {
    shard: mpsc::UnboundedSender<ShardMessage<S>>,
    key: usize,
    stopped: bool,
}

impl<S> std::fmt::Debug for MediaHandle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaHandle")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<S> MediaHandle<S> {
    /// Plays `prompt` once from its start, replacing whatever was playing.
    pub fn play(&self, prompt: super::Prompt) {
        self.send(Command::Play(prompt));
    }

    /// Stops the prompt being played, if any; silence follows.
    pub fn stop_playback(&self) {
        self.send(Command::StopPlayback);
    }

    /// Applies a renegotiation (re-INVITE): new address, codec and
    /// telephone-event payload type. The source latch is reset.
    pub fn update(
        &self,
        remote: std::net::SocketAddr,
        codec: super::Codec,
        dtmf_payload_type: Option<u8>,
    ) {
        self.send(Command::Update {
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
        self.send(Command::Direction(direction));
    }

    /// The session's counters so far (e.g. its voiced frames at the start
    /// and end of a voice message). Answered between two ticks.
    pub async fn stats(&self) -> Result<MediaStats, EngineStopped> {
        let (reply, result) = oneshot::channel();
        let message = ShardMessage::Command {
            key: self.key,
            command: Command::Stats(reply),
        };
        self.shard.send(message).map_err(|_| EngineStopped)?;
        result.await.map_err(|_| EngineStopped)
    }

    /// Ends the session and returns the sink (to finish the recording) and
    /// the counters.
    pub async fn stop(mut self) -> Result<(S, MediaStats), EngineStopped> {
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

    fn send(&self, command: Command) {
        let key = self.key;
        if self
            .shard
            .send(ShardMessage::Command { key, command })
            .is_err()
        {
            tracing::warn!("media engine stopped before a command reached its session");
        }
    }
}

impl<S> Drop for MediaHandle<S> {
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

/// One shard: applies messages as they come and ticks every session every
/// 20 ms while it has any. Idle shards do not wake.
async fn run_shard<S: StereoSink>(mut inbox: mpsc::UnboundedReceiver<ShardMessage<S>>) {
    let mut sessions: Slab<MediaSession<S>> = Slab::new();
    let mut ticker = tokio::time::interval(FRAME_DURATION);
    // A late tick is caught up at once, so recordings lose no frame to
    // scheduling.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut buffer = [0u8; RECEIVE_BUFFER_LEN];
    loop {
        tokio::select! {
            biased;
            message = inbox.recv() => match message {
                Some(ShardMessage::Add { session, key }) => {
                    if sessions.is_empty() {
                        // The first tick comes one frame after the first session.
                        ticker.reset();
                    }
                    let entry = sessions.vacant_entry();
                    let index = entry.key();
                    entry.insert(*session);
                    if key.send(index).is_err() {
                        // Its starter went away before learning the key: no
                        // handle will ever stop it.
                        sessions.remove(index);
                    }
                }
                Some(ShardMessage::Command { key, command }) => {
                    if let Some(session) = sessions.get_mut(key) {
                        session.apply(command);
                    }
                }
                Some(ShardMessage::Stop { key, reply }) => {
                    if let Some(session) = sessions.try_remove(key) {
                        let result = session.finish();
                        if let Some(reply) = reply {
                            // A stopper that went away drops the sink here.
                            let _ = reply.send(result);
                        }
                    }
                }
                None => break,
            },
            now = ticker.tick(), if !sessions.is_empty() => {
                for (_, session) in &mut sessions {
                    session.drain_socket(&mut buffer, now);
                    session.tick(now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

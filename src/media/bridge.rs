//! The bridges of one engine shard: which of its sessions are paired so
//! that each sends the other's received audio (the caller and the
//! operator's leg of a B2BUA call, media relayed through the daemon), and
//! the tick of every pair.
//!
//! Both sessions of a pair live on the same shard, so one tick hands each
//! the other's frame with neither a lock nor a channel: every session first
//! drains its socket and takes its frame, then each pair sends, each side
//! re-encoding the other's decoded frame in its own codec (which is the
//! PCMU↔PCMA transcoding when they differ). A session is in one bridge at
//! most. Knows nothing of SIP: which sessions to pair is the caller's
//! business.

use slab::Slab;
use tokio::time::Instant;

use super::StereoSink;
use super::session::MediaSession;

/// The pairs of session keys of one shard.
#[derive(Debug, Default)]
pub(super) struct Bridges {
    /// Each pair once; a key is in one pair at most.
    pairs: Vec<(usize, usize)>,
}

impl Bridges {
    /// Bridges the sessions under `a` and `b`, letting go of whatever
    /// either was bridged to. Nothing happens unless both exist and differ.
    pub(super) fn join<S: StereoSink>(
        &mut self,
        sessions: &mut Slab<MediaSession<S>>,
        a: usize,
        b: usize,
    ) {
        if a == b || !sessions.contains(a) || !sessions.contains(b) {
            tracing::debug!(a, b, "bridge of a session that is gone, or with itself");
            return;
        }
        self.leave(sessions, a);
        self.leave(sessions, b);
        self.pairs.push((a, b));
        for key in [a, b] {
            if let Some(session) = sessions.get_mut(key) {
                session.set_bridged(true);
            }
        }
    }

    /// Ends the bridge `key` is in, if any: both sides go back to silence
    /// (or their prompt) on the next tick.
    pub(super) fn leave<S: StereoSink>(
        &mut self,
        sessions: &mut Slab<MediaSession<S>>,
        key: usize,
    ) {
        let Some(index) = self.pairs.iter().position(|&(a, b)| a == key || b == key) else {
            return;
        };
        let (a, b) = self.pairs.swap_remove(index);
        for key in [a, b] {
            if let Some(session) = sessions.get_mut(key) {
                session.set_bridged(false);
            }
        }
    }

    /// Ticks every bridged pair, once all sessions have taken this tick's
    /// frame: each side sends what the other received.
    pub(super) fn tick<S: StereoSink>(&self, sessions: &mut Slab<MediaSession<S>>, now: Instant) {
        for &(a, b) in &self.pairs {
            if let Some((a, b)) = sessions.get2_mut(a, b) {
                a.tick(now, b.received());
                b.tick(now, a.received());
            }
        }
    }
}

#[cfg(test)]
mod tests;

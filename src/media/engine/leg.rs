//! A second media leg of a call (the operator's phone, in a B2BUA call
//! whose media is relayed through the daemon): a session with no recording
//! of its own, started on the shard of the session it is to be bridged to
//! (see [`Bridges`](super::Bridges)) and controlled by a [`LegHandle`].
//!
//! Its digits and its remote side's silence come on its own event channel;
//! while bridged, the session it is bridged to records what it receives.

use tokio::sync::mpsc;

use super::{Command, Control, EngineStopped, MediaEngine, MediaHandle, MediaSession};
use crate::media::{
    Codec, MediaDirection, MediaEvent, MediaStats, Prompt, SessionParams, StereoSink,
};

impl<S: StereoSink + 'static> MediaEngine<S> {
    /// Starts a leg on an already bound socket, on the shard of `beside`,
    /// so that [`MediaHandle::bridge`] can pair them; it records nothing.
    /// Until bridged it sends silence (or its prompt) like any session.
    pub async fn start_leg(
        &self,
        beside: &MediaHandle<S>,
        socket: tokio::net::UdpSocket,
        params: SessionParams,
    ) -> Result<(LegHandle<S>, mpsc::Receiver<MediaEvent>), EngineStopped> {
        let (session, events) = MediaSession::new(socket, params, None);
        let control = Control::add(&beside.control.shard, session).await?;
        Ok((LegHandle { control }, events))
    }
}

/// Controls one running leg. Dropping it ends the leg and its bridge; the
/// session it was bridged to goes on.
pub struct LegHandle<S> {
    pub(super) control: Control<S>,
}

impl<S> std::fmt::Debug for LegHandle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegHandle")
            .field("key", &self.control.key)
            .finish_non_exhaustive()
    }
}

impl<S> LegHandle<S> {
    /// Plays `prompt` once from its start to this leg's remote side (e.g.
    /// hold music), instead of the bridged audio while it plays.
    pub fn play(&self, prompt: Prompt) {
        self.control.send(Command::Play(prompt));
    }

    /// Stops the prompt being played, if any; silence (or the bridged side)
    /// follows.
    pub fn stop_playback(&self) {
        self.control.send(Command::StopPlayback);
    }

    /// Applies a renegotiation of this leg: new address, codec and
    /// telephone-event payload type. The source latch is reset.
    pub fn update(
        &self,
        remote: std::net::SocketAddr,
        codec: Codec,
        dtmf_payload_type: Option<u8>,
    ) {
        self.control.send(Command::Update {
            remote,
            codec,
            dtmf_payload_type,
        });
    }

    /// Changes which way this leg's audio flows, as
    /// [`MediaHandle::set_direction`] does for a session.
    pub fn set_direction(&self, direction: MediaDirection) {
        self.control.send(Command::Direction(direction));
    }

    /// The leg's counters so far. Answered between two ticks.
    pub async fn stats(&self) -> Result<MediaStats, EngineStopped> {
        self.control.stats().await
    }

    /// Ends the leg (and its bridge) and returns its counters.
    pub async fn stop(self) -> Result<MediaStats, EngineStopped> {
        let (_, stats) = self.control.stop().await?;
        Ok(stats)
    }
}

//! Which TCP connections are let in, and out: the accept loop, which closes
//! at once a connection over the limit per source address or in total, and
//! the connections we open ourselves, under the same total. The limits
//! themselves are sans-IO ([`ConnectionLimits`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};
use tokio::time::timeout;

use super::TransportEvent;
use super::connection::{Connection, TcpSettings};
use super::counters::{OpenSlot, TcpCounterCells, bump};

/// Pause after a failed accept: running out of descriptors leaves the
/// connection in the backlog, and accepting again at once would spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Why a connection was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Its source address has as many open as allowed.
    PerSource,
    /// As many connections are open as allowed.
    Total,
}

/// The connection limits (sans-IO): how many accepted connections each
/// source address holds, against the per-source limit, and the total.
#[derive(Debug)]
pub(crate) struct ConnectionLimits {
    per_source: usize,
    total: u64,
    by_source: HashMap<IpAddr, usize>,
}

impl ConnectionLimits {
    pub(crate) fn new(settings: &TcpSettings) -> ConnectionLimits {
        ConnectionLimits {
            per_source: settings.max_connections_per_source,
            total: u64::try_from(settings.max_connections).unwrap_or(u64::MAX),
            by_source: HashMap::new(),
        }
    }

    /// Let a connection from `source` in while `open` are open (ours
    /// included); it counts against its source until released.
    pub(crate) fn admit(&mut self, source: IpAddr, open: u64) -> Result<(), Refusal> {
        if open >= self.total {
            return Err(Refusal::Total);
        }
        let held = self.by_source.get(&source).copied().unwrap_or(0);
        if held >= self.per_source {
            return Err(Refusal::PerSource);
        }
        self.by_source.insert(source, held + 1);
        Ok(())
    }

    /// A connection from `source` has ended.
    pub(crate) fn release(&mut self, source: IpAddr) {
        if let Entry::Occupied(mut held) = self.by_source.entry(source) {
            *held.get_mut() -= 1;
            if *held.get() == 0 {
                held.remove();
            }
        }
    }
}

/// Accept connections, each run by a task of its own, within the limits.
pub(super) async fn accept_tcp(
    listener: TcpListener,
    events: mpsc::Sender<TransportEvent>,
    settings: TcpSettings,
    counters: Arc<TcpCounterCells>,
) {
    let mut limits = ConnectionLimits::new(&settings);
    let mut connections = JoinSet::new();
    // The source of each connection task, released when it ends.
    let mut sources: HashMap<Id, IpAddr> = HashMap::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if let Err(refusal) = limits.admit(peer.ip(), counters.open_now()) {
                        refuse(stream, peer, refusal, &counters);
                        continue;
                    }
                    bump(&counters.accepted);
                    let slot = OpenSlot::take(&counters);
                    let (writer, queue) = mpsc::unbounded_channel();
                    if events.send(TransportEvent::Connected { peer, writer }).await.is_err() {
                        return;
                    }
                    let connection = Connection::new(stream, peer, queue, events.clone(), settings, slot);
                    let task = connections.spawn(connection.run());
                    sources.insert(task.id(), peer.ip());
                }
                Err(error) => {
                    tracing::debug!(%error, "TCP accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
            Some(ended) = connections.join_next_with_id(), if !connections.is_empty() => {
                let id = match ended {
                    Ok((id, ())) => id,
                    Err(error) => error.id(),
                };
                if let Some(source) = sources.remove(&id) {
                    limits.release(source);
                }
            }
        }
    }
}

/// Close an over-limit connection at once (dropping it), and count it.
fn refuse(stream: TcpStream, peer: SocketAddr, refusal: Refusal, counters: &TcpCounterCells) {
    tracing::debug!(%peer, ?refusal, "TCP connection over the limit closed");
    match refusal {
        Refusal::PerSource => bump(&counters.refused_per_source),
        Refusal::Total => bump(&counters.refused_total),
    }
    drop(stream);
}

/// A place for a connection of our own, unless as many are open as
/// allowed (then it is counted as refused).
pub(super) fn outbound_slot(
    counters: &Arc<TcpCounterCells>,
    settings: &TcpSettings,
) -> Option<OpenSlot> {
    if counters.open_now() >= u64::try_from(settings.max_connections).unwrap_or(u64::MAX) {
        bump(&counters.refused_total);
        return None;
    }
    Some(OpenSlot::take(counters))
}

/// Connect to `peer` (within the message timeout) and run the connection,
/// which sends what is queued.
pub(super) async fn connect_tcp(
    peer: SocketAddr,
    queue: mpsc::UnboundedReceiver<Vec<u8>>,
    events: mpsc::Sender<TransportEvent>,
    settings: TcpSettings,
    slot: OpenSlot,
) {
    match timeout(settings.message_timeout, TcpStream::connect(peer)).await {
        Ok(Ok(stream)) => {
            Connection::new(stream, peer, queue, events, settings, slot)
                .run()
                .await
        }
        failed => {
            let error = match failed {
                Ok(Err(error)) => error.to_string(),
                _ => "timed out".to_owned(),
            };
            tracing::debug!(%peer, %error, "TCP connect failed");
            drop((queue, slot));
            let _ = events
                .send(TransportEvent::Closed {
                    peer,
                    malformed: false,
                })
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::SipConfig;

    fn limits(per_source: usize, total: usize) -> ConnectionLimits {
        ConnectionLimits::new(&TcpSettings {
            max_connections_per_source: per_source,
            max_connections: total,
            ..TcpSettings::from_config(&SipConfig::default())
        })
    }

    #[test]
    fn a_source_over_its_limit_is_refused_until_one_of_its_connections_ends() {
        let mut limits = limits(2, 100);
        let one: IpAddr = "192.0.2.1".parse().expect("ip");
        let two: IpAddr = "192.0.2.2".parse().expect("ip");
        assert_eq!(limits.admit(one, 0), Ok(()));
        assert_eq!(limits.admit(one, 1), Ok(()));
        assert_eq!(limits.admit(one, 2), Err(Refusal::PerSource));
        assert_eq!(limits.admit(two, 2), Ok(()), "another source is apart");
        limits.release(one);
        assert_eq!(limits.admit(one, 2), Ok(()));
    }

    #[test]
    fn the_total_counts_every_open_connection() {
        let mut limits = limits(10, 3);
        let one: IpAddr = "192.0.2.1".parse().expect("ip");
        assert_eq!(limits.admit(one, 2), Ok(()));
        assert_eq!(limits.admit(one, 3), Err(Refusal::Total));
        limits.release(one);
        limits.release(one);
        assert!(
            limits.by_source.is_empty(),
            "nothing held for a source that left"
        );
    }
}

//! The pool of RTP ports: hands out even ports of the configured range
//! round-robin, binds them, and takes them back when the lease is dropped.
//!
//! Used once per call at set-up, never on the packet path, so a mutex is
//! fine here. Knows nothing of what the socket is used for.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::net::UdpSocket;

use super::{MediaError, PortRange};

/// Hands out RTP sockets on even ports of a range. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct RtpPortPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    range: PortRange,
    state: Mutex<PoolState>,
}

#[derive(Debug)]
struct PoolState {
    /// Index (into the even ports) of the next port to try.
    next: usize,
    /// Which even ports are leased, by index.
    leased: Vec<bool>,
}

impl PoolInner {
    /// The state; a panic while holding the lock cannot leave it
    /// inconsistent (each update is a single assignment), so poisoning is
    /// ignored.
    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn port(&self, index: usize) -> u16 {
        // index < even_port_count, so the port is within the u16 range.
        self.range.low() + (index as u16) * 2
    }

    fn release(&self, index: usize) {
        if let Some(slot) = self.state().leased.get_mut(index) {
            *slot = false;
        }
    }
}

impl RtpPortPool {
    /// A pool over the even ports of `range`.
    pub fn new(range: PortRange) -> RtpPortPool {
        RtpPortPool {
            inner: Arc::new(PoolInner {
                range,
                state: Mutex::new(PoolState {
                    next: 0,
                    leased: vec![false; range.even_port_count()],
                }),
            }),
        }
    }

    /// The configured range.
    pub fn range(&self) -> PortRange {
        self.inner.range
    }

    /// Binds a UDP socket on `ip` and the next free even port, round-robin
    /// over the range; ports whose bind fails (taken by another process)
    /// are skipped. Fails when every port is leased or cannot be bound.
    pub async fn bind(&self, ip: IpAddr) -> Result<(UdpSocket, PortLease), MediaError> {
        let count = self.inner.range.even_port_count();
        for _ in 0..count {
            let Some(index) = self.reserve_next() else {
                break;
            };
            let lease = PortLease {
                pool: Arc::clone(&self.inner),
                index,
            };
            match UdpSocket::bind(SocketAddr::new(ip, lease.port())).await {
                Ok(socket) => return Ok((socket, lease)),
                Err(error) => {
                    tracing::debug!(port = lease.port(), %error, "RTP port busy, skipping");
                }
            }
        }
        Err(MediaError::NoFreePort {
            range: self.inner.range,
            ip,
        })
    }

    /// Marks the next unleased port as leased and returns its index.
    fn reserve_next(&self) -> Option<usize> {
        let mut state = self.inner.state();
        let count = state.leased.len();
        let start = state.next;
        let index = (0..count)
            .map(|i| (start + i) % count)
            .find(|&i| !state.leased[i])?;
        state.leased[index] = true;
        state.next = (index + 1) % count;
        Some(index)
    }

    /// How many ports are leased now.
    pub fn leased(&self) -> usize {
        self.inner.state().leased.iter().filter(|&&l| l).count()
    }
}

/// A port taken from an [`RtpPortPool`]; dropping it gives the port back.
#[derive(Debug)]
pub struct PortLease {
    pool: Arc<PoolInner>,
    index: usize,
}

impl PortLease {
    /// The leased port.
    pub fn port(&self) -> u16 {
        self.pool.port(self.index)
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.release(self.index);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// A free even port p such that p..p+span is likely free too: found by
    /// binding port 0 and rounding down.
    async fn free_base(span: u16) -> u16 {
        for _ in 0..50 {
            let probe = UdpSocket::bind((LOCALHOST, 0)).await.expect("bind probe");
            let port = probe.local_addr().expect("addr").port() & !1;
            drop(probe);
            if port > 1024 && port.checked_add(span).is_some() {
                let mut all_free = true;
                for p in (port..port + span).step_by(2) {
                    if UdpSocket::bind((LOCALHOST, p)).await.is_err() {
                        all_free = false;
                    }
                }
                if all_free {
                    return port;
                }
            }
        }
        panic!("no free port block on loopback");
    }

    #[tokio::test]
    async fn ports_are_even_round_robin_and_come_back_on_drop() {
        let base = free_base(6).await;
        let pool = RtpPortPool::new(PortRange::new(base, base + 5).expect("valid range"));
        let (s1, l1) = pool.bind(LOCALHOST).await.expect("first port");
        let (_s2, l2) = pool.bind(LOCALHOST).await.expect("second port");
        assert_eq!(l1.port(), base);
        assert_eq!(l2.port(), base + 2);
        assert_eq!(s1.local_addr().expect("addr").port(), base);
        assert_eq!(pool.leased(), 2);
        drop((s1, l1));
        assert_eq!(pool.leased(), 1);
        // Round-robin goes on to base+4 before reusing base.
        let (_s3, l3) = pool.bind(LOCALHOST).await.expect("third port");
        assert_eq!(l3.port(), base + 4);
        let (_s4, l4) = pool.bind(LOCALHOST).await.expect("freed port");
        assert_eq!(l4.port(), base);
    }

    #[tokio::test]
    async fn a_port_bound_elsewhere_is_skipped_and_a_full_pool_fails() {
        let base = free_base(4).await;
        let pool = RtpPortPool::new(PortRange::new(base, base + 3).expect("valid range"));
        let _squatter = UdpSocket::bind((LOCALHOST, base)).await.expect("squat");
        let (_s, lease) = pool.bind(LOCALHOST).await.expect("the other port");
        assert_eq!(lease.port(), base + 2);
        // The skipped port is not leased, but still cannot be bound.
        assert_eq!(pool.leased(), 1);
        let err = pool.bind(LOCALHOST).await.expect_err("all busy");
        assert!(matches!(err, MediaError::NoFreePort { .. }));
        assert_eq!(pool.leased(), 1);
    }
}

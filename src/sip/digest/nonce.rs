//! Self-validating nonces and the nonce-count record that refuses replays
//! (RFC 7616 §3.3 nonce, §3.4 nc, §5.5 replay attacks).
//!
//! A nonce is the hex of `issued (u64 BE seconds since the Unix epoch) ‖
//! serial (u64 BE) ‖ HMAC-SHA256(secret, issued ‖ serial ‖ realm)[..16]`.
//! Whoever holds the secret can tell its age without a table, also a
//! sibling node sharing the secret; the serial makes every challenge's
//! nonce unique, so nonce counts of two clients never mix. Wall-clock time
//! is used for that reason.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::constant_time_eq;

/// Bytes of the HMAC kept in a nonce: 128 bits cannot be guessed.
const MAC_LEN: usize = 16;
/// `issued ‖ serial ‖ mac`.
const NONCE_LEN: usize = 8 + 8 + MAC_LEN;
/// Length of a nonce in hex.
pub(crate) const NONCE_HEX_LEN: usize = NONCE_LEN * 2;

/// What identifies a nonce we issued, ordered by issue time.
pub(crate) type NonceId = (u64, u64);

/// What a nonce turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceState {
    /// Ours and younger than the lifetime.
    Fresh(NonceId),
    /// Ours but too old (or from a clock far ahead): RFC 7616 §3.3 stale.
    Expired,
    /// Not ours: garbled, forged, or minted with another secret (before a
    /// restart with a random secret).
    Unknown,
}

/// Mints and checks nonces with one secret.
pub(crate) struct NonceMint {
    /// HMAC keyed once with the secret; cloned per nonce.
    keyed: Hmac<Sha256>,
    realm: String,
    lifetime: Duration,
    serial: u64,
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl NonceMint {
    pub(crate) fn new(secret: &[u8], realm: &str, lifetime: Duration, serial: u64) -> NonceMint {
        NonceMint {
            keyed: Hmac::new_from_slice(secret).expect("HMAC takes a key of any length"),
            realm: realm.to_owned(),
            lifetime,
            serial,
        }
    }

    fn mac(&self, issued: u64, serial: u64) -> [u8; MAC_LEN] {
        let mut mac = self.keyed.clone();
        mac.update(&issued.to_be_bytes());
        mac.update(&serial.to_be_bytes());
        mac.update(self.realm.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// A new nonce issued at `now`.
    pub(crate) fn mint(&mut self, now: SystemTime) -> String {
        self.serial = self.serial.wrapping_add(1);
        let issued = unix_seconds(now);
        let mut raw = [0u8; NONCE_LEN];
        raw[..8].copy_from_slice(&issued.to_be_bytes());
        raw[8..16].copy_from_slice(&self.serial.to_be_bytes());
        raw[16..].copy_from_slice(&self.mac(issued, self.serial));
        hex::encode(raw)
    }

    /// Check a nonce from credentials at `now`.
    pub(crate) fn check(&self, nonce: &str, now: SystemTime) -> NonceState {
        let mut raw = [0u8; NONCE_LEN];
        if nonce.len() != NONCE_HEX_LEN || hex::decode_to_slice(nonce, &mut raw).is_err() {
            return NonceState::Unknown;
        }
        let [issued, serial] = [&raw[..8], &raw[8..16]]
            .map(|field| u64::from_be_bytes(field.try_into().expect("the field is eight bytes")));
        if !constant_time_eq(&raw[16..], &self.mac(issued, serial)) {
            return NonceState::Unknown;
        }
        let now = unix_seconds(now);
        let lifetime = self.lifetime.as_secs();
        // A nonce from a sibling node whose clock is a little ahead is
        // young, not expired; one further ahead than a lifetime is refused.
        let young = if issued > now {
            issued - now <= lifetime
        } else {
            now - issued < lifetime
        };
        if young {
            NonceState::Fresh((issued, serial))
        } else {
            NonceState::Expired
        }
    }

    /// The issue time before which nonces have expired at `now`.
    fn expiry_cutoff(&self, now: SystemTime) -> u64 {
        unix_seconds(now).saturating_sub(self.lifetime.as_secs())
    }
}

/// Whether a nonce-count may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountCheck {
    /// Higher than any seen with this nonce.
    New,
    /// Not higher than one already accepted: a replay (RFC 7616 §3.4).
    Replayed,
    /// The nonce was forgotten to keep the record bounded: challenge again.
    Forgotten,
}

/// The highest nonce-count accepted per nonce, bounded: expired nonces are
/// dropped first; when live ones still fill it, the oldest are dropped and
/// every nonce issued up to them counts as forgotten (the client gets a
/// fresh challenge, a replay gets nothing).
pub(crate) struct NonceCounts {
    seen: BTreeMap<NonceId, u32>,
    capacity: usize,
    /// Nonces at or before this one, if not in `seen`, were forgotten.
    forgotten_up_to: Option<NonceId>,
}

impl NonceCounts {
    pub(crate) fn new(capacity: usize) -> NonceCounts {
        NonceCounts {
            seen: BTreeMap::new(),
            capacity: capacity.max(1),
            forgotten_up_to: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    pub(crate) fn check(&self, id: NonceId, nc: u32) -> CountCheck {
        match self.seen.get(&id) {
            Some(last) if nc <= *last => CountCheck::Replayed,
            Some(_) => CountCheck::New,
            None if self.forgotten_up_to.is_some_and(|floor| id <= floor) => CountCheck::Forgotten,
            None => CountCheck::New,
        }
    }

    /// Record an accepted count (after [`NonceCounts::check`] said New).
    pub(crate) fn record(&mut self, id: NonceId, nc: u32, mint: &NonceMint, now: SystemTime) {
        if let Some(last) = self.seen.get_mut(&id) {
            *last = (*last).max(nc);
            return;
        }
        if self.seen.len() >= self.capacity {
            let cutoff = mint.expiry_cutoff(now);
            while let Some(entry) = self.seen.first_entry() {
                if entry.key().0 >= cutoff {
                    break;
                }
                entry.remove();
            }
        }
        while self.seen.len() >= self.capacity {
            if let Some((oldest, _)) = self.seen.pop_first() {
                self.forgotten_up_to = self.forgotten_up_to.max(Some(oldest));
            }
        }
        self.seen.insert(id, nc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFETIME: Duration = Duration::from_secs(300);

    fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn mint() -> NonceMint {
        NonceMint::new(b"secret", "realm", LIFETIME, 41)
    }

    #[test]
    fn a_nonce_is_fresh_until_its_lifetime_and_unique_per_challenge() {
        let mut mint = mint();
        let nonce = mint.mint(t0());
        assert_eq!(nonce.len(), NONCE_HEX_LEN);
        assert_ne!(nonce, mint.mint(t0()));
        let later = |seconds| t0() + Duration::from_secs(seconds);
        assert!(matches!(
            mint.check(&nonce, later(299)),
            NonceState::Fresh(_)
        ));
        assert_eq!(mint.check(&nonce, later(300)), NonceState::Expired);
        // A sibling's clock a little behind ours still finds it young.
        let behind = t0() - Duration::from_secs(10);
        assert!(matches!(mint.check(&nonce, behind), NonceState::Fresh(_)));
        let far_behind = t0() - LIFETIME - Duration::from_secs(1);
        assert_eq!(mint.check(&nonce, far_behind), NonceState::Expired);
    }

    #[test]
    fn a_changed_byte_another_realm_or_another_secret_makes_it_unknown() {
        let mut mint = mint();
        let nonce = mint.mint(t0());
        for at in [0, 17, NONCE_HEX_LEN - 1] {
            let mut bytes = nonce.clone().into_bytes();
            bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
            let changed = String::from_utf8(bytes).expect("hex");
            assert_eq!(mint.check(&changed, t0()), NonceState::Unknown);
        }
        let other_realm = NonceMint::new(b"secret", "other", LIFETIME, 0);
        let other_secret = NonceMint::new(b"other", "realm", LIFETIME, 0);
        for other in [other_realm, other_secret] {
            assert_eq!(other.check(&nonce, t0()), NonceState::Unknown);
        }
        for junk in ["", "zz", &nonce[..NONCE_HEX_LEN - 2], "é"] {
            assert_eq!(mint.check(junk, t0()), NonceState::Unknown);
        }
    }
}

//! `[[trunks]]`: the carriers' SIP trunks callbacks go out on, each with
//! its credentials, the number it presents and its caps, and at run time
//! the two caps kept: calls at once (a semaphore) and calls started per
//! second (a pacer spacing starts evenly, so no second ever sees more).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::sip::Transport;

/// A transport as the config file writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrunkTransport {
    #[default]
    Udp,
    Tcp,
}

/// `[[trunks]]` in the config file; the first is the default.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    pub name: String,
    /// `ip:port` of the carrier's SIP side (no name is resolved).
    pub address: SocketAddr,
    #[serde(default)]
    pub transport: TrunkTransport,
    /// Digest credentials, answered on 401 and 407.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The realm the credentials are for; a challenge for another realm
    /// is not answered. None: any.
    pub realm: Option<String>,
    /// The number presented (From and P-Asserted-Identity).
    pub caller_id: String,
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
    #[serde(default = "default_calls_per_second")]
    pub calls_per_second: f64,
}

fn default_max_concurrent() -> u32 {
    30
}

fn default_calls_per_second() -> f64 {
    5.0
}

/// Problems of the trunk list, each with its key path.
pub fn validate(trunks: &[TrunkConfig]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (i, trunk) in trunks.iter().enumerate() {
        let path = |key: &str| format!("trunks[{i}].{key}");
        if trunk.name.trim().is_empty() || trunks[..i].iter().any(|t| t.name == trunk.name) {
            problems.push((path("name"), "must be present and unique".to_owned()));
        }
        if trunk.caller_id.trim().is_empty() || trunk.caller_id.contains(['<', '>', '@', ' ']) {
            problems.push((path("caller_id"), "must be a number".to_owned()));
        }
        if trunk.max_concurrent == 0 {
            problems.push((path("max_concurrent"), "must be at least 1".to_owned()));
        }
        if !(trunk.calls_per_second > 0.0 && trunk.calls_per_second.is_finite()) {
            problems.push((path("calls_per_second"), "must be above 0".to_owned()));
        }
        if trunk.username.is_some() != trunk.password.is_some() {
            problems.push((
                path("password"),
                "username and password go together".to_owned(),
            ));
        }
    }
    problems
}

/// A trunk at run time.
#[derive(Debug)]
pub struct Trunk {
    pub config: TrunkConfig,
    calls: Arc<Semaphore>,
    /// When the next call may start.
    next_start: Mutex<Instant>,
    spacing: Duration,
}

impl Trunk {
    pub fn new(config: TrunkConfig) -> Trunk {
        let spacing = Duration::from_secs_f64(1.0 / config.calls_per_second);
        Trunk {
            calls: Arc::new(Semaphore::new(config.max_concurrent as usize)),
            next_start: Mutex::new(Instant::now()),
            spacing,
            config,
        }
    }

    pub fn transport(&self) -> Transport {
        match self.config.transport {
            TrunkTransport::Udp => Transport::Udp,
            TrunkTransport::Tcp => Transport::Tcp,
        }
    }

    /// Calls at once it takes.
    pub fn lines(&self) -> usize {
        self.config.max_concurrent as usize
    }

    /// Calls that may start now without passing `max_concurrent`.
    pub fn free(&self) -> usize {
        self.calls.available_permits()
    }

    /// Waits for a free line and for the call's turn under
    /// `calls_per_second`; the permit is the line, held for the call.
    pub async fn start(&self) -> OwnedSemaphorePermit {
        let permit = self
            .calls
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let at = {
            let mut next = self.next_start.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + self.spacing;
            at
        };
        tokio::time::sleep_until(at).await;
        permit
    }

    /// Whether the credentials answer a challenge of this realm.
    pub fn answers_realm(&self, challenge: &str) -> bool {
        match &self.config.realm {
            None => true,
            Some(realm) => challenge.contains(&format!("realm=\"{realm}\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(text: &str) -> TrunkConfig {
        toml::from_str(text).expect("valid trunk")
    }

    #[test]
    fn a_trunk_reads_with_its_defaults_and_is_checked() {
        let t = trunk("name = \"telecom\"\naddress = \"127.0.0.1:5070\"\ncaller_id = \"96888\"\n");
        assert_eq!(t.transport, TrunkTransport::Udp);
        assert_eq!(t.max_concurrent, 30);
        assert!(validate(std::slice::from_ref(&t)).is_empty());
        let mut bad = t.clone();
        bad.calls_per_second = 0.0;
        bad.username = Some("u".into());
        let problems = validate(&[t, bad]);
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "trunks[1].name",
                "trunks[1].calls_per_second",
                "trunks[1].password"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_by_the_rate_and_held_to_the_line_count() {
        let mut config = trunk("name = \"t\"\naddress = \"127.0.0.1:5070\"\ncaller_id = \"1\"\n");
        config.calls_per_second = 4.0;
        config.max_concurrent = 2;
        let trunk = Trunk::new(config);
        let begun = Instant::now();
        let first = trunk.start().await;
        let _second = trunk.start().await;
        assert_eq!(begun.elapsed(), Duration::from_millis(250));
        assert_eq!(trunk.free(), 0);
        drop(first);
        let _third = trunk.start().await;
        assert_eq!(begun.elapsed(), Duration::from_millis(500));
    }
}

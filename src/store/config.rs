//! The store's part of the configuration.

use serde::Deserialize;

/// `[store]` in the config file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://…` or `postgres://…`; empty means the embedded SQLite file
    /// `hotline.db` under the data directory.
    pub database_url: String,
    /// Upper bound of pooled connections.
    pub max_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            database_url: String::new(),
            max_connections: 8,
        }
    }
}

//! Operators' rows: the SIP credentials of their phones (HA1 values only),
//! the phones' registrations and the log of their state changes. What the
//! values mean is the layers' above; here they are columns.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// A user's SIP credentials, with the user they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipCredentialRow {
    pub user_id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
    pub disabled: bool,
    pub realm: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

/// A registered contact of a user's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRow {
    pub user_id: String,
    pub contact: String,
    /// `ip:port` the REGISTER came from.
    pub source: String,
    /// `UDP` or `TCP`.
    pub transport: String,
    pub call_id: String,
    pub cseq: i64,
    pub user_agent: Option<String>,
    pub instance: Option<String>,
    pub registered_at: i64,
    pub expires_at: i64,
    pub unreachable_since: Option<i64>,
    pub node: String,
}

/// A change to the stored bindings, applied in order with others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingChange {
    Upsert(BindingRow),
    Delete { user_id: String, contact: String },
}

/// One change of an operator's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorStateRow {
    pub id: String,
    pub user_id: String,
    pub state: String,
    pub reason: Option<String>,
    pub call_id: Option<String>,
    pub at: i64,
}

const CREDENTIAL_COLUMNS: &str = "users.id AS user_id, users.username, users.display_name, users.role, \
     users.disabled_at, c.realm, c.ha1_md5, c.ha1_sha256";

const BINDING_COLUMNS: &str = "user_id, contact, source, transport, call_id, cseq, user_agent, \
     instance, registered_at, expires_at, unreachable_since, node";

fn credential_from_row(row: &AnyRow) -> Result<SipCredentialRow, sqlx::Error> {
    Ok(SipCredentialRow {
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: row.try_get("role")?,
        disabled: row.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
        realm: row.try_get("realm")?,
        ha1_md5: row.try_get("ha1_md5")?,
        ha1_sha256: row.try_get("ha1_sha256")?,
    })
}

fn binding_from_row(row: &AnyRow) -> Result<BindingRow, sqlx::Error> {
    Ok(BindingRow {
        user_id: row.try_get("user_id")?,
        contact: row.try_get("contact")?,
        source: row.try_get("source")?,
        transport: row.try_get("transport")?,
        call_id: row.try_get("call_id")?,
        cseq: row.try_get("cseq")?,
        user_agent: row.try_get("user_agent")?,
        instance: row.try_get("instance")?,
        registered_at: row.try_get("registered_at")?,
        expires_at: row.try_get("expires_at")?,
        unreachable_since: row.try_get("unreachable_since")?,
        node: row.try_get("node")?,
    })
}

const UPSERT_BINDING: &str = "INSERT INTO sip_bindings (user_id, contact, source, transport, \
     call_id, cseq, user_agent, instance, registered_at, expires_at, unreachable_since, node) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
     ON CONFLICT (user_id, contact) DO UPDATE SET source = excluded.source, \
     transport = excluded.transport, call_id = excluded.call_id, cseq = excluded.cseq, \
     user_agent = excluded.user_agent, instance = excluded.instance, \
     registered_at = excluded.registered_at, expires_at = excluded.expires_at, \
     unreachable_since = excluded.unreachable_since, node = excluded.node";

fn upsert_binding_query(
    binding: &BindingRow,
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(UPSERT_BINDING)
        .bind(&binding.user_id)
        .bind(&binding.contact)
        .bind(&binding.source)
        .bind(&binding.transport)
        .bind(&binding.call_id)
        .bind(binding.cseq)
        .bind(&binding.user_agent)
        .bind(&binding.instance)
        .bind(binding.registered_at)
        .bind(binding.expires_at)
        .bind(binding.unreachable_since)
        .bind(&binding.node)
}

impl Store {
    /// Sets (or replaces) a user's SIP credentials.
    pub async fn set_sip_credentials(
        &self,
        user_id: &str,
        realm: &str,
        ha1_md5: &str,
        ha1_sha256: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sip_credentials (user_id, realm, ha1_md5, ha1_sha256, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET \
             realm = excluded.realm, ha1_md5 = excluded.ha1_md5, \
             ha1_sha256 = excluded.ha1_sha256, updated_at = excluded.updated_at",
        )
        .bind(user_id)
        .bind(realm)
        .bind(ha1_md5)
        .bind(ha1_sha256)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The SIP credentials of the user with this username, if any.
    pub async fn sip_credentials(
        &self,
        username: &str,
    ) -> Result<Option<SipCredentialRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM sip_credentials c \
             JOIN users ON users.id = c.user_id WHERE users.username = $1"
        ))
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(credential_from_row).transpose()?)
    }

    /// Every user's SIP credentials, by username.
    pub async fn all_sip_credentials(&self) -> Result<Vec<SipCredentialRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM sip_credentials c \
             JOIN users ON users.id = c.user_id ORDER BY users.username"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(credential_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Adds or refreshes a binding (one per user and contact).
    pub async fn upsert_binding(&self, binding: &BindingRow) -> Result<(), StoreError> {
        upsert_binding_query(binding).execute(self.pool()).await?;
        Ok(())
    }

    /// Applies binding changes in order, in one transaction (a burst of
    /// registrations costs one commit).
    pub async fn apply_binding_changes(&self, changes: &[BindingChange]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for change in changes {
            match change {
                BindingChange::Upsert(binding) => {
                    upsert_binding_query(binding).execute(&mut *tx).await?;
                }
                BindingChange::Delete { user_id, contact } => {
                    sqlx::query("DELETE FROM sip_bindings WHERE user_id = $1 AND contact = $2")
                        .bind(user_id)
                        .bind(contact)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes one binding; `false` when there was none.
    pub async fn delete_binding(&self, user_id: &str, contact: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sip_bindings WHERE user_id = $1 AND contact = $2")
            .bind(user_id)
            .bind(contact)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a binding unreachable since `since`, or reachable (`None`).
    pub async fn set_binding_unreachable(
        &self,
        user_id: &str,
        contact: &str,
        since: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sip_bindings SET unreachable_since = $3 WHERE user_id = $1 AND contact = $2",
        )
        .bind(user_id)
        .bind(contact)
        .bind(since)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The bindings that have not expired at `now`, by user and contact;
    /// expired ones are deleted first.
    pub async fn live_bindings(&self, now: i64) -> Result<Vec<BindingRow>, StoreError> {
        sqlx::query("DELETE FROM sip_bindings WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT {BINDING_COLUMNS} FROM sip_bindings ORDER BY user_id, contact"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(binding_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Appends one change to the operators' state log.
    pub async fn insert_operator_state(&self, row: &OperatorStateRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO operator_states (id, user_id, state, reason, call_id, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&row.id)
        .bind(&row.user_id)
        .bind(&row.state)
        .bind(&row.reason)
        .bind(&row.call_id)
        .bind(row.at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A user's state changes from `since` on, oldest first.
    pub async fn operator_states(
        &self,
        user_id: &str,
        since: i64,
    ) -> Result<Vec<OperatorStateRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, state, reason, call_id, at FROM operator_states \
             WHERE user_id = $1 AND at >= $2 ORDER BY at, id",
        )
        .bind(user_id)
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OperatorStateRow {
                    id: row.try_get("id")?,
                    user_id: row.try_get("user_id")?,
                    state: row.try_get("state")?,
                    reason: row.try_get("reason")?,
                    call_id: row.try_get("call_id")?,
                    at: row.try_get("at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests;

//! Users and their login tokens: the rows and the queries. What a role
//! allows, how passwords are hashed and how tokens are made is the desk's
//! business; here they are text columns.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// A user as it is created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
    pub password_hash: String,
    pub created_at: i64,
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
    pub password_hash: String,
    /// When the account was disabled; `None` while it is enabled.
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A login token as it is issued: only the hash of its value is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToken {
    pub token_hash: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A stored token together with the user it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenOwner {
    pub user: UserRow,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

const USER_COLUMNS: &str = "users.id, users.username, users.display_name, users.role, \
     users.password_hash, users.disabled_at, users.created_at, users.updated_at";

fn user_from_row(row: &AnyRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: row.try_get("role")?,
        password_hash: row.try_get("password_hash")?,
        disabled_at: row.try_get("disabled_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Creates a user; `false` when the username is already taken.
    pub async fn insert_user(&self, user: &NewUser) -> Result<bool, StoreError> {
        // ON CONFLICT … DO NOTHING: SQLite ≥ 3.24 and PostgreSQL ≥ 9.5 both
        // accept it, so a taken name is an answer, not an engine-specific error.
        let done = sqlx::query(
            "INSERT INTO users (id, username, display_name, role, password_hash, disabled_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, NULL, $6, $6) \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(&user.role)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The user with this username, if any.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// The user with this id, if any.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// Every user, by username.
    pub async fn list_users(&self) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    /// Replaces the user's password hash and revokes every token of the
    /// user, in one transaction.
    pub async fn set_user_password(
        &self,
        id: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let done =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(password_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        expect_user(done.rows_affected(), id)?;
        sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the user's role.
    pub async fn set_user_role(&self, id: &str, role: &str, now: i64) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET role = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(role)
            .bind(now)
            .execute(self.pool())
            .await?;
        expect_user(done.rows_affected(), id)
    }

    /// Changes the user's display name.
    pub async fn set_user_display_name(
        &self,
        id: &str,
        display_name: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET display_name = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(display_name)
            .bind(now)
            .execute(self.pool())
            .await?;
        expect_user(done.rows_affected(), id)
    }

    /// Disables the user (`Some(when)`, revoking every token of the user in
    /// the same transaction) or enables it again (`None`).
    pub async fn set_user_disabled(
        &self,
        id: &str,
        disabled_at: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("UPDATE users SET disabled_at = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(disabled_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        expect_user(done.rows_affected(), id)?;
        if disabled_at.is_some() {
            sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores a newly issued token.
    pub async fn insert_token(&self, token: &NewToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at, last_used_at) \
             VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(&token.token_hash)
        .bind(&token.user_id)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The token with this hash and its user, expired or not.
    pub async fn token_owner(&self, token_hash: &str) -> Result<Option<TokenOwner>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, api_tokens.expires_at, api_tokens.last_used_at \
             FROM api_tokens JOIN users ON users.id = api_tokens.user_id \
             WHERE api_tokens.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(TokenOwner {
            user: user_from_row(&row)?,
            expires_at: row.try_get("expires_at")?,
            last_used_at: row.try_get("last_used_at")?,
        }))
    }

    /// Notes when the token was last used.
    pub async fn touch_token(&self, token_hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Revokes one token; `false` when there was no such token.
    pub async fn delete_token(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes the tokens that expired at or before `now`; returns how many.
    pub async fn delete_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

fn expect_user(rows: u64, id: &str) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            entity: "user",
            id: id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn new_user(id: &str, username: &str, role: &str) -> NewUser {
        NewUser {
            id: id.to_string(),
            username: username.to_string(),
            display_name: Some("张三".to_string()),
            role: role.to_string(),
            password_hash: format!("hash-of-{username}"),
            created_at: 1_000,
        }
    }

    fn token(hash: &str, user_id: &str, expires_at: i64) -> NewToken {
        NewToken {
            token_hash: hash.to_string(),
            user_id: user_id.to_string(),
            created_at: 1_000,
            expires_at,
        }
    }

    #[tokio::test]
    async fn users_are_created_found_and_listed_on_both_engines() {
        for store in testing::stores().await {
            assert!(
                store
                    .insert_user(&new_user("u2", "zhang", "operator"))
                    .await
                    .expect("insert")
            );
            assert!(
                store
                    .insert_user(&new_user("u1", "admin", "admin"))
                    .await
                    .expect("insert")
            );
            let zhang = store
                .user_by_name("zhang")
                .await
                .expect("get")
                .expect("present");
            assert_eq!(zhang.id, "u2");
            assert_eq!(zhang.display_name.as_deref(), Some("张三"));
            assert_eq!(zhang.role, "operator");
            assert_eq!(zhang.disabled_at, None);
            assert_eq!((zhang.created_at, zhang.updated_at), (1_000, 1_000));
            assert_eq!(store.user_by_id("u2").await.expect("by id"), Some(zhang));
            assert_eq!(store.user_by_name("nobody").await.expect("get"), None);
            let names: Vec<_> = store
                .list_users()
                .await
                .expect("list")
                .into_iter()
                .map(|u| u.username)
                .collect();
            assert_eq!(names, ["admin", "zhang"]);
        }
    }

    #[tokio::test]
    async fn a_taken_username_is_refused_without_an_error_on_both_engines() {
        for store in testing::stores().await {
            assert!(
                store
                    .insert_user(&new_user("u1", "zhang", "operator"))
                    .await
                    .expect("first")
            );
            assert!(
                !store
                    .insert_user(&new_user("u2", "zhang", "admin"))
                    .await
                    .expect("second")
            );
            let zhang = store
                .user_by_name("zhang")
                .await
                .expect("get")
                .expect("present");
            assert_eq!(zhang.role, "operator");
        }
    }

    #[tokio::test]
    async fn a_token_is_found_with_its_user_and_touched_on_both_engines() {
        for store in testing::stores().await {
            store
                .insert_user(&new_user("u1", "zhang", "operator"))
                .await
                .expect("user");
            store
                .insert_token(&token("h1", "u1", 5_000))
                .await
                .expect("token");
            let owner = store
                .token_owner("h1")
                .await
                .expect("find")
                .expect("present");
            assert_eq!(owner.user.username, "zhang");
            assert_eq!((owner.expires_at, owner.last_used_at), (5_000, None));
            store.touch_token("h1", 2_000).await.expect("touch");
            let owner = store
                .token_owner("h1")
                .await
                .expect("find")
                .expect("present");
            assert_eq!(owner.last_used_at, Some(2_000));
            assert_eq!(store.token_owner("h2").await.expect("find"), None);
            assert!(store.delete_token("h1").await.expect("delete"));
            assert!(!store.delete_token("h1").await.expect("delete again"));
        }
    }

    #[tokio::test]
    async fn a_new_password_revokes_the_users_tokens_only_on_both_engines() {
        for store in testing::stores().await {
            store
                .insert_user(&new_user("u1", "zhang", "operator"))
                .await
                .expect("user");
            store
                .insert_user(&new_user("u2", "li", "operator"))
                .await
                .expect("user");
            store
                .insert_token(&token("h1", "u1", 5_000))
                .await
                .expect("token");
            store
                .insert_token(&token("h2", "u2", 5_000))
                .await
                .expect("token");
            store
                .set_user_password("u1", "new-hash", 3_000)
                .await
                .expect("passwd");
            let zhang = store.user_by_id("u1").await.expect("get").expect("present");
            assert_eq!(
                (zhang.password_hash.as_str(), zhang.updated_at),
                ("new-hash", 3_000)
            );
            assert_eq!(store.token_owner("h1").await.expect("find"), None);
            assert!(store.token_owner("h2").await.expect("find").is_some());
            let err = store.set_user_password("nope", "x", 1).await.unwrap_err();
            assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
        }
    }

    #[tokio::test]
    async fn role_display_name_and_disabling_are_stored_on_both_engines() {
        for store in testing::stores().await {
            store
                .insert_user(&new_user("u1", "zhang", "operator"))
                .await
                .expect("user");
            store
                .insert_token(&token("h1", "u1", 5_000))
                .await
                .expect("token");
            store
                .set_user_role("u1", "supervisor", 2_000)
                .await
                .expect("role");
            store
                .set_user_display_name("u1", None, 2_500)
                .await
                .expect("name");
            store
                .set_user_disabled("u1", Some(3_000), 3_000)
                .await
                .expect("disable");
            let zhang = store.user_by_id("u1").await.expect("get").expect("present");
            assert_eq!(zhang.role, "supervisor");
            assert_eq!(zhang.display_name, None);
            assert_eq!(zhang.disabled_at, Some(3_000));
            assert_eq!(store.token_owner("h1").await.expect("find"), None);
            store
                .set_user_disabled("u1", None, 4_000)
                .await
                .expect("enable");
            let zhang = store.user_by_id("u1").await.expect("get").expect("present");
            assert_eq!((zhang.disabled_at, zhang.updated_at), (None, 4_000));
            let err = store.set_user_role("nope", "admin", 1).await.unwrap_err();
            assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
        }
    }

    #[tokio::test]
    async fn expired_tokens_are_deleted_and_live_ones_kept_on_both_engines() {
        for store in testing::stores().await {
            store
                .insert_user(&new_user("u1", "zhang", "operator"))
                .await
                .expect("user");
            store
                .insert_token(&token("old", "u1", 1_000))
                .await
                .expect("token");
            store
                .insert_token(&token("edge", "u1", 2_000))
                .await
                .expect("token");
            store
                .insert_token(&token("live", "u1", 2_001))
                .await
                .expect("token");
            assert_eq!(store.delete_expired_tokens(2_000).await.expect("purge"), 2);
            assert!(store.token_owner("live").await.expect("find").is_some());
            assert_eq!(store.token_owner("edge").await.expect("find"), None);
        }
    }
}

//! Users, their roles and their logins: who may use the console and the API
//! and as what. Owns the rules: which roles exist and how they rank, what a
//! username and a password must look like, how passwords are hashed
//! (Argon2id, PHC string), how login tokens are made (32 random bytes, only
//! their SHA-256 kept) and when they stop working, and that the last enabled
//! administrator cannot be removed.
//!
//! It knows no HTTP: rate limits, headers and status codes are the API's.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::store::{NewToken, NewUser, Store, StoreError, UserRow, unix_millis};

/// Fewest characters a password may have.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Most characters a password may have: hashing cost stays bounded.
pub const PASSWORD_MAX_CHARS: usize = 256;
/// Most characters a username may have.
pub const USERNAME_MAX_CHARS: usize = 64;
/// Random bytes in a login token.
const TOKEN_BYTES: usize = 32;
/// A token's `last_used_at` is written at most this often, so that reading
/// with a token is not a write on every request.
const TOKEN_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// What a user is allowed to do; each role may do what the roles below it may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 热线接线员: answers calls, registers work orders.
    Operator,
    /// 主管: watches the queue, audits recordings, reads the statistics.
    Supervisor,
    /// 管理员: manages users and the configuration.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Operator, Role::Supervisor, Role::Admin];

    /// The name used in the database, the API and the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The name the staff know it by.
    pub fn label(self) -> &'static str {
        match self {
            Role::Operator => "热线接线员",
            Role::Supervisor => "主管",
            Role::Admin => "管理员",
        }
    }

    /// Whether this role may do what `required` may.
    pub fn at_least(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UserError;

    fn from_str(s: &str) -> Result<Role, UserError> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UserError::UnknownRole {
                role: s.to_string(),
            })
    }
}

/// What can go wrong with users and logins.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("unknown role `{role}` (use operator, supervisor or admin)")]
    UnknownRole { role: String },
    #[error("invalid username `{username}`: {reason}")]
    InvalidUsername {
        username: String,
        reason: &'static str,
    },
    #[error("the password must have at least {min} characters")]
    PasswordTooShort { min: usize },
    #[error("the password must have at most {max} characters")]
    PasswordTooLong { max: usize },
    #[error("the username `{username}` is taken")]
    UsernameTaken { username: String },
    #[error("no user `{username}`")]
    NotFound { username: String },
    /// Unknown user and wrong password alike: the answer does not tell which.
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("the account `{username}` is disabled")]
    Disabled { username: String },
    #[error("the token is not valid")]
    InvalidToken,
    #[error("the token has expired")]
    TokenExpired,
    #[error("`{username}` takes no calls (only operators and supervisors have phones)")]
    TakesNoCalls { username: String },
    #[error("`{username}` is the last enabled administrator")]
    LastAdmin { username: String },
    #[error("the stored password hash of `{username}` is unreadable")]
    CorruptHash { username: String },
    #[error("password hashing failed: {0}")]
    Hashing(argon2::password_hash::Error),
    #[error("password hashing task failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user as the desk shows it: no password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who is behind a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: String,
    pub username: String,
    pub role: Role,
}

/// A successful login: the token is shown this once and never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token: String,
    pub user: AuthUser,
    pub expires_at: DateTime<Utc>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
    /// `Some(None)` clears the display name.
    pub display_name: Option<Option<String>>,
}

/// The users service.
#[derive(Debug, Clone)]
pub struct Users {
    store: Store,
}

impl Users {
    pub fn new(store: Store) -> Users {
        Users { store }
    }

    /// Creates a user with this role and password.
    pub async fn add(
        &self,
        username: &str,
        display_name: Option<&str>,
        role: Role,
        password: &str,
    ) -> Result<User, UserError> {
        check_username(username)?;
        check_password(password)?;
        let password_hash = hash_password(password.to_string()).await?;
        let new = NewUser {
            id: uuid::Uuid::now_v7().to_string(),
            username: username.to_string(),
            display_name: display_name.map(str::to_string),
            role: role.as_str().to_string(),
            password_hash,
            created_at: unix_millis(SystemTime::now()),
        };
        if !self.store.insert_user(&new).await? {
            return Err(UserError::UsernameTaken {
                username: username.to_string(),
            });
        }
        self.get(username).await
    }

    /// Every user, by username.
    pub async fn list(&self) -> Result<Vec<User>, UserError> {
        self.store
            .list_users()
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    /// One user by username.
    pub async fn get(&self, username: &str) -> Result<User, UserError> {
        user_from_row(&self.row(username).await?)
    }

    /// Sets a new password; every token of the user stops working.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), UserError> {
        self.update(
            username,
            &UserChanges {
                password: Some(password.to_string()),
                ..UserChanges::default()
            },
        )
        .await
        .map(drop)
    }

    /// Applies `changes` after checking all of them, so that a refused
    /// change leaves the user as it was. Disabling a user or changing the
    /// password ends the user's sessions; the last enabled administrator can
    /// be neither demoted nor disabled.
    pub async fn update(&self, username: &str, changes: &UserChanges) -> Result<User, UserError> {
        let row = self.row(username).await?;
        let current = user_from_row(&row)?;
        if let Some(password) = &changes.password {
            check_password(password)?;
        }
        let stays_admin = changes.role.unwrap_or(current.role) == Role::Admin
            && !changes.disabled.unwrap_or(current.disabled);
        if current.role == Role::Admin && !current.disabled && !stays_admin {
            let other_admins = self
                .list()
                .await?
                .into_iter()
                .filter(|u| u.role == Role::Admin && !u.disabled && u.id != current.id)
                .count();
            if other_admins == 0 {
                return Err(UserError::LastAdmin {
                    username: username.to_string(),
                });
            }
        }
        let password_hash = match &changes.password {
            Some(password) => Some(hash_password(password.clone()).await?),
            None => None,
        };
        let now = unix_millis(SystemTime::now());
        if let Some(role) = changes.role.filter(|role| *role != current.role) {
            self.store
                .set_user_role(&row.id, role.as_str(), now)
                .await?;
        }
        if let Some(display_name) = &changes.display_name {
            self.store
                .set_user_display_name(&row.id, display_name.as_deref(), now)
                .await?;
        }
        if let Some(disabled) = changes.disabled.filter(|d| *d != current.disabled) {
            let disabled_at = disabled.then_some(now);
            self.store
                .set_user_disabled(&row.id, disabled_at, now)
                .await?;
        }
        if let Some(password_hash) = password_hash {
            self.store
                .set_user_password(&row.id, &password_hash, now)
                .await?;
        }
        self.get(username).await
    }

    /// Checks the password and issues a token valid for `ttl`. An unknown
    /// user costs the same hashing work as a wrong password and gets the same
    /// answer.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<Session, UserError> {
        let row = match check_username(username) {
            Ok(()) => self.store.user_by_name(username).await?,
            Err(_) => None,
        };
        let Some(row) = row else {
            verify_password(dummy_hash().await?, password.to_string()).await?;
            return Err(UserError::InvalidCredentials);
        };
        PasswordHash::new(&row.password_hash).map_err(|_| UserError::CorruptHash {
            username: row.username.clone(),
        })?;
        if !verify_password(row.password_hash.clone(), password.to_string()).await? {
            return Err(UserError::InvalidCredentials);
        }
        if row.disabled_at.is_some() {
            return Err(UserError::Disabled {
                username: row.username,
            });
        }
        let role = row.role.parse::<Role>()?;
        let now_ms = unix_millis(now);
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let expires_at = now_ms.saturating_add(ttl_ms);
        self.store.delete_expired_tokens(now_ms).await?;
        let token = hex::encode(rand::random::<[u8; TOKEN_BYTES]>());
        self.store
            .insert_token(&NewToken {
                token_hash: token_hash(&token),
                user_id: row.id.clone(),
                created_at: now_ms,
                expires_at,
            })
            .await?;
        Ok(Session {
            token,
            user: AuthUser {
                id: row.id,
                username: row.username,
                role,
            },
            expires_at: from_millis(expires_at),
        })
    }

    /// Who is behind `token`, if it is valid at `now`.
    pub async fn authenticate(&self, token: &str, now: SystemTime) -> Result<AuthUser, UserError> {
        if !is_token_shaped(token) {
            return Err(UserError::InvalidToken);
        }
        let hash = token_hash(token);
        let owner = self
            .store
            .token_owner(&hash)
            .await?
            .ok_or(UserError::InvalidToken)?;
        let now_ms = unix_millis(now);
        if owner.expires_at <= now_ms {
            return Err(UserError::TokenExpired);
        }
        if owner.user.disabled_at.is_some() {
            return Err(UserError::InvalidToken);
        }
        let interval = i64::try_from(TOKEN_TOUCH_INTERVAL.as_millis()).unwrap_or(i64::MAX);
        if owner
            .last_used_at
            .is_none_or(|used| now_ms.saturating_sub(used) >= interval)
        {
            self.store.touch_token(&hash, now_ms).await?;
        }
        Ok(AuthUser {
            role: owner.user.role.parse()?,
            id: owner.user.id,
            username: owner.user.username,
        })
    }

    /// Ends the session of `token`; an unknown token is already ended.
    pub async fn logout(&self, token: &str) -> Result<(), UserError> {
        if is_token_shaped(token) {
            self.store.delete_token(&token_hash(token)).await?;
        }
        Ok(())
    }

    async fn row(&self, username: &str) -> Result<UserRow, UserError> {
        self.store
            .user_by_name(username)
            .await?
            .ok_or_else(|| UserError::NotFound {
                username: username.to_string(),
            })
    }
}

fn user_from_row(row: &UserRow) -> Result<User, UserError> {
    Ok(User {
        id: row.id.clone(),
        username: row.username.clone(),
        display_name: row.display_name.clone(),
        role: row.role.parse()?,
        disabled: row.disabled_at.is_some(),
        created_at: from_millis(row.created_at),
        updated_at: from_millis(row.updated_at),
    })
}

fn from_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// A username is 1 to 64 characters, none of them blank or control.
fn check_username(username: &str) -> Result<(), UserError> {
    let reason = if username.is_empty() {
        Some("it is empty")
    } else if username.chars().count() > USERNAME_MAX_CHARS {
        Some("it is longer than 64 characters")
    } else if username
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        Some("it contains blanks or control characters")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(UserError::InvalidUsername {
            username: username.chars().take(USERNAME_MAX_CHARS).collect(),
            reason,
        }),
        None => Ok(()),
    }
}

fn check_password(password: &str) -> Result<(), UserError> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        Err(UserError::PasswordTooShort {
            min: PASSWORD_MIN_CHARS,
        })
    } else if chars > PASSWORD_MAX_CHARS {
        Err(UserError::PasswordTooLong {
            max: PASSWORD_MAX_CHARS,
        })
    } else {
        Ok(())
    }
}

fn is_token_shaped(token: &str) -> bool {
    token.len() == TOKEN_BYTES * 2 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The form a token is stored in: hex SHA-256 of its text.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Argon2id with the crate's default (OWASP) parameters; off the async
/// threads because it takes tens of milliseconds on purpose.
async fn hash_password(password: String) -> Result<String, UserError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::thread_rng());
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(UserError::Hashing)
    })
    .await?
}

/// Whether `password` matches the PHC string `hash`.
async fn verify_password(hash: String, password: String) -> Result<bool, UserError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(UserError::Hashing)?;
        match Argon2::default().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(err) => Err(UserError::Hashing(err)),
        }
    })
    .await?
}

/// A hash of no one's password, verified against when the user is unknown.
async fn dummy_hash() -> Result<String, UserError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash.clone());
    }
    let hash = hash_password(hex::encode(rand::random::<[u8; TOKEN_BYTES]>())).await?;
    Ok(DUMMY.get_or_init(|| hash).clone())
}

mod phones;

pub use phones::{PhoneLogin, PhoneSecret, check_phone_password};

#[cfg(test)]
mod tests;

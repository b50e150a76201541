//! A user's phones: the credentials their SIP phones log in with, kept
//! only as the digests authentication needs (computed by the caller, who
//! knows the algorithms), and which phones are registered now. Only users
//! who take calls (operators and supervisors) have phones.

use std::time::SystemTime;

use crate::store::unix_millis;

use super::{Role, UserError, Users, check_password};

/// What a phone's digest authentication needs of a password, per
/// algorithm: `H(username:realm:password)` as lower-case hex.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneSecret {
    pub realm: String,
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

impl std::fmt::Debug for PhoneSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneSecret")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// A user's phone login as `users list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneLogin {
    pub username: String,
    /// Whether SIP credentials are set.
    pub has_credentials: bool,
    /// The registered contacts, newest first.
    pub phones: Vec<String>,
}

impl Role {
    /// Whether users of this role answer calls (and so have phones).
    pub fn takes_calls(self) -> bool {
        matches!(self, Role::Operator | Role::Supervisor)
    }
}

/// Checks a phone password as typed: the same rules as a login password.
pub fn check_phone_password(password: &str) -> Result<(), UserError> {
    check_password(password)
}

impl Users {
    /// Sets the user's phone credentials (replacing earlier ones).
    pub async fn set_phone_secret(
        &self,
        username: &str,
        secret: &PhoneSecret,
    ) -> Result<(), UserError> {
        let user = self.get(username).await?;
        if !user.role.takes_calls() {
            return Err(UserError::TakesNoCalls {
                username: username.to_string(),
            });
        }
        self.store
            .set_sip_credentials(
                &user.id,
                &secret.realm,
                &secret.ha1_md5,
                &secret.ha1_sha256,
                unix_millis(SystemTime::now()),
            )
            .await?;
        Ok(())
    }

    /// Every user's phone login, by username.
    pub async fn phone_logins(&self) -> Result<Vec<PhoneLogin>, UserError> {
        let users = self.store.list_users().await?;
        let credentials = self.store.all_sip_credentials().await?;
        let bindings = self
            .store
            .live_bindings(unix_millis(SystemTime::now()))
            .await?;
        Ok(users
            .into_iter()
            .map(|user| {
                let mut phones: Vec<_> = bindings
                    .iter()
                    .filter(|binding| binding.user_id == user.id)
                    .collect();
                phones.sort_by_key(|binding| std::cmp::Reverse(binding.registered_at));
                PhoneLogin {
                    has_credentials: credentials.iter().any(|c| c.user_id == user.id),
                    phones: phones.iter().map(|b| b.contact.clone()).collect(),
                    username: user.username,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn secret() -> PhoneSecret {
        PhoneSecret {
            realm: "hotline".to_string(),
            ha1_md5: "a".repeat(32),
            ha1_sha256: "b".repeat(64),
        }
    }

    #[tokio::test]
    async fn call_takers_get_phone_credentials_and_administrators_do_not() {
        let store = testing::sqlite().await;
        let users = Users::new(store.clone());
        users
            .add("zhang", None, Role::Operator, "password1")
            .await
            .expect("add");
        users
            .add("root", None, Role::Admin, "password1")
            .await
            .expect("add");
        users
            .set_phone_secret("zhang", &secret())
            .await
            .expect("set");
        assert!(matches!(
            users.set_phone_secret("root", &secret()).await,
            Err(UserError::TakesNoCalls { .. })
        ));
        assert!(matches!(
            users.set_phone_secret("nobody", &secret()).await,
            Err(UserError::NotFound { .. })
        ));
        let logins = users.phone_logins().await.expect("logins");
        let flags: Vec<(&str, bool)> = logins
            .iter()
            .map(|l| (l.username.as_str(), l.has_credentials))
            .collect();
        assert_eq!(flags, [("root", false), ("zhang", true)]);
        let stored = store
            .sip_credentials("zhang")
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.ha1_sha256, "b".repeat(64));
        assert!(
            !format!("{:?}", secret()).contains("aaaa"),
            "digests stay out of logs"
        );
    }

    #[test]
    fn a_short_phone_password_is_refused() {
        assert!(matches!(
            check_phone_password("short"),
            Err(UserError::PasswordTooShort { .. })
        ));
        assert!(check_phone_password("long enough").is_ok());
    }
}

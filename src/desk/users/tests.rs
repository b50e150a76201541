//! Tests of users, roles and logins on the real store.

use super::*;
use crate::store::testing;

const TTL: Duration = Duration::from_secs(3600);

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

#[test]
fn roles_rank_parse_and_serialize_in_snake_case() {
    assert!(Role::Admin.at_least(Role::Supervisor));
    assert!(Role::Supervisor.at_least(Role::Operator));
    assert!(!Role::Operator.at_least(Role::Supervisor));
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>().expect("parse"), role);
        assert_eq!(
            serde_json::to_string(&role).expect("json"),
            format!("\"{}\"", role.as_str())
        );
    }
    assert_eq!(Role::Operator.label(), "热线接线员");
    assert!(matches!(
        "root".parse::<Role>(),
        Err(UserError::UnknownRole { .. })
    ));
}

#[test]
fn usernames_and_passwords_are_checked() {
    assert!(check_username("zhang.san").is_ok());
    assert!(check_username("张三").is_ok());
    assert!(check_username("").is_err());
    assert!(check_username("zhang san").is_err());
    assert!(check_username(&"x".repeat(65)).is_err());
    assert!(matches!(
        check_password("1234567"),
        Err(UserError::PasswordTooShort { min: 8 })
    ));
    assert!(check_password("12345678").is_ok());
    assert!(check_password("密码密码密码密码").is_ok());
    assert!(matches!(
        check_password(&"x".repeat(257)),
        Err(UserError::PasswordTooLong { .. })
    ));
    assert!(is_token_shaped(&"ab".repeat(32)));
    assert!(!is_token_shaped(&"zz".repeat(32)));
    assert!(!is_token_shaped("short"));
}

#[tokio::test]
async fn a_user_logs_in_and_the_token_names_them_on_both_engines() {
    for store in testing::stores().await {
        let users = Users::new(store.clone());
        let added = users
            .add("zhang", Some("张三"), Role::Operator, "correct horse")
            .await
            .expect("add");
        assert_eq!((added.role, added.disabled), (Role::Operator, false));
        let session = users
            .login("zhang", "correct horse", TTL, at(0))
            .await
            .expect("login");
        assert_eq!(session.token.len(), 64);
        assert_eq!(session.expires_at.timestamp(), 1_700_003_600);
        let row = store
            .user_by_name("zhang")
            .await
            .expect("get")
            .expect("present");
        assert!(
            row.password_hash.starts_with("$argon2id$"),
            "{}",
            row.password_hash
        );
        let who = users
            .authenticate(&session.token, at(10))
            .await
            .expect("auth");
        assert_eq!(who, session.user);
        assert_eq!(who.role, Role::Operator);
        assert!(
            store
                .token_owner(&session.token)
                .await
                .expect("raw")
                .is_none()
        );
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let users = Users::new(testing::sqlite().await);
    users
        .add("zhang", None, Role::Operator, "correct horse")
        .await
        .expect("add");
    let wrong = users
        .login("zhang", "wrong horse", TTL, at(0))
        .await
        .unwrap_err();
    let unknown = users
        .login("li", "correct horse", TTL, at(0))
        .await
        .unwrap_err();
    let blank = users
        .login("", "correct horse", TTL, at(0))
        .await
        .unwrap_err();
    for err in [wrong, unknown, blank] {
        assert!(matches!(err, UserError::InvalidCredentials), "{err}");
    }
}

#[tokio::test]
async fn a_token_expires_after_its_ttl() {
    let users = Users::new(testing::sqlite().await);
    users
        .add("zhang", None, Role::Operator, "correct horse")
        .await
        .expect("add");
    let session = users
        .login("zhang", "correct horse", TTL, at(0))
        .await
        .expect("login");
    assert!(users.authenticate(&session.token, at(3599)).await.is_ok());
    let err = users
        .authenticate(&session.token, at(3600))
        .await
        .unwrap_err();
    assert!(matches!(err, UserError::TokenExpired), "{err}");
    let err = users
        .authenticate(&"00".repeat(32), at(0))
        .await
        .unwrap_err();
    assert!(matches!(err, UserError::InvalidToken), "{err}");
}

#[tokio::test]
async fn a_new_password_ends_sessions_and_the_old_one_stops_working() {
    let users = Users::new(testing::sqlite().await);
    users
        .add("zhang", None, Role::Operator, "correct horse")
        .await
        .expect("add");
    let session = users
        .login("zhang", "correct horse", TTL, at(0))
        .await
        .expect("login");
    let err = users.set_password("zhang", "short").await.unwrap_err();
    assert!(matches!(err, UserError::PasswordTooShort { .. }), "{err}");
    users
        .set_password("zhang", "battery staple")
        .await
        .expect("passwd");
    assert!(users.authenticate(&session.token, at(1)).await.is_err());
    assert!(
        users
            .login("zhang", "correct horse", TTL, at(2))
            .await
            .is_err()
    );
    assert!(
        users
            .login("zhang", "battery staple", TTL, at(2))
            .await
            .is_ok()
    );
    let err = users
        .set_password("li", "battery staple")
        .await
        .unwrap_err();
    assert!(matches!(err, UserError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn a_taken_username_and_a_short_password_are_refused() {
    let users = Users::new(testing::sqlite().await);
    users
        .add("zhang", None, Role::Operator, "correct horse")
        .await
        .expect("add");
    let err = users
        .add("zhang", None, Role::Admin, "correct horse")
        .await
        .unwrap_err();
    assert!(matches!(err, UserError::UsernameTaken { .. }), "{err}");
    let err = users
        .add("li", None, Role::Admin, "short")
        .await
        .unwrap_err();
    assert!(matches!(err, UserError::PasswordTooShort { .. }), "{err}");
    let names: Vec<_> = users
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["zhang"]);
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_and_loses_their_sessions() {
    let users = Users::new(testing::sqlite().await);
    users
        .add("boss", None, Role::Admin, "correct horse")
        .await
        .expect("add");
    users
        .add("zhang", None, Role::Operator, "correct horse")
        .await
        .expect("add");
    let session = users
        .login("zhang", "correct horse", TTL, at(0))
        .await
        .expect("login");
    let disable = UserChanges {
        disabled: Some(true),
        ..UserChanges::default()
    };
    assert!(
        users
            .update("zhang", &disable)
            .await
            .expect("disable")
            .disabled
    );
    assert!(users.authenticate(&session.token, at(1)).await.is_err());
    let err = users
        .login("zhang", "correct horse", TTL, at(2))
        .await
        .unwrap_err();
    assert!(matches!(err, UserError::Disabled { .. }), "{err}");
}

#[tokio::test]
async fn the_last_enabled_admin_can_be_neither_demoted_nor_disabled() {
    let users = Users::new(testing::sqlite().await);
    users
        .add("boss", None, Role::Admin, "correct horse")
        .await
        .expect("add");
    let demote = UserChanges {
        role: Some(Role::Operator),
        ..UserChanges::default()
    };
    let disable = UserChanges {
        disabled: Some(true),
        ..UserChanges::default()
    };
    for changes in [&demote, &disable] {
        let err = users.update("boss", changes).await.unwrap_err();
        assert!(matches!(err, UserError::LastAdmin { .. }), "{err}");
    }
    users
        .add("deputy", None, Role::Admin, "correct horse")
        .await
        .expect("add");
    let boss = users.update("boss", &demote).await.expect("demote");
    assert_eq!(boss.role, Role::Operator);
}

#[tokio::test]
async fn a_refused_change_changes_nothing() {
    let users = Users::new(testing::sqlite().await);
    users
        .add("zhang", None, Role::Operator, "correct horse")
        .await
        .expect("add");
    let changes = UserChanges {
        role: Some(Role::Supervisor),
        password: Some("short".into()),
        ..UserChanges::default()
    };
    assert!(users.update("zhang", &changes).await.is_err());
    assert_eq!(users.get("zhang").await.expect("get").role, Role::Operator);
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let users = Users::new(testing::sqlite().await);
    users
        .add("zhang", None, Role::Operator, "correct horse")
        .await
        .expect("add");
    let session = users
        .login("zhang", "correct horse", TTL, at(0))
        .await
        .expect("login");
    users.logout(&session.token).await.expect("logout");
    assert!(users.authenticate(&session.token, at(1)).await.is_err());
    users.logout("not a token").await.expect("harmless");
}

//! An administrator's edits of one person of the archive: the name, a
//! phone added or removed, a residence set or removed. Reads the input as
//! the import does (numbers normalised, rooms parsed, roles by code).
//!
//! Owns those checks; knows nothing of SQL or HTTP.

use thiserror::Error;

use super::Role;
use crate::desk::{AreaCode, PhoneError, RoomAddress, RoomError, normalise};
use crate::store::{StagedPhone, Store, StoreError};

/// Why an edit was refused.
#[derive(Debug, Error)]
pub enum EditError {
    #[error("no person `{id}`")]
    UnknownPerson { id: String },
    #[error("the name must not be empty")]
    EmptyName,
    #[error("unknown role `{role}` (owner, tenant, household)")]
    UnknownRole { role: String },
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error(transparent)]
    Room(#[from] RoomError),
    /// The change would make the person the same as another one of the
    /// archive (same community, name and identity).
    #[error("another person of the archive already has this name and identity")]
    Duplicate,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EditError {
    fn from(err: StoreError) -> EditError {
        match err {
            StoreError::NotFound { id, .. } => EditError::UnknownPerson { id },
            StoreError::Query(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                EditError::Duplicate
            }
            other => EditError::Store(other),
        }
    }
}

/// Gives a person another name (trimmed, not empty).
pub async fn rename_person(store: &Store, id: &str, name: &str) -> Result<(), EditError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(EditError::EmptyName);
    }
    Ok(store.archive_rename_person(id, name).await?)
}

/// Adds a phone; returns whether the person did not have it yet.
pub async fn add_phone(
    store: &Store,
    id: &str,
    raw: &str,
    area: Option<&AreaCode>,
) -> Result<bool, EditError> {
    let phone = normalise(raw, area)?;
    let staged = StagedPhone {
        number: phone.number().to_owned(),
        extension: phone.extension().unwrap_or_default().to_owned(),
        kind: phone.kind().code().to_owned(),
        raw: raw.trim().to_owned(),
    };
    Ok(store.archive_add_phone(id, &staged).await?)
}

/// Removes a phone by its number, however written; returns whether the
/// person had it.
pub async fn remove_phone(
    store: &Store,
    id: &str,
    raw: &str,
    area: Option<&AreaCode>,
) -> Result<bool, EditError> {
    let phone = normalise(raw, area)?;
    Ok(store.archive_remove_phone(id, phone.number()).await? > 0)
}

/// Puts a person in a room of their community with a role and a note.
pub async fn set_residence(
    store: &Store,
    id: &str,
    room: &str,
    role: &str,
    note: &str,
) -> Result<(), EditError> {
    let address = RoomAddress::parse(room)?;
    let role = Role::from_code(role.trim()).ok_or_else(|| EditError::UnknownRole {
        role: role.to_owned(),
    })?;
    Ok(store
        .archive_set_residence(
            id,
            address.building(),
            i64::from(address.entrance().unwrap_or(0)),
            address.room(),
            role.code(),
            note.trim(),
        )
        .await?)
}

/// Takes a person out of a room; returns whether they lived there.
pub async fn remove_residence(store: &Store, id: &str, room: &str) -> Result<bool, EditError> {
    let address = RoomAddress::parse(room)?;
    Ok(store
        .archive_remove_residence(
            id,
            address.building(),
            i64::from(address.entrance().unwrap_or(0)),
            address.room(),
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::stores;

    #[tokio::test]
    async fn renaming_onto_another_persons_identity_is_a_duplicate_on_both_engines() {
        for store in stores().await {
            store
                .upsert_community("JF", "金福花园", &[])
                .await
                .expect("community");
            store.insert_test_person("张三").await.expect("first");
            let second = store.insert_test_person("李四").await.expect("second");
            let err = rename_person(&store, &second, "张三").await.unwrap_err();
            assert!(matches!(err, EditError::Duplicate), "{err:?}");
            rename_person(&store, &second, "李肆")
                .await
                .expect("a free name");
        }
    }
}

//! Edits of single archive records by an administrator: a person's name,
//! their phones and their residences. Each is one statement or one short
//! transaction; an unknown person is [`StoreError::NotFound`].
//!
//! Knows the columns only: what a role, a number or a room means is the
//! desk's business. A residence's room is in the person's own community
//! (a person is identified within one community).

use sqlx::{Any, Row, Transaction};

use super::{StagedPhone, Store, StoreError};

/// `archive_phones.source` of a phone added by hand.
const MANUAL_SOURCE: &str = "manual";

fn unknown_person(id: &str) -> StoreError {
    StoreError::NotFound {
        entity: "person",
        id: id.to_owned(),
    }
}

fn now() -> i64 {
    super::unix_millis(std::time::SystemTime::now())
}

/// The community id of a person, or not found.
async fn person_community(
    tx: &mut Transaction<'static, Any>,
    person_id: &str,
) -> Result<String, StoreError> {
    let row = sqlx::query("SELECT community_id FROM archive_people WHERE id = $1")
        .bind(person_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| unknown_person(person_id))?;
    Ok(row.try_get("community_id")?)
}

impl Store {
    /// Gives a person another name.
    pub async fn archive_rename_person(
        &self,
        person_id: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE archive_people SET name = $2 WHERE id = $1")
            .bind(person_id)
            .bind(name)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(unknown_person(person_id));
        }
        Ok(())
    }

    /// Adds a phone to a person; a phone they already have (same number
    /// and extension) is left as it is. Returns whether it was added.
    pub async fn archive_add_phone(
        &self,
        person_id: &str,
        phone: &StagedPhone,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        person_community(&mut tx, person_id).await?;
        let done = sqlx::query(
            "INSERT INTO archive_phones \
             (id, person_id, number, extension, kind, raw, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (person_id, number, extension) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(person_id)
        .bind(&phone.number)
        .bind(&phone.extension)
        .bind(&phone.kind)
        .bind(&phone.raw)
        .bind(MANUAL_SOURCE)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes a person's phones with this number (every extension).
    /// Returns how many were removed.
    pub async fn archive_remove_phone(
        &self,
        person_id: &str,
        number: &str,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        person_community(&mut tx, person_id).await?;
        let done = sqlx::query("DELETE FROM archive_phones WHERE person_id = $1 AND number = $2")
            .bind(person_id)
            .bind(number)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Puts a person in a room of their community (the room is made when
    /// new) with this role and note; an existing residence takes them.
    pub async fn archive_set_residence(
        &self,
        person_id: &str,
        building: &str,
        entrance: i64,
        room: &str,
        role: &str,
        note: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let community_id = person_community(&mut tx, person_id).await?;
        let now = now();
        sqlx::query(
            "INSERT INTO archive_rooms (id, community_id, building, entrance, room, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (community_id, building, entrance, room) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&community_id)
        .bind(building)
        .bind(entrance)
        .bind(room)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO archive_residences (person_id, room_id, role, note, updated_at) \
             SELECT $1, r.id, $2, $3, $4 FROM archive_rooms r \
             WHERE r.community_id = $5 AND r.building = $6 AND r.entrance = $7 AND r.room = $8 \
             ON CONFLICT (person_id, room_id) DO UPDATE \
             SET role = excluded.role, note = excluded.note, updated_at = excluded.updated_at",
        )
        .bind(person_id)
        .bind(role)
        .bind(note)
        .bind(now)
        .bind(&community_id)
        .bind(building)
        .bind(entrance)
        .bind(room)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes a person out of a room of their community. Returns whether
    /// they lived there.
    pub async fn archive_remove_residence(
        &self,
        person_id: &str,
        building: &str,
        entrance: i64,
        room: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let community_id = person_community(&mut tx, person_id).await?;
        let done = sqlx::query(
            "DELETE FROM archive_residences WHERE person_id = $1 AND room_id IN \
             (SELECT r.id FROM archive_rooms r WHERE r.community_id = $2 \
              AND r.building = $3 AND r.entrance = $4 AND r.room = $5)",
        )
        .bind(person_id)
        .bind(&community_id)
        .bind(building)
        .bind(entrance)
        .bind(room)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
impl Store {
    /// A person of community `JF` (which must exist) with no room or phone
    /// and the identity `room:x`, straight into the table.
    pub(crate) async fn insert_test_person(&self, name: &str) -> Result<String, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO archive_people (id, community_id, name, identity, created_at) \
             SELECT $1, id, $2, 'room:x', 0 FROM archive_communities WHERE code = 'JF'",
        )
        .bind(&id)
        .bind(name)
        .execute(self.pool())
        .await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::testing::stores;
    use crate::store::{RoomQuery, StagedPhone, Store, StoreError};

    async fn person(store: &Store) -> String {
        store
            .upsert_community("JF", "金福花园", &[])
            .await
            .expect("community");
        store.insert_test_person("张三").await.expect("a person")
    }

    fn mobile() -> StagedPhone {
        StagedPhone {
            number: "+8613812345678".into(),
            extension: String::new(),
            kind: "mobile".into(),
            raw: "13812345678".into(),
        }
    }

    fn room_1201() -> RoomQuery<'static> {
        RoomQuery {
            building: "3",
            entrance: 2,
            room: "1201",
            community_code: Some("JF"),
        }
    }

    #[tokio::test]
    async fn a_person_is_renamed_and_an_unknown_one_is_not_found() {
        for store in stores().await {
            let id = person(&store).await;
            store
                .archive_rename_person(&id, "张叁")
                .await
                .expect("rename");
            let found = store.archive_by_name("张叁", None).await.expect("by name");
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].id, id);
            let err = store.archive_rename_person("nobody", "x").await;
            assert!(matches!(err, Err(StoreError::NotFound { .. })), "{err:?}");
        }
    }

    #[tokio::test]
    async fn phones_are_added_once_and_removed_by_number() {
        for store in stores().await {
            let id = person(&store).await;
            assert!(store.archive_add_phone(&id, &mobile()).await.expect("add"));
            assert!(
                !store
                    .archive_add_phone(&id, &mobile())
                    .await
                    .expect("again")
            );
            let found = store
                .archive_by_phone("+8613812345678")
                .await
                .expect("by phone");
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].phones[0].source, "manual");
            assert_eq!(
                store
                    .archive_remove_phone(&id, "+8613812345678")
                    .await
                    .expect("remove"),
                1
            );
            assert!(
                store
                    .archive_by_phone("+8613812345678")
                    .await
                    .expect("by phone")
                    .is_empty()
            );
            assert_eq!(
                store
                    .archive_remove_phone(&id, "+8613812345678")
                    .await
                    .expect("gone"),
                0
            );
            for err in [
                store
                    .archive_add_phone("nobody", &mobile())
                    .await
                    .map(|_| ()),
                store
                    .archive_remove_phone("nobody", "+86")
                    .await
                    .map(|_| ()),
            ] {
                assert!(matches!(err, Err(StoreError::NotFound { .. })), "{err:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_residence_is_set_updated_and_removed() {
        for store in stores().await {
            let id = person(&store).await;
            store
                .archive_set_residence(&id, "3", 2, "1201", "owner", "")
                .await
                .expect("set");
            store
                .archive_set_residence(&id, "3", 2, "1201", "tenant", "租期至2026年")
                .await
                .expect("update");
            let found = store.archive_by_room(room_1201()).await.expect("by room");
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].residences.len(), 1);
            assert_eq!(found[0].residences[0].role, "tenant");
            assert_eq!(found[0].residences[0].note, "租期至2026年");
            assert!(
                store
                    .archive_remove_residence(&id, "3", 2, "1201")
                    .await
                    .expect("remove")
            );
            assert!(
                !store
                    .archive_remove_residence(&id, "3", 2, "1201")
                    .await
                    .expect("gone")
            );
            assert!(
                store
                    .archive_by_room(room_1201())
                    .await
                    .expect("by room")
                    .is_empty()
            );
            let err = store
                .archive_set_residence("nobody", "3", 2, "1201", "owner", "")
                .await;
            assert!(matches!(err, Err(StoreError::NotFound { .. })), "{err:?}");
        }
    }
}

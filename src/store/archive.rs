//! The owner archive's tables (`migrations/0003_archive.sql`): communities,
//! rooms, people, residences and phones; lookups by phone, room and name;
//! the export in pages. The import is `archive_import`.
//!
//! Knows the identity keys only as opaque columns: what a role, an identity
//! or a canonical room means is the desk's business.

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};

/// Most people a lookup returns (a common name must not flood the screen).
pub const LOOKUP_LIMIT: i64 = 50;
/// Length of the hash part of a code made for a community that comes only
/// from an import file (`C` + 7 hex digits: 8 characters, the code limit).
const DERIVED_CODE_HEX: usize = 7;
/// Separator of hotline numbers in `archive_communities.numbers`.
const NUMBER_SEPARATOR: char = ',';

/// A community as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveCommunity {
    pub id: String,
    pub code: String,
    pub name: String,
    pub numbers: Vec<String>,
}

/// A person in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveResidence {
    pub building: String,
    pub entrance: i64,
    pub room: String,
    pub role: String,
    pub note: String,
}

/// A person's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivePhone {
    pub number: String,
    pub extension: String,
    pub kind: String,
    pub raw: String,
    pub source: String,
}

/// A person with their rooms and phones, as lookups return them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivePerson {
    pub id: String,
    pub name: String,
    pub community_code: String,
    pub community_name: String,
    pub residences: Vec<ArchiveResidence>,
    pub phones: Vec<ArchivePhone>,
}

/// A room address as lookups take it; `entrance` 0 matches any entrance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomQuery<'a> {
    pub building: &'a str,
    pub entrance: i64,
    pub room: &'a str,
    pub community_code: Option<&'a str>,
}

/// One residence as exported, with the first phone of each column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub community: String,
    pub building: String,
    pub entrance: i64,
    pub room: String,
    pub name: String,
    pub role: String,
    pub mobile: Option<String>,
    pub phone: Option<String>,
    pub note: String,
}

/// Where the next export page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportCursor {
    room_id: String,
    person_id: String,
}

pub(super) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn join_numbers(numbers: &[String]) -> String {
    numbers.join(&NUMBER_SEPARATOR.to_string())
}

fn split_numbers(numbers: &str) -> Vec<String> {
    numbers
        .split(NUMBER_SEPARATOR)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `C` and the first hex digits of SHA-256 of the name: stable across
/// imports, valid as a community code (upper-case letters and digits).
pub(super) fn derived_code(name: &str) -> String {
    let digest = hex::encode_upper(Sha256::digest(name.as_bytes()));
    format!("C{}", &digest[..DERIVED_CODE_HEX])
}

impl Store {
    /// Creates or updates a community from the configuration. A community
    /// that an import created under the same name (with a derived code)
    /// takes the configured code. Returns its id.
    pub async fn upsert_community(
        &self,
        code: &str,
        name: &str,
        numbers: &[String],
    ) -> Result<String, StoreError> {
        let mut tx = self.pool().begin().await?;
        let numbers = join_numbers(numbers);
        let existing = sqlx::query(
            "SELECT id FROM archive_communities WHERE code = $1 OR name = $2 \
             ORDER BY CASE WHEN code = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(code)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let id = match existing {
            Some(row) => {
                let id: String = row.try_get("id")?;
                sqlx::query(
                    "UPDATE archive_communities SET code = $2, name = $3, numbers = $4 \
                     WHERE id = $1",
                )
                .bind(&id)
                .bind(code)
                .bind(name)
                .bind(&numbers)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => {
                let id = new_id();
                insert_community(&mut tx, &id, code, name, &numbers, self_now()).await?;
                id
            }
        };
        tx.commit().await?;
        Ok(id)
    }

    /// Every community, by code.
    pub async fn communities(&self) -> Result<Vec<ArchiveCommunity>, StoreError> {
        let rows =
            sqlx::query("SELECT id, code, name, numbers FROM archive_communities ORDER BY code")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|row| {
                Ok(ArchiveCommunity {
                    id: row.try_get("id")?,
                    code: row.try_get("code")?,
                    name: row.try_get("name")?,
                    numbers: split_numbers(&row.try_get::<String, _>("numbers")?),
                })
            })
            .collect()
    }

    /// The people who have this number (E.164 or service digits): one
    /// query, on the index of `archive_phones.number`.
    pub async fn archive_by_phone(&self, number: &str) -> Result<Vec<ArchivePerson>, StoreError> {
        let rows = sqlx::query(&people_query(
            "SELECT f.person_id FROM archive_phones f WHERE f.number = $1",
        ))
        .bind(number)
        .fetch_all(self.pool())
        .await?;
        people_from_rows(&rows)
    }

    /// The people living in a room.
    pub async fn archive_by_room(
        &self,
        query: RoomQuery<'_>,
    ) -> Result<Vec<ArchivePerson>, StoreError> {
        let rows = sqlx::query(&people_query(
            "SELECT x.person_id FROM archive_rooms r \
             JOIN archive_residences x ON x.room_id = r.id \
             JOIN archive_communities c ON c.id = r.community_id \
             WHERE r.room = $1 AND r.building = $2 AND ($3 = 0 OR r.entrance = $3) \
             AND ($4 = '' OR c.code = $4)",
        ))
        .bind(query.room)
        .bind(query.building)
        .bind(query.entrance)
        .bind(query.community_code.unwrap_or(""))
        .fetch_all(self.pool())
        .await?;
        people_from_rows(&rows)
    }

    /// The people of that exact name.
    pub async fn archive_by_name(
        &self,
        name: &str,
        community_code: Option<&str>,
    ) -> Result<Vec<ArchivePerson>, StoreError> {
        let rows = sqlx::query(&people_query(
            "SELECT p2.id FROM archive_people p2 \
             JOIN archive_communities c2 ON c2.id = p2.community_id \
             WHERE p2.name = $1 AND ($2 = '' OR c2.code = $2)",
        ))
        .bind(name)
        .bind(community_code.unwrap_or(""))
        .fetch_all(self.pool())
        .await?;
        people_from_rows(&rows)
    }

    /// The next `limit` residences after `cursor`, in room order, and the
    /// cursor after them (`None` at the end).
    pub async fn archive_export_page(
        &self,
        cursor: &ExportCursor,
        limit: i64,
    ) -> Result<(Vec<ExportRow>, Option<ExportCursor>), StoreError> {
        let rows = sqlx::query(
            "SELECT x.room_id, x.person_id, c.name AS community, r.building, r.entrance, \
             r.room, p.name, x.role, x.note, \
             (SELECT g.raw FROM archive_phones g WHERE g.person_id = x.person_id \
              AND g.source = 'mobile' ORDER BY g.id LIMIT 1) AS mobile, \
             (SELECT g.raw FROM archive_phones g WHERE g.person_id = x.person_id \
              AND g.source = 'phone' ORDER BY g.id LIMIT 1) AS phone \
             FROM archive_residences x \
             JOIN archive_rooms r ON r.id = x.room_id \
             JOIN archive_people p ON p.id = x.person_id \
             JOIN archive_communities c ON c.id = r.community_id \
             WHERE (x.room_id, x.person_id) > ($1, $2) \
             ORDER BY x.room_id, x.person_id LIMIT $3",
        )
        .bind(&cursor.room_id)
        .bind(&cursor.person_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let next = match rows.last() {
            Some(last) if i64::try_from(rows.len()).unwrap_or(i64::MAX) >= limit => {
                Some(ExportCursor {
                    room_id: last.try_get("room_id")?,
                    person_id: last.try_get("person_id")?,
                })
            }
            _ => None,
        };
        let page = rows
            .iter()
            .map(|row| {
                Ok(ExportRow {
                    community: row.try_get("community")?,
                    building: row.try_get("building")?,
                    entrance: row.try_get("entrance")?,
                    room: row.try_get("room")?,
                    name: row.try_get("name")?,
                    role: row.try_get("role")?,
                    mobile: row.try_get("mobile")?,
                    phone: row.try_get("phone")?,
                    note: row.try_get("note")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok((page, next))
    }
}

/// The time for rows made outside an import.
fn self_now() -> i64 {
    super::unix_millis(std::time::SystemTime::now())
}

pub(super) async fn insert_community(
    conn: &mut AnyConnection,
    id: &str,
    code: &str,
    name: &str,
    numbers: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO archive_communities (id, code, name, numbers, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(code)
    .bind(name)
    .bind(numbers)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// People whose id is in `ids` (a subquery with its own parameters), with
/// their residences and phones, one row per (person, residence, phone).
fn people_query(ids: &str) -> String {
    format!(
        "SELECT p.id AS person_id, p.name AS name, c.code AS community_code, \
         c.name AS community_name, r.building, r.entrance, r.room, x.role, x.note, \
         g.number, g.extension, g.kind, g.raw, g.source \
         FROM archive_people p \
         JOIN archive_communities c ON c.id = p.community_id \
         LEFT JOIN archive_residences x ON x.person_id = p.id \
         LEFT JOIN archive_rooms r ON r.id = x.room_id \
         LEFT JOIN archive_phones g ON g.person_id = p.id \
         WHERE p.id IN ({ids} LIMIT {LOOKUP_LIMIT}) \
         ORDER BY p.name, p.id, r.building, r.entrance, r.room, g.id"
    )
}

fn people_from_rows(rows: &[AnyRow]) -> Result<Vec<ArchivePerson>, StoreError> {
    let mut people: Vec<ArchivePerson> = Vec::new();
    for row in rows {
        let id: String = row.try_get("person_id")?;
        if people.last().is_none_or(|p| p.id != id) {
            people.push(ArchivePerson {
                id,
                name: row.try_get("name")?,
                community_code: row.try_get("community_code")?,
                community_name: row.try_get("community_name")?,
                residences: Vec::new(),
                phones: Vec::new(),
            });
        }
        let person = people.last_mut().expect("pushed above when absent");
        if let Some(building) = row.try_get::<Option<String>, _>("building")? {
            let residence = ArchiveResidence {
                building,
                entrance: row.try_get::<Option<i64>, _>("entrance")?.unwrap_or(0),
                room: row
                    .try_get::<Option<String>, _>("room")?
                    .unwrap_or_default(),
                role: row
                    .try_get::<Option<String>, _>("role")?
                    .unwrap_or_default(),
                note: row
                    .try_get::<Option<String>, _>("note")?
                    .unwrap_or_default(),
            };
            if !person.residences.contains(&residence) {
                person.residences.push(residence);
            }
        }
        if let Some(number) = row.try_get::<Option<String>, _>("number")? {
            let phone = ArchivePhone {
                number,
                extension: row
                    .try_get::<Option<String>, _>("extension")?
                    .unwrap_or_default(),
                kind: row
                    .try_get::<Option<String>, _>("kind")?
                    .unwrap_or_default(),
                raw: row.try_get::<Option<String>, _>("raw")?.unwrap_or_default(),
                source: row
                    .try_get::<Option<String>, _>("source")?
                    .unwrap_or_default(),
            };
            if !person.phones.contains(&phone) {
                person.phones.push(phone);
            }
        }
    }
    Ok(people)
}

//! The owner archive's import (`hotline archive import`): rows staged in
//! chunks inside one transaction, then conflicts found and the archive
//! upserted set-wise; committed or rolled back whole.
//!
//! Knows the identity keys only as opaque columns, like `archive`.

use std::collections::HashMap;

use sqlx::{Any, Executor, Row, Transaction};

use super::archive::{derived_code, insert_community, new_id};
use super::{Engine, Store, StoreError};

/// Rows per INSERT into the staging table. The rows are SQL literals, not
/// bound parameters: through sqlx's `Any` driver binding cost grows faster
/// than the parameters of a statement (500 bound rows a statement took 44 s
/// for 100,000 rows, one bound row a statement 3.8 s).
const STAGE_CHUNK: usize = 500;
/// Columns of a staged row.
const STAGE_COLUMNS: usize = 23;
/// Fresh ids per staged row: room, person, mobile, phone.
const STAGED_IDS: usize = 4;
/// SQLite page cache of the import's connection, in KiB, while it runs
/// (the default is 2,000 KiB): the staging rows, their index and the
/// archive's indexes are touched in no useful order, and a cache this size
/// keeps the hot pages of a 1,000,000-row import. Bounded, whatever the
/// file's size.
const IMPORT_CACHE_KIB: i64 = 65_536;

/// A phone as staged for the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPhone {
    /// E.164 or the service number's digits.
    pub number: String,
    /// `""` when none.
    pub extension: String,
    /// `mobile`, `landline`, `service`, `international`.
    pub kind: String,
    /// As received.
    pub raw: String,
}

/// One valid row of an import file, read and normalised by the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedRow {
    /// Row number in the file (the header is a row too).
    pub row_no: i64,
    pub community_id: String,
    pub building: String,
    /// 0 = none.
    pub entrance: i64,
    pub room: String,
    pub name: String,
    /// The person's identity key beside community and name.
    pub identity: String,
    pub role: String,
    pub note: String,
    /// From the 手机 column.
    pub mobile: Option<StagedPhone>,
    /// From the 电话 column.
    pub phone: Option<StagedPhone>,
    /// The file's fields, for the rejected file should the row conflict.
    pub record: Vec<String>,
}

/// How many staged rows ended which way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub conflicts: u64,
}

/// A staged row that contradicts an earlier row of the same person and room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictRow {
    pub row_no: i64,
    /// The earlier row it contradicts.
    pub first_row: i64,
    pub role: String,
    pub note: String,
    pub first_role: String,
    pub first_note: String,
    pub record: Vec<String>,
}

/// An import in progress: one transaction, committed or rolled back whole.
pub struct ArchiveImport {
    tx: Transaction<'static, Any>,
    /// SQLite: the connection's page cache before the import, restored
    /// when it ends.
    cache_size: Option<i64>,
    import_id: String,
    now: i64,
    buffer: Vec<StagedRow>,
    communities: HashMap<String, String>,
}

impl Store {
    /// Starts an import: everything it does is one transaction.
    pub async fn archive_import(&self, now: i64) -> Result<ArchiveImport, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut cache_size = None;
        if self.engine() == Engine::Sqlite {
            let before: i64 = sqlx::query("PRAGMA cache_size")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            (&mut *tx)
                .execute(format!("PRAGMA cache_size = -{IMPORT_CACHE_KIB}").as_str())
                .await?;
            cache_size = Some(before);
        }
        if self.engine() == Engine::Postgres {
            // The staged rows are standard string literals (see `push_text`):
            // a backslash in them must stay a backslash.
            (&mut *tx)
                .execute("SET LOCAL standard_conforming_strings = on")
                .await?;
        }
        Ok(ArchiveImport {
            tx,
            cache_size,
            import_id: new_id(),
            now,
            buffer: Vec::with_capacity(STAGE_CHUNK),
            communities: HashMap::new(),
        })
    }
}

type PhoneColumns = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// A staged phone as its four nullable staging columns.
fn split_phone(phone: Option<StagedPhone>) -> PhoneColumns {
    match phone {
        Some(p) => (Some(p.number), Some(p.extension), Some(p.kind), Some(p.raw)),
        None => (None, None, None, None),
    }
}

/// The staging INSERT up to its VALUES; rows follow, in column order.
const STAGE_INSERT: &str = "INSERT INTO archive_import_rows (import_id, row_no, community_id, \
     building, entrance, room, name, identity, role, note, mobile_number, mobile_ext, \
     mobile_kind, mobile_raw, phone_number, phone_ext, phone_kind, phone_raw, room_id, \
     person_id, mobile_id, phone_id, record) VALUES ";
/// A staged row's usual size as SQL text, to size the statement buffer.
const STAGE_ROW_BYTES: usize = 512;

/// Whether any text of the row holds a NUL, which no SQL literal can carry.
fn row_has_nul(row: &StagedRow) -> bool {
    let phone_has_nul = |p: &Option<StagedPhone>| {
        p.as_ref().is_some_and(|p| {
            [&p.number, &p.extension, &p.kind, &p.raw]
                .iter()
                .any(|t| t.contains('\0'))
        })
    };
    [
        &row.community_id,
        &row.building,
        &row.room,
        &row.name,
        &row.identity,
        &row.role,
        &row.note,
    ]
    .iter()
    .any(|t| t.contains('\0'))
        || row.record.iter().any(|t| t.contains('\0'))
        || phone_has_nul(&row.mobile)
        || phone_has_nul(&row.phone)
}

/// Appends `text` as a standard SQL string literal: quotes around, a quote
/// inside doubled, nothing else special (SQL:2016 Part 2, 5.3 <character
/// string literal>; SQLite and PostgreSQL with `standard_conforming_strings`,
/// which the import turns on for its transaction). The text has no NUL.
fn push_text(sql: &mut String, text: &str) {
    sql.push('\'');
    for (i, part) in text.split('\'').enumerate() {
        if i > 0 {
            sql.push_str("''");
        }
        sql.push_str(part);
    }
    sql.push('\'');
}

/// Appends a text literal or `NULL`.
fn push_optional_text(sql: &mut String, text: Option<&str>) {
    match text {
        Some(text) => push_text(sql, text),
        None => sql.push_str("NULL"),
    }
}

/// Appends one staged row as a parenthesised list of literals, in the
/// column order of [`STAGE_INSERT`]. The row has no NUL.
fn push_row_literal(sql: &mut String, import_id: &str, row: StagedRow) {
    use std::fmt::Write as _;
    sql.push('(');
    push_text(sql, import_id);
    write!(sql, ",{},", row.row_no).expect("writing to a String cannot fail");
    push_text(sql, &row.community_id);
    sql.push(',');
    push_text(sql, &row.building);
    write!(sql, ",{},", row.entrance).expect("writing to a String cannot fail");
    for text in [&row.room, &row.name, &row.identity, &row.role, &row.note] {
        push_text(sql, text);
        sql.push(',');
    }
    for phone in [&row.mobile, &row.phone] {
        let p = phone.as_ref();
        push_optional_text(sql, p.map(|p| p.number.as_str()));
        sql.push(',');
        push_optional_text(sql, p.map(|p| p.extension.as_str()));
        sql.push(',');
        push_optional_text(sql, p.map(|p| p.kind.as_str()));
        sql.push(',');
        push_optional_text(sql, p.map(|p| p.raw.as_str()));
        sql.push(',');
    }
    for _ in 0..STAGED_IDS {
        push_text(sql, &new_id());
        sql.push(',');
    }
    push_text(sql, &row.record.join(&RECORD_SEPARATOR.to_string()));
    sql.push(')');
}

/// Separates the fields of a staged record (ASCII unit separator).
const RECORD_SEPARATOR: char = '\u{1f}';

/// Outcomes written into `archive_import_rows.outcome`.
const CONFLICT: &str = "conflict";
const DUPLICATE: &str = "duplicate";
const INSERTED: &str = "inserted";
const UPDATED: &str = "updated";
const UNCHANGED: &str = "unchanged";

/// The set-wise steps of an import, in order. `$1` is the import id, `$2`
/// the time; `s` is `archive_import_rows`.
const APPLY_STEPS: &[&str] = &[
    // The first row of each (community, room, person) key.
    "UPDATE archive_import_rows SET first_row = (SELECT MIN(f.row_no) \
     FROM archive_import_rows f WHERE f.import_id = archive_import_rows.import_id \
     AND f.community_id = archive_import_rows.community_id \
     AND f.building = archive_import_rows.building \
     AND f.entrance = archive_import_rows.entrance AND f.room = archive_import_rows.room \
     AND f.name = archive_import_rows.name AND f.identity = archive_import_rows.identity) \
     WHERE import_id = $1 AND $2 = $2",
    // A later row of the same key that says otherwise conflicts.
    "UPDATE archive_import_rows SET outcome = 'conflict' WHERE import_id = $1 AND $2 = $2 \
     AND row_no <> first_row AND EXISTS (SELECT 1 FROM archive_import_rows f \
     WHERE f.import_id = archive_import_rows.import_id \
     AND f.row_no = archive_import_rows.first_row \
     AND (f.role <> archive_import_rows.role OR f.note <> archive_import_rows.note))",
    "UPDATE archive_import_rows SET outcome = 'duplicate' WHERE import_id = $1 AND $2 = $2 \
     AND row_no <> first_row AND outcome IS NULL",
    "INSERT INTO archive_rooms (id, community_id, building, entrance, room, created_at) \
     SELECT room_id, community_id, building, entrance, room, $2 FROM archive_import_rows \
     WHERE import_id = $1 AND outcome IS NULL \
     ON CONFLICT (community_id, building, entrance, room) DO NOTHING",
    "UPDATE archive_import_rows SET room_id = r.id FROM archive_rooms r \
     WHERE archive_import_rows.import_id = $1 AND $2 = $2 \
     AND r.community_id = archive_import_rows.community_id \
     AND r.building = archive_import_rows.building \
     AND r.entrance = archive_import_rows.entrance AND r.room = archive_import_rows.room",
    "INSERT INTO archive_people (id, community_id, name, identity, created_at) \
     SELECT person_id, community_id, name, identity, $2 FROM archive_import_rows \
     WHERE import_id = $1 AND outcome IS NULL \
     ON CONFLICT (community_id, name, identity) DO NOTHING",
    "UPDATE archive_import_rows SET person_id = p.id FROM archive_people p \
     WHERE archive_import_rows.import_id = $1 AND $2 = $2 \
     AND p.community_id = archive_import_rows.community_id \
     AND p.name = archive_import_rows.name AND p.identity = archive_import_rows.identity",
    // New residences, changed residences, new phones.
    "UPDATE archive_import_rows SET outcome = 'inserted' WHERE import_id = $1 AND $2 = $2 \
     AND outcome IS NULL AND NOT EXISTS (SELECT 1 FROM archive_residences x \
     WHERE x.person_id = archive_import_rows.person_id \
     AND x.room_id = archive_import_rows.room_id)",
    "UPDATE archive_import_rows SET outcome = 'updated' WHERE import_id = $1 AND $2 = $2 \
     AND outcome IS NULL AND EXISTS (SELECT 1 FROM archive_residences x \
     WHERE x.person_id = archive_import_rows.person_id \
     AND x.room_id = archive_import_rows.room_id \
     AND (x.role <> archive_import_rows.role OR x.note <> archive_import_rows.note))",
    "UPDATE archive_import_rows SET outcome = 'updated' WHERE import_id = $1 AND $2 = $2 \
     AND (outcome IS NULL OR outcome = 'duplicate') AND ( \
     (mobile_number IS NOT NULL AND NOT EXISTS (SELECT 1 FROM archive_phones g \
       WHERE g.person_id = archive_import_rows.person_id \
       AND g.number = archive_import_rows.mobile_number \
       AND g.extension = archive_import_rows.mobile_ext)) \
     OR (phone_number IS NOT NULL AND NOT EXISTS (SELECT 1 FROM archive_phones g \
       WHERE g.person_id = archive_import_rows.person_id \
       AND g.number = archive_import_rows.phone_number \
       AND g.extension = archive_import_rows.phone_ext)))",
    "UPDATE archive_import_rows SET outcome = 'unchanged' WHERE import_id = $1 AND $2 = $2 \
     AND (outcome IS NULL OR outcome = 'duplicate')",
    // Apply.
    "INSERT INTO archive_residences (person_id, room_id, role, note, updated_at) \
     SELECT person_id, room_id, role, note, $2 FROM archive_import_rows \
     WHERE import_id = $1 AND outcome = 'inserted'",
    "UPDATE archive_residences SET role = s.role, note = s.note, updated_at = $2 \
     FROM archive_import_rows s WHERE s.import_id = $1 AND s.outcome = 'updated' \
     AND s.row_no = s.first_row AND archive_residences.person_id = s.person_id \
     AND archive_residences.room_id = s.room_id",
    "INSERT INTO archive_phones (id, person_id, number, extension, kind, raw, source, created_at) \
     SELECT mobile_id, person_id, mobile_number, mobile_ext, mobile_kind, mobile_raw, 'mobile', $2 \
     FROM archive_import_rows WHERE import_id = $1 AND outcome <> 'conflict' \
     AND mobile_number IS NOT NULL ORDER BY row_no \
     ON CONFLICT (person_id, number, extension) DO NOTHING",
    "INSERT INTO archive_phones (id, person_id, number, extension, kind, raw, source, created_at) \
     SELECT phone_id, person_id, phone_number, phone_ext, phone_kind, phone_raw, 'phone', $2 \
     FROM archive_import_rows WHERE import_id = $1 AND outcome <> 'conflict' \
     AND phone_number IS NOT NULL ORDER BY row_no \
     ON CONFLICT (person_id, number, extension) DO NOTHING",
];

impl ArchiveImport {
    /// The id of the community named (or coded) `name_or_code`, created
    /// with a derived code when it is new.
    pub async fn community_id(&mut self, name_or_code: &str) -> Result<String, StoreError> {
        if let Some(id) = self.communities.get(name_or_code) {
            return Ok(id.clone());
        }
        let found = sqlx::query(
            "SELECT id FROM archive_communities WHERE name = $1 OR code = $1 \
             ORDER BY CASE WHEN name = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(name_or_code)
        .fetch_optional(&mut *self.tx)
        .await?;
        let id = match found {
            Some(row) => row.try_get("id")?,
            None => {
                let id = new_id();
                let code = derived_code(name_or_code);
                insert_community(&mut self.tx, &id, &code, name_or_code, "", self.now).await?;
                id
            }
        };
        self.communities.insert(name_or_code.to_owned(), id.clone());
        Ok(id)
    }

    /// Stages one valid row; rows go to the database in chunks.
    pub async fn stage(&mut self, row: StagedRow) -> Result<(), StoreError> {
        self.buffer.push(row);
        if self.buffer.len() >= STAGE_CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let mut sql = String::with_capacity(self.buffer.len() * STAGE_ROW_BYTES);
        sql.push_str(STAGE_INSERT);
        let mut literal_rows = 0;
        for row in std::mem::take(&mut self.buffer) {
            if row_has_nul(&row) {
                // A NUL cannot be written in a SQL literal (SQLite ends the
                // statement there): the row goes in bound, on its own.
                self.stage_bound(row).await?;
                continue;
            }
            if literal_rows > 0 {
                sql.push(',');
            }
            push_row_literal(&mut sql, &self.import_id, row);
            literal_rows += 1;
        }
        if literal_rows > 0 {
            // No arguments: neither engine prepares or caches the statement
            // (PostgreSQL runs it with the simple query protocol).
            (&mut *self.tx).execute(sql.as_str()).await?;
        }
        Ok(())
    }

    /// Stages one row with bound parameters (rows literals cannot carry).
    async fn stage_bound(&mut self, row: StagedRow) -> Result<(), StoreError> {
        let placeholders = (1..=STAGE_COLUMNS)
            .map(|c| format!("${c}"))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!("{STAGE_INSERT}({placeholders})");
        let (mobile, phone) = (split_phone(row.mobile), split_phone(row.phone));
        sqlx::query(&sql)
            .bind(self.import_id.clone())
            .bind(row.row_no)
            .bind(row.community_id)
            .bind(row.building)
            .bind(row.entrance)
            .bind(row.room)
            .bind(row.name)
            .bind(row.identity)
            .bind(row.role)
            .bind(row.note)
            .bind(mobile.0)
            .bind(mobile.1)
            .bind(mobile.2)
            .bind(mobile.3)
            .bind(phone.0)
            .bind(phone.1)
            .bind(phone.2)
            .bind(phone.3)
            .bind(new_id())
            .bind(new_id())
            .bind(new_id())
            .bind(new_id())
            .bind(row.record.join(&RECORD_SEPARATOR.to_string()))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Finds conflicts and applies the staged rows set-wise; returns what
    /// happened to them. The rows stay staged until [`Self::finish`].
    pub async fn apply(&mut self) -> Result<ImportCounts, StoreError> {
        self.flush().await?;
        for step in APPLY_STEPS {
            sqlx::query(step)
                .bind(&self.import_id)
                .bind(self.now)
                .execute(&mut *self.tx)
                .await?;
        }
        let rows = sqlx::query(
            "SELECT outcome, COUNT(*) AS n FROM archive_import_rows WHERE import_id = $1 \
             GROUP BY outcome",
        )
        .bind(&self.import_id)
        .fetch_all(&mut *self.tx)
        .await?;
        let mut counts = ImportCounts::default();
        for row in rows {
            let outcome: Option<String> = row.try_get("outcome")?;
            let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
            match outcome.as_deref() {
                Some(INSERTED) => counts.inserted += n,
                Some(UPDATED) => counts.updated += n,
                Some(UNCHANGED | DUPLICATE) => counts.unchanged += n,
                Some(CONFLICT) => counts.conflicts += n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Conflicting rows after `after_row`, at most `limit`, in row order.
    pub async fn conflicts(
        &mut self,
        after_row: i64,
        limit: i64,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.row_no, s.first_row, s.role, s.note, s.record, f.role AS first_role, \
             f.note AS first_note FROM archive_import_rows s \
             JOIN archive_import_rows f ON f.import_id = s.import_id AND f.row_no = s.first_row \
             WHERE s.import_id = $1 AND s.outcome = 'conflict' AND s.row_no > $2 \
             ORDER BY s.row_no LIMIT $3",
        )
        .bind(&self.import_id)
        .bind(after_row)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ConflictRow {
                    row_no: row.try_get("row_no")?,
                    first_row: row.try_get("first_row")?,
                    role: row.try_get("role")?,
                    note: row.try_get("note")?,
                    first_role: row.try_get("first_role")?,
                    first_note: row.try_get("first_note")?,
                    record: row
                        .try_get::<String, _>("record")?
                        .split(RECORD_SEPARATOR)
                        .map(str::to_owned)
                        .collect(),
                })
            })
            .collect()
    }

    /// Empties the staging rows and commits (`keep`) or rolls back
    /// everything (a dry run).
    pub async fn finish(mut self, keep: bool) -> Result<(), StoreError> {
        if keep {
            sqlx::query("DELETE FROM archive_import_rows WHERE import_id = $1")
                .bind(&self.import_id)
                .execute(&mut *self.tx)
                .await?;
        }
        if let Some(before) = self.cache_size {
            // Back to the pool as it came out of it.
            (&mut *self.tx)
                .execute(format!("PRAGMA cache_size = {before}").as_str())
                .await?;
        }
        if keep {
            self.tx.commit().await?;
        } else {
            self.tx.rollback().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn mobile(number: &str, raw: &str) -> StagedPhone {
        StagedPhone {
            number: number.to_owned(),
            extension: String::new(),
            kind: "mobile".to_owned(),
            raw: raw.to_owned(),
        }
    }

    fn row(row_no: i64, community_id: &str, name: &str, role: &str, note: &str) -> StagedRow {
        StagedRow {
            row_no,
            community_id: community_id.to_owned(),
            building: "3".to_owned(),
            entrance: 2,
            room: "1201".to_owned(),
            name: name.to_owned(),
            identity: format!("tel:+86138{row_no:08}"),
            role: role.to_owned(),
            note: note.to_owned(),
            mobile: Some(mobile(&format!("+86138{row_no:08}"), "138")),
            phone: None,
            record: vec![name.to_owned(), role.to_owned()],
        }
    }

    async fn import(store: &Store, rows: &[StagedRow], keep: bool) -> ImportCounts {
        let mut import = store.archive_import(1).await.expect("begin");
        let community = import.community_id("金福花园").await.expect("community");
        for r in rows {
            let mut r = r.clone();
            r.community_id = community.clone();
            import.stage(r).await.expect("stage");
        }
        let counts = import.apply().await.expect("apply");
        import.finish(keep).await.expect("finish");
        counts
    }

    #[tokio::test]
    async fn reimporting_the_same_rows_changes_nothing_on_both_engines() {
        for store in testing::stores().await {
            let rows = [
                row(2, "", "张三", "owner", ""),
                row(3, "", "李四", "tenant", ""),
            ];
            let first = import(&store, &rows, true).await;
            assert_eq!((first.inserted, first.unchanged), (2, 0));
            let again = import(&store, &rows, true).await;
            assert_eq!(
                again,
                ImportCounts {
                    unchanged: 2,
                    ..ImportCounts::default()
                }
            );
            let changed = [row(2, "", "张三", "owner", "新备注")];
            assert_eq!(import(&store, &changed, true).await.updated, 1);
            let found = store
                .archive_by_phone("+8613800000002")
                .await
                .expect("find");
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].residences[0].note, "新备注");
        }
    }

    #[tokio::test]
    async fn a_contradicting_later_row_is_a_conflict_and_a_dry_run_writes_nothing() {
        for store in testing::stores().await {
            let mut second = row(2, "", "张三", "tenant", "");
            second.row_no = 5;
            let counts = import(&store, &[row(2, "", "张三", "owner", ""), second], false).await;
            assert_eq!((counts.inserted, counts.conflicts), (1, 1));
            assert!(store.communities().await.expect("list").is_empty());
            assert!(
                store
                    .archive_by_phone("+8613800000002")
                    .await
                    .expect("find")
                    .is_empty()
            );
        }
    }

    #[test]
    fn a_text_literal_doubles_its_quotes_and_keeps_backslashes() {
        let mut sql = String::new();
        push_text(&mut sql, r"O'Neil \n ''");
        assert_eq!(sql, r"'O''Neil \n '''''");
    }

    #[tokio::test]
    async fn quotes_backslashes_and_nul_bytes_are_staged_as_received_on_both_engines() {
        for store in testing::stores().await {
            let engine = store.engine();
            let quoted = StagedRow {
                record: vec!["a'b".to_owned(), r"c\d".to_owned()],
                ..row(2, "", r"O'Brien \ 张'", "owner", "it's'); DROP TABLE x; --")
            };
            let mut rows = vec![quoted.clone()];
            // PostgreSQL text cannot hold a NUL at all, bound or not.
            if engine == Engine::Sqlite {
                rows.push(StagedRow {
                    record: vec!["nul\0here".to_owned()],
                    ..row(3, "", "李四\0", "tenant", "")
                });
            }
            // A contradicting copy of each row brings its record back.
            let copies: Vec<StagedRow> = rows
                .iter()
                .map(|r| StagedRow {
                    row_no: r.row_no + 10,
                    role: "tenant".to_owned(),
                    note: "other".to_owned(),
                    ..r.clone()
                })
                .collect();
            rows.extend(copies);
            let mut import = store.archive_import(1).await.expect("begin");
            let community = import.community_id("金福花园").await.expect("community");
            for r in &rows {
                import
                    .stage(StagedRow {
                        community_id: community.clone(),
                        ..r.clone()
                    })
                    .await
                    .expect("stage");
            }
            let counts = import.apply().await.expect("apply");
            assert_eq!(
                counts.conflicts,
                u64::try_from(rows.len() / 2).expect("small")
            );
            let conflicts = import.conflicts(0, 10).await.expect("conflicts");
            assert_eq!(conflicts[0].record, quoted.record);
            if engine == Engine::Sqlite {
                assert_eq!(conflicts[1].record, ["nul\0here"]);
            }
            import.finish(true).await.expect("finish");
            let found = store
                .archive_by_phone("+8613800000002")
                .await
                .expect("find");
            assert_eq!(found[0].name, quoted.name);
            assert_eq!(found[0].residences[0].note, quoted.note);
            if engine == Engine::Sqlite {
                let nul = store
                    .archive_by_phone("+8613800000003")
                    .await
                    .expect("find");
                assert_eq!(nul[0].name, "李四\0");
            }
        }
    }

    #[tokio::test]
    async fn a_configured_community_adopts_the_one_an_import_created() {
        for store in testing::stores().await {
            import(&store, &[row(2, "", "张三", "owner", "")], true).await;
            let created = store.communities().await.expect("list");
            assert_eq!(created[0].code, derived_code("金福花园"));
            let id = store
                .upsert_community("JF", "金福花园", &["4008123123".to_owned()])
                .await
                .expect("upsert");
            let now = store.communities().await.expect("list");
            assert_eq!(now.len(), 1);
            assert_eq!(
                (now[0].id.as_str(), now[0].code.as_str()),
                (id.as_str(), "JF")
            );
            assert_eq!(now[0].numbers, ["4008123123"]);
        }
    }
}

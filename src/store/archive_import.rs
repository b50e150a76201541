//! The owner archive's import (`hotline archive import`): rows staged in
//! chunks inside one transaction, then conflicts found and the archive
//! upserted set-wise; committed or rolled back whole.
//!
//! The import runs on a connection of its own, closed when it ends: its
//! TEMP tables and its settings go with it. The rows go into a TEMP table
//! (`archive_import_stage`: no index but the row number, never in the
//! database file or its WAL). Then, in order: one sort finds the keys that
//! repeat and marks their later rows (`duplicate`, `adds` or `conflict`); the new
//! rooms and people are inserted; one pass resolves every other row's room
//! and person and decides its outcome against the archive as it was, into
//! a narrow TEMP table (`archive_import_ids`); residences and phones are
//! written from that. A row that changes nothing costs its lookups and its
//! line in that table, no write to the archive.
//!
//! Knows the identity keys only as opaque columns, like `archive`.

use std::collections::HashMap;
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{Any, Executor, Row};

use super::archive::{derived_code, insert_community, new_id};
use super::{Engine, Store, StoreError};

/// Rows per INSERT into the staging table. The rows are SQL literals, not
/// bound parameters: through sqlx's `Any` driver binding cost grows faster
/// than the parameters of a statement (500 bound rows a statement took 44 s
/// for 100,000 rows, one bound row a statement 3.8 s).
const STAGE_CHUNK: usize = 500;
/// Columns of a staged row.
const STAGE_COLUMNS: usize = 18;
/// SQLite page cache of the import's connection for the archive's tables,
/// in KiB, while it runs (the default is 2,000 KiB): people are looked up
/// and inserted in file order, which is no order of their identity index,
/// and a cache this size keeps most of that index of a 1,000,000-row
/// archive. Bounded, whatever the file's size.
const IMPORT_CACHE_KIB: i64 = 65_536;
/// SQLite page cache for the TEMP tables, in KiB: they are written and
/// read in row order (the one sort has its own memory), so a small cache
/// does. Bounded too; the rest of the staged rows is in a temporary file.
const IMPORT_TEMP_CACHE_KIB: i64 = 8_192;
/// The index of people by name (`migrations/0003_archive.sql`), which a
/// first import makes after inserting (see `defer_people_name_index`).
const PEOPLE_NAME_INDEX: &str = "archive_people_name";
/// An import defers that index when the archive has fewer people than
/// one in this many of its rows.
const NAME_INDEX_DEFER_RATIO: u64 = 4;
/// Length of the part of an import's fresh ids that the import shares:
/// a UUIDv7 up to its last group (`xxxxxxxx-xxxx-7xxx-xxxx-`).
const ID_PREFIX_LEN: usize = 24;

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
    /// The first thing it says otherwise.
    pub differs: ConflictField,
    pub record: Vec<String>,
}

/// What a conflicting row says otherwise than its first row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictField {
    Role,
    /// The 手机 column.
    Mobile,
    /// The 电话 column.
    Phone,
}

/// An import in progress: one transaction, committed or rolled back whole.
pub struct ArchiveImport {
    /// In a transaction from start to end; closed, not returned to the pool,
    /// when the import ends or is dropped (which rolls back).
    conn: PoolConnection<Any>,
    engine: Engine,
    /// The shared part of the ids this import makes (see [`ID_PREFIX_LEN`]).
    id_prefix: String,
    now: i64,
    buffer: Vec<StagedRow>,
    staged: u64,
    /// Time spent in the staging statements.
    staging: std::time::Duration,
    communities: HashMap<String, String>,
}

impl Store {
    /// Starts an import: everything it does is one transaction.
    pub async fn archive_import(&self, now: i64) -> Result<ArchiveImport, StoreError> {
        let mut conn = self.pool().acquire().await?;
        conn.close_on_drop();
        if self.engine() == Engine::Sqlite {
            (&mut *conn)
                .execute(format!("PRAGMA cache_size = -{IMPORT_CACHE_KIB}; PRAGMA temp.cache_size = -{IMPORT_TEMP_CACHE_KIB}").as_str())
                .await?;
            // The archive's write lock from the start, as a writer: a
            // deferred transaction that read first could not write later
            // if the daemon committed meanwhile (SQLITE_BUSY_SNAPSHOT).
            (&mut *conn).execute("BEGIN IMMEDIATE").await?;
        } else {
            (&mut *conn).execute("BEGIN").await?;
            // The staged rows are standard string literals (see `push_text`):
            // a backslash in them must stay a backslash.
            (&mut *conn)
                .execute("SET LOCAL standard_conforming_strings = on")
                .await?;
        }
        for create in [CREATE_STAGE, CREATE_REPEATS, CREATE_IDS] {
            (&mut *conn).execute(create).await?;
        }
        let uuid = new_id();
        Ok(ArchiveImport {
            conn,
            engine: self.engine(),
            id_prefix: uuid[..ID_PREFIX_LEN].to_owned(),
            now,
            buffer: Vec::with_capacity(STAGE_CHUNK),
            staged: 0,
            staging: std::time::Duration::ZERO,
            communities: HashMap::new(),
        })
    }
}

/// The staged rows, in file order. `row_no` is SQLite's rowid (and a
/// 32-bit integer on PostgreSQL: files have fewer rows than that).
/// `first_row` and `outcome` are set only on repeated rows.
const CREATE_STAGE: &str = "CREATE TEMP TABLE archive_import_stage (\
     row_no INTEGER PRIMARY KEY, community_id TEXT NOT NULL, building TEXT NOT NULL, \
     entrance BIGINT NOT NULL, room TEXT NOT NULL, name TEXT NOT NULL, \
     identity TEXT NOT NULL, role TEXT NOT NULL, note TEXT NOT NULL, \
     mobile_number TEXT, mobile_ext TEXT, mobile_kind TEXT, mobile_raw TEXT, \
     phone_number TEXT, phone_ext TEXT, phone_kind TEXT, phone_raw TEXT, \
     record TEXT NOT NULL, first_row BIGINT, outcome TEXT)";
/// The (community, room, person) keys that more than one row has, and
/// the first of those rows (and the first giving a mobile, a landline).
const CREATE_REPEATS: &str = "CREATE TEMP TABLE archive_import_repeats (\
     identity TEXT NOT NULL, name TEXT NOT NULL, community_id TEXT NOT NULL, \
     building TEXT NOT NULL, entrance BIGINT NOT NULL, room TEXT NOT NULL, \
     first_row BIGINT NOT NULL, first_mobile_row BIGINT, first_phone_row BIGINT, \
     PRIMARY KEY (identity, name, community_id, building, entrance, room))";
/// Every staged row but the conflicting ones, with its room, its person
/// and its outcome (`inserted`, `updated`, `unchanged`).
const CREATE_IDS: &str = "CREATE TEMP TABLE archive_import_ids (\
     row_no INTEGER PRIMARY KEY, room_id TEXT NOT NULL, person_id TEXT NOT NULL, \
     outcome TEXT NOT NULL)";

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
const STAGE_INSERT: &str = "INSERT INTO archive_import_stage (row_no, community_id, building, \
     entrance, room, name, identity, role, note, mobile_number, mobile_ext, mobile_kind, \
     mobile_raw, phone_number, phone_ext, phone_kind, phone_raw, record) VALUES ";
/// A staged row's usual size as SQL text, to size the statement buffer.
const STAGE_ROW_BYTES: usize = 320;

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
fn push_row_literal(sql: &mut String, row: StagedRow) {
    use std::fmt::Write as _;
    write!(sql, "({},", row.row_no).expect("writing to a String cannot fail");
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
    push_text(sql, &row.record.join(&RECORD_SEPARATOR.to_string()));
    sql.push(')');
}

/// Separates the fields of a staged record (ASCII unit separator).
const RECORD_SEPARATOR: char = '\u{1f}';

/// Outcomes written into `archive_import_ids.outcome`.
const INSERTED: &str = "inserted";
const UPDATED: &str = "updated";
const UNCHANGED: &str = "unchanged";

// The set-wise steps of an import, in order (see the module doc). `s` is
// the staged row, `i` its line in `archive_import_ids`.
//
// Fresh ids: the import's id prefix (`$1`) and twelve decimal digits,
// `4 × row number + k` (k: 0 room, 1 person, 2 mobile, 3 phone) — a
// UUIDv7 whose last 48 bits count, unique within the import, ordered like
// the file. Decimal digits because neither engine has the other's hex
// formatting; `substr(CAST(10^12 + n AS TEXT), 2)` pads on both.

/// One sort of the staged rows. Identity first: it nearly always tells
/// two keys apart, so the comparisons stop early.
const FIND_REPEATS: &str = "INSERT INTO archive_import_repeats \
     (identity, name, community_id, building, entrance, room, first_row, first_mobile_row, \
     first_phone_row) \
     SELECT identity, name, community_id, building, entrance, room, MIN(row_no), \
     MIN(CASE WHEN mobile_number IS NOT NULL THEN row_no END), \
     MIN(CASE WHEN phone_number IS NOT NULL THEN row_no END) \
     FROM archive_import_stage \
     GROUP BY identity, name, community_id, building, entrance, room HAVING COUNT(*) > 1";
/// Marks every row after the first of a repeated key: `conflict` when it
/// gives another role than the first row, or another mobile or landline
/// than the first row that gives one (its `first_row` is then that row);
/// `adds` when it is that first row for a phone; else `duplicate`. Notes
/// do not conflict: they are joined (see [`JOIN_NOTES`]). Run only when
/// keys repeat.
const MARK_REPEATS: &str = "UPDATE archive_import_stage SET \
     first_row = CASE WHEN f.role <> archive_import_stage.role THEN k.first_row \
     WHEN archive_import_stage.mobile_number IS NOT NULL \
     AND (m.mobile_number <> archive_import_stage.mobile_number \
     OR m.mobile_ext <> archive_import_stage.mobile_ext) THEN k.first_mobile_row \
     WHEN archive_import_stage.phone_number IS NOT NULL \
     AND (p.phone_number <> archive_import_stage.phone_number \
     OR p.phone_ext <> archive_import_stage.phone_ext) THEN k.first_phone_row \
     ELSE k.first_row END, \
     outcome = CASE WHEN f.role <> archive_import_stage.role \
     OR (archive_import_stage.mobile_number IS NOT NULL \
     AND (m.mobile_number <> archive_import_stage.mobile_number \
     OR m.mobile_ext <> archive_import_stage.mobile_ext)) \
     OR (archive_import_stage.phone_number IS NOT NULL \
     AND (p.phone_number <> archive_import_stage.phone_number \
     OR p.phone_ext <> archive_import_stage.phone_ext)) THEN 'conflict' \
     WHEN archive_import_stage.row_no = k.first_mobile_row \
     OR archive_import_stage.row_no = k.first_phone_row THEN 'adds' \
     ELSE 'duplicate' END \
     FROM archive_import_repeats k JOIN archive_import_stage f ON f.row_no = k.first_row \
     LEFT JOIN archive_import_stage m ON m.row_no = k.first_mobile_row \
     LEFT JOIN archive_import_stage p ON p.row_no = k.first_phone_row \
     WHERE k.identity = archive_import_stage.identity AND k.name = archive_import_stage.name \
     AND k.community_id = archive_import_stage.community_id \
     AND k.building = archive_import_stage.building \
     AND k.entrance = archive_import_stage.entrance AND k.room = archive_import_stage.room \
     AND archive_import_stage.row_no <> k.first_row";
/// The notes of duplicates that differ from their first row's, by first
/// row in file order: they are joined into the first row's note.
const JOIN_NOTES: &str = "SELECT s.first_row, f.note AS first_note, s.note \
     FROM archive_import_stage s JOIN archive_import_stage f ON f.row_no = s.first_row \
     WHERE s.outcome IN ('duplicate', 'adds') AND s.note <> '' AND s.note <> f.note \
     ORDER BY s.first_row, s.row_no";
/// What joins the notes of one residence given in several rows.
pub const NOTE_SEPARATOR: &str = "；";
/// Rooms not in the archive yet. `$1` id prefix, `$2` time.
const INSERT_ROOMS: &str = "INSERT INTO archive_rooms \
     (id, community_id, building, entrance, room, created_at) \
     SELECT $1 || substr(CAST(1000000000000 + 4 * CAST(s.row_no AS BIGINT) AS TEXT), 2), \
     s.community_id, s.building, s.entrance, s.room, $2 FROM archive_import_stage s \
     WHERE s.outcome IS NULL ORDER BY s.row_no \
     ON CONFLICT (community_id, building, entrance, room) DO NOTHING";
/// People not in the archive yet. In file order: sorted by identity this
/// step is faster, but the table's rows then lie in identity order and a
/// re-import, which looks every person up by identity and then reads its
/// row, pays twice as much. `$1` id prefix, `$2` time.
const INSERT_PEOPLE: &str = "INSERT INTO archive_people \
     (id, community_id, name, identity, created_at) \
     SELECT $1 || substr(CAST(1000000000001 + 4 * CAST(s.row_no AS BIGINT) AS TEXT), 2), \
     s.community_id, s.name, s.identity, $2 FROM archive_import_stage s \
     WHERE s.outcome IS NULL ORDER BY s.row_no \
     ON CONFLICT (community_id, name, identity) DO NOTHING";
/// Each row that does not conflict, with its room and person, and what it
/// does to the archive as it was before its residences and phones are
/// written: a first row whose residence is missing inserts it, one whose
/// residence says otherwise updates it; any row bringing a phone its
/// person lacks updates (a first row, or a repeat that `adds` one); the
/// rest are unchanged, a `duplicate` always (it brings nothing an earlier
/// row does not, on a fresh archive too, where those phones are not
/// written yet).
///
/// A person this very row inserted is found by the id it was given, on the
/// primary key in file order (`own`); only the others (people already in
/// the archive, or a person's later rows) are looked up by identity (`p`),
/// which file order scatters. `own` found, the identity key is NULL and
/// that lookup is skipped. `$1` id prefix.
const RESOLVE: &str = "INSERT INTO archive_import_ids (row_no, room_id, person_id, outcome) \
     SELECT s.row_no, r.id, COALESCE(own.id, p.id), CASE \
     WHEN s.outcome = 'duplicate' THEN 'unchanged' \
     WHEN s.outcome IS NULL AND x.person_id IS NULL THEN 'inserted' \
     WHEN s.outcome IS NULL AND (x.role <> s.role OR x.note <> s.note) THEN 'updated' \
     WHEN (s.mobile_number IS NOT NULL AND NOT EXISTS (SELECT 1 FROM archive_phones g \
       WHERE g.person_id = COALESCE(own.id, p.id) AND g.number = s.mobile_number \
       AND g.extension = s.mobile_ext)) \
     OR (s.phone_number IS NOT NULL AND NOT EXISTS (SELECT 1 FROM archive_phones g \
       WHERE g.person_id = COALESCE(own.id, p.id) AND g.number = s.phone_number \
       AND g.extension = s.phone_ext)) THEN 'updated' \
     ELSE 'unchanged' END \
     FROM archive_import_stage s \
     JOIN archive_rooms r ON r.community_id = s.community_id AND r.building = s.building \
     AND r.entrance = s.entrance AND r.room = s.room \
     LEFT JOIN archive_people own \
     ON own.id = $1 || substr(CAST(1000000000001 + 4 * CAST(s.row_no AS BIGINT) AS TEXT), 2) \
     LEFT JOIN archive_people p \
     ON p.community_id = CASE WHEN own.id IS NULL THEN s.community_id END \
     AND p.name = s.name AND p.identity = s.identity \
     LEFT JOIN archive_residences x \
     ON x.person_id = COALESCE(own.id, p.id) AND x.room_id = r.id \
     WHERE s.outcome IS NULL OR s.outcome IN ('duplicate', 'adds') ORDER BY s.row_no";
/// The residences of updated first rows take their role and note. `$1` time.
const UPDATE_RESIDENCES: &str = "UPDATE archive_residences \
     SET role = s.role, note = s.note, updated_at = $1 \
     FROM archive_import_ids i JOIN archive_import_stage s ON s.row_no = i.row_no \
     WHERE i.outcome = 'updated' AND s.outcome IS NULL \
     AND archive_residences.person_id = i.person_id AND archive_residences.room_id = i.room_id";
/// `$1` time.
const INSERT_RESIDENCES: &str = "INSERT INTO archive_residences \
     (person_id, room_id, role, note, updated_at) \
     SELECT i.person_id, i.room_id, s.role, s.note, $1 \
     FROM archive_import_ids i JOIN archive_import_stage s ON s.row_no = i.row_no \
     WHERE i.outcome = 'inserted' ORDER BY i.row_no";
/// The phones of rows that may bring one (an unchanged row brings none),
/// mobiles first. `$1` id prefix, `$2` time.
const INSERT_MOBILES: &str = "INSERT INTO archive_phones \
     (id, person_id, number, extension, kind, raw, source, created_at) \
     SELECT $1 || substr(CAST(1000000000002 + 4 * CAST(s.row_no AS BIGINT) AS TEXT), 2), \
     i.person_id, s.mobile_number, s.mobile_ext, s.mobile_kind, s.mobile_raw, 'mobile', $2 \
     FROM archive_import_ids i JOIN archive_import_stage s ON s.row_no = i.row_no \
     WHERE i.outcome <> 'unchanged' AND s.mobile_number IS NOT NULL ORDER BY i.row_no \
     ON CONFLICT (person_id, number, extension) DO NOTHING";
/// `$1` id prefix, `$2` time.
const INSERT_PHONES: &str = "INSERT INTO archive_phones \
     (id, person_id, number, extension, kind, raw, source, created_at) \
     SELECT $1 || substr(CAST(1000000000003 + 4 * CAST(s.row_no AS BIGINT) AS TEXT), 2), \
     i.person_id, s.phone_number, s.phone_ext, s.phone_kind, s.phone_raw, 'phone', $2 \
     FROM archive_import_ids i JOIN archive_import_stage s ON s.row_no = i.row_no \
     WHERE i.outcome <> 'unchanged' AND s.phone_number IS NOT NULL ORDER BY i.row_no \
     ON CONFLICT (person_id, number, extension) DO NOTHING";

/// What a step binds.
enum Binds {
    None,
    Time,
    IdPrefix,
    IdPrefixAndTime,
}

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
        .fetch_optional(&mut *self.conn)
        .await?;
        let id = match found {
            Some(row) => row.try_get("id")?,
            None => {
                let id = new_id();
                let code = derived_code(name_or_code);
                insert_community(&mut self.conn, &id, &code, name_or_code, "", self.now).await?;
                id
            }
        };
        self.communities.insert(name_or_code.to_owned(), id.clone());
        Ok(id)
    }

    /// Stages one valid row; rows go to the database in chunks. Rows come
    /// in file order, each row number once.
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
            self.staged += 1;
            if row_has_nul(&row) {
                // A NUL cannot be written in a SQL literal (SQLite ends the
                // statement there): the row goes in bound, on its own.
                self.stage_bound(row).await?;
                continue;
            }
            if literal_rows > 0 {
                sql.push(',');
            }
            push_row_literal(&mut sql, row);
            literal_rows += 1;
        }
        if literal_rows > 0 {
            // No arguments: neither engine prepares or caches the statement
            // (PostgreSQL runs it with the simple query protocol).
            let started = Instant::now();
            (&mut *self.conn).execute(sql.as_str()).await?;
            self.staging += started.elapsed();
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
            .bind(row.record.join(&RECORD_SEPARATOR.to_string()))
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    /// Finds conflicts and applies the staged rows set-wise; returns what
    /// happened to them. The rows stay staged until [`Self::finish`].
    pub async fn apply(&mut self) -> Result<ImportCounts, StoreError> {
        self.flush().await?;
        tracing::debug!(
            rows = self.staged,
            elapsed_ms = self.staging.as_millis(),
            "archive import staged"
        );
        if self.engine == Engine::Postgres {
            // Temporary tables are never analysed on their own; without
            // statistics the planner takes the staged rows for a handful.
            (&mut *self.conn)
                .execute("ANALYZE archive_import_stage")
                .await?;
        }
        let repeated = self
            .step("find repeats", FIND_REPEATS, &Binds::None)
            .await?;
        if repeated > 0 {
            self.step("mark repeats", MARK_REPEATS, &Binds::None)
                .await?;
            self.join_notes().await?;
        }
        self.step("insert rooms", INSERT_ROOMS, &Binds::IdPrefixAndTime)
            .await?;
        let name_index = self.defer_people_name_index().await?;
        self.step("insert people", INSERT_PEOPLE, &Binds::IdPrefixAndTime)
            .await?;
        if let Some(create) = name_index {
            let started = Instant::now();
            (&mut *self.conn).execute(create.as_str()).await?;
            tracing::debug!(
                elapsed_ms = started.elapsed().as_millis(),
                "archive import people name index made again"
            );
        }
        self.step("resolve", RESOLVE, &Binds::IdPrefix).await?;
        if self.engine == Engine::Postgres {
            (&mut *self.conn)
                .execute("ANALYZE archive_import_ids")
                .await?;
        }
        self.step("update residences", UPDATE_RESIDENCES, &Binds::Time)
            .await?;
        self.step("insert residences", INSERT_RESIDENCES, &Binds::Time)
            .await?;
        self.step("insert mobiles", INSERT_MOBILES, &Binds::IdPrefixAndTime)
            .await?;
        self.step("insert phones", INSERT_PHONES, &Binds::IdPrefixAndTime)
            .await?;
        let rows =
            sqlx::query("SELECT outcome, COUNT(*) AS n FROM archive_import_ids GROUP BY outcome")
                .fetch_all(&mut *self.conn)
                .await?;
        let mut counts = ImportCounts::default();
        for row in rows {
            let outcome: String = row.try_get("outcome")?;
            let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0);
            match outcome.as_str() {
                INSERTED => counts.inserted += n,
                UPDATED => counts.updated += n,
                UNCHANGED => counts.unchanged += n,
                _ => {}
            }
        }
        // Every staged row that does not conflict has its line.
        counts.conflicts = self.staged - (counts.inserted + counts.updated + counts.unchanged);
        Ok(counts)
    }

    /// Gives each first row of a repeated key the notes of its duplicates
    /// too, each once, in file order, joined with [`NOTE_SEPARATOR`].
    async fn join_notes(&mut self) -> Result<(), StoreError> {
        let rows = sqlx::query(JOIN_NOTES).fetch_all(&mut *self.conn).await?;
        let mut joined: Vec<(i64, Vec<String>)> = Vec::new();
        for row in &rows {
            let first_row: i64 = row.try_get("first_row")?;
            let note: String = row.try_get("note")?;
            if joined.last().is_none_or(|(at, _)| *at != first_row) {
                let first_note: String = row.try_get("first_note")?;
                let notes = first_note
                    .split(NOTE_SEPARATOR)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect();
                joined.push((first_row, notes));
            }
            let notes = &mut joined.last_mut().expect("pushed just above").1;
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        for (first_row, notes) in joined {
            sqlx::query("UPDATE archive_import_stage SET note = $1 WHERE row_no = $2")
                .bind(notes.join(NOTE_SEPARATOR))
                .bind(first_row)
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(())
    }

    /// SQLite, when the import brings many more rows than the archive has
    /// people (a first import): drops the index of people by name and
    /// returns the statement that makes it, to run once they are in. File
    /// order is no order of names: one sort builds the index faster than a
    /// million scattered inserts (1,000,000 people: 5.6 s + 1.2 s instead
    /// of 11.5 s). Not on PostgreSQL, where the dropped index would lock
    /// the table against readers until the import ends.
    async fn defer_people_name_index(&mut self) -> Result<Option<String>, StoreError> {
        let few = i64::try_from(self.staged / NAME_INDEX_DEFER_RATIO).unwrap_or(i64::MAX);
        if self.engine != Engine::Sqlite || few == 0 {
            return Ok(None);
        }
        let known: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM archive_people LIMIT $1) p")
                .bind(few)
                .fetch_one(&mut *self.conn)
                .await?;
        if known >= few {
            return Ok(None);
        }
        let create: Option<String> =
            sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = $1")
                .bind(PEOPLE_NAME_INDEX)
                .fetch_optional(&mut *self.conn)
                .await?;
        if create.is_some() {
            (&mut *self.conn)
                .execute(format!("DROP INDEX {PEOPLE_NAME_INDEX}").as_str())
                .await?;
        }
        Ok(create)
    }

    /// Runs one set-wise step; returns the rows it touched.
    async fn step(&mut self, name: &str, sql: &str, binds: &Binds) -> Result<u64, StoreError> {
        let started = Instant::now();
        let query = sqlx::query(sql);
        let query = match binds {
            Binds::None => query,
            Binds::Time => query.bind(self.now),
            Binds::IdPrefix => query.bind(&self.id_prefix),
            Binds::IdPrefixAndTime => query.bind(&self.id_prefix).bind(self.now),
        };
        let rows = query.execute(&mut *self.conn).await?.rows_affected();
        tracing::debug!(
            step = name,
            rows,
            elapsed_ms = started.elapsed().as_millis(),
            "archive import step"
        );
        Ok(rows)
    }

    /// Conflicting rows after `after_row`, at most `limit`, in row order.
    pub async fn conflicts(
        &mut self,
        after_row: i64,
        limit: i64,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.row_no, s.first_row, s.role, s.note, s.record, f.role AS first_role, \
             f.note AS first_note, CASE WHEN s.role <> f.role THEN 'role' \
             WHEN s.mobile_number <> f.mobile_number OR s.mobile_ext <> f.mobile_ext \
             THEN 'mobile' \
             ELSE 'phone' END AS differs FROM archive_import_stage s \
             JOIN archive_import_stage f ON f.row_no = s.first_row \
             WHERE s.outcome = 'conflict' AND s.row_no > $1 \
             ORDER BY s.row_no LIMIT $2",
        )
        .bind(after_row)
        .bind(limit)
        .fetch_all(&mut *self.conn)
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
                    differs: match row.try_get::<String, _>("differs")?.as_str() {
                        "role" => ConflictField::Role,
                        "mobile" => ConflictField::Mobile,
                        _ => ConflictField::Phone,
                    },
                    record: row
                        .try_get::<String, _>("record")?
                        .split(RECORD_SEPARATOR)
                        .map(str::to_owned)
                        .collect(),
                })
            })
            .collect()
    }

    /// Commits (`keep`) or rolls back everything (a dry run), then closes
    /// the import's connection, and its TEMP tables with it.
    pub async fn finish(mut self, keep: bool) -> Result<(), StoreError> {
        let started = Instant::now();
        let end = if keep { "COMMIT" } else { "ROLLBACK" };
        (&mut *self.conn).execute(end).await?;
        self.conn.close().await?;
        tracing::debug!(
            keep,
            elapsed_ms = started.elapsed().as_millis(),
            "archive import end"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;

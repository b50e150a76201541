//! `hotline archive import FILE`: reads the file record by record and checks
//! each row (on a thread of their own, see `reader`), stages the valid ones
//! in the store's one import transaction,
//! writes the bad ones to `<stem>.rejected.csv` beside the input (original
//! columns plus row, column and reason), and commits once at the end — or
//! rolls everything back for a dry run.
//!
//! Memory stays flat: rows are staged in chunks, conflicts are found by the
//! store, and only the first [`REPORTED_MAX`] rejected rows are kept in the
//! report (all of them are in the rejected file). An xlsx sheet is the
//! exception: its non-blank cells are loaded whole (Excel caps a sheet at
//! 1,048,576 rows).

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::ArchiveError;
use super::columns::{Column, REJECTED_COLUMN, REJECTED_REASON, REJECTED_ROW};
use super::reader::CheckedRows;
use super::row::{Header, RejectReason, RejectedRow, ValidRow, validate};
use super::source::{Record, Source};
use crate::desk::AreaCode;
use crate::store::{ArchiveImport, ConflictField, StagedPhone, StagedRow, Store, unix_millis};

/// Rows scanned for the header before giving up.
const HEADER_SCAN_ROWS: usize = 10;
/// Rejected rows kept in the report; the rejected file has them all.
pub const REPORTED_MAX: usize = 1000;
/// Rows between two progress calls.
const PROGRESS_EVERY: u64 = 1000;
/// Conflicting rows fetched from the store at a time.
const CONFLICT_PAGE: i64 = 1000;
/// What the rejected file's name adds to the input's stem.
const REJECTED_SUFFIX: &str = ".rejected.csv";
/// Written first so Excel reads the rejected file as UTF-8.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// How to import.
pub struct ImportOptions<P: Fn(u64)> {
    /// Check and count everything, write nothing.
    pub dry_run: bool,
    /// Completes local landline numbers (`65123456` → `+86 871 6512 3456`).
    pub default_area_code: Option<AreaCode>,
    /// The community of rows whose file has no (or an empty) 小区 cell.
    pub community: Option<String>,
    /// The time stamped on what is written.
    pub now: SystemTime,
    /// Called with the number of rows read so far.
    pub progress: P,
}

/// What an import did, row by row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "inserted {}, updated {}, unchanged {}, rejected {}",
            self.inserted, self.updated, self.unchanged, self.rejected
        )
    }
}

/// The summary, the rejected rows (the first [`REPORTED_MAX`]) and where
/// the rejected file is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub summary: ImportSummary,
    pub rejected: Vec<RejectedRow>,
    /// Written only when rows were rejected and it is not a dry run.
    pub rejected_file: Option<PathBuf>,
    pub dry_run: bool,
    /// `UTF-8` or `GBK`.
    pub encoding: &'static str,
}

/// The rejected file beside the input, opened at the first rejected row.
struct RejectedFile {
    path: PathBuf,
    header: Vec<String>,
    writer: Option<csv::Writer<File>>,
    enabled: bool,
}

impl RejectedFile {
    fn new(input: &Path, header: &Header, enabled: bool) -> RejectedFile {
        let stem = input
            .file_stem()
            .map_or_else(|| "archive".into(), |s| s.to_string_lossy().into_owned());
        let pick = |(zh, en): (&str, &str)| if header.chinese { zh } else { en }.to_owned();
        let mut cells = header.cells.clone();
        cells.extend([REJECTED_ROW, REJECTED_COLUMN, REJECTED_REASON].map(pick));
        RejectedFile {
            path: input.with_file_name(format!("{stem}{REJECTED_SUFFIX}")),
            header: cells,
            writer: None,
            enabled,
        }
    }

    fn write(
        &mut self,
        rejected: &RejectedRow,
        column: &str,
        record: &[String],
    ) -> Result<(), ArchiveError> {
        if !self.enabled {
            return Ok(());
        }
        let error = |path: &Path, source| ArchiveError::Write {
            path: path.to_path_buf(),
            source,
        };
        if self.writer.is_none() {
            let mut file = File::create(&self.path).map_err(|e| error(&self.path, e))?;
            file.write_all(UTF8_BOM).map_err(|e| error(&self.path, e))?;
            let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(file);
            writer
                .write_record(&self.header)
                .map_err(|e| error(&self.path, e.into()))?;
            self.writer = Some(writer);
        }
        let writer = self.writer.as_mut().expect("opened just above");
        let mut cells = record.to_vec();
        cells.resize(self.header.len() - 3, String::new());
        cells.extend([
            rejected.row.to_string(),
            column.to_owned(),
            rejected.reason.to_string(),
        ]);
        writer
            .write_record(&cells)
            .map_err(|e| error(&self.path, e.into()))
    }

    /// Flushes the file; removes a stale one when nothing was rejected.
    fn close(self) -> Result<Option<PathBuf>, ArchiveError> {
        let error = |source| ArchiveError::Write {
            path: self.path.clone(),
            source,
        };
        match self.writer {
            Some(mut writer) => {
                writer.flush().map_err(error)?;
                Ok(Some(self.path.clone()))
            }
            None if self.enabled && self.path.exists() => {
                std::fs::remove_file(&self.path).map_err(error)?;
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

/// Collects rejected rows into the report and the rejected file.
struct Rejections {
    file: RejectedFile,
    reported: Vec<RejectedRow>,
    count: u64,
}

impl Rejections {
    fn add(
        &mut self,
        header: &Header,
        rejected: RejectedRow,
        record: &[String],
    ) -> Result<(), ArchiveError> {
        self.count += 1;
        self.file
            .write(&rejected, header.name_of(rejected.column), record)?;
        if self.reported.len() < REPORTED_MAX {
            self.reported.push(rejected);
        }
        Ok(())
    }
}

/// Imports an archive file (`.csv` in UTF-8 or GBK, or `.xlsx`).
pub async fn import_file<P: Fn(u64)>(
    store: &Store,
    path: &Path,
    options: ImportOptions<P>,
) -> Result<ImportReport, ArchiveError> {
    let (source, header) = open_with_header(path, options.community.is_some())?;
    let mut rejections = Rejections {
        file: RejectedFile::new(path, &header, !options.dry_run),
        reported: Vec::new(),
        count: 0,
    };
    let encoding = source.encoding().name();
    let mut import = store.archive_import(unix_millis(options.now)).await?;
    let mut rows = CheckedRows::spawn(
        source,
        header.clone(),
        options.community.clone(),
        options.default_area_code.clone(),
    );
    let mut rows_read = 0u64;
    let (started, mut waited) = (Instant::now(), Duration::ZERO);
    loop {
        let asked = Instant::now();
        let Some(batch) = rows.next_batch().await else {
            break;
        };
        waited += asked.elapsed();
        for checked in batch? {
            rows_read += 1;
            if rows_read.is_multiple_of(PROGRESS_EVERY) {
                (options.progress)(rows_read);
            }
            match checked.check {
                Ok(valid) => stage(&mut import, valid, checked.record).await?,
                Err(rejected) => rejections.add(&header, rejected, &checked.record.fields)?,
            }
        }
    }
    (options.progress)(rows_read);
    tracing::debug!(
        rows = rows_read,
        elapsed_ms = started.elapsed().as_millis(),
        waited_ms = waited.as_millis(),
        "archive rows staged (waited: for the reader)"
    );
    let counts = import.apply().await?;
    report_conflicts(&mut import, &header, &mut rejections).await?;
    let Rejections {
        file,
        mut reported,
        count,
    } = rejections;
    let rejected_file = file.close()?;
    import.finish(!options.dry_run).await?;
    reported.sort_by_key(|r| r.row);
    Ok(ImportReport {
        summary: ImportSummary {
            inserted: counts.inserted,
            updated: counts.updated,
            unchanged: counts.unchanged,
            rejected: count,
        },
        rejected: reported,
        rejected_file,
        dry_run: options.dry_run,
        encoding,
    })
}

/// What [`check_file`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCheck {
    /// Rows that passed every check.
    pub valid: u64,
    /// Rows that did not, in file order: the first [`REPORTED_MAX`].
    pub rejected: Vec<RejectedRow>,
    /// How many rows did not.
    pub rejected_count: u64,
}

/// Reads and checks every row of an archive file as [`import_file`] does,
/// without a store: no conflicts between rows (the store finds those) and
/// no rejected file. This is all an import does with the file's bytes;
/// exposed for fuzzing and benches.
pub fn check_file(
    path: &Path,
    community: Option<&str>,
    default_area_code: Option<&AreaCode>,
) -> Result<FileCheck, ArchiveError> {
    let (mut source, header) = open_with_header(path, community.is_some())?;
    let mut check = FileCheck::default();
    while let Some(record) = source.next_record()? {
        match validate(&header, &record, community, default_area_code) {
            Ok(_) => check.valid += 1,
            Err(rejected) => {
                check.rejected_count += 1;
                if check.rejected.len() < REPORTED_MAX {
                    check.rejected.push(rejected);
                }
            }
        }
    }
    Ok(check)
}

/// Opens the file, finds its header and checks that it names the columns
/// an import needs (小区 only without a default community).
fn open_with_header(path: &Path, has_community: bool) -> Result<(Source, Header), ArchiveError> {
    let mut source = Source::open(path)?;
    let header = find_header(&mut source, path)?;
    let mut required = vec![Column::Room, Column::Name, Column::Role];
    if !has_community {
        required.push(Column::Community);
    }
    if let Some(column) = required.into_iter().find(|c| !header.has(*c)) {
        return Err(ArchiveError::MissingColumn {
            path: path.to_path_buf(),
            column,
        });
    }
    Ok((source, header))
}

fn find_header(source: &mut Source, path: &Path) -> Result<Header, ArchiveError> {
    for _ in 0..HEADER_SCAN_ROWS {
        let Some(record) = source.next_record()? else {
            break;
        };
        if let Some(header) = Header::detect(&record) {
            return Ok(header);
        }
    }
    Err(ArchiveError::NoHeader {
        path: path.to_path_buf(),
        rows: HEADER_SCAN_ROWS,
    })
}

async fn stage(
    import: &mut ArchiveImport,
    valid: ValidRow,
    record: Record,
) -> Result<(), ArchiveError> {
    let community_id = import.community_id(&valid.community).await?;
    let identity = valid.identity();
    let staged_phone = |phone: Option<crate::desk::NormalisedPhone>| {
        phone.map(|p| StagedPhone {
            number: p.number().to_owned(),
            extension: p.extension().unwrap_or_default().to_owned(),
            kind: p.kind().code().to_owned(),
            raw: p.received().to_owned(),
        })
    };
    import
        .stage(StagedRow {
            row_no: i64::try_from(record.row).unwrap_or(i64::MAX),
            community_id,
            building: valid.address.building().to_owned(),
            entrance: i64::from(valid.address.entrance().unwrap_or(0)),
            room: valid.address.room().to_owned(),
            name: valid.name,
            identity,
            role: valid.role.code().to_owned(),
            note: valid.note,
            mobile: staged_phone(valid.mobile),
            phone: staged_phone(valid.phone),
            // Kept for the rejected file only; a cell of a column the
            // import does not read may still hold a control character,
            // which PostgreSQL would refuse.
            record: record
                .fields
                .into_iter()
                .map(crate::desk::plain_text::replace_control_characters)
                .collect(),
        })
        .await?;
    Ok(())
}

/// Moves the rows the store found conflicting into the rejections.
async fn report_conflicts(
    import: &mut ArchiveImport,
    header: &Header,
    rejections: &mut Rejections,
) -> Result<(), ArchiveError> {
    let mut after = 0;
    loop {
        let page = import.conflicts(after, CONFLICT_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.row_no;
        for conflict in page {
            let column = match conflict.differs {
                ConflictField::Role => Column::Role,
                ConflictField::Mobile => Column::Mobile,
                ConflictField::Phone => Column::Phone,
            };
            let rejected = RejectedRow {
                row: u64::try_from(conflict.row_no).unwrap_or(0),
                column,
                reason: RejectReason::Conflict {
                    with_row: u64::try_from(conflict.first_row).unwrap_or(0),
                },
            };
            rejections.add(header, rejected, &conflict.record)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/archive");

    fn fixture(name: &str) -> PathBuf {
        Path::new(FIXTURES).join(name)
    }

    #[test]
    fn a_file_is_checked_row_by_row_without_a_store() {
        let area = AreaCode::parse("0871").expect("a valid area code");
        for name in ["good.csv", "good-bom.csv", "good-gbk.csv", "good.xlsx"] {
            let check = check_file(&fixture(name), None, Some(&area)).expect("a readable archive");
            assert_eq!((check.valid, check.rejected_count), (5, 0), "{name}");
        }
        // Without an area code a local landline cannot be completed.
        let check = check_file(&fixture("good.csv"), None, None).expect("a readable archive");
        assert_eq!((check.valid, check.rejected_count), (4, 1));
        assert_eq!(check.rejected[0].column, Column::Phone);
        let check = check_file(&fixture("bad.csv"), None, None).expect("a readable archive");
        // The duplicate of row 3 with another role is a conflict only the
        // store can see: here it is a valid row.
        assert_eq!((check.valid, check.rejected_count), (3, 3));
        let rejected: Vec<(u64, Column)> =
            check.rejected.iter().map(|r| (r.row, r.column)).collect();
        assert_eq!(
            rejected,
            [(4, Column::Room), (5, Column::Mobile), (6, Column::Role)]
        );
    }

    #[test]
    fn a_file_without_the_columns_an_import_needs_is_refused_before_any_row() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("no-role.csv");
        std::fs::write(&path, "小区,楼栋,房号,姓名\n金福花园,3,1201,张三\n").expect("written");
        let error = check_file(&path, None, None).expect_err("no 身份 column");
        assert!(
            matches!(
                error,
                ArchiveError::MissingColumn {
                    column: Column::Role,
                    ..
                }
            ),
            "{error:?}"
        );
        // Without a default community the 小区 column is needed too.
        std::fs::write(&path, "楼栋,房号,姓名,身份\n3,1201,张三,业主\n").expect("written");
        let check = check_file(&path, Some("金福花园"), None).expect("community given");
        assert_eq!(check.valid, 1);
        let error = check_file(&path, None, None).expect_err("no 小区 column");
        assert!(matches!(
            error,
            ArchiveError::MissingColumn {
                column: Column::Community,
                ..
            }
        ));
    }
}

//! `hotline archive export FILE.csv`: every residence as one row, in the
//! columns an import reads (Chinese headers, UTF-8 with BOM so Excel opens
//! it), read from the store page by page so memory stays flat.
//!
//! Owns the file layout; knows nothing of SQL.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::columns::Column;
use super::{ArchiveError, Role};
use crate::store::{ExportCursor, ExportRow, Store};

/// Residences read from the store at a time.
const EXPORT_PAGE: i64 = 1000;
/// Written first so Excel reads the file as UTF-8.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes the whole archive to `path`; returns the number of rows written.
/// A phone number is written as it was received; a person with several
/// phones from one column is written with the first.
pub async fn export_file(store: &Store, path: &Path) -> Result<u64, ArchiveError> {
    let error = |source| ArchiveError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = BufWriter::new(File::create(path).map_err(error)?);
    file.write_all(UTF8_BOM).map_err(error)?;
    let mut writer = csv::Writer::from_writer(file);
    writer
        .write_record(Column::ALL.map(Column::label_zh))
        .map_err(|e| error(e.into()))?;
    let mut cursor = ExportCursor::default();
    let mut written = 0u64;
    loop {
        let (page, next) = store.archive_export_page(&cursor, EXPORT_PAGE).await?;
        for row in page {
            writer
                .write_record(cells(row)?)
                .map_err(|e| error(e.into()))?;
            written += 1;
        }
        match next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    writer.flush().map_err(error)?;
    Ok(written)
}

/// A stored residence in [`Column::ALL`] order.
fn cells(row: ExportRow) -> Result<[String; Column::ALL.len()], ArchiveError> {
    let role = Role::from_code(&row.role).ok_or_else(|| ArchiveError::CorruptRecord {
        what: "role",
        value: row.role.clone(),
    })?;
    let entrance = match row.entrance {
        0 => String::new(),
        n => n.to_string(),
    };
    Ok([
        row.community,
        row.building,
        entrance,
        row.room,
        row.name,
        role.label_zh().to_owned(),
        row.mobile.unwrap_or_default(),
        row.phone.unwrap_or_default(),
        row.note,
    ])
}

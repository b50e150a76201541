//! Reading an archive file record by record: CSV streamed and decoded (UTF-8
//! with or without BOM, else GBK, which is what Chinese Excel writes), or the
//! first sheet of an xlsx workbook.
//!
//! Owns the encoding sniffing and the row numbers a user sees (the line in
//! the CSV, the row in the sheet, both counting the header). Knows nothing
//! of what the columns mean.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use calamine::{Data, Range, Reader};
use encoding_rs::{Encoding, GBK, UTF_8};
use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

use super::ArchiveError;

/// Bytes read to decide the encoding of a CSV file.
const SNIFF_LEN: usize = 64 * 1024;
/// The UTF-8 byte-order mark Excel writes with "CSV UTF-8".
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
/// Largest float that is still an exact integer cell (phone numbers typed
/// as numbers in Excel): 2^53.
const EXACT_FLOAT_MAX: f64 = 9_007_199_254_740_992.0;

/// One record of the file: its row number and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// 1-based, the header being row 1 when it is the first line.
    pub row: u64,
    pub fields: Vec<String>,
}

enum Kind {
    Csv(Box<csv::Reader<DecodeReaderBytes<File, Vec<u8>>>>),
    Sheet { range: Range<Data>, next: usize },
}

/// An open archive file.
pub(crate) struct Source {
    path: PathBuf,
    kind: Kind,
    encoding: &'static Encoding,
}

impl Source {
    /// Opens `.csv` (or `.txt`) as CSV, `.xlsx`/`.xlsm`/`.xls`/`.ods` as a
    /// workbook (its first sheet).
    pub fn open(path: &Path) -> Result<Source, ArchiveError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv" | "txt") => Self::open_csv(path),
            Some("xlsx" | "xlsm" | "xls" | "ods") => Self::open_sheet(path),
            _ => Err(ArchiveError::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }

    fn open_csv(path: &Path) -> Result<Source, ArchiveError> {
        let read_error = |source| ArchiveError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut head = Vec::with_capacity(SNIFF_LEN);
        File::open(path)
            .map_err(read_error)?
            .take(SNIFF_LEN as u64)
            .read_to_end(&mut head)
            .map_err(read_error)?;
        let encoding = sniff(&head, head.len() == SNIFF_LEN);
        let decoded = DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .bom_sniffing(true)
            .strip_bom(true)
            .build(File::open(path).map_err(read_error)?);
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(decoded);
        Ok(Source {
            path: path.to_path_buf(),
            kind: Kind::Csv(Box::new(reader)),
            encoding,
        })
    }

    fn open_sheet(path: &Path) -> Result<Source, ArchiveError> {
        let workbook_error = |source| ArchiveError::Workbook {
            path: path.to_path_buf(),
            source,
        };
        let mut workbook = calamine::open_workbook_auto(path).map_err(workbook_error)?;
        let range = workbook
            .worksheet_range_at(0)
            .ok_or_else(|| ArchiveError::NoSheet {
                path: path.to_path_buf(),
            })?
            .map_err(workbook_error)?;
        Ok(Source {
            path: path.to_path_buf(),
            kind: Kind::Sheet { range, next: 0 },
            encoding: UTF_8,
        })
    }

    /// The encoding the CSV is read in (UTF-8 for workbooks).
    pub fn encoding(&self) -> &'static Encoding {
        self.encoding
    }

    /// The next record that has any non-blank field.
    pub fn next_record(&mut self) -> Result<Option<Record>, ArchiveError> {
        loop {
            let record = match &mut self.kind {
                Kind::Csv(reader) => {
                    let mut record = csv::StringRecord::new();
                    let more =
                        reader
                            .read_record(&mut record)
                            .map_err(|source| ArchiveError::Csv {
                                path: self.path.clone(),
                                source,
                            })?;
                    if !more {
                        return Ok(None);
                    }
                    Record {
                        row: record.position().map_or(0, |p| p.line()),
                        fields: record.iter().map(|f| f.trim().to_owned()).collect(),
                    }
                }
                Kind::Sheet { range, next } => {
                    if *next >= range.height() {
                        return Ok(None);
                    }
                    let first = range.start().map_or(0, |(row, _)| u64::from(row));
                    let first_column = range.start().map_or(0, |(_, col)| col as usize);
                    // Columns left of the used range are blank, keep positions.
                    let mut fields = vec![String::new(); first_column];
                    fields.extend(
                        (0..range.width())
                            .map(|col| range.get((*next, col)).map_or(String::new(), cell_text)),
                    );
                    let row = first + *next as u64 + 1;
                    *next += 1;
                    Record { row, fields }
                }
            };
            if record.fields.iter().any(|f| !f.is_empty()) {
                return Ok(Some(record));
            }
        }
    }
}

/// UTF-8 when the head has a BOM or is valid UTF-8 (a sequence cut by the
/// end of a partial head counts as valid), else GBK.
fn sniff(head: &[u8], partial: bool) -> &'static Encoding {
    if head.starts_with(UTF8_BOM) {
        return UTF_8;
    }
    match std::str::from_utf8(head) {
        Ok(_) => UTF_8,
        Err(err) if partial && err.error_len().is_none() => UTF_8,
        Err(_) => GBK,
    }
}

/// A cell as text: numbers typed into Excel (phones, rooms) without `.0`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(text) => text.trim().to_owned(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < EXACT_FLOAT_MAX => format!("{f:.0}"),
        other => other.to_string().trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_or_without_bom_is_utf8_and_anything_else_is_gbk() {
        assert_eq!(sniff("小区,房号".as_bytes(), false), UTF_8);
        assert_eq!(sniff(b"\xEF\xBB\xBFname", false), UTF_8);
        let (gbk, _, _) = GBK.encode("小区,房号");
        assert_eq!(sniff(&gbk, false), GBK);
    }

    #[test]
    fn a_multibyte_character_cut_by_the_sniff_window_is_still_utf8() {
        let text = "小区".as_bytes();
        assert_eq!(sniff(&text[..4], true), UTF_8);
        assert_eq!(sniff(&text[..4], false), GBK);
    }

    #[test]
    fn numeric_cells_lose_their_fraction_only_when_exact() {
        assert_eq!(cell_text(&Data::Float(13812345678.0)), "13812345678");
        assert_eq!(cell_text(&Data::Float(1.5)), "1.5");
        assert_eq!(cell_text(&Data::Int(1201)), "1201");
        assert_eq!(cell_text(&Data::String(" 张三 ".into())), "张三");
    }
}

//! Reading an archive file record by record: CSV streamed and decoded (UTF-8
//! with or without BOM, else GBK, which is what Chinese Excel writes), or the
//! first sheet of an xlsx workbook.
//!
//! Owns the encoding sniffing and the row numbers a user sees (the line in
//! the CSV, the row in the sheet, both counting the header). Knows nothing
//! of what the columns mean.
//!
//! A sheet is kept as its non-blank cells, never as calamine's rectangle
//! from the first used cell to the last: one stray cell at `XFD1048576`
//! would make that 17 billion cells. An xlsx or xlsb sheet is read cell by
//! cell for that reason; a cell beyond Excel's last row or column (which a
//! long cell reference gives, calamine's parser wrapping around) is refused.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Sheets};
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
/// Rows of an Excel sheet (Excel specifications and limits).
const SHEET_MAX_ROWS: u32 = 1_048_576;
/// Columns of an Excel sheet, `A` to `XFD`.
const SHEET_MAX_COLUMNS: u32 = 16_384;

/// One record of the file: its row number and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The spreadsheet's row: 1-based, the header being row 1 when it is
    /// the first line.
    pub row: u64,
    pub fields: Vec<String>,
}

/// A non-blank cell of a sheet: 0-based row and column, and its text.
#[derive(Debug)]
struct SheetCell {
    row: u32,
    column: u32,
    text: String,
}

enum Kind {
    Csv(Box<csv::Reader<DecodeReaderBytes<File, Vec<u8>>>>),
    /// The sheet's cells in row order, and the first not yet returned.
    Sheet {
        cells: Vec<SheetCell>,
        next: usize,
    },
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
        let mut workbook =
            calamine::open_workbook_auto(path).map_err(|source| ArchiveError::Workbook {
                path: path.to_path_buf(),
                source,
            })?;
        let mut cells = first_sheet_cells(&mut workbook, path)?;
        // Cells usually come in row order, but nothing makes them; a cell
        // given twice keeps its last value, as calamine's range does.
        cells.sort_by_key(|cell| (cell.row, cell.column));
        Ok(Source {
            path: path.to_path_buf(),
            kind: Kind::Sheet { cells, next: 0 },
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
                    // The record's index, not its line: csv's line is
                    // where the reader stood (before a CRLF's `\n`), and a
                    // cell may span lines. A spreadsheet shows one row per
                    // record; only wholly empty lines, which the CSV reader
                    // skips, go uncounted.
                    Record {
                        row: record.position().map_or(0, |p| p.record() + 1),
                        fields: record.iter().map(|f| f.trim().to_owned()).collect(),
                    }
                }
                Kind::Sheet { cells, next } => match sheet_row(cells, next) {
                    Some(record) => record,
                    None => return Ok(None),
                },
            };
            if record.fields.iter().any(|f| !f.is_empty()) {
                return Ok(Some(record));
            }
        }
    }
}

/// The non-blank cells of the first sheet, in the order the file has them.
fn first_sheet_cells(
    workbook: &mut Sheets<BufReader<File>>,
    path: &Path,
) -> Result<Vec<SheetCell>, ArchiveError> {
    let workbook_error = |source| ArchiveError::Workbook {
        path: path.to_path_buf(),
        source,
    };
    let no_sheet = || ArchiveError::NoSheet {
        path: path.to_path_buf(),
    };
    let first = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(no_sheet)?;
    let mut cells = Vec::new();
    let mut keep = |position, value: &Data| {
        if let Some(cell) = SheetCell::new(path, position, value)? {
            cells.push(cell);
        }
        Ok::<(), ArchiveError>(())
    };
    match workbook {
        Sheets::Xlsx(xlsx) => {
            let mut reader = xlsx
                .worksheet_cells_reader(&first)
                .map_err(|e| workbook_error(e.into()))?;
            while let Some(cell) = reader.next_cell().map_err(|e| workbook_error(e.into()))? {
                keep(cell.get_position(), &Data::from(cell.get_value().clone()))?;
            }
        }
        Sheets::Xlsb(xlsb) => {
            let mut reader = xlsb
                .worksheet_cells_reader(&first)
                .map_err(|e| workbook_error(e.into()))?;
            while let Some(cell) = reader.next_cell().map_err(|e| workbook_error(e.into()))? {
                keep(cell.get_position(), &Data::from(cell.get_value().clone()))?;
            }
        }
        // xls and ods have no cell reader in calamine: their range it is.
        Sheets::Xls(_) | Sheets::Ods(_) => {
            let range = workbook
                .worksheet_range_at(0)
                .ok_or_else(no_sheet)?
                .map_err(workbook_error)?;
            let (top, left) = range.start().unwrap_or_default();
            for (row, column, value) in range.used_cells() {
                keep((top + row as u32, left + column as u32), value)?;
            }
        }
    }
    Ok(cells)
}

impl SheetCell {
    /// The cell at `(row, column)` (0-based) if it holds any text; an error
    /// if it lies outside any sheet.
    fn new(
        path: &Path,
        (row, column): (u32, u32),
        value: &Data,
    ) -> Result<Option<SheetCell>, ArchiveError> {
        if row >= SHEET_MAX_ROWS || column >= SHEET_MAX_COLUMNS {
            return Err(ArchiveError::CellOutsideSheet {
                path: path.to_path_buf(),
                row: u64::from(row) + 1,
                column: u64::from(column) + 1,
            });
        }
        let text = cell_text(value);
        Ok((!text.is_empty()).then_some(SheetCell { row, column, text }))
    }
}

/// The record of the row of `cells[*next]`, the cells of that row consumed;
/// `None` after the last row. Each field is at its column's position (blank
/// ones between and before), up to the row's last cell, as a CSV line has
/// them; the row number is the sheet's, 1-based.
fn sheet_row(cells: &mut [SheetCell], next: &mut usize) -> Option<Record> {
    let row = cells.get(*next)?.row;
    let end = cells[*next..]
        .iter()
        .position(|cell| cell.row != row)
        .map_or(cells.len(), |len| *next + len);
    let in_row = &mut cells[*next..end];
    *next = end;
    let width = in_row.last().map_or(0, |cell| cell.column as usize + 1);
    let mut fields = vec![String::new(); width];
    for cell in in_row {
        if let Some(field) = fields.get_mut(cell.column as usize) {
            *field = std::mem::take(&mut cell.text);
        }
    }
    Some(Record {
        row: u64::from(row) + 1,
        fields,
    })
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

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    fn records(name: &str) -> Result<Vec<Record>, ArchiveError> {
        let mut source = Source::open(&Path::new(FIXTURES).join(name))?;
        let mut records = Vec::new();
        while let Some(record) = source.next_record()? {
            records.push(record);
        }
        Ok(records)
    }

    fn without_trailing_blanks(mut records: Vec<Record>) -> Vec<Record> {
        for record in &mut records {
            while record.fields.last().is_some_and(String::is_empty) {
                record.fields.pop();
            }
        }
        records
    }

    #[test]
    fn a_sheet_reads_as_the_same_rows_as_the_csv_it_was_saved_from() {
        let sheet = records("archive/good.xlsx").expect("a good workbook");
        let csv = records("archive/good.csv").expect("a good file");
        assert_eq!(sheet.len(), 6);
        assert_eq!(without_trailing_blanks(sheet), without_trailing_blanks(csv));
    }

    #[test]
    fn a_stray_cell_at_the_end_of_a_sheet_is_one_more_row_not_a_rectangle() {
        // XFD1048576 next to A1: calamine's range would be 17 billion cells.
        let records = records("archive/stray-cell.xlsx").expect("a workbook");
        assert_eq!(records.len(), 7);
        let last = records.last().expect("seven rows");
        assert_eq!(last.row, u64::from(SHEET_MAX_ROWS));
        assert_eq!(last.fields.len(), SHEET_MAX_COLUMNS as usize);
        assert_eq!(last.fields.last().map(String::as_str), Some("x"));
        assert!(records[..6].iter().all(|record| record.fields.len() <= 9));
    }

    #[test]
    fn a_cell_reference_past_the_last_column_is_refused_not_wrapped_around() {
        // `ABCDEFGH7` overflows calamine's column arithmetic (32 bits).
        let error = records("archive/long-cell-reference.xlsx").expect_err("column out of range");
        assert!(
            matches!(error, ArchiveError::CellOutsideSheet { row: 7, .. }),
            "{error:?}"
        );
        // As fuzzing found it: `r="ClineStr"` in a damaged sheet, a panic
        // before (with overflow checks), now a reference without a row.
        let error = records("fuzz/archive-xlsx-long-cell-reference.xlsx")
            .expect_err("no row in the reference");
        assert!(
            matches!(
                error,
                ArchiveError::Workbook {
                    source: calamine::Error::Xlsx(_),
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_csv_row_is_numbered_as_a_spreadsheet_shows_it_whatever_the_line_ends() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (name, text) in [
            ("lf.csv", "a,b\n1,2\n3,4\n"),
            ("crlf.csv", "a,b\r\n1,2\r\n3,4\r\n"),
            ("bom-crlf.csv", "\u{feff}a,b\r\n1,2\r\n3,4"),
            ("multiline.csv", "a,b\r\n\"1\r\nmore\",2\r\n3,4\r\n"),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("written");
            let mut source = Source::open(&path).expect("opened");
            let mut rows = Vec::new();
            while let Some(record) = source.next_record().expect("a record") {
                rows.push((record.row, record.fields[1].clone()));
            }
            assert_eq!(
                rows,
                [
                    (1, "b".to_owned()),
                    (2, "2".to_owned()),
                    (3, "4".to_owned())
                ],
                "{name}"
            );
        }
    }

    #[test]
    fn numeric_cells_lose_their_fraction_only_when_exact() {
        assert_eq!(cell_text(&Data::Float(13812345678.0)), "13812345678");
        assert_eq!(cell_text(&Data::Float(1.5)), "1.5");
        assert_eq!(cell_text(&Data::Int(1201)), "1201");
        assert_eq!(cell_text(&Data::String(" 张三 ".into())), "张三");
    }
}

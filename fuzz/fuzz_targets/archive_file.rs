//! The owner-archive import's reading and checking of an administrator's
//! file, row by row: CSV in UTF-8 or GBK (the header found among the first
//! rows, each row validated: room address, role, phones) or, for input that
//! starts like a zip, an xlsx workbook.
#![no_main]

use hotline::desk::AreaCode;
use hotline::desk::archive::check_file;
use hotline_fuzz::scratch_file;
use libfuzzer_sys::fuzz_target;

/// The local file header signature of a zip archive, which xlsx is.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

fuzz_target!(|data: &[u8]| {
    let extension = if data.starts_with(ZIP_MAGIC) {
        "xlsx"
    } else {
        "csv"
    };
    let path = scratch_file(extension, data);
    let area = AreaCode::parse("0871").expect("a valid area code");
    // As the CLI is usually run (community and area code given), and with
    // neither, which makes 小区 a required column.
    let _ = check_file(&path, Some("金福花园"), Some(&area));
    let _ = check_file(&path, None, None);
});

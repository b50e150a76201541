//! What the fuzz targets share: a scratch file for the parsers that read a
//! path rather than bytes (WAV repair, archive import).

use std::fs;
use std::path::PathBuf;

/// Where scratch files go when `scripts/fuzz.sh` names no folder.
const SHM_DIR: &str = "/dev/shm";
/// The folder `scripts/fuzz.sh` makes for a run and removes after it.
const SCRATCH_DIR_VAR: &str = "HOTLINE_FUZZ_SCRATCH_DIR";

/// Writes `data` to this process's scratch file with `extension` and returns
/// its path: one file per process and extension, rewritten for each input.
/// In RAM (`/dev/shm`) when the machine has it, so that a run is not
/// limited by the disk.
pub fn scratch_file(extension: &str, data: &[u8]) -> PathBuf {
    let dir = match std::env::var_os(SCRATCH_DIR_VAR) {
        Some(dir) => PathBuf::from(dir),
        None if std::path::Path::new(SHM_DIR).is_dir() => PathBuf::from(SHM_DIR),
        None => std::env::temp_dir(),
    };
    let path = dir.join(format!("hotline-fuzz-{}.{extension}", std::process::id()));
    fs::write(&path, data).expect("the scratch folder is writable");
    path
}

//! What the fuzz targets share: a scratch file for the parsers that read a
//! path rather than bytes (WAV repair, archive import).

use std::fs;
use std::path::PathBuf;

/// Writes `data` to this process's scratch file with `extension` and returns
/// its path. In RAM (`/dev/shm`) when the machine has it, so that a run is
/// not limited by the disk; one file per process and extension, rewritten
/// for each input.
pub fn scratch_file(extension: &str, data: &[u8]) -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let dir = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("hotline-fuzz-{}.{extension}", std::process::id()));
    fs::write(&path, data).expect("the scratch directory is writable");
    path
}

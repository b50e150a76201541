//! SHA-256 of a finished recording file, as lowercase hex; knows nothing of WAV.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Bytes read per step while hashing.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Hashes the whole file at `path` as it is on disk now.
pub(crate) fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    loop {
        let read = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&chunk[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_of_a_known_file_is_the_published_sha256() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").expect("write");
        // FIPS 180-2 appendix B.1 test vector.
        assert_eq!(
            sha256_file(&path).expect("hash"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_file_larger_than_one_chunk_is_hashed_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big");
        let bytes: Vec<u8> = (0..READ_CHUNK_BYTES * 2 + 7).map(|i| i as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(
            sha256_file(&path).expect("hash"),
            hex::encode(Sha256::digest(&bytes))
        );
    }
}

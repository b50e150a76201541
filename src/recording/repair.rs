//! Repair of a WAV file that a crash (kill -9, power loss, full disk) left with
//! sizes that do not match its length. Knows the RIFF/WAVE layout only; which
//! files to check, and when, is the caller's business (at start, before
//! recordings are opened).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::hash::sha256_file;
use super::wav::{
    CANONICAL_HEADER_LEN, DATA_SIZE_OFFSET, RIFF_SIZE_OFFSET, canonical_header, duration_of,
};
use super::{RecordingError, Result};

/// File name extension of recordings.
const WAV_EXTENSION: &str = "wav";
/// Bytes of a chunk header: four-character id and 32-bit little-endian size.
const CHUNK_HEADER_LEN: u64 = 8;
/// `RIFF` + size + `WAVE`.
const RIFF_HEADER_LEN: u64 = 12;
/// Bytes of the `fmt ` chunk body this module reads (PCMWAVEFORMAT).
const FMT_FIELDS_LEN: usize = 16;
/// Bytes the RIFF size field does not count (`RIFF` and the field itself).
const RIFF_UNCOUNTED_LEN: u64 = 8;

/// What [`repair`] found and left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// Length of the audio now in the file.
    pub duration: Duration,
    /// Lowercase hex SHA-256 of the whole file as left on disk.
    pub sha256: String,
    /// Whether the file had to be changed.
    pub was_damaged: bool,
}

/// Checks the WAV at `path` and, if its RIFF or data size does not match its
/// length, fixes them in place (RIFF/WAVE layout, the "Multimedia Programming
/// Interface and Data Specifications 1.0" of 1991): the data chunk then runs
/// to the end of the file, rounded down to whole sample frames (a trailing
/// partial frame is cut off). A file shorter than a header that begins like
/// one becomes an empty stereo 8 kHz WAV. An intact file is not written to.
pub fn repair(path: &Path) -> Result<RepairReport> {
    let io_error = |source: io::Error| RecordingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();

    let (duration, was_damaged) = if len < CANONICAL_HEADER_LEN as u64 {
        rewrite_short(&mut file, len, path)?;
        (Duration::ZERO, true)
    } else {
        let layout = read_layout(&mut file, len, path)?;
        let audio_frames;
        let verdict = layout.verdict(&mut file, len).map_err(io_error)?;
        let was_damaged = match verdict {
            Verdict::Intact => {
                audio_frames = layout.declared_data / u64::from(layout.block_align);
                false
            }
            Verdict::RiffSizeOnly => {
                audio_frames = layout.declared_data / u64::from(layout.block_align);
                write_u32_at(&mut file, RIFF_SIZE_OFFSET as u64, riff_size(len))
                    .map_err(io_error)?;
                true
            }
            Verdict::DataRunsToEnd => {
                audio_frames = fix_to_end(&mut file, &layout, len).map_err(io_error)?;
                true
            }
        };
        if was_damaged {
            file.sync_all().map_err(io_error)?;
        }
        (duration_of(audio_frames, layout.sample_rate), was_damaged)
    };
    drop(file);
    if was_damaged {
        tracing::warn!(path = %path.display(), ?duration, "repaired a damaged recording");
    }
    let sha256 = sha256_file(path).map_err(io_error)?;
    Ok(RepairReport {
        duration,
        sha256,
        was_damaged,
    })
}

/// What [`repair_all`] did with one file.
#[derive(Debug)]
pub struct RepairOutcome {
    /// The file looked at.
    pub path: PathBuf,
    /// What [`repair`] said about it.
    pub result: Result<RepairReport>,
}

/// Runs [`repair`] on every `.wav` file under `root` (recursively, symbolic
/// links not followed). Meant for start-up, before any recording is opened:
/// a file being written would look damaged. A missing root holds nothing.
pub fn repair_all(root: &Path) -> Result<Vec<RepairOutcome>> {
    let mut outcomes = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound && dir == root => break,
            Err(source) => return Err(RecordingError::Io { path: dir, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| RecordingError::Io {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|source| RecordingError::Io {
                path: path.clone(),
                source,
            })?;
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file() && is_wav_name(&path) {
                let result = repair(&path);
                outcomes.push(RepairOutcome { path, result });
            }
        }
    }
    outcomes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(outcomes)
}

fn is_wav_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case(WAV_EXTENSION))
}

/// Where the chunks of a RIFF/WAVE file are.
#[derive(Debug)]
struct Layout {
    riff_size: u32,
    sample_rate: u32,
    block_align: u16,
    /// Offset of the first byte of sample data.
    data_start: u64,
    /// Data size the header claims.
    declared_data: u64,
}

/// What a file needs.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Intact,
    RiffSizeOnly,
    DataRunsToEnd,
}

impl Layout {
    fn verdict(&self, file: &mut File, len: u64) -> io::Result<Verdict> {
        let available = len - self.data_start;
        let whole_frames = self
            .declared_data
            .is_multiple_of(u64::from(self.block_align));
        if self.declared_data > available || !whole_frames {
            return Ok(Verdict::DataRunsToEnd);
        }
        let data_end = self.data_start + self.declared_data;
        // Bytes after the data chunk are fine only if they are whole chunks
        // (e.g. a LIST chunk an editor appended); otherwise they are samples
        // written after the last header sync. A chunk of odd size is followed
        // by a pad byte (RIFF specification, "Chunks").
        if data_end < len && !chunks_tile(file, data_end + self.declared_data % 2, len)? {
            return Ok(Verdict::DataRunsToEnd);
        }
        Ok(if u64::from(self.riff_size) == len - RIFF_UNCOUNTED_LEN {
            Verdict::Intact
        } else {
            Verdict::RiffSizeOnly
        })
    }
}

/// Reads the RIFF header and walks the chunks up to the `data` chunk.
fn read_layout(file: &mut File, len: u64, path: &Path) -> Result<Layout> {
    let not_wav = || RecordingError::NotWav {
        path: path.to_path_buf(),
    };
    let io_error = |source: io::Error| RecordingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut riff = [0u8; RIFF_HEADER_LEN as usize];
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    file.read_exact(&mut riff).map_err(io_error)?;
    if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return Err(not_wav());
    }
    let riff_size = le_u32(&riff[4..8]);
    let mut format: Option<(u32, u16)> = None;
    let mut at = RIFF_HEADER_LEN;
    loop {
        let Some((id, size)) = read_chunk_header(file, at, len).map_err(io_error)? else {
            return Err(not_wav());
        };
        let body = at + CHUNK_HEADER_LEN;
        match &id {
            b"fmt " => {
                if size < FMT_FIELDS_LEN as u32 || body + FMT_FIELDS_LEN as u64 > len {
                    return Err(not_wav());
                }
                let mut fields = [0u8; FMT_FIELDS_LEN];
                file.read_exact(&mut fields).map_err(io_error)?;
                let channels = le_u16(&fields[2..4]);
                let sample_rate = le_u32(&fields[4..8]);
                let byte_rate = le_u32(&fields[8..12]);
                let block_align = le_u16(&fields[12..14]);
                let bits_per_sample = le_u16(&fields[14..16]);
                if !fmt_is_consistent(
                    channels,
                    sample_rate,
                    byte_rate,
                    block_align,
                    bits_per_sample,
                ) {
                    return Err(not_wav());
                }
                format = Some((sample_rate, block_align));
            }
            b"data" => {
                let Some((sample_rate, block_align)) = format else {
                    return Err(not_wav());
                };
                return Ok(Layout {
                    riff_size,
                    sample_rate,
                    block_align,
                    data_start: body,
                    declared_data: u64::from(size),
                });
            }
            other if !is_fourcc(other) => return Err(not_wav()),
            _ => {}
        }
        at = body + u64::from(size) + u64::from(size % 2);
    }
}

/// Whether the `fmt ` fields describe whole, non-empty sample frames (the
/// block alignment is what repair rounds to, so it must be right).
fn fmt_is_consistent(
    channels: u16,
    sample_rate: u32,
    byte_rate: u32,
    block_align: u16,
    bits_per_sample: u16,
) -> bool {
    let bytes_per_sample = u32::from(bits_per_sample).div_ceil(8);
    channels != 0
        && sample_rate != 0
        && bits_per_sample != 0
        && u32::from(block_align) == u32::from(channels) * bytes_per_sample
        && u64::from(byte_rate) == u64::from(sample_rate) * u64::from(block_align)
}

/// Whether the bytes from `at` to `len` are a sequence of whole chunks (the
/// last one may lack its pad byte, a common writer slip).
fn chunks_tile(file: &mut File, mut at: u64, len: u64) -> io::Result<bool> {
    while at < len {
        let Some((id, size)) = read_chunk_header(file, at, len)? else {
            return Ok(false);
        };
        if !is_fourcc(&id) {
            return Ok(false);
        }
        let end = at + CHUNK_HEADER_LEN + u64::from(size);
        if end == len {
            return Ok(true);
        }
        at = end + u64::from(size % 2);
    }
    Ok(at == len)
}

/// Reads the chunk header at `at`, or `None` if the file ends before it does.
fn read_chunk_header(file: &mut File, at: u64, len: u64) -> io::Result<Option<([u8; 4], u32)>> {
    if at + CHUNK_HEADER_LEN > len {
        return Ok(None);
    }
    let mut header = [0u8; CHUNK_HEADER_LEN as usize];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut header)?;
    let mut id = [0u8; 4];
    id.copy_from_slice(&header[0..4]);
    Ok(Some((id, le_u32(&header[4..8]))))
}

/// A chunk id is four printable ASCII characters (spaces allowed).
fn is_fourcc(id: &[u8; 4]) -> bool {
    id.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
}

/// Makes the data chunk run to the end of the file, cut to whole sample
/// frames; returns the sample frames it now holds.
fn fix_to_end(file: &mut File, layout: &Layout, len: u64) -> io::Result<u64> {
    let block_align = u64::from(layout.block_align);
    // The RIFF size (everything after its own field) must fit in 32 bits,
    // pad byte included.
    let most = (u64::from(u32::MAX) - 1).saturating_sub(layout.data_start - RIFF_UNCOUNTED_LEN);
    let mut data = (len - layout.data_start).min(most);
    data -= data % block_align;
    let data_end = layout.data_start + data;
    file.set_len(data_end)?;
    let new_len = if data % 2 == 1 {
        file.seek(SeekFrom::Start(data_end))?;
        file.write_all(&[0])?;
        data_end + 1
    } else {
        data_end
    };
    let data_u32 = u32::try_from(data).expect("data is capped below u32::MAX above");
    write_u32_at(file, layout.data_start - 4, data_u32)?;
    write_u32_at(file, RIFF_SIZE_OFFSET as u64, riff_size(new_len))?;
    Ok(data / block_align)
}

/// Rewrites a file too short to hold a header as an empty recording, if what
/// it holds is the beginning of one.
fn rewrite_short(file: &mut File, len: u64, path: &Path) -> Result<()> {
    let io_error = |source: io::Error| RecordingError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::with_capacity(CANONICAL_HEADER_LEN);
    file.take(len).read_to_end(&mut bytes).map_err(io_error)?;
    if !begins_like_a_recording(&bytes) {
        return Err(RecordingError::NotWav {
            path: PathBuf::from(path),
        });
    }
    file.set_len(0).map_err(io_error)?;
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    file.write_all(&canonical_header(0)).map_err(io_error)?;
    file.sync_all().map_err(io_error)
}

/// Whether `bytes` match the canonical header everywhere but the size fields.
fn begins_like_a_recording(bytes: &[u8]) -> bool {
    let canonical = canonical_header(0);
    let size_fields = [
        RIFF_SIZE_OFFSET..RIFF_SIZE_OFFSET + 4,
        DATA_SIZE_OFFSET..DATA_SIZE_OFFSET + 4,
    ];
    bytes
        .iter()
        .zip(canonical)
        .enumerate()
        .all(|(at, (&byte, expected))| {
            byte == expected || size_fields.iter().any(|field| field.contains(&at))
        })
}

/// The RIFF size field of a file of `len` bytes (saturated: a file longer
/// than a RIFF can describe is capped before this is written).
fn riff_size(len: u64) -> u32 {
    u32::try_from(len.saturating_sub(RIFF_UNCOUNTED_LEN)).unwrap_or(u32::MAX)
}

fn write_u32_at(file: &mut File, at: u64, value: u32) -> io::Result<()> {
    file.seek(SeekFrom::Start(at))?;
    file.write_all(&value.to_le_bytes())
}

fn le_u16(bytes: &[u8]) -> u16 {
    u16::from_le_bytes([bytes[0], bytes[1]])
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod tests;

//! Reading the input with limits: only a regular file (or stdin) of at most [`max_input`]
//! bytes, so `-f /dev/zero` or a FIFO never reads forever.

use std::path::Path;

use super::LoadError;

/// The environment variable that raises (or lowers) the input limit: bytes, or with a `KiB`,
/// `MiB`, `GiB` (or `K`, `M`, `G`) suffix.
pub const MAX_INPUT_ENV: &str = "LINKPATROL_MAX_FILE_SIZE";

/// The input limit unless [`MAX_INPUT_ENV`] says otherwise: 128 MiB, five times a generated
/// 100,000-service topology (25 MB).
pub const DEFAULT_MAX_INPUT: u64 = 128 << 20;

/// The input limit in force: [`MAX_INPUT_ENV`] when set to a size, else [`DEFAULT_MAX_INPUT`].
pub fn max_input() -> u64 {
    std::env::var(MAX_INPUT_ENV)
        .ok()
        .and_then(|v| parse_size(&v))
        .unwrap_or(DEFAULT_MAX_INPUT)
}

/// `1048576`, `64MiB`, `64M`, `1GiB`, `512k`: a size in bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

pub(super) fn human_bytes(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

fn file_kind(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Reads at most `limit` bytes of `reader`; more is [`LoadError::TooLarge`].
fn read_capped(
    mut reader: impl std::io::Read,
    path: &str,
    limit: u64,
) -> Result<Vec<u8>, LoadError> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    (&mut reader)
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|cause| LoadError::Read {
            path: path.to_owned(),
            cause,
        })?;
    if bytes.len() as u64 > limit {
        return Err(LoadError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// Reads a topology file: a regular file (checked before opening, so a FIFO without a writer
/// never blocks) of at most [`max_input`] bytes.
pub fn read_input_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    let origin = path.display().to_string();
    let read_err = |cause| LoadError::Read {
        path: origin.clone(),
        cause,
    };
    let limit = max_input();
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.file_type().is_file() {
        return Err(LoadError::NotRegular {
            path: origin,
            kind: file_kind(meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(LoadError::TooLarge {
            path: origin,
            limit,
        });
    }
    let file = std::fs::File::open(path).map_err(read_err)?;
    // The path may have been replaced between the two looks: check what was opened.
    let opened = file.metadata().map_err(read_err)?;
    if !opened.file_type().is_file() {
        return Err(LoadError::NotRegular {
            path: origin,
            kind: file_kind(opened.file_type()),
        });
    }
    read_capped(file, &origin, limit)
}

/// Reads a topology from stdin (`-f -`), at most [`max_input`] bytes.
pub fn read_stdin() -> Result<Vec<u8>, LoadError> {
    read_capped(std::io::stdin().lock(), "<stdin>", max_input())
}

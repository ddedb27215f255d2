//! The only code that writes into an output directory (STYLE §7), and to stdout for reports.
//!
//! Every file is written whole or not at all (SPEC §6): the bytes go to a temporary file in the
//! same directory, which is flushed to disk (`fsync`) and then renamed over the target; the
//! directory is synced after the renames so the new names survive a crash. [`write_files`] writes
//! every temporary file first and renames only when all of them were written, so a failure
//! midway leaves the old set in place; a file either has its old content or its new one, never a
//! torn mix. Temporary files are named `.NAME.XXXXXX` and removed when anything fails.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::report::render_error::RenderError;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RenderError + '_ {
    move |source| RenderError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes one file atomically into `dir` (created if missing). Returns its path.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, RenderError> {
    let mut paths = write_files(dir, &[(name, bytes)])?;
    Ok(paths.remove(0))
}

/// Writes several files into `dir` (created if missing), each whole or absent: all temporary
/// files are written and synced before the first rename. Returns the paths in the given order.
///
/// `name` must be a plain file name (no directory part).
pub fn write_files(dir: &Path, files: &[(&str, &[u8])]) -> Result<Vec<PathBuf>, RenderError> {
    for (name, _) in files {
        let plain = Path::new(name)
            .file_name()
            .is_some_and(|f| f == std::ffi::OsStr::new(name));
        if !plain {
            return Err(RenderError::Io {
                path: dir.join(name),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an output file name must not contain a directory",
                ),
            });
        }
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut staged = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let target = dir.join(name);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .tempfile_in(dir)
            .map_err(io_err(&target))?;
        tmp.write_all(bytes).map_err(io_err(&target))?;
        tmp.as_file().sync_all().map_err(io_err(&target))?;
        set_readable(&tmp).map_err(io_err(&target))?;
        staged.push((tmp, target));
    }
    let mut written = Vec::with_capacity(staged.len());
    for (tmp, target) in staged {
        tmp.persist(&target).map_err(|e| io_err(&target)(e.error))?;
        written.push(target);
    }
    sync_dir(dir).map_err(io_err(dir))?;
    Ok(written)
}

/// Reports are for people and other tools: `rw-r--r--`, not the temporary file's `rw-------`.
#[cfg(unix)]
fn set_readable(tmp: &NamedTempFile) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable(_tmp: &NamedTempFile) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Writes a report to stdout; a closed pipe (`| head`) is not an error (STYLE §3).
pub fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_and_creates_the_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out/nested");
        let paths = write_files(&dir, &[("a.txt", b"one"), ("b.txt", b"two")]).unwrap();
        assert_eq!(paths, vec![dir.join("a.txt"), dir.join("b.txt")]);
        assert_eq!(fs::read(dir.join("a.txt")).unwrap(), b"one");
        // Replacing keeps no temporary files behind.
        write_atomic(&dir, "a.txt", b"three").unwrap();
        assert_eq!(fs::read(dir.join("a.txt")).unwrap(), b"three");
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a.txt", "b.txt"]);
    }

    #[test]
    fn a_failed_set_changes_nothing() {
        let root = tempfile::tempdir().unwrap();
        write_atomic(root.path(), "a.txt", b"old").unwrap();
        let err = write_files(root.path(), &[("a.txt", b"new"), ("../x", b"no")]).unwrap_err();
        assert!(err.to_string().contains("cannot write"), "{err}");
        assert_eq!(fs::read(root.path().join("a.txt")).unwrap(), b"old");
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let p = write_atomic(root.path(), "r.json", b"{}").unwrap();
        assert_eq!(fs::metadata(p).unwrap().permissions().mode() & 0o777, 0o644);
    }
}

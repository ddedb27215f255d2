//! The only code that writes into an output directory (STYLE §7), and to stdout for reports.
//!
//! Every file is written whole or not at all (SPEC §6): the bytes go to a temporary file in a
//! hidden staging folder of the same directory (`.staging-XXXXXX/`, same file system), which is
//! flushed to disk (`fsync`) and then renamed over the target; the directory is synced after the
//! renames so the new names survive a crash. [`write_files`] writes every temporary file first
//! and renames only when all of them were written, in the order given, so a failure midway
//! leaves the old set in place, and a caller can rename the file that marks a set complete
//! last (`render` writes `graph.dot` last). A file has its old content or its new one, never a
//! torn mix. The staging folder is removed when anything fails; one left by a killed process is
//! removed by the next writer that holds the directory's lock ([`remove_stale_staging`]), so
//! nothing half-written ever sits under a name a user or a tool reads.
//!
//! `inspect` runs go one level further (SPEC §6): a run is written into `runs/.partial-NAME/`,
//! renamed to `runs/NAME` when every file is there, and only then does `latest` (a symlink
//! replaced by rename) move to it. A process killed at any point leaves `latest` at a complete
//! run; the next run removes leftover partial folders while holding the directory's lock.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::report::render_error::RenderError;

/// Every file a run folder holds, in the order they are written.
pub const RUN_FILES: [&str; 8] = [
    "report.json",
    "report.md",
    "report.html",
    "graph.dot",
    "graph.svg",
    "graph.mmd",
    "metrics.prom",
    "junit.xml",
];

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
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(dir)
        .map_err(io_err(dir))?;
    let mut staged = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let target = dir.join(name);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!("{name}."))
            .tempfile_in(staging.path())
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
    drop(staging);
    Ok(written)
}

/// The name prefix of [`write_files`]' staging folders.
const STAGING_PREFIX: &str = ".staging-";

/// Removes staging folders left in `dir` by a process killed while writing. The caller holds
/// the directory's lock, so no writer that takes it is using one of them.
pub fn remove_stale_staging(dir: &Path, _lock: &OutputLock) -> Result<(), RenderError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let stale = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(STAGING_PREFIX))
            && entry.file_type().is_ok_and(|t| t.is_dir());
        if stale {
            let path = entry.path();
            fs::remove_dir_all(&path).map_err(io_err(&path))?;
        }
    }
    Ok(())
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

/// The folder under the output directory that holds one folder per `inspect` run.
pub const RUNS_DIR: &str = "runs";
/// The symlink under the output directory that names the newest complete run.
pub const LATEST: &str = "latest";
/// Where a run is written before it is complete: `runs/.partial-NAME`.
const PARTIAL_PREFIX: &str = ".partial-";

/// An exclusive lock on an output directory, held for a whole `inspect` run so that two runs
/// into one directory take turns (a scheduler that starts the next run before the last ended).
/// Released when dropped, and by the kernel when the process dies, however it dies.
#[derive(Debug)]
pub struct OutputLock {
    _file: fs::File,
}

/// Creates `out` if needed and takes its lock (`out/.lock`), waiting for another run to finish;
/// then removes staging folders a killed writer left there ([`remove_stale_staging`]).
pub fn lock_output(out: &Path) -> Result<OutputLock, RenderError> {
    fs::create_dir_all(out).map_err(io_err(out))?;
    let path = out.join(".lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    file.lock().map_err(io_err(&path))?;
    let lock = OutputLock { _file: file };
    remove_stale_staging(out, &lock)?;
    Ok(lock)
}

/// A run folder being written. Files go into `runs/.partial-NAME/` (each whole, as with
/// [`write_files`]); [`RunDir::finish`] renames the folder to `runs/NAME` in one step, so
/// `runs/` only ever shows complete runs.
#[derive(Debug)]
pub struct RunDir {
    runs: PathBuf,
    name: String,
    partial: PathBuf,
}

impl RunDir {
    /// Starts the run folder `NAME` under `out/runs/`. Partial folders left by killed runs are
    /// removed first (the caller holds the [`OutputLock`], so none of them is still in use).
    pub fn begin(out: &Path, name: &str, _lock: &OutputLock) -> Result<Self, RenderError> {
        let runs = out.join(RUNS_DIR);
        fs::create_dir_all(&runs).map_err(io_err(&runs))?;
        remove_partials(&runs)?;
        let partial = runs.join(format!("{PARTIAL_PREFIX}{name}"));
        fs::create_dir(&partial).map_err(io_err(&partial))?;
        Ok(Self {
            runs,
            name: name.to_owned(),
            partial,
        })
    }

    /// Writes files into the (partial) run folder.
    pub fn write(&self, files: &[(&str, &[u8])]) -> Result<(), RenderError> {
        write_files(&self.partial, files).map(|_| ())
    }

    /// Makes the run folder complete: renames it to `runs/NAME` and syncs `runs/`. Returns its
    /// final path.
    pub fn finish(self) -> Result<PathBuf, RenderError> {
        let target = self.runs.join(&self.name);
        fs::rename(&self.partial, &target).map_err(io_err(&target))?;
        sync_dir(&self.runs).map_err(io_err(&self.runs))?;
        Ok(target)
    }
}

fn remove_partials(runs: &Path) -> Result<(), RenderError> {
    for entry in fs::read_dir(runs).map_err(io_err(runs))? {
        let entry = entry.map_err(io_err(runs))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PARTIAL_PREFIX))
        {
            let path = entry.path();
            fs::remove_dir_all(&path).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

/// Points `out/latest` at `runs/NAME` in one atomic step: a new relative symlink is made under a
/// temporary name and renamed over the old one (rename(2) replaces it atomically), then `out`
/// is synced. A reader sees the old run or the new one, never no `latest`.
#[cfg(unix)]
pub fn point_latest(out: &Path, name: &str) -> Result<PathBuf, RenderError> {
    let latest = out.join(LATEST);
    if fs::symlink_metadata(&latest).is_ok_and(|m| !m.file_type().is_symlink()) {
        return Err(RenderError::Io {
            path: latest,
            source: io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a symlink; move it away so `inspect` can manage it",
            ),
        });
    }
    let tmp = out.join(format!(".{LATEST}.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(Path::new(RUNS_DIR).join(name), &tmp).map_err(io_err(&tmp))?;
    if let Err(e) = fs::rename(&tmp, &latest) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&latest)(e));
    }
    sync_dir(out).map_err(io_err(out))?;
    Ok(latest)
}

/// The run folder name `out/latest` points at, if it is a symlink into `runs/`.
pub fn latest_run(out: &Path) -> Option<String> {
    let target = fs::read_link(out.join(LATEST)).ok()?;
    let mut parts = target.components();
    let first = parts.next()?;
    if first.as_os_str() != RUNS_DIR {
        return None;
    }
    let name = parts.next()?.as_os_str().to_str()?.to_owned();
    parts.next().is_none().then_some(name)
}

/// Retention of run folders: keeps the newest `keep` complete runs under `out/runs/` (names
/// sort in time order) and always the one `latest` points at; removes the rest and any partial
/// folder. Returns the folders removed, oldest first.
pub fn prune_runs(
    out: &Path,
    keep: usize,
    _lock: &OutputLock,
) -> Result<Vec<PathBuf>, RenderError> {
    let runs = out.join(RUNS_DIR);
    if !runs.is_dir() {
        return Ok(Vec::new());
    }
    remove_partials(&runs)?;
    let latest = latest_run(out);
    let mut names: Vec<String> = fs::read_dir(&runs)
        .map_err(io_err(&runs))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    let excess = names.len().saturating_sub(keep.max(1));
    let mut removed = Vec::new();
    for name in names.into_iter().take(excess) {
        if latest.as_deref() == Some(name.as_str()) {
            continue;
        }
        let path = runs.join(&name);
        fs::remove_dir_all(&path).map_err(io_err(&path))?;
        removed.push(path);
    }
    if !removed.is_empty() {
        sync_dir(&runs).map_err(io_err(&runs))?;
    }
    Ok(removed)
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

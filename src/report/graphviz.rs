//! Runs Graphviz `dot` on a DOT text, with a timeout, off any async runtime.
//!
//! graphviz-rust's own `exec` blocks without a limit and reports a missing `dot` as a bare "No
//! such file or directory", so this module spawns `dot` itself with [`std::process`]: the DOT goes
//! in on stdin, the image comes out on stdout, both pumped by threads so neither pipe can fill
//! up; past the timeout the process is killed and reaped. A missing program becomes
//! [`RenderError::DotNotFound`], whose message says how to install Graphviz.

use std::ffi::{OsStr, OsString};
use std::io::{ErrorKind, Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::report::render_error::RenderError;

/// How long `dot` may run by default.
pub const DEFAULT_DOT_TIMEOUT: Duration = Duration::from_secs(60);

/// Image formats `dot` is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// Scalable vector graphics (`-Tsvg`).
    Svg,
    /// Portable network graphics (`-Tpng`).
    Png,
}

impl ImageFormat {
    /// The `-T` flag.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Svg => "-Tsvg",
            Self::Png => "-Tpng",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Svg => "svg",
            Self::Png => "png",
        }
    }
}

/// A way to run `dot`.
#[derive(Debug, Clone)]
pub struct Graphviz {
    program: OsString,
    search_path: Option<OsString>,
    timeout: Duration,
}

impl Default for Graphviz {
    fn default() -> Self {
        Self {
            program: OsString::from("dot"),
            search_path: None,
            timeout: DEFAULT_DOT_TIMEOUT,
        }
    }
}

impl Graphviz {
    /// `dot` from `PATH`, with [`DEFAULT_DOT_TIMEOUT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Kills `dot` after this long.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs this program instead of `dot`.
    #[must_use]
    pub fn with_program(mut self, program: impl AsRef<OsStr>) -> Self {
        program.as_ref().clone_into(&mut self.program);
        self
    }

    /// Looks the program up in this `PATH` (and gives it to the child) instead of the process's.
    #[must_use]
    pub fn with_search_path(mut self, path: impl AsRef<OsStr>) -> Self {
        self.search_path = Some(path.as_ref().to_owned());
        self
    }

    /// Lays out `dot_text` and returns the image bytes.
    pub fn render(&self, dot_text: &str, format: ImageFormat) -> Result<Vec<u8>, RenderError> {
        let mut command = Command::new(&self.program);
        command
            .arg(format.flag())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = &self.search_path {
            command.env("PATH", path);
        }
        let mut child = command.spawn().map_err(|e| match e.kind() {
            ErrorKind::NotFound => RenderError::DotNotFound { dot_file: None },
            _ => RenderError::DotSpawn(e),
        })?;

        let mut stdin = child.stdin.take().expect("stdin is piped");
        let input = dot_text.as_bytes().to_vec();
        // A broken pipe only means `dot` stopped reading; its exit status tells why.
        let writer = thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let reader = thread::spawn(move || {
            let mut buf = Vec::new();
            stdout.read_to_end(&mut buf).map(|_| buf)
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let err_reader = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });

        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(RenderError::DotSpawn)? {
                break status;
            }
            if started.elapsed() >= self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                let _ = writer.join();
                let _ = reader.join();
                let _ = err_reader.join();
                return Err(RenderError::DotTimeout {
                    timeout: self.timeout,
                });
            }
            thread::sleep(Duration::from_millis(5));
        };
        let _ = writer.join();
        let out = reader
            .join()
            .expect("reader thread does not panic")
            .map_err(RenderError::DotSpawn)?;
        let err = err_reader.join().expect("reader thread does not panic");
        if status.success() {
            Ok(out)
        } else {
            Err(RenderError::DotFailed {
                status: status.to_string(),
                stderr: String::from_utf8_lossy(&err).trim().to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_dot_says_how_to_install_graphviz() {
        let empty = tempfile::tempdir().unwrap();
        let err = Graphviz::new()
            .with_search_path(empty.path())
            .render("digraph { a -> b }", ImageFormat::Svg)
            .unwrap_err();
        assert!(matches!(err, RenderError::DotNotFound { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("Graphviz `dot` not found"), "{msg}");
        assert!(msg.contains("apt-get install graphviz"), "{msg}");
        assert!(msg.contains("brew install graphviz"), "{msg}");
    }

    #[test]
    fn a_slow_program_is_killed_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("dot");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let started = Instant::now();
        let err = Graphviz::new()
            .with_program(&script)
            .with_timeout(Duration::from_millis(200))
            .render("digraph { a -> b }", ImageFormat::Svg)
            .unwrap_err();
        assert!(matches!(err, RenderError::DotTimeout { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_syntax_error_is_reported_with_dot_s_message() {
        let err = Graphviz::new()
            .render("digraph { a -> }", ImageFormat::Svg)
            .unwrap_err();
        assert!(matches!(err, RenderError::DotFailed { .. }), "{err:?}");
        assert!(err.to_string().contains("syntax error"), "{err}");
    }
}

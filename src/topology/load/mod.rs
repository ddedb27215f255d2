//! Loading: bytes → YAML → [`raw`](super::raw) types → [`validate`](super::validate) → [`Topology`].
//!
//! Entry points (this file; reading with input limits in `input.rs`): [`load_file`] and [`load_str`] return the model or a [`LoadError`]
//! whose `Display` lists every problem as `file:line:column: error[code]: message`. The
//! `*_with_warnings` variants also hand back the warnings (problems that do not stop loading, such
//! as a service that no link reaches) as [`Diagnostics`], for `validate` to print.
//!
//! Two readers fill the same raw types with the same locations (through [`super::loc`]):
//! - the fast reader (`topology/fast.rs`) for the plain YAML that topologies are written in;
//! - serde-saphyr ([`parse`], in `parse.rs`) for everything else: anchors, block scalars, tabs,
//!   and every file with a structural error, whose diagnostics it produces. Its errors are
//!   turned into located diagnostics with hints in `yaml_error.rs`.
//!
//! Why the fast reader exists: serde-saphyr's scanner and event stream alone (reading into
//! `IgnoredAny`, the floor of anything built on serde-saphyr) take longer on the 24 MB,
//! 100,000-service file of `scripts/gen_topology.py` than the load target leaves for parsing;
//! `examples/bench_parse.rs` measures the three ways side by side. The fast reader is checked
//! against serde-saphyr by tests on every raw type, on generated files and on the bundled
//! topology.
//!
//! Error collection: a well-formed file is parsed once, straight into the raw types, and every
//! semantic problem is collected by `validate` in one pass. When the YAML does not fit the raw
//! types (unknown key, wrong type, duplicate key), serde stops at the first problem; the loader
//! then re-reads the file section by section — each service and link on its own, each other
//! top-level key on its own — so that every structural problem in the file is reported at once.
//! Semantic checks run only once the structure is right.
//!
//! Resource limits: the YAML parser's budget scales with the input size and alias expansion is
//! capped, so an alias bomb is refused quickly with bounded memory.

mod input;
mod parse;
#[cfg(test)]
mod tests;
mod yaml_error;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use input::human_bytes;
pub use input::{
    DEFAULT_MAX_INPUT, MAX_INPUT_ENV, max_input, parse_size, read_input_file, read_stdin,
};
#[doc(hidden)]
pub use parse::options;
pub use parse::parse;

use super::fast;
use super::model::Topology;
use super::raw::RawTopology;
use super::validate::validate;
use crate::diag::{Code, Diagnostic, Diagnostics, Severity, Span};

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read at all.
    #[error("cannot read `{path}`: {cause}")]
    Read {
        /// The path as given.
        path: String,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// The file is larger than the input limit (or stdin sent more than it).
    #[error(
        "`{path}` is larger than the {} limit for a topology file: raise it with {MAX_INPUT_ENV}=<bytes> (e.g. `{MAX_INPUT_ENV}=512MiB`)",
        human_bytes(*.limit)
    )]
    TooLarge {
        /// The path as given, or `<stdin>`.
        path: String,
        /// The limit in force, in bytes.
        limit: u64,
    },
    /// The path names something that is not a regular file (a device, a FIFO, a directory).
    #[error("`{path}` is {kind}, not a regular file: give a topology file, or `-` to read stdin")]
    NotRegular {
        /// The path as given.
        path: String,
        /// What it is instead (`a directory`, `a FIFO`, `a character device`, …).
        kind: &'static str,
    },
    /// The file was read but is not a valid topology; holds at least one error.
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl LoadError {
    /// The diagnostics, when the file was read.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            Self::Invalid(d) => Some(d),
            Self::Read { .. } | Self::TooLarge { .. } | Self::NotRegular { .. } => None,
        }
    }
}

/// A loaded topology and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated model.
    pub topology: Topology,
    /// Problems that do not stop loading (codes `unreachable-service`, `no-links`); may be empty.
    pub warnings: Diagnostics,
}

/// Reads, parses and validates the topology file at `path`.
pub fn load_file(path: &Path) -> Result<Topology, LoadError> {
    load_file_with_warnings(path).map(|l| l.topology)
}

/// Parses and validates `source`; `origin` names it in diagnostics (a path, `<stdin>`, …).
/// `${VAR}` reads the process environment.
pub fn load_str(source: &str, origin: &str) -> Result<Topology, LoadError> {
    load_str_with_warnings(source, origin).map(|l| l.topology)
}

/// [`load_file`], also returning the warnings.
///
/// Only a regular file of at most [`max_input`] bytes is read ([`LoadError::NotRegular`],
/// [`LoadError::TooLarge`] otherwise), so `-f /dev/zero` or a FIFO never reads forever.
pub fn load_file_with_warnings(path: &Path) -> Result<Loaded, LoadError> {
    let origin = path.display().to_string();
    let bytes = read_input_file(path)?;
    load_bytes(&bytes, &origin)
}

/// Like [`load_str_with_warnings`] for raw bytes: input that is not UTF-8 gets a located
/// `not-utf8` error.
pub fn load_bytes(bytes: &[u8], origin: &str) -> Result<Loaded, LoadError> {
    match std::str::from_utf8(bytes) {
        Ok(source) => load_str_with_warnings(source, origin),
        Err(e) => Err(not_utf8(origin, bytes, e)),
    }
}

/// [`load_str`], also returning the warnings.
pub fn load_str_with_warnings(source: &str, origin: &str) -> Result<Loaded, LoadError> {
    load_str_with_env(source, origin, &|name| std::env::var(name).ok())
}

/// [`load_str_with_warnings`] with `${VAR}` looked up in `env` instead of the process environment.
pub fn load_str_with_env(
    source: &str,
    origin: &str,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Loaded, LoadError> {
    let shared: Arc<str> = Arc::from(source);
    let fail = |items: Vec<Diagnostic>| {
        LoadError::Invalid(Diagnostics::new(origin, Arc::clone(&shared), items))
    };
    // A plain file is read by the fast reader; anything it declines (outside its subset, or
    // not fitting the raw types) goes through serde-saphyr, which also finds structural errors.
    // The raw types and their locations are the same either way, so `validate` reports the
    // same semantic problems.
    let raw = match fast::parse(source) {
        Some(raw) => raw,
        None => parse(source).map_err(fail)?,
    };
    let (result, mut diags) = validate(&raw, env);
    // Freeing a large raw tree takes a while; nobody waits for it.
    if raw.services.len() >= 10_000 {
        std::thread::spawn(move || drop(raw));
    }
    match result {
        Some(topology) if !diags.iter().any(|d| d.severity == Severity::Error) => Ok(Loaded {
            topology,
            warnings: Diagnostics::new(origin, shared, diags),
        }),
        _ => {
            // Keep the warnings too: they often explain the errors.
            diags.sort_by_key(|d| d.severity);
            Err(fail(diags))
        }
    }
}

/// The fast reader alone: `None` when it declines the file. For benchmarks and the tests that
/// check it against [`parse`]; loading goes through [`load_str`].
#[doc(hidden)]
pub fn parse_fast(source: &str) -> Option<RawTopology> {
    fast::parse(source)
}

fn not_utf8(origin: &str, bytes: &[u8], e: std::str::Utf8Error) -> LoadError {
    let good = &bytes[..e.valid_up_to()];
    let text = String::from_utf8_lossy(good);
    let line = text.matches('\n').count() + 1;
    let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let lossy: Arc<str> = Arc::from(String::from_utf8_lossy(bytes).into_owned());
    // The lossy text has the same prefix, so the offset of the bad byte is the same there.
    let d = Diagnostic::error(
        Code::NotUtf8,
        Some(Span {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            offset: e.valid_up_to(),
            len: 1,
        }),
        format!(
            "the file is not valid UTF-8 (byte {} of the file)",
            e.valid_up_to()
        ),
    )
    .with_label("this byte is not UTF-8")
    .with_help("save the file as UTF-8");
    LoadError::Invalid(Diagnostics::new(origin, lossy, vec![d]))
}

impl fmt::Display for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`: {} services, {} links",
            self.topology.name,
            self.topology.services.len(),
            self.topology.links.len()
        )
    }
}

/// Helpers for the error-case tests of `load` and `validate`.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{LoadError, Loaded, load_str_with_env};
    use crate::diag::Diagnostic;

    /// Five lines that make a valid file once a service `a` follows; services start on line 6.
    pub const HEAD: &str = "version: 1\nname: t\nlinks:\n  l: {entry: a}\nservices:\n";

    /// The test environment: `DB_PW` and `EMPTY` are set, nothing else.
    pub fn env(name: &str) -> Option<String> {
        match name {
            "DB_PW" => Some("hunter2".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    pub fn load(src: &str) -> Result<Loaded, LoadError> {
        load_str_with_env(src, "t.yaml", &env)
    }

    /// Every diagnostic of loading `src`; panics if it loads without any.
    pub fn diagnostics(src: &str) -> Vec<Diagnostic> {
        match load(src) {
            Ok(l) => l.warnings.items,
            Err(LoadError::Invalid(d)) => d.items,
            Err(e) => panic!("unexpected {e}"),
        }
    }

    /// Asserts that `src` fails to load with a diagnostic of `code` at `line:column` whose
    /// message contains `msg` (and whose help is `help`, if given).
    pub fn assert_error(
        src: &str,
        code: &str,
        line: u32,
        column: u32,
        msg: &str,
        help: Option<&str>,
    ) {
        let result = load(src);
        let diags = match &result {
            Err(LoadError::Invalid(d)) => d.items.clone(),
            Ok(l) => panic!(
                "expected `{code}`, but it loaded (warnings: {:?})",
                l.warnings.items
            ),
            Err(e) => panic!("unexpected {e}"),
        };
        let Some(d) = diags.iter().find(|d| d.code.as_str() == code) else {
            panic!("no `{code}` among {diags:#?}");
        };
        let span = d
            .span
            .unwrap_or_else(|| panic!("`{code}` has no location: {d:#?}"));
        assert_eq!(
            (span.line, span.column),
            (line, column),
            "location of {d:#?}"
        );
        assert!(
            d.message.contains(msg),
            "message {:?} lacks {msg:?}",
            d.message
        );
        if let Some(h) = help {
            assert_eq!(d.help.as_deref(), Some(h), "help of {d:#?}");
        }
        // The Display of the error names file:line:column.
        let shown = result.unwrap_err().to_string();
        assert!(
            shown.contains(&format!("t.yaml:{line}:{column}: error[{code}]")),
            "{shown}"
        );
    }

    /// `error_case!(name, yaml, "code", line, column, "message part" [, help = "…"])`.
    macro_rules! error_case {
        ($name:ident, $src:expr, $code:literal, $line:literal, $col:literal, $msg:literal) => {
            #[test]
            fn $name() {
                $crate::topology::load::test_support::assert_error(
                    &$src, $code, $line, $col, $msg, None,
                );
            }
        };
        ($name:ident, $src:expr, $code:literal, $line:literal, $col:literal, $msg:literal, help = $help:literal) => {
            #[test]
            fn $name() {
                $crate::topology::load::test_support::assert_error(
                    &$src,
                    $code,
                    $line,
                    $col,
                    $msg,
                    Some($help),
                );
            }
        };
    }
    pub(crate) use error_case;
}

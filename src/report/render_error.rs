//! The one error type of the renderers and of the output directory (STYLE §5).

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong while drawing or writing outputs. Each variant names the file or option.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// `--link` names no link of the topology.
    #[error("unknown link `{link}`; the links are: {}", known.join(", "))]
    UnknownLink {
        /// The name asked for.
        link: String,
        /// The links that exist.
        known: Vec<String>,
    },
    /// `--group-by` with something other than owner, tag or zone.
    #[error("unknown grouping `{0}`; expected `owner`, `tag` or `zone`")]
    UnknownGroupBy(String),
    /// `--format` with an unknown format.
    #[error("unknown format `{0}`; expected `svg`, `png`, `dot`, `mermaid` or `html`")]
    UnknownFormat(String),
    /// Graphviz is not installed (or not on `PATH`).
    #[error(
        "Graphviz `dot` not found: install it with `apt-get install graphviz` (Debian/Ubuntu) or `brew install graphviz`{}",
        dot_file.as_ref().map(|p| format!("; the DOT file was still written to `{}`", p.display())).unwrap_or_default()
    )]
    DotNotFound {
        /// Where the DOT file was written, when it was.
        dot_file: Option<PathBuf>,
    },
    /// `dot` ran and failed.
    #[error("Graphviz `dot` failed ({status}): {stderr}")]
    DotFailed {
        /// Exit status as text.
        status: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// `dot` did not finish in time and was killed.
    #[error("Graphviz `dot` did not finish within {}s and was killed; try `--link` to draw one link only", timeout.as_secs_f64())]
    DotTimeout {
        /// The limit.
        timeout: Duration,
    },
    /// Running `dot` failed for another reason.
    #[error("cannot run Graphviz `dot`")]
    DotSpawn(#[source] std::io::Error),
    /// Reading or writing a file failed.
    #[error("cannot write `{}`", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

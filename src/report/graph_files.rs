//! The graph files of `render` (and of `inspect`'s run folder): `graph.dot` and the requested
//! format beside it.
//!
//! Always writes `graph.dot` and the requested format beside it (`graph.svg`, `graph.png` via
//! Graphviz, or `graph.mmd`), as one set: every file is made and staged first, then the derived
//! files are renamed into place and `graph.dot` last, under the output directory's lock. A
//! render killed at any moment leaves no temporary file under a name a user reads (the hidden
//! staging folder is removed by the next run), and never a `graph.dot` newer than the files
//! drawn from it: when `graph.dot` is from a render, so is the rest of that render's set. (One
//! rename of a whole folder would make the set strictly atomic, but `render` writes into the
//! directory the user names, and a folder swap there would move the files people link to.) When Graphviz is missing, `graph.dot` is still written and the
//! error is [`RenderError::DotNotFound`] with its path, whose message says how to install
//! Graphviz. Mapping to exit codes (SPEC §4), for the command: downcast the error with
//! `err.downcast_ref::<RenderError>()`; [`RenderError::UnknownLink`],
//! [`RenderError::UnknownGroupBy`] and [`RenderError::UnknownFormat`] are usage errors (exit 2),
//! everything else, `DotNotFound` included, is a failure of the tool (exit 3).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::report::dot::to_dot;
use crate::report::graphviz::{DEFAULT_DOT_TIMEOUT, Graphviz, ImageFormat};
use crate::report::mermaid::to_mermaid;
use crate::report::output::{lock_output, write_files};
use crate::report::render_error::RenderError;
use crate::report::report::Report;
use crate::report::view::{DEFAULT_MAX_SERVICES, GraphView, GroupBy, ViewOptions};
use crate::topology::model::Topology;

/// What `render --format` produces besides `graph.dot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RenderFormat {
    /// `graph.svg`, laid out by Graphviz.
    #[default]
    Svg,
    /// `graph.png`, laid out by Graphviz.
    Png,
    /// Only `graph.dot`.
    Dot,
    /// `graph.mmd` (Mermaid).
    Mermaid,
    /// `graph.svg` and `report.html`: one self-contained page with the graph, SPOFs, risks and
    /// probe results.
    Html,
}

impl RenderFormat {
    /// Every format, in help order.
    pub const ALL: [Self; 5] = [Self::Svg, Self::Png, Self::Dot, Self::Mermaid, Self::Html];

    /// The word used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Svg => "svg",
            Self::Png => "png",
            Self::Dot => "dot",
            Self::Mermaid => "mermaid",
            Self::Html => "html",
        }
    }
}

impl fmt::Display for RenderFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RenderFormat {
    type Err = RenderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| RenderError::UnknownFormat(s.to_owned()))
    }
}

/// The directory `render` writes into when `-o` is not given.
pub const DEFAULT_OUTPUT_DIR: &str = "output";

/// The arguments of `render`, already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderSettings {
    /// `--format`; default svg.
    pub format: RenderFormat,
    /// `-o DIR`; default `output/`.
    pub out_dir: PathBuf,
    /// `--link L`: draw only that link's neighbourhood.
    pub link: Option<String>,
    /// `--group-by owner|tag|zone`.
    pub group_by: Option<GroupBy>,
    /// Kill Graphviz after this long; default 60 s.
    pub dot_timeout: Duration,
    /// Most service nodes drawn before folding; default 300.
    pub max_services: usize,
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self {
            format: RenderFormat::default(),
            out_dir: PathBuf::from(DEFAULT_OUTPUT_DIR),
            link: None,
            group_by: None,
            dot_timeout: DEFAULT_DOT_TIMEOUT,
            max_services: DEFAULT_MAX_SERVICES,
        }
    }
}

/// Runs `render` with `dot` from `PATH`. Returns the files written, `graph.dot` first.
pub fn render_files(
    topology: &Topology,
    report: &Report,
    args: &RenderSettings,
) -> anyhow::Result<Vec<PathBuf>> {
    render_files_with(
        topology,
        report,
        args,
        &Graphviz::new().with_timeout(args.dot_timeout),
    )
}

/// Runs `render` with the given Graphviz runner (tests point it at a `PATH` without `dot`).
pub fn render_files_with(
    topology: &Topology,
    report: &Report,
    args: &RenderSettings,
    graphviz: &Graphviz,
) -> anyhow::Result<Vec<PathBuf>> {
    let options = ViewOptions {
        group_by: args.group_by,
        link: args.link.clone(),
        max_services: args.max_services,
    };
    let view = GraphView::build(topology, report, &options)?;
    let dot = to_dot(&view);
    let dir: &Path = &args.out_dir;
    // One writer at a time, and staging folders of a killed render removed (`output`).
    let _lock = lock_output(dir)?;
    let dot_path = dir.join(DOT_FILE);
    // Every file of the set is made first and written in one step, `graph.dot` renamed last:
    // whenever `graph.dot` is from this render, so is every file derived from it.
    let mut derived: Vec<(String, Vec<u8>)> = Vec::new();
    let html = |svg: Option<&str>, missing: Option<&str>, link_svgs: &[(String, String)]| {
        crate::report::html::render_html(
            topology,
            report,
            &crate::report::html::HtmlOptions {
                svg,
                svg_missing_reason: missing,
                link_svgs,
                more_link_pictures: report.links.len() - link_svgs.len(),
                ..crate::report::html::HtmlOptions::default()
            },
        )
        .into_bytes()
    };
    let image = match args.format {
        RenderFormat::Dot => None,
        RenderFormat::Mermaid => {
            derived.push(("graph.mmd".to_owned(), to_mermaid(&view).into_bytes()));
            None
        }
        RenderFormat::Svg | RenderFormat::Html => Some(ImageFormat::Svg),
        RenderFormat::Png => Some(ImageFormat::Png),
    };
    let mut failure = None;
    if let Some(format) = image {
        match graphviz.render(&dot, format) {
            Ok(bytes) => {
                if args.format == RenderFormat::Html {
                    let link_svgs = link_pictures(topology, report, &options, graphviz)?;
                    let page = html(Some(&String::from_utf8_lossy(&bytes)), None, &link_svgs);
                    derived.push((format!("graph.{}", format.extension()), bytes));
                    derived.push(("report.html".to_owned(), page));
                } else {
                    derived.push((format!("graph.{}", format.extension()), bytes));
                }
            }
            Err(RenderError::DotNotFound { .. }) => {
                let err = RenderError::DotNotFound {
                    dot_file: Some(dot_path.clone()),
                };
                if args.format == RenderFormat::Html {
                    derived.push((
                        "report.html".to_owned(),
                        html(None, Some(&err.to_string()), &[]),
                    ));
                }
                failure = Some(anyhow::Error::from(err));
            }
            Err(e) => {
                failure = Some(anyhow::Error::from(e).context(format!(
                    "cannot lay out `{}` with Graphviz",
                    dot_path.display()
                )));
            }
        }
    }
    let mut files: Vec<(&str, &[u8])> = derived
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    files.push((DOT_FILE, dot.as_bytes()));
    let mut written = write_files(dir, &files)?;
    if let Some(e) = failure {
        return Err(e);
    }
    // `graph.dot` first, then the rest in the order they were made.
    written.rotate_right(1);
    Ok(written)
}

/// Most per-link pictures in one HTML report (each is a Graphviz run); past it, the worst links
/// (down first, then most SPOFs) and a count of the rest.
pub const MAX_LINK_PICTURES: usize = 12;

/// Each link's picture as SVG (`render --link` for every link, the worst
/// [`MAX_LINK_PICTURES`]), in name order.
pub fn link_pictures(
    topology: &Topology,
    report: &Report,
    options: &ViewOptions,
    graphviz: &Graphviz,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut links: Vec<_> = report.links.iter().collect();
    links.sort_by(|a, b| {
        b.state
            .cmp(&a.state)
            .then(b.spofs.len().cmp(&a.spofs.len()))
            .then(a.name.cmp(&b.name))
    });
    links.truncate(MAX_LINK_PICTURES);
    links.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for l in links {
        let view = GraphView::build(
            topology,
            report,
            &ViewOptions {
                link: Some(l.name.clone()),
                ..options.clone()
            },
        )?;
        let svg = graphviz
            .render(&to_dot(&view), ImageFormat::Svg)
            .map_err(|e| {
                anyhow::Error::from(e).context(format!("cannot lay out link `{}`", l.name))
            })?;
        out.push((l.name.clone(), String::from_utf8_lossy(&svg).into_owned()));
    }
    Ok(out)
}

/// The file every render writes, and renames last.
const DOT_FILE: &str = "graph.dot";

//! The command line: global flags and subcommands (clap derive). No logic lives here; each
//! subcommand's arguments are a plain struct that `commands::*` reads.
//!
//! Flags only choose the file, formats and output; everything about the system itself is in the
//! topology file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::graph_files::DEFAULT_OUTPUT_DIR;

/// Inspect the core links of a service system: probe every service, find single points of
/// failure, draw the graph.
#[derive(Debug, Parser)]
#[command(
    name = "linkpatrol",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The topology file (`-` reads standard input).
    #[arg(
        short = 'f',
        long = "file",
        global = true,
        value_name = "FILE",
        default_value = "topology.yaml"
    )]
    pub file: PathBuf,

    /// When to colour diagnostics: `auto` colours only on a terminal and honours `NO_COLOR`.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print nothing but errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more detail (repeat for even more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the topology file and print a summary; every problem is reported with its location.
    Validate(ValidateArgs),
    /// Print the JSON Schema of the topology file (for editors: `linkpatrol schema >
    /// linkpatrol.schema.json`).
    Schema(SchemaArgs),
    /// Compute critical paths, single points of failure, blast radius and risks, without
    /// touching any system; `--fail` asks what-if.
    Analyze(AnalyzeArgs),
    /// Compare two topology files: what the change adds, removes and breaks. Exits 1 when it
    /// adds a SPOF or an error-level risk.
    Diff(DiffArgs),
    /// Draw the dependency graph: SPOFs outlined, strong and weak edges, critical paths grouped.
    Render(RenderArgs),
    /// Spot-check services now: probe every instance, then show link states, live SPOFs and
    /// what each down service takes down.
    Probe(ProbeCliArgs),
    /// The scheduled inspection: probe, analyse and compare with the last run, then write every
    /// report into `OUT/runs/<UTC time>/`, point `OUT/latest` at it and record the history.
    Inspect(InspectArgs),
    /// Join the reports of `--shard i/n` runs into one and recompute the analysis over all
    /// probes (effective states, live SPOFs, root causes), as one unsharded run would.
    Merge(MergeArgs),
    /// Inspect every interval, alert once per root cause, and serve `/metrics`, `/` (the latest
    /// report.html), `/report.json` and `/healthz`; SIGHUP or a changed file reloads the topology.
    Watch(WatchArgs),
    /// Start a local fleet answering for every service of the bundled topology (healthy, slow
    /// and failing ones), inspect it and write the reports: every feature in one command.
    Demo(DemoArgs),
    /// Check the receivers of `alerts:` before an incident: `alert test [RECEIVER]` sends a
    /// test message and prints each receiver's answer.
    Alert(AlertArgs),
}

/// `linkpatrol alert`.
#[derive(Debug, Args)]
pub struct AlertArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AlertCommand,
}

/// The subcommands of `linkpatrol alert`.
#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Send a test message to a receiver (every receiver when none is named) and print its
    /// answer. Exits 1 when a receiver does not accept it.
    Test(AlertTestArgs),
}

/// `linkpatrol alert test`.
#[derive(Debug, Args)]
pub struct AlertTestArgs {
    /// A receiver under `alerts.receivers`; default: every receiver.
    #[arg(value_name = "RECEIVER")]
    pub receiver: Option<String>,

    /// Link the message to this URL, as `watch --external-url` does.
    #[arg(long, value_name = "URL")]
    pub external_url: Option<String>,
}

/// `linkpatrol validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {}

/// `linkpatrol schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {}

/// `linkpatrol analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// 1: single failures; 2: also minimal pairs of failures (N-2).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub depth: u8,

    /// Only this link.
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,

    /// Assume these events failed: `SERVICE`, `SERVICE/INSTANCE` or `KEY=VALUE`, comma-separated.
    #[arg(long, value_name = "EVENT,...")]
    pub fail: Option<String>,

    /// Exit 1 when a finding at or above this level exists.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = FailOn::Down)]
    pub fail_on: FailOn,

    /// Each service's blast radius: its links and a count of the other services, or `full`
    /// with the list of those services too (large on big topologies).
    #[arg(long, value_enum, value_name = "count|full", default_value_t = BlastLevel::Count)]
    pub blast: BlastLevel,
}

/// `analyze --blast`: how much of each service's blast radius the report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BlastLevel {
    /// The links and how many other services go down.
    Count,
    /// Also the names of those services.
    Full,
}

/// `linkpatrol diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The topology before the change.
    #[arg(value_name = "OLD.yaml")]
    pub old: PathBuf,

    /// The topology after the change.
    #[arg(value_name = "NEW.yaml")]
    pub new: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// `linkpatrol render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// What to write besides `graph.dot`: `graph.svg`, `graph.png` (both laid out by Graphviz),
    /// only the DOT, `graph.mmd` (Mermaid), or `graph.svg` plus `report.html` (one
    /// self-contained page with the graph, SPOFs, risks and probe results).
    #[arg(long, value_enum, default_value_t = RenderFormatArg::Svg)]
    pub format: RenderFormatArg,

    /// The directory to write into (created if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR", default_value = DEFAULT_OUTPUT_DIR, value_parser = OutDir)]
    pub out_dir: PathBuf,

    /// Draw only this link's critical path and its direct dependencies.
    #[arg(long, value_name = "NAME")]
    pub link: Option<String>,

    /// Cluster services by owner, tag or zone instead of by link.
    #[arg(long, value_enum)]
    pub group_by: Option<GroupByArg>,

    /// Probe every service first and colour the graph by what was found.
    #[arg(long)]
    pub probe: bool,
}

/// `render --format`; the command maps it onto the report stage's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormatArg {
    /// `graph.svg`, laid out by Graphviz.
    Svg,
    /// `graph.png`, laid out by Graphviz.
    Png,
    /// Only `graph.dot`.
    Dot,
    /// `graph.mmd` (Mermaid).
    Mermaid,
    /// `graph.svg` and `report.html`.
    Html,
}

/// `render --group-by`; the command maps it onto the view's grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupByArg {
    /// By each service's `owner`.
    Owner,
    /// By each service's first tag (tags are sorted).
    Tag,
    /// By the set of zones a service's instances are in.
    Zone,
}

/// `linkpatrol probe`.
#[derive(Debug, Args)]
pub struct ProbeCliArgs {
    /// Services to probe (default: all).
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,

    /// Also probe every service with this tag (repeatable).
    #[arg(long, value_name = "T")]
    pub tag: Vec<String>,

    /// Also probe everything this link depends on (repeatable).
    #[arg(long, value_name = "L")]
    pub link: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ProbeOutputFormat::Table)]
    pub format: ProbeOutputFormat,

    /// Probes in flight at once (default: `defaults.concurrency` of the file).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Deadline for the whole run: `90s`, `1500ms`, `2m`, or seconds (default:
    /// `defaults.deadline` of the file).
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub deadline: Option<std::time::Duration>,

    /// Exit 1 when a probed service or link is at or above this level.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = FailOn::Down)]
    pub fail_on: FailOn,

    /// Probe only shard `i` of `n` (from 1): the instances whose stable hash of service and
    /// instance name falls in it. Join the shards' reports with `merge`.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<crate::probe::Shard>,
}

/// `linkpatrol inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The output directory: `runs/`, `latest`, `history.sqlite`, `metrics.prom`.
    #[arg(short = 'o', long = "out", value_name = "DIR", default_value = DEFAULT_OUTPUT_DIR, value_parser = OutDir)]
    pub out_dir: PathBuf,

    /// Exit 1 when a finding at or above this level exists.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = FailOn::Down)]
    pub fail_on: FailOn,

    /// Probes in flight at once (default: `defaults.concurrency` of the file).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Deadline for probing: `90s`, `1500ms`, `2m`, or seconds (default: `defaults.deadline`
    /// of the file).
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub deadline: Option<std::time::Duration>,

    /// Probe only shard `i` of `n` (from 1): the instances whose stable hash of service and
    /// instance name falls in it. Join the shards' reports with `merge`.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<crate::probe::Shard>,
}

/// `linkpatrol watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The output directory, as for `inspect`: `runs/`, `latest`, `history.sqlite` (which also
    /// keeps the alert state), `metrics.prom`.
    #[arg(short = 'o', long = "out", value_name = "DIR", default_value = DEFAULT_OUTPUT_DIR)]
    pub out_dir: PathBuf,

    /// Time from the start of one inspection to the start of the next: `60s`, `500ms`, `5m`.
    /// A run that takes longer delays the next one (never two at once) and logs so.
    #[arg(long, value_name = "DURATION", value_parser = duration_arg, default_value = "60s")]
    pub interval: std::time::Duration,

    /// Where the HTTP server listens (`/metrics`, `/`, `/report.json`, `/healthz`).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub listen: std::net::SocketAddr,

    /// Where people reach this server's report (e.g. `https://lp.example.com/`): alerts link to
    /// it.
    #[arg(long, value_name = "URL")]
    pub external_url: Option<String>,

    /// How to write the logs on stderr: `text` for people, `json` (one object a line) for log
    /// shippers.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Probes in flight at once (default: `defaults.concurrency` of the file).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Deadline for probing in each run (default: `defaults.deadline` of the file).
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub deadline: Option<std::time::Duration>,
}

/// `--log-format` of `watch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line per event, for people.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// `linkpatrol merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' `report.json` files (from `probe --shard i/n --format json` or
    /// `inspect --shard i/n`), one per shard.
    #[arg(value_name = "SHARD.json", required = true)]
    pub reports: Vec<PathBuf>,

    /// Write the same files as `inspect` into this directory (runs/, latest, history.sqlite,
    /// metrics.prom); without it the merged report is printed as JSON on stdout.
    #[arg(short = 'o', long = "out", value_name = "DIR", value_parser = OutDir)]
    pub out_dir: Option<PathBuf>,

    /// Exit 1 when a finding at or above this level exists.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = FailOn::Down)]
    pub fail_on: FailOn,
}

/// `linkpatrol demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the fleet up after the inspection, until Ctrl-C, to try `probe`, `render --probe`
    /// and `watch` against it (with `-f DIR/topology.yaml`) from another terminal.
    #[arg(long)]
    pub serve: bool,

    /// The directory to write the reports and the topology into (created if missing).
    #[arg(short = 'o', long = "out", value_name = "DIR", default_value = DEFAULT_OUTPUT_DIR, value_parser = OutDir)]
    pub out_dir: PathBuf,
}

/// `--format` of `probe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeOutputFormat {
    /// Tables for people.
    Table,
    /// The JSON report (SPEC §5) with probe results and live SPOFs.
    Json,
}

/// `--format` of `analyze` and `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For a terminal.
    Text,
    /// The stable JSON report (SPEC §5).
    Json,
    /// Markdown, for review documents.
    Md,
}

/// `--fail-on`: the least serious finding that makes the exit code 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum FailOn {
    /// A link is down.
    Down,
    /// A link is degraded or down.
    Degraded,
    /// A link has a single point of failure (or is degraded or down).
    Spof,
    /// Any risk at warning level or above (or any of the above).
    Risk,
    /// Never exit 1.
    Never,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (`is_terminal`) or is not a terminal.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

/// `-o DIR`: a directory, or a path that does not exist yet. A regular file (or anything else
/// that is not a directory) there, or on the way there, is a usage error (exit 2), found before
/// any work is done.
#[derive(Debug, Clone, Copy)]
struct OutDir;

impl clap::builder::TypedValueParser for OutDir {
    type Value = PathBuf;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<PathBuf, clap::Error> {
        let path = PathBuf::from(value);
        let blocked = path
            .ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .find_map(|a| std::fs::metadata(a).ok().map(|m| (a, m)))
            .filter(|(_, m)| !m.is_dir());
        let Some((at, _)) = blocked else {
            return Ok(path);
        };
        let what = if at == path {
            "exists and is not a directory".to_owned()
        } else {
            format!(
                "cannot be made: `{}` is not a directory",
                crate::terminal::printable(&at.display().to_string())
            )
        };
        let flag = arg.map_or_else(|| "--out".to_owned(), ToString::to_string);
        Err(clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            format!(
                "invalid value for `{flag}`: the output directory `{}` {what}\n",
                crate::terminal::printable(&path.display().to_string())
            ),
        )
        .with_cmd(cmd))
    }
}

/// `--deadline`, `--interval`: a duration as in the topology file (`250ms`, `2s`, `1.5m`, `1h`),
/// or a bare number of seconds; more than zero.
fn duration_arg(s: &str) -> Result<std::time::Duration, String> {
    crate::duration::parse_arg(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::time::Duration;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_as_documented() {
        let cli = Cli::try_parse_from(["linkpatrol", "validate"]).unwrap();
        assert_eq!(cli.file, PathBuf::from("topology.yaml"));
        assert_eq!(cli.color, ColorChoice::Auto);
        assert!(!cli.quiet);
        assert_eq!(cli.verbose, 0);
        let cli = Cli::try_parse_from(["linkpatrol", "watch"]).unwrap();
        let Command::Watch(w) = cli.command else {
            panic!("watch parses as watch")
        };
        assert_eq!(w.interval, std::time::Duration::from_secs(60));
        assert_eq!(w.listen, "127.0.0.1:9464".parse().unwrap());
        assert_eq!(w.log_format, LogFormat::Text);
        assert_eq!(w.out_dir, PathBuf::from(DEFAULT_OUTPUT_DIR));
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "linkpatrol",
            "validate",
            "-f",
            "x.yaml",
            "--color",
            "never",
            "-vv",
        ])
        .unwrap();
        assert_eq!(cli.file, PathBuf::from("x.yaml"));
        assert_eq!(cli.color, ColorChoice::Never);
        assert_eq!(cli.verbose, 2);
    }

    #[test]
    fn hardening_deadline_takes_a_duration() {
        let deadline = |v: &str| {
            Cli::try_parse_from(["linkpatrol", "probe", "--deadline", v]).map(|cli| {
                match cli.command {
                    Command::Probe(p) => p.deadline,
                    _ => unreachable!(),
                }
            })
        };
        assert_eq!(
            deadline("1500ms").unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(deadline("2m").unwrap(), Some(Duration::from_secs(120)));
        assert_eq!(deadline("1.5s").unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(deadline("90").unwrap(), Some(Duration::from_secs(90)));
        for bad in ["0s", "-1s", "abc", "5 parsecs"] {
            assert!(deadline(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quiet_and_verbose_conflict() {
        assert!(Cli::try_parse_from(["linkpatrol", "-q", "-v", "validate"]).is_err());
    }
}

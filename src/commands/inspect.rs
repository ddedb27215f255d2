//! `linkpatrol inspect`: the scheduled inspection (SPEC §6). Probe, analyse, compare with the
//! history, and write every report of the run whole.
//!
//! One run, in order:
//! 1. take the output directory's lock (`output/.lock`), so overlapping runs take turns;
//! 2. probe every instance and analyse (as `probe`);
//! 3. open `output/history.sqlite`, record the run in one transaction, and read `since_last` and
//!    the 24 h / 7 d `history` from it (the transaction sees its own run);
//! 4. render every file (report.json, report.md, report.html, graph.dot, graph.svg, graph.mmd,
//!    metrics.prom, junit.xml) into `output/runs/.partial-NAME/`, each to a temporary name and
//!    renamed, then rename the folder to `output/runs/NAME`;
//! 5. commit the history transaction;
//! 6. point `output/latest` at the new folder (a symlink made under a temporary name and renamed
//!    over the old one) and replace `output/metrics.prom`;
//! 7. retention: prune history older than `inspect.history` and run folders beyond
//!    `inspect.keep_runs` (never the one `latest` names).
//!
//! Killed at any moment, a run leaves `latest` at a complete run (the new one only after step 6)
//! and the history either without the run or with all of it.
//!
//! Without Graphviz `dot` the run still completes: `graph.svg` is a small SVG saying why there
//! is no layout, report.html says the same, `run.warnings` records it and the summary shows it;
//! the exit code stays the one the findings give. History, metrics and JUnit matter more to a
//! scheduler than the picture, and a missing package should not blind the dashboards.
//!
//! [`run`] is the library entry point (`demo` and `watch` call it); [`run_cli`] adds loading the
//! file and printing the summary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::probe::{ProbeArgs, probe_and_analyze};
use super::{Context, ExitStatus};
use crate::cli::FailOn;
use crate::history::{RunRecord, Store, trends};
use crate::report::graph_files::link_pictures;
use crate::report::graphviz::{Graphviz, ImageFormat};
use crate::report::html::{HtmlOptions, render_html};
use crate::report::json::render_json;
use crate::report::markdown::{MarkdownOptions, render_markdown};
use crate::report::output::{self, RUN_FILES, RunDir};
use crate::report::prometheus::render_metrics;
use crate::report::report::{Report, RunInfo};
use crate::report::timestamp::UtcTime;
use crate::report::view::{GraphView, ViewOptions};
use crate::report::{dot::to_dot, junit::render_junit, mermaid::to_mermaid};
use crate::state::State;
use crate::topology::model::Topology;

/// The file name of the history database in the output directory.
pub const HISTORY_FILE: &str = "history.sqlite";

/// How to run an inspection (everything else comes from the topology file).
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// The output directory (`-o`); default `output`.
    pub out_dir: PathBuf,
    /// `--fail-on`; default `down`.
    pub fail_on: FailOn,
    /// Probes in flight at once; default `defaults.concurrency` of the file.
    pub concurrency: Option<usize>,
    /// Deadline of the probe run; default `defaults.deadline` of the file.
    pub deadline: Option<Duration>,
    /// Show a progress bar on a terminal (`false` with `-q`).
    pub progress: bool,
    /// How to run Graphviz for `graph.svg`.
    pub graphviz: Graphviz,
    /// `--shard i/n`: probe only this shard's instances (SPEC §8).
    pub shard: Option<crate::probe::Shard>,
}

impl Default for InspectOptions {
    fn default() -> Self {
        Self {
            out_dir: PathBuf::from(crate::report::graph_files::DEFAULT_OUTPUT_DIR),
            fail_on: FailOn::Down,
            concurrency: None,
            deadline: None,
            progress: false,
            graphviz: Graphviz::new(),
            shard: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct InspectOutcome {
    /// The full report, as written to `report.json`.
    pub report: Report,
    /// The run's folder, `OUT/runs/NAME`.
    pub run_dir: PathBuf,
    /// `OUT/latest`, now pointing at [`run_dir`](Self::run_dir).
    pub latest: PathBuf,
    /// Every file written into the run folder.
    pub files: Vec<PathBuf>,
    /// Exit status for `--fail-on` (success or findings).
    pub status: ExitStatus,
    /// Run folders removed by retention.
    pub pruned_runs: usize,
    /// Set when the run deadline passed before any probe finished: nothing was checked, so
    /// the run is a failure of the tool (exit 3), whatever the report says. The message.
    pub nothing_checked: Option<String>,
    /// History runs removed by retention.
    pub pruned_history: usize,
}

impl InspectOutcome {
    /// The short summary `inspect` prints on stderr: links, root causes, what changed since the
    /// last run, where the reports are. Plain text, made [printable] line by line.
    ///
    /// [printable]: crate::terminal::printable_lines
    pub fn summary(&self) -> String {
        crate::terminal::printable_lines(&summary(self)).into_owned()
    }
}

/// Runs one inspection of `topology` into `options.out_dir`.
///
/// Failing services are data (they decide [`InspectOutcome::status`]); `Err` means the tool
/// itself failed (an unwritable directory, a history file from a newer linkpatrol): exit 3.
pub fn run(topology: &Topology, options: &InspectOptions) -> anyhow::Result<InspectOutcome> {
    let started = UtcTime::now();
    let clock = Instant::now();
    let lock = output::lock_output(&options.out_dir)?;

    let probe_args = ProbeArgs {
        concurrency: options.concurrency,
        deadline: options.deadline,
        shard: options.shard,
        ..ProbeArgs::default()
    };
    let Some((probed, report)) = probe_and_analyze(topology, &probe_args, !options.progress)?
    else {
        anyhow::bail!("probing `{}` selected nothing", topology.name);
    };
    let mut outcome = write_run(topology, report, started, clock, options, lock)?;
    // The run is recorded as it was (every probe unknown), but it is no clean bill of health.
    outcome.nothing_checked = super::probe::nothing_checked(
        topology,
        &probed,
        options.deadline.unwrap_or(topology.defaults.deadline),
    );
    if outcome.nothing_checked.is_some() {
        outcome.status = ExitStatus::Failure;
    }
    Ok(outcome)
}

/// Records `report` (a probed report: `inspect`'s, or `merge`'s of its shards) in the history
/// and writes the run folder, `latest`, `metrics.prom` and retention, steps 3 to 7 of the module
/// docs. `started` and `clock` are when probing began; `lock` is the output directory's lock.
pub fn write_run(
    topology: &Topology,
    mut report: Report,
    started: UtcTime,
    clock: Instant,
    options: &InspectOptions,
    lock: output::OutputLock,
) -> anyhow::Result<InspectOutcome> {
    let out = &options.out_dir;
    let name = unique_run_name(out, started);
    let history_path = out.join(HISTORY_FILE);
    let mut store = Store::open(&history_path)?;
    let tx = store.begin_run()?;
    let duration = clock.elapsed();
    let version = env!("CARGO_PKG_VERSION");
    let run_id = tx.record(&RunRecord {
        name: &name,
        started,
        duration_ms: duration.as_secs_f64() * 1e3,
        version,
        report: &report,
    })?;
    let since_last = trends::since_last(tx.connection(), tx.path(), run_id)?;
    let history = trends::history(tx.connection(), tx.path(), started)?;
    report.run = Some(RunInfo {
        id: name.clone(),
        start: started.rfc3339(),
        start_unix_seconds: started.unix_seconds(),
        duration_seconds: (clock.elapsed().as_secs_f64() * 1e3).round() / 1e3,
        version: version.to_owned(),
        shard: report
            .shard
            .as_ref()
            .map(|s| format!("{}/{}", s.index, s.count)),
        warnings: Vec::new(),
    });
    report.since_last = Some(since_last);
    report.history = Some(history);

    let rendered = render_run(topology, &mut report, &options.graphviz)?;
    let run_dir = RunDir::begin(out, &name, &lock)?;
    let files: Vec<(&str, &[u8])> = rendered.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    run_dir.write(&files)?;
    let run_dir = run_dir.finish()?;
    tx.commit()?;

    let latest = output::point_latest(out, &name)?;
    if let Some((_, metrics)) = rendered.iter().find(|(n, _)| *n == "metrics.prom") {
        output::write_atomic(out, "metrics.prom", metrics)?;
    }

    let retention = &topology.inspect;
    let pruned_history = store.prune(started.minus(retention.history))?;
    let pruned_runs = output::prune_runs(out, retention.keep_runs, &lock)?.len();
    drop(lock);

    let status = super::analyze::gate(&report, options.fail_on);
    Ok(InspectOutcome {
        files: RUN_FILES.iter().map(|f| run_dir.join(f)).collect(),
        report,
        run_dir,
        latest,
        status,
        pruned_runs,
        pruned_history,
        nothing_checked: None,
    })
}

/// The run's folder name: its start time, moved on by a millisecond while taken (two runs in
/// the same millisecond, or a clock that went back).
fn unique_run_name(out: &Path, started: UtcTime) -> String {
    let runs = out.join(output::RUNS_DIR);
    let mut t = started;
    loop {
        let name = t.folder_name();
        if !runs.join(&name).exists() {
            return name;
        }
        t = UtcTime::from_unix_ms(t.unix_ms + 1);
    }
}

/// Renders every file of the run folder, in [`RUN_FILES`] order. A Graphviz failure becomes a
/// warning in `report.run.warnings` and a placeholder `graph.svg`.
fn render_run(
    topology: &Topology,
    report: &mut Report,
    graphviz: &Graphviz,
) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let view = GraphView::build(topology, report, &ViewOptions::default())?;
    let dot = to_dot(&view);
    let mermaid = to_mermaid(&view);
    let (svg, missing) = match graphviz.render(&dot, ImageFormat::Svg) {
        Ok(bytes) => (String::from_utf8_lossy(&bytes).into_owned(), None),
        Err(e) => {
            let reason = format!("graph.svg not drawn: {e}");
            (placeholder_svg(&reason), Some(reason))
        }
    };
    if let (Some(reason), Some(run)) = (&missing, report.run.as_mut()) {
        run.warnings.push(reason.clone());
    }
    // Every link's own picture (issue 15), as `render --format html` puts in its page; only
    // when Graphviz drew the overview, and a failure is a warning like the overview's.
    let mut link_svgs = Vec::new();
    if missing.is_none() {
        match link_pictures(topology, report, &ViewOptions::default(), graphviz) {
            Ok(svgs) => link_svgs = svgs,
            Err(e) => {
                if let Some(run) = report.run.as_mut() {
                    run.warnings.push(format!("link pictures not drawn: {e:#}"));
                }
            }
        }
    }
    let changes = report
        .since_last
        .as_ref()
        .filter(|s| s.previous_run.is_some())
        .map(crate::report::report::SinceLast::lines);
    let generated = report.run.as_ref().map(|r| r.start.clone());
    let html = render_html(
        topology,
        report,
        &HtmlOptions {
            svg: missing.is_none().then_some(svg.as_str()),
            svg_missing_reason: missing.as_deref(),
            changes: changes.as_deref(),
            generated_at: generated.as_deref(),
            link_svgs: &link_svgs,
            more_link_pictures: report.links.len() - link_svgs.len(),
        },
    );
    let md = render_markdown(
        topology,
        report,
        &MarkdownOptions {
            mermaid: Some(ViewOptions::default()),
            changes: changes.as_deref(),
        },
    )?;
    Ok(vec![
        ("report.json", render_json(report).into_bytes()),
        ("report.md", md.into_bytes()),
        ("report.html", html.into_bytes()),
        ("graph.dot", dot.into_bytes()),
        ("graph.svg", svg.into_bytes()),
        ("graph.mmd", mermaid.into_bytes()),
        ("metrics.prom", render_metrics(report).into_bytes()),
        ("junit.xml", render_junit(report).into_bytes()),
    ])
}

/// A valid SVG that says why there is no layout, so `graph.svg` always exists.
fn placeholder_svg(reason: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"60\" viewBox=\"0 0 720 60\">\n\
         <text x=\"10\" y=\"35\" font-family=\"sans-serif\" font-size=\"14\">{}</text>\n</svg>\n",
        crate::report::junit::xml_escape(reason)
    )
}

fn summary(o: &InspectOutcome) -> String {
    use std::fmt::Write as _;
    let r = &o.report;
    let mut s = String::new();
    let count = |states: &mut dyn Iterator<Item = State>| {
        let mut n = [0usize; 4];
        for st in states {
            n[st as usize] += 1;
        }
        State::WORST_FIRST
            .iter()
            .filter(|st| n[**st as usize] > 0)
            .map(|st| format!("{} {st}", n[*st as usize]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let probes: usize = r
        .services
        .iter()
        .map(|s| s.probes.as_ref().map_or(0, Vec::len))
        .sum();
    let duration = r.run.as_ref().map_or(0.0, |run| run.duration_seconds);
    let _ = writeln!(
        s,
        "inspected {} in {duration:.1} s: {} link{} ({}), {} services, {probes} probes",
        r.topology,
        r.links.len(),
        if r.links.len() == 1 { "" } else { "s" },
        count(&mut r.links.iter().map(|l| l.state)),
        r.services.len(),
    );
    for l in r.links.iter().filter(|l| l.state != State::Up) {
        let live = l
            .live_spofs
            .as_ref()
            .filter(|_| l.state != State::Down)
            .map(|v| {
                format!(
                    ", {} live SPOF{}",
                    v.len(),
                    if v.len() == 1 { "" } else { "s" }
                )
            })
            .unwrap_or_default();
        let _ = writeln!(s, "  link {}: {}{live}", l.name, l.state);
    }
    let causes = r.root_causes.as_deref().unwrap_or_default();
    if !causes.is_empty() {
        let _ = writeln!(s, "root cause{}:", if causes.len() == 1 { "" } else { "s" });
        for c in causes {
            let owner = c
                .owner
                .as_deref()
                .map(|o| format!(" [{o}]"))
                .unwrap_or_default();
            let mut takes = Vec::new();
            if !c.links.is_empty() {
                takes.push(format!("links {}", c.links.join(", ")));
            }
            if !c.services.is_empty() {
                takes.push(format!(
                    "{} dependent service{}",
                    c.services.len(),
                    if c.services.len() == 1 { "" } else { "s" }
                ));
            }
            let takes = if takes.is_empty() {
                String::new()
            } else {
                format!(" → {}", takes.join("; "))
            };
            let _ = writeln!(s, "  {} {}{owner}: {}{takes}", c.id, c.state, c.reason);
        }
    }
    match &r.since_last {
        Some(since) if since.previous_run.is_some() => {
            let lines = since.lines();
            let when = since.previous_start.as_deref().unwrap_or("?");
            if lines.is_empty() {
                let _ = writeln!(s, "since the last run ({when}): no changes");
            } else {
                let _ = writeln!(s, "since the last run ({when}):");
                for line in lines {
                    let _ = writeln!(s, "  {line}");
                }
            }
        }
        _ => {
            let _ = writeln!(s, "first run: no history to compare with");
        }
    }
    for w in r.run.iter().flat_map(|run| &run.warnings) {
        let _ = writeln!(s, "warning: {w}");
    }
    let _ = writeln!(
        s,
        "reports: {} ({} → {})",
        o.latest.join("report.html").display(),
        o.latest.display(),
        o.run_dir.display()
    );
    s
}

/// Runs `linkpatrol inspect`: loads the topology, inspects, prints the summary unless `-q`.
pub fn run_cli(ctx: &Context, args: &crate::cli::InspectArgs) -> anyhow::Result<ExitStatus> {
    let Some(loaded) = super::load_or_report(ctx) else {
        return Ok(ExitStatus::Invalid);
    };
    let options = InspectOptions {
        out_dir: args.out_dir.clone(),
        fail_on: args.fail_on,
        concurrency: args.concurrency,
        deadline: args.deadline,
        progress: !ctx.quiet,
        graphviz: Graphviz::new(),
        shard: args.shard,
    };
    let outcome = run(&loaded.topology, &options)
        .with_context(|| format!("inspection into `{}` failed", options.out_dir.display()))?;
    if !ctx.quiet {
        eprint!("{}", outcome.summary());
    }
    if let Some(why) = &outcome.nothing_checked {
        eprintln!("error: {why}");
    }
    Ok(outcome.status)
}

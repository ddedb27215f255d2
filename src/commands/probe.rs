//! `linkpatrol probe [SERVICE...] [--tag T] [--link L] [--format table|json]`: a spot check.
//!
//! Probes the selection once, analyses the outcomes (effective states, root causes, live
//! SPOFs: the same report as `analyze` with probe results), and prints it: as text for a person
//! ([`probe_table`](crate::report::probe_table): root causes first, then every instance, every
//! probed link, live SPOFs and services on their last spare), or, with `--format json`, the
//! full report (SPEC §5, `root_causes` first) on stdout. A progress bar appears on stderr only
//! when it is a terminal and the run has taken more than a second. The exit code counts only
//! what was probed.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::probe::{ProbeRun, RunOptions, Selection, run_blocking};
use crate::report::reporter::{Format, reporter};
use crate::topology::model::Topology;

/// Output format of `probe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeFormat {
    /// A table for people.
    #[default]
    Table,
    /// One JSON document.
    Json,
}

/// What `probe` was asked for (filled from the CLI; no logic here).
#[derive(Debug, Clone, Default)]
pub struct ProbeArgs {
    /// What to probe; all empty = everything.
    pub selection: Selection,
    /// Output format.
    pub format: ProbeFormat,
    /// `--concurrency`, overriding the file's default.
    pub concurrency: Option<usize>,
    /// Override of the whole-run deadline (`defaults.deadline`).
    pub deadline: Option<Duration>,
    /// `--shard i/n`: probe only this shard's instances.
    pub shard: Option<crate::probe::Shard>,
}

/// A progress bar on stderr, drawn only on a terminal and only once a run passes one second.
struct Progress {
    bar: indicatif::ProgressBar,
    start: Instant,
    enabled: bool,
    shown: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            bar: indicatif::ProgressBar::hidden(),
            start: Instant::now(),
            enabled: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn hidden() -> Self {
        Self {
            enabled: false,
            ..Self::new()
        }
    }

    fn update(&mut self, done: usize, total: usize) {
        if !self.enabled {
            return;
        }
        if !self.shown && self.start.elapsed() > Duration::from_secs(1) {
            self.bar.set_length(total as u64);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("probing {bar:30} {pos}/{len} {elapsed}")
            {
                self.bar.set_style(style);
            }
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
            self.shown = true;
        }
        self.bar.set_position(done as u64);
    }

    fn finish(&self) {
        if self.shown {
            self.bar.finish_and_clear();
        }
    }
}

/// Probes the selection of `args` and analyses the result: the full report (SPEC §5) with
/// observed and effective states, probe results per instance and live SPOFs.
///
/// Returns `Ok(None)` after printing the message when the selection names something unknown.
pub fn probe_and_analyze(
    topology: &Topology,
    args: &ProbeArgs,
    quiet: bool,
) -> anyhow::Result<Option<(ProbeRun, crate::report::report::Report)>> {
    let selected = match args.selection.resolve(topology) {
        Ok(s) => s,
        Err(e @ crate::probe::ProbeError::UnknownSelection { .. }) => {
            eprintln!(
                "error: {}",
                crate::terminal::printable_lines(&e.to_string())
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let mut options = RunOptions::from_defaults(&topology.defaults);
    if let Some(c) = args.concurrency {
        options.concurrency = c.max(1);
    }
    if let Some(d) = args.deadline {
        options.deadline = d;
    }
    options.shard = args.shard;
    let mut progress = if quiet {
        Progress::hidden()
    } else {
        Progress::new()
    };
    let run = run_blocking(topology, &selected, &options, &mut |done, total| {
        progress.update(done, total);
    })
    .context("probing failed")?;
    progress.finish();

    let mut report =
        crate::report::probed::from_outcomes(topology, &run.instances, &run.operations)?;
    report.shard = args.shard.map(|shard| crate::report::report::ShardReport {
        index: shard.index(),
        count: shard.count(),
        topology_fingerprint: crate::topology::fingerprint::fingerprint(topology),
        instances: shard.instances(topology),
    });
    Ok(Some((run, report)))
}

/// Runs `linkpatrol probe`.
pub fn run(
    ctx: &super::Context,
    cli: &crate::cli::ProbeCliArgs,
) -> anyhow::Result<super::ExitStatus> {
    let Some(loaded) = super::load_or_report(ctx) else {
        return Ok(super::ExitStatus::Invalid);
    };
    let topology = &loaded.topology;
    let args = ProbeArgs {
        selection: Selection {
            services: cli.services.clone(),
            tags: cli.tag.clone(),
            links: cli.link.clone(),
        },
        format: match cli.format {
            crate::cli::ProbeOutputFormat::Table => ProbeFormat::Table,
            crate::cli::ProbeOutputFormat::Json => ProbeFormat::Json,
        },
        concurrency: cli.concurrency,
        deadline: cli.deadline,
        shard: cli.shard,
    };
    let Some((run, report)) = probe_and_analyze(topology, &args, ctx.quiet)? else {
        return Ok(super::ExitStatus::Invalid);
    };
    let format = match args.format {
        ProbeFormat::Json => Format::Json,
        ProbeFormat::Table => Format::ProbeTable {
            run: &run,
            color: ctx.color_stdout,
        },
    };
    reporter(format).write(topology, &report, &mut std::io::stdout().lock())?;
    // Only what was probed decides the exit code: the selected services and the links whose
    // entry was selected.
    let mut scoped = report.clone();
    scoped.links.retain(|l| {
        topology
            .index_of(&l.entry)
            .is_some_and(|e| run.selected.contains(&e))
    });
    scoped.risks.clear();
    let worst_service = run
        .selected
        .iter()
        .filter_map(|&i| {
            report
                .services
                .iter()
                .find(|r| r.id == topology.service(i).name.as_str())
        })
        .map(|r| r.effective)
        .max();
    let status = super::analyze::gate(&scoped, cli.fail_on);
    // A run the deadline cut short is not a clean bill of health.
    let (cut, total) = run.cut_by_deadline(topology);
    if let Some(why) = nothing_checked(
        topology,
        &run,
        args.deadline.unwrap_or(topology.defaults.deadline),
    ) {
        eprintln!("error: {why}");
        return Ok(super::ExitStatus::Failure);
    }
    if cut > 0 && !ctx.quiet {
        eprintln!(
            "warning: {cut} of {total} probes did not finish before the run deadline and count as unknown"
        );
    }
    let service_hit =
        crate::report::gate::service_counts(worst_service, super::analyze::threshold(cli.fail_on));
    Ok(if service_hit {
        super::ExitStatus::Findings
    } else {
        status
    })
}

/// Why a run checked nothing, when the run deadline left every probe unknown (before its first
/// attempt, or before the retry of a failed one). Such a run exits 3 (SPEC §4: the tool could
/// not do what it was asked; not 1, since no finding was made, nor 2, since the input is
/// valid), in `probe` and `inspect` alike.
pub fn nothing_checked(topology: &Topology, run: &ProbeRun, deadline: Duration) -> Option<String> {
    let (cut, total) = run.cut_by_deadline(topology);
    (total > 0 && cut == total).then(|| {
        format!(
            "the run deadline ({}) passed before any of the {total} probes finished: nothing was checked",
            crate::duration::show(deadline)
        )
    })
}

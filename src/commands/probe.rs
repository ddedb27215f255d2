//! `linkpatrol probe [SERVICE...] [--tag T] [--link L] [--format table|json]`: a spot check.
//!
//! Probes the selection once and prints, for a person, the root causes first (SPEC §2: one line
//! per independent failure with the links and services it takes down), then a table of every
//! instance (service, instance, state, latency, reason) where a service failing because of a
//! root cause says so ("down because of `mysql-primary`"), then every link's state, a summary
//! line, live SPOFs and services on their last spare; or, with `--format json`, the full report
//! (SPEC §5, `root_causes` first) on stdout. A progress bar appears on stderr only when it is a
//! terminal and the run has taken more than a second.
//!
//! Boundary with the analysis: this module knows observed states only. Effective states (and so
//! link states) come from the `effective` function the caller passes (the analysis stage's
//! propagation); live SPOFs and "what each down service takes down" are written by the `live`
//! hook. Without them, links show the observed state of their entry, marked as such.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use comfy_table::{Cell, CellAlignment, Table, presets};
use serde::Serialize;

use crate::probe::{ProbeOutcome, ProbeRun, RunOptions, Selection, run_blocking};
use crate::report::report::{ProbeResult, Report};
use crate::report::text::{Paint, because_text, root_cause_lines};
use crate::state::State;
use crate::terminal::{printable, printable_join, printable_lines};
use crate::topology::model::{Service, ServiceIdx, Topology};

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

/// Effective states per [`ServiceIdx`] from observed ones (the analysis stage provides it).
pub type EffectiveFn<'a> = &'a dyn Fn(&Topology, &[State]) -> Vec<State>;

/// Writes the live sections after the link table (live SPOFs, what each down service takes
/// down): `(topology, observed, effective, out)`. The analysis stage provides it.
pub type LiveSectionsFn<'a> =
    &'a dyn Fn(&Topology, &[State], &[State], &mut dyn Write) -> std::io::Result<()>;

/// What a `probe` run found, for the caller to pick an exit code.
#[derive(Debug, Clone)]
pub struct ProbeSummary {
    /// The raw run.
    pub run: ProbeRun,
    /// Effective states, when an effective function was given.
    pub effective: Option<Vec<State>>,
    /// Worst state among the selected services (effective when known, else observed) and the
    /// links whose entry was selected. `Down` means exit code 1 under the default `--fail-on`.
    pub worst: State,
}

/// Runs `probe`: probes the selection, writes the table or JSON to `out`.
///
/// An unknown service, tag or link is an `Err` wrapping [`crate::probe::ProbeError`]
/// (`UnknownSelection`, exit 2); a runtime failure is an `Err` too (exit 3). Failing services
/// are never errors: see [`ProbeSummary::worst`].
pub fn probe(
    topology: &Topology,
    args: &ProbeArgs,
    effective: Option<EffectiveFn<'_>>,
    live: Option<LiveSectionsFn<'_>>,
    out: &mut dyn Write,
) -> anyhow::Result<ProbeSummary> {
    let selected = args.selection.resolve(topology)?;
    let mut options = RunOptions::from_defaults(&topology.defaults);
    if let Some(c) = args.concurrency {
        options.concurrency = c.max(1);
    }
    if let Some(d) = args.deadline {
        options.deadline = d;
    }
    let mut progress = Progress::new();
    let run = run_blocking(topology, &selected, &options, &mut |done, total| {
        progress.update(done, total);
    })
    .context("probing failed")?;
    progress.finish();

    let effective_states = effective.map(|f| f(topology, &run.observed));
    let worst = worst_state(topology, &run, effective_states.as_deref());
    match args.format {
        ProbeFormat::Table => {
            write_table(topology, &run, effective_states.as_deref(), None, out)?;
            if let (Some(live), Some(eff)) = (live, effective_states.as_deref()) {
                live(topology, &run.observed, eff, out)?;
            }
        }
        ProbeFormat::Json => {
            let doc = json_document(topology, &run, effective_states.as_deref());
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
        }
    }
    Ok(ProbeSummary {
        run,
        effective: effective_states,
        worst,
    })
}

fn worst_state(topology: &Topology, run: &ProbeRun, effective: Option<&[State]>) -> State {
    let state_of = |i: ServiceIdx| effective.map_or(run.observed[i.get()], |e| e[i.get()]);
    let services = run.selected.iter().map(|&i| state_of(i));
    let links = topology
        .links
        .iter()
        .filter(|l| run.selected.contains(&l.entry))
        .map(|l| state_of(l.entry));
    services.chain(links).max().unwrap_or(State::Unknown)
}

/// The report's per-instance probe results of one service (SPEC §5 `probes`).
pub fn probe_results(service: &Service, outcomes: &[ProbeOutcome]) -> Vec<ProbeResult> {
    service
        .instances
        .iter()
        .zip(outcomes)
        .map(|(inst, o)| ProbeResult {
            instance: inst.id.clone(),
            ok: o.ok(),
            state: o.state,
            latency_ms: o.latency.map(|d| (d.as_secs_f64() * 1e4).round() / 10.0),
            reason: o.reason.clone(),
        })
        .collect()
}

fn latency_text(d: Option<Duration>) -> String {
    match d {
        None => "-".to_owned(),
        Some(d) if d < Duration::from_millis(10) => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        Some(d) if d < Duration::from_secs(1) => format!("{} ms", d.as_millis()),
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
    }
}

/// The instance table, the link table and the summary line. With the analysed `report`, a
/// service that fails because of a root cause gets a `(service)` row saying so ("down because
/// of `mysql-primary`"), and the summary counts root causes.
fn write_table(
    topology: &Topology,
    run: &ProbeRun,
    effective: Option<&[State]>,
    report: Option<&Report>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let service_report = |name: &str| {
        report.and_then(|r| {
            r.services
                .binary_search_by(|s| s.id.as_str().cmp(name))
                .ok()
                .map(|i| &r.services[i])
        })
    };
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(["SERVICE", "INSTANCE", "STATE", "LATENCY", "REASON"]);
    for &idx in &run.selected {
        let service = topology.service(idx);
        let observed = run.observed[idx.get()];
        for (inst, o) in service.instances.iter().zip(&run.instances[idx.get()]) {
            table.add_row([
                Cell::new(service.name.as_str()),
                Cell::new(&inst.id),
                Cell::new(o.state.as_str()),
                Cell::new(latency_text(o.latency)).set_alignment(CellAlignment::Right),
                Cell::new(o.reason.as_deref().unwrap_or("")),
            ]);
        }
        let because = service_report(service.name.as_str())
            .filter(|r| !r.because_of.is_empty())
            .map(|r| because_text(r.effective, &r.because_of));
        if service.instances.len() > 1 || because.is_some() {
            let alive = run.instances[idx.get()]
                .iter()
                .filter(|o| o.state.is_alive())
                .count();
            let counts = (service.instances.len() > 1).then(|| {
                format!(
                    "{alive} of {} alive, {} needed",
                    service.instances.len(),
                    service.min_healthy
                )
            });
            let state = effective.map_or(observed, |e| e[idx.get()]);
            let reason = match (because, counts) {
                (Some(b), Some(c)) => format!("{b} ({c})"),
                (Some(b), None) => b,
                (None, Some(c)) => c,
                (None, None) => String::new(),
            };
            table.add_row([
                Cell::new(service.name.as_str()),
                Cell::new("(service)"),
                Cell::new(state.as_str()),
                Cell::new(""),
                Cell::new(reason),
            ]);
        }
    }
    writeln!(out, "{}", printable_lines(&trim_lines(&table.to_string())))?;

    let links: Vec<_> = topology
        .links
        .iter()
        .filter(|l| run.selected.contains(&l.entry))
        .collect();
    if !links.is_empty() {
        let mut table = Table::new();
        table.load_preset(presets::NOTHING);
        let header = if effective.is_some() {
            "STATE"
        } else {
            "STATE (entry observed)"
        };
        if report.is_some() {
            table.set_header(["LINK", "ENTRY", header, "WHY"]);
        } else {
            table.set_header(["LINK", "ENTRY", header]);
        }
        for link in links {
            let state = effective.map_or(run.observed[link.entry.get()], |e| e[link.entry.get()]);
            let entry = topology.service(link.entry).name.as_str();
            let mut row = vec![
                link.name.to_string(),
                entry.to_owned(),
                state.as_str().to_owned(),
            ];
            if let Some(r) = report {
                let own = r
                    .root_causes
                    .iter()
                    .flatten()
                    .any(|c| c.members.iter().any(|m| m == entry));
                row.push(match service_report(entry) {
                    Some(s) if !s.because_of.is_empty() => because_text(state, &s.because_of),
                    _ if own => format!("its entry `{entry}` is a root cause"),
                    _ => String::new(),
                });
            }
            table.add_row(row);
        }
        writeln!(out)?;
        writeln!(out, "{}", printable_lines(&trim_lines(&table.to_string())))?;
    }
    let counts = State::WORST_FIRST
        .iter()
        .filter_map(|s| {
            let n = run
                .selected
                .iter()
                .filter(|&&i| run.observed[i.get()] == *s)
                .count();
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let causes = report
        .and_then(|r| r.root_causes.as_deref())
        .map(|causes| {
            let explained = report.map_or(0, |r| {
                r.services
                    .iter()
                    .filter(|s| !s.because_of.is_empty())
                    .count()
            });
            match causes.len() {
                0 => "; no root cause".to_owned(),
                n => format!(
                    "; {n} root cause{}, {explained} service{} failing because of {}",
                    if n == 1 { "" } else { "s" },
                    if explained == 1 { "" } else { "s" },
                    if n == 1 { "it" } else { "them" }
                ),
            }
        })
        .unwrap_or_default();
    writeln!(
        out,
        "\n{} services probed in {}: {counts}{causes}",
        run.selected.len(),
        latency_text(Some(run.elapsed))
    )
}

/// comfy-table pads every cell, including the last; drop trailing blanks and the outer margin.
fn trim_lines(s: &str) -> String {
    s.lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Serialize)]
struct ProbeDocument<'a> {
    topology: &'a str,
    services: Vec<ServiceEntry<'a>>,
    links: Vec<LinkEntry<'a>>,
}

#[derive(Serialize)]
struct ServiceEntry<'a> {
    id: &'a str,
    observed: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective: Option<State>,
    probes: Vec<ProbeResult>,
}

#[derive(Serialize)]
struct LinkEntry<'a> {
    name: &'a str,
    entry: &'a str,
    /// Effective state of the entry; the observed one when no effective function was given.
    state: State,
}

fn json_document<'a>(
    topology: &'a Topology,
    run: &ProbeRun,
    effective: Option<&[State]>,
) -> ProbeDocument<'a> {
    ProbeDocument {
        topology: &topology.name,
        services: run
            .selected
            .iter()
            .map(|&i| {
                let s = topology.service(i);
                ServiceEntry {
                    id: s.name.as_str(),
                    observed: run.observed[i.get()],
                    effective: effective.map(|e| e[i.get()]),
                    probes: probe_results(s, &run.instances[i.get()]),
                }
            })
            .collect(),
        links: topology
            .links
            .iter()
            .filter(|l| run.selected.contains(&l.entry))
            .map(|l| LinkEntry {
                name: l.name.as_str(),
                entry: topology.service(l.entry).name.as_str(),
                state: effective.map_or(run.observed[l.entry.get()], |e| e[l.entry.get()]),
            })
            .collect(),
    }
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

    let mut report = analyze_outcomes(topology, &run.instances)?;
    report.shard = args.shard.map(|shard| crate::report::report::ShardReport {
        index: shard.index(),
        count: shard.count(),
        topology_fingerprint: crate::topology::fingerprint::fingerprint(topology),
        instances: shard.instances(topology),
    });
    Ok(Some((run, report)))
}

/// The report of a probe run from its per-instance outcomes (indexed like the topology's
/// services and their instances; an empty list = the service was not probed): observed states,
/// the analysis over them, and the probe results. `merge` calls it with the outcomes of every
/// shard, so a merged report is exactly what one unsharded run with those outcomes gives.
pub fn analyze_outcomes(
    topology: &Topology,
    instances: &[Vec<ProbeOutcome>],
) -> anyhow::Result<crate::report::report::Report> {
    let observed: Vec<Vec<State>> = topology
        .services
        .iter()
        .zip(instances)
        .map(|(s, outcomes)| {
            if outcomes.is_empty() {
                vec![State::Unknown; s.instances.len()]
            } else {
                outcomes.iter().map(|o| o.state).collect()
            }
        })
        .collect();
    let analysis = crate::analysis::analyze(
        topology,
        &crate::analysis::Options {
            observed: Some(&observed),
            ..crate::analysis::Options::default()
        },
    )?;
    let probes: Vec<Vec<ProbeResult>> = topology
        .services
        .iter()
        .zip(instances)
        .map(|(s, outcomes)| probe_results(s, outcomes))
        .collect();
    Ok(crate::report::build::build(
        topology,
        &analysis,
        Some(&probes),
    ))
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
    let mut out = std::io::stdout().lock();
    match args.format {
        ProbeFormat::Json => out.write_all(crate::report::json::render_json(&report).as_bytes())?,
        ProbeFormat::Table => {
            let effective: Vec<State> = topology
                .services
                .iter()
                .map(|s| {
                    report
                        .services
                        .iter()
                        .find(|r| r.id == s.name.as_str())
                        .map_or(State::Unknown, |r| r.effective)
                })
                .collect();
            let causes = root_cause_lines(&report, Paint::new(ctx.color_stdout));
            if !causes.is_empty() {
                writeln!(out, "{causes}")?;
            }
            write_table(topology, &run, Some(&effective), Some(&report), &mut out)?;
            write_live(topology, &run, &report, &mut out)?;
        }
    }
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
    let service_hit = match cli.fail_on {
        crate::cli::FailOn::Never => false,
        crate::cli::FailOn::Down => worst_service == Some(State::Down),
        _ => worst_service >= Some(State::Degraded),
    };
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
            crate::probe::outcome::human_duration(deadline)
        )
    })
}

/// The live sections after the tables: live SPOFs per link and the services running on their
/// last spare. (What each failure takes down is said once per root cause, before the tables.)
fn write_live(
    topology: &Topology,
    run: &ProbeRun,
    report: &Report,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let links: Vec<_> = report
        .links
        .iter()
        .filter(|l| {
            topology
                .index_of(&l.entry)
                .is_some_and(|e| run.selected.contains(&e))
        })
        .collect();
    if !links.is_empty() {
        writeln!(
            out,
            "\nlive single points of failure (one more failure takes the link down)"
        )?;
        for l in links {
            match l.live_spofs.as_deref() {
                _ if l.state == State::Down => {
                    writeln!(out, "  {}: already down", printable(&l.name))?;
                }
                None | Some([]) => writeln!(out, "  {}: none", printable(&l.name))?,
                Some(spofs) => {
                    let ids: Vec<&str> = spofs.iter().map(|s| s.id.as_str()).collect();
                    writeln!(
                        out,
                        "  {}: {}",
                        printable(&l.name),
                        printable_join(&ids, ", ")
                    )?;
                }
            }
        }
    }
    let at_risk: Vec<String> = run
        .selected
        .iter()
        .filter_map(|&i| {
            let svc = topology.service(i);
            let alive = run.instances[i.get()]
                .iter()
                .filter(|o| o.state.is_alive())
                .count();
            (svc.spare() > 0 && alive == svc.min_healthy).then(|| {
                format!(
                    "  {}: {alive} of {} alive, {} needed",
                    printable(svc.name.as_str()),
                    svc.instances.len(),
                    svc.min_healthy
                )
            })
        })
        .collect();
    if !at_risk.is_empty() {
        writeln!(out, "\nat risk (no spare instance left)")?;
        for line in at_risk {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

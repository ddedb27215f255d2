//! The `probe` command's text output (SPEC §4): the root causes first, then one row per
//! instance (service, instance, state, latency, reason) where a service failing because of a
//! root cause says so ("down because of `mysql-primary`"), then every probed link's state and
//! why, a summary line, and the live sections (live SPOFs per link, services on their last
//! spare). `--format json` prints the report itself ([`json`](super::json)).
//!
//! Every user-controlled string goes through [`printable`] before
//! it reaches a terminal.

use std::io::Write;
use std::time::Duration;

use comfy_table::{Cell, CellAlignment, Table, presets};

use crate::probe::ProbeRun;
use crate::report::report::Report;
use crate::report::text::{Paint, because_text, root_cause_lines};
use crate::state::State;
use crate::terminal::{printable, printable_join, printable_lines};
use crate::topology::model::{ServiceIdx, Topology};

/// Writes the whole text output of a `probe` run: root causes (painted per `paint`), the
/// instance and link tables with the summary line, and the live sections. `report` is the
/// analysis of `run` ([`from_outcomes`](crate::report::probed::from_outcomes)).
pub fn write_probe_text(
    topology: &Topology,
    run: &ProbeRun,
    report: &Report,
    paint: Paint,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let causes = root_cause_lines(report, paint);
    if !causes.is_empty() {
        writeln!(out, "{causes}")?;
    }
    write_table(topology, run, report, out)?;
    write_live(topology, run, report, out)
}

fn latency_text(d: Option<Duration>) -> String {
    match d {
        None => "-".to_owned(),
        Some(d) if d < Duration::from_millis(10) => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        Some(d) if d < Duration::from_secs(1) => format!("{} ms", d.as_millis()),
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
    }
}

/// The instance table, the link table and the summary line. A service that fails because of
/// a root cause gets a `(service)` row saying so ("down because of `mysql-primary`"), and the
/// summary counts root causes.
fn write_table(
    topology: &Topology,
    run: &ProbeRun,
    report: &Report,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let service_report = |name: &str| {
        report
            .services
            .binary_search_by(|s| s.id.as_str().cmp(name))
            .ok()
            .map(|i| &report.services[i])
    };
    let effective = |idx: ServiceIdx| {
        service_report(topology.service(idx).name.as_str()).map_or(State::Unknown, |r| r.effective)
    };
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(["SERVICE", "INSTANCE", "STATE", "LATENCY", "REASON"]);
    for &idx in &run.selected {
        let service = topology.service(idx);
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
            let state = effective(idx);
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
        // Each operation's own probe, per instance; and an operation failing because of a
        // root cause says so, like a service.
        let ops =
            service_report(service.name.as_str()).map_or(&[][..], |r| r.operations.as_slice());
        let outcomes = run.operations.get(idx.get()).map_or(&[][..], Vec::as_slice);
        for (o, op) in ops.iter().enumerate() {
            let own = outcomes.get(o).map_or(&[][..], Vec::as_slice);
            for (inst, out) in service.instances.iter().zip(own) {
                table.add_row([
                    Cell::new(&op.id),
                    Cell::new(&inst.id),
                    Cell::new(out.state.as_str()),
                    Cell::new(latency_text(out.latency)).set_alignment(CellAlignment::Right),
                    Cell::new(out.reason.as_deref().unwrap_or("")),
                ]);
            }
            if !op.because_of.is_empty() {
                table.add_row([
                    Cell::new(&op.id),
                    Cell::new("(operation)"),
                    Cell::new(op.effective.as_str()),
                    Cell::new(""),
                    Cell::new(because_text(op.effective, &op.because_of)),
                ]);
            }
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
        table.set_header(["LINK", "ENTRY", "STATE", "WHY"]);
        for link in links {
            let entry = topology.service(link.entry).name.as_str();
            if !topology.service(link.entry).operations.is_empty() {
                table.add_row(operation_link_row(topology, report, link));
                continue;
            }
            let state = effective(link.entry);
            let mut row = vec![
                link.name.to_string(),
                entry.to_owned(),
                state.as_str().to_owned(),
            ];
            let own = report
                .root_causes
                .iter()
                .flatten()
                .any(|c| c.members.iter().any(|m| m == entry));
            row.push(match service_report(entry) {
                Some(s) if !s.because_of.is_empty() => because_text(state, &s.because_of),
                _ if own => format!("its entry `{entry}` is a root cause"),
                _ => String::new(),
            });
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
        .root_causes
        .as_deref()
        .map(|causes| {
            let explained = report
                .services
                .iter()
                .filter(|s| !s.because_of.is_empty())
                .count();
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

/// The link table's row of a link whose entry has operations: the entry as the link enters it
/// (`frontend (checkout)`, or the service: all of its operations), the link's own state, and
/// the root causes that explain it (its entry, or the operation it enters, may be one).
fn operation_link_row(
    topology: &Topology,
    report: &Report,
    link: &crate::topology::model::Link,
) -> Vec<String> {
    let entry = match link.operation {
        Some(o) => crate::analysis::operations::operation_name(topology, link.entry, o),
        None => topology.service(link.entry).name.to_string(),
    };
    report
        .links
        .iter()
        .find(|l| l.name == link.name.as_str())
        .map_or_else(
            || {
                vec![
                    link.name.to_string(),
                    entry.clone(),
                    "unknown".to_owned(),
                    String::new(),
                ]
            },
            |l| {
                vec![
                    l.name.clone(),
                    entry.clone(),
                    l.state.as_str().to_owned(),
                    l.why(report),
                ]
            },
        )
}

/// comfy-table pads every cell, including the last; drop trailing blanks and the outer margin.
fn trim_lines(s: &str) -> String {
    s.lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect::<Vec<_>>()
        .join("\n")
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

//! `linkpatrol merge SHARD.json... [-o DIR]`: joins the reports of `--shard i/n` runs into one
//! (SPEC §8).
//!
//! Only the shards' probe outcomes are taken from the files; everything else — observed and
//! effective states, link states, SPOFs and live SPOFs, root causes, risks — is recomputed from
//! the topology (`-f`) by the same function that turns one unsharded probe run into its report
//! ([`crate::report::probed::from_outcomes`]). So the merged report is the report of one unsharded run
//! with the same outcomes, field for field, apart from timing.
//!
//! Before anything is computed every shard is checked, and a problem is an error that names the
//! file (exit 2): a file that is not a shard report, a shard of another topology (name or
//! structural fingerprint), shards of different splits (`2/3` with `1/4`), a shard given twice,
//! a shard missing, or a shard whose instance list is not the one this linkpatrol assigns to it
//! (made by a linkpatrol with another hash, or edited).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Deserialize;

use super::inspect::{InspectOptions, write_run};
use super::{Context, ExitStatus};
use crate::probe::{ProbeOutcome, Shard};
use crate::report::output;
use crate::report::probed::from_outcomes;
use crate::report::report::{PhaseTimes, ShardReport};
use crate::report::timestamp::UtcTime;
use crate::state::State;
use crate::topology::fingerprint::fingerprint;
use crate::topology::model::Topology;

/// The parts of a shard's `report.json` that `merge` reads.
#[derive(Debug, Deserialize)]
struct ShardDoc {
    topology: String,
    shard: Option<ShardReport>,
    #[serde(default)]
    services: Vec<ServiceDoc>,
    run: Option<RunDoc>,
}

#[derive(Debug, Deserialize)]
struct ServiceDoc {
    id: String,
    #[serde(default)]
    probes: Option<Vec<ProbeDoc>>,
    #[serde(default)]
    operations: Vec<OperationDoc>,
}

#[derive(Debug, Deserialize)]
struct OperationDoc {
    name: String,
    #[serde(default)]
    probes: Option<Vec<ProbeDoc>>,
}

#[derive(Debug, Deserialize)]
struct ProbeDoc {
    instance: String,
    ok: bool,
    state: State,
    latency_ms: Option<f64>,
    reason: Option<String>,
    #[serde(default)]
    phases: Option<PhaseTimes>,
}

#[derive(Debug, Deserialize)]
struct RunDoc {
    start_unix_seconds: f64,
}

/// Why the shards cannot be merged; each names the file(s) concerned.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The file could not be read.
    #[error("cannot read `{}`: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The file is not a linkpatrol report.
    #[error("`{}` is not a linkpatrol report: {cause}", path.display())]
    NotAReport {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        cause: serde_json::Error,
    },
    /// A report of a whole run, not of a shard.
    #[error(
        "`{}` is not a shard report (it has no `shard`): make each with `probe --shard i/n --format json` or `inspect --shard i/n`",
        path.display()
    )]
    NotAShard {
        /// The file.
        path: PathBuf,
    },
    /// A shard of another topology.
    #[error("`{}` is a shard of a different topology ({what}) than `{topology}`", path.display())]
    OtherTopology {
        /// The file.
        path: PathBuf,
        /// The topology given with `-f`.
        topology: String,
        /// What differs.
        what: String,
    },
    /// Shards of different splits.
    #[error(
        "`{}` is shard {shard} but `{}` is shard {other_shard}: every shard must come from the same split into n",
        path.display(), other.display()
    )]
    OtherSplit {
        /// The file.
        path: PathBuf,
        /// Its shard.
        shard: String,
        /// The first file.
        other: PathBuf,
        /// The first file's shard.
        other_shard: String,
    },
    /// The same shard twice.
    #[error("shard {shard} is given twice: `{}` and `{}`", first.display(), second.display())]
    Duplicate {
        /// `i/n`.
        shard: String,
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// Shards missing.
    #[error("shard{} {} missing: merge needs the report of every shard of {count}", if missing.len() == 1 { "" } else { "s" }, missing.join(", "))]
    Missing {
        /// How many shards the split has.
        count: u32,
        /// The missing shard numbers.
        missing: Vec<String>,
    },
    /// The shard owns other instances than this linkpatrol assigns to it.
    #[error(
        "`{}` (shard {shard}) lists other instances than this linkpatrol assigns to that shard (first difference: `{first}`): was it made by another linkpatrol version, or edited?",
        path.display()
    )]
    Ownership {
        /// The file.
        path: PathBuf,
        /// `i/n`.
        shard: String,
        /// The first instance in one list and not the other.
        first: String,
    },
    /// An owned instance has no result.
    #[error("`{}` (shard {shard}) has no probe result for `{instance}`", path.display())]
    NoResult {
        /// The file.
        path: PathBuf,
        /// `i/n`.
        shard: String,
        /// `service/instance`.
        instance: String,
    },
}

/// The checked shards of one split, by shard number.
struct Shards {
    count: u32,
    docs: BTreeMap<u32, (PathBuf, ShardDoc)>,
}

/// Reads and checks every shard report against `topology`.
fn read_shards(topology: &Topology, paths: &[PathBuf]) -> Result<Shards, MergeError> {
    let expected = fingerprint(topology);
    let mut docs: BTreeMap<u32, (PathBuf, ShardDoc)> = BTreeMap::new();
    let mut split: Option<(u32, PathBuf, String)> = None;
    for path in paths {
        let doc = read_doc(path)?;
        let Some(shard) = &doc.shard else {
            return Err(MergeError::NotAShard { path: path.clone() });
        };
        let label = format!("{}/{}", shard.index, shard.count);
        if doc.topology != topology.name {
            return Err(MergeError::OtherTopology {
                path: path.clone(),
                topology: topology.name.clone(),
                what: format!("`{}`", doc.topology),
            });
        }
        if shard.topology_fingerprint != expected {
            return Err(MergeError::OtherTopology {
                path: path.clone(),
                topology: topology.name.clone(),
                what: format!(
                    "fingerprint {}, expected {expected}: services, instances, dependencies or links differ",
                    shard.topology_fingerprint
                ),
            });
        }
        match &split {
            None => split = Some((shard.count, path.clone(), label.clone())),
            Some((count, first, first_label)) if *count != shard.count => {
                return Err(MergeError::OtherSplit {
                    path: path.clone(),
                    shard: label,
                    other: first.clone(),
                    other_shard: first_label.clone(),
                });
            }
            Some(_) => {}
        }
        let own = Shard::new(shard.index, shard.count).map(|s| s.instances(topology));
        if own.as_ref() != Some(&shard.instances) {
            let own = own.unwrap_or_default();
            let first = shard
                .instances
                .iter()
                .find(|i| !own.contains(i))
                .or_else(|| own.iter().find(|i| !shard.instances.contains(i)))
                .cloned()
                .unwrap_or_else(|| format!("shard {label}"));
            return Err(MergeError::Ownership {
                path: path.clone(),
                shard: label,
                first,
            });
        }
        if let Some((first, _)) = docs.get(&shard.index) {
            return Err(MergeError::Duplicate {
                shard: label,
                first: first.clone(),
                second: path.clone(),
            });
        }
        docs.insert(shard.index, (path.clone(), doc));
    }
    let count = split.map_or(0, |(count, ..)| count);
    let missing: Vec<String> = (1..=count)
        .filter(|i| !docs.contains_key(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { count, missing });
    }
    Ok(Shards { count, docs })
}

fn read_doc(path: &Path) -> Result<ShardDoc, MergeError> {
    let text = std::fs::read_to_string(path).map_err(|cause| MergeError::Read {
        path: path.to_owned(),
        cause,
    })?;
    serde_json::from_str(&text).map_err(|cause| MergeError::NotAReport {
        path: path.to_owned(),
        cause,
    })
}

/// The per-instance outcomes of the whole run: each instance's result from the shard that owns
/// it, indexed like the topology (as [`crate::probe::ProbeRun::instances`]), and the same for the
/// operations' own probes (as [`crate::probe::ProbeRun::operations`]).
#[allow(clippy::type_complexity)]
fn outcomes(
    topology: &Topology,
    shards: &Shards,
) -> Result<(Vec<Vec<ProbeOutcome>>, Vec<Vec<Vec<ProbeOutcome>>>), MergeError> {
    let mut out = Vec::with_capacity(topology.services.len());
    let mut ops_out = Vec::with_capacity(topology.services.len());
    for service in &topology.services {
        // The owner's result for one instance: of the service itself (`op` None) or of one of
        // its operations' own probes.
        let result = |inst: &crate::topology::model::Instance, op: Option<&str>| {
            let owner = crate::probe::shard::owner(shards.count, service.name.as_str(), &inst.id);
            let (path, doc) = &shards.docs[&owner];
            doc.services
                .iter()
                .find(|s| s.id == service.name.as_str())
                .and_then(|s| match op {
                    None => s.probes.as_ref(),
                    Some(name) => s
                        .operations
                        .iter()
                        .find(|o| o.name == name)
                        .and_then(|o| o.probes.as_ref()),
                })
                .and_then(|p| p.iter().find(|p| p.instance == inst.id))
                .map(outcome_of)
                .ok_or_else(|| MergeError::NoResult {
                    path: path.clone(),
                    shard: format!("{owner}/{}", shards.count),
                    instance: match op {
                        None => format!("{}/{}", service.name, inst.id),
                        Some(name) => format!("{} ({name})/{}", service.name, inst.id),
                    },
                })
        };
        let mut per_instance = Vec::with_capacity(service.instances.len());
        for inst in &service.instances {
            per_instance.push(if inst.probe.is_none() {
                ProbeOutcome::unprobed()
            } else {
                result(inst, None)?
            });
        }
        out.push(per_instance);
        let mut per_operation = Vec::with_capacity(service.operations.len());
        for op in &service.operations {
            let mut per_instance = Vec::with_capacity(op.probes.len());
            for (inst, probe) in service.instances.iter().zip(&op.probes) {
                per_instance.push(if probe.is_none() {
                    ProbeOutcome::unprobed()
                } else {
                    result(inst, Some(&op.name))?
                });
            }
            per_operation.push(per_instance);
        }
        ops_out.push(per_operation);
    }
    Ok((out, ops_out))
}

/// A shard's probe result back as the outcome it was made from.
fn outcome_of(result: &ProbeDoc) -> ProbeOutcome {
    ProbeOutcome {
        state: result.state,
        latency: result
            .latency_ms
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
            .map(|ms| Duration::from_secs_f64(ms / 1e3)),
        reason: result.reason.clone(),
        attempts: 1,
        slow: result.ok && result.state == State::Degraded,
        phases: result.phases.as_ref().map(http_phases),
    }
}

/// A shard's phase timings back as durations (negative or non-finite values read as 0).
fn http_phases(p: &PhaseTimes) -> crate::probe::HttpPhases {
    let d = |ms: f64| {
        if ms.is_finite() && ms > 0.0 {
            Duration::from_secs_f64(ms / 1e3)
        } else {
            Duration::ZERO
        }
    };
    crate::probe::HttpPhases {
        dns: d(p.dns_ms),
        connect: d(p.connect_ms),
        tls: d(p.tls_ms),
        first_byte: d(p.first_byte_ms),
        transfer: d(p.transfer_ms),
    }
}

/// Runs `linkpatrol merge`.
pub fn run(ctx: &Context, args: &crate::cli::MergeArgs) -> anyhow::Result<ExitStatus> {
    let Some(loaded) = super::load_or_report(ctx) else {
        return Ok(ExitStatus::Invalid);
    };
    let topology = &loaded.topology;
    let shards = match read_shards(topology, &args.reports) {
        Ok(shards) => shards,
        Err(e) => {
            eprintln!(
                "error: {}",
                crate::terminal::printable_lines(&e.to_string())
            );
            return Ok(ExitStatus::Invalid);
        }
    };
    let (outcomes, operations) = match outcomes(topology, &shards) {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "error: {}",
                crate::terminal::printable_lines(&e.to_string())
            );
            return Ok(ExitStatus::Invalid);
        }
    };
    let report = from_outcomes(topology, &outcomes, &operations)?;
    let Some(out_dir) = &args.out_dir else {
        let status = super::analyze::gate(&report, args.fail_on);
        let json = crate::report::json::render_json(&report);
        std::io::Write::write_all(&mut std::io::stdout().lock(), json.as_bytes())?;
        return Ok(status);
    };
    // The merged run started when its first shard did.
    let started = shards
        .docs
        .values()
        .filter_map(|(_, d)| d.run.as_ref())
        .map(|r| r.start_unix_seconds)
        .filter(|s| s.is_finite())
        .min_by(f64::total_cmp)
        .map_or_else(UtcTime::now, |s| {
            UtcTime::from_unix_ms((s * 1e3).round() as i64)
        });
    let options = InspectOptions {
        out_dir: out_dir.clone(),
        fail_on: args.fail_on,
        ..InspectOptions::default()
    };
    let lock = output::lock_output(out_dir)?;
    let outcome = write_run(topology, report, started, Instant::now(), &options, lock)
        .with_context(|| format!("writing the merged run into `{}` failed", out_dir.display()))?;
    if !ctx.quiet {
        eprint!(
            "merged {} shards of {}\n{}",
            shards.count,
            crate::terminal::printable(topology.name.as_str()),
            outcome.summary()
        );
    }
    Ok(outcome.status)
}

//! The report of a probe run: per-instance outcomes → observed states → the analysis over them →
//! the [`Report`] with probe results (SPEC §5). `probe`, `inspect`, `render --probe` and `merge`
//! all build their report here, so a merged report is exactly what one unsharded run with the same
//! outcomes gives.

use std::time::Duration;

use crate::analysis::{self, AnalysisError};
use crate::probe::ProbeOutcome;
use crate::report::report::{PhaseTimes, ProbeResult, Report};
use crate::state::State;
use crate::topology::model::{Service, Topology};

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
            phases: o.phases.as_ref().map(phase_times),
        })
        .collect()
}

/// The report's form of an `http` probe's phases: milliseconds, to the microsecond.
fn phase_times(p: &crate::probe::HttpPhases) -> PhaseTimes {
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    PhaseTimes {
        dns_ms: ms(p.dns),
        connect_ms: ms(p.connect),
        tls_ms: ms(p.tls),
        first_byte_ms: ms(p.first_byte),
        transfer_ms: ms(p.transfer),
    }
}

/// The report of a probe run from its per-instance outcomes (indexed like the topology's
/// services and their instances; an empty list = the service was not probed): observed states,
/// the analysis over them, and the probe results. `merge` calls it with the outcomes of every
/// shard, so a merged report is exactly what one unsharded run with those outcomes gives.
/// `operations`: per service, per operation, per instance, the outcomes of the operations' own
/// probes (SPEC §1), as [`ProbeRun::operations`](crate::probe::ProbeRun::operations) holds them.
pub fn from_outcomes(
    topology: &Topology,
    instances: &[Vec<ProbeOutcome>],
    operations: &[Vec<Vec<ProbeOutcome>>],
) -> Result<Report, AnalysisError> {
    from_outcomes_at(topology, instances, operations, 1)
}

/// [`from_outcomes`] with the analysis to `depth` (2 = N-2 pairs as well).
pub fn from_outcomes_at(
    topology: &Topology,
    instances: &[Vec<ProbeOutcome>],
    operations: &[Vec<Vec<ProbeOutcome>>],
    depth: u8,
) -> Result<Report, AnalysisError> {
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
    let operations_observed: Vec<Vec<Vec<State>>> = operations
        .iter()
        .map(|ops| {
            ops.iter()
                .map(|outcomes| outcomes.iter().map(|o| o.state).collect())
                .collect()
        })
        .collect();
    let analysis = analysis::analyze(
        topology,
        &analysis::Options {
            depth,
            observed: Some(&observed),
            operations_observed: Some(&operations_observed),
            ..analysis::Options::default()
        },
    )?;
    let probes: Vec<Vec<ProbeResult>> = topology
        .services
        .iter()
        .zip(instances)
        .map(|(s, outcomes)| probe_results(s, outcomes))
        .collect();
    let op_probes: Vec<Vec<Vec<ProbeResult>>> = topology
        .services
        .iter()
        .zip(operations)
        .map(|(s, ops)| ops.iter().map(|o| probe_results(s, o)).collect())
        .collect();
    Ok(super::build::build_probed(
        topology,
        &analysis,
        Some(&probes),
        Some(&op_probes),
    ))
}

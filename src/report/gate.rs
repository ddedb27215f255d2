//! The `--fail-on` rule (SPEC §4): which findings of a report make the exit code 1. One place
//! for `analyze`, `probe`, `inspect`, `merge` and `watch`; the commands map the CLI's enum onto
//! [`Threshold`] and the answer onto their exit status.

use crate::report::report::Report;
use crate::state::State;
use crate::topology::model::Severity;

/// The least serious finding that counts, from most to least serious.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Threshold {
    /// A link is down.
    Down,
    /// A link is degraded or down.
    Degraded,
    /// A link has a single point of failure (or is degraded or down).
    Spof,
    /// Any risk at warning level or above (or any of the above).
    Risk,
    /// Nothing counts.
    Never,
}

/// Whether `report` holds a finding at or above `threshold`: link states, then SPOFs (design
/// or live), then risks of warning level or above.
pub fn has_findings(report: &Report, threshold: Threshold) -> bool {
    let worst_link = report.links.iter().map(|l| l.state).max();
    let has_spof = report
        .links
        .iter()
        .any(|l| !l.spofs.is_empty() || l.live_spofs.as_ref().is_some_and(|s| !s.is_empty()));
    let has_risk = report.risks.iter().any(|r| r.severity >= Severity::Warning);
    match threshold {
        Threshold::Down => worst_link == Some(State::Down),
        Threshold::Degraded => worst_link >= Some(State::Degraded),
        Threshold::Spof => worst_link >= Some(State::Degraded) || has_spof,
        Threshold::Risk => worst_link >= Some(State::Degraded) || has_spof || has_risk,
        Threshold::Never => false,
    }
}

/// Whether the worst state of the services a spot check probed counts on its own (`probe`
/// checks services as well as links): down counts from `down`, degraded from every other
/// threshold but `never`.
pub fn service_counts(worst_service: Option<State>, threshold: Threshold) -> bool {
    match threshold {
        Threshold::Never => false,
        Threshold::Down => worst_service == Some(State::Down),
        _ => worst_service >= Some(State::Degraded),
    }
}

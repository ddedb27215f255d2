//! The one serde-serializable report (SPEC §5). Every output format reads only this.
//!
//! Field names and shapes here are a stable contract: add fields, never rename or remove them.
//! Every list is sorted so that the same input gives byte-identical output.

use serde::Serialize;

use crate::state::State;
use crate::topology::model::{RiskRule, Severity};

/// The whole report of one run (`analyze`, `probe` or `inspect`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// The topology's `name:`.
    pub topology: String,
    /// The independent failures, each with what it takes down (SPEC §2 root cause); worst
    /// first (`down` before `degraded`, then most links, most services, id). Present whenever
    /// probes ran or `--fail` events were given (then possibly empty); absent for a plain
    /// `analyze`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_causes: Option<Vec<RootCauseReport>>,
    /// One entry per core link, sorted by name.
    pub links: Vec<LinkReport>,
    /// One entry per service, sorted by id.
    pub services: Vec<ServiceReport>,
    /// Findings, sorted by severity (worst first), rule, subjects.
    pub risks: Vec<RiskReport>,
    /// The events assumed failed by `analyze --fail`, sorted; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assumed_failed: Option<Vec<String>>,
}

/// One core link.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LinkReport {
    /// The link's name.
    pub name: String,
    /// Its entry service.
    pub entry: String,
    /// Effective state of the entry (`unknown` without probing, unless `--fail` decides it).
    pub state: State,
    /// The entry and every service reachable through strong edges, sorted.
    pub critical_path: Vec<String>,
    /// Single points of failure: services first, then domains, each sorted by id.
    pub spofs: Vec<Spof>,
    /// SPOFs of the system as it is now; only after probing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_spofs: Option<Vec<Spof>>,
    /// Minimal pairs of events (N-2); only with `--depth 2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairs: Option<Vec<SpofPair>>,
}

/// Kind of a SPOF.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum SpofKind {
    /// A service without a spare instance.
    Service,
    /// A failure domain value, `key=value`.
    Domain,
}

/// One single point of failure of a link.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Spof {
    /// Service or domain.
    pub kind: SpofKind,
    /// The service name, or `key=value`.
    pub id: String,
    /// For a service: a strong path from the entry to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Vec<String>>,
    /// For a domain: the service SPOFs with an instance in it (empty = shared fate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implied_by: Option<Vec<String>>,
}

/// One N-2 finding: two events that together take the link down.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpofPair {
    /// The two events (`service` ids or `instance` ids `svc/inst` or `key=value`), sorted;
    /// for thin redundancy, the one service.
    pub events: Vec<String>,
    /// `pair`, or `thin-redundancy` when both are instances of one service.
    pub kind: String,
    /// Services taken down by the pair, counted for sorting by impact.
    pub impact: usize,
}

/// One service.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceReport {
    /// The service name.
    pub id: String,
    /// From its own probes (`unknown` without probing).
    pub observed: State,
    /// With its dependencies taken into account.
    pub effective: State,
    /// Services that depend on it, sorted.
    pub upstream: Vec<String>,
    /// Services it depends on, sorted.
    pub downstream: Vec<String>,
    /// What goes down when all its instances fail.
    pub blast_radius: BlastRadius,
    /// Probe results per instance; only after probing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<Vec<ProbeResult>>,
    /// The ids of the root causes this failed service is a consequence of, in the order of
    /// [`Report::root_causes`]; absent when empty (healthy, itself a root cause, or no probing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub because_of: Vec<String>,
}

/// Kind of a root cause.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum RootCauseKind {
    /// One service whose own probes (or `--fail` events) fail.
    Service,
    /// A strong cycle whose failing members explain each other and nothing else explains.
    Cycle,
}

/// One root cause: a failure nothing below it explains, and what it takes down.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RootCauseReport {
    /// The service name; for a cycle, its members joined with ` + `.
    pub id: String,
    /// `service` or `cycle`.
    pub kind: RootCauseKind,
    /// The failing services, sorted: `[id]` for a service, the cycle's members otherwise.
    pub members: Vec<String>,
    /// `down` or `degraded`.
    pub state: State,
    /// Why, from its failing probes (or the `--fail` events that fail it).
    pub reason: String,
    /// The owner of the (first owned) member, if any: who to page.
    pub owner: Option<String>,
    /// Whether `--fail` events, not probes, fail it.
    pub assumed: bool,
    /// Links whose state it explains (down or degraded because of it, or entered at it),
    /// among the analysed links, sorted.
    pub links: Vec<String>,
    /// Other failed services it explains (its consequences), sorted.
    pub services: Vec<String>,
}

/// Links and other services that go down with a service.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct BlastRadius {
    /// Links whose state becomes down, sorted.
    pub links: Vec<String>,
    /// Other services whose effective state becomes down, sorted.
    pub services: Vec<String>,
}

/// One probe of one instance.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProbeResult {
    /// The instance id.
    pub instance: String,
    /// Whether the probe passed (up, or degraded only by slowness).
    pub ok: bool,
    /// The instance's state from this probe.
    pub state: State,
    /// Time of the last attempt, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Why it is not up, in words a person can act on.
    pub reason: Option<String>,
}

/// One risk finding.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RiskReport {
    /// Stable rule id.
    pub rule: RiskRule,
    /// Severity.
    pub severity: Severity,
    /// Services, links or domains concerned, in a rule-specific order.
    pub subjects: Vec<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

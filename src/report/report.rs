//! The one serde-serializable report (SPEC §5). Every output format reads only this.
//!
//! Field names and shapes here are a stable contract: add fields, never rename or remove them.
//! Every list is sorted so that the same input gives byte-identical output.

use serde::Serialize;

use crate::state::State;
use crate::topology::model::{HttpPhase, RiskRule, Severity};

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
    /// The inspection run (`inspect` only): when, how long, which version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    /// What changed since the previous inspection (`inspect` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since_last: Option<SinceLast>,
    /// Availability and latency over the last 24 h and 7 d (`inspect` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
    /// With `--shard i/n`: which shard this report is and which instances it probed (the
    /// others show `unknown`, "probed by shard k/n"); absent for a whole run. `merge` reads it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardReport>,
}

impl Report {
    /// The operation reports name `service (operation)`, if any.
    pub fn operation(&self, id: &str) -> Option<&OperationReport> {
        self.services
            .iter()
            .flat_map(|s| &s.operations)
            .find(|o| o.id == id)
    }

    /// Whether states were observed (probes ran, or `--fail` decided them). Without that every
    /// state is `unknown` by construction, and the pictures and pages show none.
    pub fn observed(&self) -> bool {
        self.root_causes.is_some() || self.services.iter().any(|s| s.probes.is_some())
    }
}

/// The shard a report covers (SPEC §8).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ShardReport {
    /// This shard, from 1.
    pub index: u32,
    /// How many shards the run was split into.
    pub count: u32,
    /// The structural fingerprint of the topology the shard ran
    /// ([`crate::topology::fingerprint::fingerprint`]); `merge` refuses a mismatch.
    pub topology_fingerprint: String,
    /// The instances this shard owns and probed, as `service/instance`, in topology order.
    pub instances: Vec<String>,
}

/// One core link.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LinkReport {
    /// The link's name.
    pub name: String,
    /// Its entry service.
    pub entry: String,
    /// The operation of the entry it enters (SPEC §1 `operation:`); absent = all of them, or
    /// the entry has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
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

impl LinkReport {
    /// The entry as the link enters it: `frontend (checkout)` with an operation, else the
    /// service.
    pub fn entered(&self) -> String {
        match &self.operation {
            Some(o) => format!("{} ({o})", self.entry),
            None => self.entry.clone(),
        }
    }

    /// Why it is in its state, in words: `down because of `a`, `b``, or that its entry (or
    /// the operation it enters) is itself a root cause; empty when nothing explains it.
    pub fn why(&self, report: &Report) -> String {
        let entered = self.entered();
        let causes: Vec<&RootCauseReport> = report
            .root_causes
            .iter()
            .flatten()
            .filter(|c| c.links.contains(&self.name))
            .collect();
        // Its entry is a root cause: the operation it enters, or the service it enters as a
        // whole (not when only one of its operations is).
        let is_own = |c: &RootCauseReport| {
            c.id == entered
                || (self.operation.is_none()
                    && c.operation.is_none()
                    && c.members.contains(&self.entry))
        };
        let own = causes.iter().any(|c| is_own(c));
        let others: Vec<String> = causes
            .iter()
            .filter(|c| !is_own(c))
            .map(|c| c.id.clone())
            .collect();
        if !others.is_empty() {
            crate::report::text::because_text(self.state, &others)
        } else if own {
            format!("its entry `{entered}` is a root cause")
        } else {
            String::new()
        }
    }
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
    /// Its operations (SPEC §1), sorted by name; absent for a service without any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<OperationReport>,
}

/// One operation of a service: its own states, and its own probe's results.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OperationReport {
    /// The operation's name, the key under `operations:`.
    pub name: String,
    /// How reports name it: `service (operation)`, as SPOF paths and root causes do.
    pub id: String,
    /// The worse of its service's observed state and its own probe's.
    pub observed: State,
    /// With its service's and its own dependencies taken into account.
    pub effective: State,
    /// Its own probe's results per instance of the service; only after probing, and only for
    /// an operation with a probe of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<Vec<ProbeResult>>,
    /// Like the service's `because_of`, for the operation.
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
    /// The service name (`service (operation)` when only that operation's own probe fails);
    /// for a cycle, its members joined with ` + `.
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
    /// For a root cause that is one operation of its service (its own probe fails while the
    /// service's pass), the operation's name; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Operations it fails while their service as a whole stays up, as `service (operation)`,
    /// sorted; absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
}

/// Links and other services that go down with a service (SPEC §2). The same shape at every
/// size: the links and a count always, the list of services only on request
/// (`analyze --blast full`), so a 100,000-service report stays small.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct BlastRadius {
    /// Links whose state becomes down, sorted.
    pub links: Vec<String>,
    /// How many other services go down.
    pub service_count: usize,
    /// Those services, sorted; only with `--blast full`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
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
    /// Where the last attempt's time went (`http` probes only; absent for other types and for
    /// an attempt cut by its timeout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phases: Option<PhaseTimes>,
}

/// The phases of an `http` probe's last attempt, in milliseconds (to the microsecond); over a
/// chain of redirects each is the sum over the hops, as blackbox_exporter sums them.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq)]
pub struct PhaseTimes {
    /// Name resolution (0 for an IP address).
    pub dns_ms: f64,
    /// TCP connect, over every address tried.
    pub connect_ms: f64,
    /// TLS handshake (0 for `http://`).
    pub tls_ms: f64,
    /// From sending the request to the response headers (blackbox_exporter's `processing`).
    pub first_byte_ms: f64,
    /// Reading the body, up to the cap.
    pub transfer_ms: f64,
}

impl PhaseTimes {
    /// The milliseconds of `phase`.
    pub fn get(&self, phase: HttpPhase) -> f64 {
        match phase {
            HttpPhase::Dns => self.dns_ms,
            HttpPhase::Connect => self.connect_ms,
            HttpPhase::Tls => self.tls_ms,
            HttpPhase::FirstByte => self.first_byte_ms,
            HttpPhase::Transfer => self.transfer_ms,
        }
    }
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

/// One inspection run (SPEC §6 `run`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunInfo {
    /// The run's folder name under `output/runs/`.
    pub id: String,
    /// When probing started, RFC 3339 UTC.
    pub start: String,
    /// The same instant in seconds since the Unix epoch.
    pub start_unix_seconds: f64,
    /// Wall time of the whole run up to writing the reports, in seconds.
    pub duration_seconds: f64,
    /// The linkpatrol version that ran it.
    pub version: String,
    /// `i/n` when only one shard of the probes ran; `null` for a whole run.
    pub shard: Option<String>,
    /// Things that went wrong without stopping the run (e.g. no Graphviz for `graph.svg`).
    pub warnings: Vec<String>,
}

/// A state change between the previous run and this one.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StateChange {
    /// The link or service.
    pub id: String,
    /// Its state in the previous run; `null` when it did not exist then.
    pub from: Option<State>,
    /// Its state now; `null` when it no longer exists.
    pub to: Option<State>,
}

/// A SPOF that appeared or went away.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpofChange {
    /// The link.
    pub link: String,
    /// The SPOF's id (service, or `key=value`).
    pub id: String,
}

/// A probe whose latency more than doubled.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencyJump {
    /// The service.
    pub service: String,
    /// The instance.
    pub instance: String,
    /// Latency in the previous run, ms.
    pub from_ms: f64,
    /// Latency now, ms.
    pub to_ms: f64,
}

/// What changed since the previous run (SPEC §6 `since_last`). Every list is sorted.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct SinceLast {
    /// The previous run's id; `null` on the first run (then every list is empty).
    pub previous_run: Option<String>,
    /// When the previous run started, RFC 3339.
    pub previous_start: Option<String>,
    /// Links whose state changed.
    pub links: Vec<StateChange>,
    /// Services whose effective state changed.
    pub services: Vec<StateChange>,
    /// Design SPOFs that are new.
    pub spofs_added: Vec<SpofChange>,
    /// Design SPOFs that are gone.
    pub spofs_removed: Vec<SpofChange>,
    /// Live SPOFs that are new (links up or degraded in both runs only; a down link has none).
    pub live_spofs_added: Vec<SpofChange>,
    /// Live SPOFs that are gone.
    pub live_spofs_removed: Vec<SpofChange>,
    /// Probes whose latency more than doubled (and grew by at least the noise floor).
    pub latency_jumps: Vec<LatencyJump>,
}

impl SinceLast {
    /// Whether anything changed.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
            && self.services.is_empty()
            && self.spofs_added.is_empty()
            && self.spofs_removed.is_empty()
            && self.live_spofs_added.is_empty()
            && self.live_spofs_removed.is_empty()
            && self.latency_jumps.is_empty()
    }
}

/// Availability and latency of one subject over one window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WindowStats {
    /// Runs in the window that recorded the subject.
    pub runs: u64,
    /// Share of those runs (0–1) in which it was up or degraded, among runs where its state was
    /// known; `null` when it never was.
    pub availability: Option<f64>,
    /// Median latency in ms; `null` without an answer.
    pub p50_ms: Option<f64>,
    /// 95th-percentile latency in ms; `null` without an answer.
    pub p95_ms: Option<f64>,
}

/// The history of one link or service.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SubjectHistory {
    /// The link or service.
    pub id: String,
    /// The last 24 hours.
    pub last_24h: WindowStats,
    /// The last 7 days.
    pub last_7d: WindowStats,
}

/// SPEC §6 `history`: per link and per service, sorted by id.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct History {
    /// Per link.
    pub links: Vec<SubjectHistory>,
    /// Per service.
    pub services: Vec<SubjectHistory>,
}

impl SinceLast {
    /// One line of plain text per change, in report order (links, services, SPOFs, live SPOFs,
    /// latency jumps). Empty when nothing changed.
    pub fn lines(&self) -> Vec<String> {
        let state = |s: Option<State>| s.map_or("absent", State::as_str);
        let mut out = Vec::new();
        for (kind, changes) in [("link", &self.links), ("service", &self.services)] {
            for c in changes {
                out.push(format!(
                    "{kind} {}: {} → {}",
                    c.id,
                    state(c.from),
                    state(c.to)
                ));
            }
        }
        for (what, list) in [
            ("new SPOF", &self.spofs_added),
            ("SPOF gone", &self.spofs_removed),
            ("new live SPOF", &self.live_spofs_added),
            ("live SPOF gone", &self.live_spofs_removed),
        ] {
            for s in list {
                out.push(format!("{what} on link {}: {}", s.link, s.id));
            }
        }
        for j in &self.latency_jumps {
            out.push(format!(
                "latency of {}/{}: {:.1} ms → {:.1} ms",
                j.service, j.instance, j.from_ms, j.to_ms
            ));
        }
        out
    }
}

/// What one root cause takes down, split by the state it leaves each link and service in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impact<'a> {
    /// Links down because of it.
    pub links_down: Vec<&'a str>,
    /// Links degraded because of it.
    pub links_degraded: Vec<&'a str>,
    /// Services down because of it.
    pub services_down: Vec<&'a str>,
    /// Services degraded because of it.
    pub services_degraded: Vec<&'a str>,
}

impl RootCauseReport {
    /// Its links and services, split by their state in `report` (which holds this root cause).
    pub fn impact<'a>(&'a self, report: &Report) -> Impact<'a> {
        let link_state = |name: &str| {
            report
                .links
                .binary_search_by(|l| l.name.as_str().cmp(name))
                .map_or(self.state, |i| report.links[i].state)
        };
        let service_state = |name: &str| {
            report
                .services
                .binary_search_by(|s| s.id.as_str().cmp(name))
                .map_or_else(
                    |_| report.operation(name).map_or(self.state, |o| o.effective),
                    |i| report.services[i].effective,
                )
        };
        let (links_down, links_degraded) = self
            .links
            .iter()
            .map(String::as_str)
            .partition(|n| link_state(n) == State::Down);
        let (services_down, services_degraded) = self
            .services
            .iter()
            .chain(&self.operations)
            .map(String::as_str)
            .partition(|n| service_state(n) == State::Down);
        Impact {
            links_down,
            links_degraded,
            services_down,
            services_degraded,
        }
    }
}

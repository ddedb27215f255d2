//! The validated topology: what every later stage (analysis, probes, reports) reads.
//!
//! Types here are valid by construction: [`crate::topology::load`] is the only producer, and it
//! rejects anything that would break an invariant documented below. Services are stored in a
//! `Vec` sorted by name and referred to by [`ServiceIdx`], so the analysis can work over dense
//! indices and bitsets; [`Topology::index_of`] maps a name back to an index.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// The name of a service, as written under `services:`. Unique within a topology.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ServiceName(String);

impl ServiceName {
    /// Wraps a name. The loader checks uniqueness; any string is a valid name here.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for ServiceName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// The name of a core link, as written under `links:`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct LinkName(String);

impl LinkName {
    /// Wraps a name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LinkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Index of a service in [`Topology::services`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceIdx(pub u32);

impl ServiceIdx {
    /// The index as a `usize`, for slicing.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// Values read from `${VAR}` shorter than this are not searched for inside other text when
/// messages are scrubbed: replacing `1` everywhere would garble every message
/// (`127.0.0.1` → `${PORT}27.0.0.${PORT}`) while hiding nothing. The loader warns about such
/// values (`short-secret`); the whole text they were substituted into is still scrubbed.
pub const MIN_SECRET_LEN: usize = 4;

/// A string from the topology file after `${VAR}` interpolation.
///
/// `Display` and `Serialize` print the text *as written* (with `${VAR}` in place) whenever a
/// variable was substituted, so that no value read from the environment ever reaches an output.
/// Only [`Text::expose`] gives the resolved value, for connecting to a system.
#[derive(Clone, PartialEq, Eq)]
pub struct Text {
    written: String,
    resolved: String,
    secret: bool,
}

impl Text {
    /// A text with nothing interpolated.
    pub fn plain(s: impl Into<String>) -> Self {
        let s = s.into();
        Self {
            written: s.clone(),
            resolved: s,
            secret: false,
        }
    }

    /// A text whose `written` form had `${VAR}` references, resolved to `resolved`.
    pub fn interpolated(written: impl Into<String>, resolved: impl Into<String>) -> Self {
        let written = written.into();
        let resolved = resolved.into();
        let secret = written != resolved;
        Self {
            written,
            resolved,
            secret,
        }
    }

    /// The resolved value. Use it to talk to a system, never to print.
    pub fn expose(&self) -> &str {
        &self.resolved
    }

    /// The text as written in the file; safe to print.
    pub fn written(&self) -> &str {
        &self.written
    }

    /// Whether any `${VAR}` was substituted.
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// Replaces `{address}`, `{host}` and `{port}` (and nothing else) in both forms.
    #[must_use]
    pub fn with_address(&self, address: &str) -> Self {
        let (host, port) = split_host_port(address);
        let sub = |s: &str| {
            s.replace("{address}", address)
                .replace("{host}", host)
                .replace("{port}", port)
        };
        Self {
            written: sub(&self.written),
            resolved: sub(&self.resolved),
            secret: self.secret,
        }
    }

    /// [`Text::with_address`] for an address that may itself come from `${VAR}`: its written
    /// form goes into the written text, its value into the resolved one.
    #[must_use]
    pub fn with_address_text(&self, address: &Text) -> Self {
        let sub = |s: &str, a: &str| {
            let (host, port) = split_host_port(a);
            s.replace("{address}", a)
                .replace("{host}", host)
                .replace("{port}", port)
        };
        Self {
            written: sub(&self.written, address.written()),
            resolved: sub(&self.resolved, address.expose()),
            secret: self.secret || address.is_secret(),
        }
    }

    /// The resolved value with every substituted secret replaced by its `${VAR}` form, i.e. the
    /// written text. Use it to scrub a message that may echo the resolved value.
    pub fn scrub(&self, message: &str) -> String {
        if self.secret && !self.resolved.is_empty() {
            message.replace(&self.resolved, &self.written)
        } else {
            message.to_owned()
        }
    }
}

/// Splits `host:port` (also `[v6]:port`); a missing port gives `""`.
pub fn split_host_port(address: &str) -> (&str, &str) {
    if let Some((h, p)) = address
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
    {
        return (h, p.strip_prefix(':').unwrap_or(""));
    }
    match address.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p),
        _ => (address, ""),
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.written, f)
    }
}

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.written)
    }
}

/// The whole topology file, validated.
#[derive(Debug, Clone)]
pub struct Topology {
    /// `name:`, the system's name.
    pub name: String,
    /// `version:`; only 1 exists.
    pub version: u32,
    /// `defaults:`, already applied to every probe.
    pub defaults: Defaults,
    /// `links:`, sorted by name.
    pub links: Vec<Link>,
    /// `services:`, sorted by name; [`ServiceIdx`] indexes this.
    pub services: Vec<Service>,
    /// `risks:`, the rule settings.
    pub risks: RiskSettings,
    /// `alerts:` of `watch`; `None` when the file has no such section.
    pub alerts: Option<super::alerts::Alerts>,
    /// `inspect:`, retention of `inspect`'s run folders and history.
    pub inspect: InspectSettings,
    /// name → index into `services`.
    pub index: HashMap<ServiceName, ServiceIdx>,
}

/// `inspect:` — what `inspect` keeps in its output directory (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InspectSettings {
    /// `keep_runs`: run folders kept under `output/runs/` (at least 1).
    pub keep_runs: usize,
    /// `history`: how far back `output/history.sqlite` keeps runs.
    pub history: Duration,
}

impl InspectSettings {
    /// `keep_runs` when the file does not set it.
    pub const DEFAULT_KEEP_RUNS: usize = 30;
    /// `history` when the file does not set it: 30 days.
    pub const DEFAULT_HISTORY: Duration = Duration::from_secs(30 * 86_400);
}

impl Default for InspectSettings {
    fn default() -> Self {
        Self {
            keep_runs: Self::DEFAULT_KEEP_RUNS,
            history: Self::DEFAULT_HISTORY,
        }
    }
}

impl Topology {
    /// The index of the service called `name`.
    pub fn index_of(&self, name: &str) -> Option<ServiceIdx> {
        self.index.get(name).copied()
    }

    /// The service at `idx`.
    pub fn service(&self, idx: ServiceIdx) -> &Service {
        &self.services[idx.get()]
    }

    /// Every service with its index, in name order.
    pub fn iter_services(&self) -> impl Iterator<Item = (ServiceIdx, &Service)> {
        self.services
            .iter()
            .enumerate()
            .map(|(i, s)| (ServiceIdx(i as u32), s))
    }

    /// Number of dependency edges, counting each any_of member once.
    pub fn edge_count(&self) -> usize {
        self.services
            .iter()
            .flat_map(|s| &s.depends_on)
            .map(|d| d.targets().len())
            .sum()
    }

    /// Builds the model from parts, sorting services and links by name and filling the index.
    ///
    /// For tests and generators that construct topologies in code. Dependencies given here must
    /// refer to services by their index in the *sorted* order, so build `services` sorted.
    pub fn from_parts(
        name: impl Into<String>,
        defaults: Defaults,
        links: Vec<Link>,
        services: Vec<Service>,
        risks: RiskSettings,
    ) -> Self {
        debug_assert!(services.windows(2).all(|w| w[0].name < w[1].name));
        let mut links = links;
        links.sort_by(|a, b| a.name.cmp(&b.name));
        let index = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), ServiceIdx(i as u32)))
            .collect();
        Self {
            name: name.into(),
            version: 1,
            defaults,
            links,
            services,
            risks,
            alerts: None,
            inspect: InspectSettings::default(),
            index,
        }
    }
}

/// `defaults:` — probe settings every probe inherits, and run-wide limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    /// Per-attempt timeout of a probe. Default 2s.
    pub timeout: Duration,
    /// Extra attempts before a probe counts as failed. Default 1.
    pub retries: u32,
    /// Answered but slower than this = degraded. Default 300ms.
    pub slow: Duration,
    /// Probes in flight at once. Default 256.
    pub concurrency: usize,
    /// Probes in flight at once against one host. Default 64.
    pub per_host: usize,
    /// Deadline for a whole probe run. Default 60s.
    pub deadline: Duration,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            retries: 1,
            slow: Duration::from_millis(300),
            concurrency: 256,
            per_host: 64,
            deadline: Duration::from_secs(60),
        }
    }
}

/// One core link: a business action that starts at an entry service.
#[derive(Debug, Clone)]
pub struct Link {
    /// The key under `links:`.
    pub name: LinkName,
    /// The entry service.
    pub entry: ServiceIdx,
    /// The operation of the entry the link enters; `None` = all of them (or the entry has none).
    pub operation: Option<OperationIdx>,
    /// Free text.
    pub description: Option<String>,
}

/// One service.
#[derive(Debug, Clone)]
pub struct Service {
    /// The key under `services:`.
    pub name: ServiceName,
    /// Free text.
    pub description: Option<String>,
    /// Owning team.
    pub owner: Option<String>,
    /// Tags, sorted and unique.
    pub tags: Vec<String>,
    /// `core:`; default true. `false` marks a service non-core on purpose.
    pub core: bool,
    /// Whether `core:` was written explicitly.
    pub core_explicit: bool,
    /// The instances; never empty. `replicas: N` gives N unnamed instances `0..N`.
    pub instances: Vec<Instance>,
    /// Instances that must pass for the service to be up; `1..=instances.len()`.
    pub min_healthy: usize,
    /// `depends_on:`, in file order. With operations, these apply to every operation.
    pub depends_on: Vec<Dependency>,
    /// `operations:`, sorted by name; [`OperationIdx`] indexes this. Empty for most services.
    pub operations: Vec<Operation>,
}

/// Index of an operation in [`Service::operations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OperationIdx(pub u32);

impl OperationIdx {
    /// The index as a `usize`, for slicing.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// One operation of a service (a route, an RPC method), SPEC §1: it shares the service's
/// instances and failure domains and depends on the service's `depends_on` plus its own.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The key under `operations:`; unique within the service.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The operation's own `depends_on:`, in file order (the service's come on top).
    pub depends_on: Vec<Dependency>,
    /// The operation's own probe per instance of the service (same positions as
    /// [`Service::instances`]); empty when the operation has no probe of its own.
    pub probes: Vec<Option<Arc<Probe>>>,
}

impl Operation {
    /// Whether the operation has a probe of its own.
    pub fn is_probed(&self) -> bool {
        self.probes.iter().any(Option::is_some)
    }
}

impl Service {
    /// The operation called `name`.
    pub fn operation_index(&self, name: &str) -> Option<OperationIdx> {
        self.operations
            .binary_search_by(|o| o.name.as_str().cmp(name))
            .ok()
            .map(|i| OperationIdx(i as u32))
    }

    /// The name of operation `op`.
    pub fn operation_name(&self, op: OperationIdx) -> &str {
        &self.operations[op.get()].name
    }

    /// Instances that may fail while the service stays up.
    pub fn spare(&self) -> usize {
        self.instances.len() - self.min_healthy
    }

    /// Whether any instance has a probe.
    pub fn is_probed(&self) -> bool {
        self.instances.iter().any(|i| i.probe.is_some())
    }
}

impl Topology {
    /// Whether any service declares operations.
    pub fn has_operations(&self) -> bool {
        self.services.iter().any(|s| !s.operations.is_empty())
    }
}

/// One instance of a service.
#[derive(Debug, Clone)]
pub struct Instance {
    /// `name:` if given, else the position (`"0"`, `"1"`, …). Unique within the service.
    pub id: String,
    /// `address:`, e.g. `127.0.0.1:8080`.
    pub address: Option<String>,
    /// Failure domains this instance belongs to: `zone`, `host`, then every label, sorted.
    pub domains: Vec<Domain>,
    /// The service's probe with `{address}` expanded for this instance; `None` = unprobed.
    /// Behind a pointer: a probe is large, and most instances of a large catalogue have none;
    /// shared by the instances of a service when it has no `{address}` to expand.
    pub probe: Option<Arc<Probe>>,
}

/// A failure domain value: every instance with `key=value` fails together.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Domain {
    /// `zone`, `host`, or a label key.
    pub key: String,
    /// The value.
    pub value: String,
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// Strong: if the dependency fails, the caller fails. Weak: the caller degrades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    /// Failure propagates as failure.
    Strong,
    /// Failure propagates as degradation.
    Weak,
}

impl fmt::Display for Strength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Strong => "strong",
            Self::Weak => "weak",
        })
    }
}

/// One entry of `depends_on:`.
#[derive(Debug, Clone)]
pub struct Dependency {
    /// The key: the target's name, or the group label of an any_of group.
    pub label: String,
    /// Strong or weak.
    pub strength: Strength,
    /// The caller's timeout on this call, if declared.
    pub timeout: Option<Duration>,
    /// What the caller does instead, if declared.
    pub fallback: Option<String>,
    /// One service, or a group.
    pub target: Target,
    /// The operation of the target service the call uses (single-service targets only);
    /// `None` = all of its operations (or the target has none).
    pub operation: Option<OperationIdx>,
}

impl Dependency {
    /// The services this dependency points at (one, or the group's members).
    pub fn targets(&self) -> &[ServiceIdx] {
        match &self.target {
            Target::Service(s) => std::slice::from_ref(s),
            Target::AnyOf { members, .. } => members,
        }
    }
}

/// What a dependency points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A single service.
    Service(ServiceIdx),
    /// An any_of group: fails when fewer than `min` members are alive.
    /// Invariants: members non-empty, distinct, none is the owner; `1 <= min <= members.len()`.
    AnyOf {
        /// The members, in file order.
        members: Vec<ServiceIdx>,
        /// Members that must be alive.
        min: usize,
    },
}

/// A probe, with defaults applied and `{address}` expanded.
#[derive(Debug, Clone)]
pub struct Probe {
    /// What to check.
    pub check: Check,
    /// Per-attempt timeout (connect, handshake, headers and body together).
    pub timeout: Duration,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Answered but slower than this = degraded.
    pub slow: Duration,
}

/// The probe types of SPEC §3.
#[derive(Debug, Clone)]
pub enum Check {
    /// An HTTP(S) request.
    Http(HttpCheck),
    /// A TCP connect, with optional send/expect.
    Tcp(TcpCheck),
    /// A TLS handshake and certificate check.
    Tls(TlsCheck),
    /// A DNS lookup.
    Dns(DnsCheck),
    /// Redis `PING`, optionally `INFO` fields.
    Redis(RedisCheck),
    /// PostgreSQL connect, authenticate, `SELECT 1`, optionally a query and replication.
    Postgres(DbCheck),
    /// MySQL/MariaDB connect, authenticate, `SELECT 1`, optionally a query and replication.
    Mysql(DbCheck),
    /// A command; exit 0/1/2/3 = up/degraded/down/unknown (Nagios plugin convention).
    Exec(ExecCheck),
    /// A PromQL instant query whose value must satisfy a comparison.
    Prometheus(PrometheusCheck),
    /// AMQP 0-9-1 (RabbitMQ): connect, authenticate, open a channel, optional queue round trip.
    Amqp(AmqpCheck),
    /// MQTT 3.1.1: connect, authenticate, optional publish/receive round trip (QoS 1).
    Mqtt(MqttCheck),
    /// NATS: connect, authenticate, optional request/reply round trip.
    Nats(NatsCheck),
    /// gRPC health checking protocol (`grpc.health.v1.Health/Check`).
    Grpc(GrpcCheck),
}

impl Check {
    /// Every [`Text`] of the check: what `{address}` may appear in and what may carry a secret
    /// (so every one of them is scrubbed from reasons).
    pub fn texts(&self) -> Vec<&Text> {
        match self {
            Self::Http(h) => {
                let mut v = vec![&h.url];
                v.extend(h.headers.iter().map(|(_, t)| t));
                v.extend(h.body.iter());
                v.extend(h.ca_file.iter());
                v.extend(h.expect.body_contains.iter());
                v.extend(h.expect.headers.iter().map(|(_, t)| t));
                v
            }
            Self::Tcp(t) => {
                let mut v = vec![&t.address];
                v.extend(t.send.iter());
                v.extend(t.expect.iter());
                v
            }
            Self::Tls(t) => {
                let mut v = vec![&t.address];
                v.extend(t.server_name.iter());
                v.extend(t.san.iter());
                v.extend(t.ca_file.iter());
                v
            }
            Self::Redis(r) => {
                let mut v = vec![&r.url];
                v.extend(r.ca_file.iter());
                v
            }
            Self::Postgres(d) | Self::Mysql(d) => {
                let mut v = vec![&d.url];
                v.extend(d.query.iter().map(|q| &q.sql));
                v
            }
            Self::Exec(e) => e.command.iter().collect(),
            Self::Prometheus(p) => vec![&p.url, &p.query],
            Self::Amqp(a) => vec![&a.url],
            Self::Mqtt(m) => vec![&m.url],
            Self::Nats(n) => vec![&n.url],
            Self::Grpc(g) => {
                let mut v = vec![&g.url];
                v.extend(g.ca_file.iter());
                v
            }
            Self::Dns(d) => {
                let mut v = vec![&d.name];
                v.extend(d.server.iter());
                v.extend(d.expect.iter());
                v
            }
        }
    }

    /// What the check does beyond connecting, for `validate -v`: the round trip of a message
    /// probe, the service a gRPC probe asks about. `None` when there is nothing to add.
    pub fn detail(&self) -> Option<String> {
        match self {
            Self::Amqp(a) => a
                .queue
                .as_ref()
                .map(|q| format!("round trip through queue `{q}.<unique>`")),
            Self::Mqtt(m) => m
                .topic
                .as_ref()
                .map(|t| format!("round trip on topic `{t}`, QoS 1")),
            Self::Nats(n) => n
                .subject
                .as_ref()
                .map(|s| format!("request/reply on subject `{s}`")),
            Self::Grpc(g) if g.service.is_empty() => Some("health of the whole server".to_owned()),
            Self::Grpc(g) => Some(format!("health of service `{}`", g.service)),
            Self::Http(h) if !h.slow_phases.is_empty() => {
                let limits: Vec<String> = h
                    .slow_phases
                    .iter()
                    .map(|(p, d)| format!("{} {}", p.key(), crate::duration::show(*d)))
                    .collect();
                Some(format!("slow above {}", limits.join(", ")))
            }
            _ => None,
        }
    }

    /// The optional checks this probe makes beyond its type's basic one, by the name of their
    /// field (`query`, `replication`, `info`), and `tls` for a database or Redis connection
    /// that asks for TLS in its URL; `validate` counts them.
    pub fn options(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        match self {
            Self::Postgres(d) | Self::Mysql(d) => {
                if d.query.is_some() {
                    v.push("query");
                }
                if d.replication.is_some() {
                    v.push("replication");
                }
                let url = d.url.expose().to_ascii_lowercase();
                if [
                    "sslmode=require",
                    "sslmode=verify",
                    "ssl-mode=req",
                    "ssl-mode=verify",
                ]
                .iter()
                .any(|p| url.contains(p))
                {
                    v.push("tls");
                }
            }
            Self::Redis(r) => {
                if !r.info.is_empty() {
                    v.push("info");
                }
                if r.url.expose().starts_with("rediss://") {
                    v.push("tls");
                }
            }
            Self::Http(h) if !h.slow_phases.is_empty() => v.push("slow phases"),
            _ => {}
        }
        v
    }

    /// The type name as written in the file (`http`, `tcp`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Http(_) => "http",
            Self::Tcp(_) => "tcp",
            Self::Tls(_) => "tls",
            Self::Dns(_) => "dns",
            Self::Redis(_) => "redis",
            Self::Postgres(_) => "postgres",
            Self::Mysql(_) => "mysql",
            Self::Exec(_) => "exec",
            Self::Prometheus(_) => "prometheus",
            Self::Amqp(_) => "amqp",
            Self::Mqtt(_) => "mqtt",
            Self::Nats(_) => "nats",
            Self::Grpc(_) => "grpc",
        }
    }
}

/// `http:` probe.
#[derive(Debug, Clone)]
pub struct HttpCheck {
    /// `url:` (required).
    pub url: Text,
    /// `method:`, upper case; default `GET`.
    pub method: String,
    /// `headers:` sent, in file order.
    pub headers: Vec<(String, Text)>,
    /// `body:` sent.
    pub body: Option<Text>,
    /// `expect:`.
    pub expect: HttpExpect,
    /// `max_redirects:`; default 5. 0 = do not follow.
    pub max_redirects: u32,
    /// `tls_verify:`; default true.
    pub tls_verify: bool,
    /// `ca_file:`, extra trusted root (PEM).
    pub ca_file: Option<Text>,
    /// `cert_min_days:`: an HTTPS certificate expiring sooner = degraded. Default 14.
    pub cert_min_days: u32,
    /// Thresholds on single phases, from the probe's `slow: { first_byte: 150ms, … }`: an
    /// answer with a phase slower than its threshold is degraded. In phase order, each phase
    /// at most once; empty when `slow` is a plain duration. The whole answer's threshold stays
    /// [`Probe::slow`].
    pub slow_phases: Vec<(HttpPhase, Duration)>,
}

/// A phase of an HTTP request as the `http` probe times it, and as `slow:` may name it.
/// Over a chain of redirects each phase is the sum over the hops (as blackbox_exporter sums
/// `probe_http_duration_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HttpPhase {
    /// Name resolution (0 for an IP address).
    Dns,
    /// The TCP handshake, over every address tried.
    Connect,
    /// The TLS handshake (0 for `http://`).
    Tls,
    /// From sending the request to the response headers (blackbox_exporter's `processing`).
    FirstByte,
    /// Reading the body, up to the cap.
    Transfer,
}

impl HttpPhase {
    /// Every phase, in the order a request goes through them.
    pub const ALL: [Self; 5] = [
        Self::Dns,
        Self::Connect,
        Self::Tls,
        Self::FirstByte,
        Self::Transfer,
    ];

    /// The name in the topology (`slow: { first_byte: 150ms }`) and in the JSON report
    /// (`first_byte_ms`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::FirstByte => "first_byte",
            Self::Transfer => "transfer",
        }
    }

    /// The `phase` label of `linkpatrol_probe_phase_seconds`: blackbox_exporter's names
    /// (`resolve`, `connect`, `tls`, `processing`, `transfer`).
    pub fn metric_label(self) -> &'static str {
        match self {
            Self::Dns => "resolve",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::FirstByte => "processing",
            Self::Transfer => "transfer",
        }
    }

    /// How a reason says that the phase took `took`: "first byte after 180ms".
    pub fn took(self, took: &str) -> String {
        match self {
            Self::Dns => format!("DNS lookup took {took}"),
            Self::Connect => format!("connect took {took}"),
            Self::Tls => format!("TLS handshake took {took}"),
            Self::FirstByte => format!("first byte after {took}"),
            Self::Transfer => format!("transfer took {took}"),
        }
    }
}

/// `expect:` of an HTTP probe.
#[derive(Debug, Clone, Default)]
pub struct HttpExpect {
    /// `status:` — one code or a list; empty means any 2xx.
    pub status: Vec<u16>,
    /// `body_contains:` substring.
    pub body_contains: Option<Text>,
    /// `body_regex:` (validated at load time).
    pub body_regex: Option<String>,
    /// `json:` — JSONPath (`$.data.state`) → expected value.
    pub json: Vec<(String, serde_json::Value)>,
    /// `headers:` — header name (lower case) → expected value (exact).
    pub headers: Vec<(String, Text)>,
}

/// `tcp:` probe.
#[derive(Debug, Clone)]
pub struct TcpCheck {
    /// `address:` `host:port` (default `{address}`).
    pub address: Text,
    /// `send:` bytes to write after connecting.
    pub send: Option<Text>,
    /// `expect:` substring the first reply must contain.
    pub expect: Option<Text>,
}

/// `tls:` probe.
#[derive(Debug, Clone)]
pub struct TlsCheck {
    /// `address:` `host:port` (default `{address}`).
    pub address: Text,
    /// `server_name:` for SNI and verification; default the host of `address`.
    pub server_name: Option<Text>,
    /// `san:` a name the certificate must cover.
    pub san: Option<Text>,
    /// `min_days:`: expiring sooner = degraded; default 14.
    pub min_days: u32,
    /// `verify:`; default true.
    pub verify: bool,
    /// `ca_file:`, extra trusted root (PEM).
    pub ca_file: Option<Text>,
}

/// DNS record types a `dns:` probe may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Canonical name.
    Cname,
    /// Mail exchange.
    Mx,
    /// Text.
    Txt,
    /// Name server.
    Ns,
    /// Service locator.
    Srv,
}

/// `dns:` probe.
#[derive(Debug, Clone)]
pub struct DnsCheck {
    /// `name:` to resolve.
    pub name: Text,
    /// `type:`; default A.
    pub record_type: RecordType,
    /// `expect:` values that must all be among the answers; empty = any answer.
    pub expect: Vec<Text>,
    /// `server:` `ip:port` to ask; default the system resolver.
    pub server: Option<Text>,
}

/// A probe whose only setting is a connection URL or DSN.
#[derive(Debug, Clone)]
pub struct UrlCheck {
    /// `url:` (redis) or `dsn:` (postgres, mysql).
    pub url: Text,
}

/// `amqp:` probe (RabbitMQ and other AMQP 0-9-1 brokers).
#[derive(Debug, Clone)]
pub struct AmqpCheck {
    /// `url:` `amqp://user:password@host:port/vhost`.
    pub url: Text,
    /// `queue:` the name prefix of the probe queue. When set, each attempt declares an
    /// exclusive, auto-delete queue `<queue>.<unique>` (gone when the connection closes), sends
    /// one message with a unique body through the default exchange and gets it back.
    pub queue: Option<String>,
}

/// `mqtt:` probe (MQTT 3.1.1).
#[derive(Debug, Clone)]
pub struct MqttCheck {
    /// `url:` `mqtt://user:password@host:port`.
    pub url: Text,
    /// `topic:` when set, each attempt subscribes to it, publishes one message with a unique
    /// payload at QoS 1 (not retained) and waits for it to come back.
    pub topic: Option<String>,
}

/// `nats:` probe.
#[derive(Debug, Clone)]
pub struct NatsCheck {
    /// `url:` `nats://user:password@host:port` or `nats://token@host:port`.
    pub url: Text,
    /// `subject:` when set, each attempt subscribes to it, answers its own request on it with
    /// an echo, and checks that the reply carries the unique payload it sent.
    pub subject: Option<String>,
}

/// `grpc:` probe: `grpc.health.v1.Health/Check`.
#[derive(Debug, Clone)]
pub struct GrpcCheck {
    /// `url:` `http://host:port` (h2c) or `https://host:port` (TLS).
    pub url: Text,
    /// `service:` the service name asked about; empty = the server as a whole.
    pub service: String,
    /// `tls_verify:`; default true.
    pub tls_verify: bool,
    /// `ca_file:`, extra trusted root (PEM).
    pub ca_file: Option<Text>,
}

/// `postgres:` / `mysql:` probe.
#[derive(Debug, Clone)]
pub struct DbCheck {
    /// `dsn:`; TLS settings (`sslmode`, `ssl-mode`, …) are read from it at probe time.
    pub url: Text,
    /// `query:` + `expect:` (+ `label:`): the first column of the first row is compared.
    pub query: Option<DbQuery>,
    /// `replication:`: the server must be a replica that replicates, lagging at most this.
    pub replication: Option<Replication>,
}

impl DbCheck {
    /// A check that only connects, authenticates and runs `SELECT 1`.
    pub fn connect(url: Text) -> Self {
        Self {
            url,
            query: None,
            replication: None,
        }
    }
}

/// `query:` of a database probe with its `expect:`.
#[derive(Debug, Clone)]
pub struct DbQuery {
    /// The SQL; its first column of the first row is the value.
    pub sql: Text,
    /// What the value must satisfy.
    pub expect: Comparison,
    /// `label:`, what the value is, for the reason ("slow queries in the last minute").
    pub label: Option<String>,
}

/// `replication:` of a database probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replication {
    /// `max_lag:`: more lag than this = down.
    pub max_lag: Duration,
}

/// `redis:` probe.
#[derive(Debug, Clone)]
pub struct RedisCheck {
    /// `url:` `redis://` or `rediss://`.
    pub url: Text,
    /// `ca_file:`, extra trusted root (PEM) for `rediss://`.
    pub ca_file: Option<Text>,
    /// `info:` fields of `INFO` that must match, in file order.
    pub info: Vec<InfoCheck>,
}

impl RedisCheck {
    /// A check that only authenticates and sends `PING`.
    pub fn ping(url: Text) -> Self {
        Self {
            url,
            ca_file: None,
            info: Vec::new(),
        }
    }
}

/// One entry of a redis probe's `info:`.
#[derive(Debug, Clone, PartialEq)]
pub struct InfoCheck {
    /// The `INFO` field (`role`, `connected_slaves`), or [`InfoCheck::MEMORY_RATIO`].
    pub field: String,
    /// What its value must be.
    pub expect: InfoExpect,
}

impl InfoCheck {
    /// The derived field `used_memory / maxmemory`.
    pub const MEMORY_RATIO: &'static str = "memory_ratio";
}

/// What an `INFO` field must be.
#[derive(Debug, Clone, PartialEq)]
pub enum InfoExpect {
    /// Exactly this text (`role: master`).
    Equals(String),
    /// A number satisfying this (`connected_slaves: ">= 1"`).
    Compare(Comparison),
}

/// `OP NUMBER`, as in `expect: "< 5"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// The operator.
    pub op: CompareOp,
    /// The number on the right.
    pub threshold: f64,
}

impl Comparison {
    /// Whether `value OP threshold` holds.
    pub fn holds(self, value: f64) -> bool {
        self.op.holds(value, self.threshold)
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.symbol(), self.threshold)
    }
}

/// `exec:` probe.
#[derive(Debug, Clone)]
pub struct ExecCheck {
    /// `command:` argv; never run through a shell.
    pub command: Vec<Text>,
}

/// Comparison operator of a Prometheus check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CompareOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl CompareOp {
    /// Whether `lhs OP rhs` holds.
    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Self::Lt => lhs < rhs,
            Self::Le => lhs <= rhs,
            Self::Gt => lhs > rhs,
            Self::Ge => lhs >= rhs,
            Self::Eq => (lhs - rhs).abs() <= f64::EPSILON * lhs.abs().max(rhs.abs()).max(1.0),
            Self::Ne => !Self::Eq.holds(lhs, rhs),
        }
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }
}

/// `prometheus:` probe.
#[derive(Debug, Clone)]
pub struct PrometheusCheck {
    /// `url:` base URL of the Prometheus server (the API path is appended).
    pub url: Text,
    /// `query:` PromQL.
    pub query: Text,
    /// `expect:` e.g. `"< 0.01"`: the operator.
    pub op: CompareOp,
    /// `expect:`: the threshold.
    pub threshold: f64,
}

/// Stable ids of the risk rules (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskRule {
    /// A single failure event takes a link down.
    Spof,
    /// A cycle of strong dependencies.
    StrongCycle,
    /// A `core: false` service on a critical path.
    NoncoreOnCriticalPath,
    /// A weak dependency without a timeout behaves like a strong one when slow.
    WeakWithoutTimeout,
    /// A service on a critical path that nothing probes.
    UnprobedCritical,
    /// A strong chain deeper than the threshold.
    DeepStrongChain,
    /// A service on the critical path of many links.
    SharedHotspot,
}

impl RiskRule {
    /// Every rule, in id order.
    pub const ALL: [Self; 7] = [
        Self::Spof,
        Self::StrongCycle,
        Self::NoncoreOnCriticalPath,
        Self::WeakWithoutTimeout,
        Self::UnprobedCritical,
        Self::DeepStrongChain,
        Self::SharedHotspot,
    ];

    /// The stable kebab-case id.
    pub fn id(self) -> &'static str {
        match self {
            Self::Spof => "spof",
            Self::StrongCycle => "strong-cycle",
            Self::NoncoreOnCriticalPath => "noncore-on-critical-path",
            Self::WeakWithoutTimeout => "weak-without-timeout",
            Self::UnprobedCritical => "unprobed-critical",
            Self::DeepStrongChain => "deep-strong-chain",
            Self::SharedHotspot => "shared-hotspot",
        }
    }

    /// The rule with this id.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.id() == id)
    }

    /// Severity when the file does not override it.
    pub fn default_severity(self) -> Severity {
        match self {
            Self::Spof | Self::StrongCycle => Severity::Error,
            Self::NoncoreOnCriticalPath
            | Self::WeakWithoutTimeout
            | Self::UnprobedCritical
            | Self::DeepStrongChain
            | Self::SharedHotspot => Severity::Warning,
        }
    }
}

impl fmt::Display for RiskRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// How serious a risk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Should be fixed.
    Warning,
    /// Breaks the core link on a single failure, or the model itself.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// `risks:` — which rules run, at what severity, with what thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskSettings {
    /// Rules turned `off`.
    pub disabled: BTreeSet<RiskRule>,
    /// `severity:` overrides per rule.
    pub severity: BTreeMap<RiskRule, Severity>,
    /// `deep-strong-chain: { max_depth }`: longest acceptable strong chain, in edges. Default 5.
    pub max_strong_depth: usize,
    /// `shared-hotspot: { min_links }`: a service on this many links' critical paths. Default 3.
    pub hotspot_min_links: usize,
}

impl Default for RiskSettings {
    fn default() -> Self {
        Self {
            disabled: BTreeSet::new(),
            severity: BTreeMap::new(),
            max_strong_depth: 5,
            hotspot_min_links: 3,
        }
    }
}

impl RiskSettings {
    /// Whether `rule` runs.
    pub fn enabled(&self, rule: RiskRule) -> bool {
        !self.disabled.contains(&rule)
    }

    /// The severity `rule` reports at.
    pub fn severity_of(&self, rule: RiskRule) -> Severity {
        self.severity
            .get(&rule)
            .copied()
            .unwrap_or_else(|| rule.default_severity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_hides_secrets_in_display_and_scrub() {
        let t = Text::interpolated("postgres://app:${PW}@db/x", "postgres://app:hunter2@db/x");
        assert_eq!(t.to_string(), "postgres://app:${PW}@db/x");
        assert_eq!(t.expose(), "postgres://app:hunter2@db/x");
        assert!(t.is_secret());
        assert_eq!(
            t.scrub("could not connect to postgres://app:hunter2@db/x"),
            "could not connect to postgres://app:${PW}@db/x"
        );
    }

    #[test]
    fn address_templates_expand_host_and_port() {
        let t = Text::plain("http://{address}/ping?h={host}&p={port}");
        assert_eq!(
            t.with_address("127.0.0.1:8080").expose(),
            "http://127.0.0.1:8080/ping?h=127.0.0.1&p=8080"
        );
        assert_eq!(split_host_port("[::1]:53"), ("::1", "53"));
        assert_eq!(split_host_port("db.local"), ("db.local", ""));
    }

    #[test]
    fn compare_ops() {
        assert!(CompareOp::Lt.holds(0.001, 0.01));
        assert!(!CompareOp::Ge.holds(1.0, 2.0));
        assert!(CompareOp::Eq.holds(0.1 + 0.2, 0.3));
        assert!(CompareOp::Ne.holds(1.0, 2.0));
    }

    #[test]
    fn risk_ids_round_trip() {
        for r in RiskRule::ALL {
            assert_eq!(RiskRule::from_id(r.id()), Some(r));
        }
    }
}

//! The topology file exactly as written: serde types that mirror the YAML, nothing more.
//!
//! Every struct rejects unknown keys, so a typo is an error and never a silently ignored setting.
//! Values whose meaning is checked later (durations, strengths, references, counts) are kept as
//! [`Sp`] — the value with its place in the file — so that `validate` can point at them.
//! Mappings whose keys are names (`services`, `links`, `depends_on`, …) are [`Entries`]: file
//! order kept, every key located; duplicate keys are refused by the YAML parser.
//!
//! The same types derive [`schemars::JsonSchema`], so `linkpatrol schema` describes exactly what
//! this module accepts. Nothing here knows about defaults or invariants: that is `validate`'s job.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::loc;
pub use super::loc::Loc;
use crate::diag::Span;

/// A value with its location in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    /// The value.
    pub value: T,
    /// Where it was written (for an alias: where the alias was used).
    pub loc: Loc,
}

impl<T> Sp<T> {
    /// The diagnostic span of the value.
    pub fn span(&self) -> Option<Span> {
        self.loc.span()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The fast reader publishes locations through `loc`; serde-saphyr reports its own.
        if let Some(loc) = loc::current() {
            return Ok(Self {
                value: T::deserialize(d)?,
                loc,
            });
        }
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Self {
            value: s.value,
            loc: Loc::from_saphyr(s.referenced),
        })
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A YAML mapping keyed by names, in file order, with every key located.
#[derive(Debug, Clone, PartialEq)]
pub struct Entries<V>(pub Vec<(Sp<String>, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> Entries<V> {
    /// The entries, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &(Sp<String>, V)> {
        self.0.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V_<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V_<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<V>, A::Error> {
                // The fast reader's hint is the true count; other hints are only trusted a bit.
                let cap = if loc::current().is_some() {
                    usize::MAX
                } else {
                    4096
                };
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(cap));
                while let Some(k) = map.next_key::<Sp<String>>()? {
                    out.push((k, map.next_value()?));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V_(PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for Entries<V> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let v = generator.subschema_for::<V>();
        json_schema!({ "type": "object", "additionalProperties": v })
    }
}

/// A duration as written: `250ms`, `2s`, `1m`, `1h`, `30d` (decimals allowed: `1.5s`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$",
            "description": "A duration: `250ms`, `2s`, `1m`, `1h`, `30d`.",
            "examples": ["250ms", "2s", "1m"]
        })
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "linkpatrol topology",
    description = "Services, their strong and weak dependencies, and the core links that pass through them."
)]
pub struct RawTopology {
    /// Format version; only `1` exists.
    #[schemars(range(min = 1, max = 1))]
    pub version: Sp<u32>,
    /// The system's name, shown in every report.
    pub name: Sp<String>,
    /// Settings every probe inherits, and run-wide limits.
    #[serde(default)]
    pub defaults: Option<RawDefaults>,
    /// The core links: business actions, each starting at an entry service.
    #[serde(default)]
    pub links: Entries<RawLink>,
    /// The services, by name; a service with no body has every default.
    #[schemars(with = "Entries<Option<RawService>>")]
    pub services: Entries<RawService>,
    /// Risk rules: `off`, or settings, per rule id.
    #[serde(default)]
    pub risks: Entries<Sp<RawRisk>>,
    /// Alerts of `watch`: receivers, routes by owner, thresholds (SPEC §9).
    #[serde(default)]
    pub alerts: Option<Sp<super::raw_alerts::RawAlerts>>,
    /// What `inspect` keeps in its output directory: run folders and history.
    #[serde(default)]
    pub inspect: Option<RawInspect>,
}

/// `inspect:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInspect {
    /// Run folders kept under `output/runs/` (the newest; `latest` is always kept). Default 30.
    #[schemars(range(min = 1))]
    pub keep_runs: Option<Sp<u32>>,
    /// How far back `output/history.sqlite` keeps runs, e.g. `30d` or `12h`. Default `30d`.
    pub history: Option<Sp<DurationText>>,
}

/// `defaults:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Per-attempt timeout of a probe. Default `2s`.
    pub timeout: Option<Sp<DurationText>>,
    /// Extra attempts before a probe counts as failed. Default 1, at most 10.
    pub retries: Option<Sp<u32>>,
    /// Answered, but slower than this = degraded. Default `300ms`.
    pub slow: Option<Sp<DurationText>>,
    /// Probes in flight at once. Default 256.
    #[schemars(range(min = 1))]
    pub concurrency: Option<Sp<u32>>,
    /// Probes in flight at once against one host. Default 64.
    #[schemars(range(min = 1))]
    pub per_host: Option<Sp<u32>>,
    /// Deadline for a whole probe run. Default `60s`.
    pub deadline: Option<Sp<DurationText>>,
}

/// One entry of `links:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    /// The service where the link starts.
    pub entry: Sp<String>,
    /// What the business action is.
    pub description: Option<String>,
    /// The operation of the entry service the link enters; absent = all of its operations.
    pub operation: Option<Sp<String>>,
}

/// One entry of `services:`. A service written with no body (`name:` or `name: ~`) is a
/// service with every default, like `name: {}` (SPEC §1): catalogue exports write leaves so.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
// `remote = "Self"` makes the derive an inherent `RawService::deserialize`, which the trait
// impl below calls for a mapping after handling the null.
#[serde(deny_unknown_fields, remote = "Self")]
#[schemars(rename = "RawService")]
pub struct RawService {
    /// Free text.
    pub description: Option<String>,
    /// Owning team.
    pub owner: Option<String>,
    /// Tags, for selecting services (`probe --tag`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// `false` marks a service as non-core on purpose. Default true.
    pub core: Option<bool>,
    /// How to check the service; run once per instance. Boxed: most services of a large
    /// catalogue have none, and the probe types are large.
    #[schemars(with = "Option<Sp<RawProbe>>")]
    pub probe: Option<Box<Sp<RawProbe>>>,
    /// The instances; `{address}` in the probe is replaced per instance.
    pub instances: Option<Sp<Vec<Sp<RawInstance>>>>,
    /// N unlabeled instances instead of `instances`.
    #[schemars(range(min = 1))]
    pub replicas: Option<Sp<u64>>,
    /// Instances that must pass for the service to be up. Default 1.
    #[schemars(range(min = 1))]
    pub min_healthy: Option<Sp<u32>>,
    /// Dependencies: service name (or any_of group label) → `strong`, `weak` or an object.
    #[serde(default)]
    pub depends_on: Entries<Sp<RawDep>>,
    /// Operations (routes, RPC methods), each with its own dependencies on top of the
    /// service's, sharing the service's instances and failure domains.
    #[serde(default)]
    pub operations: Entries<Sp<RawOperation>>,
}

/// One entry of a service's `operations:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOperation {
    /// Free text.
    pub description: Option<String>,
    /// How to check this operation; run once per instance of the service.
    #[schemars(with = "Option<Sp<RawProbe>>")]
    pub probe: Option<Box<Sp<RawProbe>>>,
    /// Dependencies of this operation, in addition to the service's own.
    #[serde(default)]
    pub depends_on: Entries<Sp<RawDep>>,
}

impl<'de> Deserialize<'de> for RawService {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawService;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_none<E: de::Error>(self) -> Result<RawService, E> {
                Ok(RawService::default())
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawService, E> {
                Ok(RawService::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawService, D::Error> {
                RawService::deserialize(d)
            }
        }
        d.deserialize_option(V)
    }
}

/// One entry of `instances:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    /// Unique within the service; default its position (`0`, `1`, …).
    pub name: Option<Sp<String>>,
    /// `host:port`, substituted for `{address}` in the probe.
    pub address: Option<Sp<String>>,
    /// Availability zone: a failure domain.
    pub zone: Option<String>,
    /// Machine: a failure domain.
    pub host: Option<String>,
    /// More failure domains: `rack: r1`, `power: feed-a`, …
    #[serde(default)]
    pub labels: Entries<String>,
}

/// The value of a `depends_on` entry.
#[derive(Debug, Clone)]
pub enum RawDep {
    /// `strong` or `weak`.
    Short(String),
    /// `{ strength, timeout, fallback, any_of, min }`: boxed, since most dependencies of a
    /// catalogue are the short form (with it inline, every one of them was 208 bytes).
    Full(Box<RawDepObject>),
}

/// The object form of a dependency.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDepObject {
    /// `strong` or `weak`.
    pub strength: Sp<StrengthText>,
    /// The caller's timeout on this call.
    pub timeout: Option<Sp<DurationText>>,
    /// What the caller does when the dependency fails.
    pub fallback: Option<String>,
    /// Makes this entry a group: the key is a label, these are the members.
    pub any_of: Option<Sp<Vec<Sp<String>>>>,
    /// Members of the group that must be alive. Default 1.
    #[schemars(range(min = 1))]
    pub min: Option<Sp<u32>>,
    /// The operation of the target service this call uses; absent = all of its operations.
    pub operation: Option<Sp<String>>,
}

/// `strong` or `weak`, as written (checked by `validate` so that all mistakes are reported).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct StrengthText(pub String);

impl JsonSchema for StrengthText {
    fn schema_name() -> Cow<'static, str> {
        "Strength".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "enum": ["strong", "weak"],
            "description": "strong: its failure fails the caller; weak: its failure degrades the caller."
        })
    }
}

impl<'de> Deserialize<'de> for RawDep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDep;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`strong`, `weak`, or a mapping with `strength`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDep, E> {
                Ok(RawDep::Short(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDep, A::Error> {
                RawDepObject::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|full| RawDep::Full(Box::new(full)))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawDep {
    fn schema_name() -> Cow<'static, str> {
        "Dependency".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let short = generator.subschema_for::<StrengthText>();
        let full = generator.subschema_for::<RawDepObject>();
        json_schema!({ "anyOf": [short, full] })
    }
}

/// `probe:` — exactly one type, plus optional overrides of the defaults.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    /// An HTTP(S) request.
    pub http: Option<RawHttp>,
    /// A TCP connect.
    pub tcp: Option<RawTcp>,
    /// A TLS handshake and certificate check.
    pub tls: Option<RawTls>,
    /// A DNS lookup.
    pub dns: Option<RawDns>,
    /// Redis `PING`, and optionally `INFO` fields.
    pub redis: Option<RawRedis>,
    /// PostgreSQL connect and `SELECT 1`; optionally a query and a replication check.
    pub postgres: Option<RawDsn>,
    /// MySQL/MariaDB connect and `SELECT 1`; optionally a query and a replication check.
    pub mysql: Option<RawDsn>,
    /// A command (Nagios plugin convention: exit 0/1/2/3 = up/degraded/down/unknown).
    pub exec: Option<RawExec>,
    /// A PromQL query whose value must satisfy `expect`.
    pub prometheus: Option<RawPrometheus>,
    /// AMQP 0-9-1 (RabbitMQ): connect, authenticate, open a channel, optional queue round trip.
    pub amqp: Option<RawAmqp>,
    /// MQTT 3.1.1: connect, authenticate, optional publish/receive round trip.
    pub mqtt: Option<RawMqtt>,
    /// NATS: connect, authenticate, optional request/reply round trip.
    pub nats: Option<RawNats>,
    /// gRPC health checking protocol (`grpc.health.v1.Health/Check`).
    pub grpc: Option<RawGrpc>,
    /// Overrides `defaults.timeout`.
    pub timeout: Option<Sp<DurationText>>,
    /// Overrides `defaults.retries` (at most 10).
    pub retries: Option<Sp<u32>>,
    /// Overrides `defaults.slow`: a duration for the whole answer, or for an `http` probe a
    /// mapping of thresholds per phase (`{ first_byte: 150ms, total: 1s }`).
    pub slow: Option<Sp<RawSlow>>,
}

/// `slow:` of a probe: `300ms` (the whole answer), or thresholds per phase of an `http` probe,
/// `{ dns, connect, tls, first_byte, transfer, total }` (phase names are checked by `validate`,
/// with a suggestion; `total` is the whole answer, default `defaults.slow`).
#[derive(Debug, Clone)]
pub enum RawSlow {
    /// One duration for the whole answer.
    Total(DurationText),
    /// Phase name (or `total`) → threshold.
    Phases(Entries<Sp<DurationText>>),
}

impl<'de> Deserialize<'de> for RawSlow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSlow;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration like `300ms`, or a mapping of phases like `{ first_byte: 150ms }`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSlow, E> {
                Ok(RawSlow::Total(DurationText(v.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawSlow, A::Error> {
                Entries::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawSlow::Phases)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawSlow {
    fn schema_name() -> Cow<'static, str> {
        "Slow".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let duration = generator.subschema_for::<DurationText>();
        let mut properties = serde_json::Map::new();
        for key in ["total", "dns", "connect", "tls", "first_byte", "transfer"] {
            properties.insert(key.to_owned(), duration.clone().to_value());
        }
        json_schema!({
            "anyOf": [
                duration,
                {
                    "type": "object",
                    "description": "Thresholds per phase of an `http` probe; `total` is the whole answer (default `defaults.slow`).",
                    "properties": properties,
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// `http:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// `http://` or `https://` URL; `{address}`, `{host}`, `{port}` and `${VAR}` are replaced.
    pub url: Sp<String>,
    /// Default `GET`.
    pub method: Option<Sp<String>>,
    /// Request headers.
    #[serde(default)]
    pub headers: Entries<Sp<String>>,
    /// Request body.
    pub body: Option<Sp<String>>,
    /// What the answer must look like. Default: any 2xx.
    pub expect: Option<RawHttpExpect>,
    /// Redirects followed; 0 = none. Default 5.
    pub max_redirects: Option<u32>,
    /// Verify the server certificate. Default true.
    pub tls_verify: Option<bool>,
    /// Extra trusted root certificate (PEM file).
    pub ca_file: Option<String>,
    /// An HTTPS certificate expiring in fewer days = degraded. Default 14.
    pub cert_min_days: Option<u32>,
}

/// `expect:` of an HTTP probe.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHttpExpect {
    /// One status code or a list.
    pub status: Option<Sp<RawStatus>>,
    /// A substring the body must contain.
    pub body_contains: Option<String>,
    /// A regular expression the body must match.
    pub body_regex: Option<Sp<String>>,
    /// JSON path (`$.data.state`) → the value it must equal.
    #[serde(default)]
    pub json: Entries<serde_json::Value>,
    /// Response header → exact value.
    #[serde(default)]
    pub headers: Entries<String>,
}

/// `status: 200` or `status: [200, 204]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawStatus(pub Vec<i64>);

impl<'de> Deserialize<'de> for RawStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawStatus;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status code or a list of status codes")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawStatus, E> {
                Ok(RawStatus(vec![v]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawStatus, E> {
                Ok(RawStatus(vec![i64::try_from(v).unwrap_or(i64::MAX)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawStatus, A::Error> {
                Vec::<i64>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(RawStatus)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawStatus {
    fn schema_name() -> Cow<'static, str> {
        "StatusCodes".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "integer", "minimum": 100, "maximum": 599 },
                { "type": "array", "items": { "type": "integer", "minimum": 100, "maximum": 599 } }
            ]
        })
    }
}

/// `tcp:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTcp {
    /// `host:port`; default `{address}`.
    pub address: Option<Sp<String>>,
    /// Bytes to send after connecting.
    pub send: Option<String>,
    /// A substring the first reply must contain.
    pub expect: Option<String>,
}

/// `tls:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// `host:port`; default `{address}`.
    pub address: Option<Sp<String>>,
    /// SNI and verification name; default the host of `address`.
    pub server_name: Option<String>,
    /// A name the certificate must cover.
    pub san: Option<String>,
    /// A certificate expiring in fewer days = degraded. Default 14.
    pub min_days: Option<u32>,
    /// Verify the chain. Default true.
    pub verify: Option<bool>,
    /// Extra trusted root certificate (PEM file).
    pub ca_file: Option<String>,
}

/// DNS record types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RawRecordType {
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
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    /// The name to resolve.
    pub name: String,
    /// Record type; default `A`.
    #[serde(rename = "type")]
    pub record_type: Option<RawRecordType>,
    /// Values that must all be among the answers.
    #[serde(default)]
    pub expect: Vec<String>,
    /// `ip:port` of the server to ask; default the system resolver.
    pub server: Option<String>,
}

/// A probe whose only setting is a URL.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUrl {
    /// The URL.
    pub url: Sp<String>,
}

/// `redis:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRedis {
    /// `redis://[:password@]host:port[/db]`, or `rediss://` for TLS.
    pub url: Sp<String>,
    /// Extra trusted root certificate (PEM file) for `rediss://`.
    pub ca_file: Option<Sp<String>>,
    /// `INFO` field → exact value (`role: master`) or comparison (`connected_slaves: ">= 1"`);
    /// `memory_ratio` is `used_memory / maxmemory` (`"< 0.9"`).
    #[serde(default)]
    pub info: Entries<Sp<RawInfoValue>>,
}

/// The value of an `info:` entry: text, a number, or a comparison written as text.
#[derive(Debug, Clone, PartialEq)]
pub enum RawInfoValue {
    /// Text: a comparison (`">= 1"`) or an exact value (`master`).
    Text(String),
    /// A number: the field must equal it.
    Number(f64),
}

impl<'de> Deserialize<'de> for RawInfoValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawInfoValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value, a number, or a comparison such as `\">= 1\"`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawInfoValue, E> {
                Ok(RawInfoValue::Text(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawInfoValue, E> {
                Ok(RawInfoValue::Text(if v { "1" } else { "0" }.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawInfoValue, E> {
                #[allow(clippy::cast_precision_loss)]
                Ok(RawInfoValue::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawInfoValue, E> {
                #[allow(clippy::cast_precision_loss)]
                Ok(RawInfoValue::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawInfoValue, E> {
                Ok(RawInfoValue::Number(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawInfoValue {
    fn schema_name() -> Cow<'static, str> {
        "InfoValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{ "type": "string" }, { "type": "number" }],
            "description": "An exact value (`master`), a number, or a comparison (`\">= 1\"`, `\"< 0.9\"`).",
            "examples": ["master", ">= 1", "< 0.9"]
        })
    }
}

/// `postgres:` / `mysql:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDsn {
    /// Connection string, e.g. `postgres://user:${PW}@{address}/db`; TLS with
    /// `sslmode=verify-full` (+ `sslrootcert=`) for postgres, `ssl-mode=VERIFY_IDENTITY`
    /// (+ `ssl-ca=`) for mysql.
    pub dsn: Sp<String>,
    /// SQL whose first column of the first row must satisfy `expect`.
    pub query: Option<Sp<String>>,
    /// Comparison the query's value must satisfy, e.g. `< 5`.
    #[schemars(regex(pattern = r"^\s*(<=|>=|==|!=|<|>)\s*[-+]?[0-9.eE+-]+\s*$"))]
    pub expect: Option<Sp<String>>,
    /// What the value is, for the reason (`slow queries in the last minute`); default the
    /// query's column name.
    pub label: Option<Sp<String>>,
    /// The server must be a replica that is replicating, at most `max_lag` behind.
    pub replication: Option<Sp<RawReplication>>,
}

/// `replication:` of a database probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReplication {
    /// Most lag accepted, e.g. `10s`.
    pub max_lag: Sp<DurationText>,
}

/// `exec:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExec {
    /// The argv as a list, or a string split on whitespace (no shell, no quoting).
    pub command: Sp<RawCommand>,
}

/// `command: [a, b]` or `command: "a b"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawCommand {
    /// Split on whitespace.
    Line(String),
    /// Taken as is.
    Argv(Vec<String>),
}

impl<'de> Deserialize<'de> for RawCommand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCommand;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command line or a list of arguments")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawCommand, E> {
                Ok(RawCommand::Line(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawCommand, A::Error> {
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(RawCommand::Argv)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawCommand {
    fn schema_name() -> Cow<'static, str> {
        "Command".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": "string", "minLength": 1 },
                { "type": "array", "items": { "type": "string" }, "minItems": 1 }
            ]
        })
    }
}

/// `prometheus:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPrometheus {
    /// Base URL of the Prometheus server.
    pub url: Sp<String>,
    /// PromQL instant query returning one value.
    pub query: String,
    /// Comparison the value must satisfy, e.g. `< 0.01`.
    #[schemars(regex(pattern = r"^\s*(<=|>=|==|!=|<|>)\s*[-+]?[0-9.eE+-]+\s*$"))]
    pub expect: Sp<String>,
}

/// `amqp:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAmqp {
    /// `amqp://user:password@host:port/vhost` (vhost `/` is `%2f`, or leave the path empty).
    pub url: Sp<String>,
    /// Name prefix of the probe queue. When set, each attempt declares an exclusive, auto-delete
    /// queue `<queue>.<unique>` (the broker drops it when the probe disconnects), publishes one
    /// message through the default exchange and gets it back. Not starting with `amq.`.
    #[schemars(length(min = 1, max = 200), regex(pattern = r"^[A-Za-z0-9_.:-]+$"))]
    pub queue: Option<Sp<String>>,
}

/// `mqtt:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMqtt {
    /// `mqtt://[user:password@]host[:port]` (default port 1883).
    pub url: Sp<String>,
    /// Probe topic. When set, each attempt subscribes to it, publishes a unique payload at QoS 1
    /// (not retained) and waits for it. No wildcards (`+`, `#`), not starting with `$`.
    #[schemars(length(min = 1, max = 200), regex(pattern = r"^[^+#$][^+#]*$"))]
    pub topic: Option<Sp<String>>,
}

/// `nats:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNats {
    /// `nats://[user:password@ | token@]host[:port]` (default port 4222).
    pub url: Sp<String>,
    /// Probe subject. When set, each attempt subscribes to it, sends a request with a unique
    /// payload, echoes it and checks the reply. Dot-separated tokens, no wildcards (`*`, `>`).
    #[schemars(
        length(min = 1, max = 200),
        regex(pattern = r"^[^.*> \t]+(\.[^.*> \t]+)*$")
    )]
    pub subject: Option<Sp<String>>,
}

/// `grpc:` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGrpc {
    /// `http://host:port` (plain HTTP/2) or `https://host:port` (TLS).
    pub url: Sp<String>,
    /// The service name to ask about (`grpc.health.v1.HealthCheckRequest.service`); default
    /// empty: the server as a whole.
    pub service: Option<String>,
    /// Verify the server certificate (https). Default true.
    pub tls_verify: Option<bool>,
    /// Extra trusted root certificate (PEM file).
    pub ca_file: Option<String>,
}

/// Settings of one risk rule: `off`, or a mapping.
#[derive(Debug, Clone)]
pub enum RawRisk {
    /// `off`: the rule does not run.
    Off,
    /// Overrides.
    Settings(RawRiskSettings),
}

/// The mapping form of a risk rule's settings.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRiskSettings {
    /// Severity the rule reports at.
    pub severity: Option<RawSeverity>,
    /// `deep-strong-chain` only: longest acceptable strong chain, in edges. Default 5.
    #[schemars(range(min = 1))]
    pub max_depth: Option<Sp<u32>>,
    /// `shared-hotspot` only: a service on this many links' critical paths. Default 3.
    #[schemars(range(min = 1))]
    pub min_links: Option<Sp<u32>>,
}

/// Risk severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RawSeverity {
    /// Worth knowing.
    Info,
    /// Should be fixed.
    Warning,
    /// Must be fixed.
    Error,
}

impl<'de> Deserialize<'de> for RawRisk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawRisk;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`off` or a mapping of rule settings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawRisk, E> {
                if v == "off" {
                    Ok(RawRisk::Off)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawRisk, E> {
                // YAML 1.1 habits: `off` may arrive as boolean false in some tools.
                if v {
                    Err(E::invalid_value(de::Unexpected::Bool(v), &self))
                } else {
                    Ok(RawRisk::Off)
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawRisk, A::Error> {
                RawRiskSettings::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawRisk::Settings)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawRisk {
    fn schema_name() -> Cow<'static, str> {
        "RiskSetting".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let settings = generator.subschema_for::<RawRiskSettings>();
        // `off` is a string in YAML 1.2 and `false` in YAML 1.1 readers; accept both.
        json_schema!({ "anyOf": [ { "enum": ["off", false] }, settings ] })
    }
}

/// Used by the loader's error-collecting pass: a top-level mapping of which only the keys of the
/// second level matter.
#[derive(Debug, Default)]
pub(crate) struct Outline(pub Entries<Option<Entries<de::IgnoredAny>>>);

impl<'de> Deserialize<'de> for Outline {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Entries::<MaybeKeys>::deserialize(d)
            .map(|e| Outline(Entries(e.0.into_iter().map(|(k, v)| (k, v.0)).collect())))
    }
}

/// A value that is a mapping (keys kept, values skipped) or anything else (skipped).
struct MaybeKeys(Option<Entries<de::IgnoredAny>>);

impl<'de> Deserialize<'de> for MaybeKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeKeys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MaybeKeys, A::Error> {
                Entries::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|e| MaybeKeys(Some(e)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeKeys, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(MaybeKeys(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeKeys, E> {
                Ok(MaybeKeys(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeKeys, E> {
                Ok(MaybeKeys(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeKeys, E> {
                Ok(MaybeKeys(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeKeys, E> {
                Ok(MaybeKeys(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<MaybeKeys, E> {
                Ok(MaybeKeys(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<MaybeKeys, E> {
                Ok(MaybeKeys(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<MaybeKeys, E> {
                Ok(MaybeKeys(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The top level with every field optional, for checking one top-level section on its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct PartialTopology {
    pub version: Option<Sp<u32>>,
    pub name: Option<Sp<String>>,
    pub defaults: Option<RawDefaults>,
    pub links: Option<Entries<RawLink>>,
    pub services: Option<Entries<RawService>>,
    pub risks: Option<Entries<Sp<RawRisk>>>,
    pub alerts: Option<Sp<super::raw_alerts::RawAlerts>>,
    pub inspect: Option<RawInspect>,
}

/// The JSON Schema (draft-07, which editors' YAML language servers read) of the topology file.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<RawTopology>();
    schema.to_value()
}

//! Validation: [`RawTopology`] → [`Topology`], collecting every semantic problem in one pass.
//!
//! This is the only place where the rules of SPEC §1 live: references resolve, counts fit,
//! durations parse, `${VAR}` is read from the environment (and kept secret in [`Text`]), defaults
//! are applied to every probe, and `{address}` is expanded per instance. Nothing stops at the
//! first problem: each check records a [`Diagnostic`] with the location kept on the raw types and
//! moves on, so a user fixes a file in one round.
//!
//! Errors make the whole load fail; warnings (`unreachable-service`, `no-links`) do not.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::model::{
    Check, CompareOp, Defaults, Dependency, DnsCheck, Domain, ExecCheck, HttpCheck, HttpExpect,
    Instance, Link, LinkName, Probe, PrometheusCheck, RecordType, RiskRule, RiskSettings, Service,
    ServiceIdx, ServiceName, Severity as RiskSeverity, Strength, Target, TcpCheck, Text, TlsCheck,
    Topology, UrlCheck,
};
use super::raw::{
    DurationText, RawCommand, RawDep, RawInstance, RawProbe, RawRecordType, RawRisk, RawService,
    RawSeverity, RawTopology, Sp,
};
use crate::diag::{Code, Diagnostic, Span};

mod alerts;

/// Topologies with at least this many services are validated on several threads.
const PARALLEL_MIN_SERVICES: usize = 5_000;

/// Environment lookup for `${VAR}`.
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Validates `raw`. Returns the model when there is no error, and every diagnostic (errors and
/// warnings) found.
pub fn validate(raw: &RawTopology, env: Env<'_>) -> (Option<Topology>, Vec<Diagnostic>) {
    let threads = if raw.services.len() >= PARALLEL_MIN_SERVICES {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(8)
    } else {
        1
    };
    validate_with(raw, env, threads)
}

/// [`validate`] on `threads` threads.
fn validate_with(
    raw: &RawTopology,
    env: Env<'_>,
    threads: usize,
) -> (Option<Topology>, Vec<Diagnostic>) {
    let mut cx = Cx {
        diags: Vec::new(),
        env,
    };
    if raw.version.value != 1 {
        cx.err(
            Code::UnsupportedVersion,
            raw.version.span(),
            format!("unsupported version `{}`", raw.version.value),
        )
        .label("this linkpatrol reads `version: 1`");
    }
    let defaults = cx.defaults(raw);

    // Services sorted by name; references resolve through `index`.
    let mut order: Vec<usize> = (0..raw.services.len()).collect();
    order.sort_by(|&a, &b| raw.services.0[a].0.value.cmp(&raw.services.0[b].0.value));
    let index: HashMap<&str, ServiceIdx> = order
        .iter()
        .enumerate()
        .map(|(i, &r)| (raw.services.0[r].0.value.as_str(), ServiceIdx(i as u32)))
        .collect();
    let names: Vec<&str> = order
        .iter()
        .map(|&r| raw.services.0[r].0.value.as_str())
        .collect();
    let resolver = Resolver {
        index: &index,
        names: &names,
    };

    // Services are checked independently of each other: large files use every core.
    let check = |range: std::ops::Range<usize>| {
        let mut cx = Cx {
            diags: Vec::new(),
            env,
        };
        let services: Vec<Service> = range
            .map(|i| {
                let (key, svc) = &raw.services.0[order[i]];
                cx.service(key, svc, ServiceIdx(i as u32), &defaults, &resolver)
            })
            .collect();
        (services, cx.diags)
    };
    let n = order.len();
    let chunk = n.div_ceil(threads).max(1);
    let results: Vec<(Vec<Service>, Vec<Diagnostic>)> = if threads > 1 {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|start| {
                    let check = &check;
                    scope.spawn(move || check(start..(start + chunk).min(n)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("validation does not panic"))
                .collect()
        })
    } else {
        vec![check(0..n)]
    };
    let mut services = Vec::with_capacity(n);
    for (s, d) in results {
        services.extend(s);
        cx.diags.extend(d);
    }

    let mut links = Vec::with_capacity(raw.links.len());
    for (key, link) in raw.links.iter() {
        let entry = resolver.resolve(&link.entry, &mut cx, |n| {
            format!(
                "link `{}` starts at `{n}`, which is not a declared service",
                key.value
            )
        });
        if let Some(entry) = entry {
            links.push(Link {
                name: LinkName::new(&key.value),
                entry,
                description: link.description.clone(),
            });
        }
    }
    links.sort_by(|a, b| a.name.cmp(&b.name));

    let risks = cx.risks(raw);
    let alerts = raw.alerts.as_ref().map(|a| cx.alerts(a, &services));

    // Warnings: nothing to analyse per link, or services no link reaches.
    if raw.links.is_empty() {
        cx.diags.push(
            Diagnostic::warning(
                Code::NoLinks,
                raw.name.span(),
                "the topology declares no `links`",
            )
            .with_help("add `links:` with an `entry:` service so SPOFs can be computed per link"),
        );
    } else if services.len() == order.len() {
        let mut seen = vec![false; services.len()];
        let mut stack: Vec<ServiceIdx> = links.iter().map(|l| l.entry).collect();
        while let Some(s) = stack.pop() {
            if std::mem::replace(&mut seen[s.get()], true) {
                continue;
            }
            for d in &services[s.get()].depends_on {
                stack.extend(d.targets().iter().copied().filter(|t| !seen[t.get()]));
            }
        }
        for (i, &r) in order.iter().enumerate() {
            if !seen[i] {
                let key = &raw.services.0[r].0;
                cx.diags.push(
                    Diagnostic::warning(
                        Code::UnreachableService,
                        key.span(),
                        format!("service `{}` is not reachable from any link", key.value),
                    )
                    .with_label("no link's entry depends on it, directly or indirectly")
                    .with_help("add it to a `depends_on`, make it a link's `entry`, or remove it"),
                );
            }
        }
    }

    let has_errors = cx
        .diags
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error);
    let topology = (!has_errors).then(|| Topology {
        name: raw.name.value.clone(),
        version: raw.version.value,
        defaults,
        links,
        index: services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), ServiceIdx(i as u32)))
            .collect(),
        services,
        risks,
        alerts,
    });
    (topology, cx.diags)
}

struct Cx<'e> {
    diags: Vec<Diagnostic>,
    env: Env<'e>,
}

/// Lets a just-pushed diagnostic get a label, help or suggestion.
struct Last<'a>(&'a mut Diagnostic);

impl Last<'_> {
    fn label(self, l: impl Into<String>) -> Self {
        self.0.label = Some(l.into());
        self
    }
    fn help(self, h: impl Into<String>) -> Self {
        self.0.help = Some(h.into());
        self
    }
    fn suggest<'a>(self, wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        if let Some(best) = crate::diag::closest(wrong, candidates) {
            self.0.help = Some(format!("did you mean `{best}`?"));
        }
        self
    }
}

struct Resolver<'a> {
    index: &'a HashMap<&'a str, ServiceIdx>,
    names: &'a [&'a str],
}

impl Resolver<'_> {
    /// Looks `name` up; on failure records `unknown-service` with a suggestion.
    fn resolve(
        &self,
        name: &Sp<String>,
        cx: &mut Cx<'_>,
        message: impl FnOnce(&str) -> String,
    ) -> Option<ServiceIdx> {
        if let Some(&i) = self.index.get(name.value.as_str()) {
            return Some(i);
        }
        cx.err(Code::UnknownService, name.span(), message(&name.value))
            .label("not a service under `services:`")
            .suggest(&name.value, self.names.iter().copied());
        None
    }
}

impl Cx<'_> {
    fn err(&mut self, code: Code, span: Option<Span>, message: impl Into<String>) -> Last<'_> {
        self.diags.push(Diagnostic::error(code, span, message));
        Last(self.diags.last_mut().expect("just pushed"))
    }

    fn duration(&mut self, d: &Sp<DurationText>, what: &str) -> Option<Duration> {
        match parse_duration(&d.value.0) {
            Ok(v) if v.is_zero() => {
                self.err(
                    Code::ZeroDuration,
                    d.span(),
                    format!("{what} must be longer than zero"),
                )
                .label("expected a positive duration like `250ms`, `2s` or `1m`");
                None
            }
            Ok(v) => Some(v),
            Err(why) => {
                self.err(
                    Code::BadDuration,
                    d.span(),
                    format!("invalid duration `{}` for {what}: {why}", d.value.0),
                )
                .label("expected a duration like `250ms`, `2s`, `1m` or `1h`");
                None
            }
        }
    }

    fn count(&mut self, v: &Sp<u32>, what: &str) -> Option<u32> {
        if v.value == 0 {
            self.err(
                Code::ZeroCount,
                v.span(),
                format!("{what} must be at least 1"),
            )
            .label("expected 1 or more");
            None
        } else {
            Some(v.value)
        }
    }

    fn defaults(&mut self, raw: &RawTopology) -> Defaults {
        let mut out = Defaults::default();
        let Some(d) = &raw.defaults else { return out };
        if let Some(v) = d
            .timeout
            .as_ref()
            .and_then(|t| self.duration(t, "`defaults.timeout`"))
        {
            out.timeout = v;
        }
        if let Some(v) = d
            .slow
            .as_ref()
            .and_then(|t| self.duration(t, "`defaults.slow`"))
        {
            out.slow = v;
        }
        if let Some(v) = d
            .deadline
            .as_ref()
            .and_then(|t| self.duration(t, "`defaults.deadline`"))
        {
            out.deadline = v;
        }
        if let Some(r) = d.retries {
            out.retries = r;
        }
        if let Some(v) = d
            .concurrency
            .as_ref()
            .and_then(|c| self.count(c, "`defaults.concurrency`"))
        {
            out.concurrency = v as usize;
        }
        if let Some(v) = d
            .per_host
            .as_ref()
            .and_then(|c| self.count(c, "`defaults.per_host`"))
        {
            out.per_host = v as usize;
        }
        out
    }

    fn service(
        &mut self,
        key: &Sp<String>,
        svc: &RawService,
        me: ServiceIdx,
        defaults: &Defaults,
        resolver: &Resolver<'_>,
    ) -> Service {
        let name = &key.value;
        let instances = self.instances(key, svc);
        let count = instances.len();
        let min_healthy = match &svc.min_healthy {
            None => 1,
            Some(m) if m.value == 0 || m.value as usize > count.max(1) => {
                let msg = if m.value == 0 {
                    format!("`min_healthy` of `{name}` is 0")
                } else {
                    format!(
                        "`min_healthy` of `{name}` is {} but it has {}",
                        m.value,
                        crate::diag::plural(count, "instance")
                    )
                };
                self.err(Code::BadMinHealthy, m.span(), msg)
                    .label(format!("expected a number from 1 to {}", count.max(1)));
                1
            }
            Some(m) => m.value as usize,
        };
        let probe = svc
            .probe
            .as_ref()
            .and_then(|p| self.probe(name, p, defaults));
        let instances = self.expand_probe(name, svc, instances, probe.as_ref());

        let mut depends_on = Vec::with_capacity(svc.depends_on.len());
        for (dkey, dep) in svc.depends_on.iter() {
            if let Some(d) = self.dependency(key, me, dkey, dep, resolver) {
                depends_on.push(d);
            }
        }
        let mut tags = svc.tags.clone();
        tags.sort();
        tags.dedup();
        Service {
            name: ServiceName::new(name),
            description: svc.description.clone(),
            owner: svc.owner.clone(),
            tags,
            core: svc.core.unwrap_or(true),
            core_explicit: svc.core.is_some(),
            min_healthy: min_healthy.min(instances.len().max(1)),
            instances,
            depends_on,
        }
    }

    /// The instances without probes yet: ids, addresses, domains.
    fn instances(&mut self, key: &Sp<String>, svc: &RawService) -> Vec<(Instance, Option<Span>)> {
        let name = &key.value;
        if let (Some(r), Some(_)) = (&svc.replicas, &svc.instances) {
            self.err(
                Code::ReplicasWithInstances,
                r.span(),
                format!("service `{name}` sets both `replicas` and `instances`"),
            )
            .label("remove `replicas`, or remove `instances`")
            .help("`replicas: N` is short for N unlabeled instances");
        }
        if let Some(list) = &svc.instances {
            if list.value.is_empty() {
                self.err(
                    Code::NoInstances,
                    list.span(),
                    format!("service `{name}` has an empty `instances` list"),
                )
                .label("expected at least one instance")
                .help("omit `instances` for a single instance");
            }
            let mut seen: HashMap<String, Option<Span>> = HashMap::new();
            let mut out = Vec::with_capacity(list.value.len());
            for (pos, inst) in list.value.iter().enumerate() {
                let (id, id_span) = match &inst.value.name {
                    Some(n) => (n.value.clone(), n.span()),
                    None => (pos.to_string(), inst.span()),
                };
                if seen.insert(id.clone(), id_span).is_some() {
                    self.err(
                        Code::DuplicateInstance,
                        id_span,
                        format!("service `{name}` has two instances named `{id}`"),
                    )
                    .label("instance names must be unique within a service");
                }
                let domains = self.domains(name, &inst.value);
                out.push((
                    Instance {
                        id,
                        address: inst.value.address.as_ref().map(|a| a.value.clone()),
                        domains,
                        probe: None,
                    },
                    inst.span(),
                ));
            }
            return out;
        }
        let n = match &svc.replicas {
            Some(r) if r.value == 0 => {
                self.err(
                    Code::NoInstances,
                    r.span(),
                    format!("service `{name}` has `replicas: 0`"),
                )
                .label("expected 1 or more")
                .help("a service with no instance cannot be up; remove it instead");
                1
            }
            Some(r) => r.value as usize,
            None => 1,
        };
        (0..n)
            .map(|i| {
                (
                    Instance {
                        id: i.to_string(),
                        address: None,
                        domains: Vec::new(),
                        probe: None,
                    },
                    key.span(),
                )
            })
            .collect()
    }

    fn domains(&mut self, service: &str, inst: &RawInstance) -> Vec<Domain> {
        let mut out = Vec::new();
        if let Some(z) = &inst.zone {
            out.push(Domain {
                key: "zone".into(),
                value: z.clone(),
            });
        }
        if let Some(h) = &inst.host {
            out.push(Domain {
                key: "host".into(),
                value: h.clone(),
            });
        }
        for (k, v) in inst.labels.iter() {
            if k.value == "zone" || k.value == "host" {
                self.err(
                    Code::ReservedLabel,
                    k.span(),
                    format!(
                        "label `{}` of an instance of `{service}` is reserved",
                        k.value
                    ),
                )
                .label(format!("use the instance's `{}:` field instead", k.value));
                continue;
            }
            out.push(Domain {
                key: k.value.clone(),
                value: v.clone(),
            });
        }
        out.sort();
        out
    }

    /// Adds each instance's probe, expanding `{address}`.
    fn expand_probe(
        &mut self,
        service: &str,
        svc: &RawService,
        instances: Vec<(Instance, Option<Span>)>,
        probe: Option<&Probe>,
    ) -> Vec<Instance> {
        let Some(probe) = probe else {
            return instances.into_iter().map(|(i, _)| i).collect();
        };
        let templated = probe.check.texts().iter().any(|t| {
            ["{address}", "{host}", "{port}"]
                .iter()
                .any(|p| t.written().contains(p))
        });
        let mut reported = false;
        instances
            .into_iter()
            .map(|(mut inst, span)| {
                inst.probe = match (&inst.address, templated) {
                    (Some(a), true) => Some(Probe {
                        check: map_texts(&probe.check, &|t| t.with_address(a)),
                        ..probe.clone()
                    }),
                    (None, true) => {
                        if !reported {
                            reported = true;
                            let at = svc.probe.as_ref().and_then(Sp::span).or(span);
                            self.err(
                                Code::MissingAddress,
                                at,
                                format!(
                                    "the probe of `{service}` uses `{{address}}` but instance `{}` has no `address`",
                                    inst.id
                                ),
                            )
                            .label("this probe needs an address per instance")
                            .help("give every instance an `address:`, or write the address into the probe");
                        }
                        None
                    }
                    (_, false) => Some(probe.clone()),
                };
                inst
            })
            .collect()
    }

    fn probe(&mut self, service: &str, p: &Sp<RawProbe>, defaults: &Defaults) -> Option<Probe> {
        let raw = &p.value;
        let kinds: Vec<&str> = [
            ("http", raw.http.is_some()),
            ("tcp", raw.tcp.is_some()),
            ("tls", raw.tls.is_some()),
            ("dns", raw.dns.is_some()),
            ("redis", raw.redis.is_some()),
            ("postgres", raw.postgres.is_some()),
            ("mysql", raw.mysql.is_some()),
            ("exec", raw.exec.is_some()),
            ("prometheus", raw.prometheus.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, present)| present.then_some(k))
        .collect();
        let timeout = raw
            .timeout
            .as_ref()
            .map(|t| self.duration(t, "a probe `timeout`"));
        let slow = raw
            .slow
            .as_ref()
            .map(|t| self.duration(t, "a probe `slow`"));
        if kinds.len() != 1 {
            let msg = if kinds.is_empty() {
                format!("the probe of `{service}` names no probe type")
            } else {
                format!(
                    "the probe of `{service}` names {} types ({})",
                    kinds.len(),
                    kinds
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            self.err(Code::ProbeType, p.span(), msg).label(
                "expected exactly one of `http`, `tcp`, `tls`, `dns`, `redis`, `postgres`, `mysql`, `exec`, `prometheus`",
            );
            return None;
        }
        let check = self.check(service, raw)?;
        Some(Probe {
            check,
            timeout: timeout.flatten().unwrap_or(defaults.timeout),
            retries: raw.retries.unwrap_or(defaults.retries),
            slow: slow.flatten().unwrap_or(defaults.slow),
        })
    }

    fn check(&mut self, service: &str, raw: &RawProbe) -> Option<Check> {
        if let Some(h) = &raw.http {
            let url = self.text(&h.url);
            if let Some(u) = &url {
                self.scheme(&h.url, u, &["http://", "https://"], "an HTTP probe");
            }
            let method = h.method.as_ref().map_or_else(
                || "GET".to_owned(),
                |m| {
                    let up = m.value.to_ascii_uppercase();
                    if up.is_empty()
                        || !up
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
                    {
                        self.err(
                            Code::BadMethod,
                            m.span(),
                            format!("invalid HTTP method `{}`", m.value),
                        )
                        .label("expected a method such as `GET`, `POST` or `HEAD`");
                    }
                    up
                },
            );
            let mut headers = Vec::new();
            for (k, v) in h.headers.iter() {
                if let Some(t) = self.text(v) {
                    headers.push((k.value.clone(), t));
                }
            }
            let body = h.body.as_ref().and_then(|b| self.text(b));
            let expect = h
                .expect
                .as_ref()
                .map(|e| self.http_expect(service, e))
                .unwrap_or_default();
            return Some(Check::Http(HttpCheck {
                url: url?,
                method,
                headers,
                body,
                expect,
                max_redirects: h.max_redirects.unwrap_or(5),
                tls_verify: h.tls_verify.unwrap_or(true),
                ca_file: h.ca_file.clone(),
                cert_min_days: h.cert_min_days.unwrap_or(14),
            }));
        }
        if let Some(t) = &raw.tcp {
            return Some(Check::Tcp(TcpCheck {
                address: self.address(t.address.as_ref())?,
                send: t.send.clone(),
                expect: t.expect.clone(),
            }));
        }
        if let Some(t) = &raw.tls {
            return Some(Check::Tls(TlsCheck {
                address: self.address(t.address.as_ref())?,
                server_name: t.server_name.clone(),
                san: t.san.clone(),
                min_days: t.min_days.unwrap_or(14),
                verify: t.verify.unwrap_or(true),
                ca_file: t.ca_file.clone(),
            }));
        }
        if let Some(d) = &raw.dns {
            return Some(Check::Dns(DnsCheck {
                name: d.name.clone(),
                record_type: match d.record_type.unwrap_or(RawRecordType::A) {
                    RawRecordType::A => RecordType::A,
                    RawRecordType::Aaaa => RecordType::Aaaa,
                    RawRecordType::Cname => RecordType::Cname,
                    RawRecordType::Mx => RecordType::Mx,
                    RawRecordType::Txt => RecordType::Txt,
                    RawRecordType::Ns => RecordType::Ns,
                    RawRecordType::Srv => RecordType::Srv,
                },
                expect: d.expect.clone(),
                server: d.server.clone(),
            }));
        }
        if let Some(r) = &raw.redis {
            let url = self.text(&r.url)?;
            self.scheme(&r.url, &url, &["redis://", "rediss://"], "a redis probe");
            return Some(Check::Redis(UrlCheck { url }));
        }
        if let Some(r) = &raw.postgres {
            let url = self.text(&r.dsn)?;
            if !url.written().contains('=') {
                self.scheme(
                    &r.dsn,
                    &url,
                    &["postgres://", "postgresql://"],
                    "a postgres probe",
                );
            }
            return Some(Check::Postgres(UrlCheck { url }));
        }
        if let Some(r) = &raw.mysql {
            let url = self.text(&r.dsn)?;
            self.scheme(&r.dsn, &url, &["mysql://", "mariadb://"], "a mysql probe");
            return Some(Check::Mysql(UrlCheck { url }));
        }
        if let Some(e) = &raw.exec {
            let argv: Vec<&str> = match &e.command.value {
                RawCommand::Line(l) => l.split_whitespace().collect(),
                RawCommand::Argv(v) => v.iter().map(String::as_str).collect(),
            };
            if argv.first().is_none_or(|a| a.trim().is_empty()) {
                self.err(
                    Code::EmptyCommand,
                    e.command.span(),
                    format!("the exec probe of `{service}` has no command"),
                )
                .label("expected a program and its arguments, e.g. `[check_disk, -w, 20%]`");
                return None;
            }
            let mut command = Vec::with_capacity(argv.len());
            for a in argv {
                command.push(self.interpolate(a, e.command.span())?);
            }
            return Some(Check::Exec(ExecCheck { command }));
        }
        if let Some(p) = &raw.prometheus {
            let url = self.text(&p.url);
            if let Some(u) = &url {
                self.scheme(&p.url, u, &["http://", "https://"], "a prometheus probe");
            }
            let cmp = parse_comparison(&p.expect.value);
            if cmp.is_none() {
                self.err(
                    Code::BadExpect,
                    p.expect.span(),
                    format!("invalid comparison `{}`", p.expect.value),
                )
                .label("expected an operator and a number, e.g. `< 0.01` or `>= 100`");
            }
            let (op, threshold) = cmp?;
            return Some(Check::Prometheus(PrometheusCheck {
                url: url?,
                query: p.query.clone(),
                op,
                threshold,
            }));
        }
        None
    }

    fn http_expect(&mut self, service: &str, e: &super::raw::RawHttpExpect) -> HttpExpect {
        let mut status = Vec::new();
        if let Some(s) = &e.status {
            for &code in &s.value.0 {
                match u16::try_from(code) {
                    Ok(c) if (100..=599).contains(&c) => status.push(c),
                    _ => {
                        self.err(
                            Code::BadStatus,
                            s.span(),
                            format!("invalid HTTP status `{code}`"),
                        )
                        .label("expected a status code from 100 to 599");
                    }
                }
            }
        }
        if let Some((r, Err(err))) = e
            .body_regex
            .as_ref()
            .map(|r| (r, regex::Regex::new(&r.value)))
        {
            let why = err.to_string();
            let why = why
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            self.err(
                Code::BadRegex,
                r.span(),
                format!(
                    "invalid `body_regex` in the probe of `{service}`: {}",
                    why.trim_start_matches("error: ")
                ),
            )
            .label("expected a regular expression (Rust `regex` syntax)");
        }
        let mut json = Vec::new();
        for (path, value) in e.json.iter() {
            if !path.value.starts_with('$') {
                self.err(
                    Code::BadJsonPath,
                    path.span(),
                    format!("invalid JSON path `{}`", path.value),
                )
                .label("expected a path from the root, e.g. `$.data.state`");
            }
            json.push((path.value.clone(), value.clone()));
        }
        HttpExpect {
            status,
            body_contains: e.body_contains.clone(),
            body_regex: e.body_regex.as_ref().map(|r| r.value.clone()),
            json,
            headers: e
                .headers
                .iter()
                .map(|(k, v)| (k.value.to_ascii_lowercase(), v.clone()))
                .collect(),
        }
    }

    fn address(&mut self, a: Option<&Sp<String>>) -> Option<Text> {
        match a {
            Some(a) => self.text(a),
            None => Some(Text::plain("{address}")),
        }
    }

    fn scheme(&mut self, at: &Sp<String>, t: &Text, schemes: &[&str], what: &str) {
        let lower = t.written().to_ascii_lowercase();
        if !schemes.iter().any(|s| lower.starts_with(s)) {
            let list = schemes
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(" or ");
            self.err(
                Code::BadUrl,
                at.span(),
                format!("`{}` is not a URL for {what}", t.written()),
            )
            .label(format!("expected a URL starting with {list}"));
        }
    }

    fn text(&mut self, s: &Sp<String>) -> Option<Text> {
        self.interpolate(&s.value, s.span())
    }

    /// Replaces `${VAR}` (or `${VAR:-default}`, used when `VAR` is unset or empty) from the
    /// environment; `$${` stands for a literal `${`.
    fn interpolate(&mut self, s: &str, span: Option<Span>) -> Option<Text> {
        if !s.contains("${") {
            return Some(Text::plain(s));
        }
        let mut written = String::with_capacity(s.len());
        let mut resolved = String::with_capacity(s.len());
        let mut rest = s;
        let mut ok = true;
        while let Some(i) = rest.find("${") {
            if rest[..i].ends_with('$') {
                // `$${` → literal `${`
                written.push_str(&rest[..i - 1]);
                resolved.push_str(&rest[..i - 1]);
                written.push_str("${");
                resolved.push_str("${");
                rest = &rest[i + 2..];
                continue;
            }
            written.push_str(&rest[..i]);
            resolved.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                self.err(
                    Code::BadInterpolation,
                    span,
                    format!("unterminated `${{` in `{s}`"),
                )
                .label("expected `${NAME}`");
                return None;
            };
            let inner = &after[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if valid {
                if let Some(v) = (self.env)(name).filter(|v| default.is_none() || !v.is_empty()) {
                    resolved.push_str(&v);
                } else if let Some(d) = default {
                    resolved.push_str(d);
                } else {
                    self.err(
                        Code::MissingEnvVar,
                        span,
                        format!("environment variable `{name}` is not set"),
                    )
                    .label(format!("`${{{name}}}` is read from the environment"))
                    .help(format!("export {name}=… before running linkpatrol"));
                    ok = false;
                }
            } else {
                self.err(
                    Code::BadInterpolation,
                    span,
                    format!("invalid variable name `{name}` in `${{{name}}}`"),
                )
                .label("expected `${NAME}` with letters, digits and `_`")
                .help("write `$${` for a literal `${`");
                ok = false;
            }
            written.push_str("${");
            written.push_str(inner);
            written.push('}');
            rest = &after[end + 1..];
        }
        written.push_str(rest);
        resolved.push_str(rest);
        ok.then(|| Text::interpolated(written, resolved))
    }

    fn dependency(
        &mut self,
        owner: &Sp<String>,
        me: ServiceIdx,
        key: &Sp<String>,
        dep: &Sp<RawDep>,
        resolver: &Resolver<'_>,
    ) -> Option<Dependency> {
        let o = &owner.value;
        let (strength_text, strength_span, full) = match &dep.value {
            RawDep::Short(s) => (s.as_str(), dep.span(), None),
            RawDep::Full(f) => (f.strength.value.0.as_str(), f.strength.span(), Some(f)),
        };
        let strength = match strength_text {
            "strong" => Some(Strength::Strong),
            "weak" => Some(Strength::Weak),
            other => {
                self.err(
                    Code::UnknownStrength,
                    strength_span,
                    format!("unknown strength `{other}` for `{o}` → `{}`", key.value),
                )
                .label("expected `strong` or `weak`")
                .suggest(other, ["strong", "weak"]);
                None
            }
        };
        let timeout = full
            .and_then(|f| f.timeout.as_ref())
            .map(|t| self.duration(t, "a dependency `timeout`"));
        let group = full.and_then(|f| f.any_of.as_ref());
        if let (Some(m), None) = (full.and_then(|f| f.min.as_ref()), group) {
            self.err(
                Code::MinWithoutAnyOf,
                m.span(),
                format!(
                    "`min` on `{o}` → `{}`, which is not an any_of group",
                    key.value
                ),
            )
            .label("`min` only applies together with `any_of`");
        }
        let target = if let Some(members) = group {
            self.group(
                o,
                me,
                key,
                members,
                full.and_then(|f| f.min.as_ref()),
                resolver,
            )
        } else {
            let t = resolver.resolve(key, self, |n| {
                format!("`{o}` depends on `{n}`, which is not a declared service")
            });
            if t == Some(me) {
                self.err(
                    Code::SelfDependency,
                    key.span(),
                    format!("service `{o}` depends on itself"),
                )
                .label("a service cannot be its own dependency");
                None
            } else {
                t.map(Target::Service)
            }
        };
        Some(Dependency {
            label: key.value.clone(),
            strength: strength?,
            timeout: match timeout {
                Some(t) => Some(t?),
                None => None,
            },
            fallback: full.and_then(|f| f.fallback.clone()),
            target: target?,
        })
    }

    fn group(
        &mut self,
        o: &str,
        me: ServiceIdx,
        key: &Sp<String>,
        members: &Sp<Vec<Sp<String>>>,
        min: Option<&Sp<u32>>,
        resolver: &Resolver<'_>,
    ) -> Option<Target> {
        if members.value.is_empty() {
            self.err(
                Code::EmptyAnyOf,
                members.span(),
                format!("any_of group `{}` of `{o}` is empty", key.value),
            )
            .label("expected at least one service");
            return None;
        }
        let mut ok = true;
        let mut out = Vec::with_capacity(members.value.len());
        let mut seen = HashSet::new();
        for m in &members.value {
            let Some(t) = resolver.resolve(m, self, |n| {
                format!(
                    "any_of group `{}` of `{o}` names `{n}`, which is not a declared service",
                    key.value
                )
            }) else {
                ok = false;
                continue;
            };
            if t == me {
                self.err(
                    Code::SelfDependency,
                    m.span(),
                    format!(
                        "any_of group `{}` of `{o}` contains `{o}` itself",
                        key.value
                    ),
                )
                .label("a service cannot be a member of its own dependency group");
                ok = false;
            } else if !seen.insert(t) {
                self.err(
                    Code::DuplicateMember,
                    m.span(),
                    format!(
                        "`{}` appears twice in any_of group `{}` of `{o}`",
                        m.value, key.value
                    ),
                )
                .label("already listed in this group");
                ok = false;
            } else {
                out.push(t);
            }
        }
        let n = members.value.len();
        let min_v = match min {
            None => 1,
            Some(m) if m.value == 0 || m.value as usize > n => {
                self.err(
                    Code::BadGroupMin,
                    m.span(),
                    format!(
                        "`min: {}` for any_of group `{}` of `{o}`, which has {}",
                        m.value,
                        key.value,
                        crate::diag::plural(n, "member")
                    ),
                )
                .label(format!("expected a number from 1 to {n}"));
                ok = false;
                1
            }
            Some(m) => m.value as usize,
        };
        ok.then_some(Target::AnyOf {
            members: out,
            min: min_v,
        })
    }

    fn risks(&mut self, raw: &RawTopology) -> RiskSettings {
        let mut out = RiskSettings::default();
        for (key, setting) in raw.risks.iter() {
            let Some(rule) = RiskRule::from_id(&key.value) else {
                self.err(
                    Code::UnknownRiskRule,
                    key.span(),
                    format!("unknown risk rule `{}`", key.value),
                )
                .label(format!(
                    "expected one of {}",
                    RiskRule::ALL
                        .iter()
                        .map(|r| format!("`{}`", r.id()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .suggest(&key.value, RiskRule::ALL.iter().map(|r| r.id()));
                continue;
            };
            match &setting.value {
                RawRisk::Off => {
                    out.disabled.insert(rule);
                }
                RawRisk::Settings(s) => {
                    if let Some(sev) = s.severity {
                        out.severity.insert(
                            rule,
                            match sev {
                                RawSeverity::Info => RiskSeverity::Info,
                                RawSeverity::Warning => RiskSeverity::Warning,
                                RawSeverity::Error => RiskSeverity::Error,
                            },
                        );
                    }
                    for (opt, val, owner) in [
                        ("max_depth", &s.max_depth, RiskRule::DeepStrongChain),
                        ("min_links", &s.min_links, RiskRule::SharedHotspot),
                    ] {
                        let Some(v) = val else { continue };
                        if rule != owner {
                            self.err(
                                Code::RiskOptionNotApplicable,
                                v.span(),
                                format!("`{opt}` does not apply to risk rule `{rule}`"),
                            )
                            .label(format!("`{opt}` belongs to `{owner}`"));
                        } else if let Some(n) = self.count(v, &format!("`{opt}`")) {
                            if rule == RiskRule::DeepStrongChain {
                                out.max_strong_depth = n as usize;
                            } else {
                                out.hotspot_min_links = n as usize;
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// The check with `f` applied to every [`Text`].
fn map_texts(c: &Check, f: &dyn Fn(&Text) -> Text) -> Check {
    match c {
        Check::Http(h) => Check::Http(HttpCheck {
            url: f(&h.url),
            headers: h.headers.iter().map(|(k, v)| (k.clone(), f(v))).collect(),
            body: h.body.as_ref().map(f),
            ..h.clone()
        }),
        Check::Tcp(t) => Check::Tcp(TcpCheck {
            address: f(&t.address),
            ..t.clone()
        }),
        Check::Tls(t) => Check::Tls(TlsCheck {
            address: f(&t.address),
            ..t.clone()
        }),
        Check::Redis(u) => Check::Redis(UrlCheck { url: f(&u.url) }),
        Check::Postgres(u) => Check::Postgres(UrlCheck { url: f(&u.url) }),
        Check::Mysql(u) => Check::Mysql(UrlCheck { url: f(&u.url) }),
        Check::Exec(e) => Check::Exec(ExecCheck {
            command: e.command.iter().map(f).collect(),
        }),
        Check::Prometheus(p) => Check::Prometheus(PrometheusCheck {
            url: f(&p.url),
            ..p.clone()
        }),
        Check::Dns(d) => Check::Dns(d.clone()),
    }
}

/// Parses `250ms`, `2s`, `1.5m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| "missing unit (`ms`, `s`, `m` or `h`)".to_owned())?;
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err("expected a number before the unit".into());
    }
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{num}` is not a number"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown unit `{other}`")),
    };
    if !secs.is_finite() || secs > 86_400.0 * 365.0 {
        return Err("too long".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `< 0.01`, `>= 100`, `== 1`.
pub fn parse_comparison(s: &str) -> Option<(CompareOp, f64)> {
    let t = s.trim();
    let (op, rest) = [
        ("<=", CompareOp::Le),
        (">=", CompareOp::Ge),
        ("==", CompareOp::Eq),
        ("!=", CompareOp::Ne),
        ("<", CompareOp::Lt),
        (">", CompareOp::Gt),
    ]
    .into_iter()
    .find_map(|(sym, op)| t.strip_prefix(sym).map(|r| (op, r)))?;
    let v: f64 = rest.trim().parse().ok()?;
    v.is_finite().then_some((op, v))
}

#[cfg(test)]
mod tests {
    use super::super::load::test_support::{HEAD, diagnostics, error_case, load};
    use super::*;

    fn with_head(body: &str) -> String {
        format!("{HEAD}{body}")
    }

    fn top(rest: &str) -> String {
        format!("version: 1\nname: t\n{rest}")
    }

    error_case!(
        unsupported_version,
        "version: 2\nname: t\nservices: {a: {}}\n",
        "unsupported-version",
        1,
        10,
        "`2`"
    );
    error_case!(
        bad_duration,
        top("defaults: {timeout: 2 sec}\nservices: {a: {}}\n"),
        "bad-duration",
        3,
        21,
        "invalid duration `2 sec`"
    );
    error_case!(
        duration_without_unit,
        top("defaults: {slow: 250}\nservices: {a: {}}\n"),
        "bad-duration",
        3,
        18,
        "missing unit"
    );
    error_case!(
        zero_timeout,
        top("defaults: {timeout: 0s}\nservices: {a: {}}\n"),
        "zero-duration",
        3,
        21,
        "longer than zero"
    );
    error_case!(
        zero_concurrency,
        top("defaults: {concurrency: 0}\nservices: {a: {}}\n"),
        "zero-count",
        3,
        25,
        "at least 1"
    );
    error_case!(
        unknown_strength,
        with_head("  a:\n    depends_on: {b: strang}\n  b: {}\n"),
        "unknown-strength",
        7,
        21,
        "unknown strength `strang`",
        help = "did you mean `strong`?"
    );
    error_case!(
        unknown_strength_in_object,
        with_head("  a:\n    depends_on: {b: {strength: waek}}\n  b: {}\n"),
        "unknown-strength",
        7,
        32,
        "`waek`",
        help = "did you mean `weak`?"
    );
    error_case!(
        dangling_dependency,
        with_head("  a:\n    depends_on:\n      order-bd: strong\n  order-db: {}\n"),
        "unknown-service",
        8,
        7,
        "`a` depends on `order-bd`",
        help = "did you mean `order-db`?"
    );
    error_case!(
        link_entry_not_a_service,
        top("links:\n  l: {entry: gatewy}\nservices:\n  gateway: {}\n"),
        "unknown-service",
        4,
        14,
        "link `l` starts at `gatewy`",
        help = "did you mean `gateway`?"
    );
    error_case!(
        self_edge,
        with_head("  a:\n    depends_on: {a: strong}\n"),
        "self-dependency",
        7,
        18,
        "`a` depends on itself"
    );
    error_case!(
        empty_any_of,
        with_head("  a:\n    depends_on:\n      g: {strength: strong, any_of: []}\n"),
        "empty-any-of",
        8,
        37,
        "group `g` of `a` is empty"
    );
    error_case!(
        any_of_contains_owner,
        with_head("  a:\n    depends_on:\n      g: {strength: strong, any_of: [b, a]}\n  b: {}\n"),
        "self-dependency",
        8,
        41,
        "contains `a` itself"
    );
    error_case!(
        any_of_duplicate_member,
        with_head("  a:\n    depends_on:\n      g: {strength: strong, any_of: [b, b]}\n  b: {}\n"),
        "duplicate-member",
        8,
        41,
        "`b` appears twice"
    );
    error_case!(
        any_of_unknown_member,
        with_head(
            "  a:\n    depends_on:\n      g: {strength: strong, any_of: [b, cc]}\n  b: {}\n  c: {}\n"
        ),
        "unknown-service",
        8,
        41,
        "group `g` of `a` names `cc`"
    );
    error_case!(
        group_min_larger_than_group,
        with_head(
            "  a:\n    depends_on:\n      g: {strength: strong, any_of: [b, c], min: 3}\n  b: {}\n  c: {}\n"
        ),
        "bad-group-min",
        8,
        50,
        "has 2 members"
    );
    error_case!(
        group_min_zero,
        with_head(
            "  a:\n    depends_on:\n      g: {strength: strong, any_of: [b, c], min: 0}\n  b: {}\n  c: {}\n"
        ),
        "bad-group-min",
        8,
        50,
        "`min: 0`"
    );
    error_case!(
        min_without_any_of,
        with_head("  a:\n    depends_on:\n      b: {strength: strong, min: 1}\n  b: {}\n"),
        "min-without-any-of",
        8,
        34,
        "not an any_of group"
    );
    error_case!(
        dependency_timeout_zero,
        with_head("  a:\n    depends_on:\n      b: {strength: weak, timeout: 0ms}\n  b: {}\n"),
        "zero-duration",
        8,
        36,
        "dependency `timeout`"
    );
    error_case!(
        min_healthy_above_count,
        with_head("  a:\n    replicas: 2\n    min_healthy: 3\n"),
        "bad-min-healthy",
        8,
        18,
        "is 3 but it has 2 instances"
    );
    error_case!(
        min_healthy_zero,
        with_head("  a:\n    replicas: 2\n    min_healthy: 0\n"),
        "bad-min-healthy",
        8,
        18,
        "is 0"
    );
    error_case!(
        replicas_with_instances,
        with_head("  a:\n    replicas: 2\n    instances: [{address: \"127.0.0.1:1\"}]\n"),
        "replicas-with-instances",
        7,
        15,
        "both `replicas` and `instances`"
    );
    error_case!(
        replicas_zero,
        with_head("  a:\n    replicas: 0\n"),
        "no-instances",
        7,
        15,
        "`replicas: 0`"
    );
    error_case!(
        instances_empty,
        with_head("  a:\n    instances: []\n"),
        "no-instances",
        7,
        16,
        "empty `instances`"
    );
    error_case!(
        duplicate_instance,
        with_head("  a:\n    instances:\n      - {name: x}\n      - {name: x}\n"),
        "duplicate-instance",
        9,
        16,
        "two instances named `x`"
    );
    error_case!(
        duplicate_instance_by_position,
        with_head("  a:\n    instances:\n      - {name: \"1\"}\n      - {}\n"),
        "duplicate-instance",
        9,
        9,
        "two instances named `1`"
    );
    error_case!(
        reserved_label,
        with_head("  a:\n    instances:\n      - {zone: z, labels: {zone: y}}\n"),
        "reserved-label",
        8,
        28,
        "label `zone`"
    );
    error_case!(
        missing_env_var,
        with_head("  a:\n    probe: {postgres: {dsn: \"postgres://u:${NO_SUCH_VAR}@h/db\"}}\n"),
        "missing-env-var",
        7,
        29,
        "environment variable `NO_SUCH_VAR` is not set"
    );
    error_case!(
        bad_interpolation,
        with_head("  a:\n    probe: {postgres: {dsn: \"postgres://${1X}@h\"}}\n"),
        "bad-interpolation",
        7,
        29,
        "invalid variable name `1X`"
    );
    error_case!(
        unterminated_interpolation,
        with_head("  a:\n    probe: {postgres: {dsn: \"postgres://${PW@h\"}}\n"),
        "bad-interpolation",
        7,
        29,
        "unterminated"
    );
    error_case!(
        probe_without_type,
        with_head("  a:\n    probe: {timeout: 1s}\n"),
        "probe-type",
        7,
        12,
        "names no probe type"
    );
    error_case!(
        probe_with_two_types,
        with_head("  a:\n    probe: {tcp: {address: \"h:1\"}, redis: {url: \"redis://h\"}}\n"),
        "probe-type",
        7,
        12,
        "names 2 types (`tcp`, `redis`)"
    );
    error_case!(
        probe_needs_address,
        with_head("  a:\n    probe: {tcp: {}}\n"),
        "missing-address",
        7,
        12,
        "instance `0` has no `address`"
    );
    error_case!(
        bad_regex,
        with_head("  a:\n    probe: {http: {url: \"http://h\", expect: {body_regex: \"(\"}}}\n"),
        "bad-regex",
        7,
        58,
        "invalid `body_regex`"
    );
    error_case!(
        bad_status,
        with_head("  a:\n    probe: {http: {url: \"http://h\", expect: {status: [200, 700]}}}\n"),
        "bad-status",
        7,
        54,
        "`700`"
    );
    error_case!(
        bad_json_path,
        with_head("  a:\n    probe: {http: {url: \"http://h\", expect: {json: {data: ok}}}}\n"),
        "bad-json-path",
        7,
        53,
        "`data`"
    );
    error_case!(
        bad_url,
        with_head("  a:\n    probe: {http: {url: \"ftp://h\"}}\n"),
        "bad-url",
        7,
        25,
        "`ftp://h`"
    );
    error_case!(
        bad_method,
        with_head("  a:\n    probe: {http: {url: \"http://h\", method: \"GE T\"}}\n"),
        "bad-method",
        7,
        45,
        "`GE T`"
    );
    error_case!(
        bad_prometheus_expect,
        with_head(
            "  a:\n    probe: {prometheus: {url: \"http://p\", query: up, expect: \"about 3\"}}\n"
        ),
        "bad-expect",
        7,
        62,
        "`about 3`"
    );
    error_case!(
        empty_command,
        with_head("  a:\n    probe: {exec: {command: []}}\n"),
        "empty-command",
        7,
        29,
        "no command"
    );
    error_case!(
        blank_command,
        with_head("  a:\n    probe: {exec: {command: \"  \"}}\n"),
        "empty-command",
        7,
        29,
        "no command"
    );
    error_case!(
        unknown_risk_rule,
        top("services: {a: {}}\nrisks:\n  deep-strong-chian: off\n"),
        "unknown-risk-rule",
        5,
        3,
        "`deep-strong-chian`",
        help = "did you mean `deep-strong-chain`?"
    );
    error_case!(
        risk_option_for_another_rule,
        top("services: {a: {}}\nrisks:\n  spof: {max_depth: 3}\n"),
        "risk-option-not-applicable",
        5,
        21,
        "`max_depth` does not apply to risk rule `spof`"
    );
    error_case!(
        risk_threshold_zero,
        top("services: {a: {}}\nrisks:\n  deep-strong-chain: {max_depth: 0}\n"),
        "zero-count",
        5,
        34,
        "`max_depth`"
    );

    #[test]
    fn every_semantic_error_is_reported_at_once() {
        let src = with_head(
            "  a:\n    replicas: 0\n    depends_on:\n      b: strang\n      zz: strong\n  b:\n    probe: {tcp: {}}\n",
        );
        let d = diagnostics(&src);
        let got: Vec<(&str, u32)> = d
            .iter()
            .filter(|d| d.severity == crate::diag::Severity::Error)
            .map(|d| (d.code.as_str(), d.span.unwrap().line))
            .collect();
        assert_eq!(
            got,
            [
                ("no-instances", 7),
                ("unknown-strength", 9),
                ("unknown-service", 10),
                ("missing-address", 12)
            ],
            "{d:#?}"
        );
    }

    #[test]
    fn unreachable_service_is_a_warning_only() {
        let loaded = load(&with_head("  a: {}\n  b: {}\n")).unwrap();
        let w = &loaded.warnings.items;
        assert_eq!(w.len(), 1, "{w:#?}");
        assert_eq!(w[0].code, Code::UnreachableService);
        assert_eq!(w[0].severity, crate::diag::Severity::Warning);
        let s = w[0].span.unwrap();
        assert_eq!((s.line, s.column), (7, 3));
        assert!(w[0].message.contains("`b`"));
    }

    #[test]
    fn no_links_is_a_warning_only() {
        let loaded = load(&top("services: {a: {}}\n")).unwrap();
        let codes: Vec<Code> = loaded.warnings.items.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::NoLinks]);
    }

    #[test]
    fn model_is_sorted_indexed_and_defaulted() {
        let src = top(concat!(
            "defaults: {timeout: 1500ms, retries: 3, slow: 1m}\n",
            "links:\n  z: {entry: web}\n  a: {entry: web, description: first}\n",
            "services:\n",
            "  web:\n",
            "    probe:\n      http: {url: \"http://{address}/h\", headers: {X-Token: \"${DB_PW}\"}}\n      slow: 2s\n",
            "    instances:\n",
            "      - {address: \"127.0.0.1:18001\", zone: az2, host: h1, labels: {rack: r9, power: p1}}\n",
            "      - {name: second, address: \"127.0.0.1:18002\"}\n",
            "    min_healthy: 1\n",
            "    tags: [b, a, b]\n",
            "    depends_on:\n      db: strong\n      cache: {strength: weak, timeout: 250ms, fallback: skip}\n",
            "      pay: {strength: strong, any_of: [db, cache], min: 2}\n",
            "  db:\n    replicas: 3\n    min_healthy: 2\n    core: false\n",
            "    probe: {postgres: {dsn: \"postgres://app:${DB_PW}@db/x\"}}\n",
            "  cache: {}\n",
        ));
        let t = load(&src).unwrap().topology;
        let names: Vec<&str> = t.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["cache", "db", "web"]);
        assert_eq!(t.index_of("web"), Some(ServiceIdx(2)));
        assert_eq!(
            t.links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["a", "z"]
        );
        assert_eq!(t.links[0].entry, ServiceIdx(2));
        assert_eq!(t.defaults.timeout, Duration::from_millis(1500));

        let web = t.service(ServiceIdx(2));
        assert_eq!(web.tags, ["a", "b"]);
        assert!(web.core && !web.core_explicit);
        assert_eq!(
            web.instances
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>(),
            ["0", "second"]
        );
        assert_eq!(
            web.instances[0]
                .domains
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["host=h1", "power=p1", "rack=r9", "zone=az2"]
        );
        let p = web.instances[1].probe.as_ref().unwrap();
        assert_eq!(
            (p.timeout, p.retries, p.slow),
            (Duration::from_millis(1500), 3, Duration::from_secs(2))
        );
        let Check::Http(h) = &p.check else {
            panic!("{p:?}")
        };
        assert_eq!(h.url.expose(), "http://127.0.0.1:18002/h");
        assert_eq!(h.method, "GET");
        assert_eq!(h.headers[0].1.expose(), "hunter2");
        assert_eq!(h.headers[0].1.to_string(), "${DB_PW}");

        let deps: Vec<(&str, Strength, &Target)> = web
            .depends_on
            .iter()
            .map(|d| (d.label.as_str(), d.strength, &d.target))
            .collect();
        assert_eq!(
            deps,
            [
                ("db", Strength::Strong, &Target::Service(ServiceIdx(1))),
                ("cache", Strength::Weak, &Target::Service(ServiceIdx(0))),
                (
                    "pay",
                    Strength::Strong,
                    &Target::AnyOf {
                        members: vec![ServiceIdx(1), ServiceIdx(0)],
                        min: 2
                    }
                ),
            ]
        );
        assert_eq!(web.depends_on[1].timeout, Some(Duration::from_millis(250)));
        assert_eq!(web.depends_on[1].fallback.as_deref(), Some("skip"));

        let db = t.service(ServiceIdx(1));
        assert_eq!(
            db.instances
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>(),
            ["0", "1", "2"]
        );
        assert_eq!((db.min_healthy, db.spare()), (2, 1));
        assert!(!db.core && db.core_explicit);
        let Check::Postgres(u) = &db.instances[2].probe.as_ref().unwrap().check else {
            panic!()
        };
        assert!(u.url.is_secret());
        assert_eq!(
            format!("{:?} {}", u.url, u.url),
            "\"postgres://app:${DB_PW}@db/x\" postgres://app:${DB_PW}@db/x"
        );
        assert_eq!(
            db.instances[2].probe.as_ref().unwrap().slow,
            Duration::from_secs(60)
        );

        let cache = t.service(ServiceIdx(0));
        assert_eq!(cache.instances.len(), 1);
        assert!(cache.instances[0].probe.is_none());
        assert_eq!(t.edge_count(), 4);
    }

    #[test]
    fn interpolation_defaults_and_escapes() {
        let src = with_head(
            "  a:\n    probe:\n      exec:\n        command: [\"echo\", \"${NOPE:-fallback}\", \"${EMPTY:-was-empty}\", \"$${LITERAL}\"]\n",
        );
        let t = load(&src).unwrap().topology;
        let Check::Exec(e) = &t.services[0].instances[0].probe.as_ref().unwrap().check else {
            panic!()
        };
        let shown: Vec<&str> = e.command.iter().map(Text::expose).collect();
        assert_eq!(shown, ["echo", "fallback", "was-empty", "${LITERAL}"]);
        assert!(!e.command[3].is_secret());
    }

    #[test]
    fn risk_settings_apply() {
        let t = load(&top(concat!(
            "services: {a: {}}\nrisks:\n  weak-without-timeout: off\n",
            "  deep-strong-chain: {max_depth: 7, severity: error}\n  shared-hotspot: {min_links: 4}\n"
        )))
        .unwrap()
        .topology;
        assert!(!t.risks.enabled(RiskRule::WeakWithoutTimeout));
        assert_eq!(t.risks.max_strong_depth, 7);
        assert_eq!(t.risks.hotspot_min_links, 4);
        assert_eq!(
            t.risks.severity_of(RiskRule::DeepStrongChain),
            RiskSeverity::Error
        );
    }

    #[test]
    fn parallel_validation_equals_serial() {
        let mut src = String::from("version: 1\nname: t\nlinks: {l: {entry: s0000}}\nservices:\n");
        for i in 0..300 {
            let dep = if i % 37 == 5 {
                "nope".to_owned()
            } else {
                format!("s{:04}", (i + 1) % 300)
            };
            std::fmt::Write::write_fmt(
                &mut src,
                format_args!(
                    "  s{i:04}:\n    replicas: {}\n    depends_on: {{{dep}: strong}}\n",
                    i % 3 + 1
                ),
            )
            .unwrap();
        }
        let raw = crate::topology::load::parse(&src).unwrap();
        let env = super::super::load::test_support::env;
        let (m1, d1) = validate_with(&raw, &env, 1);
        let (m3, d3) = validate_with(&raw, &env, 3);
        assert!(m1.is_none() && m3.is_none());
        assert!(d1.len() > 5);
        assert_eq!(d1, d3);
        let ok = src.replace("nope", "s0000");
        let raw = crate::topology::load::parse(&ok).unwrap();
        let (m1, d1) = validate_with(&raw, &env, 1);
        let (m3, d3) = validate_with(&raw, &env, 4);
        let (m1, m3) = (m1.unwrap(), m3.unwrap());
        assert_eq!(format!("{:?}", m1.services), format!("{:?}", m3.services));
        assert_eq!(m1.index, m3.index);
        assert_eq!(d1, d3);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "2", "s", "2x", "-1s", "1..2s", "2 s", "99999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn comparisons_parse() {
        assert_eq!(parse_comparison("< 0.01"), Some((CompareOp::Lt, 0.01)));
        assert_eq!(parse_comparison(">=100"), Some((CompareOp::Ge, 100.0)));
        assert_eq!(parse_comparison(" != -1 "), Some((CompareOp::Ne, -1.0)));
        for bad in ["", "<", "~ 1", "< x", "< inf", "1 <"] {
            assert_eq!(parse_comparison(bad), None, "{bad}");
        }
    }
}

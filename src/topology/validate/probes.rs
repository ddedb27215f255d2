//! Probes: defaults applied, each check type validated, `{address}` expanded per instance;
//! and the `expect:` comparisons of Prometheus and database probes (one parser for both).

use std::sync::Arc;
use std::time::Duration;

use super::Cx;
use crate::diag::{Code, Span};
use crate::topology::model::{
    AmqpCheck, Check, CompareOp, Comparison, DbCheck, DbQuery, Defaults, DnsCheck, ExecCheck,
    GrpcCheck, HttpCheck, HttpExpect, HttpPhase, InfoCheck, InfoExpect, Instance, MqttCheck,
    NatsCheck, Probe, PrometheusCheck, RecordType, RedisCheck, Replication, TcpCheck, Text,
    TlsCheck,
};
use crate::topology::raw::{
    RawCommand, RawDsn, RawInfoValue, RawProbe, RawRecordType, RawService, RawSlow, Sp,
};

impl Cx<'_> {
    /// Adds each instance's probe, expanding `{address}`.
    pub(super) fn expand_probe(
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
        // Without `{address}`, every instance probes the same thing: one probe for them all.
        let shared = (!templated).then(|| Arc::new(probe.clone()));
        // The addresses with `${VAR}` resolved (their errors were reported with the instances).
        let resolved: Vec<Option<Text>> = svc.instances.as_ref().map_or_else(Vec::new, |list| {
            list.value
                .iter()
                .map(|i| {
                    i.value.address.as_ref().and_then(|a| {
                        let before = self.diags.len();
                        let t = self.text(a);
                        self.diags.truncate(before);
                        t
                    })
                })
                .collect()
        });
        instances
            .into_iter()
            .enumerate()
            .map(|(pos, (mut inst, span))| {
                inst.probe = match (&inst.address, templated) {
                    (Some(a), true) => {
                        let address = resolved
                            .get(pos)
                            .cloned()
                            .flatten()
                            .unwrap_or_else(|| Text::plain(a.as_str()));
                        Some(Arc::new(Probe {
                            check: map_texts(&probe.check, &|t| t.with_address_text(&address)),
                            ..probe.clone()
                        }))
                    }
                    (None, true) => {
                        if !reported {
                            reported = true;
                            let at = svc.probe.as_deref().and_then(Sp::span).or(span);
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
                    (_, false) => shared.clone(),
                };
                inst
            })
            .collect()
    }

    pub(super) fn probe(
        &mut self,
        service: &str,
        p: &Sp<RawProbe>,
        defaults: &Defaults,
    ) -> Option<Probe> {
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
            ("amqp", raw.amqp.is_some()),
            ("mqtt", raw.mqtt.is_some()),
            ("nats", raw.nats.is_some()),
            ("grpc", raw.grpc.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, present)| present.then_some(k))
        .collect();
        let timeout = raw
            .timeout
            .as_ref()
            .map(|t| self.duration(t, "a probe `timeout`"));
        let (slow, slow_phases) = match &raw.slow {
            None => (None, Vec::new()),
            Some(sp) => self.slow(sp),
        };
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
                "expected exactly one of `http`, `tcp`, `tls`, `dns`, `redis`, `postgres`, `mysql`, `exec`, `prometheus`, `amqp`, `mqtt`, `nats`, `grpc`",
            );
            return None;
        }
        let mut check = self.check(service, raw, p.span())?;
        if !slow_phases.is_empty() {
            if let Check::Http(h) = &mut check {
                h.slow_phases = slow_phases;
            } else {
                let at = raw.slow.as_ref().and_then(Sp::span);
                self.err(
                    Code::PhaseNotTimed,
                    at,
                    format!(
                        "the `slow` threshold of `{service}` names phases, but only an `http` probe times phases (this is a `{}` probe)",
                        kinds[0]
                    ),
                )
                .label("a phase threshold needs an `http` probe")
                .help("write one duration for the whole answer, e.g. `slow: 300ms`");
            }
        }
        Some(Probe {
            check,
            timeout: timeout.flatten().unwrap_or(defaults.timeout),
            retries: raw
                .retries
                .as_ref()
                .map_or(defaults.retries, |r| self.retries(r, "a probe `retries`")),
            slow: slow.unwrap_or(defaults.slow),
        })
    }

    /// A probe's `slow:`: the whole answer's threshold (`None`: the default), and thresholds
    /// per phase, in phase order.
    fn slow(&mut self, sp: &Sp<RawSlow>) -> (Option<Duration>, Vec<(HttpPhase, Duration)>) {
        let entries = match &sp.value {
            RawSlow::Total(d) => {
                let whole = Sp {
                    value: d.clone(),
                    loc: sp.loc,
                };
                return (self.duration(&whole, "a probe `slow`"), Vec::new());
            }
            RawSlow::Phases(entries) => entries,
        };
        let mut total = None;
        let mut phases = Vec::new();
        for (key, value) in entries.iter() {
            if key.value == "total" {
                total = self.duration(value, "the `slow` threshold `total`");
                continue;
            }
            let Some(phase) = HttpPhase::ALL.into_iter().find(|p| p.key() == key.value) else {
                let names = std::iter::once("total").chain(HttpPhase::ALL.iter().map(|p| p.key()));
                self.err(
                    Code::UnknownPhase,
                    key.span(),
                    format!("unknown phase `{}` in `slow`", key.value),
                )
                .label(format!(
                    "expected one of {}",
                    names
                        .clone()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .suggest(&key.value, names);
                continue;
            };
            if let Some(limit) = self.duration(
                value,
                &format!("the `slow` threshold of phase `{}`", key.value),
            ) {
                phases.push((phase, limit));
            }
        }
        phases.sort_by_key(|(p, _)| *p);
        (total, phases)
    }

    /// The check of a probe; `at` (the probe) locates problems in fields that carry no
    /// location of their own.
    pub(super) fn check(
        &mut self,
        service: &str,
        raw: &RawProbe,
        at: Option<Span>,
    ) -> Option<Check> {
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
                .map(|e| self.http_expect(service, e, at))
                .unwrap_or_default();
            return Some(Check::Http(HttpCheck {
                url: url?,
                method,
                headers,
                body,
                expect,
                max_redirects: h.max_redirects.unwrap_or(5),
                tls_verify: h.tls_verify.unwrap_or(true),
                ca_file: h.ca_file.as_ref().map(|f| self.field(f, at)),
                cert_min_days: h.cert_min_days.unwrap_or(14),
                slow_phases: Vec::new(),
            }));
        }
        if let Some(t) = &raw.tcp {
            return Some(Check::Tcp(TcpCheck {
                address: self.address(t.address.as_ref())?,
                send: t.send.as_ref().map(|v| self.field(v, at)),
                expect: t.expect.as_ref().map(|v| self.field(v, at)),
            }));
        }
        if let Some(t) = &raw.tls {
            return Some(Check::Tls(TlsCheck {
                address: self.address(t.address.as_ref())?,
                server_name: t.server_name.as_ref().map(|v| self.field(v, at)),
                san: t.san.as_ref().map(|v| self.field(v, at)),
                min_days: t.min_days.unwrap_or(14),
                verify: t.verify.unwrap_or(true),
                ca_file: t.ca_file.as_ref().map(|v| self.field(v, at)),
            }));
        }
        if let Some(d) = &raw.dns {
            return Some(Check::Dns(DnsCheck {
                name: self.field(&d.name, at),
                record_type: match d.record_type.unwrap_or(RawRecordType::A) {
                    RawRecordType::A => RecordType::A,
                    RawRecordType::Aaaa => RecordType::Aaaa,
                    RawRecordType::Cname => RecordType::Cname,
                    RawRecordType::Mx => RecordType::Mx,
                    RawRecordType::Txt => RecordType::Txt,
                    RawRecordType::Ns => RecordType::Ns,
                    RawRecordType::Srv => RecordType::Srv,
                },
                expect: d.expect.iter().map(|v| self.field(v, at)).collect(),
                server: d.server.as_ref().map(|v| self.field(v, at)),
            }));
        }
        if let Some(r) = &raw.redis {
            let url = self.text(&r.url);
            if let Some(u) = &url {
                self.scheme(&r.url, u, &["redis://", "rediss://"], "a redis probe");
            }
            let ca_file = r.ca_file.as_ref().and_then(|f| self.text(f));
            let info = self.redis_info(service, &r.info);
            return Some(Check::Redis(RedisCheck {
                url: url?,
                ca_file,
                info,
            }));
        }
        if let Some(r) = &raw.postgres {
            let url = self.text(&r.dsn);
            // A key=value DSN (`host=db user=app`) has no scheme; a URL must have one.
            if let Some(u) = &url {
                let value = u.expose();
                if value.contains("://") || !value.contains('=') {
                    self.scheme(
                        &r.dsn,
                        u,
                        &["postgres://", "postgresql://"],
                        "a postgres probe",
                    );
                }
            }
            if let Some(u) = &url {
                self.dsn_tls(&r.dsn, u, &["sslmode"], PG_SSL_MODES);
            }
            return self.db_check(service, r, url, Check::Postgres);
        }
        if let Some(r) = &raw.mysql {
            let url = self.text(&r.dsn);
            if let Some(u) = &url {
                self.scheme(&r.dsn, u, &["mysql://", "mariadb://"], "a mysql probe");
            }
            if let Some(u) = &url {
                self.dsn_tls(
                    &r.dsn,
                    u,
                    &["ssl-mode", "ssl_mode", "sslmode"],
                    MYSQL_SSL_MODES,
                );
            }
            return self.db_check(service, r, url, Check::Mysql);
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
            let cmp = self.comparison(&p.expect);
            let Comparison { op, threshold } = cmp?;
            return Some(Check::Prometheus(PrometheusCheck {
                url: url?,
                query: self.field(&p.query, at),
                op,
                threshold,
            }));
        }
        self.messaging_check(raw, at)
    }

    /// `amqp`, `mqtt`, `nats` and `grpc` (issue 13).
    fn messaging_check(&mut self, raw: &RawProbe, at: Option<Span>) -> Option<Check> {
        if let Some(a) = &raw.amqp {
            let url = self.text(&a.url)?;
            self.scheme(&a.url, &url, &["amqp://"], "an amqp probe");
            let queue = a
                .queue
                .as_ref()
                .map(|q| self.probe_name(q, ProbeName::AmqpQueue));
            return Some(Check::Amqp(AmqpCheck { url, queue }));
        }
        if let Some(m) = &raw.mqtt {
            let url = self.text(&m.url)?;
            self.scheme(&m.url, &url, &["mqtt://", "tcp://"], "an mqtt probe");
            let topic = m
                .topic
                .as_ref()
                .map(|t| self.probe_name(t, ProbeName::MqttTopic));
            return Some(Check::Mqtt(MqttCheck { url, topic }));
        }
        if let Some(n) = &raw.nats {
            let url = self.text(&n.url)?;
            self.scheme(&n.url, &url, &["nats://"], "a nats probe");
            let subject = n
                .subject
                .as_ref()
                .map(|s| self.probe_name(s, ProbeName::NatsSubject));
            return Some(Check::Nats(NatsCheck { url, subject }));
        }
        if let Some(g) = &raw.grpc {
            let url = self.text(&g.url)?;
            self.scheme(&g.url, &url, &["http://", "https://"], "a grpc probe");
            return Some(Check::Grpc(GrpcCheck {
                url,
                service: g.service.clone().unwrap_or_default(),
                tls_verify: g.tls_verify.unwrap_or(true),
                ca_file: g.ca_file.as_ref().map(|f| self.field(f, at)),
            }));
        }
        None
    }

    /// A queue, topic or subject name, checked against its protocol's rules; the name is kept
    /// even when bad (the error stops the load anyway).
    fn probe_name(&mut self, name: &Sp<String>, kind: ProbeName) -> String {
        let v = name.value.as_str();
        let problem = if v.is_empty() {
            Some("it is empty")
        } else if v.len() > 200 {
            Some("it is longer than 200 bytes")
        } else {
            match kind {
                ProbeName::AmqpQueue if v.starts_with("amq.") => {
                    Some("names starting with `amq.` are reserved by the broker")
                }
                ProbeName::AmqpQueue
                    if !v
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b)) =>
                {
                    Some("only letters, digits, `_`, `.`, `:` and `-` are allowed")
                }
                ProbeName::MqttTopic if v.contains(['+', '#']) => {
                    Some("a topic to publish to cannot hold the wildcards `+` or `#`")
                }
                ProbeName::MqttTopic if v.starts_with('$') => {
                    Some("topics starting with `$` are reserved by the broker")
                }
                ProbeName::MqttTopic if v.contains('\0') => Some("it holds a NUL character"),
                ProbeName::NatsSubject if v.contains(['*', '>']) => {
                    Some("a subject to publish to cannot hold the wildcards `*` or `>`")
                }
                ProbeName::NatsSubject if v.contains(char::is_whitespace) => {
                    Some("a subject cannot hold spaces")
                }
                ProbeName::NatsSubject if v.split('.').any(str::is_empty) => {
                    Some("a subject's dot-separated tokens cannot be empty")
                }
                _ => None,
            }
        };
        if let Some(problem) = problem {
            let (what, example) = match kind {
                ProbeName::AmqpQueue => ("queue", "`linkpatrol.probe`"),
                ProbeName::MqttTopic => ("topic", "`linkpatrol/probe`"),
                ProbeName::NatsSubject => ("subject", "`linkpatrol.probe`"),
            };
            self.err(
                Code::BadProbeName,
                name.span(),
                format!("invalid probe {what} `{v}`: {problem}"),
            )
            .label(format!("expected a plain {what} name, e.g. {example}"));
        }
        v.to_owned()
    }

    /// The TLS mode a DSN names (`sslmode=…`, `ssl-mode=…`) must be one the probe speaks. The
    /// value of a `${VAR}` DSN is never printed, only the mode found in it.
    fn dsn_tls(&mut self, at: &Sp<String>, dsn: &Text, keys: &[&str], modes: &[&str]) {
        let value = dsn.expose();
        let params = value.split_once('?').map_or(value, |(_, q)| q);
        for word in params.split(['&', ' ']) {
            let Some((k, v)) = word.split_once('=') else {
                continue;
            };
            if !keys.iter().any(|key| k.eq_ignore_ascii_case(key)) {
                continue;
            }
            let v = v.trim_matches('\'');
            // MySQL's clients write `VERIFY_IDENTITY`; `verify-identity` is read the same.
            let same = |m: &str| {
                v.eq_ignore_ascii_case(m)
                    || (m.contains('_') && v.replace('-', "_").eq_ignore_ascii_case(m))
            };
            if modes.iter().any(|m| same(m)) {
                continue;
            }
            let shown = if v.len() <= 20
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                format!("`{k}={v}`")
            } else {
                format!("`{k}`")
            };
            let list = modes
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let e = self
                .err(
                    Code::BadUrl,
                    at.span(),
                    format!("unsupported {shown} in the dsn `{}`", dsn.written()),
                )
                .label(format!("expected one of {list}"));
            if v.eq_ignore_ascii_case("verify-ca") {
                e.help("use `sslmode=verify-full`: it checks the chain and the host name");
            }
        }
    }

    /// `expect:` of a `prometheus`, `postgres` or `mysql` probe, with a located error.
    pub(super) fn comparison(&mut self, expect: &Sp<String>) -> Option<Comparison> {
        let cmp = parse_comparison(&expect.value);
        if cmp.is_none() {
            self.err(
                Code::BadExpect,
                expect.span(),
                format!("invalid comparison `{}`", expect.value),
            )
            .label("expected an operator and a number, e.g. `< 0.01` or `>= 100`");
        }
        cmp.map(|(op, threshold)| Comparison { op, threshold })
    }

    /// The `query`/`expect`/`label` and `replication` settings of a database probe.
    fn db_check(
        &mut self,
        service: &str,
        r: &RawDsn,
        url: Option<Text>,
        kind: fn(DbCheck) -> Check,
    ) -> Option<Check> {
        let query = match (&r.query, &r.expect) {
            (Some(q), Some(e)) => {
                let sql = self.text(q);
                if sql.as_ref().is_some_and(|s| s.expose().trim().is_empty()) {
                    self.err(
                        Code::IncompleteQuery,
                        q.span(),
                        format!("the `query` of `{service}` is empty"),
                    )
                    .label("expected SQL whose first column is a number, e.g. `SELECT count(*) FROM …`");
                }
                let expect = self.comparison(e);
                let label = r.label.as_ref().map(|l| self.shown(&l.value, l.span()));
                Some((sql, expect, label))
            }
            (Some(q), None) => {
                self.err(
                    Code::IncompleteQuery,
                    q.span(),
                    format!("the `query` of `{service}` has no `expect`"),
                )
                .label("the query's value is compared with `expect`")
                .help("add `expect:` with a comparison, e.g. `expect: \"< 5\"`");
                None
            }
            (None, Some(e)) => {
                self.err(
                    Code::IncompleteQuery,
                    e.span(),
                    format!("`expect` without a `query` in the probe of `{service}`"),
                )
                .label("`expect` compares the value of `query`")
                .help("add `query:` with SQL whose first column is a number, or remove `expect`");
                None
            }
            (None, None) => None,
        };
        if let (Some(l), None) = (&r.label, &r.query) {
            self.err(
                Code::IncompleteQuery,
                l.span(),
                format!("`label` without a `query` in the probe of `{service}`"),
            )
            .label("`label` names the value of `query` in reasons")
            .help("add `query:` and `expect:`, or remove `label`");
        }
        let replication = r.replication.as_ref().map(|rep| {
            self.duration(&rep.value.max_lag, "`replication.max_lag`")
                .map(|max_lag| Replication { max_lag })
        });
        let query = match query {
            Some((sql, expect, label)) => Some(DbQuery {
                sql: sql?,
                expect: expect?,
                label,
            }),
            None => None,
        };
        let replication = match replication {
            Some(r) => Some(r?),
            None => None,
        };
        Some(kind(DbCheck {
            url: url?,
            query,
            replication,
        }))
    }

    /// `info:` of a redis probe: field names, exact values and comparisons.
    fn redis_info(
        &mut self,
        service: &str,
        info: &crate::topology::raw::Entries<Sp<RawInfoValue>>,
    ) -> Vec<InfoCheck> {
        let mut out = Vec::new();
        for (field, value) in info.iter() {
            let name = field.value.as_str();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                self.err(
                    Code::BadInfoField,
                    field.span(),
                    format!("`{name}` is not a redis INFO field in the probe of `{service}`"),
                )
                .label("expected a field of `INFO` in lower case, e.g. `role`, `connected_slaves`, `used_memory`, or `memory_ratio`");
                continue;
            }
            let expect = match &value.value {
                RawInfoValue::Number(n) => Some(InfoExpect::Compare(Comparison {
                    op: CompareOp::Eq,
                    threshold: *n,
                })),
                RawInfoValue::Text(t) => {
                    let looks_like_cmp = t.trim_start().starts_with(['<', '>', '=', '!']);
                    if looks_like_cmp || name == InfoCheck::MEMORY_RATIO {
                        let cmp = parse_comparison(t);
                        if cmp.is_none() {
                            self.err(
                                Code::BadExpect,
                                value.span(),
                                format!("invalid comparison `{t}` for `{name}`"),
                            )
                            .label(if name == InfoCheck::MEMORY_RATIO {
                                "`memory_ratio` is `used_memory / maxmemory`: expected a comparison, e.g. `< 0.9`"
                            } else {
                                "expected an operator and a number, e.g. `>= 1`, or an exact value such as `master`"
                            });
                        }
                        cmp.map(|(op, threshold)| InfoExpect::Compare(Comparison { op, threshold }))
                    } else if name == "role"
                        && !matches!(t.as_str(), "master" | "slave" | "replica")
                    {
                        self.err(
                            Code::UnknownValue,
                            value.span(),
                            format!("unknown redis role `{t}`"),
                        )
                        .label("expected `master` or `slave` (`replica` is read as `slave`)");
                        None
                    } else if name == "role" && t == "replica" {
                        Some(InfoExpect::Equals("slave".to_owned()))
                    } else {
                        Some(InfoExpect::Equals(t.clone()))
                    }
                }
            };
            if let Some(expect) = expect {
                out.push(InfoCheck {
                    field: name.to_owned(),
                    expect,
                });
            }
        }
        out
    }

    pub(super) fn http_expect(
        &mut self,
        service: &str,
        e: &crate::topology::raw::RawHttpExpect,
        at: Option<Span>,
    ) -> HttpExpect {
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
            body_contains: e.body_contains.as_ref().map(|v| self.field(v, at)),
            body_regex: e.body_regex.as_ref().map(|r| r.value.clone()),
            json,
            headers: e
                .headers
                .iter()
                .map(|(k, v)| (k.value.to_ascii_lowercase(), self.field(v, k.span())))
                .collect(),
        }
    }

    pub(super) fn address(&mut self, a: Option<&Sp<String>>) -> Option<Text> {
        match a {
            Some(a) => self.text(a),
            None => Some(Text::plain("{address}")),
        }
    }

    /// Checks the scheme of the *interpolated* value, so that `dsn: "${ORDER_DB_DSN}"` is
    /// accepted when the variable holds a fitting URL. A value read from the environment is
    /// never printed: the message shows the text as written and at most the scheme it found.
    pub(super) fn scheme(&mut self, at: &Sp<String>, t: &Text, schemes: &[&str], what: &str) {
        let lower = t.expose().to_ascii_lowercase();
        if schemes.iter().any(|s| lower.starts_with(s)) {
            return;
        }
        let list = schemes
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        if t.is_secret() {
            let found = lower
                .split_once("://")
                .map(|(scheme, _)| scheme)
                .filter(|s| {
                    !s.is_empty()
                        && s.len() <= 16
                        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+')
                })
                .map_or_else(
                    || "it does not start with a scheme".to_owned(),
                    |s| format!("it starts with `{s}://`"),
                );
            self.err(
                Code::BadUrl,
                at.span(),
                format!(
                    "the value of `{}` is not a URL for {what}: {found}",
                    t.written()
                ),
            )
            .label(format!("expected a URL starting with {list}"));
        } else {
            self.err(
                Code::BadUrl,
                at.span(),
                format!("`{}` is not a URL for {what}", t.written()),
            )
            .label(format!("expected a URL starting with {list}"));
        }
    }
}

/// The `sslmode` values a `postgres` probe speaks (libpq's, but `allow` and `verify-ca`).
const PG_SSL_MODES: &[&str] = &["disable", "prefer", "require", "verify-full"];

/// The `ssl-mode` values a `mysql` probe speaks (those of MySQL's own clients).
const MYSQL_SSL_MODES: &[&str] = &[
    "DISABLED",
    "PREFERRED",
    "REQUIRED",
    "VERIFY_CA",
    "VERIFY_IDENTITY",
];

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
            send: t.send.as_ref().map(f),
            expect: t.expect.as_ref().map(f),
        }),
        Check::Tls(t) => Check::Tls(TlsCheck {
            address: f(&t.address),
            ..t.clone()
        }),
        Check::Redis(r) => Check::Redis(RedisCheck {
            url: f(&r.url),
            ..r.clone()
        }),
        Check::Postgres(d) => Check::Postgres(DbCheck {
            url: f(&d.url),
            ..d.clone()
        }),
        Check::Mysql(d) => Check::Mysql(DbCheck {
            url: f(&d.url),
            ..d.clone()
        }),
        Check::Exec(e) => Check::Exec(ExecCheck {
            command: e.command.iter().map(f).collect(),
        }),
        Check::Prometheus(p) => Check::Prometheus(PrometheusCheck {
            url: f(&p.url),
            ..p.clone()
        }),
        Check::Dns(d) => Check::Dns(d.clone()),
        Check::Amqp(a) => Check::Amqp(AmqpCheck {
            url: f(&a.url),
            ..a.clone()
        }),
        Check::Mqtt(m) => Check::Mqtt(MqttCheck {
            url: f(&m.url),
            ..m.clone()
        }),
        Check::Nats(n) => Check::Nats(NatsCheck {
            url: f(&n.url),
            ..n.clone()
        }),
        Check::Grpc(g) => Check::Grpc(GrpcCheck {
            url: f(&g.url),
            ..g.clone()
        }),
    }
}

/// Which protocol's naming rules [`Cx::probe_name`] applies.
#[derive(Clone, Copy)]
enum ProbeName {
    AmqpQueue,
    MqttTopic,
    NatsSubject,
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
    use super::super::super::load::test_support::{HEAD, error_case, load};
    use crate::topology::model::{Check, CompareOp, Comparison, InfoExpect, Text};
    use std::time::Duration;

    fn with_head(body: &str) -> String {
        format!("{HEAD}{body}")
    }

    error_case!(
        query_without_expect,
        with_head("  a:\n    probe: {postgres: {dsn: \"postgres://h/db\", query: \"SELECT 1\"}}\n"),
        "incomplete-query",
        7,
        55,
        "has no `expect`"
    );
    error_case!(
        expect_without_query,
        with_head("  a:\n    probe: {mysql: {dsn: \"mysql://h/db\", expect: \"< 5\"}}\n"),
        "incomplete-query",
        7,
        50,
        "`expect` without a `query`"
    );
    error_case!(
        label_without_query,
        with_head("  a:\n    probe: {postgres: {dsn: \"postgres://h/db\", label: slow}}\n"),
        "incomplete-query",
        7,
        55,
        "`label` without a `query`"
    );
    error_case!(
        bad_db_expect,
        with_head(
            "  a:\n    probe: {mysql: {dsn: \"mysql://h/db\", query: \"SELECT 1\", expect: \"about 5\"}}\n"
        ),
        "bad-expect",
        7,
        69,
        "invalid comparison `about 5`"
    );
    error_case!(
        empty_db_query,
        with_head(
            "  a:\n    probe: {postgres: {dsn: \"postgres://h/db\", query: \" \", expect: \"< 5\"}}\n"
        ),
        "incomplete-query",
        7,
        55,
        "is empty"
    );
    error_case!(
        bad_max_lag,
        with_head(
            "  a:\n    probe: {postgres: {dsn: \"postgres://h/db\", replication: {max_lag: 10 sec}}}\n"
        ),
        "bad-duration",
        7,
        71,
        "`replication.max_lag`"
    );
    error_case!(
        zero_max_lag,
        with_head(
            "  a:\n    probe: {mysql: {dsn: \"mysql://h/db\", replication: {max_lag: 0s}}}\n"
        ),
        "zero-duration",
        7,
        65,
        "`replication.max_lag`"
    );
    error_case!(
        unknown_replication_key,
        with_head("  a:\n    probe: {mysql: {dsn: \"mysql://h/db\", replication: {lag: 1s}}}\n"),
        "unknown-key",
        7,
        56,
        "`lag`"
    );
    error_case!(
        bad_info_field,
        with_head("  a:\n    probe: {redis: {url: \"redis://h\", info: {Used-Memory: \"< 5\"}}}\n"),
        "bad-info-field",
        7,
        46,
        "`Used-Memory`"
    );
    error_case!(
        bad_info_comparison,
        with_head(
            "  a:\n    probe: {redis: {url: \"redis://h\", info: {connected_slaves: \">= one\"}}}\n"
        ),
        "bad-expect",
        7,
        64,
        "`>= one`"
    );
    error_case!(
        memory_ratio_needs_comparison,
        with_head(
            "  a:\n    probe: {redis: {url: \"redis://h\", info: {memory_ratio: \"0.9\"}}}\n"
        ),
        "bad-expect",
        7,
        60,
        "`0.9`"
    );
    error_case!(
        unknown_redis_role,
        with_head("  a:\n    probe: {redis: {url: \"redis://h\", info: {role: primary}}}\n"),
        "unknown-value",
        7,
        52,
        "`primary`"
    );

    error_case!(
        unsupported_pg_sslmode,
        with_head("  a:\n    probe: {postgres: {dsn: \"postgres://h/db?sslmode=verify-ca\"}}\n"),
        "bad-url",
        7,
        29,
        "unsupported `sslmode=verify-ca`",
        help = "use `sslmode=verify-full`: it checks the chain and the host name"
    );
    error_case!(
        unsupported_mysql_ssl_mode,
        with_head("  a:\n    probe: {mysql: {dsn: \"mysql://h/db?ssl-mode=SOMETIMES\"}}\n"),
        "bad-url",
        7,
        26,
        "unsupported `ssl-mode=SOMETIMES`"
    );

    #[test]
    fn database_query_and_replication_reach_the_model() {
        let t = load(&with_head(concat!(
            "  a:\n",
            "    probe:\n",
            "      postgres:\n",
            "        dsn: postgres://h/db\n",
            "        query: SELECT count(*) FROM pg_stat_activity\n",
            "        expect: \"< 5\"\n",
            "        label: active queries\n",
            "        replication: { max_lag: 10s }\n",
        )))
        .expect("loads")
        .topology;
        let Some(Check::Postgres(d)) = t.services[0].instances[0].probe.as_ref().map(|p| &p.check)
        else {
            panic!("a postgres probe")
        };
        let q = d.query.as_ref().expect("a query");
        assert_eq!(q.sql.expose(), "SELECT count(*) FROM pg_stat_activity");
        assert_eq!(
            q.expect,
            Comparison {
                op: CompareOp::Lt,
                threshold: 5.0
            }
        );
        assert_eq!(q.label.as_deref(), Some("active queries"));
        assert_eq!(
            d.replication.map(|r| r.max_lag),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn redis_info_reaches_the_model() {
        let t = load(&with_head(concat!(
            "  a:\n",
            "    probe:\n",
            "      redis:\n",
            "        url: rediss://h:6380\n",
            "        ca_file: /etc/ca.pem\n",
            "        info: { role: replica, connected_slaves: \">= 1\", memory_ratio: \"< 0.9\", loading: 0 }\n",
        )))
        .expect("loads")
        .topology;
        let Some(Check::Redis(r)) = t.services[0].instances[0].probe.as_ref().map(|p| &p.check)
        else {
            panic!("a redis probe")
        };
        assert_eq!(r.ca_file.as_ref().map(Text::expose), Some("/etc/ca.pem"));
        let got: Vec<(&str, &InfoExpect)> = r
            .info
            .iter()
            .map(|i| (i.field.as_str(), &i.expect))
            .collect();
        let cmp = |op, threshold| InfoExpect::Compare(Comparison { op, threshold });
        assert_eq!(
            got,
            [
                ("role", &InfoExpect::Equals("slave".to_owned())),
                ("connected_slaves", &cmp(CompareOp::Ge, 1.0)),
                ("memory_ratio", &cmp(CompareOp::Lt, 0.9)),
                ("loading", &cmp(CompareOp::Eq, 0.0)),
            ]
        );
    }
}

//! Validation cases: code, line and column of every rule, and the model built from valid files.

use super::super::load::test_support::{HEAD, diagnostics, error_case, load};
use super::*;
use crate::topology::model::{
    Check, CompareOp, Defaults, HttpPhase, RiskRule, Severity as RiskSeverity, Strength, Target,
    Text,
};

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
    zero_keep_runs,
    top("inspect: {keep_runs: 0}\nservices: {a: {}}\n"),
    "zero-count",
    3,
    22,
    "`inspect.keep_runs` must be at least 1"
);
error_case!(
    bad_history_retention,
    top("inspect: {history: 30 days}\nservices: {a: {}}\n"),
    "bad-duration",
    3,
    20,
    "invalid duration `30 days` for `inspect.history`"
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
    amqp_reserved_queue,
    with_head("  a:\n    probe: {amqp: {url: \"amqp://h\", queue: \"amq.probe\"}}\n"),
    "bad-probe-name",
    7,
    44,
    "`amq.probe`"
);
error_case!(
    amqp_queue_with_space,
    with_head("  a:\n    probe: {amqp: {url: \"amqp://h\", queue: \"my queue\"}}\n"),
    "bad-probe-name",
    7,
    44,
    "only letters"
);
error_case!(
    mqtt_wildcard_topic,
    with_head("  a:\n    probe: {mqtt: {url: \"mqtt://h\", topic: \"a/+/b\"}}\n"),
    "bad-probe-name",
    7,
    44,
    "wildcards"
);
error_case!(
    nats_wildcard_subject,
    with_head("  a:\n    probe: {nats: {url: \"nats://h\", subject: \"a.>\"}}\n"),
    "bad-probe-name",
    7,
    46,
    "wildcards"
);
error_case!(
    nats_empty_token,
    with_head("  a:\n    probe: {nats: {url: \"nats://h\", subject: \"a..b\"}}\n"),
    "bad-probe-name",
    7,
    46,
    "tokens"
);
error_case!(
    amqp_bad_scheme,
    with_head("  a:\n    probe: {amqp: {url: \"amqps://h\"}}\n"),
    "bad-url",
    7,
    25,
    "`amqps://h`"
);
error_case!(
    grpc_bad_scheme,
    with_head("  a:\n    probe: {grpc: {url: \"grpc://h\"}}\n"),
    "bad-url",
    7,
    25,
    "`grpc://h`"
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
fn inspect_retention_is_read_and_defaulted() {
    let t = load(&top("services: {a: {}}\n")).unwrap().topology;
    assert_eq!(
        t.inspect,
        crate::topology::model::InspectSettings::default()
    );
    assert_eq!(t.inspect.keep_runs, 30);
    assert_eq!(t.inspect.history, Duration::from_secs(30 * 86_400));
    let t = load(&top(
        "inspect: {keep_runs: 5, history: 12h}\nservices: {a: {}}\n",
    ))
    .unwrap()
    .topology;
    assert_eq!(t.inspect.keep_runs, 5);
    assert_eq!(t.inspect.history, Duration::from_secs(12 * 3600));
    let t = load(&top("inspect:\nservices: {a: {}}\n"))
        .unwrap()
        .topology;
    assert_eq!(t.inspect.keep_runs, 30);
    let diags = diagnostics(&top("inspect: {keep: 5}\nservices: {a: {}}\n"));
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("keep") && d.span.is_some_and(|s| s.line == 3)),
        "{diags:?}"
    );
}

error_case!(
    slow_unknown_phase,
    with_head(
        "  a:\n    probe:\n      http: {url: \"http://h/\"}\n      slow: {first_bite: 150ms}\n"
    ),
    "unknown-phase",
    9,
    14,
    "unknown phase `first_bite` in `slow`",
    help = "did you mean `first_byte`?"
);
error_case!(
    slow_phase_bad_duration,
    with_head("  a:\n    probe:\n      http: {url: \"http://h/\"}\n      slow: {tls: fast}\n"),
    "bad-duration",
    9,
    19,
    "invalid duration `fast` for the `slow` threshold of phase `tls`"
);
error_case!(
    slow_phase_on_a_tcp_probe,
    with_head("  a:\n    probe:\n      tcp: {address: \"h:1\"}\n      slow: {connect: 50ms}\n"),
    "phase-not-timed",
    9,
    13,
    "only an `http` probe times phases (this is a `tcp` probe)"
);

#[test]
fn slow_may_name_http_phases() {
    let src = with_head(concat!(
        "  a:\n    probe:\n      http: {url: \"http://h/\"}\n",
        "      slow: {transfer: 1s, first_byte: 150ms, total: 2s}\n",
        "  b:\n    probe:\n      http: {url: \"http://h/\"}\n      slow: {dns: 20ms}\n",
    ));
    let t = load(&src).unwrap().topology;
    let probe = |name: &str| {
        t.service(t.index_of(name).unwrap()).instances[0]
            .probe
            .clone()
            .unwrap()
    };
    let a = probe("a");
    let Check::Http(h) = &a.check else {
        panic!("{a:?}")
    };
    assert_eq!(a.slow, Duration::from_secs(2));
    assert_eq!(
        h.slow_phases,
        [
            (HttpPhase::FirstByte, Duration::from_millis(150)),
            (HttpPhase::Transfer, Duration::from_secs(1)),
        ]
    );
    // Without `total`, the whole answer keeps the default threshold.
    let b = probe("b");
    let Check::Http(h) = &b.check else {
        panic!("{b:?}")
    };
    assert_eq!(b.slow, Defaults::default().slow);
    assert_eq!(h.slow_phases, [(HttpPhase::Dns, Duration::from_millis(20))]);
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

/// The file's duration notation, as the validator reads it.
fn parse_duration(s: &str) -> Result<Duration, String> {
    s.parse::<crate::duration::HumanDuration>().map(|h| h.0)
}

#[test]
fn durations_parse() {
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
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

// Operations (SPEC §1, issue 14).

const OPS: &str = "version: 1\nname: t\nlinks:\n  checkout: { entry: frontend, operation: checkout }\n  browse: { entry: frontend }\n  gateway-home: { entry: gateway }\nservices:\n  frontend:\n    replicas: 3\n    depends_on: { currency: strong }\n    operations:\n      home: { depends_on: { catalog: strong, ad: { strength: weak, timeout: 100ms } } }\n      checkout:\n        description: Places the order\n        depends_on: { checkout-svc: strong }\n  gateway:\n    depends_on:\n      frontend: { strength: strong, operation: home }\n  currency: {}\n  catalog: {}\n  ad: {}\n  checkout-svc: {}\n";

#[test]
fn operations_are_read_sorted_and_resolved() {
    let loaded = load(OPS).unwrap();
    let t = &loaded.topology;
    let fe = t.service(t.index_of("frontend").unwrap());
    let names: Vec<&str> = fe.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["checkout", "home"]);
    assert_eq!(
        fe.operations[0].description.as_deref(),
        Some("Places the order")
    );
    assert_eq!(fe.operations[1].depends_on.len(), 2);
    assert_eq!(fe.depends_on.len(), 1);
    let checkout = t
        .links
        .iter()
        .find(|l| l.name.as_str() == "checkout")
        .unwrap();
    assert_eq!(
        checkout.operation.map(|o| fe.operation_name(o)),
        Some("checkout")
    );
    let browse = t
        .links
        .iter()
        .find(|l| l.name.as_str() == "browse")
        .unwrap();
    assert_eq!(browse.operation, None);
    let gw = t.service(t.index_of("gateway").unwrap());
    assert_eq!(
        gw.depends_on[0].operation.map(|o| fe.operation_name(o)),
        Some("home")
    );
    // Dependencies of operations count for reachability: no warning.
    assert!(
        loaded.warnings.items.is_empty(),
        "{:#?}",
        loaded.warnings.items
    );
}

error_case!(
    unknown_operation_of_a_link,
    OPS.replace("operation: checkout }", "operation: chekout }"),
    "unknown-operation",
    4,
    43,
    "link `checkout` enters `frontend` through operation `chekout`, which `frontend` does not declare",
    help = "did you mean `checkout`?"
);
error_case!(
    unknown_operation_of_a_dependency,
    OPS.replace("operation: home }", "operation: hom }"),
    "unknown-operation",
    18,
    48,
    "`gateway` calls `frontend` through operation `hom`",
    help = "did you mean `home`?"
);
error_case!(
    operation_of_a_service_without_operations,
    top(
        "links: {l: {entry: a}}\nservices:\n  a: {depends_on: {b: {strength: strong, operation: x}}}\n  b: {}\n"
    ),
    "unknown-operation",
    5,
    53,
    "`a` calls `b` through operation `x`, which `b` does not declare"
);
error_case!(
    operation_on_a_group,
    top(
        "links: {l: {entry: a}}\nservices:\n  a: {depends_on: {g: {strength: strong, any_of: [b, c], operation: x}}}\n  b: {}\n  c: {}\n"
    ),
    "operation-on-group",
    5,
    69,
    "`operation` on `a` → `g`, which is an any_of group"
);
error_case!(
    unknown_service_in_an_operation,
    OPS.replace("checkout-svc: strong", "checkout-sv: strong"),
    "unknown-service",
    15,
    23,
    "`frontend (checkout)` depends on `checkout-sv`, which is not a declared service",
    help = "did you mean `checkout-svc`?"
);
error_case!(
    unknown_key_in_an_operation,
    OPS.replace("description: Places", "descripton: Places"),
    "unknown-key",
    14,
    9,
    "descripton"
);

//! `metrics.prom`: the report in the Prometheus text exposition format (version 0.0.4), for the
//! node_exporter textfile collector, and (later) `watch`'s `/metrics`.
//!
//! Every family has `# HELP` and `# TYPE`; no sample carries a timestamp (the textfile collector
//! refuses them); label values are escaped once, in [`label_value`]. Names follow Prometheus
//! conventions (`linkpatrol_` prefix, base units, `_seconds`) and blackbox_exporter where it has
//! the same notion (`probe_success`, `probe_duration_seconds`, and
//! `linkpatrol_probe_phase_seconds{phase}` after `probe_http_duration_seconds{phase}`, with its
//! phase names `resolve`, `connect`, `tls`, `processing`, `transfer`). State families use the
//! enum pattern of kube-state-metrics: one series per possible state, 1 for the current one, so
//! `linkpatrol_link_state{state="down"} == 1` is an alert expression.
//!
//! A pure function of the [`Report`]; samples come in report order (sorted), so the same report
//! gives the same bytes.

use std::fmt::Write as _;

use crate::report::report::Report;
use crate::state::State;
use crate::topology::model::HttpPhase;

/// Escapes a label value: backslash, double quote and line feed (the format's only escapes).
pub fn label_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as the format writes it (`NaN`, `+Inf`, `-Inf` spelled out).
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

struct Writer {
    out: String,
    /// `i/n` of a `--shard` run: every sample carries `shard="i/n"`, so the shards of one
    /// inspection scraped side by side stay apart.
    shard: Option<String>,
}

impl Writer {
    fn family(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} gauge");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        let shard = self.shard.as_deref().map(|s| ("shard", s));
        let mut labels = labels.iter().copied().chain(shard).peekable();
        if labels.peek().is_some() {
            self.out.push('{');
            for (i, (k, v)) in labels.enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", label_value(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Renders the report's metrics. Run-level families (`linkpatrol_inspection_*`) appear only
/// when the report has [`run`](Report::run) information; live SPOFs, root causes and probe
/// families only after probing.
pub fn render_metrics(report: &Report) -> String {
    let mut w = Writer {
        out: String::new(),
        shard: report
            .shard
            .as_ref()
            .map(|s| format!("{}/{}", s.index, s.count)),
    };
    let topo = report.topology.as_str();

    w.family(
        "linkpatrol_link_up",
        "Whether the core link works: 1 when its state is up or degraded, 0 when down or unknown.",
    );
    for l in &report.links {
        w.sample(
            "linkpatrol_link_up",
            &[("topology", topo), ("link", &l.name)],
            flag(l.state.is_alive()),
        );
    }
    w.family(
        "linkpatrol_link_state",
        "State of the core link: 1 for its current state, 0 for the others.",
    );
    for l in &report.links {
        for st in State::WORST_FIRST {
            w.sample(
                "linkpatrol_link_state",
                &[
                    ("topology", topo),
                    ("link", &l.name),
                    ("state", st.as_str()),
                ],
                flag(l.state == st),
            );
        }
    }
    w.family(
        "linkpatrol_service_state",
        "Effective state of the service (its probes and its dependencies): 1 for its current state, 0 for the others.",
    );
    for s in &report.services {
        for st in State::WORST_FIRST {
            w.sample(
                "linkpatrol_service_state",
                &[
                    ("topology", topo),
                    ("service", &s.id),
                    ("state", st.as_str()),
                ],
                flag(s.effective == st),
            );
        }
    }
    let probed = report.services.iter().any(|s| s.probes.is_some());
    if probed {
        w.family(
            "linkpatrol_probe_success",
            "Whether the probe of the instance passed (up, or degraded only by slowness).",
        );
        for s in &report.services {
            for p in s.probes.iter().flatten() {
                w.sample(
                    "linkpatrol_probe_success",
                    &[
                        ("topology", topo),
                        ("service", &s.id),
                        ("instance", &p.instance),
                    ],
                    flag(p.ok),
                );
            }
        }
        w.family(
            "linkpatrol_probe_duration_seconds",
            "Duration of the probe's last attempt, in seconds (absent when it never got an answer timed).",
        );
        for s in &report.services {
            for p in s.probes.iter().flatten() {
                if let Some(ms) = p.latency_ms {
                    w.sample(
                        "linkpatrol_probe_duration_seconds",
                        &[
                            ("topology", topo),
                            ("service", &s.id),
                            ("instance", &p.instance),
                        ],
                        ms / 1000.0,
                    );
                }
            }
        }
        let timed = |s: &crate::report::report::ServiceReport| {
            s.probes.iter().flatten().any(|p| p.phases.is_some())
        };
        if report.services.iter().any(timed) {
            w.family(
                "linkpatrol_probe_phase_seconds",
                "Duration of each phase of the http probe's last attempt, in seconds, summed over redirects: resolve (DNS), connect, tls, processing (request sent to first byte of the response), transfer (body).",
            );
            for s in &report.services {
                for p in s.probes.iter().flatten() {
                    let Some(phases) = &p.phases else { continue };
                    for phase in HttpPhase::ALL {
                        w.sample(
                            "linkpatrol_probe_phase_seconds",
                            &[
                                ("topology", topo),
                                ("service", &s.id),
                                ("instance", &p.instance),
                                ("phase", phase.metric_label()),
                            ],
                            // Microseconds, as the report holds them (no float noise).
                            (phases.get(phase) * 1e3).round() / 1e6,
                        );
                    }
                }
            }
        }
    }
    w.family(
        "linkpatrol_spofs",
        "Single points of failure of the core link by design (services and failure domains).",
    );
    for l in &report.links {
        w.sample(
            "linkpatrol_spofs",
            &[("topology", topo), ("link", &l.name)],
            l.spofs.len() as f64,
        );
    }
    if report.links.iter().any(|l| l.live_spofs.is_some()) {
        w.family(
            "linkpatrol_live_spofs",
            "Single further failures that would take the core link down, given what has already failed.",
        );
        for l in &report.links {
            if let Some(live) = &l.live_spofs {
                w.sample(
                    "linkpatrol_live_spofs",
                    &[("topology", topo), ("link", &l.name)],
                    live.len() as f64,
                );
            }
        }
    }
    if let Some(causes) = &report.root_causes {
        w.family(
            "linkpatrol_root_causes",
            "Independent failures (root causes) found by the inspection; every other failed service is a consequence of one of them.",
        );
        w.sample(
            "linkpatrol_root_causes",
            &[("topology", topo)],
            causes.len() as f64,
        );
    }
    w.family(
        "linkpatrol_risks",
        "Risk findings of the topology, by severity.",
    );
    for severity in ["error", "warning", "info"] {
        let n = report
            .risks
            .iter()
            .filter(|r| r.severity.to_string() == severity)
            .count();
        w.sample(
            "linkpatrol_risks",
            &[("topology", topo), ("severity", severity)],
            n as f64,
        );
    }
    if let Some(run) = &report.run {
        w.family(
            "linkpatrol_inspection_duration_seconds",
            "Wall time of the inspection run: probing, analysis and history.",
        );
        w.sample(
            "linkpatrol_inspection_duration_seconds",
            &[("topology", topo)],
            run.duration_seconds,
        );
        w.family(
            "linkpatrol_inspection_timestamp_seconds",
            "When the inspection run started, in seconds since the Unix epoch.",
        );
        w.sample(
            "linkpatrol_inspection_timestamp_seconds",
            &[("topology", topo)],
            run.start_unix_seconds,
        );
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(label_value("two\nlines"), "two\\nlines");
        assert_eq!(label_value("zone=az1 ü"), "zone=az1 ü");
    }

    #[test]
    fn numbers_use_the_format_spelling() {
        assert_eq!(number(1.0), "1");
        assert_eq!(number(0.0018), "0.0018");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
    }
}

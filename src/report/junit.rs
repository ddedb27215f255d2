//! `junit.xml`: the inspection as JUnit XML, so GitLab, Jenkins and GitHub test reporters show
//! it natively.
//!
//! One `<testsuite>` per core link (one `<testcase>`: the link itself) and one `probes` suite
//! with a `<testcase>` per probed instance. `classname` is `linkpatrol.link.NAME` or
//! `linkpatrol.probe.SERVICE`; `time` is in seconds (a probe's latency; a link's, its entry's
//! slowest answering instance). A down link or a failed probe is a `<failure>` whose message is
//! the reason; a degraded one passes with a `<system-out>` note; an unknown one is `<skipped>`
//! (nothing decided it). Every attribute and text goes through `Xml`, which escapes once and
//! drops characters XML 1.0 cannot carry.
//!
//! A pure function of the [`Report`].

use std::fmt::Write as _;

use crate::report::report::{LinkReport, Report, ServiceReport};
use crate::state::State;

/// Escapes XML text and attribute values; removes characters XML 1.0 forbids (C0 controls
/// other than tab, line feed and carriage return, and U+FFFE/U+FFFF). Tab, line feed and carriage
/// return become character references so that attribute values keep them.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // As references, so attribute values keep them (a parser turns raw ones into spaces).
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// A tiny element writer: attributes and text are always escaped here, nowhere else.
struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn head(&mut self, tag: &str, attrs: &[(&str, String)]) {
        self.indent();
        let _ = write!(self.out, "<{tag}");
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", xml_escape(v));
        }
    }

    fn open(&mut self, tag: &str, attrs: &[(&str, String)]) {
        self.head(tag, attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    fn close(&mut self, tag: &str) {
        self.depth -= 1;
        self.indent();
        let _ = writeln!(self.out, "</{tag}>");
    }

    fn empty(&mut self, tag: &str, attrs: &[(&str, String)]) {
        self.head(tag, attrs);
        self.out.push_str("/>\n");
    }

    fn text_element(&mut self, tag: &str, attrs: &[(&str, String)], text: &str) {
        self.head(tag, attrs);
        let _ = writeln!(self.out, ">{}</{tag}>", xml_escape(text));
    }
}

fn seconds(ms: Option<f64>) -> String {
    // `+ 0.0` turns the `-0.0` of an empty sum into `0`.
    format!("{:.6}", ms.unwrap_or(0.0) / 1000.0 + 0.0)
}

/// Verdict of one test case.
enum Verdict {
    Pass(Option<String>),
    Fail {
        kind: String,
        message: String,
        detail: String,
    },
    Skip(String),
}

struct Case {
    name: String,
    classname: String,
    time_ms: Option<f64>,
    verdict: Verdict,
}

fn entry_latency(report: &Report, link: &LinkReport) -> Option<f64> {
    let entry = report.services.iter().find(|s| s.id == link.entry)?;
    slowest(entry)
}

fn slowest(s: &ServiceReport) -> Option<f64> {
    s.probes
        .iter()
        .flatten()
        .filter(|p| p.state != State::Down)
        .filter_map(|p| p.latency_ms)
        .reduce(f64::max)
}

fn link_case(report: &Report, l: &LinkReport) -> Case {
    let down_on_path: Vec<String> = l
        .critical_path
        .iter()
        .filter_map(|id| report.services.iter().find(|s| &s.id == id))
        .filter(|s| s.observed == State::Down)
        .map(|s| s.id.clone())
        .collect();
    let causes: Vec<String> = report
        .root_causes
        .iter()
        .flatten()
        .filter(|c| c.links.contains(&l.name))
        .map(|c| format!("{} {} ({})", c.id, c.state, c.reason))
        .collect();
    let why = if !causes.is_empty() {
        format!(" because of {}", causes.join("; "))
    } else if !down_on_path.is_empty() {
        format!(": failed on its critical path: {}", down_on_path.join(", "))
    } else {
        String::new()
    };
    let verdict = match l.state {
        State::Down => Verdict::Fail {
            kind: "down".to_owned(),
            message: format!("link {} is down{why}", l.name),
            detail: format!("critical path: {}", l.critical_path.join(" → ")),
        },
        State::Degraded => Verdict::Pass(Some(format!("link {} is degraded{why}", l.name))),
        State::Unknown => {
            Verdict::Skip(format!("link {}: state unknown (entry not probed)", l.name))
        }
        State::Up => Verdict::Pass(None),
    };
    Case {
        name: l.name.clone(),
        classname: format!("linkpatrol.link.{}", l.name),
        time_ms: entry_latency(report, l),
        verdict,
    }
}

fn probe_cases(report: &Report) -> Vec<Case> {
    let mut cases = Vec::new();
    for s in &report.services {
        for p in s.probes.iter().flatten() {
            let reason = p.reason.clone().unwrap_or_else(|| p.state.to_string());
            let verdict = if p.state == State::Unknown {
                Verdict::Skip(reason)
            } else if !p.ok {
                Verdict::Fail {
                    kind: p.state.to_string(),
                    message: reason,
                    detail: format!("{}/{}: {}", s.id, p.instance, p.state),
                }
            } else if p.state == State::Degraded {
                Verdict::Pass(Some(format!("degraded: {reason}")))
            } else {
                Verdict::Pass(None)
            };
            cases.push(Case {
                name: format!("{}/{}", s.id, p.instance),
                classname: format!("linkpatrol.probe.{}", s.id),
                time_ms: p.latency_ms,
                verdict,
            });
        }
    }
    cases
}

fn suite(x: &mut Xml, name: &str, timestamp: Option<&str>, cases: &[Case]) {
    let failures = cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail { .. }))
        .count();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Skip(_)))
        .count();
    let total: f64 = cases.iter().filter_map(|c| c.time_ms).sum();
    let mut attrs = vec![
        ("name", name.to_owned()),
        ("tests", cases.len().to_string()),
        ("failures", failures.to_string()),
        ("errors", "0".to_owned()),
        ("skipped", skipped.to_string()),
        ("time", seconds(Some(total))),
    ];
    if let Some(t) = timestamp {
        attrs.push(("timestamp", t.to_owned()));
    }
    x.open("testsuite", &attrs);
    for c in cases {
        let attrs = [
            ("name", c.name.clone()),
            ("classname", c.classname.clone()),
            ("time", seconds(c.time_ms)),
        ];
        match &c.verdict {
            Verdict::Pass(None) => x.empty("testcase", &attrs),
            Verdict::Pass(Some(note)) => {
                x.open("testcase", &attrs);
                x.text_element("system-out", &[], note);
                x.close("testcase");
            }
            Verdict::Fail {
                kind,
                message,
                detail,
            } => {
                x.open("testcase", &attrs);
                x.text_element(
                    "failure",
                    &[("message", message.clone()), ("type", kind.clone())],
                    detail,
                );
                x.close("testcase");
            }
            Verdict::Skip(message) => {
                x.open("testcase", &attrs);
                x.empty("skipped", &[("message", message.clone())]);
                x.close("testcase");
            }
        }
    }
    x.close("testsuite");
}

/// Renders the report as JUnit XML.
pub fn render_junit(report: &Report) -> String {
    let mut x = Xml {
        out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        depth: 0,
    };
    let timestamp = report
        .run
        .as_ref()
        .map(|r| r.start.trim_end_matches('Z').to_owned());
    let link_cases: Vec<(String, Case)> = report
        .links
        .iter()
        .map(|l| (format!("link {}", l.name), link_case(report, l)))
        .collect();
    let probes = probe_cases(report);
    let cases = link_cases.len() + probes.len();
    let failures = link_cases
        .iter()
        .map(|(_, c)| c)
        .chain(&probes)
        .filter(|c| matches!(c.verdict, Verdict::Fail { .. }))
        .count();
    let mut attrs = vec![
        ("name", format!("linkpatrol {}", report.topology)),
        ("tests", cases.to_string()),
        ("failures", failures.to_string()),
        ("errors", "0".to_owned()),
    ];
    if let Some(run) = &report.run {
        attrs.push(("time", format!("{:.6}", run.duration_seconds)));
    }
    x.open("testsuites", &attrs);
    for (name, case) in &link_cases {
        suite(
            &mut x,
            name,
            timestamp.as_deref(),
            std::slice::from_ref(case),
        );
    }
    if !probes.is_empty() {
        suite(&mut x, "probes", timestamp.as_deref(), &probes);
    }
    x.close("testsuites");
    x.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(
            xml_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(xml_escape("bell\u{7} tab\t"), "bell tab&#9;");
    }
}

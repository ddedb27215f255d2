//! Root causes as the text and Markdown writers show them, on the bundled topology with a
//! fixed set of probe outcomes (no network): a database down under the order link, one Redis
//! instance of three down (degraded), one SMS provider down (a weak group, degraded only).

use linkpatrol::analysis::{Options, analyze};
use linkpatrol::report::build::build;
use linkpatrol::report::markdown::{MarkdownOptions, render_markdown};
use linkpatrol::report::report::{ProbeResult, Report};
use linkpatrol::report::text::{Paint, render_text, root_cause_lines};
use linkpatrol::state::State;
use linkpatrol::topology::load::load_file;
use linkpatrol::topology::model::Topology;

fn outage() -> (Topology, Report) {
    let topo = load_file(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topology.yaml"))
        .expect("the bundled topology loads");
    let fail = |service: &str, instance: usize| -> Option<&'static str> {
        match (service, instance) {
            ("mysql-primary", 0) => Some("connection refused"),
            ("redis", 2) => Some("cannot connect to `127.0.0.1:18702`: connection refused"),
            ("sms-provider-a", 0) => Some("status 503, expected 200"),
            _ => None,
        }
    };
    let mut observed = Vec::new();
    let mut probes = Vec::new();
    for svc in &topo.services {
        let mut states = Vec::new();
        let mut results = Vec::new();
        for (i, inst) in svc.instances.iter().enumerate() {
            let reason = fail(svc.name.as_str(), i);
            let state = if reason.is_some() {
                State::Down
            } else {
                State::Up
            };
            states.push(state);
            results.push(ProbeResult {
                instance: inst.id.clone(),
                ok: reason.is_none(),
                state,
                latency_ms: Some(1.0),
                reason: reason.map(str::to_owned),
                phases: None,
            });
        }
        observed.push(states);
        probes.push(results);
    }
    let analysis = analyze(
        &topo,
        &Options {
            observed: Some(&observed),
            ..Options::default()
        },
    )
    .expect("analysis runs");
    let report = build(&topo, &analysis, Some(&probes));
    (topo, report)
}

#[test]
fn text_root_causes() {
    let (_, report) = outage();
    let causes = report.root_causes.as_ref().expect("computed");
    let ids: Vec<&str> = causes.iter().map(|c| c.id.as_str()).collect();
    // Down before degraded.
    assert_eq!(ids, ["mysql-primary", "sms-provider-a", "redis"]);
    insta::assert_snapshot!(root_cause_lines(&report, Paint::new(false)));
    // The analyze text shows the same block before the links.
    let text = render_text(&report, false);
    assert!(text.contains(&root_cause_lines(&report, Paint::new(false))));
}

#[test]
fn markdown_root_causes() {
    let (topo, report) = outage();
    let md = render_markdown(&topo, &report, &MarkdownOptions::default()).unwrap();
    let end = md.find("## Single points of failure").unwrap_or(md.len());
    insta::assert_snapshot!(&md[..end]);
}

#[test]
fn html_root_causes() {
    use linkpatrol::report::html::{HtmlOptions, render_html};
    let (topo, report) = outage();
    let page = render_html(&topo, &report, &HtmlOptions::default());
    let start = page
        .find("<section id=\"root-causes\">")
        .expect("root causes section");
    let end = start + page[start..].find("</section>").unwrap() + "</section>".len();
    // Before the link cards, after the summary.
    assert!(start < page.find("<section id=\"links\">").unwrap());
    insta::assert_snapshot!(&page[start..end]);
    // The order link's card and the dependents' probe rows name the root cause.
    let because = "down because of <code>mysql-primary</code>";
    assert_eq!(page.matches(because).count(), 1 + 3, "{page}");
}

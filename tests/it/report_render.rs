//! Report building and rendering (text, JSON) and `diff`, on a takeaway-like topology built in
//! code.

use std::time::Duration;

use crate::topo::{Dep, build, svc, svc_in};
use linkpatrol::analysis::diff::diff;
use linkpatrol::analysis::{Options, analyze, parse_events};
use linkpatrol::report::build::build as build_report;
use linkpatrol::report::diff_markdown::render_diff_markdown;
use linkpatrol::report::diff_text::{render_diff_json, render_diff_text};
use linkpatrol::report::json::render_json;
use linkpatrol::report::markdown::{MarkdownOptions, render_markdown};
use linkpatrol::report::text::render_text;
use linkpatrol::topology::model::{Check, Probe, RiskRule, Strength, TcpCheck, Text, Topology};

fn probed(mut topo: Topology, names: &[&str]) -> Topology {
    for s in &mut topo.services {
        if names.contains(&s.name.as_str()) {
            for i in &mut s.instances {
                i.probe = Some(std::sync::Arc::new(Probe {
                    check: Check::Tcp(TcpCheck {
                        address: Text::plain("{address}"),
                        send: None,
                        expect: None,
                    }),
                    timeout: Duration::from_secs(2),
                    retries: 1,
                    slow: Duration::from_millis(300),
                }));
            }
        }
    }
    topo
}

fn takeaway(order_service_replicas: usize) -> Topology {
    let mut svcs = vec![
        svc_in(
            "platform-callback",
            vec![
                vec!["zone=az1", "host=edge-1"],
                vec!["zone=az2", "host=edge-2"],
            ],
            1,
            vec![
                Dep::Strong("order-service"),
                Dep::Weak("sms"),
                Dep::AnyOf(Strength::Strong, vec!["pay-a", "pay-b"], 1),
            ],
        ),
        svc_in(
            "order-service",
            (0..order_service_replicas)
                .map(|i| vec![if i % 2 == 0 { "zone=az1" } else { "zone=az2" }])
                .collect(),
            1,
            vec![Dep::Strong("order-db"), Dep::Weak("menu")],
        ),
        svc_in("order-db", vec![vec!["zone=az1", "host=db-1"]], 1, vec![]),
        svc_in(
            "pay-a",
            vec![vec!["zone=az1"]],
            1,
            vec![Dep::Strong("risk-engine")],
        ),
        svc_in(
            "pay-b",
            vec![vec!["zone=az2"]],
            1,
            vec![Dep::Strong("risk-engine")],
        ),
        svc_in(
            "risk-engine",
            vec![vec!["zone=az1"], vec!["zone=az1"]],
            1,
            vec![],
        ),
        svc("sms", 2, 1, vec![]),
        svc("menu", 1, 1, vec![]),
        svc_in(
            "refund-api",
            vec![vec!["zone=az1"], vec!["zone=az2"]],
            1,
            vec![Dep::Strong("pay-a"), Dep::Strong("order-db")],
        ),
    ];
    svcs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut topo = build(
        svcs,
        &[
            ("order-acceptance", "platform-callback"),
            ("refund", "refund-api"),
        ],
    );
    "takeaway-isv".clone_into(&mut topo.name);
    // The weak edge to sms has no timeout.
    let pc = topo.index_of("platform-callback").unwrap();
    for d in &mut topo.services[pc.get()].depends_on {
        if d.label == "sms" {
            d.timeout = None;
        }
    }
    probed(
        topo,
        &[
            "platform-callback",
            "order-service",
            "order-db",
            "pay-a",
            "pay-b",
        ],
    )
}

#[test]
fn text_report() {
    let topo = takeaway(2);
    let a = analyze(&topo, &Options::default()).unwrap();
    let report = build_report(&topo, &a, None);
    let text = render_text(&report, false);
    assert!(
        text.contains("platform-callback → order-service ⟶ order-db"),
        "{text}"
    );
    assert!(!text.contains('\x1b'));
    insta::assert_snapshot!("analyze_text", text);
    insta::assert_snapshot!(
        "analyze_markdown",
        render_markdown(&topo, &report, &MarkdownOptions::default()).unwrap()
    );
    assert!(render_text(&report, true).contains("\x1b[31m"));
}

#[test]
fn text_report_depth2_and_what_if() {
    let topo = takeaway(2);
    let failed = parse_events(&topo, "zone=az2").unwrap();
    let a = analyze(
        &topo,
        &Options {
            depth: 2,
            failed: &failed,
            ..Options::default()
        },
    )
    .unwrap();
    let report = build_report(&topo, &a, None);
    assert_eq!(report.assumed_failed, Some(vec!["zone=az2".to_owned()]));
    insta::assert_snapshot!("analyze_text_depth2_fail", render_text(&report, false));
    insta::assert_snapshot!(
        "analyze_markdown_depth2_fail",
        render_markdown(&topo, &report, &MarkdownOptions::default()).unwrap()
    );
}

#[test]
fn json_report_is_deterministic_and_matches_the_contract() {
    let topo = takeaway(2);
    let a = analyze(&topo, &Options::default()).unwrap();
    let json = render_json(&build_report(&topo, &a, None));
    assert!(json.ends_with("}\n"));
    let again = render_json(&build_report(
        &topo,
        &analyze(&topo, &Options::default()).unwrap(),
        None,
    ));
    assert_eq!(json, again);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let link = &v["links"][0];
    assert_eq!(link["name"], "order-acceptance");
    assert_eq!(link["state"], "unknown");
    assert!(link.get("live_spofs").is_none());
    assert!(link.get("pairs").is_none());
    assert_eq!(link["spofs"][0]["kind"], "service");
    assert_eq!(link["spofs"][0]["id"], "order-db");
    assert!(v.get("assumed_failed").is_none());
    assert!(v["services"][0].get("probes").is_none());
    insta::assert_snapshot!("analyze_json", json);
}

#[test]
fn diff_gates_a_new_spof() {
    let old = takeaway(2);
    let new = takeaway(1);
    let d = diff(&old, &new);
    assert!(d.gates_fail());
    assert_eq!(d.redundancy_changed.len(), 1);
    let link = d
        .links
        .iter()
        .find(|l| l.name == "order-acceptance")
        .unwrap();
    assert_eq!(link.spofs_added, vec!["order-service".to_owned()]);
    assert!(d.risks_added.iter().any(|r| r.rule == RiskRule::Spof));
    insta::assert_snapshot!("diff_text", render_diff_text(&d, false));
    insta::assert_snapshot!("diff_markdown", render_diff_markdown(&d));
    let json = render_diff_json(&d);
    assert!(json.contains("\"spofs_added\""));

    // The reverse change removes a SPOF and passes the gate.
    let back = diff(&new, &old);
    assert!(!back.gates_fail());
    assert_eq!(
        back.links[0].spofs_removed,
        vec!["order-service".to_owned()]
    );
    // No change at all.
    let same = diff(&old, &old);
    assert!(same.is_empty() && !same.gates_fail());
    assert!(render_diff_text(&same, false).contains("no changes"));
}

#[test]
fn diff_reports_edges_and_strength() {
    let old = takeaway(2);
    let mut new = takeaway(2);
    let pc = new.index_of("platform-callback").unwrap();
    for d in &mut new.services[pc.get()].depends_on {
        if d.label == "sms" {
            d.strength = Strength::Strong;
        }
    }
    let os = new.index_of("order-service").unwrap();
    new.services[os.get()]
        .depends_on
        .retain(|d| d.label != "menu");
    let d = diff(&old, &new);
    assert_eq!(d.strength_changed.len(), 1);
    assert_eq!(d.strength_changed[0].to, "sms");
    assert_eq!(d.edges_removed.len(), 1);
    assert_eq!(d.edges_removed[0].to, "menu");
    let link = d
        .links
        .iter()
        .find(|l| l.name == "order-acceptance")
        .unwrap();
    assert_eq!(link.critical_path_added, vec!["sms".to_owned()]);
    assert!(link.spofs_added.is_empty(), "sms has a spare");
    assert!(!d.gates_fail());
}

#[test]
fn disabled_rules_and_severity_overrides() {
    let mut topo = takeaway(2);
    topo.risks.disabled.insert(RiskRule::UnprobedCritical);
    topo.risks.severity.insert(
        RiskRule::WeakWithoutTimeout,
        linkpatrol::topology::model::Severity::Error,
    );
    let a = analyze(&topo, &Options::default()).unwrap();
    assert!(a.risks.iter().all(|r| r.rule != RiskRule::UnprobedCritical));
    let w = a
        .risks
        .iter()
        .find(|r| r.rule == RiskRule::WeakWithoutTimeout)
        .unwrap();
    assert_eq!(w.severity, linkpatrol::topology::model::Severity::Error);
    assert_eq!(
        w.subjects,
        vec!["platform-callback".to_owned(), "sms".to_owned()]
    );
}

#[test]
fn deep_chain_and_hotspot_and_noncore() {
    let mut topo = build(
        vec![
            svc("a", 1, 1, vec![Dep::Strong("b")]),
            svc("b", 1, 1, vec![Dep::Strong("c")]),
            svc("c", 1, 1, vec![Dep::Strong("d")]),
            svc("d", 1, 1, vec![]),
            svc("e", 1, 1, vec![Dep::Strong("c")]),
            svc("f", 1, 1, vec![Dep::Strong("c")]),
        ],
        &[("l1", "a"), ("l2", "e"), ("l3", "f")],
    );
    topo.risks.max_strong_depth = 2;
    let c = topo.index_of("c").unwrap();
    topo.services[c.get()].core = false;
    topo.services[c.get()].core_explicit = true;
    let a = analyze(&topo, &Options::default()).unwrap();
    let find = |rule| a.risks.iter().filter(move |r| r.rule == rule);
    let deep: Vec<_> = find(RiskRule::DeepStrongChain).collect();
    assert_eq!(deep.len(), 1);
    assert_eq!(deep[0].subjects, ["a", "b", "c", "d"]);
    let hot: Vec<_> = find(RiskRule::SharedHotspot).collect();
    assert_eq!(hot.len(), 2, "c and d are on all three links");
    assert_eq!(hot[0].subjects, ["c", "l1", "l2", "l3"]);
    let noncore: Vec<_> = find(RiskRule::NoncoreOnCriticalPath).collect();
    assert_eq!(noncore.len(), 1);
    assert_eq!(noncore[0].subjects[0], "c");
    assert_eq!(find(RiskRule::UnprobedCritical).count(), 6);
    // Ranking: d and c both take three links down; d takes more services with it.
    assert_eq!(a.ranking[0], topo.index_of("d").unwrap());
    assert_eq!(a.ranking[1], c);
}

#[test]
fn diff_reports_group_min_and_link_filter() {
    use linkpatrol::topology::model::Target;
    let old = takeaway(2);
    let mut new = takeaway(2);
    let pc = new.index_of("platform-callback").unwrap();
    for d in &mut new.services[pc.get()].depends_on {
        if let Target::AnyOf { min, .. } = &mut d.target {
            *min = 2;
        }
    }
    let d = diff(&old, &new);
    assert_eq!(d.group_min_changed.len(), 1);
    assert_eq!(
        (
            d.group_min_changed[0].old_min,
            d.group_min_changed[0].new_min
        ),
        (1, 2)
    );
    // Both payment providers are now SPOFs of order acceptance.
    let link = d
        .links
        .iter()
        .find(|l| l.name == "order-acceptance")
        .unwrap();
    assert_eq!(
        link.spofs_added,
        vec![
            "pay-a".to_owned(),
            "pay-b".to_owned(),
            "zone=az2".to_owned()
        ]
    );
    assert!(d.gates_fail());
    assert!(render_diff_text(&d, false).contains("platform-callback any_of group2: min 1 → 2"));

    let a = analyze(
        &old,
        &Options {
            link: Some("refund"),
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(a.links.len(), 1);
    assert_eq!(old.links[a.links[0].link].name.as_str(), "refund");
}

/// Issue 11: one `spof` risk per event naming every link it takes down, and the text output
/// caps long lists with a pointer to the JSON report, which has them all.
#[test]
fn spof_risks_group_by_event_and_long_text_lists_are_capped() {
    use crate::topo::{DepIdx, Svc};
    let leaves: Vec<String> = (0..30).map(|i| format!("leaf-{i:02}")).collect();
    let entry = |name: &str| Svc {
        name: name.to_owned(),
        instances: vec![vec![], vec![]],
        min_healthy: 1,
        deps: leaves
            .iter()
            .map(|l| DepIdx::Single(Strength::Strong, l.clone(), None))
            .collect(),
    };
    let mut svcs = vec![entry("entry-a"), entry("entry-b")];
    svcs.extend(leaves.iter().map(|l| svc(l, 1, 1, vec![])));
    let topo = build(svcs, &[("link-a", "entry-a"), ("link-b", "entry-b")]);
    let a = analyze(&topo, &Options::default()).unwrap();
    let report = build_report(&topo, &a, None);
    let spof_risks: Vec<_> = report
        .risks
        .iter()
        .filter(|r| r.rule == RiskRule::Spof)
        .collect();
    assert_eq!(spof_risks.len(), 30, "one per event, not per link × event");
    assert_eq!(spof_risks[0].subjects, ["leaf-00", "link-a", "link-b"]);
    assert_eq!(
        spof_risks[0].message,
        "`leaf-00` has no spare instance and its loss takes down 2 links: `link-a`, `link-b` (shortest: entry-a → leaf-00)"
    );
    let text = render_text(&report, false);
    assert!(
        text.contains("  critical path (31): entry-a, leaf-00,")
            && text.contains("leaf-18 … and 11 more; `--format json` for all\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "    ✗ leaf-09  entry-a ⟶ leaf-09\n    … and 20 more; `--format json` for all\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  … and 20 more `spof`; `--format json` for all\n"),
        "{text}"
    );
    assert!(
        text.contains("  … and 22 more `unprobed-critical`; `--format json` for all\n"),
        "{text}"
    );
    assert_eq!(text.matches("has no spare instance").count(), 10, "{text}");
    // The JSON has every one.
    let json: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
    assert_eq!(json["links"][0]["spofs"].as_array().unwrap().len(), 30);
    assert_eq!(
        json["links"][0]["critical_path"].as_array().unwrap().len(),
        31
    );
}

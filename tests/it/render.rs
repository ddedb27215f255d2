//! The renderers end to end: snapshots of the example's DOT, Mermaid, Markdown and HTML; real
//! Graphviz on the example and on generated topologies with the SVG parsed as XML; the render
//! command with and without Graphviz; the HTML page in headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::topo::example::{example, generate};
use linkpatrol::report::dot::{SPOF_COLOR, SPOF_PENWIDTH, render_dot, to_dot};
use linkpatrol::report::graph_files::{
    RenderFormat, RenderSettings, render_files, render_files_with,
};
use linkpatrol::report::graphviz::{Graphviz, ImageFormat};
use linkpatrol::report::html::{HtmlOptions, render_html};
use linkpatrol::report::markdown::{MarkdownOptions, render_markdown};
use linkpatrol::report::mermaid::render_mermaid;
use linkpatrol::report::render_error::RenderError;
use linkpatrol::report::report::SpofKind;
use linkpatrol::report::view::{GraphView, GroupBy, NodeKind, ViewOptions};

fn svg_of(dot: &str) -> String {
    let bytes = Graphviz::new()
        .render(dot, ImageFormat::Svg)
        .expect("Graphviz lays out the DOT");
    String::from_utf8(bytes).expect("SVG is UTF-8")
}

/// Parses Graphviz's SVG as XML (it carries the SVG 1.1 doctype).
fn parse_svg(svg: &str) -> roxmltree::Document<'_> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(svg, options).expect("SVG is well-formed XML")
}

/// The outline (`stroke`, `stroke-width`) of the node whose `<title>` is `name`.
fn outline(doc: &roxmltree::Document<'_>, name: &str) -> (String, String) {
    let node = doc
        .descendants()
        .filter(|n| n.has_tag_name("g"))
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|c| c == "node"))
        })
        .find(|g| {
            g.children()
                .any(|c| c.has_tag_name("title") && c.text() == Some(name))
        })
        .unwrap_or_else(|| panic!("no node titled {name}"));
    let shape = node
        .descendants()
        .find(|n| n.has_tag_name("path") || n.has_tag_name("polygon") || n.has_tag_name("ellipse"))
        .unwrap_or_else(|| panic!("node {name} has no shape"));
    (
        shape.attribute("stroke").unwrap_or("").to_owned(),
        shape.attribute("stroke-width").unwrap_or("1").to_owned(),
    )
}

#[test]
fn dot_of_the_example() {
    let (topo, report) = example();
    insta::assert_snapshot!(render_dot(&topo, &report, &ViewOptions::default()).unwrap());
}

#[test]
fn mermaid_of_the_example() {
    let (topo, report) = example();
    insta::assert_snapshot!(render_mermaid(&topo, &report, &ViewOptions::default()).unwrap());
}

#[test]
fn markdown_of_the_example() {
    let (topo, report) = example();
    let changes = vec!["order-service: up → degraded".to_owned()];
    let options = MarkdownOptions {
        mermaid: Some(ViewOptions::default()),
        changes: Some(&changes),
    };
    insta::assert_snapshot!(render_markdown(&topo, &report, &options).unwrap());
}

#[test]
fn html_of_the_example_without_graphviz() {
    let (topo, report) = example();
    let html = render_html(
        &topo,
        &report,
        &HtmlOptions {
            svg: None,
            svg_missing_reason: Some("Graphviz `dot` not found"),
            changes: None,
            generated_at: None,
            ..HtmlOptions::default()
        },
    );
    assert!(html.contains("No graph in this report."));
    insta::assert_snapshot!(html);
}

#[test]
fn same_input_gives_the_same_bytes() {
    for _ in 0..2 {
        let (topo, report) = example();
        let a = render_dot(&topo, &report, &ViewOptions::default()).unwrap();
        let (topo, report) = example();
        let b = render_dot(&topo, &report, &ViewOptions::default()).unwrap();
        assert_eq!(a, b);
        let (topo, report) = generate(500, 7);
        let a = render_mermaid(&topo, &report, &ViewOptions::default()).unwrap();
        let b = render_mermaid(&topo, &report, &ViewOptions::default()).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn graphviz_draws_the_example_with_the_spof_outlined() {
    let (topo, report) = example();
    let svg = svg_of(&render_dot(&topo, &report, &ViewOptions::default()).unwrap());
    let doc = parse_svg(&svg);
    assert_eq!(
        outline(&doc, "mysql-primary"),
        (SPOF_COLOR.to_owned(), SPOF_PENWIDTH.to_owned())
    );
    // order-service is a live SPOF (it lost its spare): outlined the same way.
    assert_eq!(outline(&doc, "order-service").0, SPOF_COLOR);
    // redis has a spare: not outlined as a SPOF.
    let (stroke, width) = outline(&doc, "redis");
    assert_ne!(stroke, SPOF_COLOR);
    assert_ne!(width, SPOF_PENWIDTH);
    // The whole-system picture has no link clusters (issue 15): links are entry nodes, the
    // legend is the one cluster.
    let clusters: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("cluster"))
        .filter_map(|g| g.children().find(|c| c.has_tag_name("title")))
        .filter_map(|t| t.text())
        .collect();
    assert_eq!(clusters, ["cluster_legend"], "{clusters:?}");
    let links: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("node link"))
        .filter_map(|g| g.children().find(|c| c.has_tag_name("title")))
        .filter_map(|t| t.text())
        .collect();
    assert_eq!(links, ["link:order-acceptance", "link:order-status"]);
    // Domain SPOFs are in the caption, shared fate called out.
    let text: String = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("rack=r7"), "{text}");
    assert!(text.contains("shared fate"), "{text}");
    assert!(text.contains("≥1 of 2"), "{text}");
    assert!(text.contains("2/3 up"), "{text}");
}

#[test]
fn graphviz_draws_generated_topologies() {
    for n in [30, 300, 1_000, 10_000] {
        let (topo, report) = generate(n, 42);
        let view = GraphView::build(&topo, &report, &ViewOptions::default()).unwrap();
        assert!(view.service_count() <= 300, "{n}: {}", view.service_count());
        if n > 300 {
            assert!(
                view.caption.notes.iter().any(|c| c.contains("folding")),
                "{n}: {:?}",
                view.caption.notes
            );
            assert!(
                view.nodes
                    .iter()
                    .any(|node| matches!(node.kind, NodeKind::Summary(_)))
            );
        }
        svg_of(&to_dot(&view));
        // Every SPOF of the first link is drawn in its picture, and outlined as one.
        let first = ViewOptions {
            link: Some(report.links[0].name.clone()),
            ..ViewOptions::default()
        };
        let svg = svg_of(&to_dot(&GraphView::build(&topo, &report, &first).unwrap()));
        let doc = parse_svg(&svg);
        let spof = report.links[0]
            .spofs
            .iter()
            .find(|s| s.kind == SpofKind::Service)
            .expect("generated links have SPOFs");
        assert_eq!(outline(&doc, &spof.id).0, SPOF_COLOR, "{n} services");
    }
}

/// Issue 15: each link's picture holds exactly its critical path as its one cluster, its SPOFs
/// red, the SPOFs of other links only dashed, and the rest outside as context.
#[test]
fn each_link_picture_clusters_exactly_its_critical_path() {
    use linkpatrol::report::view::SpofMark;
    use std::collections::BTreeSet;
    for (topo, report) in [example(), generate(120, 3)] {
        for link in &report.links {
            let options = ViewOptions {
                link: Some(link.name.clone()),
                ..ViewOptions::default()
            };
            let view = GraphView::build(&topo, &report, &options).unwrap();
            assert_eq!(view.clusters.len(), 1, "{}", link.name);
            assert_eq!(view.clusters[0].name, link.name);
            let in_cluster: BTreeSet<&str> = view
                .nodes
                .iter()
                .filter(|n| matches!(n.kind, NodeKind::Service(_)) && n.cluster == Some(0))
                .map(|n| n.key.as_str())
                .collect();
            let path: BTreeSet<&str> = link.critical_path.iter().map(String::as_str).collect();
            assert_eq!(in_cluster, path, "{}", link.name);
            let spofs: BTreeSet<&str> = link
                .spofs
                .iter()
                .filter(|s| s.kind == SpofKind::Service)
                .map(|s| s.id.as_str())
                .collect();
            for node in &view.nodes {
                if let NodeKind::Service(s) = &node.kind {
                    let red = matches!(s.spof, SpofMark::Static | SpofMark::Live);
                    if red && s.spof == SpofMark::Static {
                        assert!(spofs.contains(s.name.as_str()), "{}: {}", link.name, s.name);
                    }
                    if spofs.contains(s.name.as_str()) {
                        assert_eq!(s.spof, SpofMark::Static, "{}: {}", link.name, s.name);
                    }
                    assert_eq!(s.context, !path.contains(s.name.as_str()));
                }
            }
            // One link node, leading to the entry; and Graphviz accepts the DOT.
            let links: Vec<&str> = view
                .nodes
                .iter()
                .filter_map(|n| match &n.kind {
                    NodeKind::Link(l) => Some(l.name.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(links, [link.name.as_str()]);
            parse_svg(&svg_of(&to_dot(&view)));
        }
    }
}

/// Issue 15: a render that did not probe shows no state: no `UNKNOWN` on links, clusters or
/// the caption, and the whole-system picture names the links each service is critical for.
#[test]
fn a_static_render_shows_no_state() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("topology.yaml");
    let topo = linkpatrol::topology::load::load_file(&file).unwrap();
    let analysis =
        linkpatrol::analysis::analyze(&topo, &linkpatrol::analysis::Options::default()).unwrap();
    let report = linkpatrol::report::build::build(&topo, &analysis, None);
    for link in std::iter::once(None).chain(report.links.iter().map(|l| Some(l.name.clone()))) {
        let options = ViewOptions {
            link,
            ..ViewOptions::default()
        };
        let svg = svg_of(&render_dot(&topo, &report, &options).unwrap());
        let doc = parse_svg(&svg);
        let text: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        let all = text.join(" ");
        for word in ["UNKNOWN", "unknown ·", "UP", "DOWN"] {
            assert!(!all.contains(word), "{options:?}: {word} in {all}");
        }
        if options.link.is_none() {
            assert!(all.contains("critical for"), "{all}");
        }
    }
}

#[test]
fn hostile_names_are_quoted_and_escaped() {
    let (mut topo, mut report) = example();
    // Rename redis (keeping the sort order valid for lookups via the index).
    let hostile = "redis \"main\" <b>&\\ -> x";
    let idx = topo.index_of("redis").unwrap();
    topo.index.remove("redis");
    topo.services[idx.get()].name = linkpatrol::topology::model::ServiceName::new(hostile);
    topo.index
        .insert(topo.services[idx.get()].name.clone(), idx);
    for s in &mut report.services {
        if s.id == "redis" {
            s.id = hostile.to_owned();
        }
    }
    for l in &mut report.links {
        for id in &mut l.critical_path {
            if id == "redis" {
                *id = hostile.to_owned();
            }
        }
    }
    let dot = render_dot(&topo, &report, &ViewOptions::default()).unwrap();
    let svg = svg_of(&dot);
    let doc = parse_svg(&svg);
    // The title holds the name after DOT's own unescaping of `\"`; the label shows it intact.
    let labels: String = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(labels.contains(hostile), "{labels}");
    let mermaid = render_mermaid(&topo, &report, &ViewOptions::default()).unwrap();
    assert!(!mermaid.contains(hostile));
    assert!(mermaid.contains("redis #34;main#34; #60;b#62;#38;\\ -#62; x"));
}

#[test]
fn link_and_group_by_options() {
    let (topo, report) = example();
    let only = ViewOptions {
        link: Some("order-status".into()),
        ..ViewOptions::default()
    };
    let view = GraphView::build(&topo, &report, &only).unwrap();
    let names: Vec<&str> = view.nodes.iter().map(|n| n.key.as_str()).collect();
    assert!(!names.contains(&"platform-callback"), "{names:?}");
    assert!(
        names.contains(&"analytics"),
        "direct weak dependency stays: {names:?}"
    );
    assert!(view.caption.notes[0].contains("showing link order-status"));
    // The requested link's critical path is its cluster, even where another link comes first.
    let clusters: Vec<&str> = view.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(clusters, ["order-status"]);

    let err = GraphView::build(
        &topo,
        &report,
        &ViewOptions {
            link: Some("nope".into()),
            ..ViewOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, RenderError::UnknownLink { .. }));
    assert_eq!(
        err.to_string(),
        "unknown link `nope`; the links are: order-acceptance, order-status"
    );

    for by in [GroupBy::Owner, GroupBy::Tag, GroupBy::Zone] {
        let view = GraphView::build(
            &topo,
            &report,
            &ViewOptions {
                group_by: Some(by),
                ..ViewOptions::default()
            },
        )
        .unwrap();
        svg_of(&to_dot(&view));
        if by == GroupBy::Owner {
            let clusters: Vec<&str> = view.clusters.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(
                clusters,
                [
                    "data-team",
                    "dba-team",
                    "notify-team",
                    "order-team",
                    "platform-team"
                ]
            );
        }
    }
    assert!("rack".parse::<GroupBy>().is_err());
}

#[test]
fn render_command_writes_dot_and_the_requested_format() {
    let (topo, report) = example();
    let dir = tempfile::tempdir().unwrap();
    for (format, file) in [
        (RenderFormat::Svg, "graph.svg"),
        (RenderFormat::Png, "graph.png"),
        (RenderFormat::Mermaid, "graph.mmd"),
    ] {
        let args = RenderSettings {
            format,
            out_dir: dir.path().join("out"),
            ..RenderSettings::default()
        };
        let written = render_files(&topo, &report, &args).unwrap();
        assert_eq!(
            written,
            vec![
                dir.path().join("out/graph.dot"),
                dir.path().join("out").join(file)
            ]
        );
        assert!(std::fs::metadata(&written[1]).unwrap().len() > 100);
    }
    let args = RenderSettings {
        format: RenderFormat::Dot,
        out_dir: dir.path().join("dot-only"),
        ..RenderSettings::default()
    };
    assert_eq!(render_files(&topo, &report, &args).unwrap().len(), 1);
    assert_eq!(
        "mermaid".parse::<RenderFormat>().unwrap(),
        RenderFormat::Mermaid
    );
    assert!("jpeg".parse::<RenderFormat>().is_err());
}

#[test]
fn render_command_without_graphviz_writes_dot_and_says_how_to_install() {
    let (topo, report) = example();
    let dir = tempfile::tempdir().unwrap();
    let empty_path = tempfile::tempdir().unwrap();
    let args = RenderSettings {
        out_dir: dir.path().to_owned(),
        ..RenderSettings::default()
    };
    let err = render_files_with(
        &topo,
        &report,
        &args,
        &Graphviz::new().with_search_path(empty_path.path()),
    )
    .unwrap_err();
    let dot_file = dir.path().join("graph.dot");
    assert!(dot_file.exists());
    assert!(!dir.path().join("graph.svg").exists());
    assert!(matches!(
        err.downcast_ref::<RenderError>(),
        Some(RenderError::DotNotFound { .. })
    ));
    assert_eq!(
        err.to_string(),
        format!(
            "Graphviz `dot` not found: install it with `apt-get install graphviz` (Debian/Ubuntu) or `brew install graphviz`; the DOT file was still written to `{}`",
            dot_file.display()
        )
    );
}

fn example_html() -> String {
    let (topo, report) = example();
    let svg = svg_of(&render_dot(&topo, &report, &ViewOptions::default()).unwrap());
    let changes = vec!["order-service: up → degraded".to_owned()];
    render_html(
        &topo,
        &report,
        &HtmlOptions {
            svg: Some(&svg),
            svg_missing_reason: None,
            changes: Some(&changes),
            generated_at: Some("2026-11-25 12:00 UTC"),
            ..HtmlOptions::default()
        },
    )
}

#[test]
fn html_requests_nothing_from_the_network_and_is_balanced() {
    let html = example_html();
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href=", "url(", "@import"] {
        for (at, _) in lower.match_indices(attr) {
            let value = &lower[at + attr.len()..(at + attr.len() + 12).min(lower.len())];
            assert!(
                !value.contains("http:") && !value.contains("https:") && !value.contains("//"),
                "network reference at {at}: {}",
                &html[at..(at + 60).min(html.len())]
            );
        }
    }
    assert!(!lower.contains("<link"), "no external stylesheets");
    // The main structure is balanced.
    for tag in [
        "html", "head", "body", "main", "section", "table", "ul", "svg", "figure", "div",
    ] {
        let open =
            lower.matches(&format!("<{tag}>")).count() + lower.matches(&format!("<{tag} ")).count();
        let close = lower.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "<{tag}> opened {open} times, closed {close}");
    }
    assert!(html.contains("<svg"));
    assert!(html.contains("class=\"spofs\""));
}

/// Runs a program with a deadline, killing it on expiry; returns (stdout, stderr).
fn run_with_deadline(cmd: &mut Command, limit: Duration) -> (String, String) {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium is installed (apt-get install chromium)");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (out.join().unwrap(), err.join().unwrap())
}

/// The value of `name="…"` in `html`, first occurrence.
fn attr_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("{name}=\""))? + name.len() + 2;
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_owned())
}

fn chromium(profile: &Path) -> Command {
    let mut cmd = Command::new("/usr/bin/chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
fn html_report_loads_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, example_html()).unwrap();
    let url = format!("file://{}", page.display());

    let profile = tempfile::tempdir().unwrap();
    let (dom, log) = run_with_deadline(
        chromium(profile.path())
            .args([
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1280,2000",
                "--dump-dom",
            ])
            .arg(&url),
        Duration::from_secs(120),
    );
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the inline script ran: {dom:.300}"
    );
    // The graph is drawn at a readable size, and every SPOF entry of every link is listed
    // (eight: mysql-primary, its host and zone, and the rack both redis instances share, on
    // each of the two links).
    let size = attr_value(&dom, "data-graph").expect("graph size recorded");
    let (w, h) = size.split_once('x').expect("WxH");
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    assert!(w >= 1000 && h >= 300, "graph drawn at {w}x{h}");
    let (_, report) = example();
    let entries: usize = report.links.iter().map(|l| l.spofs.len()).sum();
    assert_eq!(entries, 8);
    assert_eq!(attr_value(&dom, "data-spofs"), Some(entries.to_string()));
    let doc_start = dom
        .find("<figure class=\"graph overview\"><svg")
        .expect("graph in the DOM");
    assert!(dom[doc_start..].contains("mysql-primary"));
    let spofs = dom.find("id=\"spofs\"").expect("SPOF section in the DOM");
    assert!(dom[spofs..].contains("<li class=\"spof-service\">"));
    assert!(dom[spofs..].contains("shared fate"));
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");

    // A screenshot for people to look at (and for slides).
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .to_owned();
    let shot = target.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().unwrap();
    run_with_deadline(
        chromium(profile.path())
            .arg(format!("--screenshot={}", shot.display()))
            .arg("--window-size=1280,2000")
            .arg(&url),
        Duration::from_secs(120),
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

/// A report of `yaml` as `analyze` makes it (no probes).
fn analysed(
    yaml: &str,
) -> (
    linkpatrol::topology::model::Topology,
    linkpatrol::report::report::Report,
) {
    let topo = linkpatrol::topology::load::load_str(yaml, "t.yaml").unwrap();
    let analysis =
        linkpatrol::analysis::analyze(&topo, &linkpatrol::analysis::Options::default()).unwrap();
    let report = linkpatrol::report::build::build(&topo, &analysis, None);
    (topo, report)
}

/// Issue 15: when every service on the path is a SPOF (a chain without redundancy), all red
/// says nothing: the caption says it once, and only the worst by blast radius (the deepest,
/// `db`, which takes the most down) keeps the thick red outline and the badge; the others a
/// thin red outline with their blast radius. A path with redundancy keeps the usual marks.
#[test]
fn a_chain_without_redundancy_says_so_once_and_marks_the_worst() {
    use linkpatrol::report::view::SpofMark;
    let (topo, report) = analysed(
        "version: 1\nname: chain\nlinks: {order: {entry: web}}\n\
         services: {web: {depends_on: {api: strong}}, api: {depends_on: {db: strong, mail: weak}}, db: {}, mail: {}}\n",
    );
    for link in [None, Some("order".to_owned())] {
        let options = ViewOptions {
            link: link.clone(),
            ..ViewOptions::default()
        };
        let view = GraphView::build(&topo, &report, &options).unwrap();
        let all = view.all_spof.as_ref().expect("every service is a SPOF");
        assert_eq!(all.services, 3, "{link:?}");
        assert_eq!(all.worst, ["db"], "{link:?}");
        let line = view.caption.all_spof.as_deref().unwrap();
        assert!(line.contains("is a SPOF (3 services)"), "{line}");
        assert!(line.contains("the worst is db"), "{line}");
        let svg = svg_of(&to_dot(&view));
        let doc = parse_svg(&svg);
        assert_eq!(
            outline(&doc, "db"),
            (SPOF_COLOR.to_owned(), SPOF_PENWIDTH.to_owned())
        );
        for thin in ["web", "api"] {
            assert_eq!(
                outline(&doc, thin),
                (SPOF_COLOR.to_owned(), "1.6".to_owned()),
                "{thin}"
            );
        }
        let text: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        let all_text = text.join(" ");
        assert_eq!(all_text.matches("WORST SPOF").count(), 1, "{all_text}");
        assert!(
            all_text.contains("takes down 1 link, 2 other services"),
            "{all_text}"
        );
        for node in &view.nodes {
            if let NodeKind::Service(s) = &node.kind {
                let red = matches!(s.spof, SpofMark::Static | SpofMark::Live);
                assert_eq!(red, s.name != "mail", "{}", s.name);
                assert_eq!(s.worst_spof, s.name == "db", "{}", s.name);
            }
        }
        let mermaid = linkpatrol::report::mermaid::to_mermaid(&view);
        assert!(mermaid.contains("WORST SPOF"), "{mermaid}");
    }
    // The example has redundancy on its paths: the usual marks, no banner.
    let (topo, report) = example();
    let view = GraphView::build(&topo, &report, &ViewOptions::default()).unwrap();
    assert!(view.all_spof.is_none());
    assert!(view.caption.all_spof.is_none());
}

/// Issue 15, at scale: a link whose critical path is longer than the cap draws at most
/// `max_services` services, folds the rest of its path into summary nodes inside its cluster
/// (so the cluster is still exactly the path: drawn services plus counted folds), folds the
/// context outside, says so in the caption, and joins what it draws with indirect edges.
#[test]
fn a_long_critical_path_is_folded_inside_its_cluster() {
    let (topo, report) = generate(900, 7);
    let link = report
        .links
        .iter()
        .max_by_key(|l| l.critical_path.len())
        .unwrap();
    let cap = 40;
    assert!(
        link.critical_path.len() > cap,
        "{}",
        link.critical_path.len()
    );
    let options = ViewOptions {
        link: Some(link.name.clone()),
        max_services: cap,
        ..ViewOptions::default()
    };
    let view = GraphView::build(&topo, &report, &options).unwrap();
    assert!(view.folded);
    assert!(view.service_count() <= cap, "{}", view.service_count());
    let path: std::collections::BTreeSet<&str> =
        link.critical_path.iter().map(String::as_str).collect();
    let mut drawn_in_cluster = 0;
    let mut folded_in_cluster = 0;
    for node in &view.nodes {
        match &node.kind {
            NodeKind::Service(s) => {
                assert_eq!(
                    node.cluster == Some(0),
                    path.contains(s.name.as_str()),
                    "{}",
                    s.name
                );
                if node.cluster == Some(0) {
                    drawn_in_cluster += 1;
                }
            }
            NodeKind::Summary(s) => {
                assert_eq!(node.cluster == Some(0), s.in_path, "{}", s.group);
                if s.in_path {
                    assert_eq!(s.on_critical, s.count, "{}: only path services", s.group);
                    folded_in_cluster += s.count;
                } else {
                    assert_eq!(s.on_critical, 0, "{}: only context", s.group);
                }
            }
            _ => {}
        }
    }
    assert_eq!(drawn_in_cluster + folded_in_cluster, path.len());
    assert!(folded_in_cluster > 0);
    let note = view.caption.notes.join(" | ");
    assert!(
        note.contains(&format!(
            "critical path of {}: {} services",
            link.name,
            path.len()
        )),
        "{note}"
    );
    assert!(note.contains("inside the cluster"), "{note}");
    assert!(
        view.edges.iter().any(|e| e.indirect),
        "indirect edges join the drawn services"
    );
    parse_svg(&svg_of(&to_dot(&view)));
}

/// Issue 15, at scale: the folded whole-system overview joins its links' entries to the shared
/// hotspots they depend on (indirect edges through folded services), so it answers "which
/// links share what"; every drawn hotspot is reached from some link.
#[test]
fn the_folded_overview_joins_links_to_their_hotspots() {
    let (topo, report) = generate(900, 7);
    let options = ViewOptions {
        max_services: 40,
        ..ViewOptions::default()
    };
    let view = GraphView::build(&topo, &report, &options).unwrap();
    assert!(view.folded);
    let indirect = view.edges.iter().filter(|e| e.indirect).count();
    assert!(indirect > 0);
    // Every drawn service on a critical path is reached from a link node.
    let n = view.nodes.len();
    let mut reached = vec![false; n];
    let mut stack: Vec<usize> = (0..n)
        .filter(|&i| matches!(view.nodes[i].kind, NodeKind::Link(_)))
        .collect();
    while let Some(i) = stack.pop() {
        for e in view.edges.iter().filter(|e| e.from == i) {
            if !reached[e.to] {
                reached[e.to] = true;
                stack.push(e.to);
            }
        }
    }
    for (i, node) in view.nodes.iter().enumerate() {
        if let NodeKind::Service(s) = &node.kind
            && !s.on_links.is_empty()
        {
            assert!(reached[i], "{} is drawn but no link leads to it", s.name);
        }
    }
    let svg = svg_of(&to_dot(&view));
    let doc = parse_svg(&svg);
    let dotted = doc
        .descendants()
        .filter(|g| g.attribute("class") == Some("edge indirect"))
        .count();
    assert_eq!(dotted, indirect, "each indirect edge drawn, classed");
}

/// A catalogue in small (the `catalogue` shape of `scripts/gen_topology.py`): `layers` layers of
/// `width` services, `links` links entering the first layer, each service depending on two
/// services of the next layer (strong) and one weakly, so the deep layers are hotspots shared
/// by many links; every other service with two replicas, so some are SPOFs and some are not.
fn small_catalogue(links: usize, layers: usize, width: usize, seed: u64) -> String {
    use std::fmt::Write as _;
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut below = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % n
    };
    let name = |layer: usize, i: usize| format!("s{layer:02}-{i:04}");
    let mut y = String::from("version: 1\nname: small-catalogue\nlinks:\n");
    for j in 0..links {
        let _ = writeln!(
            y,
            "  link-{j:03}: {{ entry: {} }}",
            name(0, j * width / links)
        );
    }
    y.push_str("services:\n");
    for layer in 0..layers {
        for i in 0..width {
            let _ = writeln!(y, "  {}:", name(layer, i));
            if (layer + i) % 2 == 0 {
                y.push_str("    replicas: 2\n");
            }
            if layer + 1 == layers {
                y.push_str("    description: a leaf\n");
                continue;
            }
            let mut deps = std::collections::BTreeMap::new();
            for _ in 0..2 {
                deps.insert(name(layer + 1, below(width)), "strong");
            }
            deps.entry(name(layer + 1, below(width))).or_insert("weak");
            y.push_str("    depends_on:\n");
            for (d, s) in deps {
                let _ = writeln!(y, "      {d}: {s}");
            }
        }
    }
    y
}

/// Issue 15, at scale: past the cap on dotted edges, the folded overview still gives every link
/// its most important ones (its entry leads to at least one hotspot; the hotspots its worst by
/// blast radius), every drawn hotspot keeps an edge in, the cap holds, and the caption counts
/// exactly what was left out. The hotspots wrap into columns instead of one tall one. (With the
/// cap spent round robin over the targets, link-011's entry had no edge on.)
#[test]
fn the_folded_overview_keeps_each_links_edges_under_the_cap() {
    let (topo, report) = analysed(&small_catalogue(40, 8, 250, 3));
    let view = GraphView::build(&topo, &report, &ViewOptions::default()).unwrap();
    assert!(view.folded);
    let indirect: Vec<_> = view.edges.iter().filter(|e| e.indirect).collect();
    assert_eq!(indirect.len(), 200, "the cap is reached, and holds");
    let note = view
        .caption
        .notes
        .iter()
        .find(|n| n.contains("more dotted edges left out"))
        .expect("the caption counts the left-out edges");
    let left_out: usize = note.split(' ').next().unwrap().parse().unwrap();
    assert!(left_out > 0, "{note}");
    // Every link node leads to its entry, and every entry on to some hotspot.
    let mut links = 0;
    for (i, node) in view.nodes.iter().enumerate() {
        let NodeKind::Link(l) = &node.kind else {
            continue;
        };
        links += 1;
        let entry = view
            .edges
            .iter()
            .find(|e| e.from == i)
            .unwrap_or_else(|| panic!("link {} has no edge", l.name))
            .to;
        assert!(
            view.edges.iter().any(|e| e.from == entry),
            "the entry of {} ({}) has no edge on",
            l.name,
            view.nodes[entry].key
        );
    }
    assert_eq!(links, 40);
    // Every drawn hotspot (a service on some path, not an entry, not on every link) has an
    // edge in.
    for (i, node) in view.nodes.iter().enumerate() {
        if let NodeKind::Service(s) = &node.kind
            && s.entry_of.is_empty()
            && !s.on_links.is_empty()
            && s.on_links.len() < links
        {
            assert!(
                view.edges.iter().any(|e| e.to == i),
                "hotspot {} has no edge in",
                s.name
            );
        }
    }
    let svg = svg_of(&to_dot(&view));
    let doc = parse_svg(&svg);
    let texts = doc.descendants().filter(|n| n.has_tag_name("text")).count();
    assert!(texts < 800, "{texts} <text> elements");
    // Not one tall column: the picture is at most three times as tall as it is wide.
    let root = doc.root_element();
    let pt = |a: &str| -> f64 {
        root.attribute(a)
            .unwrap()
            .trim_end_matches("pt")
            .parse()
            .unwrap()
    };
    let (w, h) = (pt("width"), pt("height"));
    assert!(h < 3.0 * w, "{w} × {h} pt");
}

/// The folded overview groups the hotspots every link needs under one labelled cluster, with
/// no dotted edges into them (they would say nothing): here `core` and `auth` are on all three
/// links' paths, `shared-ab` only on two, and every `fold-*` and `idle-*` service is folded.
#[test]
fn hotspots_every_link_needs_are_one_labelled_cluster() {
    use graphviz_rust::dot_structures::{Graph, Id, Node, NodeId, Stmt};
    use linkpatrol::report::dot::quoted;
    let yaml = "version: 1\nname: every-link\n\
        links: {a: {entry: ea}, b: {entry: eb}, c: {entry: ec}}\n\
        services:\n\
        \x20 ea: {replicas: 2, depends_on: {fold-a: strong}}\n\
        \x20 eb: {replicas: 2, depends_on: {fold-b: strong}}\n\
        \x20 ec: {replicas: 2, depends_on: {fold-c: strong}}\n\
        \x20 fold-a: {replicas: 2, depends_on: {core: strong, auth: strong, shared-ab: strong}}\n\
        \x20 fold-b: {replicas: 2, depends_on: {core: strong, auth: strong, shared-ab: strong}}\n\
        \x20 fold-c: {replicas: 2, depends_on: {core: strong, auth: strong}}\n\
        \x20 core: {}\n\
        \x20 auth: {}\n\
        \x20 shared-ab: {}\n\
        \x20 idle-1: {}\n\
        \x20 idle-2: {}\n\
        \x20 idle-3: {}\n";
    let (topo, report) = analysed(yaml);
    let options = ViewOptions {
        max_services: 8,
        ..ViewOptions::default()
    };
    let view = GraphView::build(&topo, &report, &options).unwrap();
    assert!(view.folded);
    let graph = linkpatrol::report::dot::build_graph(&view);
    let Graph::DiGraph { stmts, .. } = &graph else {
        panic!("a digraph")
    };
    let cluster = stmts
        .iter()
        .find_map(|s| match s {
            Stmt::Subgraph(g) if g.id == quoted("cluster_every_link") => Some(g),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no cluster_every_link subgraph in\n{}", to_dot(&view)));
    let mut members: Vec<String> = cluster
        .stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Node(Node {
                id: NodeId(Id::Escaped(id), _),
                ..
            }) => Some(id.trim_matches('"').to_owned()),
            _ => None,
        })
        .collect();
    members.sort();
    assert_eq!(members, ["auth", "core"]);
    let label = format!("{:?}", cluster.stmts[0]);
    assert!(label.contains("On every link"), "{label}");
    assert!(label.contains("2 services"), "{label}");
    // No dotted edge into them; `shared-ab` (two links of three) keeps its own.
    let key = |i: usize| view.nodes[i].key.as_str();
    for e in view.edges.iter().filter(|e| e.indirect) {
        assert!(
            !["auth", "core"].contains(&key(e.to)),
            "{} ⇢ {}",
            key(e.from),
            key(e.to)
        );
    }
    assert!(
        view.edges
            .iter()
            .any(|e| e.indirect && key(e.to) == "shared-ab")
    );
    let dot = to_dot(&view);
    let svg = svg_of(&dot);
    let doc = parse_svg(&svg);
    let titled = doc.descendants().any(|g| {
        g.attribute("class") == Some("cluster")
            && g.children()
                .any(|c| c.has_tag_name("title") && c.text() == Some("cluster_every_link"))
    });
    assert!(titled, "dot draws the cluster");
}

/// Pages for people at any size (HTML and Markdown): of each risk rule, of each link's SPOFs and
/// N-2 pairs, the first `MAX_ROWS`, then one line that counts the rest (the JSON report has them
/// all).
#[test]
fn html_and_markdown_cap_long_tables_and_count_the_rest() {
    use linkpatrol::analysis::{Options, analyze};
    use linkpatrol::report::MAX_ROWS;
    use linkpatrol::report::build::build;
    use linkpatrol::topology::load::load_str;
    use std::fmt::Write as _;
    // `e` needs 70 single-instance services (71 SPOFs with itself) and calls 60 others weakly
    // without a timeout (60 `weak-without-timeout` risks).
    let mut src = String::from(
        "version: 1\nname: wide\nlinks:\n  l: {entry: e}\nservices:\n  e:\n    depends_on:\n",
    );
    for i in 0..70 {
        writeln!(src, "      s{i:02}: strong").unwrap();
    }
    for i in 0..60 {
        writeln!(src, "      w{i:02}: weak").unwrap();
    }
    for i in 0..70 {
        writeln!(src, "  s{i:02}:").unwrap();
    }
    for i in 0..60 {
        writeln!(src, "  w{i:02}:").unwrap();
    }
    let topo = load_str(&src, "wide.yaml").unwrap();
    let analysis = analyze(&topo, &Options::default()).unwrap();
    let report = build(&topo, &analysis, None);
    let spofs = report.links[0].spofs.len();
    let weak = report
        .risks
        .iter()
        .filter(|r| r.rule.id() == "weak-without-timeout")
        .count();
    assert_eq!((spofs, weak), (71, 60));
    let html = render_html(&topo, &report, &HtmlOptions::default());
    let section = |id: &str| {
        let at = html.find(&format!("<section id=\"{id}\"")).unwrap();
        let end = html[at..].find("</section>").unwrap();
        html[at..at + end].to_owned()
    };
    let spof_section = section("spofs");
    assert_eq!(spof_section.matches("<li class=\"spof-").count(), MAX_ROWS);
    assert!(
        spof_section.contains(&format!(
            "… and {} more SPOFs of this link",
            spofs - MAX_ROWS
        )),
        "{spof_section}"
    );
    let risk_section = section("risks");
    assert_eq!(
        risk_section
            .matches("<td><code>weak-without-timeout</code></td>")
            .count(),
        MAX_ROWS
    );
    assert!(
        risk_section.contains(&format!(
            "… and {} more <code>weak-without-timeout</code> risks",
            weak - MAX_ROWS
        )),
        "{risk_section}"
    );
    // The Markdown report the same way.
    let md = render_markdown(&topo, &report, &MarkdownOptions::default()).unwrap();
    assert_eq!(
        md.matches("`weak-without-timeout` (").count(),
        MAX_ROWS,
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "*… and {} more `weak-without-timeout` risks; `linkpatrol analyze --format json` lists every one*",
            weak - MAX_ROWS
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "*… and {} more SPOFs of this link;",
            spofs - MAX_ROWS
        )),
        "{md}"
    );
    // The JSON report still lists every one.
    let json = linkpatrol::report::json::render_json(&report);
    assert_eq!(
        json.matches("\"rule\":\"weak-without-timeout\"").count(),
        weak
    );
}

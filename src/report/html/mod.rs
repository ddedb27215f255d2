//! The HTML report: one self-contained page (SPEC §6).
//!
//! Built with [`maud`], which escapes every interpolated value: no text from the topology or the
//! report reaches the page unescaped, and only two things go in as markup on purpose — the
//! stylesheet and script (`report.css`, `report.js` beside this file, included at build time)
//! and the graph's SVG from Graphviz. The page loads nothing from the network: no external font,
//! script, style or image, and a Content-Security-Policy that forbids them should one slip in.
//!
//! Sections, each one function returning [`Markup`]: root causes first after probing (each with
//! what it takes down; dependents say "down because of `x`" on their link card and probe row),
//! summary per link with state badges, the
//! graph (a notice takes its place when Graphviz was unavailable), SPOFs with their explanation,
//! live SPOFs, N-2 pairs, risks with hints, probe results per instance, changes since the last
//! run. To add a section, write a function like `risks` and call it from [`render_html`].
//! Readable on a laptop screen, printable (print CSS). The script marks
//! `<html data-rendered="ok">` once loaded, with the graph's drawn size and the SPOF count, so a
//! headless browser test can tell the page ran and what it shows.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::report::MAX_ROWS;
use crate::report::report::{LinkReport, Report, RootCauseKind, Spof, SpofKind};
use crate::state::State;
use crate::topology::model::{Severity, Topology};

/// The stylesheet, inlined into the page.
const CSS: &str = include_str!("report.css");

/// The page's only script (see the module docs), inlined into the page.
const SCRIPT: &str = include_str!("report.js");

/// The Content-Security-Policy of the page: nothing from anywhere but the page itself.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

/// What to put in the page besides the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlOptions<'a> {
    /// The graph as SVG (Graphviz output); `None` when it could not be drawn.
    pub svg: Option<&'a str>,
    /// Why there is no graph (e.g. the Graphviz install message); shown in its place.
    pub svg_missing_reason: Option<&'a str>,
    /// Changes since the last run, one line each; `None` when unknown (section omitted).
    pub changes: Option<&'a [String]>,
    /// When the report was made, as text; `None` keeps the page free of wall-clock values.
    pub generated_at: Option<&'a str>,
    /// One picture per link (`render --link`), as (link, SVG); shown under the graph.
    pub link_svgs: &'a [(String, String)],
    /// Links whose picture was left out (too many links for one page).
    pub more_link_pictures: usize,
}

/// The part of Graphviz's SVG output that can sit inside HTML: from `<svg` on, without the XML
/// declaration, doctype and comments before it.
pub fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |i| &svg[i..]).trim_end()
}

/// Shows `` `quoted` `` values (how messages quote user values, STYLE §5) as `<code>`; an
/// unpaired backtick stays as it is.
pub fn with_code(s: &str) -> Markup {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return html! { (s) };
    }
    html! {
        @for (i, p) in parts.iter().enumerate() {
            @if i % 2 == 1 { code { (p) } } @else { (p) }
        }
    }
}

/// Names shown in one cell (the subjects of a risk) before `and N more`.
const MAX_CELL_NAMES: usize = 10;

/// `… and 312 more SPOFs of this link; `linkpatrol analyze --format json` lists every one`.
fn more(hidden: usize, what: &Markup) -> Markup {
    html! {
        "… and " (hidden) " more " (what) "; " code { "linkpatrol analyze --format json" } " lists every one"
    }
}

/// `items` as `<code>` elements with `sep` between them.
fn codes<'a>(items: impl IntoIterator<Item = &'a String>, sep: &str) -> Markup {
    html! {
        @for (i, item) in items.into_iter().enumerate() {
            @if i > 0 { (sep) }
            code { (item) }
        }
    }
}

fn badge(state: State) -> Markup {
    html! { span class={ "badge " (state) } { (state) } }
}

/// The HTML page.
pub fn render_html(topo: &Topology, report: &Report, options: &HtmlOptions<'_>) -> String {
    let nl = PreEscaped("\n");
    let page = html! {
        (DOCTYPE) (nl)
        html lang="en" {
            (nl)
            head {
                (nl)
                meta charset="utf-8"; (nl)
                meta name="viewport" content="width=device-width, initial-scale=1"; (nl)
                meta http-equiv="Content-Security-Policy" content=(CSP); (nl)
                title { "linkpatrol · " (report.topology) } (nl)
                style { (nl) (PreEscaped(CSS)) } (nl)
            }
            (nl)
            body {
                (nl)
                main {
                    (nl)
                    (summary(report, options))
                    (root_causes(report))
                    (links(topo, report))
                    (graph(options))
                    (link_pictures(options))
                    (matrix(topo, report))
                    (spofs(report))
                    (live_spofs(report))
                    (pairs(report))
                    (risks(report))
                    (probes(report))
                    @if let Some(changes) = options.changes { (changes_section(changes)) }
                    @if let Some(history) = &report.history { (history_section(history)) }
                    footer { "Made by linkpatrol. This page is self-contained: it loads nothing from the network." }
                    (nl)
                }
                (nl)
                script #lp-data type="application/json" { (PreEscaped(explore_data(topo, report))) }
                (nl)
                script { (PreEscaped(SCRIPT)) }
                (nl)
            }
            (nl)
        }
        (nl)
    };
    page.into_string()
}

/// The header, the summary figures and the what-if banner.
fn summary(report: &Report, options: &HtmlOptions<'_>) -> Markup {
    let worst = report
        .links
        .iter()
        .map(|l| l.state)
        .max()
        .unwrap_or(State::Unknown);
    let spof_count: usize = report.links.iter().map(|l| l.spofs.len()).sum();
    let count = |states: &mut dyn Iterator<Item = State>| {
        let mut by_state = [0usize; 4];
        for st in states {
            by_state[st as usize] += 1;
        }
        let parts: Vec<String> = State::WORST_FIRST
            .iter()
            .filter(|st| **st != State::Unknown && by_state[**st as usize] > 0)
            .map(|st| format!("{} {st}", by_state[*st as usize]))
            .collect();
        (by_state[State::Down as usize] > 0, parts.join(" · "))
    };
    let (links_bad, links_text) = count(&mut report.links.iter().map(|l| l.state));
    let (services_bad, services_text) = count(&mut report.services.iter().map(|s| s.effective));
    let errors = report
        .risks
        .iter()
        .filter(|r| r.severity == Severity::Error)
        .count();
    let errors_text = format!("{errors} error{}", if errors == 1 { "" } else { "s" });
    let stat = |bad: bool, value: usize, noun: &str, detail: &str| {
        html! { div.stat.bad[bad] { b { (value) } span { (noun) } small { (detail) } } }
    };
    html! {
        header.top {
            span.tool { "linkpatrol report" }
            h1 { (report.topology) }
            @if report.observed() { (badge(worst)) }
            @if let Some(at) = options.generated_at { span.meta { (at) } }
        }
        "\n"
        div.stats {
            (stat(links_bad, report.links.len(), "core links", &links_text))
            (stat(spof_count > 0, spof_count, "SPOFs", "single failures that take a link down"))
            (stat(errors > 0, report.risks.len(), "risks", &errors_text))
            (stat(services_bad, report.services.len(), "services", &services_text))
        }
        "\n"
        @if let Some(failed) = &report.assumed_failed {
            div.whatif { b { "What-if:" } " assumed failed " (codes(failed, ", ")) }
            "\n"
        }
    }
}

/// One card per core link.
fn links(topo: &Topology, report: &Report) -> Markup {
    html! {
        section #links {
            h2 { "Core links" }
            div.links {
                "\n"
                @for l in &report.links {
                    (link_card(topo, report, l))
                    "\n"
                }
            }
        }
        "\n"
    }
}

/// The ids of the root causes a failed service is a consequence of; empty otherwise.
fn because_of<'a>(report: &'a Report, service: &str) -> &'a [String] {
    report
        .services
        .binary_search_by(|s| s.id.as_str().cmp(service))
        .map_or(&[][..], |i| report.services[i].because_of.as_slice())
}

/// `down because of `a`, `b``.
fn because(state: State, causes: &[String]) -> Markup {
    html! { span.because { (state) " because of " (codes(causes, ", ")) } }
}

/// `links a, b; services c` as code lists, or nothing.
fn names(links: &[&str], services: &[&str]) -> Markup {
    let list = |items: &[&str]| {
        html! {
            @for (i, item) in items.iter().enumerate() {
                @if i > 0 { ", " }
                code { (item) }
            }
        }
    };
    html! {
        @if !links.is_empty() {
            "link" @if links.len() != 1 { "s" } " " (list(links))
        }
        @if !links.is_empty() && !services.is_empty() { "; " }
        @if !services.is_empty() {
            "service" @if services.len() != 1 { "s" } " " (list(services))
        }
    }
}

/// The root causes, worst first, each with its reason, owner and what it takes down (SPEC §2);
/// only after probing or `--fail`. Dependents appear under their root cause, never on their own.
fn root_causes(report: &Report) -> Markup {
    let Some(causes) = &report.root_causes else {
        return html! {};
    };
    html! {
        section #root-causes {
            h2 { "Root causes" }
            "\n"
            @if causes.is_empty() {
                p.none { "Nothing failed." }
            } @else {
                ul.causes {
                    "\n"
                    @for c in causes {
                        @let impact = c.impact(report);
                        li class={ "cause " (c.state) } {
                            (badge(c.state)) " " b { code { (c.id) } }
                            @if c.kind == RootCauseKind::Cycle { " " span.meta { "strong cycle" } }
                            @if let Some(owner) = &c.owner { " " span.meta { "owner " (owner) } }
                            div.reason { (with_code(&c.reason)) }
                            div.impact {
                                @if !impact.links_down.is_empty() || !impact.services_down.is_empty() {
                                    div { b { "Takes down " } (names(&impact.links_down, &impact.services_down)) }
                                }
                                @if !impact.links_degraded.is_empty() || !impact.services_degraded.is_empty() {
                                    div { b { "Degrades " } (names(&impact.links_degraded, &impact.services_degraded)) }
                                }
                                @if c.links.is_empty() && c.services.is_empty() {
                                    div.none { "Takes nothing else down." }
                                }
                            }
                        }
                        "\n"
                    }
                }
            }
            "\n"
        }
        "\n"
    }
}

fn link_card(topo: &Topology, report: &Report, l: &LinkReport) -> Markup {
    let why = because_of(report, &l.entry);
    let description = topo
        .links
        .iter()
        .find(|t| t.name.as_str() == l.name)
        .and_then(|t| t.description.as_deref());
    let live = l
        .live_spofs
        .as_ref()
        .map(|s| format!(", {} live", s.len()))
        .unwrap_or_default();
    html! {
        div class={ "link " (l.state) } data-link=(l.name) title="Show its critical path in the graph" {
            h3 { span { (l.name) } @if report.observed() { (badge(l.state)) } }
            @if let Some(d) = description { p { (d) } }
            p {
                "entry " code { (l.entry) } " · " (l.critical_path.len())
                " services on the critical path · " b { (l.spofs.len()) }
                " SPOF" @if l.spofs.len() != 1 { "s" } (live)
            }
            @if !why.is_empty() { p { (because(l.state, why)) } }
        }
    }
}

/// The toolbar of the explorable graph: search, zoom, and what is selected.
fn toolbar() -> Markup {
    html! {
        div.toolbar {
            input #lp-search type="search" list="lp-names" placeholder="Search a service…" aria-label="Search a service";
            button #lp-zoom-in type="button" title="Zoom in" { "+" }
            button #lp-zoom-out type="button" title="Zoom out" { "−" }
            button #lp-reset type="button" title="Fit and clear the selection" { "Reset" }
            span #lp-info.hint { "Click a service for its blast radius and its paths to each link, a link for its critical path; drag to pan, wheel to zoom." }
        }
        datalist #lp-names {}
    }
}

/// One picture per link: its critical path as the one cluster.
fn link_pictures(options: &HtmlOptions<'_>) -> Markup {
    if options.link_svgs.is_empty() {
        return html! {};
    }
    html! {
        section #link-pictures {
            h2 { "Each link's critical path" }
            p.hint { "One picture per link: the cluster is exactly its critical path, its SPOFs outlined red; dashed outlines are SPOFs of other links only; pale nodes are context." }
            @if options.link_svgs.len() > 1 {
                nav.link-index {
                    @for (k, (link, _)) in options.link_svgs.iter().enumerate() {
                        a href={ "#link-picture-" (k) } { code { (link) } }
                    }
                }
            }
            "\n"
            @for (k, (link, svg)) in options.link_svgs.iter().enumerate() {
                section.link-picture id={ "link-picture-" (k) } {
                    h3 { "Link " code { (link) } }
                    figure.graph.link-graph data-link=(link) { (PreEscaped(inline_svg(svg))) }
                }
                "\n"
            }
            @if options.more_link_pictures > 0 {
                p.none { "and " (options.more_link_pictures) " more links: draw one with " code { "linkpatrol render --link NAME" } "." }
            }
        }
        "\n"
    }
}

/// The link × service matrix ([`crate::report::matrix`]).
fn matrix(topo: &Topology, report: &Report) -> Markup {
    use crate::report::matrix::{MATRIX_ROWS, matrix};
    let m = matrix(topo, report, MATRIX_ROWS);
    if m.rows.is_empty() {
        return html! {};
    }
    html! {
        section #matrix {
            h2 { "Which link needs which service" }
            p.hint { "SPOF: its loss alone takes the link down · critical: on the critical path, with a spare · weak: reached through a weak dependency, its loss degrades the link · —: not used." }
            div.matrix-wrap {
                table.matrix {
                    thead { tr { th { "service" } @for l in &m.links { th { (l) } } } }
                    tbody {
                        "\n"
                        @for r in &m.rows {
                            tr data-service=(r.service) {
                                td { code { (r.service) } }
                                @for c in &r.cells { td class=(c.class()) { (c.as_str()) } }
                            }
                            "\n"
                        }
                    }
                }
            }
            @if m.more > 0 { p.none { "and " (m.more) " more services." } }
        }
        "\n"
    }
}

/// What the script needs to explore the graph, as JSON: each service's dependencies (with
/// strength) and blast radius (from the report: the analysis decided it), each link's entry,
/// critical path and service SPOFs. `</` is escaped so the JSON cannot end its script element.
fn explore_data(topo: &Topology, report: &Report) -> String {
    use serde_json::{Map, Value, json};
    let mut services = Map::new();
    for s in &topo.services {
        let r = report
            .services
            .binary_search_by(|r| r.id.as_str().cmp(s.name.as_str()))
            .ok()
            .map(|i| &report.services[i].blast_radius);
        let deps: Vec<Value> = s
            .depends_on
            .iter()
            .flat_map(|d| {
                d.targets()
                    .iter()
                    .map(|t| json!([topo.services[t.get()].name.as_str(), d.strength.to_string()]))
                    .collect::<Vec<_>>()
            })
            .collect();
        services.insert(
            s.name.to_string(),
            json!({
                "deps": deps,
                "blastLinks": r.map(|b| &b.links),
                "blast": r.and_then(|b| b.services.as_ref()),
                "blastCount": r.map(|b| b.service_count),
            }),
        );
    }
    let links: Map<String, Value> = report
        .links
        .iter()
        .map(|l| {
            let spofs: Vec<&str> = l
                .spofs
                .iter()
                .filter(|s| s.kind == SpofKind::Service)
                .map(|s| s.id.as_str())
                .collect();
            (
                l.name.clone(),
                json!({ "entry": l.entry, "critical": l.critical_path, "spofs": spofs }),
            )
        })
        .collect();
    json!({ "services": services, "links": links })
        .to_string()
        .replace("</", "<\\/")
}

/// The graph as inline SVG, or why it is missing.
fn graph(options: &HtmlOptions<'_>) -> Markup {
    html! {
        section #graph {
            h2 { "Graph" }
            "\n"
            @if let Some(svg) = options.svg {
                (toolbar())
                figure.graph.overview { (PreEscaped(inline_svg(svg))) }
            } @else {
                div.nograph {
                    b { "No graph in this report." } " "
                    (options.svg_missing_reason.unwrap_or("the graph could not be drawn"))
                    ". The DOT and Mermaid files beside this report still describe it."
                }
            }
            "\n"
        }
        "\n"
    }
}

fn spof_item(s: &Spof) -> Markup {
    html! {
        @match s.kind {
            SpofKind::Service => li.spof-service {
                span.badge.spof { "SPOF" } " " b { (s.id) } " " span.kind { "service" }
                span.path {
                    @for (i, p) in s.path.iter().flatten().enumerate() {
                        @if i > 0 { span.arrow { "→" } }
                        code { (p) }
                    }
                }
            },
            SpofKind::Domain => li.spof-domain {
                span.badge.spof { "SPOF" } " " b { (s.id) } " " span.kind { "failure domain" } " — "
                @match s.implied_by.as_deref() {
                    Some(by) if !by.is_empty() => { "implied by " (codes(by, ", ")) },
                    _ => { span.shared { "shared fate" } ": redundant instances share this domain" },
                }
            },
        }
    }
}

/// One list of SPOFs under the link's name: the first [`MAX_ROWS`], then a count.
fn spof_list(link: &str, spofs: &[Spof]) -> Markup {
    html! {
        h3 { (link) }
        ul.spofs {
            "\n"
            @for s in spofs.iter().take(MAX_ROWS) { (spof_item(s)) "\n" }
            @if spofs.len() > MAX_ROWS {
                li.more { (more(spofs.len() - MAX_ROWS, &html! { "SPOFs of this link" })) } "\n"
            }
        }
        "\n"
    }
}

/// The SPOFs of every link.
fn spofs(report: &Report) -> Markup {
    let none = report.links.iter().all(|l| l.spofs.is_empty());
    html! {
        section #spofs {
            h2 { "Single points of failure" }
            "\n"
            @if none { p.none { "No single failure takes a link down." } "\n" }
            @for l in report.links.iter().filter(|l| !l.spofs.is_empty()) {
                (spof_list(&l.name, &l.spofs))
            }
        }
        "\n"
    }
}

/// Live SPOFs (after probing or with `--fail`), when there are any.
fn live_spofs(report: &Report) -> Markup {
    let live = |l: &LinkReport| l.live_spofs.clone().filter(|s| !s.is_empty());
    if !report.links.iter().any(|l| live(l).is_some()) {
        return html! {};
    }
    html! {
        section #live-spofs {
            h2 { "Live SPOFs: one more failure from down" }
            "\n"
            @for l in &report.links {
                @if let Some(spofs) = live(l) { (spof_list(&l.name, &spofs)) }
            }
        }
        "\n"
    }
}

/// N-2 pairs (`--depth 2`), when there are any.
fn pairs(report: &Report) -> Markup {
    if !report
        .links
        .iter()
        .any(|l| l.pairs.as_ref().is_some_and(|p| !p.is_empty()))
    {
        return html! {};
    }
    html! {
        section #pairs {
            h2 { "N-2: pairs of failures" }
            table {
                thead { tr { th { "link" } th { "events" } th { "kind" } th { "services down" } } }
                tbody {
                    "\n"
                    @for l in &report.links {
                        @let pairs = l.pairs.as_deref().unwrap_or_default();
                        @for p in pairs.iter().take(MAX_ROWS) {
                            tr {
                                td { (l.name) }
                                td { (codes(&p.events, " + ")) }
                                td { (p.kind) }
                                td.num { (p.impact) }
                            }
                            "\n"
                        }
                        @if pairs.len() > MAX_ROWS {
                            tr.more { td colspan="4" { (l.name) ": " (more(pairs.len() - MAX_ROWS, &html! { "pairs" })) } } "\n"
                        }
                    }
                }
            }
        }
        "\n"
    }
}

/// Risks with their hints: of each rule the first [`MAX_ROWS`], then a line per rule that
/// counts the rest.
fn risks(report: &Report) -> Markup {
    let mut shown: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let rows: Vec<&crate::report::report::RiskReport> = report
        .risks
        .iter()
        .filter(|r| {
            let n = shown.entry(r.rule.id()).or_default();
            *n += 1;
            *n <= MAX_ROWS
        })
        .collect();
    html! {
        section #risks {
            h2 { "Risks" }
            "\n"
            @if report.risks.is_empty() {
                p.none { "No risks found." }
            } @else {
                table {
                    thead { tr { th { "severity" } th { "rule" } th { "subjects" } th { "finding" } } }
                    tbody {
                        "\n"
                        @for r in rows {
                            tr {
                                td { span class={ "badge " (r.severity) } { (r.severity) } }
                                td { code { (r.rule.id()) } }
                                td {
                                    (codes(r.subjects.iter().take(MAX_CELL_NAMES), ", "))
                                    @if r.subjects.len() > MAX_CELL_NAMES {
                                        " and " (r.subjects.len() - MAX_CELL_NAMES) " more"
                                    }
                                }
                                td { (with_code(&r.message)) div.hint { b { "Hint:" } " " (with_code(&r.hint)) } }
                            }
                            "\n"
                        }
                        @for (rule, n) in &shown {
                            @if *n > MAX_ROWS {
                                tr.more { td colspan="4" { (more(n - MAX_ROWS, &html! { code { (rule) } " risks" })) } } "\n"
                            }
                        }
                    }
                }
            }
            "\n"
        }
        "\n"
    }
}

/// Probe results per instance, when the report has any.
fn probes(report: &Report) -> Markup {
    if !report.services.iter().any(|s| s.probes.is_some()) {
        return html! {};
    }
    html! {
        section #probes {
            h2 { "Probe results" }
            table {
                thead {
                    tr {
                        th { "service" } th { "state" } th { "instance" } th { "result" }
                        th { "latency" } th { "reason" }
                    }
                }
                tbody {
                    "\n"
                    @for s in &report.services {
                        @if let Some(probes) = &s.probes {
                            @for (k, p) in probes.iter().enumerate() {
                                tr {
                                    @if k == 0 {
                                        td rowspan=(probes.len()) { b { (s.id) } }
                                        td rowspan=(probes.len()) {
                                            (badge(s.effective))
                                            @if !s.because_of.is_empty() { div.hint { (because(s.effective, &s.because_of)) } }
                                        }
                                    }
                                    td { code { (p.instance) } }
                                    td { (badge(p.state)) }
                                    td.num { @if let Some(ms) = p.latency_ms { (format!("{ms:.1} ms")) } }
                                    td { (with_code(p.reason.as_deref().unwrap_or(""))) }
                                }
                                "\n"
                            }
                        }
                    }
                }
            }
        }
        "\n"
    }
}

/// Changes since the last run.
fn changes_section(changes: &[String]) -> Markup {
    html! {
        section #changes {
            h2 { "Changes since the last run" }
            "\n"
            @if changes.is_empty() {
                p.none { "No changes." } "\n"
            } @else {
                ul { "\n" @for c in changes { li { (c) } "\n" } }
                "\n"
            }
        }
        "\n"
    }
}

/// Availability and latency per link and service over the last 24 h and 7 d (SPEC §6).
fn history_section(history: &crate::report::report::History) -> Markup {
    use crate::report::report::{SubjectHistory, WindowStats};
    // Under 99 % reads as an outage, under 99.9 % as a blemish; above, plain.
    let available = |a: Option<f64>| match a {
        None => html! { td.num { "–" } },
        Some(a) => {
            let class = if a < 0.99 {
                "num avail-low"
            } else if a < 0.999 {
                "num avail-warn"
            } else {
                "num"
            };
            html! { td class=(class) { (format!("{:.2} %", a * 100.0)) } }
        }
    };
    let ms = |v: Option<f64>| html! { td.num { (v.map_or_else(|| "–".to_owned(), |m| format!("{m:.1} ms"))) } };
    let window = |w: &WindowStats| {
        html! {
            td.num { (w.runs) } (available(w.availability)) (ms(w.p50_ms)) (ms(w.p95_ms))
        }
    };
    let row = |kind: &str, h: &SubjectHistory| {
        html! {
            tr { td { span.kind { (kind) } " " b { (h.id) } } (window(&h.last_24h)) (window(&h.last_7d)) }
            "\n"
        }
    };
    html! {
        section #history {
            h2 { "History" }
            p.hint { "Availability counts runs in which the link or service was up or degraded, among the runs in which its state was known; latencies are per run (a link's is its entry's, a service's its slowest answering instance's), read from a histogram within ±2.2 %." }
            table {
                thead {
                    tr { th {} th.window colspan="4" { "last 24 h" } th.window colspan="4" { "last 7 d" } }
                    tr {
                        th { "link or service" }
                        @for _ in 0..2 {
                            th.num { "runs" } th.num { "available" } th.num { "p50" } th.num { "p95" }
                        }
                    }
                }
                tbody {
                    "\n"
                    @for h in &history.links { (row("link", h)) }
                    @for h in &history.services { (row("service", h)) }
                }
            }
        }
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            with_code("<a href=\"x\">&'").into_string(),
            "&lt;a href=&quot;x&quot;&gt;&amp;'"
        );
    }

    #[test]
    fn backticks_become_code() {
        assert_eq!(
            with_code("`a<b>` is down").into_string(),
            "<code>a&lt;b&gt;</code> is down"
        );
        assert_eq!(with_code("one ` tick").into_string(), "one ` tick");
    }

    #[test]
    fn keeps_only_the_svg_element() {
        let svg = "<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n<svg width=\"1pt\"></svg>\n";
        assert_eq!(inline_svg(svg), "<svg width=\"1pt\"></svg>");
    }
}

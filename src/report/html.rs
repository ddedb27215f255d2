//! The HTML report: one self-contained page (SPEC §6).
//!
//! Inline CSS, the graph as inline SVG (given by the caller, who ran Graphviz; a notice takes its
//! place when Graphviz was unavailable), and no network request of any kind: no external font,
//! script, style or image, and a Content-Security-Policy that forbids them should one slip in.
//! Sections: summary per link with state badges, the graph, SPOFs with their explanation, live
//! SPOFs, N-2 pairs, risks with hints, probe results per instance, changes since the last run.
//! Readable on a laptop screen, printable (print CSS). Every text from the topology or the report
//! goes through [`escape`]. A tiny inline script marks `<html data-rendered="ok">` once loaded,
//! with the graph's drawn size and the SPOF count, so a headless browser test can tell the page
//! ran and what it shows.

use std::fmt::Write as _;

use crate::report::report::{Report, Spof, SpofKind};
use crate::state::State;
use crate::topology::model::Topology;

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
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The part of Graphviz's SVG output that can sit inside HTML: from `<svg` on, without the XML
/// declaration, doctype and comments before it.
pub fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |i| &svg[i..]).trim_end()
}

/// Escapes `s`, and shows `` `quoted` `` values (how messages quote user values, STYLE §5) as
/// `<code>`; an unpaired backtick stays as it is.
pub fn escape_with_code(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return escape(s);
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", escape(p))
            } else {
                escape(p)
            }
        })
        .collect()
}

fn badge(state: State) -> String {
    format!("<span class=\"badge {state}\">{state}</span>")
}

/// Marks the page as rendered and records what a reader sees: the graph's drawn size and the
/// number of SPOF entries (read back by the headless-browser test). Touches nothing else.
const SCRIPT: &str = "(function () { var d = document.documentElement.dataset; \
var g = document.querySelector('figure.graph svg'); \
if (g) { var r = g.getBoundingClientRect(); d.graph = Math.round(r.width) + 'x' + Math.round(r.height); } else { d.graph = 'none'; } \
d.spofs = String(document.querySelectorAll('#spofs li').length); \
d.rendered = 'ok'; })();";

const CSS: &str = r#"
:root{--ink:#1f2933;--muted:#52606d;--line:#d9e2ec;--bg:#f5f7fa;--card:#fff;--spof:#d50000}
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg);font-size:15px;line-height:1.45}
body{margin:0}
main{max-width:1240px;margin:0 auto;padding:24px 28px 48px}
header.top{display:flex;flex-wrap:wrap;align-items:baseline;gap:12px 20px;border-bottom:3px solid var(--ink);padding-bottom:12px;margin-bottom:8px}
header.top h1{margin:0;font-size:28px;letter-spacing:-.01em}
header.top .tool{color:var(--muted);font-weight:600;text-transform:uppercase;font-size:12px;letter-spacing:.08em}
header.top .meta{color:var(--muted);font-size:13px;margin-left:auto}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0 6px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:170px}
.stat b{display:block;font-size:22px}
.stat span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.stat small{display:block;color:var(--muted);font-size:12px}
.stat.bad b{color:var(--spof)}
h2{font-size:19px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:18px 0 6px}
.links{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.link{background:var(--card);border:1px solid var(--line);border-left:6px solid #7b8794;border-radius:8px;padding:12px 14px}
.link.down{border-left-color:#c62828}.link.degraded{border-left-color:#b7791f}.link.up{border-left-color:#2e7d32}
.link h3{margin:0 0 4px;display:flex;justify-content:space-between;gap:8px;align-items:center}
.link p{margin:4px 0;color:var(--muted);font-size:14px}
.badge{display:inline-block;border-radius:999px;padding:1px 10px;font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;border:1px solid}
.badge.up{background:#d4efd0;border-color:#2e7d32;color:#1b5e20}
.badge.degraded{background:#ffe2a0;border-color:#b7791f;color:#7a4f00}
.badge.down{background:#f6b8b1;border-color:#c62828;color:#8e0000}
.badge.unknown{background:#e4e7eb;border-color:#7b8794;color:#3e4c59}
.badge.spof{background:var(--spof);border-color:var(--spof);color:#fff}
.badge.error{background:#f6b8b1;border-color:#c62828;color:#8e0000}
.badge.warning{background:#ffe2a0;border-color:#b7791f;color:#7a4f00}
.badge.info{background:#dbeafe;border-color:#3b82f6;color:#1e3a8a}
figure.graph{margin:0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px;overflow:auto;max-height:90vh}
figure.graph svg{display:block;max-width:100%;height:auto;margin:0 auto}
.nograph{background:#fff8e1;border:1px solid #b7791f;border-radius:8px;padding:14px 16px}
ul.spofs{list-style:none;padding:0;margin:0}
ul.spofs li{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--spof);border-radius:6px;padding:8px 12px;margin:6px 0}
.path{display:inline-flex;flex-wrap:wrap;gap:4px;align-items:center;margin-left:6px}
.path code{background:#eef2f7;border-radius:4px;padding:1px 6px}
.path .arrow{color:var(--muted)}
.shared{color:var(--spof);font-weight:700}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.92em}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden;font-size:14px}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef2f7;font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.hint{color:var(--muted);font-size:13px;margin-top:2px}
.whatif{background:#fff8e1;border:1px solid #b7791f;border-radius:8px;padding:10px 14px;margin:12px 0}
.none{color:var(--muted)}
footer{margin-top:36px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
@media print{
  html{background:#fff;font-size:10.5pt}
  main{max-width:none;padding:0}
  figure.graph{max-height:none;overflow:visible;border:none;padding:0}
  section{break-inside:auto}
  h2{break-after:avoid}
  .link,ul.spofs li,tr{break-inside:avoid}
  .badge{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  figure.graph svg{max-height:none}
}
"#;

fn spof_item(s: &Spof) -> String {
    match s.kind {
        SpofKind::Service => {
            let path = s
                .path
                .iter()
                .flatten()
                .map(|p| format!("<code>{}</code>", escape(p)))
                .collect::<Vec<_>>()
                .join("<span class=\"arrow\">→</span>");
            format!(
                "<li class=\"spof-service\"><span class=\"badge spof\">SPOF</span> <b>{}</b> <span class=\"kind\">service</span><span class=\"path\">{path}</span></li>",
                escape(&s.id)
            )
        }
        SpofKind::Domain => {
            let why = match s.implied_by.as_deref() {
                Some(by) if !by.is_empty() => format!(
                    "implied by {}",
                    by.iter()
                        .map(|b| format!("<code>{}</code>", escape(b)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => "<span class=\"shared\">shared fate</span>: redundant instances share this domain".to_owned(),
            };
            format!(
                "<li class=\"spof-domain\"><span class=\"badge spof\">SPOF</span> <b>{}</b> <span class=\"kind\">failure domain</span> — {why}</li>",
                escape(&s.id)
            )
        }
    }
}

/// The HTML page.
pub fn render_html(topo: &Topology, report: &Report, options: &HtmlOptions<'_>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let w = &mut out;
    let title = escape(&report.topology);
    let _ = write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <title>linkpatrol · {title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
    );

    // Header and summary figures.
    let worst = report
        .links
        .iter()
        .map(|l| l.state)
        .max()
        .unwrap_or(State::Unknown);
    let spof_count: usize = report.links.iter().map(|l| l.spofs.len()).sum();
    let _ = write!(
        w,
        "<header class=\"top\"><span class=\"tool\">linkpatrol report</span><h1>{title}</h1>{}",
        badge(worst)
    );
    if let Some(at) = options.generated_at {
        let _ = write!(w, "<span class=\"meta\">{}</span>", escape(at));
    }
    let _ = writeln!(w, "</header>");
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
    let stat = |bad: bool, value: usize, noun: &str, detail: &str| {
        format!(
            "<div class=\"stat{}\"><b>{value}</b><span>{noun}</span><small>{detail}</small></div>",
            if bad { " bad" } else { "" },
        )
    };
    let errors = report
        .risks
        .iter()
        .filter(|r| r.severity == crate::topology::model::Severity::Error)
        .count();
    let _ = writeln!(
        w,
        "<div class=\"stats\">{}{}{}{}</div>",
        stat(links_bad, report.links.len(), "core links", &links_text),
        stat(
            spof_count > 0,
            spof_count,
            "SPOFs",
            "single failures that take a link down"
        ),
        stat(
            errors > 0,
            report.risks.len(),
            "risks",
            &format!("{errors} error{}", if errors == 1 { "" } else { "s" }),
        ),
        stat(
            services_bad,
            report.services.len(),
            "services",
            &services_text
        ),
    );
    if let Some(failed) = &report.assumed_failed {
        let _ = writeln!(
            w,
            "<div class=\"whatif\"><b>What-if:</b> assumed failed {}</div>",
            failed
                .iter()
                .map(|f| format!("<code>{}</code>", escape(f)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // Links.
    let _ = writeln!(
        w,
        "<section id=\"links\"><h2>Core links</h2><div class=\"links\">"
    );
    for l in &report.links {
        let description = topo
            .links
            .iter()
            .find(|t| t.name.as_str() == l.name)
            .and_then(|t| t.description.as_deref());
        let _ = write!(
            w,
            "<div class=\"link {}\"><h3><span>{}</span>{}</h3>",
            l.state,
            escape(&l.name),
            badge(l.state)
        );
        if let Some(d) = description {
            let _ = write!(w, "<p>{}</p>", escape(d));
        }
        let live = l
            .live_spofs
            .as_ref()
            .map(|s| format!(", {} live", s.len()))
            .unwrap_or_default();
        let _ = writeln!(
            w,
            "<p>entry <code>{}</code> · {} services on the critical path · <b>{}</b> SPOF{}{live}</p></div>",
            escape(&l.entry),
            l.critical_path.len(),
            l.spofs.len(),
            if l.spofs.len() == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(w, "</div></section>");

    // Graph.
    let _ = writeln!(w, "<section id=\"graph\"><h2>Graph</h2>");
    if let Some(svg) = options.svg {
        let _ = writeln!(w, "<figure class=\"graph\">{}</figure>", inline_svg(svg));
    } else {
        let reason = options
            .svg_missing_reason
            .unwrap_or("the graph could not be drawn");
        let _ = writeln!(
            w,
            "<div class=\"nograph\"><b>No graph in this report.</b> {}. The DOT and Mermaid files beside this report still describe it.</div>",
            escape(reason)
        );
    }
    let _ = writeln!(w, "</section>");

    // SPOFs.
    let _ = writeln!(w, "<section id=\"spofs\"><h2>Single points of failure</h2>");
    if spof_count == 0 {
        let _ = writeln!(
            w,
            "<p class=\"none\">No single failure takes a link down.</p>"
        );
    }
    for l in report.links.iter().filter(|l| !l.spofs.is_empty()) {
        let _ = writeln!(w, "<h3>{}</h3><ul class=\"spofs\">", escape(&l.name));
        for s in &l.spofs {
            let _ = writeln!(w, "{}", spof_item(s));
        }
        let _ = writeln!(w, "</ul>");
    }
    let _ = writeln!(w, "</section>");

    if report
        .links
        .iter()
        .any(|l| l.live_spofs.as_ref().is_some_and(|s| !s.is_empty()))
    {
        let _ = writeln!(
            w,
            "<section id=\"live-spofs\"><h2>Live SPOFs: one more failure from down</h2>"
        );
        for l in &report.links {
            if let Some(live) = l.live_spofs.as_ref().filter(|s| !s.is_empty()) {
                let _ = writeln!(w, "<h3>{}</h3><ul class=\"spofs\">", escape(&l.name));
                for s in live {
                    let _ = writeln!(w, "{}", spof_item(s));
                }
                let _ = writeln!(w, "</ul>");
            }
        }
        let _ = writeln!(w, "</section>");
    }

    if report
        .links
        .iter()
        .any(|l| l.pairs.as_ref().is_some_and(|p| !p.is_empty()))
    {
        let _ = writeln!(
            w,
            "<section id=\"pairs\"><h2>N-2: pairs of failures</h2><table><thead><tr><th>link</th><th>events</th><th>kind</th><th>services down</th></tr></thead><tbody>"
        );
        for l in &report.links {
            for p in l.pairs.iter().flatten() {
                let _ = writeln!(
                    w,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                    escape(&l.name),
                    p.events
                        .iter()
                        .map(|e| format!("<code>{}</code>", escape(e)))
                        .collect::<Vec<_>>()
                        .join(" + "),
                    escape(&p.kind),
                    p.impact
                );
            }
        }
        let _ = writeln!(w, "</tbody></table></section>");
    }

    // Risks.
    let _ = writeln!(w, "<section id=\"risks\"><h2>Risks</h2>");
    if report.risks.is_empty() {
        let _ = writeln!(w, "<p class=\"none\">No risks found.</p>");
    } else {
        let _ = writeln!(
            w,
            "<table><thead><tr><th>severity</th><th>rule</th><th>subjects</th><th>finding</th></tr></thead><tbody>"
        );
        for r in &report.risks {
            let _ = writeln!(
                w,
                "<tr><td><span class=\"badge {sev}\">{sev}</span></td><td><code>{}</code></td><td>{}</td><td>{}<div class=\"hint\"><b>Hint:</b> {}</div></td></tr>",
                r.rule.id(),
                r.subjects
                    .iter()
                    .map(|s| format!("<code>{}</code>", escape(s)))
                    .collect::<Vec<_>>()
                    .join(", "),
                escape_with_code(&r.message),
                escape_with_code(&r.hint),
                sev = r.severity,
            );
        }
        let _ = writeln!(w, "</tbody></table>");
    }
    let _ = writeln!(w, "</section>");

    // Probe results.
    if report.services.iter().any(|s| s.probes.is_some()) {
        let _ = writeln!(
            w,
            "<section id=\"probes\"><h2>Probe results</h2><table><thead><tr><th>service</th><th>state</th><th>instance</th><th>result</th><th>latency</th><th>reason</th></tr></thead><tbody>"
        );
        for s in &report.services {
            let Some(probes) = &s.probes else { continue };
            for (k, p) in probes.iter().enumerate() {
                let service_cells = if k == 0 {
                    format!(
                        "<td rowspan=\"{n}\"><b>{}</b></td><td rowspan=\"{n}\">{}</td>",
                        escape(&s.id),
                        badge(s.effective),
                        n = probes.len()
                    )
                } else {
                    String::new()
                };
                let latency = p
                    .latency_ms
                    .map(|ms| format!("{ms:.1} ms"))
                    .unwrap_or_default();
                let _ = writeln!(
                    w,
                    "<tr>{service_cells}<td><code>{}</code></td><td>{}</td><td class=\"num\">{latency}</td><td>{}</td></tr>",
                    escape(&p.instance),
                    badge(p.state),
                    escape_with_code(p.reason.as_deref().unwrap_or(""))
                );
            }
        }
        let _ = writeln!(w, "</tbody></table></section>");
    }

    // Changes.
    if let Some(changes) = options.changes {
        let _ = writeln!(
            w,
            "<section id=\"changes\"><h2>Changes since the last run</h2>"
        );
        if changes.is_empty() {
            let _ = writeln!(w, "<p class=\"none\">No changes.</p>");
        } else {
            let _ = writeln!(w, "<ul>");
            for c in changes {
                let _ = writeln!(w, "<li>{}</li>", escape(c));
            }
            let _ = writeln!(w, "</ul>");
        }
        let _ = writeln!(w, "</section>");
    }

    let _ = write!(
        w,
        "<footer>Made by linkpatrol. This page is self-contained: it loads nothing from the network.</footer>\n\
         </main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn backticks_become_code() {
        assert_eq!(
            escape_with_code("`a<b>` is down"),
            "<code>a&lt;b&gt;</code> is down"
        );
        assert_eq!(escape_with_code("one ` tick"), "one ` tick");
    }

    #[test]
    fn keeps_only_the_svg_element() {
        let svg = "<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n<svg width=\"1pt\"></svg>\n";
        assert_eq!(inline_svg(svg), "<svg width=\"1pt\"></svg>");
    }
}

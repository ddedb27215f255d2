//! Risk rules (SPEC §2): each finding has a stable rule id, a severity (from
//! [`RiskSettings`]), subjects, a message and a hint.
//!
//! Rules that concern links (`spof`) use the analysed links only; every other rule looks at the
//! whole topology (all links' critical paths).
//!
//! `spof` reports one finding per failure event (a service without a spare, or a `key=value`),
//! whose subjects are the event then every analysed link it takes down, in name order (SPEC §2
//! "At scale"): a shared database behind 50 links is one finding, not 50. The per-link detail
//! (each path, each `implied_by`) stays in the links' `spofs`. Messages name at most
//! `MAX_NAMES` links or services; the subjects name them all.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use crate::analysis::graph::Graph;
use crate::analysis::{LinkAnalysis, SpofFinding};
use crate::topology::model::{
    Domain, RiskRule, RiskSettings, ServiceIdx, Severity, Strength, Target, Topology,
};

/// One risk finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Risk {
    /// Stable rule id.
    pub rule: RiskRule,
    /// Severity after the file's overrides.
    pub severity: Severity,
    /// Services, links or domains concerned, in a rule-specific order.
    pub subjects: Vec<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// Every enabled rule's findings, sorted by severity (worst first), rule, subjects.
pub fn risks(
    topo: &Topology,
    g: &Graph,
    links: &[LinkAnalysis],
    all_paths: &[Vec<ServiceIdx>],
) -> Vec<Risk> {
    let threads = crate::par::threads_for(g.n, crate::par::PARALLEL_MIN_SERVICES);
    risks_on(topo, g, links, all_paths, threads)
}

/// [`risks`], with the per-service rules on `threads` threads.
fn risks_on<'t>(
    topo: &'t Topology,
    g: &Graph,
    links: &[LinkAnalysis],
    all_paths: &[Vec<ServiceIdx>],
    threads: usize,
) -> Vec<Risk> {
    let settings = &topo.risks;
    let names_by_idx: Vec<&str> = topo.services.iter().map(|s| s.name.as_str()).collect();
    let name = |s: ServiceIdx| names_by_idx[s.get()].to_owned();
    let mut out: Vec<Risk> = Vec::new();
    let mut push = |rule: RiskRule, subjects: Vec<String>, message: String, hint: String| {
        add(&mut out, settings, rule, subjects, message, hint);
    };

    // spof: one finding per failure event, naming every analysed link it takes down.
    for (kind, ls) in spof_groups(links) {
        let lnames: Vec<String> = ls
            .iter()
            .map(|&l| topo.links[l].name.as_str().to_owned())
            .collect();
        let takes = if let [only] = lnames.as_slice() {
            format!("takes link `{only}` down")
        } else {
            format!("takes down {} links: {}", lnames.len(), quote_list(&lnames))
        };
        let (event, message, hint) = match kind {
            SpofKind::Service { service, path } => {
                let chain: Vec<String> = path.iter().map(|&s| name(s)).collect();
                let shortest = if ls.len() == 1 { "" } else { "shortest: " };
                (
                    name(service),
                    format!(
                        "`{}` has no spare instance and its loss {takes} ({shortest}{})",
                        name(service),
                        chain.join(" → ")
                    ),
                    format!(
                        "run more instances of `{}` than `min_healthy`, or make the call to it weak with a fallback",
                        name(service)
                    ),
                )
            }
            SpofKind::Domain {
                domain,
                implied_by,
                shared_fate,
            } => {
                let mut why = Vec::new();
                if !implied_by.is_empty() {
                    let v: Vec<String> = implied_by.iter().map(|&s| name(s)).collect();
                    why.push(format!("implied by {}", capped(&v)));
                }
                if shared_fate.len() == ls.len() {
                    why.push("shared fate: redundant instances share this domain".to_owned());
                } else if !shared_fate.is_empty() {
                    let v: Vec<String> = shared_fate
                        .iter()
                        .map(|&l| topo.links[l].name.as_str().to_owned())
                        .collect();
                    why.push(format!(
                        "shared fate on {}: redundant instances share this domain",
                        quote_list(&v)
                    ));
                }
                let these = if ls.len() == 1 {
                    "this link"
                } else {
                    "these links"
                };
                (
                    domain.to_string(),
                    format!("losing `{domain}` {takes} ({})", why.join("; ")),
                    format!(
                        "spread the instances on {these} over more than one `{}`",
                        domain.key
                    ),
                )
            }
        };
        let mut subjects = Vec::with_capacity(lnames.len() + 1);
        subjects.push(event);
        subjects.extend(lnames);
        push(RiskRule::Spof, subjects, message, hint);
    }

    // strong-cycle
    let all = vec![true; g.n];
    let sccs = g.strong_sccs(&all);
    for comp in sccs.iter().filter(|c| c.len() > 1) {
        let cycle = shortest_cycle(g, comp);
        let mut names: Vec<String> = cycle.iter().map(|&s| name(ServiceIdx(s))).collect();
        let subjects = names.clone();
        names.push(names[0].clone());
        push(
            RiskRule::StrongCycle,
            subjects,
            format!("strong dependency cycle: {}", names.join(" → ")),
            "a failure anywhere in the loop takes all of it down, and it cannot start cleanly; make one of these dependencies weak or remove it".to_owned(),
        );
    }

    // Which links each service is on.
    let mut on_links: Vec<Vec<usize>> = vec![Vec::new(); g.n];
    for (l, path) in all_paths.iter().enumerate() {
        for s in path {
            on_links[s.get()].push(l);
        }
    }
    // A service and the links it is on, as the subjects of one finding.
    let with_links = |service: &str, lnames: &[&str]| -> Vec<String> {
        let mut subjects = Vec::with_capacity(lnames.len() + 1);
        subjects.push(service.to_owned());
        subjects.extend(lnames.iter().map(|&l| l.to_owned()));
        subjects
    };

    // Per service on a critical path; a large topology's services in interleaved blocks on
    // every core (the deeper services are on more links, with longer messages).
    let per_service = |lnames: &mut Vec<&'t str>, range: std::ops::Range<usize>| -> Vec<Risk> {
        let mut out: Vec<Risk> = Vec::new();
        let mut push = |rule: RiskRule, subjects: Vec<String>, message: String, hint: String| {
            add(&mut out, settings, rule, subjects, message, hint);
        };
        for s in range {
            let svc = &topo.services[s];
            let ls = &on_links[s];
            let noncore = svc.core_explicit && !svc.core;
            let unprobed = !svc.is_probed();
            let hotspot = ls.len() >= settings.hotspot_min_links;
            if ls.is_empty() || !(noncore || unprobed || hotspot) {
                continue;
            }
            let sname = names_by_idx[s];
            lnames.clear();
            lnames.extend(ls.iter().map(|&l| topo.links[l].name.as_str()));
            let quoted = quote_list(lnames);
            if noncore {
                push(
                RiskRule::NoncoreOnCriticalPath,
                with_links(sname, lnames),
                format!(
                    "`{sname}` is marked `core: false` but is on the critical path of {quoted}"
                ),
                "make the calls to it weak (with a timeout and fallback), or mark it core and give it core-level redundancy".to_owned(),
            );
            }
            if unprobed {
                push(
                    RiskRule::UnprobedCritical,
                    vec![sname.to_owned()],
                    format!("`{sname}` is on the critical path of {quoted} but nothing probes it"),
                    format!("add a `probe:` to `{sname}`"),
                );
            }
            if hotspot {
                push(
                RiskRule::SharedHotspot,
                with_links(sname, lnames),
                format!(
                    "`{sname}` is on the critical path of {} links: {quoted}",
                    ls.len(),
                ),
                "a failure here hits every one of these links; give it extra redundancy and its own alerting".to_owned(),
            );
            }
        }
        out
    };
    let service_risks = crate::par::interleaved(g.n, threads, 1024, Vec::new, per_service);

    // weak-without-timeout
    for (idx, svc) in topo.iter_services() {
        for dep in &svc.depends_on {
            if dep.strength != Strength::Weak
                || dep.timeout.is_some()
                || !settings.enabled(RiskRule::WeakWithoutTimeout)
            {
                continue;
            }
            let mut subjects = vec![name(idx)];
            let what = match &dep.target {
                Target::Service(t) => {
                    subjects.push(name(*t));
                    format!("`{}`", name(*t))
                }
                Target::AnyOf { members, .. } => {
                    subjects.extend(members.iter().map(|&m| name(m)));
                    format!("group `{}`", dep.label)
                }
            };
            let caller = names_by_idx[idx.get()];
            let mut message = String::with_capacity(96);
            message.push('`');
            message.push_str(caller);
            message.push_str("` calls ");
            message.push_str(&what);
            message.push_str(" as a weak dependency without a timeout: if it hangs, `");
            message.push_str(caller);
            message.push_str("` hangs with it");
            push(
                RiskRule::WeakWithoutTimeout,
                subjects,
                message,
                "set `timeout:` on the dependency so a slow answer degrades instead of blocking"
                    .to_owned(),
            );
        }
    }

    // deep-strong-chain
    let chains = longest_chains(g, &sccs);
    for link in &topo.links {
        let chain = chains(link.entry.0);
        let depth = chain.len() - 1;
        if depth > settings.max_strong_depth {
            let names: Vec<String> = chain.iter().map(|&s| name(ServiceIdx(s))).collect();
            push(
                RiskRule::DeepStrongChain,
                names.clone(),
                format!(
                    "link `{}` has a strong chain of depth {depth} (more than {}): {}",
                    link.name,
                    settings.max_strong_depth,
                    names.join(" → ")
                ),
                "every strong hop multiplies the failure probability and adds latency; make some of these calls weak (async, cached, with fallback)".to_owned(),
            );
        }
    }

    out.reserve(service_risks.iter().map(Vec::len).sum());
    out.extend(service_risks.into_iter().flatten());
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.rule.cmp(&b.rule))
            .then_with(|| a.subjects.cmp(&b.subjects))
    });
    out.dedup();
    out
}

/// Adds a finding of `rule` to `out`, with the rule's severity, unless the file turns it off.
fn add(
    out: &mut Vec<Risk>,
    settings: &RiskSettings,
    rule: RiskRule,
    subjects: Vec<String>,
    message: String,
    hint: String,
) {
    if settings.enabled(rule) {
        out.push(Risk {
            rule,
            severity: settings.severity_of(rule),
            subjects,
            message,
            hint,
        });
    }
}

/// At most this many names in one list of a risk message; the subjects hold them all.
const MAX_NAMES: usize = 10;

/// `` `a`, `b`, `c` `` — the first [`MAX_NAMES`], then `and N more`.
fn quote_list<S: AsRef<str>>(names: &[S]) -> String {
    let shown = &names[..names.len().min(MAX_NAMES)];
    let mut out =
        String::with_capacity(shown.iter().map(|n| n.as_ref().len() + 4).sum::<usize>() + 16);
    for (i, n) in shown.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('`');
        out.push_str(n.as_ref());
        out.push('`');
    }
    if names.len() > MAX_NAMES {
        let _ = write!(out, " and {} more", names.len() - MAX_NAMES);
    }
    out
}

/// `a, b, c` — the first [`MAX_NAMES`], then `and N more`.
fn capped(names: &[String]) -> String {
    if names.len() <= MAX_NAMES {
        names.join(", ")
    } else {
        format!(
            "{} and {} more",
            names[..MAX_NAMES].join(", "),
            names.len() - MAX_NAMES
        )
    }
}

/// One SPOF event, as the `spof` rule reports it.
enum SpofKind {
    /// A service without a spare, with the shortest path from any entry it takes down.
    Service {
        service: ServiceIdx,
        path: Vec<ServiceIdx>,
    },
    /// A domain, with the union of `implied_by` over its links and the links where it is
    /// shared fate (`implied_by` empty).
    Domain {
        domain: Domain,
        implied_by: Vec<ServiceIdx>,
        shared_fate: Vec<usize>,
    },
}

/// Per domain: the union of `implied_by`, its links, the links where it is shared fate.
type DomainLinks = (BTreeSet<ServiceIdx>, Vec<usize>, Vec<usize>);

/// The design SPOFs of `links` grouped by event: services (by index) then domains (by
/// `key=value`), each with the links it takes down in `links` order (name order).
fn spof_groups(links: &[LinkAnalysis]) -> Vec<(SpofKind, Vec<usize>)> {
    let mut services: BTreeMap<ServiceIdx, (Vec<ServiceIdx>, Vec<usize>)> = BTreeMap::new();
    let mut domains: BTreeMap<&Domain, DomainLinks> = BTreeMap::new();
    for la in links {
        for f in &la.spofs {
            match f {
                SpofFinding::Service { service, path } => {
                    let e = services
                        .entry(*service)
                        .or_insert_with(|| (path.clone(), Vec::new()));
                    if path.len() < e.0.len() {
                        e.0.clone_from(path);
                    }
                    e.1.push(la.link);
                }
                SpofFinding::Domain { domain, implied_by } => {
                    let e = domains.entry(domain).or_default();
                    e.0.extend(implied_by.iter().copied());
                    e.1.push(la.link);
                    if implied_by.is_empty() {
                        e.2.push(la.link);
                    }
                }
            }
        }
    }
    let mut out: Vec<(SpofKind, Vec<usize>)> = services
        .into_iter()
        .map(|(service, (path, ls))| (SpofKind::Service { service, path }, ls))
        .collect();
    out.extend(domains.into_iter().map(|(d, (implied, ls, shared))| {
        (
            SpofKind::Domain {
                domain: d.clone(),
                implied_by: implied.into_iter().collect(),
                shared_fate: shared,
            },
            ls,
        )
    }));
    out
}

/// A shortest cycle through the smallest member of a strongly connected component.
fn shortest_cycle(g: &Graph, comp: &[u32]) -> Vec<u32> {
    let start = comp[0];
    let in_comp = |v: u32| comp.binary_search(&v).is_ok();
    let mut parent: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(u) = queue.pop_front() {
        for &t in g.strong_succs(u) {
            if t == start {
                let mut cycle = vec![u];
                let mut cur = u;
                while cur != start {
                    cur = parent[&cur];
                    cycle.push(cur);
                }
                cycle.reverse();
                return cycle;
            }
            if in_comp(t) && !parent.contains_key(&t) {
                parent.insert(t, u);
                queue.push_back(t);
            }
        }
    }
    vec![start]
}

/// For every service, a longest strong chain starting at it, counting each strong cycle as one
/// step (a chain is a sequence of services each strong-called from the previous component).
fn longest_chains(g: &Graph, sccs: &[Vec<u32>]) -> impl Fn(u32) -> Vec<u32> {
    let n = g.n;
    let mut comp_of = vec![0u32; n];
    for (c, comp) in sccs.iter().enumerate() {
        for &v in comp {
            comp_of[v as usize] = c as u32;
        }
    }
    // sccs come dependencies first, so one forward pass suffices.
    let mut depth = vec![0usize; sccs.len()];
    let mut next: Vec<Option<u32>> = vec![None; sccs.len()];
    for (c, comp) in sccs.iter().enumerate() {
        for &u in comp {
            for &t in g.strong_succs(u) {
                let ct = comp_of[t as usize] as usize;
                if ct != c
                    && (depth[ct] + 1 > depth[c]
                        || (depth[ct] + 1 == depth[c] && next[c].is_some_and(|x| t < x)))
                {
                    depth[c] = depth[ct] + 1;
                    next[c] = Some(t);
                }
            }
        }
    }
    move |start: u32| {
        let mut chain = vec![start];
        let mut c = comp_of[start as usize] as usize;
        while let Some(t) = next[c] {
            chain.push(t);
            c = comp_of[t as usize] as usize;
        }
        chain
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use crate::analysis::graph::Graph;
    use crate::analysis::{Options, analyze, critical_path};

    /// The per-service rules on several threads give exactly the risks of one thread, in the
    /// same order: a generated topology above the threshold, with unprobed, non-core and
    /// shared services and weak calls without a timeout.
    #[test]
    fn risks_on_several_threads_are_the_risks_of_one() {
        let mut src = String::from("version: 1\nname: t\nlinks:\n");
        for l in 0..6 {
            writeln!(src, "  link-{l}: {{ entry: s{:05} }}", l * 7).unwrap();
        }
        src.push_str("services:\n");
        let n = 6_000;
        for i in 0..n {
            writeln!(src, "  s{i:05}:").unwrap();
            if i % 3 == 0 {
                writeln!(src, "    probe: {{ tcp: {{ address: \"127.0.0.1:9\" }} }}").unwrap();
            }
            if i % 11 == 0 {
                writeln!(src, "    core: false").unwrap();
            }
            if i + 2 < n {
                writeln!(
                    src,
                    "    depends_on: {{ s{:05}: strong, s{:05}: weak }}",
                    (i * 7 + 3) % n,
                    i + 1
                )
                .unwrap();
            }
        }
        let topo = crate::topology::load_str(&src, "t.yaml").expect("loads");
        let analysis = analyze(&topo, &Options::default()).expect("analyses");
        let g = Graph::new(&topo);
        let paths: Vec<_> = topo
            .links
            .iter()
            .map(|l| critical_path(&g, l.entry.0))
            .collect();
        let one = super::risks_on(&topo, &g, &analysis.links, &paths, 1);
        assert!(one.len() > 1_000, "{} risks", one.len());
        for threads in [2, 3, 7] {
            let many = super::risks_on(&topo, &g, &analysis.links, &paths, threads);
            assert!(many == one, "{threads} threads differ");
        }
        assert!(one == analysis.risks);
    }
}

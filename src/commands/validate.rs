//! `linkpatrol validate`: load the topology, print every problem (stderr) or a short summary
//! (stdout). Exit 0 when valid (warnings allowed), 2 when not.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;

use super::{Context, ExitStatus, load_or_report};
use crate::cli::ValidateArgs;
use crate::terminal::printable;
use crate::topology::model::{Strength, Target, Topology};

/// Runs `validate`.
pub fn run(ctx: &Context, _args: &ValidateArgs) -> anyhow::Result<ExitStatus> {
    let Some(loaded) = load_or_report(ctx) else {
        return Ok(ExitStatus::Invalid);
    };
    if ctx.quiet {
        std::mem::forget(loaded);
        return Ok(ExitStatus::Success);
    }
    let summary = Summary::of(&loaded.topology);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: `{}` is valid",
        printable(&loaded.warnings.origin),
        printable(loaded.topology.name.as_str())
    )?;
    write!(out, "{summary}")?;
    let warnings = loaded.warnings.warnings().count();
    if warnings > 0 {
        writeln!(out, "  warnings   {warnings}")?;
    }
    if ctx.verbose > 0 {
        for s in &loaded.topology.services {
            let deps: Vec<String> = s
                .depends_on
                .iter()
                .map(|d| format!("{} ({})", printable(&d.label), d.strength))
                .collect();
            writeln!(
                out,
                "  - {}: {} instance(s), min_healthy {}, probe {}, depends on [{}]",
                printable(s.name.as_str()),
                s.instances.len(),
                s.min_healthy,
                s.instances
                    .first()
                    .and_then(|i| i.probe.as_ref())
                    .map_or_else(
                        || "none".to_owned(),
                        |p| {
                            let mut extra: Vec<String> =
                                p.check.options().iter().map(|o| (*o).to_owned()).collect();
                            if let Some(d) = p.check.detail() {
                                extra.push(printable(&d).to_string());
                            }
                            if extra.is_empty() {
                                p.check.kind().to_owned()
                            } else {
                                format!("{} ({})", p.check.kind(), extra.join(", "))
                            }
                        }
                    ),
                deps.join(", ")
            )?;
        }
    }
    out.flush()?;
    // Freeing a 100k-service model takes longer than the OS needs to reclaim it at exit.
    std::mem::forget(loaded);
    Ok(ExitStatus::Success)
}

/// Counts shown by `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Services.
    pub services: usize,
    /// Links.
    pub links: usize,
    /// Instances over all services.
    pub instances: usize,
    /// Edges to single services or group members, strong.
    pub strong_edges: usize,
    /// … weak.
    pub weak_edges: usize,
    /// any_of groups.
    pub groups: usize,
    /// Probes (one per probed instance) by type.
    pub probes: BTreeMap<&'static str, usize>,
    /// Services without a probe.
    pub unprobed: usize,
    /// Probes by optional check (`postgres query`, `redis info`, `mysql tls`, …).
    pub options: BTreeMap<String, usize>,
}

impl Summary {
    /// Counts `t`.
    pub fn of(t: &Topology) -> Self {
        let mut s = Self {
            services: t.services.len(),
            links: t.links.len(),
            instances: 0,
            strong_edges: 0,
            weak_edges: 0,
            groups: 0,
            probes: BTreeMap::new(),
            unprobed: 0,
            options: BTreeMap::new(),
        };
        for svc in &t.services {
            s.instances += svc.instances.len();
            if !svc.is_probed() {
                s.unprobed += 1;
            }
            // The service's probe on each instance, and each operation's own (SPEC §1).
            let own = svc.instances.iter().map(|i| &i.probe);
            let ops = svc.operations.iter().flat_map(|o| &o.probes);
            for p in own.chain(ops).flatten() {
                {
                    *s.probes.entry(p.check.kind()).or_default() += 1;
                    for o in p.check.options() {
                        *s.options
                            .entry(format!("{} {o}", p.check.kind()))
                            .or_default() += 1;
                    }
                }
            }
            // The service's dependencies and its operations' own.
            let deps = svc
                .depends_on
                .iter()
                .chain(svc.operations.iter().flat_map(|o| &o.depends_on));
            for d in deps {
                let n = d.targets().len();
                match d.strength {
                    Strength::Strong => s.strong_edges += n,
                    Strength::Weak => s.weak_edges += n,
                }
                if matches!(d.target, Target::AnyOf { .. }) {
                    s.groups += 1;
                }
            }
        }
        s
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  services   {}", self.services)?;
        writeln!(f, "  links      {}", self.links)?;
        writeln!(f, "  instances  {}", self.instances)?;
        writeln!(
            f,
            "  edges      {} ({} strong, {} weak; {} any_of {})",
            self.strong_edges + self.weak_edges,
            self.strong_edges,
            self.weak_edges,
            self.groups,
            if self.groups == 1 { "group" } else { "groups" }
        )?;
        let total: usize = self.probes.values().sum();
        let by_type: Vec<String> = self
            .probes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        write!(f, "  probes     {total}")?;
        if !by_type.is_empty() {
            write!(f, " ({})", by_type.join(", "))?;
        }
        if self.unprobed > 0 {
            write!(f, "; {} unprobed services", self.unprobed)?;
        }
        writeln!(f)?;
        if !self.options.is_empty() {
            let options: Vec<String> = self
                .options
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(f, "  checks     {}", options.join(", "))?;
        }
        Ok(())
    }
}

//! Validation: [`RawTopology`] → [`Topology`], collecting every semantic problem in one pass.
//!
//! This is the only place where the rules of SPEC §1 live: references resolve, counts fit,
//! durations parse, `${VAR}` is read from the environment (and kept secret in [`Text`](crate::topology::model::Text)), defaults
//! are applied to every probe, and `{address}` is expanded per instance. Nothing stops at the
//! first problem: each check records a [`Diagnostic`] with the location kept on the raw types and
//! moves on, so a user fixes a file in one round.
//!
//! Errors make the whole load fail; warnings (`unreachable-service`, `no-links`) do not.
//!
//! One file per concern, each adding its methods to the shared context `Cx`: `services`
//! (services, instances, failure domains), `probes` (check types, defaults, `{address}`),
//! `dependencies` (`depends_on` and `any_of` groups), `interpolate` (`${VAR}`), `risks` (the
//! `risks:` settings). This file holds the entry point, the context and the cross-service
//! checks (links, reachability).

mod alerts;
mod dependencies;
mod interpolate;
mod probes;
mod risks;
mod services;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::Duration;

use super::model::{Defaults, Link, LinkName, OperationIdx, Service, ServiceIdx, Topology};
use super::raw::{DurationText, RawTopology, Sp};
use crate::diag::{Code, Diagnostic, Span};
pub use probes::parse_comparison;

/// Environment lookup for `${VAR}`.
pub type Env<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Validates `raw`. Returns the model when there is no error, and every diagnostic (errors and
/// warnings) found.
pub fn validate(raw: &RawTopology, env: Env<'_>) -> (Option<Topology>, Vec<Diagnostic>) {
    validate_with(
        raw,
        env,
        crate::par::threads_for(raw.services.len(), crate::par::PARALLEL_MIN_SERVICES),
    )
}

/// [`validate`] on `threads` threads.
fn validate_with(
    raw: &RawTopology,
    env: Env<'_>,
    threads: usize,
) -> (Option<Topology>, Vec<Diagnostic>) {
    let mut cx = Cx {
        diags: Vec::new(),
        env,
        budget_from: usize::MAX,
    };
    if raw.version.value != 1 {
        cx.err(
            Code::UnsupportedVersion,
            raw.version.span(),
            format!("unsupported version `{}`", raw.version.value),
        )
        .label("this linkpatrol reads `version: 1`");
    }
    let defaults = cx.defaults(raw);
    let inspect = cx.inspect(raw);

    // Services sorted by name; references resolve through `index`.
    let mut order: Vec<usize> = (0..raw.services.len()).collect();
    order.sort_by(|&a, &b| raw.services.0[a].0.value.cmp(&raw.services.0[b].0.value));
    let index: HashMap<&str, ServiceIdx> = order
        .iter()
        .enumerate()
        .map(|(i, &r)| (raw.services.0[r].0.value.as_str(), ServiceIdx(i as u32)))
        .collect();
    let names: Vec<&str> = order
        .iter()
        .map(|&r| raw.services.0[r].0.value.as_str())
        .collect();
    // Operation names per service (sorted like the model's `operations`), for `operation:`.
    let operations: Vec<Vec<&str>> = order
        .iter()
        .map(|&r| {
            let mut ops: Vec<&str> = raw.services.0[r]
                .1
                .operations
                .iter()
                .map(|(k, _)| k.value.as_str())
                .collect();
            ops.sort_unstable();
            ops.dedup();
            ops
        })
        .collect();
    let resolver = Resolver {
        index: &index,
        names: &names,
        operations: &operations,
    };

    // The instance budget of the whole file, counted before anything is allocated.
    let mut total: u64 = 0;
    let mut budget_from = usize::MAX;
    for (i, &r) in order.iter().enumerate() {
        let (key, svc) = &raw.services.0[r];
        let here = match (&svc.instances, &svc.replicas) {
            (Some(list), _) => list.value.len() as u64,
            (None, Some(n)) => n.value.min(MAX_INSTANCES),
            (None, None) => 1,
        };
        total = total.saturating_add(here);
        if total > MAX_TOTAL_INSTANCES {
            cx.err(
                Code::TooLarge,
                key.span(),
                format!(
                    "with `{}` the topology has more than {MAX_TOTAL_INSTANCES} instances in all",
                    key.value
                ),
            )
            .label("the instances up to here already exceed the limit")
            .help("split the topology, or describe large fleets by failure domain rather than by instance");
            budget_from = i;
            break;
        }
    }

    // Services are checked independently of each other: large files use every core.
    let check = |range: std::ops::Range<usize>| {
        let mut cx = Cx {
            diags: Vec::new(),
            env,
            budget_from,
        };
        let services: Vec<Service> = range
            .map(|i| {
                let (key, svc) = &raw.services.0[order[i]];
                cx.service(key, svc, ServiceIdx(i as u32), &defaults, &resolver)
            })
            .collect();
        (services, cx.diags)
    };
    let n = order.len();
    let results = crate::par::chunks(n, threads, check);
    let mut services = Vec::with_capacity(n);
    for (s, d) in results {
        services.extend(s);
        cx.diags.extend(d);
    }

    let mut links = Vec::with_capacity(raw.links.len());
    for (key, link) in raw.links.iter() {
        let entry = resolver.resolve(&link.entry, &mut cx, |n| {
            format!(
                "link `{}` starts at `{n}`, which is not a declared service",
                key.value
            )
        });
        let operation = match (entry, &link.operation) {
            (Some(e), Some(op)) => resolver.operation(e, op, &mut cx, || {
                format!("link `{}` enters `{}`", key.value, link.entry.value)
            }),
            _ => None,
        };
        if link.operation.is_some() && operation.is_none() {
            continue;
        }
        if let Some(entry) = entry {
            links.push(Link {
                name: LinkName::new(&key.value),
                entry,
                operation,
                description: link
                    .description
                    .as_ref()
                    .map(|d| cx.shown(d, link.entry.span())),
            });
        }
    }
    links.sort_by(|a, b| a.name.cmp(&b.name));

    let risks = cx.risks(raw);
    let alerts = raw.alerts.as_ref().map(|a| cx.alerts(a, &services));

    // Warnings: nothing to analyse per link, or services no link reaches.
    if raw.links.is_empty() {
        cx.diags.push(
            Diagnostic::warning(
                Code::NoLinks,
                raw.name.span(),
                "the topology declares no `links`",
            )
            .with_help("add `links:` with an `entry:` service so SPOFs can be computed per link"),
        );
    } else if services.len() == order.len() {
        let mut seen = vec![false; services.len()];
        let mut stack: Vec<ServiceIdx> = links.iter().map(|l| l.entry).collect();
        while let Some(s) = stack.pop() {
            if std::mem::replace(&mut seen[s.get()], true) {
                continue;
            }
            let svc = &services[s.get()];
            for d in svc
                .depends_on
                .iter()
                .chain(svc.operations.iter().flat_map(|o| &o.depends_on))
            {
                stack.extend(d.targets().iter().copied().filter(|t| !seen[t.get()]));
            }
        }
        for (i, &r) in order.iter().enumerate() {
            if !seen[i] {
                let key = &raw.services.0[r].0;
                cx.diags.push(
                    Diagnostic::warning(
                        Code::UnreachableService,
                        key.span(),
                        format!("service `{}` is not reachable from any link", key.value),
                    )
                    .with_label("no link's entry depends on it, directly or indirectly")
                    .with_help("add it to a `depends_on`, make it a link's `entry`, or remove it"),
                );
            }
        }
    }

    let has_errors = cx
        .diags
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error);
    let topology = (!has_errors).then(|| Topology {
        name: raw.name.value.clone(),
        version: raw.version.value,
        defaults,
        links,
        index: services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), ServiceIdx(i as u32)))
            .collect(),
        services,
        risks,
        inspect,
        alerts,
    });
    (topology, cx.diags)
}

struct Cx<'e> {
    diags: Vec<Diagnostic>,
    env: Env<'e>,
    /// Services from this index on (in sorted order) get one instance each: the instances
    /// before them already reach [`MAX_TOTAL_INSTANCES`] (an error was reported).
    budget_from: usize,
}

/// Instances one service may have (`replicas` or an `instances` list).
pub const MAX_INSTANCES: u64 = 10_000;

/// Instances a whole topology may have.
pub const MAX_TOTAL_INSTANCES: u64 = 1_000_000;

/// `retries` at most.
pub const MAX_RETRIES: u32 = 10;

/// Lets a just-pushed diagnostic get a label, help or suggestion.
struct Last<'a>(&'a mut Diagnostic);

impl Last<'_> {
    fn label(self, l: impl Into<String>) -> Self {
        self.0.label = Some(l.into());
        self
    }
    fn help(self, h: impl Into<String>) -> Self {
        self.0.help = Some(h.into());
        self
    }
    fn suggest<'a>(self, wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        if let Some(best) = crate::diag::closest(wrong, candidates) {
            self.0.help = Some(format!("did you mean `{best}`?"));
        }
        self
    }
}

struct Resolver<'a> {
    index: &'a HashMap<&'a str, ServiceIdx>,
    names: &'a [&'a str],
    /// Per service, its operation names, sorted.
    operations: &'a [Vec<&'a str>],
}

impl Resolver<'_> {
    /// Looks `name` up; on failure records `unknown-service` with a suggestion.
    fn resolve(
        &self,
        name: &Sp<String>,
        cx: &mut Cx<'_>,
        message: impl FnOnce(&str) -> String,
    ) -> Option<ServiceIdx> {
        if let Some(&i) = self.index.get(name.value.as_str()) {
            return Some(i);
        }
        cx.err(Code::UnknownService, name.span(), message(&name.value))
            .label("not a service under `services:`")
            .suggest(&name.value, self.names.iter().copied());
        None
    }

    /// Looks operation `op` of service `target` up; on failure records `unknown-operation`
    /// with a suggestion. `what` says who names it (`link `x` enters `frontend``).
    fn operation(
        &self,
        target: ServiceIdx,
        op: &Sp<String>,
        cx: &mut Cx<'_>,
        what: impl FnOnce() -> String,
    ) -> Option<OperationIdx> {
        let ops = &self.operations[target.get()];
        if let Ok(i) = ops.binary_search(&op.value.as_str()) {
            return Some(OperationIdx(i as u32));
        }
        let service = self.names[target.get()];
        let message = format!(
            "{} through operation `{}`, which `{service}` does not declare",
            what(),
            op.value
        );
        if ops.is_empty() {
            cx.err(Code::UnknownOperation, op.span(), message)
                .label(format!("`{service}` has no `operations:`"))
                .help(format!(
                    "declare it under `{service}: {{ operations: {{ {}: {{}} }} }}`, or remove `operation`",
                    op.value
                ));
        } else {
            let list = ops
                .iter()
                .map(|o| format!("`{o}`"))
                .collect::<Vec<_>>()
                .join(", ");
            cx.err(Code::UnknownOperation, op.span(), message)
                .label(format!("expected one of {list}"))
                .suggest(&op.value, ops.iter().copied());
        }
        None
    }
}

impl Cx<'_> {
    fn err(&mut self, code: Code, span: Option<Span>, message: impl Into<String>) -> Last<'_> {
        self.diags.push(Diagnostic::error(code, span, message));
        Last(self.diags.last_mut().expect("just pushed"))
    }

    fn duration(&mut self, d: &Sp<DurationText>, what: &str) -> Option<Duration> {
        match d
            .value
            .0
            .parse::<crate::duration::HumanDuration>()
            .map(|h| h.0)
        {
            Ok(v) if v.is_zero() => {
                self.err(
                    Code::ZeroDuration,
                    d.span(),
                    format!("{what} must be longer than zero"),
                )
                .label("expected a positive duration like `250ms`, `2s` or `1m`");
                None
            }
            Ok(v) => Some(v),
            Err(why) => {
                self.err(
                    Code::BadDuration,
                    d.span(),
                    format!("invalid duration `{}` for {what}: {why}", d.value.0),
                )
                .label("expected a duration like `250ms`, `2s`, `1m` or `1h`");
                None
            }
        }
    }

    /// `retries`, capped at [`MAX_RETRIES`] with a located error.
    fn retries(&mut self, v: &Sp<u32>, what: &str) -> u32 {
        if v.value > MAX_RETRIES {
            self.err(
                Code::TooLarge,
                v.span(),
                format!(
                    "{what} is {}, more than the limit of {MAX_RETRIES}",
                    v.value
                ),
            )
            .label(format!("expected 0 to {MAX_RETRIES}"))
            .help(
                "a failing endpoint is retried with backoff; more attempts only delay the answer",
            );
            MAX_RETRIES
        } else {
            v.value
        }
    }

    fn count(&mut self, v: &Sp<u32>, what: &str) -> Option<u32> {
        if v.value == 0 {
            self.err(
                Code::ZeroCount,
                v.span(),
                format!("{what} must be at least 1"),
            )
            .label("expected 1 or more");
            None
        } else {
            Some(v.value)
        }
    }

    fn inspect(&mut self, raw: &RawTopology) -> crate::topology::model::InspectSettings {
        let mut out = crate::topology::model::InspectSettings::default();
        let Some(i) = &raw.inspect else { return out };
        if let Some(v) = i
            .keep_runs
            .as_ref()
            .and_then(|c| self.count(c, "`inspect.keep_runs`"))
        {
            out.keep_runs = v as usize;
        }
        if let Some(v) = i
            .history
            .as_ref()
            .and_then(|t| self.duration(t, "`inspect.history`"))
        {
            out.history = v;
        }
        out
    }

    fn defaults(&mut self, raw: &RawTopology) -> Defaults {
        let mut out = Defaults::default();
        let Some(d) = &raw.defaults else { return out };
        if let Some(v) = d
            .timeout
            .as_ref()
            .and_then(|t| self.duration(t, "`defaults.timeout`"))
        {
            out.timeout = v;
        }
        if let Some(v) = d
            .slow
            .as_ref()
            .and_then(|t| self.duration(t, "`defaults.slow`"))
        {
            out.slow = v;
        }
        if let Some(v) = d
            .deadline
            .as_ref()
            .and_then(|t| self.duration(t, "`defaults.deadline`"))
        {
            out.deadline = v;
        }
        if let Some(r) = &d.retries {
            out.retries = self.retries(r, "`defaults.retries`");
        }
        if let Some(v) = d
            .concurrency
            .as_ref()
            .and_then(|c| self.count(c, "`defaults.concurrency`"))
        {
            out.concurrency = v as usize;
        }
        if let Some(v) = d
            .per_host
            .as_ref()
            .and_then(|c| self.count(c, "`defaults.per_host`"))
        {
            out.per_host = v as usize;
        }
        out
    }
}

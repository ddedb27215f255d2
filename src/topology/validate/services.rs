//! Services and their instances: ids, addresses, `min_healthy`, and failure domains.

use std::collections::HashMap;

use super::{Cx, Resolver};
use crate::diag::{Code, Span};
use crate::topology::model::{
    Defaults, Domain, Instance, Operation, Service, ServiceIdx, ServiceName,
};
use crate::topology::raw::{RawInstance, RawService, Sp};

impl Cx<'_> {
    pub(super) fn service(
        &mut self,
        key: &Sp<String>,
        svc: &RawService,
        me: ServiceIdx,
        defaults: &Defaults,
        resolver: &Resolver<'_>,
    ) -> Service {
        let name = &key.value;
        let instances = if me.get() >= self.budget_from {
            vec![(
                Instance {
                    id: "0".to_owned(),
                    address: None,
                    domains: Vec::new(),
                    probe: None,
                },
                key.span(),
            )]
        } else {
            self.instances(key, svc)
        };
        let count = instances.len();
        let min_healthy = match &svc.min_healthy {
            None => 1,
            Some(m) if m.value == 0 || m.value as usize > count.max(1) => {
                let msg = if m.value == 0 {
                    format!("`min_healthy` of `{name}` is 0")
                } else {
                    format!(
                        "`min_healthy` of `{name}` is {} but it has {}",
                        m.value,
                        crate::diag::plural(count, "instance")
                    )
                };
                self.err(Code::BadMinHealthy, m.span(), msg)
                    .label(format!("expected a number from 1 to {}", count.max(1)));
                1
            }
            Some(m) => m.value as usize,
        };
        let probe = svc
            .probe
            .as_ref()
            .and_then(|p| self.probe(name, p, defaults));
        // Each operation's own probe, expanded per instance like the service's.
        let bare: Vec<(Instance, Option<Span>)> = if svc.operations.is_empty() {
            Vec::new()
        } else {
            instances.clone()
        };
        let instances = self.expand_probe(name, svc, instances, probe.as_ref());
        let operations = self.operations(key, svc, me, defaults, resolver, &bare);

        let mut depends_on = Vec::with_capacity(svc.depends_on.len());
        for (dkey, dep) in svc.depends_on.iter() {
            if let Some(d) = self.dependency(key, me, dkey, dep, resolver) {
                depends_on.push(d);
            }
        }
        let mut tags: Vec<String> = svc.tags.iter().map(|t| self.shown(t, key.span())).collect();
        tags.sort();
        tags.dedup();
        Service {
            name: ServiceName::new(name),
            description: svc.description.as_ref().map(|d| self.shown(d, key.span())),
            owner: svc.owner.as_ref().map(|o| self.shown(o, key.span())),
            tags,
            core: svc.core.unwrap_or(true),
            core_explicit: svc.core.is_some(),
            min_healthy: min_healthy.min(instances.len().max(1)),
            instances,
            depends_on,
            operations,
        }
    }

    /// `operations:` of a service, sorted by name.
    fn operations(
        &mut self,
        key: &Sp<String>,
        svc: &RawService,
        me: ServiceIdx,
        defaults: &Defaults,
        resolver: &Resolver<'_>,
        bare: &[(Instance, Option<Span>)],
    ) -> Vec<Operation> {
        let mut out: Vec<Operation> = Vec::with_capacity(svc.operations.len());
        for (okey, op) in svc.operations.iter() {
            let label = format!("{} ({})", key.value, okey.value);
            let owner = Sp {
                value: label.clone(),
                loc: key.loc,
            };
            let mut depends_on = Vec::with_capacity(op.value.depends_on.len());
            for (dkey, dep) in op.value.depends_on.iter() {
                if let Some(d) = self.dependency(&owner, me, dkey, dep, resolver) {
                    depends_on.push(d);
                }
            }
            let probe = op
                .value
                .probe
                .as_ref()
                .and_then(|p| self.probe(&label, p, defaults));
            let probes = match probe {
                Some(p) => self
                    .expand_probe(&label, svc, bare.to_vec(), Some(&p))
                    .into_iter()
                    .map(|i| i.probe)
                    .collect(),
                None => Vec::new(),
            };
            out.push(Operation {
                name: okey.value.clone(),
                description: op
                    .value
                    .description
                    .as_ref()
                    .map(|d| self.shown(d, okey.span())),
                depends_on,
                probes,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        out
    }

    /// The instances without probes yet: ids, addresses, domains.
    pub(super) fn instances(
        &mut self,
        key: &Sp<String>,
        svc: &RawService,
    ) -> Vec<(Instance, Option<Span>)> {
        let name = &key.value;
        if let (Some(r), Some(_)) = (&svc.replicas, &svc.instances) {
            self.err(
                Code::ReplicasWithInstances,
                r.span(),
                format!("service `{name}` sets both `replicas` and `instances`"),
            )
            .label("remove `replicas`, or remove `instances`")
            .help("`replicas: N` is short for N unlabeled instances");
        }
        if let Some(list) = &svc.instances {
            if list.value.len() as u64 > super::MAX_INSTANCES {
                self.err(
                    Code::TooLarge,
                    list.span(),
                    format!(
                        "service `{name}` lists {} instances, more than the limit of {}",
                        list.value.len(),
                        super::MAX_INSTANCES
                    ),
                )
                .label(format!("expected at most {} instances", super::MAX_INSTANCES))
                .help("describe a large fleet with fewer, representative instances per failure domain");
            }
            if list.value.is_empty() {
                self.err(
                    Code::NoInstances,
                    list.span(),
                    format!("service `{name}` has an empty `instances` list"),
                )
                .label("expected at least one instance")
                .help("omit `instances` for a single instance");
            }
            let mut seen: HashMap<String, Option<Span>> = HashMap::new();
            let mut out = Vec::with_capacity(list.value.len());
            for (pos, inst) in list.value.iter().enumerate() {
                let (id, id_span) = match &inst.value.name {
                    Some(n) => (n.value.clone(), n.span()),
                    None => (pos.to_string(), inst.span()),
                };
                if seen.insert(id.clone(), id_span).is_some() {
                    self.err(
                        Code::DuplicateInstance,
                        id_span,
                        format!("service `{name}` has two instances named `{id}`"),
                    )
                    .label("instance names must be unique within a service");
                }
                if let Some(a) = &inst.value.address {
                    let _ = self.text(a);
                }
                let domains = self.domains(name, &inst.value, inst.span());
                out.push((
                    Instance {
                        id,
                        address: inst.value.address.as_ref().map(|a| a.value.clone()),
                        domains,
                        probe: None,
                    },
                    inst.span(),
                ));
            }
            return out;
        }
        let n = match &svc.replicas {
            Some(r) if r.value == 0 => {
                self.err(
                    Code::NoInstances,
                    r.span(),
                    format!("service `{name}` has `replicas: 0`"),
                )
                .label("expected 1 or more")
                .help("a service with no instance cannot be up; remove it instead");
                1
            }
            Some(r) if r.value > super::MAX_INSTANCES => {
                self.err(
                    Code::TooLarge,
                    r.span(),
                    format!(
                        "service `{name}` has `replicas: {}`, more than the limit of {}",
                        r.value,
                        super::MAX_INSTANCES
                    ),
                )
                .label(format!("expected 1 to {}", super::MAX_INSTANCES))
                .help("describe a large fleet with fewer, representative instances per failure domain");
                1
            }
            Some(r) => r.value as usize,
            None => 1,
        };
        (0..n)
            .map(|i| {
                (
                    Instance {
                        id: i.to_string(),
                        address: None,
                        domains: Vec::new(),
                        probe: None,
                    },
                    key.span(),
                )
            })
            .collect()
    }

    pub(super) fn domains(
        &mut self,
        service: &str,
        inst: &RawInstance,
        at: Option<Span>,
    ) -> Vec<Domain> {
        let mut out = Vec::new();
        if let Some(z) = &inst.zone {
            out.push(Domain {
                key: "zone".into(),
                value: self.shown(z, at),
            });
        }
        if let Some(h) = &inst.host {
            out.push(Domain {
                key: "host".into(),
                value: self.shown(h, at),
            });
        }
        for (k, v) in inst.labels.iter() {
            if k.value == "zone" || k.value == "host" {
                self.err(
                    Code::ReservedLabel,
                    k.span(),
                    format!(
                        "label `{}` of an instance of `{service}` is reserved",
                        k.value
                    ),
                )
                .label(format!("use the instance's `{}:` field instead", k.value));
                continue;
            }
            out.push(Domain {
                key: k.value.clone(),
                value: self.shown(v, k.span()),
            });
        }
        out.sort();
        out
    }
}

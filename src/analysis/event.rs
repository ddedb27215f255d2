//! Failure events (SPEC §2): one instance failing, or one failure-domain value failing.
//!
//! Also the tables that map events to dense numbers: [`Domains`] (every `key=value` that some
//! instance carries) and [`Instances`] (a flat numbering of every instance), and the parser of
//! `--fail` arguments.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::topology::model::{Domain, ServiceIdx, Topology};

/// One failure event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Event {
    /// Instance number `instance` (position in [`crate::topology::model::Service::instances`])
    /// of `service` fails.
    Instance {
        /// The service.
        service: ServiceIdx,
        /// Position of the instance in the service's list.
        instance: u32,
    },
    /// Every instance carrying this `key=value` fails at once.
    Domain(Domain),
}

impl Event {
    /// The event as users write it: `svc/instance-id` or `key=value`.
    pub fn name(&self, topo: &Topology) -> String {
        match self {
            Self::Instance { service, instance } => {
                let svc = topo.service(*service);
                format!("{}/{}", svc.name, svc.instances[*instance as usize].id)
            }
            Self::Domain(d) => d.to_string(),
        }
    }
}

/// A set of events, ordered (instances by service and position, then domains by key and value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSet(BTreeSet<Event>);

impl EventSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an event; returns whether it was new.
    pub fn insert(&mut self, e: Event) -> bool {
        self.0.insert(e)
    }

    /// Whether the set holds `e`.
    pub fn contains(&self, e: &Event) -> bool {
        self.0.contains(e)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The events in order.
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.0.iter()
    }
}

impl FromIterator<Event> for EventSet {
    fn from_iter<I: IntoIterator<Item = Event>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a EventSet {
    type Item = &'a Event;
    type IntoIter = std::collections::btree_set::Iter<'a, Event>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A flat numbering of every instance: instance `i` of service `s` is `offset[s] + i`.
#[derive(Debug, Clone)]
pub struct Instances {
    /// Per service, the number of its first instance; one extra entry holds the total.
    pub offset: Vec<u32>,
}

impl Instances {
    /// Numbers the instances of `topo`.
    pub fn new(topo: &Topology) -> Self {
        let mut offset = Vec::with_capacity(topo.services.len() + 1);
        let mut next = 0u32;
        for s in &topo.services {
            offset.push(next);
            next += s.instances.len() as u32;
        }
        offset.push(next);
        Self { offset }
    }

    /// Total number of instances.
    pub fn total(&self) -> usize {
        *self.offset.last().unwrap_or(&0) as usize
    }

    /// The flat number of instance `i` of service `s`.
    pub fn flat(&self, s: u32, i: u32) -> usize {
        (self.offset[s as usize] + i) as usize
    }

    /// The flat range of service `s`.
    pub fn range(&self, s: u32) -> std::ops::Range<usize> {
        self.offset[s as usize] as usize..self.offset[s as usize + 1] as usize
    }
}

/// Every failure domain value carried by some instance, sorted, with its instances.
#[derive(Debug, Clone, Default)]
pub struct Domains {
    /// The domains, sorted.
    pub list: Vec<Domain>,
    /// Per domain, its instances as `(service, position)`, sorted.
    pub members: Vec<Vec<(u32, u32)>>,
    /// Per flat instance number (see [`Instances`]), where its domain numbers start in
    /// `domain_ids`; one extra entry holds the total.
    inst_offset: Vec<u32>,
    domain_ids: Vec<u32>,
}

impl Domains {
    /// Collects the domains of `topo`.
    pub fn new(topo: &Topology) -> Self {
        // Provisional ids in order of first appearance, then renumbered in sorted order.
        let mut ids: HashMap<&Domain, u32, DomainHasher> = HashMap::default();
        let mut first: Vec<&Domain> = Vec::new();
        let mut inst_offset = Vec::new();
        let mut domain_ids = Vec::new();
        for svc in &topo.services {
            for inst in &svc.instances {
                inst_offset.push(domain_ids.len() as u32);
                for d in &inst.domains {
                    let id = *ids.entry(d).or_insert_with(|| {
                        first.push(d);
                        first.len() as u32 - 1
                    });
                    domain_ids.push(id);
                }
            }
        }
        inst_offset.push(domain_ids.len() as u32);
        let mut order: Vec<u32> = (0..first.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| first[a as usize].cmp(first[b as usize]));
        let mut rank = vec![0u32; first.len()];
        for (r, &p) in order.iter().enumerate() {
            rank[p as usize] = r as u32;
        }
        for id in &mut domain_ids {
            *id = rank[*id as usize];
        }
        let mut members = vec![Vec::new(); first.len()];
        let mut flat = 0usize;
        for (s, svc) in topo.services.iter().enumerate() {
            for i in 0..svc.instances.len() {
                let (a, b) = (inst_offset[flat] as usize, inst_offset[flat + 1] as usize);
                for &d in &domain_ids[a..b] {
                    let m: &mut Vec<(u32, u32)> = &mut members[d as usize];
                    if m.last() != Some(&(s as u32, i as u32)) {
                        m.push((s as u32, i as u32));
                    }
                }
                flat += 1;
            }
        }
        Self {
            list: order.iter().map(|&p| first[p as usize].clone()).collect(),
            members,
            inst_offset,
            domain_ids,
        }
    }

    /// The domain numbers of flat instance `flat` (see [`Instances`]).
    pub fn of_instance(&self, flat: usize) -> &[u32] {
        &self.domain_ids[self.inst_offset[flat] as usize..self.inst_offset[flat + 1] as usize]
    }

    /// The number of `d`, if some instance carries it.
    pub fn id(&self, d: &Domain) -> Option<u32> {
        self.list.binary_search(d).ok().map(|i| i as u32)
    }

    /// Number of domains.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no instance carries a domain.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// The domain table's hasher: foldhash, a fast non-cryptographic hash with a fixed seed.
/// `SipHash` was a third of the analysis time on 100,000 services, and these keys come from
/// the topology file, not from an adversary.
type DomainHasher = foldhash::fast::FixedState;

/// Parses a `--fail` argument: comma-separated `service` (all its instances), `service/instance`
/// (one instance by id) or `key=value` (a failure domain).
pub fn parse_events(topo: &Topology, spec: &str) -> Result<Vec<Event>, String> {
    let mut out = BTreeSet::new();
    for raw in spec.split(',') {
        let item = raw.trim();
        if item.is_empty() {
            return Err(format!("empty event in `{spec}`"));
        }
        if let Some((key, value)) = item.split_once('=') {
            let d = Domain {
                key: key.trim().to_owned(),
                value: value.trim().to_owned(),
            };
            let known = topo
                .services
                .iter()
                .flat_map(|s| &s.instances)
                .any(|i| i.domains.contains(&d));
            if !known {
                let names: BTreeSet<String> = topo
                    .services
                    .iter()
                    .flat_map(|s| &s.instances)
                    .flat_map(|i| &i.domains)
                    .map(ToString::to_string)
                    .collect();
                return Err(unknown("failure domain", &d.to_string(), names.iter()));
            }
            out.insert(Event::Domain(d));
            continue;
        }
        let (svc_name, inst_id) = match item.split_once('/') {
            Some((s, i)) => (s.trim(), Some(i.trim())),
            None => (item, None),
        };
        let Some(idx) = topo.index_of(svc_name) else {
            return Err(unknown(
                "service",
                svc_name,
                topo.services.iter().map(|s| s.name.as_str()),
            ));
        };
        let svc = topo.service(idx);
        match inst_id {
            None => {
                for i in 0..svc.instances.len() {
                    out.insert(Event::Instance {
                        service: idx,
                        instance: i as u32,
                    });
                }
            }
            Some(id) => {
                let Some(pos) = svc.instances.iter().position(|i| i.id == id) else {
                    let mut msg = unknown(
                        &format!("instance of `{svc_name}`"),
                        id,
                        svc.instances.iter().map(|i| i.id.as_str()),
                    );
                    let ids: Vec<&str> = svc.instances.iter().map(|i| i.id.as_str()).collect();
                    let _ = write!(msg, " (instances: {})", ids.join(", "));
                    return Err(msg);
                };
                out.insert(Event::Instance {
                    service: idx,
                    instance: pos as u32,
                });
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// `unknown WHAT `x`, did you mean `y`?` with the closest candidate, if any is close.
fn unknown<'a, I, S>(what: &str, given: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a S>,
    S: AsRef<str> + ?Sized + 'a,
{
    let best = crate::diag::closest(given, candidates.into_iter().map(AsRef::as_ref));
    match best {
        Some(name) => format!("unknown {what} `{given}`, did you mean `{name}`?"),
        None => format!("unknown {what} `{given}`"),
    }
}

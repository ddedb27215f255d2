//! A stable fingerprint of a topology's structure, and the stable hash behind it.
//!
//! `merge` joins shard reports only when they were made from the same topology: each shard
//! records [`fingerprint`] of the topology it ran, and `merge` compares it with the file it is
//! given. The fingerprint covers what the merged analysis depends on — links and their entries,
//! services, their instances, `min_healthy`, every dependency (target, strength, group and
//! `min`) and which instances are probed with which probe type — and nothing a formatting
//! change, a comment, a description or a secret's value would alter.
//!
//! [`StableHasher`] is FNV-1a 64 with the splitmix64 finaliser, written out so that its values
//! never change between Rust releases (`std`'s `DefaultHasher` may); `--shard` uses it too.

use super::model::{Dependency, Strength, Target, Topology};

/// A 64-bit hash whose values are fixed forever (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct StableHasher(u64);

impl Default for StableHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl StableHasher {
    /// Feeds bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Feeds a string and a NUL separator (no name contains a NUL, so `a`+`bc` ≠ `ab`+`c`).
    pub fn field(&mut self, s: &str) {
        self.write(s.as_bytes());
        self.write(&[0]);
    }

    /// The hash, mixed by the splitmix64 finaliser (FNV alone mixes the last bytes too little).
    pub fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 30;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 27;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }
}

/// The topology's structural fingerprint, as 16 hex digits.
pub fn fingerprint(topology: &Topology) -> String {
    let mut h = StableHasher::default();
    h.field(&topology.name);
    for link in &topology.links {
        h.field("link");
        h.field(link.name.as_str());
        h.field(topology.service(link.entry).name.as_str());
        if let Some(op) = link.operation {
            h.field(topology.service(link.entry).operation_name(op));
        }
    }
    for service in &topology.services {
        h.field("service");
        h.field(service.name.as_str());
        h.field(&service.min_healthy.to_string());
        for inst in &service.instances {
            h.field(&inst.id);
            h.field(inst.probe.as_ref().map_or("-", |p| p.check.kind()));
        }
        for dep in &service.depends_on {
            dependency(&mut h, topology, dep);
        }
        // Operations only add fields when present, so older fingerprints stay the same.
        for op in &service.operations {
            h.field("operation");
            h.field(&op.name);
            for p in &op.probes {
                h.field(p.as_ref().map_or("-", |p| p.check.kind()));
            }
            for dep in &op.depends_on {
                dependency(&mut h, topology, dep);
            }
        }
    }
    format!("{:016x}", h.finish())
}

fn dependency(h: &mut StableHasher, topology: &Topology, dep: &Dependency) {
    h.field(&dep.label);
    h.field(match dep.strength {
        Strength::Strong => "strong",
        Strength::Weak => "weak",
    });
    if let Target::AnyOf { min, .. } = &dep.target {
        h.field(&format!("min {min}"));
    }
    for &t in dep.targets() {
        h.field(topology.service(t).name.as_str());
    }
    if let (Some(op), Target::Service(t)) = (dep.operation, &dep.target) {
        h.field(topology.service(*t).operation_name(op));
    }
}

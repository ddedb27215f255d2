//! Blast radius (SPEC §2): the links and the *other* services whose effective state becomes
//! `down` when every instance of one service fails.
//!
//! One `down` propagation per service, each costing only what it takes down; the propagator is
//! reset by undoing what it touched, so the total cost is the sum of the blast radii.

use crate::analysis::BlastRadius;
use crate::analysis::graph::Graph;
use crate::analysis::propagate::DownPropagator;
use crate::topology::model::{ServiceIdx, Topology};

/// The blast radius of every service, by index. Links are indices into `topo.links`.
/// `full`: also list the other services (else only count them).
pub fn blast_radius(
    topo: &Topology,
    g: &Graph,
    prop: &mut DownPropagator<'_>,
    full: bool,
) -> Vec<BlastRadius> {
    // entry service → links starting there.
    let mut links_of: Vec<Vec<usize>> = vec![Vec::new(); g.n];
    for (l, link) in topo.links.iter().enumerate() {
        links_of[link.entry.get()].push(l);
    }
    (0..g.n as u32)
        .map(|s| {
            prop.reset();
            prop.fail_service(s);
            prop.propagate();
            let service_count = prop.down_list().iter().filter(|&&v| v != s).count();
            let services = full.then(|| {
                let mut v: Vec<ServiceIdx> = prop
                    .down_list()
                    .iter()
                    .copied()
                    .filter(|&v| v != s)
                    .map(ServiceIdx)
                    .collect();
                v.sort_unstable();
                v
            });
            let mut links: Vec<usize> = prop
                .down_list()
                .iter()
                .flat_map(|&v| links_of[v as usize].iter().copied())
                .collect();
            links.sort_unstable();
            BlastRadius {
                links,
                service_count,
                services,
            }
        })
        .collect()
}

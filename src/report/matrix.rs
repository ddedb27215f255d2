//! The link × service matrix: for every link and service, whether the service is a SPOF of the
//! link, on its critical path, only weakly reached from its entry, or not used by it at all —
//! the review's one-glance answer to "which action dies with which service".
//!
//! SPOF and critical come from the report (the analysis decided them); `weak` is reachability
//! from the link's entry through any dependency, weak ones included, minus the critical path:
//! the service is used, but its loss only degrades the link. Rows are the services some link
//! uses, the most consequential first (SPOF of most links, then critical for most), at most
//! `max_rows` of them; the rest are counted.

use std::collections::HashSet;

use crate::report::report::{Report, SpofKind};
use crate::topology::model::Topology;

/// What one service is to one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Not reached from the link's entry.
    Unused,
    /// Reached only through a weak dependency somewhere: its loss degrades the link.
    Weak,
    /// On the critical path, with a spare (or in a group that survives it).
    Critical,
    /// Its loss alone takes the link down.
    Spof,
}

impl Role {
    /// The word in a cell: `SPOF`, `critical`, `weak`, `—`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spof => "SPOF",
            Self::Critical => "critical",
            Self::Weak => "weak",
            Self::Unused => "—",
        }
    }

    /// A CSS class for the cell.
    pub fn class(self) -> &'static str {
        match self {
            Self::Spof => "m-spof",
            Self::Critical => "m-critical",
            Self::Weak => "m-weak",
            Self::Unused => "m-none",
        }
    }
}

/// One service's row: its role for each link, in [`Matrix::links`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRow {
    /// The service.
    pub service: String,
    /// One cell per link.
    pub cells: Vec<Role>,
}

/// The matrix, rows most consequential first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    /// Column heads: the links, by name.
    pub links: Vec<String>,
    /// The rows shown.
    pub rows: Vec<MatrixRow>,
    /// Services used by some link but left out (past `max_rows`).
    pub more: usize,
}

/// The matrix of `report` over `topo`, at most `max_rows` rows.
pub fn matrix(topo: &Topology, report: &Report, max_rows: usize) -> Matrix {
    let n = topo.services.len();
    let mut links: Vec<_> = report.links.iter().collect();
    links.sort_by(|a, b| a.name.cmp(&b.name));
    let mut cells = vec![vec![Role::Unused; links.len()]; n];
    for (c, link) in links.iter().enumerate() {
        // Everything the entry reaches, through strong and weak dependencies alike.
        if let Some(entry) = topo.index_of(&link.entry) {
            let mut seen = vec![false; n];
            let mut stack = vec![entry.get()];
            seen[entry.get()] = true;
            while let Some(i) = stack.pop() {
                cells[i][c] = Role::Weak;
                for d in &topo.services[i].depends_on {
                    for t in d.targets() {
                        if !seen[t.get()] {
                            seen[t.get()] = true;
                            stack.push(t.get());
                        }
                    }
                }
            }
        }
        for id in &link.critical_path {
            if let Some(i) = topo.index_of(id) {
                cells[i.get()][c] = Role::Critical;
            }
        }
        let spofs: HashSet<&str> = link
            .spofs
            .iter()
            .filter(|s| s.kind == SpofKind::Service)
            .map(|s| s.id.as_str())
            .collect();
        for id in spofs {
            if let Some(i) = topo.index_of(id) {
                cells[i.get()][c] = Role::Spof;
            }
        }
    }
    let count = |row: &[Role], role: Role| row.iter().filter(|r| **r == role).count();
    let mut rows: Vec<MatrixRow> = topo
        .services
        .iter()
        .zip(cells)
        .filter(|(_, row)| row.iter().any(|r| *r != Role::Unused))
        .map(|(s, row)| MatrixRow {
            service: s.name.to_string(),
            cells: row,
        })
        .collect();
    rows.sort_by(|a, b| {
        let key = |r: &MatrixRow| {
            (
                count(&r.cells, Role::Spof),
                count(&r.cells, Role::Critical),
                count(&r.cells, Role::Weak),
            )
        };
        key(b).cmp(&key(a)).then(a.service.cmp(&b.service))
    });
    let more = rows.len().saturating_sub(max_rows);
    rows.truncate(max_rows);
    Matrix {
        links: links.iter().map(|l| l.name.clone()).collect(),
        rows,
        more,
    }
}

/// Rows shown in the reports' matrix.
pub const MATRIX_ROWS: usize = 40;

//! linkpatrol inspects the core links of a service system: it reads a topology of services and
//! their strong and weak dependencies, probes them, computes what any single failure takes down,
//! and draws the result.
//!
//! The crate follows the pipeline: [`topology`] (load and validate the file) → [`analysis`]
//! (failure propagation, SPOFs, risks) → [`probe`] (live checks) → [`report`] (every output) →
//! [`history`] (the inspection history) → [`alert`] (alerts of `watch`) → [`serve`] (the
//! `watch` HTTP server).
//! A stage never imports a later one. [`state`] is the vocabulary they share.

pub mod alert;
pub mod analysis;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod diag;
pub mod duration;
pub mod history;
pub mod par;
pub mod probe;
pub mod report;
pub mod serve;
pub mod state;
pub mod terminal;
pub mod topology;

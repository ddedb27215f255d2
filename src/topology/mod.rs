//! Stage 1: the topology file — raw serde types, loading, validation, and the validated model.
//!
//! [`load`] reads a file (or a string) into [`raw`] types, [`validate`] turns them into the
//! [`model`] that every later stage reads, and [`crate::diag`] describes what went wrong.

pub mod alerts;
mod fast;
pub mod fingerprint;
pub mod load;
pub mod loc;
pub mod model;
pub mod raw;
pub mod raw_alerts;
pub mod validate;

pub use load::{LoadError, Loaded, load_file, load_str};
pub use model::Topology;

//! Stage 1: the topology file — raw serde types, loading, validation, and the validated model.

pub mod model;

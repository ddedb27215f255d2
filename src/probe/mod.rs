//! Stage 3: live probes — the only async part of the crate (tokio).
//!
//! [`run::run`] probes the selected services' instances and returns a [`run::ProbeRun`]: one
//! [`outcome::ProbeOutcome`] per instance and the observed [`crate::state::State`] per service,
//! in the shape the analysis consumes. A failing service is data (`Down` with a reason), never
//! an `Err`; [`outcome::ProbeError`] means the tool itself failed.
//!
//! Guarantees: every attempt is bounded by the probe's timeout (connect, TLS, headers and body
//! together); bodies are read up to a cap; concurrency is bounded overall and per host; a whole
//! run has a deadline; no reason ever carries a value read from `${VAR}`. TLS is rustls with the
//! ring provider everywhere. Neighbours: reads [`crate::topology::model`]; imports no later stage.

pub mod amqp;
pub mod client;
pub mod db;
pub mod dns;
pub mod endpoint;
pub mod exec;
pub mod grpc;
pub mod http;
pub mod instance;
pub mod mqtt;
pub mod nats;
pub mod nonce;
pub mod outcome;
pub mod prometheus;
pub mod resolve;
pub mod run;
pub mod shard;
pub mod tcp;
pub mod tls;

pub use instance::probe_instance;
pub use outcome::{HttpPhases, ProbeError, ProbeOutcome};
pub use run::{ProbeRun, RunOptions, Selection, observed_states, run, run_blocking, service_state};
pub use shard::Shard;

//! The integration tests: one binary, so the crate links once. One module per area; shared
//! topology builders live in `topo`.

mod alert;
mod analysis_cases;
mod analysis_operations;
mod analysis_reference;
mod browser;
mod checks;
mod cli;
mod commands;
mod datastore;
mod demo;
mod endpoint;
mod fuzz_loader;
mod hardening;
mod inspect;
mod messaging;
mod operations_probe;
mod operations_rootcause_reference;
mod probe;
mod readme;
mod receivers;
mod render;
mod report_render;
mod rootcause_cli;
mod rootcause_reference;
mod rootcause_render;
mod schema;
mod shard;
mod topo;
mod watch;

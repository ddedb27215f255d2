//! Stage 5: the inspection history in `output/history.sqlite` (SPEC §6).
//!
//! [`store`] owns the database: opening (WAL, versioned schema, migrations), recording one run
//! in one transaction, and retention. [`trends`] reads it back: `since_last` (what changed since
//! the previous run) and the 24 h / 7 d availability and latency percentiles, all computed by SQL.
//!
//! This stage reads the [`Report`](crate::report::report::Report) (it records what a run found)
//! and fills the report's `since_last` and `history`; it never renders or writes report files.

pub mod histogram;
pub mod store;
pub mod trends;

pub use store::{HistoryError, RunRecord, Store};

//! Stage 5: alerts of `watch` (SPEC §9) — one alert per root cause, sent to the owner's
//! receivers, signed where the receiver wants it, within each receiver's rate limit.
//!
//! - [`engine`]: the pure state machine from findings to notifications (thresholds, flapping,
//!   resolutions, reminders). No clock, no I/O.
//! - [`findings`]: from a report to what may page (root causes, down links, last spares).
//! - [`message`]: what a person reads on a phone, and the webhook JSON.
//! - [`receiver`]: one module per receiver type: its request (format, signature) and how to
//!   read its answer (a send counts only when the receiver says so).
//! - [`dispatch`]: the outbox: per-receiver queues, rate limits that batch instead of
//!   dropping, retries with backoff. It runs off the probing path.
//!
//! Reads the topology model (`alerts:`) and the report; never anything later in the pipeline.

pub mod dispatch;
pub mod engine;
pub mod findings;
pub mod message;
pub mod receiver;

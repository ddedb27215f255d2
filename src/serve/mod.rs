//! Stage 6: the HTTP server of `watch` (SPEC §9), on axum.
//!
//! - `/metrics`: the Prometheus text of the latest run (the same families as `metrics.prom`),
//!   then `watch`'s own families ([`WatchStatus`]: inspections, overruns, config reloads, alert
//!   sends) and the process's (resident memory, open file descriptors, CPU, start time).
//! - `/`: the latest `report.html`; `/report.json`: the latest `report.json`.
//! - `/healthz`: 200 while the last finished inspection (or, before the first, the start) is
//!   younger than two intervals, else 503.
//!
//! The server only reads [`WatchStatus`]: `watch` publishes each finished run into it whole
//! ([`WatchStatus::publish`]), so a request sees one run's files, never a mix. Before the first
//! run finishes, `/`, `/report.json` and `/metrics`' report part say so (503 for the first two).
//!
//! Reads the report's rendered files and the alert counters; never anything of `commands/`.

pub mod metrics;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The files of one finished run, as served.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `report.html`.
    pub html: String,
    /// `report.json`.
    pub json: String,
    /// `metrics.prom`.
    pub metrics: String,
}

/// Send counters of one receiver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendCounts {
    /// Messages the receiver accepted.
    pub accepted: u64,
    /// Attempts that failed (no answer, or an answer refusing the message).
    pub failed: u64,
    /// Messages given up after the last retry.
    pub given_up: u64,
}

/// What `watch` tells the server; shared between the watch loop, the dispatcher and requests.
#[derive(Debug)]
pub struct WatchStatus {
    interval: Duration,
    started: Instant,
    started_unix: f64,
    latest: RwLock<Option<(Arc<Snapshot>, Instant)>>,
    /// Inspections that finished with a report.
    pub inspections: AtomicU64,
    /// Inspections that failed (the tool itself failed; logged).
    pub inspection_failures: AtomicU64,
    /// Inspections that took longer than the interval.
    pub overruns: AtomicU64,
    reload: Mutex<Reload>,
    sends: Mutex<BTreeMap<String, SendCounts>>,
    notifications: Mutex<BTreeMap<&'static str, u64>>,
    /// Alerts firing after the last inspection.
    pub firing: AtomicU64,
    /// Notifications waiting in the outbox.
    pub queued: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Reload {
    success: bool,
    last_success_unix: f64,
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl WatchStatus {
    /// The status of a `watch` that inspects every `interval` and loaded its topology now.
    pub fn new(interval: Duration) -> Self {
        let now = unix_now();
        Self {
            interval,
            started: Instant::now(),
            started_unix: now,
            latest: RwLock::new(None),
            inspections: AtomicU64::new(0),
            inspection_failures: AtomicU64::new(0),
            overruns: AtomicU64::new(0),
            reload: Mutex::new(Reload {
                success: true,
                last_success_unix: now,
            }),
            sends: Mutex::new(BTreeMap::new()),
            notifications: Mutex::new(BTreeMap::new()),
            firing: AtomicU64::new(0),
            queued: AtomicU64::new(0),
        }
    }

    /// Makes `snapshot` the run the server shows.
    pub fn publish(&self, snapshot: Snapshot) {
        let mut latest = self
            .latest
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *latest = Some((Arc::new(snapshot), Instant::now()));
        self.inspections.fetch_add(1, Ordering::Relaxed);
    }

    /// The run the server shows, if one finished.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|(s, _)| Arc::clone(s))
    }

    /// Records the outcome of a reload (a SIGHUP or a changed file).
    pub fn reloaded(&self, success: bool) {
        let mut r = self
            .reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.success = success;
        if success {
            r.last_success_unix = unix_now();
        }
    }

    /// Whether the last reload succeeded (true before any reload).
    pub fn reload_success(&self) -> bool {
        self.reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .success
    }

    /// Counts one attempt to send a message to `receiver`.
    pub fn count_send(&self, receiver: &str, accepted: bool, given_up: bool) {
        let mut sends = self
            .sends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let c = sends.entry(receiver.to_owned()).or_default();
        if accepted {
            c.accepted += 1;
        } else {
            c.failed += 1;
        }
        if given_up {
            c.given_up += 1;
        }
    }

    /// Counts a notification the alert engine made (`firing`, `reminder`, `resolved`).
    pub fn count_notification(&self, event: &'static str) {
        *self
            .notifications
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(event)
            .or_default() += 1;
    }

    /// Whether `/healthz` answers 200: the last inspection (or the start) is younger than two
    /// intervals. Returns the age.
    pub fn health(&self) -> (bool, Duration) {
        let last = self
            .latest
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map_or(self.started, |(_, at)| *at);
        let age = last.elapsed();
        (age < self.interval.saturating_mul(2), age)
    }

    /// The whole `/metrics` text.
    pub fn metrics_text(&self) -> String {
        let mut out = self.latest().map(|s| s.metrics.clone()).unwrap_or_default();
        let reload = *self
            .reload
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let sends = self
            .sends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let notifications = self
            .notifications
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        metrics::render_watch(
            &mut out,
            &metrics::WatchFigures {
                interval: self.interval,
                inspections: self.inspections.load(Ordering::Relaxed),
                inspection_failures: self.inspection_failures.load(Ordering::Relaxed),
                overruns: self.overruns.load(Ordering::Relaxed),
                reload_success: reload.success,
                last_reload_success_unix: reload.last_success_unix,
                sends: &sends,
                notifications: &notifications,
                firing: self.firing.load(Ordering::Relaxed),
                queued: self.queued.load(Ordering::Relaxed),
                started_unix: self.started_unix,
            },
        );
        metrics::render_process(&mut out, self.started_unix);
        out
    }
}

/// The routes, over `status`.
pub fn router(status: Arc<WatchStatus>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/report.json", get(report_json))
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .with_state(status)
}

/// Serves `router(status)` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    status: Arc<WatchStatus>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(status))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `addr`; the error names it.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, std::io::Error> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on `{addr}`: {e}")))
}

const NOT_YET: &str = "no inspection has finished yet; try again after the first one\n";

async fn index(State(status): State<Arc<WatchStatus>>) -> Response {
    match status.latest() {
        Some(s) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            s.html.clone(),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, NOT_YET).into_response(),
    }
}

async fn report_json(State(status): State<Arc<WatchStatus>>) -> Response {
    match status.latest() {
        Some(s) => ([(header::CONTENT_TYPE, "application/json")], s.json.clone()).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, NOT_YET).into_response(),
    }
}

async fn metrics_handler(State(status): State<Arc<WatchStatus>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        status.metrics_text(),
    )
        .into_response()
}

async fn healthz(State(status): State<Arc<WatchStatus>>) -> Response {
    let (ok, age) = status.health();
    let text = format!(
        "{}: last inspection {:.1} s ago, interval {:.1} s\n",
        if ok { "ok" } else { "stale" },
        age.as_secs_f64(),
        status.interval.as_secs_f64()
    );
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_the_last_inspection() {
        let s = WatchStatus::new(Duration::from_millis(50));
        assert!(s.health().0, "young at start");
        std::thread::sleep(Duration::from_millis(120));
        assert!(!s.health().0, "stale after two intervals without a run");
        s.publish(Snapshot {
            html: String::new(),
            json: String::new(),
            metrics: String::new(),
        });
        assert!(s.health().0);
    }

    #[test]
    fn reload_failures_set_the_gauge_and_keep_the_last_success_time() {
        let s = WatchStatus::new(Duration::from_secs(60));
        s.reloaded(false);
        let text = s.metrics_text();
        assert!(
            text.contains("\nlinkpatrol_config_reload_success 0\n"),
            "{text}"
        );
        s.reloaded(true);
        assert!(
            s.metrics_text()
                .contains("\nlinkpatrol_config_reload_success 1\n")
        );
    }
}

//! The families `/metrics` adds to the latest run's `metrics.prom`: `watch`'s own (`linkpatrol_watch_*`,
//! `linkpatrol_config_*`, `linkpatrol_alert_*`) and the process's (`process_*`, the names every
//! Prometheus client library uses, read from `/proc/self` on Linux and left out elsewhere).
//!
//! Counters end in `_total`, times in `_seconds`; every family has `# HELP` and `# TYPE`, and
//! label values are escaped by [`label_value`], as in `metrics.prom`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::SendCounts;
use crate::report::prometheus::label_value;

/// What [`render_watch`] writes.
#[derive(Debug, Clone, Copy)]
pub struct WatchFigures<'a> {
    /// `--interval`.
    pub interval: Duration,
    /// Inspections that finished.
    pub inspections: u64,
    /// Inspections that failed.
    pub inspection_failures: u64,
    /// Inspections longer than the interval.
    pub overruns: u64,
    /// Whether the last reload succeeded.
    pub reload_success: bool,
    /// When the topology was last loaded successfully (Unix seconds).
    pub last_reload_success_unix: f64,
    /// Per receiver.
    pub sends: &'a BTreeMap<String, SendCounts>,
    /// Per event (`firing`, `reminder`, `resolved`).
    pub notifications: &'a BTreeMap<&'static str, u64>,
    /// Alerts firing now.
    pub firing: u64,
    /// Notifications waiting in the outbox.
    pub queued: u64,
    /// When `watch` started (Unix seconds).
    pub started_unix: f64,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", label_value(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Appends `watch`'s families to `out`.
pub fn render_watch(out: &mut String, f: &WatchFigures<'_>) {
    family(
        out,
        "linkpatrol_watch_interval_seconds",
        "gauge",
        "The --interval of linkpatrol watch: time from one inspection's start to the next.",
    );
    sample(
        out,
        "linkpatrol_watch_interval_seconds",
        &[],
        f.interval.as_secs_f64(),
    );
    family(
        out,
        "linkpatrol_watch_start_time_seconds",
        "gauge",
        "When linkpatrol watch started, in seconds since the Unix epoch.",
    );
    sample(
        out,
        "linkpatrol_watch_start_time_seconds",
        &[],
        (f.started_unix * 1e3).round() / 1e3,
    );
    family(
        out,
        "linkpatrol_watch_inspections_total",
        "counter",
        "Inspections run by linkpatrol watch, by result (ok: a report was written; failed: the tool itself failed).",
    );
    sample(
        out,
        "linkpatrol_watch_inspections_total",
        &[("result", "ok")],
        f.inspections as f64,
    );
    sample(
        out,
        "linkpatrol_watch_inspections_total",
        &[("result", "failed")],
        f.inspection_failures as f64,
    );
    family(
        out,
        "linkpatrol_watch_overruns_total",
        "counter",
        "Inspections that took longer than the interval (the next one started late).",
    );
    sample(
        out,
        "linkpatrol_watch_overruns_total",
        &[],
        f.overruns as f64,
    );
    family(
        out,
        "linkpatrol_config_reload_success",
        "gauge",
        "Whether the last reload of the topology file succeeded (1) or the file was invalid and the previous topology is kept (0).",
    );
    sample(
        out,
        "linkpatrol_config_reload_success",
        &[],
        if f.reload_success { 1.0 } else { 0.0 },
    );
    family(
        out,
        "linkpatrol_config_last_reload_success_timestamp_seconds",
        "gauge",
        "When the topology file was last loaded successfully, in seconds since the Unix epoch.",
    );
    sample(
        out,
        "linkpatrol_config_last_reload_success_timestamp_seconds",
        &[],
        (f.last_reload_success_unix * 1e3).round() / 1e3,
    );
    family(
        out,
        "linkpatrol_alerts_firing",
        "gauge",
        "Alerts firing after the last inspection.",
    );
    sample(out, "linkpatrol_alerts_firing", &[], f.firing as f64);
    family(
        out,
        "linkpatrol_alert_queue_length",
        "gauge",
        "Notifications waiting to be sent (rate limits, retries).",
    );
    sample(out, "linkpatrol_alert_queue_length", &[], f.queued as f64);
    family(
        out,
        "linkpatrol_alert_notifications_total",
        "counter",
        "Notifications made by the alert engine, by event (firing, reminder, resolved).",
    );
    for event in ["firing", "reminder", "resolved"] {
        let n = f.notifications.get(event).copied().unwrap_or(0);
        sample(
            out,
            "linkpatrol_alert_notifications_total",
            &[("event", event)],
            n as f64,
        );
    }
    family(
        out,
        "linkpatrol_alert_sends_total",
        "counter",
        "Messages sent to a receiver, by result (accepted: its answer said so; failed: no answer or a refusal, retried with backoff).",
    );
    for (receiver, c) in f.sends {
        for (result, n) in [("accepted", c.accepted), ("failed", c.failed)] {
            sample(
                out,
                "linkpatrol_alert_sends_total",
                &[("receiver", receiver), ("result", result)],
                n as f64,
            );
        }
    }
    family(
        out,
        "linkpatrol_alert_given_up_total",
        "counter",
        "Messages given up after their last retry.",
    );
    for (receiver, c) in f.sends {
        sample(
            out,
            "linkpatrol_alert_given_up_total",
            &[("receiver", receiver)],
            c.given_up as f64,
        );
    }
}

/// What `/proc/self` says about this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessFigures {
    /// Resident set size, bytes.
    pub resident_bytes: u64,
    /// Virtual memory size, bytes.
    pub virtual_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
}

impl ProcessFigures {
    /// Reads `/proc/self` (`None` where there is none).
    pub fn read() -> Option<Self> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let mut pages = statm.split_whitespace().map(|v| v.parse::<u64>().ok());
        let size = pages.next()??;
        let resident = pages.next()??;
        let page = 4096; // every Linux this runs on; /proc has no page size of its own
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        Some(Self {
            resident_bytes: resident * page,
            virtual_bytes: size * page,
            open_fds,
            // USER_HZ is 100 on every Linux architecture this builds for.
            cpu_seconds: ticks as f64 / 100.0,
        })
    }
}

/// Appends the `process_*` families to `out` (nothing where `/proc/self` is missing).
pub fn render_process(out: &mut String, started_unix: f64) {
    let Some(p) = ProcessFigures::read() else {
        return;
    };
    family(
        out,
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    );
    sample(out, "process_cpu_seconds_total", &[], p.cpu_seconds);
    family(
        out,
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
    );
    sample(out, "process_open_fds", &[], p.open_fds as f64);
    family(
        out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    sample(
        out,
        "process_resident_memory_bytes",
        &[],
        p.resident_bytes as f64,
    );
    family(
        out,
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
    );
    sample(
        out,
        "process_virtual_memory_bytes",
        &[],
        p.virtual_bytes as f64,
    );
    family(
        out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    );
    sample(
        out,
        "process_start_time_seconds",
        &[],
        (started_unix * 1e3).round() / 1e3,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_self_is_read_on_linux() {
        let p = ProcessFigures::read().expect("/proc/self exists on Linux");
        assert!(p.resident_bytes > 0 && p.open_fds >= 3, "{p:?}");
    }
}

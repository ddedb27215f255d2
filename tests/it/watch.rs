//! `linkpatrol watch` end to end: the binary against a loopback fleet whose state the test
//! changes, alerts to an in-test webhook receiver (`receivers::Fake`), `/metrics` checked by
//! promtool, a reload with an invalid file, a restart in the middle of a firing alert, and
//! SIGTERM during a run. Intervals are 200 ms and every wait is bounded.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use linkpatrol::history::Store;
use serde_json::Value;

use crate::endpoint::Endpoint;
use crate::receivers::Fake;

/// The five services that depend on the database.
const DEPENDENTS: [&str; 5] = ["gateway", "orders", "payments", "stock", "billing"];

/// gateway → orders, payments, stock, billing → db (all strong): an outage of `db` takes down
/// five dependents and the link `checkout`.
struct Fleet {
    endpoints: Vec<(&'static str, Endpoint)>,
}

impl Fleet {
    fn start() -> Self {
        let endpoints = DEPENDENTS
            .iter()
            .copied()
            .chain(["db"])
            .map(|name| (name, Endpoint::start()))
            .collect();
        Self { endpoints }
    }

    fn get(&self, name: &str) -> &Endpoint {
        &self.endpoints.iter().find(|(n, _)| *n == name).unwrap().1
    }

    fn topology(&self, hook: &str, extra_service: &str) -> String {
        let probe =
            "probe: { http: { url: \"http://{address}/health\", expect: { status: 200 } } }";
        let mut s = format!(
            "version: 1\nname: it-watch\n\
             defaults: {{ timeout: 2s, retries: 0, slow: 1500ms }}\n\
             links:\n  checkout: {{ entry: gateway }}\n\
             alerts:\n  failure_threshold: 2\n  success_threshold: 2\n  send_resolved: true\n\
             \x20 receivers:\n    hook: {{ type: webhook, url: \"{hook}\" }}\n\
             services:\n"
        );
        for (name, ep) in &self.endpoints {
            let deps = match *name {
                "gateway" => "{ orders: strong, payments: strong, stock: strong, billing: strong }",
                "db" => "{}",
                _ => "{ db: strong }",
            };
            let owner = if *name == "db" {
                "db-team"
            } else {
                "shop-team"
            };
            let _ = write!(
                s,
                "  {name}:\n    owner: {owner}\n    {probe}\n    instances: [{{ address: \"127.0.0.1:{}\" }}]\n    depends_on: {deps}\n",
                ep.port
            );
        }
        s.push_str(extra_service);
        s
    }
}

/// A running `linkpatrol watch` and what it wrote on stderr.
struct Watch {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

const WAIT: Duration = Duration::from_secs(20);

impl Watch {
    fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[], &[])
    }

    fn start_with(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_linkpatrol"))
            .current_dir(dir)
            .args([
                "-f",
                "t.yaml",
                "watch",
                "--interval",
                "200ms",
                "--listen",
                "127.0.0.1:0",
                "-o",
                "output",
            ])
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ':'))
                        .collect();
                    let _ = addr_tx.send(addr.parse::<SocketAddr>().unwrap());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = addr_rx
            .recv_timeout(WAIT)
            .expect("watch logs the address it listens on");
        Self { child, addr, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// `GET path`: the status code and the body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (code, body.to_owned())
    }

    fn metric(&self, sample: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }

    fn inspections(&self) -> u64 {
        self.metric("linkpatrol_watch_inspections_total{result=\"ok\"}")
            .map_or(0, |v| v as u64)
    }

    /// Waits until at least `n` more inspections than now have finished.
    fn wait_inspections(&self, n: u64) {
        let target = self.inspections() + n;
        wait_until(&format!("{n} more inspections"), || {
            self.inspections() >= target
        });
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// SIGTERM, then the exit status (bounded).
    fn stop(mut self) -> (ExitStatus, String) {
        self.signal("-TERM");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "watch did not stop within {WAIT:?} of SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Setup {
    dir: tempfile::TempDir,
    fleet: Fleet,
    fake: Fake,
}

impl Setup {
    fn new() -> Self {
        let s = Self {
            dir: tempfile::tempdir().unwrap(),
            fleet: Fleet::start(),
            fake: Fake::start(None),
        };
        s.write_topology("");
        s
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("t.yaml")
    }

    fn write_topology(&self, extra: &str) {
        let text = self.fleet.topology(&self.fake.url("webhook"), extra);
        std::fs::write(self.file(), text).unwrap();
    }

    fn start(&self) -> Watch {
        Watch::start(self.dir.path())
    }

    /// Every alert the receiver accepted, as (event, kind, subject), in order.
    fn alerts(&self) -> Vec<(String, String, String)> {
        self.fake
            .accepted()
            .iter()
            .flat_map(|r| r.body["alerts"].as_array().cloned().unwrap_or_default())
            .map(|a| {
                let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
                (s("event"), s("kind"), s("subject"))
            })
            .collect()
    }

    fn bodies(&self) -> Vec<Value> {
        self.fake.accepted().into_iter().map(|r| r.body).collect()
    }
}

fn alert(event: &str, subject: &str) -> (String, String, String) {
    (
        event.to_owned(),
        "root-cause".to_owned(),
        subject.to_owned(),
    )
}

#[test]
fn a_database_outage_under_five_dependents_alerts_once_then_resolves_once() {
    let s = Setup::new();
    let w = s.start();
    w.wait_inspections(2);
    assert!(s.alerts().is_empty(), "all up: no alert");

    s.fleet.get("db").set(503, 0);
    wait_until("the firing alert", || !s.alerts().is_empty());
    w.wait_inspections(5);
    assert_eq!(s.alerts(), [alert("firing", "db")], "{}", w.log());
    let body = &s.bodies()[0];
    let a = &body["alerts"][0];
    assert_eq!(a["severity"], "critical");
    assert_eq!(a["owner"], "db-team");
    assert_eq!(a["links"], serde_json::json!(["checkout"]));
    let mut dependents: Vec<&str> = a["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    dependents.sort_unstable();
    let mut expected = DEPENDENTS.to_vec();
    expected.sort_unstable();
    assert_eq!(
        dependents, expected,
        "the alert explains all five dependents"
    );
    assert!(
        a["summary"].as_str().unwrap().contains("db"),
        "the summary names the database: {a}"
    );

    s.fleet.get("db").set(200, 0);
    wait_until("the resolution", || s.alerts().len() >= 2);
    w.wait_inspections(5);
    assert_eq!(
        s.alerts(),
        [alert("firing", "db"), alert("resolved", "db")],
        "{}",
        w.log()
    );
    assert_eq!(
        w.metric("linkpatrol_alert_sends_total{receiver=\"hook\",result=\"accepted\"}"),
        Some(2.0)
    );
    let (status, log) = w.stop();
    assert!(status.success(), "{status:?}\n{log}");
}

#[test]
fn a_restart_while_an_alert_fires_sends_no_duplicate_and_still_resolves() {
    let s = Setup::new();
    s.fleet.get("db").set(503, 0);
    let w = s.start();
    wait_until("the firing alert", || !s.alerts().is_empty());
    let (status, log) = w.stop();
    assert!(status.success(), "{status:?}\n{log}");
    assert_eq!(s.alerts(), [alert("firing", "db")]);

    let w = s.start();
    // Well past failure_threshold (2): a fresh engine would have fired again by now.
    w.wait_inspections(5);
    assert_eq!(s.alerts(), [alert("firing", "db")], "{}", w.log());
    assert_eq!(w.metric("linkpatrol_alerts_firing"), Some(1.0));

    s.fleet.get("db").set(200, 0);
    wait_until("the resolution", || s.alerts().len() >= 2);
    w.wait_inspections(3);
    assert_eq!(
        s.alerts(),
        [alert("firing", "db"), alert("resolved", "db")],
        "{}",
        w.log()
    );
    let (status, log) = w.stop();
    assert!(status.success(), "{status:?}\n{log}");
}

#[test]
fn metrics_pass_promtool_and_every_endpoint_answers() {
    let s = Setup::new();
    let w = s.start();
    w.wait_inspections(1);
    let (code, metrics) = w.get("/metrics");
    assert_eq!(code, 200);
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test-env.sh installs Debian's prometheus)");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{metrics}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for family in [
        "linkpatrol_link_up",
        "linkpatrol_probe_success",
        "linkpatrol_inspection_timestamp_seconds",
        "linkpatrol_config_reload_success",
        "linkpatrol_config_last_reload_success_timestamp_seconds",
        "linkpatrol_watch_inspections_total",
        "linkpatrol_watch_overruns_total",
        "linkpatrol_alert_sends_total",
        "linkpatrol_alert_notifications_total",
        "process_resident_memory_bytes",
        "process_open_fds",
    ] {
        assert!(
            metrics.contains(&format!("# TYPE {family} ")),
            "/metrics lacks {family}"
        );
    }
    let (code, html) = w.get("/");
    assert_eq!(code, 200);
    assert!(
        html.contains("<html") && html.contains("checkout"),
        "{html:.200}"
    );
    let (code, json) = w.get("/report.json");
    assert_eq!(code, 200);
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["topology"], "it-watch");
    let (code, health) = w.get("/healthz");
    assert_eq!(code, 200, "{health}");
    let (status, log) = w.stop();
    assert!(status.success(), "{status:?}\n{log}");
}

#[test]
fn an_invalid_reload_keeps_watching_with_the_gauge_at_zero_until_a_valid_one() {
    let s = Setup::new();
    let w = s.start();
    w.wait_inspections(1);
    assert_eq!(w.metric("linkpatrol_config_reload_success"), Some(1.0));

    // An edge to a service that does not exist.
    s.write_topology("  extra:\n    depends_on: { nowhere: strong }\n");
    wait_until("the gauge at 0", || {
        w.metric("linkpatrol_config_reload_success") == Some(0.0)
    });
    w.wait_inspections(3);
    assert_eq!(w.metric("linkpatrol_config_reload_success"), Some(0.0));
    let log = w.log();
    assert!(log.contains("cannot reload"), "{log}");
    assert!(log.contains("nowhere"), "the diagnostics are logged: {log}");

    // A valid change: the gauge goes back to 1 and the new service is inspected.
    s.write_topology("  extra:\n    owner: shop-team\n");
    wait_until("the gauge at 1", || {
        w.metric("linkpatrol_config_reload_success") == Some(1.0)
    });
    wait_until("the new service in the report", || {
        w.get("/report.json").1.contains("\"extra\"")
    });

    // SIGHUP reloads too.
    w.signal("-HUP");
    wait_until("the SIGHUP reload", || w.log().contains("(SIGHUP)"));
    let (status, log) = w.stop();
    assert!(status.success(), "{status:?}\n{log}");
}

#[test]
fn sigterm_during_a_run_finishes_its_history_write_and_exits_0() {
    let s = Setup::new();
    // Each run takes about 700 ms: with a 200 ms interval a run is almost always in progress.
    s.fleet.get("stock").set(200, 700);
    let w = s.start();
    w.wait_inspections(1);
    let finished = |log: &str| log.matches("inspection finished").count();
    let before = finished(&w.log());
    // Mid-run: 300 ms after a run finished, the next one (started at once) is probing.
    wait_until("a run to finish", || finished(&w.log()) > before);
    std::thread::sleep(Duration::from_millis(300));
    let (status, log) = w.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    let at = log
        .find("SIGTERM: stopping once the current inspection has written its history")
        .unwrap_or_else(|| panic!("SIGTERM came during a run:\n{log}"));
    assert!(
        log[at..].contains("inspection finished"),
        "the run in progress finished after SIGTERM:\n{log}"
    );

    let out = s.dir.path().join("output");
    let store = Store::open(&out.join("history.sqlite")).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let runs: Vec<String> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        runs.iter().all(|r| !r.starts_with('.')),
        "no partial run folder: {runs:?}"
    );
    assert_eq!(
        store.run_count().unwrap() as usize,
        finished(&log),
        "every finished run is in the history, and only those"
    );
    assert_eq!(runs.len(), finished(&log));
    let latest = std::fs::read(out.join("latest/report.json")).unwrap();
    let report: Value = serde_json::from_slice(&latest).unwrap();
    assert_eq!(report["topology"], "it-watch");
}

#[test]
fn json_logs_are_one_object_a_line_without_secrets() {
    let s = Setup::new();
    std::fs::write(
        s.file(),
        s.fleet.topology(
            &format!("{}?token=${{HOOK_TOKEN}}", s.fake.url("webhook")),
            "",
        ),
    )
    .unwrap();
    s.fleet.get("db").set(503, 0);
    // The token is a secret: it reaches the receiver and never the log.
    let w = Watch::start_with(
        s.dir.path(),
        &["--log-format", "json"],
        &[("HOOK_TOKEN", "tok-0123456789-secret")],
    );
    wait_until("the firing alert", || !s.alerts().is_empty());
    let (status, log) = w.stop();
    assert!(status.success(), "{status:?}\n{log}");
    assert_eq!(
        s.fake.accepted()[0].query.get("token").map(String::as_str),
        Some("tok-0123456789-secret")
    );
    assert!(!log.contains("tok-0123456789-secret"), "{log}");
    let events: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        events
            .iter()
            .all(|e| e["level"].is_string() && e["message"].is_string())
    );
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "alert sent" && e["receiver"] == "hook"),
        "{log}"
    );
}

#[test]
fn a_resolution_not_yet_delivered_at_a_stop_is_sent_after_the_restart() {
    let s = Setup::new();
    s.fleet.get("db").set(503, 0);
    let w = s.start();
    wait_until("the firing alert", || !s.alerts().is_empty());

    // The receiver goes away just as the database recovers: the resolution is refused.
    s.fake.refuse_next("webhook", 1000);
    s.fleet.get("db").set(200, 0);
    wait_until("a refused resolution", || {
        s.fake.received().len() > s.fake.accepted().len()
    });
    let (status, log) = w.stop();
    assert!(status.success(), "{status:?}\n{log}");
    assert_eq!(s.alerts(), [alert("firing", "db")]);

    s.fake.refuse_next("webhook", 0);
    let w = s.start();
    wait_until("the resolution after the restart", || s.alerts().len() >= 2);
    w.wait_inspections(3);
    assert_eq!(
        s.alerts(),
        [alert("firing", "db"), alert("resolved", "db")],
        "{}",
        w.log()
    );
    assert!(
        w.log().contains("undelivered alerts restored"),
        "{}",
        w.log()
    );
    let (status, log) = w.stop();
    assert!(status.success(), "{status:?}\n{log}");
}

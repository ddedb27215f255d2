//! `linkpatrol inspect` end to end against a loopback fleet whose state the test changes between
//! runs: the files of a run (each parsed by a real parser, the HTML in headless Chromium,
//! metrics.prom by promtool), `latest`, `since_last` and `history` over several runs, SIGKILL at
//! many moments, retention, and a hand-made v1 history file being upgraded.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use linkpatrol::history::{Store, store::SCHEMA_VERSION};
use serde_json::Value;

use crate::endpoint::Endpoint;

/// gateway → orders (two instances, one may fail) → db; gateway ⇢ sms (weak).
struct Fleet {
    gateway: Endpoint,
    orders: [Endpoint; 2],
    db: Endpoint,
    sms: Endpoint,
}

impl Fleet {
    fn start() -> Self {
        Self {
            gateway: Endpoint::start(),
            orders: [Endpoint::start(), Endpoint::start()],
            db: Endpoint::start(),
            sms: Endpoint::start(),
        }
    }

    fn topology(&self, extra: &str) -> String {
        let probe =
            "probe: { http: { url: \"http://{address}/health\", expect: { status: 200 } } }";
        format!(
            "version: 1\nname: it-inspect\n\
             defaults: {{ timeout: 1s, retries: 0, slow: 500ms }}\n\
             links:\n  checkout: {{ entry: gateway }}\n\
             services:\n\
             \x20 gateway:\n    owner: edge-team\n    {probe}\n    instances: [{{ address: \"127.0.0.1:{}\" }}]\n\
             \x20   depends_on: {{ orders: strong, sms: {{ strength: weak, timeout: 500ms }} }}\n\
             \x20 orders:\n    {probe}\n    min_healthy: 1\n\
             \x20   instances: [{{ name: a, address: \"127.0.0.1:{}\", zone: az1 }}, {{ name: b, address: \"127.0.0.1:{}\", zone: az2 }}]\n\
             \x20   depends_on: {{ db: strong }}\n\
             \x20 db:\n    {probe}\n    instances: [{{ address: \"127.0.0.1:{}\" }}]\n\
             \x20 sms:\n    core: false\n    {probe}\n    instances: [{{ address: \"127.0.0.1:{}\" }}]\n{extra}",
            self.gateway.port,
            self.orders[0].port,
            self.orders[1].port,
            self.db.port,
            self.sms.port,
        )
    }
}

/// A working directory with the fleet's topology in `t.yaml`.
struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    fn new(fleet: &Fleet, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.yaml"), fleet.topology(extra)).unwrap();
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn out(&self) -> PathBuf {
        self.path().join("output")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_linkpatrol"));
        cmd.current_dir(self.path())
            .args(["-f", "t.yaml", "inspect"])
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn inspect(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn latest(&self) -> PathBuf {
        self.out().join("latest")
    }

    fn report(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.latest().join("report.json")).unwrap()).unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const RUN_FILES: [&str; 8] = [
    "report.json",
    "report.md",
    "report.html",
    "graph.dot",
    "graph.svg",
    "graph.mmd",
    "metrics.prom",
    "junit.xml",
];

fn parse_xml(text: &str) -> roxmltree::Document<'_> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, options).expect("well-formed XML")
}

#[test]
fn inspect_writes_every_report_into_a_run_folder_and_points_latest_at_it() {
    let fleet = Fleet::start();
    let wd = Workdir::new(&fleet, "");
    let o = wd.inspect(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("inspected it-inspect"), "{err}");
    assert!(err.contains("first run"), "{err}");
    assert!(err.contains("output/latest/report.html"), "{err}");
    assert!(o.stdout.is_empty(), "stdout stays clean");

    // latest is a relative symlink into runs/, and the folder is complete.
    let target = std::fs::read_link(wd.latest()).unwrap();
    assert!(target.starts_with("runs"), "{}", target.display());
    let run_dir = wd.out().join(&target);
    for f in RUN_FILES {
        let meta = std::fs::metadata(run_dir.join(f)).unwrap_or_else(|_| panic!("{f} missing"));
        assert!(meta.len() > 0, "{f} is empty");
    }
    let names: Vec<String> = std::fs::read_dir(&run_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names.len(),
        RUN_FILES.len(),
        "no temporary files left: {names:?}"
    );
    assert!(wd.out().join("history.sqlite").is_file());
    assert_eq!(
        std::fs::read(wd.out().join("metrics.prom")).unwrap(),
        std::fs::read(run_dir.join("metrics.prom")).unwrap(),
        "output/metrics.prom is the run's copy"
    );

    // report.json: the §5 document plus run, since_last and history.
    let report = wd.report();
    assert_eq!(report["topology"], "it-inspect");
    assert_eq!(report["links"][0]["state"], "up");
    assert_eq!(
        report["run"]["id"],
        target.file_name().unwrap().to_str().unwrap()
    );
    assert_eq!(report["run"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(report["run"]["duration_seconds"].as_f64().unwrap() > 0.0);
    assert!(report["since_last"]["previous_run"].is_null());
    let h = &report["history"]["links"][0];
    assert_eq!(h["id"], "checkout");
    assert_eq!(h["last_24h"]["runs"], 1);
    assert_eq!(h["last_24h"]["availability"], 1.0);
    assert!(h["last_7d"]["p50_ms"].as_f64().unwrap() > 0.0);
    let services: Vec<&str> = report["history"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["db", "gateway", "orders", "sms"]);

    // SVG and JUnit parse as XML.
    let svg = std::fs::read_to_string(run_dir.join("graph.svg")).unwrap();
    let doc = parse_xml(&svg);
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(svg.contains("gateway"));
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).unwrap();
    let doc = parse_xml(&junit);
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let suite_names: Vec<&str> = suites
        .iter()
        .map(|s| s.attribute("name").unwrap())
        .collect();
    assert_eq!(suite_names, ["link checkout", "probes"]);
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(
        cases.len(),
        1 + 5,
        "one case per link and per probe instance"
    );
    for c in &cases {
        assert!(
            c.attribute("classname")
                .is_some_and(|v| v.starts_with("linkpatrol."))
        );
        assert!(
            c.attribute("time")
                .is_some_and(|t| t.parse::<f64>().is_ok())
        );
    }
    assert_eq!(doc.root_element().attribute("failures"), Some("0"));

    // The other text formats.
    let md = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        md.starts_with("# linkpatrol report: it-inspect"),
        "{md:.80}"
    );
    let dot = std::fs::read_to_string(run_dir.join("graph.dot")).unwrap();
    assert!(dot.contains("digraph"));
    let mmd = std::fs::read_to_string(run_dir.join("graph.mmd")).unwrap();
    assert!(mmd.starts_with("graph LR"), "{mmd:.80}");

    // promtool accepts the metrics.
    let prom = run_dir.join("metrics.prom");
    let check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&prom).unwrap())
        .output()
        .expect("promtool is installed (scripts/test-env.sh installs Debian's prometheus)");
    assert!(
        check.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let metrics = std::fs::read_to_string(&prom).unwrap();
    for family in [
        "linkpatrol_link_up",
        "linkpatrol_link_state",
        "linkpatrol_service_state",
        "linkpatrol_probe_success",
        "linkpatrol_probe_duration_seconds",
        "linkpatrol_spofs",
        "linkpatrol_live_spofs",
        "linkpatrol_risks",
        "linkpatrol_inspection_duration_seconds",
        "linkpatrol_inspection_timestamp_seconds",
    ] {
        assert!(
            metrics.contains(&format!("# TYPE {family} gauge")),
            "{family}"
        );
    }
    assert!(metrics.contains("linkpatrol_link_up{topology=\"it-inspect\",link=\"checkout\"} 1"));

    // The page works in a real browser.
    let dom = chromium_dom(&run_dir.join("report.html"));
    assert!(dom.contains("data-rendered=\"ok\""), "{dom:.300}");
    assert!(dom.contains("<svg"), "graph inline");
}

/// The DOM of a page after headless Chromium loaded it.
fn chromium_dom(page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new("/usr/bin/chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium is installed (scripts/test-env.sh)");
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

fn changes(report: &Value, key: &str) -> Vec<String> {
    report["since_last"][key]
        .as_array()
        .unwrap_or_else(|| panic!("since_last.{key}"))
        .iter()
        .map(|c| {
            if c.get("from").is_some() {
                format!(
                    "{}:{}->{}",
                    c["id"].as_str().unwrap(),
                    c["from"].as_str().unwrap_or("absent"),
                    c["to"].as_str().unwrap_or("absent")
                )
            } else if c.get("link").is_some() {
                format!(
                    "{}:{}",
                    c["link"].as_str().unwrap(),
                    c["id"].as_str().unwrap()
                )
            } else {
                format!(
                    "{}/{}",
                    c["service"].as_str().unwrap(),
                    c["instance"].as_str().unwrap()
                )
            }
        })
        .collect()
}

#[test]
fn since_last_and_history_follow_the_fleet_across_runs() {
    let fleet = Fleet::start();
    let wd = Workdir::new(&fleet, "");
    let o = wd.inspect(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = wd.report();
    let first_id = first["run"]["id"].as_str().unwrap().to_owned();
    let live_before: Vec<String> = first["links"][0]["live_spofs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !live_before.contains(&"orders".to_owned()),
        "{live_before:?}"
    );

    // One orders instance fails (orders degraded, on its last spare), sms goes down (gateway
    // degraded through a weak edge), db gets slower by 200 ms (still under `slow: 500ms`).
    fleet.orders[1].set(503, 0);
    fleet.sms.set(503, 0);
    fleet.db.set(200, 200);
    let o = wd.inspect(&[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "degraded is below --fail-on down: {}",
        stderr(&o)
    );
    let second = wd.report();
    assert_eq!(second["since_last"]["previous_run"], first_id.as_str());
    assert_eq!(changes(&second, "links"), ["checkout:up->degraded"]);
    assert_eq!(
        changes(&second, "services"),
        [
            "gateway:up->degraded",
            "orders:up->degraded",
            "sms:up->down"
        ]
    );
    assert_eq!(changes(&second, "spofs_added"), Vec::<String>::new());
    assert_eq!(changes(&second, "spofs_removed"), Vec::<String>::new());
    let live_added = changes(&second, "live_spofs_added");
    assert!(
        live_added
            .iter()
            .any(|s| s.starts_with("checkout:") && s.contains("orders")),
        "orders is down to its last instance: {live_added:?}"
    );
    assert_eq!(changes(&second, "live_spofs_removed"), Vec::<String>::new());
    // db's 200 ms is the jump this run makes; on a loaded machine another loopback probe may
    // also take 50 ms longer than the run before (the jump floor), which is a real jump too.
    let jumps = changes(&second, "latency_jumps");
    assert!(jumps.contains(&"db/0".to_owned()), "{jumps:?}");
    let err = stderr(&o);
    assert!(err.contains("since the last run"), "{err}");
    assert!(err.contains("link checkout: up → degraded"), "{err}");
    assert!(err.contains("latency of db/0"), "{err}");
    let md = std::fs::read_to_string(wd.latest().join("report.md")).unwrap();
    assert!(md.contains("link checkout: up → degraded"), "{md}");

    // Same state again: nothing changed, and --fail-on degraded now exits 1.
    let o = wd.inspect(&["--fail-on", "degraded"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let third = wd.report();
    assert!(changes(&third, "links").is_empty());
    assert!(changes(&third, "services").is_empty());
    assert!(changes(&third, "live_spofs_added").is_empty());
    // Nothing changed but, on a loaded machine, a latency that noise pushed past the floor.
    let jumps = changes(&third, "latency_jumps");
    if jumps.is_empty() {
        assert!(stderr(&o).contains("no changes"), "{}", stderr(&o));
    } else {
        for j in &jumps {
            assert!(
                stderr(&o).contains(&format!("latency of {j}")),
                "{}",
                stderr(&o)
            );
        }
    }

    // db fails: the link goes down (exit 1). A down link has no live SPOFs, but they are not
    // reported as gone: the link's own change says it.
    fleet.db.set(503, 0);
    let o = wd.inspect(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let fourth = wd.report();
    assert_eq!(changes(&fourth, "links"), ["checkout:degraded->down"]);
    assert!(
        changes(&fourth, "services").contains(&"db:up->down".to_owned()),
        "{:?}",
        changes(&fourth, "services")
    );
    assert_eq!(fourth["links"][0]["live_spofs"], serde_json::json!([]));
    assert!(changes(&fourth, "live_spofs_removed").is_empty());

    // History: 4 runs, the link alive in 3 of them; db answered every time but once.
    let link = &fourth["history"]["links"][0];
    assert_eq!(link["last_24h"]["runs"], 4);
    assert_eq!(link["last_24h"]["availability"], 0.75);
    assert_eq!(link["last_7d"]["availability"], 0.75);
    let db = fourth["history"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "db")
        .unwrap();
    assert_eq!(db["last_24h"]["availability"], 0.75);
    // Three answered runs of db: one fast, two at ≥200 ms: the median is a slow one.
    let p50 = db["last_24h"]["p50_ms"].as_f64().unwrap();
    assert!(p50 >= 195.0, "p50 {p50}");
    let runs = std::fs::read_dir(wd.out().join("runs")).unwrap().count();
    assert_eq!(runs, 4);
    // report.html shows the same figures in its history table; 75 % is an outage (red).
    let html = std::fs::read_to_string(wd.latest().join("report.html")).unwrap();
    let section = &html[html
        .find(r#"<section id="history">"#)
        .expect("a history section")..];
    let section = &section[..section.find("</section>").unwrap()];
    let link_row = section
        .split("<tr>")
        .find(|r| r.contains("<b>checkout</b>"))
        .expect("a row for the link");
    assert!(
        link_row.contains(r#"<td class="num avail-low">75.00 %</td>"#),
        "{link_row}"
    );
    assert!(section.contains("<b>db</b>"), "{section}");
}

#[test]
fn quiet_prints_nothing_and_writes_everything() {
    let fleet = Fleet::start();
    let wd = Workdir::new(&fleet, "");
    let o = wd.inspect(&["-q", "-o", "elsewhere"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let latest = wd.path().join("elsewhere/latest");
    for f in RUN_FILES {
        assert!(latest.join(f).is_file(), "{f}");
    }
}

#[test]
fn an_invalid_topology_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.yaml"),
        "version: 1\nname: x\nservices: {a: {replicas: 0}}\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_linkpatrol"))
        .current_dir(dir.path())
        .args(["-f", "t.yaml", "inspect"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!dir.path().join("output").exists());
}

/// Checks the invariants a killed run must keep: `latest` (when there is one) names a complete
/// run folder whose report parses, the history passes `integrity_check`, and every run the
/// history holds has its complete folder.
fn assert_consistent(wd: &Workdir) -> usize {
    let out = wd.out();
    let mut complete = 0;
    if let Ok(target) = std::fs::read_link(wd.latest()) {
        let dir = out.join(&target);
        for f in RUN_FILES {
            assert!(
                dir.join(f).is_file(),
                "latest -> {} lacks {f}",
                target.display()
            );
        }
        let _: Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap())
            .expect("latest report.json parses");
        complete += 1;
    }
    let db = out.join("history.sqlite");
    if db.exists() {
        let store = Store::open(&db).expect("history opens after a kill");
        assert_eq!(store.integrity_check().unwrap(), "ok");
        let mut names = store.connection().prepare("SELECT name FROM runs").unwrap();
        let names: Vec<String> = names
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for n in names {
            let dir = out.join("runs").join(&n);
            for f in RUN_FILES {
                assert!(
                    dir.join(f).is_file(),
                    "history has run {n} but its folder lacks {f}"
                );
            }
        }
    }
    complete
}

#[test]
fn a_run_killed_at_any_moment_leaves_latest_complete_and_the_history_consistent() {
    const KILLS: u32 = 30;
    let fleet = Fleet::start();
    let wd = Workdir::new(&fleet, "inspect: { keep_runs: 100 }\n");
    // How long one run takes here, to spread the kills over it.
    let started = Instant::now();
    let o = wd.inspect(&["-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let one_run = started.elapsed();
    assert_consistent(&wd);
    std::fs::remove_dir_all(wd.out()).unwrap();

    let mut survivors = 0;
    for i in 0..KILLS {
        // Delays from 0 to 1.2 × one run, spread evenly.
        let delay = one_run.mul_f64(1.2 * f64::from(i) / f64::from(KILLS));
        let mut child = wd
            .command(&["-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // SIGKILL: no destructor, no cleanup.
        let _ = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        if status.code().is_some() {
            survivors += 1;
        }
        assert_consistent(&wd);
    }
    // A later run cleans partial folders up and still works.
    let o = wd.inspect(&["-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(assert_consistent(&wd), 1);
    let leftovers: Vec<String> = std::fs::read_dir(wd.out().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(survivors < KILLS, "some runs must have been killed mid-way");
}

#[test]
fn a_hand_made_v1_history_is_upgraded_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let now_ms: i64 = 1_796_116_399_000;
    {
        // The v1 schema as linkpatrol first wrote it, and one run in it.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             {}
             INSERT INTO runs VALUES (1, 'r1', {now_ms}, 12.5, '0.1.0', 'old');
             INSERT INTO subjects VALUES (1, 'link', 'checkout'), (2, 'service', 'db');
             INSERT INTO instances VALUES (1, 2, '0');
             INSERT INTO probe_outcomes VALUES (1, 1, 0, 40.0, NULL);
             INSERT INTO subject_states VALUES (1, 1, 0, NULL, 40.0), (1, 2, 0, 0, 40.0);
             INSERT INTO spofs VALUES (1, 1, 0, 'db');
             PRAGMA user_version = 1;",
            linkpatrol::history::store::MIGRATIONS[0]
        ))
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    const { assert!(SCHEMA_VERSION >= 2) };
    assert_eq!(store.run_count().unwrap(), 1);
    let h = linkpatrol::history::trends::history(
        store.connection(),
        store.path(),
        linkpatrol::report::timestamp::UtcTime::from_unix_ms(now_ms + 60_000),
    )
    .unwrap();
    assert_eq!(h.links.len(), 1);
    assert_eq!(h.links[0].last_24h.runs, 1);
    assert_eq!(h.links[0].last_24h.availability, Some(1.0));
    let p50 = h.services[0].last_7d.p50_ms.unwrap();
    assert!((p50 - 40.0).abs() < 1.0, "backfilled histogram: {p50}");
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn a_v2_history_keeps_its_percentiles_when_upgraded_to_one_histogram_per_hour() {
    use linkpatrol::history::store::{MIGRATIONS, bucket_value, latency_bucket};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let now_ms: i64 = 1_796_116_399_000;
    let hour = now_ms / 3_600_000;
    // v2 percentiles as v2 computed them: (subject, p50 bucket, p95 bucket) over the 7 d window.
    let v2: Vec<(i64, i64, i64)> = {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.create_scalar_function(
            "lp_bucket",
            1,
            rusqlite::functions::FunctionFlags::SQLITE_UTF8,
            |ctx| Ok(ctx.get::<Option<f64>>(0)?.map(latency_bucket)),
        )
        .unwrap();
        c.execute_batch(&format!(
            "{}\n{}\nINSERT INTO subjects VALUES (1, 'link', 'checkout'), (2, 'service', 'db');",
            MIGRATIONS[0], MIGRATIONS[1]
        ))
        .unwrap();
        c.execute_batch("BEGIN").unwrap();
        let mut seed = 5u64;
        for subject in 1..=2i64 {
            for h in 0..30 {
                c.execute(
                    "INSERT INTO hourly_states VALUES (?1, ?2, 60, 58, 1, 1, 0)",
                    (subject, hour - h * 5),
                )
                .unwrap();
                for _ in 0..60 {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let ms = 1.0 + (seed >> 40) as f64 / 1e5 * subject as f64;
                    c.execute(
                        "INSERT INTO hourly_latency VALUES (?1, ?2, lp_bucket(?3), 1)
                         ON CONFLICT DO UPDATE SET n = n + 1",
                        (subject, hour - h * 5, ms),
                    )
                    .unwrap();
                }
            }
        }
        c.execute_batch("COMMIT").unwrap();
        c.pragma_update(None, "user_version", 2).unwrap();
        let mut stmt = c
            .prepare(
                "WITH h AS (
                    SELECT subject_id, bucket, sum(n) AS n FROM hourly_latency
                    WHERE hour BETWEEN ?1 AND ?2 GROUP BY subject_id, bucket
                 ), c AS (
                    SELECT subject_id, bucket,
                           sum(n) OVER (PARTITION BY subject_id ORDER BY bucket) AS cum,
                           sum(n) OVER (PARTITION BY subject_id) AS total
                    FROM h
                 )
                 SELECT subject_id,
                        min(CASE WHEN cum * 100 >= total * 50 THEN bucket END),
                        min(CASE WHEN cum * 100 >= total * 95 THEN bucket END)
                 FROM c GROUP BY subject_id ORDER BY subject_id",
            )
            .unwrap();
        stmt.query_map((hour - 167, hour), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    assert_eq!(v2.len(), 2);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let h = linkpatrol::history::trends::history(
        store.connection(),
        store.path(),
        linkpatrol::report::timestamp::UtcTime::from_unix_ms(now_ms),
    )
    .unwrap();
    let got = [&h.links[0], &h.services[0]];
    for ((_, p50, p95), s) in v2.iter().zip(got) {
        assert_eq!(s.last_7d.p50_ms, Some(bucket_value(*p50)), "{}", s.id);
        assert_eq!(s.last_7d.p95_ms, Some(bucket_value(*p95)), "{}", s.id);
        assert_eq!(s.last_7d.runs, 30 * 60, "{}", s.id);
    }
    assert_ne!(
        v2[0].1, v2[1].1,
        "the two subjects must differ for the check to mean anything"
    );
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn keep_runs_prunes_the_oldest_run_folders_but_never_latest() {
    let fleet = Fleet::start();
    let wd = Workdir::new(&fleet, "inspect: { keep_runs: 2, history: 30d }\n");
    let mut ids = Vec::new();
    for _ in 0..4 {
        let o = wd.inspect(&["-q"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        ids.push(wd.report()["run"]["id"].as_str().unwrap().to_owned());
    }
    let mut left: Vec<String> = std::fs::read_dir(wd.out().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ids[2..], "the two newest stay");
    let target = std::fs::read_link(wd.latest()).unwrap();
    assert_eq!(target.file_name().unwrap().to_str(), Some(ids[3].as_str()));
    // The history keeps all four: its retention is by age (`history: 30d`), not by count.
    let store = Store::open(&wd.out().join("history.sqlite")).unwrap();
    assert_eq!(store.run_count().unwrap(), 4);
    let md = std::fs::read_to_string(wd.latest().join("report.md")).unwrap();
    assert!(md.contains("## History"), "{md}");
    assert!(md.contains("| link checkout | 4 | 100.00 % |"), "{md}");
}

/// A report of `yaml` as `analyze` makes it (no probes), to record into a store directly.
fn analysed(yaml: &str) -> linkpatrol::report::report::Report {
    let topo = linkpatrol::topology::load::load_str(yaml, "t.yaml").unwrap();
    let analysis =
        linkpatrol::analysis::analyze(&topo, &linkpatrol::analysis::Options::default()).unwrap();
    linkpatrol::report::build::build(&topo, &analysis, None)
}

#[test]
fn history_retention_drops_runs_older_than_the_window_with_their_rows_and_rollups() {
    use linkpatrol::history::RunRecord;
    use linkpatrol::report::timestamp::UtcTime;
    let report = analysed(
        "version: 1\nname: r\nlinks: {l: {entry: a}}\nservices: {a: {depends_on: {b: strong}}, b: {}}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("h.sqlite")).unwrap();
    let now = UtcTime::from_unix_ms(1_796_116_399_000);
    let day = Duration::from_secs(86_400);
    for (i, age) in [40u32, 31, 10, 0].into_iter().enumerate() {
        let tx = store.begin_run().unwrap();
        tx.record(&RunRecord {
            name: &format!("run-{i}"),
            started: now.minus(day * age),
            duration_ms: 1.0,
            version: "test",
            report: &report,
        })
        .unwrap();
        tx.commit().unwrap();
    }
    assert_eq!(store.run_count().unwrap(), 4);
    let removed = store.prune(now.minus(day * 30)).unwrap();
    assert_eq!(removed, 2);
    assert_eq!(store.run_count().unwrap(), 2);
    let c = store.connection();
    let count = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(DISTINCT run_id) FROM subject_states"),
        2
    );
    assert_eq!(count("SELECT count(DISTINCT run_id) FROM spofs"), 2);
    let oldest_hour = now.minus(day * 30).unix_ms / 3_600_000;
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM hourly_states WHERE hour < {oldest_hour}"
        )),
        0
    );
    // The 7-day window holds only the newest run; the 10-day-old one is outside it.
    let h = linkpatrol::history::trends::history(c, store.path(), now).unwrap();
    assert_eq!(h.links[0].last_7d.runs, 1);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn metrics_and_junit_escape_what_they_carry() {
    use linkpatrol::report::report::ProbeResult;
    use linkpatrol::state::State;
    let mut report = analysed(
        "version: 1\nname: esc\nlinks: {l: {entry: a}}\nservices: {a: {depends_on: {b: strong}}, b: {}}\n",
    );
    let nasty = "say \"hi\" \\ <b>&</b>\nline two\u{7}";
    report.services[0].id = nasty.to_owned();
    report.services[0].probes = Some(vec![ProbeResult {
        instance: "i\"1".to_owned(),
        ok: false,
        state: State::Down,
        latency_ms: Some(12.5),
        reason: Some(nasty.to_owned()),
        phases: None,
    }]);
    report.links[0].name = "link \"q\"".to_owned();

    let metrics = linkpatrol::report::prometheus::render_metrics(&report);
    assert!(
        metrics.contains(r#"service="say \"hi\" \\ <b>&</b>\nline two"#),
        "{metrics}"
    );
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let check = child.wait_with_output().unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    let junit = linkpatrol::report::junit::render_junit(&report);
    let doc = parse_xml(&junit);
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure") && n.attribute("type") == Some("down"))
        .filter(|n| {
            n.parent()
                .and_then(|p| p.attribute("classname"))
                .is_some_and(|c| c.starts_with("linkpatrol.probe."))
        })
        .expect("the probe's failure");
    assert_eq!(
        failure.attribute("message"),
        Some("say \"hi\" \\ <b>&</b>\nline two"),
        "the reason survives escaping; the bell (not allowed in XML) is dropped"
    );
    let case = failure.parent().unwrap();
    assert_eq!(case.attribute("time"), Some("0.012500"));
    assert!(
        doc.descendants()
            .any(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some("link link \"q\""))
    );
}

/// The bounding box (min x, min y, max x, max y) of an SVG polygon's `points` or a path's `d`
/// as Graphviz writes them: absolute `x,y` pairs (`M x,y C x,y x,y x,y …`).
fn bounding_box(points: &str) -> (f64, f64, f64, f64) {
    let numbers: Vec<f64> = points
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("a coordinate"))
        .collect();
    assert!(
        numbers.len() >= 4 && numbers.len().is_multiple_of(2),
        "{points}"
    );
    let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in numbers.chunks(2) {
        let (x, y) = (p[0], p[1]);
        b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
    }
    b
}

/// Issue 15: `inspect`'s report.html, like `render --format html`'s, holds every link's own
/// picture, and in each the link's cluster, as drawn (the services whose label lies inside the
/// cluster's outline), is exactly that link's critical path; `db`, shared by both links, sits in
/// both pictures' clusters.
#[test]
fn inspect_html_draws_every_link_with_exactly_its_critical_path_as_the_cluster() {
    let fleet = Fleet::start();
    let wd = Workdir::new(&fleet, "");
    let yaml = std::fs::read_to_string(wd.path().join("t.yaml")).unwrap();
    let two_links = yaml.replace(
        "  checkout: { entry: gateway }\n",
        "  checkout: { entry: gateway }\n  orders-api: { entry: orders }\n",
    );
    assert_ne!(
        yaml, two_links,
        "the fleet's topology has the checkout link"
    );
    std::fs::write(wd.path().join("t.yaml"), two_links).unwrap();
    let o = wd.inspect(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = wd.report();
    assert!(
        report["run"]["warnings"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{}",
        report["run"]
    );
    let services: Vec<&str> = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let html = std::fs::read_to_string(wd.latest().join("report.html")).unwrap();
    let marker = "<figure class=\"graph link-graph\" data-link=\"";
    let mut drawn = Vec::new();
    for piece in html.split(marker).skip(1) {
        let link = &piece[..piece.find('"').unwrap()];
        let start = piece.find("<svg").expect("inline SVG");
        let end = piece.find("</svg>").expect("SVG closed") + "</svg>".len();
        let doc = parse_xml(&piece[start..end]);
        let groups = |class: &str| -> Vec<roxmltree::Node<'_, '_>> {
            doc.descendants()
                .filter(|n| n.has_tag_name("g"))
                .filter(|n| {
                    n.attribute("class")
                        .is_some_and(|c| c.split(' ').any(|c| c == class))
                })
                .collect()
        };
        let title = |g: &roxmltree::Node<'_, '_>| -> String {
            g.children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|t| t.text())
                .unwrap_or("")
                .to_owned()
        };
        let clusters: Vec<_> = groups("cluster")
            .into_iter()
            .filter(|g| title(g) != "cluster_legend")
            .collect();
        assert_eq!(clusters.len(), 1, "{link}: one cluster besides the legend");
        assert_eq!(title(&clusters[0]), format!("cluster_link:{link}"));
        let outline = clusters[0]
            .descendants()
            .find(|n| n.has_tag_name("polygon") || n.has_tag_name("path"))
            .expect("the cluster's outline");
        let shape = outline
            .attribute("points")
            .or_else(|| outline.attribute("d"))
            .expect("points or a path");
        let (x0, y0, x1, y1) = bounding_box(shape);
        let mut inside: Vec<String> = groups("node")
            .iter()
            .filter(|g| services.contains(&title(g).as_str()))
            .filter(|g| {
                let text = g.descendants().find(|n| n.has_tag_name("text")).unwrap();
                let x: f64 = text.attribute("x").unwrap().parse().unwrap();
                let y: f64 = text.attribute("y").unwrap().parse().unwrap();
                (x0..=x1).contains(&x) && (y0..=y1).contains(&y)
            })
            .map(title)
            .collect();
        inside.sort();
        let entry = report["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == link)
            .unwrap_or_else(|| panic!("{link} is a link of the report"));
        let mut path: Vec<String> = entry["critical_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        path.sort();
        assert_eq!(inside, path, "{link}: the cluster as drawn");
        drawn.push(link.to_owned());
    }
    assert_eq!(drawn, ["checkout", "orders-api"], "one picture per link");
    assert!(
        html.contains("href=\"#link-picture-1\""),
        "an index of the pictures"
    );
}

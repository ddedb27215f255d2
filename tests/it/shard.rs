//! `--shard i/n` and `merge` (SPEC §8), end to end through the binary against a loopback fleet
//! of 600 instances: every instance is probed exactly once per split, and the merge of the
//! shards is the unsharded report (timing aside); broken sets of shards are refused by name.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assert_cmd::Command;
use linkpatrol::probe::Shard;
use linkpatrol::topology::load::load_str;
use serde_json::Value;

const SERVICES: usize = 120;
const INSTANCES: usize = 5;

/// Requests seen per (listener port, path).
type Hits = Arc<Mutex<HashMap<(u16, String), usize>>>;

/// Five HTTP listeners on 127.0.0.1 (one per instance position). `GET /sNNN` answers 200, except
/// the answers that [`failing`] says fail, which get 503. Each connection is one request.
struct Fleet {
    ports: Vec<u16>,
    hits: Hits,
}

fn failing(service: usize, instance: usize) -> bool {
    // s007 is down entirely (a root cause under its callers); every 11th service loses one
    // instance (degraded, redundancy left); s050 loses three of five (down: min_healthy 3).
    service == 7 || (service % 11 == 3 && instance == 0) || (service == 50 && instance < 3)
}

impl Fleet {
    fn start() -> Self {
        let hits: Hits = Arc::default();
        let mut ports = Vec::new();
        for instance in 0..INSTANCES {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            ports.push(port);
            let hits = Arc::clone(&hits);
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let hits = Arc::clone(&hits);
                    std::thread::spawn(move || answer(stream, port, instance, &hits));
                }
            });
        }
        Self { ports, hits }
    }

    fn take_hits(&self) -> HashMap<(u16, String), usize> {
        std::mem::take(&mut *self.hits.lock().unwrap())
    }

    fn topology(&self, extra_service: bool) -> String {
        let mut y = String::from(
            "version: 1\nname: shard-fleet\n\
             defaults: { timeout: 2s, retries: 0, slow: 10s, concurrency: 64, per_host: 64 }\n\
             links:\n",
        );
        for l in 0..6 {
            let _ = writeln!(y, "  link-{l}: {{ entry: s{:03} }}", l * 20);
        }
        y += "services:\n";
        let total = SERVICES + usize::from(extra_service);
        for s in 0..total {
            let _ = writeln!(
                y,
                "  s{s:03}:\n    probe: {{ http: {{ url: \"http://{{address}}/s{s:03}\" }} }}\n    min_healthy: 3\n    instances:"
            );
            for (i, port) in self.ports.iter().enumerate() {
                let _ = writeln!(
                    y,
                    "      - {{ name: i{i}, address: \"127.0.0.1:{port}\", zone: az{} }}",
                    i % 3
                );
            }
            // A layered graph: strong to the next two, weak to one further down.
            let deps: Vec<String> = [(s + 1, "strong"), (s + 2, "strong"), (s + 5, "weak")]
                .iter()
                .filter(|(t, _)| *t < total && t / 20 == s / 20)
                .map(|(t, strength)| format!("s{t:03}: {strength}"))
                .collect();
            if !deps.is_empty() {
                let _ = writeln!(y, "    depends_on: {{ {} }}", deps.join(", "));
            }
        }
        y
    }
}

fn answer(stream: TcpStream, port: u16, instance: usize, hits: &Hits) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let service: usize = path.trim_start_matches("/s").parse().unwrap_or(usize::MAX);
    *hits.lock().unwrap().entry((port, path)).or_default() += 1;
    let status = if failing(service, instance) {
        "503 Service Unavailable"
    } else {
        "200 OK"
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
}

fn linkpatrol(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("linkpatrol").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(60));
    cmd
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The report without what differs between two runs of the same outcomes: latencies.
fn timeless(mut v: Value) -> Value {
    for service in v["services"].as_array_mut().unwrap() {
        for probe in service["probes"].as_array_mut().into_iter().flatten() {
            probe["latency_ms"] = Value::Null;
            // An http probe's phases are timings too; that the merge keeps them is what counts.
            if probe.get("phases").is_some() {
                probe["phases"] = Value::Bool(true);
            }
        }
    }
    v
}

/// `linkpatrol -q ARGS… EXTRA…` in `dir`, which must succeed: its JSON on stdout.
fn stdout_json<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[&str], extra: &[S]) -> Value {
    let out = linkpatrol(dir)
        .arg("-q")
        .args(args)
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    json(&out)
}

fn probe_json(dir: &Path, extra: &[&str]) -> Value {
    stdout_json(
        dir,
        &["probe", "--format", "json", "--fail-on", "never"],
        extra,
    )
}

/// `merge` of the shard reports `files`, as JSON on stdout.
fn merge_json(dir: &Path, files: &[PathBuf]) -> Value {
    stdout_json(dir, &["merge", "--fail-on", "never"], files)
}

#[test]
fn shards_probe_every_instance_once_and_merge_to_the_unsharded_report() {
    let fleet = Fleet::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("topology.yaml"), fleet.topology(false)).unwrap();

    let whole = timeless(probe_json(dir.path(), &[]));
    let hits = fleet.take_hits();
    assert_eq!(hits.len(), SERVICES * INSTANCES);
    assert!(hits.values().all(|&n| n == 1));
    // The fleet tells a story, so the equality below compares real analysis.
    assert!(
        whole["root_causes"]
            .as_array()
            .is_some_and(|r| r.iter().any(|c| c["id"] == "s007")),
        "{}",
        whole["root_causes"]
    );
    assert!(
        whole["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["state"] == "down")
    );
    assert!(whole.get("shard").is_none());

    for n in [1u32, 2, 3, 7] {
        let mut files: Vec<PathBuf> = Vec::new();
        let mut owned_total = 0;
        for i in 1..=n {
            let report = probe_json(dir.path(), &["--shard", &format!("{i}/{n}")]);
            let shard = &report["shard"];
            assert_eq!(shard["index"], i);
            assert_eq!(shard["count"], n);
            let owned = shard["instances"].as_array().unwrap().len();
            owned_total += owned;
            // What the shard probed is what it says it owns; the rest waits for another shard.
            let probed = report["services"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| s["probes"].as_array().unwrap())
                .filter(|p| {
                    !p["reason"]
                        .as_str()
                        .is_some_and(|r| r.starts_with("probed by shard"))
                })
                .count();
            assert_eq!(probed, owned, "shard {i}/{n}");
            let file = dir.path().join(format!("shard-{i}-of-{n}.json"));
            std::fs::write(&file, serde_json::to_vec(&report).unwrap()).unwrap();
            files.push(file);
        }
        assert_eq!(owned_total, SERVICES * INSTANCES, "split into {n}");
        let hits = fleet.take_hits();
        assert_eq!(hits.len(), SERVICES * INSTANCES, "split into {n}");
        assert!(hits.values().all(|&h| h == 1), "split into {n}: {hits:?}");

        let merged = timeless(merge_json(dir.path(), &files));
        assert!(
            merged == whole,
            "merge of {n} shards differs from the unsharded report"
        );
    }
}

#[test]
fn merge_writes_the_files_of_inspect() {
    let fleet = Fleet::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("topology.yaml"), fleet.topology(false)).unwrap();
    let mut files = Vec::new();
    for i in 1..=2 {
        linkpatrol(dir.path())
            .args(["-q", "inspect", "--fail-on", "never", "--shard"])
            .arg(format!("{i}/2"))
            .args(["-o", &format!("shard-{i}")])
            .assert()
            .success();
        let report = dir.path().join(format!("shard-{i}/latest/report.json"));
        assert_eq!(
            json(&std::fs::read(&report).unwrap())["run"]["shard"],
            format!("{i}/2")
        );
        let metrics =
            std::fs::read_to_string(dir.path().join(format!("shard-{i}/metrics.prom"))).unwrap();
        let shard_label = format!("shard=\"{i}/2\"");
        assert!(
            metrics
                .lines()
                .filter(|l| !l.starts_with('#'))
                .all(|l| l.contains(&shard_label)),
            "{metrics}"
        );
        files.push(report);
    }
    linkpatrol(dir.path())
        .args(["merge", "--fail-on", "never", "-o", "merged"])
        .args(&files)
        .assert()
        .success()
        .stderr(predicates::str::contains("merged 2 shards of shard-fleet"));
    let latest = dir.path().join("merged/latest");
    for f in linkpatrol::report::output::RUN_FILES {
        assert!(latest.join(f).is_file(), "{f} missing");
    }
    let report = json(&std::fs::read(latest.join("report.json")).unwrap());
    assert!(report.get("shard").is_none());
    assert_eq!(report["run"]["shard"], Value::Null);
    assert!(dir.path().join("merged/history.sqlite").is_file());
    let metrics = std::fs::read_to_string(latest.join("metrics.prom")).unwrap();
    assert!(metrics.contains("linkpatrol_link_up"), "{metrics}");
    assert!(!metrics.contains("shard="), "{metrics}");
}

#[test]
fn merge_refuses_missing_duplicated_and_foreign_shards_by_name() {
    let fleet = Fleet::start();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("topology.yaml"), fleet.topology(false)).unwrap();
    std::fs::write(p.join("other.yaml"), fleet.topology(true)).unwrap();
    for (name, file, shard) in [
        ("a1.json", "topology.yaml", None),
        ("s1.json", "topology.yaml", Some("1/3")),
        ("s2.json", "topology.yaml", Some("2/3")),
        ("s3.json", "topology.yaml", Some("3/3")),
        ("other2.json", "other.yaml", Some("2/3")),
        ("q1.json", "topology.yaml", Some("1/4")),
    ] {
        let out = linkpatrol(p)
            .args([
                "-q",
                "-f",
                file,
                "probe",
                "--format",
                "json",
                "--fail-on",
                "never",
            ])
            .args(shard.map(|s| ["--shard", s]).iter().flatten())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        std::fs::write(p.join(name), out).unwrap();
    }
    let refuse = |files: &[&str], expected: &str| {
        let out = linkpatrol(p)
            .args(["merge"])
            .args(files)
            .assert()
            .code(2)
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8(out).unwrap();
        assert!(err.contains(expected), "{files:?}: {err}");
    };
    refuse(&["s1.json", "s2.json"], "shard 3/3 missing");
    refuse(
        &["s1.json", "s2.json", "s2.json", "s3.json"],
        "shard 2/3 is given twice: `s2.json` and `s2.json`",
    );
    refuse(
        &["s1.json", "other2.json", "s3.json"],
        "`other2.json` is a shard of a different topology",
    );
    refuse(
        &["s1.json", "q1.json"],
        "`q1.json` is shard 1/4 but `s1.json` is shard 1/3",
    );
    refuse(&["a1.json"], "`a1.json` is not a shard report");
    refuse(&["nope.json"], "cannot read `nope.json`");
    std::fs::write(p.join("junk.json"), "{ not json").unwrap();
    refuse(&["junk.json"], "`junk.json` is not a linkpatrol report");
    // An edited instance list is caught.
    let mut edited = json(&std::fs::read(p.join("s3.json")).unwrap());
    edited["shard"]["instances"].as_array_mut().unwrap().pop();
    std::fs::write(p.join("edited.json"), serde_json::to_vec(&edited).unwrap()).unwrap();
    refuse(
        &["s1.json", "s2.json", "edited.json"],
        "`edited.json` (shard 3/3) lists other instances",
    );
    // And a good set still merges.
    linkpatrol(p)
        .args([
            "-q",
            "merge",
            "--fail-on",
            "never",
            "s3.json",
            "s1.json",
            "s2.json",
        ])
        .assert()
        .success();
}

#[test]
fn adding_a_service_moves_no_other_instance_between_shards() {
    let fleet = Fleet {
        ports: vec![18001, 18002, 18003, 18004, 18005],
        hits: Arc::default(),
    };
    let before = load_str(&fleet.topology(false), "before.yaml").unwrap();
    let after = load_str(&fleet.topology(true), "after.yaml").unwrap();
    let added = format!("s{SERVICES:03}/");
    for n in [2, 3, 7] {
        for i in 1..=n {
            let shard = Shard::new(i, n).unwrap();
            let mut grown = shard.instances(&after);
            grown.retain(|inst| !inst.starts_with(&added));
            assert_eq!(grown, shard.instances(&before), "shard {shard}");
        }
    }
}

/// Operations' own probes (SPEC §1) go through shards like the service's: the merge of every
/// shard gives the unsharded report, operation states and root causes included.
#[test]
fn operations_own_probes_merge_to_the_unsharded_report() {
    let fleet = Fleet::start();
    let dir = tempfile::tempdir().unwrap();
    // `front` answers on /s000; its `home` route on /s001 (up everywhere), its `pay` route on
    // /s050 (503 on three of the five instances, so `pay` alone is down: min_healthy 3).
    let mut y = String::from(
        "version: 1\nname: shard-ops\n\
         defaults: { timeout: 2s, retries: 0, slow: 10s }\n\
         links:\n  browse: { entry: front, operation: home }\n  buy: { entry: front, operation: pay }\n\
         services:\n  front:\n    probe: { http: { url: \"http://{address}/s000\" } }\n    min_healthy: 3\n\
         \x20   operations:\n\
         \x20     home: { probe: { http: { url: \"http://{address}/s001\" } } }\n\
         \x20     pay: { probe: { http: { url: \"http://{address}/s050\" } } }\n\
         \x20   instances:\n",
    );
    for (i, port) in fleet.ports.iter().enumerate() {
        let _ = writeln!(y, "      - {{ name: i{i}, address: \"127.0.0.1:{port}\" }}");
    }
    std::fs::write(dir.path().join("topology.yaml"), y).unwrap();
    let strip = |mut v: Value| {
        v = timeless(v);
        for service in v["services"].as_array_mut().unwrap() {
            for op in service["operations"].as_array_mut().into_iter().flatten() {
                for probe in op["probes"].as_array_mut().into_iter().flatten() {
                    probe["latency_ms"] = Value::Null;
                    probe["phases"] = Value::Null;
                }
            }
        }
        v
    };
    let whole = strip(probe_json(dir.path(), &[]));
    let state = |doc: &Value, link: &str| {
        doc["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == link)
            .map(|l| l["state"].clone())
            .unwrap()
    };
    // The story is real: the pay route alone is down, and it is the root cause.
    assert_eq!(state(&whole, "browse"), "up", "{whole}");
    assert_eq!(state(&whole, "buy"), "down", "{whole}");
    assert_eq!(whole["root_causes"][0]["id"], "front (pay)", "{whole}");
    fleet.take_hits();
    for n in [2u32, 3] {
        let mut files = Vec::new();
        for i in 1..=n {
            let report = probe_json(dir.path(), &["--shard", &format!("{i}/{n}")]);
            let file = dir.path().join(format!("ops-{i}-of-{n}.json"));
            std::fs::write(&file, serde_json::to_vec(&report).unwrap()).unwrap();
            files.push(file);
        }
        // Every route of every instance was asked once in all.
        let hits = fleet.take_hits();
        assert_eq!(hits.len(), 3 * INSTANCES, "split into {n}: {hits:?}");
        assert!(hits.values().all(|&h| h == 1), "split into {n}: {hits:?}");
        let merged = strip(merge_json(dir.path(), &files));
        assert_eq!(state(&merged, "buy"), "down", "split into {n}");
        assert!(
            merged == whole,
            "merge of {n} shards differs from the unsharded report:\n{merged}\n---\n{whole}"
        );
    }
}

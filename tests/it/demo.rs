//! The demo fleet (`src/demo`) under the real probe engine, and `linkpatrol demo` end to end.
//!
//! Fleets in these tests bind their own loopback address (`127.0.0.2`, `127.0.0.3`, …: all of
//! 127.0.0.0/8 is loopback on Linux) so that they run beside each other; only the end-to-end
//! test uses the bundled `127.0.0.1:18xxx`, and it runs its steps one after the other.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, TcpListener};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use linkpatrol::demo::{Answer, DemoError, Fleet, Plan, TOPOLOGY, topology_for};
use linkpatrol::probe::{ProbeRun, RunOptions, Selection, run_blocking};
use linkpatrol::state::State;
use linkpatrol::topology::model::Topology;

fn host(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// Probes every service of the bundled topology, moved to `host`, with the real engine.
fn probe_all(host: IpAddr) -> (Topology, ProbeRun) {
    let topology =
        linkpatrol::topology::load::load_str(&topology_for(host), "topology.yaml").unwrap();
    let selected = Selection::all().resolve(&topology).unwrap();
    let options = RunOptions::from_defaults(&topology.defaults);
    let run = run_blocking(&topology, &selected, &options, &mut |_, _| {}).unwrap();
    (topology, run)
}

/// `service` → (observed state, per instance: (state, reason)).
type Found = BTreeMap<String, (State, Vec<(State, String)>)>;

fn found(topology: &Topology, run: &ProbeRun) -> Found {
    topology
        .iter_services()
        .map(|(i, s)| {
            let outcomes = run.instances[i.get()]
                .iter()
                .map(|o| (o.state, o.reason.clone().unwrap_or_default()))
                .collect();
            (
                s.name.as_str().to_owned(),
                (run.observed[i.get()], outcomes),
            )
        })
        .collect()
}

fn state_of(found: &Found, service: &str) -> State {
    found[service].0
}

fn reasons(found: &Found, service: &str) -> Vec<String> {
    found[service].1.iter().map(|(_, r)| r.clone()).collect()
}

#[test]
fn the_bundled_fleet_answers_every_probe_as_the_story_says() {
    let fleet = Fleet::start(host(2), Plan::bundled()).unwrap();
    let (topology, run) = probe_all(host(2));
    let found = found(&topology, &run);
    drop(fleet);

    // Healthy, every instance, each in its own protocol: HTTP contracts (callback JSON, gateway
    // header, bodies), the printer's STATUS/READY, MySQL connect + auth + SELECT 1, Redis PING,
    // the message queue's AMQP round trip, the Prometheus query.
    for service in [
        "order-gateway",
        "auth",
        "order-service",
        "merchant-push",
        "receipt-printer",
        "mysql-primary",
        "mysql-replica",
        "redis",
        "message-queue",
        "sms-provider-b",
        "analytics",
    ] {
        let (state, instances) = &found[service];
        assert_eq!(*state, State::Up, "{service}: {instances:?}");
        assert!(
            instances.iter().all(|(s, _)| *s == State::Up),
            "{service}: {instances:?}"
        );
    }
    // The slow one.
    assert_eq!(state_of(&found, "sms-provider-a"), State::Degraded);
    assert!(
        reasons(&found, "sms-provider-a")[0].starts_with("slow: answered in ")
            && reasons(&found, "sms-provider-a")[0].ends_with("threshold 300ms"),
        "{:?}",
        found["sms-provider-a"]
    );
    // The failing one: a TLS handshake that shows an expired certificate.
    assert_eq!(state_of(&found, "config-center"), State::Down);
    assert_eq!(
        reasons(&found, "config-center"),
        [
            "certificate expired 3 days ago",
            "certificate expired 3 days ago"
        ]
    );
    // One instance of a redundant service down; the service lives on its last instance.
    assert_eq!(state_of(&found, "platform-callback"), State::Degraded);
    let callback = &found["platform-callback"].1;
    assert_eq!(callback[0], (State::Up, String::new()));
    assert_eq!(callback[1].0, State::Down);
    assert!(callback[1].1.contains("refused"), "{callback:?}");
}

#[test]
fn every_protocol_fails_in_its_own_words() {
    let mut plan = Plan::bundled();
    for e in &mut plan.endpoints {
        e.answer = Answer::Failing;
    }
    let fleet = Fleet::start(host(3), plan).unwrap();
    let (topology, run) = probe_all(host(3));
    let found = found(&topology, &run);
    drop(fleet);

    let expect: &[(&str, &str)] = &[
        ("platform-callback", "status 503"),
        ("order-gateway", "status 503"),
        ("auth", "status 503"),
        ("order-service", "status 503"),
        ("merchant-push", "status 503"),
        ("sms-provider-a", "status 503"),
        ("sms-provider-b", "maintenance"),
        ("receipt-printer", "BUSY paper jam"),
        ("mysql-primary", "Too many connections"),
        ("mysql-replica", "Too many connections"),
        ("redis", "LOADING"),
        ("config-center", "certificate expired 3 days ago"),
        ("analytics", "is 0.18, expected < 0.05"),
        ("message-queue", "CONNECTION_FORCED"),
    ];
    assert_eq!(expect.len(), topology.services.len());
    for (service, words) in expect {
        assert_eq!(
            state_of(&found, service),
            State::Down,
            "{service}: {:?}",
            found[*service]
        );
        for reason in reasons(&found, service) {
            assert!(
                reason.contains(words),
                "{service}: `{reason}` does not say `{words}`"
            );
        }
    }
}

#[test]
fn a_slow_answer_is_slow_in_every_protocol() {
    let plan = Plan::bundled()
        .with_answer("mysql-primary", Answer::Slow(Duration::from_millis(400)))
        .with_answer("redis", Answer::Slow(Duration::from_millis(400)))
        .with_answer("analytics", Answer::Slow(Duration::from_millis(400)))
        .with_answer("receipt-printer", Answer::Slow(Duration::from_millis(400)));
    let fleet = Fleet::start(host(4), plan).unwrap();
    let (topology, run) = probe_all(host(4));
    let found = found(&topology, &run);
    drop(fleet);
    for service in ["mysql-primary", "redis", "analytics", "receipt-printer"] {
        assert_eq!(state_of(&found, service), State::Degraded, "{service}");
        for reason in reasons(&found, service) {
            assert!(reason.starts_with("slow: "), "{service}: {reason}");
        }
    }
}

#[test]
fn a_busy_port_is_an_error_that_names_it() {
    // A listener elsewhere on a port the fleet serves…
    let busy = TcpListener::bind((host(5), 18500)).unwrap();
    let err = Fleet::start(host(5), Plan::bundled()).unwrap_err();
    assert!(
        matches!(&err, DemoError::PortInUse { address, service }
            if address.to_string() == "127.0.0.5:18500" && service == "receipt-printer"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("127.0.0.5:18500"), "{message}");
    assert!(message.contains("`receipt-printer`"), "{message}");
    assert!(message.contains("already in use"), "{message}");
    drop(busy);

    // …and on the port the fleet holds closed for the instance that is down.
    let busy = TcpListener::bind((host(5), 18081)).unwrap();
    let err = Fleet::start(host(5), Plan::bundled()).unwrap_err();
    assert!(err.to_string().contains("127.0.0.5:18081"), "{err}");
    drop(busy);

    // Nothing was left bound by the failed starts: the whole fleet starts now, and a second
    // one beside it is refused.
    let fleet = Fleet::start(host(5), Plan::bundled()).unwrap();
    assert!(matches!(
        Fleet::start(host(5), Plan::bundled()),
        Err(DemoError::PortInUse { .. })
    ));
    // The held port refuses connections, and nobody else can listen on it.
    assert!(std::net::TcpStream::connect((host(5), 18081)).is_err());
    assert!(TcpListener::bind((host(5), 18081)).is_err());
    drop(fleet);
    // Stopped means the ports are free again.
    let again = Fleet::start(host(5), Plan::bundled()).unwrap();
    drop(again);
}

fn linkpatrol(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_linkpatrol"));
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ORDER_DB_PASSWORD");
    cmd
}

/// Runs with a bound on time: a hung demo fails the test instead of hanging it.
fn output(cmd: &mut Command) -> std::process::Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    if let Ok(out) = rx.recv_timeout(Duration::from_secs(120)) {
        return out.unwrap();
    }
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    panic!("linkpatrol did not finish within 120 s");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn demo_runs_end_to_end_from_a_fresh_directory() {
    // An empty directory: the demo needs no file of the clone (its topology is in the binary).
    let dir = tempfile::tempdir().unwrap();
    let out = output(linkpatrol(dir.path()).arg("demo"));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("demo fleet: 24 endpoints answering on 127.0.0.1"),
        "{stderr}"
    );
    for line in [
        "inspected takeaway-isv",
        "order-acceptance",
        "config-center",
        "certificate expired 3 days ago",
        "edge-b: connection refused",
        "slow: answered in",
        "root causes:",
        "config-center down",
        "reports: output/latest/report.html",
        "topology: output/topology.yaml",
    ] {
        assert!(stdout.contains(line), "summary lacks `{line}`:\n{stdout}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("output/topology.yaml")).unwrap(),
        TOPOLOGY
    );
    assert!(dir.path().join("output/history.sqlite").is_file());
    // Every file of the inspection, in the run folder `latest` points at.
    let output_dir = dir.path().join("output/latest");
    for file in linkpatrol::report::output::RUN_FILES {
        let path = output_dir.join(file);
        assert!(path.is_file(), "{} missing", path.display());
    }
    let svg = std::fs::read_to_string(output_dir.join("graph.svg")).unwrap();
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(&svg, options).expect("graph.svg is XML");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(output_dir.join("report.json")).unwrap())
            .unwrap();
    let state = |kind: &str, key: &str, name: &str, field: &str| {
        report[kind]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x[key] == name)
            .map(|x| x[field].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(
        state("links", "name", "order-acceptance", "state"),
        "degraded"
    );
    assert_eq!(
        state("links", "name", "receipt-printing", "state"),
        "degraded"
    );
    assert_eq!(
        state("links", "name", "merchant-notification", "state"),
        "up"
    );
    assert_eq!(state("services", "id", "config-center", "observed"), "down");
    assert_eq!(state("services", "id", "mysql-primary", "observed"), "up");
    let html = std::fs::read_to_string(output_dir.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "report.html has the graph inline");

    // -o chooses the directory.
    let out = output(linkpatrol(dir.path()).args(["demo", "-q", "-o", "elsewhere"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.path().join("elsewhere/latest/report.html").is_file());

    // `demo --serve` keeps the fleet up; `probe` from another process finds it; a second demo
    // meets a busy port; Ctrl-C stops the fleet with exit 0.
    let mut serve = linkpatrol(dir.path())
        .args(["demo", "--serve", "-o", "served"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = serve.id().to_string();
    let (tx, rx) = mpsc::channel();
    let stdout = serve.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let up = loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains("stays up until Ctrl-C") => break true,
            Ok(_) => {}
            Err(_) => break false,
        }
    };
    if !up {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("`demo --serve` did not come up");
    }
    let probed = output(linkpatrol(dir.path()).args([
        "-f",
        "served/topology.yaml",
        "probe",
        "config-center",
        "mysql-primary",
        "--format",
        "json",
    ]));
    let busy = output(linkpatrol(dir.path()).args(["demo", "-o", "busy"]));
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let served = serve.wait().unwrap();

    let doc: serde_json::Value = serde_json::from_slice(&probed.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&probed.stderr)));
    let observed: BTreeMap<&str, &str> = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["probes"].is_array())
        .map(|s| (s["id"].as_str().unwrap(), s["observed"].as_str().unwrap()))
        .collect();
    assert_eq!(observed.get("config-center"), Some(&"down"), "{doc}");
    assert_eq!(observed.get("mysql-primary"), Some(&"up"), "{doc}");

    assert_eq!(busy.status.code(), Some(3));
    let message = text(&busy.stderr);
    assert!(
        message.contains("error: cannot start the demo fleet: port 127.0.0.1:18080")
            && message.contains("already in use"),
        "{message}"
    );
    assert!(
        !dir.path().join("busy").exists(),
        "nothing written on failure"
    );
    assert_eq!(served.code(), Some(0));
}

//! Root causes end to end: `probe --format json` and the `probe` table lead with them, and
//! `analyze --fail` names the failed events as root causes.
//!
//! `examples/topologies/outage.yaml` uses the machine's PostgreSQL and MariaDB (started by
//! scripts/test-env.sh) and ports where nothing listens for the session store and the services
//! above it.

use assert_cmd::Command;

fn linkpatrol() -> Command {
    let mut cmd = Command::cargo_bin("linkpatrol").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1");
    cmd
}

const OUTAGE: &str = "examples/topologies/outage.yaml";

#[test]
fn probe_json_leads_with_root_causes() {
    let out = linkpatrol()
        .args(["-f", OUTAGE, "probe", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let at = |key: &str| text.find(&format!("\n  \"{key}\"")).unwrap_or(usize::MAX);
    assert!(at("topology") < at("root_causes"), "{text}");
    assert!(at("root_causes") < at("links"), "root causes first: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let causes = v["root_causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{causes:#?}");
    let c = &causes[0];
    assert_eq!(c["id"], "sessions");
    assert_eq!(c["kind"], "service");
    assert_eq!(c["members"], serde_json::json!(["sessions"]));
    assert_eq!(c["state"], "down");
    assert_eq!(c["owner"], "platform-team");
    assert_eq!(c["assumed"], false);
    assert_eq!(c["links"], serde_json::json!(["checkout"]));
    assert_eq!(c["services"], serde_json::json!(["api", "web"]));
    assert!(
        c["reason"].as_str().unwrap().contains("connection refused"),
        "{c}"
    );
    let service = |id: &str| {
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    // `api` and `web` fail their own probes too, but `sessions` explains them.
    for id in ["api", "web"] {
        assert_eq!(service(id)["effective"], "down");
        assert_eq!(service(id)["because_of"], serde_json::json!(["sessions"]));
    }
    for id in ["sessions", "orders-db", "reporting-db"] {
        assert!(service(id).get("because_of").is_none(), "{id}");
    }
}

#[test]
fn probe_table_leads_with_root_causes() {
    let out = linkpatrol().args(["-f", OUTAGE, "probe"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "root cause (1; 2 other services failing because of it)",
        "{text}"
    );
    assert!(
        lines[1].starts_with(
            "  ✗ sessions  down  owner platform-team  cannot connect to `127.0.0.1:16399`"
        ),
        "{text}"
    );
    assert_eq!(
        lines[2],
        "      takes down link checkout; services api, web"
    );
    let row = |service: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(service) && l.contains("(service)"))
            .unwrap_or_else(|| panic!("no service row for {service}: {text}"))
            .to_string()
    };
    assert!(row("api").ends_with("down because of `sessions`"), "{text}");
    assert!(
        row("web").ends_with("down because of `sessions` (0 of 2 alive, 1 needed)"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("checkout") && l.ends_with("down because of `sessions`")),
        "{text}"
    );
    assert!(
        text.contains("; 1 root cause, 2 services failing because of it\n"),
        "{text}"
    );
    // One line per root cause, never one per dependent.
    assert!(!text.contains("down, and what it takes down"), "{text}");
}

#[test]
fn analyze_fail_names_each_event_a_root_cause() {
    let out = linkpatrol()
        .args([
            "analyze",
            "--fail",
            "mysql-primary,order-service",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let causes = v["root_causes"].as_array().unwrap();
    let ids: Vec<&str> = causes.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["order-service", "mysql-primary"], "{causes:#?}");
    assert!(causes.iter().all(|c| c["assumed"] == true));
    assert_eq!(
        causes[0]["reason"],
        "assumed failed: `order-service/0`, `order-service/1`"
    );
    // A plain analysis has no root causes at all.
    let out = linkpatrol()
        .args(["analyze", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("root_causes").is_none());
    // The text output says it before the links.
    let out = linkpatrol()
        .args(["analyze", "--fail", "mysql-primary"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let cause = text.find("root cause (1;").expect("root cause section");
    assert!(cause < text.find("\nlink ").unwrap(), "{text}");
    assert!(
        text.contains("✗ mysql-primary  down  owner dba-team  assumed failed: `mysql-primary/0`"),
        "{text}"
    );
}

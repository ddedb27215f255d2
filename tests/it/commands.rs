//! The analysis, diff, render and probe commands end to end: output shape and exit codes.

use assert_cmd::Command;

fn linkpatrol() -> Command {
    let mut cmd = Command::cargo_bin("linkpatrol").unwrap();
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

#[test]
fn analyze_json_is_the_report_contract() {
    let out = linkpatrol()
        .args(["analyze", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["topology"], "takeaway-isv");
    let order = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "order-acceptance")
        .unwrap();
    assert_eq!(order["state"], "unknown");
    assert!(order.get("live_spofs").is_none());
    let spofs: Vec<&str> = order["spofs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(spofs, ["mysql-primary", "host=db-1", "zone=az1"]);
    // byte-identical on a second run
    let again = linkpatrol()
        .args(["analyze", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, again.stdout);
}

/// Issue 11: the blast radius is the links and a count by default; `--blast full` adds the
/// list, with the same count, in the same schema.
#[test]
fn blast_radius_counts_by_default_and_lists_with_blast_full() {
    let service = |args: &[&str]| {
        let out = linkpatrol().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == "mysql-primary")
            .unwrap()["blast_radius"]
            .clone()
    };
    let count = service(&["analyze", "--format", "json"]);
    assert!(count.get("services").is_none(), "{count}");
    let full = service(&["analyze", "--format", "json", "--blast", "full"]);
    let listed = full["services"].as_array().unwrap();
    assert_eq!(full["service_count"], listed.len());
    assert_eq!(full["service_count"], count["service_count"]);
    assert_eq!(full["links"], count["links"]);
    assert!(listed.iter().any(|s| s == "order-service"), "{full}");
}

#[test]
fn what_if_that_takes_a_link_down_exits_1_and_bad_events_exit_2() {
    let out = linkpatrol()
        .args(["analyze", "--fail", "zone=az1", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["assumed_failed"][0], "zone=az1");
    let out = linkpatrol()
        .args(["analyze", "--fail", "zone=az9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `zone=az1`?"));
    let out = linkpatrol()
        .args(["analyze", "--link", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // --fail-on spof: the bundled topology has SPOFs
    let out = linkpatrol()
        .args(["analyze", "--fail-on", "spof"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn diff_gates_a_new_spof() {
    let dir = tempfile::tempdir().unwrap();
    let src =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/topology.yaml")).unwrap();
    // Take redis down to one instance: a new service SPOF.
    let worse = src.replace(
        "      - { address: \"127.0.0.1:18701\", zone: az2, host: cache-2 }\n      - { address: \"127.0.0.1:18702\", zone: az3, host: cache-3 }\n    min_healthy: 2",
        "    min_healthy: 1",
    );
    assert_ne!(src, worse, "the fixture edit must apply");
    let new = dir.path().join("new.yaml");
    std::fs::write(&new, worse).unwrap();
    let out = linkpatrol()
        .args(["diff", "topology.yaml"])
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("+ SPOF redis"), "{text}");
    // the reverse change removes it and passes
    let out = linkpatrol()
        .arg("diff")
        .arg(&new)
        .arg("topology.yaml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn render_writes_dot_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let out = linkpatrol()
        .args(["render", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(dir.path().join("graph.svg")).unwrap();
    assert!(
        svg.contains("mysql&#45;primary"),
        "the SPOF service is drawn"
    );
    assert!(
        svg.contains("domain SPOF zone=az1"),
        "domain SPOFs are in the caption"
    );
    assert!(svg.contains("#d50000"), "SPOFs are drawn in red");
    assert!(dir.path().join("graph.dot").exists());
    let out = linkpatrol()
        .args(["render", "--link", "nope", "-o"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn probe_reports_real_services_and_exits_1_when_a_link_is_down() {
    let out = linkpatrol()
        .args([
            "-f",
            "examples/topologies/local.yaml",
            "probe",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let state = |id: &str| {
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["observed"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(state("cache"), "up");
    assert_eq!(state("orders-db"), "up");
    assert_eq!(state("reporting-db"), "up");
    assert_eq!(state("api"), "down");
    assert_eq!(v["links"][0]["state"], "down");
    // the databases alone are healthy: exit 0
    let out = linkpatrol()
        .args([
            "-f",
            "examples/topologies/local.yaml",
            "probe",
            "cache",
            "orders-db",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // an unknown service is a usage error
    let out = linkpatrol()
        .args(["-f", "examples/topologies/local.yaml", "probe", "cahce"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `cache`?"));
}

//! The binary end to end: exit codes, where output goes, and what it says.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;
use predicates::prelude::*;

fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topology.yaml")
}

/// A fluent helper: a topology (bundled or inline), arguments, then expectations.
struct Run {
    cmd: Command,
    dir: tempfile::TempDir,
}

fn linkpatrol() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("linkpatrol").unwrap();
    cmd.current_dir(dir.path()).env_remove("NO_COLOR");
    Run { cmd, dir }
}

impl Run {
    /// Writes `yaml` as `t.yaml` in the working directory and selects it.
    fn topology(mut self, yaml: &str) -> Self {
        std::fs::write(self.dir.path().join("t.yaml"), yaml).unwrap();
        self.cmd.args(["-f", "t.yaml"]);
        self
    }

    fn bundled(mut self) -> Self {
        self.cmd.arg("-f").arg(bundled());
        self
    }

    fn args(mut self, args: &[&str]) -> Self {
        self.cmd.args(args);
        self
    }

    fn run(mut self) -> assert_cmd::assert::Assert {
        self.cmd.assert()
    }
}

const BAD: &str = "version: 1\nname: t\nlinks:\n  l: {entry: a}\nservices:\n  a:\n    ownr: x\n  b:\n    replicas: many\n";

#[test]
fn validate_bundled_prints_a_summary() {
    linkpatrol()
        .bundled()
        .args(&["validate"])
        .run()
        .code(0)
        .stdout(predicate::str::contains("`takeaway-isv` is valid"))
        .stdout(predicate::str::contains("services   14\n"))
        .stdout(predicate::str::contains("links      3\n"))
        .stdout(predicate::str::contains("instances  24\n"))
        .stdout(predicate::str::contains(
            "edges      16 (9 strong, 7 weak; 1 any_of group)\n",
        ))
        .stdout(predicate::str::contains(
            "probes     24 (amqp 3, http 12, mysql 2, prometheus 1, redis 3, tcp 1, tls 2)",
        ))
        .stdout(predicate::str::contains(
            "checks     mysql query 1, mysql replication 1, redis info 3\n",
        ))
        .stderr(predicate::str::is_empty());
}

#[test]
fn default_file_is_topology_yaml_in_the_working_directory() {
    let run = linkpatrol();
    std::fs::copy(bundled(), run.dir.path().join("topology.yaml")).unwrap();
    run.args(&["validate"])
        .run()
        .code(0)
        .stdout(predicate::str::starts_with(
            "topology.yaml: `takeaway-isv` is valid",
        ));
}

#[test]
fn invalid_file_exits_2_with_every_located_error_on_stderr() {
    linkpatrol()
        .topology(BAD)
        .args(&["validate", "--color", "never"])
        .run()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("unknown key `ownr`"))
        .stderr(predicate::str::contains("[t.yaml:7:5]"))
        .stderr(predicate::str::contains("did you mean `owner`?"))
        .stderr(predicate::str::contains("[t.yaml:9:15]"))
        .stderr(predicate::str::contains(
            "error: `t.yaml` is invalid: 2 errors",
        ))
        .stderr(predicate::str::contains("\u{1b}[").not());
}

#[test]
fn color_always_colours_diagnostics() {
    linkpatrol()
        .topology(BAD)
        .args(&["--color", "always", "validate"])
        .run()
        .code(2)
        .stderr(predicate::str::contains("\u{1b}["));
}

#[test]
fn semantic_errors_exit_2() {
    linkpatrol()
        .topology("version: 1\nname: t\nlinks:\n  l: {entry: a}\nservices:\n  a:\n    depends_on: {order-bd: strong}\n  order-db: {}\n")
        .args(&["validate"])
        .run()
        .code(2)
        .stderr(predicate::str::contains("unknown-service"))
        .stderr(predicate::str::contains("did you mean `order-db`?"));
}

#[test]
fn warnings_do_not_fail_and_quiet_hides_them() {
    let yaml = "version: 1\nname: t\nlinks:\n  l: {entry: a}\nservices:\n  a: {}\n  lonely: {}\n";
    linkpatrol()
        .topology(yaml)
        .args(&["validate"])
        .run()
        .code(0)
        .stderr(predicate::str::contains("unreachable-service"))
        .stdout(predicate::str::contains("warnings   1"));
    linkpatrol()
        .topology(yaml)
        .args(&["-q", "validate"])
        .run()
        .code(0)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::is_empty());
}

#[test]
fn missing_file_exits_2() {
    linkpatrol()
        .args(&["-f", "nope.yaml", "validate"])
        .run()
        .code(2)
        .stderr(predicate::str::contains("cannot read `nope.yaml`"));
}

#[test]
fn stdin_is_read_with_dash() {
    linkpatrol()
        .args(&["-f", "-", "validate"])
        .cmd_stdin(&std::fs::read_to_string(bundled()).unwrap())
        .run()
        .code(0)
        .stdout(predicate::str::starts_with(
            "<stdin>: `takeaway-isv` is valid",
        ));
}

impl Run {
    fn cmd_stdin(mut self, input: &str) -> Self {
        self.cmd.write_stdin(input.to_owned());
        self
    }
}

#[test]
fn usage_errors_exit_2_help_and_version_exit_0() {
    linkpatrol().args(&["frobnicate"]).run().code(2);
    linkpatrol().args(&["validate", "--bogus"]).run().code(2);
    linkpatrol()
        .args(&["--color", "sometimes", "validate"])
        .run()
        .code(2);
    linkpatrol().run().code(2);
    linkpatrol()
        .args(&["--help"])
        .run()
        .code(0)
        .stdout(predicate::str::contains("validate"))
        .stdout(predicate::str::contains("schema"))
        .stdout(predicate::str::contains("[default: topology.yaml]"));
    linkpatrol()
        .args(&["--version"])
        .run()
        .code(0)
        .stdout(predicate::str::starts_with("linkpatrol "));
}

#[test]
fn schema_prints_json_schema() {
    let out = linkpatrol()
        .args(&["schema"])
        .run()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(v["additionalProperties"], false);
    assert!(v["properties"]["services"].is_object());
}

#[test]
fn broken_pipe_is_quiet_success() {
    // Enough output (-v lists every service) to overflow a pipe buffer.
    let mut yaml = String::from("version: 1\nname: big\nlinks:\n  l: {entry: s0000}\nservices:\n");
    for i in 0..3000 {
        writeln!(yaml, "  s{i:04}: {{depends_on: {{s{:04}: strong}}}}", i + 1).unwrap();
    }
    yaml.push_str("  s3000: {}\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.yaml");
    std::fs::write(&file, yaml).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("linkpatrol"))
        .arg("-f")
        .arg(&file)
        .args(["validate", "-v"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(err.is_empty(), "stderr: {err}");
}

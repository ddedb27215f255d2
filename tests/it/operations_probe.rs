//! Operations' own probes (issue 14), end to end through the binary against loopback HTTP
//! servers: an operation's own probe decides that operation's observed state, the service's
//! probes decide the service's and every operation's (SPEC §1), and root causes name the
//! operation (`frontend (checkout)`) when only its own probe fails.

use std::io::{BufRead, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use assert_cmd::Command;
use serde_json::{Value, json};

/// Three HTTP listeners on 127.0.0.1, one per frontend replica (the other services answer on
/// the first). `GET /PATH` answers 200 unless `fails(path, replica)`, then 503. Each
/// connection is one request.
struct Fleet {
    ports: Vec<u16>,
}

type Fails = Arc<dyn Fn(&str, usize) -> bool + Send + Sync>;

impl Fleet {
    fn start(fails: impl Fn(&str, usize) -> bool + Send + Sync + 'static) -> Self {
        let fails: Fails = Arc::new(fails);
        let mut ports = Vec::new();
        for replica in 0..3 {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            ports.push(listener.local_addr().unwrap().port());
            let fails = Arc::clone(&fails);
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let fails = Arc::clone(&fails);
                    std::thread::spawn(move || answer(&stream, replica, &fails));
                }
            });
        }
        Self { ports }
    }

    /// The frontend has three replicas (two needed), a `home` and a `checkout` operation with
    /// a probe of its own each, and a `health` operation without one; the gateway calls only
    /// checkout. Links enter home, checkout, all of the frontend, and the gateway.
    fn topology(&self) -> String {
        let [a, b, c] = [self.ports[0], self.ports[1], self.ports[2]];
        let probe = |path: &str| format!("{{ http: {{ url: \"http://{{address}}/{path}\" }} }}");
        format!(
            "version: 1
name: ops-probe
defaults: {{ timeout: 2s, retries: 0, slow: 10s }}
links:
  browse: {{ entry: frontend, operation: home }}
  buy: {{ entry: frontend, operation: checkout }}
  everything: {{ entry: frontend }}
  orders: {{ entry: api-gateway }}
services:
  api-gateway:
    owner: edge-team
    probe: {gw}
    instances: [{{ address: \"127.0.0.1:{a}\" }}]
    depends_on:
      frontend: {{ strength: strong, operation: checkout }}
  frontend:
    owner: web-team
    probe: {fe}
    min_healthy: 2
    instances:
      - {{ name: fe-0, address: \"127.0.0.1:{a}\" }}
      - {{ name: fe-1, address: \"127.0.0.1:{b}\" }}
      - {{ name: fe-2, address: \"127.0.0.1:{c}\" }}
    depends_on: {{ currency: strong }}
    operations:
      home:
        probe: {home}
        depends_on: {{ catalogue: strong }}
      checkout:
        probe: {checkout}
        depends_on: {{ payment: strong }}
      health: {{}}
  currency:
    probe: {currency}
    instances: [{{ address: \"127.0.0.1:{a}\" }}]
  catalogue:
    probe: {catalogue}
    instances: [{{ address: \"127.0.0.1:{a}\" }}]
  payment:
    probe: {payment}
    instances: [{{ address: \"127.0.0.1:{a}\" }}]
",
            gw = probe("gateway"),
            fe = probe("healthz"),
            home = probe("home"),
            checkout = probe("checkout"),
            currency = probe("currency"),
            catalogue = probe("catalogue"),
            payment = probe("payment"),
        )
    }
}

fn answer(stream: &TcpStream, replica: usize, fails: &Fails) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    // Read the headers up to the blank line (bounded).
    for _ in 0..64 {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let status = if fails(&path, replica) {
        "503 Service Unavailable"
    } else {
        "200 OK"
    };
    let mut stream = stream;
    let _ = stream.write_all(
        format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").as_bytes(),
    );
}

/// `linkpatrol -f <file> probe [args]`: (exit code, stdout).
fn probe(fleet: &Fleet, args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("topology.yaml");
    std::fs::write(&file, fleet.topology()).unwrap();
    let out = Command::cargo_bin("linkpatrol")
        .unwrap()
        .env("NO_COLOR", "1")
        .arg("-f")
        .arg(&file)
        .arg("probe")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn json_report(fleet: &Fleet) -> Value {
    let (_, text) = probe(fleet, &["--format", "json"]);
    let end = text.rfind('}').map_or(text.len(), |i| i + 1);
    serde_json::from_str(&text[..end]).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn service<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no service {id}"))
}

fn operation<'a>(v: &'a Value, svc: &str, op: &str) -> &'a Value {
    service(v, svc)["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == op)
        .unwrap_or_else(|| panic!("no operation {svc} ({op})"))
}

fn link_state(v: &Value, name: &str) -> Value {
    v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no link {name}"))["state"]
        .clone()
}

#[test]
fn an_operation_only_probe_down_fails_that_operation_alone() {
    // Two of three replicas fail the checkout route (two needed); their health checks pass.
    let fleet = Fleet::start(|path, replica| path == "checkout" && replica < 2);
    let v = json_report(&fleet);
    // Only the links through checkout are down; the home page is up.
    assert_eq!(link_state(&v, "buy"), "down", "{v:#}");
    assert_eq!(
        link_state(&v, "everything"),
        "down",
        "all operations: checkout among them"
    );
    assert_eq!(
        link_state(&v, "orders"),
        "down",
        "the gateway calls checkout"
    );
    assert_eq!(link_state(&v, "browse"), "up", "{v:#}");
    let fe = service(&v, "frontend");
    assert_eq!(fe["observed"], "up", "the service's own probes pass");
    assert_eq!(fe["effective"], "up");
    let checkout = operation(&v, "frontend", "checkout");
    assert_eq!(checkout["id"], "frontend (checkout)");
    assert_eq!(checkout["observed"], "down");
    assert_eq!(checkout["effective"], "down");
    let probes = checkout["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 3, "one result per replica: {checkout:#}");
    assert_eq!(probes[0]["instance"], "fe-0");
    assert_eq!(probes[0]["state"], "down");
    assert!(
        probes[0]["reason"].as_str().unwrap().contains("503"),
        "{checkout:#}"
    );
    assert_eq!(probes[2]["state"], "up");
    assert!(checkout.get("because_of").is_none(), "it is the root cause");
    for op in ["home", "health"] {
        assert_eq!(operation(&v, "frontend", op)["effective"], "up", "{op}");
    }
    assert!(
        operation(&v, "frontend", "health").get("probes").is_none(),
        "no probe of its own"
    );
    // One root cause, the operation; not the whole service.
    let causes = v["root_causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{causes:#?}");
    let c = &causes[0];
    assert_eq!(c["id"], "frontend (checkout)");
    assert_eq!(c["kind"], "service");
    assert_eq!(c["operation"], "checkout");
    assert_eq!(c["members"], json!(["frontend"]));
    assert_eq!(c["state"], "down");
    assert_eq!(c["owner"], "web-team");
    assert_eq!(c["links"], json!(["buy", "everything", "orders"]));
    assert_eq!(c["services"], json!(["api-gateway"]));
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .starts_with("2 of 3 instances failing (1 alive, 2 needed): status 503"),
        "{c}"
    );
    assert_eq!(
        service(&v, "api-gateway")["because_of"],
        json!(["frontend (checkout)"])
    );
    assert!(fe.get("because_of").is_none());
    let buy = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "buy")
        .unwrap();
    assert_eq!(buy["entry"], "frontend");
    assert_eq!(buy["operation"], "checkout");
}

#[test]
fn a_service_probe_down_fails_every_operation() {
    // Two of three replicas fail the service's health check; every route still answers.
    let fleet = Fleet::start(|path, replica| path == "healthz" && replica < 2);
    let v = json_report(&fleet);
    for link in ["browse", "buy", "everything", "orders"] {
        assert_eq!(link_state(&v, link), "down", "{link}: {v:#}");
    }
    let fe = service(&v, "frontend");
    assert_eq!(fe["observed"], "down");
    assert_eq!(fe["effective"], "down");
    for op in ["home", "checkout", "health"] {
        let o = operation(&v, "frontend", op);
        assert_eq!(
            o["observed"], "down",
            "{op}: the service's probes decide it too"
        );
        assert_eq!(o["effective"], "down", "{op}");
        assert_eq!(o["because_of"], json!(["frontend"]), "{op}");
    }
    assert_eq!(
        operation(&v, "frontend", "home")["probes"][0]["state"],
        "up"
    );
    let causes = v["root_causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{causes:#?}");
    let c = &causes[0];
    assert_eq!(c["id"], "frontend");
    assert!(c.get("operation").is_none(), "{c}");
    assert!(
        c.get("operations").is_none(),
        "its operations fail with it: {c}"
    );
    assert_eq!(c["links"], json!(["browse", "buy", "everything", "orders"]));
    assert_eq!(c["services"], json!(["api-gateway"]));
}

#[test]
fn a_dependency_of_one_operation_fails_that_operation_as_a_consequence() {
    // The catalogue is down: home fails because of it, checkout does not.
    let fleet = Fleet::start(|path, _| path == "catalogue");
    let v = json_report(&fleet);
    assert_eq!(link_state(&v, "browse"), "down");
    assert_eq!(link_state(&v, "buy"), "up");
    assert_eq!(link_state(&v, "orders"), "up");
    let home = operation(&v, "frontend", "home");
    assert_eq!(home["observed"], "up", "its own probe passes");
    assert_eq!(home["effective"], "down");
    assert_eq!(home["because_of"], json!(["catalogue"]));
    let causes = v["root_causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "{causes:#?}");
    assert_eq!(causes[0]["id"], "catalogue");
    assert_eq!(
        causes[0]["services"],
        json!([]),
        "the frontend as a whole stays up"
    );
    assert_eq!(causes[0]["operations"], json!(["frontend (home)"]));
    assert_eq!(causes[0]["links"], json!(["browse", "everything"]));
}

#[test]
fn the_probe_table_shows_operation_probes_and_names_the_root_cause() {
    let fleet = Fleet::start(|path, replica| path == "checkout" && replica < 2);
    let (code, text) = probe(&fleet, &[]);
    assert_eq!(code, Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "root cause (1; 1 other service failing because of it)",
        "{text}"
    );
    assert!(
        lines[1]
            .starts_with("  ✗ frontend (checkout)  down  owner web-team  2 of 3 instances failing"),
        "{text}"
    );
    assert_eq!(
        lines[2], "      takes down links buy, everything, orders; service api-gateway",
        "{text}"
    );
    let row = |start: &str, contains: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(start) && l.contains(contains))
    };
    assert!(row("frontend (checkout)  fe-0", "down"), "{text}");
    assert!(row("frontend (checkout)  fe-0", "status 503"), "{text}");
    assert!(row("frontend (checkout)  fe-2", "up"), "{text}");
    assert!(row("frontend (home)", "fe-1"), "{text}");
    assert!(
        row("api-gateway", "down because of `frontend (checkout)`"),
        "{text}"
    );
    assert!(
        row("buy", "its entry `frontend (checkout)` is a root cause"),
        "{text}"
    );
    assert!(row("browse", "frontend (home)"), "{text}");
    assert!(
        row("orders", "down because of `frontend (checkout)`"),
        "{text}"
    );
    assert!(
        row("everything", "down because of `frontend (checkout)`"),
        "{text}"
    );
}

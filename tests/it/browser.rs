//! The HTML report in a real browser (issue 15): Chromium driven over WebDriver by ChromeDriver
//! (Debian's `chromium` and `chromium-driver`, installed by `scripts/test-env.sh`). The test
//! renders the bundled topology with `render --format html`, searches a service, clicks it, and
//! checks that its blast radius — as the analysis computed it — is what lights up; then clicks a
//! link card and checks that its critical path does.
//!
//! The WebDriver client is the few HTTP calls below (JSON over HTTP/1.1 on loopback, one
//! connection per call): a client crate would bring an async HTTP stack into the test build for
//! seven requests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// ChromeDriver, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (apt-get install chromium-driver)");
        let driver = Self { child, port };
        let started = Instant::now();
        loop {
            if let Ok(status) = driver.try_call("GET", "/status", None)
                && status["value"]["ready"] == json!(true)
            {
                return driver;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not get ready within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn try_call(&self, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<Value> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(90)))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        // ChromeDriver keeps the connection open: read the head, then Content-Length bytes.
        let mut response = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(std::io::Error::other("connection closed before the body"));
            }
            response.extend_from_slice(&buf[..n]);
            if let Some(at) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8_lossy(&response[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other("no Content-Length"))?;
        while response.len() < head_end + length {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buf[..n]);
        }
        let json_body = String::from_utf8_lossy(&response[head_end..]);
        serde_json::from_str(&json_body).map_err(std::io::Error::other)
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let value = self
            .try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(
            value["value"].get("error").is_none(),
            "{method} {path}: {value}"
        );
        value["value"].clone()
    }
}

/// One browser session.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.id)
    }

    fn script(&self, script: &str) -> Value {
        self.driver.call(
            "POST",
            &self.path("/execute/sync"),
            Some(&json!({ "script": script, "args": [] })),
        )
    }

    fn element(&self, using: &str, value: &str) -> String {
        let found = self.driver.call(
            "POST",
            &self.path("/element"),
            Some(&json!({ "using": using, "value": value })),
        );
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {value}: {found}"))
            .to_owned()
    }

    fn click(&self, element: &str) {
        self.driver.call(
            "POST",
            &self.path(&format!("/element/{element}/click")),
            Some(&json!({})),
        );
    }

    fn type_into(&self, element: &str, text: &str) {
        self.driver.call(
            "POST",
            &self.path(&format!("/element/{element}/value")),
            Some(&json!({ "text": text })),
        );
    }

    /// The titles of the overview's nodes that carry `class`, sorted.
    fn lit(&self, class: &str) -> Vec<String> {
        let v = self.script(&format!(
            "return [].map.call(document.querySelectorAll('figure.overview g.node.{class}'), \
             function (g) {{ return g.querySelector('title').textContent; }}).sort();"
        ));
        serde_json::from_value(v).unwrap()
    }
}

#[test]
fn search_click_and_blast_radius_in_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_linkpatrol"))
        .arg("-f")
        .arg(root.join("topology.yaml"))
        .args(["render", "--format", "html", "-q", "-o"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let page = out.path().join("report.html");

    // What the analysis says mysql-primary takes down, and order-acceptance's critical path.
    let topo = linkpatrol::topology::load::load_file(&root.join("topology.yaml")).unwrap();
    let analysis = linkpatrol::analysis::analyze(
        &topo,
        &linkpatrol::analysis::Options {
            blast_radius: linkpatrol::analysis::BlastDetail::Full,
            ..linkpatrol::analysis::Options::default()
        },
    )
    .unwrap();
    let report = linkpatrol::report::build::build(&topo, &analysis, None);
    let victim = "mysql-primary";
    let radius = &report
        .services
        .iter()
        .find(|s| s.id == victim)
        .unwrap()
        .blast_radius;
    let mut expected: Vec<String> = radius.services.clone().unwrap();
    expected.extend(radius.links.iter().map(|l| format!("link:{l}")));
    expected.sort();
    assert!(!radius.links.is_empty() && !expected.is_empty());

    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let created = driver.call(
        "POST",
        "/session",
        Some(&json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1600",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}})),
    );
    let session = Session {
        driver: &driver,
        id: created["sessionId"].as_str().unwrap().to_owned(),
    };
    driver.call(
        "POST",
        &session.path("/url"),
        Some(&json!({ "url": format!("file://{}", page.display()) })),
    );
    assert_eq!(
        session.script("return document.documentElement.dataset.rendered;"),
        json!("ok")
    );

    // Search: part of the name, then Enter.
    let search = session.element("css selector", "#lp-search");
    session.type_into(&search, "mysql-pri\u{E007}");
    assert_eq!(
        session.script("return document.documentElement.dataset.selected;"),
        json!(victim)
    );
    // Reset, then click the node itself in the graph.
    session.click(&session.element("css selector", "#lp-reset"));
    assert!(session.lit("lp-blast").is_empty());
    let node = session.element(
        "xpath",
        &format!(
            "//figure[contains(@class,'overview')]//*[local-name()='g' and contains(@class,'node')][*[local-name()='title' and text()='{victim}']]"
        ),
    );
    session.click(&node);
    assert_eq!(
        session.script("return document.documentElement.dataset.selected;"),
        json!(victim)
    );
    assert_eq!(session.lit("lp-hit"), [victim]);
    assert_eq!(
        session.lit("lp-blast"),
        expected,
        "the blast radius lights up"
    );
    let info = session.script("return document.getElementById('lp-info').textContent;");
    assert!(
        info.as_str()
            .unwrap()
            .contains("takes down links order-acceptance"),
        "{info}"
    );
    // Everything else is dimmed, nothing outside the radius and the paths is lit.
    let dimmed = session.lit("lp-dim");
    assert!(dimmed.contains(&"sms-provider-a".to_owned()), "{dimmed:?}");

    // A link card: its critical path lights up.
    let link = report
        .links
        .iter()
        .find(|l| l.name == "order-acceptance")
        .unwrap();
    session.click(&session.element("css selector", ".link[data-link='order-acceptance']"));
    let mut path = session.lit("lp-path");
    path.sort();
    let mut critical = link.critical_path.clone();
    critical.sort();
    assert_eq!(path, critical);
    assert_eq!(session.lit("lp-hit"), ["link:order-acceptance"]);
    let console = session.script("return window.__lpErrors || [];");
    assert_eq!(console, json!([]));
    driver.call("DELETE", &session.path(""), None);
}

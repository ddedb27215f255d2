//! Probe engine against real servers: tiny HTTP/TLS/TCP servers started by these tests on
//! loopback, and the machine's own Redis, PostgreSQL and MariaDB (prepared by
//! `scripts/setup-test-services.sh`; a missing service fails these tests, never skips them).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use linkpatrol::probe::client::Clients;
use linkpatrol::probe::{ProbeOutcome, RunOptions, Selection, probe_instance, run};
use linkpatrol::state::State;
use linkpatrol::topology::model::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

// ------------------------------------------------------------------------------------------------
// Model builders

fn probe(check: Check) -> Probe {
    Probe {
        check,
        timeout: Duration::from_secs(2),
        retries: 0,
        slow: Duration::from_secs(1),
    }
}

fn http(url: &str) -> HttpCheck {
    HttpCheck {
        url: Text::plain(url),
        method: "GET".to_owned(),
        headers: Vec::new(),
        body: None,
        expect: HttpExpect::default(),
        max_redirects: 5,
        tls_verify: true,
        ca_file: None,
        cert_min_days: 14,
        slow_phases: Vec::new(),
    }
}

async fn check_once(p: &Probe) -> ProbeOutcome {
    let clients = Clients::for_checks([&p.check]);
    probe_instance(&clients, p).await
}

async fn http_once(check: HttpCheck) -> ProbeOutcome {
    check_once(&probe(Check::Http(check))).await
}

fn reason(o: &ProbeOutcome) -> &str {
    o.reason.as_deref().unwrap_or("")
}

// ------------------------------------------------------------------------------------------------
// Tiny servers

#[derive(Clone)]
enum Reply {
    Status(u16, String),
    WithHeaders(u16, Vec<(&'static str, &'static str)>, String),
    Delay(Duration, Box<Reply>),
    Hang,
    Endless,
    Redirect(String),
}

fn ok(body: &str) -> Reply {
    Reply::Status(200, body.to_owned())
}

type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, handler: Handler) {
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&req).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut reply = handler(&path);
    loop {
        match reply {
            Reply::Delay(d, next) => {
                tokio::time::sleep(d).await;
                reply = *next;
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Reply::Endless => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                let chunk = vec![b'x'; 64 * 1024];
                let frame = [
                    format!("{:x}\r\n", chunk.len()).into_bytes(),
                    chunk,
                    b"\r\n".to_vec(),
                ]
                .concat();
                // Bounded: at most 1 GiB, far beyond the probe's cap; stops when the probe hangs up.
                for _ in 0..16_384 {
                    if stream.write_all(&frame).await.is_err() {
                        return;
                    }
                }
                return;
            }
            Reply::Redirect(to) => {
                let resp = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(resp.as_bytes()).await;
                let _ = stream.shutdown().await;
                return;
            }
            Reply::Status(code, body) => {
                reply = Reply::WithHeaders(code, Vec::new(), body);
            }
            Reply::WithHeaders(code, headers, body) => {
                let mut resp = format!(
                    "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    let _ = write!(resp, "{k}: {v}\r\n");
                }
                resp.push_str("\r\n");
                resp.push_str(&body);
                let _ = stream.write_all(resp.as_bytes()).await;
                let _ = stream.shutdown().await;
                return;
            }
        }
    }
}

async fn serve(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler: Handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream, Arc::clone(&handler)));
        }
    });
    addr
}

/// A port with nothing listening (bound, then released).
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

// ------------------------------------------------------------------------------------------------
// TLS material (rcgen) and a TLS server

struct Pki {
    ca_pem: String,
    leaf_der: Vec<u8>,
    leaf_key_der: Vec<u8>,
}

/// Days since 1970-01-01 → (year, month, day), civil calendar.
fn civil(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    ((y + i64::from(m <= 2)) as i32, m as u8, d as u8)
}

fn ymd_in_days(offset: i64) -> (i32, u8, u8) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let today = i64::try_from(secs / 86_400).unwrap();
    civil(today + offset)
}

macro_rules! date_in_days {
    ($offset:expr) => {{
        let (y, m, d) = ymd_in_days($offset);
        rcgen::date_time_ymd(y, m, d)
    }};
}

/// A CA and a leaf for 127.0.0.1 and `localhost` signed by it, valid from `from` to `to` days
/// relative to today.
fn pki(from: i64, to: i64) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "linkpatrol test CA");
    ca_params.not_before = date_in_days!(-3650);
    ca_params.not_after = date_in_days!(3650);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    params.not_before = date_in_days!(from);
    params.not_after = date_in_days!(to);
    let leaf = params.signed_by(&leaf_key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        leaf_der: leaf.der().to_vec(),
        leaf_key_der: leaf_key.serialize_der(),
    }
}

async fn serve_tls(
    pki: &Pki,
    handler: impl Fn(&str) -> Reply + Send + Sync + 'static,
) -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(pki.leaf_der.clone())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key_der.clone())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler: Handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    handle(tls, handler).await;
                }
            });
        }
    });
    addr
}

fn write_temp(content: &str) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content.as_bytes()).unwrap();
    f
}

// ------------------------------------------------------------------------------------------------
// HTTP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_healthy_is_up_with_latency() {
    let addr = serve(|_| {
        Reply::WithHeaders(
            200,
            vec![("x-app", "orders")],
            r#"{"data":"ok","n":3}"#.to_owned(),
        )
    })
    .await;
    let mut c = http(&format!("http://{addr}/callback/ping"));
    c.expect.status = vec![200];
    c.expect.body_contains = Some(Text::plain("ok"));
    c.expect.body_regex = Some(r#""n":\d+"#.to_owned());
    c.expect.json = vec![("$.data".to_owned(), serde_json::json!("ok"))];
    c.expect.headers = vec![("x-app".to_owned(), Text::plain("orders"))];
    let o = http_once(c).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    assert!(o.latency.is_some());
    assert_eq!(o.reason, None);
    assert_eq!(o.attempts, 1);
    assert!(o.ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_expectation_failures_are_table_driven() {
    let addr = serve(|path| match path {
        "/503" => Reply::Status(503, "maintenance".to_owned()),
        "/json" => ok(r#"{"data":"fail"}"#),
        "/html" => ok("<html>nope</html>"),
        _ => Reply::WithHeaders(200, vec![("x-app", "billing")], "fine".to_owned()),
    })
    .await;
    let base = format!("http://{addr}");
    let mut status = http(&format!("{base}/503"));
    status.expect.status = vec![200];
    let any2xx = http(&format!("{base}/503"));
    let mut json = http(&format!("{base}/json"));
    json.expect.json = vec![("$.data".to_owned(), serde_json::json!("ok"))];
    let mut missing = http(&format!("{base}/json"));
    missing.expect.json = vec![("$.state".to_owned(), serde_json::json!("ok"))];
    let mut not_json = http(&format!("{base}/html"));
    not_json.expect.json = vec![("$.data".to_owned(), serde_json::json!("ok"))];
    let mut body = http(&format!("{base}/html"));
    body.expect.body_contains = Some(Text::plain("ok"));
    let mut regex = http(&format!("{base}/html"));
    regex.expect.body_regex = Some("^OK$".to_owned());
    let mut header = http(&format!("{base}/"));
    header.expect.headers = vec![("x-app".to_owned(), Text::plain("orders"))];
    let cases = [
        (status, "status 503, expected 200: `maintenance`"),
        (any2xx, "status 503, expected 2xx: `maintenance`"),
        (json, r#"`$.data` is `"fail"`, expected `"ok"`"#),
        (missing, r#"`$.state` not found, expected `"ok"`"#),
        (not_json, "body is not JSON"),
        (body, "body does not contain `ok`"),
        (regex, "body does not match `^OK$`"),
        (header, "header `x-app` is `billing`, expected `orders`"),
    ];
    for (check, want) in cases {
        let url = check.url.to_string();
        let o = http_once(check).await;
        assert_eq!(o.state, State::Down, "{url}: {o:?}");
        assert!(
            reason(&o).starts_with(want),
            "{url}: reason {:?}, want {want:?}",
            o.reason
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_post_with_headers_and_body_is_sent() {
    // The server answers 200 only when it sees the method, header and body it expects.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !String::from_utf8_lossy(&req).contains(r#"{"ping":1}"#) {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req).to_lowercase();
                let good = text.starts_with("post /cb") && text.contains("x-token: t0k3n");
                let code = if good { 200 } else { 400 };
                let _ = s
                    .write_all(
                        format!(
                            "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    let mut c = http(&format!("http://{addr}/cb"));
    c.method = "POST".to_owned();
    c.headers = vec![(
        "x-token".to_owned(),
        Text::interpolated("${TOKEN}", "t0k3n"),
    )];
    c.body = Some(Text::plain(r#"{"ping":1}"#));
    let o = http_once(c).await;
    assert_eq!(o.state, State::Up, "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_slow_answer_is_degraded() {
    let addr = serve(|_| Reply::Delay(Duration::from_millis(300), Box::new(ok("ok")))).await;
    let mut p = probe(Check::Http(http(&format!("http://{addr}/"))));
    p.slow = Duration::from_millis(100);
    let o = check_once(&p).await;
    assert_eq!(o.state, State::Degraded, "{o:?}");
    assert!(o.slow && o.ok());
    assert!(reason(&o).starts_with("slow: answered in "), "{o:?}");
    assert!(reason(&o).ends_with(", threshold 100ms"), "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_connection_refused() {
    let addr = closed_port().await;
    let o = http_once(http(&format!("http://{addr}/"))).await;
    assert_eq!(o.state, State::Down);
    assert_eq!(reason(&o), "connection refused");
    let t = check_once(&probe(Check::Tcp(TcpCheck {
        address: Text::plain(addr.to_string()),
        send: None,
        expect: None,
    })))
    .await;
    assert_eq!(t.state, State::Down);
    assert_eq!(
        reason(&t),
        format!("cannot connect to `{addr}`: connection refused")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_times_out_within_the_timeout_on_every_attempt() {
    let addr = serve(|_| Reply::Hang).await;
    let mut p = probe(Check::Http(http(&format!("http://{addr}/"))));
    p.timeout = Duration::from_millis(400);
    p.retries = 1;
    let start = Instant::now();
    let o = check_once(&p).await;
    let elapsed = start.elapsed();
    assert_eq!(o.state, State::Down);
    assert_eq!(reason(&o), "timed out after 400ms");
    assert_eq!(o.attempts, 2);
    // Correctness of the timeout, not a speed target: 2 attempts × 400 ms, plus a margin.
    assert!(
        elapsed < Duration::from_millis(800 + 600),
        "took {elapsed:?}"
    );
    assert!(elapsed >= Duration::from_millis(800), "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_body_is_read_up_to_the_cap_only() {
    let addr = serve(|_| Reply::Endless).await;
    let plain = http(&format!("http://{addr}/"));
    let o = http_once(plain).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let mut needle = http(&format!("http://{addr}/"));
    needle.expect.body_contains = Some(Text::plain("never"));
    let o = http_once(needle).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert_eq!(
        reason(&o),
        "body does not contain `never` (in the first 1 MiB)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_capped_and_loops_caught() {
    let addr = serve(|path| match path {
        "/a" => Reply::Redirect("/b".to_owned()),
        "/b" => Reply::Redirect("/a".to_owned()),
        "/final" => ok("ok"),
        p if p.starts_with("/chain/") => {
            let n: u32 = p["/chain/".len()..].parse().unwrap();
            if n == 0 {
                Reply::Redirect("/final".to_owned())
            } else {
                Reply::Redirect(format!("/chain/{}", n - 1))
            }
        }
        _ => Reply::Status(404, String::new()),
    })
    .await;
    let o = http_once(http(&format!("http://{addr}/chain/2"))).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let o = http_once(http(&format!("http://{addr}/a"))).await;
    assert_eq!(o.state, State::Down);
    assert_eq!(
        reason(&o),
        format!("redirect loop: `http://{addr}/b` redirects back to `http://{addr}/a`")
    );
    let mut capped = http(&format!("http://{addr}/chain/5"));
    capped.max_redirects = 2;
    let o = http_once(capped).await;
    assert_eq!(
        reason(&o),
        format!("too many redirects (more than 2), next `http://{addr}/chain/2`")
    );
    let mut none = http(&format!("http://{addr}/a"));
    none.max_redirects = 0;
    let o = http_once(none).await;
    assert_eq!(reason(&o), "status 302, expected 2xx");
}

// ------------------------------------------------------------------------------------------------
// HTTP phases (issue 13)

fn phases(o: &ProbeOutcome) -> linkpatrol::probe::HttpPhases {
    o.phases.unwrap_or_else(|| panic!("no phases: {o:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_phases_are_timed_and_first_byte_waits_for_the_headers() {
    let addr = serve(|_| Reply::Delay(Duration::from_millis(250), Box::new(ok("ok")))).await;
    let o = http_once(http(&format!("http://{addr}/"))).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let p = phases(&o);
    // An IP address is not looked up; plain HTTP has no handshake.
    assert_eq!(p.dns, Duration::ZERO, "{p:?}");
    assert_eq!(p.tls, Duration::ZERO, "{p:?}");
    assert!(p.connect > Duration::ZERO, "{p:?}");
    assert!(p.first_byte >= Duration::from_millis(250), "{p:?}");
    let sum = p.dns + p.connect + p.tls + p.first_byte + p.transfer;
    assert!(sum <= o.latency.unwrap(), "{p:?} against {o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_phases_dns_for_a_name_and_tls_only_for_https() {
    // `localhost` is looked up (and may be `::1` first here, with the server on 127.0.0.1).
    let addr = serve(|_| ok("ok")).await;
    let o = http_once(http(&format!("http://localhost:{}/", addr.port()))).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let p = phases(&o);
    assert!(p.dns > Duration::ZERO, "{p:?}");
    assert_eq!(p.tls, Duration::ZERO, "{p:?}");

    let pki = pki(-1, 365);
    let addr = serve_tls(&pki, |_| ok("ok")).await;
    let ca = write_temp(&pki.ca_pem);
    let mut c = http(&format!("https://localhost:{}/", addr.port()));
    c.ca_file = Some(Text::plain(ca.path().display().to_string()));
    let o = http_once(c).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let p = phases(&o);
    assert!(p.tls > Duration::ZERO, "{p:?}");
    assert!(p.dns > Duration::ZERO, "{p:?}");
    // A failed handshake is timed too, and the answer says why.
    let o = http_once(http(&format!("https://{addr}/"))).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert!(phases(&o).tls > Duration::ZERO, "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_phases_add_up_over_redirects() {
    let addr = serve(|path| match path {
        "/final" => Reply::Delay(Duration::from_millis(120), Box::new(ok("ok"))),
        _ => Reply::Delay(
            Duration::from_millis(120),
            Box::new(Reply::Redirect("/final".to_owned())),
        ),
    })
    .await;
    let o = http_once(http(&format!("http://{addr}/start"))).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    assert!(phases(&o).first_byte >= Duration::from_millis(240), "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_slow_phase_is_degraded_with_a_reason_naming_it() {
    let addr = serve(|_| Reply::Delay(Duration::from_millis(250), Box::new(ok("ok")))).await;
    let mut c = http(&format!("http://{addr}/"));
    c.slow_phases = vec![(HttpPhase::FirstByte, Duration::from_millis(150))];
    let p = probe(Check::Http(c.clone()));
    let o = check_once(&p).await;
    assert_eq!(o.state, State::Degraded, "{o:?}");
    assert!(o.slow && o.ok(), "{o:?}");
    assert!(reason(&o).starts_with("slow: first byte after "), "{o:?}");
    assert!(reason(&o).ends_with(", threshold 150ms"), "{o:?}");
    // A phase under its threshold leaves the answer up.
    c.slow_phases = vec![
        (HttpPhase::Connect, Duration::from_millis(500)),
        (HttpPhase::Transfer, Duration::from_millis(500)),
    ];
    let o = check_once(&probe(Check::Http(c))).await;
    assert_eq!(o.state, State::Up, "{o:?}");
}

/// The command's path from a topology file: `slow: { first_byte: … }` is read, the JSON report
/// carries the phases, and the metrics have one `linkpatrol_probe_phase_seconds` series per
/// phase.
#[test]
fn http_phases_reach_the_json_report_and_the_metrics() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let slow = rt.block_on(serve(|_| {
        Reply::Delay(Duration::from_millis(200), Box::new(ok("ok")))
    }));
    let yaml = format!(
        "version: 1\nname: phases\nlinks: {{l: {{entry: web}}}}\nservices:\n  web:\n    probe:\n      http: {{url: \"http://{slow}/\"}}\n      slow: {{first_byte: 100ms, total: 5s}}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("topology.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let out = assert_cmd::Command::cargo_bin("linkpatrol")
        .unwrap()
        .arg("-f")
        .arg(&file)
        .args(["probe", "--format", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let probe = &doc["services"][0]["probes"][0];
    assert_eq!(probe["state"], "degraded", "{probe}");
    assert_eq!(probe["ok"], true, "{probe}");
    let reason = probe["reason"].as_str().unwrap();
    assert!(reason.starts_with("slow: first byte after "), "{reason}");
    assert!(reason.ends_with(", threshold 100ms"), "{reason}");
    let phases = &probe["phases"];
    for key in [
        "dns_ms",
        "connect_ms",
        "tls_ms",
        "first_byte_ms",
        "transfer_ms",
    ] {
        assert!(phases[key].is_number(), "{key} in {probe}");
    }
    assert!(
        phases["first_byte_ms"].as_f64().unwrap() >= 200.0,
        "{probe}"
    );
    assert_eq!(phases["tls_ms"], 0.0, "{probe}");

    let topo = linkpatrol::topology::load::load_str(&yaml, "topology.yaml").unwrap();
    let selected = linkpatrol::probe::Selection::default()
        .resolve(&topo)
        .unwrap();
    let options = linkpatrol::probe::RunOptions::from_defaults(&topo.defaults);
    let run = linkpatrol::probe::run_blocking(&topo, &selected, &options, &mut |_, _| {}).unwrap();
    let report =
        linkpatrol::report::probed::from_outcomes(&topo, &run.instances, &run.operations).unwrap();
    let metrics = linkpatrol::report::prometheus::render_metrics(&report);
    assert!(
        metrics.contains("# TYPE linkpatrol_probe_phase_seconds gauge"),
        "{metrics}"
    );
    for phase in ["resolve", "connect", "tls", "processing", "transfer"] {
        let series = format!(
            "linkpatrol_probe_phase_seconds{{topology=\"phases\",service=\"web\",instance=\"0\",phase=\"{phase}\"}} "
        );
        assert!(metrics.contains(&series), "{series} missing in\n{metrics}");
    }
    let processing = metrics
        .lines()
        .find(|l| l.contains("phase=\"processing\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap();
    assert!(processing >= 0.2, "{metrics}");
    drop(rt);
}

// ------------------------------------------------------------------------------------------------
// TLS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_tls_fails_by_default_and_passes_with_opt_out_or_ca_file() {
    let pki = pki(-1, 365);
    let addr = serve_tls(&pki, |_| ok("ok")).await;
    let url = format!("https://{addr}/");
    let o = http_once(http(&url)).await;
    assert_eq!(o.state, State::Down);
    assert!(
        reason(&o).starts_with("certificate not trusted: unknown issuer"),
        "{o:?}"
    );

    let mut insecure = http(&url);
    insecure.tls_verify = false;
    let o = http_once(insecure).await;
    assert_eq!(o.state, State::Up, "{o:?}");

    let ca = write_temp(&pki.ca_pem);
    let mut with_ca = http(&url);
    with_ca.ca_file = Some(Text::plain(ca.path().display().to_string()));
    let o = http_once(with_ca).await;
    assert_eq!(o.state, State::Up, "{o:?}");

    let mut bad_ca = http(&url);
    bad_ca.ca_file = Some(Text::plain("/nonexistent/ca.pem"));
    let o = http_once(bad_ca).await;
    assert_eq!(o.state, State::Unknown);
    assert!(
        reason(&o).starts_with("cannot read ca_file `/nonexistent/ca.pem`"),
        "{o:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_expiring_certificates() {
    let expired = pki(-400, -30);
    let addr = serve_tls(&expired, |_| ok("ok")).await;
    let ca = write_temp(&expired.ca_pem);
    let mut verified = http(&format!("https://{addr}/"));
    verified.ca_file = Some(Text::plain(ca.path().display().to_string()));
    let o = http_once(verified).await;
    assert_eq!(o.state, State::Down);
    assert!(reason(&o).starts_with("certificate expired"), "{o:?}");
    let mut unverified = http(&format!("https://{addr}/"));
    unverified.tls_verify = false;
    let o = http_once(unverified).await;
    assert_eq!(o.state, State::Down);
    assert_eq!(reason(&o), "certificate expired 30 days ago");

    let soon = pki(-10, 4);
    let addr = serve_tls(&soon, |_| ok("ok")).await;
    let ca = write_temp(&soon.ca_pem);
    let mut h = http(&format!("https://{addr}/"));
    h.ca_file = Some(Text::plain(ca.path().display().to_string()));
    let o = http_once(h).await;
    assert_eq!(o.state, State::Degraded, "{o:?}");
    assert_eq!(reason(&o), "certificate expires in 3 days");
    assert!(!o.ok());

    let tls = |san: Option<&str>, min_days| {
        probe(Check::Tls(TlsCheck {
            address: Text::plain(addr.to_string()),
            server_name: None,
            san: san.map(Text::plain),
            min_days,
            verify: true,
            ca_file: Some(Text::plain(ca.path().display().to_string())),
        }))
    };
    let o = check_once(&tls(Some("localhost"), 14)).await;
    assert_eq!(
        (o.state, reason(&o)),
        (State::Degraded, "certificate expires in 3 days")
    );
    let o = check_once(&tls(Some("localhost"), 2)).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let o = check_once(&tls(Some("orders.example.com"), 2)).await;
    assert_eq!(o.state, State::Down);
    assert_eq!(
        reason(&o),
        "certificate does not cover `orders.example.com` (it covers `127.0.0.1`, `localhost`)"
    );
    let o = check_once(&tls(None, 2)).await;
    assert_eq!(o.state, State::Up);
    // A plain-TCP server is not a TLS server.
    let plain = serve(|_| ok("ok")).await;
    let mut p = tls(None, 2);
    if let Check::Tls(t) = &mut p.check {
        t.address = Text::plain(plain.to_string());
    }
    let o = check_once(&p).await;
    assert_eq!(o.state, State::Down, "{o:?}");
}

// ------------------------------------------------------------------------------------------------
// Secrets

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_a_reason() {
    let addr = serve(|path| match path {
        "/a" => Reply::Redirect("/b".to_owned()),
        "/b" => Reply::Redirect("/a".to_owned()),
        _ => Reply::Status(503, "hunter2 is not welcome".to_owned()),
    })
    .await;
    for path in ["/a", "/x"] {
        let written = format!("http://probe:${{PW}}@{addr}{path}");
        let resolved = format!("http://probe:hunter2@{addr}{path}");
        let mut c = http(&resolved);
        c.url = Text::interpolated(written, resolved);
        let o = http_once(c).await;
        assert_eq!(o.state, State::Down);
        assert!(!reason(&o).contains("hunter2"), "{o:?}");
    }
    let pw = "s3cret-pw";
    let dsn = Text::interpolated(
        "postgres://linkpatrol_pw:${PGPW}@127.0.0.1:5432/test",
        format!("postgres://linkpatrol_pw:{pw}@127.0.0.1:5432/test"),
    );
    let o = check_once(&probe(Check::Postgres(DbCheck::connect(dsn)))).await;
    assert_eq!(o.state, State::Down);
    assert!(!reason(&o).contains(pw), "{o:?}");
    let exec = ExecCheck {
        command: vec![
            Text::plain("/bin/sh"),
            Text::plain("-c"),
            Text::plain("echo \"CRITICAL - token $1 rejected\"; exit 2"),
            Text::plain("sh"),
            Text::interpolated("${TOKEN}", "tok-999"),
        ],
    };
    let o = check_once(&probe(Check::Exec(exec))).await;
    assert_eq!(o.state, State::Down);
    assert_eq!(reason(&o), "CRITICAL - token ${TOKEN} rejected");
}

// ------------------------------------------------------------------------------------------------
// TCP, exec, prometheus, dns

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_send_expect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                if let Ok(n) = s.read(&mut buf).await {
                    let reply: &[u8] = if &buf[..n] == b"PING\r\n" {
                        b"+PONG\r\n"
                    } else {
                        b"-ERR\r\n"
                    };
                    let _ = s.write_all(reply).await;
                }
            });
        }
    });
    let tcp = |send: &str, expect: &str| {
        probe(Check::Tcp(TcpCheck {
            address: Text::plain(addr.to_string()),
            send: Some(Text::plain(send)),
            expect: Some(Text::plain(expect)),
        }))
    };
    assert_eq!(check_once(&tcp("PING\r\n", "+PONG")).await.state, State::Up);
    let o = check_once(&tcp("HELLO\r\n", "+PONG")).await;
    assert_eq!(o.state, State::Down);
    assert_eq!(reason(&o), "reply does not contain `+PONG`: got `-ERR`");
}

fn exec(args: &[&str]) -> Probe {
    probe(Check::Exec(ExecCheck {
        command: args.iter().map(|a| Text::plain(*a)).collect(),
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_exit_codes_follow_nagios() {
    let cases = [
        ("echo 'OK - fine|t=1'; exit 0", State::Up, None),
        (
            "echo 'WARNING - disk 85% |used=85'; exit 1",
            State::Degraded,
            Some("WARNING - disk 85%"),
        ),
        (
            "echo 'CRITICAL - gone'; exit 2",
            State::Down,
            Some("CRITICAL - gone"),
        ),
        (
            "echo 'UNKNOWN - no idea'; exit 3",
            State::Unknown,
            Some("UNKNOWN - no idea"),
        ),
        (
            "echo oops >&2; exit 7",
            State::Unknown,
            Some("exit status 7: oops"),
        ),
        ("exit 2", State::Down, Some("exit status 2 (critical)")),
        (
            "kill -9 $$",
            State::Unknown,
            Some("`/bin/sh` was killed by signal 9"),
        ),
    ];
    for (script, state, want) in cases {
        let o = check_once(&exec(&["/bin/sh", "-c", script])).await;
        assert_eq!(o.state, state, "{script}: {o:?}");
        assert_eq!(o.reason.as_deref(), want, "{script}");
    }
    let o = check_once(&exec(&["/nonexistent/check_thing"])).await;
    assert_eq!(o.state, State::Unknown);
    assert_eq!(
        reason(&o),
        "cannot run `/nonexistent/check_thing`: not found"
    );
    // The timeout holds: the child is killed, not waited for.
    let mut p = exec(&["/bin/sleep", "10"]);
    p.timeout = Duration::from_millis(300);
    let start = Instant::now();
    let o = check_once(&p).await;
    assert_eq!(reason(&o), "timed out after 300ms");
    assert!(
        start.elapsed() < Duration::from_millis(300 + 600),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_a_real_nagios_plugin() {
    let plugin = "/usr/lib/nagios/plugins/check_tcp";
    assert!(
        std::path::Path::new(plugin).exists(),
        "{plugin} missing: run scripts/setup-test-services.sh (installs monitoring-plugins-basic)"
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    let o = check_once(&exec(&[plugin, "-H", "127.0.0.1", "-p", &port])).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let closed = closed_port().await.port().to_string();
    let o = check_once(&exec(&[plugin, "-H", "127.0.0.1", "-p", &closed])).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert!(reason(&o).contains("Connection refused"), "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_query_api() {
    let addr = serve(|path| {
        let vector = |v: &str| format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"job":"api"}},"value":[1700000000.1,"{v}"]}}]}}}}"#);
        if !path.starts_with("/api/v1/query?query=") {
            Reply::Status(404, "not found".to_owned())
        } else if path.contains("error_rate") {
            ok(&vector("0.002"))
        } else if path.contains("p99") {
            ok(&vector("0.75"))
        } else if path.contains("absent") {
            ok(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
        } else {
            Reply::Status(400, r#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#.to_owned())
        }
    })
    .await;
    let prom = |query: &str, op, threshold| {
        probe(Check::Prometheus(PrometheusCheck {
            url: Text::plain(format!("http://{addr}/")),
            query: Text::plain(query),
            op,
            threshold,
        }))
    };
    let o = check_once(&prom("sum(rate(error_rate[5m]))", CompareOp::Lt, 0.01)).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let o = check_once(&prom("histogram_quantile(0.99, p99)", CompareOp::Lt, 0.5)).await;
    assert_eq!(o.state, State::Down);
    assert_eq!(
        reason(&o),
        "query `histogram_quantile(0.99, p99)` {job=\"api\"} is 0.75, expected < 0.5"
    );
    let o = check_once(&prom("absent_metric", CompareOp::Lt, 1.0)).await;
    assert_eq!(
        (o.state, reason(&o)),
        (State::Unknown, "query `absent_metric` returned no data")
    );
    let o = check_once(&prom("1 +* 2", CompareOp::Lt, 1.0)).await;
    assert_eq!(
        (o.state, reason(&o)),
        (
            State::Unknown,
            "prometheus rejected the query: parse error at char 3"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_lookup_and_timeout() {
    let dns = |name: &str, expect: &[&str], server: Option<String>| {
        let mut p = probe(Check::Dns(DnsCheck {
            name: Text::plain(name),
            record_type: RecordType::A,
            expect: expect.iter().map(|s| Text::plain(*s)).collect(),
            server: server.map(Text::plain),
        }));
        p.timeout = Duration::from_millis(500);
        p
    };
    // /etc/hosts answers for localhost: no network needed.
    let o = check_once(&dns("localhost", &["127.0.0.1"], None)).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let o = check_once(&dns("localhost", &["10.9.9.9"], None)).await;
    assert_eq!(o.state, State::Down);
    assert_eq!(
        reason(&o),
        "A `localhost` is `127.0.0.1`, expected `10.9.9.9` among them"
    );
    // A DNS server that never answers: the probe's timeout holds.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = silent.local_addr().unwrap().to_string();
    let start = Instant::now();
    let o = check_once(&dns("orders.internal.", &[], Some(server))).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert!(
        start.elapsed() < Duration::from_millis(500 + 600),
        "{:?}",
        start.elapsed()
    );
    drop(silent);
}

/// A one-zone DNS server on loopback UDP: `orders.internal.` A 10.1.2.3 and 10.1.2.4; every other
/// name has no record. The addresses are only data in answers; nothing connects to them.
async fn serve_dns() -> SocketAddr {
    use hickory_resolver::proto::op::{Message, OpCode};
    use hickory_resolver::proto::rr::rdata::A;
    use hickory_resolver::proto::rr::{RData, Record};
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut reply = Message::response(query.metadata.id, OpCode::Query);
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            for q in &query.queries {
                reply.add_query(q.clone());
                if q.name().to_ascii().eq_ignore_ascii_case("orders.internal.") {
                    for ip in [[10, 1, 2, 3], [10, 1, 2, 4]] {
                        let rdata = RData::A(A::from(std::net::Ipv4Addr::from(ip)));
                        reply.add_answer(Record::from_rdata(q.name().clone(), 60, rdata));
                    }
                }
            }
            let _ = socket.send_to(&reply.to_vec().unwrap(), peer).await;
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_against_a_given_server() {
    let server = serve_dns().await.to_string();
    let dns = |name: &str, expect: &[&str]| {
        probe(Check::Dns(DnsCheck {
            name: Text::plain(name),
            record_type: RecordType::A,
            expect: expect.iter().map(|s| Text::plain(*s)).collect(),
            server: Some(Text::plain(server.clone())),
        }))
    };
    let o = check_once(&dns("orders.internal.", &["10.1.2.4"])).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let o = check_once(&dns("orders.internal.", &[])).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let o = check_once(&dns("orders.internal.", &["10.1.2.9"])).await;
    assert_eq!(
        reason(&o),
        "A `orders.internal.` is `10.1.2.3`, `10.1.2.4`, expected `10.1.2.9` among them"
    );
    let o = check_once(&dns("missing.internal.", &[])).await;
    assert_eq!(o.state, State::Down);
    assert_eq!(reason(&o), "no A record for `missing.internal.`");
}

// ------------------------------------------------------------------------------------------------
// The machine's real services

fn url_check(kind: fn(Text) -> Check, url: &str) -> Probe {
    probe(kind(Text::plain(url)))
}

fn redis_ping(url: Text) -> Check {
    Check::Redis(RedisCheck::ping(url))
}

fn pg_select(url: Text) -> Check {
    Check::Postgres(DbCheck::connect(url))
}

fn mysql_select(url: Text) -> Check {
    Check::Mysql(DbCheck::connect(url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_ping_and_auth() {
    let o = check_once(&url_check(redis_ping, "redis://127.0.0.1:6379")).await;
    assert_eq!(
        o.state,
        State::Up,
        "redis on 127.0.0.1:6379 must answer PING: {o:?}"
    );
    let o = check_once(&url_check(redis_ping, "redis://127.0.0.1:6379/1")).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    // Redis here has no password: AUTH with one is refused, and the reason says so.
    let o = check_once(&url_check(redis_ping, "redis://:wrongpass@127.0.0.1:6379")).await;
    assert_eq!(o.state, State::Down);
    assert!(reason(&o).starts_with("redis AUTH failed: "), "{o:?}");
    assert!(!reason(&o).contains("wrongpass"), "{o:?}");
    // An ACL user with the wrong password.
    let o = check_once(&url_check(
        redis_ping,
        "redis://nosuchuser:wrongpass@127.0.0.1:6379",
    ))
    .await;
    assert_eq!(o.state, State::Down);
    assert!(reason(&o).contains("WRONGPASS"), "{o:?}");
    assert!(!reason(&o).contains("wrongpass"), "{o:?}");
    let closed = closed_port().await;
    let o = check_once(&url_check(redis_ping, &format!("redis://{closed}"))).await;
    assert_eq!(
        reason(&o),
        format!("cannot connect to `{closed}`: connection refused")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connect_auth_select() {
    for dsn in [
        "postgres://postgres@127.0.0.1:5432/test",
        "host=127.0.0.1 port=5432 user=postgres dbname=test",
        "postgres://linkpatrol_pw:right@127.0.0.1:5432/test",
        // sslmode=require: TLS with rustls (the server's certificate is not verified, as libpq).
        "postgres://linkpatrol_pw:right@127.0.0.1:5432/test?sslmode=require",
    ] {
        let o = check_once(&url_check(pg_select, dsn)).await;
        assert_eq!(
            o.state,
            State::Up,
            "{dsn}: {o:?} (did scripts/setup-test-services.sh run?)"
        );
    }
    let o = check_once(&url_check(
        pg_select,
        "postgres://linkpatrol_pw:wrong@127.0.0.1:5432/test",
    ))
    .await;
    assert_eq!(o.state, State::Down);
    assert_eq!(
        reason(&o),
        "password authentication failed for user \"linkpatrol_pw\""
    );
    // A server that refuses TLS ('N' to the SSLRequest): sslmode=require must not fall back.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let no_tls = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 8];
            if s.read_exact(&mut buf).await.is_ok() {
                let _ = s.write_all(b"N").await;
            }
        }
    });
    let o = check_once(&url_check(
        pg_select,
        &format!("postgres://postgres@{no_tls}/test?sslmode=require"),
    ))
    .await;
    assert_eq!(o.state, State::Down);
    assert!(reason(&o).contains("TLS"), "{o:?}");
    let o = check_once(&url_check(
        pg_select,
        "postgres://postgres@127.0.0.1:5432/no_such_db",
    ))
    .await;
    assert_eq!(o.state, State::Down);
    assert_eq!(reason(&o), "database \"no_such_db\" does not exist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_connect_auth_select() {
    for dsn in [
        "mysql://root@127.0.0.1:3306/test",
        "mariadb://linkpatrol_pw:right@127.0.0.1:3306",
    ] {
        let o = check_once(&url_check(mysql_select, dsn)).await;
        assert_eq!(
            o.state,
            State::Up,
            "{dsn}: {o:?} (did scripts/setup-test-services.sh run?)"
        );
    }
    let o = check_once(&url_check(
        mysql_select,
        "mysql://linkpatrol_pw:wrong@127.0.0.1:3306/test",
    ))
    .await;
    assert_eq!(o.state, State::Down);
    assert!(
        reason(&o).starts_with("Access denied for user 'linkpatrol_pw'@"),
        "{o:?}"
    );
    assert!(!reason(&o).contains("wrong@"), "{o:?}");
}

// ------------------------------------------------------------------------------------------------
// Runner

fn service(
    name: &str,
    tags: &[&str],
    probes: Vec<Option<Probe>>,
    min_healthy: usize,
    deps: Vec<Dependency>,
) -> Service {
    Service {
        name: ServiceName::new(name),
        description: None,
        owner: None,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        core: true,
        core_explicit: false,
        instances: probes
            .into_iter()
            .enumerate()
            .map(|(i, probe)| Instance {
                id: i.to_string(),
                address: None,
                domains: Vec::new(),
                probe: probe.map(std::sync::Arc::new),
            })
            .collect(),
        min_healthy,
        depends_on: deps,
        operations: Vec::new(),
    }
}

fn strong(idx: u32) -> Dependency {
    Dependency {
        label: String::new(),
        strength: Strength::Strong,
        timeout: None,
        fallback: None,
        target: Target::Service(ServiceIdx(idx)),
        operation: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_aggregates_instances_into_service_states() {
    let good = serve(|_| ok("ok")).await;
    let bad = serve(|_| Reply::Status(503, String::new())).await;
    let hp = |a: SocketAddr| Some(probe(Check::Http(http(&format!("http://{a}/")))));
    // Sorted by name: a-api(0) b-db(1) c-cache(2) d-edge(3) e-unprobed(4) f-pair(5)
    let services = vec![
        service(
            "a-api",
            &["front"],
            vec![hp(good), hp(bad)],
            1,
            vec![strong(1)],
        ),
        service("b-db", &["data"], vec![hp(bad), hp(bad)], 1, vec![]),
        service("c-cache", &["data"], vec![hp(good)], 1, vec![]),
        service("d-edge", &[], vec![hp(good), hp(bad)], 2, vec![]),
        service("e-unprobed", &[], vec![None], 1, vec![]),
        service("f-pair", &[], vec![hp(good), hp(good)], 2, vec![]),
    ];
    let topo = Topology::from_parts(
        "t",
        Defaults::default(),
        vec![Link {
            name: LinkName::new("order"),
            entry: ServiceIdx(0),
            operation: None,
            description: None,
        }],
        services,
        RiskSettings::default(),
    );
    let selected = Selection::all().resolve(&topo).unwrap();
    let mut calls = 0;
    let result = run(
        &topo,
        &selected,
        &RunOptions::from_defaults(&topo.defaults),
        &mut |done, total| {
            calls += 1;
            assert!(done <= total);
        },
    )
    .await
    .unwrap();
    assert_eq!(calls, 9);
    assert_eq!(
        result.observed,
        vec![
            State::Degraded,
            State::Down,
            State::Up,
            State::Down,
            State::Unknown,
            State::Up
        ]
    );
    assert_eq!(
        result.instances[1][0].reason.as_deref(),
        Some("status 503, expected 2xx")
    );
    assert_eq!(result.instances[4][0].reason.as_deref(), Some("no probe"));

    // Selections: by name, by tag, by link (the entry and what it reaches).
    let sel = |services: &[&str], tags: &[&str], links: &[&str]| Selection {
        services: services.iter().map(|s| (*s).to_owned()).collect(),
        tags: tags.iter().map(|s| (*s).to_owned()).collect(),
        links: links.iter().map(|s| (*s).to_owned()).collect(),
    };
    assert_eq!(
        sel(&["c-cache"], &[], &[]).resolve(&topo).unwrap(),
        vec![ServiceIdx(2)]
    );
    assert_eq!(
        sel(&[], &["data"], &[]).resolve(&topo).unwrap(),
        vec![ServiceIdx(1), ServiceIdx(2)]
    );
    assert_eq!(
        sel(&[], &[], &["order"]).resolve(&topo).unwrap(),
        vec![ServiceIdx(0), ServiceIdx(1)]
    );
    let err = sel(&["c-cach"], &[], &[])
        .resolve(&topo)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "unknown service `c-cach`, did you mean `c-cache`?");
    let err = sel(&[], &["dat"], &[])
        .resolve(&topo)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "unknown tag `dat`, did you mean `data`?");
    let err = sel(&[], &[], &["ordr"])
        .resolve(&topo)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "unknown link `ordr`, did you mean `order`?");
    let only = run(
        &topo,
        &[ServiceIdx(2)],
        &RunOptions::from_defaults(&topo.defaults),
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(only.observed[2], State::Up);
    assert_eq!(only.observed[0], State::Unknown);
    assert!(only.instances[0].is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_deadline_reports_the_rest_unknown_and_one_bad_endpoint_stalls_nothing() {
    let hang = serve(|_| Reply::Hang).await;
    let good = serve(|_| ok("ok")).await;
    let mut slow_probe = probe(Check::Http(http(&format!("http://{hang}/"))));
    slow_probe.timeout = Duration::from_secs(30);
    let fast = || Some(probe(Check::Http(http(&format!("http://{good}/")))));
    let mut services = vec![service("hang", &[], vec![Some(slow_probe)], 1, vec![])];
    for i in 0..20 {
        services.push(service(&format!("ok-{i:02}"), &[], vec![fast()], 1, vec![]));
    }
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let topo = Topology::from_parts(
        "t",
        Defaults::default(),
        vec![],
        services,
        RiskSettings::default(),
    );
    let selected = Selection::all().resolve(&topo).unwrap();
    // Concurrency 3 and per-host 2 (every server is on 127.0.0.1): the hanging probe holds one
    // slot of each, the rest go through the others.
    let options = RunOptions {
        concurrency: 3,
        per_host: 2,
        deadline: Duration::from_millis(1500),
        shard: None,
    };
    let start = Instant::now();
    let result = run(&topo, &selected, &options, &mut |_, _| {})
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_millis(1500 + 600), "{elapsed:?}");
    let hang_idx = topo.index_of("hang").unwrap().get();
    assert_eq!(result.instances[hang_idx][0].state, State::Unknown);
    assert_eq!(
        result.instances[hang_idx][0].reason.as_deref(),
        Some("run deadline reached")
    );
    for (i, s) in topo.services.iter().enumerate() {
        if i != hang_idx {
            assert_eq!(
                result.observed[i],
                State::Up,
                "{}: {:?}",
                s.name,
                result.instances[i]
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The `probe` command

#[test]
fn probe_command_prints_an_aligned_table_and_json() {
    use linkpatrol::probe::{RunOptions, Selection, run_blocking};
    use linkpatrol::report::{
        json::render_json, probe_table::write_probe_text, probed::from_outcomes, text::Paint,
    };
    // The servers live on their own runtime; the command builds its own.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let good = rt.block_on(serve(|_| ok("ok")));
    let bad = rt.block_on(serve(|_| Reply::Status(503, String::new())));
    let hp = |a: SocketAddr| Some(probe(Check::Http(http(&format!("http://{a}/")))));
    // Sorted by name: api(0) -> db(1); 订单服务 (2) sorts last.
    let services = vec![
        service(
            "api",
            &["front"],
            vec![hp(good), hp(bad)],
            1,
            vec![strong(1)],
        ),
        service("db", &[], vec![hp(bad)], 1, vec![]),
        service("订单服务", &[], vec![hp(good)], 1, vec![]),
    ];
    let topo = Topology::from_parts(
        "shop",
        Defaults::default(),
        vec![Link {
            name: LinkName::new("checkout"),
            entry: ServiceIdx(0),
            operation: None,
            description: None,
        }],
        services,
        RiskSettings::default(),
    );
    // The command's own path: resolve the selection, probe, analyse, print.
    let selected = Selection::default().resolve(&topo).unwrap();
    let options = RunOptions::from_defaults(&topo.defaults);
    let run = run_blocking(&topo, &selected, &options, &mut |_, _| {}).unwrap();
    let report = from_outcomes(&topo, &run.instances, &run.operations).unwrap();
    let mut out = Vec::new();
    write_probe_text(&topo, &run, &report, Paint::new(false), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    println!("{text}");
    // api depends strongly on the down db: the link is down.
    let worst = report.links.iter().map(|l| l.state).max().unwrap();
    assert_eq!(worst, State::Down);
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("SERVICE"))
        .expect("the instance table, after the root causes");
    let lines = &lines[header..];
    assert!(lines[0].starts_with("SERVICE"), "{text}");
    // Every row of the first table has its STATE column at the same display column.
    let state_col = lines[0].find("STATE").unwrap();
    let width = |s: &str| unicode_width_of(s);
    for line in lines.iter().skip(1).take_while(|l| !l.is_empty()) {
        let (col, _) = line
            .char_indices()
            .find(|(i, _)| width(&line[..*i]) >= state_col)
            .unwrap();
        let rest = &line[col..];
        assert!(
            ["up", "down", "degraded", "unknown"]
                .iter()
                .any(|s| rest.starts_with(s)),
            "misaligned row {line:?} in\n{text}"
        );
    }
    assert!(text.contains("status 503, expected 2xx"), "{text}");
    assert!(text.contains("1 of 2 alive, 1 needed"), "{text}");
    assert!(text.contains("3 services probed in"), "{text}");

    // The JSON is the report: observed and effective states, probe results per instance.
    let effective: Vec<State> = report.services.iter().map(|s| s.effective).collect();
    assert_eq!(effective, [State::Down, State::Down, State::Up]);
    let out = render_json(&report);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["topology"], "shop");
    assert_eq!(doc["links"][0]["state"], "down");
    assert_eq!(doc["services"][0]["observed"], "degraded");
    assert_eq!(doc["services"][0]["effective"], "down");
    assert_eq!(doc["services"][0]["probes"][1]["ok"], false);
    assert_eq!(
        doc["services"][0]["probes"][1]["reason"],
        "status 503, expected 2xx"
    );

    // Selection errors name the closest match.
    let selection = Selection {
        services: vec!["dbb".to_owned()],
        ..Selection::default()
    };
    let err = selection.resolve(&topo).unwrap_err();
    assert_eq!(err.to_string(), "unknown service `dbb`, did you mean `db`?");
    drop(rt);
}

/// Display width: CJK characters take two columns.
fn unicode_width_of(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if ('\u{1100}'..='\u{ffdc}').contains(&c) && !c.is_ascii() {
                2
            } else {
                1
            }
        })
        .sum()
}

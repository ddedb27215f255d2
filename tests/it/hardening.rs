//! Regression tests for issue 16 (hostile networks, secrets in every encoding, unbounded input,
//! orphaned checks), one or more per item, each named after it. Everything runs on loopback:
//! the DNS server that never answers, the redirect and echo servers and the TLS servers are
//! started by these tests; the "hanging resolver" run of the binary gets a private
//! `/etc/resolv.conf` in its own mount namespace (`unshare -m`, as root).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use linkpatrol::probe::client::Clients;
use linkpatrol::probe::resolve::NameResolver;
use linkpatrol::probe::{ProbeOutcome, probe_instance};
use linkpatrol::state::State;
use linkpatrol::topology::model::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

// ------------------------------------------------------------------------------------------------
// Helpers

fn probe(check: Check, timeout: Duration) -> Probe {
    Probe {
        check,
        timeout,
        retries: 0,
        slow: Duration::from_secs(5),
    }
}

fn http(url: Text) -> HttpCheck {
    HttpCheck {
        url,
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

async fn once(check: Check) -> ProbeOutcome {
    let p = probe(check, Duration::from_secs(3));
    let clients = Clients::for_checks([&p.check]);
    probe_instance(&clients, &p).await
}

fn reason(o: &ProbeOutcome) -> &str {
    o.reason.as_deref().unwrap_or("")
}

/// A UDP "DNS server" on loopback that reads every query and never answers.
async fn silent_dns(ip: &str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = UdpSocket::bind(format!("{ip}:0")).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while socket.recv_from(&mut buf).await.is_ok() {}
    });
    (addr, task)
}

/// What an HTTP server saw: the request heads, in arrival order.
type Seen = Arc<Mutex<Vec<String>>>;

/// A tiny HTTP/1.1 server on `ip`: `reply(head)` gives the whole response to write.
async fn serve(
    ip: &str,
    reply: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (SocketAddr, Seen) {
    let listener = TcpListener::bind(format!("{ip}:0")).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            let reply = Arc::clone(&reply);
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&req).into_owned();
                log.lock().unwrap().push(head.clone());
                let _ = stream.write_all(reply(&head).as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (addr, seen)
}

fn response(status: u16, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
}

fn redirect_to(to: String) -> impl Fn(&str) -> String {
    move |_| response(302, &format!("Location: {to}\r\n"), "")
}

fn has_header(head: &str, name: &str) -> bool {
    head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with(&format!("{}:", name.to_ascii_lowercase()))
    })
}

// ------------------------------------------------------------------------------------------------
// Item 1: a hanging resolver

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_hanging_resolver_respects_probe_timeout_for_every_type() {
    let (dns, _task) = silent_dns("127.0.0.1").await;
    let name = "never-answers.linkpatrol.test";
    let checks = vec![
        Check::Http(http(Text::plain(format!("http://{name}:8080/health")))),
        Check::Tcp(TcpCheck {
            address: Text::plain(format!("{name}:9")),
            send: None,
            expect: None,
        }),
        Check::Tls(TlsCheck {
            address: Text::plain(format!("{name}:443")),
            server_name: None,
            san: None,
            min_days: 14,
            verify: true,
            ca_file: None,
        }),
        Check::Redis(RedisCheck::ping(Text::plain(format!(
            "redis://{name}:6379"
        )))),
        Check::Postgres(DbCheck::connect(Text::plain(format!(
            "postgres://u@{name}:5432/db"
        )))),
        Check::Mysql(DbCheck::connect(Text::plain(format!(
            "mysql://u@{name}:3306/db"
        )))),
    ];
    for check in checks {
        let kind = check.kind();
        let p = probe(check, Duration::from_millis(400));
        let clients = Clients::with_resolver([&p.check], NameResolver::with_servers(&[dns]));
        let start = Instant::now();
        let o = probe_instance(&clients, &p).await;
        let took = start.elapsed();
        assert_eq!(o.state, State::Down, "{kind}: {o:?}");
        assert_eq!(reason(&o), "timed out after 400ms", "{kind}: {o:?}");
        assert!(took < Duration::from_secs(2), "{kind} took {took:?}");
    }
}

/// The whole binary against a name whose resolver never answers: `timeout: 2s, retries: 0,
/// deadline: 3s` must end the process within the deadline (plus start-up), not after glibc's
/// 10 s or more. The resolver is the system's: `/etc/resolv.conf` is replaced, in a mount
/// namespace of this process only, by one naming a silent server on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_hanging_resolver_respects_deadline() {
    let ip = format!("127.53.{}.{}", std::process::id() % 200 + 1, 7);
    let socket = std::net::UdpSocket::bind(format!("{ip}:53"))
        .expect("binding UDP port 53 on loopback needs root (the test suite runs as root)");
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        format!("nameserver {ip}\noptions timeout:5 attempts:2\n"),
    )
    .unwrap();
    let topo = dir.path().join("topology.yaml");
    std::fs::write(
        &topo,
        "version: 1\nname: t\ndefaults: { timeout: 2s, retries: 0, deadline: 3s }\nlinks: { l: { entry: a } }\nservices:\n  a:\n    probe: { http: { url: \"http://hang.linkpatrol.test:8080/\" } }\n    depends_on: { b: strong }\n  b:\n    probe: { tcp: { address: \"hang2.linkpatrol.test:9\" } }\n",
    )
    .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("linkpatrol");
    let script = format!(
        "mount --bind {} /etc/resolv.conf && exec {} -f {} probe --format json",
        resolv.display(),
        bin.display(),
        topo.display()
    );
    let start = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("unshare")
            .args(["-m", "sh", "-c", &script])
            .output()
            .expect("unshare (util-linux) runs")
    })
    .await
    .unwrap();
    let took = start.elapsed();
    drop(socket);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("mount:") && !stderr.contains("unshare:"),
        "the namespace could not be set up: {stderr}"
    );
    assert!(took < Duration::from_secs(6), "took {took:?}: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
    let text = doc.to_string();
    assert!(text.contains("timed out after 2s"), "{text}");
}

// ------------------------------------------------------------------------------------------------
// Item 2: credentials and redirects

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_redirect_drops_credentials_cross_origin() {
    let (other, other_seen) = serve("127.0.0.2", |_| response(200, "", "ok")).await;
    let (start, start_seen) =
        serve("127.0.0.1", redirect_to(format!("http://{other}/landing"))).await;
    let mut check = http(Text::plain(format!("http://{start}/")));
    check.headers = vec![
        (
            "Authorization".to_owned(),
            Text::interpolated("Bearer ${TOKEN}", "Bearer s3cr3t-token-value"),
        ),
        (
            "X-Api-Key".to_owned(),
            Text::interpolated("${API_KEY}", "key-from-the-environment"),
        ),
        ("Cookie".to_owned(), Text::plain("session=literal-cookie")),
        ("X-Trace".to_owned(), Text::plain("kept")),
    ];
    let o = once(Check::Http(check)).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let first = start_seen.lock().unwrap()[0].clone();
    assert!(has_header(&first, "authorization") && has_header(&first, "x-api-key"));
    let landed = other_seen.lock().unwrap()[0].clone();
    for gone in ["authorization", "x-api-key", "cookie"] {
        assert!(
            !has_header(&landed, gone),
            "`{gone}` followed the redirect: {landed}"
        );
    }
    assert!(!landed.contains("s3cr3t") && !landed.contains("key-from"));
    assert!(has_header(&landed, "x-trace"), "{landed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_redirect_to_localhost_is_another_origin() {
    let (other, other_seen) = serve("127.0.0.1", |_| response(200, "", "ok")).await;
    let (start, _) = serve(
        "127.0.0.1",
        redirect_to(format!("http://localhost:{}/", other.port())),
    )
    .await;
    let mut check = http(Text::plain(format!("http://{start}/")));
    check.headers = vec![(
        "Authorization".to_owned(),
        Text::plain("Bearer written-in-the-file"),
    )];
    let o = once(Check::Http(check)).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let landed = other_seen.lock().unwrap()[0].clone();
    assert!(!has_header(&landed, "authorization"), "{landed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_redirect_same_origin_keeps_credentials() {
    let (start, seen) = serve("127.0.0.1", |head: &str| {
        if head.starts_with("GET /next") {
            response(200, "", "ok")
        } else {
            response(302, "Location: /next\r\n", "")
        }
    })
    .await;
    let mut check = http(Text::plain(format!("http://{start}/")));
    check.headers = vec![(
        "Authorization".to_owned(),
        Text::interpolated("Bearer ${TOKEN}", "Bearer same-origin-token"),
    )];
    let o = once(Check::Http(check)).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(has_header(&seen[1], "authorization"), "{}", seen[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_redirect_reason_names_every_hop() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let (second, _) = serve("127.0.0.1", redirect_to(format!("http://{closed}/gone"))).await;
    let (first, _) = serve("127.0.0.1", redirect_to(format!("http://{second}/b"))).await;
    let o = once(Check::Http(http(Text::plain(format!("http://{first}/a"))))).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert_eq!(
        reason(&o),
        format!(
            "redirected to `http://{second}/b`, then to `http://{closed}/gone`, then: connection refused"
        )
    );
}

// ------------------------------------------------------------------------------------------------
// Item 3: secrets in encoded form

/// Echoes the whole request head back on one line, in a 500 (the reason quotes the body).
fn echo(head: &str) -> String {
    let line = head.trim_end().replace("\r\n", " | ");
    response(500, "", &line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_secrets_scrubbed_in_every_encoding() {
    let (addr, seen) = serve("127.0.0.1", echo).await;
    let password = "pa ss\"w@rd/9";
    let token = "tok en 'quoted' \"x\" & more";
    let url = Text::interpolated(
        format!("http://order:${{PASSWORD}}@{addr}/echo?token=${{TOKEN}}"),
        format!(
            "http://order:{}@{addr}/echo?token={token}",
            percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC)
        ),
    );
    let mut check = http(url);
    check.headers = vec![(
        "X-Token".to_owned(),
        Text::interpolated(
            "${TOKEN}-${PASSWORD}",
            format!("{}-{}", "headertok", "headerpw"),
        ),
    )];
    let o = once(Check::Http(check)).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    let r = reason(&o);
    let head = seen.lock().unwrap()[0].clone();
    // The server did see every form; the reason must show none of them.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("order:{password}"));
    assert!(head.contains(&basic), "{head}");
    let forms = [
        basic.clone(),
        password.to_owned(),
        token.to_owned(),
        "tok%20en".to_owned(),
        "%22x%22".to_owned(),
        "headertok".to_owned(),
        "headerpw".to_owned(),
    ];
    for form in &forms {
        assert!(!r.contains(form.as_str()), "`{form}` leaked: {r}");
    }
    assert!(r.contains("status 500"), "{r}");
    assert!(r.contains("base64(order:${PASSWORD})"), "{r}");
}

#[test]
fn hardening_secrets_scrubbed_inside_longer_base64() {
    let secret = Text::interpolated("${API_SECRET}", "0123456789abcdef");
    let scrubber = linkpatrol::probe::outcome::Scrubber::new([&secret]);
    for prefix in ["", "a", "ab", "abc", "user:"] {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{prefix}0123456789abcdef!"));
        let out = scrubber.scrub(&format!("got `{encoded}`"));
        // What is left of the encoding at the edges is at most a group of 4 on each side.
        let left: String = out
            .replace("base64(…${API_SECRET}…)", "")
            .replace("${API_SECRET}", "")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
            .collect();
        assert!(out.contains("${API_SECRET}"), "{prefix}: {out}");
        assert!(left.len() < encoded.len() / 2, "{prefix}: {out}");
    }
}

// ------------------------------------------------------------------------------------------------
// Item 7: exec probes and their process groups

fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(marker) && !cmd.contains("cargo") {
                found.push(format!("{}: {cmd}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

async fn gone(marker: &str) -> Vec<String> {
    for _ in 0..40 {
        if processes_with(marker).is_empty() {
            return Vec::new();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    processes_with(marker)
}

fn exec(args: &[&str]) -> Check {
    Check::Exec(ExecCheck {
        command: args.iter().map(|a| Text::plain(*a)).collect(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_exec_timeout_kills_process_group() {
    let marker = format!("37.{}1", std::process::id());
    let script = format!("sleep {marker} & sleep {marker} & wait");
    let p = probe(exec(&["sh", "-c", &script]), Duration::from_millis(300));
    let clients = Clients::for_checks([&p.check]);
    let o = probe_instance(&clients, &p).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert_eq!(reason(&o), "timed out after 300ms");
    let left = gone(&marker).await;
    assert!(left.is_empty(), "orphans left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_exec_background_child_does_not_outlive_the_check() {
    let marker = format!("38.{}2", std::process::id());
    let script = format!("sleep {marker} & echo OK - all fine; exit 0");
    let p = probe(exec(&["sh", "-c", &script]), Duration::from_secs(5));
    let clients = Clients::for_checks([&p.check]);
    let start = Instant::now();
    let o = probe_instance(&clients, &p).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let left = gone(&marker).await;
    assert!(left.is_empty(), "orphans left behind: {left:?}");
}

// ------------------------------------------------------------------------------------------------
// Item 10: TLS reasons

/// A TLS server with a self-signed certificate for 127.0.0.1; `ca` marks it `CA:TRUE`, as
/// `openssl req -x509` does.
async fn self_signed_server(ca: bool) -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    if ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    let cert = params.self_signed(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    let mut buf = [0u8; 1024];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls.write_all(response(200, "", "ok").as_bytes()).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

const SELF_SIGNED: &str =
    "self-signed certificate (unknown issuer): set `ca_file` or `verify: false`";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_self_signed_tls_reason() {
    let addr = self_signed_server(false).await;
    let o = once(Check::Http(http(Text::plain(format!("https://{addr}/"))))).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert_eq!(reason(&o), SELF_SIGNED);
    let o = once(Check::Tls(TlsCheck {
        address: Text::plain(addr.to_string()),
        server_name: None,
        san: None,
        min_days: 14,
        verify: true,
        ca_file: None,
    }))
    .await;
    assert_eq!(reason(&o), SELF_SIGNED, "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_ca_used_as_end_entity_tls_reason() {
    let addr = self_signed_server(true).await;
    let o = once(Check::Http(http(Text::plain(format!("https://{addr}/"))))).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert!(reason(&o).starts_with(SELF_SIGNED), "{o:?}");
    assert!(!reason(&o).contains("OtherError"), "{o:?}");
    let mut insecure = http(Text::plain(format!("https://{addr}/")));
    insecure.tls_verify = false;
    assert_eq!(once(Check::Http(insecure)).await.state, State::Up);
}

// ------------------------------------------------------------------------------------------------
// Item 5: unbounded input

fn linkpatrol() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("linkpatrol").unwrap();
    cmd.timeout(Duration::from_secs(20));
    cmd.env_remove("LINKPATROL_MAX_FILE_SIZE");
    cmd
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn hardening_input_non_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for (path, kind) in [
        ("/dev/zero", "a character device"),
        ("/dev/urandom", "a character device"),
        (fifo.to_str().unwrap(), "a FIFO"),
        (dir.path().to_str().unwrap(), "a directory"),
    ] {
        let start = Instant::now();
        let out = linkpatrol()
            .args(["-f", path, "validate"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{path}: {}", stderr_of(&out));
        let err = stderr_of(&out);
        assert!(
            err.contains(&format!("`{path}` is {kind}")) && err.contains("not a regular file"),
            "{path}: {err}"
        );
        assert!(start.elapsed() < Duration::from_secs(5), "{path}");
    }
}

#[test]
fn hardening_input_file_size_is_capped_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    let mut text = String::from("version: 1\nname: t\nservices:\n");
    while text.len() < 4096 {
        let n = text.len();
        let _ = writeln!(text, "  s{n}: {{}}");
    }
    std::fs::write(&big, &text).unwrap();
    let out = linkpatrol()
        .env("LINKPATROL_MAX_FILE_SIZE", "2KiB")
        .args(["-f", big.to_str().unwrap(), "validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("is larger than the 2 KiB limit for a topology file")
            && err.contains("LINKPATROL_MAX_FILE_SIZE="),
        "{err}"
    );
    // Raised, the same file loads.
    let out = linkpatrol()
        .env("LINKPATROL_MAX_FILE_SIZE", "1MiB")
        .args(["-f", big.to_str().unwrap(), "-q", "validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn hardening_input_stdin_is_capped() {
    // An endless stdin (a child writing zeros) is cut at the cap, not read forever.
    let bin = assert_cmd::cargo::cargo_bin("linkpatrol");
    let start = Instant::now();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "LINKPATROL_MAX_FILE_SIZE=1MiB {} -f - validate < /dev/zero",
            bin.display()
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("`<stdin>` is larger than the 1 MiB limit"),
        "{}",
        stderr_of(&out)
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

// ------------------------------------------------------------------------------------------------
// Items 4, 5 (limits), 9, 11: the loader

use linkpatrol::topology::load::{LoadError, Loaded, load_str_with_env};

fn load_with(yaml: &str, vars: &[(&str, &str)]) -> Result<Loaded, LoadError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    load_str_with_env(yaml, "t.yaml", &move |name: &str| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
}

/// Every diagnostic, one a line (`file:line:col: error[code]: message`), none summarised.
fn errors_of(r: Result<Loaded, LoadError>) -> String {
    match r {
        Ok(_) => panic!("expected errors"),
        Err(LoadError::Invalid(d)) => {
            let mut out = String::new();
            for e in d.errors() {
                let at = e
                    .span
                    .map(|s| format!("{}:{}", s.line, s.column))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "t.yaml:{at}: error[{}]: {}",
                    e.code.as_str(),
                    e.message
                );
            }
            out
        }
        Err(e) => e.to_string(),
    }
}

const HEAD: &str = "version: 1\nname: t\nlinks: { l: { entry: a } }\nservices:\n";

#[test]
fn hardening_dsn_from_env_is_accepted() {
    let dsn = "postgres://app:hunter2@127.0.0.1:5432/test";
    let yaml = format!("{HEAD}  a:\n    probe: {{ postgres: {{ dsn: \"${{ORDER_DB_DSN}}\" }} }}\n");
    let loaded = load_with(&yaml, &[("ORDER_DB_DSN", dsn)]).expect("SPEC §1's own example loads");
    let Some(Check::Postgres(u)) = loaded.topology.services[0].instances[0]
        .probe
        .as_ref()
        .map(|p| &p.check)
    else {
        panic!("a postgres probe")
    };
    assert_eq!(u.url.expose(), dsn);
    assert_eq!(u.url.to_string(), "${ORDER_DB_DSN}");
    // key=value DSNs too.
    assert!(
        load_with(
            &yaml,
            &[("ORDER_DB_DSN", "host=127.0.0.1 user=app dbname=test")]
        )
        .is_ok()
    );
    // Every probe type that takes a URL.
    for (kind, key, value) in [
        ("redis", "url", "redis://:pw@127.0.0.1:6379"),
        ("mysql", "dsn", "mysql://root@127.0.0.1:3306/test"),
        ("http", "url", "http://127.0.0.1:8080/health"),
        ("prometheus", "url", "http://127.0.0.1:9090"),
    ] {
        let extra = if kind == "prometheus" {
            ", query: up, expect: \"> 0\""
        } else {
            ""
        };
        let yaml =
            format!("{HEAD}  a:\n    probe: {{ {kind}: {{ {key}: \"${{URL}}\"{extra} }} }}\n");
        assert!(load_with(&yaml, &[("URL", value)]).is_ok(), "{kind}");
    }
    // A wrong scheme is still an error, which names the variable and not its value.
    let err = errors_of(load_with(
        &yaml,
        &[("ORDER_DB_DSN", "mysql://app:hunter2@db/x")],
    ));
    assert!(
        err.contains("the value of `${ORDER_DB_DSN}` is not a URL for a postgres probe: it starts with `mysql://`"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("t.yaml:6:"), "{err}");
}

#[test]
fn hardening_replicas_cap_is_a_located_error() {
    for n in ["99999999999", "100000000", "3000000"] {
        let start = Instant::now();
        let err = errors_of(load_with(&format!("{HEAD}  a:\n    replicas: {n}\n"), &[]));
        assert!(
            err.contains(&format!("t.yaml:6:15: error[too-large]: service `a` has `replicas: {n}`, more than the limit of 10000")),
            "{err}"
        );
        assert!(!err.contains("whole number"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}

#[test]
fn hardening_total_instances_are_capped() {
    let mut yaml = String::from(HEAD);
    for i in 0..101 {
        let _ = writeln!(yaml, "  s{i:03}: {{ replicas: 10000 }}");
    }
    yaml.push_str("  a: {}\n");
    let err = errors_of(load_with(&yaml, &[]));
    assert!(
        err.contains(
            "error[too-large]: with `s099` the topology has more than 1000000 instances in all"
        ),
        "{err}"
    );
}

#[test]
fn hardening_instances_list_is_capped() {
    let mut yaml = format!("{HEAD}  a:\n    instances:\n");
    for i in 0..10_001 {
        let _ = writeln!(yaml, "      - {{ name: i{i} }}");
    }
    let err = errors_of(load_with(&yaml, &[]));
    assert!(
        err.contains("t.yaml:7:7: error[too-large]: service `a` lists 10001 instances, more than the limit of 10000"),
        "{err}"
    );
}

#[test]
fn hardening_retries_are_bounded() {
    let err = errors_of(load_with(
        "version: 1\nname: t\ndefaults: { retries: 99999999 }\nlinks: { l: { entry: a } }\nservices:\n  a:\n    probe: { tcp: { address: \"127.0.0.1:1\" }, retries: 11 }\n",
        &[],
    ));
    assert!(
        err.contains("t.yaml:3:22: error[too-large]: `defaults.retries` is 99999999, more than the limit of 10"),
        "{err}"
    );
    assert!(
        err.contains("error[too-large]: a probe `retries` is 11, more than the limit of 10"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_retries_back_off_between_attempts() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let mut p = probe(
        Check::Tcp(TcpCheck {
            address: Text::plain(closed.to_string()),
            send: None,
            expect: None,
        }),
        Duration::from_secs(1),
    );
    p.retries = 3;
    let clients = Clients::for_checks([&p.check]);
    let start = Instant::now();
    let o = probe_instance(&clients, &p).await;
    assert_eq!(o.attempts, 4);
    assert_eq!(o.state, State::Down);
    // 100 ms + 200 ms + 400 ms of backoff, not a busy loop.
    assert!(
        start.elapsed() >= Duration::from_millis(700),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        linkpatrol::probe::instance::backoff(1),
        Duration::from_millis(100)
    );
    assert_eq!(
        linkpatrol::probe::instance::backoff(30),
        Duration::from_secs(2)
    );
}

#[test]
fn hardening_interpolation_in_every_string_field() {
    let yaml = format!(
        "{HEAD}  a:\n    description: \"${{D}}\"\n    owner: \"${{O}}\"\n    tags: [\"${{T}}\"]\n    instances: [{{ address: \"${{ADDR}}\", zone: \"${{Z}}\", labels: {{ rack: \"${{R}}\" }} }}]\n    probe: {{ tcp: {{ send: \"${{SEND}}\", expect: \"${{EXPECT}}\" }} }}\n    depends_on: {{ b: {{ strength: weak, fallback: \"${{F}}\" }}, c: strong }}\n  b:\n    probe: {{ dns: {{ name: \"${{DNS_NAME}}\", server: \"${{DNS_SERVER}}\", expect: [\"${{DNS_IP}}\"] }} }}\n  c:\n    probe: {{ tls: {{ address: \"127.0.0.1:443\", server_name: \"${{SNI}}\", san: \"${{SAN}}\", ca_file: \"${{CA}}\" }} }}\n"
    );
    let vars = [
        "D",
        "O",
        "T",
        "ADDR",
        "Z",
        "R",
        "SEND",
        "EXPECT",
        "F",
        "DNS_NAME",
        "DNS_SERVER",
        "DNS_IP",
        "SNI",
        "SAN",
        "CA",
    ];
    let err = errors_of(load_with(&yaml, &[]));
    for v in vars {
        assert!(
            err.contains(&format!(
                "error[missing-env-var]: environment variable `{v}` is not set"
            )),
            "`{v}` missing passed silently: {err}"
        );
    }
    let set: Vec<(&str, String)> = vars
        .iter()
        .map(|v| {
            let value = match *v {
                "ADDR" => "127.0.0.1:7777".to_owned(),
                "DNS_SERVER" => "127.0.0.1:53".to_owned(),
                other => format!("value-of-{other}"),
            };
            (*v, value)
        })
        .collect();
    let set_ref: Vec<(&str, &str)> = set.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let t = load_with(&yaml, &set_ref)
        .expect("every variable set")
        .topology;
    let a = &t.services[t.index_of("a").unwrap().get()];
    let Some(Check::Tcp(tcp)) = a.instances[0].probe.as_ref().map(|p| &p.check) else {
        panic!("tcp")
    };
    assert_eq!(tcp.send.as_ref().unwrap().expose(), "value-of-SEND");
    assert_eq!(tcp.expect.as_ref().unwrap().expose(), "value-of-EXPECT");
    assert_eq!(tcp.address.expose(), "127.0.0.1:7777");
    // Values never reach an output: display fields keep the text as written.
    assert_eq!(a.description.as_deref(), Some("${D}"));
    assert_eq!(tcp.address.to_string(), "${ADDR}");
    let c = &t.services[t.index_of("c").unwrap().get()];
    let Some(Check::Tls(tls)) = c.instances[0].probe.as_ref().map(|p| &p.check) else {
        panic!("tls")
    };
    assert_eq!(tls.server_name.as_ref().unwrap().expose(), "value-of-SNI");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_tcp_send_is_interpolated_on_the_wire() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        let _ = s.write_all(b"+PONG\r\n").await;
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let yaml = format!(
        "{HEAD}  a:\n    probe: {{ tcp: {{ address: \"{addr}\", send: \"AUTH ${{PW}}\\r\\n\", expect: PONG }} }}\n"
    );
    let t = load_with(&yaml, &[("PW", "wire-secret")]).unwrap().topology;
    let p = t.services[0].instances[0].probe.clone().unwrap();
    let clients = Clients::for_checks([&p.check]);
    let o = probe_instance(&clients, &p).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    assert_eq!(got.await.unwrap(), "AUTH wire-secret\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_short_secret_is_not_scrubbed_into_other_text() {
    let yaml =
        format!("{HEAD}  a:\n    probe: {{ tcp: {{ address: \"127.0.0.1:${{PORT}}\" }} }}\n");
    let loaded = load_with(&yaml, &[("PORT", "1")]).unwrap();
    let warnings = loaded.warnings.to_string();
    assert!(
        warnings.contains(
            "warning[short-secret]: the value of `${PORT}` is too short to hide (1 character)"
        ),
        "{warnings}"
    );
    let p = loaded.topology.services[0].instances[0]
        .probe
        .clone()
        .unwrap();
    let clients = Clients::for_checks([&p.check]);
    let o = probe_instance(&clients, &p).await;
    assert_eq!(o.state, State::Down);
    assert_eq!(
        reason(&o),
        "cannot connect to `127.0.0.1:${PORT}`: connection refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_postgres_password_with_at_sign() {
    // `linkpatrol_pw` / `s3cret` is created by scripts/setup-test-services.sh; the password
    // here carries `@`, `/` and `:`: a role with such a password is made by this test.
    let out = std::process::Command::new("psql")
        .args([
            "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qtA", "-c",
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'linkpatrol_at') THEN CREATE ROLE linkpatrol_at LOGIN; END IF; END $$; ALTER ROLE linkpatrol_at PASSWORD 'p@ss/w:rd@host'",
        ])
        .output()
        .expect("psql runs (scripts/test-env.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (dns, _task) = silent_dns("127.0.0.1").await;
    let url = Text::interpolated(
        "postgres://linkpatrol_at:${PW}@127.0.0.1:5432/test",
        "postgres://linkpatrol_at:p@ss/w:rd@host@127.0.0.1:5432/test",
    );
    let p = probe(
        Check::Postgres(DbCheck::connect(url)),
        Duration::from_secs(3),
    );
    // Any lookup would go to the silent server and time out: none may happen.
    let clients = Clients::with_resolver([&p.check], NameResolver::with_servers(&[dns]));
    let o = probe_instance(&clients, &p).await;
    let r = reason(&o).to_owned();
    assert!(!r.contains("p@ss") && !r.contains("host@"), "{r}");
    // Authentication is the server's business (pg_hba may be `trust` here): what matters is
    // that the connection reached 127.0.0.1 and no name derived from the password was looked up.
    assert!(o.state == State::Up || !r.contains("resolve"), "{o:?}");
    assert_ne!(r, "timed out after 3s", "{o:?}");
}

// ------------------------------------------------------------------------------------------------
// Item 8: terminal escapes

/// A topology whose every display string carries a terminal escape (OSC title, screen clear,
/// C1 CSI, bidi override, BEL); one service no link reaches, for a warning with an excerpt.
/// (Raw control bytes in the source are a YAML syntax error: the invalid file below has them.)
/// `{port}` is a refused loopback port, so probes fail with a reason.
fn hostile_topology(port: u16) -> String {
    format!(
        "version: 1\n\
         name: \"top\\e]0;TITLE\\a\"\n\
         defaults: {{ timeout: 1s, retries: 0, deadline: 5s }}\n\
         links:\n\
         \x20 \"link\\e[2J\":\n\
         \x20   entry: \"gw\\e[2J\"\n\
         \x20   description: \"d\\e[31m\"\n\
         services:\n\
         \x20 \"gw\\e[2J\":\n\
         \x20   description: \"desc\\e]8;;http://x\\a\"\n\
         \x20   owner: \"own\\u009b2J\"\n\
         \x20   tags: [\"t\\e[5m\"]\n\
         \x20   probe: {{ tcp: {{ address: \"127.0.0.1:{port}\" }} }}\n\
         \x20   depends_on:\n\
         \x20     \"db\\u202e\": strong\n\
         \x20 \"db\\u202e\":\n\
         \x20   owner: \"o\\e[8m\"\n\
         \x20   probe: {{ tcp: {{ address: \"127.0.0.1:{port}\" }} }}\n\
         \x20   instances:\n\
         \x20     - {{ name: \"i\\e[2J\", address: \"127.0.0.1:{port}\", zone: \"z\\e[2J\", host: \"h\\e[2J\" }}\n\
         \x20 \"lonely\\e[2J\": {{}}\n"
    )
}

/// Every escape in `text` is one of the SGR colour sequences linkpatrol writes itself
/// (`ESC [ digits ; … m`), and no other control or bidi character is there.
fn assert_no_foreign_escapes(what: &str, text: &str) {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\n' {
            continue;
        }
        if c == '\x1b' {
            let rest = &text[i + 1..];
            let sgr = rest.strip_prefix('[').and_then(|r| {
                let end = r.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
                (r.as_bytes()[end] == b'm').then_some(end + 2)
            });
            let Some(len) = sgr else {
                panic!("{what}: a foreign escape at byte {i}: {:?}", &text[i..]);
            };
            for _ in 0..len {
                chars.next();
            }
            continue;
        }
        assert!(
            !linkpatrol::terminal::is_unprintable(c),
            "{what}: unprintable {c:?} at byte {i}: {text:?}"
        );
    }
}

fn outputs_of(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn hardening_terminal_escapes_never_reach_the_terminal() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // dropped: refused from now on
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t\x1b[2J.yaml");
    std::fs::write(&file, hostile_topology(port)).unwrap();
    let old = dir.path().join("old.yaml");
    std::fs::write(
        &old,
        "version: 1\nname: old\nlinks: { l: { entry: a } }\nservices:\n  a: {}\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out_dir = dir.path().join("out\x1b]0;X\x07");
    let runs: Vec<(String, Vec<&str>)> = vec![
        ("validate -v".into(), vec!["-f", f, "-v", "validate"]),
        ("analyze".into(), vec!["-f", f, "analyze"]),
        (
            "analyze --fail".into(),
            vec!["-f", f, "analyze", "--fail", "db\u{202e}"],
        ),
        (
            "analyze --depth 2".into(),
            vec!["-f", f, "analyze", "--depth", "2"],
        ),
        ("probe".into(), vec!["-f", f, "probe"]),
        ("diff".into(), vec!["diff", old.to_str().unwrap(), f]),
        (
            "render".into(),
            vec![
                "-f",
                f,
                "render",
                "--format",
                "dot",
                "-o",
                out_dir.to_str().unwrap(),
            ],
        ),
        (
            "inspect".into(),
            vec!["-f", f, "inspect", "-o", out_dir.to_str().unwrap()],
        ),
        (
            "missing file".into(),
            vec!["-f", "/nonexistent/\x1b[2J.yaml", "validate"],
        ),
    ];
    for (name, args) in &runs {
        for color in ["never", "always"] {
            let out = linkpatrol()
                .args(["--color", color])
                .args(args)
                .output()
                .unwrap();
            let text = outputs_of(&out);
            assert_no_foreign_escapes(&format!("{name} --color {color}"), &text);
            assert!(
                text.contains("\\u{1b}") || text.contains("\\u{202e}"),
                "{name}: the hostile text is shown escaped: {text}"
            );
        }
    }
    // An invalid file: the error names the hostile service, the excerpt shows the raw line.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "version: 1\nname: t\n# raw \x1b]0;T\x07\nlinks: { l: { entry: a } }\nservices:\n  a:\n    depends_on: { \"b\\e[2J\": strong }\n  \"b\\e[2K\": {}\n",
    )
    .unwrap();
    for color in ["never", "always"] {
        let out = linkpatrol()
            .args(["--color", color, "-f", bad.to_str().unwrap(), "validate"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", outputs_of(&out));
        assert_no_foreign_escapes("invalid file", &outputs_of(&out));
    }
}

// ------------------------------------------------------------------------------------------------
// Item 11: `-o` naming a file, and what `render` leaves behind when killed

#[test]
fn hardening_output_dir_that_is_a_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("t.yaml");
    std::fs::write(
        &topo,
        "version: 1\nname: t\nlinks: { l: { entry: a } }\nservices:\n  a: {}\n",
    )
    .unwrap();
    let file = dir.path().join("report.txt");
    std::fs::write(&file, "keep me").unwrap();
    let t = topo.to_str().unwrap();
    let f = file.to_str().unwrap();
    let under = file.join("sub");
    let under = under.to_str().unwrap();
    for (what, args) in [
        (
            "render",
            vec!["-f", t, "render", "--format", "dot", "-o", f],
        ),
        (
            "render (below a file)",
            vec!["-f", t, "render", "--format", "dot", "-o", under],
        ),
        ("inspect", vec!["-f", t, "inspect", "-o", f]),
        (
            "inspect (below a file)",
            vec!["-f", t, "inspect", "-o", under],
        ),
        ("merge", vec!["merge", t, "-o", f]),
        ("demo", vec!["demo", "-o", f]),
    ] {
        let out = linkpatrol().args(&args).output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains("is not a directory"), "{what}: {err}");
        assert!(err.contains("report.txt"), "{what}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

/// A chain of `n` services, each with two replicas, named `gen-{version}`.
fn chain_topology(n: usize, version: u32) -> String {
    let mut s =
        format!("version: 1\nname: gen-{version}\nlinks: {{ l: {{ entry: s0 }} }}\nservices:\n");
    for i in 0..n {
        if i + 1 < n {
            let _ = writeln!(
                s,
                "  s{i}: {{ replicas: 2, depends_on: {{ s{}: strong }} }}",
                i + 1
            );
        } else {
            let _ = writeln!(s, "  s{i}: {{ replicas: 2 }}");
        }
    }
    s
}

/// The `gen-N` a rendered file was drawn from.
fn version_in(path: &std::path::Path) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    let at = text.find("gen-")? + 4;
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// What a killed `render --format mermaid` may leave: the two files (each whole, and `graph.dot`
/// never newer than `graph.mmd`), the lock, and hidden staging folders that the next run
/// removes. Returns the staging folders seen.
fn assert_render_set(out: &std::path::Path) -> usize {
    let mut staging = 0;
    let Ok(entries) = std::fs::read_dir(out) else {
        return 0;
    };
    for e in entries {
        let name = e.unwrap().file_name().into_string().unwrap();
        match name.as_str() {
            "graph.dot" | "graph.mmd" | ".lock" => {}
            n if n.starts_with(".staging-") => staging += 1,
            other => panic!("a killed render left `{other}` in the output directory"),
        }
    }
    let dot = out.join("graph.dot");
    if dot.exists() {
        let text = std::fs::read_to_string(&dot).unwrap();
        assert!(text.trim_end().ends_with('}'), "graph.dot is whole");
        let (d, m) = (version_in(&dot), version_in(&out.join("graph.mmd")));
        assert!(
            d.is_some() && m >= d,
            "graph.dot from {d:?}, graph.mmd from {m:?}"
        );
    }
    staging
}

#[test]
fn hardening_render_killed_at_any_moment_leaves_no_temporary_file_and_no_mixed_set() {
    const KILLS: u32 = 40;
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("t.yaml");
    let out = dir.path().join("out");
    let render = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_linkpatrol"));
        cmd.args([
            "-q",
            "-f",
            topo.to_str().unwrap(),
            "render",
            "--format",
            "mermaid",
            "-o",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        cmd
    };
    std::fs::write(&topo, chain_topology(280, 0)).unwrap();
    let started = Instant::now();
    assert!(render().status().unwrap().success());
    let one_run = started.elapsed();
    assert_render_set(&out);

    let mut killed = 0;
    let mut staging_seen = 0;
    for i in 1..=KILLS {
        std::fs::write(&topo, chain_topology(280, i)).unwrap();
        // Delays from 0 to 1.2 × one run, spread evenly.
        let delay = one_run.mul_f64(1.2 * f64::from(i) / f64::from(KILLS));
        let mut child = render().spawn().unwrap();
        std::thread::sleep(delay);
        // SIGKILL: no destructor, no cleanup.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        if child.wait().unwrap().code().is_none() {
            killed += 1;
        }
        staging_seen += assert_render_set(&out);
    }
    // The next run leaves exactly the set, nothing staged.
    std::fs::write(&topo, chain_topology(280, KILLS + 1)).unwrap();
    assert!(render().status().unwrap().success());
    assert_eq!(
        assert_render_set(&out),
        0,
        "the next run removes staging folders"
    );
    assert_eq!(version_in(&out.join("graph.dot")), Some(KILLS + 1));
    assert_eq!(version_in(&out.join("graph.mmd")), Some(KILLS + 1));
    assert!(killed > 0, "some renders must have been killed mid-way");
    eprintln!("{killed} of {KILLS} renders killed, {staging_seen} staging folders seen");
}

// ------------------------------------------------------------------------------------------------
// Item 6: healthy endpoints starve behind hanging ones

/// `n` loopback listeners that accept every connection and never answer (the sockets are kept
/// open until the test ends).
async fn hanging_servers(n: usize) -> Vec<SocketAddr> {
    let mut addrs = Vec::with_capacity(n);
    for _ in 0..n {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
    }
    addrs
}

/// A topology of one http service per address, names in the given order, file defaults.
fn http_services(defaults: &str, services: &[(String, SocketAddr)]) -> String {
    let mut s = format!("version: 1\nname: fair\ndefaults: {defaults}\nservices:\n");
    for (name, addr) in services {
        let _ = writeln!(
            s,
            "  {name}: {{ probe: {{ http: {{ url: \"http://{addr}/\" }} }} }}"
        );
    }
    s
}

/// Runs the binary off the async runtime (the servers live on it).
async fn run_blocking_cmd(mut cmd: assert_cmd::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_healthy_endpoints_do_not_starve_behind_hanging_ones() {
    // 200 hanging endpoints whose names sort first, 50 healthy ones after them, one host; the
    // file's defaults (timeout 2s, 1 retry, per_host 64) and `--deadline 10s`.
    let mut services: Vec<(String, SocketAddr)> = hanging_servers(200)
        .await
        .into_iter()
        .enumerate()
        .map(|(i, a)| (format!("a-hang-{i:03}"), a))
        .collect();
    for i in 0..50 {
        let (addr, _) = serve("127.0.0.1", |_| response(200, "", "ok")).await;
        services.push((format!("b-ok-{i:02}"), addr));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.yaml");
    std::fs::write(&file, http_services("{}", &services)).unwrap();
    let mut cmd = linkpatrol();
    cmd.args([
        "-q",
        "-f",
        file.to_str().unwrap(),
        "probe",
        "--format",
        "json",
    ])
    .args(["--deadline", "10s"]);
    let started = Instant::now();
    let out = run_blocking_cmd(cmd).await;
    let took = started.elapsed();
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr_of(&out)));
    let state = |prefix: &str, want: &str| {
        report["services"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["id"].as_str().unwrap().starts_with(prefix))
            .filter(|s| s["probes"][0]["state"] == want)
            .count()
    };
    assert_eq!(state("b-ok-", "up"), 50, "every healthy endpoint answered");
    // Every hanging one was tried (timed out: down after its retry, or unknown with the
    // first attempt's reason when the deadline cut the retry), none left untried.
    let untried = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["probes"][0]["reason"] == "run deadline reached")
        .count();
    assert_eq!(untried, 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(state("a-hang-", "down") + state("a-hang-", "unknown"), 200);
    // Findings (the hanging ones are down or unknown), not a tool failure; and on time.
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(took < Duration::from_secs(12), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardening_run_cut_entirely_by_deadline_is_not_a_pass() {
    let hanging: Vec<(String, SocketAddr)> = hanging_servers(4)
        .await
        .into_iter()
        .enumerate()
        .map(|(i, a)| (format!("h{i}"), a))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // Deadline before any first attempt ends; and deadline after the first attempts but before
    // any retry ends (every probe unknown, "the retry was cut off").
    for (defaults, cut) in [
        (
            "{ timeout: 2s, retries: 0, deadline: 1s }",
            "run deadline reached",
        ),
        (
            "{ timeout: 700ms, retries: 1, deadline: 1200ms }",
            "the retry was cut off by the run deadline",
        ),
    ] {
        let file = dir.path().join("t.yaml");
        std::fs::write(&file, http_services(defaults, &hanging)).unwrap();
        for command in ["probe", "inspect"] {
            let mut cmd = linkpatrol();
            cmd.args(["-f", file.to_str().unwrap(), command]);
            if command == "inspect" {
                cmd.args(["-o", dir.path().join("out").to_str().unwrap()]);
            } else {
                cmd.args(["--format", "json"]);
            }
            let out = run_blocking_cmd(cmd).await;
            let err = stderr_of(&out);
            assert_eq!(out.status.code(), Some(3), "{command} {defaults}: {err}");
            assert!(err.contains("nothing was checked"), "{command}: {err}");
            if command == "probe" {
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(stdout.contains(cut), "{defaults}: {stdout}");
            }
        }
    }
}

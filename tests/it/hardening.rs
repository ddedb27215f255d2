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
        Check::Redis(UrlCheck {
            url: Text::plain(format!("redis://{name}:6379")),
        }),
        Check::Postgres(UrlCheck {
            url: Text::plain(format!("postgres://u@{name}:5432/db")),
        }),
        Check::Mysql(UrlCheck {
            url: Text::plain(format!("mysql://u@{name}:3306/db")),
        }),
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

//! Message-queue and gRPC probes (issue 13) against real servers: RabbitMQ on 5672, Mosquitto
//! on 1883 (anonymous) and 1884 (passwords only), NATS on 4222 (open) and 4223 (password), all
//! prepared by `scripts/setup-mq-services.sh` (a missing broker fails these tests, never skips
//! them), and a tonic-health gRPC server started by the test itself, in plain text and TLS.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::checks::{once, probe, reason, silent};
use linkpatrol::probe::client::Clients;
use linkpatrol::probe::probe_instance;
use linkpatrol::state::State;
use linkpatrol::topology::model::*;
use tokio::net::TcpListener;

/// Two attempts of 400 ms against a server that accepts and never answers: each attempt ends at
/// its timeout, none hangs (a correctness bound, not a speed target).
async fn timeout_holds(check: Check) {
    let mut p = probe(check);
    p.timeout = Duration::from_millis(400);
    p.retries = 1;
    let clients = Clients::for_checks([&p.check]);
    let start = Instant::now();
    let o = probe_instance(&clients, &p).await;
    let elapsed = start.elapsed();
    assert_eq!(o.state, State::Down, "{o:?}");
    assert_eq!(reason(&o), "timed out after 400ms", "{o:?}");
    assert_eq!(o.attempts, 2);
    assert!(elapsed >= Duration::from_millis(800), "took {elapsed:?}");
    assert!(elapsed < Duration::from_millis(1400), "took {elapsed:?}");
}

const WRONG: &str = "not-the-password-42";

// ------------------------------------------------------------------------------------------------
// AMQP (RabbitMQ)

fn amqp(url: &str, queue: Option<&str>) -> Check {
    Check::Amqp(AmqpCheck {
        url: Text::plain(url),
        queue: queue.map(str::to_owned),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_connects_authenticates_and_round_trips() {
    for (url, queue) in [
        ("amqp://guest:guest@127.0.0.1:5672/%2f", None),
        ("amqp://guest:guest@127.0.0.1:5672", Some("linkpatrol.test")),
        (
            "amqp://linkpatrol_pw:right@127.0.0.1:5672/",
            Some("linkpatrol.test"),
        ),
    ] {
        let o = once(amqp(url, queue)).await;
        assert_eq!(o.state, State::Up, "{url} {queue:?}: {o:?}");
        assert!(o.latency.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_round_trip_leaves_no_queue_behind() {
    let o = once(amqp(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        Some("linkpatrol.leftover-check"),
    ))
    .await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let out = std::process::Command::new("rabbitmqctl")
        .args(["-q", "list_queues", "name"])
        .output()
        .expect("rabbitmqctl runs");
    assert!(out.status.success(), "{out:?}");
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        !list.contains("linkpatrol.leftover-check"),
        "the probe queue is still there:\n{list}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_wrong_password_and_vhost_fail_clearly() {
    let o = once(amqp(
        &format!("amqp://linkpatrol_pw:{WRONG}@127.0.0.1:5672/%2f"),
        None,
    ))
    .await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert!(
        reason(&o).starts_with("amqp login refused for user `linkpatrol_pw`: 403 ACCESS_REFUSED"),
        "{o:?}"
    );
    assert!(!reason(&o).contains(WRONG), "{o:?}");
    let o = once(amqp(
        "amqp://guest:guest@127.0.0.1:5672/no-such-vhost",
        None,
    ))
    .await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert!(
        reason(&o).starts_with("opening vhost `no-such-vhost` failed: "),
        "{o:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_timeout_holds_against_a_silent_server() {
    let addr = silent().await;
    timeout_holds(amqp(&format!("amqp://guest:guest@{addr}/"), Some("q"))).await;
}

// ------------------------------------------------------------------------------------------------
// MQTT (Mosquitto)

fn mqtt(url: &str, topic: Option<&str>) -> Check {
    Check::Mqtt(MqttCheck {
        url: Text::plain(url),
        topic: topic.map(str::to_owned),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_connects_authenticates_and_round_trips() {
    for (url, topic) in [
        ("mqtt://127.0.0.1:1883", None),
        ("mqtt://127.0.0.1:1883", Some("linkpatrol/test")),
        ("mqtt://linkpatrol_pw:right@127.0.0.1:1884", None),
        (
            "mqtt://linkpatrol_pw:right@127.0.0.1:1884",
            Some("linkpatrol/test"),
        ),
    ] {
        let o = once(mqtt(url, topic)).await;
        assert_eq!(o.state, State::Up, "{url} {topic:?}: {o:?}");
    }
}

/// `localhost` may resolve to `::1` first while the broker listens on 127.0.0.1 only: the probe
/// tries each address in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_localhost_tries_each_address() {
    for topic in [None, Some("linkpatrol/test")] {
        let o = once(mqtt("mqtt://localhost:1883", topic)).await;
        assert_eq!(o.state, State::Up, "{topic:?}: {o:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_wrong_or_missing_password_fails_clearly() {
    let o = once(mqtt(
        &format!("mqtt://linkpatrol_pw:{WRONG}@127.0.0.1:1884"),
        Some("linkpatrol/test"),
    ))
    .await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert!(
        reason(&o).starts_with("mqtt login refused for user `linkpatrol_pw`: "),
        "{o:?}"
    );
    assert!(!reason(&o).contains(WRONG), "{o:?}");
    let o = once(mqtt("mqtt://127.0.0.1:1884", None)).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert!(reason(&o).starts_with("mqtt login refused: "), "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_timeout_holds_against_a_silent_server() {
    let addr = silent().await;
    timeout_holds(mqtt(&format!("mqtt://{addr}"), Some("t"))).await;
}

/// A broker that acknowledges everything and delivers only a stale message on the topic, never
/// the probe's own: the probe must not take the stale one for its round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_a_stale_message_is_not_taken_for_the_probes_own() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn packet(s: &mut tokio::net::TcpStream) -> Option<(u8, Vec<u8>)> {
        let kind = s.read_u8().await.ok()?;
        let (mut len, mut shift) = (0usize, 0);
        loop {
            let b = s.read_u8().await.ok()?;
            len |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let mut body = vec![0; len];
        s.read_exact(&mut body).await.ok()?;
        Some((kind, body))
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                while let Some((kind, body)) = packet(&mut s).await {
                    let reply: Vec<u8> = match kind >> 4 {
                        1 => vec![0x20, 2, 0, 0], // CONNECT → CONNACK
                        8 => {
                            // SUBSCRIBE → SUBACK (QoS 1 granted), then the stale message.
                            let topic_len = usize::from(u16::from_be_bytes([body[2], body[3]]));
                            let topic = &body[4..4 + topic_len];
                            let payload = b"linkpatrol probe 0-0-0";
                            let mut r = vec![0x90, 3, body[0], body[1], 1, 0x30];
                            r.push((2 + topic.len() + payload.len()) as u8);
                            r.extend_from_slice(&(topic.len() as u16).to_be_bytes());
                            r.extend_from_slice(topic);
                            r.extend_from_slice(payload);
                            r
                        }
                        3 => {
                            // PUBLISH QoS 1 → PUBACK, and the message is lost.
                            let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
                            vec![0x40, 2, body[2 + topic_len], body[3 + topic_len]]
                        }
                        12 => vec![0xd0, 0], // PINGREQ → PINGRESP
                        _ => continue,
                    };
                    if s.write_all(&reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let mut p = probe(mqtt(&format!("mqtt://{addr}"), Some("linkpatrol/test")));
    p.timeout = Duration::from_millis(500);
    let clients = Clients::for_checks([&p.check]);
    let o = probe_instance(&clients, &p).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert_eq!(reason(&o), "timed out after 500ms");
}

// ------------------------------------------------------------------------------------------------
// NATS

fn nats(url: &str, subject: Option<&str>) -> Check {
    Check::Nats(NatsCheck {
        url: Text::plain(url),
        subject: subject.map(str::to_owned),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_connects_authenticates_and_round_trips() {
    for (url, subject) in [
        ("nats://127.0.0.1:4222", None),
        ("nats://127.0.0.1:4222", Some("linkpatrol.test")),
        ("nats://linkpatrol_pw:right@127.0.0.1:4223", None),
        (
            "nats://linkpatrol_pw:right@127.0.0.1:4223",
            Some("linkpatrol.test"),
        ),
    ] {
        let o = once(nats(url, subject)).await;
        assert_eq!(o.state, State::Up, "{url} {subject:?}: {o:?}");
    }
}

/// `localhost` may resolve to `::1` first while the server listens on 127.0.0.1 only: the probe
/// tries each address in turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_localhost_tries_each_address() {
    for subject in [None, Some("linkpatrol.test")] {
        let o = once(nats("nats://localhost:4222", subject)).await;
        assert_eq!(o.state, State::Up, "{subject:?}: {o:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_wrong_or_missing_password_fails_clearly() {
    let o = once(nats(
        &format!("nats://linkpatrol_pw:{WRONG}@127.0.0.1:4223"),
        Some("linkpatrol.test"),
    ))
    .await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert_eq!(
        reason(&o),
        "nats authorization violation for user `linkpatrol_pw`: wrong user or password",
        "{o:?}"
    );
    let o = once(nats("nats://127.0.0.1:4223", None)).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert!(
        reason(&o).starts_with("nats authorization violation: the server wants credentials"),
        "{o:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_timeout_holds_against_a_silent_server() {
    let addr = silent().await;
    timeout_holds(nats(&format!("nats://{addr}"), Some("s"))).await;
}

// ------------------------------------------------------------------------------------------------
// gRPC health

fn grpc(url: &str, service: &str, ca_file: Option<&str>) -> Check {
    Check::Grpc(GrpcCheck {
        url: Text::plain(url),
        service: service.to_owned(),
        tls_verify: true,
        ca_file: ca_file.map(Text::plain),
    })
}

/// A tonic-health server: the whole server and `svc.Up` serving, `svc.Down` not serving.
async fn health_server(tls: Option<tonic::transport::ServerTlsConfig>) -> SocketAddr {
    use tonic_health::ServingStatus;
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("svc.Up", ServingStatus::Serving)
        .await;
    reporter
        .set_service_status("svc.Down", ServingStatus::NotServing)
        .await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).unwrap();
    }
    let router = builder.add_service(service);
    tokio::spawn(async move {
        let _keep = reporter;
        router
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_health_statuses() {
    let addr = health_server(None).await;
    let url = format!("http://{addr}");
    for (service, want, why) in [
        ("", State::Up, ""),
        ("svc.Up", State::Up, ""),
        (
            "svc.Down",
            State::Down,
            "gRPC health: service `svc.Down` is NOT_SERVING",
        ),
        (
            "svc.Nope",
            State::Down,
            "gRPC health: the server does not know service `svc.Nope` (NOT_FOUND); check `service:`",
        ),
    ] {
        let o = once(grpc(&url, service, None)).await;
        assert_eq!(o.state, want, "{service}: {o:?}");
        assert_eq!(reason(&o), why, "{service}: {o:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_without_health_service_is_unimplemented() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_routes(tonic::service::Routes::default())
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    let o = once(grpc(&format!("http://{addr}"), "", None)).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert_eq!(
        reason(&o),
        "the server does not implement grpc.health.v1.Health (UNIMPLEMENTED)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_over_tls_verifies_the_certificate() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "linkpatrol grpc test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let identity = tonic::transport::Identity::from_pem(leaf.pem(), leaf_key.serialize_pem());
    let addr = health_server(Some(
        tonic::transport::ServerTlsConfig::new().identity(identity),
    ))
    .await;
    let url = format!("https://localhost:{}", addr.port());
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let o = once(grpc(&url, "svc.Up", Some(ca_path.to_str().unwrap()))).await;
    assert_eq!(o.state, State::Up, "{o:?}");
    let o = once(grpc(&url, "svc.Down", Some(ca_path.to_str().unwrap()))).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    // Without the CA the certificate is not trusted, and the reason says it is the certificate.
    let o = once(grpc(&url, "svc.Up", None)).await;
    assert_eq!(o.state, State::Down, "{o:?}");
    assert!(reason(&o).contains("certificate"), "{o:?}");
    // Plain text to a TLS port fails too, rather than hanging.
    let o = once(grpc(&format!("http://127.0.0.1:{}", addr.port()), "", None)).await;
    assert_eq!(o.state, State::Down, "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_timeout_holds_against_a_silent_server() {
    let addr = silent().await;
    timeout_holds(grpc(&format!("http://{addr}"), "", None)).await;
}

// ------------------------------------------------------------------------------------------------
// The JSON Schema covers the new fields

#[test]
fn schema_covers_the_messaging_and_grpc_fields() {
    let validator = jsonschema::validator_for(&linkpatrol::topology::raw::json_schema()).unwrap();
    let doc = |probe: &str| -> serde_json::Value {
        serde_saphyr::from_str(&format!(
            "version: 1\nname: t\nservices: {{a: {{probe: {probe}}}}}\n"
        ))
        .unwrap()
    };
    for good in [
        "{amqp: {url: \"amqp://u:p@h/%2f\", queue: linkpatrol.probe}}",
        "{mqtt: {url: \"mqtt://h\", topic: linkpatrol/probe}}",
        "{nats: {url: \"nats://h\", subject: linkpatrol.probe}}",
        "{grpc: {url: \"https://h\", service: a.B, tls_verify: false, ca_file: /ca.pem}}",
    ] {
        assert!(validator.is_valid(&doc(good)), "rejected: {good}");
    }
    for bad in [
        "{amqp: {url: \"amqp://h\", queue: \"a b\"}}",
        "{amqp: {url: \"amqp://h\", queeu: x}}",
        "{mqtt: {url: \"mqtt://h\", topic: \"a/#\"}}",
        "{mqtt: {url: \"mqtt://h\", topic: \"$SYS/x\"}}",
        "{nats: {url: \"nats://h\", subject: \"a.*\"}}",
        "{nats: {url: \"nats://h\", subject: \"a..b\"}}",
        "{grpc: {url: \"http://h\", tls_verify: maybe}}",
        "{grpc: {service: x}}",
    ] {
        assert!(!validator.is_valid(&doc(bad)), "accepted: {bad}");
    }
}

// ------------------------------------------------------------------------------------------------
// The README's example, end to end through the binary

#[test]
fn readme_messaging_example_passes_and_never_shows_the_password() {
    let run = |password: &str| {
        let out = assert_cmd::Command::cargo_bin("linkpatrol")
            .unwrap()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("MQ_PASSWORD", password)
            .args(["-f", "examples/topologies/messaging.yaml", "probe"])
            .args(["rabbitmq", "mosquitto", "nats", "--format", "json"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, json) = run("right");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(code, Some(0), "{json}");
    let text = report.to_string();
    assert!(!text.contains("\"down\""), "{text}");
    let wrong = "wrong-password-from-the-environment";
    let (code, json) = run(wrong);
    assert_eq!(code, Some(1), "{json}");
    assert!(!json.contains(wrong), "the password leaked: {json}");
    for words in [
        "amqp login refused for user `linkpatrol_pw`",
        "mqtt login refused for user `linkpatrol_pw`",
        "nats authorization violation for user `linkpatrol_pw`",
    ] {
        assert!(json.contains(words), "no `{words}` in {json}");
    }
}

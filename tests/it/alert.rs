//! Alerts against real local receivers (`receivers::Fake`), which check signatures, bodies and
//! limits the way DingTalk, Feishu/Lark, WeCom and Slack do: `alert test` end to end, retries
//! of a 200 that carries an error code, and a burst batched within DingTalk's rate limit with
//! nothing lost. Time is a `ManualClock`, never a real minute.

use std::collections::BTreeMap;
use std::time::Duration;

use assert_cmd::Command;
use linkpatrol::alert::dispatch::{Clock, ManualClock, Outbox, SystemClock, pump};
use linkpatrol::alert::engine::{AlertKey, AlertKind, Detail, Event, Notification, Severity};
use linkpatrol::alert::receiver;
use linkpatrol::topology::alerts::{Alerts, ReceiverName};

use crate::receivers::Fake;

const SECRET: &str = "SEC0123456789abcdef0123456789abcdef";

fn topology(fake: &Fake, secret_var: &str) -> String {
    format!(
        r#"version: 1
name: shop
links:
  checkout: {{ entry: api }}
services:
  api: {{ owner: web-team, depends_on: {{ db: strong }} }}
  db: {{ owner: db-team }}
alerts:
  receivers:
    ding: {{ type: dingtalk, url: "{ding}?access_token=${{DING_TOKEN}}", secret: "${{{secret_var}}}", mention: ["13800000000", "all"] }}
    fei: {{ type: feishu, url: "{feishu}", secret: "${{{secret_var}}}", mention: [ou_7d8a6e] }}
    lark: {{ type: lark, url: "{lark}", secret: "${{{secret_var}}}" }}
    wecom: {{ type: wecom, url: "{wecom}?key=${{DING_TOKEN}}", mention: [zhangsan] }}
    slack: {{ type: slack, url: "{slack}", mention: [U024BE7LH] }}
    hook: {{ type: webhook, url: "{webhook}" }}
  routes:
    db-team: [ding, fei]
    default: [hook]
"#,
        ding = fake.url("dingtalk"),
        feishu = fake.url("feishu"),
        lark = fake.url("lark"),
        wecom = fake.url("wecom"),
        slack = fake.url("slack"),
        webhook = fake.url("webhook"),
    )
}

fn env(name: &str) -> Option<String> {
    match name {
        "GOOD_SECRET" => Some(SECRET.to_owned()),
        "BAD_SECRET" => Some("SECnot-the-right-one".to_owned()),
        "DING_TOKEN" => Some("tok-abcdef-123456".to_owned()),
        _ => None,
    }
}

fn alerts(fake: &Fake) -> Alerts {
    let src = topology(fake, "GOOD_SECRET");
    linkpatrol::topology::load::load_str_with_env(&src, "t.yaml", &env)
        .unwrap()
        .topology
        .alerts
        .unwrap()
}

fn firing(subject: &str, owner: &str) -> Notification {
    let now = SystemClock.now_ms();
    Notification {
        event: Event::Firing,
        key: AlertKey::new(AlertKind::RootCause, subject),
        severity: Severity::Critical,
        owner: Some(owner.to_owned()),
        detail: Detail {
            state: "down".into(),
            reason: Some("connection refused on 2 of 2 instances".into()),
            links: vec!["checkout".into()],
            services: vec!["api".into(), "frontend".into()],
            causes: vec![],
        },
        since_ms: now,
        at_ms: now,
        streak: 3,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn alert_test(fake: &Fake, secret_var: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.yaml"), topology(fake, secret_var)).unwrap();
    Command::cargo_bin("linkpatrol")
        .unwrap()
        .current_dir(dir.path())
        .env("GOOD_SECRET", SECRET)
        .env("BAD_SECRET", "SECnot-the-right-one")
        .env("DING_TOKEN", "tok-abcdef-123456")
        .args(["-f", "t.yaml", "alert", "test"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn alert_test_reaches_every_receiver_type_signed() {
    let fake = Fake::start(Some(SECRET));
    let out = alert_test(&fake, "GOOD_SECRET", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "ding (dingtalk): accepted",
        "fei (feishu): accepted",
        "lark (lark): accepted",
        "wecom (wecom): accepted",
        "slack (slack): accepted",
        "hook (webhook): accepted",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(
        stdout.contains(r#"HTTP 200 {"errcode":0,"errmsg":"ok"}"#),
        "{stdout}"
    );
    let got = fake.accepted();
    assert_eq!(got.len(), 6);
    // What each receiver got: DingTalk markdown with its mentions, a Feishu card, WeCom markdown.
    let ding = got.iter().find(|r| r.kind == "dingtalk").unwrap();
    assert_eq!(ding.query["access_token"], "tok-abcdef-123456");
    assert_eq!(ding.body["at"]["atMobiles"][0], "13800000000");
    assert_eq!(ding.body["at"]["isAtAll"], true);
    assert!(
        ding.body["markdown"]["text"]
            .as_str()
            .unwrap()
            .contains("@13800000000")
    );
    let fei = got.iter().find(|r| r.kind == "feishu").unwrap();
    assert_eq!(fei.body["msg_type"], "interactive");
    assert!(
        fei.body["card"]["elements"][0]["text"]["content"]
            .as_str()
            .unwrap()
            .contains("<at id=ou_7d8a6e></at>")
    );
    let wecom = got.iter().find(|r| r.kind == "wecom").unwrap();
    assert!(
        wecom.body["markdown"]["content"]
            .as_str()
            .unwrap()
            .contains("<@zhangsan>")
    );
    // Neither the secret nor the token is printed.
    for secret in [SECRET, "tok-abcdef-123456"] {
        assert!(!stdout.contains(secret));
        assert!(!String::from_utf8_lossy(&out.stderr).contains(secret));
    }
}

#[test]
fn a_wrong_secret_is_refused_and_said_so() {
    let fake = Fake::start(Some(SECRET));
    let out = alert_test(&fake, "BAD_SECRET", &["ding"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("ding (dingtalk): refused: errcode 310000: sign not match"),
        "{stdout}"
    );
    let out = alert_test(&fake, "BAD_SECRET", &["fei"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("fei (feishu): refused: code 19021"),
        "{stdout}"
    );
    assert!(!stdout.contains("SECnot-the-right-one"));
}

#[test]
fn an_unknown_receiver_is_a_usage_error_with_a_suggestion() {
    let fake = Fake::start(Some(SECRET));
    let out = alert_test(&fake, "GOOD_SECRET", &["dingg"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no receiver `dingg` under `alerts.receivers` (did you mean `ding`?)"),
        "{stderr}"
    );
    assert!(fake.received().is_empty());
}

#[test]
fn a_200_with_an_error_code_is_retried_until_accepted() {
    let fake = Fake::start(Some(SECRET));
    let alerts = alerts(&fake);
    let client = receiver::client().unwrap();
    let clock = ManualClock::at(SystemClock.now_ms());
    let mut outbox = Outbox::new(&alerts, "shop", None);
    fake.refuse_next("dingtalk", 2);
    let routed = outbox.enqueue(&alerts, &firing("order-db", "db-team"));
    let routed: Vec<&str> = routed.iter().map(ReceiverName::as_str).collect();
    assert_eq!(routed, ["ding", "fei"]);
    let rt = runtime();
    let first = rt.block_on(pump(&mut outbox, &client, &clock));
    let ding: Vec<_> = first
        .iter()
        .filter(|d| d.receiver.as_str() == "ding")
        .collect();
    assert_eq!(ding.len(), 1);
    assert!(!ding[0].accepted);
    let answer = ding[0].result.as_ref().unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.verdict,
        Err("errcode 130101: send too fast, exceed 20 times per minute".into())
    );
    assert!(
        first
            .iter()
            .any(|d| d.receiver.as_str() == "fei" && d.accepted)
    );
    // Not again before the backoff.
    assert!(rt.block_on(pump(&mut outbox, &client, &clock)).is_empty());
    clock.advance(Duration::from_secs(2));
    let second = rt.block_on(pump(&mut outbox, &client, &clock));
    assert_eq!(second.len(), 1);
    assert!(!second[0].accepted);
    assert_eq!(second[0].attempt, 2);
    clock.advance(Duration::from_secs(4));
    let third = rt.block_on(pump(&mut outbox, &client, &clock));
    assert_eq!(third.len(), 1);
    assert!(third[0].accepted, "{:?}", third[0].result);
    assert_eq!(third[0].attempt, 3);
    assert_eq!(outbox.pending(), 0);
    let ding: Vec<_> = fake
        .received()
        .into_iter()
        .filter(|r| r.kind == "dingtalk")
        .collect();
    assert_eq!(ding.len(), 3);
    let texts: Vec<&str> = ding
        .iter()
        .map(|r| r.body["markdown"]["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.iter().all(|t| *t == texts[0]),
        "the same message each time"
    );
}

#[test]
fn a_burst_of_50_root_causes_to_dingtalk_stays_within_20_a_minute_and_loses_nothing() {
    let fake = Fake::start(Some(SECRET));
    let alerts = alerts(&fake);
    let client = receiver::client().unwrap();
    let start = SystemClock.now_ms();
    let clock = ManualClock::at(start);
    let mut outbox = Outbox::new(&alerts, "shop", None);
    let ding = alerts.receiver("ding").unwrap().name.clone();
    for i in 0..50 {
        outbox.enqueue_to(&ding, firing(&format!("db-{i:02}"), "db-team"));
    }
    let rt = runtime();
    let mut deliveries = Vec::new();
    // Three simulated minutes in one-second steps.
    for _ in 0..180 {
        deliveries.extend(rt.block_on(pump(&mut outbox, &client, &clock)));
        clock.advance(Duration::from_secs(1));
    }
    assert!(deliveries.iter().all(|d| d.accepted), "{deliveries:?}");
    for d in &deliveries {
        let in_minute = deliveries
            .iter()
            .filter(|e| e.at_ms >= d.at_ms && e.at_ms < d.at_ms + 60_000)
            .count();
        assert!(
            in_minute <= 20,
            "{in_minute} messages in the minute from {}",
            d.at_ms
        );
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for d in &deliveries {
        for a in &d.alerts {
            *seen.entry(a.clone()).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), 50, "every root cause delivered");
    assert!(seen.values().all(|&n| n == 1), "none twice: {seen:?}");
    // What the receiver got holds every root cause, each with its signature checked.
    let received = fake.accepted();
    assert_eq!(received.len(), deliveries.len());
    assert!(received.len() <= 20);
    let all_text: String = received
        .iter()
        .map(|r| r.body["markdown"]["text"].as_str().unwrap().to_owned())
        .collect();
    for i in 0..50 {
        assert!(
            all_text.contains(&format!("db-{i:02} is down")),
            "db-{i:02}"
        );
    }
}

#[test]
fn batches_fit_each_receivers_size_limit() {
    let fake = Fake::start(Some(SECRET));
    let alerts = alerts(&fake);
    let client = receiver::client().unwrap();
    let clock = ManualClock::at(SystemClock.now_ms());
    let mut outbox = Outbox::new(&alerts, "shop", Some("http://127.0.0.1:9464/"));
    for name in ["wecom", "slack", "lark"] {
        let r = alerts.receiver(name).unwrap().name.clone();
        for i in 0..40 {
            outbox.enqueue_to(&r, firing(&format!("cache-{i:02}"), "db-team"));
        }
    }
    let rt = runtime();
    let mut deliveries = Vec::new();
    for _ in 0..300 {
        deliveries.extend(rt.block_on(pump(&mut outbox, &client, &clock)));
        clock.advance(Duration::from_secs(1));
    }
    assert!(deliveries.iter().all(|d| d.accepted), "{deliveries:?}");
    assert_eq!(outbox.pending(), 0);
    for name in ["wecom", "slack", "lark"] {
        let n: usize = deliveries
            .iter()
            .filter(|d| d.receiver.as_str() == name)
            .map(|d| d.alerts.len())
            .sum();
        assert_eq!(n, 40, "{name}");
    }
}

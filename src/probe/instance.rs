//! One probe of one instance: attempts under a hard per-attempt timeout, retries, the `slow`
//! threshold, and scrubbing of every reason.

use std::time::{Duration, Instant};

use super::client::{Clients, TlsSetting};
use super::outcome::{ProbeOutcome, Scrubber, Verdict};
use super::{amqp, db, dns, exec, grpc, http, mqtt, nats, prometheus, tcp, tls};
use crate::duration::show as human_duration;
use crate::state::State;
use crate::topology::model::{Check, DbCheck, Probe, RedisCheck, Text, split_host_port};

/// Probes one instance: up to `1 + retries` attempts, each bounded by `probe.timeout`
/// (connect, TLS, headers and body together). A definite answer (up, or degraded by a
/// warning) ends the attempts; a failure or timeout tries again after [`backoff`].
pub async fn probe_instance(clients: &Clients, probe: &Probe) -> ProbeOutcome {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = probe_attempt(clients, probe, attempts).await;
        if wants_retry(probe, &outcome) {
            // Backoff: 100 ms, 200 ms, 400 ms … at most 2 s, so a refused port is not
            // hammered; the run's deadline still cancels the wait.
            tokio::time::sleep(backoff(attempts)).await;
            continue;
        }
        return outcome;
    }
}

/// Attempt number `attempts` (1-based) of a probe, bounded by `probe.timeout`, its reason
/// scrubbed, `slow` applied. The runner calls this once per attempt and queues a retry (see
/// [`wants_retry`]) behind every first attempt; [`probe_instance`] loops over it.
pub async fn probe_attempt(clients: &Clients, probe: &Probe, attempts: u32) -> ProbeOutcome {
    let scrubber = Scrubber::new(probe.check.texts());
    let start = Instant::now();
    let verdict = match tokio::time::timeout(probe.timeout, attempt(clients, probe)).await {
        Ok(v) => v,
        Err(_) => Verdict::down(format!("timed out after {}", human_duration(probe.timeout))),
    };
    let latency = start.elapsed();
    let verdict = scrubber.verdict(verdict);
    let mut outcome = ProbeOutcome {
        state: verdict.state,
        latency: Some(latency),
        reason: verdict.reason,
        attempts,
        slow: false,
        phases: verdict.phases,
    };
    if outcome.state == State::Up {
        let mut slow = Vec::new();
        if latency > probe.slow {
            slow.push(format!(
                "answered in {}, threshold {}",
                human_duration(round_ms(latency)),
                human_duration(probe.slow)
            ));
        }
        if let (Check::Http(h), Some(phases)) = (&probe.check, &outcome.phases) {
            for &(phase, limit) in &h.slow_phases {
                let took = phases.get(phase);
                if took > limit {
                    slow.push(format!(
                        "{}, threshold {}",
                        phase.took(&human_duration(round_ms(took))),
                        human_duration(limit)
                    ));
                }
            }
        }
        if !slow.is_empty() {
            outcome.state = State::Degraded;
            outcome.slow = true;
            outcome.reason = Some(format!("slow: {}", slow.join("; ")));
        }
    }
    outcome
}

/// Whether an attempt's outcome calls for another attempt: it failed, and retries are left.
pub fn wants_retry(probe: &Probe, outcome: &ProbeOutcome) -> bool {
    matches!(outcome.state, State::Down | State::Unknown) && outcome.attempts <= probe.retries
}

/// The pause after failed attempt `n` (1-based).
pub fn backoff(n: u32) -> Duration {
    Duration::from_millis(100u64 << n.saturating_sub(1).min(5)).min(Duration::from_secs(2))
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

async fn attempt(clients: &Clients, probe: &Probe) -> Verdict {
    let check = &probe.check;
    let setting = TlsSetting::of(check);
    match check {
        Check::Http(h) => {
            match clients.http_tls(setting.as_ref().expect("http has a TLS setting")) {
                Ok(config) => http::check(&config, clients.resolver(), h).await,
                Err(reason) => Verdict::unknown(reason),
            }
        }
        Check::Prometheus(p) => match clients.http(setting.as_ref().expect("has a TLS setting")) {
            Ok(client) => prometheus::check(&client, p).await,
            Err(reason) => Verdict::unknown(reason),
        },
        Check::Tcp(t) => tcp::check(clients.resolver(), t).await,
        Check::Tls(t) => match clients.tls(setting.as_ref().expect("tls has a TLS setting")) {
            Ok(config) => tls::check(config, clients.resolver(), t).await,
            Err(reason) => Verdict::unknown(reason),
        },
        Check::Dns(d) => dns::check(d, probe.timeout).await,
        Check::Redis(r) => {
            let setting = setting.as_ref().expect("redis has a TLS setting");
            db::redis(clients.tls(setting), clients.resolver(), r).await
        }
        Check::Postgres(p) => {
            let setting = setting.as_ref().expect("postgres has a TLS setting");
            db::postgres(clients.tls(setting), clients.resolver(), p).await
        }
        Check::Mysql(m) => db::mysql(clients.resolver(), m).await,
        Check::Exec(e) => exec::check(e).await,
        Check::Amqp(a) => amqp::check(clients.resolver(), a).await,
        Check::Mqtt(m) => mqtt::check(clients.resolver(), m, probe.timeout).await,
        Check::Nats(n) => nats::check(clients.resolver(), n, probe.timeout).await,
        Check::Grpc(g) => {
            let setting = setting.as_ref().expect("grpc has a TLS setting");
            grpc::check(clients.tls(setting), clients.resolver(), g).await
        }
    }
}

/// The host a check talks to, for the per-host concurrency limit; `None` for local commands.
pub fn host_of(check: &Check) -> Option<String> {
    let from_url = |t: &Text| {
        reqwest::Url::parse(t.expose())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
    };
    match check {
        Check::Http(h) => from_url(&h.url),
        Check::Prometheus(p) => from_url(&p.url),
        Check::Redis(RedisCheck { url, .. }) | Check::Mysql(DbCheck { url, .. }) => from_url(url),
        Check::Amqp(a) => from_url(&a.url),
        Check::Mqtt(m) => from_url(&m.url),
        Check::Nats(n) => from_url(&n.url),
        Check::Grpc(g) => from_url(&g.url),
        Check::Postgres(u) => from_url(&u.url).or_else(|| {
            // key=value DSN: `host=… port=…`
            u.url
                .expose()
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("host=").map(str::to_owned))
        }),
        Check::Tcp(t) => Some(split_host_port(t.address.expose()).0.to_owned()),
        Check::Tls(t) => Some(split_host_port(t.address.expose()).0.to_owned()),
        Check::Dns(d) => d
            .server
            .as_ref()
            .map(|s| split_host_port(s.expose()).0.to_owned()),
        Check::Exec(_) => None,
    }
}

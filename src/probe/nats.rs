//! `nats` check: connect, authenticate (user and password, or a token, from the URL); with
//! `subject:`, a request/reply round trip in which the probe is its own responder: it subscribes
//! to the subject, sends a request with a payload unique to the attempt to a fresh reply inbox,
//! echoes every request it receives, and checks that the reply carries its own payload. This
//! proves publish, subscribe and routing, with nothing left behind (core NATS keeps nothing).
//!
//! The client never retries the first connect, reconnects at most once (async-nats's
//! `max_reconnects(0)` means *unlimited*), and dropping it (the probe's timeout) ends its
//! connection task. Names are resolved by the probe's resolver first.

use std::time::Duration;

use futures_util::StreamExt as _;
use percent_encoding::percent_decode_str;

use super::endpoint::Endpoint;
use super::nonce::nonce;
use super::outcome::{Verdict, describe_error, excerpt};
use super::resolve::NameResolver;
use crate::topology::model::NatsCheck;

/// Runs one attempt of a `nats` check; `timeout` is the probe's.
pub async fn check(resolver: &NameResolver, check: &NatsCheck, timeout: Duration) -> Verdict {
    let endpoint = match Endpoint::parse(
        &check.url,
        &["nats"],
        "`nats://` (tls:// is not supported yet)",
        |_| 4222,
    ) {
        Ok(e) => e,
        Err(verdict) => return verdict,
    };
    let (url, host, port) = (&endpoint.url, endpoint.host.as_str(), endpoint.port);
    let ips = match resolver.lookup(host).await {
        Ok(ips) => ips,
        Err(reason) => return Verdict::down(reason),
    };
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let user = decode(url.username());
    // Each address in turn while nobody listens there (`localhost` may be `::1` first, with
    // the server on 127.0.0.1 only); any other answer is the verdict.
    let last = ips.len() - 1;
    let mut client = None;
    for (i, ip) in ips.into_iter().enumerate() {
        // The client's own limits sit past the probe's, so the caller's timeout always decides
        // and says so ("timed out after 400ms"); equal limits raced it.
        let own = timeout + Duration::from_millis(500);
        let mut options = async_nats::ConnectOptions::new()
            .name("linkpatrol")
            .connection_timeout(own)
            .request_timeout(Some(own))
            .ignore_discovered_servers()
            .max_reconnects(1);
        options = match url.password() {
            Some(p) => options.user_and_password(user.clone(), decode(p)),
            None if !user.is_empty() => options.token(user.clone()),
            None => options,
        };
        let address = std::net::SocketAddr::new(ip, port).to_string();
        match options.connect(address).await {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(e) if i < last && super::db::refused(&e) => {}
            Err(e) => return Verdict::down(connect_reason(&e, &user, url.password().is_some())),
        }
    }
    let Some(client) = client else {
        unreachable!("the resolver returns at least one address, and the last one decides");
    };
    let verdict = match &check.subject {
        Some(subject) => round_trip(&client, subject).await,
        None => match client.flush().await {
            Ok(()) => Verdict::up(),
            Err(e) => Verdict::down(format!("nats flush failed: {}", describe_error(&e))),
        },
    };
    drop(client);
    verdict
}

async fn round_trip(client: &async_nats::Client, subject: &str) -> Verdict {
    let mut requests = match client.subscribe(subject.to_owned()).await {
        Ok(s) => s,
        Err(e) => {
            return Verdict::down(format!(
                "subscribing to `{subject}` failed: {}",
                describe_error(&e)
            ));
        }
    };
    let payload = format!("linkpatrol probe {}", nonce());
    // The responder echoes every request on the subject (another prober's too) until the
    // probe's own reply is in.
    let responder = async {
        while let Some(msg) = requests.next().await {
            if let Some(reply) = msg.reply {
                let _ = client.publish(reply, msg.payload).await;
                let _ = client.flush().await;
            }
        }
        std::future::pending::<()>().await;
    };
    let request = client.request(subject.to_owned(), payload.clone().into());
    tokio::select! {
        reply = request => match reply {
            Ok(msg) if msg.payload.as_ref() == payload.as_bytes() => Verdict::up(),
            Ok(msg) => Verdict::down(format!(
                "the reply on `{subject}` is not the probe's echo: `{}`",
                excerpt(&String::from_utf8_lossy(&msg.payload), 80)
            )),
            Err(e) => Verdict::down(match e.kind() {
                async_nats::RequestErrorKind::NoResponders => format!(
                    "no responders on `{subject}`: the probe's own subscription did not take effect (permissions?)"
                ),
                async_nats::RequestErrorKind::TimedOut => format!(
                    "no reply on `{subject}` in time (publish or subscribe permission missing?)"
                ),
                _ => format!("request on `{subject}` failed: {}", describe_error(&e)),
            }),
        },
        () = responder => Verdict::unknown("the responder ended"),
    }
}

fn connect_reason(e: &async_nats::ConnectError, user: &str, has_password: bool) -> String {
    use async_nats::ConnectErrorKind as K;
    match e.kind() {
        K::AuthorizationViolation if user.is_empty() => {
            "nats authorization violation: the server wants credentials; put them in the url, `nats://user:${PASSWORD}@host`".to_owned()
        }
        K::AuthorizationViolation if has_password => {
            format!("nats authorization violation for user `{user}`: wrong user or password")
        }
        K::AuthorizationViolation => "nats authorization violation: wrong token".to_owned(),
        K::TimedOut => "no INFO from the server in time (is this a NATS server?)".to_owned(),
        _ => describe_error(e),
    }
}

//! What the probe tests against real servers share: a probe of one check with generous limits,
//! one run of it, its reason, and a listener that accepts and never answers.

use std::net::SocketAddr;
use std::time::Duration;

use linkpatrol::probe::client::Clients;
use linkpatrol::probe::{ProbeOutcome, probe_instance};
use linkpatrol::topology::model::{Check, Probe};
use tokio::net::TcpListener;

/// A probe of `check` with limits long enough never to be tight here (not a speed target).
pub fn probe(check: Check) -> Probe {
    Probe {
        check,
        timeout: Duration::from_secs(5),
        retries: 0,
        slow: Duration::from_secs(5),
    }
}

/// One run of `check`, with the clients it needs.
pub async fn once(check: Check) -> ProbeOutcome {
    let p = probe(check);
    let clients = Clients::for_checks([&p.check]);
    probe_instance(&clients, &p).await
}

/// The outcome's reason, `""` when there is none.
pub fn reason(o: &ProbeOutcome) -> &str {
    o.reason.as_deref().unwrap_or("")
}

/// A listener on 127.0.0.1 that accepts every connection and never sends a byte.
pub async fn silent() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

//! The demo fleet: every service of the bundled `topology.yaml`, answering its probe in its own
//! protocol on loopback, in this process (`linkpatrol demo`, SPEC §4).
//!
//! [`Fleet::start`] binds every port of a [`Plan`] before it serves any, so a busy port is one
//! clear error ([`DemoError::PortInUse`]) and never half a fleet. The fleet runs on its own
//! small tokio runtime, so a caller on a plain thread (the probe engine builds its own runtime)
//! can probe it; dropping the [`Fleet`] stops it and frees its ports.
//!
//! One module per protocol, each the server side of what the matching probe sends:
//! [`http`] (axum), [`prometheus`] (the `/api/v1/query` API, axum), [`tcp`] (the receipt
//! printer's `STATUS` line, and a bare port for the `exec` check), [`tls`] (rustls with a
//! certificate made by rcgen at start), [`redis`] (RESP through `redis-protocol`), [`mysql`]
//! (the handshake, `mysql_native_password` and text-protocol result sets, packets built by
//! `mysql_common`), [`amqp`] (a toy AMQP 0-9-1 broker for the message queue's queue round
//! trip).
//!
//! [`Plan::bundled`] is the story the demo tells, so that the report has something to say:
//! most services healthy, `sms-provider-a` slow, `config-center` failing (its certificate
//! expired: a root cause whose dependents degrade), and `platform-callback`'s second instance
//! down (the link keeps working on its last instance: a live SPOF that is not a design one).
//!
//! Neighbours: nothing in the pipeline imports this module; `commands::demo` starts a fleet and
//! points the ordinary probe and report code at it.

pub mod amqp;
pub mod http;
pub mod mysql;
pub mod prometheus;
pub mod redis;
pub mod tcp;
pub mod tls;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

/// The bundled topology, as committed beside `Cargo.toml`: the demo works from any directory.
pub const TOPOLOGY: &str = include_str!("../../topology.yaml");

/// The address every instance of [`TOPOLOGY`] is written with.
pub const BUNDLED_HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// How long the slow service takes to answer: well over the bundled `slow: 300ms`, well under
/// its `timeout: 2s`.
pub const SLOW_ANSWER: Duration = Duration::from_millis(450);

/// [`TOPOLOGY`] with every `127.0.0.1` replaced by `host`, for a fleet started elsewhere on
/// loopback (tests run several fleets at once on `127.0.0.2`, `127.0.0.3`, …).
pub fn topology_for(host: IpAddr) -> String {
    if host == IpAddr::V4(BUNDLED_HOST) {
        TOPOLOGY.to_owned()
    } else {
        TOPOLOGY.replace("127.0.0.1", &host.to_string())
    }
}

/// The protocol an endpoint speaks, and for HTTP which service's contract it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// An HTTP service of the bundled file.
    Http(http::Role),
    /// The Prometheus query API (`analytics`' error rate).
    Prometheus,
    /// The receipt printer's line protocol: `STATUS` → `READY`.
    ReceiptPrinter,
    /// A TCP port that accepts connections and nothing else (what the `exec` check opens).
    Port,
    /// A TLS server (handshake only).
    Tls,
    /// A Redis server (RESP2: `AUTH`, `SELECT`, `PING`, `INFO`, `QUIT`).
    Redis,
    /// A MySQL server: handshake, authentication, `SELECT` of literals and `@@` variables.
    Mysql,
    /// An AMQP 0-9-1 broker: login, channel, `queue.declare`, confirmed publish, `basic.get`.
    Amqp,
}

/// How an endpoint answers its probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Correctly, at once.
    Healthy,
    /// Correctly, after this long.
    Slow(Duration),
    /// In its own protocol, but wrongly: HTTP 503, an expired certificate, a Redis `-LOADING`
    /// error, MySQL "Too many connections", a Prometheus value over the threshold. A bare
    /// [`Protocol::Port`] has nothing to answer wrongly and refuses connections instead.
    Failing,
    /// Not at all: the port is held (bound, never listened on), so connections are refused.
    Refused,
}

/// One instance of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The service it stands for.
    pub service: &'static str,
    /// Its port (the host is the fleet's).
    pub port: u16,
    /// What it speaks.
    pub protocol: Protocol,
    /// How it answers.
    pub answer: Answer,
}

/// The endpoints of a fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Every endpoint, one per instance address.
    pub endpoints: Vec<Endpoint>,
}

impl Plan {
    /// The demo's story over the bundled topology (see the module docs).
    pub fn bundled() -> Self {
        use Answer::{Failing, Healthy, Refused, Slow};
        use Protocol::{Amqp, Http, Mysql, Prometheus, ReceiptPrinter, Redis, Tls};
        use http::Role;
        let e = |service, port, protocol, answer| Endpoint {
            service,
            port,
            protocol,
            answer,
        };
        Self {
            endpoints: vec![
                e(
                    "platform-callback",
                    18080,
                    Http(Role::PlatformCallback),
                    Healthy,
                ),
                // The second edge instance is down: the order link runs on its last instance.
                e(
                    "platform-callback",
                    18081,
                    Http(Role::PlatformCallback),
                    Refused,
                ),
                e("order-gateway", 18100, Http(Role::OrderGateway), Healthy),
                e("order-gateway", 18101, Http(Role::OrderGateway), Healthy),
                e("auth", 18200, Http(Role::Auth), Healthy),
                e("auth", 18201, Http(Role::Auth), Healthy),
                e("order-service", 18300, Http(Role::OrderService), Healthy),
                e("order-service", 18301, Http(Role::OrderService), Healthy),
                e("merchant-push", 18400, Http(Role::MerchantPush), Healthy),
                e("merchant-push", 18401, Http(Role::MerchantPush), Healthy),
                e("receipt-printer", 18500, ReceiptPrinter, Healthy),
                e("mysql-primary", 18600, Mysql, Healthy),
                e("mysql-replica", 18601, Mysql, Healthy),
                e("redis", 18700, Redis, Healthy),
                e("redis", 18701, Redis, Healthy),
                e("redis", 18702, Redis, Healthy),
                e("message-queue", 18800, Amqp, Healthy),
                e("message-queue", 18801, Amqp, Healthy),
                e("message-queue", 18802, Amqp, Healthy),
                // The slow one: a backup SMS channel, so nothing else suffers.
                e(
                    "sms-provider-a",
                    18900,
                    Http(Role::SmsProviderA),
                    Slow(SLOW_ANSWER),
                ),
                e("sms-provider-b", 18901, Http(Role::SmsProviderB), Healthy),
                // The failing one: both instances serve a certificate that expired three days
                // ago. The gateway and the printer fall back to cached config (weak edges).
                e("config-center", 18950, Tls, Failing),
                e("config-center", 18951, Tls, Failing),
                e("analytics", 18990, Prometheus, Healthy),
            ],
        }
    }

    /// The same plan with the answer of every endpoint of `service` replaced.
    #[must_use]
    pub fn with_answer(mut self, service: &str, answer: Answer) -> Self {
        for e in &mut self.endpoints {
            if e.service == service {
                e.answer = answer;
            }
        }
        self
    }
}

/// Why a fleet could not start. Every variant is a failure of the tool's environment (exit 3),
/// never of the user's input.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Another process already listens on a port the fleet needs.
    #[error(
        "port {address} (`{service}`) is already in use; is another `linkpatrol demo --serve` \
         running? Stop it, or free the port (`ss -ltnp 'sport = :{port}'` shows who holds it)",
        port = address.port()
    )]
    PortInUse {
        /// The address that was busy.
        address: SocketAddr,
        /// The service the fleet wanted to serve there.
        service: String,
    },
    /// Any other failure to bind.
    #[error("cannot bind {address} (`{service}`)")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The service.
        service: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The fleet's runtime could not be built.
    #[error("cannot start the demo fleet's runtime")]
    Runtime(#[source] io::Error),
    /// The TLS material could not be made.
    #[error("cannot make the demo certificate: {0}")]
    Certificate(String),
}

/// A running fleet. Dropping it stops every server and frees every port.
pub struct Fleet {
    host: IpAddr,
    plan: Plan,
    runtime: Option<tokio::runtime::Runtime>,
    stop: watch::Sender<bool>,
    /// Sockets bound for [`Answer::Refused`] endpoints: held so nobody else takes the port,
    /// never listened on, so the kernel refuses every connection.
    _held: Vec<TcpSocket>,
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("host", &self.host)
            .field("endpoints", &self.plan.endpoints.len())
            .finish_non_exhaustive()
    }
}

/// What a server task needs besides its listener.
#[derive(Clone)]
pub(crate) struct Serving {
    pub(crate) answer: Answer,
    pub(crate) stop: watch::Receiver<bool>,
}

impl Serving {
    /// Waits for the fleet to stop.
    pub(crate) async fn stopped(mut self) {
        let _ = self.stop.wait_for(|s| *s).await;
    }

    /// Sleeps for a slow answer's delay; returns at once otherwise.
    pub(crate) async fn delay(&self) {
        if let Answer::Slow(d) = self.answer {
            tokio::time::sleep(d).await;
        }
    }
}

impl Fleet {
    /// Binds every endpoint of `plan` on `host`, then serves them all on a runtime of its own.
    /// Nothing is served unless every port could be bound.
    pub fn start(host: IpAddr, plan: Plan) -> Result<Self, DemoError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("demo-fleet")
            .enable_all()
            .build()
            .map_err(DemoError::Runtime)?;
        let guard = runtime.enter();
        let mut listeners = Vec::new();
        let mut held = Vec::new();
        for endpoint in &plan.endpoints {
            let address = SocketAddr::new(host, endpoint.port);
            let refuse = endpoint.answer == Answer::Refused
                || (endpoint.protocol == Protocol::Port && endpoint.answer == Answer::Failing);
            if refuse {
                held.push(hold(address, endpoint.service)?);
            } else {
                listeners.push((endpoint, listen(address, endpoint.service)?));
            }
        }
        let tls = if plan.endpoints.iter().any(|e| e.protocol == Protocol::Tls) {
            Some(tls::Material::generate()?)
        } else {
            None
        };
        let (stop, stop_rx) = watch::channel(false);
        for (endpoint, listener) in listeners {
            let serving = Serving {
                answer: endpoint.answer,
                stop: stop_rx.clone(),
            };
            match endpoint.protocol {
                Protocol::Http(role) => {
                    runtime.spawn(http::serve(listener, role, serving));
                }
                Protocol::Prometheus => {
                    runtime.spawn(prometheus::serve(listener, serving));
                }
                Protocol::ReceiptPrinter => {
                    runtime.spawn(tcp::serve_printer(listener, serving));
                }
                Protocol::Port => {
                    runtime.spawn(tcp::serve_port(listener, serving));
                }
                Protocol::Tls => {
                    let material = tls.as_ref().expect("made above");
                    let config = Arc::clone(if endpoint.answer == Answer::Failing {
                        &material.expired
                    } else {
                        &material.valid
                    });
                    runtime.spawn(tls::serve(listener, config, serving));
                }
                Protocol::Redis => {
                    runtime.spawn(redis::serve(listener, serving));
                }
                Protocol::Mysql => {
                    runtime.spawn(mysql::serve(listener, serving));
                }
                Protocol::Amqp => {
                    runtime.spawn(amqp::serve(listener, serving));
                }
            }
        }
        drop(guard);
        Ok(Self {
            host,
            plan,
            runtime: Some(runtime),
            stop,
            _held: held,
        })
    }

    /// The bundled story on the bundled addresses (`127.0.0.1:18xxx`).
    pub fn start_bundled() -> Result<Self, DemoError> {
        Self::start(IpAddr::V4(BUNDLED_HOST), Plan::bundled())
    }

    /// The host every endpoint is bound on.
    pub fn host(&self) -> IpAddr {
        self.host
    }

    /// The plan it serves.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Lowest and highest port of the fleet.
    pub fn port_range(&self) -> (u16, u16) {
        let ports = self.plan.endpoints.iter().map(|e| e.port);
        (ports.clone().min().unwrap_or(0), ports.max().unwrap_or(0))
    }

    /// Blocks the calling thread until Ctrl-C or SIGTERM (for `demo --serve`).
    pub fn wait_for_interrupt(&self) -> io::Result<()> {
        let runtime = self.runtime.as_ref().expect("running until dropped");
        runtime.block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        })
    }

    /// Stops every server and waits (briefly) until their ports are closed.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn bind_error(address: SocketAddr, service: &str, source: io::Error) -> DemoError {
    if source.kind() == io::ErrorKind::AddrInUse {
        DemoError::PortInUse {
            address,
            service: service.to_owned(),
        }
    } else {
        DemoError::Bind {
            address,
            service: service.to_owned(),
            source,
        }
    }
}

fn socket_for(address: SocketAddr, service: &str, reuse: bool) -> Result<TcpSocket, DemoError> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| bind_error(address, service, e))?;
    socket
        .set_reuseaddr(reuse)
        .map_err(|e| bind_error(address, service, e))?;
    socket
        .bind(address)
        .map_err(|e| bind_error(address, service, e))?;
    Ok(socket)
}

fn listen(address: SocketAddr, service: &str) -> Result<TcpListener, DemoError> {
    // SO_REUSEADDR, as every server sets it: a restarted fleet must not wait out its old
    // connections' TIME_WAIT. Linux still refuses to bind next to a listener, so a busy port
    // is seen.
    socket_for(address, service, true)?
        .listen(128)
        .map_err(|e| bind_error(address, service, e))
}

/// Binds without listening: the port is ours, and connections to it are refused. Without
/// SO_REUSEADDR (a held port never accepts, so has no TIME_WAIT to wait out), so that no other
/// server can take the port while the fleet holds it.
fn hold(address: SocketAddr, service: &str) -> Result<TcpSocket, DemoError> {
    socket_for(address, service, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_covers_every_instance_of_the_bundled_topology() {
        let topology = crate::topology::load::load_str(TOPOLOGY, "topology.yaml").unwrap();
        let plan = Plan::bundled();
        let mut planned: Vec<(String, u16)> = plan
            .endpoints
            .iter()
            .map(|e| (e.service.to_owned(), e.port))
            .collect();
        planned.sort();
        let mut written: Vec<(String, u16)> = Vec::new();
        for (_, service) in topology.iter_services() {
            for instance in &service.instances {
                if let Some(address) = &instance.address {
                    let (_, port) = address.rsplit_once(':').unwrap();
                    written.push((service.name.as_str().to_owned(), port.parse().unwrap()));
                }
            }
        }
        // analytics has no instance address: its probe names the Prometheus URL itself.
        assert!(TOPOLOGY.contains("url: http://127.0.0.1:18990"));
        written.push(("analytics".to_owned(), 18990));
        written.sort();
        assert_eq!(planned, written);
    }

    #[test]
    fn topology_for_another_host_moves_every_address() {
        let moved = topology_for("127.0.0.9".parse().unwrap());
        assert!(!moved.contains("127.0.0.1"));
        assert_eq!(
            moved.matches("127.0.0.9:").count(),
            TOPOLOGY.matches("127.0.0.1:").count()
        );
    }
}

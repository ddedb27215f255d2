//! Name resolution for every probe that connects by name (`http`, `prometheus`, `tcp`, `tls`,
//! `redis`, `postgres`, `mysql`): hickory's async resolver, built once per run from
//! `/etc/resolv.conf` and `/etc/hosts`.
//!
//! Why not the system's `getaddrinfo`: it blocks a thread for as long as the resolver takes
//! (glibc: 5 s × 2 attempts by default, more with several servers), a timeout cannot cancel it,
//! and the runtime then waits for that thread before the process can exit. A lookup here is a
//! future like any other: the probe's timeout and the run's deadline cancel it by dropping it.
//!
//! There is no fallback to a public resolver: when the system configuration cannot be read,
//! every lookup fails with that reason, and a probe never reaches a DNS server the machine
//! does not name. IP literals are never looked up.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{Resolver, TokioResolver};
use tokio::net::TcpStream;

use super::outcome::describe_error;
use crate::topology::model::split_host_port;

/// The resolver of one run, shared by every probe (cheap to clone).
#[derive(Clone)]
pub struct NameResolver {
    inner: Arc<Result<TokioResolver, String>>,
}

impl std::fmt::Debug for NameResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameResolver")
            .field("ready", &self.inner.is_ok())
            .finish()
    }
}

impl Default for NameResolver {
    fn default() -> Self {
        Self::system()
    }
}

impl NameResolver {
    /// The system's configuration (`/etc/resolv.conf`, `/etc/hosts`).
    pub fn system() -> Self {
        let built = TokioResolver::builder_tokio()
            .map_err(|e| format!("cannot read the system resolver configuration: {e}"))
            .and_then(|mut b| {
                tune(b.options_mut());
                b.build()
                    .map_err(|e| format!("cannot build the resolver: {e}"))
            });
        Self {
            inner: Arc::new(built),
        }
    }

    /// A resolver asking only `servers` (UDP and TCP), e.g. an in-test server on loopback.
    pub fn with_servers(servers: &[SocketAddr]) -> Self {
        let name_servers = servers
            .iter()
            .map(|addr| {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                ns
            })
            .collect();
        let mut builder = Resolver::builder_with_config(
            ResolverConfig::from_name_servers(name_servers),
            TokioRuntimeProvider::default(),
        );
        tune(builder.options_mut());
        let built = builder
            .build()
            .map_err(|e| format!("cannot build the resolver: {e}"));
        Self {
            inner: Arc::new(built),
        }
    }

    /// The addresses of `host` (an IP literal is returned as is, never looked up).
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let resolver = self.inner.as_ref().as_ref().map_err(Clone::clone)?;
        match resolver.lookup_ip(bare).await {
            Ok(found) => {
                let ips: Vec<IpAddr> = found.iter().collect();
                if ips.is_empty() {
                    Err(format!("cannot resolve `{bare}`: no address"))
                } else {
                    Ok(ips)
                }
            }
            Err(e) if e.is_no_records_found() => {
                Err(format!("cannot resolve `{bare}`: no address"))
            }
            Err(e) => Err(format!("cannot resolve `{bare}`: {}", describe_error(&e))),
        }
    }

    /// Opens a TCP connection to `address` (`host:port`, `[v6]:port`): resolves the host here,
    /// then tries each address in turn. The reason names the address as given.
    pub async fn connect(&self, address: &str) -> Result<TcpStream, String> {
        let (host, port) = split_host_port(address);
        let Ok(port) = port.parse::<u16>() else {
            return Err(format!(
                "cannot connect to `{address}`: expected `host:port`"
            ));
        };
        let ips = self.lookup(host).await?;
        let mut last = None;
        for ip in ips {
            match TcpStream::connect(SocketAddr::new(ip, port)).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        let why = last.map_or_else(|| "no address".to_owned(), |e| describe_error(&e));
        Err(format!("cannot connect to `{address}`: {why}"))
    }
}

/// One attempt per server and a short per-query timeout: the probe's own timeout bounds the
/// whole lookup anyway, and a retry inside the resolver would only hide the failure.
fn tune(opts: &mut hickory_resolver::config::ResolverOpts) {
    opts.timeout = Duration::from_secs(2);
    opts.attempts = 1;
}

impl reqwest::dns::Resolve for NameResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        Box::pin(async move {
            let ips = this.lookup(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

//! The `dns` check: one lookup of a record type, against the system resolver or a given server,
//! with the probe's timeout and a single attempt (hickory's own defaults, 5 s × 2 attempts,
//! would outlive the probe's timeout), and the expected values all among the answers.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RecordType as HRecordType;
use hickory_resolver::{Resolver, TokioResolver};

use super::outcome::{Verdict, describe_error};
use crate::topology::model::{DnsCheck, RecordType};

fn record_type(t: RecordType) -> HRecordType {
    match t {
        RecordType::A => HRecordType::A,
        RecordType::Aaaa => HRecordType::AAAA,
        RecordType::Cname => HRecordType::CNAME,
        RecordType::Mx => HRecordType::MX,
        RecordType::Txt => HRecordType::TXT,
        RecordType::Ns => HRecordType::NS,
        RecordType::Srv => HRecordType::SRV,
    }
}

fn resolver(check: &DnsCheck, timeout: Duration) -> Result<TokioResolver, String> {
    let mut builder = match &check.server {
        Some(server) => {
            let server = server.expose();
            let addr: SocketAddr = server
                .parse()
                .or_else(|_| {
                    server
                        .parse::<std::net::IpAddr>()
                        .map(|ip| SocketAddr::new(ip, 53))
                })
                .map_err(|_| format!("invalid DNS server `{server}`, expected ip:port"))?;
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio()
            .map_err(|e| format!("cannot read the system resolver configuration: {e}"))?,
    };
    let opts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    builder
        .build()
        .map_err(|e| format!("cannot build the DNS resolver: {e}"))
}

fn normalize(value: &str) -> String {
    value
        .trim()
        .trim_end_matches('.')
        .trim_matches('"')
        .to_ascii_lowercase()
}

/// Runs one attempt of a `dns` check; `timeout` is the probe's per-attempt timeout.
pub async fn check(check: &DnsCheck, timeout: Duration) -> Verdict {
    let resolver = match resolver(check, timeout) {
        Ok(r) => r,
        Err(reason) => return Verdict::unknown(reason),
    };
    let rtype = record_type(check.record_type);
    let lookup = match resolver.lookup(check.name.expose(), rtype).await {
        Ok(l) => l,
        Err(e) if e.is_no_records_found() => {
            return Verdict::down(format!("no {rtype} record for `{}`", check.name));
        }
        Err(e) => {
            return Verdict::down(format!(
                "lookup of `{}` failed: {}",
                check.name,
                describe_error(&e)
            ));
        }
    };
    let answers: Vec<String> = lookup
        .answers()
        .iter()
        .filter(|r| r.record_type() == rtype)
        .map(|r| r.data.to_string())
        .collect();
    if answers.is_empty() {
        return Verdict::down(format!("no {rtype} record for `{}`", check.name));
    }
    let got: Vec<String> = answers.iter().map(|a| normalize(a)).collect();
    for want in &check.expect {
        if !got.contains(&normalize(want.expose())) {
            return Verdict::down(format!(
                "{rtype} `{}` is {}, expected `{want}` among them",
                check.name,
                answers
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Verdict::up()
}

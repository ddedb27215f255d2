//! The `tls` check (handshake, certificate days left, SAN) and the certificate rules the `http`
//! check shares: expired = down, fewer than `min_days` left = degraded.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use x509_parser::extensions::GeneralName;

use super::outcome::{Verdict, describe_error};
use super::resolve::NameResolver;
use crate::topology::model::{TlsCheck, split_host_port};

/// Seconds until the certificate's `notAfter` (negative once expired), or `None` if unparsable.
pub fn seconds_left(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
    Some(not_after - now)
}

/// The verdict on a leaf certificate's lifetime: `None` when it has `min_days` or more left.
/// Whole days are counted down: 3 days and 20 hours left is "3 days", 30 days and 5 hours
/// since expiry is "30 days ago".
pub fn certificate_verdict(der: &[u8], min_days: u32) -> Option<Verdict> {
    let Some(secs) = seconds_left(der) else {
        return Some(Verdict::unknown("cannot parse the server certificate"));
    };
    let days = secs / 86_400;
    if secs < 0 {
        let ago = -secs / 86_400;
        if ago == 0 {
            return Some(Verdict::down("certificate expired today"));
        }
        return Some(Verdict::down(if ago == 1 {
            "certificate expired 1 day ago".to_owned()
        } else {
            format!("certificate expired {ago} days ago")
        }));
    }
    if days < i64::from(min_days) {
        return Some(Verdict::degraded(match days {
            0 => "certificate expires today".to_owned(),
            1 => "certificate expires in 1 day".to_owned(),
            d => format!("certificate expires in {d} days"),
        }));
    }
    None
}

/// DNS names and IP addresses the certificate covers.
fn subject_alt_names(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some((*d).to_owned()),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => Some(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                16 => {
                    let b: [u8; 16] = (*ip).try_into().ok()?;
                    Some(std::net::Ipv6Addr::from(b).to_string())
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Whether a SAN entry (possibly `*.example.com`) covers `name`.
fn san_covers(entry: &str, name: &str) -> bool {
    let (entry, name) = (entry.to_ascii_lowercase(), name.to_ascii_lowercase());
    if let Some(suffix) = entry.strip_prefix("*.") {
        name.split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix)
    } else {
        entry == name
    }
}

/// Runs one attempt of a `tls` check with the shared client configuration.
pub async fn check(
    config: Arc<ClientConfig>,
    resolver: &NameResolver,
    check: &TlsCheck,
) -> Verdict {
    let address = check.address.expose();
    let host = check.server_name.as_ref().map_or_else(
        || split_host_port(address).0.to_owned(),
        |n| n.expose().to_owned(),
    );
    let Ok(server_name) = ServerName::try_from(host.clone()) else {
        return Verdict::unknown(format!("invalid server name `{host}`"));
    };
    let tcp = match resolver.connect(address).await {
        Ok(s) => s,
        Err(reason) => return Verdict::down(reason),
    };
    let stream = match TlsConnector::from(config).connect(server_name, tcp).await {
        Ok(s) => s,
        Err(e) => return Verdict::down(describe_error(&e)),
    };
    let Some(leaf) = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
    else {
        return Verdict::down("server sent no certificate");
    };
    if let Some(san) = &check.san {
        let names = subject_alt_names(&leaf);
        if !names.iter().any(|n| san_covers(n, san.expose())) {
            return Verdict::down(format!(
                "certificate does not cover `{san}` (it covers {})",
                if names.is_empty() {
                    "no names".to_owned()
                } else {
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
        }
    }
    certificate_verdict(&leaf, check.min_days).unwrap_or_else(Verdict::up)
}

#[cfg(test)]
mod tests {
    use super::san_covers;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(san_covers("*.example.com", "api.example.com"));
        assert!(!san_covers("*.example.com", "a.b.example.com"));
        assert!(!san_covers("*.example.com", "example.com"));
        assert!(san_covers("Example.com", "example.COM"));
    }
}

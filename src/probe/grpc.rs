//! `grpc` check: the standard health checking protocol, `grpc.health.v1.Health/Check`, as
//! Kubernetes' gRPC probes and `grpc_health_probe` use it. `SERVING` is up; `NOT_SERVING`,
//! an unknown service (`NOT_FOUND` or `SERVICE_UNKNOWN`) and a server without the health
//! service (`UNIMPLEMENTED`) are down, each with its own reason.
//!
//! tonic connects through a connector of ours: names are resolved by the probe's resolver and
//! `https://` uses the run's shared rustls configuration (ring, `tls_verify`, `ca_file`, the same
//! certificate reasons as `http`) with ALPN `h2`; tonic's own TLS features are not built.

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use super::endpoint::Endpoint;
use super::outcome::{Verdict, describe_error, excerpt};
use super::resolve::NameResolver;
use crate::topology::model::GrpcCheck;

/// A stream tonic can speak HTTP/2 over: plain TCP or TLS.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Runs one attempt of a `grpc` check; `tls` is the shared configuration for the check's TLS
/// setting (used for `https://` only).
pub async fn check(
    tls: Result<Arc<ClientConfig>, String>,
    resolver: &NameResolver,
    check: &GrpcCheck,
) -> Verdict {
    let endpoint = match Endpoint::parse(
        &check.url,
        &["http", "https"],
        "`http://` or `https://`",
        |scheme| if scheme == "https" { 443 } else { 80 },
    ) {
        Ok(e) => e,
        Err(verdict) => return verdict,
    };
    let https = endpoint.url.scheme() == "https";
    let address = endpoint.address();
    let host = endpoint.host.clone();
    let tls = if https {
        match tls {
            Ok(c) => {
                let mut c = (*c).clone();
                c.alpn_protocols = vec![b"h2".to_vec()];
                let Ok(name) = ServerName::try_from(host.clone()) else {
                    return Verdict::unknown(format!("invalid server name `{host}`"));
                };
                Some((Arc::new(c), name))
            }
            Err(reason) => return Verdict::unknown(reason),
        }
    } else {
        None
    };
    // Always `http://` for tonic: TLS is the connector's business (tonic would refuse an
    // `https://` endpoint without TLS features of its own, or add a second TLS layer with them).
    let endpoint = match tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .and_then(|e| e.user_agent(concat!("linkpatrol/", env!("CARGO_PKG_VERSION"))))
    {
        Ok(e) => e,
        Err(e) => return Verdict::unknown(format!("invalid url `{}`: {e}", check.url.written())),
    };
    let resolver = resolver.clone();
    let connector = tower::service_fn(move |_: tonic::codegen::http::Uri| {
        let resolver = resolver.clone();
        let address = address.clone();
        let tls = tls.clone();
        async move {
            let tcp = resolver
                .connect(&address)
                .await
                .map_err(std::io::Error::other)?;
            let _ = tcp.set_nodelay(true);
            let stream: Box<dyn Io> = match tls {
                Some((config, name)) => Box::new(
                    tokio_rustls::TlsConnector::from(config)
                        .connect(name, tcp)
                        .await
                        .map_err(|e| std::io::Error::other(describe_error(&e)))?,
                ),
                None => Box::new(tcp),
            };
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    let channel = match endpoint.connect_with_connector(connector).await {
        Ok(c) => c,
        Err(e) => return Verdict::down(transport_reason(&e)),
    };
    let request = HealthCheckRequest {
        service: check.service.clone(),
    };
    let what = if check.service.is_empty() {
        "the server".to_owned()
    } else {
        format!("service `{}`", check.service)
    };
    match HealthClient::new(channel).check(request).await {
        Ok(answer) => match answer.into_inner().status() {
            ServingStatus::Serving => Verdict::up(),
            ServingStatus::NotServing => {
                Verdict::down(format!("gRPC health: {what} is NOT_SERVING"))
            }
            ServingStatus::ServiceUnknown => Verdict::down(format!(
                "gRPC health: {what} is SERVICE_UNKNOWN to the server; check `service:`"
            )),
            ServingStatus::Unknown => Verdict::down(format!("gRPC health: {what} is UNKNOWN")),
        },
        Err(status) => Verdict::down(match status.code() {
            tonic::Code::NotFound => format!(
                "gRPC health: the server does not know {what} (NOT_FOUND); check `service:`"
            ),
            tonic::Code::Unimplemented => {
                "the server does not implement grpc.health.v1.Health (UNIMPLEMENTED)".to_owned()
            }
            tonic::Code::Unavailable => format!("gRPC unavailable: {}", status_reason(&status)),
            code => format!(
                "gRPC health check failed: {code:?}: {}",
                status_reason(&status)
            ),
        }),
    }
}

fn status_reason(status: &tonic::Status) -> String {
    use std::error::Error as _;
    match status.source() {
        Some(source) => describe_error(source),
        None if status.message().is_empty() => "no message".to_owned(),
        None => excerpt(status.message(), 200),
    }
}

/// What failed on the way to the server; tonic's "transport error: " prefix says nothing a
/// person can act on.
fn transport_reason(e: &tonic::transport::Error) -> String {
    let reason = describe_error(e);
    match reason.strip_prefix("transport error: ") {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => reason,
    }
}

//! TLS (rustls, ring): a handshake with a certificate made by rcgen when the fleet starts, for
//! `127.0.0.1` and `localhost`. A healthy endpoint's certificate is valid for 90 days; a
//! failing one's expired three days ago (a forgotten renewal, the classic way a TLS endpoint
//! fails while still answering).

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::tcp::accept_loop;
use super::{DemoError, Serving};

/// Days since the failing certificate expired.
pub const EXPIRED_DAYS_AGO: i64 = 3;

/// The server configurations of a fleet.
pub(crate) struct Material {
    pub(crate) valid: Arc<ServerConfig>,
    pub(crate) expired: Arc<ServerConfig>,
}

impl Material {
    /// Makes both certificates (self-signed, ECDSA P-256).
    pub(crate) fn generate() -> Result<Self, DemoError> {
        let now = OffsetDateTime::now_utc();
        Ok(Self {
            valid: config(
                now - time::Duration::days(1),
                now + time::Duration::days(90),
            )?,
            expired: config(
                now - time::Duration::days(90),
                now - time::Duration::days(EXPIRED_DAYS_AGO),
            )?,
        })
    }
}

fn config(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<Arc<ServerConfig>, DemoError> {
    let fail = |e: &dyn std::fmt::Display| DemoError::Certificate(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(|e| fail(&e))?;
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(|e| fail(&e))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "config-center (linkpatrol demo)");
    params.not_before = not_before;
    params.not_after = not_after;
    let cert = params.self_signed(&key).map_err(|e| fail(&e))?;
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(&e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| fail(&e))?;
    Ok(Arc::new(config))
}

/// Serves TLS handshakes on `listener` until the fleet stops; after the handshake the
/// connection is held until the client closes it.
pub(crate) async fn serve(listener: TcpListener, config: Arc<ServerConfig>, serving: Serving) {
    let acceptor = TlsAcceptor::from(config);
    accept_loop(listener, serving, move |stream, serving| {
        let acceptor = acceptor.clone();
        async move {
            serving.delay().await;
            let Ok(Ok(mut tls)) =
                tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream)).await
            else {
                return;
            };
            let mut sink = [0u8; 1024];
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(10), tls.read(&mut sink)).await
            {
                if n == 0 {
                    break;
                }
            }
        }
    })
    .await;
}

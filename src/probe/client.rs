//! Shared clients: one rustls configuration (ring provider) per TLS setting (verify on/off,
//! extra CA file), and the `reqwest::Client` of the `prometheus` probe, built once per run
//! before any probe starts.
//!
//! The `http` probe opens its own connection per request with the configuration for HTTP
//! (ALPN `http/1.1`) and follows redirects itself, so that it can time each phase and
//! `max_redirects` can differ per probe. No connection is ever reused: a probe measures connect
//! time and never passes thanks to a connection that an earlier probe left open.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::resolve::NameResolver;
use crate::topology::model::Check;

/// How a probe wants TLS verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsSetting {
    /// Verify the certificate chain and name (default).
    pub verify: bool,
    /// Extra trusted root (PEM file).
    pub ca_file: Option<String>,
}

impl TlsSetting {
    /// Verification on, system roots only.
    pub fn system() -> Self {
        Self {
            verify: true,
            ca_file: None,
        }
    }

    /// Encryption without verification (`sslmode=require` of PostgreSQL).
    pub fn unverified() -> Self {
        Self {
            verify: false,
            ca_file: None,
        }
    }

    /// The TLS setting a check uses, if it speaks TLS through a shared client or config.
    pub fn of(check: &Check) -> Option<Self> {
        match check {
            Check::Http(h) => Some(Self {
                verify: h.tls_verify,
                ca_file: h.ca_file.as_ref().map(|t| t.expose().to_owned()),
            }),
            Check::Tls(t) => Some(Self {
                verify: t.verify,
                ca_file: t.ca_file.as_ref().map(|t| t.expose().to_owned()),
            }),
            Check::Grpc(g) => Some(Self {
                verify: g.tls_verify,
                ca_file: g.ca_file.as_ref().map(|t| t.expose().to_owned()),
            }),
            Check::Prometheus(_) => Some(Self::system()),
            Check::Redis(r) => Some(Self {
                verify: true,
                ca_file: r.ca_file.as_ref().map(|t| t.expose().to_owned()),
            }),
            Check::Postgres(p) => Some(super::db::PgSsl::setting(p.url.expose())),
            _ => None,
        }
    }
}

/// The crypto provider every TLS connection uses: ring (aws-lc is not built).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration for `setting`; `Err` is a reason (unreadable CA file, …).
pub fn tls_config(setting: &TlsSetting, alpn_http: bool) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let mut config = if setting.verify {
        let extra = match &setting.ca_file {
            Some(path) => read_pem_certs(path)?,
            None => Vec::new(),
        };
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .map_err(|e| format!("cannot load trusted roots: {e}"))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Explained(Arc::new(verifier))))
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    };
    if alpn_http {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
    }
    Ok(config)
}

fn read_pem_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read ca_file `{path}`: {e}"))?
        .collect();
    let certs = certs.map_err(|e| format!("cannot parse ca_file `{path}`: {e}"))?;
    if certs.is_empty() {
        return Err(format!("ca_file `{path}` holds no certificate"));
    }
    Ok(certs)
}

/// A self-signed server certificate, told apart from other verification failures (which
/// report it as an unknown issuer, a bad signature or `CaUsedAsEndEntity`).
#[derive(Debug, thiserror::Error)]
#[error("self-signed certificate")]
pub struct SelfSigned {
    /// Whether it is marked as a CA (`CA:TRUE`, as `openssl req -x509` makes it).
    pub ca: bool,
}

/// A CA certificate presented as the server's own (`CaUsedAsEndEntity`).
#[derive(Debug, thiserror::Error)]
#[error("CA certificate used as the server certificate")]
pub struct CaAsLeaf;

/// The platform verifier, with its failures on self-signed and CA certificates made readable.
#[derive(Debug)]
struct Explained(Arc<rustls_platform_verifier::Verifier>);

impl ServerCertVerifier for Explained {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| explain(e, end_entity, intermediates))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Replaces a chain failure of a self-signed leaf (sent alone) by [`SelfSigned`], and a bare
/// `CaUsedAsEndEntity` by [`CaAsLeaf`]; every other error passes unchanged.
fn explain(
    err: rustls::Error,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> rustls::Error {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert_err) = &err else {
        return err;
    };
    let ca_as_leaf =
        matches!(cert_err, C::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity"));
    if !matches!(cert_err, C::UnknownIssuer | C::BadSignature) && !ca_as_leaf {
        return err;
    }
    let other = |e: Arc<dyn std::error::Error + Send + Sync>| {
        rustls::Error::InvalidCertificate(C::Other(rustls::OtherError(e)))
    };
    if intermediates.is_empty()
        && let Ok((_, cert)) = x509_parser::parse_x509_certificate(end_entity)
        && cert.issuer().as_raw() == cert.subject().as_raw()
    {
        let ca = cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|b| b.value.ca);
        return other(Arc::new(SelfSigned { ca }));
    }
    if ca_as_leaf {
        return other(Arc::new(CaAsLeaf));
    }
    err
}

/// `tls_verify: false`: any certificate is accepted (signatures of the handshake still checked).
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The clients of one run, keyed by TLS setting. A setting whose client could not be built maps
/// to the reason, which every probe using it reports as `unknown`.
#[derive(Debug, Default)]
pub struct Clients {
    http: HashMap<TlsSetting, Result<reqwest::Client, String>>,
    http_tls: HashMap<TlsSetting, Result<Arc<ClientConfig>, String>>,
    tls: HashMap<TlsSetting, Result<Arc<ClientConfig>, String>>,
    resolver: NameResolver,
}

impl Clients {
    /// Builds the clients the given checks need (each distinct setting once), resolving names
    /// with the system's configuration.
    pub fn for_checks<'a>(checks: impl IntoIterator<Item = &'a Check>) -> Self {
        Self::with_resolver(checks, NameResolver::system())
    }

    /// [`Clients::for_checks`] with names resolved by `resolver` (every probe type).
    pub fn with_resolver<'a>(
        checks: impl IntoIterator<Item = &'a Check>,
        resolver: NameResolver,
    ) -> Self {
        let mut clients = Self {
            http: HashMap::new(),
            http_tls: HashMap::new(),
            tls: HashMap::new(),
            resolver,
        };
        for check in checks {
            let Some(setting) = TlsSetting::of(check) else {
                continue;
            };
            match check {
                Check::Http(_) => {
                    if let std::collections::hash_map::Entry::Vacant(e) =
                        clients.http_tls.entry(setting)
                    {
                        let config = tls_config(e.key(), true).map(Arc::new);
                        e.insert(config);
                    }
                }
                Check::Prometheus(_) => {
                    if let std::collections::hash_map::Entry::Vacant(e) =
                        clients.http.entry(setting)
                    {
                        let client = build_http(e.key(), &clients.resolver);
                        e.insert(client);
                    }
                }
                Check::Tls(_) | Check::Redis(_) | Check::Postgres(_) | Check::Grpc(_) => {
                    if let std::collections::hash_map::Entry::Vacant(e) = clients.tls.entry(setting)
                    {
                        let config = tls_config(e.key(), false).map(Arc::new);
                        e.insert(config);
                    }
                }
                _ => {}
            }
        }
        clients
    }

    /// The HTTP client (of the `prometheus` probe) for `setting`, built on first use if
    /// `for_checks` did not see it.
    pub fn http(&self, setting: &TlsSetting) -> Result<reqwest::Client, String> {
        match self.http.get(setting) {
            Some(c) => c.clone(),
            None => build_http(setting, &self.resolver),
        }
    }

    /// The rustls configuration for HTTP (ALPN `http/1.1`) for `setting`, built on first use
    /// if `for_checks` did not see it.
    pub fn http_tls(&self, setting: &TlsSetting) -> Result<Arc<ClientConfig>, String> {
        match self.http_tls.get(setting) {
            Some(c) => c.clone(),
            None => tls_config(setting, true).map(Arc::new),
        }
    }

    /// The resolver every probe of this run looks names up with.
    pub fn resolver(&self) -> &NameResolver {
        &self.resolver
    }

    /// The rustls configuration (no ALPN) for `setting`.
    pub fn tls(&self, setting: &TlsSetting) -> Result<Arc<ClientConfig>, String> {
        match self.tls.get(setting) {
            Some(c) => c.clone(),
            None => tls_config(setting, false).map(Arc::new),
        }
    }
}

fn build_http(setting: &TlsSetting, resolver: &NameResolver) -> Result<reqwest::Client, String> {
    let tls = tls_config(setting, true)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(Arc::new(resolver.clone()))
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .no_proxy()
        .tcp_nodelay(true)
        .user_agent(concat!("linkpatrol/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            format!(
                "cannot build the HTTP client: {}",
                super::outcome::describe_error(&e)
            )
        })
}

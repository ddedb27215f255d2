//! Data-store checks: `redis` (PING, AUTH from the URL), `postgres` and `mysql` (connect,
//! authenticate, `SELECT 1`).
//!
//! Redis is spoken directly (a few lines of RESP: `AUTH`, `SELECT`, `PING`) rather than through
//! the `redis` crate: a probe needs three commands, and the crate would add a connection
//! manager, a command DSL and their compile time for nothing. `rediss://` goes through the same
//! rustls configuration as every other TLS probe.

use percent_encoding::percent_decode_str;
use std::sync::Arc;

use reqwest::Url;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::outcome::{Verdict, describe_error, excerpt};
use super::resolve::NameResolver;
use crate::topology::model::UrlCheck;

// ---------------------------------------------------------------------------------------------
// Redis

/// Runs one attempt of a `redis` check (`redis://[user[:password]@]host[:port][/db]`).
pub async fn redis(
    tls: Result<Arc<ClientConfig>, String>,
    resolver: &NameResolver,
    check: &UrlCheck,
) -> Verdict {
    let url = match Url::parse(&normalize_userinfo(check.url.expose())) {
        Ok(u) if matches!(u.scheme(), "redis" | "rediss") => u,
        Ok(u) => {
            return Verdict::unknown(format!(
                "unsupported scheme `{}`, expected `redis://` or `rediss://`",
                u.scheme()
            ));
        }
        Err(e) => return Verdict::unknown(format!("invalid url `{}`: {e}", check.url.written())),
    };
    let host = url
        .host_str()
        .unwrap_or("127.0.0.1")
        .trim_matches(['[', ']']);
    let port = url.port().unwrap_or(6379);
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let tcp = match resolver.connect(&address).await {
        Ok(s) => s,
        Err(reason) => return Verdict::down(reason),
    };
    if url.scheme() == "rediss" {
        let config = match tls {
            Ok(c) => c,
            Err(reason) => return Verdict::unknown(reason),
        };
        let Ok(name) = ServerName::try_from(host.to_owned()) else {
            return Verdict::unknown(format!("invalid server name `{host}`"));
        };
        match tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
        {
            Ok(stream) => redis_session(stream, &url).await,
            Err(e) => Verdict::down(describe_error(&e)),
        }
    } else {
        redis_session(tcp, &url).await
    }
}

async fn redis_session<S: AsyncRead + AsyncWrite + Unpin>(stream: S, url: &Url) -> Verdict {
    let mut conn = BufReader::new(stream);
    let user = percent_decoded(url.username()).into_owned();
    let password = url.password().map(|p| percent_decoded(p).into_owned());
    if let Some(password) = password {
        let mut args = vec!["AUTH"];
        if !user.is_empty() {
            args.push(&user);
        }
        args.push(&password);
        match command(&mut conn, &args).await {
            Ok(reply) if reply.starts_with('+') => {}
            Ok(reply) => {
                return Verdict::down(format!("redis AUTH failed: {}", error_text(&reply)));
            }
            Err(reason) => return Verdict::down(reason),
        }
    }
    let db = url.path().trim_start_matches('/');
    if !db.is_empty() && db != "0" {
        match command(&mut conn, &["SELECT", db]).await {
            Ok(reply) if reply.starts_with('+') => {}
            Ok(reply) => {
                return Verdict::down(format!("redis SELECT {db} failed: {}", error_text(&reply)));
            }
            Err(reason) => return Verdict::down(reason),
        }
    }
    match command(&mut conn, &["PING"]).await {
        Ok(reply) if reply == "+PONG" => Verdict::up(),
        Ok(reply) if reply.starts_with("-NOAUTH") => Verdict::down(
            "redis requires a password (NOAUTH): put it in the url, `redis://:${PASSWORD}@host`",
        ),
        Ok(reply) if reply.starts_with('-') => {
            Verdict::down(format!("redis PING failed: {}", error_text(&reply)))
        }
        Ok(reply) => Verdict::down(format!(
            "unexpected answer to PING: `{}`",
            excerpt(&reply, 80)
        )),
        Err(reason) => Verdict::down(reason),
    }
}

/// Sends one command as a RESP array and reads the one-line reply (`+…`, `-…`, `:…`).
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BufReader<S>,
    args: &[&str],
) -> Result<String, String> {
    use std::fmt::Write as _;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        let _ = write!(req, "${}\r\n{a}\r\n", a.len());
    }
    conn.get_mut()
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("sending to redis failed: {}", describe_error(&e)))?;
    let mut line = Vec::new();
    let n = (&mut *conn)
        .take(4096)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| format!("reading from redis failed: {}", describe_error(&e)))?;
    if n == 0 {
        return Err("redis closed the connection without an answer".to_owned());
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_owned())
}

fn error_text(reply: &str) -> String {
    excerpt(reply.trim_start_matches(['-', '+']), 200)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// Runs one attempt of a `postgres` check: connect, authenticate, `SELECT 1`.
///
/// TLS follows the DSN's `sslmode` as libpq does: `require` encrypts without verifying the
/// certificate (`tls` is the shared unverified configuration); `prefer` (the default) and
/// `disable` connect in plain text.
pub async fn postgres(
    tls: Result<Arc<ClientConfig>, String>,
    resolver: &NameResolver,
    check: &UrlCheck,
) -> Verdict {
    let dsn = normalize_userinfo(check.url.expose());
    let mut config: tokio_postgres::Config = match dsn.parse() {
        Ok(c) => c,
        Err(e) => return Verdict::unknown(format!("invalid dsn `{}`: {e}", check.url.written())),
    };
    // Names are resolved here, inside the probe's timeout and cancellable, never by the
    // driver's blocking lookup; the host name is kept for TLS.
    if config.get_hostaddrs().is_empty() {
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .filter_map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => Some(name.clone()),
                tokio_postgres::config::Host::Unix(_) => None,
            })
            .collect();
        if hosts.len() == config.get_hosts().len() {
            for host in hosts {
                match resolver.lookup(&host).await {
                    Ok(ips) => {
                        config.hostaddr(ips[0]);
                    }
                    Err(reason) => return Verdict::down(reason),
                }
            }
        }
    }
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
        let tls = match tls {
            Ok(c) => c,
            Err(reason) => return Verdict::unknown(reason),
        };
        match config.connect(pg_tls::MakeRustls(tls)).await {
            Ok((client, connection)) => postgres_select(client, connection).await,
            Err(e) => Verdict::down(postgres_reason(&e)),
        }
    } else {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, connection)) => postgres_select(client, connection).await,
            Err(e) => Verdict::down(postgres_reason(&e)),
        }
    }
}

async fn postgres_select<S, T>(
    client: tokio_postgres::Client,
    connection: tokio_postgres::Connection<S, T>,
) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let driver = AbortOnDrop(tokio::spawn(connection));
    let verdict = match client.simple_query("SELECT 1").await {
        Ok(_) => Verdict::up(),
        Err(e) => Verdict::down(format!("SELECT 1 failed: {}", postgres_reason(&e))),
    };
    drop(client);
    drop(driver);
    verdict
}

/// rustls for tokio-postgres: a few lines instead of another crate (and its X.509 stack).
/// No channel binding: SCRAM runs without `-PLUS`, as with libpq's default.
mod pg_tls {
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use rustls::ClientConfig;
    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

    pub struct MakeRustls(pub Arc<ClientConfig>);

    pub struct Connect {
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    }

    pub struct Stream<S>(tokio_rustls::client::TlsStream<S>);

    impl<S> MakeTlsConnect<S> for MakeRustls
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        type Stream = Stream<S>;
        type TlsConnect = Connect;
        type Error = rustls::pki_types::InvalidDnsNameError;

        fn make_tls_connect(&mut self, domain: &str) -> Result<Connect, Self::Error> {
            Ok(Connect {
                config: Arc::clone(&self.0),
                name: ServerName::try_from(domain.to_owned())?,
            })
        }
    }

    impl<S> TlsConnect<S> for Connect
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        type Stream = Stream<S>;
        type Error = io::Error;
        type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

        fn connect(self, stream: S) -> Self::Future {
            Box::pin(async move {
                tokio_rustls::TlsConnector::from(self.config)
                    .connect(self.name, stream)
                    .await
                    .map(Stream)
            })
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
        fn channel_binding(&self) -> ChannelBinding {
            ChannelBinding::none()
        }
    }
}

fn postgres_reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => describe_error(e),
    }
}

/// Aborts a spawned task when dropped (a cancelled probe leaves nothing running).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB

/// Runs one attempt of a `mysql` check: connect over TCP, authenticate, `SELECT 1`.
pub async fn mysql(resolver: &NameResolver, check: &UrlCheck) -> Verdict {
    use mysql_async::prelude::Queryable;
    let raw = normalize_userinfo(check.url.expose());
    let url = raw
        .strip_prefix("mariadb://")
        .map_or_else(|| raw.clone(), |rest| format!("mysql://{rest}"));
    let opts = match mysql_async::Opts::from_url(&url) {
        Ok(o) => o,
        Err(e) => return Verdict::unknown(format!("invalid dsn `{}`: {e}", check.url.written())),
    };
    // Resolved here (cancellable, inside the timeout), never by the driver's blocking lookup.
    let ip = match resolver.lookup(opts.ip_or_hostname()).await {
        Ok(ips) => ips[0],
        Err(reason) => return Verdict::down(reason),
    };
    // Probe the TCP endpoint that was named, never a local socket the driver might prefer.
    let opts = mysql_async::OptsBuilder::from_opts(opts)
        .ip_or_hostname(ip.to_string())
        .prefer_socket(false);
    let mut conn = match mysql_async::Conn::new(opts).await {
        Ok(c) => c,
        Err(e) => return Verdict::down(mysql_reason(&e)),
    };
    let verdict = match conn.query_drop("SELECT 1").await {
        Ok(()) => Verdict::up(),
        Err(e) => Verdict::down(format!("SELECT 1 failed: {}", mysql_reason(&e))),
    };
    let _ = conn.disconnect().await;
    verdict
}

fn mysql_reason(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => s.message.clone(),
        other => describe_error(other),
    }
}

/// A connection URL with its user and password percent-encoded exactly once, so that a password
/// read from `${VAR}` may hold `@`, `/`, `:`, `?` or `#`: the host is what follows the *last*
/// `@` of the authority, and no part of a password is ever taken for a host name (and looked
/// up). Values already percent-encoded are decoded first, so `%40` and `@` both mean `@`.
/// Anything that is not `scheme://…@…` is returned unchanged.
pub fn normalize_userinfo(url: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    /// RFC 3986 userinfo: everything but unreserved characters and sub-delims is encoded.
    const USERINFO: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b':')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'@')
        .add(b'[')
        .add(b'\\')
        .add(b']')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+')
    {
        return url.to_owned();
    }
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    let (userinfo, host_and_more) = (&rest[..at], &rest[at + 1..]);
    let (user, password) = match userinfo.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (userinfo, None),
    };
    let enc = |s: &str| utf8_percent_encode(&percent_decoded(s), USERINFO).to_string();
    let mut out = format!("{scheme}://{}", enc(user));
    if let Some(p) = password {
        out.push(':');
        out.push_str(&enc(p));
    }
    out.push('@');
    out.push_str(host_and_more);
    out
}

/// A URL's user or password as the server must see it (`%40` → `@`).
fn percent_decoded(s: &str) -> std::borrow::Cow<'_, str> {
    percent_decode_str(s).decode_utf8_lossy()
}

//! Data-store checks: `redis` (PING, AUTH from the URL, optionally `INFO` fields), `postgres`
//! and `mysql` (connect, authenticate, `SELECT 1`; optionally a query whose value is compared,
//! and a replication check).
//!
//! Redis is spoken directly (a few lines of RESP: `AUTH`, `SELECT`, `PING`, `INFO`) rather than
//! through the `redis` crate: a probe needs four commands, and the crate would add a connection
//! manager, a command DSL and their compile time for nothing. `rediss://` goes through the same
//! rustls configuration as every other TLS probe.
//!
//! Database TLS follows each client's own DSN words, so a DSN copied from an application works:
//! PostgreSQL's `sslmode` (`require` encrypts, `verify-full` also checks chain and host name;
//! `sslrootcert=` adds a CA), MySQL's `ssl-mode` (`REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY`;
//! `ssl-ca=` adds a CA). Those words are taken out of the DSN before the driver reads it.

use percent_encoding::percent_decode_str;
use std::sync::Arc;

use reqwest::Url;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::endpoint::Endpoint;
use super::outcome::{Verdict, describe_error, excerpt};
use super::resolve::NameResolver;
use crate::duration::show as human_duration;
use crate::topology::model::{DbCheck, DbQuery, InfoCheck, InfoExpect, RedisCheck, Replication};

// ---------------------------------------------------------------------------------------------
// Redis

/// Runs one attempt of a `redis` check (`redis://[user[:password]@]host[:port][/db]`); `tls` is
/// used for `rediss://`.
pub async fn redis(
    tls: Result<Arc<ClientConfig>, String>,
    resolver: &NameResolver,
    check: &RedisCheck,
) -> Verdict {
    let endpoint = match Endpoint::parse(
        &check.url,
        &["redis", "rediss"],
        "`redis://` or `rediss://`",
        |_| 6379,
    ) {
        Ok(e) => e,
        Err(verdict) => return verdict,
    };
    let address = endpoint.address();
    let (url, host) = (&endpoint.url, endpoint.host.as_str());
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
            Ok(stream) => redis_session(stream, url, &check.info).await,
            Err(e) => Verdict::down(format!("TLS handshake failed: {}", describe_error(&e))),
        }
    } else {
        redis_session(tcp, url, &check.info).await
    }
}

async fn redis_session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    url: &Url,
    info: &[InfoCheck],
) -> Verdict {
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
        Ok(reply) if reply == "+PONG" && info.is_empty() => Verdict::up(),
        Ok(reply) if reply == "+PONG" => match bulk_command(&mut conn, &["INFO"]).await {
            Ok(text) => redis_info(&text, info),
            Err(reason) => Verdict::down(reason),
        },
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

/// Bytes of an `INFO` answer read at most (a real one is a few kB).
const INFO_CAP: usize = 1 << 20;

/// Sends one command and reads a bulk-string reply (`$len`, then the bytes).
async fn bulk_command<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BufReader<S>,
    args: &[&str],
) -> Result<String, String> {
    let head = command(conn, args).await?;
    let name = args[0];
    if head.starts_with('-') {
        return Err(format!("redis {name} failed: {}", error_text(&head)));
    }
    let len = head
        .strip_prefix('$')
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or_else(|| format!("unexpected answer to {name}: `{}`", excerpt(&head, 80)))?;
    if len > INFO_CAP {
        return Err(format!(
            "redis {name} answer of {len} bytes is over the cap of {INFO_CAP}"
        ));
    }
    let mut body = vec![0; len + 2];
    conn.read_exact(&mut body)
        .await
        .map_err(|e| format!("reading redis {name} failed: {}", describe_error(&e)))?;
    body.truncate(len);
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Checks the `info:` fields against an `INFO` answer; every failing field is in the reason.
pub fn redis_info(text: &str, checks: &[InfoCheck]) -> Verdict {
    let fields: std::collections::HashMap<&str, &str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
        .collect();
    let mut down = Vec::new();
    let mut warn = Vec::new();
    for check in checks {
        let field = check.field.as_str();
        if field == InfoCheck::MEMORY_RATIO {
            let number = |k: &str| fields.get(k).and_then(|v| v.parse::<f64>().ok());
            let (Some(used), Some(max)) = (number("used_memory"), number("maxmemory")) else {
                down.push("INFO has no numeric `used_memory` and `maxmemory`".to_owned());
                continue;
            };
            let used_h = human_bytes(used);
            if max <= 0.0 {
                warn.push(format!(
                    "maxmemory is 0 (unlimited), so memory_ratio cannot be checked; used_memory {used_h}"
                ));
                continue;
            }
            let ratio = used / max;
            if let InfoExpect::Compare(cmp) = check.expect
                && !cmp.holds(ratio)
            {
                down.push(format!(
                    "memory_ratio {ratio:.3} (used_memory {used_h} of maxmemory {}), expected {cmp}",
                    human_bytes(max)
                ));
            }
            continue;
        }
        let Some(&value) = fields.get(field) else {
            down.push(format!("INFO has no field `{field}`"));
            continue;
        };
        match &check.expect {
            InfoExpect::Equals(want) if value != want => {
                down.push(format!("{field}: {value}, expected {want}"));
            }
            InfoExpect::Equals(_) => {}
            InfoExpect::Compare(cmp) => match value.parse::<f64>() {
                Ok(v) if cmp.holds(v) => {}
                Ok(_) => down.push(format!("{field}: {value}, expected {cmp}")),
                Err(_) => down.push(format!(
                    "{field}: `{}` is not a number, expected {cmp}",
                    excerpt(value, 60)
                )),
            },
        }
    }
    if !down.is_empty() {
        down.extend(warn);
        Verdict::down(down.join("; "))
    } else if !warn.is_empty() {
        Verdict::degraded(warn.join("; "))
    } else {
        Verdict::up()
    }
}

/// `59.5 MiB`.
fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn error_text(reply: &str) -> String {
    excerpt(reply.trim_start_matches(['-', '+']), 200)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// Runs one attempt of a `postgres` check: connect, authenticate, `SELECT 1`, or the query and
/// replication checks.
///
/// TLS follows the DSN's `sslmode` as libpq does: `require` encrypts without verifying the
/// certificate; `verify-full` verifies chain and host name (`tls` is then the verifying
/// configuration, with `sslrootcert` trusted, see [`PgSsl::setting`]); `prefer` (the default)
/// and `disable` connect in plain text.
pub async fn postgres(
    tls: Result<Arc<ClientConfig>, String>,
    resolver: &NameResolver,
    check: &DbCheck,
) -> Verdict {
    let ssl = match PgSsl::of(&normalize_userinfo(check.url.expose())) {
        Ok(s) => s,
        Err(reason) => return Verdict::unknown(reason),
    };
    let mut config: tokio_postgres::Config = match ssl.dsn.parse() {
        Ok(c) => c,
        Err(e) => return Verdict::unknown(format!("invalid dsn `{}`: {e}", check.url.written())),
    };
    // Names are resolved here, inside the probe's timeout and cancellable, never by the
    // driver's blocking lookup; the host name is kept for TLS. One host: each of its
    // addresses in turn until one accepts (`localhost` may be `::1` first, with the server on
    // 127.0.0.1 only). Several hosts: the first address of each, the driver tries them in turn.
    let mut candidates = vec![config.clone()];
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
            let mut looked_up = Vec::with_capacity(hosts.len());
            for host in &hosts {
                match resolver.lookup(host).await {
                    Ok(ips) => looked_up.push(ips),
                    Err(reason) => return Verdict::down(reason),
                }
            }
            candidates = if let [ips] = looked_up.as_slice() {
                ips.iter()
                    .map(|ip| {
                        let mut c = config.clone();
                        c.hostaddr(*ip);
                        c
                    })
                    .collect()
            } else {
                for ips in &looked_up {
                    config.hostaddr(ips[0]);
                }
                vec![config]
            };
        }
    }
    let tls = if candidates[0].get_ssl_mode() == tokio_postgres::config::SslMode::Require {
        match tls {
            Ok(c) => Some(c),
            Err(reason) => return Verdict::unknown(reason),
        }
    } else {
        None
    };
    let last = candidates.len() - 1;
    for (i, config) in candidates.into_iter().enumerate() {
        let connected = match &tls {
            Some(tls) => match config.connect(pg_tls::MakeRustls(Arc::clone(tls))).await {
                Ok((client, connection)) => Ok(postgres_session(client, connection, check).await),
                Err(e) => Err(e),
            },
            None => match config.connect(tokio_postgres::NoTls).await {
                Ok((client, connection)) => Ok(postgres_session(client, connection, check).await),
                Err(e) => Err(e),
            },
        };
        match connected {
            Ok(verdict) => return verdict,
            Err(e) if i < last && refused(&e) => {}
            Err(e) => {
                return Verdict::down(
                    postgres_reason(&e).replace("set `ca_file`", "add `sslrootcert=` to the dsn"),
                );
            }
        }
    }
    unreachable!("at least one candidate is tried")
}

/// Whether a connection error means "nobody listens at this address" (so the next address of
/// the same name may be tried).
pub(super) fn refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::HostUnreachable
            );
        }
        cur = err.source();
    }
    false
}

/// `sslmode` of a PostgreSQL DSN, taken out of it (tokio-postgres knows only `disable`,
/// `prefer` and `require`, and no `sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSsl {
    /// The DSN for the driver: `verify-full` written as `require`, no `sslrootcert`.
    pub dsn: String,
    /// `sslmode=verify-full`: chain and host name are checked.
    pub verify: bool,
    /// `sslrootcert=`: a PEM file of trusted roots.
    pub root_cert: Option<String>,
}

impl PgSsl {
    /// Reads `sslmode` and `sslrootcert` from a URL (`?sslmode=…&…`) or key=value DSN.
    pub fn of(dsn: &str) -> Result<Self, String> {
        let mut verify = false;
        let mut root_cert = None;
        let mut kept = Vec::new();
        let url = dsn.contains("://");
        let (base, words): (&str, Vec<&str>) = if url {
            match dsn.split_once('?') {
                Some((base, query)) => (base, query.split('&').collect()),
                None => (dsn, Vec::new()),
            }
        } else {
            // key=value words; a quoted value with spaces never starts with `sslmode=`.
            ("", dsn.split(' ').collect())
        };
        for word in words {
            let (k, v) = word.split_once('=').unwrap_or((word, ""));
            let v = percent_decoded(v.trim_matches('\''));
            match (k, v.as_ref()) {
                ("sslrootcert", _) => root_cert = Some(v.into_owned()),
                ("sslmode", "verify-full") => {
                    verify = true;
                    kept.push("sslmode=require");
                }
                ("sslmode", "verify-ca") => {
                    return Err("`sslmode=verify-ca` is not supported: use `verify-full` (chain and host name checked) or `require`".to_owned());
                }
                _ => kept.push(word),
            }
        }
        let dsn = match (url, kept.is_empty()) {
            (true, true) => base.to_owned(),
            (true, false) => format!("{base}?{}", kept.join("&")),
            (false, _) => kept.join(" "),
        };
        Ok(Self {
            dsn,
            verify,
            root_cert,
        })
    }

    /// The TLS setting this DSN needs: verifying (with its root file) for `verify-full`,
    /// encrypting only otherwise.
    pub fn setting(dsn: &str) -> super::client::TlsSetting {
        match Self::of(&normalize_userinfo(dsn)) {
            Ok(s) if s.verify => super::client::TlsSetting {
                verify: true,
                ca_file: s.root_cert,
            },
            _ => super::client::TlsSetting::unverified(),
        }
    }
}

async fn postgres_session<S, T>(
    client: tokio_postgres::Client,
    connection: tokio_postgres::Connection<S, T>,
    check: &DbCheck,
) -> Verdict
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let driver = AbortOnDrop(tokio::spawn(connection));
    let mut verdict = Verdict::up();
    if let Some(rep) = &check.replication {
        verdict = postgres_replication(&client, *rep).await;
    }
    if verdict.state == crate::state::State::Up
        && let Some(q) = &check.query
    {
        verdict = match client.simple_query(q.sql.expose()).await {
            Ok(messages) => {
                let row = messages.iter().find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
                    _ => None,
                });
                match row {
                    None => query_value(q, None, None),
                    Some(r) if r.is_empty() => query_value(q, None, None),
                    Some(r) => query_value(q, Some(r.columns()[0].name()), Some(r.get(0))),
                }
            }
            Err(e) => Verdict::down(format!("query failed: {}", postgres_reason(&e))),
        };
    }
    if check.query.is_none()
        && check.replication.is_none()
        && let Err(e) = client.simple_query("SELECT 1").await
    {
        verdict = Verdict::down(format!("SELECT 1 failed: {}", postgres_reason(&e)));
    }
    drop(client);
    drop(driver);
    verdict
}

/// What a PostgreSQL server says about its replication, in one round trip.
const PG_REPLICATION_SQL: &str = "SELECT pg_is_in_recovery(), \
     (SELECT count(*) FROM pg_stat_wal_receiver), \
     (SELECT status FROM pg_stat_wal_receiver LIMIT 1), \
     pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), \
     extract(epoch FROM now() - pg_last_xact_replay_timestamp())";

async fn postgres_replication(client: &tokio_postgres::Client, rep: Replication) -> Verdict {
    let messages = match client.simple_query(PG_REPLICATION_SQL).await {
        Ok(m) => m,
        Err(e) => {
            return Verdict::down(format!(
                "reading the replication state failed: {}",
                postgres_reason(&e)
            ));
        }
    };
    let Some(row) = messages.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
        _ => None,
    }) else {
        return Verdict::unknown("the replication query returned no row");
    };
    let in_recovery = row.get(0) == Some("t");
    let receivers: u64 = row.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    let status = row.get(2);
    let caught_up = row.get(3) == Some("t");
    let replay_age = row.get(4).and_then(|v| v.parse::<f64>().ok());
    if !in_recovery {
        return Verdict::down(
            "not a replica: the server is a primary (pg_is_in_recovery() is false)",
        );
    }
    if receivers == 0 {
        return Verdict::down(
            "replica is not replicating: no WAL receiver runs (primary unreachable, or no primary_conninfo)",
        );
    }
    match status {
        None => {
            return Verdict::unknown(
                "cannot read the WAL receiver's status: grant `pg_monitor` (or `pg_read_all_stats`) to the probe's role",
            );
        }
        Some("streaming") => {}
        Some(other) => {
            return Verdict::down(format!(
                "replica is not streaming: its WAL receiver is `{other}`"
            ));
        }
    }
    // Everything received is replayed: no lag, however old the last replayed transaction is
    // (an idle primary sends nothing new, and the replay timestamp just ages).
    let lag = if caught_up {
        0.0
    } else if let Some(age) = replay_age {
        age.max(0.0)
    } else {
        return Verdict::unknown(
            "replication lag unknown: WAL is waiting to be replayed and no transaction has been replayed yet",
        );
    };
    lag_verdict(lag, rep)
}

/// Down when `lag` seconds is more than `max_lag`.
fn lag_verdict(lag: f64, rep: Replication) -> Verdict {
    let lag_d = std::time::Duration::from_secs_f64(lag);
    if lag_d > rep.max_lag {
        Verdict::down(format!(
            "replication lag {}, more than max_lag {}",
            human_duration(std::time::Duration::from_millis(lag_d.as_millis() as u64)),
            human_duration(rep.max_lag)
        ))
    } else {
        Verdict::up()
    }
}

/// Compares the first value of a query's first row; `column` is its name, `value` `None` when
/// there was no row, `Some(None)` for SQL NULL.
pub fn query_value(q: &DbQuery, column: Option<&str>, value: Option<Option<&str>>) -> Verdict {
    let label = q.label.clone().unwrap_or_else(|| match column {
        Some(c)
            if !c.is_empty()
                && c != "?column?"
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b' ') =>
        {
            c.to_owned()
        }
        _ => format!("query `{}`", excerpt(q.sql.written().trim(), 60)),
    });
    let Some(value) = value else {
        return Verdict::down(format!(
            "{label}: the query returned no rows, expected {}",
            q.expect
        ));
    };
    let Some(text) = value else {
        return Verdict::down(format!(
            "{label}: NULL, not a number, expected {}",
            q.expect
        ));
    };
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_nan() => Verdict::down(format!("{label}: NaN, expected {}", q.expect)),
        Ok(v) if q.expect.holds(v) => Verdict::up(),
        Ok(_) => Verdict::down(format!("{label}: {}, expected {}", text.trim(), q.expect)),
        Err(_) => Verdict::down(format!(
            "{label}: `{}` is not a number, expected {}",
            excerpt(text, 60),
            q.expect
        )),
    }
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

/// Runs one attempt of a `mysql` check: connect over TCP, authenticate, `SELECT 1`, or the
/// query and replication checks.
pub async fn mysql(resolver: &NameResolver, check: &DbCheck) -> Verdict {
    use mysql_async::prelude::Queryable;
    let raw = normalize_userinfo(check.url.expose());
    let url = raw
        .strip_prefix("mariadb://")
        .map_or_else(|| raw.clone(), |rest| format!("mysql://{rest}"));
    let (url, ssl) = match MysqlSsl::of(&url) {
        Ok(v) => v,
        Err(reason) => return Verdict::unknown(reason),
    };
    let opts = match mysql_async::Opts::from_url(&url) {
        Ok(o) => o,
        Err(e) => return Verdict::unknown(format!("invalid dsn `{}`: {e}", check.url.written())),
    };
    let host = opts.ip_or_hostname().to_owned();
    // Resolved here (cancellable, inside the timeout), never by the driver's blocking lookup;
    // each address in turn until one accepts.
    let ips = match resolver.lookup(&host).await {
        Ok(ips) => ips,
        Err(reason) => return Verdict::down(reason),
    };
    let mut conn = None;
    for (i, ip) in ips.iter().enumerate() {
        // Probe the TCP endpoint that was named, never a local socket the driver might prefer.
        let mut builder = mysql_async::OptsBuilder::from_opts(opts.clone())
            .ip_or_hostname(ip.to_string())
            .prefer_socket(false);
        if let Some(ssl) = &ssl {
            // The certificate is checked against the name in the DSN, not its address.
            builder = builder.ssl_opts(
                ssl.clone()
                    .with_danger_tls_hostname_override(Some(host.clone())),
            );
        }
        match mysql_async::Conn::new(builder).await {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(e) if i + 1 < ips.len() && refused(&e) => {}
            Err(e) => {
                return Verdict::down(
                    mysql_reason(&e).replace("set `ca_file`", "add `ssl-ca=` to the dsn"),
                );
            }
        }
    }
    let Some(mut conn) = conn else {
        return Verdict::down(format!("cannot resolve `{host}`: no address"));
    };
    let mut verdict = Verdict::up();
    if let Some(rep) = &check.replication {
        verdict = mysql_replication(&mut conn, *rep).await;
    }
    if verdict.state == crate::state::State::Up
        && let Some(q) = &check.query
    {
        verdict = match conn
            .query_first::<mysql_async::Row, _>(q.sql.expose())
            .await
        {
            Ok(None) => query_value(q, None, None),
            Ok(Some(row)) if row.is_empty() => query_value(q, None, None),
            Ok(Some(row)) => {
                let column = row.columns_ref()[0].name_str().into_owned();
                let text = row.as_ref(0).and_then(mysql_text);
                query_value(q, Some(&column), Some(text.as_deref()))
            }
            Err(e) => Verdict::down(format!("query failed: {}", mysql_reason(&e))),
        };
    }
    if check.query.is_none()
        && check.replication.is_none()
        && let Err(e) = conn.query_drop("SELECT 1").await
    {
        verdict = Verdict::down(format!("SELECT 1 failed: {}", mysql_reason(&e)));
    }
    let _ = conn.disconnect().await;
    verdict
}

/// A MySQL value as text (`None` for NULL).
fn mysql_text(v: &mysql_async::Value) -> Option<String> {
    use mysql_async::Value;
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true)),
    }
}

/// `SHOW REPLICA STATUS` (MariaDB ≥ 10.5, MySQL ≥ 8.0.22), else `SHOW SLAVE STATUS`: both
/// threads must run and `Seconds_Behind_Master` (`…_Source`) be at most `max_lag`.
async fn mysql_replication(conn: &mut mysql_async::Conn, rep: Replication) -> Verdict {
    use mysql_async::prelude::Queryable;
    let rows: Vec<mysql_async::Row> = match conn.query("SHOW REPLICA STATUS").await {
        Ok(rows) => rows,
        Err(mysql_async::Error::Server(e)) if e.code == 1064 => {
            match conn.query("SHOW SLAVE STATUS").await {
                Ok(rows) => rows,
                Err(e) => {
                    return Verdict::down(format!(
                        "SHOW SLAVE STATUS failed: {}",
                        mysql_reason(&e)
                    ));
                }
            }
        }
        Err(e) => {
            return Verdict::down(format!("SHOW REPLICA STATUS failed: {}", mysql_reason(&e)));
        }
    };
    if rows.is_empty() {
        return Verdict::down(
            "not a replica: SHOW REPLICA STATUS is empty (the server replicates from no primary)",
        );
    }
    let mut worst = 0.0_f64;
    for row in &rows {
        let get = |names: &[&str]| -> Option<String> {
            let cols = row.columns_ref();
            names.iter().find_map(|n| {
                cols.iter()
                    .position(|c| c.name_str().eq_ignore_ascii_case(n))
                    .and_then(|i| row.as_ref(i))
                    .and_then(mysql_text)
            })
        };
        let name = get(&["Connection_name", "Channel_Name"])
            .filter(|n| !n.is_empty())
            .map(|n| format!(" `{n}`"))
            .unwrap_or_default();
        let io = get(&["Slave_IO_Running", "Replica_IO_Running"]).unwrap_or_default();
        let sql = get(&["Slave_SQL_Running", "Replica_SQL_Running"]).unwrap_or_default();
        if io != "Yes" || sql != "Yes" {
            let error = get(&["Last_IO_Error"])
                .filter(|e| !e.is_empty())
                .or_else(|| get(&["Last_SQL_Error"]).filter(|e| !e.is_empty()))
                .map(|e| format!(": {}", excerpt(&e, 160)))
                .unwrap_or_default();
            return Verdict::down(format!(
                "replica{name} is stopped: IO thread `{io}`, SQL thread `{sql}`{error}"
            ));
        }
        match get(&["Seconds_Behind_Master", "Seconds_Behind_Source"])
            .and_then(|s| s.parse::<f64>().ok())
        {
            Some(lag) => worst = worst.max(lag),
            None => {
                return Verdict::down(format!(
                    "replica{name}: replication lag unknown (Seconds_Behind_Master is NULL)"
                ));
            }
        }
    }
    lag_verdict(worst, rep)
}

/// `ssl-mode` (and `ssl-ca`) of a MySQL URL, as MySQL's own clients spell them, turned into the
/// driver's TLS options and taken out of the URL (the driver would reject them).
struct MysqlSsl;

impl MysqlSsl {
    fn of(url: &str) -> Result<(String, Option<mysql_async::SslOpts>), String> {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), None));
        };
        let mut mode = None;
        let mut ca = None;
        let mut kept = Vec::new();
        for kv in query.split('&') {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match k.to_ascii_lowercase().replace('_', "-").as_str() {
                "ssl-mode" | "sslmode" => mode = Some(percent_decoded(v).to_ascii_uppercase()),
                "ssl-ca" => ca = Some(percent_decoded(v).into_owned()),
                _ => kept.push(kv),
            }
        }
        let url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let roots = |o: mysql_async::SslOpts| match &ca {
            Some(path) => o.with_root_certs(vec![std::path::PathBuf::from(path).into()]),
            None => o,
        };
        let mode = mode.map(|m| m.replace('-', "_"));
        let ssl = match mode.as_deref() {
            None | Some("DISABLED" | "PREFERRED") => None,
            Some("REQUIRED") => {
                Some(mysql_async::SslOpts::default().with_danger_accept_invalid_certs(true))
            }
            Some("VERIFY_CA") => Some(roots(
                mysql_async::SslOpts::default().with_danger_skip_domain_validation(true),
            )),
            Some("VERIFY_IDENTITY") => Some(roots(mysql_async::SslOpts::default())),
            Some(other) => {
                return Err(format!(
                    "unknown `ssl-mode={other}`: expected DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
                ));
            }
        };
        Ok((url, ssl))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;
    use crate::topology::model::{CompareOp, Comparison, Text};
    use std::time::Duration;

    fn lt(threshold: f64) -> Comparison {
        Comparison {
            op: CompareOp::Lt,
            threshold,
        }
    }

    #[test]
    fn lag_is_compared_with_max_lag() {
        let rep = Replication {
            max_lag: Duration::from_secs(10),
        };
        assert_eq!(lag_verdict(3.0, rep), Verdict::up());
        assert_eq!(
            lag_verdict(42.4, rep).reason.as_deref(),
            Some("replication lag 42.4s, more than max_lag 10s")
        );
    }

    #[test]
    fn query_values_and_labels() {
        let q = DbQuery {
            sql: Text::plain("SELECT count(*) FROM x"),
            expect: lt(5.0),
            label: None,
        };
        assert_eq!(
            query_value(&q, Some("count"), Some(Some("3"))),
            Verdict::up()
        );
        assert_eq!(
            query_value(&q, Some("count(*)"), Some(Some("9")))
                .reason
                .as_deref(),
            Some("query `SELECT count(*) FROM x`: 9, expected < 5")
        );
        assert_eq!(
            query_value(&q, Some("?column?"), None).reason.as_deref(),
            Some("query `SELECT count(*) FROM x`: the query returned no rows, expected < 5")
        );
    }

    #[test]
    fn info_checks_read_info_text() {
        let text = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n# Memory\r\nused_memory:943718400\r\nmaxmemory:1073741824\r\n";
        let cmp = |op, threshold| InfoExpect::Compare(Comparison { op, threshold });
        let check = |field: &str, expect| InfoCheck {
            field: field.to_owned(),
            expect,
        };
        let ok = [
            check("role", InfoExpect::Equals("master".into())),
            check("connected_slaves", cmp(CompareOp::Ge, 1.0)),
            check("memory_ratio", cmp(CompareOp::Lt, 0.9)),
        ];
        assert_eq!(redis_info(text, &ok), Verdict::up());
        let tight = [check("memory_ratio", cmp(CompareOp::Lt, 0.8))];
        assert_eq!(
            redis_info(text, &tight).reason.as_deref(),
            Some("memory_ratio 0.879 (used_memory 900.0 MiB of maxmemory 1.0 GiB), expected < 0.8")
        );
        let unlimited = redis_info("used_memory:1024\r\nmaxmemory:0\r\n", &tight);
        assert_eq!(unlimited.state, State::Degraded);
        assert_eq!(
            unlimited.reason.as_deref(),
            Some(
                "maxmemory is 0 (unlimited), so memory_ratio cannot be checked; used_memory 1.0 KiB"
            )
        );
    }

    #[test]
    fn pg_sslmode_is_taken_out_of_the_dsn() {
        let s = PgSsl::of(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem&application_name=lp",
        )
        .unwrap();
        assert_eq!(
            s.dsn,
            "postgres://u@h/db?sslmode=require&application_name=lp"
        );
        assert!(s.verify);
        assert_eq!(s.root_cert.as_deref(), Some("/ca.pem"));
        let s = PgSsl::of("host=h user=u sslmode=verify-full sslrootcert=/ca.pem").unwrap();
        assert_eq!(s.dsn, "host=h user=u sslmode=require");
        let s = PgSsl::of("postgres://u@h/db?sslmode=require").unwrap();
        assert!(!s.verify);
        assert!(PgSsl::of("postgres://u@h/db?sslmode=verify-ca").is_err());
    }
}

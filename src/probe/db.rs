//! Data-store checks: `redis` (PING, AUTH from the URL), `postgres` and `mysql` (connect,
//! authenticate, `SELECT 1`).
//!
//! Redis is spoken directly (a few lines of RESP: `AUTH`, `SELECT`, `PING`) rather than through
//! the `redis` crate: a probe needs three commands, and the crate would add a connection
//! manager, a command DSL and their compile time for nothing. `rediss://` goes through the same
//! rustls configuration as every other TLS probe.

use std::sync::Arc;

use reqwest::Url;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::outcome::{Verdict, describe_error, excerpt};
use super::tcp::connect;
use crate::topology::model::UrlCheck;

// ---------------------------------------------------------------------------------------------
// Redis

/// Runs one attempt of a `redis` check (`redis://[user[:password]@]host[:port][/db]`).
pub async fn redis(tls: Result<Arc<ClientConfig>, String>, check: &UrlCheck) -> Verdict {
    let url = match Url::parse(check.url.expose()) {
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
    let tcp = match connect(&address).await {
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
    let user = percent_decoded(url.username());
    let password = url.password().map(percent_decoded);
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

fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// Runs one attempt of a `postgres` check: connect (no TLS), authenticate, `SELECT 1`.
pub async fn postgres(check: &UrlCheck) -> Verdict {
    let config: tokio_postgres::Config = match check.url.expose().parse() {
        Ok(c) => c,
        Err(e) => return Verdict::unknown(format!("invalid dsn `{}`: {e}", check.url.written())),
    };
    let (client, connection) = match config.connect(tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(e) => return Verdict::down(postgres_reason(&e)),
    };
    let driver = AbortOnDrop(tokio::spawn(connection));
    let verdict = match client.simple_query("SELECT 1").await {
        Ok(_) => Verdict::up(),
        Err(e) => Verdict::down(format!("SELECT 1 failed: {}", postgres_reason(&e))),
    };
    drop(client);
    drop(driver);
    verdict
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
pub async fn mysql(check: &UrlCheck) -> Verdict {
    use mysql_async::prelude::Queryable;
    let raw = check.url.expose();
    let url = raw
        .strip_prefix("mariadb://")
        .map_or_else(|| raw.to_owned(), |rest| format!("mysql://{rest}"));
    let opts = match mysql_async::Opts::from_url(&url) {
        Ok(o) => o,
        Err(e) => return Verdict::unknown(format!("invalid dsn `{}`: {e}", check.url.written())),
    };
    // Probe the TCP endpoint that was named, never a local socket the driver might prefer.
    let opts = mysql_async::OptsBuilder::from_opts(opts).prefer_socket(false);
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

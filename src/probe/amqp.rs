//! `amqp` check (RabbitMQ and other AMQP 0-9-1 brokers): connect, authenticate (PLAIN), open
//! the virtual host and a channel; with `queue:`, a round trip through a probe queue.
//!
//! The round trip leaves nothing on the broker: the queue is `<queue>.<unique>`, declared
//! `exclusive` and `auto-delete`, so the broker drops it (and the message, if the probe dies
//! half way) when the probe's connection closes, whichever way it closes; the message is
//! published with publisher confirms through the default exchange and taken back with
//! `basic.get` (no consumer left behind). A unique body per attempt means a stale message is
//! never taken for this one.
//!
//! The protocol is spoken directly (the dozen frames above, about 300 lines) rather than through
//! `lapin`: lapin 4 runs every connection on its own OS thread whose loop a cancelled future
//! cannot stop, so each probe that timed out against a broker that accepts and never answers
//! would leave a thread behind until the socket closed (found reading `io_loop.rs`, 4.12.3);
//! here a timeout drops the socket and nothing else exists.

use percent_encoding::percent_decode_str;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::endpoint::Endpoint;
use super::nonce::nonce;
use super::outcome::{Verdict, describe_error, excerpt};
use super::resolve::NameResolver;
use crate::topology::model::AmqpCheck;

const FRAME_METHOD: u8 = 1;
const FRAME_HEADER: u8 = 2;
const FRAME_BODY: u8 = 3;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;
/// Largest frame accepted from the broker (RabbitMQ's default `frame_max` is 128 KiB).
const MAX_FRAME: u32 = 1 << 20;

/// Runs one attempt of an `amqp` check.
pub async fn check(resolver: &NameResolver, check: &AmqpCheck) -> Verdict {
    let endpoint = match Endpoint::parse(
        &check.url,
        &["amqp"],
        "`amqp://` (amqps is not supported yet)",
        |_| 5672,
    ) {
        Ok(e) => e,
        Err(verdict) => return verdict,
    };
    let address = endpoint.address();
    let url = &endpoint.url;
    let user = match url.username() {
        "" => "guest".to_owned(),
        u => decoded(u),
    };
    let password = url.password().map_or_else(|| "guest".to_owned(), decoded);
    // `amqp://host` and `amqp://host/` both mean the default vhost `/`; `/%2f` is `/` too.
    let vhost = match url.path().strip_prefix('/').unwrap_or("") {
        "" => "/".to_owned(),
        v => decoded(v),
    };
    let tcp = match resolver.connect(&address).await {
        Ok(s) => s,
        Err(reason) => return Verdict::down(reason),
    };
    // Without it, Nagle holds each small frame back until the broker's delayed ACK: measured
    // 60-70 ms for a bare login against the local RabbitMQ, against a few ms with it.
    let _ = tcp.set_nodelay(true);
    let mut conn = Conn {
        io: BufReader::new(tcp),
    };
    let verdict = match session(&mut conn, &user, &password, &vhost, check.queue.as_deref()).await {
        Ok(()) => Verdict::up(),
        Err(reason) => Verdict::down(reason),
    };
    // Best effort, and never waited for long: the broker drops the exclusive queue either way.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), conn.close()).await;
    verdict
}

/// A step of the session; `Err` is the reason the broker is down.
type Step<T = ()> = Result<T, String>;

fn down<T>(reason: impl Into<String>) -> Step<T> {
    Err(reason.into())
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    user: &str,
    password: &str,
    vhost: &str,
    queue: Option<&str>,
) -> Step {
    conn.write_raw(b"AMQP\x00\x00\x09\x01").await?;
    // connection.start
    let start = conn
        .expect_method(0, (10, 10), "the AMQP greeting (connection.start)")
        .await
        .map_err(|r| {
            if r.contains("closed the connection") {
                format!("{r}; is this an AMQP 0-9-1 broker (RabbitMQ), not AMQP 1.0?")
            } else {
                r
            }
        })?;
    let mut r = Reader(&start);
    let _major = r.u8();
    let _minor = r.u8();
    r.table();
    let mechanisms = r.longstr();
    if !mechanisms.split(' ').any(|m| m == "PLAIN") {
        return down(format!(
            "the broker offers no PLAIN login (mechanisms: {})",
            excerpt(&mechanisms, 80)
        ));
    }
    // connection.start-ok: `authentication_failure_close` makes RabbitMQ say why a login fails
    // (connection.close 403) instead of dropping the socket.
    let mut capabilities = Vec::new();
    put_shortstr(&mut capabilities, "authentication_failure_close");
    capabilities.extend_from_slice(b"t\x01");
    let mut props = Vec::new();
    put_shortstr(&mut props, "product");
    props.push(b'S');
    put_longstr(&mut props, b"linkpatrol");
    put_shortstr(&mut props, "version");
    props.push(b'S');
    put_longstr(&mut props, env!("CARGO_PKG_VERSION").as_bytes());
    put_shortstr(&mut props, "capabilities");
    props.push(b'F');
    put_longstr(&mut props, &capabilities);
    let mut args = Vec::new();
    put_longstr(&mut args, &props);
    put_shortstr(&mut args, "PLAIN");
    put_longstr(&mut args, format!("\0{user}\0{password}").as_bytes());
    put_shortstr(&mut args, "en_US");
    conn.method(0, (10, 11), &args).await?;
    // connection.tune
    let tune = conn
        .expect_method(0, (10, 30), "connection.tune")
        .await
        .map_err(|e| login_failure(e, user))?;
    let mut r = Reader(&tune);
    let _channel_max = r.u16();
    let frame_max = r.u32();
    // One channel is all a probe opens (within any limit the broker sets).
    let mut args = 1u16.to_be_bytes().to_vec();
    let frame_max = if frame_max == 0 {
        131_072
    } else {
        frame_max.min(MAX_FRAME)
    };
    args.extend_from_slice(&frame_max.to_be_bytes());
    args.extend_from_slice(&0u16.to_be_bytes()); // no heartbeats: a probe is short
    conn.method(0, (10, 31), &args).await?;
    // connection.open
    let mut args = Vec::new();
    put_shortstr(&mut args, vhost);
    put_shortstr(&mut args, "");
    args.push(0);
    conn.method(0, (10, 40), &args).await?;
    conn.expect_method(0, (10, 41), "connection.open-ok")
        .await
        .map_err(|e| prefix(&e, &format!("opening vhost `{vhost}` failed")))?;
    // channel.open
    let mut args = Vec::new();
    put_shortstr(&mut args, "");
    conn.method(1, (20, 10), &args).await?;
    conn.expect_method(1, (20, 11), "channel.open-ok")
        .await
        .map_err(|e| prefix(&e, "opening a channel failed"))?;
    let Some(prefix_name) = queue else {
        return Ok(());
    };
    round_trip(conn, prefix_name, frame_max).await
}

/// Declares `<prefix>.<unique>` (exclusive, auto-delete), publishes one confirmed message to it
/// and gets it back.
async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    prefix_name: &str,
    frame_max: u32,
) -> Step {
    let token = nonce();
    let queue = format!("{prefix_name}.{token}");
    let body = format!("linkpatrol probe {token}");
    // queue.declare: not passive, not durable, exclusive, auto-delete.
    let mut args = 0u16.to_be_bytes().to_vec();
    put_shortstr(&mut args, &queue);
    args.push(0b0000_1100);
    put_longstr(&mut args, &[]);
    conn.method(1, (50, 10), &args).await?;
    conn.expect_method(1, (50, 11), "queue.declare-ok")
        .await
        .map_err(|e| prefix(&e, &format!("declaring the probe queue `{queue}` failed")))?;
    // confirm.select, so that the get below never races the publish.
    conn.method(1, (85, 10), &[0]).await?;
    conn.expect_method(1, (85, 11), "confirm.select-ok")
        .await
        .map_err(|e| prefix(&e, "enabling publisher confirms failed"))?;
    // basic.publish to the default exchange, mandatory.
    let mut args = 0u16.to_be_bytes().to_vec();
    put_shortstr(&mut args, "");
    put_shortstr(&mut args, &queue);
    args.push(0b0000_0001);
    conn.method(1, (60, 40), &args).await?;
    let mut header = Vec::new();
    header.extend_from_slice(&60u16.to_be_bytes());
    header.extend_from_slice(&0u16.to_be_bytes());
    header.extend_from_slice(&(body.len() as u64).to_be_bytes());
    header.extend_from_slice(&0u16.to_be_bytes()); // no properties
    conn.frame(FRAME_HEADER, 1, &header).await?;
    debug_assert!(body.len() < frame_max as usize - 8);
    conn.frame(FRAME_BODY, 1, body.as_bytes()).await?;
    // basic.ack (or nack / return) for the publish.
    loop {
        let (class, method, args) = conn.next_method(1, "the publish confirmation").await?;
        match (class, method) {
            (60, 80) => break,
            (60, 120) => {
                return down(format!(
                    "the broker refused the probe message (nack) on `{queue}`"
                ));
            }
            (60, 50) => {
                let mut r = Reader(&args);
                let code = r.u16();
                let text = r.shortstr();
                return down(format!(
                    "the probe message was returned unroutable: {code} {}",
                    excerpt(&text, 120)
                ));
            }
            _ => {}
        }
    }
    // basic.get, no-ack. Confirmed means enqueued, so one get suffices; a few more cover a
    // broker that confirms before the queue process has the message.
    for _ in 0..20 {
        let mut args = 0u16.to_be_bytes().to_vec();
        put_shortstr(&mut args, &queue);
        args.push(1);
        conn.method(1, (60, 70), &args).await?;
        let (class, method, _) = conn.next_method(1, "basic.get-ok").await?;
        match (class, method) {
            (60, 71) => {
                let got = conn.content().await?;
                if got == body.as_bytes() {
                    return Ok(());
                }
                return down(format!(
                    "the probe queue `{queue}` gave back another message: `{}`",
                    excerpt(&String::from_utf8_lossy(&got), 80)
                ));
            }
            (60, 72) => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
            _ => {
                return down(format!(
                    "unexpected answer to basic.get: method {class}.{method}"
                ));
            }
        }
    }
    down(format!(
        "the message published to `{queue}` was confirmed but never came back"
    ))
}

fn login_failure(r: String, user: &str) -> String {
    if r.contains("ACCESS_REFUSED") || r.contains("closed the connection") {
        format!(
            "amqp login refused for user `{user}`: {}; check the user and password in the url",
            r.trim_end_matches('.')
        )
    } else {
        r
    }
}

fn prefix(r: &str, what: &str) -> String {
    format!("{what}: {r}")
}

fn decoded(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

struct Conn<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn write_raw(&mut self, bytes: &[u8]) -> Step {
        let w = self.io.get_mut();
        match w.write_all(bytes).await {
            Ok(()) => match w.flush().await {
                Ok(()) => Ok(()),
                Err(e) => down(format!(
                    "sending to the broker failed: {}",
                    describe_error(&e)
                )),
            },
            Err(e) => down(format!(
                "sending to the broker failed: {}",
                describe_error(&e)
            )),
        }
    }

    async fn frame(&mut self, kind: u8, channel: u16, payload: &[u8]) -> Step {
        let mut f = Vec::with_capacity(payload.len() + 8);
        f.push(kind);
        f.extend_from_slice(&channel.to_be_bytes());
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f.push(FRAME_END);
        self.write_raw(&f).await
    }

    async fn method(&mut self, channel: u16, (class, method): (u16, u16), args: &[u8]) -> Step {
        let mut p = Vec::with_capacity(args.len() + 4);
        p.extend_from_slice(&class.to_be_bytes());
        p.extend_from_slice(&method.to_be_bytes());
        p.extend_from_slice(args);
        self.frame(FRAME_METHOD, channel, &p).await
    }

    /// The next frame, heartbeats skipped.
    async fn read_frame(&mut self, waiting_for: &str) -> Step<(u8, u16, Vec<u8>)> {
        loop {
            let mut head = [0u8; 7];
            if let Err(e) = self.io.read_exact(&mut head).await {
                return down(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    format!("the broker closed the connection while waiting for {waiting_for}")
                } else {
                    format!("reading from the broker failed: {}", describe_error(&e))
                });
            }
            if &head[..4] == b"AMQP" {
                return down(format!(
                    "the broker does not speak AMQP 0-9-1 (it answered with protocol header {:?})",
                    &head[4..]
                ));
            }
            let kind = head[0];
            let channel = u16::from_be_bytes([head[1], head[2]]);
            let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]);
            if size > MAX_FRAME {
                return down(format!(
                    "the broker sent a {size}-byte frame; not an AMQP 0-9-1 broker?"
                ));
            }
            let mut payload = vec![0u8; size as usize + 1];
            if let Err(e) = self.io.read_exact(&mut payload).await {
                return down(format!(
                    "reading from the broker failed: {}",
                    describe_error(&e)
                ));
            }
            if payload.pop() != Some(FRAME_END) {
                return down("the broker sent a malformed frame (no frame end)");
            }
            if kind == FRAME_HEARTBEAT {
                continue;
            }
            return Ok((kind, channel, payload));
        }
    }

    /// The next method frame as (class, method, arguments); a `close` from the broker (of the
    /// connection, or of `channel`) becomes the failure, with the broker's code and text.
    async fn next_method(&mut self, channel: u16, waiting_for: &str) -> Step<(u16, u16, Vec<u8>)> {
        loop {
            let (kind, ch, payload) = self.read_frame(waiting_for).await?;
            if kind != FRAME_METHOD || payload.len() < 4 {
                continue;
            }
            let class = u16::from_be_bytes([payload[0], payload[1]]);
            let method = u16::from_be_bytes([payload[2], payload[3]]);
            let args = payload[4..].to_vec();
            if (class, method) == (10, 50) || ((class, method) == (20, 40) && ch == channel) {
                let mut r = Reader(&args);
                let code = r.u16();
                let text = r.shortstr();
                // Answer the close, so the broker logs a clean end.
                let ok = if class == 10 { (10, 51) } else { (20, 41) };
                let _ = self.method(ch, ok, &[]).await;
                return down(format!("{code} {}", excerpt(&text, 200)));
            }
            if ch == channel {
                return Ok((class, method, args));
            }
        }
    }

    async fn expect_method(
        &mut self,
        channel: u16,
        want: (u16, u16),
        waiting_for: &str,
    ) -> Step<Vec<u8>> {
        let (class, method, args) = self.next_method(channel, waiting_for).await?;
        if (class, method) == want {
            Ok(args)
        } else {
            down(format!(
                "unexpected AMQP method {class}.{method} while waiting for {waiting_for}"
            ))
        }
    }

    /// The content (header + body frames) after a `basic.get-ok`.
    async fn content(&mut self) -> Step<Vec<u8>> {
        let (kind, _, header) = self.read_frame("the message header").await?;
        if kind != FRAME_HEADER || header.len() < 12 {
            return down("the broker sent a malformed message header");
        }
        let size = u64::from_be_bytes(header[4..12].try_into().expect("8 bytes"));
        if size > u64::from(MAX_FRAME) {
            return down(format!("the probe queue gave back a {size}-byte message"));
        }
        let mut body = Vec::with_capacity(size as usize);
        while (body.len() as u64) < size {
            let (kind, _, part) = self.read_frame("the message body").await?;
            if kind != FRAME_BODY {
                return down("the broker sent a malformed message body");
            }
            body.extend_from_slice(&part);
        }
        Ok(body)
    }

    /// connection.close, waiting for close-ok (the caller bounds the wait).
    async fn close(&mut self) {
        let mut args = 200u16.to_be_bytes().to_vec();
        put_shortstr(&mut args, "probe done");
        args.extend_from_slice(&[0, 0, 0, 0]);
        if self.method(0, (10, 50), &args).await.is_ok() {
            for _ in 0..8 {
                match self.read_frame("connection.close-ok").await {
                    Ok((FRAME_METHOD, 0, p)) if p.starts_with(&[0, 10, 0, 51]) => break,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        let _ = self.io.get_mut().shutdown().await;
    }
}

fn put_shortstr(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(255)];
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

fn put_longstr(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

/// Reads AMQP fields; past the end, reads give zeros and empty strings (the frame is then
/// malformed, and what was read is only ever shown, never trusted).
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        let b = self.take(2);
        if b.len() == 2 {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            0
        }
    }

    fn u32(&mut self) -> u32 {
        let b = self.take(4);
        if b.len() == 4 {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        } else {
            0
        }
    }

    fn shortstr(&mut self) -> String {
        let n = self.u8() as usize;
        String::from_utf8_lossy(self.take(n)).into_owned()
    }

    fn longstr(&mut self) -> String {
        let n = self.u32() as usize;
        String::from_utf8_lossy(self.take(n)).into_owned()
    }

    fn table(&mut self) {
        let n = self.u32() as usize;
        self.take(n);
    }
}

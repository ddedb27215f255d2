//! A toy AMQP 0-9-1 broker: just what the `amqp` probe's queue round trip sends (connection
//! start/tune/open, a channel, `queue.declare`, publisher confirms, one `basic.publish` and
//! `basic.get`, close). Each connection has its own queues, as the probe's exclusive queues
//! are its own anyway. Any PLAIN login is accepted. Failing, it closes the connection right
//! after the login with `320 CONNECTION_FORCED`, as RabbitMQ does when it shuts down.
//!
//! Hand-written: no crate offers the server side of AMQP 0-9-1, and the frames are few.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::{Answer, Serving};

/// How long a connection may stay idle before the broker closes it.
const IDLE: Duration = Duration::from_secs(10);
const FRAME_END: u8 = 0xCE;

/// Serves the broker until the fleet stops.
pub(crate) async fn serve(listener: TcpListener, serving: Serving) {
    super::tcp::accept_loop(listener, serving, |stream, serving| async move {
        let _ = tokio::time::timeout(IDLE, session(stream, serving)).await;
    })
    .await;
}

async fn session(stream: TcpStream, serving: Serving) -> std::io::Result<()> {
    let mut io = BufReader::new(stream);
    let mut header = [0u8; 8];
    io.read_exact(&mut header).await?;
    if &header != b"AMQP\x00\x00\x09\x01" {
        io.get_mut().write_all(b"AMQP\x00\x00\x09\x01").await?;
        return Ok(());
    }
    serving.delay().await;
    // connection.start: version 0-9, no server properties, PLAIN, en_US.
    let mut start = vec![0, 9];
    start.extend_from_slice(&0u32.to_be_bytes());
    longstr(&mut start, b"PLAIN");
    longstr(&mut start, b"en_US");
    method(&mut io, 0, 10, 10, &start).await?;
    let mut queues: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    let mut published = 0u64;
    let mut confirms = false;
    let mut tag = 0u64;
    loop {
        let (kind, channel, payload) = read_frame(&mut io).await?;
        if kind == 1 && payload.len() >= 4 {
            let class = u16::from_be_bytes([payload[0], payload[1]]);
            let id = u16::from_be_bytes([payload[2], payload[3]]);
            let args = &payload[4..];
            match (class, id) {
                (10, 11) if serving.answer == Answer::Failing => {
                    let mut close = 320u16.to_be_bytes().to_vec();
                    shortstr(
                        &mut close,
                        "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
                    );
                    close.extend_from_slice(&[0, 0, 0, 0]);
                    method(&mut io, 0, 10, 50, &close).await?;
                    return Ok(());
                }
                (10, 11) => {
                    let mut tune = 1u16.to_be_bytes().to_vec();
                    tune.extend_from_slice(&131_072u32.to_be_bytes());
                    tune.extend_from_slice(&0u16.to_be_bytes());
                    method(&mut io, 0, 10, 30, &tune).await?;
                }
                (10, 40) => method(&mut io, 0, 10, 41, &[0]).await?,
                (10, 50) => {
                    method(&mut io, 0, 10, 51, &[]).await?;
                    return Ok(());
                }
                (20, 10) => method(&mut io, channel, 20, 11, &[0, 0, 0, 0]).await?,
                (20, 40) => method(&mut io, channel, 20, 41, &[]).await?,
                (50, 10) => {
                    let name = read_shortstr(args.get(2..).unwrap_or_default());
                    queues.entry(name.clone()).or_default();
                    let mut ok = Vec::new();
                    shortstr(&mut ok, &name);
                    ok.extend_from_slice(&[0; 8]);
                    method(&mut io, channel, 50, 11, &ok).await?;
                }
                (85, 10) => {
                    confirms = true;
                    method(&mut io, channel, 85, 11, &[]).await?;
                }
                (60, 40) => {
                    // reserved u16, exchange, routing key: the default exchange routes by
                    // queue name. The content header and body frames follow.
                    let rest = args.get(2..).unwrap_or_default();
                    let exchange_len = rest.first().copied().unwrap_or(0) as usize;
                    let key = read_shortstr(rest.get(1 + exchange_len..).unwrap_or_default());
                    let (_, _, header) = read_frame(&mut io).await?;
                    let size = header
                        .get(4..12)
                        .map_or(0, |b| u64::from_be_bytes(b.try_into().expect("8 bytes")));
                    let mut body = Vec::new();
                    while (body.len() as u64) < size.min(1 << 20) {
                        let (_, _, part) = read_frame(&mut io).await?;
                        body.extend_from_slice(&part);
                    }
                    queues.entry(key).or_default().push(body);
                    if confirms {
                        published += 1;
                        let mut ack = published.to_be_bytes().to_vec();
                        ack.push(0);
                        method(&mut io, channel, 60, 80, &ack).await?;
                    }
                }
                (60, 70) => {
                    let name = read_shortstr(args.get(2..).unwrap_or_default());
                    match queues.get_mut(&name).filter(|q| !q.is_empty()) {
                        Some(q) => {
                            let body = q.remove(0);
                            tag += 1;
                            let mut ok = tag.to_be_bytes().to_vec();
                            ok.push(0);
                            shortstr(&mut ok, "");
                            shortstr(&mut ok, &name);
                            ok.extend_from_slice(&(q.len() as u32).to_be_bytes());
                            method(&mut io, channel, 60, 71, &ok).await?;
                            let mut header = 60u16.to_be_bytes().to_vec();
                            header.extend_from_slice(&0u16.to_be_bytes());
                            header.extend_from_slice(&(body.len() as u64).to_be_bytes());
                            header.extend_from_slice(&0u16.to_be_bytes());
                            frame(&mut io, 2, channel, &header).await?;
                            frame(&mut io, 3, channel, &body).await?;
                        }
                        None => method(&mut io, channel, 60, 72, &[0]).await?,
                    }
                }
                _ => {}
            }
        }
    }
}

async fn read_frame(io: &mut BufReader<TcpStream>) -> std::io::Result<(u8, u16, Vec<u8>)> {
    let mut head = [0u8; 7];
    io.read_exact(&mut head).await?;
    let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]);
    if size > 1 << 20 {
        return Err(std::io::ErrorKind::InvalidData.into());
    }
    let mut payload = vec![0u8; size as usize + 1];
    io.read_exact(&mut payload).await?;
    payload.pop();
    Ok((head[0], u16::from_be_bytes([head[1], head[2]]), payload))
}

async fn frame(
    io: &mut BufReader<TcpStream>,
    kind: u8,
    channel: u16,
    payload: &[u8],
) -> std::io::Result<()> {
    let mut f = vec![kind];
    f.extend_from_slice(&channel.to_be_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f.push(FRAME_END);
    io.get_mut().write_all(&f).await
}

async fn method(
    io: &mut BufReader<TcpStream>,
    channel: u16,
    class: u16,
    id: u16,
    args: &[u8],
) -> std::io::Result<()> {
    let mut p = class.to_be_bytes().to_vec();
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(args);
    frame(io, 1, channel, &p).await
}

fn shortstr(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(255)];
    out.push(b.len() as u8);
    out.extend_from_slice(b);
}

fn longstr(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn read_shortstr(b: &[u8]) -> String {
    let n = b.first().copied().unwrap_or(0) as usize;
    String::from_utf8_lossy(b.get(1..=n).unwrap_or_default()).into_owned()
}

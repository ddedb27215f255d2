//! A Redis server as far as a health check goes, speaking RESP2 through `redis-protocol` (the
//! codec behind the `fred` client): `PING`, `AUTH`, `SELECT`, `ECHO`, `INFO`, `QUIT`, and
//! inline commands (`printf 'PING\r\n' | nc …`) as real Redis accepts them.
//!
//! It has no password, like a default Redis: `AUTH` answers the error Redis 7 gives then. A
//! failing instance answers every command with `-LOADING`, as Redis does while it reads its
//! dataset after a restart.

use redis_protocol::resp2::decode::decode;
use redis_protocol::resp2::encode::encode;
use redis_protocol::resp2::types::{OwnedFrame, Resp2Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::tcp::accept_loop;
use super::{Answer, Serving};

/// Bytes a client may send without completing a command before it is cut off.
const REQUEST_CAP: usize = 64 * 1024;

/// Serves RESP on `listener` until the fleet stops.
pub(crate) async fn serve(listener: TcpListener, serving: Serving) {
    accept_loop(listener, serving, session).await;
}

async fn session(mut stream: TcpStream, serving: Serving) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut db = 0u8;
    loop {
        let (command, used) = match next_command(&buf) {
            Ok(Some(parsed)) => parsed,
            Ok(None) if buf.len() < REQUEST_CAP => {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                continue;
            }
            Ok(None) => return,
            Err(message) => {
                let _ = write(&mut stream, &OwnedFrame::Error(message)).await;
                return;
            }
        };
        buf.drain(..used);
        serving.delay().await;
        let (reply, close) = answer(&command, serving.answer, &mut db);
        if write(&mut stream, &reply).await.is_err() || close {
            return;
        }
    }
}

/// The next complete command in `buf` and the bytes it took: a RESP array of bulk strings, or
/// an inline command line.
fn next_command(buf: &[u8]) -> Result<Option<(Vec<String>, usize)>, String> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        let Some(end) = buf.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&buf[..end]);
        let words = line.split_whitespace().map(str::to_owned).collect();
        return Ok(Some((words, end + 1)));
    }
    match decode(buf) {
        Ok(Some((OwnedFrame::Array(items), used))) => {
            let mut words = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    OwnedFrame::BulkString(b) | OwnedFrame::SimpleString(b) => {
                        words.push(String::from_utf8_lossy(&b).into_owned());
                    }
                    _ => return Err("ERR Protocol error: expected bulk strings".to_owned()),
                }
            }
            Ok(Some((words, used)))
        }
        Ok(Some(_)) => Err("ERR Protocol error: expected an array".to_owned()),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("ERR Protocol error: {e}")),
    }
}

/// The reply to one command, and whether to close the connection after it.
fn answer(command: &[String], answer: Answer, db: &mut u8) -> (OwnedFrame, bool) {
    let Some(name) = command.first() else {
        return (OwnedFrame::SimpleString(Vec::new()), false);
    };
    let name = name.to_ascii_uppercase();
    let args = &command[1..];
    let simple = |s: &str| OwnedFrame::SimpleString(s.as_bytes().to_vec());
    let error = |s: String| OwnedFrame::Error(s);
    if name == "QUIT" {
        return (simple("OK"), true);
    }
    if answer == Answer::Failing {
        return (
            error("LOADING Redis is loading the dataset in memory".to_owned()),
            false,
        );
    }
    let wrong_args = || {
        error(format!(
            "ERR wrong number of arguments for '{}' command",
            name.to_ascii_lowercase()
        ))
    };
    let reply = match name.as_str() {
        "PING" => match args {
            [] => simple("PONG"),
            [message] => OwnedFrame::BulkString(message.as_bytes().to_vec()),
            _ => wrong_args(),
        },
        "ECHO" => match args {
            [message] => OwnedFrame::BulkString(message.as_bytes().to_vec()),
            _ => wrong_args(),
        },
        "AUTH" => match args {
            [_] | [_, _] => error(
                "ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?"
                    .to_owned(),
            ),
            _ => wrong_args(),
        },
        "SELECT" => match args {
            [index] => match index.parse::<u8>() {
                Ok(i) if i < 16 => {
                    *db = i;
                    simple("OK")
                }
                Ok(_) => error("ERR DB index is out of range".to_owned()),
                Err(_) => error("ERR value is not an integer or out of range".to_owned()),
            },
            _ => wrong_args(),
        },
        "INFO" => OwnedFrame::BulkString(info(*db).into_bytes()),
        _ => {
            let shown: Vec<String> = args.iter().take(3).map(|a| format!("'{a}'")).collect();
            error(format!(
                "ERR unknown command '{}', with args beginning with: {}",
                command[0],
                shown.join(" ")
            ))
        }
    };
    (reply, false)
}

/// The `INFO` sections a health check reads: server, replication, memory.
fn info(db: u8) -> String {
    [
        "# Server",
        "redis_version:7.0.15",
        "redis_mode:standalone",
        "",
        "# Replication",
        "role:master",
        "connected_slaves:0",
        "",
        "# Memory",
        "used_memory:1048576",
        "maxmemory:268435456",
        "",
        "# Keyspace",
        &format!("db{db}:keys=0,expires=0,avg_ttl=0"),
        "",
    ]
    .join("\r\n")
}

async fn write(stream: &mut TcpStream, frame: &OwnedFrame) -> std::io::Result<()> {
    let mut out = vec![0u8; frame.encode_len(false)];
    let n = encode(&mut out, frame, false).map_err(std::io::Error::other)?;
    stream.write_all(&out[..n]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn commands_are_read_as_resp_arrays_and_inline() {
        let resp = b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n";
        let (first, used) = next_command(resp).unwrap().unwrap();
        assert_eq!(first, words(&["SELECT", "3"]));
        let (second, _) = next_command(&resp[used..]).unwrap().unwrap();
        assert_eq!(second, words(&["PING"]));
        assert_eq!(next_command(b"*1\r\n$4\r\nPI").unwrap(), None);
        let (inline, used) = next_command(b"ping\r\nrest").unwrap().unwrap();
        assert_eq!((inline, used), (words(&["ping"]), 6));
    }

    #[test]
    fn replies_are_those_of_redis() {
        let mut db = 0;
        let cases: Vec<(&[&str], Answer, OwnedFrame)> = vec![
            (
                &["PING"],
                Answer::Healthy,
                OwnedFrame::SimpleString(b"PONG".to_vec()),
            ),
            (
                &["ping", "hi"],
                Answer::Healthy,
                OwnedFrame::BulkString(b"hi".to_vec()),
            ),
            (
                &["SELECT", "2"],
                Answer::Healthy,
                OwnedFrame::SimpleString(b"OK".to_vec()),
            ),
            (
                &["SELECT", "99"],
                Answer::Healthy,
                OwnedFrame::Error("ERR DB index is out of range".to_owned()),
            ),
            (
                &["PING"],
                Answer::Failing,
                OwnedFrame::Error("LOADING Redis is loading the dataset in memory".to_owned()),
            ),
        ];
        for (command, how, want) in cases {
            assert_eq!(answer(&words(command), how, &mut db).0, want, "{command:?}");
        }
        assert_eq!(db, 2);
        let (auth, _) = answer(&words(&["AUTH", "x"]), Answer::Healthy, &mut db);
        assert!(matches!(auth, OwnedFrame::Error(e) if e.starts_with("ERR AUTH")));
        assert!(answer(&words(&["QUIT"]), Answer::Healthy, &mut db).1);
    }
}

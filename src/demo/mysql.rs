//! A MySQL server as far as a health check goes: the v10 handshake, `mysql_native_password`
//! authentication of the bundled user (`order`, password `demo`, database `orders`), and
//! text-protocol result sets for `SELECT` of literals and `@@` variables, which is what a
//! driver's connect (`SELECT @@max_allowed_packet,@@wait_timeout`) and the probe's `SELECT 1`
//! send. Also `COM_PING`, `COM_INIT_DB` and `COM_QUIT`, and the two statements the bundled
//! topology's checks send: the order database's slow-query count ([`SLOW_QUERIES_SQL`]) and
//! `SHOW REPLICA STATUS` of the read replica (both threads running, 1 s behind).
//!
//! Why written here rather than taken from a crate: `opensrv-mysql` (0.7, the maintained fork
//! of `msql-srv`) pins `mysql_common` 0.32 with all its default features, a second copy beside
//! the 0.37 our driver uses, and with it about 45 more crates (zlib and zstd built from C,
//! bigdecimal, rust_decimal, frunk, bitvec, chrono, darling), measured with
//! `cargo tree -e normal` before and after. Instead, every packet is built and parsed by
//! `mysql_common` 0.37, the protocol crate `mysql_async` already brings (handshake, handshake
//! response, column definitions, error packets, the native-password scramble); this module
//! only frames packets and keeps the order of the conversation.
//!
//! A failing instance answers the connection with error 1040, "Too many connections".

use mysql_common::constants::{CapabilityFlags, ColumnType, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    Column, ErrPacket, HandshakePacket, HandshakeResponse, ServerError, SqlState,
};
use mysql_common::proto::MySerialize;
use mysql_common::scramble::scramble_native;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tcp::accept_loop;
use super::{Answer, Serving};

/// The account of the bundled `mysql://order:${ORDER_DB_PASSWORD:-demo}@{address}/orders`.
pub const USER: &str = "order";
/// Its password.
pub const PASSWORD: &str = "demo";
/// Its database.
pub const DATABASE: &str = "orders";
/// What the server says it is.
pub const SERVER_VERSION: &str = "8.0.36-linkpatrol-demo";

/// Largest packet accepted from a client.
const PACKET_CAP: usize = 1 << 20;
const COM_QUIT: u8 = 0x01;
const COM_INIT_DB: u8 = 0x02;
const COM_QUERY: u8 = 0x03;
const COM_PING: u8 = 0x0e;
const UTF8MB4_GENERAL_CI: u8 = 45;

/// Serves MySQL on `listener` until the fleet stops.
pub(crate) async fn serve(listener: tokio::net::TcpListener, serving: Serving) {
    accept_loop(listener, serving, |stream, serving| async move {
        let _ = session(stream, serving).await;
    })
    .await;
}

fn capabilities() -> CapabilityFlags {
    CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_FOUND_ROWS
        | CapabilityFlags::CLIENT_LONG_FLAG
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB
        | CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CapabilityFlags::CLIENT_CONNECT_ATTRS
}

/// Packets of one conversation: 3-byte length, sequence id, payload.
struct Conn {
    stream: TcpStream,
    seq: u8,
}

impl Conn {
    async fn read(&mut self) -> std::io::Result<Vec<u8>> {
        let mut header = [0u8; 4];
        self.stream.read_exact(&mut header).await?;
        let len =
            usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
        if len > PACKET_CAP {
            return Err(std::io::Error::other("packet too large"));
        }
        self.seq = header[3].wrapping_add(1);
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload).await?;
        Ok(payload)
    }

    async fn write(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let len = payload.len();
        let mut packet = Vec::with_capacity(len + 4);
        packet.extend_from_slice(&[len as u8, (len >> 8) as u8, (len >> 16) as u8, self.seq]);
        packet.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.stream.write_all(&packet).await
    }

    async fn write_struct(&mut self, packet: &impl MySerialize) -> std::io::Result<()> {
        let mut buf = Vec::new();
        packet.serialize(&mut buf);
        self.write(&buf).await
    }

    async fn error(&mut self, code: u16, state: &[u8; 5], message: &str) -> std::io::Result<()> {
        let packet = ErrPacket::Error(ServerError::new(
            code,
            Some(SqlState::new(*state)),
            message.as_bytes(),
        ));
        self.write_struct(&packet).await
    }

    async fn ok(&mut self) -> std::io::Result<()> {
        let status = StatusFlags::SERVER_STATUS_AUTOCOMMIT.bits().to_le_bytes();
        // header, affected rows, last insert id (both length-encoded 0), status, warnings
        self.write(&[0x00, 0, 0, status[0], status[1], 0, 0]).await
    }

    async fn eof(&mut self) -> std::io::Result<()> {
        let status = StatusFlags::SERVER_STATUS_AUTOCOMMIT.bits().to_le_bytes();
        self.write(&[0xfe, 0, 0, status[0], status[1]]).await
    }
}

async fn session(stream: TcpStream, serving: Serving) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn { stream, seq: 0 };
    // A slow server is slow once per connection (a full handshake and two queries each
    // delayed would outlast a 1 s probe timeout, which is a different story).
    serving.delay().await;
    if serving.answer == Answer::Failing {
        return conn.error(1040, b"08004", "Too many connections").await;
    }
    let nonce = nonce();
    let handshake = HandshakePacket::new(
        10,
        SERVER_VERSION.as_bytes(),
        1,
        nonce[..8].try_into().expect("8 bytes"),
        Some(&nonce[8..]),
        capabilities(),
        UTF8MB4_GENERAL_CI,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(&b"mysql_native_password"[..]),
    );
    conn.write_struct(&handshake).await?;
    let payload = conn.read().await?;
    let response: HandshakeResponse<'_> = ParseBuf(&payload)
        .parse(())
        .map_err(|e| std::io::Error::other(format!("bad handshake response: {e}")))?;
    let user = String::from_utf8_lossy(response.user()).into_owned();
    let expected = scramble_native(&nonce, PASSWORD.as_bytes()).expect("a password is set");
    if user != USER || response.scramble_buf() != expected {
        let peer = conn
            .stream
            .peer_addr()
            .map_or_else(|_| "localhost".to_owned(), |a| a.ip().to_string());
        let message = format!(
            "Access denied for user '{user}'@'{peer}' (using password: {})",
            if response.scramble_buf().is_empty() {
                "NO"
            } else {
                "YES"
            }
        );
        return conn.error(1045, b"28000", &message).await;
    }
    if let Some(db) = response.db_name()
        && !db.is_empty()
        && db != DATABASE.as_bytes()
    {
        let message = format!("Unknown database '{}'", String::from_utf8_lossy(db));
        return conn.error(1049, b"42000", &message).await;
    }
    conn.ok().await?;
    loop {
        let payload = conn.read().await?;
        let Some((&command, rest)) = payload.split_first() else {
            return Ok(());
        };
        match command {
            COM_QUIT => return Ok(()),
            COM_PING => conn.ok().await?,
            COM_INIT_DB if rest == DATABASE.as_bytes() => conn.ok().await?,
            COM_INIT_DB => {
                let message = format!("Unknown database '{}'", String::from_utf8_lossy(rest));
                conn.error(1049, b"42000", &message).await?;
            }
            COM_QUERY => match select(&String::from_utf8_lossy(rest)) {
                Ok(columns) => result_set(&mut conn, &columns).await?,
                Err(message) => conn.error(1064, b"42000", &message).await?,
            },
            _ => conn.error(1047, b"08S01", "Unknown command").await?,
        }
    }
}

/// 20 bytes of scramble, none of them 0 (the handshake ends the scramble with one).
fn nonce() -> [u8; 20] {
    let mut nonce = [0u8; 20];
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut x = (seed as u64) ^ 0x9e37_79b9_7f4a_7c15;
    for b in &mut nonce {
        // xorshift: a demo's scramble needs to differ per connection, not to be secret.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = 1 + (x % 126) as u8;
    }
    nonce
}

/// One column of an answer: its name, type and value (`None` = NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The column name, as the query wrote the expression.
    pub name: String,
    /// Its type.
    pub kind: ColumnType,
    /// Its text-protocol value.
    pub text: Option<String>,
}

/// The slow-query check of the bundled topology's order database (`mysql.slow_log`, filled
/// by a server with `slow_query_log=ON` and `log_output=TABLE`).
pub const SLOW_QUERIES_SQL: &str =
    "SELECT COUNT(*) FROM mysql.slow_log WHERE start_time > NOW() - INTERVAL 1 MINUTE";

/// The answers to the statements of [`SLOW_QUERIES_SQL`] and `SHOW REPLICA STATUS`.
fn canned(query: &str) -> Option<Vec<Value>> {
    let column = |name: &str, kind, text: &str| Value {
        name: name.to_owned(),
        kind,
        text: Some(text.to_owned()),
    };
    if query.eq_ignore_ascii_case(SLOW_QUERIES_SQL) {
        return Some(vec![column(
            "COUNT(*)",
            ColumnType::MYSQL_TYPE_LONGLONG,
            "2",
        )]);
    }
    if query.eq_ignore_ascii_case("SHOW REPLICA STATUS")
        || query.eq_ignore_ascii_case("SHOW SLAVE STATUS")
    {
        let text = ColumnType::MYSQL_TYPE_VAR_STRING;
        return Some(vec![
            column("Slave_IO_State", text, "Waiting for master to send event"),
            column("Master_Host", text, "127.0.0.1"),
            column("Slave_IO_Running", text, "Yes"),
            column("Slave_SQL_Running", text, "Yes"),
            column("Last_IO_Error", text, ""),
            column("Last_SQL_Error", text, ""),
            column(
                "Seconds_Behind_Master",
                ColumnType::MYSQL_TYPE_LONGLONG,
                "1",
            ),
        ]);
    }
    None
}

/// Answers `SELECT expr, expr, …` where every expression is an integer, a quoted string or a
/// known `@@` variable, and the two statements of the bundled checks; anything else is a
/// syntax error, as the demo is no database.
pub fn select(query: &str) -> Result<Vec<Value>, String> {
    let query = query.trim().trim_end_matches(';').trim();
    if let Some(values) = canned(query) {
        return Ok(values);
    }
    let unsupported = || {
        format!(
            "You have an error in your SQL syntax near '{}': the linkpatrol demo server answers \
             only SELECT of literals and @@variables",
            query.chars().take(60).collect::<String>()
        )
    };
    let Some(list) = query
        .get(..7)
        .filter(|head| head.eq_ignore_ascii_case("select "))
        .map(|_| &query[7..])
    else {
        return Err(unsupported());
    };
    list.split(',')
        .map(|item| {
            let item = item.trim();
            let int = |n: i64| Value {
                name: item.to_owned(),
                kind: ColumnType::MYSQL_TYPE_LONGLONG,
                text: Some(n.to_string()),
            };
            let string = |s: &str| Value {
                name: item.to_owned(),
                kind: ColumnType::MYSQL_TYPE_VAR_STRING,
                text: Some(s.to_owned()),
            };
            if let Ok(n) = item.parse::<i64>() {
                return Ok(int(n));
            }
            if let Some(s) = item
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .filter(|s| !s.contains('\''))
            {
                return Ok(string(s));
            }
            let variable = item.strip_prefix("@@").map(|v| {
                v.trim_start_matches("session.")
                    .trim_start_matches("global.")
            });
            match variable.map(str::to_ascii_lowercase).as_deref() {
                Some("max_allowed_packet") => Ok(int(64 << 20)),
                Some("wait_timeout") => Ok(int(28_800)),
                Some("version") => Ok(string(SERVER_VERSION)),
                Some("version_comment") => Ok(string("linkpatrol demo fleet")),
                Some("read_only") => Ok(int(0)),
                Some("socket") => Ok(Value {
                    name: item.to_owned(),
                    kind: ColumnType::MYSQL_TYPE_VAR_STRING,
                    text: None,
                }),
                Some(other) => Err(format!("Unknown system variable '{other}'")),
                None => Err(unsupported()),
            }
        })
        .collect()
}

/// A text-protocol result set of one row: column count, definitions, EOF, the row, EOF.
async fn result_set(conn: &mut Conn, values: &[Value]) -> std::io::Result<()> {
    let mut count = Vec::new();
    lenenc_int(&mut count, values.len() as u64);
    conn.write(&count).await?;
    for v in values {
        let column = Column::new(v.kind)
            .with_schema(b"")
            .with_name(v.name.as_bytes())
            .with_org_name(v.name.as_bytes())
            .with_character_set(u16::from(UTF8MB4_GENERAL_CI));
        conn.write_struct(&column).await?;
    }
    conn.eof().await?;
    let mut row = Vec::new();
    for v in values {
        match &v.text {
            Some(text) => {
                lenenc_int(&mut row, text.len() as u64);
                row.extend_from_slice(text.as_bytes());
            }
            None => row.push(0xfb),
        }
    }
    conn.write(&row).await?;
    conn.eof().await
}

fn lenenc_int(buf: &mut Vec<u8>, n: u64) {
    match n {
        0..=250 => buf.push(n as u8),
        251..=0xffff => {
            buf.push(0xfc);
            buf.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xff_ffff => {
            buf.push(0xfd);
            buf.extend_from_slice(&n.to_le_bytes()[..3]);
        }
        _ => {
            buf.push(0xfe);
            buf.extend_from_slice(&n.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_checks_are_answered() {
        let v = select(SLOW_QUERIES_SQL).unwrap();
        assert_eq!(
            (v[0].name.as_str(), v[0].text.as_deref()),
            ("COUNT(*)", Some("2"))
        );
        let v = select("SHOW REPLICA STATUS").unwrap();
        let get = |n: &str| {
            v.iter()
                .find(|c| c.name == n)
                .and_then(|c| c.text.as_deref())
        };
        assert_eq!(get("Slave_IO_Running"), Some("Yes"));
        assert_eq!(get("Seconds_Behind_Master"), Some("1"));
    }

    #[test]
    fn selects_of_literals_and_variables_are_answered() {
        let v = select("SELECT 1").unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].name.as_str(), v[0].text.as_deref()), ("1", Some("1")));
        let v = select("select @@max_allowed_packet,@@wait_timeout").unwrap();
        let texts: Vec<_> = v.iter().map(|v| v.text.as_deref()).collect();
        assert_eq!(texts, [Some("67108864"), Some("28800")]);
        assert_eq!(select("SELECT @@socket").unwrap()[0].text, None);
        assert_eq!(select("SELECT 'a'").unwrap()[0].text.as_deref(), Some("a"));
        assert!(
            select("SELECT @@nope")
                .unwrap_err()
                .contains("Unknown system variable")
        );
        assert!(
            select("DROP TABLE orders")
                .unwrap_err()
                .contains("SQL syntax")
        );
    }

    #[test]
    fn lengths_are_encoded_as_mysql_does() {
        let enc = |n| {
            let mut b = Vec::new();
            lenenc_int(&mut b, n);
            b
        };
        assert_eq!(enc(5), [5]);
        assert_eq!(enc(300), [0xfc, 0x2c, 0x01]);
        assert_eq!(enc(70_000), [0xfd, 0x70, 0x11, 0x01]);
    }
}

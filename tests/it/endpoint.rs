//! A loopback HTTP endpoint whose answer a test changes between runs (inspect, watch).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

/// One HTTP endpoint on 127.0.0.1: answers every request with `status` after `delay_ms`.
pub struct Endpoint {
    /// The port it listens on.
    pub port: u16,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

impl Endpoint {
    /// Starts answering 200 at once.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (s, d) = (status.clone(), delay_ms.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let (s, d) = (s.clone(), d.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        if line == "\r\n" {
                            break;
                        }
                        line.clear();
                    }
                    std::thread::sleep(Duration::from_millis(d.load(Ordering::SeqCst)));
                    let code = s.load(Ordering::SeqCst);
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {code} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    );
                });
            }
        });
        Self {
            port,
            status,
            delay_ms,
        }
    }

    /// From now on, answer `status` after `delay_ms`.
    pub fn set(&self, status: u16, delay_ms: u64) {
        self.status.store(status, Ordering::SeqCst);
        self.delay_ms.store(delay_ms, Ordering::SeqCst);
    }
}

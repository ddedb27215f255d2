//! A token unique to one probe attempt, for the message round trips of `amqp`, `mqtt` and
//! `nats`: a message left over from an earlier attempt (or sent by another prober on the same
//! broker) never carries it, so it is never taken for this attempt's message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `<pid>-<nanoseconds since the epoch>-<counter>`, in hex: unique per process and attempt,
/// and across processes on one host. Only `[0-9a-f-]`, so it fits a queue name, an MQTT topic
/// level, a NATS subject token and an MQTT client id.
pub fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{:x}-{nanos:x}-{n:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    #[test]
    fn nonces_differ_and_are_plain() {
        let (a, b) = (super::nonce(), super::nonce());
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-'));
    }
}

//! The `tcp` check: connect, optionally send bytes and expect a substring in the first reply.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::outcome::{Verdict, describe_error, excerpt};
use super::resolve::NameResolver;
use crate::topology::model::TcpCheck;

/// Bytes of the reply read at most while looking for `expect`.
const REPLY_CAP: usize = 64 * 1024;

/// Runs one attempt of a `tcp` check. The reason is not yet scrubbed.
pub async fn check(resolver: &NameResolver, check: &TcpCheck) -> Verdict {
    let address = check.address.expose();
    let mut stream = match resolver.connect(address).await {
        Ok(s) => s,
        Err(reason) => return Verdict::down(reason),
    };
    if let Some(send) = &check.send
        && let Err(e) = stream.write_all(send.expose().as_bytes()).await
    {
        return Verdict::down(format!("sending failed: {}", describe_error(&e)));
    }
    let Some(expect) = &check.expect else {
        return Verdict::up();
    };
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                reply.extend_from_slice(&buf[..n]);
                if contains(&reply, expect.expose().as_bytes()) {
                    return Verdict::up();
                }
                if reply.len() >= REPLY_CAP {
                    break;
                }
            }
            Err(e) => {
                return Verdict::down(format!("reading the reply failed: {}", describe_error(&e)));
            }
        }
    }
    let got = excerpt(&String::from_utf8_lossy(&reply), 80);
    if got.is_empty() {
        Verdict::down(format!(
            "reply does not contain `{expect}`: connection closed without an answer"
        ))
    } else {
        Verdict::down(format!("reply does not contain `{expect}`: got `{got}`"))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

//! DingTalk custom robot: Markdown messages, `errcode: 0` on success, 20 messages a minute.
//!
//! Signing, as DingTalk's robot docs describe it: the string to sign is the timestamp in
//! milliseconds, a newline and the secret (`SEC…`); its HMAC-SHA256 keyed with the secret is
//! base64-encoded, then URL-encoded, and sent with the timestamp as the `timestamp` and `sign`
//! query parameters. DingTalk refuses a timestamp more than an hour off.
//!
//! Mentions: mobile numbers go to `at.atMobiles` (and must appear as `@138…` in the text to be
//! highlighted), other ids to `at.atUserIds`, `all` sets `at.isAtAll`.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;

use super::{Request, hmac_sha256_base64, with_query};
use crate::alert::message::{Flavor, Message};
use crate::topology::alerts::Receiver;

/// The signature for `timestamp_ms`: base64 of HMAC-SHA256(secret, "timestamp\nsecret"), not
/// yet URL-encoded.
pub fn sign(secret: &str, timestamp_ms: u64) -> String {
    hmac_sha256_base64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    )
}

/// The Markdown text, with the mentions DingTalk needs in it.
pub fn text(receiver: &Receiver, message: &Message) -> String {
    let mut text = format!(
        "### {}\n\n{}",
        message.title(),
        message.body(Flavor::Markdown)
    );
    let visible: Vec<String> = receiver
        .mention
        .iter()
        .filter(|m| m.as_str() != "all")
        .map(|m| format!("@{m}"))
        .collect();
    if !visible.is_empty() {
        text.push_str("\n\n");
        text.push_str(&visible.join(" "));
    }
    text
}

/// The request: Markdown body, signed URL when a secret is set.
pub fn request(receiver: &Receiver, message: &Message, now_ms: u64) -> Request {
    let url = receiver.url.expose();
    let url = match &receiver.secret {
        Some(secret) => {
            let ts = now_ms.to_string();
            let sign = sign(secret.expose(), now_ms);
            let sign = utf8_percent_encode(&sign, NON_ALPHANUMERIC).to_string();
            with_query(url, &[("timestamp", &ts), ("sign", &sign)])
        }
        None => url.to_owned(),
    };
    let is_mobile = |m: &str| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit() || c == '+');
    let mobiles: Vec<&str> = receiver
        .mention
        .iter()
        .map(String::as_str)
        .filter(|m| is_mobile(m))
        .collect();
    let users: Vec<&str> = receiver
        .mention
        .iter()
        .map(String::as_str)
        .filter(|m| !is_mobile(m) && *m != "all")
        .collect();
    let all = receiver.mention.iter().any(|m| m == "all");
    Request {
        url,
        body: json!({
            "msgtype": "markdown",
            "markdown": { "title": message.title(), "text": text(receiver, message) },
            "at": { "atMobiles": mobiles, "atUserIds": users, "isAtAll": all },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_documented_algorithm() {
        // Computed independently with Python's hmac/hashlib/base64, exactly as in DingTalk's
        // sample: hmac.new(secret, f"{timestamp}\n{secret}", sha256), base64, quote_plus.
        assert_eq!(
            sign("SECexample0123456789", 1_700_000_000_000),
            "figG6qqCA/lRh0hsGCW2zNtNV5znkAFut5BI0zKhqnQ="
        );
    }
}

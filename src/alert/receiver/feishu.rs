//! Feishu and Lark custom bots: interactive cards, `code: 0` on success.
//!
//! Signing, as the Feishu/Lark custom-bot docs describe it: the timestamp in *seconds*, a
//! newline and the secret form the HMAC-SHA256 *key*; the message signed is empty; the result is
//! base64-encoded and sent as `sign`, with the timestamp (a string) as `timestamp`, both at the
//! top level of the JSON body. The bot refuses a timestamp more than an hour off.
//!
//! Mentions: `<at id=ou_…></at>` in the card's `lark_md` text; `all` mentions everyone.

use serde_json::json;

use super::{Request, hmac_sha256_base64};
use crate::alert::engine::Severity;
use crate::alert::message::{Flavor, Message};
use crate::topology::alerts::Receiver;

/// The signature for `timestamp_s`: base64 of HMAC-SHA256 keyed with "timestamp\nsecret" over
/// an empty message.
pub fn sign(secret: &str, timestamp_s: u64) -> String {
    hmac_sha256_base64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

/// The card's Markdown text with the mentions.
pub fn text(receiver: &Receiver, message: &Message) -> String {
    let mut text = message.body(Flavor::Markdown);
    if !receiver.mention.is_empty() {
        text.push_str("\n\n");
        let at: Vec<String> = receiver
            .mention
            .iter()
            .map(|m| format!("<at id={m}></at>"))
            .collect();
        text.push_str(&at.join(" "));
    }
    text
}

/// The request: an interactive card, signed in the body when a secret is set.
pub fn request(receiver: &Receiver, message: &Message, now_ms: u64) -> Request {
    let template = match message.severity() {
        Some(Severity::Critical) => "red",
        Some(Severity::Warning) => "orange",
        None => "green",
    };
    let mut body = json!({
        "msg_type": "interactive",
        "card": {
            "config": { "wide_screen_mode": true },
            "header": {
                "title": { "tag": "plain_text", "content": message.title() },
                "template": template,
            },
            "elements": [
                { "tag": "div", "text": { "tag": "lark_md", "content": text(receiver, message) } }
            ],
        },
    });
    if let Some(secret) = &receiver.secret {
        let ts = now_ms / 1000;
        body["timestamp"] = json!(ts.to_string());
        body["sign"] = json!(sign(secret.expose(), ts));
    }
    Request {
        url: receiver.url.expose().to_owned(),
        body,
    }
}

/// `{"code": 0}` (or the older `{"StatusCode": 0}`) means accepted.
pub fn verdict(body: &str) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(body)
        .map_err(|_| format!("not a JSON answer: {}", super::short(body)))?;
    let code = v
        .get("code")
        .or_else(|| v.get("StatusCode"))
        .and_then(serde_json::Value::as_i64);
    match code {
        Some(0) => Ok(()),
        Some(c) => Err(format!(
            "code {c}: {}",
            v.get("msg")
                .or_else(|| v.get("StatusMessage"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
        )),
        None => Err(format!("answer without `code`: {}", super::short(body))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_documented_algorithm() {
        // Computed independently with Python, exactly as in the Feishu sample:
        // hmac.new(f"{timestamp}\n{secret}", b"", sha256), then base64.
        assert_eq!(
            sign("SECexample0123456789", 1_700_000_000),
            "S7TuSij45SE3ul/eGkJ5Bwcxf8ZNyPIQzqpjNU85VYk="
        );
    }
}

//! One module per receiver type: the request it wants (format, mentions, signature) and how to
//! read its answer. A send counts only when the receiver's own answer says so: an HTTP 200
//! carrying an error code (DingTalk `errcode`, Feishu `code`, WeCom `errcode`, Slack's body)
//! is a failure, and the outbox retries it.
//!
//! The request URL and body may hold secrets (tokens in the URL, a signature); nothing here
//! prints them, and [`scrub`] removes them from any text that might echo them.

pub mod dingtalk;
pub mod feishu;
pub mod slack;
pub mod webhook;
pub mod wecom;

use std::time::Duration;

use super::message::Message;
use crate::topology::alerts::{Receiver, ReceiverKind};

/// How long one send may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Answer bodies are read up to this size.
const ANSWER_CAP: usize = 64 * 1024;

/// An HTTP request to a receiver. `url` may hold a token: never print it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The resolved URL, with any signature query parameters.
    pub url: String,
    /// The JSON body.
    pub body: serde_json::Value,
}

/// The receiver's answer to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body (capped, scrubbed of the receiver's secrets).
    pub body: String,
    /// Whether the receiver accepted the message.
    pub verdict: Result<(), String>,
}

/// Builds the request for `message` to `receiver` at `now_ms` (ms since the epoch; signatures
/// carry the time).
pub fn request(receiver: &Receiver, message: &Message, now_ms: u64) -> Request {
    match receiver.kind {
        ReceiverKind::Webhook => webhook::request(receiver, message),
        ReceiverKind::Slack => slack::request(receiver, message),
        ReceiverKind::Feishu | ReceiverKind::Lark => feishu::request(receiver, message, now_ms),
        ReceiverKind::DingTalk => dingtalk::request(receiver, message, now_ms),
        ReceiverKind::WeCom => wecom::request(receiver, message),
    }
}

/// Reads an answer: `Ok` when the receiver says it took the message, else why not.
pub fn verdict(kind: ReceiverKind, status: u16, body: &str) -> Result<(), String> {
    if !(200..300).contains(&status) {
        let snippet: String = body.chars().take(200).collect();
        return Err(format!("HTTP {status}: {}", snippet.trim()));
    }
    match kind {
        ReceiverKind::Webhook => Ok(()),
        ReceiverKind::Slack => slack::verdict(body),
        ReceiverKind::Feishu | ReceiverKind::Lark => feishu::verdict(body),
        ReceiverKind::DingTalk | ReceiverKind::WeCom => errcode_verdict(body),
    }
}

/// The largest message text the receiver takes, in bytes (its documented limit, with room for
/// the envelope); the outbox batches no more alerts into one message than fit.
pub fn max_text_bytes(kind: ReceiverKind) -> usize {
    match kind {
        ReceiverKind::WeCom => 4_000,
        ReceiverKind::DingTalk => 18_000,
        ReceiverKind::Feishu | ReceiverKind::Lark => 25_000,
        ReceiverKind::Slack => 2_900,
        ReceiverKind::Webhook => 256 * 1024,
    }
}

/// The text of `message` as `receiver` would show it, for measuring against
/// [`max_text_bytes`].
pub fn text_len(receiver: &Receiver, message: &Message) -> usize {
    match receiver.kind {
        ReceiverKind::Webhook => message.webhook_json(&receiver.mention).to_string().len(),
        ReceiverKind::Slack => slack::text(receiver, message).len(),
        ReceiverKind::Feishu | ReceiverKind::Lark => feishu::text(receiver, message).len(),
        ReceiverKind::DingTalk => dingtalk::text(receiver, message).len(),
        ReceiverKind::WeCom => wecom::text(receiver, message).len(),
    }
}

/// `{"errcode": 0, …}`: DingTalk and WeCom.
fn errcode_verdict(body: &str) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|_| format!("not a JSON answer: {}", short(body)))?;
    match v.get("errcode").and_then(serde_json::Value::as_i64) {
        Some(0) => Ok(()),
        Some(code) => Err(format!(
            "errcode {code}: {}",
            v.get("errmsg")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
        )),
        None => Err(format!("answer without `errcode`: {}", short(body))),
    }
}

fn short(body: &str) -> String {
    let s: String = body.chars().take(200).collect();
    s.trim().to_owned()
}

/// Replaces every resolved secret of `receiver` (URL, token, secret) in `text` by its written
/// `${VAR}` form.
pub fn scrub(receiver: &Receiver, text: &str) -> String {
    let mut out = receiver.url.scrub(text);
    if let Some(s) = &receiver.secret {
        out = s.scrub(&out);
    }
    // The token alone (`access_token=…`, `key=…`) also appears in errors that quote a query.
    if receiver.url.is_secret()
        && let Some((_, query)) = receiver.url.expose().split_once('?')
    {
        for (_, v) in query.split('&').filter_map(|pair| pair.split_once('=')) {
            if v.len() >= 6 {
                out = out.replace(v, "…");
            }
        }
    }
    out
}

/// Sends `message` to `receiver` once. `Err` only when no answer came (connection, timeout);
/// an answer that refuses the message is an [`Answer`] with an `Err` verdict.
pub async fn send(
    client: &reqwest::Client,
    receiver: &Receiver,
    message: &Message,
    now_ms: u64,
) -> Result<Answer, String> {
    let req = request(receiver, message, now_ms);
    let res = client
        .post(&req.url)
        .timeout(SEND_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(req.body.to_string())
        .send()
        .await
        .map_err(|e| scrub(receiver, &describe(&e.without_url())))?;
    let status = res.status().as_u16();
    let body = read_capped(res).await;
    let body = scrub(receiver, &body);
    let verdict = verdict(receiver.kind, status, &body);
    Ok(Answer {
        status,
        body,
        verdict,
    })
}

async fn read_capped(mut res: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        let room = ANSWER_CAP.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= ANSWER_CAP {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        e.to_string()
    };
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

/// The HTTP client for receivers: rustls with the system roots, no redirects followed (a
/// receiver that redirects is misconfigured), the proxy from the environment if any.
pub fn client() -> Result<reqwest::Client, String> {
    let tls = crate::probe::client::tls_config(&crate::probe::client::TlsSetting::system(), true)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("linkpatrol/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", describe(&e)))
}

/// Appends `key=value` pairs to a URL's query.
pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = url.to_owned();
    for (k, v) in pairs {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// HMAC-SHA256 of `message` with `key`, base64 (standard alphabet, padded).
pub(crate) fn hmac_sha256_base64(key: &[u8], message: &[u8]) -> String {
    use base64::Engine as _;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, message);
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_200_with_an_error_code_is_a_failure() {
        use ReceiverKind::*;
        let cases: &[(ReceiverKind, u16, &str, bool)] = &[
            (DingTalk, 200, r#"{"errcode":0,"errmsg":"ok"}"#, true),
            (
                DingTalk,
                200,
                r#"{"errcode":310000,"errmsg":"sign not match"}"#,
                false,
            ),
            (DingTalk, 200, "<html>", false),
            (WeCom, 200, r#"{"errcode":0,"errmsg":"ok"}"#, true),
            (
                WeCom,
                200,
                r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
                false,
            ),
            (Feishu, 200, r#"{"code":0,"msg":"success","data":{}}"#, true),
            (
                Feishu,
                200,
                r#"{"StatusCode":0,"StatusMessage":"success"}"#,
                true,
            ),
            (
                Lark,
                200,
                r#"{"code":19021,"msg":"sign match fail"}"#,
                false,
            ),
            (Slack, 200, "ok", true),
            (Slack, 200, "invalid_payload", false),
            (Slack, 400, "invalid_payload", false),
            (Webhook, 204, "", true),
            (Webhook, 500, "oops", false),
        ];
        for (kind, status, body, ok) in cases {
            assert_eq!(
                verdict(*kind, *status, body).is_ok(),
                *ok,
                "{kind} {status} {body}"
            );
        }
        assert_eq!(
            verdict(
                DingTalk,
                200,
                r#"{"errcode":310000,"errmsg":"sign not match"}"#
            ),
            Err("errcode 310000: sign not match".into())
        );
    }

    #[test]
    fn queries_are_appended() {
        assert_eq!(with_query("http://h/p", &[("a", "1")]), "http://h/p?a=1");
        assert_eq!(
            with_query("http://h/p?t=x", &[("a", "1"), ("b", "2")]),
            "http://h/p?t=x&a=1&b=2"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            hmac_sha256_base64(b"Jefe", b"what do ya want for nothing?"),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
    }
}

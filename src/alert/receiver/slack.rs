//! Slack incoming webhook: a header and an mrkdwn section; Slack answers the plain text `ok`
//! on success (and e.g. `invalid_payload` otherwise). Mentions: `<@U…>`; `all` or `channel`
//! becomes `<!channel>`.

use serde_json::json;

use super::Request;
use crate::alert::message::{Flavor, Message};
use crate::topology::alerts::Receiver;

/// Slack's limit for a header block's text.
const HEADER_MAX: usize = 150;

/// The section's mrkdwn text with the mentions.
pub fn text(receiver: &Receiver, message: &Message) -> String {
    let mut text = message.body(Flavor::Slack);
    if !receiver.mention.is_empty() {
        let at: Vec<String> = receiver
            .mention
            .iter()
            .map(|m| match m.as_str() {
                "all" | "channel" => "<!channel>".to_owned(),
                "here" => "<!here>".to_owned(),
                id => format!("<@{id}>"),
            })
            .collect();
        text.push('\n');
        text.push_str(&at.join(" "));
    }
    text
}

/// The request.
pub fn request(receiver: &Receiver, message: &Message) -> Request {
    let title = message.title();
    let header: String = title.chars().take(HEADER_MAX).collect();
    Request {
        url: receiver.url.expose().to_owned(),
        body: json!({
            "text": title,
            "blocks": [
                { "type": "header", "text": { "type": "plain_text", "text": header } },
                { "type": "section", "text": { "type": "mrkdwn", "text": text(receiver, message) } },
            ],
        }),
    }
}

/// Slack answers `ok` as plain text.
pub fn verdict(body: &str) -> Result<(), String> {
    if body.trim() == "ok" {
        Ok(())
    } else {
        Err(format!("Slack answered `{}`", super::short(body)))
    }
}

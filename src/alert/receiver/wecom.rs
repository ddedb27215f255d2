//! WeCom (WeChat Work) group robot: Markdown messages, `errcode: 0` on success, 20 messages a
//! minute, content up to 4096 bytes. The robot's key is in the URL; there is no signature.
//! Mentions: `<@userid>` in the Markdown text.

use serde_json::json;

use super::Request;
use crate::alert::engine::Severity;
use crate::alert::message::{Flavor, Message};
use crate::topology::alerts::Receiver;

/// The Markdown content, title coloured by severity, with the mentions.
pub fn text(receiver: &Receiver, message: &Message) -> String {
    let color = match message.severity() {
        Some(Severity::Critical) => "warning",
        Some(Severity::Warning) => "comment",
        None => "info",
    };
    let mut text = format!(
        "<font color=\"{color}\">**{}**</font>\n\n{}",
        message.title(),
        message.body(Flavor::Markdown)
    );
    if !receiver.mention.is_empty() {
        text.push_str("\n\n");
        let at: Vec<String> = receiver.mention.iter().map(|m| format!("<@{m}>")).collect();
        text.push_str(&at.join(" "));
    }
    text
}

/// The request.
pub fn request(receiver: &Receiver, message: &Message) -> Request {
    Request {
        url: receiver.url.expose().to_owned(),
        body: json!({ "msgtype": "markdown", "markdown": { "content": text(receiver, message) } }),
    }
}

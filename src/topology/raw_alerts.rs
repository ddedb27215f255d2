//! The `alerts:` section exactly as written (SPEC §9): receivers, routes and thresholds.
//!
//! Like the rest of [`raw`](super::raw), nothing here applies defaults or checks references;
//! words that must come from a fixed set (a receiver's `type`) are kept as located text so that
//! `validate` reports every mistake at once, with a suggestion.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

use super::raw::{DurationText, Entries, Sp};

/// `alerts:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    /// Consecutive failed inspections before an alert fires. Default 3.
    #[schemars(range(min = 1))]
    pub failure_threshold: Option<Sp<u32>>,
    /// Consecutive good inspections before a firing alert resolves. Default 2.
    #[schemars(range(min = 1))]
    pub success_threshold: Option<Sp<u32>>,
    /// Send a message when an alert resolves. Default true.
    pub send_resolved: Option<bool>,
    /// Remind at this interval while an alert is still firing; absent: never.
    pub repeat: Option<Sp<DurationText>>,
    /// Where messages go, by name.
    #[serde(default)]
    pub receivers: Entries<Sp<RawReceiver>>,
    /// By the root cause's `owner`: the receivers to page; `default` catches the rest.
    /// Without `routes`, every alert goes to every receiver.
    #[serde(default)]
    pub routes: Entries<Sp<Vec<Sp<String>>>>,
}

/// One entry of `receivers:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReceiver {
    /// `webhook`, `slack`, `feishu`, `lark`, `dingtalk` or `wecom`.
    #[serde(rename = "type")]
    pub kind: Sp<ReceiverTypeText>,
    /// The webhook URL (`http://` or `https://`); usually `${VAR}`, as it holds a token.
    pub url: Sp<String>,
    /// Signing secret (DingTalk, Feishu, Lark); usually `${VAR}`.
    pub secret: Option<Sp<String>>,
    /// Who to @-mention: Feishu/Lark open ids (`ou_…`) or `all`; DingTalk mobiles or user ids
    /// or `all`; WeCom user ids or `@all`; Slack member ids (`U…`).
    #[serde(default)]
    pub mention: Vec<Sp<String>>,
    /// Messages a minute the receiver accepts; more alerts are batched into fewer messages.
    /// Default: DingTalk and WeCom 20, Feishu and Lark 100, Slack 60, webhook unlimited.
    #[schemars(range(min = 1))]
    pub rate_limit: Option<Sp<u32>>,
}

/// A receiver type as written (checked by `validate`, with a suggestion).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ReceiverTypeText(pub String);

impl JsonSchema for ReceiverTypeText {
    fn schema_name() -> Cow<'static, str> {
        "ReceiverType".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "enum": ["webhook", "slack", "feishu", "lark", "dingtalk", "wecom"],
            "description": "webhook: generic JSON; feishu, lark and dingtalk are signed when `secret` is set."
        })
    }
}

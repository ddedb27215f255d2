//! The validated `alerts:` section (SPEC §9): thresholds, receivers and routes by owner.
//!
//! Valid by construction: thresholds are at least 1, every route names a declared receiver,
//! URLs and secrets are resolved [`Text`] (so they print as written, `${VAR}`, never as their
//! value). The alert engine (`crate::alert`) reads only this.

use std::fmt;
use std::time::Duration;

use super::model::Text;

/// Consecutive failed inspections before an alert fires, unless the file says otherwise.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
/// Consecutive good inspections before an alert resolves, unless the file says otherwise.
pub const DEFAULT_SUCCESS_THRESHOLD: u32 = 2;

/// `alerts:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    /// Consecutive failed inspections before firing (≥ 1).
    pub failure_threshold: u32,
    /// Consecutive good inspections before resolving (≥ 1).
    pub success_threshold: u32,
    /// Send a message when an alert resolves.
    pub send_resolved: bool,
    /// Remind at this interval while firing; `None` = never.
    pub repeat: Option<Duration>,
    /// The receivers, sorted by name.
    pub receivers: Vec<Receiver>,
    /// Routes by owner, sorted by owner; `None` = every alert to every receiver.
    pub routes: Option<Routes>,
}

impl Default for Alerts {
    fn default() -> Self {
        Self {
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            success_threshold: DEFAULT_SUCCESS_THRESHOLD,
            send_resolved: true,
            repeat: None,
            receivers: Vec::new(),
            routes: None,
        }
    }
}

impl Alerts {
    /// The receiver called `name`.
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name.as_str() == name)
    }

    /// The receivers that an alert owned by `owner` goes to, in route order, without repeats.
    pub fn route(&self, owner: Option<&str>) -> Vec<&ReceiverName> {
        let Some(routes) = &self.routes else {
            return self.receivers.iter().map(|r| &r.name).collect();
        };
        let list = owner
            .and_then(|o| routes.by_owner.iter().find(|(k, _)| k == o))
            .map_or(&routes.default, |(_, v)| v);
        let mut out: Vec<&ReceiverName> = Vec::with_capacity(list.len());
        for r in list {
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }
}

/// `routes:`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Routes {
    /// owner → receivers, sorted by owner.
    pub by_owner: Vec<(String, Vec<ReceiverName>)>,
    /// `default:`; empty when absent (alerts of other owners then go nowhere, with a warning
    /// at validation).
    pub default: Vec<ReceiverName>,
}

/// The name of a receiver, as written under `receivers:`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ReceiverName(String);

impl ReceiverName {
    /// Wraps a name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReceiverName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of endpoint a receiver is; decides the message format, the signing and how its
/// answer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReceiverKind {
    /// Generic JSON (the documented linkpatrol schema); any 2xx counts as accepted.
    Webhook,
    /// Slack incoming webhook; accepted when the body is `ok`.
    Slack,
    /// Feishu custom bot; accepted on `code: 0`.
    Feishu,
    /// Lark (Feishu's international edition); same protocol as Feishu.
    Lark,
    /// DingTalk custom robot; accepted on `errcode: 0`.
    DingTalk,
    /// WeCom (WeChat Work) group robot; accepted on `errcode: 0`.
    WeCom,
}

impl ReceiverKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [Self; 6] = [
        Self::Webhook,
        Self::Slack,
        Self::Feishu,
        Self::Lark,
        Self::DingTalk,
        Self::WeCom,
    ];

    /// The word used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::Feishu => "feishu",
            Self::Lark => "lark",
            Self::DingTalk => "dingtalk",
            Self::WeCom => "wecom",
        }
    }

    /// Parses the word used in the file.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the receiver signs its requests with a `secret`.
    pub fn signs(self) -> bool {
        matches!(self, Self::Feishu | Self::Lark | Self::DingTalk)
    }

    /// Messages a minute the service accepts, by its public docs; `None` = no limit.
    pub fn default_rate_limit(self) -> Option<u32> {
        match self {
            Self::DingTalk | Self::WeCom => Some(20),
            Self::Feishu | Self::Lark => Some(100),
            Self::Slack => Some(60),
            Self::Webhook => None,
        }
    }
}

impl fmt::Display for ReceiverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    /// Its name under `receivers:`.
    pub name: ReceiverName,
    /// Its type.
    pub kind: ReceiverKind,
    /// The webhook URL (`http://` or `https://`).
    pub url: Text,
    /// The signing secret (only for kinds that sign).
    pub secret: Option<Text>,
    /// Who to @-mention, as written.
    pub mention: Vec<String>,
    /// Messages a minute; `None` = no limit.
    pub rate_limit: Option<u32>,
}

//! What a person reads on a phone when paged, and the generic webhook JSON.
//!
//! A [`Message`] carries one notification, or several when a receiver's rate limit made the
//! outbox batch them. Each alert reads top-down in the order an on-call engineer needs it: the
//! subject and what is wrong (the root cause and its reason first), then what it takes down,
//! then who owns it and since when, then a link to the report when `watch --external-url` was
//! given. Lists are capped so a message stays readable on a small screen; the report has the
//! rest. Receivers pick a [`Flavor`] (Markdown for DingTalk, WeCom and Feishu cards, Slack's
//! mrkdwn) and add their own envelope, signature and mentions.

use serde::Serialize;

use super::engine::{AlertKind, Event, Notification, Severity};

/// Names shown per list before "and N more".
const LIST_CAP: usize = 5;

/// One message to one receiver: one alert, or a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topology's name.
    pub topology: String,
    /// The notifications, in the order they were made.
    pub notifications: Vec<Notification>,
    /// Where the latest report is served (`watch --external-url`).
    pub external_url: Option<String>,
}

/// The markup a receiver understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `**bold**`, `[text](url)`, blank lines between paragraphs (DingTalk, WeCom, Feishu).
    Markdown,
    /// Slack mrkdwn: `*bold*`, `<url|text>`.
    Slack,
    /// No markup.
    Plain,
}

impl Message {
    /// A message with one notification.
    pub fn single(topology: &str, n: Notification, external_url: Option<&str>) -> Self {
        Self {
            topology: topology.to_owned(),
            notifications: vec![n],
            external_url: external_url.map(str::to_owned),
        }
    }

    /// One line: the title of a card, the notification text on a lock screen.
    pub fn title(&self) -> String {
        match self.notifications.as_slice() {
            [n] => headline(n),
            many => {
                let firing = many.iter().filter(|n| n.event != Event::Resolved).count();
                let resolved = many.len() - firing;
                let mut parts = Vec::new();
                if firing > 0 {
                    parts.push(format!("{firing} firing"));
                }
                if resolved > 0 {
                    parts.push(format!("{resolved} resolved"));
                }
                format!(
                    "{} alerts on {}: {}",
                    many.len(),
                    self.topology,
                    parts.join(", ")
                )
            }
        }
    }

    /// The worst severity among notifications that are not resolutions; `None` when every
    /// one is a resolution.
    pub fn severity(&self) -> Option<Severity> {
        self.notifications
            .iter()
            .filter(|n| n.event != Event::Resolved)
            .map(|n| n.severity)
            .max()
    }

    /// The body in `flavor`: every alert, then the report link.
    pub fn body(&self, flavor: Flavor) -> String {
        let mut out = String::new();
        let batch = self.notifications.len() > 1;
        for (i, n) in self.notifications.iter().enumerate() {
            if i > 0 {
                out.push_str(match flavor {
                    Flavor::Markdown => "\n\n---\n\n",
                    Flavor::Slack | Flavor::Plain => "\n\n",
                });
            }
            if batch || flavor == Flavor::Plain {
                out.push_str(&bold(&headline(n), flavor));
                out.push_str(para(flavor));
            }
            out.push_str(&alert_lines(n, flavor).join(para(flavor)));
        }
        if let Some(url) = &self.external_url {
            out.push_str(para(flavor));
            out.push_str(&link("Open the report", url, flavor));
        }
        out
    }

    /// The generic webhook JSON (documented in the README; fields are only ever added).
    pub fn webhook_json(&self, mention: &[String]) -> serde_json::Value {
        let alerts: Vec<WebhookAlert<'_>> = self
            .notifications
            .iter()
            .map(|n| WebhookAlert {
                event: n.event.as_str(),
                kind: n.key.kind.as_str(),
                subject: &n.key.subject,
                severity: n.severity.as_str(),
                owner: n.owner.as_deref(),
                state: &n.detail.state,
                reason: n.detail.reason.as_deref(),
                links: &n.detail.links,
                services: &n.detail.services,
                causes: &n.detail.causes,
                since_ms: n.since_ms,
                at_ms: n.at_ms,
                streak: n.streak,
                summary: headline(n),
            })
            .collect();
        serde_json::to_value(WebhookBody {
            version: 1,
            source: "linkpatrol",
            topology: &self.topology,
            title: self.title(),
            report_url: self.external_url.as_deref(),
            mention,
            alerts,
        })
        .expect("plain data serializes")
    }
}

#[derive(Serialize)]
struct WebhookBody<'a> {
    version: u32,
    source: &'static str,
    topology: &'a str,
    title: String,
    report_url: Option<&'a str>,
    mention: &'a [String],
    alerts: Vec<WebhookAlert<'a>>,
}

#[derive(Serialize)]
struct WebhookAlert<'a> {
    event: &'static str,
    kind: &'static str,
    subject: &'a str,
    severity: &'static str,
    owner: Option<&'a str>,
    state: &'a str,
    reason: Option<&'a str>,
    links: &'a [String],
    services: &'a [String],
    causes: &'a [String],
    since_ms: u64,
    at_ms: u64,
    streak: u32,
    summary: String,
}

/// `[FIRING] order-db is down`, `[RESOLVED] link checkout is up again`, …
pub fn headline(n: &Notification) -> String {
    if n.event == Event::Test {
        return format!(
            "[TEST] linkpatrol alerts reach this receiver ({})",
            n.key.subject
        );
    }
    let tag = match (n.event, n.severity) {
        (Event::Resolved, _) => "RESOLVED",
        (Event::Reminder, _) => "STILL FIRING",
        (Event::Firing, Severity::Critical) => "FIRING",
        (Event::Firing, Severity::Warning) => "WARNING",
        (Event::Test, _) => "TEST",
    };
    let s = &n.key.subject;
    let what = match (n.key.kind, n.event) {
        (AlertKind::RootCause, Event::Resolved) => format!("{s} recovered"),
        (AlertKind::RootCause, _) => format!("{s} is {}", n.detail.state),
        (AlertKind::LinkDown, Event::Resolved) => format!("link {s} is up again"),
        (AlertKind::LinkDown, _) => format!("link {s} is {}", n.detail.state),
        (AlertKind::LastSpare, Event::Resolved) => format!("{s} has its spares back"),
        (AlertKind::LastSpare, _) => format!("{s} is down to its last spare"),
    };
    format!("[{tag}] {what}")
}

fn alert_lines(n: &Notification, flavor: Flavor) -> Vec<String> {
    let mut lines = Vec::new();
    let d = &n.detail;
    if n.event == Event::Test {
        lines.push(format!(
            "A test message from `linkpatrol alert test` for topology {}. No action needed.",
            n.key.subject
        ));
        lines.push(
            "Real alerts name the root cause and its reason first, then what it takes down."
                .to_owned(),
        );
        return lines;
    }
    if n.event == Event::Resolved {
        lines.push(format!(
            "Was {}{} for {}.",
            d.state,
            d.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            span(n.at_ms.saturating_sub(n.since_ms))
        ));
        if !d.links.is_empty() {
            lines.push(format!("Links back: {}", names(&d.links)));
        }
        return lines;
    }
    match n.key.kind {
        AlertKind::RootCause => {
            lines.push(format!(
                "{} {}",
                bold("Root cause:", flavor),
                with_reason(&n.key.subject, d.reason.as_deref())
            ));
        }
        AlertKind::LinkDown => {
            if d.causes.is_empty() {
                lines.push(format!("{} not found", bold("Root cause:", flavor)));
            } else {
                lines.push(format!(
                    "{} {}",
                    bold("Root cause:", flavor),
                    names(&d.causes)
                ));
            }
            if let Some(r) = &d.reason {
                lines.push(r.clone());
            }
        }
        AlertKind::LastSpare => {
            lines.push(format!(
                "{} {}",
                bold("Last spare:", flavor),
                with_reason(&n.key.subject, d.reason.as_deref())
            ));
        }
    }
    let mut takes = Vec::new();
    if !d.links.is_empty() {
        let noun = if d.links.len() == 1 { "link" } else { "links" };
        takes.push(format!("{noun} {}", names(&d.links)));
    }
    if !d.services.is_empty() {
        let noun = if d.services.len() == 1 {
            "service"
        } else {
            "services"
        };
        takes.push(format!(
            "{} {noun}: {}",
            d.services.len(),
            names(&d.services)
        ));
    }
    if !takes.is_empty() {
        let label = match n.key.kind {
            AlertKind::LastSpare => "One more failure takes down:",
            AlertKind::RootCause | AlertKind::LinkDown if d.state == "degraded" => "Degrades:",
            AlertKind::RootCause | AlertKind::LinkDown => "Takes down:",
        };
        lines.push(format!("{} {}", bold(label, flavor), takes.join("; ")));
    }
    let mut meta = Vec::new();
    if let Some(o) = &n.owner {
        meta.push(format!("Owner: {o}"));
    }
    meta.push(format!(
        "since {} UTC ({} inspections in a row)",
        clock(n.since_ms),
        n.streak
    ));
    lines.push(meta.join(" · "));
    lines
}

fn with_reason(subject: &str, reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("{subject} — {r}"),
        None => subject.to_owned(),
    }
}

/// `a, b, c, d, e and 3 more`.
fn names(list: &[String]) -> String {
    if list.len() <= LIST_CAP {
        return list.join(", ");
    }
    format!(
        "{} and {} more",
        list[..LIST_CAP].join(", "),
        list.len() - LIST_CAP
    )
}

fn bold(s: &str, flavor: Flavor) -> String {
    match flavor {
        Flavor::Markdown => format!("**{s}**"),
        Flavor::Slack => format!("*{s}*"),
        Flavor::Plain => s.to_owned(),
    }
}

fn link(text: &str, url: &str, flavor: Flavor) -> String {
    match flavor {
        Flavor::Markdown => format!("[{text}]({url})"),
        Flavor::Slack => format!("<{url}|{text}>"),
        Flavor::Plain => format!("{text}: {url}"),
    }
}

fn para(flavor: Flavor) -> &'static str {
    match flavor {
        // DingTalk's and WeCom's Markdown join single newlines; a blank line always breaks.
        Flavor::Markdown => "\n\n",
        Flavor::Slack | Flavor::Plain => "\n",
    }
}

/// `HH:MM` of a UTC instant in ms since the epoch.
fn clock(ms: u64) -> String {
    let secs = ms / 1000 % 86_400;
    format!("{:02}:{:02}", secs / 3600, secs / 60 % 60)
}

/// `45s`, `12m`, `3h 05m`, `2d 4h`.
fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s / 60 % 60),
        _ => format!("{}d {}h", s / 86_400, s / 3600 % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::engine::{AlertKey, Detail};

    fn firing() -> Notification {
        Notification {
            event: Event::Firing,
            key: AlertKey::new(AlertKind::RootCause, "order-db"),
            severity: Severity::Critical,
            owner: Some("db-team".into()),
            detail: Detail {
                state: "down".into(),
                reason: Some("connection refused on 2 of 2 instances".into()),
                links: vec!["order-acceptance".into(), "payment".into()],
                services: (1..=7).map(|i| format!("svc-{i}")).collect(),
                causes: vec![],
            },
            since_ms: 1_764_580_920_000, // 09:22 UTC
            at_ms: 1_764_581_040_000,
            streak: 3,
        }
    }

    #[test]
    fn root_cause_and_reason_come_first() {
        let m = Message::single("shop", firing(), Some("https://lp.example.invalid/"));
        assert_eq!(m.title(), "[FIRING] order-db is down");
        assert_eq!(
            m.body(Flavor::Markdown),
            "**Root cause:** order-db — connection refused on 2 of 2 instances\n\n\
             **Takes down:** links order-acceptance, payment; 7 services: svc-1, svc-2, svc-3, svc-4, svc-5 and 2 more\n\n\
             Owner: db-team · since 09:22 UTC (3 inspections in a row)\n\n\
             [Open the report](https://lp.example.invalid/)"
        );
        assert!(m.body(Flavor::Slack).contains("*Root cause:* order-db"));
        assert!(
            m.body(Flavor::Slack)
                .ends_with("<https://lp.example.invalid/|Open the report>")
        );
    }

    #[test]
    fn resolutions_and_batches_read_well() {
        let mut r = firing();
        r.event = Event::Resolved;
        r.at_ms = r.since_ms + 12 * 60_000;
        r.streak = 2;
        let one = Message::single("shop", r.clone(), None);
        assert_eq!(one.title(), "[RESOLVED] order-db recovered");
        assert_eq!(
            one.body(Flavor::Plain),
            "[RESOLVED] order-db recovered\nWas down (connection refused on 2 of 2 instances) for 12m.\nLinks back: order-acceptance, payment"
        );
        assert_eq!(one.severity(), None);
        let batch = Message {
            topology: "shop".into(),
            notifications: vec![firing(), r],
            external_url: None,
        };
        assert_eq!(batch.title(), "2 alerts on shop: 1 firing, 1 resolved");
        assert_eq!(batch.severity(), Some(Severity::Critical));
        let body = batch.body(Flavor::Markdown);
        assert!(body.starts_with("**[FIRING] order-db is down**\n\n**Root cause:**"));
        assert!(body.contains("\n\n---\n\n**[RESOLVED] order-db recovered**"));
    }

    #[test]
    fn webhook_json_has_every_field() {
        let m = Message::single("shop", firing(), None);
        let v = m.webhook_json(&["ops".to_owned()]);
        assert_eq!(v["version"], 1);
        assert_eq!(v["topology"], "shop");
        assert_eq!(v["mention"][0], "ops");
        let a = &v["alerts"][0];
        assert_eq!(a["event"], "firing");
        assert_eq!(a["kind"], "root-cause");
        assert_eq!(a["subject"], "order-db");
        assert_eq!(a["severity"], "critical");
        assert_eq!(a["services"].as_array().unwrap().len(), 7);
        assert_eq!(a["summary"], "[FIRING] order-db is down");
        assert!(v["report_url"].is_null());
    }

    #[test]
    fn spans_and_clock() {
        assert_eq!(span(45_000), "45s");
        assert_eq!(span(12 * 60_000), "12m");
        assert_eq!(span(3 * 3_600_000 + 5 * 60_000), "3h 05m");
        assert_eq!(span(52 * 3_600_000), "2d 4h");
        assert_eq!(clock(1_764_580_920_000), "09:22");
    }
}

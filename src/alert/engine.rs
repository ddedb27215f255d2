//! The alert engine: a pure state machine from one inspection's findings to notifications.
//!
//! Each inspection hands the engine a [`Inspection`]: the [`Finding`]s that are true *now* —
//! one per root cause, per link that is down, per live SPOF that is not a design SPOF (a last
//! spare). The engine keeps, per [`AlertKey`], how many inspections in a row found it
//! (`failing`) or did not (`passing`), and whether its alert is firing. From that alone:
//!
//! - an alert **fires** when its key was found `failure_threshold` inspections in a row, so a
//!   flapping service (found, not found, found …) never fires;
//! - a firing alert **resolves** after `success_threshold` inspections in a row without it;
//! - while firing it **reminds** every `repeat`, and it fires again when it gets worse
//!   (warning → critical);
//! - a finding that is **covered** by a firing alert (a link that is down because of a root
//!   cause whose alert is firing) never fires on its own: the root cause's alert already names
//!   the link. It still counts, so that a link that stays down while its cause moves from one
//!   service to another does page.
//!
//! Suppression only ever stops an alert from being created; a resolution is never held back.
//! No clock, no I/O: time comes in with the inspection, and the whole state is a serde value
//! ([`EngineState`]) that `watch` keeps in the history database, so that a restart neither
//! repeats a firing alert nor forgets to resolve it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::topology::alerts::Alerts;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// A service whose own probes fail while nothing below it explains it (SPEC §2).
    RootCause,
    /// A service or failure domain that is now the last spare of a link: a live SPOF that is
    /// not a design SPOF.
    LastSpare,
    /// A core link that is down.
    LinkDown,
}

impl AlertKind {
    /// The kebab-case word used in messages and the webhook JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RootCause => "root-cause",
            Self::LastSpare => "last-spare",
            Self::LinkDown => "link-down",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one alert across inspections: its kind and its subject (a service, a link, or a
/// failure domain `key=value`). Thresholds are counted per key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AlertKey {
    /// What kind of alert.
    pub kind: AlertKind,
    /// The service, link or domain it is about.
    pub subject: String,
}

impl AlertKey {
    /// A key.
    pub fn new(kind: AlertKind, subject: impl Into<String>) -> Self {
        Self {
            kind,
            subject: subject.into(),
        }
    }
}

impl fmt::Display for AlertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.subject)
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something is degraded or has lost its redundancy; nothing is down yet.
    Warning,
    /// Something is down.
    Critical,
}

impl Severity {
    /// The lowercase word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// Everything a message says about an alert, as of the inspection that last found it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Detail {
    /// `down` or `degraded` (root causes, links) or `last-spare`.
    pub state: String,
    /// Why, in words a person can act on ("connection refused on 2 of 2 instances").
    pub reason: Option<String>,
    /// Links it takes down (for a root cause or last spare: those at stake), sorted.
    pub links: Vec<String>,
    /// Dependent services it explains (they never alert on their own), sorted.
    pub services: Vec<String>,
    /// For a link alert: the root causes below it, sorted.
    pub causes: Vec<String>,
}

/// One thing that is wrong at one inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Which alert it feeds.
    pub key: AlertKey,
    /// How urgent.
    pub severity: Severity,
    /// The owner of the subject (routes pick receivers by it).
    pub owner: Option<String>,
    /// What the message says.
    pub detail: Detail,
    /// Alerts that, while firing, already tell this finding's story (a down link's root
    /// causes); the finding then does not fire on its own.
    pub covered_by: Vec<AlertKey>,
}

/// What one inspection found, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inspection {
    /// When the inspection ran, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Everything wrong right now; at most one finding per key.
    pub findings: Vec<Finding>,
}

/// The thresholds and timings of `alerts:` that the engine applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Consecutive inspections with a finding before it fires (≥ 1).
    pub failure_threshold: u32,
    /// Consecutive inspections without it before a firing alert resolves (≥ 1).
    pub success_threshold: u32,
    /// Whether resolutions are sent.
    pub send_resolved: bool,
    /// Reminder interval while firing.
    pub repeat: Option<Duration>,
}

impl From<&Alerts> for Rules {
    fn from(a: &Alerts) -> Self {
        Self {
            failure_threshold: a.failure_threshold.max(1),
            success_threshold: a.success_threshold.max(1),
            send_resolved: a.send_resolved,
            repeat: a.repeat,
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self::from(&Alerts::default())
    }
}

/// What happened to an alert at this inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// It starts firing (or got worse while firing).
    Firing,
    /// Still firing; `repeat` has passed since the last message.
    Reminder,
    /// It no longer holds.
    Resolved,
    /// Not an alert: `linkpatrol alert test` checking that a receiver works.
    Test,
}

impl Event {
    /// The lowercase word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Reminder => "reminder",
            Self::Resolved => "resolved",
            Self::Test => "test",
        }
    }
}

/// A message to send, before routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Firing, reminder or resolved.
    pub event: Event,
    /// The alert.
    pub key: AlertKey,
    /// How urgent (for a resolution: how urgent it was).
    pub severity: Severity,
    /// Who owns the subject.
    pub owner: Option<String>,
    /// What to say (for a resolution: what was last found).
    pub detail: Detail,
    /// When the alert started firing, ms since the epoch.
    pub since_ms: u64,
    /// The inspection that produced this notification, ms since the epoch.
    pub at_ms: u64,
    /// Consecutive inspections that found it (firing, reminder) or did not (resolved).
    pub streak: u32,
}

/// Per key: the counts and the firing state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Track {
    /// Inspections in a row that found it.
    pub failing: u32,
    /// Inspections in a row that did not (only while firing).
    pub passing: u32,
    /// The last finding's severity.
    pub severity: Severity,
    /// The last finding's owner.
    pub owner: Option<String>,
    /// The last finding's detail.
    pub detail: Detail,
    /// Set while the alert fires.
    pub firing: Option<Firing>,
}

/// A firing alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firing {
    /// When it started firing (ms since the epoch).
    pub since_ms: u64,
    /// When its last message (firing or reminder) was made.
    pub notified_ms: u64,
    /// The severity it was last announced with.
    pub severity: Severity,
}

/// The engine's whole memory; persisted between runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EngineState {
    /// Every key that is failing or firing. (Serialized as a list: JSON keys are strings.)
    #[serde(with = "as_list")]
    pub tracks: BTreeMap<AlertKey, Track>,
}

mod as_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{AlertKey, Track};

    #[derive(Serialize, Deserialize)]
    struct Entry<K, T> {
        key: K,
        track: T,
    }

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<AlertKey, Track>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter().map(|(key, track)| Entry { key, track }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<AlertKey, Track>, D::Error> {
        let v: Vec<Entry<AlertKey, Track>> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(|e| (e.key, e.track)).collect())
    }
}

impl EngineState {
    /// The alerts firing now.
    pub fn firing(&self) -> impl Iterator<Item = (&AlertKey, &Track)> {
        self.tracks.iter().filter(|(_, t)| t.firing.is_some())
    }
}

/// The state machine: [`Rules`] and [`EngineState`].
#[derive(Debug, Clone, PartialEq)]
pub struct Engine {
    rules: Rules,
    state: EngineState,
}

impl Engine {
    /// A fresh engine.
    pub fn new(rules: Rules) -> Self {
        Self::with_state(rules, EngineState::default())
    }

    /// An engine that goes on from a persisted state.
    pub fn with_state(rules: Rules, state: EngineState) -> Self {
        Self { rules, state }
    }

    /// The rules in force.
    pub fn rules(&self) -> Rules {
        self.rules
    }

    /// New rules (after a reload); the state is kept.
    pub fn set_rules(&mut self, rules: Rules) {
        self.rules = rules;
    }

    /// The state, to persist.
    pub fn state(&self) -> &EngineState {
        &self.state
    }

    /// Takes one inspection into account; returns what to send, sorted by key.
    pub fn observe(&mut self, inspection: &Inspection) -> Vec<Notification> {
        let now = inspection.at_ms;
        let rules = self.rules;
        let mut found: BTreeMap<&AlertKey, &Finding> = BTreeMap::new();
        for f in &inspection.findings {
            found.entry(&f.key).or_insert(f);
        }
        let mut out = Vec::new();

        // Keys not found this time: count towards resolution; forget what never fired.
        let absent: Vec<AlertKey> = self
            .state
            .tracks
            .keys()
            .filter(|k| !found.contains_key(k))
            .cloned()
            .collect();
        for key in absent {
            let track = self.state.tracks.get_mut(&key).expect("listed above");
            let Some(firing) = track.firing else {
                self.state.tracks.remove(&key);
                continue;
            };
            track.failing = 0;
            track.passing += 1;
            if track.passing >= rules.success_threshold {
                let track = self.state.tracks.remove(&key).expect("present");
                if rules.send_resolved {
                    out.push(Notification {
                        event: Event::Resolved,
                        key,
                        severity: firing.severity,
                        owner: track.owner,
                        detail: track.detail,
                        since_ms: firing.since_ms,
                        at_ms: now,
                        streak: track.passing,
                    });
                }
            }
        }

        // Found keys: uncovered ones first, so that a root cause firing now covers its links.
        let (plain, covered): (Vec<&Finding>, Vec<&Finding>) =
            found.values().partition(|f| f.covered_by.is_empty());
        for f in plain.into_iter().chain(covered) {
            let is_covered = f
                .covered_by
                .iter()
                .any(|k| self.state.tracks.get(k).is_some_and(|t| t.firing.is_some()));
            let track = self
                .state
                .tracks
                .entry(f.key.clone())
                .or_insert_with(|| Track {
                    failing: 0,
                    passing: 0,
                    severity: f.severity,
                    owner: f.owner.clone(),
                    detail: f.detail.clone(),
                    firing: None,
                });
            track.failing = track.failing.saturating_add(1);
            track.passing = 0;
            track.severity = f.severity;
            track.owner.clone_from(&f.owner);
            track.detail.clone_from(&f.detail);
            let event = match &mut track.firing {
                None if track.failing >= rules.failure_threshold && !is_covered => {
                    track.firing = Some(Firing {
                        since_ms: now,
                        notified_ms: now,
                        severity: f.severity,
                    });
                    Some(Event::Firing)
                }
                None => None,
                Some(firing) if f.severity > firing.severity => {
                    firing.severity = f.severity;
                    firing.notified_ms = now;
                    Some(Event::Firing)
                }
                Some(firing) => {
                    let due = rules
                        .repeat
                        .is_some_and(|r| now.saturating_sub(firing.notified_ms) >= duration_ms(r));
                    if due {
                        firing.notified_ms = now;
                        Some(Event::Reminder)
                    } else {
                        None
                    }
                }
            };
            if let Some(event) = event {
                let firing = track.firing.expect("set for every event here");
                out.push(Notification {
                    event,
                    key: f.key.clone(),
                    severity: f.severity,
                    owner: f.owner.clone(),
                    detail: f.detail.clone(),
                    since_ms: firing.since_ms,
                    at_ms: now,
                    streak: track.failing,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    fn root(subject: &str) -> Finding {
        Finding {
            key: AlertKey::new(AlertKind::RootCause, subject),
            severity: Severity::Critical,
            owner: Some("db-team".into()),
            detail: Detail {
                state: "down".into(),
                reason: Some("connection refused".into()),
                links: vec!["order-acceptance".into()],
                services: vec!["order-service".into()],
                causes: vec![],
            },
            covered_by: vec![],
        }
    }

    fn link(name: &str, causes: &[&str]) -> Finding {
        Finding {
            key: AlertKey::new(AlertKind::LinkDown, name),
            severity: Severity::Critical,
            owner: None,
            detail: Detail {
                state: "down".into(),
                causes: causes.iter().map(|c| (*c).to_owned()).collect(),
                ..Detail::default()
            },
            covered_by: causes
                .iter()
                .map(|c| AlertKey::new(AlertKind::RootCause, *c))
                .collect(),
        }
    }

    fn at(i: u64, findings: Vec<Finding>) -> Inspection {
        Inspection {
            at_ms: 1_000_000 + i * MIN,
            findings,
        }
    }

    fn rules(failure: u32, success: u32) -> Rules {
        Rules {
            failure_threshold: failure,
            success_threshold: success,
            send_resolved: true,
            repeat: None,
        }
    }

    fn events(n: &[Notification]) -> Vec<(Event, String)> {
        n.iter().map(|n| (n.event, n.key.to_string())).collect()
    }

    #[test]
    fn fires_after_the_threshold_and_resolves_after_the_success_threshold() {
        let mut e = Engine::new(rules(3, 2));
        let mut all = Vec::new();
        for i in 0..5 {
            all.push(e.observe(&at(i, vec![root("order-db")])));
        }
        for i in 5..8 {
            all.push(e.observe(&at(i, vec![])));
        }
        let counts: Vec<usize> = all.iter().map(Vec::len).collect();
        assert_eq!(counts, [0, 0, 1, 0, 0, 0, 1, 0]);
        assert_eq!(all[2][0].event, Event::Firing);
        assert_eq!(all[2][0].streak, 3);
        assert_eq!(all[6][0].event, Event::Resolved);
        assert_eq!(all[6][0].since_ms, 1_000_000 + 2 * MIN);
        assert_eq!(
            all[6][0].detail.reason.as_deref(),
            Some("connection refused")
        );
        assert!(e.state().tracks.is_empty());
    }

    #[test]
    fn flapping_never_fires() {
        let mut e = Engine::new(rules(3, 2));
        for i in 0..40 {
            let f = if i % 2 == 0 { vec![root("db")] } else { vec![] };
            assert!(e.observe(&at(i, f)).is_empty(), "inspection {i}");
        }
        // Two in a row, then a gap: still nothing.
        for (i, up) in [
            (40, false),
            (41, false),
            (42, true),
            (43, false),
            (44, false),
        ] {
            let f = if up { vec![] } else { vec![root("db")] };
            assert!(e.observe(&at(i, f)).is_empty());
        }
    }

    #[test]
    fn a_short_recovery_does_not_resolve() {
        let mut e = Engine::new(rules(1, 3));
        assert_eq!(events(&e.observe(&at(0, vec![root("db")]))).len(), 1);
        for i in 1..3 {
            assert!(e.observe(&at(i, vec![])).is_empty());
        }
        // Failing again resets the success count: no new firing, no resolution.
        assert!(e.observe(&at(3, vec![root("db")])).is_empty());
        assert!(e.observe(&at(4, vec![])).is_empty());
        assert!(e.observe(&at(5, vec![])).is_empty());
        assert_eq!(
            events(&e.observe(&at(6, vec![]))),
            [(Event::Resolved, "root-cause:db".to_owned())]
        );
    }

    #[test]
    fn a_link_down_because_of_a_firing_root_cause_does_not_page_again() {
        let mut e = Engine::new(rules(2, 1));
        let now = || {
            vec![
                root("db"),
                link("checkout", &["db"]),
                link("orders", &["db"]),
            ]
        };
        assert!(e.observe(&at(0, now())).is_empty());
        assert_eq!(
            events(&e.observe(&at(1, now()))),
            [(Event::Firing, "root-cause:db".to_owned())]
        );
        assert!(e.observe(&at(2, now())).is_empty());
        // The cause moves to another service while the link stays down: the link pages.
        let moved = || vec![root("cache"), link("checkout", &["cache"])];
        let n = e.observe(&at(3, moved()));
        assert_eq!(
            events(&n),
            [
                (Event::Resolved, "root-cause:db".to_owned()),
                (Event::Firing, "link-down:checkout".to_owned()),
            ]
        );
        assert_eq!(n[1].detail.causes, ["cache"]);
    }

    #[test]
    fn reminders_follow_repeat_and_worse_news_fires_again() {
        let mut e = Engine::new(Rules {
            repeat: Some(Duration::from_secs(150)),
            ..rules(1, 1)
        });
        let mut warn = root("db");
        warn.severity = Severity::Warning;
        assert_eq!(
            e.observe(&at(0, vec![warn.clone()]))[0].event,
            Event::Firing
        );
        assert!(e.observe(&at(1, vec![warn.clone()])).is_empty());
        assert!(e.observe(&at(2, vec![warn.clone()])).is_empty());
        let n = e.observe(&at(3, vec![warn.clone()]));
        assert_eq!(n[0].event, Event::Reminder);
        assert_eq!(n[0].since_ms, 1_000_000);
        let n = e.observe(&at(4, vec![root("db")]));
        assert_eq!(n[0].event, Event::Firing);
        assert_eq!(n[0].severity, Severity::Critical);
        // Back to a warning while firing as critical: no message.
        assert!(e.observe(&at(5, vec![warn])).is_empty());
    }

    #[test]
    fn send_resolved_false_resolves_silently() {
        let mut e = Engine::new(Rules {
            send_resolved: false,
            ..rules(1, 1)
        });
        assert_eq!(e.observe(&at(0, vec![root("db")])).len(), 1);
        assert!(e.observe(&at(1, vec![])).is_empty());
        assert!(e.state().tracks.is_empty());
    }

    #[test]
    fn a_restored_state_neither_repeats_nor_forgets() {
        let mut e = Engine::new(rules(2, 2));
        e.observe(&at(0, vec![root("db")]));
        assert_eq!(e.observe(&at(1, vec![root("db")])).len(), 1);
        let saved = serde_json::to_string(e.state()).unwrap();
        let mut e = Engine::with_state(rules(2, 2), serde_json::from_str(&saved).unwrap());
        assert!(e.observe(&at(2, vec![root("db")])).is_empty());
        assert!(e.observe(&at(3, vec![])).is_empty());
        assert_eq!(
            events(&e.observe(&at(4, vec![]))),
            [(Event::Resolved, "root-cause:db".to_owned())]
        );
    }

    #[test]
    fn thresholds_count_per_key() {
        let mut e = Engine::new(rules(2, 1));
        // `a` fails twice in a row; `b` alternates with `c`: only `a` fires.
        let n0 = e.observe(&at(0, vec![root("a"), root("b")]));
        let n1 = e.observe(&at(1, vec![root("a"), root("c")]));
        let n2 = e.observe(&at(2, vec![root("b")]));
        assert!(n0.is_empty());
        assert_eq!(events(&n1), [(Event::Firing, "root-cause:a".to_owned())]);
        assert_eq!(events(&n2), [(Event::Resolved, "root-cause:a".to_owned())]);
    }
}

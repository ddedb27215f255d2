//! The outbox: per-receiver queues between the engine and the receivers.
//!
//! - **Routing.** A notification goes to the receivers of its owner's route (or `default`).
//! - **Rate limits batch, never drop.** Each receiver has a budget of messages per sliding
//!   minute (DingTalk 20). While the queue is no longer than what is left of the budget, each
//!   notification is its own message; when it is longer, the next message carries as many
//!   queued notifications as fit the receiver's size limit. Nothing is dropped for the rate.
//! - **Retries with backoff.** A send counts only when the receiver's answer says so; a failed
//!   message goes back to the head of its queue and is retried after 2 s, 4 s, 8 s … (capped
//!   at 5 minutes), up to [`MAX_ATTEMPTS`] times. One message per receiver is in flight at a
//!   time; receivers do not wait for each other.
//! - **Off the probing path.** [`Outbox`] is plain data driven by a [`Clock`]; [`pump`] sends
//!   what is due. `watch` runs it in its own task, so a slow or failing receiver never delays
//!   an inspection; tests drive it with a [`ManualClock`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::engine::Notification;
use super::message::Message;
use super::receiver::{self, Answer};
use crate::topology::alerts::{Alerts, Receiver, ReceiverName};

/// Attempts per message before it is given up (and logged).
pub const MAX_ATTEMPTS: u32 = 10;
/// First retry delay; doubles per failed attempt.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(2);
/// Longest retry delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The rate-limit window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// At most this many alerts in one batched message.
pub const BATCH_MAX: usize = 20;

/// Wall-clock time in ms since the epoch; injectable so tests need not wait a real minute.
pub trait Clock: Send + Sync {
    /// Now, in ms since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `ms`.
    pub fn at(ms: u64) -> Self {
        Self(AtomicU64::new(ms))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(ms(d), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One receiver's queue.
#[derive(Debug, Clone)]
struct Queue {
    receiver: Receiver,
    pending: VecDeque<Pending>,
    /// Times of the attempts within the last [`WINDOW`].
    recent: VecDeque<u64>,
    /// No attempt before this time (backoff after a failure).
    not_before: u64,
    in_flight: bool,
}

#[derive(Debug, Clone)]
struct Pending {
    notification: Notification,
    attempts: u32,
}

/// A message handed out by [`Outbox::due`], to be sent and then [`Outbox::settle`]d.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The receiver.
    pub receiver: Receiver,
    /// What to send.
    pub message: Message,
    /// Which attempt this is for the message's oldest notification (1 = first).
    pub attempt: u32,
    items: Vec<Pending>,
}

/// What became of one attempt.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The receiver.
    pub receiver: ReceiverName,
    /// The alerts in the message (`kind:subject`), in message order.
    pub alerts: Vec<String>,
    /// 1 = first try.
    pub attempt: u32,
    /// The answer, or why none came.
    pub result: Result<Answer, String>,
    /// Accepted by the receiver.
    pub accepted: bool,
    /// Failed for the last time: these alerts were given up.
    pub given_up: bool,
    /// When the attempt was made (ms since the epoch).
    pub at_ms: u64,
}

/// The per-receiver queues.
#[derive(Debug, Clone)]
pub struct Outbox {
    topology: String,
    external_url: Option<String>,
    queues: BTreeMap<ReceiverName, Queue>,
}

impl Outbox {
    /// An outbox for the receivers of `alerts`.
    pub fn new(alerts: &Alerts, topology: &str, external_url: Option<&str>) -> Self {
        let mut out = Self {
            topology: topology.to_owned(),
            external_url: external_url.map(str::to_owned),
            queues: BTreeMap::new(),
        };
        out.set_receivers(alerts, topology);
        out
    }

    /// After a reload: new settings for receivers that remain (their queues are kept), new
    /// queues for new ones. Queued messages for a receiver that is gone are dropped and
    /// returned, so the caller can log them.
    pub fn set_receivers(&mut self, alerts: &Alerts, topology: &str) -> Vec<(ReceiverName, usize)> {
        topology.clone_into(&mut self.topology);
        let mut dropped = Vec::new();
        self.queues.retain(|name, q| {
            let keep = alerts.receiver(name.as_str()).is_some();
            if !keep && !q.pending.is_empty() {
                dropped.push((name.clone(), q.pending.len()));
            }
            keep
        });
        for r in &alerts.receivers {
            match self.queues.get_mut(&r.name) {
                Some(q) => q.receiver = r.clone(),
                None => {
                    self.queues.insert(
                        r.name.clone(),
                        Queue {
                            receiver: r.clone(),
                            pending: VecDeque::new(),
                            recent: VecDeque::new(),
                            not_before: 0,
                            in_flight: false,
                        },
                    );
                }
            }
        }
        dropped
    }

    /// Queues `n` for every receiver its owner's route names; returns those receivers.
    pub fn enqueue(&mut self, alerts: &Alerts, n: &Notification) -> Vec<ReceiverName> {
        let targets: Vec<ReceiverName> = alerts
            .route(n.owner.as_deref())
            .into_iter()
            .cloned()
            .collect();
        for t in &targets {
            self.enqueue_to(t, n.clone());
        }
        targets
    }

    /// Queues `n` for one receiver (ignored when there is no such receiver).
    pub fn enqueue_to(&mut self, receiver: &ReceiverName, n: Notification) {
        if let Some(q) = self.queues.get_mut(receiver) {
            q.pending.push_back(Pending {
                notification: n,
                attempts: 0,
            });
        }
    }

    /// Every queued notification with its receiver, in queue order per receiver: what `watch`
    /// saves so that a restart still sends it ([`enqueue_to`](Self::enqueue_to) puts it back).
    /// Messages in flight are not in it; `watch` saves before handing them out.
    pub fn queued(&self) -> Vec<(ReceiverName, Notification)> {
        self.queues
            .iter()
            .flat_map(|(name, q)| {
                q.pending
                    .iter()
                    .map(move |p| (name.clone(), p.notification.clone()))
            })
            .collect()
    }

    /// Notifications waiting (or in flight), over all receivers.
    pub fn pending(&self) -> usize {
        self.queues.values().map(|q| q.pending.len()).sum()
    }

    /// The messages that may be sent at `now`: at most one per receiver, within its rate
    /// budget and past its backoff. Each must be passed back to [`settle`](Self::settle).
    pub fn due(&mut self, now: u64) -> Vec<Attempt> {
        let mut out = Vec::new();
        for q in self.queues.values_mut() {
            while q
                .recent
                .front()
                .is_some_and(|&t| now.saturating_sub(t) >= ms(WINDOW))
            {
                q.recent.pop_front();
            }
            if q.in_flight || q.pending.is_empty() || now < q.not_before {
                continue;
            }
            let available = q
                .receiver
                .rate_limit
                .map_or(usize::MAX, |l| (l as usize).saturating_sub(q.recent.len()));
            if available == 0 {
                continue;
            }
            let take = if q.pending.len() <= available {
                1
            } else {
                self::fit(&q.receiver, &self.topology, &q.pending)
            };
            let items: Vec<Pending> = q.pending.drain(..take).collect();
            let attempt = items.iter().map(|p| p.attempts).max().unwrap_or(0) + 1;
            let message = Message {
                topology: self.topology.clone(),
                notifications: items.iter().map(|p| p.notification.clone()).collect(),
                external_url: self.external_url.clone(),
            };
            q.recent.push_back(now);
            q.in_flight = true;
            out.push(Attempt {
                receiver: q.receiver.clone(),
                message,
                attempt,
                items,
            });
        }
        out
    }

    /// Records the outcome of `attempt` made at `now`: on failure the notifications go back to
    /// the head of the queue, to be retried after a backoff, or are given up after
    /// [`MAX_ATTEMPTS`].
    pub fn settle(
        &mut self,
        attempt: Attempt,
        result: Result<Answer, String>,
        now: u64,
    ) -> Delivery {
        let accepted = matches!(&result, Ok(a) if a.verdict.is_ok());
        let alerts = attempt
            .items
            .iter()
            .map(|p| p.notification.key.to_string())
            .collect();
        let mut given_up = false;
        if let Some(q) = self.queues.get_mut(&attempt.receiver.name) {
            q.in_flight = false;
            if accepted {
                q.not_before = 0;
            } else if attempt.attempt >= MAX_ATTEMPTS {
                given_up = true;
            } else {
                let backoff = FIRST_BACKOFF
                    .saturating_mul(1 << (attempt.attempt - 1).min(16))
                    .min(MAX_BACKOFF);
                q.not_before = now.saturating_add(ms(backoff));
                for mut p in attempt.items.into_iter().rev() {
                    p.attempts = attempt.attempt;
                    q.pending.push_front(p);
                }
            }
        }
        Delivery {
            receiver: attempt.receiver.name.clone(),
            alerts,
            attempt: attempt.attempt,
            result,
            accepted,
            given_up,
            at_ms: now,
        }
    }

    /// When something may next become due: the earliest backoff end or rate-window slot of a
    /// receiver with queued messages; `None` when nothing is queued.
    pub fn next_wakeup(&self, now: u64) -> Option<u64> {
        self.queues
            .values()
            .filter(|q| !q.pending.is_empty() && !q.in_flight)
            .map(|q| {
                let mut t = q.not_before.max(now);
                if let Some(limit) = q.receiver.rate_limit
                    && q.recent.len() >= limit as usize
                {
                    let oldest = q.recent[q.recent.len() - limit as usize];
                    t = t.max(oldest.saturating_add(ms(WINDOW)));
                }
                t
            })
            .min()
    }
}

/// How many of the queued notifications fit one message for `receiver` (at least 1).
fn fit(receiver: &Receiver, topology: &str, pending: &VecDeque<Pending>) -> usize {
    let max = receiver::max_text_bytes(receiver.kind);
    let mut message = Message {
        topology: topology.to_owned(),
        notifications: Vec::new(),
        external_url: None,
    };
    let mut n = 0;
    for p in pending.iter().take(BATCH_MAX) {
        message.notifications.push(p.notification.clone());
        if n > 0 && receiver::text_len(receiver, &message) > max {
            break;
        }
        n += 1;
    }
    n.max(1)
}

/// Sends every message due now (one per receiver, concurrently) and settles them; repeats
/// until nothing more is due at this instant. Returns what happened.
pub async fn pump(
    outbox: &mut Outbox,
    client: &reqwest::Client,
    clock: &dyn Clock,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    loop {
        let now = clock.now_ms();
        let attempts = outbox.due(now);
        if attempts.is_empty() {
            return out;
        }
        let sends = attempts
            .iter()
            .map(|a| receiver::send(client, &a.receiver, &a.message, now));
        let results = futures_util::future::join_all(sends).await;
        let done = clock.now_ms();
        for (a, r) in attempts.into_iter().zip(results) {
            out.push(outbox.settle(a, r, done));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::engine::{AlertKey, AlertKind, Detail, Event, Severity};
    use crate::topology::alerts::ReceiverKind;
    use crate::topology::model::Text;

    fn receiver(name: &str, kind: ReceiverKind, rate: Option<u32>) -> Receiver {
        Receiver {
            name: ReceiverName::new(name),
            kind,
            url: Text::plain("http://127.0.0.1:9/hook"),
            secret: None,
            mention: vec![],
            rate_limit: rate,
        }
    }

    fn alerts(receivers: Vec<Receiver>) -> Alerts {
        Alerts {
            receivers,
            ..Alerts::default()
        }
    }

    fn note(subject: &str) -> Notification {
        Notification {
            event: Event::Firing,
            key: AlertKey::new(AlertKind::RootCause, subject),
            severity: Severity::Critical,
            owner: None,
            detail: Detail {
                state: "down".into(),
                reason: Some("connection refused".into()),
                ..Detail::default()
            },
            since_ms: 0,
            at_ms: 0,
            streak: 3,
        }
    }

    fn ok() -> Answer {
        Answer {
            status: 200,
            body: r#"{"errcode":0}"#.into(),
            verdict: Ok(()),
        }
    }

    fn refused() -> Answer {
        Answer {
            status: 200,
            body: r#"{"errcode":130101,"errmsg":"send too fast"}"#.into(),
            verdict: Err("errcode 130101: send too fast".into()),
        }
    }

    #[test]
    fn a_burst_is_batched_within_the_rate_and_nothing_is_lost() {
        let a = alerts(vec![receiver("ding", ReceiverKind::DingTalk, Some(20))]);
        let mut o = Outbox::new(&a, "t", None);
        for i in 0..50 {
            o.enqueue(&a, &note(&format!("svc-{i:02}")));
        }
        let mut sent: Vec<(u64, usize)> = Vec::new();
        let mut seen = Vec::new();
        for second in 0..180 {
            let now = second * 1000;
            loop {
                let due = o.due(now);
                if due.is_empty() {
                    break;
                }
                for at in due {
                    sent.push((now, at.message.notifications.len()));
                    seen.extend(
                        at.message
                            .notifications
                            .iter()
                            .map(|n| n.key.subject.clone()),
                    );
                    o.settle(at, Ok(ok()), now);
                }
            }
        }
        for (t, _) in &sent {
            let in_window = sent
                .iter()
                .filter(|(u, _)| *u >= *t && *u < t + 60_000)
                .count();
            assert!(
                in_window <= 20,
                "{in_window} messages in the minute from {t}"
            );
        }
        seen.sort();
        let expected: Vec<String> = (0..50).map(|i| format!("svc-{i:02}")).collect();
        assert_eq!(seen, expected);
        assert_eq!(o.pending(), 0);
        // The burst fits in the first minute by batching; singles once the queue is short.
        assert!(sent.iter().all(|(t, _)| *t < 60_000));
        assert!(sent.iter().any(|(_, n)| *n > 1));
        assert_eq!(sent.last().map(|s| s.1), Some(1));
    }

    #[test]
    fn failures_are_retried_with_backoff_then_given_up() {
        let a = alerts(vec![receiver("ding", ReceiverKind::DingTalk, Some(20))]);
        let mut o = Outbox::new(&a, "t", None);
        o.enqueue(&a, &note("db"));
        let mut now = 0;
        let first = o.due(now).pop().unwrap();
        let d = o.settle(first, Ok(refused()), now);
        assert!(!d.accepted && !d.given_up);
        assert!(o.due(now + 1_999).is_empty(), "backoff holds");
        assert_eq!(o.next_wakeup(now), Some(2_000));
        now += 2_000;
        let second = o.due(now).pop().unwrap();
        assert_eq!(second.attempt, 2);
        o.settle(second, Err("cannot connect".into()), now);
        assert_eq!(o.next_wakeup(now), Some(now + 4_000));
        now += 4_000;
        let third = o.due(now).pop().unwrap();
        let d = o.settle(third, Ok(ok()), now);
        assert!(d.accepted);
        assert_eq!(o.pending(), 0);

        // A message that keeps failing is given up after MAX_ATTEMPTS, not retried forever.
        o.enqueue(&a, &note("cache"));
        let mut last = None;
        for _ in 0..MAX_ATTEMPTS {
            now = o.next_wakeup(now).unwrap().max(now);
            // Past the rate window too, so only the backoff decides.
            now += 61_000;
            let at = o.due(now).pop().unwrap();
            last = Some(o.settle(at, Ok(refused()), now));
        }
        let last = last.unwrap();
        assert!(last.given_up);
        assert_eq!(last.attempt, MAX_ATTEMPTS);
        assert_eq!(o.pending(), 0);
    }

    #[test]
    fn one_failing_receiver_does_not_hold_up_another() {
        let a = alerts(vec![
            receiver("a", ReceiverKind::Webhook, None),
            receiver("b", ReceiverKind::Webhook, None),
        ]);
        let mut o = Outbox::new(&a, "t", None);
        o.enqueue(&a, &note("db"));
        let due = o.due(0);
        assert_eq!(due.len(), 2);
        let mut it = due.into_iter();
        o.settle(it.next().unwrap(), Err("timed out".into()), 0);
        o.settle(it.next().unwrap(), Ok(ok()), 0);
        o.enqueue(&a, &note("cache"));
        let due = o.due(10);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].receiver.name.as_str(), "b");
    }

    #[test]
    fn reload_keeps_queues_of_remaining_receivers() {
        let a = alerts(vec![
            receiver("a", ReceiverKind::Webhook, None),
            receiver("b", ReceiverKind::Webhook, None),
        ]);
        let mut o = Outbox::new(&a, "t", None);
        o.enqueue(&a, &note("db"));
        let b = alerts(vec![receiver("b", ReceiverKind::Slack, Some(1))]);
        let dropped = o.set_receivers(&b, "t");
        assert_eq!(dropped, [(ReceiverName::new("a"), 1)]);
        let due = o.due(0);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].receiver.kind, ReceiverKind::Slack);
    }
}

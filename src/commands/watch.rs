//! `linkpatrol watch`: `inspect` on a timer, alerts, and an HTTP server (SPEC §9).
//!
//! One `select!` loop over the tick, SIGHUP, SIGTERM and Ctrl-C:
//! - **Tick.** First the topology file is checked for a change (its bytes hashed, so a
//!   ConfigMap swapped under a symlink counts too), then one inspection runs exactly as
//!   `inspect` runs it ([`inspect::run`], on the blocking pool, with the output directory's
//!   lock): run folder, `latest`, `metrics.prom`, history. Never two at once: the next tick is
//!   `interval` after this one's start, or right after it when it took longer (an *overrun*,
//!   logged and counted in `linkpatrol_watch_overruns_total`).
//! - **After each run** the run's files are published to the server ([`crate::serve`]), the
//!   report's findings go through the alert engine, the engine's state is saved in the history
//!   database (table `alert_state`, schema v4) and its notifications are handed to the
//!   dispatcher task, which owns the outbox (routes, rate limits, retries): a slow or failing
//!   receiver never delays probing.
//! - **Reload** on SIGHUP or a changed file: the file is loaded and validated as at start. A
//!   valid file replaces the topology (the alert state is kept, the rules and receivers are
//!   updated) and sets `linkpatrol_config_reload_success` to 1; an invalid one keeps the old
//!   topology, logs its diagnostics and sets the gauge to 0. A SIGHUP during a run reloads after
//!   it.
//! - **Stop** on SIGTERM or Ctrl-C: a run in progress finishes (its history write and the
//!   alert state with it), the dispatcher gets a few seconds for what is due, the server stops,
//!   and the process exits 0.
//!
//! Restarted, `watch` reads the alert state back: a firing alert is not sent again and still
//! resolves. Logs go to stderr through `tracing` (`--log-format json` for shippers); receiver
//! URLs and secrets never appear in them (errors from receivers are scrubbed).

use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use super::inspect::{self, HISTORY_FILE, InspectOptions, InspectOutcome};
use super::{Context, ExitStatus};
use crate::alert::dispatch::{Clock as _, Delivery, Outbox, SystemClock, pump};
use crate::alert::engine::{Engine, EngineState, Notification, Rules};
use crate::alert::findings;
use crate::alert::message::headline;
use crate::alert::receiver;
use crate::cli::{FailOn, LogFormat, WatchArgs};
use crate::history::Store;
use crate::history::store::AlertState;
use crate::report::graphviz::Graphviz;
use crate::report::timestamp::UtcTime;
use crate::serve::{self, Snapshot, WatchStatus};
use crate::state::State;
use crate::topology::alerts::{Alerts, ReceiverName};
use crate::topology::load;
use crate::topology::model::Topology;

/// How long the dispatcher may go on sending after a stop was asked for.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// How `watch` runs (everything else comes from the topology file).
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The topology file, re-read on SIGHUP and when it changes.
    pub file: PathBuf,
    /// `-o`.
    pub out_dir: PathBuf,
    /// `--interval`.
    pub interval: Duration,
    /// `--listen`.
    pub listen: std::net::SocketAddr,
    /// `--external-url`.
    pub external_url: Option<String>,
    /// `--concurrency`.
    pub concurrency: Option<usize>,
    /// `--deadline`.
    pub deadline: Option<Duration>,
}

/// Runs `linkpatrol watch` until SIGTERM or Ctrl-C.
pub fn run_cli(ctx: &Context, args: &WatchArgs) -> anyhow::Result<ExitStatus> {
    init_logging(ctx, args.log_format);
    if ctx.file.as_os_str() == "-" {
        eprintln!(
            "error: `watch` re-reads its topology file when it changes, so it needs a file: give `-f FILE`, not `-`"
        );
        return Ok(ExitStatus::Invalid);
    }
    let Some(loaded) = super::load_or_report(ctx) else {
        return Ok(ExitStatus::Invalid);
    };
    let options = WatchOptions {
        file: ctx.file.clone(),
        out_dir: args.out_dir.clone(),
        interval: args.interval,
        listen: args.listen,
        external_url: args.external_url.clone(),
        concurrency: args.concurrency,
        deadline: args.deadline,
    };
    // Two workers: the server and the dispatcher; inspections run on the blocking pool.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(watch(loaded.topology, options));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

fn init_logging(ctx: &Context, format: LogFormat) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = if ctx.quiet {
        LevelFilter::WARN
    } else if ctx.verbose > 0 {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    // Our own events at the chosen level; the libraries' (resolver, HTTP) only when they warn.
    let filter = Targets::new()
        .with_target("linkpatrol", level)
        .with_default(LevelFilter::WARN.min(level));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(fmt.with_ansi(ctx.color_stderr).with_filter(filter))
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(
                fmt.json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_filter(filter),
            )
            .try_init(),
    };
}

/// What the watch loop tells the dispatcher.
#[derive(Debug)]
enum ToDispatcher {
    /// Queue these.
    Notify(Vec<Notification>),
    /// The receivers and routes after a reload.
    Reload(Alerts, String),
    /// Send what is due, then end.
    Stop,
}

/// The topology file's content as last seen, to notice a change.
struct WatchedFile {
    path: PathBuf,
    seen: Option<u64>,
}

impl WatchedFile {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            seen: fingerprint(path),
        }
    }

    /// Whether the content differs from the last look (and remembers it).
    fn changed(&mut self) -> bool {
        let now = fingerprint(&self.path);
        let changed = now != self.seen;
        self.seen = now;
        changed
    }
}

fn fingerprint(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

/// Everything one `watch` carries from run to run.
struct Watcher {
    options: WatchOptions,
    topology: Arc<Topology>,
    engine: Engine,
    store: Store,
    status: Arc<WatchStatus>,
    to_dispatcher: mpsc::UnboundedSender<ToDispatcher>,
    /// What the dispatcher has not delivered yet, as of its last step.
    undelivered: Undelivered,
}

/// The outbox's queued notifications, shared by the dispatcher (which writes it after every
/// step) and the watch loop (which saves it with the engine state).
type Undelivered = Arc<std::sync::Mutex<Vec<(ReceiverName, Notification)>>>;

async fn watch(topology: Topology, options: WatchOptions) -> anyhow::Result<ExitStatus> {
    // Signals first: from here on a SIGTERM is ours to handle, never the default kill.
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;

    let status = Arc::new(WatchStatus::new(options.interval));
    let listener = serve::bind(options.listen).await?;
    let local = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let (stop_server, mut server_stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(serve::serve(listener, Arc::clone(&status), async move {
        let _ = server_stopped.wait_for(|stop| *stop).await;
    }));

    std::fs::create_dir_all(&options.out_dir)
        .with_context(|| format!("cannot create `{}`", options.out_dir.display()))?;
    let history = options.out_dir.join(HISTORY_FILE);
    let store = Store::open(&history)?;
    let alerts = topology.alerts.clone().unwrap_or_default();
    let (saved, queued) = restore(&store, &topology.name);
    let engine = Engine::with_state(Rules::from(&alerts), saved);
    let firing = engine.state().firing().count();
    status.firing.store(firing as u64, Ordering::Relaxed);

    let (to_dispatcher, from_watch) = mpsc::unbounded_channel();
    let client = receiver::client().map_err(anyhow::Error::msg)?;
    let mut outbox = Outbox::new(&alerts, &topology.name, options.external_url.as_deref());
    if !queued.is_empty() {
        info!(
            queued = queued.len(),
            "undelivered alerts restored from the history: sending them"
        );
    }
    for (receiver, n) in queued {
        outbox.enqueue_to(&receiver, n);
    }
    let undelivered: Undelivered = Arc::new(std::sync::Mutex::new(outbox.queued()));
    let dispatcher = tokio::spawn(dispatch(
        outbox,
        alerts,
        client,
        from_watch,
        Arc::clone(&status),
        Arc::clone(&undelivered),
    ));

    info!(
        topology = %topology.name,
        file = %options.file.display(),
        out = %options.out_dir.display(),
        interval_s = options.interval.as_secs_f64(),
        firing,
        "watching `{}` every {}; listening on http://{local}",
        topology.name,
        human(options.interval),
    );

    let mut file = WatchedFile::new(&options.file);
    let mut w = Watcher {
        options,
        topology: Arc::new(topology),
        engine,
        store,
        status,
        to_dispatcher,
        undelivered,
    };
    let mut next = tokio::time::Instant::now();
    let mut stop = false;
    while !stop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            _ = hup.recv() => {
                w.reload("SIGHUP");
                continue;
            }
            _ = term.recv() => {
                info!("SIGTERM: stopping");
                break;
            }
            _ = int.recv() => {
                info!("interrupted: stopping");
                break;
            }
        }
        if file.changed() {
            w.reload("the file changed");
        }
        let began = Instant::now();
        let topology = Arc::clone(&w.topology);
        let inspect_options = w.inspect_options();
        let mut job =
            tokio::task::spawn_blocking(move || inspect::run(&topology, &inspect_options));
        let mut reload_after = false;
        let result = loop {
            tokio::select! {
                r = &mut job => break r,
                _ = term.recv() => {
                    info!("SIGTERM: stopping once the current inspection has written its history");
                    stop = true;
                }
                _ = int.recv() => {
                    info!("interrupted: stopping once the current inspection has written its history");
                    stop = true;
                }
                _ = hup.recv() => reload_after = true,
            }
        };
        match result {
            Ok(Ok(outcome)) => w.after_run(&outcome),
            Ok(Err(e)) => {
                w.status.inspection_failures.fetch_add(1, Ordering::Relaxed);
                error!(error = %format!("{e:#}"), "inspection failed");
            }
            Err(e) => {
                w.status.inspection_failures.fetch_add(1, Ordering::Relaxed);
                error!(error = %e, "inspection failed");
            }
        }
        let took = began.elapsed();
        let interval = w.options.interval;
        if took >= interval {
            w.status.overruns.fetch_add(1, Ordering::Relaxed);
            warn!(
                took_s = took.as_secs_f64(),
                interval_s = interval.as_secs_f64(),
                "the inspection took {} (longer than the interval, {}): the next one starts now",
                human(took),
                human(interval),
            );
            next = tokio::time::Instant::now();
        } else {
            next = tokio::time::Instant::from_std(began + interval);
        }
        if reload_after && !stop {
            w.reload("SIGHUP");
        }
    }

    let _ = w.to_dispatcher.send(ToDispatcher::Stop);
    if tokio::time::timeout(STOP_GRACE, dispatcher).await.is_err() {
        warn!(
            "the receivers did not answer within {}: the alerts still queued are sent after a restart",
            human(STOP_GRACE)
        );
    }
    // What is still queued is saved, and sent by the next `watch` on this directory.
    w.save_state(&[]);
    let _ = stop_server.send(true);
    if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(2), server).await {
        warn!(error = %e, "the HTTP server failed");
    }
    info!("stopped");
    Ok(ExitStatus::Success)
}

impl Watcher {
    fn inspect_options(&self) -> InspectOptions {
        InspectOptions {
            out_dir: self.options.out_dir.clone(),
            fail_on: FailOn::Never,
            concurrency: self.options.concurrency,
            deadline: self.options.deadline,
            progress: false,
            graphviz: Graphviz::new(),
            shard: None,
        }
    }

    /// Loads the file again; keeps the old topology when it is invalid.
    fn reload(&mut self, why: &str) {
        let path = &self.options.file;
        match load::load_file_with_warnings(path) {
            Ok(loaded) => {
                self.status.reloaded(true);
                if !loaded.warnings.is_empty() {
                    warn!(
                        diagnostics = %loaded.warnings.render(false),
                        "`{}` has warnings", path.display()
                    );
                }
                let topology = loaded.topology;
                let alerts = topology.alerts.clone().unwrap_or_default();
                self.engine.set_rules(Rules::from(&alerts));
                let _ = self
                    .to_dispatcher
                    .send(ToDispatcher::Reload(alerts, topology.name.clone()));
                info!(
                    topology = %topology.name,
                    services = topology.services.len(),
                    "reloaded `{}` ({why})",
                    path.display()
                );
                self.topology = Arc::new(topology);
            }
            Err(e) => {
                self.status.reloaded(false);
                let diagnostics = e
                    .diagnostics()
                    .map_or_else(|| e.to_string(), |d| d.render(false));
                error!(
                    diagnostics = %diagnostics,
                    "cannot reload `{}` ({why}); still watching with the previous topology",
                    path.display()
                );
            }
        }
    }

    /// Saves the engine state and the undelivered notifications (the dispatcher's, plus
    /// `new` ones it has not been handed yet) in the history database.
    fn save_state(&mut self, new: &[(ReceiverName, Notification)]) {
        let mut queued = self
            .undelivered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        queued.extend_from_slice(new);
        let saved = serde_json::to_string(self.engine.state()).and_then(|state| {
            Ok(AlertState {
                topology: self.topology.name.clone(),
                state,
                outbox: serde_json::to_string(&queued)?,
            })
        });
        match saved {
            Ok(saved) => {
                if let Err(e) = self.store.save_alert_state(UtcTime::now(), &saved) {
                    error!(error = %e, "cannot save the alert state");
                }
            }
            Err(e) => error!(error = %e, "cannot serialize the alert state"),
        }
    }

    /// Publishes the run, feeds the alert engine, saves its state, queues what it says.
    fn after_run(&mut self, outcome: &InspectOutcome) {
        let report = &outcome.report;
        match read_snapshot(&outcome.run_dir) {
            Ok(snapshot) => self.status.publish(snapshot),
            Err(e) => error!(error = %e, "cannot read the run's files to serve them"),
        }
        let down = report
            .links
            .iter()
            .filter(|l| l.state == State::Down)
            .count();
        let causes: Vec<&str> = report
            .root_causes
            .iter()
            .flatten()
            .map(|c| c.id.as_str())
            .collect();
        info!(
            run = %outcome.run_dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
            duration_s = report.run.as_ref().map_or(0.0, |r| r.duration_seconds),
            links = report.links.len(),
            links_down = down,
            root_causes = %causes.join(","),
            "inspection finished"
        );

        let now = SystemClock.now_ms();
        let inspection = findings::from_report(&self.topology, report, now);
        let notes = self.engine.observe(&inspection);
        // Saved before the dispatcher sees them: a restart from here on neither repeats nor
        // loses them.
        let alerts = self.topology.alerts.clone().unwrap_or_default();
        let routed: Vec<(ReceiverName, Notification)> = notes
            .iter()
            .flat_map(|n| {
                alerts
                    .route(n.owner.as_deref())
                    .into_iter()
                    .map(|r| (r.clone(), n.clone()))
            })
            .collect();
        self.save_state(&routed);
        let firing = self.engine.state().firing().count();
        self.status.firing.store(firing as u64, Ordering::Relaxed);
        for n in &notes {
            self.status.count_notification(n.event.as_str());
            info!(
                event = n.event.as_str(),
                alert = %n.key,
                owner = n.owner.as_deref().unwrap_or(""),
                "{}",
                headline(n)
            );
        }
        if !notes.is_empty() {
            let _ = self.to_dispatcher.send(ToDispatcher::Notify(notes));
        }
    }
}

/// The engine state and the undelivered notifications saved by the last `watch` on this
/// output directory, or a fresh start.
fn restore(store: &Store, topology: &str) -> (EngineState, Vec<(ReceiverName, Notification)>) {
    let saved = match store.load_alert_state() {
        Ok(Some(saved)) => saved,
        Ok(None) => return (EngineState::default(), Vec::new()),
        Err(e) => {
            warn!(error = %e, "cannot read the saved alert state: starting afresh");
            return (EngineState::default(), Vec::new());
        }
    };
    if saved.topology != topology {
        warn!(
            "the alert state in the history was saved for topology `{}`, now `{topology}`: kept",
            saved.topology
        );
    }
    let state = match serde_json::from_str::<EngineState>(&saved.state) {
        Ok(state) => state,
        Err(e) => {
            warn!(error = %e, "the saved alert state cannot be read (from another linkpatrol version?): starting afresh");
            EngineState::default()
        }
    };
    let firing = state.firing().count();
    if firing > 0 {
        info!(
            firing,
            "alert state restored: firing alerts are not sent again and resolve as usual"
        );
    }
    let queued = serde_json::from_str(&saved.outbox).unwrap_or_else(|e| {
        warn!(error = %e, "the saved undelivered alerts cannot be read: dropped");
        Vec::new()
    });
    (state, queued)
}

fn read_snapshot(run_dir: &Path) -> std::io::Result<Snapshot> {
    let read = |name: &str| {
        std::fs::read_to_string(run_dir.join(name)).map_err(|e| {
            std::io::Error::new(e.kind(), format!("`{}`: {e}", run_dir.join(name).display()))
        })
    };
    Ok(Snapshot {
        html: read("report.html")?,
        json: read("report.json")?,
        metrics: read("metrics.prom")?,
    })
}

/// The dispatcher: owns the outbox, sends what is due, sleeps until the next retry or rate slot.
async fn dispatch(
    mut outbox: Outbox,
    mut alerts: Alerts,
    client: reqwest::Client,
    mut from_watch: mpsc::UnboundedReceiver<ToDispatcher>,
    status: Arc<WatchStatus>,
    undelivered: Undelivered,
) {
    let publish = |outbox: &Outbox| {
        *undelivered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = outbox.queued();
        status
            .queued
            .store(outbox.pending() as u64, Ordering::Relaxed);
    };
    let clock = SystemClock;
    let mut stopping = false;
    loop {
        for d in pump(&mut outbox, &client, &clock).await {
            log_delivery(&d);
            status.count_send(d.receiver.as_str(), d.accepted, d.given_up);
        }
        // Only after the sends settled: while they are in flight, the list still holds them.
        publish(&outbox);
        if stopping {
            if outbox.pending() > 0 {
                warn!(
                    queued = outbox.pending(),
                    "stopping with alerts still queued (waiting for a retry or a rate-limit slot)"
                );
            }
            return;
        }
        let now = clock.now_ms();
        let wait = outbox
            .next_wakeup(now)
            .map_or(Duration::from_secs(3600), |t| {
                Duration::from_millis(t.saturating_sub(now))
            });
        tokio::select! {
            msg = from_watch.recv() => match msg {
                Some(ToDispatcher::Notify(notes)) => {
                    for n in notes {
                        let to = outbox.enqueue(&alerts, &n);
                        if to.is_empty() {
                            debug!(alert = %n.key, "no receiver routes this alert");
                        }
                    }
                }
                Some(ToDispatcher::Reload(a, topology)) => {
                    for (receiver, n) in outbox.set_receivers(&a, &topology) {
                        warn!(receiver = %receiver, dropped = n, "receiver removed by the reload: its queued alerts are dropped");
                    }
                    alerts = a;
                }
                Some(ToDispatcher::Stop) | None => stopping = true,
            },
            () = tokio::time::sleep(wait) => {}
        }
        // Before sending: what goes in flight now stays listed until it is settled.
        publish(&outbox);
    }
}

fn log_delivery(d: &Delivery) {
    let alerts = d.alerts.join(",");
    if d.accepted {
        info!(receiver = %d.receiver, alerts = %alerts, attempt = d.attempt, "alert sent");
        return;
    }
    let why = match &d.result {
        Ok(answer) => format!(
            "HTTP {}: {}",
            answer.status,
            answer.verdict.as_ref().err().map_or("", String::as_str)
        ),
        Err(e) => e.clone(),
    };
    if d.given_up {
        error!(receiver = %d.receiver, alerts = %alerts, attempt = d.attempt, reason = %why, "alert given up after its last retry");
    } else {
        warn!(receiver = %d.receiver, alerts = %alerts, attempt = d.attempt, reason = %why, "alert not accepted; retrying with backoff");
    }
}

/// `1m`, `2.5s`, `200ms`.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(human(Duration::from_millis(200)), "200ms");
        assert_eq!(human(Duration::from_secs(60)), "1m");
        assert_eq!(human(Duration::from_millis(2500)), "2.5s");
    }

    #[test]
    fn a_changed_file_is_noticed_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, "a").unwrap();
        let mut f = WatchedFile::new(&path);
        assert!(!f.changed());
        std::fs::write(&path, "b").unwrap();
        assert!(f.changed());
        assert!(!f.changed());
        std::fs::remove_file(&path).unwrap();
        assert!(f.changed());
    }
}

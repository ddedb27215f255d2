//! `output/history.sqlite`: every probe outcome, link state, service state and SPOF of every
//! inspection run, in embedded SQLite (rusqlite with its bundled SQLite; no server).
//!
//! Invariants:
//! - WAL journal, `synchronous=FULL`: a run is recorded in one transaction
//!   ([`Store::begin_run`] … [`RunTx::commit`]), so a process killed at any moment leaves the file
//!   with the previous runs only, or with the new one whole; `PRAGMA integrity_check` stays `ok`.
//! - The schema is versioned with `PRAGMA user_version` and grows only by [`MIGRATIONS`], each
//!   applied in its own transaction; a newer linkpatrol opens (and upgrades) an older file, an
//!   older linkpatrol refuses a newer file with [`HistoryError::TooNew`] instead of guessing.
//! - States are stored as small integers ([`state_code`]): 0 up, 1 unknown, 2 degraded, 3 down,
//!   the order of [`State`], so `max()` in SQL is the worst.
//! - Besides the raw rows, an hourly rollup (schema v2, v3) keeps per link and service and hour
//!   the count of runs per state and a log-scale histogram of latencies (one BLOB, see
//!   [`histogram`](super::histogram)), updated in the run's transaction. The 24 h / 7 d queries
//!   of [`trends`](super::trends) read only those: a week of one run a minute over 110 subjects
//!   is 18,500 rows instead of a million raw ones.
//!
//! A link's latency in a run is its entry's; a service's latency in a run is its slowest
//! answering instance (so its p95 reads "in 95 % of runs every instance answered within").

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::report::report::{Report, Spof};
use crate::report::timestamp::UtcTime;
use crate::state::State;

/// A failure of the history database itself (not of a probed service).
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// SQLite failed on this file.
    #[error("history `{}`: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer linkpatrol.
    #[error(
        "history `{}` has schema version {found}; this linkpatrol knows up to {known}: upgrade linkpatrol or use another output directory",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// The file is an SQLite database, but not a linkpatrol history.
    #[error("`{}` is an SQLite database but not a linkpatrol history (no schema version)", path.display())]
    Foreign {
        /// The database file.
        path: PathBuf,
    },
}

/// The schema, one entry per version: `MIGRATIONS[0]` makes v1, `MIGRATIONS[1]` upgrades v1 to
/// v2, and so on. Never edit an entry that has shipped; append a new one.
pub const MIGRATIONS: &[&str] = &[
    // v1: runs and the raw rows of each run.
    "CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL UNIQUE,   -- the folder under output/runs/
        started_ms  INTEGER NOT NULL,          -- Unix epoch, milliseconds, UTC
        duration_ms REAL    NOT NULL,
        version     TEXT    NOT NULL,          -- linkpatrol version
        topology    TEXT    NOT NULL           -- the topology's name:
    );
    CREATE INDEX runs_by_start ON runs (started_ms);
    CREATE TABLE subjects (
        id   INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('link', 'service')),
        name TEXT NOT NULL,
        UNIQUE (kind, name)
    );
    CREATE TABLE instances (
        id         INTEGER PRIMARY KEY,
        service_id INTEGER NOT NULL REFERENCES subjects (id),
        name       TEXT    NOT NULL,
        UNIQUE (service_id, name)
    );
    CREATE TABLE probe_outcomes (
        run_id      INTEGER NOT NULL REFERENCES runs (id),
        instance_id INTEGER NOT NULL REFERENCES instances (id),
        state       INTEGER NOT NULL,          -- 0 up, 1 unknown, 2 degraded, 3 down
        latency_ms  REAL,
        reason      TEXT,
        PRIMARY KEY (run_id, instance_id)
    ) WITHOUT ROWID;
    CREATE TABLE subject_states (
        run_id     INTEGER NOT NULL REFERENCES runs (id),
        subject_id INTEGER NOT NULL REFERENCES subjects (id),
        state      INTEGER NOT NULL,           -- links: link state; services: effective state
        observed   INTEGER,                    -- services: from their own probes
        latency_ms REAL,                       -- links: the entry's; services: slowest instance
        PRIMARY KEY (run_id, subject_id)
    ) WITHOUT ROWID;
    CREATE TABLE spofs (
        run_id  INTEGER NOT NULL REFERENCES runs (id),
        link_id INTEGER NOT NULL REFERENCES subjects (id),
        live    INTEGER NOT NULL,              -- 0 design SPOF, 1 live SPOF
        spof    TEXT    NOT NULL,              -- service name or key=value
        PRIMARY KEY (run_id, link_id, live, spof)
    ) WITHOUT ROWID;",
    // v2: hourly rollups for the 24 h / 7 d statistics, built from the rows already there.
    "CREATE TABLE hourly_states (
        subject_id INTEGER NOT NULL,
        hour       INTEGER NOT NULL,           -- started_ms / 3600000
        runs       INTEGER NOT NULL,
        up         INTEGER NOT NULL,
        degraded   INTEGER NOT NULL,
        down       INTEGER NOT NULL,
        unknown    INTEGER NOT NULL,
        PRIMARY KEY (subject_id, hour)
    ) WITHOUT ROWID;
    CREATE TABLE hourly_latency (
        subject_id INTEGER NOT NULL,
        hour       INTEGER NOT NULL,
        bucket     INTEGER NOT NULL,           -- lp_bucket(latency_ms)
        n          INTEGER NOT NULL,
        PRIMARY KEY (subject_id, hour, bucket)
    ) WITHOUT ROWID;
    INSERT INTO hourly_states (subject_id, hour, runs, up, degraded, down, unknown)
        SELECT s.subject_id, r.started_ms / 3600000, count(*), sum(s.state = 0), sum(s.state = 2),
               sum(s.state = 3), sum(s.state = 1)
        FROM subject_states s JOIN runs r ON r.id = s.run_id
        GROUP BY 1, 2;
    INSERT INTO hourly_latency (subject_id, hour, bucket, n)
        SELECT s.subject_id, r.started_ms / 3600000, lp_bucket(s.latency_ms), count(*)
        FROM subject_states s JOIN runs r ON r.id = s.run_id
        WHERE s.latency_ms IS NOT NULL
        GROUP BY 1, 2, 3;",
    // v3: the latency histogram of a subject's hour as one BLOB in its `hourly_states` row
    // (see `histogram`), which makes the 7 d query read 40 times fewer rows.
    "ALTER TABLE hourly_states ADD COLUMN latency BLOB;
    UPDATE hourly_states SET latency = (
        SELECT lp_hist(l.bucket, l.n) FROM hourly_latency l
        WHERE l.subject_id = hourly_states.subject_id AND l.hour = hourly_states.hour
    );
    DROP TABLE hourly_latency;",
    // v4: the alert state of `watch` (one row), so a restart neither repeats a firing alert nor
    // forgets to resolve it.
    "CREATE TABLE alert_state (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        topology   TEXT    NOT NULL,           -- the topology's name: when it was saved
        updated_ms INTEGER NOT NULL,           -- Unix epoch, milliseconds, UTC
        state      TEXT    NOT NULL            -- JSON of alert::engine::EngineState
    );",
    // v5: the notifications `watch` had not delivered yet, so a restart still sends them.
    "ALTER TABLE alert_state ADD COLUMN outbox TEXT NOT NULL DEFAULT '[]';  -- JSON list",
];

/// The schema version this build writes.
#[allow(clippy::cast_possible_wrap)] // a handful of entries
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Latency histogram buckets per doubling: each bucket is 2^(1/16) ≈ 4.4 % wide, so a
/// percentile read from it (the bucket's geometric middle) is within ±2.2 % of the true value.
pub const BUCKETS_PER_OCTAVE: f64 = 16.0;

/// The histogram bucket of a latency in ms (`lp_bucket` in SQL).
pub fn latency_bucket(ms: f64) -> i64 {
    (BUCKETS_PER_OCTAVE * ms.max(0.001).log2()).floor() as i64
}

/// The latency a bucket stands for: its geometric middle, in ms, rounded to 0.01 ms.
pub fn bucket_value(bucket: i64) -> f64 {
    let v = ((bucket as f64 + 0.5) / BUCKETS_PER_OCTAVE).exp2();
    (v * 100.0).round() / 100.0
}

/// The stored code of a state (see the module doc).
pub fn state_code(s: State) -> i64 {
    match s {
        State::Up => 0,
        State::Unknown => 1,
        State::Degraded => 2,
        State::Down => 3,
    }
}

/// The state of a stored code; anything else reads as unknown.
pub fn state_of_code(c: i64) -> State {
    match c {
        0 => State::Up,
        2 => State::Degraded,
        3 => State::Down,
        _ => State::Unknown,
    }
}

/// An open history database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// What one run records besides the report's own content.
#[derive(Debug, Clone, Copy)]
pub struct RunRecord<'a> {
    /// The run's folder name (unique).
    pub name: &'a str,
    /// When probing started.
    pub started: UtcTime,
    /// How long the run took up to recording, in ms.
    pub duration_ms: f64,
    /// The linkpatrol version.
    pub version: &'a str,
    /// What the run found.
    pub report: &'a Report,
}

impl Store {
    /// Opens (creating if missing) and upgrades the database at `path`.
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        let conn = Connection::open(path).map_err(sqlite_err(path))?;
        Self::setup(conn, path)
    }

    /// An empty in-memory database (tests, benchmarks).
    pub fn open_in_memory() -> Result<Self, HistoryError> {
        let path = Path::new(":memory:");
        let conn = Connection::open_in_memory().map_err(sqlite_err(path))?;
        Self::setup(conn, path)
    }

    fn setup(conn: Connection, path: &Path) -> Result<Self, HistoryError> {
        let e = sqlite_err(path);
        conn.busy_timeout(Duration::from_secs(60)).map_err(&e)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&e)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(&e)?;
        super::histogram::register(&conn).map_err(&e)?;
        conn.create_scalar_function(
            "lp_bucket",
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| {
                let ms: Option<f64> = ctx.get(0)?;
                Ok(ms.map(latency_bucket))
            },
        )
        .map_err(&e)?;
        let mut store = Self {
            conn,
            path: path.to_owned(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file (after migration, [`SCHEMA_VERSION`]).
    pub fn schema_version(&self) -> Result<i64, HistoryError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sqlite_err(&self.path))
    }

    fn migrate(&mut self) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let e = sqlite_err(&path);
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(HistoryError::TooNew {
                path: path.clone(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found == 0 {
            let tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(&e)?;
            if tables > 0 {
                return Err(HistoryError::Foreign { path: path.clone() });
            }
        }
        for (version, sql) in (1..=SCHEMA_VERSION).zip(MIGRATIONS).skip(found as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&e)?;
            // Another process may have migrated while this one waited for the lock.
            let now: i64 = tx
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .map_err(&e)?;
            if now >= version {
                continue;
            }
            tx.execute_batch(sql).map_err(&e)?;
            tx.pragma_update(None, "user_version", version)
                .map_err(&e)?;
            tx.commit().map_err(&e)?;
        }
        Ok(())
    }

    /// Starts recording a run: one write transaction, committed by [`RunTx::commit`]. Dropping
    /// the [`RunTx`] (or being killed) rolls everything back.
    pub fn begin_run(&mut self) -> Result<RunTx<'_>, HistoryError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_err(&self.path))?;
        Ok(RunTx {
            tx,
            path: &self.path,
        })
    }

    /// Read access for [`trends`](super::trends) queries outside a run.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Retention: deletes every run that started before `cutoff` with its rows, and the hourly
    /// rollups of hours that ended before it, in one transaction. Returns the runs deleted.
    pub fn prune(&mut self, cutoff: UtcTime) -> Result<usize, HistoryError> {
        let e = sqlite_err(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        let old = "SELECT id FROM runs WHERE started_ms < ?1";
        for table in ["probe_outcomes", "subject_states", "spofs"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE run_id IN ({old})"),
                [cutoff.unix_ms],
            )
            .map_err(&e)?;
        }
        let runs = tx
            .execute("DELETE FROM runs WHERE started_ms < ?1", [cutoff.unix_ms])
            .map_err(&e)?;
        let hour = cutoff.unix_ms.div_euclid(3_600_000);
        tx.execute("DELETE FROM hourly_states WHERE hour < ?1", [hour])
            .map_err(&e)?;
        tx.commit().map_err(&e)?;
        Ok(runs)
    }

    /// `PRAGMA integrity_check`: `ok` or the problems SQLite found.
    pub fn integrity_check(&self) -> Result<String, HistoryError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(sqlite_err(&self.path))
    }

    /// The alert state `watch` saved last; `None` before the first save. Its JSON texts are the
    /// alert engine's business (history comes before alerts in the pipeline, so it stores the
    /// text as it is given).
    pub fn load_alert_state(&self) -> Result<Option<AlertState>, HistoryError> {
        use rusqlite::OptionalExtension as _;
        self.conn
            .query_row(
                "SELECT topology, state, outbox FROM alert_state WHERE id = 1",
                [],
                |r| {
                    Ok(AlertState {
                        topology: r.get(0)?,
                        state: r.get(1)?,
                        outbox: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(sqlite_err(&self.path))
    }

    /// Replaces the saved alert state, in one transaction.
    pub fn save_alert_state(
        &mut self,
        at: UtcTime,
        saved: &AlertState,
    ) -> Result<(), HistoryError> {
        let e = sqlite_err(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&e)?;
        tx.execute(
            "INSERT INTO alert_state (id, topology, updated_ms, state, outbox) VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET topology = excluded.topology,
                updated_ms = excluded.updated_ms, state = excluded.state, outbox = excluded.outbox",
            params![saved.topology, at.unix_ms, saved.state, saved.outbox],
        )
        .map_err(&e)?;
        tx.commit().map_err(&e)
    }

    /// Number of runs recorded.
    pub fn run_count(&self) -> Result<u64, HistoryError> {
        self.conn
            .query_row("SELECT count(*) FROM runs", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(sqlite_err(&self.path))
    }
}

/// What `watch` keeps of its alerts between runs (table `alert_state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertState {
    /// The topology's name when it was saved.
    pub topology: String,
    /// JSON of the alert engine's state.
    pub state: String,
    /// JSON list of the notifications not delivered yet, with their receivers.
    pub outbox: String,
}

/// One run being recorded (an open write transaction).
pub struct RunTx<'a> {
    tx: Transaction<'a>,
    path: &'a Path,
}

impl RunTx<'_> {
    /// The transaction, for [`trends`](super::trends) queries that must see this run.
    pub fn connection(&self) -> &Connection {
        &self.tx
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        self.path
    }

    /// Records the run: its row, every probe outcome, every link and service state, every SPOF
    /// and live SPOF, and the hourly rollups. Returns the run's id.
    pub fn record(&self, run: &RunRecord<'_>) -> Result<i64, HistoryError> {
        let e = sqlite_err(self.path);
        let tx = &self.tx;
        tx.execute(
            "INSERT INTO runs (name, started_ms, duration_ms, version, topology) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                run.name,
                run.started.unix_ms,
                run.duration_ms,
                run.version,
                run.report.topology
            ],
        )
        .map_err(&e)?;
        let run_id = tx.last_insert_rowid();
        let mut subject = tx
            .prepare_cached(
                "INSERT INTO subjects (kind, name) VALUES (?1, ?2)
                 ON CONFLICT (kind, name) DO UPDATE SET name = excluded.name RETURNING id",
            )
            .map_err(&e)?;
        let mut instance = tx
            .prepare_cached(
                "INSERT INTO instances (service_id, name) VALUES (?1, ?2)
                 ON CONFLICT (service_id, name) DO UPDATE SET name = excluded.name RETURNING id",
            )
            .map_err(&e)?;
        let mut outcome = tx
            .prepare_cached(
                "INSERT INTO probe_outcomes (run_id, instance_id, state, latency_ms, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(&e)?;
        let mut state = tx
            .prepare_cached(
                "INSERT INTO subject_states (run_id, subject_id, state, observed, latency_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(&e)?;
        let mut spof = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO spofs (run_id, link_id, live, spof) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(&e)?;

        let mut service_latency = std::collections::HashMap::new();
        for s in &run.report.services {
            let sid: i64 = subject
                .query_row(params!["service", s.id], |r| r.get(0))
                .map_err(&e)?;
            let mut slowest: Option<f64> = None;
            for p in s.probes.iter().flatten() {
                let iid: i64 = instance
                    .query_row(params![sid, p.instance], |r| r.get(0))
                    .map_err(&e)?;
                outcome
                    .execute(params![
                        run_id,
                        iid,
                        state_code(p.state),
                        p.latency_ms,
                        p.reason
                    ])
                    .map_err(&e)?;
                if p.state != State::Down
                    && let Some(ms) = p.latency_ms
                {
                    slowest = Some(slowest.map_or(ms, |m: f64| m.max(ms)));
                }
            }
            state
                .execute(params![
                    run_id,
                    sid,
                    state_code(s.effective),
                    state_code(s.observed),
                    slowest
                ])
                .map_err(&e)?;
            service_latency.insert(s.id.as_str(), slowest);
        }
        for l in &run.report.links {
            let lid: i64 = subject
                .query_row(params!["link", l.name], |r| r.get(0))
                .map_err(&e)?;
            let latency = service_latency.get(l.entry.as_str()).copied().flatten();
            state
                .execute(params![
                    run_id,
                    lid,
                    state_code(l.state),
                    None::<i64>,
                    latency
                ])
                .map_err(&e)?;
            let mut add = |spofs: &[Spof], live: i64| -> Result<(), HistoryError> {
                for s in spofs {
                    spof.execute(params![run_id, lid, live, s.id]).map_err(&e)?;
                }
                Ok(())
            };
            add(&l.spofs, 0)?;
            if let Some(live) = &l.live_spofs {
                add(live, 1)?;
            }
        }
        let hour = run.started.unix_ms.div_euclid(3_600_000);
        tx.execute(
            "INSERT INTO hourly_states (subject_id, hour, runs, up, degraded, down, unknown, latency)
             SELECT subject_id, ?2, 1, state = 0, state = 2, state = 3, state = 1,
                    lp_hist(lp_bucket(latency_ms), 1)
             FROM subject_states WHERE run_id = ?1
             GROUP BY subject_id
             ON CONFLICT (subject_id, hour) DO UPDATE SET
                runs = runs + excluded.runs, up = up + excluded.up,
                degraded = degraded + excluded.degraded, down = down + excluded.down,
                unknown = unknown + excluded.unknown,
                latency = lp_hist_merge(latency, excluded.latency)",
            params![run_id, hour],
        )
        .map_err(&e)?;
        Ok(run_id)
    }

    /// Makes the run permanent.
    pub fn commit(self) -> Result<(), HistoryError> {
        self.tx.commit().map_err(sqlite_err(self.path))
    }
}

pub(crate) fn sqlite_err(path: &Path) -> impl Fn(rusqlite::Error) -> HistoryError + '_ {
    move |source| HistoryError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_close() {
        let mut last = i64::MIN;
        for ms in [0.0, 0.01, 0.5, 1.0, 1.04, 1.1, 10.0, 250.0, 3000.0] {
            let b = latency_bucket(ms);
            assert!(b >= last, "{ms}");
            last = b;
            if ms >= 0.01 {
                let v = bucket_value(b);
                assert!((v - ms).abs() <= ms * 0.023 + 0.005, "{ms} -> {v}");
            }
        }
    }

    #[test]
    fn state_codes_round_trip_and_keep_the_order() {
        for s in State::WORST_FIRST {
            assert_eq!(state_of_code(state_code(s)), s);
        }
        assert!(state_code(State::Down) > state_code(State::Degraded));
        assert!(state_code(State::Degraded) > state_code(State::Unknown));
    }

    #[test]
    fn a_fresh_database_gets_the_latest_schema() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn the_alert_state_is_saved_and_replaced() {
        let mut store = Store::open_in_memory().unwrap();
        assert_eq!(store.load_alert_state().unwrap(), None);
        let at = UtcTime::from_unix_ms(1_000);
        let mut saved = AlertState {
            topology: "shop".into(),
            state: "{\"tracks\":[]}".into(),
            outbox: "[]".into(),
        };
        store.save_alert_state(at, &saved).unwrap();
        saved.state = "{\"tracks\":[1]}".into();
        saved.outbox = "[1]".into();
        store.save_alert_state(at, &saved).unwrap();
        assert_eq!(store.load_alert_state().unwrap(), Some(saved));
    }

    #[test]
    fn a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "user_version", 99).unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        assert!(
            matches!(err, HistoryError::TooNew { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade linkpatrol"), "{err}");
    }

    #[test]
    fn a_foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, HistoryError::Foreign { .. }), "{err}");
    }
}

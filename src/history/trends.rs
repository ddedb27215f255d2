//! Reading the history back: `since_last` and the 24 h / 7 d statistics (SPEC §6).
//!
//! Everything is a query: the comparison with the previous run joins its rows with this run's;
//! availability and percentiles read the hourly rollups of [`store`](super::store) (one row per
//! subject and hour, its latencies one [`histogram`](super::histogram) BLOB), so the cost
//! depends on hours × subjects, not on the number of probes recorded.
//!
//! Windows are whole UTC hours: "the last 24 h" is the hour of `now` and the 23 before it, "the
//! last 7 d" the hour of `now` and the 167 before it. Percentiles come from the log-scale
//! histogram (±2.2 %, see [`BUCKETS_PER_OCTAVE`](super::store::BUCKETS_PER_OCTAVE)); the
//! p-th percentile is the smallest bucket whose cumulative count reaches p × samples.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use super::store::{HistoryError, bucket_value, sqlite_err, state_of_code};
use crate::report::report::{
    History, LatencyJump, SinceLast, SpofChange, StateChange, SubjectHistory, WindowStats,
};
use crate::report::timestamp::UtcTime;

/// A probe's latency counts as a jump when it more than doubled *and* grew by at least this
/// many milliseconds: 0.3 ms → 0.9 ms on loopback, or 3 ms → 20 ms on a busy machine, is noise,
/// not news. Only probes that got an
/// answer in both runs count (the time a refused connection takes says nothing).
pub const LATENCY_JUMP_FLOOR_MS: f64 = 50.0;

/// What changed between the run before `run_id` and `run_id` (both must be in `conn`; inside
/// the run's own transaction that is the case before commit). On the first run, every list is
/// empty and `previous_run` is `null`.
pub fn since_last(
    conn: &Connection,
    path: &std::path::Path,
    run_id: i64,
) -> Result<SinceLast, HistoryError> {
    let e = sqlite_err(path);
    let previous: Option<(i64, String, i64)> = conn
        .query_row(
            "SELECT id, name, started_ms FROM runs WHERE id < ?1 ORDER BY id DESC LIMIT 1",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map(Some)
        .or_else(|err| match err {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other),
        })
        .map_err(&e)?;
    let Some((prev, prev_name, prev_started)) = previous else {
        return Ok(SinceLast::default());
    };
    let mut out = SinceLast {
        previous_run: Some(prev_name),
        previous_start: Some(UtcTime::from_unix_ms(prev_started).rfc3339()),
        ..SinceLast::default()
    };

    let mut stmt = conn
        .prepare(
            "SELECT s.kind, s.name, p.state, c.state
             FROM (SELECT subject_id, state FROM subject_states WHERE run_id = ?1) AS p
             FULL JOIN (SELECT subject_id, state FROM subject_states WHERE run_id = ?2) AS c
               ON p.subject_id = c.subject_id
             JOIN subjects s ON s.id = coalesce(p.subject_id, c.subject_id)
             WHERE p.state IS NOT c.state
             ORDER BY s.kind, s.name",
        )
        .map_err(&e)?;
    let rows = stmt
        .query_map(params![prev, run_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                StateChange {
                    id: r.get(1)?,
                    from: r.get::<_, Option<i64>>(2)?.map(state_of_code),
                    to: r.get::<_, Option<i64>>(3)?.map(state_of_code),
                },
            ))
        })
        .map_err(&e)?;
    for row in rows {
        let (kind, change) = row.map_err(&e)?;
        if kind == "link" {
            out.links.push(change);
        } else {
            out.services.push(change);
        }
    }

    let spof_diff = |a: i64, b: i64, live: i64| -> Result<Vec<SpofChange>, HistoryError> {
        let mut stmt = conn
            .prepare_cached(
                "SELECT s.name, x.spof FROM (
                    SELECT link_id, spof FROM spofs WHERE run_id = ?1 AND live = ?3
                    EXCEPT
                    SELECT link_id, spof FROM spofs WHERE run_id = ?2 AND live = ?3
                 ) AS x JOIN subjects s ON s.id = x.link_id
                 WHERE ?3 = 0 OR x.link_id NOT IN (
                    SELECT subject_id FROM subject_states WHERE run_id IN (?1, ?2) AND state = 3
                 )
                 ORDER BY s.name, x.spof",
            )
            .map_err(&e)?;
        let rows = stmt
            .query_map(params![a, b, live], |r| {
                Ok(SpofChange {
                    link: r.get(0)?,
                    id: r.get(1)?,
                })
            })
            .map_err(&e)?;
        rows.collect::<Result<_, _>>().map_err(&e)
    };
    out.spofs_added = spof_diff(run_id, prev, 0)?;
    out.spofs_removed = spof_diff(prev, run_id, 0)?;
    // A link that is down in either run has no live SPOFs there (`[]` by definition): its state
    // change says it all, so its live SPOFs are compared only while it is up in both.
    out.live_spofs_added = spof_diff(run_id, prev, 1)?;
    out.live_spofs_removed = spof_diff(prev, run_id, 1)?;

    let mut stmt = conn
        .prepare(
            "SELECT s.name, i.name, p.latency_ms, c.latency_ms
             FROM probe_outcomes p
             JOIN probe_outcomes c ON c.instance_id = p.instance_id AND c.run_id = ?2
             JOIN instances i ON i.id = p.instance_id
             JOIN subjects s ON s.id = i.service_id
             WHERE p.run_id = ?1 AND p.state <> 3 AND c.state <> 3
               AND p.latency_ms > 0 AND c.latency_ms > 2 * p.latency_ms
               AND c.latency_ms - p.latency_ms >= ?3
             ORDER BY s.name, i.name",
        )
        .map_err(&e)?;
    let rows = stmt
        .query_map(params![prev, run_id, LATENCY_JUMP_FLOOR_MS], |r| {
            Ok(LatencyJump {
                service: r.get(0)?,
                instance: r.get(1)?,
                from_ms: r.get(2)?,
                to_ms: r.get(3)?,
            })
        })
        .map_err(&e)?;
    out.latency_jumps = rows.collect::<Result<_, _>>().map_err(&e)?;
    Ok(out)
}

/// Availability and p50/p95 latency per link and service over the last 24 h and 7 d before
/// `now` (see the module doc for the windows). Subjects are those recorded in the window.
pub fn history(
    conn: &Connection,
    path: &std::path::Path,
    now: UtcTime,
) -> Result<History, HistoryError> {
    let hour = now.unix_ms.div_euclid(3_600_000);
    let day = window(conn, path, hour - 23, hour)?;
    let week = window(conn, path, hour - 167, hour)?;
    let mut names = conn
        .prepare_cached("SELECT kind, name FROM subjects WHERE id = ?1")
        .map_err(sqlite_err(path))?;
    let mut out = History::default();
    let empty = WindowStats {
        runs: 0,
        availability: None,
        p50_ms: None,
        p95_ms: None,
    };
    let mut rows: Vec<(String, SubjectHistory)> = Vec::with_capacity(week.len());
    for (id, w) in week {
        let (kind, name): (String, String) = names
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sqlite_err(path))?;
        rows.push((
            kind,
            SubjectHistory {
                id: name,
                last_24h: day.get(&id).cloned().unwrap_or_else(|| empty.clone()),
                last_7d: w,
            },
        ));
    }
    rows.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    for (kind, h) in rows {
        if kind == "link" {
            out.links.push(h);
        } else {
            out.services.push(h);
        }
    }
    Ok(out)
}

/// Statistics per subject id over the hours `from..=to`.
fn window(
    conn: &Connection,
    path: &std::path::Path,
    from: i64,
    to: i64,
) -> Result<BTreeMap<i64, WindowStats>, HistoryError> {
    let e = sqlite_err(path);
    let mut out = BTreeMap::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT subject_id, runs, alive, known,
                    lp_hist_quantile(latency, 50), lp_hist_quantile(latency, 95)
             FROM (
                SELECT subject_id, sum(runs) AS runs, sum(up) + sum(degraded) AS alive,
                       sum(runs) - sum(unknown) AS known, lp_hist_sum(latency) AS latency
                FROM hourly_states WHERE hour BETWEEN ?1 AND ?2
                GROUP BY subject_id
             )",
        )
        .map_err(&e)?;
    let rows = stmt
        .query_map(params![from, to], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ))
        })
        .map_err(&e)?;
    for row in rows {
        let (id, runs, alive, known, p50, p95) = row.map_err(&e)?;
        out.insert(
            id,
            WindowStats {
                runs: runs as u64,
                availability: (known > 0).then(|| {
                    let a = alive as f64 / known as f64;
                    (a * 1e6).round() / 1e6
                }),
                p50_ms: p50.map(bucket_value),
                p95_ms: p95.map(bucket_value),
            },
        );
    }
    Ok(out)
}

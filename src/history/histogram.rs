//! Latency histograms stored as one BLOB per subject and hour, with the SQL functions that build,
//! merge and read them (schema v3, see [`store`](super::store)).
//!
//! Schema v2 kept one row per (subject, hour, bucket): a week of one run a minute over 110
//! subjects was 715,000 rows, and the 7 d percentile query grouped and sorted all of them
//! (420 ms). One BLOB per (subject, hour) makes it 18,500 rows merged by an aggregate function.
//!
//! The BLOB is a list of `(bucket: i16 LE, count: u32 LE)` pairs in increasing bucket order, no
//! bucket twice, no zero count; NULL is the empty histogram. Buckets are
//! [`latency_bucket`](super::store::latency_bucket)s, which lie in −160..=16,384 for every
//! latency an f64 can hold, so `i16` holds them all. A malformed BLOB (a file edited by hand)
//! reads as the pairs it holds up to the first incomplete one.
//!
//! SQL functions (registered on every connection of a [`Store`](super::Store)):
//! - `lp_hist(bucket, n)`, aggregate: the histogram of the rows' buckets, each counted `n` times;
//!   NULL buckets are skipped; no rows give NULL.
//! - `lp_hist_merge(a, b)`, scalar: the sum of two histograms.
//! - `lp_hist_sum(h)`, aggregate: the sum of the rows' histograms.
//! - `lp_hist_quantile(h, percent)`, scalar: the smallest bucket whose cumulative count reaches
//!   `percent` % of the total, or NULL for an empty histogram.

use rusqlite::functions::{Aggregate, Context, FunctionFlags};
use rusqlite::{Connection, types::ValueRef};

/// Bytes per stored `(bucket, count)` pair.
const PAIR: usize = 6;

/// Counts per bucket over a dense range of buckets: merging a stored histogram into it costs one
/// addition per stored pair.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    lo: i32,
    n: Vec<u64>,
}

impl Counts {
    /// Adds `count` samples to `bucket`. Buckets are `i16`, so the dense range stays under
    /// 65,536 entries whatever a stored BLOB holds.
    pub fn add(&mut self, bucket: i16, count: u64) {
        if count == 0 {
            return;
        }
        let b = i32::from(bucket);
        if self.n.is_empty() {
            self.lo = b;
            self.n.push(0);
        } else if b < self.lo {
            let grow = (self.lo - b) as usize;
            self.n.splice(0..0, std::iter::repeat_n(0, grow));
            self.lo = b;
        }
        let i = (b - self.lo) as usize;
        if i >= self.n.len() {
            self.n.resize(i + 1, 0);
        }
        self.n[i] = self.n[i].saturating_add(count);
    }

    /// `(bucket, count)` over the dense range, zero counts included.
    fn buckets(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        (self.lo..).zip(self.n.iter().copied())
    }

    /// Adds every pair of a stored histogram.
    pub fn add_blob(&mut self, blob: &[u8]) {
        for (bucket, count) in pairs(blob) {
            self.add(bucket, u64::from(count));
        }
    }

    /// The stored form (see the module doc); `None` when empty.
    pub fn to_blob(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for (bucket, mut c) in self.buckets() {
            let bucket = i16::try_from(bucket).unwrap_or(i16::MAX);
            // A count past u32::MAX (never in practice: 136 years of one run a second) is
            // split over repeated pairs rather than wrapped.
            while c > 0 {
                let part = c.min(u64::from(u32::MAX));
                out.extend_from_slice(&bucket.to_le_bytes());
                out.extend_from_slice(&(part as u32).to_le_bytes());
                c -= part;
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The smallest bucket whose cumulative count reaches `percent` % of the total.
    pub fn quantile(&self, percent: f64) -> Option<i64> {
        let total: u128 = self.n.iter().map(|&c| u128::from(c)).sum();
        if total == 0 {
            return None;
        }
        let mut cum: u128 = 0;
        let mut last = self.lo;
        for (bucket, c) in self.buckets() {
            cum += u128::from(c);
            last = bucket;
            if cum as f64 * 100.0 >= total as f64 * percent {
                break;
            }
        }
        Some(i64::from(last))
    }
}

/// The `(bucket, count)` pairs of a stored histogram.
fn pairs(blob: &[u8]) -> impl Iterator<Item = (i16, u32)> + '_ {
    blob.chunks_exact(PAIR).map(|p| {
        (
            i16::from_le_bytes([p[0], p[1]]),
            u32::from_le_bytes([p[2], p[3], p[4], p[5]]),
        )
    })
}

/// The histogram in argument `i`: a BLOB, or NULL for empty; anything else is an error.
fn blob_arg<'a>(ctx: &'a Context<'_>, i: usize) -> rusqlite::Result<&'a [u8]> {
    match ctx.get_raw(i) {
        ValueRef::Null => Ok(&[]),
        ValueRef::Blob(b) => Ok(b),
        _ => Err(rusqlite::Error::UserFunctionError(
            "a latency histogram must be a BLOB or NULL".into(),
        )),
    }
}

/// An aggregate that folds its rows into [`Counts`] with `step` and returns the stored form.
struct Fold<F>(F);

impl<F> Aggregate<Counts, Option<Vec<u8>>> for Fold<F>
where
    F: Fn(&Context<'_>, &mut Counts) -> rusqlite::Result<()> + Send + std::panic::UnwindSafe,
{
    fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<Counts> {
        Ok(Counts::default())
    }

    fn step(&self, ctx: &mut Context<'_>, acc: &mut Counts) -> rusqlite::Result<()> {
        (self.0)(ctx, acc)
    }

    fn finalize(
        &self,
        _: &mut Context<'_>,
        acc: Option<Counts>,
    ) -> rusqlite::Result<Option<Vec<u8>>> {
        Ok(acc.and_then(|c| c.to_blob()))
    }
}

/// `lp_hist(bucket, n)`: one row's bucket counted `n` times.
fn add_bucket(ctx: &Context<'_>, acc: &mut Counts) -> rusqlite::Result<()> {
    let bucket: Option<i64> = ctx.get(0)?;
    let n: i64 = ctx.get(1)?;
    if let Some(b) = bucket {
        let b = i16::try_from(b).unwrap_or(if b < 0 { i16::MIN } else { i16::MAX });
        acc.add(b, n.max(0) as u64);
    }
    Ok(())
}

/// `lp_hist_sum(h)`: one row's histogram added.
fn add_histogram(ctx: &Context<'_>, acc: &mut Counts) -> rusqlite::Result<()> {
    acc.add_blob(blob_arg(ctx, 0)?);
    Ok(())
}

/// Registers the module's SQL functions on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_aggregate_function("lp_hist", 2, flags, Fold(add_bucket))?;
    conn.create_aggregate_function("lp_hist_sum", 1, flags, Fold(add_histogram))?;
    conn.create_scalar_function("lp_hist_merge", 2, flags, |ctx| {
        let mut c = Counts::default();
        c.add_blob(blob_arg(ctx, 0)?);
        c.add_blob(blob_arg(ctx, 1)?);
        Ok(c.to_blob())
    })?;
    conn.create_scalar_function("lp_hist_quantile", 2, flags, |ctx| {
        let mut c = Counts::default();
        c.add_blob(blob_arg(ctx, 0)?);
        let percent: f64 = ctx.get(1)?;
        Ok(c.quantile(percent))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The v2 definition, on a plain list of samples.
    fn reference_quantile(mut samples: Vec<i16>, percent: f64) -> Option<i64> {
        samples.sort_unstable();
        let total = samples.len() as f64;
        (1..=samples.len())
            .find(|&k| k as f64 * 100.0 >= total * percent)
            .map(|k| {
                // The smallest bucket whose cumulative count reaches the target is the bucket
                // of the k-th sample, counting whole buckets.
                i64::from(samples[k - 1])
            })
    }

    #[test]
    fn round_trips_and_merges_in_any_order() {
        let mut state = 17u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as i32
        };
        for case in 0..200 {
            let len = (next() % 60) as usize;
            let samples: Vec<i16> = (0..len).map(|_| (next() % 400 - 160) as i16).collect();
            let (a, b) = samples.split_at(len / 3);
            let mut whole = Counts::default();
            for &s in &samples {
                whole.add(s, 1);
            }
            let mut left = Counts::default();
            for &s in a.iter().rev() {
                left.add(s, 1);
            }
            let mut right = Counts::default();
            for &s in b {
                right.add(s, 1);
            }
            let mut merged = Counts::default();
            merged.add_blob(&right.to_blob().unwrap_or_default());
            merged.add_blob(&left.to_blob().unwrap_or_default());
            assert_eq!(merged.to_blob(), whole.to_blob(), "case {case}");
            for p in [0.0, 1.0, 50.0, 95.0, 99.9, 100.0] {
                assert_eq!(
                    whole.quantile(p),
                    reference_quantile(samples.clone(), p),
                    "case {case} p{p}"
                );
            }
        }
    }

    #[test]
    fn empty_is_null_and_malformed_blobs_do_not_panic() {
        assert_eq!(Counts::default().to_blob(), None);
        assert_eq!(Counts::default().quantile(50.0), None);
        let mut c = Counts::default();
        c.add_blob(&[1, 2, 3]);
        assert_eq!(c.to_blob(), None);
        c.add_blob(&[5, 0, 2, 0, 0, 0, 9]);
        assert_eq!(c.quantile(50.0), Some(5));
    }

    #[test]
    fn the_sql_functions_agree_with_the_rust_ones() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (g INTEGER, b INTEGER, n INTEGER);
             INSERT INTO t VALUES (1, 10, 3), (1, -4, 1), (1, NULL, 7), (1, 10, 2), (2, 7, 1);",
        )
        .unwrap();
        let (h1, p50, p95): (Vec<u8>, i64, i64) = conn
            .query_row(
                "SELECT h, lp_hist_quantile(h, 50), lp_hist_quantile(h, 95)
                 FROM (SELECT lp_hist(b, n) AS h FROM t WHERE g = 1)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let mut expect = Counts::default();
        expect.add(-4, 1);
        expect.add(10, 5);
        assert_eq!(Some(h1.clone()), expect.to_blob());
        assert_eq!((p50, p95), (10, 10));
        let sum: Vec<u8> = conn
            .query_row(
                "SELECT lp_hist_sum(h) FROM (SELECT g, lp_hist(b, n) AS h FROM t GROUP BY g)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let merged: Vec<u8> = conn
            .query_row(
                "SELECT lp_hist_merge((SELECT lp_hist(b, n) FROM t WHERE g = 1),
                                      (SELECT lp_hist(b, n) FROM t WHERE g = 2))",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sum, merged);
        let none: Option<Vec<u8>> = conn
            .query_row("SELECT lp_hist(b, n) FROM t WHERE g = 9", [], |r| r.get(0))
            .unwrap();
        assert_eq!(none, None);
        let err = conn
            .query_row("SELECT lp_hist_sum('text')", [], |r| {
                r.get::<_, Option<Vec<u8>>>(0)
            })
            .unwrap_err();
        assert!(err.to_string().contains("BLOB"), "{err}");
    }
}

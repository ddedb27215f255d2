//! The one fan-out of the crate: split `0..n` into one contiguous chunk per core (or, for work
//! of uneven cost, into blocks dealt out in turn), run each on a scoped thread, and return the
//! results in order. Used where a large topology makes
//! plain loops over services worth two cores (validation, blast radius); small inputs stay on
//! the calling thread, so tests and small files never pay for a thread.

use std::ops::Range;

/// Loops over the services of a topology of at least this many services use every core (below
/// it a thread costs more than it saves).
pub const PARALLEL_MIN_SERVICES: usize = 5_000;

/// How many threads a loop over `n` items should use: one below `parallel_from`, else the
/// cores available, at most 8.
pub fn threads_for(n: usize, parallel_from: usize) -> usize {
    if n < parallel_from {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(8)
}

/// Runs `work` over `threads` contiguous chunks covering `0..n` (fewer when `n` is smaller) and
/// returns their results in chunk order; with one thread, on the calling thread.
pub fn chunks<T: Send>(
    n: usize,
    threads: usize,
    work: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    if threads <= 1 {
        return vec![work(0..n)];
    }
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| scope.spawn(move || work(start..(start + chunk).min(n))))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Like [`chunks`], for work whose cost is uneven along `0..n`: `0..n` is cut into blocks of
/// `block` items, thread `t` takes blocks `t`, `t + threads`, … and runs `work` on each with
/// one `scratch` of its own, and the blocks' results come back in block order. On the layered
/// 100,000-service topology of `scripts/gen_topology.py` a deep service's blast radius costs
/// far more than a shallow one's, and with two contiguous halves one thread did nine tenths
/// of the walks while the other waited.
pub fn interleaved<S, T: Send>(
    n: usize,
    threads: usize,
    block: usize,
    scratch: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, Range<usize>) -> T + Sync,
) -> Vec<T> {
    let block = block.max(1);
    let blocks = n.div_ceil(block);
    let range = |b: usize| b * block..((b + 1) * block).min(n);
    if threads <= 1 {
        let mut s = scratch();
        return (0..blocks).map(|b| work(&mut s, range(b))).collect();
    }
    let lanes = chunks(threads, threads, |lane| {
        let mut s = scratch();
        (lane.start..blocks)
            .step_by(threads)
            .map(|b| work(&mut s, range(b)))
            .collect::<Vec<T>>()
    });
    let mut lanes: Vec<std::vec::IntoIter<T>> = lanes.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(blocks);
    for b in 0..blocks {
        out.extend(lanes[b % threads].next());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{chunks, interleaved};

    #[test]
    fn interleaved_blocks_come_back_in_order() {
        for (n, threads, block) in [
            (0, 2, 4),
            (1, 3, 4),
            (10, 2, 3),
            (10_001, 4, 64),
            (10, 1, 2),
        ] {
            let parts = interleaved(n, threads, block, Vec::new, |seen: &mut Vec<usize>, r| {
                seen.extend(r.clone());
                r.collect::<Vec<usize>>()
            });
            let flat: Vec<usize> = parts.into_iter().flatten().collect();
            assert_eq!(flat, (0..n).collect::<Vec<_>>(), "n={n} threads={threads}");
        }
    }

    #[test]
    fn chunks_cover_the_range_in_order() {
        for (n, threads) in [(0, 2), (1, 3), (7, 3), (10_001, 4), (10, 1)] {
            let parts = chunks(n, threads, Iterator::collect::<Vec<usize>>);
            let flat: Vec<usize> = parts.into_iter().flatten().collect();
            assert_eq!(flat, (0..n).collect::<Vec<_>>(), "n={n}");
        }
        // One thread: one chunk, on this thread; below the threshold, one thread.
        let here = std::thread::current().id();
        let ids = chunks(10, 1, |_| std::thread::current().id());
        assert_eq!(ids, vec![here]);
        assert_eq!(super::threads_for(10, 100), 1);
        assert!(super::threads_for(100, 100) >= 1);
    }
}

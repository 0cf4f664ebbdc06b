//! The fan-out pool: the per-subscriber work of a forwarded packet on several cores.
//!
//! One packet from the teacher becomes one packet per student, and each copy is its own
//! work: the subscriber's connection queues it, keeps it for retransmission, encrypts it
//! (SRTP) and hands it to the kernel. That work touches nothing but the subscriber's own
//! connection, so it is what spreads across cores; the rest of the core (signaling, the
//! class's rules, choosing what goes where) stays on one thread and stays deterministic.
//! Results are gathered in the order the work was given, so a run with a pool sends the same
//! datagrams in the same order as one without.
//!
//! With `threads` = N the pool has N - 1 threads and the caller is the N-th: a batch is cut
//! into up to 4 runs of consecutive items per thread, and the caller and the pool's threads
//! (rayon's `in_place_scope`) claim runs until none is left; the caller then waits for runs
//! still in progress, spinning: asleep in the scope's latch it took ~50 µs to be woken after
//! the last run, on every batch (core alone, 200 students: two threads 1.22 -> 1.40 times one
//! for bursts of one packet). The first version (every thread a rayon worker, batches split into runs
//! of 8 by rayon) spent more on hand-overs and idle searching than it saved (+30 % CPU at 100
//! students); with one fixed run per thread, a pool thread slow to wake held the batch up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A run's slot; a run that panicked has already failed the whole batch.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts a run as finished when dropped.
struct Finished<'a>(&'a AtomicUsize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// How long the caller spins for the pool's last runs before it leaves the wait to rayon's
/// latch: longer than a run usually takes, short enough that a pool thread descheduled
/// mid-run (a CPU quota, a busy host) does not cost the caller's CPU for as long.
const SPIN_LIMIT: std::time::Duration = std::time::Duration::from_micros(200);

/// Spins until `done` holds or [`SPIN_LIMIT`] passed, yielding the CPU now and then (a pool
/// thread may share it). Only ever waits for runs already under way.
fn spin_until(done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    let mut spins = 0u32;
    while !done() {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(64) {
            if started.elapsed() >= SPIN_LIMIT {
                return;
            }
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Runs a batch is cut into per thread, so the work evens out when threads start late.
const RUNS_PER_THREAD: usize = 4;

/// A pool of threads for work that splits by connection.
pub struct Fanout {
    pool: rayon::ThreadPool,
    threads: usize,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("threads", &self.threads)
            .finish()
    }
}

/// Items per run at least: below this a thread's wake-up costs more than the work it takes
/// off the caller (polling one subscriber for one packet is a few microseconds).
const PER_RUN: usize = 8;

impl Fanout {
    /// A pool for `threads` threads in all (the caller's included), or `None` for one
    /// thread (everything on the caller's, as without a pool). An error when the system
    /// refuses the threads.
    pub fn new(threads: usize) -> Result<Option<Self>, rayon::ThreadPoolBuildError> {
        if threads <= 1 {
            return Ok(None);
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads - 1)
            .thread_name(|i| format!("sfu-fanout-{i}"))
            .build()?;
        Ok(Some(Fanout { pool, threads }))
    }

    /// How many threads share the work, the caller's included.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Fewest items worth spreading: enough for two runs.
    pub fn parallel_from(&self) -> usize {
        PER_RUN * 2
    }

    /// Runs `f` on each of `runs` and returns the results in order. The caller and the
    /// pool's threads claim runs one at a time until none is left, so a pool thread slow to
    /// wake (a virtual machine's idle core can take a fraction of a millisecond) leaves its
    /// share to the caller instead of holding the whole batch up.
    pub fn join_runs<T, R, F>(&self, runs: Vec<T>, f: F) -> Vec<R>
    where
        T: Send,
        R: Send + Default,
        F: Fn(T) -> R + Sync,
    {
        let helpers = self.threads.min(runs.len()).saturating_sub(1);
        let slots: Vec<Mutex<(Option<T>, R)>> = runs
            .into_iter()
            .map(|run| Mutex::new((Some(run), R::default())))
            .collect();
        let next = AtomicUsize::new(0);
        let finished = AtomicUsize::new(0);
        let work = || {
            while let Some(slot) = slots.get(next.fetch_add(1, Ordering::Relaxed)) {
                // Counted even when `f` panics, so the caller's wait below ends and the scope
                // passes the panic on.
                let _finished = Finished(&finished);
                let run = lock(slot).0.take();
                if let Some(run) = run {
                    let result = f(run);
                    lock(slot).1 = result;
                }
            }
        };
        let work = &work;
        self.pool.in_place_scope(|scope| {
            for _ in 0..helpers {
                scope.spawn(move |_| work());
            }
            work();
            // Every run is claimed; the pool's threads may still be on theirs. Wait for them
            // here, awake, instead of in the scope's latch: a thread asleep there took ~50 µs
            // to be woken after the last run, on every batch.
            spin_until(|| finished.load(Ordering::Acquire) == slots.len());
        });
        slots
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner).1)
            .collect()
    }

    /// How `len` items are cut into runs of consecutive items: up to [`RUNS_PER_THREAD`]
    /// per thread, none shorter than [`PER_RUN`] (a single run when there are too few).
    pub fn runs(&self, len: usize) -> Vec<std::ops::Range<usize>> {
        let wanted = (self.threads * RUNS_PER_THREAD).min(len / PER_RUN).max(1);
        let per_run = len.div_ceil(wanted).max(1);
        (0..len)
            .step_by(per_run)
            .map(|start| start..(start + per_run).min(len))
            .collect()
    }

    /// Runs `f` over `items` in order, cut into [`Fanout::runs`], each run with its own
    /// accumulator (`A::default()` to start). The accumulators come back in the items'
    /// order, so concatenating them gives what one loop over `items` would.
    pub fn map_runs<T, A, F>(&self, items: Vec<T>, f: F) -> Vec<A>
    where
        T: Send,
        A: Default + Send,
        F: Fn(T, &mut A) + Sync,
    {
        let mut items = items.into_iter();
        let runs: Vec<Vec<T>> = self
            .runs(items.len())
            .into_iter()
            .map(|run| items.by_ref().take(run.len()).collect())
            .collect();
        self.join_runs(runs, |run| {
            let mut acc = A::default();
            for item in run {
                f(item, &mut acc);
            }
            acc
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_threads() -> Fanout {
        Fanout::new(2)
            .expect("pool")
            .expect("two threads make a pool")
    }

    #[test]
    fn one_thread_is_no_pool() {
        assert!(Fanout::new(1).expect("pool").is_none());
        assert!(Fanout::new(0).expect("pool").is_none());
    }

    #[test]
    fn runs_come_back_in_order_and_cover_every_item() {
        let pool = two_threads();
        assert_eq!(pool.threads(), 2);
        let mut items: Vec<u64> = (0..1000).collect();
        let runs: Vec<Vec<u64>> =
            pool.map_runs(items.iter_mut().collect(), |x, acc: &mut Vec<u64>| {
                *x += 1;
                acc.push(*x);
            });
        assert!(runs.len() > 1, "the work was split");
        let flat: Vec<u64> = runs.into_iter().flatten().collect();
        assert_eq!(flat, (1..=1000).collect::<Vec<_>>());
        assert_eq!(
            items,
            (1..=1000).collect::<Vec<_>>(),
            "every item was visited once"
        );
    }

    #[test]
    fn runs_are_claimed_whole_and_the_caller_takes_the_first() {
        let pool = two_threads();
        let caller = std::thread::current().id();
        let threads: Vec<Vec<std::thread::ThreadId>> = pool.map_runs(
            (0..64).collect(),
            |_, acc: &mut Vec<std::thread::ThreadId>| {
                acc.push(std::thread::current().id());
            },
        );
        assert_eq!(threads.len(), 8, "four runs per thread");
        assert!(threads.iter().all(|run| run.len() == 8));
        assert!(
            threads[0].iter().all(|t| *t == caller),
            "the caller claims the first"
        );
        for run in &threads {
            assert!(
                run.windows(2).all(|w| w[0] == w[1]),
                "a run stays on one thread"
            );
        }
        // Too few items for two runs worth the hand-over: one run, on the caller.
        let small: Vec<Vec<std::thread::ThreadId>> = pool.map_runs(
            (0..10).collect(),
            |_, acc: &mut Vec<std::thread::ThreadId>| {
                acc.push(std::thread::current().id());
            },
        );
        assert_eq!(small.len(), 1);
        assert!(small[0].iter().all(|t| *t == caller));
    }

    #[test]
    fn a_pool_thread_busy_elsewhere_leaves_every_run_to_the_caller() {
        let pool = two_threads();
        let (started, wait) = std::sync::mpsc::channel();
        pool.pool.spawn(move || {
            let _ = started.send(());
            std::thread::sleep(std::time::Duration::from_millis(200));
        });
        wait.recv().expect("started");
        let caller = std::thread::current().id();
        let threads: Vec<Vec<std::thread::ThreadId>> = pool.map_runs(
            (0..64).collect(),
            |_, acc: &mut Vec<std::thread::ThreadId>| {
                acc.push(std::thread::current().id());
            },
        );
        assert_eq!(threads.iter().map(Vec::len).sum::<usize>(), 64);
        assert!(threads.iter().flatten().all(|t| *t == caller));
    }

    #[test]
    fn a_run_that_panics_on_a_pool_thread_fails_the_batch_instead_of_hanging_it() {
        let pool = two_threads();
        let caller = std::thread::current().id();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.map_runs((0..64).collect(), |_, _: &mut ()| {
                // Slow enough that the pool's thread claims runs of its own.
                std::thread::sleep(std::time::Duration::from_millis(2));
                if std::thread::current().id() != caller {
                    panic!("a run failed on the pool's thread");
                }
            })
        }));
        assert!(outcome.is_err(), "the panic reaches the caller");
    }

    #[test]
    fn the_caller_stops_spinning_for_a_run_that_does_not_finish() {
        // A run held up (its thread descheduled) longer than the spin: the wait returns,
        // leaving the rest to rayon's latch, and not before the spin's time is up.
        let started = std::time::Instant::now();
        super::spin_until(|| false);
        assert!(started.elapsed() >= super::SPIN_LIMIT);
    }
}

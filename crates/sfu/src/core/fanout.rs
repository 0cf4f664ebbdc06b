//! The fan-out pool: the per-subscriber work of a forwarded packet on several cores.
//!
//! One packet from the teacher becomes one packet per student, and each copy is its own
//! work: the subscriber's connection queues it, keeps it for retransmission, encrypts it
//! (SRTP) and hands it to the kernel. That work touches nothing but the subscriber's own
//! connection, so it is what spreads across cores; the rest of the core (signaling, the
//! class's rules, which tracks go where, simulcast layer choice) stays on one thread and
//! stays deterministic. Since session 48 a packet of a track without layers sent to a class
//! large enough for the pool is not even walked per student on the core's thread: it is
//! noted once (`forward::Fanned`), and each thread that polls a student makes that student's
//! copy (numbers, retransmission record, `forward::copy_for`) beside sending it, so the
//! core's thread no longer touches state the pool's threads last wrote from their cores.
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
//!
//! A pool thread that went to sleep between two batches took ~50 µs to start on the next
//! (waking a parked virtual CPU), a fifth of a 200-student batch, during which the caller
//! worked alone, and the wake-up cost the caller ~24 µs of its own. So when turns come close
//! together (a class large enough to keep the core busy, several rooms, a keyframe taken in
//! several turns), each pool thread waits for the next batch awake, in a job of its own
//! ([`keep_awake`]), until [`LINGER`] after the driver's turn ended ([`Fanout::rest`]).
//! Turns further apart leave the threads to sleep: kept awake from the first packet of every
//! turn, a 200-student class on loopback took 15-30 % more CPU and no less delay.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

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
const SPIN_LIMIT: Duration = Duration::from_micros(200);

/// Spins until `done` holds or [`SPIN_LIMIT`] passed, yielding the CPU now and then (a pool
/// thread may share it). Only ever waits for runs already under way.
fn spin_until(done: impl Fn() -> bool) {
    let started = Instant::now();
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

/// How long a pool thread kept awake waits for work within a turn before it goes back to
/// sleep on its own: a turn's batches come within tens of microseconds of each other, and a
/// caller that never calls [`Fanout::rest`] (the core alone, in tests) costs a thread no
/// more than this after its last batch.
const AWAKE_LIMIT: Duration = Duration::from_millis(1);

/// How long the pool's threads stay awake after a turn when turns come this close together
/// (a large class, a keyframe's packets taken in several turns, several rooms): a sleeping
/// thread's wake-up cost the waking caller ~24 µs of its own time on this VM (the system
/// call and the idle virtual CPU's interrupt), on every turn. Turns further apart (one
/// 200-student class: a fan-out every few milliseconds) let them sleep at once, so an idle
/// server spins for nothing; a busy one spins at most this long after its last turn. Every
/// pool thread is kept awake, not only as many as a batch has runs: rayon wakes a sleeping
/// thread for each job it is given while none is idle in its own wait, so a pool half awake
/// would still pay for the wake-ups. On a many-core server under load the pool's threads
/// therefore show as busy between turns; the wait yields its CPU every 64 rounds, so other
/// work on the machine still runs (measured on two cores only).
const LINGER: Duration = Duration::from_micros(200);

/// Whether the pool's threads should wait for work awake, and which of them are.
#[derive(Debug)]
struct Awake {
    /// What the times below count from.
    epoch: Instant,
    /// A turn is under way: set by its first batch, cleared by [`Fanout::rest`].
    wanted: AtomicBool,
    /// The end of the last turn that had a batch ([`Fanout::rest`]), in nanoseconds from
    /// `epoch`.
    rested_at: AtomicU64,
    /// This turn's first batch came within [`LINGER`] of the last turn's end: stay awake.
    busy: AtomicBool,
    /// One per pool thread: a [`keep_awake`] job is running on it.
    running: Vec<AtomicBool>,
    /// [`LINGER`] and [`AWAKE_LIMIT`] (longer in tests).
    linger: Duration,
    limit: Duration,
}

impl Awake {
    fn nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether a thread idle since `idle_since` (nanoseconds from `epoch`) may go to sleep.
    fn may_sleep(&self, idle_since: u64) -> bool {
        let now = self.nanos();
        let idle = Duration::from_nanos(now.saturating_sub(idle_since));
        if self.wanted.load(Ordering::Acquire) {
            return idle >= self.limit;
        }
        if !self.busy.load(Ordering::Acquire) {
            return true;
        }
        let rested = self.rested_at.load(Ordering::Acquire).max(idle_since);
        Duration::from_nanos(now.saturating_sub(rested)) >= self.linger
    }
}

/// A pool thread's wait for work, awake: runs the pool's jobs as they come (rayon's
/// `yield_now`, which takes the batches' runs) until it may sleep ([`Awake::may_sleep`]).
/// Asleep in rayon's own wait, the thread took ~50 µs to start on a batch.
fn keep_awake(awake: &Awake) {
    let Some(flag) = rayon::current_thread_index().and_then(|i| awake.running.get(i)) else {
        return;
    };
    if flag.swap(true, Ordering::AcqRel) {
        // Already awake: this job was taken by the thread's own wait.
        return;
    }
    let mut idle_since = awake.nanos();
    let mut spins = 0u32;
    loop {
        if let Some(rayon::Yield::Executed) = rayon::yield_now() {
            idle_since = awake.nanos();
            continue;
        }
        spins = spins.wrapping_add(1);
        if !spins.is_multiple_of(64) {
            std::hint::spin_loop();
            continue;
        }
        if awake.may_sleep(idle_since) {
            flag.store(false, Ordering::Release);
            // A batch that came as the flag was cleared found this thread awake and spawned
            // nothing: stay, unless another wait took the flag.
            if !awake.may_sleep(idle_since) && !flag.swap(true, Ordering::AcqRel) {
                continue;
            }
            return;
        }
        // A pool thread may share its CPU (a busy host): let others run now and then.
        std::thread::yield_now();
    }
}

/// Runs a batch is cut into per thread, so the work evens out when threads start late.
const RUNS_PER_THREAD: usize = 4;

/// A pool of threads for work that splits by connection.
pub struct Fanout {
    pool: rayon::ThreadPool,
    threads: usize,
    awake: Arc<Awake>,
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
        Self::with_waits(threads, LINGER, AWAKE_LIMIT)
    }

    /// [`Fanout::new`] with other waits than [`LINGER`] and [`AWAKE_LIMIT`].
    fn with_waits(
        threads: usize,
        linger: Duration,
        limit: Duration,
    ) -> Result<Option<Self>, rayon::ThreadPoolBuildError> {
        if threads <= 1 {
            return Ok(None);
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads - 1)
            .thread_name(|i| format!("sfu-fanout-{i}"))
            .build()?;
        let awake = Arc::new(Awake {
            epoch: Instant::now(),
            wanted: AtomicBool::new(false),
            rested_at: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            running: (1..threads).map(|_| AtomicBool::new(false)).collect(),
            linger,
            limit,
        });
        Ok(Some(Fanout {
            pool,
            threads,
            awake,
        }))
    }

    /// A batch is starting: at the first of a turn, whether turns are coming close
    /// together ([`LINGER`]); if they are, the pool's threads wait for work awake until
    /// the turn is over and [`LINGER`] after. Cheap when they already are.
    fn keep_awake_if_busy(&self) {
        let awake = &self.awake;
        if !awake.wanted.swap(true, Ordering::AcqRel) {
            let since_rest = awake
                .nanos()
                .saturating_sub(awake.rested_at.load(Ordering::Acquire));
            awake.busy.store(
                Duration::from_nanos(since_rest) < awake.linger,
                Ordering::Release,
            );
        }
        if awake.busy.load(Ordering::Acquire)
            && awake
                .running
                .iter()
                .any(|running| !running.load(Ordering::Acquire))
        {
            let awake = self.awake.clone();
            self.pool.spawn_broadcast(move |_| keep_awake(&awake));
        }
    }

    /// The turn is over (the server's driver sent its datagrams): the pool's threads may
    /// sleep once idle, at once unless turns are coming close together ([`LINGER`]). A
    /// caller that never says so stays in its first turn: rayon's own wait between batches,
    /// unless that first batch came within [`LINGER`] of the pool's start (then each thread
    /// is kept awake until [`AWAKE_LIMIT`] passes without work, as the tests' pools are).
    pub fn rest(&self) {
        let awake = &self.awake;
        // Only the end of a turn that fanned out counts: turns that only took a receiver
        // report come every few hundred microseconds in a large class.
        if awake.wanted.load(Ordering::Acquire) {
            awake.rested_at.store(awake.nanos(), Ordering::Release);
            awake.wanted.store(false, Ordering::Release);
        }
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
        self.keep_awake_if_busy();
        let slots: Vec<Mutex<(Option<T>, R)>> = runs
            .into_iter()
            .map(|run| Mutex::new((Some(run), R::default())))
            .collect();
        // The caller claims runs from the front, the pool's threads from the back, so with
        // two threads each student is polled by the same thread batch after batch (its
        // connection's state stays in that core's cache) but where the two meet.
        let front = AtomicUsize::new(0);
        let back = AtomicUsize::new(0);
        let finished = AtomicUsize::new(0);
        let work = |from_back: bool| {
            loop {
                let claimed = if from_back { &back } else { &front };
                let k = claimed.fetch_add(1, Ordering::Relaxed);
                let Some(slot) = slots.get(if from_back {
                    slots.len().wrapping_sub(k + 1)
                } else {
                    k
                }) else {
                    break;
                };
                // Taken from the other end: every run past it is claimed from there too.
                let Some(run) = lock(slot).0.take() else {
                    break;
                };
                // Counted even when `f` panics, so the caller's wait below ends and the scope
                // passes the panic on.
                let _finished = Finished(&finished);
                let result = f(run);
                lock(slot).1 = result;
            }
        };
        let work = &work;
        self.pool.in_place_scope(|scope| {
            for _ in 0..helpers {
                scope.spawn(move |_| work(true));
            }
            work(false);
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
    fn the_caller_takes_runs_from_the_front_and_the_pool_from_the_back() {
        let pool = two_threads();
        let caller = std::thread::current().id();
        for _ in 0..10 {
            let threads: Vec<Vec<std::thread::ThreadId>> = pool.map_runs(
                (0..64).collect(),
                |_: u64, acc: &mut Vec<std::thread::ThreadId>| {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                    acc.push(std::thread::current().id());
                },
            );
            let by_caller: Vec<bool> = threads.iter().map(|run| run[0] == caller).collect();
            // The same split every batch, but where the two meet: the caller's runs first.
            let first_pool = by_caller.iter().position(|c| !c).unwrap_or(by_caller.len());
            assert!(
                by_caller[first_pool..].iter().all(|c| !c),
                "runs interleaved: {by_caller:?}"
            );
        }
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

    /// Waits (up to 5 s) until every pool thread is awake or every one is not.
    fn until_awake(pool: &Fanout, awake: bool) -> bool {
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(5) {
            if pool
                .awake
                .running
                .iter()
                .all(|r| r.load(Ordering::Acquire) == awake)
            {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        false
    }

    /// A pool whose threads linger and wait awake for `ms` milliseconds.
    fn waiting(threads: usize, ms: u64) -> Fanout {
        let wait = std::time::Duration::from_millis(ms);
        Fanout::with_waits(threads, wait, wait)
            .expect("pool")
            .expect("a pool")
    }

    #[test]
    fn turns_close_together_keep_the_pool_awake_and_a_pause_lets_it_sleep() {
        let pool = waiting(3, 300);
        assert!(until_awake(&pool, false), "asleep before any batch");
        let caller = std::thread::current().id();
        let mut pool_took = false;
        for round in 0..20u64 {
            let runs: Vec<Vec<(u64, std::thread::ThreadId)>> =
                pool.map_runs((0..96).collect(), |x: u64, acc: &mut Vec<_>| {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                    acc.push((x + round, std::thread::current().id()));
                });
            let flat: Vec<(u64, std::thread::ThreadId)> = runs.into_iter().flatten().collect();
            assert_eq!(
                flat.iter().map(|(x, _)| *x).collect::<Vec<_>>(),
                (round..96 + round).collect::<Vec<_>>()
            );
            pool_took |= flat.iter().any(|(_, t)| *t != caller);
            if round == 0 {
                // The first batch came within the linger of the pool's start: busy.
                assert!(until_awake(&pool, true), "every pool thread kept awake");
            }
            pool.rest();
        }
        assert!(pool_took, "the awake threads took runs");
        // No more turns: each thread leaves its wait once the linger is over.
        assert!(until_awake(&pool, false), "every thread left its wait");
        let runs: Vec<Vec<u64>> = pool.map_runs((0..64).collect(), |x, acc: &mut Vec<u64>| {
            acc.push(x);
        });
        assert_eq!(runs.concat(), (0..64).collect::<Vec<_>>(), "still a pool");
    }

    #[test]
    fn turns_far_apart_leave_the_pool_to_sleep() {
        let pool = waiting(2, 1);
        for _ in 0..5 {
            pool.rest();
            std::thread::sleep(std::time::Duration::from_millis(20));
            let runs: Vec<Vec<u64>> = pool.map_runs((0..64).collect(), |x, acc: &mut Vec<u64>| {
                acc.push(x);
            });
            assert_eq!(runs.concat(), (0..64).collect::<Vec<_>>());
            assert!(
                pool.awake
                    .running
                    .iter()
                    .all(|r| !r.load(Ordering::Acquire)),
                "no thread was kept awake"
            );
        }
    }

    #[test]
    fn a_pool_never_told_to_rest_sleeps_on_its_own() {
        let pool = waiting(2, 300);
        let _: Vec<()> = pool.map_runs((0..64).collect(), |_: u64, _: &mut ()| {});
        assert!(
            until_awake(&pool, true),
            "kept awake by a batch at its start"
        );
        // No rest: each thread leaves after the limit without work.
        assert!(until_awake(&pool, false));
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

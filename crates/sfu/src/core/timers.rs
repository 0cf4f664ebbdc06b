//! When each participant's peer connections want time next, kept in order, so that a turn
//! visits only the participants whose timers are due instead of every participant with media.
//!
//! Every driver turn asked [`super::Sfu::poll_timeout`] for the earliest timer and every
//! timer turn marked the due connections, each a walk over every participant with media
//! (a tree lookup each, ~45 ns a participant on this VM). A class's students send receiver
//! reports and congestion feedback, so turns come as often as there are students: two walks
//! of n participants on each of O(n) turns a second, O(n^2) in the size of the class
//! (~5 % of the server's time at 200 students; 1,000 would have made it 25 times that).
//!
//! A participant is in the heap at most once for real: [`Participant::scheduled`] holds the
//! time of its live entry. A poll that finds an earlier timer pushes a new entry and leaves
//! the old one stale; a stale entry is skipped when it comes out (its time is not the
//! participant's `scheduled`), and the heap is rebuilt from the live entries when stale ones
//! outnumber them. An entry that comes out before the participant's timers are due (they
//! moved later since) puts it back at their time. So the heap only ever makes a turn early,
//! never late, and a timer is never lost: every change to a connection's timer is made by a
//! poll (`poll::poll_participant`), which reschedules, and a new connection is scheduled for
//! its first poll at once (`Timers::first_poll`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::ConnId;
use super::participant::Participant;

/// Participants by the time their next timer is due (earliest first), with stale entries.
#[derive(Debug, Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, ConnId)>>,
}

impl Timers {
    /// Puts `p` in for `at` unless it is in for that time or earlier already.
    pub fn schedule(&mut self, p: &mut Participant, at: Instant) {
        if let Some(at) = p.reschedule_at(at) {
            self.heap.push(Reverse((at, p.conn)));
        }
    }

    /// Puts `p` in for when its peer connections' timers are due, after a poll; entries a
    /// poll on another thread found are pushed with [`Timers::push`].
    pub fn after_poll(&mut self, p: &mut Participant) {
        if let Some(at) = p.reschedule() {
            self.push(at, p.conn);
        }
    }

    /// Pushes an entry [`Participant::reschedule`] asked for.
    pub fn push(&mut self, at: Instant, conn: ConnId) {
        self.heap.push(Reverse((at, conn)));
    }

    /// A peer connection was made for `p`: it has no timer until it is polled, so it is
    /// due at once.
    pub fn first_poll(&mut self, p: &mut Participant, now: Instant) {
        self.schedule(p, now);
    }

    /// The earliest entry's time (it may be stale: a turn early, never late).
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, ConnId)> {
        if self.next()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(entry)| entry)
    }

    /// Entries, stale ones included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Drops the stale entries once they outnumber the live ones (at most one for each of
    /// `live` participants, a few dozen of slack): only the entry each of the participants
    /// `all` gives is scheduled at stays. `all` is only walked then.
    pub fn compact<'a, I>(&mut self, live: usize, all: impl FnOnce() -> I)
    where
        I: Iterator<Item = &'a Participant>,
    {
        if self.heap.len() <= 2 * live + 64 {
            return;
        }
        self.heap = all()
            .filter_map(|p| p.scheduled().map(|at| Reverse((at, p.conn))))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use super::*;

    fn participant(conn: ConnId) -> Participant {
        Participant::new(conn, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    #[test]
    fn an_earlier_time_replaces_a_later_one_and_the_later_one_is_left_stale() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut timers = Timers::default();
        let mut p = participant(7);
        timers.schedule(&mut p, ms(20));
        timers.schedule(&mut p, ms(30)); // later than the live entry: nothing pushed
        assert_eq!(timers.len(), 1);
        timers.schedule(&mut p, ms(10));
        assert_eq!(timers.len(), 2);
        assert_eq!(p.scheduled(), Some(ms(10)));
        assert_eq!(timers.next(), Some(ms(10)));
        assert_eq!(timers.pop_due(ms(5)), None, "not due yet");
        assert_eq!(timers.pop_due(ms(25)), Some((ms(10), 7)));
        // The entry at 20 is still there; its time is not the participant's any more.
        let (at, _) = timers.pop_due(ms(25)).expect("the stale entry");
        assert_ne!(Some(at), p.scheduled());
        assert_eq!(timers.pop_due(ms(25)), None);
    }

    #[test]
    fn stale_entries_are_dropped_once_they_outnumber_the_live_ones() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        let mut ps: Vec<Participant> = (0..10).map(participant).collect();
        // Each participant's timer keeps moving earlier: one live entry each, the rest stale.
        for step in (0..40u64).rev() {
            for p in &mut ps {
                timers.schedule(p, t0 + Duration::from_millis(step));
            }
        }
        assert_eq!(timers.len(), 400);
        timers.compact(ps.len(), || ps.iter());
        assert_eq!(timers.len(), 10, "one entry per participant");
        let mut due = Vec::new();
        while let Some((at, conn)) = timers.pop_due(t0) {
            due.push(conn);
            assert_eq!(at, t0);
        }
        assert_eq!(due, (0..10).collect::<Vec<_>>(), "in time, then id, order");
        // Few stale entries are left alone.
        let mut timers = Timers::default();
        let mut p = participant(11);
        timers.schedule(&mut p, t0 + Duration::from_secs(1));
        timers.schedule(&mut p, t0);
        timers.compact(1, || std::iter::once(&p));
        assert_eq!(timers.len(), 2);
    }
}

//! An entity's newest events, one record each: the only per-transaction
//! state, and only within the allowed lateness.
//!
//! Buckets count every event, including those stamped at or after the
//! transaction being computed: the newest ones in-order, and those a late
//! transaction must not see. The tail lists those newest events so that
//! they can be taken out again. It keeps events until they are *settled*
//! (older than the newest time minus the allowed lateness: before every
//! transaction the state still accepts), and at most `cap` of them, except
//! that it never splits the newest millisecond. Past the cap, a late
//! transaction's windows may count events stamped after it (documented in
//! the module docs); in-order streams are never affected.

use super::memory::{grow, shrink};

/// A record with an event time.
pub(super) trait Timed: Copy {
    /// Event time, ms since the epoch.
    fn time(&self) -> i64;
}

impl Timed for i64 {
    fn time(&self) -> i64 {
        *self
    }
}

/// Newest events, sorted by time (ties in arrival order).
#[derive(Debug, Clone)]
pub(super) struct Tail<E> {
    events: Vec<E>,
}

impl<E> Default for Tail<E> {
    fn default() -> Self {
        Tail { events: Vec::new() }
    }
}

impl<E: Timed> Tail<E> {
    /// Adds an event after those with an equal or earlier time.
    pub fn insert(&mut self, event: E) {
        let time = event.time();
        grow(&mut self.events);
        match self.events.last() {
            Some(last) if last.time() > time => {
                let pos = self.events.partition_point(|e| e.time() <= time);
                self.events.insert(pos, event);
            }
            _ => self.events.push(event),
        }
    }

    /// Removes, oldest first, the events before `horizon` and those beyond
    /// the newest `cap` (never splitting the newest millisecond), handing
    /// each to `settled`.
    pub fn settle(&mut self, horizon: i64, cap: usize, mut settled: impl FnMut(E)) {
        let newest = self.events.last().map(Timed::time);
        let mut n = 0;
        for e in &self.events {
            let over_cap = self.events.len() - n > cap && Some(e.time()) != newest;
            if e.time() >= horizon && !over_cap {
                break;
            }
            settled(*e);
            n += 1;
        }
        if n > 0 {
            self.events.drain(..n);
        }
    }

    /// The events stamped before `t`, oldest first.
    pub fn before(&self, t: i64) -> &[E] {
        &self.events[..self.split(t)]
    }

    /// The events stamped at or after `t`, oldest first: in-order, only
    /// those of the very millisecond of `t`.
    pub fn from(&self, t: i64) -> &[E] {
        &self.events[self.split(t)..]
    }

    /// Changes every event in place; `f` must not change times.
    pub fn update(&mut self, f: impl FnMut(&mut E)) {
        self.events.iter_mut().for_each(f);
    }

    /// Every event, oldest first.
    pub fn all(&self) -> &[E] {
        &self.events
    }

    /// Whether the tail is empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Releases capacity slack.
    pub fn shrink(&mut self) {
        shrink(&mut self.events);
    }

    /// Heap bytes held (capacity).
    pub fn heap_bytes(&self) -> usize {
        self.events.capacity() * size_of::<E>()
    }

    /// Events with time < `t` come first; in-order queries find the split
    /// at the end.
    fn split(&self, t: i64) -> usize {
        match self.events.last() {
            Some(last) if last.time() >= t => self.events.partition_point(|e| e.time() < t),
            _ => self.events.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(times: &[i64]) -> Tail<i64> {
        let mut t = Tail::default();
        times.iter().for_each(|&x| t.insert(x));
        t
    }

    #[test]
    fn sorted_and_split_by_time() {
        let t = tail(&[10, 30, 20, 30, 5]);
        assert_eq!(t.all(), [5, 10, 20, 30, 30]);
        assert_eq!(t.before(30), [5, 10, 20]);
        assert_eq!(t.from(30), [30, 30]);
        assert_eq!(t.from(31), [] as [i64; 0]);
        assert_eq!(t.before(5), [] as [i64; 0]);
    }

    #[test]
    fn settles_by_horizon_and_cap_but_keeps_the_newest_millisecond() {
        let mut t = tail(&[1, 2, 3, 4, 4, 4]);
        let mut out = Vec::new();
        t.settle(3, 10, |e| out.push(e));
        assert_eq!(out, [1, 2]);
        t.settle(0, 2, |e| out.push(e));
        // Three events at the newest millisecond stay, over the cap of 2.
        assert_eq!(out, [1, 2, 3]);
        assert_eq!(t.all(), [4, 4, 4]);
        t.settle(5, 2, |e| out.push(e));
        assert!(t.is_empty());
    }
}

//! One user's state: the exact (time, amount) history of 30 days plus
//! lateness, the details of the recent transactions, and summaries of the
//! details of older ones.
//!
//! Only the 24 h distinct counts need every transaction's merchant and
//! country, so details are kept per transaction for the last 24 h (plus
//! lateness) and then *folded*: a folded transaction leaves behind the
//! newest time per merchant (for the 30-day first-time check) and, for the
//! newest folded transactions (all those at the newest folded millisecond),
//! their country and the newest device (for the previous-transaction
//! flags), summarised with [`merge`]. That is exact for every transaction
//! the state still accepts, because an accepted transaction is never older
//! than the fold horizon plus 24 h, and a fold never splits transactions of
//! one millisecond.

use super::intern::{MISSING, MIXED, Remap};
use super::ledger::{Ledger, grow};
use super::windows::Horizons;

/// Per-transaction details of a recent transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Detail {
    pub merchant: u32,
    pub country: u32,
    pub device: u32,
}

/// A merchant of folded transactions and the newest time (offset) there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seen {
    pub merchant: u32,
    pub last: u32,
}

/// The state of one user. Times are u32 millisecond offsets from `base`.
#[derive(Debug)]
pub(super) struct UserState {
    /// The instant (ms since the epoch) of offset 0.
    pub base: i64,
    /// Every retained transaction, sorted by time (ties in arrival order).
    pub ledger: Ledger,
    /// Details of the newest `recent.len()` ledger records, in ledger order.
    pub recent: Vec<Detail>,
    /// Merchants of folded transactions, each with its newest time.
    pub seen: Vec<Seen>,
    /// Countries of the newest folded transactions (those at the newest
    /// folded millisecond), merged with [`merge`] ([`MISSING`] if none).
    pub folded_country: u32,
    /// Devices of the newest folded transactions with a device (those at
    /// the newest such millisecond), merged with [`merge`] ([`MISSING`] if
    /// none).
    pub folded_device: u32,
    /// Time offset of the transactions `folded_device` came from.
    pub folded_device_at: u32,
}

impl Default for UserState {
    fn default() -> Self {
        UserState {
            base: 0,
            ledger: Ledger::default(),
            recent: Vec::new(),
            seen: Vec::new(),
            folded_country: MISSING,
            folded_device: MISSING,
            folded_device_at: 0,
        }
    }
}

impl UserState {
    /// Whether the user has no retained transaction.
    pub fn is_empty(&self) -> bool {
        self.ledger.is_empty()
    }

    /// Time (ms since the epoch) of the newest retained transaction.
    #[cfg(test)]
    pub fn newest(&self) -> Option<i64> {
        self.ledger.last_time().map(|t| self.base + i64::from(t))
    }

    /// Index of the first ledger record that has details in `recent`.
    pub fn recent_start(&self) -> usize {
        self.ledger.len() - self.recent.len()
    }

    /// Adds a transaction at its sorted position (after equal times). An
    /// instant that cannot share the u32 offsets with the newest transaction
    /// (only possible beyond the clamped lateness) is not stored.
    pub fn insert(&mut self, t: i64, cents: u32, detail: Detail) {
        if !self.anchor(t) {
            return;
        }
        let Ok(time) = u32::try_from(t - self.base) else {
            return;
        };
        let pos = self.ledger.count_le(i64::from(time));
        let recent_start = self.recent_start();
        self.ledger.insert(pos, time, cents);
        if pos >= recent_start {
            grow(&mut self.recent);
            self.recent.insert(pos - recent_start, detail);
        } else {
            // Older than a folded transaction: unreachable for accepted
            // transactions (see the module docs), summarised to stay correct.
            self.note_seen(detail.merchant, time);
        }
    }

    /// Folds details older than the detail horizon and drops what is older
    /// than the user horizon. Never changes the features of a transaction
    /// the state accepts, so it runs only on eviction rounds, for memory.
    pub fn maintain(&mut self, h: &Horizons) {
        if self.is_empty() {
            return;
        }
        let detailed = self.ledger.count_le(h.detail.saturating_sub(self.base));
        let to_fold = detailed.saturating_sub(self.recent_start());
        self.fold(to_fold.min(self.recent.len()));
        let old = self.ledger.count_le(h.user.saturating_sub(self.base));
        self.ledger.drain_front(old);
        let surplus = self.recent.len().saturating_sub(self.ledger.len());
        self.recent.drain(..surplus);
        let keep_after = h.user.saturating_sub(self.base);
        self.seen.retain(|s| i64::from(s.last) > keep_after);
        if i64::from(self.folded_device_at) <= keep_after {
            self.folded_device = MISSING;
        }
    }

    /// Releases capacity slack (called on eviction rounds). The details
    /// and summaries shrink and grow back with every fold, so they are only
    /// shrunk when less than half full: reallocating them on each round
    /// cost more time than their few bytes of slack are worth.
    pub fn shrink(&mut self) {
        self.ledger.shrink();
        shrink_half_empty(&mut self.recent);
        shrink_half_empty(&mut self.seen);
    }

    /// Heap bytes held (capacities).
    pub fn heap_bytes(&self) -> usize {
        self.ledger.heap_bytes()
            + self.recent.capacity() * size_of::<Detail>()
            + self.seen.capacity() * size_of::<Seen>()
    }

    /// Marks the interned ids this user refers to.
    pub fn mark(&self, merchants: &mut [bool], countries: &mut [bool], devices: &mut [bool]) {
        let set = |table: &mut [bool], id: u32| {
            if let Some(slot) = table.get_mut(id as usize) {
                *slot = true;
            }
        };
        for d in &self.recent {
            set(merchants, d.merchant);
            set(countries, d.country);
            set(devices, d.device);
        }
        for s in &self.seen {
            set(merchants, s.merchant);
        }
        set(countries, self.folded_country);
        set(devices, self.folded_device);
    }

    /// Renumbers merchant ids after the merchant interner was compacted.
    pub fn remap_merchants(&mut self, remap: &Remap) {
        for d in &mut self.recent {
            d.merchant = remap.apply(d.merchant);
        }
        for s in &mut self.seen {
            s.merchant = remap.apply(s.merchant);
        }
    }

    /// Renumbers country ids after the country interner was compacted.
    pub fn remap_countries(&mut self, remap: &Remap) {
        for d in &mut self.recent {
            d.country = remap.apply(d.country);
        }
        self.folded_country = remap.apply(self.folded_country);
    }

    /// Renumbers device ids after the device interner was compacted.
    pub fn remap_devices(&mut self, remap: &Remap) {
        for d in &mut self.recent {
            d.device = remap.apply(d.device);
        }
        self.folded_device = remap.apply(self.folded_device);
    }

    /// Moves the base so that `t` gets a u32 offset; false if it cannot
    /// share the offsets with the retained transactions.
    fn anchor(&mut self, t: i64) -> bool {
        if self.is_empty() {
            self.reset(t);
            return true;
        }
        let rel = t - self.base;
        if rel < 0 {
            return self.move_base_back(t);
        }
        if rel > i64::from(u32::MAX) {
            self.move_base_forward(t);
        }
        true
    }

    /// Forgets everything and starts at `t`.
    fn reset(&mut self, t: i64) {
        self.base = t;
        self.recent.clear();
        self.seen.clear();
        self.folded_country = MISSING;
        self.folded_device = MISSING;
        self.folded_device_at = 0;
    }

    /// A late transaction before the base: offsets grow by the difference.
    fn move_base_back(&mut self, t: i64) -> bool {
        let delta = self.base - t;
        let newest = self.ledger.last_time().map_or(0, i64::from);
        let Ok(delta) = u32::try_from(delta) else {
            return false;
        };
        if newest + i64::from(delta) > i64::from(u32::MAX) {
            return false;
        }
        self.ledger.shift_later(delta);
        for s in &mut self.seen {
            s.last = s.last.saturating_add(delta);
        }
        self.folded_device_at = self.folded_device_at.saturating_add(delta);
        self.base = t;
        true
    }

    /// A transaction too far after the base: the base moves to the oldest
    /// record, dropping records that still would not fit (only possible if
    /// maintenance did not run, since retention is shorter than u32 ms).
    fn move_base_forward(&mut self, t: i64) {
        let too_old = self
            .ledger
            .count_le(t - self.base - i64::from(u32::MAX) - 1);
        let recent_start = self.recent_start();
        self.ledger.drain_front(too_old);
        self.recent
            .drain(..too_old.saturating_sub(recent_start).min(self.recent.len()));
        let Some(first) = self.ledger.time(0) else {
            self.reset(t);
            return;
        };
        self.ledger.shift_earlier(first);
        self.seen.retain(|s| s.last >= first);
        for s in &mut self.seen {
            s.last -= first;
        }
        if self.folded_device_at < first {
            self.folded_device = MISSING;
        }
        self.folded_device_at = self.folded_device_at.saturating_sub(first);
        self.base += i64::from(first);
    }

    /// Folds the `count` oldest recent transactions into the summaries.
    /// Transactions of one millisecond are merged, whatever their order: a
    /// fold never splits them (`maintain` folds up to a time), so the
    /// summaries of a new millisecond replace the older ones.
    fn fold(&mut self, count: usize) {
        let start = self.recent_start();
        let mut country_at = None;
        let mut device_at = None;
        for i in 0..count {
            let (Some(d), Some(time)) = (self.recent.get(i).copied(), self.ledger.time(start + i))
            else {
                break;
            };
            self.note_seen(d.merchant, time);
            self.folded_country = match country_at {
                Some(at) if at == time => merge(self.folded_country, d.country),
                _ => d.country,
            };
            country_at = Some(time);
            if d.device != MISSING {
                self.folded_device = match device_at {
                    Some(at) if at == time => merge(self.folded_device, d.device),
                    _ => d.device,
                };
                self.folded_device_at = time;
                device_at = Some(time);
            }
        }
        self.recent.drain(..count.min(self.recent.len()));
    }

    /// Records that the user was at `merchant` at offset `time`.
    fn note_seen(&mut self, merchant: u32, time: u32) {
        match self.seen.iter_mut().find(|s| s.merchant == merchant) {
            Some(s) => s.last = s.last.max(time),
            None => {
                grow(&mut self.seen);
                self.seen.push(Seen {
                    merchant,
                    last: time,
                });
            }
        }
    }
}

/// Adds `value` to the summary of the values of simultaneous transactions:
/// [`MISSING`] while none has a value, the value while they all have the
/// same one, [`MIXED`] once two differ. The result does not depend on the
/// order of the values, so neither do the features that read it.
pub(super) fn merge(summary: u32, value: u32) -> u32 {
    if value == MISSING || value == summary {
        summary
    } else if summary == MISSING {
        value
    } else {
        MIXED
    }
}

/// Shrinks `v` when it is less than half full.
fn shrink_half_empty<T>(v: &mut Vec<T>) {
    if v.capacity() > 2 * v.len() + 2 {
        v.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::windows::{DAY, HOUR, LONGEST, TEN_MINUTES, WEEK};

    fn detail(merchant: u32, country: u32, device: u32) -> Detail {
        Detail {
            merchant,
            country,
            device,
        }
    }

    #[test]
    fn insert_keeps_time_order_and_details_aligned() {
        let mut u = UserState::default();
        u.insert(1_000, 100, detail(1, 1, MISSING));
        u.insert(3_000, 300, detail(3, 3, 3));
        u.insert(2_000, 200, detail(2, 2, 2));
        u.insert(2_000, 250, detail(4, 4, 4));
        assert_eq!(u.base, 1_000);
        let times: Vec<_> = (0..4).map(|i| u.ledger.time(i).unwrap()).collect();
        assert_eq!(times, [0, 1_000, 1_000, 2_000]);
        let merchants: Vec<_> = u.recent.iter().map(|d| d.merchant).collect();
        assert_eq!(merchants, [1, 2, 4, 3]);
        // Earlier than the base: offsets move.
        u.insert(500, 50, detail(5, 5, 5));
        assert_eq!(u.base, 500);
        assert_eq!(u.ledger.time(1), Some(500));
        assert_eq!(u.recent[0].merchant, 5);
        assert_eq!(u.newest(), Some(3_000));
    }

    #[test]
    fn maintenance_folds_then_drops() {
        let mut u = UserState::default();
        let t0 = 100 * DAY;
        u.insert(t0, 1, detail(7, 1, 9));
        u.insert(t0 + HOUR, 1, detail(8, 2, MISSING));
        u.insert(t0 + 3 * DAY, 1, detail(7, 3, MISSING));
        // Newest seen = t0 + 3 d: both day-0 transactions are folded.
        u.maintain(&Horizons::new(t0 + 3 * DAY, TEN_MINUTES, WEEK));
        assert_eq!(u.recent.len(), 1);
        assert_eq!(u.folded_country, 2);
        assert_eq!(u.folded_device, 9);
        assert_eq!(u.folded_device_at, 0);
        let mut seen: Vec<_> = u.seen.iter().map(|s| (s.merchant, s.last)).collect();
        seen.sort();
        assert_eq!(seen, [(7, 0), (8, HOUR as u32)]);
        // A month later everything but the newest transaction is gone.
        u.maintain(&Horizons::new(
            t0 + HOUR + LONGEST + TEN_MINUTES,
            TEN_MINUTES,
            WEEK,
        ));
        assert_eq!(u.ledger.len(), 1);
        let seen: Vec<_> = u.seen.iter().map(|s| (s.merchant, s.last)).collect();
        assert_eq!(seen, [(7, 3 * DAY as u32)]);
        assert_eq!(u.folded_device, MISSING);
        assert_eq!(
            u.recent.len(),
            0,
            "newest is also older than the detail horizon"
        );
    }

    #[test]
    fn base_moves_forward_when_offsets_would_overflow() {
        let mut u = UserState::default();
        u.insert(0, 1, detail(1, 1, 1));
        u.insert(40 * DAY, 2, detail(2, 2, 2));
        // 60 days is past u32 ms from the base: the base moves to the
        // oldest record that still fits, older ones are dropped.
        u.insert(60 * DAY, 3, detail(3, 3, 3));
        assert_eq!(u.base, 40 * DAY);
        assert_eq!(u.ledger.len(), 2);
        assert_eq!(u.recent.len(), 2);
        assert_eq!(u.newest(), Some(60 * DAY));
    }
}

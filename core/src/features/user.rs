//! One user's state: bucketed aggregates for the windows, the merchants
//! and countries seen, the newest transactions (the tail) and a summary of
//! the newest settled one.
//!
//! Every transaction goes into the buckets at once. It stays in the tail
//! until it is settled (see `tail.rs`); then the merchant and country it
//! names become *seen* at its hour and, if it is the newest settled
//! transaction, it becomes the summary the previous-transaction flags read.
//!
//! Bound per user, whatever its volume: 61 minute, 25 hour, 8 day and 7
//! period buckets, at most [`TAIL_CAP`] recent transactions (plus those of
//! one millisecond), at most [`SEEN_CAP`] merchants and countries each.

use super::buckets::{Bucket, Buckets};
use super::intern::{MISSING, MIXED, Remap};
use super::memory::{grow, shrink};
use super::tail::{Tail, Timed};
use super::windows::{Grain, Horizons, Window};

/// Most transactions a user keeps one by one (beyond those of the newest
/// millisecond).
pub(super) const TAIL_CAP: usize = 8;
/// Most merchants (and, separately, countries) a user keeps as seen; past
/// it the one seen longest ago is forgotten.
pub(super) const SEEN_CAP: usize = 1024;

/// Transactions of one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MinuteBucket {
    pub cents: u64,
    pub index: u32,
    pub count: u32,
}

/// Transactions of one hour, and how many merchants and countries were
/// last seen (settled) in that hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HourBucket {
    pub cents: u64,
    pub index: u32,
    pub count: u32,
    pub merchants: u32,
    pub countries: u32,
}

/// Transactions of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DayBucket {
    pub index: u32,
    pub count: u32,
}

/// Amounts of one five-day period as exact integer moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PeriodBucket {
    pub squares: u128,
    pub sum: u64,
    pub index: u32,
    pub n: u32,
}

macro_rules! bucket {
    ($t:ty { $($field:ident),* }) => {
        impl Bucket for $t {
            fn empty(index: u32) -> Self {
                Self { index, $($field: 0),* }
            }
            fn index(&self) -> u32 {
                self.index
            }
        }
    };
}
bucket!(MinuteBucket { cents, count });
bucket!(HourBucket {
    cents,
    count,
    merchants,
    countries
});
bucket!(DayBucket { count });
bucket!(PeriodBucket { squares, sum, n });

/// One recent transaction as the tail keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Recent {
    pub time: i64,
    pub cents: u32,
    pub merchant: u32,
    pub country: u32,
    pub device: u32,
}

impl Timed for Recent {
    fn time(&self) -> i64 {
        self.time
    }
}

/// A merchant or country and the hour it was last seen in a settled
/// transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seen {
    pub id: u32,
    pub hour: u32,
}

/// The newest settled transactions: their time and merged country, and
/// the newest settled ones with a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Settled {
    pub time: i64,
    pub device_time: i64,
    pub country: u32,
    pub device: u32,
}

impl Default for Settled {
    fn default() -> Self {
        Settled {
            time: i64::MIN,
            device_time: i64::MIN,
            country: MISSING,
            device: MISSING,
        }
    }
}

impl Settled {
    /// Takes in a settled transaction. Those of one millisecond are merged
    /// whatever their order, so the summary does not depend on it.
    fn absorb(&mut self, e: &Recent) {
        if e.time > self.time {
            self.time = e.time;
            self.country = e.country;
        } else if e.time == self.time {
            self.country = merge(self.country, e.country);
        }
        if e.device != MISSING {
            if e.time > self.device_time {
                self.device_time = e.time;
                self.device = e.device;
            } else if e.time == self.device_time {
                self.device = merge(self.device, e.device);
            }
        }
    }
}

/// How many distinct merchants and countries the user's transactions in
/// one 24-hour window hold: the counts the newest transaction was given,
/// which include it. A later transaction in the same window adds at most
/// its own values, so its counts need one lookup each instead of one per
/// tail record (a binary search in a seen list that may be far from the
/// cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Distinct24h {
    /// The window's first hour; [`Distinct24h::NONE`]'s is `u32::MAX`.
    pub first_hour: u32,
    pub merchants: u32,
    pub countries: u32,
}

impl Distinct24h {
    /// Nothing known: every count is computed in full.
    pub const NONE: Distinct24h = Distinct24h {
        first_hour: u32::MAX,
        merchants: 0,
        countries: 0,
    };
}

/// The state of one user.
#[derive(Debug, Clone)]
pub(super) struct UserState {
    /// Newest transaction time held (ms), `i64::MIN` when new.
    pub newest: i64,
    pub minutes: Buckets<MinuteBucket>,
    pub hours: Buckets<HourBucket>,
    pub days: Buckets<DayBucket>,
    pub periods: Buckets<PeriodBucket>,
    /// Merchants of settled transactions, by id.
    pub merchants: Vec<Seen>,
    /// Countries of settled transactions, by id.
    pub countries: Vec<Seen>,
    pub tail: Tail<Recent>,
    pub settled: Settled,
    /// The distinct counts of the window of `newest`, when the newest
    /// transaction came strictly after every other one and nothing has
    /// since taken a value out of that window.
    pub distinct: Distinct24h,
}

impl Default for UserState {
    fn default() -> Self {
        UserState {
            newest: i64::MIN,
            minutes: Buckets::default(),
            hours: Buckets::default(),
            days: Buckets::default(),
            periods: Buckets::default(),
            merchants: Vec::new(),
            countries: Vec::new(),
            tail: Tail::default(),
            settled: Settled::default(),
            distinct: Distinct24h::NONE,
        }
    }
}

/// Which counter of an hour bucket a seen list keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeenKind {
    Merchant,
    Country,
}

impl SeenKind {
    fn counter(self, b: &mut HourBucket) -> &mut u32 {
        match self {
            SeenKind::Merchant => &mut b.merchants,
            SeenKind::Country => &mut b.countries,
        }
    }
}

impl UserState {
    /// Adds a transaction the state accepts, settles what the horizons
    /// allow and drops buckets no accepted transaction can look at.
    /// `given` is the distinct counts its features gave, if known: kept for
    /// the next transaction when this one is newer than every other.
    pub fn insert(&mut self, r: Recent, given: Option<Distinct24h>, h: &Horizons) {
        self.distinct = match given {
            Some(d) if r.time > self.newest => d,
            _ => Distinct24h::NONE,
        };
        self.newest = self.newest.max(r.time);
        let c = u64::from(r.cents);
        let m = self.minutes.at(Grain::Minute.of(r.time));
        m.count += 1;
        m.cents += c;
        let hour = self.hours.at(Grain::Hour.of(r.time));
        hour.count += 1;
        hour.cents += c;
        self.days.at(Grain::Day.of(r.time)).count += 1;
        let p = self.periods.at(Grain::Period.of(r.time));
        p.n += 1;
        p.sum += c;
        // c² < 2⁶⁴ for any u32 amount; only the sum needs 128 bits.
        p.squares += u128::from(c * c);
        self.tail.insert(r);
        self.settle(h);
        self.drop_old_buckets(h);
    }

    /// Settles, drops and forgets what no accepted transaction can need
    /// (eviction rounds): never changes a feature.
    pub fn maintain(&mut self, h: &Horizons) {
        self.distinct = Distinct24h::NONE;
        self.settle(h);
        self.drop_old_buckets(h);
        let first_day = h.keep_from(Window::THIRTY_DAYS);
        let recent = |s: &Seen| s.hour / 24 >= first_day;
        self.merchants.retain(recent);
        self.countries.retain(recent);
    }

    /// Whether nothing of the user can matter to an accepted transaction.
    pub fn idle(&self, h: &Horizons) -> bool {
        self.newest <= h.user()
    }

    /// Releases capacity slack (eviction rounds).
    pub fn shrink(&mut self) {
        self.minutes.shrink();
        self.hours.shrink();
        self.days.shrink();
        self.periods.shrink();
        shrink(&mut self.merchants);
        shrink(&mut self.countries);
        self.tail.shrink();
    }

    /// Heap bytes held (capacities).
    pub fn heap_bytes(&self) -> usize {
        self.minutes.heap_bytes()
            + self.hours.heap_bytes()
            + self.days.heap_bytes()
            + self.periods.heap_bytes()
            + (self.merchants.capacity() + self.countries.capacity()) * size_of::<Seen>()
            + self.tail.heap_bytes()
    }

    /// The hour a merchant or country was last seen in a settled
    /// transaction.
    pub fn seen_hour(list: &[Seen], id: u32) -> Option<u32> {
        list.binary_search_by_key(&id, |s| s.id)
            .ok()
            .map(|i| list[i].hour)
    }

    /// Marks the interned ids this user refers to.
    pub fn mark(&self, merchants: &mut [bool], countries: &mut [bool], devices: &mut [bool]) {
        let set = |table: &mut [bool], id: u32| {
            if let Some(slot) = table.get_mut(id as usize) {
                *slot = true;
            }
        };
        for r in self.tail.all() {
            set(merchants, r.merchant);
            set(countries, r.country);
            set(devices, r.device);
        }
        self.merchants.iter().for_each(|s| set(merchants, s.id));
        self.countries.iter().for_each(|s| set(countries, s.id));
        set(countries, self.settled.country);
        set(devices, self.settled.device);
    }

    /// Renumbers ids after an interner was compacted (`None`: unchanged).
    pub fn remap(
        &mut self,
        merchants: Option<&Remap>,
        countries: Option<&Remap>,
        devices: Option<&Remap>,
    ) {
        self.distinct = Distinct24h::NONE;
        let apply = |remap: Option<&Remap>, id: u32| remap.map_or(id, |r| r.apply(id));
        self.tail.update(|r| {
            r.merchant = apply(merchants, r.merchant);
            r.country = apply(countries, r.country);
            r.device = apply(devices, r.device);
        });
        if let Some(remap) = merchants {
            remap_seen(
                &mut self.merchants,
                &mut self.hours,
                remap,
                SeenKind::Merchant,
            );
        }
        if let Some(remap) = countries {
            remap_seen(
                &mut self.countries,
                &mut self.hours,
                remap,
                SeenKind::Country,
            );
        }
        self.settled.country = apply(countries, self.settled.country);
        self.settled.device = apply(devices, self.settled.device);
    }

    /// Moves settled transactions out of the tail into the seen lists and
    /// the summary.
    fn settle(&mut self, h: &Horizons) {
        let UserState {
            tail,
            merchants,
            countries,
            hours,
            settled,
            distinct,
            ..
        } = self;
        let mut forgot = false;
        tail.settle(h.accept, TAIL_CAP, |e| {
            let hour = Grain::Hour.of(e.time);
            forgot |= note_seen(merchants, hours, e.merchant, hour, SeenKind::Merchant);
            if e.country != MISSING {
                forgot |= note_seen(countries, hours, e.country, hour, SeenKind::Country);
            }
            settled.absorb(&e);
        });
        // A value forgotten (over the cap) may have been in the window.
        if forgot {
            *distinct = Distinct24h::NONE;
        }
    }

    fn drop_old_buckets(&mut self, h: &Horizons) {
        self.minutes.drop_before(h.keep_from(Window::ONE_HOUR));
        self.hours.drop_before(h.keep_from(Window::ONE_DAY));
        self.days.drop_before(h.keep_from(Window::SEVEN_DAYS));
        self.periods.drop_before(h.keep_from(Window::PROFILE));
    }
}

/// Records that `id` was seen at `hour` in a settled transaction, keeping
/// the hour buckets' counts of "last seen here" in step. An unknown value
/// ([`super::intern::UNKNOWN`] never reaches here: only stored ids do).
/// Whether a value was forgotten to keep the list under its cap.
fn note_seen(
    list: &mut Vec<Seen>,
    hours: &mut Buckets<HourBucket>,
    id: u32,
    hour: u32,
    kind: SeenKind,
) -> bool {
    match list.binary_search_by_key(&id, |s| s.id) {
        Ok(i) if list[i].hour < hour => {
            count_seen(hours, list[i].hour, kind, false);
            list[i].hour = hour;
            count_seen(hours, hour, kind, true);
            false
        }
        Ok(_) => false,
        Err(i) => {
            grow(list);
            list.insert(i, Seen { id, hour });
            count_seen(hours, hour, kind, true);
            let over = list.len() > SEEN_CAP;
            if over {
                forget_oldest(list, hours, kind);
            }
            over
        }
    }
}

/// Forgets the value seen longest ago (the lowest id among ties).
fn forget_oldest(list: &mut Vec<Seen>, hours: &mut Buckets<HourBucket>, kind: SeenKind) {
    let oldest = list
        .iter()
        .enumerate()
        .min_by_key(|(_, s)| (s.hour, s.id))
        .map(|(i, _)| i);
    if let Some(i) = oldest {
        count_seen(hours, list[i].hour, kind, false);
        list.remove(i);
    }
}

/// Adds or takes one from the "last seen here" count of an hour; a bucket
/// already dropped is outside every window, so there is nothing to count.
fn count_seen(hours: &mut Buckets<HourBucket>, hour: u32, kind: SeenKind, add: bool) {
    if let Some(b) = hours.get_mut(hour) {
        let c = kind.counter(b);
        *c = if add { *c + 1 } else { c.saturating_sub(1) };
    }
}

/// Renumbers a seen list; values merged into one id keep their newest
/// hour, forgotten ones ([`super::intern::UNKNOWN`]) are dropped, with the
/// hour counts kept in step.
fn remap_seen(
    list: &mut Vec<Seen>,
    hours: &mut Buckets<HourBucket>,
    remap: &Remap,
    kind: SeenKind,
) {
    let old = std::mem::take(list);
    for s in old {
        let id = remap.apply(s.id);
        if id == super::intern::UNKNOWN {
            count_seen(hours, s.hour, kind, false);
        } else {
            list.push(Seen { id, ..s });
        }
    }
    // Compaction keeps the old order of surviving ids, so the list stays sorted.
    debug_assert!(list.windows(2).all(|w| w[0].id < w[1].id));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::user_features::Query;
    use crate::features::windows::{DAY, HOUR, MINUTE};

    fn recent(time: i64, merchant: u32, country: u32, device: u32) -> Recent {
        Recent {
            time,
            cents: 100,
            merchant,
            country,
            device,
        }
    }

    fn horizons(newest: i64) -> Horizons {
        Horizons::new(newest, 10 * MINUTE, 7 * DAY)
    }

    #[test]
    fn settling_moves_transactions_from_the_tail_to_the_seen_lists() {
        let mut u = UserState::default();
        let t0 = 100 * DAY;
        u.insert(recent(t0, 7, 1, 9), None, &horizons(t0));
        u.insert(recent(t0 + HOUR, 8, 2, MISSING), None, &horizons(t0 + HOUR));
        // The first is more than 10 minutes older than the newest: settled.
        assert_eq!(u.tail.all().len(), 1);
        assert_eq!(
            UserState::seen_hour(&u.merchants, 7),
            Some(Grain::Hour.of(t0))
        );
        assert_eq!(UserState::seen_hour(&u.merchants, 8), None);
        assert_eq!(u.settled.time, t0);
        assert_eq!((u.settled.country, u.settled.device), (1, 9));
        u.insert(
            recent(t0 + 3 * HOUR, 7, 3, MISSING),
            None,
            &horizons(t0 + 3 * HOUR),
        );
        // Merchant 7 again, not settled yet: still counted at hour 0.
        let hour = |i: i64| Grain::Hour.of(t0 + i * HOUR);
        let counts: Vec<_> = u
            .hours
            .range(0, u32::MAX)
            .iter()
            .map(|b| (b.index, b.merchants))
            .collect();
        assert_eq!(counts, [(hour(0), 1), (hour(1), 1), (hour(3), 0)]);
        assert_eq!(u.settled.device, 9, "the newest with a device");
        assert_eq!(u.settled.country, 2);
    }

    #[test]
    fn simultaneous_settled_transactions_are_merged() {
        let mut s = Settled::default();
        s.absorb(&recent(5, 0, 1, 4));
        s.absorb(&recent(5, 0, 2, 4));
        assert_eq!((s.country, s.device), (MIXED, 4));
        s.absorb(&recent(6, 0, 3, MISSING));
        assert_eq!((s.country, s.device, s.device_time), (3, 4, 5));
    }

    #[test]
    fn the_tail_is_capped_and_buckets_expire() {
        let mut u = UserState::default();
        let t0 = 100 * DAY;
        for i in 0..100 {
            u.insert(
                recent(t0 + i * 1000, i as u32, 1, MISSING),
                None,
                &horizons(t0 + i * 1000),
            );
        }
        assert_eq!(u.tail.all().len(), TAIL_CAP);
        assert_eq!(u.merchants.len(), 100 - TAIL_CAP);
        let late = t0 + 40 * DAY;
        u.insert(recent(late, 1, 1, MISSING), None, &horizons(late));
        assert_eq!(u.minutes.len(), 1);
        assert_eq!(u.periods.len(), 1);
        u.maintain(&horizons(late));
        assert_eq!(u.merchants.len(), 0, "seen more than 30 days ago");
        assert!(!u.idle(&horizons(late)));
        assert!(u.idle(&horizons(late + 31 * DAY)));
    }

    #[test]
    fn kept_distinct_counts_match_a_full_count() {
        let mut u = UserState::default();
        let t0 = 100 * DAY;
        // New merchants past the seen cap within one day, so values in the
        // window are forgotten.
        for i in 0..SEEN_CAP as i64 + 40 {
            let t = t0 + i * MINUTE;
            let q = Query {
                t,
                cents: 100,
                merchant: i as u32,
                country: (i % 3) as u32,
                device: MISSING,
            };
            let kept = u.features(&q);
            let mut full = u.clone();
            full.distinct = Distinct24h::NONE;
            assert_eq!(kept, full.features(&q), "transaction {i}");
            let r = recent(t, q.merchant, q.country, MISSING);
            u.insert(r, Some(kept.distinct), &horizons(t));
        }
    }

    #[test]
    fn the_seen_lists_are_capped() {
        let mut u = UserState::default();
        let t0 = 100 * DAY;
        let n = SEEN_CAP as i64 + 10;
        for i in 0..n {
            let t = t0 + i * MINUTE;
            u.insert(
                recent(t, i as u32, MISSING, MISSING),
                None,
                &horizons(t + HOUR),
            );
        }
        assert_eq!(u.merchants.len(), SEEN_CAP);
        assert_eq!(
            UserState::seen_hour(&u.merchants, 0),
            None,
            "the oldest went"
        );
        let counted: u32 = u.hours.range(0, u32::MAX).iter().map(|b| b.merchants).sum();
        assert_eq!(counted as usize, SEEN_CAP);
    }
}

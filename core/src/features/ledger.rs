//! A user's transactions as compact (time, amount) columns, sorted by time:
//! the exact per-event history the user windows are computed from.
//!
//! Each transaction costs 6 bytes: its time as u32 milliseconds after the
//! owner's base time, and its amount in cents as a u16 code. Most card
//! amounts are below $655.35; a larger one stores [`ESCAPE`] and its cents
//! go, in transaction order, after the times in the same u32 vector, so a
//! typical user pays 6 instead of 8 bytes per event, one vector header less,
//! and nobody loses precision. Columns rather than records so that window
//! bounds are binary searches over plain u32s and the moments a loop over
//! u16s.

use std::ops::Range;

/// The amount code meaning "the cents are in the side list".
const ESCAPE: u16 = u16::MAX;

/// Count, sum and sum of squares of amounts in cents, exact in integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Moments {
    pub n: u64,
    pub sum: u64,
    pub squares: u128,
}

impl Moments {
    /// Adds one amount.
    #[cfg(test)]
    pub fn add(&mut self, cents: u32) {
        let c = u64::from(cents);
        self.n += 1;
        self.sum += c;
        // c² < 2⁶⁴ for any u32, so only the accumulation needs 128 bits.
        self.squares += u128::from(c * c);
    }
}

/// Sorted compact transactions of one user.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// The time offsets (sorted, ties in arrival order) of the `codes.len()`
    /// transactions, then the cents of those whose code is [`ESCAPE`].
    words: Vec<u32>,
    /// Amount codes, one per transaction: cents, or [`ESCAPE`].
    codes: Vec<u16>,
}

impl Ledger {
    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are no transactions.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Time offset of transaction `i`; `None` past the end.
    pub fn time(&self, i: usize) -> Option<u32> {
        self.times().get(i).copied()
    }

    /// Time offset of the newest transaction.
    pub fn last_time(&self) -> Option<u32> {
        self.times().last().copied()
    }

    /// Number of transactions with time ≤ `bound`. The bound is an i64
    /// offset so that callers can pass instants before the base or far
    /// after it.
    pub fn count_le(&self, bound: i64) -> usize {
        if bound < 0 {
            return 0;
        }
        let times = self.times();
        match (u32::try_from(bound), times.last()) {
            // The common case, a transaction after all stored ones.
            (Ok(b), Some(&last)) if last > b => times.partition_point(|&t| t <= b),
            _ => times.len(),
        }
    }

    /// Inserts a transaction at `pos` (the caller keeps the order).
    pub fn insert(&mut self, pos: usize, time: u32, cents: u32) {
        let pos = pos.min(self.len());
        let code = match u16::try_from(cents) {
            Ok(c) if c != ESCAPE => c,
            _ => ESCAPE,
        };
        if code == ESCAPE {
            // Its rank among the large amounts, which start after the times.
            let at = self.len() + self.escapes_in(0..pos);
            grow(&mut self.words);
            self.words.insert(at, cents);
        }
        grow(&mut self.words);
        grow(&mut self.codes);
        self.words.insert(pos, time);
        self.codes.insert(pos, code);
    }

    /// Removes the `k` oldest transactions.
    pub fn drain_front(&mut self, k: usize) {
        let k = k.min(self.len());
        let large = self.escapes_in(0..k);
        let n = self.len();
        self.words.drain(n..n + large);
        self.words.drain(..k);
        self.codes.drain(..k);
    }

    /// Sum of the cents of the transactions in `range`.
    pub fn sum(&self, range: Range<usize>) -> u64 {
        self.moments(range).sum
    }

    /// Count, sum and sum of squares of the cents in `range`.
    pub fn moments(&self, range: Range<usize>) -> Moments {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        let codes = &self.codes[start..end];
        // Sum the codes as they are, escapes included, in a loop simple
        // enough to vectorise (code² < 2³², so u64 holds 2³² of them)...
        let (mut sum, mut squares) = (0u64, 0u64);
        for &code in codes {
            let c = u64::from(code);
            sum += c;
            squares += c * c;
        }
        let mut m = Moments {
            n: codes.len() as u64,
            sum,
            squares: u128::from(squares),
        };
        if self.large().is_empty() {
            return m;
        }
        // ...then swap each escape code for its real amount. Ranks are
        // counted from the end: windows end at or near the newest record.
        let escapes = codes.iter().filter(|&&c| c == ESCAPE).count();
        let last = self
            .large()
            .len()
            .saturating_sub(self.escapes_in(end..self.len()));
        let first = last.saturating_sub(escapes);
        let escape = u64::from(ESCAPE);
        for &cents in self.large().get(first..last).unwrap_or(&[]) {
            let c = u64::from(cents);
            m.sum = m.sum - escape + c;
            m.squares = m.squares - u128::from(escape * escape) + u128::from(c * c);
        }
        m
    }

    /// Adds `delta` to every time (the base moved back by `delta`). The
    /// caller guarantees the times stay within u32.
    pub fn shift_later(&mut self, delta: u32) {
        let n = self.len();
        for t in &mut self.words[..n] {
            *t = t.saturating_add(delta);
        }
    }

    /// Subtracts `delta` from every time (the base moved forward by
    /// `delta`). The caller guarantees no time is below `delta`.
    pub fn shift_earlier(&mut self, delta: u32) {
        let n = self.len();
        for t in &mut self.words[..n] {
            *t = t.saturating_sub(delta);
        }
    }

    /// Releases capacity slack (see [`shrink`]).
    pub fn shrink(&mut self) {
        shrink(&mut self.words);
        shrink(&mut self.codes);
    }

    /// Heap bytes held (capacity, not length).
    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * size_of::<u32>() + self.codes.capacity() * size_of::<u16>()
    }

    /// The time offsets, one per transaction.
    fn times(&self) -> &[u32] {
        &self.words[..self.len().min(self.words.len())]
    }

    /// The cents of the escaped amounts, in transaction order.
    fn large(&self) -> &[u32] {
        self.words.get(self.len()..).unwrap_or(&[])
    }

    /// Number of escaped amounts among the transactions in `range`.
    fn escapes_in(&self, range: Range<usize>) -> usize {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        self.codes[start..end]
            .iter()
            .filter(|&&c| c == ESCAPE)
            .count()
    }
}

/// Room [`grow`] adds when a vector of `len` elements of `T` is full: an
/// eighth plus 16 bytes' worth, instead of the doubling of `Vec::push`,
/// because per-user vectors are small and many and their slack would
/// otherwise be a large share of the memory. The 16 bytes keep small
/// vectors from reallocating on every insert.
fn growth<T>(len: usize) -> usize {
    len / 8 + (16 / size_of::<T>().max(1)).max(1)
}

/// Makes room for one more element (see [`growth`]).
pub(super) fn grow<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact(growth::<T>(v.len()));
    }
}

/// Shrinks `v` when its slack exceeds what [`grow`] adds, which only
/// happens after elements were removed: shrinking less would make the
/// next insert grow it again, reallocating on every eviction round.
pub(super) fn shrink<T>(v: &mut Vec<T>) {
    if v.capacity() - v.len() > growth::<T>(v.len()) {
        v.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(entries: &[(u32, u32)]) -> Ledger {
        let mut l = Ledger::default();
        for &(t, c) in entries {
            l.insert(l.count_le(i64::from(t)), t, c);
        }
        l
    }

    #[test]
    fn large_amounts_keep_their_order_through_inserts_and_drains() {
        // Inserted out of order: small, large and boundary amounts.
        let mut l = ledger(&[(50, 70_000), (10, 5), (30, 65_535), (20, 65_534), (40, 1)]);
        l.insert(0, 0, u32::MAX);
        let all = l.len();
        let big = u64::from(u32::MAX);
        assert_eq!(l.sum(0..all), 5 + 65_534 + 65_535 + 1 + 70_000 + big);
        assert_eq!(l.sum(3..all), 65_535 + 1 + 70_000);
        assert_eq!(l.sum(4..5), 1);
        assert_eq!(l.sum(5..all), 70_000);
        assert_eq!(l.sum(1..3), 5 + 65_534);
        l.drain_front(3);
        assert_eq!(l.len(), 3);
        assert_eq!(l.time(0), Some(30));
        let m = l.moments(0..3);
        assert_eq!((m.n, m.sum), (3, 65_535 + 1 + 70_000));
        assert_eq!(m.squares, 65_535u128.pow(2) + 1 + 70_000u128.pow(2));
    }

    #[test]
    fn moments_of_the_largest_amounts_are_exact() {
        let l = ledger(&[(1, u32::MAX), (2, u32::MAX), (3, 65_534)]);
        let m = l.moments(0..3);
        assert_eq!(m.sum, 2 * u64::from(u32::MAX) + 65_534);
        assert_eq!(
            m.squares,
            2 * u128::from(u32::MAX).pow(2) + 65_534u128.pow(2)
        );
        let mut by_hand = Moments::default();
        [u32::MAX, u32::MAX, 65_534]
            .iter()
            .for_each(|&c| by_hand.add(c));
        assert_eq!(m, by_hand);
    }

    #[test]
    fn count_le_handles_bounds_outside_u32() {
        let l = ledger(&[(10, 1), (10, 2), (20, 3)]);
        assert_eq!(l.count_le(-5), 0);
        assert_eq!(l.count_le(9), 0);
        assert_eq!(l.count_le(10), 2);
        assert_eq!(l.count_le(20), 3);
        assert_eq!(l.count_le(i64::MAX), 3);
    }

    #[test]
    fn shifting_moves_every_time() {
        let mut l = ledger(&[(10, 1), (20, 2)]);
        l.shift_later(5);
        assert_eq!((l.time(0), l.last_time()), (Some(15), Some(25)));
        l.shift_earlier(15);
        assert_eq!((l.time(0), l.last_time()), (Some(0), Some(10)));
    }

    #[test]
    fn growth_leaves_little_slack() {
        let mut l = Ledger::default();
        for t in 0..1000 {
            l.insert(l.len(), t, 100);
        }
        assert!(l.words.capacity() <= 1000 + growth::<u32>(1000));
        l.drain_front(900);
        l.shrink();
        assert!(l.words.capacity() <= 100 + growth::<u32>(100));
        assert_eq!(
            l.heap_bytes(),
            l.words.capacity() * 4 + l.codes.capacity() * 2
        );
    }
}

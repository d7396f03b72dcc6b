//! Time buckets: per-bucket aggregates of an entity's transactions, sparse
//! (only buckets that have transactions) and sorted by bucket index.
//!
//! An entity keeps at most as many buckets as its windows span, whatever
//! its volume: a card with 100,000 transactions a day has at most 24 hour
//! buckets, as one with three has three.

use super::memory::{grow, shrink};

/// One bucket's aggregate, which knows its own bucket index (so that the
/// layout has no padding between index and aggregate).
pub(super) trait Bucket: Copy {
    /// An empty bucket with this index.
    fn empty(index: u32) -> Self;
    /// The bucket index (whole grains since the epoch).
    fn index(&self) -> u32;
}

/// The non-empty buckets of one entity, oldest first.
#[derive(Debug, Clone)]
pub(super) struct Buckets<B> {
    entries: Vec<B>,
}

impl<B> Default for Buckets<B> {
    fn default() -> Self {
        Buckets {
            entries: Vec::new(),
        }
    }
}

impl<B: Bucket> Buckets<B> {
    /// The bucket `index` for changes, created empty when missing. In-order
    /// streams only ever touch the newest bucket or append one.
    pub fn at(&mut self, index: u32) -> &mut B {
        let pos = match self.entries.last() {
            Some(last) if last.index() == index => self.entries.len() - 1,
            Some(last) if last.index() > index => {
                let pos = self.entries.partition_point(|b| b.index() < index);
                if self.entries.get(pos).is_none_or(|b| b.index() != index) {
                    grow(&mut self.entries);
                    self.entries.insert(pos, B::empty(index));
                }
                pos
            }
            _ => {
                grow(&mut self.entries);
                self.entries.push(B::empty(index));
                self.entries.len() - 1
            }
        };
        &mut self.entries[pos]
    }

    /// The bucket `index` for changes, if it exists.
    pub fn get_mut(&mut self, index: u32) -> Option<&mut B> {
        let pos = self.entries.partition_point(|b| b.index() < index);
        self.entries.get_mut(pos).filter(|b| b.index() == index)
    }

    /// The buckets with index in `first..=last`.
    pub fn range(&self, first: u32, last: u32) -> &[B] {
        let from = self.start_of(first);
        let to = self.entries.partition_point(|b| b.index() <= last);
        self.entries.get(from..to).unwrap_or(&[])
    }

    /// Drops the buckets before `first`.
    pub fn drop_before(&mut self, first: u32) {
        if self.entries.first().is_some_and(|b| b.index() < first) {
            let n = self.start_of(first);
            self.entries.drain(..n);
        }
    }

    /// Whether there is no bucket.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of buckets.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Releases capacity slack.
    pub fn shrink(&mut self) {
        shrink(&mut self.entries);
    }

    /// Heap bytes held (capacity).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * size_of::<B>()
    }

    /// Position of the first bucket with index ≥ `first`; windows start near
    /// the oldest retained bucket, so look there before searching.
    fn start_of(&self, first: u32) -> usize {
        match self.entries.first() {
            Some(b) if b.index() >= first => 0,
            _ => self.entries.partition_point(|b| b.index() < first),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Count {
        index: u32,
        n: u32,
    }

    impl Bucket for Count {
        fn empty(index: u32) -> Self {
            Count { index, n: 0 }
        }
        fn index(&self) -> u32 {
            self.index
        }
    }

    #[test]
    fn buckets_stay_sorted_whatever_the_order() {
        let mut b: Buckets<Count> = Buckets::default();
        for i in [5, 5, 7, 3, 7, 6, 1] {
            b.at(i).n += 1;
        }
        let all: Vec<_> = b.range(0, 100).iter().map(|c| (c.index, c.n)).collect();
        assert_eq!(all, [(1, 1), (3, 1), (5, 2), (6, 1), (7, 2)]);
        assert_eq!(b.range(4, 6).len(), 2);
        assert!(b.range(8, 9).is_empty());
        assert!(b.get_mut(4).is_none());
        b.get_mut(3).unwrap().n = 9;
        b.drop_before(4);
        assert_eq!(b.range(0, 100).first().map(|c| c.index), Some(5));
        assert_eq!(b.len(), 3);
        b.drop_before(8);
        assert!(b.is_empty());
    }
}

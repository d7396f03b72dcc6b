//! Memory of the feature state: how its small vectors grow and shrink, and
//! what each part of it holds.

use serde::Serialize;

/// Approximate bytes of the online feature state, by part: inline sizes
/// plus heap capacities (not allocator overhead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct StateBytes {
    /// User states, the user id map and the id strings.
    pub users: usize,
    /// Merchant states (buckets and recent transactions).
    pub merchants: usize,
    /// The merchants' recent fraud labels (those a late transaction may
    /// not see yet).
    pub labels: usize,
    /// The merchant, country and device name tables.
    pub interners: usize,
}

impl StateBytes {
    /// All parts together.
    pub fn total(&self) -> usize {
        self.users + self.merchants + self.labels + self.interners
    }

    /// The parts with their names, for metrics labels.
    pub fn parts(&self) -> [(&'static str, usize); 4] {
        [
            ("users", self.users),
            ("merchants", self.merchants),
            ("labels", self.labels),
            ("interners", self.interners),
        ]
    }
}

/// Room [`grow`] adds when a vector of `len` elements of `T` is full: an
/// eighth plus 16 bytes' worth, instead of the doubling of `Vec::push`,
/// because per-entity vectors are small and many and their slack would
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
/// next insert grow it again, reallocating on every eviction round. An
/// empty vector gives its memory back: most users' minute buckets and
/// tails are empty between their transactions.
pub(super) fn shrink<T>(v: &mut Vec<T>) {
    if v.is_empty() || v.capacity() - v.len() > growth::<T>(v.len()) {
        v.shrink_to_fit();
    }
}

/// Bytes of a std hash table's buckets with this capacity (entry plus
/// control byte): it keeps at most 7/8 of a power-of-two bucket count.
pub(super) fn table_bytes(capacity: usize, entry: usize) -> usize {
    if capacity == 0 {
        0
    } else {
        (capacity * 8 / 7).next_power_of_two() * (entry + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_leaves_little_slack() {
        let mut v: Vec<u32> = Vec::new();
        for i in 0..1000 {
            grow(&mut v);
            v.push(i);
        }
        assert!(v.capacity() <= 1000 + growth::<u32>(1000));
        v.truncate(100);
        shrink(&mut v);
        assert!(v.capacity() <= 100 + growth::<u32>(100));
    }

    #[test]
    fn totals_add_the_parts() {
        let b = StateBytes {
            users: 1,
            merchants: 2,
            labels: 3,
            interners: 4,
        };
        assert_eq!(b.total(), 10);
        assert_eq!(b.parts().iter().map(|p| p.1).sum::<usize>(), 10);
    }
}

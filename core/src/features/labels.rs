//! The label book: which merchant and time each recent transaction has, so
//! that a fraud label (which names only the transaction) can be attached.

use uuid::Uuid;

use super::hash::FastMap;
use super::intern::Remap;

/// Where a transaction is, and since when it is known to be fraud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    merchant: u32,
    time: i64,
    /// Earliest fraud labeled_at seen, [`UNLABELLED`] while there is none
    /// (a sentinel rather than an `Option` keeps the entry at 24 bytes).
    labeled_at: i64,
}

/// `labeled_at` of a transaction without a fraud label.
const UNLABELLED: i64 = i64::MAX;

/// A fraud label to apply to a merchant's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Attachment {
    pub merchant: u32,
    pub time: i64,
    pub labeled_at: i64,
    /// The later labeled_at this label replaces, if the transaction had one.
    pub replaces: Option<i64>,
}

/// Transactions that labels can still matter for, by id.
#[derive(Debug)]
pub(super) struct LabelBook {
    entries: FastMap<Uuid, Entry>,
    /// Oldest transaction time in `entries` (`i64::MAX` when empty).
    oldest: i64,
    /// Horizon of the last sweep.
    swept: i64,
}

impl Default for LabelBook {
    fn default() -> Self {
        LabelBook {
            entries: FastMap::default(),
            oldest: i64::MAX,
            swept: i64::MIN,
        }
    }
}

impl LabelBook {
    /// Whether the transaction is remembered.
    pub fn contains(&self, id: &Uuid) -> bool {
        self.entries.contains_key(id)
    }

    /// Remembers a stored transaction.
    pub fn attach(&mut self, id: Uuid, merchant: u32, time: i64) {
        self.oldest = self.oldest.min(time);
        self.entries.insert(
            id,
            Entry {
                merchant,
                time,
                labeled_at: UNLABELLED,
            },
        );
    }

    /// Applies a fraud label known since `labeled_at`: what to record at the
    /// merchant, or `None` when the transaction is unknown or a label known
    /// as early or earlier was already applied (so repeats change nothing).
    pub fn label(&mut self, id: &Uuid, labeled_at: i64) -> Option<Attachment> {
        let entry = self.entries.get_mut(id)?;
        if entry.labeled_at <= labeled_at {
            return None;
        }
        let previous = std::mem::replace(&mut entry.labeled_at, labeled_at);
        let replaces = (previous != UNLABELLED).then_some(previous);
        Some(Attachment {
            merchant: entry.merchant,
            time: entry.time,
            labeled_at,
            replaces,
        })
    }

    /// Forgets transactions at or before `horizon`: their merchant windows
    /// are over, so their labels can no longer change any feature. A sweep
    /// reads the whole table, so it only runs once something expired and
    /// the horizon moved by `every` since the last one: the book then holds
    /// at most `every` more than it must.
    pub fn maintain(&mut self, horizon: i64, every: i64) {
        if horizon < self.oldest || horizon.saturating_sub(self.swept) < every {
            return;
        }
        self.swept = horizon;
        self.entries.retain(|_, e| e.time > horizon);
        self.oldest = self
            .entries
            .values()
            .map(|e| e.time)
            .min()
            .unwrap_or(i64::MAX);
        if self.entries.capacity() > 4 * self.entries.len() + 1024 {
            self.entries.shrink_to_fit();
        }
    }

    /// Renumbers merchants after the merchant interner was compacted.
    pub fn remap(&mut self, remap: &Remap) {
        for e in self.entries.values_mut() {
            e.merchant = remap.apply(e.merchant);
        }
    }

    /// Number of transactions remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Approximate bytes of the table at capacity (bucket + control byte).
    pub fn approx_bytes(&self) -> usize {
        self.entries.capacity() * (size_of::<(Uuid, Entry)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_attach_once_and_earlier_ones_win() {
        let mut book = LabelBook::default();
        let id = Uuid::from_u128(1);
        book.attach(id, 7, 100);
        assert_eq!(book.label(&Uuid::from_u128(2), 200), None);
        let first = book.label(&id, 200).unwrap();
        assert_eq!((first.merchant, first.time, first.replaces), (7, 100, None));
        assert_eq!(book.label(&id, 200), None, "the same label twice");
        assert_eq!(book.label(&id, 300), None, "a later label adds nothing");
        let earlier = book.label(&id, 150).unwrap();
        assert_eq!(earlier.replaces, Some(200));
        book.maintain(99, 1);
        assert_eq!(book.len(), 1, "not expired yet");
        book.maintain(100, 1_000);
        assert_eq!(book.len(), 0, "expired: the first sweep runs at once");
        assert_eq!(book.label(&id, 10), None);
    }
}

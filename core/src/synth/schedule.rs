//! Future events waiting for their time: scenario transactions and labels.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::scenario::Scenario;
use crate::transaction::Transaction;

/// Something scheduled to come out of the generator later.
pub(crate) enum Pending {
    /// A fraudulent transaction planned by a scenario.
    Fraud {
        transaction: Transaction,
        scenario: Scenario,
    },
    /// The chargeback that reveals a fraudulent transaction.
    Chargeback { transaction_id: Uuid },
}

struct Entry {
    time: DateTime<Utc>,
    /// Insertion order, so that events at the same time keep a stable order.
    seq: u64,
    item: Pending,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// A min-heap of pending events by time, then by insertion order.
#[derive(Default)]
pub(crate) struct Schedule {
    heap: BinaryHeap<Reverse<Entry>>,
    inserted: u64,
}

impl Schedule {
    /// Schedules `item` at `time`.
    pub fn push(&mut self, time: DateTime<Utc>, item: Pending) {
        self.heap.push(Reverse(Entry {
            time,
            seq: self.inserted,
            item,
        }));
        self.inserted += 1;
    }

    /// The time of the earliest pending event.
    pub fn next_time(&self) -> Option<DateTime<Utc>> {
        self.heap.peek().map(|Reverse(e)| e.time)
    }

    /// Removes and returns the earliest pending event with its time.
    pub fn pop(&mut self) -> Option<(DateTime<Utc>, Pending)> {
        self.heap.pop().map(|Reverse(e)| (e.time, e.item))
    }

    /// How many events are pending.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_insertion_order() {
        let mut s = Schedule::default();
        let t = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        let id = |n| Pending::Chargeback {
            transaction_id: Uuid::from_u128(n),
        };
        s.push(t(5), id(1));
        s.push(t(2), id(2));
        s.push(t(5), id(3));
        s.push(t(1), id(4));
        assert_eq!(s.next_time(), Some(t(1)));
        let order: Vec<u128> = std::iter::from_fn(|| s.pop())
            .map(|(_, p)| match p {
                Pending::Chargeback { transaction_id } => transaction_id.as_u128(),
                Pending::Fraud { .. } => 0,
            })
            .collect();
        assert_eq!(order, vec![4, 2, 1, 3]);
        assert_eq!(s.len(), 0);
    }
}

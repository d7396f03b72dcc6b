//! Hands the feature engine the messages of all its partitions merged in
//! event time, not in arrival order.
//!
//! The feature state is shared by every partition a process consumes: a
//! merchant's transactions come from all of them, and lateness is measured
//! against the newest event seen. Partitions are consumed unevenly (a
//! backfill, a partition catching up after a crash), so in arrival order a
//! transaction of a lagging partition would come after later ones of other
//! partitions: merchant counts would miss it and, beyond the allowed
//! lateness, its own features would be computed as a late event's.
//!
//! So, like Kafka Streams' stream-time synchronisation, a message is
//! released only once no partition can still deliver an older one: every
//! partition that is *holding* — behind the broker (lag > 0 or unknown)
//! and heard from within [`HOLD_LIMIT`] — has delivered a message at least
//! as new. Among released messages the order is (time, transactions before
//! labels), the offline path's order. A partition that is caught up or
//! silent does not hold the others back, so live traffic is not delayed
//! by idle partitions. Per partition, messages leave in offset order, so
//! committing the released ones never skips an unreleased one.
//!
//! The event time is the `vigil-event-time` header, which the publisher
//! sets to the transaction's timestamp (a label's `labeled_at`); for other
//! producers it is the record's timestamp (their create time).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::consumer::Received;

/// How long a partition that is behind but silent may hold the others
/// back (the lag comes from librdkafka's statistics, once a second).
pub const HOLD_LIMIT: Duration = Duration::from_secs(2);

type PartitionKey = (String, i32);

/// One partition's messages not yet released, and what it delivered last.
#[derive(Debug)]
struct PartitionQueue {
    waiting: VecDeque<Received>,
    /// Time of the newest message received from this partition.
    newest: Option<i64>,
    /// When a message last arrived (or the partition was assigned).
    heard_at: Instant,
}

/// The merge over the partitions a consumer owns.
#[derive(Debug, Default)]
pub struct EventTimeMerge {
    partitions: BTreeMap<PartitionKey, PartitionQueue>,
    /// The labels topic: its messages go after transactions of equal time.
    labels_topic: String,
}

impl EventTimeMerge {
    pub fn new(labels_topic: &str) -> Self {
        EventTimeMerge {
            partitions: BTreeMap::new(),
            labels_topic: labels_topic.to_owned(),
        }
    }

    /// Keeps the owned partitions (a new one starts silent-but-heard, so it
    /// may hold the others for up to [`HOLD_LIMIT`]) and drops what was
    /// waiting from the others: their new owner resumes from the committed
    /// offset, which is before any unreleased message.
    pub fn assign(&mut self, owned: &BTreeSet<PartitionKey>, now: Instant) {
        self.partitions.retain(|key, _| owned.contains(key));
        for key in owned {
            self.partitions
                .entry(key.clone())
                .or_insert_with(|| PartitionQueue {
                    waiting: VecDeque::new(),
                    newest: None,
                    heard_at: now,
                });
        }
    }

    /// Queues messages as they arrived.
    pub fn push(&mut self, batch: Vec<Received>, now: Instant) {
        for m in batch {
            let queue = self
                .partitions
                .entry((m.topic.clone(), m.partition))
                .or_insert_with(|| PartitionQueue {
                    waiting: VecDeque::new(),
                    newest: None,
                    heard_at: now,
                });
            queue.newest = Some(queue.newest.map_or(m.time, |t| t.max(m.time)));
            queue.heard_at = now;
            queue.waiting.push_back(m);
        }
    }

    /// Whether messages are waiting.
    pub fn is_empty(&self) -> bool {
        self.partitions.values().all(|q| q.waiting.is_empty())
    }

    /// The messages no holding partition can precede, in release order.
    /// `lag` answers a partition's lag as last reported (None: unknown).
    pub fn release(
        &mut self,
        lag: impl Fn(&str, i32) -> Option<i64>,
        now: Instant,
    ) -> Vec<Received> {
        let bound = self
            .partitions
            .iter()
            .filter(|((topic, partition), q)| {
                lag(topic, *partition) != Some(0) && now.duration_since(q.heard_at) < HOLD_LIMIT
            })
            .map(|(_, q)| q.newest.unwrap_or(i64::MIN))
            .min()
            .unwrap_or(i64::MAX);
        let mut released = Vec::new();
        loop {
            let next = self
                .partitions
                .iter()
                .filter_map(|(key, q)| q.waiting.front().map(|m| (self.order(m), key)))
                .min();
            let Some(((time, _), key)) = next else { break };
            if time > bound {
                break;
            }
            let key = key.clone();
            released.extend(
                self.partitions
                    .get_mut(&key)
                    .and_then(|q| q.waiting.pop_front()),
            );
        }
        released
    }

    /// (time, transactions before labels).
    fn order(&self, m: &Received) -> (i64, u8) {
        (m.time, u8::from(m.topic == self.labels_topic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(topic: &str, partition: i32, offset: i64, time: i64) -> Received {
        Received {
            topic: topic.to_owned(),
            partition,
            offset,
            time,
            key: None,
            payload: Vec::new(),
        }
    }

    fn released(merge: &mut EventTimeMerge, lag: i64, now: Instant) -> Vec<(i32, i64)> {
        merge
            .release(|_, _| Some(lag), now)
            .into_iter()
            .map(|m| (m.partition, m.time))
            .collect()
    }

    fn owned(keys: &[(&str, i32)]) -> BTreeSet<PartitionKey> {
        keys.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect()
    }

    #[test]
    fn a_partition_that_is_behind_holds_newer_messages_of_the_others() {
        let now = Instant::now();
        let mut merge = EventTimeMerge::new("labels");
        merge.assign(&owned(&[("tx", 0), ("tx", 1)]), now);
        // Partition 0 races ahead; partition 1 has only delivered time 10.
        merge.push(
            vec![
                message("tx", 0, 0, 5),
                message("tx", 0, 1, 20),
                message("tx", 0, 2, 30),
            ],
            now,
        );
        merge.push(vec![message("tx", 1, 0, 10)], now);
        assert_eq!(released(&mut merge, 100, now), [(0, 5), (1, 10)]);
        // Partition 1 catches up past 20: 20 goes, 30 waits for it.
        merge.push(vec![message("tx", 1, 1, 25)], now);
        assert_eq!(released(&mut merge, 100, now), [(0, 20), (1, 25)]);
        assert!(!merge.is_empty());
        // Both caught up (lag 0): everything goes.
        assert_eq!(released(&mut merge, 0, now), [(0, 30)]);
        assert!(merge.is_empty());
    }

    #[test]
    fn a_silent_partition_stops_holding_after_the_limit() {
        let now = Instant::now();
        let mut merge = EventTimeMerge::new("labels");
        merge.assign(&owned(&[("tx", 0), ("tx", 1)]), now);
        merge.push(vec![message("tx", 0, 0, 50)], now);
        // Partition 1 never delivered and its lag is unknown.
        assert!(merge.release(|_, _| None, now).is_empty());
        let later = now + HOLD_LIMIT;
        assert_eq!(merge.release(|_, _| None, later).len(), 1);
    }

    #[test]
    fn equal_times_put_transactions_before_labels_and_keep_offset_order() {
        let now = Instant::now();
        let mut merge = EventTimeMerge::new("labels");
        merge.assign(&owned(&[("tx", 0), ("labels", 0)]), now);
        merge.push(vec![message("labels", 0, 0, 10)], now);
        // Out of time order inside a partition: offset order wins, so the
        // committed offset never passes an unreleased message.
        merge.push(
            vec![
                message("tx", 0, 0, 10),
                message("tx", 0, 1, 12),
                message("tx", 0, 2, 11),
            ],
            now,
        );
        let order: Vec<(String, i64)> = merge
            .release(|_, _| Some(0), now)
            .into_iter()
            .map(|m| (m.topic, m.offset))
            .collect();
        let expected = [("tx", 0), ("labels", 0), ("tx", 1), ("tx", 2)];
        assert_eq!(order, expected.map(|(t, o)| (t.to_owned(), o)).to_vec());
    }

    #[test]
    fn revoked_partitions_drop_what_was_waiting() {
        let now = Instant::now();
        let mut merge = EventTimeMerge::new("labels");
        merge.assign(&owned(&[("tx", 0), ("tx", 1)]), now);
        merge.push(vec![message("tx", 0, 0, 5), message("tx", 1, 0, 1)], now);
        merge.assign(&owned(&[("tx", 0)]), now);
        assert_eq!(released(&mut merge, 0, now), [(0, 5)]);
    }
}

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
//! So, like Kafka Streams' stream-time synchronisation (KIP-695), a
//! message is released only once no partition can still deliver an older
//! one: every partition that is *holding* has delivered a message at least
//! as new. A partition holds
//! - while it is behind the broker (the last statistics put its high
//!   watermark past what it has delivered): however long the broker takes
//!   to serve what it has not fetched (a slow broker must not reorder a
//!   backlog), and for up to [`QUEUED_LIMIT`] of silence once all is
//!   fetched (fetched messages arrive within that; a transaction marker
//!   after the last record is never delivered and must not hold for good);
//! - otherwise, unless it had delivered and committed everything at the
//!   last report, for [`HOLD_LIMIT`] after it was last heard from: the
//!   report is up to a second old, and messages may be on their way.
//!
//! So an idle partition does not delay live traffic. Among released
//! messages the order is (time, transactions before labels), the offline
//! path's order. Per partition, messages leave in offset order, so
//! committing the released ones never skips an unreleased one.
//!
//! Memory stays bounded: a partition with more than [`PAUSE_AT`] messages
//! waiting is paused (its fetching stops) until fewer than [`RESUME_AT`]
//! wait. That never stalls the merge: the partition holding everything
//! back is the one with the oldest newest message, and all of its own
//! waiting messages are at most that old, so they are released.
//!
//! The event time is the `vigil-event-time` header, which the publisher
//! sets to the transaction's timestamp (a label's `labeled_at`); for other
//! producers it is the record's timestamp (their create time).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::consumer::Received;
use super::status::PartitionProgress;

/// How long a partition that is not known to be behind may hold the
/// others back after its last message (librdkafka reports once a second).
pub const HOLD_LIMIT: Duration = Duration::from_secs(2);

/// How long a partition that fetched everything the broker had but did
/// not deliver it may stay silent and still hold the others back.
pub const QUEUED_LIMIT: Duration = Duration::from_secs(10);

/// Waiting messages of one partition above which its fetching pauses.
pub const PAUSE_AT: usize = 5_000;

/// Waiting messages of a paused partition below which it resumes.
pub const RESUME_AT: usize = PAUSE_AT / 2;

type PartitionKey = (String, i32);

/// One partition's messages not yet released, and what it delivered last.
#[derive(Debug)]
struct PartitionQueue {
    waiting: VecDeque<Received>,
    /// Time of the newest message received from this partition.
    newest: Option<i64>,
    /// Offset after the last message received.
    next_offset: Option<i64>,
    /// When a message last arrived (or the partition was assigned).
    heard_at: Instant,
    /// Fetching paused because too many messages wait.
    paused: bool,
}

impl PartitionQueue {
    fn new(now: Instant) -> Self {
        PartitionQueue {
            waiting: VecDeque::new(),
            newest: None,
            next_offset: None,
            heard_at: now,
            paused: false,
        }
    }

    /// Whether this partition may still deliver messages older than those
    /// waiting elsewhere.
    fn holding(&self, report: Option<&PartitionProgress>, now: Instant) -> bool {
        let silent = now.duration_since(self.heard_at);
        let delivered = self.next_offset.unwrap_or(0);
        match report {
            // Messages were on the broker that it had not delivered yet:
            // held however long the broker takes to serve them, and for at
            // most QUEUED_LIMIT once fetched (then only a transaction
            // marker, which is never delivered, can be left).
            Some(r) if r.high_watermark > delivered.max(r.received) => {
                r.high_watermark > r.fetched || silent < QUEUED_LIMIT
            }
            // All it had was delivered and committed.
            Some(r) if r.lag == 0 => false,
            // Caught up as of a report up to a second old, or not reported
            // on: messages may be arriving.
            _ => silent < HOLD_LIMIT,
        }
    }
}

/// Partitions whose fetching must pause or resume.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FlowChanges {
    pub pause: Vec<PartitionKey>,
    pub resume: Vec<PartitionKey>,
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

    /// Keeps the owned partitions (a new one starts heard-from, so until
    /// it is reported on it may hold the others for up to [`HOLD_LIMIT`])
    /// and drops what was waiting from the others: their new owner resumes
    /// from the committed offset, which is before any unreleased message.
    /// The consumer resumes every owned partition after an assignment, so
    /// none counts as paused.
    pub fn assign(&mut self, owned: &BTreeSet<PartitionKey>, now: Instant) {
        self.partitions.retain(|key, _| owned.contains(key));
        for key in owned {
            let queue = self
                .partitions
                .entry(key.clone())
                .or_insert_with(|| PartitionQueue::new(now));
            queue.paused = false;
        }
    }

    /// Queues messages as they arrived.
    pub fn push(&mut self, batch: Vec<Received>, now: Instant) {
        for m in batch {
            let queue = self
                .partitions
                .entry((m.topic.clone(), m.partition))
                .or_insert_with(|| PartitionQueue::new(now));
            queue.newest = Some(queue.newest.map_or(m.time, |t| t.max(m.time)));
            queue.next_offset = Some(m.offset + 1);
            queue.heard_at = now;
            queue.waiting.push_back(m);
        }
    }

    /// Whether messages are waiting.
    pub fn is_empty(&self) -> bool {
        self.partitions.values().all(|q| q.waiting.is_empty())
    }

    /// The messages no holding partition can precede, in release order.
    /// `reported`: each partition as its consumer's statistics last
    /// reported it (missing: not reported yet).
    pub fn release(
        &mut self,
        reported: &BTreeMap<PartitionKey, PartitionProgress>,
        now: Instant,
    ) -> Vec<Received> {
        let bound = self
            .partitions
            .iter()
            .filter(|(key, q)| q.holding(reported.get(*key), now))
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

    /// Pauses the partitions with too many messages waiting and resumes
    /// the paused ones that drained; marks them so.
    pub fn flow_changes(&mut self) -> FlowChanges {
        let mut changes = FlowChanges::default();
        for (key, q) in &mut self.partitions {
            if !q.paused && q.waiting.len() > PAUSE_AT {
                q.paused = true;
                changes.pause.push(key.clone());
            } else if q.paused && q.waiting.len() < RESUME_AT {
                q.paused = false;
                changes.resume.push(key.clone());
            }
        }
        changes
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

    /// Every partition of `merge` reported with this high watermark: 0 (or
    /// at most what it delivered) is caught up with everything committed,
    /// [`BEHIND`] behind whatever it delivered.
    fn reported(
        merge: &EventTimeMerge,
        high_watermark: i64,
    ) -> BTreeMap<PartitionKey, PartitionProgress> {
        merge
            .partitions
            .keys()
            .map(|(topic, partition)| {
                let report = PartitionProgress {
                    topic: topic.clone(),
                    partition: *partition,
                    lag: if high_watermark >= BEHIND { BEHIND } else { 0 },
                    high_watermark,
                    fetched: 0,
                    received: 0,
                };
                ((topic.clone(), *partition), report)
            })
            .collect()
    }

    const BEHIND: i64 = 1_000_000;

    fn released(merge: &mut EventTimeMerge, high_watermark: i64, now: Instant) -> Vec<(i32, i64)> {
        let reported = reported(merge, high_watermark);
        merge
            .release(&reported, now)
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
        assert_eq!(released(&mut merge, BEHIND, now), [(0, 5), (1, 10)]);
        // Partition 1 catches up past 20: 20 goes, 30 waits for it.
        merge.push(vec![message("tx", 1, 1, 25)], now);
        assert_eq!(released(&mut merge, BEHIND, now), [(0, 20), (1, 25)]);
        assert!(!merge.is_empty());
        // Both caught up: everything goes.
        assert_eq!(released(&mut merge, 0, now), [(0, 30)]);
        assert!(merge.is_empty());
    }

    #[test]
    fn a_silent_partition_stops_holding_after_the_limit() {
        let now = Instant::now();
        let mut merge = EventTimeMerge::new("labels");
        merge.assign(&owned(&[("tx", 0), ("tx", 1)]), now);
        merge.push(vec![message("tx", 0, 0, 50)], now);
        // Partition 1 never delivered and nothing was reported about it.
        let unreported = BTreeMap::new();
        assert!(merge.release(&unreported, now).is_empty());
        let later = now + HOLD_LIMIT;
        assert_eq!(merge.release(&unreported, later).len(), 1);
    }

    #[test]
    fn a_partition_reported_behind_holds_however_long_it_is_silent() {
        let now = Instant::now();
        let mut merge = EventTimeMerge::new("labels");
        merge.assign(&owned(&[("tx", 0), ("tx", 1)]), now);
        merge.push(vec![message("tx", 0, 0, 50)], now);
        // A slow fetch: partition 1 has messages on the broker (its high
        // watermark is past what it fetched) but none arrives for long.
        let much_later = now + HOLD_LIMIT * 30;
        assert!(released(&mut merge, BEHIND, much_later).is_empty());
        // What it delivered counts too, the report being older: offset 0
        // delivered and a high watermark of 1 is caught up.
        merge.push(vec![message("tx", 1, 0, 40)], much_later);
        assert_eq!(released(&mut merge, 1, much_later), [(1, 40), (0, 50)]);
    }

    #[test]
    fn a_transaction_marker_after_the_last_record_holds_nothing_for_good() {
        let now = Instant::now();
        let mut merge = EventTimeMerge::new("labels");
        merge.assign(&owned(&[("tx", 0), ("tx", 1)]), now);
        // Partition 1 delivered offsets up to 8; offset 9 is a marker, so
        // its high watermark (10) stays past what it delivered, and its lag
        // past what it committed, but it fetched everything.
        merge.push(vec![message("tx", 1, 8, 40)], now);
        merge.push(vec![message("tx", 0, 0, 50)], now);
        let marker = PartitionProgress {
            topic: "tx".into(),
            partition: 1,
            lag: 1,
            high_watermark: 10,
            fetched: 10,
            received: 9,
        };
        let mut reported = reported(&merge, 0);
        reported.insert(("tx".into(), 1), marker);
        let order =
            |released: Vec<Received>| -> Vec<i64> { released.iter().map(|m| m.time).collect() };
        // Heard from just now: it may still be delivering.
        assert_eq!(order(merge.release(&reported, now)), [40]);
        assert!(merge.release(&reported, now + HOLD_LIMIT).is_empty());
        // Silent since: time 50 goes.
        assert_eq!(order(merge.release(&reported, now + QUEUED_LIMIT)), [50]);
    }

    #[test]
    fn a_partition_with_too_many_waiting_pauses_until_it_drains() {
        let now = Instant::now();
        let mut merge = EventTimeMerge::new("labels");
        merge.assign(&owned(&[("tx", 0), ("tx", 1)]), now);
        let burst: Vec<_> = (0..=PAUSE_AT as i64)
            .map(|offset| message("tx", 0, offset, 100 + offset))
            .collect();
        merge.push(burst, now);
        merge.push(vec![message("tx", 1, 0, 50)], now);
        // Partition 1 is behind at time 50: partition 0's burst waits.
        assert_eq!(released(&mut merge, BEHIND, now), [(1, 50)]);
        let paused = FlowChanges {
            pause: vec![("tx".to_owned(), 0)],
            resume: vec![],
        };
        assert_eq!(merge.flow_changes(), paused);
        assert_eq!(merge.flow_changes(), FlowChanges::default());
        // Partition 1 catches up: the burst goes and fetching resumes.
        assert_eq!(released(&mut merge, 0, now).len(), PAUSE_AT + 1);
        let resumed = FlowChanges {
            pause: vec![],
            resume: vec![("tx".to_owned(), 0)],
        };
        assert_eq!(merge.flow_changes(), resumed);
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
            .release(&reported(&merge, 0), now)
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

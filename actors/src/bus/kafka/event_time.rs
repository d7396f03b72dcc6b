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
//! - while its fetching is paused here (see below);
//! - from its assignment until its first report or message, for up to
//!   [`QUEUED_LIMIT`]: its backlog is not known yet;
//! - otherwise until it has been silent for [`HOLD_LIMIT`] *and* the
//!   broker, asked for its high watermark (a ListOffsets request, once per
//!   silence), confirms it has delivered everything; an answer with more
//!   makes it hold like a partition behind, no answer for up to
//!   [`QUEUED_LIMIT`] of silence. The statistics report is up to a second
//!   old, and even one showing everything delivered and committed missed
//!   the live stream already on the broker behind a backfill: on its word,
//!   newer messages of other partitions were merged first.
//!
//! So an idle partition delays the others by [`HOLD_LIMIT`] and a broker
//! round trip; a busy one, by the time until it delivers something newer.
//!
//! Silence is measured on the merge's own clock, which runs only while
//! the consumer waits on a drained queue (a fetch that returned less than
//! a full batch), not on the wall clock: while the feature engine works
//! through a batch, or the queue still holds messages, a partition has
//! had no chance to be heard from. On the wall clock, partitions whose
//! backfill had been received early looked silent for seconds while the
//! consumer was busy, stopped holding, and the live messages behind them
//! on the broker were merged after newer ones.
//!
//! Among released messages the order is (time, transactions before
//! labels), the offline path's order. Per partition, messages leave in offset order, so
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

use super::consumer::Received;
use super::status::PartitionProgress;

/// How long (of waiting) a partition that is not known to be behind may
/// hold the others back after its last message (librdkafka reports once a
/// second).
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
    /// (arrival number, message): the merge numbers messages as they come.
    waiting: VecDeque<(u64, Received)>,
    /// Time of the newest message received from this partition.
    newest: Option<i64>,
    /// Offset after the last message received.
    next_offset: Option<i64>,
    /// The merge's clock when a message last arrived (or the partition
    /// was assigned).
    heard_at: Duration,
    /// Fetching paused because too many messages wait.
    paused: bool,
    /// The high watermark the broker gave when asked (see
    /// [`EventTimeMerge::to_confirm`]): fresher than a report.
    asked_high: Option<i64>,
    /// The broker confirmed, since this partition's last message, that it
    /// had delivered everything it held when the merge had received this
    /// many messages: it holds back only messages that arrived since.
    confirmed_at_arrival: Option<u64>,
}

/// What a partition's reports and silence say, before the broker is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outlook {
    /// It may still deliver messages older than those waiting elsewhere.
    Holding,
    /// It may not (or has held for as long as it may).
    Free,
    /// Caught up as far as the reports tell and silent for [`HOLD_LIMIT`]:
    /// the broker has the last word.
    CaughtUpAndSilent,
}

/// How far a partition holds back the messages of the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// Every message newer than its newest.
    Everything,
    /// Those newer than its newest that arrived from this arrival number
    /// on: it was confirmed idle before they came, and they may be the
    /// head of a burst whose older part it has not fetched yet.
    ArrivedFrom(u64),
    Nothing,
}

impl PartitionQueue {
    fn new(now: Duration) -> Self {
        PartitionQueue {
            waiting: VecDeque::new(),
            newest: None,
            next_offset: None,
            heard_at: now,
            paused: false,
            asked_high: None,
            confirmed_at_arrival: None,
        }
    }

    /// The offset after what it delivered: its last message's, else where
    /// it resumes (the committed offset a report gives).
    fn delivered(&self, report: Option<&PartitionProgress>) -> i64 {
        self.next_offset.or(report.map(|r| r.received)).unwrap_or(0)
    }

    /// Which messages of the others this partition may still precede.
    fn hold(&self, report: Option<&PartitionProgress>, now: Duration) -> Hold {
        match self.outlook(report, now) {
            Outlook::Holding => Hold::Everything,
            Outlook::Free => Hold::Nothing,
            Outlook::CaughtUpAndSilent => match self.confirmed_at_arrival {
                Some(arrival) => Hold::ArrivedFrom(arrival),
                None if now.saturating_sub(self.heard_at) < QUEUED_LIMIT => Hold::Everything,
                None => Hold::Nothing,
            },
        }
    }

    /// What the reports and the silence say about this partition.
    fn outlook(&self, report: Option<&PartitionProgress>, now: Duration) -> Outlook {
        let silent = now.saturating_sub(self.heard_at);
        let delivered = self.delivered(report);
        let holding_while = |holding: bool| {
            if holding {
                Outlook::Holding
            } else {
                Outlook::Free
            }
        };
        if self.paused {
            // Its fetching was stopped here: it has more, however long it
            // is silent.
            return Outlook::Holding;
        }
        match report {
            // Messages were on the broker that it had not delivered yet:
            // held however long the broker takes to serve them, and for at
            // most QUEUED_LIMIT once fetched (then only a transaction
            // marker, which is never delivered, can be left).
            Some(r) if r.high_watermark > delivered.max(r.received) => {
                holding_while(r.high_watermark > r.fetched || silent < QUEUED_LIMIT)
            }
            // The broker, asked, had more than it delivered.
            _ if self.asked_high.is_some_and(|high| high > delivered) => {
                holding_while(silent < QUEUED_LIMIT)
            }
            // Assigned but neither reported on nor heard from: how much it
            // has on the broker is not known yet (the first report comes
            // after its first fetch, later on a busy machine).
            None if self.newest.is_none() => holding_while(silent < QUEUED_LIMIT),
            // Caught up as of a report up to a second old, even with all of
            // it committed: messages produced since may be on their way,
            // behind newer ones of other partitions (the producer batches
            // per partition). Held until silent for HOLD_LIMIT, then as
            // the broker confirms (see `hold`).
            _ if silent < HOLD_LIMIT => Outlook::Holding,
            _ => Outlook::CaughtUpAndSilent,
        }
    }

    /// Silent long enough for the broker to have the last word: asked
    /// again however long it has been silent once it answered (a
    /// confirmed partition holds back what arrived since, so it must be
    /// asked), until [`QUEUED_LIMIT`] when it never did.
    fn needs_confirmation(&self, report: Option<&PartitionProgress>, now: Duration) -> bool {
        self.outlook(report, now) == Outlook::CaughtUpAndSilent
            && (self.confirmed_at_arrival.is_some()
                || now.saturating_sub(self.heard_at) < QUEUED_LIMIT)
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
    /// Time spent waiting on a drained queue since the merge began.
    clock: Duration,
    /// Messages received since the merge began.
    arrivals: u64,
    /// The partitions whose hold stopped the last release.
    blocked_by: BTreeSet<PartitionKey>,
    /// (time, transactions before labels) of the newest message released.
    newest_released: Option<(i64, u8)>,
    /// Messages released after a newer one (a partition that stopped
    /// holding too early): features of the newer ones missed them.
    released_out_of_order: u64,
}

impl EventTimeMerge {
    pub fn new(labels_topic: &str) -> Self {
        EventTimeMerge {
            partitions: BTreeMap::new(),
            labels_topic: labels_topic.to_owned(),
            clock: Duration::ZERO,
            arrivals: 0,
            blocked_by: BTreeSet::new(),
            newest_released: None,
            released_out_of_order: 0,
        }
    }

    /// Keeps the owned partitions (a new one starts heard-from, so until
    /// it is reported on it may hold the others for up to [`HOLD_LIMIT`])
    /// and drops what was waiting from the others: their new owner resumes
    /// from the committed offset, which is before any unreleased message.
    /// The consumer resumes every owned partition after an assignment, so
    /// none counts as paused.
    pub fn assign(&mut self, owned: &BTreeSet<PartitionKey>) {
        let now = self.clock;
        self.partitions.retain(|key, _| owned.contains(key));
        for key in owned {
            let queue = self
                .partitions
                .entry(key.clone())
                .or_insert_with(|| PartitionQueue::new(now));
            queue.paused = false;
        }
    }

    /// Advances the clock by `waited`, time the consumer spent waiting for
    /// messages with its queue drained.
    pub fn waited(&mut self, waited: Duration) {
        self.clock += waited;
    }

    /// Queues messages as they arrived.
    pub fn push(&mut self, batch: Vec<Received>) {
        let now = self.clock;
        for m in batch {
            let queue = self
                .partitions
                .entry((m.topic.clone(), m.partition))
                .or_insert_with(|| PartitionQueue::new(now));
            queue.newest = Some(queue.newest.map_or(m.time, |t| t.max(m.time)));
            queue.next_offset = Some(m.offset + 1);
            queue.heard_at = now;
            queue.confirmed_at_arrival = None;
            queue.waiting.push_back((self.arrivals, m));
            self.arrivals += 1;
        }
    }

    /// The partitions that stopped the last release only because they
    /// have been silent for [`HOLD_LIMIT`], caught up as far as the
    /// reports tell, and were not confirmed idle by the broker since the
    /// blocked messages arrived: once it confirms, they let those through.
    /// Reports are up to a second old, and a confirmation is only good for
    /// what had arrived when it was given: the live stream behind a
    /// backfill was merged out of order on either.
    pub fn to_confirm(
        &self,
        reported: &BTreeMap<PartitionKey, PartitionProgress>,
    ) -> Vec<PartitionKey> {
        self.blocked_by
            .iter()
            .filter(|key| {
                self.partitions
                    .get(*key)
                    .is_some_and(|q| q.needs_confirmation(reported.get(*key), self.clock))
            })
            .cloned()
            .collect()
    }

    /// What the broker answered for `key`: its high watermark now.
    pub fn confirm(
        &mut self,
        key: &PartitionKey,
        high_watermark: i64,
        reported: &BTreeMap<PartitionKey, PartitionProgress>,
    ) {
        if let Some(q) = self.partitions.get_mut(key) {
            let delivered = q.delivered(reported.get(key));
            q.asked_high = Some(high_watermark);
            q.confirmed_at_arrival = (high_watermark <= delivered).then_some(self.arrivals);
        }
    }

    /// Partitions owned.
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
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
    ) -> Vec<Received> {
        let now = self.clock;
        // (partition, from arrival, newest time) of each one holding back.
        let holds: Vec<(PartitionKey, u64, i64)> = self
            .partitions
            .iter()
            .filter_map(|(key, q)| {
                let newest = q.newest.unwrap_or(i64::MIN);
                match q.hold(reported.get(key), now) {
                    Hold::Everything => Some((key.clone(), 0, newest)),
                    Hold::ArrivedFrom(arrival) => Some((key.clone(), arrival, newest)),
                    Hold::Nothing => None,
                }
            })
            .collect();
        let mut blocked_by = BTreeSet::new();
        let mut released = Vec::new();
        loop {
            let next = self
                .partitions
                .iter()
                .filter_map(|(key, q)| {
                    q.waiting
                        .front()
                        .map(|(arrival, m)| (self.order(m), key, *arrival))
                })
                .min();
            let Some((time_and_kind, key, arrival)) = next else {
                break;
            };
            let time = time_and_kind.0;
            blocked_by = holds
                .iter()
                .filter(|(_, from, newest)| arrival >= *from && time > *newest)
                .map(|(key, _, _)| key.clone())
                .collect();
            if !blocked_by.is_empty() {
                break;
            }
            let key = key.clone();
            self.note_release(time_and_kind);
            released.extend(
                self.partitions
                    .get_mut(&key)
                    .and_then(|q| q.waiting.pop_front())
                    .map(|(_, m)| m),
            );
        }
        self.blocked_by = blocked_by;
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

    /// Messages released after a newer one since the merge began.
    pub fn released_out_of_order(&self) -> u64 {
        self.released_out_of_order
    }

    fn note_release(&mut self, order: (i64, u8)) {
        match self.newest_released {
            Some(newest) if order < newest => self.released_out_of_order += 1,
            _ => self.newest_released = Some(order),
        }
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

    fn released(merge: &mut EventTimeMerge, high_watermark: i64) -> Vec<(i32, i64)> {
        let reported = reported(merge, high_watermark);
        merge
            .release(&reported)
            .into_iter()
            .map(|m| (m.partition, m.time))
            .collect()
    }

    /// Releases as the consumer does, the broker answering for every
    /// partition asked about that it holds nothing beyond what was
    /// delivered: (partition, time) released, and the partitions asked.
    fn released_confirmed(
        merge: &mut EventTimeMerge,
        high_watermark: i64,
    ) -> (Vec<(i32, i64)>, Vec<i32>) {
        let reported = reported(merge, high_watermark);
        let mut released = merge.release(&reported);
        let mut asked = Vec::new();
        loop {
            let keys = merge.to_confirm(&reported);
            if keys.is_empty() {
                break;
            }
            for key in &keys {
                let delivered = merge.partitions[key].next_offset.unwrap_or(0);
                merge.confirm(key, delivered, &reported);
                asked.push(key.1);
            }
            released.extend(merge.release(&reported));
        }
        let released = released.iter().map(|m| (m.partition, m.time)).collect();
        (released, asked)
    }

    fn times(released: Vec<Received>) -> Vec<i64> {
        released.iter().map(|m| m.time).collect()
    }

    fn owned(keys: &[(&str, i32)]) -> BTreeSet<PartitionKey> {
        keys.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect()
    }

    fn two_partitions() -> EventTimeMerge {
        let mut merge = EventTimeMerge::new("labels");
        merge.assign(&owned(&[("tx", 0), ("tx", 1)]));
        merge
    }

    #[test]
    fn a_partition_that_is_behind_holds_newer_messages_of_the_others() {
        let mut merge = two_partitions();
        // Partition 0 races ahead; partition 1 has only delivered time 10.
        merge.push(vec![
            message("tx", 0, 0, 5),
            message("tx", 0, 1, 20),
            message("tx", 0, 2, 30),
        ]);
        merge.push(vec![message("tx", 1, 0, 10)]);
        assert_eq!(released(&mut merge, BEHIND), [(0, 5), (1, 10)]);
        // Partition 1 catches up past 20: 20 goes, 30 waits for it.
        merge.push(vec![message("tx", 1, 1, 25)]);
        assert_eq!(released(&mut merge, BEHIND), [(0, 20), (1, 25)]);
        assert!(!merge.is_empty());
        // Both caught up: partition 1 may still deliver older than 30
        // until it has been silent for the limit.
        assert!(released(&mut merge, 0).is_empty());
        merge.waited(HOLD_LIMIT);
        assert_eq!(released_confirmed(&mut merge, 0), (vec![(0, 30)], vec![1]));
        assert!(merge.is_empty());
    }

    #[test]
    fn an_unreported_partition_holds_up_to_the_queued_limit() {
        let mut merge = two_partitions();
        merge.push(vec![message("tx", 0, 0, 50)]);
        // Partition 1 never delivered and nothing was reported about it
        // (a slow first fetch): it may have a backlog.
        let unreported = BTreeMap::new();
        assert!(merge.release(&unreported).is_empty());
        merge.waited(HOLD_LIMIT);
        assert!(merge.release(&unreported).is_empty());
        merge.waited(QUEUED_LIMIT - HOLD_LIMIT);
        assert_eq!(times(merge.release(&unreported)), [50]);
        // Had it an older message after all, the merge counts the inversion.
        merge.push(vec![message("tx", 1, 0, 40)]);
        assert_eq!(times(merge.release(&unreported)), [40]);
        assert_eq!(merge.released_out_of_order(), 1);
    }

    #[test]
    fn a_caught_up_partition_holds_until_silent_for_the_limit() {
        let mut merge = two_partitions();
        merge.push(vec![message("tx", 0, 0, 50)]);
        merge.push(vec![message("tx", 1, 0, 40)]);
        // Both delivered and committed all they had at the last report,
        // but partition 1 was heard from just now: a message older than
        // 50 may be on its way.
        assert_eq!(released(&mut merge, 0), [(1, 40)]);
        merge.waited(HOLD_LIMIT / 2);
        assert!(released(&mut merge, 0).is_empty());
        merge.push(vec![message("tx", 1, 1, 45)]);
        assert_eq!(released(&mut merge, 0), [(1, 45)]);
        merge.waited(HOLD_LIMIT);
        // Silent for the limit: it stops holding once the broker confirms
        // it has nothing more.
        assert!(released(&mut merge, 0).is_empty());
        assert_eq!(
            merge.to_confirm(&reported(&merge, 0)),
            [("tx".to_owned(), 1)]
        );
        assert_eq!(released_confirmed(&mut merge, 0), (vec![(0, 50)], vec![1]));
        assert_eq!(merge.released_out_of_order(), 0);
    }

    #[test]
    fn a_partition_idle_for_long_is_asked_again_and_never_blocks_for_good() {
        let mut merge = two_partitions();
        merge.push(vec![message("tx", 1, 0, 10)]);
        merge.push(vec![message("tx", 0, 0, 20)]);
        merge.waited(HOLD_LIMIT);
        assert_eq!(
            released_confirmed(&mut merge, 0),
            (vec![(1, 10), (0, 20)], vec![1])
        );
        // Partition 1 stays idle for minutes while partition 0 streams on:
        // each new message is let through once the broker confirms again.
        for (offset, time) in [(1, 30), (2, 40)] {
            merge.waited(QUEUED_LIMIT * 6);
            merge.push(vec![message("tx", 0, offset, time)]);
            let confirmed = released_confirmed(&mut merge, 0);
            assert_eq!(confirmed.0, [(0, time)]);
            assert!(confirmed.1.contains(&1));
        }
        assert_eq!(merge.released_out_of_order(), 0);
    }

    #[test]
    fn a_silent_partition_the_broker_has_more_for_keeps_holding() {
        let mut merge = two_partitions();
        merge.push(vec![message("tx", 0, 0, 50)]);
        merge.push(vec![message("tx", 1, 0, 40)]);
        assert_eq!(released(&mut merge, 0), [(1, 40)]);
        merge.waited(HOLD_LIMIT);
        // The report (a second old) says caught up; the broker, asked, has
        // three more messages for partition 1: they come before 50.
        let reported = reported(&merge, 0);
        let key = ("tx".to_owned(), 1);
        assert!(merge.to_confirm(&reported).contains(&key));
        merge.confirm(&key, 4, &reported);
        assert!(!merge.to_confirm(&reported).contains(&key));
        assert!(merge.release(&reported).is_empty());
        merge.push(vec![message("tx", 1, 1, 42), message("tx", 1, 2, 55)]);
        assert_eq!(times(merge.release(&reported)), [42, 50]);
        // Had the broker never answered: held for QUEUED_LIMIT at most.
        merge.waited(QUEUED_LIMIT);
        assert_eq!(times(merge.release(&reported)), [55]);
        assert_eq!(merge.released_out_of_order(), 0);
    }

    #[test]
    fn a_new_message_takes_back_the_confirmation() {
        let mut merge = two_partitions();
        merge.push(vec![message("tx", 0, 0, 50)]);
        merge.push(vec![message("tx", 1, 0, 40)]);
        merge.waited(HOLD_LIMIT);
        let both = vec![(1, 40), (0, 50)];
        assert_eq!(released_confirmed(&mut merge, 0), (both, vec![1]));
        // Partition 1 is heard from again: it holds 60 until it is silent
        // and confirmed idle once more.
        merge.push(vec![message("tx", 1, 1, 55)]);
        merge.push(vec![message("tx", 0, 1, 60)]);
        assert_eq!(released(&mut merge, 0), [(1, 55)]);
        merge.waited(HOLD_LIMIT);
        assert_eq!(released_confirmed(&mut merge, 0), (vec![(0, 60)], vec![1]));
        // A confirmation is good for what had arrived when it was given:
        // 70 came after, so partition 1 is asked again.
        merge.push(vec![message("tx", 0, 2, 70)]);
        assert!(released(&mut merge, 0).is_empty());
        assert_eq!(released_confirmed(&mut merge, 0), (vec![(0, 70)], vec![1]));
    }

    #[test]
    fn only_waiting_on_a_drained_queue_counts_as_silence() {
        let mut merge = two_partitions();
        merge.push(vec![message("tx", 1, 0, 40)]);
        merge.push(vec![message("tx", 0, 0, 50)]);
        assert_eq!(released(&mut merge, 0), [(1, 40)]);
        // However long the consumer is busy elsewhere (delivering a batch,
        // fetches that came back full), partition 1 has not been silent:
        // only what the consumer reports as waited counts.
        merge.waited(HOLD_LIMIT - Duration::from_millis(1));
        assert!(released(&mut merge, 0).is_empty());
        merge.waited(Duration::from_millis(1));
        assert_eq!(released_confirmed(&mut merge, 0), (vec![(0, 50)], vec![1]));
    }

    #[test]
    fn a_partition_reported_behind_holds_however_long_it_is_silent() {
        let mut merge = two_partitions();
        merge.push(vec![message("tx", 0, 0, 50)]);
        // A slow fetch: partition 1 has messages on the broker (its high
        // watermark is past what it fetched) but none arrives for long.
        merge.waited(HOLD_LIMIT * 30);
        assert!(released(&mut merge, BEHIND).is_empty());
        // What it delivered counts too, the report being older: offset 0
        // delivered and a high watermark of 1 is caught up.
        merge.push(vec![message("tx", 1, 0, 40)]);
        assert_eq!(released(&mut merge, 1), [(1, 40)]);
        merge.waited(HOLD_LIMIT);
        assert_eq!(released_confirmed(&mut merge, 1), (vec![(0, 50)], vec![1]));
    }

    #[test]
    fn a_transaction_marker_after_the_last_record_holds_nothing_for_good() {
        let mut merge = two_partitions();
        // Partition 1 delivered offsets up to 8; offset 9 is a marker, so
        // its high watermark (10) stays past what it delivered, and its lag
        // past what it committed, but it fetched everything.
        merge.push(vec![message("tx", 1, 8, 40)]);
        merge.push(vec![message("tx", 0, 0, 50)]);
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
        // Heard from just now: it may still be delivering.
        assert_eq!(times(merge.release(&reported)), [40]);
        merge.waited(HOLD_LIMIT);
        assert!(merge.release(&reported).is_empty());
        // Silent since: time 50 goes.
        merge.waited(QUEUED_LIMIT - HOLD_LIMIT);
        assert_eq!(times(merge.release(&reported)), [50]);
    }

    #[test]
    fn a_partition_with_too_many_waiting_pauses_until_it_drains() {
        let mut merge = two_partitions();
        let burst: Vec<_> = (0..=PAUSE_AT as i64)
            .map(|offset| message("tx", 0, offset, 100 + offset))
            .collect();
        merge.push(burst);
        merge.push(vec![message("tx", 1, 0, 50)]);
        // Partition 1 is behind at time 50: partition 0's burst waits.
        assert_eq!(released(&mut merge, BEHIND), [(1, 50)]);
        let paused = FlowChanges {
            pause: vec![("tx".to_owned(), 0)],
            resume: vec![],
        };
        assert_eq!(merge.flow_changes(), paused);
        assert_eq!(merge.flow_changes(), FlowChanges::default());
        // Partition 1 catches up past the burst: the burst goes, but
        // partition 1's newer message waits for the paused partition,
        // however long its fetching has been stopped.
        merge.waited(QUEUED_LIMIT * 2);
        merge.push(vec![message("tx", 1, 1, 10_000)]);
        assert_eq!(released(&mut merge, 0).len(), PAUSE_AT + 1);
        let resumed = FlowChanges {
            pause: vec![],
            resume: vec![("tx".to_owned(), 0)],
        };
        assert_eq!(merge.flow_changes(), resumed);
        // Resumed, and both silent for the limit: it goes.
        merge.waited(HOLD_LIMIT);
        assert_eq!(released(&mut merge, 0), [(1, 10_000)]);
    }

    #[test]
    fn equal_times_put_transactions_before_labels_and_keep_offset_order() {
        let mut merge = EventTimeMerge::new("labels");
        merge.assign(&owned(&[("tx", 0), ("labels", 0)]));
        merge.push(vec![message("labels", 0, 0, 10)]);
        // Out of time order inside a partition: offset order wins, so the
        // committed offset never passes an unreleased message.
        merge.push(vec![
            message("tx", 0, 0, 10),
            message("tx", 0, 1, 12),
            message("tx", 0, 2, 11),
        ]);
        merge.waited(HOLD_LIMIT);
        let reported = reported(&merge, 0);
        let mut released = merge.release(&reported);
        for key in merge.to_confirm(&reported) {
            merge.confirm(&key, 0, &reported);
        }
        released.extend(merge.release(&reported));
        let order: Vec<(String, i64)> = released.into_iter().map(|m| (m.topic, m.offset)).collect();
        let expected = [("tx", 0), ("labels", 0), ("tx", 1), ("tx", 2)];
        assert_eq!(order, expected.map(|(t, o)| (t.to_owned(), o)).to_vec());
    }

    #[test]
    fn revoked_partitions_drop_what_was_waiting() {
        let mut merge = two_partitions();
        merge.push(vec![message("tx", 0, 0, 5), message("tx", 1, 0, 1)]);
        merge.assign(&owned(&[("tx", 0)]));
        assert_eq!(released(&mut merge, 0), [(0, 5)]);
    }
}

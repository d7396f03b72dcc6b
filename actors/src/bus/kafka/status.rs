//! What the Kafka clients report about the broker and the consumer groups:
//! reachability (for `/health`) and lag per group and partition (for
//! `/health/actors` and `fraud_consumer_lag`).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use prometheus::IntGaugeVec;
use serde::Serialize;

/// Shared by every Kafka client of the process.
#[derive(Debug)]
pub struct KafkaStatus {
    inner: Mutex<Inner>,
    lag_gauge: IntGaugeVec,
}

#[derive(Debug, Default)]
struct Inner {
    /// Per client (producer, each consumer): can it reach a broker?
    down: BTreeMap<String, (String, DateTime<Utc>)>,
    /// (group, topic, partition) → what its consumer last reported.
    progress: BTreeMap<(String, String, i32), PartitionProgress>,
}

/// One partition as a consumer's statistics last reported it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartitionProgress {
    pub topic: String,
    pub partition: i32,
    /// Messages not yet committed.
    pub lag: i64,
    /// Offset after the newest message on the broker.
    pub high_watermark: i64,
    /// The next offset to fetch: the messages before it were fetched from
    /// the broker (the committed offset before fetching starts).
    pub fetched: i64,
    /// The offset after the last message handed to Vigil (the committed
    /// offset before the first).
    pub received: i64,
}

/// A point-in-time view, as served by `/health/actors`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KafkaSnapshot {
    pub reachable: bool,
    /// Clients that cannot reach a broker, with the reason and since when.
    pub unreachable: Vec<Unreachable>,
    pub lag: Vec<PartitionLag>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Unreachable {
    pub client: String,
    pub reason: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartitionLag {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub lag: i64,
}

impl KafkaStatus {
    /// `lag_gauge` is `fraud_consumer_lag{group,topic,partition}`.
    pub fn new(lag_gauge: IntGaugeVec) -> Self {
        KafkaStatus {
            inner: Mutex::new(Inner::default()),
            lag_gauge,
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `client` reached a broker.
    pub fn reachable(&self, client: &str) {
        self.inner().down.remove(client);
    }

    /// `client` lost every broker.
    pub fn unreachable(&self, client: &str, reason: &str) {
        self.inner()
            .down
            .entry(client.to_owned())
            .and_modify(|(r, _)| reason.clone_into(r))
            .or_insert_with(|| (reason.to_owned(), Utc::now()));
    }

    /// The last report of each partition `group` owns.
    pub fn progress_of(&self, group: &str) -> BTreeMap<(String, i32), PartitionProgress> {
        self.inner()
            .progress
            .iter()
            .filter(|((g, _, _), _)| g == group)
            .map(|((_, topic, partition), p)| ((topic.clone(), *partition), p.clone()))
            .collect()
    }

    /// Replaces what `group` reported: the progress of each partition it
    /// owns. Partitions it no longer owns disappear (another process
    /// reports them).
    pub fn report_progress(&self, group: &str, partitions: Vec<PartitionProgress>) {
        let mut inner = self.inner();
        let stale: Vec<_> = inner
            .progress
            .keys()
            .filter(|(g, t, p)| {
                g == group
                    && !partitions
                        .iter()
                        .any(|r| r.topic == *t && r.partition == *p)
            })
            .cloned()
            .collect();
        for key in stale {
            inner.progress.remove(&key);
            let _ = self
                .lag_gauge
                .remove_label_values(&[&key.0, &key.1, &key.2.to_string()]);
        }
        for report in partitions {
            self.lag_gauge
                .with_label_values(&[group, &report.topic, &report.partition.to_string()])
                .set(report.lag);
            let key = (group.to_owned(), report.topic.clone(), report.partition);
            inner.progress.insert(key, report);
        }
    }

    /// Reachability and lag now.
    pub fn snapshot(&self) -> KafkaSnapshot {
        let inner = self.inner();
        KafkaSnapshot {
            reachable: inner.down.is_empty(),
            unreachable: inner
                .down
                .iter()
                .map(|(client, (reason, since))| Unreachable {
                    client: client.clone(),
                    reason: reason.clone(),
                    since: *since,
                })
                .collect(),
            lag: inner
                .progress
                .iter()
                .map(|((group, topic, partition), p)| PartitionLag {
                    group: group.clone(),
                    topic: topic.clone(),
                    partition: *partition,
                    lag: p.lag,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Opts;

    fn status() -> KafkaStatus {
        let gauge =
            IntGaugeVec::new(Opts::new("lag", "lag"), &["group", "topic", "partition"]).unwrap();
        KafkaStatus::new(gauge)
    }

    #[test]
    fn a_client_down_makes_the_broker_unreachable_until_it_recovers() {
        let s = status();
        assert!(s.snapshot().reachable);
        s.unreachable("vigil-raw", "all brokers down");
        s.unreachable("vigil-raw", "still down");
        let snap = s.snapshot();
        assert!(!snap.reachable);
        assert_eq!(snap.unreachable[0].reason, "still down");
        s.reachable("vigil-raw");
        assert!(s.snapshot().reachable);
    }

    #[test]
    fn lag_reports_replace_the_groups_partitions() {
        let s = status();
        let report = |partition, lag| PartitionProgress {
            topic: "t".into(),
            partition,
            lag,
            high_watermark: 10,
            fetched: 10,
            received: 10 - lag,
        };
        s.report_progress("g", vec![report(0, 5), report(1, 7)]);
        s.report_progress("h", vec![report(0, 1)]);
        s.report_progress("g", vec![report(1, 0)]);
        assert_eq!(s.progress_of("g").len(), 1);
        let lag: Vec<_> = s
            .snapshot()
            .lag
            .iter()
            .map(|l| (l.group.clone(), l.partition, l.lag))
            .collect();
        assert_eq!(lag, vec![("g".into(), 1, 0), ("h".into(), 0, 1)]);
        assert_eq!(s.lag_gauge.with_label_values(&["g", "t", "1"]).get(), 0);
    }
}

//! The librdkafka client context of Vigil's producer and consumers: turns
//! statistics and errors into the shared [`KafkaStatus`], and records
//! partition assignments for the consumer loop.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use serde::Deserialize;

use super::status::{KafkaStatus, PartitionProgress};

/// One client's context. `client` names it in health reports (the group
/// for consumers, `producer` for the producer).
pub struct VigilContext {
    client: String,
    /// Set for consumers: lag is reported under this group.
    group: Option<String>,
    status: Arc<KafkaStatus>,
    /// Assignments seen since the consumer loop last looked.
    assignments: Mutex<Vec<Assignment>>,
}

/// A change of the partitions this consumer owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// The partitions now owned, per topic.
    Assigned(BTreeMap<String, BTreeSet<i32>>),
    /// Everything was revoked (eager rebalance).
    Revoked,
}

impl VigilContext {
    pub fn producer(status: Arc<KafkaStatus>) -> Self {
        Self::new("producer".into(), None, status)
    }

    pub fn consumer(group: &str, status: Arc<KafkaStatus>) -> Self {
        Self::new(group.to_owned(), Some(group.to_owned()), status)
    }

    fn new(client: String, group: Option<String>, status: Arc<KafkaStatus>) -> Self {
        VigilContext {
            client,
            group,
            status,
            assignments: Mutex::new(Vec::new()),
        }
    }

    /// Takes the assignment changes recorded since the last call.
    pub fn take_assignments(&self) -> Vec<Assignment> {
        std::mem::take(&mut *self.assignments.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The parts of librdkafka's statistics JSON Vigil reads. Parsed here
/// rather than with rdkafka's full `Statistics`, which fails as a whole
/// when a broker leaves out a field it expects.
#[derive(Debug, Deserialize)]
struct Stats {
    #[serde(default)]
    brokers: BTreeMap<String, BrokerStats>,
    #[serde(default)]
    topics: BTreeMap<String, TopicStats>,
}

#[derive(Debug, Deserialize)]
struct BrokerStats {
    nodeid: i32,
    state: String,
}

#[derive(Debug, Deserialize)]
struct TopicStats {
    #[serde(default)]
    partitions: BTreeMap<String, PartitionStats>,
}

#[derive(Debug, Deserialize)]
struct PartitionStats {
    partition: i32,
    #[serde(default)]
    hi_offset: i64,
    #[serde(default)]
    committed_offset: i64,
    /// The next offset to fetch from the broker (negative: unknown yet).
    #[serde(default = "no_offset")]
    next_offset: i64,
    /// The offset after the last message handed to Vigil (negative: none
    /// yet).
    #[serde(default = "no_offset")]
    app_offset: i64,
    #[serde(default)]
    fetch_state: String,
}

fn no_offset() -> i64 {
    -1
}

impl Stats {
    /// Connected to at least one real broker (bootstrap entries have
    /// node id -1 and stay down once the cluster's addresses are known).
    fn reachable(&self) -> bool {
        self.brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP")
    }

    /// Progress of every partition this consumer fetches. The lag is the
    /// high watermark minus the committed offset: a partition nothing was
    /// committed on yet counts from its start, so an unconsumed backlog
    /// shows as lag.
    fn progress(&self) -> Vec<PartitionProgress> {
        let mut lag = Vec::new();
        for (topic, t) in &self.topics {
            for p in t.partitions.values() {
                let fetched = matches!(
                    p.fetch_state.as_str(),
                    "active" | "offset-query" | "offset-wait"
                );
                if p.partition < 0 || !fetched || p.hi_offset < 0 {
                    continue;
                }
                let committed = p.committed_offset.max(0);
                // Before the first fetch and the first message handed over,
                // both count from the committed offset.
                let or_committed = |offset: i64| if offset >= 0 { offset } else { committed };
                lag.push(PartitionProgress {
                    topic: topic.clone(),
                    partition: p.partition,
                    lag: (p.hi_offset - committed).max(0),
                    high_watermark: p.hi_offset,
                    fetched: or_committed(p.next_offset),
                    received: or_committed(p.app_offset),
                });
            }
        }
        lag
    }
}

impl ClientContext for VigilContext {
    fn stats_raw(&self, statistics: &[u8]) {
        let stats: Stats = match serde_json::from_slice(statistics) {
            Ok(stats) => stats,
            Err(e) => {
                tracing::debug!(error = %e, "unreadable librdkafka statistics");
                return;
            }
        };
        if stats.reachable() {
            self.status.reachable(&self.client);
        }
        if let Some(group) = &self.group {
            self.status.report_progress(group, stats.progress());
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let lost_every_broker = matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::AllBrokersDown)
        );
        if lost_every_broker {
            self.status.unreachable(&self.client, reason);
        }
        tracing::warn!(client = %self.client, %error, reason, "kafka client error");
    }
}

impl ConsumerContext for VigilContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let change = match rebalance {
            Rebalance::Assign(list) => {
                let mut owned: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
                for e in list.elements() {
                    owned
                        .entry(e.topic().to_owned())
                        .or_default()
                        .insert(e.partition());
                }
                tracing::info!(group = ?self.group, ?owned, "partitions assigned");
                Assignment::Assigned(owned)
            }
            Rebalance::Revoke(_) => {
                tracing::info!(group = ?self.group, "partitions revoked");
                Assignment::Revoked
            }
            Rebalance::Error(e) => {
                tracing::warn!(group = ?self.group, error = %e, "rebalance failed");
                return;
            }
        };
        self.assignments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_and_reachability_come_from_the_statistics() {
        let json = br#"{
            "brokers": {
                "127.0.0.1:9092/bootstrap": {"nodeid": -1, "state": "DOWN"},
                "127.0.0.1:9092/0": {"nodeid": 0, "state": "UP"}
            },
            "topics": {"transactions": {"partitions": {
                "0": {"partition": 0, "hi_offset": 100, "committed_offset": 40, "next_offset": 80, "app_offset": 60, "fetch_state": "active"},
                "1": {"partition": 1, "hi_offset": 7, "committed_offset": -1001, "fetch_state": "active"},
                "2": {"partition": 2, "hi_offset": 9, "committed_offset": 9, "fetch_state": "none"},
                "-1": {"partition": -1, "hi_offset": -1, "committed_offset": -1, "fetch_state": "none"}
            }}}
        }"#;
        let stats: Stats = serde_json::from_slice(json).unwrap();
        assert!(stats.reachable());
        let mut lag: Vec<_> = stats
            .progress()
            .into_iter()
            .map(|p| (p.partition, p.lag, p.high_watermark, p.fetched, p.received))
            .collect();
        lag.sort();
        // Partition 0 fetched 80 messages, handed 60 over, committed 40;
        // partition 1 starts from its beginning.
        assert_eq!(lag, vec![(0, 60, 100, 80, 60), (1, 7, 7, 0, 0)]);
    }
}

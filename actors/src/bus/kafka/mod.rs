//! The Kafka transport (rdkafka), used when brokers are configured.
//!
//! - The [`KafkaPublisher`] writes transactions to `transactions` and
//!   labels to `labels` as JSON, keyed by `user_id` (labels by
//!   `transaction_id`), and waits for the broker's acknowledgement.
//! - Two consumer groups read them, as in the seed's design: `vigil-raw`
//!   feeds the RawStore (the audit log) and `vigil-features` feeds the
//!   Decider, which computes features, scores and alerts.
//! - Offsets are committed only after the downstream write succeeded, and
//!   every sink is idempotent on `transaction_id` (labels on `label_id`):
//!   at-least-once delivery gives exactly-once results.
//! - Messages that do not parse go to `<topic>.dlq` and `dead_letters`
//!   with the reason and their original bytes, and never stop a partition.

mod consumer;
mod context;
mod event_time;
mod partitioner;
mod publisher;
mod status;
mod topics;
mod wire;

use std::time::Duration;

use rdkafka::ClientConfig;

pub use consumer::{ConsumerRole, ConsumerServices, ConsumerSinks, KafkaConsumer};
pub use context::Assignment;
pub use partitioner::partition_for;
pub use publisher::KafkaPublisher;
pub use status::{KafkaSnapshot, KafkaStatus, PartitionLag, PartitionProgress};
pub use topics::ensure_topics;
pub use wire::{decode_label, decode_transaction};

/// How to reach Kafka and lay out the topics.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    pub topics: Topics,
    /// Consumer groups are `<prefix>-raw` (RawStore) and
    /// `<prefix>-features` (the Decider: features, scores and
    /// alerts); `vigil` by default.
    pub group_prefix: String,
    /// Partitions of topics Vigil creates.
    pub partitions: i32,
    /// Replication factor of topics Vigil creates.
    pub replication: i32,
    /// Most messages a consumer hands downstream in one batch.
    pub batch_size: usize,
    /// How long a consumer waits to fill a batch once it has a message.
    pub batch_linger: Duration,
    /// Timeout of admin and metadata requests.
    pub timeout: Duration,
    /// How long the group coordinator waits for a member's heartbeat
    /// before it gives the member's partitions to others.
    pub session_timeout: Duration,
    /// Static group membership (Kafka's `group.instance.id`, KIP-345): a
    /// process restarted under the same id within the session timeout
    /// takes its partitions back without a rebalance, so the other members
    /// keep their feature state. Unique per process; dynamic membership
    /// when unset.
    pub instance_id: Option<String>,
}

/// Topic names.
#[derive(Debug, Clone)]
pub struct Topics {
    pub transactions: String,
    pub labels: String,
}

impl Topics {
    /// The dead-letter topic of `topic`.
    pub fn dlq(topic: &str) -> String {
        format!("{topic}.dlq")
    }

    /// Every topic Vigil uses, dead-letter topics included.
    pub fn all(&self) -> Vec<String> {
        vec![
            self.transactions.clone(),
            self.labels.clone(),
            Self::dlq(&self.transactions),
            Self::dlq(&self.labels),
        ]
    }
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            transactions: "transactions".into(),
            labels: "labels".into(),
        }
    }
}

impl KafkaSettings {
    /// Settings for `brokers` with Vigil's defaults.
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaSettings {
            brokers: brokers.into(),
            topics: Topics::default(),
            group_prefix: "vigil".into(),
            partitions: 6,
            replication: 1,
            batch_size: 500,
            batch_linger: Duration::from_millis(5),
            timeout: Duration::from_secs(10),
            // Short enough that a crashed process's partitions move on
            // within half a minute, long enough that a coordinator slowed
            // by load (seen: heartbeats answered after 7 s) does not evict
            // live members into a rebalance loop.
            session_timeout: Duration::from_secs(30),
            instance_id: None,
        }
    }

    /// Configuration shared by every client.
    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            // Statistics carry consumer lag and broker state (see context.rs).
            .set("statistics.interval.ms", "1000");
        config
    }
}

/// A Kafka operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KafkaError(String);

impl KafkaError {
    fn new(what: &str, e: rdkafka::error::KafkaError) -> Self {
        KafkaError(format!("{what}: {e}"))
    }

    fn message(message: String) -> Self {
        KafkaError(message)
    }
}

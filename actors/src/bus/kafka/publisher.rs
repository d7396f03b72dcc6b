//! Publishes transactions and labels to Kafka and waits for the broker's
//! acknowledgement of each one.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;

use super::context::VigilContext;
use super::status::KafkaStatus;
use super::{KafkaError, KafkaSettings, Topics};
use crate::error::Undelivered;
use crate::messages::{LabelBatch, TransactionBatch};
use crate::metrics::Metrics;

/// Whether a send failed only because no broker took it in time (out of
/// reach, restarting, overloaded), so that the same message may be taken
/// later, as opposed to one the broker refuses (too large, not
/// authorised).
fn broker_unavailable(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::error::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::MessageTimedOut
                | Code::QueueFull
                | Code::AllBrokersDown
                | Code::BrokerTransportFailure
                | Code::RequestTimedOut
                | Code::LeaderNotAvailable
                | Code::NotLeaderForPartition
                | Code::NotEnoughReplicas
                | Code::NotEnoughReplicasAfterAppend
                | Code::NetworkException
        )
    )
}

/// Header holding an event's time (ms since the epoch, 8 bytes big-endian).
pub const EVENT_TIME_HEADER: &str = "vigil-event-time";

/// The producing side of the Kafka bus.
#[derive(Clone)]
pub struct KafkaPublisher {
    producer: Arc<FutureProducer<VigilContext>>,
    topics: Topics,
    metrics: Arc<Metrics>,
}

impl KafkaPublisher {
    pub fn new(
        settings: &KafkaSettings,
        status: Arc<KafkaStatus>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, KafkaError> {
        let producer = settings
            .client_config()
            // The Java client's partitioner: a user's partition can be
            // recomputed from its id (partitioner.rs).
            .set("partitioner", "murmur2_random")
            .set("linger.ms", "5")
            .set("acks", "all")
            // Retries are bounded by time: a message not acknowledged
            // within 30 s fails, is counted and reported to the caller.
            .set("message.timeout.ms", "30000")
            .create_with_context(VigilContext::producer(status))
            .map_err(|e| KafkaError::new("cannot create the producer", e))?;
        Ok(KafkaPublisher {
            producer: Arc::new(producer),
            topics: settings.topics.clone(),
            metrics,
        })
    }

    /// Publishes every transaction, keyed by `user_id`.
    pub async fn publish(&self, batch: &TransactionBatch) -> Result<(), Undelivered> {
        let records = batch
            .transactions
            .iter()
            .map(|t| (t.user_id.as_str(), t, t.timestamp.timestamp_millis()));
        self.send_all(&self.topics.transactions, records).await
    }

    /// Publishes every label, keyed by `transaction_id`.
    pub async fn publish_labels(&self, batch: &LabelBatch) -> Result<(), Undelivered> {
        let keys: Vec<String> = batch
            .labels
            .iter()
            .map(|l| l.transaction_id.to_string())
            .collect();
        let records = keys
            .iter()
            .zip(&batch.labels)
            .map(|(key, l)| (key.as_str(), l, l.labeled_at.timestamp_millis()));
        self.send_all(&self.topics.labels, records).await
    }

    /// Sends a payload as-is with headers (dead letters keep their
    /// original bytes and carry the reason in a header).
    pub async fn send_raw(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &[(&str, String)],
    ) -> Result<(), KafkaError> {
        let headers = headers.iter().fold(OwnedHeaders::new(), |h, (key, value)| {
            h.insert(Header {
                key,
                value: Some(value.as_str()),
            })
        });
        let mut record = FutureRecord::<[u8], [u8]>::to(topic)
            .payload(payload)
            .headers(headers);
        if let Some(key) = key {
            record = record.key(key);
        }
        self.producer
            .send(record, Duration::from_secs(5))
            .await
            .map(|_| ())
            .map_err(|(e, _)| KafkaError::new(&format!("cannot publish to {topic}"), e))
    }

    async fn send_all<'a, T: Serialize + 'a>(
        &self,
        topic: &str,
        records: impl Iterator<Item = (&'a str, &'a T, i64)>,
    ) -> Result<(), Undelivered> {
        let mut payloads = Vec::new();
        for (key, value, time) in records {
            let payload = serde_json::to_vec(value).map_err(|e| Undelivered {
                actor: "kafka",
                reason: format!("cannot encode a message: {e}"),
                transient: false,
            })?;
            payloads.push((key, payload, time.to_be_bytes()));
        }
        let sends = payloads.iter().map(|(key, payload, time)| {
            // The event time travels in a header: the feature consumer
            // merges partitions by it (event_time.rs). Not as the record
            // timestamp, which the broker's retention reads: a backfill's
            // weeks-old events would be deleted before being consumed.
            let headers = OwnedHeaders::new().insert(Header {
                key: EVENT_TIME_HEADER,
                value: Some(time.as_slice()),
            });
            let record = FutureRecord::to(topic)
                .key(*key)
                .payload(payload)
                .headers(headers);
            // Waits up to 5 s for room in librdkafka's queue (backpressure).
            self.producer.send(record, Duration::from_secs(5))
        });
        let failures: Vec<_> = join_all(sends)
            .await
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if let Some((first, _)) = failures.first() {
            self.metrics.producer_errors.inc_by(failures.len() as u64);
            return Err(Undelivered {
                actor: "kafka",
                reason: format!(
                    "{} of {} messages not acknowledged by the broker: {first}",
                    failures.len(),
                    payloads.len()
                ),
                transient: failures.iter().all(|(e, _)| broker_unavailable(e)),
            });
        }
        // An acknowledged batch is progress of the publishing actor (the
        // producer's backfill is one long message of many batches).
        crate::supervisor::record_progress();
        Ok(())
    }
}

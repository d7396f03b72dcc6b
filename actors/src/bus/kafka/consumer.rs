//! A consumer group member: reads batches from `transactions` and
//! `labels`, hands them to its actors, and commits the offsets only after
//! they were written.
//!
//! The loop never moves past a batch its actors did not accept: it retries
//! with backoff (a store outage pauses consumption, nothing is skipped).
//! Messages that do not parse are dead-lettered by the raw group (the
//! features group skips them, so each lands in the DLQ once).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vigil_core::{Label, Transaction};

use super::context::{Assignment, VigilContext};
use super::event_time::EventTimeMerge;
use super::publisher::{EVENT_TIME_HEADER, KafkaPublisher};
use super::status::KafkaStatus;
use super::wire::{decode_label, decode_transaction};
use super::{KafkaError, KafkaSettings, Topics};
use crate::messages::{EventSource, LabelBatch, OwnPartitions, TransactionBatch};
use crate::metrics::Metrics;
use crate::store::{DeadLetter, Store};
use crate::supervisor::Link;

/// Which of the two groups a consumer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerRole {
    /// `vigil-raw`: RawStore; dead-letters malformed messages.
    Raw,
    /// `vigil-features`: FeatureEngine; owns feature state per partition.
    Features,
}

impl ConsumerRole {
    /// The group id: `<prefix>-raw` or `<prefix>-features`.
    pub fn group(self, prefix: &str) -> String {
        match self {
            ConsumerRole::Raw => format!("{prefix}-raw"),
            ConsumerRole::Features => format!("{prefix}-features"),
        }
    }
}

/// Where a consumer hands what it reads.
#[derive(Clone)]
pub struct ConsumerSinks {
    pub transactions: Link<TransactionBatch>,
    pub labels: Link<LabelBatch>,
    /// Told the owned partitions after every rebalance (features group).
    pub ownership: Option<Link<OwnPartitions>>,
}

/// What every consumer of a process shares.
#[derive(Clone)]
pub struct ConsumerServices {
    /// For dead letters.
    pub store: Store,
    /// For the dead-letter topics.
    pub publisher: KafkaPublisher,
    pub status: Arc<KafkaStatus>,
    pub metrics: Arc<Metrics>,
    /// Partitions of the transactions topic.
    pub partition_count: i32,
}

/// What the loop needs besides the consumer itself.
struct Pipeline {
    role: ConsumerRole,
    group: String,
    topics: Topics,
    sinks: ConsumerSinks,
    services: ConsumerServices,
    batch_size: usize,
    batch_linger: Duration,
}

/// A running consumer; dropping it stops it (without committing more).
pub struct KafkaConsumer {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl KafkaConsumer {
    /// Joins the role's group, subscribes and starts consuming.
    pub fn start(
        settings: &KafkaSettings,
        role: ConsumerRole,
        sinks: ConsumerSinks,
        services: ConsumerServices,
    ) -> Result<Self, KafkaError> {
        let group = role.group(&settings.group_prefix);
        let mut config = settings.client_config();
        if let Some(id) = &settings.instance_id {
            config.set("group.instance.id", id);
        }
        let consumer: StreamConsumer<VigilContext> = config
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("session.timeout.ms", millis(settings.session_timeout))
            // Ten heartbeats per session: a few slow answers evict no one.
            .set(
                "heartbeat.interval.ms",
                millis(settings.session_timeout / 10),
            )
            .create_with_context(VigilContext::consumer(&group, services.status.clone()))
            .map_err(|e| KafkaError::new("cannot create a consumer", e))?;
        let topics = [
            settings.topics.transactions.as_str(),
            settings.topics.labels.as_str(),
        ];
        consumer
            .subscribe(&topics)
            .map_err(|e| KafkaError::new("cannot subscribe", e))?;
        let pipeline = Pipeline {
            role,
            group,
            topics: settings.topics.clone(),
            sinks,
            services,
            batch_size: settings.batch_size,
            batch_linger: settings.batch_linger,
        };
        let (stop, stopped) = watch::channel(false);
        // On the caller's actix arbiter: actor links are not Send.
        let task = actix::spawn(run(consumer, pipeline, stopped));
        Ok(KafkaConsumer { stop, task })
    }

    /// Stops after the batch in progress.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}

/// One message, copied out of librdkafka's buffer.
#[derive(Debug)]
pub(super) struct Received {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Event time in ms since the epoch: the `vigil-event-time` header,
    /// else the record's timestamp.
    pub time: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

async fn run(
    consumer: StreamConsumer<VigilContext>,
    p: Pipeline,
    mut stopped: watch::Receiver<bool>,
) {
    // The features group's state spans its partitions: it gets their
    // messages in event time (event_time.rs). The raw group's writes do
    // not depend on order.
    let mut merge =
        (p.role == ConsumerRole::Features).then(|| EventTimeMerge::new(&p.topics.labels));
    loop {
        // While messages wait for a partition, look again soon even if
        // nothing arrives: that partition may fall silent.
        let wait = match &merge {
            Some(merge) if !merge.is_empty() => Some(Duration::from_millis(200)),
            _ => None,
        };
        let mut batch = tokio::select! {
            _ = stopped.changed() => return,
            batch = next_batch(&consumer, p.batch_size, p.batch_linger, wait) => batch,
        };
        let changes = consumer.context().take_assignments();
        if !changes.is_empty() {
            p.apply_assignment(&consumer, &changes, &mut stopped).await;
            // Messages fetched before a revocation belong to their new
            // owner now, which resumes from the committed offset.
            let owned = assigned(&consumer);
            batch.retain(|m| owned.contains(&(m.topic.clone(), m.partition)));
            if let Some(merge) = merge.as_mut() {
                merge.assign(&owned, Instant::now());
                set_fetching(&consumer, &owned, true);
            }
        }
        let batch = match merge.as_mut() {
            Some(merge) => {
                merge.push(batch, Instant::now());
                let reported = p.services.status.progress_of(&p.group);
                let released = merge.release(&reported, Instant::now());
                let flow = merge.flow_changes();
                set_fetching(&consumer, &flow.pause, false);
                set_fetching(&consumer, &flow.resume, true);
                released
            }
            None => batch,
        };
        if batch.is_empty() {
            continue;
        }
        // In the merged order a label must reach the state before the later
        // transactions it counts for: one delivery per run of one topic.
        let runs: Vec<&[Received]> = match merge {
            Some(_) => batch.chunk_by(|a, b| a.topic == b.topic).collect(),
            None => vec![&batch],
        };
        for run in runs {
            if !p.deliver(run, &mut stopped).await {
                return;
            }
        }
        commit(&consumer, &batch);
    }
}

/// Waits for one message (at most `wait`, when given), then takes what
/// arrives within the linger time.
async fn next_batch(
    consumer: &StreamConsumer<VigilContext>,
    max: usize,
    linger: Duration,
    wait: Option<Duration>,
) -> Vec<Received> {
    let mut batch = Vec::new();
    let first = match wait {
        Some(wait) => match tokio::time::timeout(wait, consumer.recv()).await {
            Ok(received) => received,
            Err(_) => return batch,
        },
        None => consumer.recv().await,
    };
    match first {
        Ok(m) => batch.push(copy(&m)),
        Err(e) => {
            tracing::warn!(error = %e, "kafka receive failed");
            tokio::time::sleep(Duration::from_millis(500)).await;
            return batch;
        }
    }
    let deadline = Instant::now() + linger;
    while batch.len() < max {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(m)) => batch.push(copy(&m)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "kafka receive failed");
                break;
            }
            Err(_) => break,
        }
    }
    batch
}

fn copy(m: &rdkafka::message::BorrowedMessage<'_>) -> Received {
    Received {
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        time: event_time(m),
        key: m.key().map(<[u8]>::to_vec),
        payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
    }
}

/// The event time Vigil's publisher put in the header; for other
/// producers the record's timestamp (their create time); without either,
/// the earliest time, so the message is released at once.
fn event_time(m: &rdkafka::message::BorrowedMessage<'_>) -> i64 {
    let from_header = m.headers().and_then(|headers| {
        headers
            .iter()
            .find(|h| h.key == EVENT_TIME_HEADER)
            .and_then(|h| <[u8; 8]>::try_from(h.value?).ok())
            .map(i64::from_be_bytes)
    });
    from_header
        .or_else(|| m.timestamp().to_millis())
        .unwrap_or(i64::MIN)
}

fn assigned(consumer: &StreamConsumer<VigilContext>) -> BTreeSet<(String, i32)> {
    consumer
        .assignment()
        .map(|list| {
            list.elements()
                .iter()
                .map(|e| (e.topic().to_owned(), e.partition()))
                .collect()
        })
        .unwrap_or_default()
}

/// Resumes (`fetch`) or pauses fetching from `partitions`.
fn set_fetching<'a>(
    consumer: &StreamConsumer<VigilContext>,
    partitions: impl IntoIterator<Item = &'a (String, i32)>,
    fetch: bool,
) {
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    if list.count() == 0 {
        return;
    }
    let result = if fetch {
        consumer.resume(&list)
    } else {
        consumer.pause(&list)
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, fetch, "cannot pause or resume partitions");
    }
}

/// Commits the offset after the last message of each partition in `batch`.
/// Asynchronously: a commit lost in a crash only means redelivery, which
/// the idempotent sinks absorb.
fn commit(consumer: &StreamConsumer<VigilContext>, batch: &[Received]) {
    let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for m in batch {
        let offset = next.entry((m.topic.as_str(), m.partition)).or_default();
        *offset = (*offset).max(m.offset + 1);
    }
    let mut list = TopicPartitionList::new();
    for ((topic, partition), offset) in next {
        if let Err(e) = list.add_partition_offset(topic, partition, Offset::Offset(offset)) {
            tracing::error!(error = %e, "cannot build the commit");
            return;
        }
    }
    if let Err(e) = consumer.commit(&list, CommitMode::Async) {
        tracing::warn!(error = %e, "offset commit failed; the batch will be redelivered");
    }
}

/// A batch split by topic and decoded.
#[derive(Default)]
struct Decoded<'a> {
    transactions: Vec<Transaction>,
    labels: Vec<Label>,
    malformed: Vec<(&'a Received, String)>,
}

impl Pipeline {
    fn decode<'a>(&self, batch: &'a [Received]) -> Decoded<'a> {
        let mut decoded = Decoded::default();
        for m in batch {
            if m.topic == self.topics.labels {
                match decode_label(&m.payload) {
                    Ok(label) => decoded.labels.push(label),
                    Err(reason) => decoded.malformed.push((m, reason)),
                }
            } else {
                match decode_transaction(&m.payload) {
                    Ok(t) => decoded.transactions.push(t),
                    Err(reason) => decoded.malformed.push((m, reason)),
                }
            }
        }
        decoded
    }

    /// Hands the batch downstream, retrying until it is accepted. False
    /// when told to stop first.
    async fn deliver(&self, batch: &[Received], stopped: &mut watch::Receiver<bool>) -> bool {
        let decoded = self.decode(batch);
        if self.role == ConsumerRole::Raw {
            for (message, reason) in &decoded.malformed {
                if !retry(stopped, "dead letter", || self.dead_letter(message, reason)).await {
                    return false;
                }
            }
        }
        // Transactions before labels: a label only counts for a transaction
        // the feature state already holds.
        if !decoded.transactions.is_empty() {
            let batch = TransactionBatch {
                source: EventSource::Kafka,
                transactions: decoded.transactions,
                original_ids: Vec::new(),
            };
            let sink = &self.sinks.transactions;
            if !retry(stopped, "transactions", || sink.send(batch.clone())).await {
                return false;
            }
        }
        if !decoded.labels.is_empty() {
            let batch = LabelBatch {
                labels: decoded.labels,
            };
            let sink = &self.sinks.labels;
            if !retry(stopped, "labels", || sink.send(batch.clone())).await {
                return false;
            }
        }
        true
    }

    /// Writes a malformed message to `<topic>.dlq` and `dead_letters`.
    async fn dead_letter(&self, m: &Received, reason: &str) -> Result<(), KafkaError> {
        let headers = [
            ("reason", reason.to_owned()),
            ("topic", m.topic.clone()),
            ("partition", m.partition.to_string()),
            ("offset", m.offset.to_string()),
        ];
        self.services
            .publisher
            .send_raw(
                &Topics::dlq(&m.topic),
                m.key.as_deref(),
                &m.payload,
                &headers,
            )
            .await?;
        let letter = DeadLetter {
            actor: self.group.clone(),
            message_kind: m.topic.clone(),
            payload: m.payload.clone(),
            reason: format!("{reason} ({}/{} offset {})", m.topic, m.partition, m.offset),
            attempts: 1,
        };
        self.services
            .store
            .insert_dead_letter(&letter)
            .await
            .map_err(|e| KafkaError::message(format!("cannot store the dead letter: {e}")))?;
        self.services
            .metrics
            .dead_letters
            .with_label_values(&[self.group.as_str()])
            .inc();
        tracing::warn!(topic = %m.topic, partition = m.partition, offset = m.offset, reason, "message dead-lettered");
        Ok(())
    }

    /// Tells the FeatureEngine which partitions it owns now, before any
    /// message of a new partition is processed.
    async fn apply_assignment(
        &self,
        consumer: &StreamConsumer<VigilContext>,
        changes: &[Assignment],
        stopped: &mut watch::Receiver<bool>,
    ) {
        let Some(link) = &self.sinks.ownership else {
            return;
        };
        let partitions: BTreeSet<i32> = assigned(consumer)
            .into_iter()
            .filter(|(topic, _)| *topic == self.topics.transactions)
            .map(|(_, p)| p)
            .collect();
        tracing::info!(group = %self.group, ?partitions, changes = changes.len(), "rebuilding feature state for the owned partitions");
        let own = OwnPartitions {
            partitions,
            partition_count: self.services.partition_count,
        };
        retry(stopped, "ownership", || link.send(own.clone())).await;
    }
}

/// Runs `attempt` until it succeeds, with backoff up to 5 s. False when
/// told to stop first.
async fn retry<T, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    stopped: &mut watch::Receiver<bool>,
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> bool {
    let mut backoff = Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(_) => return true,
            Err(e) => {
                tracing::warn!(what, error = %e, ?backoff, "delivery failed, retrying");
                tokio::select! {
                    _ = stopped.changed() => return false,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

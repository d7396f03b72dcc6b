//! A consumer group member: reads batches from `transactions` and
//! `labels`, hands them to its actors, and commits the offsets only after
//! they were written.
//!
//! Each member is a supervised worker like every other actor (named
//! `raw_consumer` and `features_consumer`): a driver sends it
//! `ConsumeNext` again and again, and each one fetches a batch (waiting at
//! most a second when the topics are quiet), hands it downstream and
//! commits it. A panic or an error restarts it with a fresh client that
//! resumes from the committed offsets, counted in `/health/actors`, and the
//! progress watchdog sees a member that stops making progress.
//!
//! A member never moves past a batch its actors did not accept: it retries
//! with backoff (a store outage pauses consumption, nothing is skipped).
//! Messages that do not parse are dead-lettered by the raw group (the
//! features group skips them, so each lands in the DLQ once).

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Message as ActixMessage;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use vigil_core::{Label, Transaction};

use super::context::{Assignment, VigilContext};
use super::event_time::EventTimeMerge;
use super::publisher::{EVENT_TIME_HEADER, KafkaPublisher};
use super::status::{KafkaStatus, PartitionProgress};
use super::wire::{decode_label, decode_transaction};
use super::{KafkaError, KafkaSettings, Topics};
use crate::error::{ActorError, Undelivered};
use crate::messages::{EventSource, LabelBatch, OwnPartitions, TransactionBatch};
use crate::metrics::Metrics;
use crate::store::{DeadLetter, Store};
use crate::supervisor::{Factory, Link, Processes, Spawner, Worker};

/// Which of the two groups a consumer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerRole {
    /// `vigil-raw`: RawStore; dead-letters malformed messages.
    Raw,
    /// `vigil-features`: the Decider; owns feature state per partition.
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

/// What a member needs besides its client.
struct Pipeline {
    role: ConsumerRole,
    group: String,
    topics: Topics,
    sinks: ConsumerSinks,
    services: ConsumerServices,
    batch_size: usize,
    batch_linger: Duration,
}

/// Fetch a batch, hand it downstream, commit it. The reply is how many
/// messages were delivered.
#[derive(Debug, Clone, Copy, Serialize, ActixMessage)]
#[rtype(result = "Result<usize, Undelivered>")]
pub struct ConsumeNext;

/// Commit what was delivered synchronously and leave the group.
#[derive(Debug, Clone, Copy, Serialize, ActixMessage)]
#[rtype(result = "Result<(), Undelivered>")]
pub struct Leave;

/// How long a fetch waits for a first message on quiet topics: a member
/// answers within it, so that an idle member is never a stalled one.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// How long a fetch waits while messages are held for a partition that
/// may fall silent.
const HOLD_WAIT: Duration = Duration::from_millis(200);

/// The two groups, as types: each member is a worker type of its own.
pub trait GroupRole: Unpin + 'static {
    const ROLE: ConsumerRole;
    /// The member's actor name.
    const NAME: &'static str;
}

/// The `vigil-raw` group.
pub struct RawGroup;

impl GroupRole for RawGroup {
    const ROLE: ConsumerRole = ConsumerRole::Raw;
    const NAME: &'static str = "raw_consumer";
}

/// The `vigil-features` group.
pub struct FeaturesGroup;

impl GroupRole for FeaturesGroup {
    const ROLE: ConsumerRole = ConsumerRole::Features;
    const NAME: &'static str = "features_consumer";
}

/// A member of a consumer group, as a supervised worker.
pub struct GroupMember<G: GroupRole> {
    /// None once it left the group.
    consumer: Option<StreamConsumer<VigilContext>>,
    pipeline: Arc<Pipeline>,
    /// The features group's event-time merge (event_time.rs).
    merge: Option<EventTimeMerge>,
    /// The next offset of each partition whose messages were delivered.
    delivered: BTreeMap<(String, i32), i64>,
    stopped: watch::Receiver<bool>,
    _group: PhantomData<G>,
}

impl<G: GroupRole> Worker for GroupMember<G> {
    const NAME: &'static str = G::NAME;
    type Kept = ();
}

/// A running consumer: its supervised member and the driver that keeps it
/// consuming. Dropping it stops it after the batch in progress.
pub struct KafkaConsumer {
    stop: watch::Sender<bool>,
    driver: Option<JoinHandle<()>>,
}

impl KafkaConsumer {
    /// Joins the role's group, subscribes and starts consuming, under
    /// `spawner`.
    pub fn start(
        settings: &KafkaSettings,
        role: ConsumerRole,
        sinks: ConsumerSinks,
        services: ConsumerServices,
        spawner: &Spawner,
    ) -> Result<Self, KafkaError> {
        let pipeline = Arc::new(Pipeline {
            role,
            group: role.group(&settings.group_prefix),
            topics: settings.topics.clone(),
            sinks,
            services,
            batch_size: settings.batch_size,
            batch_linger: settings.batch_linger,
        });
        // The first client is made here, so that a bad configuration
        // stops start-up; restarts make their own.
        let first = connect(settings, &pipeline)?;
        let (stop, stopped) = watch::channel(false);
        let driver = match role {
            ConsumerRole::Raw => {
                spawn_member::<RawGroup>(settings, pipeline, first, stopped, spawner)
            }
            ConsumerRole::Features => {
                spawn_member::<FeaturesGroup>(settings, pipeline, first, stopped, spawner)
            }
        };
        Ok(KafkaConsumer {
            stop,
            driver: Some(driver),
        })
    }

    /// Stops after the batch in progress, commits and leaves the group.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(driver) = self.driver.take() {
            let _ = driver.await;
        }
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the supervised member of group `G` and its driver.
fn spawn_member<G: GroupRole>(
    settings: &KafkaSettings,
    pipeline: Arc<Pipeline>,
    first: StreamConsumer<VigilContext>,
    stopped: watch::Receiver<bool>,
    spawner: &Spawner,
) -> JoinHandle<()> {
    let member = spawner.spawn(member_factory::<G>(
        settings.clone(),
        pipeline,
        first,
        stopped.clone(),
    ));
    // On the caller's actix arbiter, like the member itself.
    actix::spawn(drive(member.link(), member.link(), stopped))
}

/// Builds members: the first from the client made at start, later ones
/// (after a failure) from a new client.
fn member_factory<G: GroupRole>(
    settings: KafkaSettings,
    pipeline: Arc<Pipeline>,
    first: StreamConsumer<VigilContext>,
    stopped: watch::Receiver<bool>,
) -> Factory<GroupMember<G>> {
    let first = Mutex::new(Some(first));
    Arc::new(move |_| {
        let taken = first.lock().unwrap_or_else(|e| e.into_inner()).take();
        let consumer = match taken {
            Some(consumer) => Ok(consumer),
            None => connect(&settings, &pipeline),
        };
        let member = consumer.map(|consumer| GroupMember {
            consumer: Some(consumer),
            merge: (G::ROLE == ConsumerRole::Features)
                .then(|| EventTimeMerge::new(&pipeline.topics.labels)),
            pipeline: pipeline.clone(),
            delivered: BTreeMap::new(),
            stopped: stopped.clone(),
            _group: PhantomData,
        });
        Box::pin(async move { member.map_err(|e| ActorError::Failed(e.to_string())) })
    })
}

/// A client of the group, subscribed to both topics.
fn connect(
    settings: &KafkaSettings,
    pipeline: &Pipeline,
) -> Result<StreamConsumer<VigilContext>, KafkaError> {
    let group = &pipeline.group;
    let mut config = settings.client_config();
    if let Some(id) = &settings.instance_id {
        config.set("group.instance.id", id);
    }
    let consumer: StreamConsumer<VigilContext> = config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", millis(settings.session_timeout))
        // Ten heartbeats per session: a few slow answers evict no one.
        .set(
            "heartbeat.interval.ms",
            millis(settings.session_timeout / 10),
        )
        .create_with_context(VigilContext::consumer(
            group,
            pipeline.services.status.clone(),
        ))
        .map_err(|e| KafkaError::new("cannot create a consumer", e))?;
    let topics = [
        settings.topics.transactions.as_str(),
        settings.topics.labels.as_str(),
    ];
    consumer
        .subscribe(&topics)
        .map_err(|e| KafkaError::new("cannot subscribe", e))?;
    Ok(consumer)
}

/// Keeps the member consuming until told to stop, then has it leave.
async fn drive(next: Link<ConsumeNext>, leave: Link<Leave>, stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        if let Err(undelivered) = next.send(ConsumeNext).await {
            // Failed twice in a row: nothing was committed, so the next
            // batch starts again from the committed offsets.
            tracing::error!(%undelivered, "a consumer batch failed twice; consuming on");
        }
    }
    if let Err(undelivered) = leave.send(Leave).await {
        tracing::warn!(%undelivered, "a consumer could not leave its group cleanly");
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

impl<G: GroupRole> Processes<ConsumeNext> for GroupMember<G> {
    type Reply = usize;

    async fn handle(&mut self, _: &ConsumeNext) -> Result<usize, ActorError> {
        let GroupMember {
            consumer,
            pipeline: p,
            merge,
            delivered,
            stopped,
            ..
        } = self;
        let Some(consumer) = consumer.as_ref() else {
            return Ok(0);
        };
        // While messages wait for a partition, look again soon even if
        // nothing arrives: that partition may fall silent.
        let wait = match merge.as_ref() {
            Some(merge) if !merge.is_empty() => HOLD_WAIT,
            _ => IDLE_WAIT,
        };
        let fetch_began = Instant::now();
        let mut batch = tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => return Ok(0),
            batch = next_batch(consumer, p.batch_size, p.batch_linger, wait) => batch,
        };
        // Less than a full batch: the queue was drained, and the time spent
        // is time every partition had to be heard from.
        if let Some(merge) = merge.as_mut()
            && batch.len() < p.batch_size
        {
            merge.waited(fetch_began.elapsed());
        }
        let changes = consumer.context().take_assignments();
        if !changes.is_empty() {
            p.apply_assignment(consumer, &changes, stopped).await;
            // Messages fetched before a revocation belong to their new
            // owner now, which resumes from the committed offset.
            let owned = assigned(consumer);
            batch.retain(|m| owned.contains(&(m.topic.clone(), m.partition)));
            delivered.retain(|partition, _| owned.contains(partition));
            if let Some(merge) = merge.as_mut() {
                merge.assign(&owned);
                set_fetching(consumer, &owned, true);
            }
        }
        let batch = match merge.as_mut() {
            Some(merge) => {
                merge.push(batch);
                let reported = p.services.status.progress_of(&p.group);
                let out_of_order = merge.released_out_of_order();
                let released = release_confirmed(consumer, merge, &reported);
                let late = merge.released_out_of_order() - out_of_order;
                if late > 0 {
                    tracing::warn!(group = %p.group, late, ?reported, "messages released after newer ones: a partition stopped holding before delivering them");
                }
                let flow = merge.flow_changes();
                set_fetching(consumer, &flow.pause, false);
                set_fetching(consumer, &flow.resume, true);
                released
            }
            None => batch,
        };
        if batch.is_empty() {
            return Ok(0);
        }
        // In the merged order a label must reach the state before the later
        // transactions it counts for: one delivery per run of one topic.
        let runs: Vec<&[Received]> = match merge {
            Some(_) => batch.chunk_by(|a, b| a.topic == b.topic).collect(),
            None => vec![&batch],
        };
        for run in runs {
            if !p.deliver(run, stopped).await {
                // Told to stop while the sinks refused: not committed, the
                // batch is redelivered to whoever consumes next.
                return Ok(0);
            }
        }
        commit(consumer, &batch, delivered);
        Ok(batch.len())
    }
}

impl<G: GroupRole> Processes<Leave> for GroupMember<G> {
    type Reply = ();

    async fn handle(&mut self, _: &Leave) -> Result<(), ActorError> {
        let Some(consumer) = self.consumer.take() else {
            return Ok(());
        };
        // The batch commits were asynchronous: the last word is synchronous.
        let owned = assigned(&consumer);
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in &self.delivered {
            if owned.contains(&(topic.clone(), *partition)) {
                let _ = list.add_partition_offset(topic, *partition, Offset::Offset(*offset));
            }
        }
        if list.count() > 0
            && let Err(e) = consumer.commit(&list, CommitMode::Sync)
        {
            tracing::warn!(group = %self.pipeline.group, error = %e, "final offset commit failed; the last batches will be redelivered");
        }
        consumer.unsubscribe();
        tracing::info!(group = %self.pipeline.group, "left the consumer group");
        Ok(())
    }
}

/// How long the broker may take to tell a partition's high watermark.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(1);

/// What the merge releases, asking the broker about the partitions that
/// held it back on their silence alone (a ListOffsets request each):
/// confirmed idle, they let through what had arrived; unanswered, they
/// hold for the merge's longer limit.
fn release_confirmed(
    consumer: &StreamConsumer<VigilContext>,
    merge: &mut EventTimeMerge,
    reported: &BTreeMap<(String, i32), PartitionProgress>,
) -> Vec<Received> {
    let mut released = merge.release(reported);
    // Each partition is confirmed at most once per round: nothing arrives
    // meanwhile, so a confirmed one cannot block again.
    for _ in 0..=merge.partition_count() {
        let ask = merge.to_confirm(reported);
        if ask.is_empty() {
            break;
        }
        for key in ask {
            match consumer.fetch_watermarks(&key.0, key.1, WATERMARK_TIMEOUT) {
                Ok((_, high)) => merge.confirm(&key, high, reported),
                Err(e) => {
                    tracing::debug!(topic = %key.0, partition = key.1, error = %e, "high watermark not answered");
                    return released;
                }
            }
        }
        released.extend(merge.release(reported));
    }
    released
}

/// Waits for one message (at most `wait`), then takes what arrives within
/// the linger time.
async fn next_batch(
    consumer: &StreamConsumer<VigilContext>,
    max: usize,
    linger: Duration,
    wait: Duration,
) -> Vec<Received> {
    let mut batch = Vec::new();
    let first = match tokio::time::timeout(wait, consumer.recv()).await {
        Ok(received) => received,
        Err(_) => return batch,
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

/// Commits the offset after the last message of each partition in `batch`
/// and records it in `delivered`. Asynchronously: a commit lost in a crash
/// only means redelivery, which the idempotent sinks absorb.
fn commit(
    consumer: &StreamConsumer<VigilContext>,
    batch: &[Received],
    delivered: &mut BTreeMap<(String, i32), i64>,
) {
    let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for m in batch {
        let offset = next.entry((m.topic.as_str(), m.partition)).or_default();
        *offset = (*offset).max(m.offset + 1);
    }
    for ((topic, partition), offset) in &next {
        let known = delivered
            .entry(((*topic).to_owned(), *partition))
            .or_default();
        *known = (*known).max(*offset);
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

    /// Tells the Decider which partitions it owns now, before any
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
                    _ = stopped.wait_for(|stop| *stop) => return false,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

//! The decision queue: micro-batches the transactions of concurrent
//! callers (`POST /score`) into one bus batch, so that the Decider
//! computes and stores them together (raw events, features, scores and
//! alerts in one database transaction) instead of one transaction each.
//!
//! One task takes whatever is queued, up to `max_batch`, publishes it and
//! then answers every caller in the batch. There is no timer: a lone
//! request is published at once, and batches form only while the previous
//! one is in flight, so they grow with the load and add no latency
//! without it. The guarantees are the bus's: on the in-process bus a
//! caller is answered only once its transaction is stored and scored, on
//! Kafka once the broker has it.
//!
//! A batch the pipeline refuses for good (a stage failed it twice and
//! dead-lettered it) is published again one transaction at a time, so
//! that a transaction that cannot be processed fails its own request
//! only, not those it happened to share a batch with.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;
use vigil_core::Transaction;

use crate::bus::Bus;
use crate::error::Undelivered;
use crate::messages::{EventSource, TransactionBatch};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::entity::score;

/// Callers that may wait in the queue; past it `decide` waits for room
/// (backpressure) rather than growing memory.
const QUEUE_BOUND: usize = 16_384;

/// What became of a queued transaction.
#[derive(Debug, Clone)]
pub enum Decided {
    /// Processed (in-process bus): its newest stored score, none when no
    /// model is in production.
    Processed(Option<score::Model>),
    /// Handed to the broker (Kafka): the stream scores it.
    Published,
}

/// Why a queued transaction got no decision.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecideError {
    #[error(transparent)]
    Undelivered(#[from] Undelivered),
    #[error("the store is unavailable: {0}")]
    Store(String),
    #[error("the decision queue has stopped")]
    Stopped,
}

/// A caller waiting for its transaction's decision.
struct Pending {
    transaction: Transaction,
    queued_at: Instant,
    reply: oneshot::Sender<Result<Decided, DecideError>>,
}

/// The sending side; cheap to clone, one per HTTP worker.
#[derive(Clone)]
pub struct DecisionQueue {
    sender: mpsc::Sender<Pending>,
    metrics: Arc<Metrics>,
}

impl DecisionQueue {
    /// Starts the batching task on the current actix arbiter.
    pub fn start(bus: Bus, store: Store, metrics: Arc<Metrics>, max_batch: usize) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_BOUND);
        let batcher = Batcher {
            bus,
            store,
            metrics: metrics.clone(),
            max_batch: max_batch.max(1),
        };
        actix::spawn(batcher.run(receiver));
        DecisionQueue { sender, metrics }
    }

    /// Queues `transaction` and waits until its batch was published (and,
    /// on the in-process bus, processed).
    pub async fn decide(&self, transaction: Transaction) -> Result<Decided, DecideError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            transaction,
            queued_at: Instant::now(),
            reply,
        };
        // Counted before it can be taken, so the gauge never goes below 0.
        self.metrics.decision_queue_depth.inc();
        if self.sender.send(pending).await.is_err() {
            self.metrics.decision_queue_depth.dec();
            return Err(DecideError::Stopped);
        }
        answer.await.map_err(|_| DecideError::Stopped)?
    }
}

/// The task that publishes batches.
struct Batcher {
    bus: Bus,
    store: Store,
    metrics: Arc<Metrics>,
    max_batch: usize,
}

impl Batcher {
    async fn run(self, mut receiver: mpsc::Receiver<Pending>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        // Waits for one caller, then takes every other one already queued.
        while receiver.recv_many(&mut batch, self.max_batch).await > 0 {
            let taken = std::mem::take(&mut batch);
            self.metrics.decision_queue_depth.sub(taken.len() as i64);
            self.decide(taken).await;
        }
    }

    /// Publishes one batch and answers its callers.
    async fn decide(&self, batch: Vec<Pending>) {
        let started = Instant::now();
        let stage = |name: &str, since: Instant| {
            self.metrics
                .decision_stage_seconds
                .with_label_values(&[name])
                .observe(since.elapsed().as_secs_f64());
        };
        for p in &batch {
            stage("queue", p.queued_at);
        }
        self.metrics.decision_batch_size.observe(batch.len() as f64);
        let published = self.publish_isolating(&batch).await;
        stage("pipeline", started);
        let answered = Instant::now();
        let processed =
            self.bus.processes_before_returning() && published.iter().any(Result::is_ok);
        let scores = if processed {
            self.scores_of(&batch).await.map(Some)
        } else {
            Ok(None)
        };
        stage("answer", answered);
        for (p, published) in batch.into_iter().zip(published) {
            let id = p.transaction.transaction_id;
            let answer = match (published, &scores) {
                (Err(e), _) => Err(DecideError::from(e)),
                (Ok(()), Ok(Some(scores))) => Ok(Decided::Processed(scores.get(&id).cloned())),
                (Ok(()), Ok(None)) => Ok(Decided::Published),
                (Ok(()), Err(e)) => Err(e.clone()),
            };
            // A caller that gave up (its request was cancelled) needs no answer.
            let _ = p.reply.send(answer);
        }
    }

    /// Publishes the batch; when the pipeline refuses it for good, each
    /// transaction alone. The outcome of each caller's transaction.
    async fn publish_isolating(&self, batch: &[Pending]) -> Vec<Result<(), Undelivered>> {
        match self.publish(batch).await {
            Err(refused) if !refused.transient && batch.len() > 1 => {
                tracing::warn!(
                    %refused,
                    transactions = batch.len(),
                    "a batch of POST /score was refused; publishing its transactions one by one"
                );
                let mut outcomes = Vec::with_capacity(batch.len());
                for pending in batch {
                    outcomes.push(self.publish(std::slice::from_ref(pending)).await);
                }
                outcomes
            }
            outcome => vec![outcome; batch.len()],
        }
    }

    /// One bus batch of the queued transactions, each id once: a retry
    /// that arrives while its first attempt is queued shares its answer.
    async fn publish(&self, batch: &[Pending]) -> Result<(), Undelivered> {
        let mut seen = std::collections::HashSet::with_capacity(batch.len());
        let transactions: Vec<Transaction> = batch
            .iter()
            .filter(|p| seen.insert(p.transaction.transaction_id))
            .map(|p| p.transaction.clone())
            .collect();
        self.bus
            .publish(TransactionBatch {
                source: EventSource::Api,
                transactions,
                original_ids: Vec::new(),
            })
            .await
    }

    /// The newest stored score of each transaction of the batch, read in
    /// one query.
    async fn scores_of(
        &self,
        batch: &[Pending],
    ) -> Result<HashMap<Uuid, score::Model>, DecideError> {
        let ids: Vec<Uuid> = batch.iter().map(|p| p.transaction.transaction_id).collect();
        self.store
            .latest_scores(&ids)
            .await
            .map_err(|e| DecideError::Store(e.to_string()))
    }
}

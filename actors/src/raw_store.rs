//! RawStore: persists every transaction and label as received.

use std::sync::Arc;

use crate::error::ActorError;
use crate::messages::{LabelBatch, TransactionBatch};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::supervisor::{Factory, Processes, Worker};

/// Writes `raw_events` and `labels`, idempotently, one batch per round trip.
pub struct RawStore {
    store: Store,
    metrics: Arc<Metrics>,
}

impl RawStore {
    /// A factory for the supervisor. RawStore holds no state besides the
    /// pool, so a restart only needs a new handle.
    pub fn factory(store: Store, metrics: Arc<Metrics>) -> Factory<RawStore> {
        Arc::new(move |_| {
            let worker = RawStore {
                store: store.clone(),
                metrics: metrics.clone(),
            };
            Box::pin(async move { Ok(worker) })
        })
    }
}

impl Worker for RawStore {
    const NAME: &'static str = "raw_store";
    type Kept = ();
}

impl Processes<TransactionBatch> for RawStore {
    type Reply = u64;

    async fn handle(&mut self, batch: &TransactionBatch) -> Result<u64, ActorError> {
        let inserted = self
            .store
            .insert_raw_events(
                &batch.transactions,
                batch.source.as_str(),
                &batch.original_ids,
            )
            .await?;
        self.metrics
            .stream_consumer_messages
            .inc_by(batch.transactions.len() as u64);
        Ok(inserted)
    }
}

impl Processes<LabelBatch> for RawStore {
    type Reply = u64;

    async fn handle(&mut self, batch: &LabelBatch) -> Result<u64, ActorError> {
        let inserted = self.store.insert_labels(&batch.labels).await?;
        self.metrics.labels_stored.inc_by(batch.labels.len() as u64);
        Ok(inserted)
    }
}

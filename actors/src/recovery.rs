//! Start-up recovery for the in-process bus. The Decider stores a
//! batch's raw events, features and scores in one database transaction,
//! so a crash cannot split them; what a crash (SIGKILL, power loss) can
//! leave is a fraud label stored but not yet counted by the feature state.
//! A store written by an earlier version, which committed each step on its
//! own, may also hold raw events without features or features without a
//! score. Before new events flow, all are handed on again, oldest first,
//! so every stored event is featurized, scored and counted exactly once,
//! as if the process had never stopped. (On Kafka, uncommitted offsets do
//! this.)

use vigil_core::Transaction;

use crate::messages::{EventSource, FeatureBatch, LabelBatch, TransactionBatch};
use crate::runtime::RuntimeError;
use crate::store::Store;
use crate::supervisor::Link;

/// Transactions per recovered batch, as the producer batches them.
const BATCH: usize = 500;

/// What recovery handed on again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Features owed a score, sent to the Decider.
    pub scored: usize,
    /// Raw events owed features, sent to the Decider.
    pub featurized: usize,
    /// Fraud labels the feature state had not counted.
    pub labels: usize,
}

/// Finishes what a crash left in flight. Scores first: the features that
/// await one were computed before any raw event that awaits features.
pub async fn finish_in_flight(
    store: &Store,
    decider: &Link<TransactionBatch>,
    label_counter: &Link<LabelBatch>,
    rescorer: &Link<FeatureBatch>,
) -> Result<Recovered, RuntimeError> {
    let mut recovered = Recovered::default();
    if let Some(since) = store.first_promotion().await? {
        let owed = store.unscored_since(since).await?;
        recovered.scored = owed.len();
        for rows in owed.chunks(BATCH) {
            let batch = FeatureBatch {
                rows: rows.to_vec(),
            };
            rescorer.send(batch).await.map_err(undelivered)?;
        }
    }
    let owed: Vec<Transaction> = store.transactions_without_features().await?;
    recovered.featurized = owed.len();
    for transactions in owed.chunks(BATCH) {
        let batch = TransactionBatch {
            source: EventSource::Recovery,
            transactions: transactions.to_vec(),
            original_ids: Vec::new(),
        };
        decider.send(batch).await.map_err(undelivered)?;
    }
    // After the transactions: a label of the batch in flight may name one.
    let labels = store.uncounted_fraud_labels().await?;
    recovered.labels = labels.len();
    for labels in labels.chunks(BATCH) {
        let batch = LabelBatch {
            labels: labels.to_vec(),
        };
        label_counter.send(batch).await.map_err(undelivered)?;
    }
    if recovered != Recovered::default() {
        tracing::warn!(
            scored = recovered.scored,
            featurized = recovered.featurized,
            labels = recovered.labels,
            "finished the events a crash left in flight"
        );
    }
    Ok(recovered)
}

fn undelivered(e: crate::error::Undelivered) -> RuntimeError {
    RuntimeError::Recovery(e.to_string())
}

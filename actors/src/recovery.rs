//! Start-up recovery for the in-process bus. A batch reaches the
//! FeatureEngine only after the RawStore stored it, and the Scorer only
//! after its features were stored; a crash (SIGKILL, power loss) between
//! those steps leaves raw events without features, features without a
//! score, or fraud labels the feature engine has not counted. Before new
//! events flow, all are handed on again, oldest first, so every stored
//! event is featurized, scored and counted exactly once, as if the process
//! had never stopped. (On Kafka, uncommitted offsets do this.)

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
    /// Features owed a score, sent to the Scorer.
    pub scored: usize,
    /// Raw events owed features, sent to the FeatureEngine (and on).
    pub featurized: usize,
    /// Fraud labels the FeatureEngine had not counted.
    pub labels: usize,
}

/// Finishes what a crash left in flight. Scores first: the features that
/// await one were computed before any raw event that awaits features.
pub async fn finish_in_flight(
    store: &Store,
    feature_engine: &Link<TransactionBatch>,
    label_counter: &Link<LabelBatch>,
    scorer: &Link<FeatureBatch>,
) -> Result<Recovered, RuntimeError> {
    let mut recovered = Recovered::default();
    if let Some(since) = store.first_promotion().await? {
        let owed = store.unscored_since(since).await?;
        recovered.scored = owed.len();
        for rows in owed.chunks(BATCH) {
            let batch = FeatureBatch {
                rows: rows.to_vec(),
            };
            scorer.send(batch).await.map_err(undelivered)?;
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
        feature_engine.send(batch).await.map_err(undelivered)?;
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

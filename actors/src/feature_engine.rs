//! FeatureEngine: turns every transaction into its behavioural feature
//! vector, persists it, and forwards it to the Scorer.
//!
//! A transaction the state already holds is skipped (redelivery). Feature
//! rows are written in one database transaction per batch, and a restarted
//! engine rebuilds its state from exactly the transactions that have
//! feature rows, so features computed across a restart equal those
//! computed without one.

use std::sync::Arc;
use std::time::Instant;

use chrono::TimeDelta;
use vigil_core::Transaction;
use vigil_core::features::{
    FeatureConfig, FeatureState, FeatureVector, HistoryEvent, order_history,
};

use crate::error::ActorError;
use crate::messages::{FeatureBatch, LabelBatch, TransactionBatch};
use crate::metrics::Metrics;
use crate::store::{HistoryScope, OnExisting, Store};
use crate::supervisor::{Factory, Handles, Link, Worker};

/// Computes, stores and forwards features.
pub struct FeatureEngine {
    state: FeatureState,
    store: Store,
    metrics: Arc<Metrics>,
    scorer: Link<FeatureBatch>,
}

impl FeatureEngine {
    /// A factory for the supervisor: each new engine rebuilds its state
    /// from the store.
    pub fn factory(
        store: Store,
        config: FeatureConfig,
        metrics: Arc<Metrics>,
        scorer: Link<FeatureBatch>,
    ) -> Factory<FeatureEngine> {
        Arc::new(move || {
            let (store, config, metrics, scorer) = (
                store.clone(),
                config.clone(),
                metrics.clone(),
                scorer.clone(),
            );
            Box::pin(async move {
                let state = rebuild_state(&store, config).await?;
                Ok(FeatureEngine {
                    state,
                    store,
                    metrics,
                    scorer,
                })
            })
        })
    }
}

/// The state a fresh engine needs: the processed transactions and the
/// labels within the longest look-back of any feature.
pub async fn rebuild_state(
    store: &Store,
    config: FeatureConfig,
) -> Result<FeatureState, ActorError> {
    let mut state = FeatureState::new(config.clone());
    let Some(newest) = store.newest_featurized_time().await? else {
        return Ok(state);
    };
    // Every window looks back at most 30 days, merchant fraud rates a label
    // delay further; a day of margin covers allowed lateness.
    let look_back = TimeDelta::days(31) + config.label_delay + config.allowed_lateness;
    let mut history = store
        .history(Some(newest - look_back), HistoryScope::Featurized)
        .await?;
    order_history(&mut history);
    for event in &history {
        match event {
            HistoryEvent::Transaction(t) => {
                state.process(t);
            }
            HistoryEvent::Label(l) => state.observe_label(l),
        }
    }
    Ok(state)
}

impl Worker for FeatureEngine {
    const NAME: &'static str = "feature_engine";
}

impl Handles<TransactionBatch> for FeatureEngine {
    type Reply = u64;

    async fn handle(&mut self, batch: &TransactionBatch) -> Result<u64, ActorError> {
        let mut rows: Vec<(&Transaction, FeatureVector)> =
            Vec::with_capacity(batch.transactions.len());
        for t in &batch.transactions {
            // A redelivered transaction is already in the state (and its
            // row in the store): counting it again would skew its user's
            // and merchant's windows.
            if self.state.remembers(&t.transaction_id) {
                continue;
            }
            let started = Instant::now();
            let features = self.state.process(t);
            self.metrics
                .feature_latency
                .observe(started.elapsed().as_secs_f64());
            rows.push((t, features));
        }
        self.store.insert_features(&rows, OnExisting::Keep).await?;
        self.metrics
            .feature_consumer_messages
            .inc_by(batch.transactions.len() as u64);
        let computed = rows.len() as u64;
        if computed > 0 {
            let forward = FeatureBatch {
                rows: rows.into_iter().map(|(t, f)| (t.clone(), f)).collect(),
            };
            // The scorer dead-letters what it cannot handle itself; the
            // features are stored either way, so this is not our failure.
            if let Err(undelivered) = self.scorer.send(forward).await {
                tracing::error!(%undelivered, "features not scored");
            }
        }
        Ok(computed)
    }
}

impl Handles<LabelBatch> for FeatureEngine {
    type Reply = u64;

    async fn handle(&mut self, batch: &LabelBatch) -> Result<u64, ActorError> {
        for label in &batch.labels {
            self.state.observe_label(label);
        }
        Ok(batch.labels.len() as u64)
    }
}

/// What an offline rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    pub transactions: usize,
    pub labels: usize,
}

/// The offline path: recomputes the features of every stored transaction
/// from `raw_events` and `labels` with the online code, and overwrites the
/// stored rows (`vigil features rebuild`).
pub async fn rebuild_all(
    store: &Store,
    config: &FeatureConfig,
) -> Result<RebuildReport, ActorError> {
    let history = store.history(None, HistoryScope::All).await?;
    let labels = history
        .iter()
        .filter(|e| matches!(e, HistoryEvent::Label(_)))
        .count();
    let transactions: std::collections::HashMap<_, _> = history
        .iter()
        .filter_map(|e| match e {
            HistoryEvent::Transaction(t) => Some((t.transaction_id, t.clone())),
            HistoryEvent::Label(_) => None,
        })
        .collect();
    let computed = vigil_core::features::compute_history(config, history);
    let rows: Vec<(&Transaction, FeatureVector)> = computed
        .iter()
        .filter_map(|(id, f)| transactions.get(id).map(|t| (t, *f)))
        .collect();
    store.insert_features(&rows, OnExisting::Replace).await?;
    Ok(RebuildReport {
        transactions: rows.len(),
        labels,
    })
}

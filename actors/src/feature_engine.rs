//! FeatureEngine: turns every transaction into its behavioural feature
//! vector, persists it, and forwards it to the Scorer.
//!
//! A transaction the state already holds is skipped (redelivery). Feature
//! rows are written in one database transaction per batch, and a restarted
//! engine rebuilds its state from exactly the transactions that have
//! feature rows, so features computed across a restart equal those
//! computed without one.
//!
//! On Kafka, each process owns some partitions of the transactions topic:
//! after a rebalance the engine keeps (and rebuilds from the store) the
//! state of the users of its partitions only. A redelivered transaction
//! whose features were stored but never scored (a crash in between) is
//! forwarded again with its stored features.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use vigil_core::Transaction;
use vigil_core::features::{
    FeatureConfig, FeatureState, FeatureVector, HistoryEvent, order_history,
};

use crate::bus::kafka::partition_for;
use crate::error::ActorError;
use crate::messages::{FeatureBatch, LabelBatch, OwnPartitions, TransactionBatch};
use crate::metrics::Metrics;
use crate::store::{HistoryScope, OnExisting, Store};
use crate::supervisor::{Factory, Handles, Link, Worker};

/// Computes, stores and forwards features.
pub struct FeatureEngine {
    state: FeatureState,
    store: Store,
    config: FeatureConfig,
    metrics: Arc<Metrics>,
    scorer: Link<FeatureBatch>,
    /// The partitions owned (Kafka); None = every user. Shared with the
    /// factory so a restarted engine rebuilds the same users.
    ownership: Arc<Mutex<Option<OwnPartitions>>>,
    /// When `fraud_feature_state_bytes` was last set.
    size_reported_at: Option<Instant>,
}

/// Measuring the state's size walks every user: not on every batch.
const SIZE_REPORT_EVERY: Duration = Duration::from_secs(1);

impl FeatureEngine {
    /// A factory for the supervisor: each new engine rebuilds its state
    /// from the store.
    pub fn factory(
        store: Store,
        config: FeatureConfig,
        metrics: Arc<Metrics>,
        scorer: Link<FeatureBatch>,
    ) -> Factory<FeatureEngine> {
        let ownership = Arc::new(Mutex::new(None));
        Arc::new(move || {
            let (store, config, metrics, scorer, ownership) = (
                store.clone(),
                config.clone(),
                metrics.clone(),
                scorer.clone(),
                ownership.clone(),
            );
            Box::pin(async move {
                let owned = lock(&ownership).clone();
                let state = rebuild_state(&store, config.clone(), owned.as_ref()).await?;
                Ok(FeatureEngine {
                    state,
                    store,
                    config,
                    metrics,
                    scorer,
                    ownership,
                    size_reported_at: None,
                })
            })
        })
    }
}

fn lock(
    ownership: &Mutex<Option<OwnPartitions>>,
) -> std::sync::MutexGuard<'_, Option<OwnPartitions>> {
    ownership.lock().unwrap_or_else(|e| e.into_inner())
}

impl OwnPartitions {
    /// Whether this process owns `user_id`'s partition.
    fn owns(&self, user_id: &str) -> bool {
        self.partitions
            .contains(&partition_for(user_id.as_bytes(), self.partition_count))
    }
}

/// The state a fresh engine needs: the processed transactions (of the
/// owned users, when `owned` is given) and the labels within the longest
/// look-back of any feature.
pub async fn rebuild_state(
    store: &Store,
    config: FeatureConfig,
    owned: Option<&OwnPartitions>,
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
    if let Some(owned) = owned {
        history.retain(|e| match e {
            HistoryEvent::Transaction(t) => owned.owns(&t.user_id),
            HistoryEvent::Label(_) => true,
        });
    }
    order_history(&mut history);
    for event in &history {
        state.apply(event);
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
        let mut redelivered = Vec::new();
        for t in &batch.transactions {
            // A redelivered transaction is already in the state (and its
            // row in the store): counting it again would skew its user's
            // and merchant's windows.
            if self.state.remembers(&t.transaction_id) {
                redelivered.push(t);
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
        self.report_size();
        let computed = rows.len() as u64;
        let mut forward: Vec<(Transaction, FeatureVector)> =
            rows.into_iter().map(|(t, f)| (t.clone(), f)).collect();
        if !redelivered.is_empty() {
            forward.extend(self.still_unscored(&redelivered).await?);
        }
        if !forward.is_empty() {
            let forward = FeatureBatch { rows: forward };
            // The scorer dead-letters what it cannot handle itself; the
            // features are stored either way, so this is not our failure.
            if let Err(undelivered) = self.scorer.send(forward).await {
                tracing::error!(%undelivered, "features not scored");
            }
        }
        Ok(computed)
    }
}

impl FeatureEngine {
    /// Sets `fraud_feature_state_bytes`, unless it was set within
    /// [`SIZE_REPORT_EVERY`].
    fn report_size(&mut self) {
        if self
            .size_reported_at
            .is_some_and(|at| at.elapsed() < SIZE_REPORT_EVERY)
        {
            return;
        }
        let bytes = self.state.approx_bytes() + self.state.approx_shared_bytes();
        self.metrics
            .feature_state_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.size_reported_at = Some(Instant::now());
    }

    /// Those redelivered transactions whose stored features were never
    /// scored, with those features.
    async fn still_unscored(
        &self,
        redelivered: &[&Transaction],
    ) -> Result<Vec<(Transaction, FeatureVector)>, ActorError> {
        let ids: Vec<_> = redelivered.iter().map(|t| t.transaction_id).collect();
        let owed = self.store.unscored_features(&ids).await?;
        Ok(redelivered
            .iter()
            .filter_map(|t| owed.get(&t.transaction_id).map(|f| ((*t).clone(), *f)))
            .collect())
    }
}

impl Handles<OwnPartitions> for FeatureEngine {
    type Reply = u64;

    async fn handle(&mut self, owned: &OwnPartitions) -> Result<u64, ActorError> {
        self.state = rebuild_state(&self.store, self.config.clone(), Some(owned)).await?;
        *lock(&self.ownership) = Some(owned.clone());
        Ok(self.state.active_users() as u64)
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

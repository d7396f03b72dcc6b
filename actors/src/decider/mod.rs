//! The Decider: for a batch of transactions, computes the features,
//! scores them with the production model, decides the alerts, and stores
//! all of it (with the raw events, embedded) in one database transaction.
//! Then the alerts go to the webhook queue.
//!
//! Everything before the commit happens in memory: the feature state
//! (`features.rs`), the served model (`served_model.rs`). The commit is
//! the batch's only write (`Store::record_decisions`), so a crash leaves a
//! batch either stored whole (raw event, features, score, alert) or not at
//! all, and the sender is answered only after it is durable. A batch the
//! store refuses is retried once and then dead-lettered whole by the
//! supervisor, payload included: nothing is lost, and nothing of it is
//! half-stored.
//!
//! The state of the features is updated before the commit; if the commit
//! fails, the worker is rebuilt (from the store) before the retry, so the
//! state never counts a transaction the store does not hold.
//!
//! The model is swapped by a `SwapModel` message. The actor handles one
//! message at a time, so a swap lands between two batches: no batch is
//! scored half with one model and half with the other. Until a model is
//! promoted nothing is scored: features are stored, and counted in
//! `fraud_features_unscored_total`.

mod features;
mod served_model;

use std::sync::Arc;
use std::time::Instant;

use vigil_core::Transaction;
use vigil_core::features::{FeatureConfig, FeatureState, FeatureVector};
use vigil_core::model::Thresholds;

pub use features::{RebuildReport, rebuild_all, rebuild_state};
use served_model::{ServedModel, load_production, publish_model};

use crate::decisions::Decisions;
use crate::error::ActorError;
use crate::messages::{FeatureBatch, OwnPartitions, Scored, SwapModel, TransactionBatch};
use crate::metrics::Metrics;
use crate::store::entity::fraud_alert;
use crate::store::{DecisionRecord, RawEvents, Store};
use crate::supervisor::{Factory, Kept, Processes, Worker};
use crate::webhook::WebhookQueue;

/// What the Decider is given to work with.
#[derive(Clone)]
pub struct DeciderServices {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Told which model is served, so that stored decisions of another
    /// one are not answered again.
    pub decisions: Arc<Decisions>,
    /// Where new alerts are posted, if anywhere. Shared by every
    /// incarnation: a restart loses no queued alert.
    pub webhook: Option<WebhookQueue>,
}

/// How the Decider decides.
#[derive(Debug, Clone)]
pub struct DeciderSettings {
    pub features: FeatureConfig,
    /// Probability cut-offs for APPROVE / REVIEW / BLOCK.
    pub thresholds: Thresholds,
    /// Whether the Decider writes `raw_events` itself (embedded). On Kafka
    /// the raw consumer group keeps the audit log of the topic.
    pub keeps_audit_log: bool,
}

/// Computes, scores, alerts and stores.
pub struct Decider {
    state: FeatureState,
    serving: Option<ServedModel>,
    settings: DeciderSettings,
    services: DeciderServices,
    /// The partitions owned (Kafka); None = every user. Kept across
    /// restarts so that a restarted Decider rebuilds the same users.
    ownership: Kept<Option<OwnPartitions>>,
    /// When `fraud_feature_state_bytes` was last set.
    size_reported_at: Option<Instant>,
}

impl Decider {
    /// A factory for the supervisor: each new Decider rebuilds its feature
    /// state from the store and loads the production model, so a restart
    /// computes the same features and serves the same model.
    pub fn factory(services: DeciderServices, settings: DeciderSettings) -> Factory<Decider> {
        Arc::new(move |ownership: Kept<Option<OwnPartitions>>| {
            let (services, settings) = (services.clone(), settings.clone());
            Box::pin(async move {
                let owned = ownership.lock().clone();
                let state =
                    rebuild_state(&services.store, settings.features.clone(), owned.as_ref())
                        .await?;
                let serving = load_production(&services.store).await?;
                publish_model(&services.metrics, serving.as_ref());
                services
                    .decisions
                    .serve(serving.as_ref().map(|s| s.version));
                Ok(Decider {
                    state,
                    serving,
                    settings,
                    services,
                    ownership,
                    size_reported_at: None,
                })
            })
        })
    }

    /// Scores `rows` with the served model; none without one.
    fn score_all(&self, rows: &[(&Transaction, FeatureVector)]) -> Vec<Scored> {
        let Some(serving) = &self.serving else {
            self.services
                .metrics
                .features_unscored
                .inc_by(rows.len() as u64);
            return Vec::new();
        };
        rows.iter()
            .map(|(t, f)| serving.score(&self.settings.thresholds, &self.services.metrics, t, f))
            .collect()
    }

    /// Counts the new alerts and hands them to the webhook queue.
    async fn announce(&self, alerts: &[fraud_alert::Model]) {
        self.services
            .metrics
            .alerts_created
            .inc_by(alerts.len() as u64);
        if let Some(webhook) = &self.services.webhook {
            webhook.enqueue(alerts).await;
        }
    }

    /// Observes a stage's time in `fraud_decision_stage_seconds`.
    fn time_stage(&self, stage: &str, since: Instant) {
        self.services
            .metrics
            .decision_stage_seconds
            .with_label_values(&[stage])
            .observe(since.elapsed().as_secs_f64());
    }
}

impl Worker for Decider {
    const NAME: &'static str = "decider";
    type Kept = Option<OwnPartitions>;
}

impl Processes<TransactionBatch> for Decider {
    type Reply = u64;

    async fn handle(&mut self, batch: &TransactionBatch) -> Result<u64, ActorError> {
        let started = Instant::now();
        let (computed, redelivered) = self.compute_features(&batch.transactions).await?;
        // A redelivered transaction whose stored features were never
        // scored (stored before a model was served) is scored now.
        let owed = self.still_unscored(&redelivered).await?;
        let owed: Vec<(&Transaction, FeatureVector)> = owed.iter().map(|(t, f)| (t, *f)).collect();
        self.time_stage("features", started);

        let scoring = Instant::now();
        let mut scores = self.score_all(&computed);
        scores.extend(self.score_all(&owed));
        self.time_stage("model", scoring);

        let committing = Instant::now();
        let raw = self.settings.keeps_audit_log.then_some(RawEvents {
            transactions: &batch.transactions,
            source: batch.source.as_str(),
            original_ids: &batch.original_ids,
        });
        let record = DecisionRecord {
            raw,
            features: &computed,
            scores: &scores,
        };
        let alerts = self.services.store.record_decisions(record).await?;
        self.time_stage("commit", committing);

        self.count_events(batch.transactions.len());
        self.announce(&alerts).await;
        self.report_size();
        Ok(computed.len() as u64)
    }
}

/// Scores stored features again (`POST /score` by id with a newer model,
/// recovery of features stored but never scored) and stores the scores
/// and alerts.
impl Processes<FeatureBatch> for Decider {
    type Reply = Vec<Scored>;

    async fn handle(&mut self, batch: &FeatureBatch) -> Result<Vec<Scored>, ActorError> {
        let rows: Vec<(&Transaction, FeatureVector)> =
            batch.rows.iter().map(|(t, f)| (t, *f)).collect();
        let scores = self.score_all(&rows);
        let record = DecisionRecord {
            raw: None,
            features: &[],
            scores: &scores,
        };
        let alerts = self.services.store.record_decisions(record).await?;
        self.announce(&alerts).await;
        Ok(scores)
    }
}

impl Processes<SwapModel> for Decider {
    type Reply = ();

    async fn handle(&mut self, swap: &SwapModel) -> Result<(), ActorError> {
        tracing::info!(version = swap.version, "serving a new model");
        let serving = ServedModel::swapped_in(swap);
        publish_model(&self.services.metrics, Some(&serving));
        self.services.decisions.serve(Some(serving.version));
        self.serving = Some(serving);
        Ok(())
    }
}

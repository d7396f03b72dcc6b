//! Scorer: scores feature vectors with the production model, stores every
//! score and hands REVIEW / BLOCK decisions to the Alerter.
//!
//! The model is swapped by a `SwapModel` message. The actor handles one
//! message at a time, so a swap lands between two batches: no batch is
//! scored half with one model and half with the other, and none is
//! dropped. Until a model has been promoted there is nothing to score
//! with: batches are acknowledged and counted in
//! `fraud_features_unscored_total`.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use vigil_core::Transaction;
use vigil_core::features::FeatureVector;
use vigil_core::model::{Decision, FraudModel, Thresholds};

use crate::decisions::Decisions;
use crate::error::ActorError;
use crate::messages::{FeatureBatch, Scored, ScoredBatch, SwapModel};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::supervisor::{Factory, Link, Processes, Worker};

/// The model being served and its registry version.
struct Serving {
    version: i32,
    model: Arc<FraudModel>,
    trained_at: DateTime<Utc>,
}

/// Scores transactions.
pub struct Scorer {
    serving: Option<Serving>,
    thresholds: Thresholds,
    store: Store,
    metrics: Arc<Metrics>,
    /// Told which model is served, so that stored decisions of another
    /// one are not answered again.
    decisions: Arc<Decisions>,
    alerter: Link<ScoredBatch>,
}

impl Scorer {
    /// A factory for the supervisor: each new scorer loads the production
    /// model from the registry, so a restart serves the same model.
    pub fn factory(
        store: Store,
        thresholds: Thresholds,
        metrics: Arc<Metrics>,
        decisions: Arc<Decisions>,
        alerter: Link<ScoredBatch>,
    ) -> Factory<Scorer> {
        Arc::new(move |_| {
            let (store, metrics, alerter) = (store.clone(), metrics.clone(), alerter.clone());
            let decisions = decisions.clone();
            Box::pin(async move {
                let serving = load_production(&store).await?;
                match &serving {
                    Some(s) => publish_model(&metrics, s),
                    None => {
                        metrics.model_version.set(0);
                        metrics.model_trained_timestamp.set(0.0);
                    }
                }
                decisions.serve(serving.as_ref().map(|s| s.version));
                Ok(Scorer {
                    serving,
                    thresholds,
                    store,
                    metrics,
                    decisions,
                    alerter,
                })
            })
        })
    }

    fn score(&self, serving: &Serving, t: &Transaction, features: &FeatureVector) -> Scored {
        let started = Instant::now();
        let prediction = serving.model.predict(features);
        let elapsed = started.elapsed();
        let decision = self.thresholds.decide(prediction.fraud_probability);
        self.metrics.scoring_requests.inc();
        self.metrics.scoring_latency.observe(elapsed.as_secs_f64());
        self.metrics
            .model_predictions
            .with_label_values(&[decision.as_str()])
            .inc();
        Scored {
            transaction_id: t.transaction_id,
            user_id: t.user_id.clone(),
            fraud_probability: prediction.fraud_probability,
            anomaly_score: prediction.anomaly_score,
            decision,
            risk_factors: prediction.risk_factors,
            model_version: serving.version,
            latency_ms: elapsed.as_secs_f64() * 1e3,
            scored_at: Utc::now(),
        }
    }
}

/// Which model is served and how old it is (an alert watches the age).
fn publish_model(metrics: &Metrics, serving: &Serving) {
    metrics.model_version.set(i64::from(serving.version));
    metrics
        .model_trained_timestamp
        .set(serving.trained_at.timestamp_millis() as f64 / 1e3);
}

/// The production model from the registry, if there is one. A production
/// row whose model cannot be loaded (a corrupt artifact) is refused with an
/// error in the log, and the most recently promoted earlier version that
/// loads is served instead: a bad row must not stop scoring.
async fn load_production(store: &Store) -> Result<Option<Serving>, ActorError> {
    let Some(row) = store.production_model().await? else {
        return Ok(None);
    };
    let refused = match serving(&row) {
        Ok(serving) => return Ok(Some(serving)),
        Err(reason) => reason,
    };
    tracing::error!(
        version = row.version,
        reason = %refused,
        "the production model cannot be loaded; serving the previously promoted one"
    );
    let mut earlier: Vec<_> = store
        .models()
        .await?
        .into_iter()
        .filter(|m| m.version != row.version && m.promoted_at.is_some())
        .collect();
    earlier.sort_by_key(|m| std::cmp::Reverse(m.promoted_at));
    for summary in earlier {
        let Some(candidate) = store.model(summary.version).await? else {
            continue;
        };
        match serving(&candidate) {
            Ok(serving) => {
                tracing::warn!(version = serving.version, "serving an earlier model");
                return Ok(Some(serving));
            }
            Err(reason) => tracing::error!(version = candidate.version, %reason, "cannot load"),
        }
    }
    tracing::error!("no promoted model can be loaded: nothing is scored until one is promoted");
    Ok(None)
}

/// A registry row, decoded for serving.
fn serving(row: &crate::store::entity::model::Model) -> Result<Serving, String> {
    let model = FraudModel::from_bytes(&row.artifact).map_err(|e| e.to_string())?;
    Ok(Serving {
        version: row.version,
        model: Arc::new(model),
        trained_at: row.created_at,
    })
}

impl Worker for Scorer {
    const NAME: &'static str = "scorer";
    type Kept = ();
}

impl Processes<FeatureBatch> for Scorer {
    type Reply = Vec<Scored>;

    async fn handle(&mut self, batch: &FeatureBatch) -> Result<Vec<Scored>, ActorError> {
        let Some(serving) = &self.serving else {
            self.metrics
                .features_unscored
                .inc_by(batch.rows.len() as u64);
            return Ok(Vec::new());
        };
        let scores: Vec<Scored> = batch
            .rows
            .iter()
            .map(|(t, f)| self.score(serving, t, f))
            .collect();
        self.store.insert_scores(&scores).await?;
        // Only REVIEW and BLOCK concern the Alerter.
        let alerting: Vec<Scored> = scores
            .iter()
            .filter(|s| s.decision != Decision::Approve)
            .cloned()
            .collect();
        if !alerting.is_empty() {
            // The scores are stored; an alert the Alerter cannot write is
            // dead-lettered there, not a reason to score again.
            let alerts = ScoredBatch { scores: alerting };
            if let Err(undelivered) = self.alerter.send(alerts).await {
                tracing::error!(%undelivered, "alerts not recorded");
            }
        }
        Ok(scores)
    }
}

impl Processes<SwapModel> for Scorer {
    type Reply = ();

    async fn handle(&mut self, swap: &SwapModel) -> Result<(), ActorError> {
        tracing::info!(version = swap.version, "serving a new model");
        let serving = Serving {
            version: swap.version,
            model: swap.model.clone(),
            trained_at: swap.trained_at,
        };
        publish_model(&self.metrics, &serving);
        self.decisions.serve(Some(serving.version));
        self.serving = Some(serving);
        Ok(())
    }
}

//! The model the Decider scores with: the registry's production
//! version, loaded at start-up and swapped by `SwapModel`.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use vigil_core::Transaction;
use vigil_core::features::FeatureVector;
use vigil_core::model::{FraudModel, Thresholds};

use crate::error::ActorError;
use crate::messages::{Scored, SwapModel};
use crate::metrics::Metrics;
use crate::store::Store;

/// The model being served and its registry version.
pub(super) struct ServedModel {
    pub(super) version: i32,
    model: Arc<FraudModel>,
    trained_at: DateTime<Utc>,
}

impl ServedModel {
    /// The model a promotion hands over.
    pub(super) fn swapped_in(swap: &SwapModel) -> ServedModel {
        ServedModel {
            version: swap.version,
            model: swap.model.clone(),
            trained_at: swap.trained_at,
        }
    }

    /// Scores one transaction: probability, decision and reasons.
    pub(super) fn score(
        &self,
        thresholds: &Thresholds,
        metrics: &Metrics,
        t: &Transaction,
        features: &FeatureVector,
    ) -> Scored {
        let started = Instant::now();
        let prediction = self.model.predict(features);
        let elapsed = started.elapsed();
        let decision = thresholds.decide(prediction.fraud_probability);
        metrics.scoring_requests.inc();
        metrics.scoring_latency.observe(elapsed.as_secs_f64());
        metrics
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
            model_version: self.version,
            latency_ms: elapsed.as_secs_f64() * 1e3,
            scored_at: Utc::now(),
        }
    }
}

/// Which model is served and how old it is (an alert watches the age).
pub(super) fn publish_model(metrics: &Metrics, serving: Option<&ServedModel>) {
    match serving {
        Some(serving) => {
            metrics.model_version.set(i64::from(serving.version));
            metrics
                .model_trained_timestamp
                .set(serving.trained_at.timestamp_millis() as f64 / 1e3);
        }
        None => {
            metrics.model_version.set(0);
            metrics.model_trained_timestamp.set(0.0);
        }
    }
}

/// The production model from the registry, if there is one. A production
/// row whose model cannot be loaded (a corrupt artifact) is refused with an
/// error in the log, and the most recently promoted earlier version that
/// loads is served instead: a bad row must not stop scoring.
pub(super) async fn load_production(store: &Store) -> Result<Option<ServedModel>, ActorError> {
    let Some(row) = store.production_model().await? else {
        return Ok(None);
    };
    let refused = match decode(&row) {
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
        match decode(&candidate) {
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
fn decode(row: &crate::store::entity::model::Model) -> Result<ServedModel, String> {
    let model = FraudModel::from_bytes(&row.artifact).map_err(|e| e.to_string())?;
    Ok(ServedModel {
        version: row.version,
        model: Arc::new(model),
        trained_at: row.created_at,
    })
}

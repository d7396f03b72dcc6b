//! Retrainer: trains on schedule, at start-up when no model is in
//! production, and on request; promotes what passes the gates and hands the
//! new model to the Scorer.
//!
//! Training itself runs on a blocking thread (see [`crate::training`]):
//! the Scorer keeps scoring with the current model meanwhile.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use vigil_core::model::FraudModel;

use crate::error::ActorError;
use crate::messages::{Promote, PromoteOutcome, Retrain, SwapModel, TrainingOutcome};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::supervisor::{Factory, Handles, Link, Worker};
use crate::training::{TrainingSettings, train_and_register};

/// Trains and promotes models.
pub struct Retrainer {
    store: Store,
    settings: TrainingSettings,
    metrics: Arc<Metrics>,
    scorer: Link<SwapModel>,
}

impl Retrainer {
    /// A factory for the supervisor.
    pub fn factory(
        store: Store,
        settings: TrainingSettings,
        metrics: Arc<Metrics>,
        scorer: Link<SwapModel>,
    ) -> Factory<Retrainer> {
        Arc::new(move || {
            let retrainer = Retrainer {
                store: store.clone(),
                settings: settings.clone(),
                metrics: metrics.clone(),
                scorer: scorer.clone(),
            };
            Box::pin(async move { Ok(retrainer) })
        })
    }

    async fn serve(
        &self,
        version: i32,
        model: Arc<FraudModel>,
        trained_at: DateTime<Utc>,
    ) -> Result<(), ActorError> {
        self.scorer
            .send(SwapModel {
                version,
                model,
                trained_at,
            })
            .await
            .map_err(|e| ActorError::Failed(e.to_string()))
    }
}

impl Worker for Retrainer {
    const NAME: &'static str = "retrainer";
}

impl Handles<Retrain> for Retrainer {
    type Reply = TrainingOutcome;

    async fn handle(&mut self, retrain: &Retrain) -> Result<TrainingOutcome, ActorError> {
        tracing::info!(trigger = retrain.trigger, "training a model");
        let run = train_and_register(&self.store, &self.settings, &retrain.trigger, |_| {}).await;
        let run = match run {
            Ok(run) => run,
            Err(e) => {
                self.metrics
                    .model_trainings
                    .with_label_values(&["failed"])
                    .inc();
                return Err(e);
            }
        };
        let outcome = match &run.outcome {
            TrainingOutcome::Trained {
                promoted: true,
                train_seconds,
                ..
            } => {
                self.metrics.model_training_seconds.set(*train_seconds);
                "promoted"
            }
            TrainingOutcome::Trained { train_seconds, .. } => {
                self.metrics.model_training_seconds.set(*train_seconds);
                "candidate"
            }
            TrainingOutcome::Skipped { .. } => "skipped",
        };
        self.metrics
            .model_trainings
            .with_label_values(&[outcome])
            .inc();
        tracing::info!(outcome = ?run.outcome, "training finished");
        if let Some((version, model, trained_at)) = run.promoted {
            self.serve(version, model, trained_at).await?;
        }
        Ok(run.outcome)
    }
}

impl Handles<Promote> for Retrainer {
    type Reply = PromoteOutcome;

    async fn handle(&mut self, promote: &Promote) -> Result<PromoteOutcome, ActorError> {
        let Some(row) = self.store.model(promote.version).await? else {
            return Ok(PromoteOutcome::NoSuchVersion);
        };
        // Decode before promoting: a model that cannot be served must not
        // become production. The actor is fine; the artifact is not.
        let model = match FraudModel::from_bytes(&row.artifact) {
            Ok(model) => model,
            Err(e) => {
                tracing::error!(version = row.version, error = %e, "refused to promote a model that cannot be loaded");
                return Ok(PromoteOutcome::Unloadable(e.to_string()));
            }
        };
        self.store
            .promote_model(promote.version, &promote.reason)
            .await?;
        self.serve(promote.version, Arc::new(model), row.created_at)
            .await?;
        Ok(PromoteOutcome::Promoted)
    }
}

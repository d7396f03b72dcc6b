//! Retrainer: trains on schedule, at start-up when no model is in
//! production, and on request; hands what passes the gates to the
//! Promoter and the run to the MLflow queue.
//!
//! Training itself runs on a blocking thread (see [`crate::training`]):
//! the Decider keeps scoring with the current model meanwhile, and
//! the Promoter keeps promoting.

use std::sync::Arc;

use crate::error::ActorError;
use crate::lifecycle::Lifecycle;
use crate::messages::{PromoteTrained, Retrain, TrainingOutcome};
use crate::metrics::Metrics;
use crate::mlflow::MlflowQueue;
use crate::store::Store;
use crate::supervisor::{Factory, Link, Processes, Worker};
use crate::training::{TrainingSettings, train_and_register};

/// Trains models.
pub struct Retrainer {
    store: Store,
    settings: TrainingSettings,
    metrics: Arc<Metrics>,
    promoter: Link<PromoteTrained>,
    mlflow: Option<MlflowQueue>,
    lifecycle: Arc<Lifecycle>,
}

/// What a Retrainer needs besides its settings.
#[derive(Clone)]
pub struct RetrainerLinks {
    pub promoter: Link<PromoteTrained>,
    /// Where runs go to be logged to MLflow, when configured.
    pub mlflow: Option<MlflowQueue>,
    /// Hears the stages of the start-up training.
    pub lifecycle: Arc<Lifecycle>,
}

impl Retrainer {
    /// A factory for the supervisor.
    pub fn factory(
        store: Store,
        settings: TrainingSettings,
        metrics: Arc<Metrics>,
        links: RetrainerLinks,
    ) -> Factory<Retrainer> {
        Arc::new(move |_| {
            let retrainer = Retrainer {
                store: store.clone(),
                settings: settings.clone(),
                metrics: metrics.clone(),
                promoter: links.promoter.clone(),
                mlflow: links.mlflow.clone(),
                lifecycle: links.lifecycle.clone(),
            };
            Box::pin(async move { Ok(retrainer) })
        })
    }
}

impl Worker for Retrainer {
    const NAME: &'static str = "retrainer";
    type Kept = ();
}

impl Processes<Retrain> for Retrainer {
    type Reply = TrainingOutcome;

    async fn handle(&mut self, retrain: &Retrain) -> Result<TrainingOutcome, ActorError> {
        tracing::info!(trigger = retrain.trigger, "training a model");
        let lifecycle = self.lifecycle.clone();
        let progress = move |stage| lifecycle.report_training(stage);
        let run = train_and_register(&self.store, &self.settings, &retrain.trigger, progress).await;
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
        if let (Some(log), Some(queue)) = (run.mlflow, &self.mlflow) {
            queue.submit(log);
        }
        if let Some(candidate) = run.promote {
            let promote = PromoteTrained {
                version: candidate.version,
                reason: candidate.reason,
                model: candidate.model,
                registered_at: candidate.registered_at,
            };
            self.promoter
                .send(promote)
                .await
                .map_err(|e| ActorError::Failed(e.to_string()))?;
        }
        Ok(run.outcome)
    }
}

//! Promoter: makes a registered model the production model and hands it
//! to the Decider, for an operator (`POST /models/{v}/promote`) and for the
//! Retrainer (a new model that passed the gates).
//!
//! It is an actor of its own, on a thread of its own, so that a manual
//! promotion never waits behind a training or its MLflow logging; and
//! the one place where the registry's production row and the decision
//! stage's model change, so that both always agree.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use vigil_core::model::FraudModel;

use crate::error::ActorError;
use crate::messages::{Promote, PromoteOutcome, PromoteTrained, SwapModel};
use crate::store::Store;
use crate::supervisor::{Factory, Link, Processes, Worker};

/// Promotes models.
pub struct Promoter {
    store: Store,
    stage: Link<SwapModel>,
}

impl Promoter {
    /// A factory for the supervisor.
    pub fn factory(store: Store, stage: Link<SwapModel>) -> Factory<Promoter> {
        Arc::new(move |_| {
            let promoter = Promoter {
                store: store.clone(),
                stage: stage.clone(),
            };
            Box::pin(async move { Ok(promoter) })
        })
    }

    /// Marks `version` production in the registry, then serves it.
    async fn promote(
        &self,
        version: i32,
        reason: &str,
        model: Arc<FraudModel>,
        registered_at: DateTime<Utc>,
    ) -> Result<bool, ActorError> {
        if !self.store.promote_model(version, reason).await? {
            return Ok(false);
        }
        self.stage
            .send(SwapModel {
                version,
                model,
                trained_at: registered_at,
            })
            .await
            .map_err(|e| ActorError::Failed(e.to_string()))?;
        Ok(true)
    }
}

impl Worker for Promoter {
    const NAME: &'static str = "promoter";
    type Kept = ();
}

impl Processes<Promote> for Promoter {
    type Reply = PromoteOutcome;

    async fn handle(&mut self, promote: &Promote) -> Result<PromoteOutcome, ActorError> {
        let Some(row) = self.store.model(promote.version).await? else {
            return Ok(PromoteOutcome::NoSuchVersion);
        };
        // Decode before promoting: a model that cannot be served must not
        // become production. The actor is fine; the artifact is not.
        // Decoding is CPU work: off the async thread.
        let artifact = row.artifact;
        let decoded = tokio::task::spawn_blocking(move || FraudModel::from_bytes(&artifact))
            .await
            .map_err(|e| ActorError::Failed(format!("model decoding failed: {e}")))?;
        let model = match decoded {
            Ok(model) => model,
            Err(e) => {
                tracing::error!(version = row.version, error = %e, "refused to promote a model that cannot be loaded");
                return Ok(PromoteOutcome::Unloadable(e.to_string()));
            }
        };
        let promoted = self
            .promote(
                promote.version,
                &promote.reason,
                Arc::new(model),
                row.created_at,
            )
            .await?;
        Ok(if promoted {
            PromoteOutcome::Promoted
        } else {
            PromoteOutcome::NoSuchVersion
        })
    }
}

impl Processes<PromoteTrained> for Promoter {
    type Reply = ();

    async fn handle(&mut self, trained: &PromoteTrained) -> Result<(), ActorError> {
        let promoted = self
            .promote(
                trained.version,
                &trained.reason,
                trained.model.clone(),
                trained.registered_at,
            )
            .await?;
        if !promoted {
            return Err(ActorError::Failed(format!(
                "version {} vanished from the registry before its promotion",
                trained.version
            )));
        }
        Ok(())
    }
}

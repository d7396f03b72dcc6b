//! Scorer: scores feature vectors with the production model.
//!
//! Until a model has been trained and promoted there is nothing to score
//! with: feature batches are acknowledged and counted as unscored, which
//! `/health/actors` and `fraud_features_unscored_total` show.

use std::sync::Arc;

use crate::error::ActorError;
use crate::messages::FeatureBatch;
use crate::metrics::Metrics;
use crate::supervisor::{Factory, Handles, Worker};

/// Scores transactions.
pub struct Scorer {
    metrics: Arc<Metrics>,
}

impl Scorer {
    /// A factory for the supervisor.
    pub fn factory(metrics: Arc<Metrics>) -> Factory<Scorer> {
        Arc::new(move || {
            let scorer = Scorer {
                metrics: metrics.clone(),
            };
            Box::pin(async move { Ok(scorer) })
        })
    }
}

impl Worker for Scorer {
    const NAME: &'static str = "scorer";
}

impl Handles<FeatureBatch> for Scorer {
    type Reply = ();

    async fn handle(&mut self, batch: &FeatureBatch) -> Result<(), ActorError> {
        self.metrics
            .features_unscored
            .inc_by(batch.rows.len() as u64);
        Ok(())
    }
}

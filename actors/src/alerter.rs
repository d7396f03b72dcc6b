//! Alerter: opens a `fraud_alerts` row for every REVIEW and BLOCK decision
//! and, when a webhook is configured, hands each new alert to the webhook
//! queue (`crate::webhook`).
//!
//! Delivery runs beside the Alerter, bounded in memory, so a slow or
//! failing receiver never holds up scoring. An alert the receiver does not
//! get stays in `fraud_alerts` (where `GET /alerts` shows it) and is
//! dead-lettered with the reason.

use std::sync::Arc;

use vigil_core::model::Decision;

use crate::error::ActorError;
use crate::messages::ScoredBatch;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::supervisor::{Factory, Processes, Worker};
use crate::webhook::WebhookQueue;

pub use crate::webhook::WebhookSettings;

/// Records and forwards alerts.
pub struct Alerter {
    store: Store,
    metrics: Arc<Metrics>,
    webhook: Option<WebhookQueue>,
}

impl Alerter {
    /// A factory for the supervisor. The webhook queue is shared by every
    /// incarnation: a restart loses no queued alert.
    pub fn factory(
        store: Store,
        metrics: Arc<Metrics>,
        webhook: Option<WebhookQueue>,
    ) -> Factory<Alerter> {
        Arc::new(move |_| {
            let alerter = Alerter {
                store: store.clone(),
                metrics: metrics.clone(),
                webhook: webhook.clone(),
            };
            Box::pin(async move { Ok(alerter) })
        })
    }
}

impl Worker for Alerter {
    const NAME: &'static str = "alerter";
    type Kept = ();
}

impl Processes<ScoredBatch> for Alerter {
    type Reply = u64;

    async fn handle(&mut self, batch: &ScoredBatch) -> Result<u64, ActorError> {
        let alerting: Vec<_> = batch
            .scores
            .iter()
            .filter(|s| s.decision != Decision::Approve)
            .collect();
        let new = self.store.insert_alerts(&alerting).await?;
        self.metrics.alerts_created.inc_by(new.len() as u64);
        if let Some(webhook) = &self.webhook {
            webhook.enqueue(&new).await;
        }
        Ok(new.len() as u64)
    }
}

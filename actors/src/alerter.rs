//! Alerter: opens a `fraud_alerts` row for every REVIEW and BLOCK decision
//! and, when a webhook is configured, posts each new alert to it.
//!
//! Webhook delivery runs in its own task with bounded retries, so a slow or
//! failing receiver never holds up scoring. An alert the receiver never
//! accepts stays in `fraud_alerts` (where `GET /alerts` shows it), is
//! counted in `fraud_alert_webhook_failures_total` and dead-lettered with
//! the receiver's last answer.

use std::sync::Arc;
use std::time::Duration;

use vigil_core::model::Decision;

use crate::error::ActorError;
use crate::messages::ScoredBatch;
use crate::metrics::Metrics;
use crate::store::entity::fraud_alert;
use crate::store::{DeadLetter, Store};
use crate::supervisor::{Factory, Handles, Worker};

/// Where and how to deliver alerts.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    /// Attempts per alert, the first included.
    pub attempts: u32,
    pub timeout: Duration,
    /// Wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
}

/// Records and forwards alerts.
pub struct Alerter {
    store: Store,
    metrics: Arc<Metrics>,
    webhook: Option<Webhook>,
}

#[derive(Clone)]
struct Webhook {
    settings: WebhookSettings,
    http: reqwest::Client,
}

impl Alerter {
    /// A factory for the supervisor.
    pub fn factory(
        store: Store,
        metrics: Arc<Metrics>,
        webhook: Option<WebhookSettings>,
    ) -> Factory<Alerter> {
        Arc::new(move || {
            let (store, metrics, webhook) = (store.clone(), metrics.clone(), webhook.clone());
            Box::pin(async move {
                let webhook = match webhook {
                    Some(settings) => Some(Webhook {
                        http: reqwest::Client::builder()
                            .timeout(settings.timeout)
                            .build()
                            .map_err(|e| ActorError::Failed(format!("webhook client: {e}")))?,
                        settings,
                    }),
                    None => None,
                };
                Ok(Alerter {
                    store,
                    metrics,
                    webhook,
                })
            })
        })
    }
}

impl Worker for Alerter {
    const NAME: &'static str = "alerter";
}

impl Handles<ScoredBatch> for Alerter {
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
            for alert in &new {
                let (webhook, alert) = (webhook.clone(), alert.clone());
                let (store, metrics) = (self.store.clone(), self.metrics.clone());
                actix::spawn(async move {
                    if let Err(reason) = webhook.deliver(&alert).await {
                        metrics.alert_webhook_failures.inc();
                        tracing::warn!(alert = %alert.alert_id, reason, "webhook did not take the alert");
                        let letter = DeadLetter {
                            actor: "alerter".into(),
                            message_kind: "webhook".into(),
                            payload: serde_json::to_vec(&alert).unwrap_or_default(),
                            reason,
                            attempts: webhook.settings.attempts as i32,
                        };
                        if let Err(e) = store.insert_dead_letter(&letter).await {
                            tracing::error!(error = %e, "cannot dead-letter an undelivered alert");
                        }
                    }
                });
            }
        }
        Ok(new.len() as u64)
    }
}

impl Webhook {
    /// Posts the alert until the receiver answers 2xx or the attempts run
    /// out; returns the last failure.
    async fn deliver(&self, alert: &fraud_alert::Model) -> Result<(), String> {
        let mut backoff = self.settings.backoff;
        let mut last = String::new();
        for attempt in 1..=self.settings.attempts.max(1) {
            match self.http.post(&self.settings.url).json(alert).send().await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => last = format!("webhook answered {}", response.status()),
                Err(e) => last = format!("webhook unreachable: {e}"),
            }
            if attempt < self.settings.attempts {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(last)
    }
}

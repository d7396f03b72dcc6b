//! Webhook delivery of alerts: a bounded queue and a fixed number of
//! senders, so that a slow or failing receiver costs bounded memory and
//! never holds up scoring.
//!
//! Every alert that does not reach the receiver is dead-lettered with its
//! reason and counted in `fraud_alert_webhook_dead_letters_total{reason}`
//! (and `fraud_alert_webhook_failures_total`):
//! - `queue_full`: the queue held `alerts.webhook_queue` alerts already;
//! - `rejected`: the receiver did not accept it within its attempts;
//! - `shutdown`: the process stopped before it was delivered.
//!
//! The queue and its senders outlive the Decider's restarts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::metrics::Metrics;
use crate::store::entity::fraud_alert;
use crate::store::{DeadLetter, Store};

/// Where and how to deliver alerts.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    /// Attempts per alert, the first included.
    pub attempts: u32,
    pub timeout: Duration,
    /// Wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// Alerts waiting for a sender at most; more are dead-lettered.
    pub queue_capacity: usize,
    /// Alerts delivered at the same time.
    pub senders: usize,
}

/// Why an alert was dead-lettered instead of delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undeliverable {
    QueueFull,
    Rejected,
    Shutdown,
}

impl Undeliverable {
    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Undeliverable::QueueFull => "queue_full",
            Undeliverable::Rejected => "rejected",
            Undeliverable::Shutdown => "shutdown",
        }
    }
}

/// What the senders share.
struct Shared {
    settings: WebhookSettings,
    http: reqwest::Client,
    store: Store,
    metrics: Arc<Metrics>,
    /// Alerts a sender took and has not finished with.
    in_flight: Mutex<HashMap<Uuid, fraud_alert::Model>>,
    receiver: tokio::sync::Mutex<mpsc::Receiver<fraud_alert::Model>>,
}

/// The queue of alerts to deliver, and its senders.
#[derive(Clone)]
pub struct WebhookQueue {
    sender: mpsc::Sender<fraud_alert::Model>,
    shared: Arc<Shared>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// What a drain left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookDrain {
    /// Alerts dead-lettered because the drain ran out of time.
    pub dead_lettered: usize,
}

impl WebhookQueue {
    /// Starts the senders on the current arbiter.
    pub fn start(
        settings: WebhookSettings,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> Result<WebhookQueue, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()?;
        let (sender, receiver) = mpsc::channel(settings.queue_capacity.max(1));
        let senders = settings.senders.max(1);
        let shared = Arc::new(Shared {
            settings,
            http,
            store,
            metrics,
            in_flight: Mutex::new(HashMap::new()),
            receiver: tokio::sync::Mutex::new(receiver),
        });
        let tasks = (0..senders)
            .map(|_| actix::spawn(send_until_closed(shared.clone())))
            .collect();
        Ok(WebhookQueue {
            sender,
            shared,
            tasks: Arc::new(Mutex::new(tasks)),
        })
    }

    /// Queues `alerts`; those the queue has no room for are dead-lettered.
    pub async fn enqueue(&self, alerts: &[fraud_alert::Model]) {
        for alert in alerts {
            // Counted before it can be taken off the queue.
            self.shared.metrics.alert_webhook_queue.inc();
            let refused = self.sender.try_send(alert.clone()).err();
            if refused.is_some() {
                self.shared.metrics.alert_webhook_queue.dec();
            }
            match refused {
                None => {}
                Some(mpsc::error::TrySendError::Full(alert)) => {
                    let reason = format!(
                        "webhook queue full ({} alerts waiting)",
                        self.shared.settings.queue_capacity
                    );
                    self.shared
                        .dead_letter(&alert, Undeliverable::QueueFull, reason, 0)
                        .await;
                }
                Some(mpsc::error::TrySendError::Closed(alert)) => {
                    let reason = "the process is stopping".to_owned();
                    self.shared
                        .dead_letter(&alert, Undeliverable::Shutdown, reason, 0)
                        .await;
                }
            }
        }
    }

    /// Alerts queued or being delivered.
    pub fn pending(&self) -> usize {
        let queued = self.sender.max_capacity() - self.sender.capacity();
        queued + lock(&self.shared.in_flight).len()
    }

    /// Lets the senders finish what is queued until `deadline`, then stops
    /// them and dead-letters what is left.
    pub async fn drain(&self, deadline: Instant) -> WebhookDrain {
        while self.pending() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        let mut left: Vec<fraud_alert::Model> = lock(&self.shared.in_flight)
            .drain()
            .map(|(_, a)| a)
            .collect();
        {
            let mut receiver = self.shared.receiver.lock().await;
            receiver.close();
            while let Ok(alert) = receiver.try_recv() {
                self.shared.metrics.alert_webhook_queue.dec();
                left.push(alert);
            }
        }
        for alert in &left {
            let reason = "the process stopped before the alert was delivered".to_owned();
            self.shared
                .dead_letter(alert, Undeliverable::Shutdown, reason, 0)
                .await;
        }
        WebhookDrain {
            dead_lettered: left.len(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// One sender: takes alerts off the queue and delivers them.
async fn send_until_closed(shared: Arc<Shared>) {
    loop {
        let next = shared.receiver.lock().await.recv().await;
        let Some(alert) = next else { return };
        shared.metrics.alert_webhook_queue.dec();
        lock(&shared.in_flight).insert(alert.alert_id, alert.clone());
        let delivered = shared.deliver(&alert).await;
        if let Err(reason) = delivered {
            tracing::warn!(alert = %alert.alert_id, reason, "webhook did not take the alert");
            let attempts = shared.settings.attempts;
            shared
                .dead_letter(&alert, Undeliverable::Rejected, reason, attempts)
                .await;
        }
        lock(&shared.in_flight).remove(&alert.alert_id);
    }
}

impl Shared {
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

    /// Records an alert the receiver did not get: counted by reason, kept
    /// in `dead_letters` with the alert as payload.
    async fn dead_letter(
        &self,
        alert: &fraud_alert::Model,
        why: Undeliverable,
        reason: String,
        attempts: u32,
    ) {
        self.metrics.alert_webhook_failures.inc();
        self.metrics
            .alert_webhook_dead_letters
            .with_label_values(&[why.as_str()])
            .inc();
        let letter = DeadLetter {
            actor: "webhook".into(),
            message_kind: "webhook".into(),
            payload: serde_json::to_vec(alert).unwrap_or_default(),
            reason,
            attempts: attempts as i32,
        };
        if let Err(e) = self.store.insert_dead_letter(&letter).await {
            tracing::error!(
                error = %e,
                alert = %alert.alert_id,
                reason = letter.reason,
                "cannot dead-letter an undelivered alert"
            );
        }
    }
}

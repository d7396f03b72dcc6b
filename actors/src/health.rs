//! The health registry: what every supervised actor reports about itself.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::AbortHandle;
use prometheus::{IntCounter, IntGauge};
use serde::Serialize;

use crate::bus::kafka::{KafkaSnapshot, KafkaStatus};
use crate::metrics::Metrics;
use crate::store::Store;

/// Lifecycle of a supervised actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorState {
    /// Building its worker for the first time.
    Starting,
    /// Handling messages.
    Running,
    /// Waiting out a backoff before rebuilding its worker.
    Restarting,
    /// Has work pending (a message in hand or queued) and made no progress
    /// for the stall timeout: reported unhealthy, and restarted when it
    /// makes none for as long again.
    Stalled,
    /// Restarted too often within the restart window; still retrying, but
    /// reported unhealthy instead of limping on silently.
    Failed,
}

/// How many restarts make an actor `Failed`.
#[derive(Debug, Clone, Copy)]
pub struct RestartBudget {
    pub max_restarts: usize,
    pub window: Duration,
}

/// A point-in-time view of one actor, as served by `GET /health/actors`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActorSnapshot {
    #[schema(value_type = String)]
    pub name: &'static str,
    pub state: ActorState,
    pub restarts: u64,
    pub restarts_in_window: usize,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub processed: u64,
    pub failed_messages: u64,
    pub mailbox_depth: i64,
    pub last_activity: Option<DateTime<Utc>>,
    /// Whether it is handling a message now.
    pub busy: bool,
    /// When it last made progress: started or finished a message, got an
    /// answer from another actor, was restarted.
    pub last_progress: DateTime<Utc>,
    /// How long it has had work pending without progress, when stalled.
    pub stalled_for_seconds: Option<f64>,
}

#[derive(Debug)]
struct Status {
    state: ActorState,
    last_error: Option<(String, DateTime<Utc>)>,
    last_activity: Option<DateTime<Utc>>,
    recent_restarts: VecDeque<Instant>,
    activity: Activity,
}

/// What the progress watchdog looks at.
#[derive(Debug)]
struct Activity {
    /// Since when the current message is in hand.
    busy_since: Option<Instant>,
    last_progress: Instant,
    last_progress_at: DateTime<Utc>,
    /// Open protected zones: waiting for another actor, training on a
    /// blocking thread, building the worker. Time in them is no stall.
    protected: u32,
    /// Aborts the attempt in progress (the watchdog's restart).
    abort: Option<AbortHandle>,
    /// The stall was logged (once per stall).
    stall_logged: bool,
}

impl Activity {
    fn new() -> Self {
        Activity {
            busy_since: None,
            last_progress: Instant::now(),
            last_progress_at: Utc::now(),
            protected: 0,
            abort: None,
            stall_logged: false,
        }
    }

    fn progressed(&mut self) {
        self.last_progress = Instant::now();
        self.last_progress_at = Utc::now();
        self.stall_logged = false;
    }
}

/// What the watchdog should do about an actor.
#[derive(Debug)]
pub enum StallCheck {
    /// Making progress, or nothing to do.
    Fine,
    /// Stalled, reported for the first time.
    Stalled(Duration),
    /// Still stalled after twice the timeout: abort its handler so that
    /// the supervisor restarts it.
    Restart(Duration, AbortHandle),
}

/// The live health record of one actor, shared between the actor, the
/// senders that count its mailbox, and the HTTP API.
#[derive(Debug)]
pub struct ActorHealth {
    name: &'static str,
    budget: RestartBudget,
    stall_timeout: Duration,
    status: Mutex<Status>,
    restarts: AtomicU64,
    processed: AtomicU64,
    failed_messages: AtomicU64,
    restart_counter: IntCounter,
    mailbox_depth: IntGauge,
}

impl ActorHealth {
    fn new(
        name: &'static str,
        budget: RestartBudget,
        stall_timeout: Duration,
        metrics: &Metrics,
    ) -> Self {
        ActorHealth {
            name,
            budget,
            stall_timeout,
            status: Mutex::new(Status {
                state: ActorState::Starting,
                last_error: None,
                last_activity: None,
                recent_restarts: VecDeque::new(),
                activity: Activity::new(),
            }),
            restarts: AtomicU64::new(0),
            processed: AtomicU64::new(0),
            failed_messages: AtomicU64::new(0),
            restart_counter: metrics.actor_restarts.with_label_values(&[name]),
            mailbox_depth: metrics.actor_mailbox_depth.with_label_values(&[name]),
        }
    }

    /// The actor's name, as used in logs, metrics and the API.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Without progress for this long while it has work, it is stalled.
    pub fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    fn status(&self) -> MutexGuard<'_, Status> {
        // A poisoned lock only means a panic happened while it was held; the
        // counters inside are still meaningful.
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A sender put a message into the mailbox.
    pub fn enqueued(&self) {
        self.mailbox_depth.inc();
    }

    /// The actor took a message out of its mailbox.
    pub fn dequeued(&self) {
        self.mailbox_depth.dec();
    }

    /// The worker is built and ready for messages.
    pub fn running(&self) {
        let mut status = self.status();
        status.activity.progressed();
        status.state = self.state_after_success(&mut status.recent_restarts);
    }

    /// A message was handled successfully.
    pub fn processed(&self) {
        self.processed.fetch_add(1, Ordering::Relaxed);
        let mut status = self.status();
        status.last_activity = Some(Utc::now());
        status.activity.progressed();
        status.state = self.state_after_success(&mut status.recent_restarts);
    }

    /// An attempt at a message begins; `abort` cancels it.
    pub fn attempt_started(&self, abort: AbortHandle) {
        let mut status = self.status();
        let activity = &mut status.activity;
        activity.busy_since.get_or_insert_with(Instant::now);
        activity.abort = Some(abort);
        activity.progressed();
    }

    /// The attempt in progress is over (whatever its outcome).
    pub fn attempt_finished(&self) {
        let mut status = self.status();
        status.activity.abort = None;
        status.activity.progressed();
    }

    /// The message in hand is done with (handled or dead-lettered).
    pub fn idle(&self) {
        let mut status = self.status();
        status.activity.busy_since = None;
        status.activity.progressed();
    }

    /// The handler made progress.
    pub fn progressed(&self) {
        self.status().activity.progressed();
    }

    /// A protected zone begins: its time is not a stall.
    pub fn protect(&self) {
        self.status().activity.protected += 1;
    }

    /// A protected zone ends; leaving it is progress.
    pub fn unprotect(&self) {
        let mut status = self.status();
        status.activity.protected = status.activity.protected.saturating_sub(1);
        status.activity.progressed();
    }

    /// How long the actor has had work pending without progress, when that
    /// is at least the stall timeout.
    fn stalled_for(&self, activity: &Activity) -> Option<Duration> {
        let pending = activity.busy_since.is_some() || self.mailbox_depth.get() > 0;
        let quiet = activity.last_progress.elapsed();
        (pending && activity.protected == 0 && quiet >= self.stall_timeout).then_some(quiet)
    }

    /// The watchdog's look at this actor.
    pub fn check_stall(&self) -> StallCheck {
        let mut status = self.status();
        let Some(quiet) = self.stalled_for(&status.activity) else {
            return StallCheck::Fine;
        };
        if quiet >= self.stall_timeout * 2
            && let Some(abort) = status.activity.abort.take()
        {
            return StallCheck::Restart(quiet, abort);
        }
        if status.activity.stall_logged {
            return StallCheck::Fine;
        }
        status.activity.stall_logged = true;
        StallCheck::Stalled(quiet)
    }

    /// A message could not be handled even after its retry.
    pub fn message_failed(&self) {
        self.failed_messages.fetch_add(1, Ordering::Relaxed);
    }

    /// The worker failed and is about to be rebuilt.
    pub fn restarting(&self, error: &str) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
        self.restart_counter.inc();
        let now = Instant::now();
        let mut status = self.status();
        status.recent_restarts.push_back(now);
        prune(&mut status.recent_restarts, self.budget.window);
        status.last_error = Some((error.to_owned(), Utc::now()));
        status.last_activity = Some(Utc::now());
        status.activity.progressed();
        status.state = if status.recent_restarts.len() >= self.budget.max_restarts {
            ActorState::Failed
        } else {
            ActorState::Restarting
        };
    }

    fn state_after_success(&self, recent: &mut VecDeque<Instant>) -> ActorState {
        prune(recent, self.budget.window);
        if recent.len() >= self.budget.max_restarts {
            ActorState::Failed
        } else {
            ActorState::Running
        }
    }

    /// The current view of this actor.
    pub fn snapshot(&self) -> ActorSnapshot {
        let mut status = self.status();
        prune(&mut status.recent_restarts, self.budget.window);
        let stalled = self.stalled_for(&status.activity);
        let state = match status.state {
            ActorState::Failed if status.recent_restarts.len() < self.budget.max_restarts => {
                ActorState::Restarting
            }
            ActorState::Failed => ActorState::Failed,
            _ if stalled.is_some() => ActorState::Stalled,
            state => state,
        };
        ActorSnapshot {
            name: self.name,
            state,
            restarts: self.restarts.load(Ordering::Relaxed),
            restarts_in_window: status.recent_restarts.len(),
            last_error: status.last_error.as_ref().map(|(e, _)| e.clone()),
            last_error_at: status.last_error.as_ref().map(|(_, at)| *at),
            processed: self.processed.load(Ordering::Relaxed),
            failed_messages: self.failed_messages.load(Ordering::Relaxed),
            mailbox_depth: self.mailbox_depth.get(),
            last_activity: status.last_activity,
            busy: status.activity.busy_since.is_some(),
            last_progress: status.activity.last_progress_at,
            stalled_for_seconds: stalled.map(|d| d.as_secs_f64()),
        }
    }
}

fn prune(recent: &mut VecDeque<Instant>, window: Duration) {
    while recent.front().is_some_and(|t| t.elapsed() > window) {
        recent.pop_front();
    }
}

/// Every actor's health record, in registration order.
#[derive(Debug)]
pub struct HealthRegistry {
    budget: RestartBudget,
    stall_timeout: Duration,
    metrics: Arc<Metrics>,
    actors: RwLock<Vec<Arc<ActorHealth>>>,
    /// Broker reachability and consumer lag, in Kafka mode.
    kafka: OnceLock<Arc<KafkaStatus>>,
}

impl HealthRegistry {
    /// An empty registry whose actors fail after `budget` restarts.
    pub fn new(budget: RestartBudget, metrics: Arc<Metrics>) -> Self {
        HealthRegistry {
            budget,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            metrics,
            actors: RwLock::new(Vec::new()),
            kafka: OnceLock::new(),
        }
    }

    /// The same registry, whose actors are stalled after `timeout` without
    /// progress while they have work.
    pub fn with_stall_timeout(self, timeout: Duration) -> Self {
        HealthRegistry {
            stall_timeout: timeout,
            ..self
        }
    }

    /// Without progress for this long, an actor with work is stalled.
    pub fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    /// Includes the Kafka clients' status in health reports.
    pub fn watch_kafka(&self, status: Arc<KafkaStatus>) {
        let _ = self.kafka.set(status);
    }

    /// Broker reachability and consumer lag, when running on Kafka.
    pub fn kafka(&self) -> Option<KafkaSnapshot> {
        self.kafka.get().map(|status| status.snapshot())
    }

    /// Adds an actor (or returns the existing record of that name).
    pub fn register(&self, name: &'static str) -> Arc<ActorHealth> {
        let mut actors = self.actors.write().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = actors.iter().find(|a| a.name == name) {
            return existing.clone();
        }
        let health = Arc::new(ActorHealth::new(
            name,
            self.budget,
            self.stall_timeout,
            &self.metrics,
        ));
        actors.push(health.clone());
        health
    }

    /// Snapshots of every actor.
    pub fn snapshot(&self) -> Vec<ActorSnapshot> {
        self.actors().iter().map(|a| a.snapshot()).collect()
    }

    /// Every actor's record.
    pub fn actors(&self) -> Vec<Arc<ActorHealth>> {
        let actors = self.actors.read().unwrap_or_else(|e| e.into_inner());
        actors.clone()
    }
}

/// `supervisor.stall_timeout` by default.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The overall health, as served by `GET /health`.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub healthy: bool,
    /// Why it is not healthy; empty when healthy.
    pub reasons: Vec<String>,
    pub store: StoreState,
    pub actors: Vec<ActorSnapshot>,
    /// Present in Kafka mode.
    pub kafka: Option<KafkaSnapshot>,
}

/// Whether the store answered its ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StoreState {
    Ok,
    Unavailable,
}

/// Checks the store and every actor.
pub async fn report(store: &Store, registry: &HealthRegistry) -> HealthReport {
    let mut reasons = Vec::new();
    let store = match tokio::time::timeout(Duration::from_secs(2), store.ping()).await {
        Ok(Ok(())) => StoreState::Ok,
        Ok(Err(e)) => {
            reasons.push(format!("store unavailable: {e}"));
            StoreState::Unavailable
        }
        Err(_) => {
            reasons.push("store did not answer within 2 s".to_owned());
            StoreState::Unavailable
        }
    };
    let actors = registry.snapshot();
    for actor in &actors {
        match actor.state {
            ActorState::Failed => reasons.push(format!(
                "actor {} failed: {} restarts within the window, last error: {}",
                actor.name,
                actor.restarts_in_window,
                actor.last_error.as_deref().unwrap_or("none")
            )),
            ActorState::Stalled => reasons.push(format!(
                "actor {} stalled: no progress for {:.1} s with {}",
                actor.name,
                actor.stalled_for_seconds.unwrap_or_default(),
                pending_work(actor)
            )),
            _ => {}
        }
    }
    let kafka = registry.kafka();
    if let Some(kafka) = &kafka {
        for client in &kafka.unreachable {
            reasons.push(format!(
                "kafka client {} cannot reach a broker since {}: {}",
                client.client, client.since, client.reason
            ));
        }
    }
    HealthReport {
        healthy: reasons.is_empty(),
        reasons,
        store,
        actors,
        kafka,
    }
}

/// What a stalled actor has in hand, for people.
fn pending_work(actor: &ActorSnapshot) -> String {
    match (actor.busy, actor.mailbox_depth) {
        (true, 0) => "a message in hand".to_owned(),
        (true, n) => format!("a message in hand and {n} queued"),
        (false, n) => format!("{n} messages queued"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(max_restarts: usize) -> HealthRegistry {
        let budget = RestartBudget {
            max_restarts,
            window: Duration::from_secs(60),
        };
        HealthRegistry::new(budget, Arc::new(Metrics::new()))
    }

    #[test]
    fn restarts_beyond_the_budget_mark_the_actor_failed() {
        let registry = registry(3);
        let health = registry.register("raw_store");
        health.running();
        health.restarting("boom");
        health.restarting("boom");
        assert_eq!(health.snapshot().state, ActorState::Restarting);
        health.restarting("boom");
        let snap = health.snapshot();
        assert_eq!(snap.state, ActorState::Failed);
        assert_eq!(snap.restarts, 3);
        assert_eq!(snap.last_error.as_deref(), Some("boom"));
        // Success does not clear a failure while the restarts are recent.
        health.processed();
        assert_eq!(health.snapshot().state, ActorState::Failed);
    }

    #[test]
    fn restarts_age_out_of_the_window() {
        let budget = RestartBudget {
            max_restarts: 1,
            window: Duration::from_millis(20),
        };
        let registry = HealthRegistry::new(budget, Arc::new(Metrics::new()));
        let health = registry.register("scorer");
        health.restarting("boom");
        assert_eq!(health.snapshot().state, ActorState::Failed);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(health.snapshot().state, ActorState::Restarting);
        health.processed();
        assert_eq!(health.snapshot().state, ActorState::Running);
    }

    #[test]
    fn work_without_progress_is_a_stall_then_a_restart() {
        let registry = registry(3).with_stall_timeout(Duration::from_millis(20));
        let health = registry.register("scorer");
        health.running();
        std::thread::sleep(Duration::from_millis(30));
        // Idle: no work, no stall.
        assert!(matches!(health.check_stall(), StallCheck::Fine));
        let (abort, _registration) = AbortHandle::new_pair();
        health.attempt_started(abort);
        std::thread::sleep(Duration::from_millis(30));
        assert!(matches!(health.check_stall(), StallCheck::Stalled(_)));
        assert_eq!(health.snapshot().state, ActorState::Stalled);
        // Reported once per stall.
        assert!(matches!(health.check_stall(), StallCheck::Fine));
        std::thread::sleep(Duration::from_millis(20));
        assert!(matches!(health.check_stall(), StallCheck::Restart(..)));
        health.progressed();
        assert_eq!(health.snapshot().state, ActorState::Running);
    }

    #[test]
    fn time_in_a_protected_zone_is_no_stall() {
        let registry = registry(3).with_stall_timeout(Duration::from_millis(10));
        let health = registry.register("retrainer");
        let (abort, _registration) = AbortHandle::new_pair();
        health.attempt_started(abort);
        health.protect();
        std::thread::sleep(Duration::from_millis(20));
        assert!(matches!(health.check_stall(), StallCheck::Fine));
        health.unprotect();
        assert_eq!(health.snapshot().state, ActorState::Starting);
        health.attempt_finished();
        health.idle();
        std::thread::sleep(Duration::from_millis(20));
        assert!(matches!(health.check_stall(), StallCheck::Fine));
    }

    #[test]
    fn mailbox_depth_follows_enqueue_and_dequeue() {
        let registry = registry(3);
        let health = registry.register("alerter");
        health.enqueued();
        health.enqueued();
        health.dequeued();
        assert_eq!(health.snapshot().mailbox_depth, 1);
        assert_eq!(registry.register("alerter").snapshot().mailbox_depth, 1);
        assert_eq!(registry.snapshot().len(), 1);
    }
}

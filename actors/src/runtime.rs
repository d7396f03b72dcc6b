//! The runtime: opens the store, spawns every supervised actor, wires them
//! through the bus, runs the start-up sequence (recovery, backfill, first
//! training) in the background, drives the producer, and stops gracefully.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::bus::kafka::{
    ConsumerRole, ConsumerServices, ConsumerSinks, KafkaConsumer, KafkaError, KafkaPublisher,
    KafkaSettings, KafkaStatus, ensure_topics,
};
use crate::bus::{Bus, InProcessBus};
use crate::decider::{Decider, DeciderServices, DeciderSettings};
use crate::decision_queue::DecisionQueue;
use crate::decisions::{DecisionSettings, Decisions};
use crate::drift_checker::{DriftChecker, DriftSettings};
use crate::error::Undelivered;
use crate::faults::FaultInjector;
use crate::health::{ActorHealth, HealthRegistry, RestartBudget};
use crate::lifecycle::{Lifecycle, Phase};
use crate::messages::{
    Backfill, BackfillReport, CheckDrift, FeatureBatch, Healthz, LabelBatch, Promote, Retrain,
    Tick, TransactionBatch,
};
use crate::metrics::Metrics;
use crate::mlflow::MlflowQueue;
use crate::producer::{Producer, ProducerSettings};
use crate::promoter::Promoter;
use crate::raw_store::RawStore;
use crate::recovery;
use crate::retrainer::{Retrainer, RetrainerLinks};
use crate::schedule::{Schedule, ScheduleError, ScheduledJob};
use crate::store::{Store, StoreError};
use crate::supervisor::{Link, RestartPolicy, Spawner};
use crate::training::TrainingSettings;
use crate::watchdog::Watchdog;
use crate::webhook::{WebhookQueue, WebhookSettings};
use vigil_core::features::FeatureConfig;
use vigil_core::model::Thresholds;

/// Everything the runtime needs to start.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub database_url: String,
    pub producer: ProducerSettings,
    pub features: FeatureConfig,
    /// Days of simulated history generated into an empty store.
    pub backfill_days: u32,
    /// How often the live producer wakes up.
    pub tick: Duration,
    pub supervision: RestartPolicy,
    pub restart_budget: RestartBudget,
    /// Without progress for this long while it has work, an actor is
    /// stalled (and restarted after as long again).
    pub stall_timeout: Duration,
    /// Probability cut-offs for APPROVE / REVIEW / BLOCK.
    pub thresholds: Thresholds,
    pub training: TrainingSettings,
    /// Cron expression (with seconds) for scheduled retraining; None = off.
    pub retrain_schedule: Option<String>,
    /// Train at start-up (after any backfill) when no model is in production.
    pub train_on_start: bool,
    /// Where alerts are posted, if anywhere.
    pub webhook: Option<WebhookSettings>,
    pub drift: DriftSettings,
    /// Cron expression (with seconds) for drift checks; None = off.
    pub drift_schedule: Option<String>,
    /// Events travel through Kafka when set; in-process messages otherwise.
    pub kafka: Option<KafkaSettings>,
    /// Batching and caching of `POST /score` decisions.
    pub decisions: DecisionSettings,
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read the store: {0}")]
    Query(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("cannot finish the events a crash left in flight: {0}")]
    Recovery(String),
    #[error("cannot start webhook delivery: {0}")]
    Webhook(String),
}

/// A running Vigil: its store, actors and their observability.
pub struct Runtime {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub health: Arc<HealthRegistry>,
    pub faults: FaultInjector,
    pub bus: Bus,
    /// Start-up phase and drain.
    pub lifecycle: Arc<Lifecycle>,
    /// Scores stored transactions again (`POST /score` by id).
    pub decider: Link<FeatureBatch>,
    /// Which model is served, and the stored decisions answered recently.
    pub decisions: Arc<Decisions>,
    /// Batches the new transactions of `POST /score`.
    pub decision_queue: DecisionQueue,
    /// Trains a model on request.
    pub retrainer: Link<Retrain>,
    /// Promotes a registered version.
    pub promoter: Link<Promote>,
    /// Runs a drift check on request.
    pub drift_checker: Link<CheckDrift>,
    /// How drift is checked (`GET /drift/stats` reads the same windows).
    pub drift_settings: DriftSettings,
    probes: Vec<Link<Healthz>>,
    /// The actors whose work a graceful stop finishes.
    pipeline: Vec<Arc<ActorHealth>>,
    /// The actors whose work a stop abandons (a training, a drift check:
    /// nothing is stored before they finish).
    background_actors: Vec<Arc<ActorHealth>>,
    producer: Link<Backfill>,
    backfill: Option<oneshot::Receiver<Result<BackfillReport, Undelivered>>>,
    startup: Option<JoinHandle<()>>,
    ticker: Option<(watch::Sender<bool>, JoinHandle<()>)>,
    schedule: Schedule,
    /// The thread of the Retrainer, the DriftChecker and MLflow logging;
    /// None once left running for a stop that abandons their work.
    background: Option<actix::Arbiter>,
    /// The thread of the Promoter.
    promotion: actix::Arbiter,
    /// The Kafka consumer groups' members (Kafka mode).
    consumers: Vec<KafkaConsumer>,
    webhook: Option<WebhookQueue>,
    _watchdog: Watchdog,
}

/// What a graceful stop did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShutdownReport {
    pub elapsed: Duration,
    /// What was not finished in time; empty after a clean stop.
    pub left: Vec<String>,
    /// Background work given up by design (a training, a drift check):
    /// nothing of it was stored, it runs again on its next trigger.
    pub abandoned: Vec<String>,
}

impl ShutdownReport {
    /// Whether everything in flight was finished.
    pub fn is_clean(&self) -> bool {
        self.left.is_empty()
    }
}

impl Runtime {
    /// Opens the store (running migrations), starts every actor and the
    /// start-up sequence in the background: recovery of what a crash left
    /// in flight, a backfill if the store is empty, the first training.
    /// Returns before they are done (see [`Runtime::ready`] and
    /// `lifecycle`). Must be called inside an actix system.
    pub async fn start(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let store = Store::open(&config.database_url).await?;
        let metrics = Arc::new(Metrics::new());
        let health = Arc::new(
            HealthRegistry::new(config.restart_budget, metrics.clone())
                .with_stall_timeout(config.stall_timeout),
        );
        let lifecycle = Arc::new(Lifecycle::new());
        let faults = FaultInjector::default();
        let spawner = Spawner {
            policy: config.supervision,
            registry: health.clone(),
            faults: faults.clone(),
            store: store.clone(),
        };

        let raw_store = spawner.spawn(RawStore::factory(store.clone(), metrics.clone()));
        let webhook = config
            .webhook
            .clone()
            .map(|settings| WebhookQueue::start(settings, store.clone(), metrics.clone()))
            .transpose()
            .map_err(|e| RuntimeError::Webhook(e.to_string()))?;
        let decisions = Arc::new(Decisions::new(config.decisions.cache_capacity));
        let decider = spawner.spawn(Decider::factory(
            DeciderServices {
                store: store.clone(),
                metrics: metrics.clone(),
                decisions: decisions.clone(),
                webhook: webhook.clone(),
            },
            DeciderSettings {
                features: config.features.clone(),
                thresholds: config.thresholds,
                keeps_audit_log: config.kafka.is_none(),
            },
        ));
        // Promotion on a thread of its own: it never waits behind a
        // training. Training and drift checks read large windows and
        // serialize models: on their own thread, the Decider never
        // waits for them.
        let promotion = actix::Arbiter::new();
        let promoter = spawner.spawn_on(
            &promotion.handle(),
            Promoter::factory(store.clone(), decider.link()),
        );
        let background = actix::Arbiter::new();
        let retrainer = spawner.spawn_on(
            &background.handle(),
            Retrainer::factory(
                store.clone(),
                config.training.clone(),
                metrics.clone(),
                RetrainerLinks {
                    promoter: promoter.link(),
                    mlflow: config
                        .training
                        .mlflow_uri
                        .as_ref()
                        .map(|_| MlflowQueue::start(&background.handle())),
                    lifecycle: lifecycle.clone(),
                },
            ),
        );
        let raw_sinks = ConsumerSinks {
            transactions: raw_store.link(),
            labels: raw_store.link(),
            ownership: None,
        };
        let feature_sinks = ConsumerSinks {
            transactions: decider.link(),
            labels: decider.link(),
            ownership: Some(decider.link()),
        };
        let (bus, consumers) = match &config.kafka {
            None => (in_process_bus(raw_sinks, feature_sinks), Vec::new()),
            Some(settings) => {
                let sinks = [
                    (ConsumerRole::Raw, raw_sinks),
                    (ConsumerRole::Features, feature_sinks),
                ];
                kafka_bus(settings, &store, &metrics, &spawner, sinks).await?
            }
        };

        let drift_checker = spawner.spawn_on(
            &background.handle(),
            DriftChecker::factory(
                store.clone(),
                config.drift.clone(),
                metrics.clone(),
                retrainer.link(),
            ),
        );
        let producer = spawner.spawn(Producer::factory(
            config.producer.clone(),
            bus.clone(),
            metrics.clone(),
            lifecycle.clone(),
        ));
        let probes = vec![
            producer.link(),
            raw_store.link(),
            decider.link(),
            retrainer.link(),
            drift_checker.link(),
            promoter.link(),
        ];
        let pipeline = health
            .actors()
            .into_iter()
            .filter(|a| !["retrainer", "drift_checker"].contains(&a.name()))
            .collect();
        let background_actors = vec![retrainer.health().clone(), drift_checker.health().clone()];

        let backfill = if config.backfill_days > 0 && !store.has_raw_events().await? {
            let to = Utc::now();
            let from = to - TimeDelta::days(i64::from(config.backfill_days));
            Some((from, to))
        } else {
            None
        };
        let (backfill_reply, backfill_result) = match backfill {
            Some(_) => {
                let (reply, result) = oneshot::channel();
                (Some(reply), Some(result))
            }
            None => (None, None),
        };
        let startup = StartUp {
            store: store.clone(),
            lifecycle: lifecycle.clone(),
            recover: config.kafka.is_none(),
            decider: decider.link(),
            labels: decider.link(),
            rescorer: decider.link(),
            producer: producer.link(),
            on_kafka: config.kafka.is_some(),
            backfill: backfill.zip(backfill_reply),
            first_training: config.train_on_start.then(|| retrainer.link()),
        };
        let startup = actix::spawn(startup.run());

        let mut jobs = Vec::new();
        if let Some(cron) = &config.retrain_schedule {
            jobs.push(ScheduledJob::send(
                "retrain",
                cron.clone(),
                retrainer.link(),
                || Retrain {
                    trigger: "schedule".into(),
                },
            ));
        }
        if let Some(cron) = &config.drift_schedule {
            jobs.push(ScheduledJob::send(
                "drift",
                cron.clone(),
                drift_checker.link(),
                || CheckDrift {
                    trigger: "schedule".into(),
                },
            ));
        }
        let schedule = Schedule::start(jobs).await?;
        let decision_queue = DecisionQueue::start(
            bus.clone(),
            store.clone(),
            metrics.clone(),
            config.decisions.max_batch,
        );
        let ticker = (config.producer.rate > 0.0 || backfill.is_some())
            .then(|| spawn_ticker(producer.link(), config.tick, lifecycle.clone()));

        Ok(Runtime {
            store,
            metrics,
            _watchdog: Watchdog::start(health.clone()),
            health,
            faults,
            bus,
            lifecycle,
            decider: decider.link(),
            decisions,
            decision_queue,
            retrainer: retrainer.link(),
            promoter: promoter.link(),
            drift_checker: drift_checker.link(),
            drift_settings: config.drift.clone(),
            probes,
            pipeline,
            background_actors,
            producer: producer.link(),
            backfill: backfill_result,
            startup: Some(startup),
            ticker,
            schedule,
            background: Some(background),
            promotion,
            consumers,
            webhook,
        })
    }

    /// Waits until every actor has built its worker and answers a probe,
    /// and the start-up sequence is over (recovery, backfill, first
    /// training). Fails when start-up failed.
    pub async fn ready(&self) -> Result<(), Undelivered> {
        for probe in &self.probes {
            probe.send(Healthz).await?;
        }
        self.lifecycle.started().await;
        match self.lifecycle.snapshot() {
            snapshot if snapshot.phase == Phase::Failed => Err(Undelivered {
                actor: "runtime",
                reason: snapshot.failure.unwrap_or_default(),
                transient: false,
            }),
            _ => Ok(()),
        }
    }

    /// Waits for the start-up backfill, if one runs.
    pub async fn backfill_finished(&mut self) -> Option<Result<BackfillReport, Undelivered>> {
        let result = self.backfill.take()?;
        Some(result.await.unwrap_or_else(|_| {
            Err(Undelivered {
                actor: "producer",
                reason: "the start-up sequence stopped before the backfill finished".into(),
                transient: false,
            })
        }))
    }

    /// Generates simulated history from `from` to `to` now (as the start-up
    /// backfill does for an empty store).
    pub async fn backfill(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BackfillReport, Undelivered> {
        self.producer.send(Backfill { from, to }).await
    }

    /// Stops live production and waits for the tick in progress, so that
    /// every event produced so far has been handed to its consumers.
    pub async fn stop_producer(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            let _ = stop.send(true);
            let _ = handle.await;
        }
    }

    /// Stops consuming from Kafka after the batches in progress (their
    /// offsets are committed); dropping the runtime stops without waiting.
    pub async fn stop_consumers(&mut self) {
        for consumer in self.consumers.drain(..) {
            consumer.stop().await;
        }
    }

    /// Stops gracefully within `timeout`: takes no new work (the producer
    /// and the consumers stop, the lifecycle drains so the API refuses new
    /// requests), waits for the requests still being served (`requests`
    /// counts them) and for every event in flight to be stored, featurized,
    /// scored and alerted, lets the webhook queue drain, and closes the
    /// store. A training or drift check in progress is abandoned.
    ///
    /// When the time runs out, the report says what was left; the caller
    /// should then exit without tearing down the work still in flight.
    pub async fn shutdown(
        mut self,
        timeout: Duration,
        requests: impl Fn() -> usize,
    ) -> ShutdownReport {
        let started = Instant::now();
        let deadline = started + timeout;
        let phase = self.lifecycle.phase();
        self.lifecycle.drain();
        let settled = tokio::time::timeout_at(deadline, async {
            self.stop_intake().await;
            while requests() > 0 || self.pipeline_busy() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .is_ok();
        let mut left = Vec::new();
        if !settled {
            left = self.leftovers(phase, requests()).await;
        }
        if let Some(webhook) = &self.webhook {
            let drained = webhook.drain(deadline).await;
            if drained.dead_lettered > 0 {
                left.push(format!(
                    "{} alerts not delivered to the webhook (dead-lettered)",
                    drained.dead_lettered
                ));
            }
        }
        let abandoned = self.abandon_background();
        if settled {
            self.store.close().await;
        }
        ShutdownReport {
            elapsed: started.elapsed(),
            left,
            abandoned,
        }
    }

    /// No new work from now on: the ticker, the start-up sequence, the
    /// consumers and the schedule stop (each after what it is doing).
    async fn stop_intake(&mut self) {
        self.stop_producer().await;
        if let Some(startup) = self.startup.take() {
            let _ = startup.await;
        }
        self.stop_consumers().await;
        self.schedule.stop().await;
    }

    /// Whether an actor of the event path has work in hand or queued.
    fn pipeline_busy(&self) -> bool {
        self.pipeline.iter().any(|actor| {
            let snapshot = actor.snapshot();
            snapshot.busy || snapshot.mailbox_depth > 0
        })
    }

    /// What a stop that ran out of time leaves, for people.
    async fn leftovers(&self, phase: Phase, requests: usize) -> Vec<String> {
        let mut left = Vec::new();
        if phase == Phase::Recovering {
            left.push("recovery was not finished (it resumes at the next start)".into());
        }
        if requests > 0 {
            left.push(format!("{requests} HTTP requests still being served"));
        }
        for actor in &self.pipeline {
            let snapshot = actor.snapshot();
            if snapshot.busy || snapshot.mailbox_depth > 0 {
                left.push(format!(
                    "{}: {} message(s) queued{}",
                    snapshot.name,
                    snapshot.mailbox_depth,
                    if snapshot.busy { ", one in hand" } else { "" }
                ));
            }
        }
        if self.bus.processes_before_returning() {
            let counts = async {
                let raw = self.store.count_raw_events().await?;
                let featurized = self.store.count_feature_rows().await?;
                Ok::<_, sea_orm::DbErr>(raw.saturating_sub(featurized))
            };
            match tokio::time::timeout(Duration::from_secs(2), counts).await {
                Ok(Ok(0)) => {}
                Ok(Ok(owed)) => left.push(format!(
                    "{owed} stored events without features (finished at the next start)"
                )),
                _ => left.push("the store could not be counted".into()),
            }
        } else {
            left.push("batches not committed to Kafka are redelivered at the next start".into());
        }
        left
    }

    /// Names the background work in progress and leaves its thread running
    /// until the process exits: tearing it down while it reads the store
    /// would drop a connection outside any async runtime.
    fn abandon_background(&mut self) -> Vec<String> {
        let busy: Vec<String> = self
            .background_actors
            .iter()
            .map(|actor| actor.snapshot())
            .filter(|s| s.busy)
            .map(|s| match s.name {
                "retrainer" => "a training in progress".to_owned(),
                "drift_checker" => "a drift check in progress".to_owned(),
                other => format!("{other}: a message in hand"),
            })
            .collect();
        if !busy.is_empty()
            && let Some(background) = self.background.take()
        {
            std::mem::forget(background);
        }
        busy
    }
}

/// The simulated history to generate: from, to.
type BackfillWindow = (DateTime<Utc>, DateTime<Utc>);

/// Where the backfill's outcome goes (`Runtime::backfill_finished`).
type BackfillReply = oneshot::Sender<Result<BackfillReport, Undelivered>>;

/// The start-up sequence, in the background while the API already serves.
struct StartUp {
    store: Store,
    lifecycle: Arc<Lifecycle>,
    /// Embedded: finish what a crash left in flight (Kafka redelivers).
    recover: bool,
    decider: Link<TransactionBatch>,
    /// The Decider, for labels owed to the feature state.
    labels: Link<LabelBatch>,
    /// The Decider, for features owed a score.
    rescorer: Link<FeatureBatch>,
    producer: Link<Backfill>,
    on_kafka: bool,
    backfill: Option<(BackfillWindow, BackfillReply)>,
    first_training: Option<Link<Retrain>>,
}

impl StartUp {
    async fn run(self) {
        if self.recover
            && let Err(e) =
                recovery::finish_in_flight(&self.store, &self.decider, &self.labels, &self.rescorer)
                    .await
        {
            tracing::error!(error = %e, "start-up failed");
            self.lifecycle.fail(e.to_string());
            return;
        }
        let StartUp {
            store,
            lifecycle,
            producer,
            on_kafka,
            backfill,
            first_training,
            ..
        } = self;
        if let Some(((from, to), reply)) = backfill {
            lifecycle.enter(Phase::Backfilling);
            let report = backfill_with_progress(&store, &lifecycle, &producer, from, to).await;
            if let (Ok(report), true) = (&report, on_kafka) {
                // Published is not processed on Kafka: train once the
                // consumers have caught up.
                let mut draining = lifecycle.draining();
                tokio::select! {
                    _ = wait_for_feature_rows(&store, report.transactions) => {}
                    _ = draining.wait_for(|d| *d) => {}
                }
            }
            if lifecycle.is_draining() {
                tracing::warn!(
                    "the backfill was interrupted by a shutdown: the store keeps the history \
                     generated so far (remove the data to generate it again)"
                );
            }
            let _ = reply.send(report);
        }
        if lifecycle.is_draining() {
            return;
        }
        if let Some(retrainer) = first_training {
            lifecycle.enter(Phase::Training);
            let mut draining = lifecycle.draining();
            tokio::select! {
                _ = train_if_no_model(&store, &retrainer) => {}
                _ = draining.wait_for(|d| *d) => return,
            }
        }
        lifecycle.enter(Phase::Running);
    }
}

/// Runs the backfill, reporting how much of the window is featurized.
async fn backfill_with_progress(
    store: &Store,
    lifecycle: &Lifecycle,
    producer: &Link<Backfill>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BackfillReport, Undelivered> {
    let span = (to - from).num_seconds().max(1) as f64;
    let days = span / 86_400.0;
    let report_progress = async {
        loop {
            if let Ok(Some(newest)) = store.newest_featurized_time().await {
                let done = ((newest - from).num_seconds() as f64 / span).clamp(0.0, 1.0);
                lifecycle.report_progress(
                    Some(done),
                    format!(
                        "simulated history: {:.1} of {days:.0} days featurized",
                        done * days
                    ),
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    lifecycle.report_progress(Some(0.0), format!("simulated history: 0 of {days:.0} days"));
    tokio::select! {
        report = producer.send(Backfill { from, to }) => report,
        _ = report_progress => unreachable!("the progress loop never ends"),
    }
}

/// Trains unless a model is already in production: a fresh `cargo run`
/// serves a model right after its backfill.
async fn train_if_no_model(store: &Store, retrainer: &Link<Retrain>) {
    match store.production_model().await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let retrain = Retrain {
                trigger: "startup".into(),
            };
            if let Err(undelivered) = retrainer.send(retrain).await {
                tracing::error!(%undelivered, "start-up training failed");
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot look up the production model"),
    }
}

/// Kafka mode: the topics, the publisher, and a member of each consumer
/// group feeding its actors.
async fn kafka_bus(
    settings: &KafkaSettings,
    store: &Store,
    metrics: &Arc<Metrics>,
    spawner: &Spawner,
    sinks: [(ConsumerRole, ConsumerSinks); 2],
) -> Result<(Bus, Vec<KafkaConsumer>), RuntimeError> {
    let status = Arc::new(KafkaStatus::new(metrics.consumer_lag.clone()));
    spawner.registry.watch_kafka(status.clone());
    let partition_count = ensure_topics(settings).await?;
    let publisher = KafkaPublisher::new(settings, status.clone(), metrics.clone())?;
    let services = ConsumerServices {
        store: store.clone(),
        publisher: publisher.clone(),
        status,
        metrics: metrics.clone(),
        partition_count,
    };
    let consumers = sinks
        .into_iter()
        .map(|(role, sinks)| KafkaConsumer::start(settings, role, sinks, services.clone(), spawner))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((Bus::Kafka(publisher), consumers))
}

/// The in-process bus: the Decider gets every transaction batch
/// (and stores its raw events in the same database transaction as its
/// decisions); labels go to the audit log, then to the Decider.
fn in_process_bus(raw: ConsumerSinks, decider: ConsumerSinks) -> Bus {
    let mut bus = InProcessBus::default();
    bus.subscribe_transactions(decider.transactions);
    bus.subscribe_labels(raw.labels);
    bus.subscribe_labels(decider.labels);
    Bus::InProcess(bus)
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(background) = &self.background {
            background.stop();
        }
        self.promotion.stop();
        if let Some((stop, _)) = &self.ticker {
            let _ = stop.send(true);
        }
    }
}

/// Waits until the store holds `count` feature rows.
async fn wait_for_feature_rows(store: &Store, count: u64) {
    loop {
        match store.count_feature_rows().await {
            Ok(rows) if rows >= count => return,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot count feature rows"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Sends `Tick` to the producer every `period` until told to stop, once
/// the history is in (recovery and any backfill done). Each tick is
/// awaited, so a slow pipeline delays the next one (backpressure).
fn spawn_ticker(
    producer: Link<Tick>,
    period: Duration,
    lifecycle: Arc<Lifecycle>,
) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(false);
    let handle = actix::spawn(async move {
        tokio::select! {
            _ = stopped.changed() => return,
            _ = lifecycle.history_ready() => {}
        }
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                _ = interval.tick() => {
                    if lifecycle.is_draining() {
                        break;
                    }
                    if let Err(undelivered) = producer.send(Tick).await {
                        tracing::error!(%undelivered, "producer tick failed");
                    }
                }
            }
        }
    });
    (stop, handle)
}

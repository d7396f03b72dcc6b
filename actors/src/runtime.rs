//! The runtime: opens the store, spawns every supervised actor, wires them
//! through the bus, and drives the producer.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::alerter::{Alerter, WebhookSettings};
use crate::bus::kafka::{
    ConsumerRole, ConsumerServices, ConsumerSinks, KafkaConsumer, KafkaError, KafkaPublisher,
    KafkaSettings, KafkaStatus, ensure_topics,
};
use crate::bus::{Bus, InProcessBus};
use crate::drift_checker::{DriftChecker, DriftSettings};
use crate::error::Undelivered;
use crate::faults::FaultInjector;
use crate::feature_engine::FeatureEngine;
use crate::health::{HealthRegistry, RestartBudget};
use crate::messages::{
    Backfill, BackfillReport, CheckDrift, FeatureBatch, Healthz, Promote, Retrain, Tick,
};
use crate::metrics::Metrics;
use crate::producer::{Producer, ProducerSettings};
use crate::raw_store::RawStore;
use crate::recovery;
use crate::retrainer::Retrainer;
use crate::schedule::{Schedule, ScheduleError, ScheduledJob};
use crate::scorer::Scorer;
use crate::store::{Store, StoreError};
use crate::supervisor::{Link, Supervision, SupervisionPolicy};
use crate::training::TrainingSettings;
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
    pub supervision: SupervisionPolicy,
    pub restart_budget: RestartBudget,
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
}

/// A running Vigil: its store, actors and their observability.
pub struct Runtime {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub health: Arc<HealthRegistry>,
    pub faults: FaultInjector,
    pub bus: Bus,
    /// Scores stored transactions (`POST /score` by id).
    pub scorer: Link<FeatureBatch>,
    /// Trains a model on request.
    pub retrainer: Link<Retrain>,
    /// Promotes a registered version.
    pub promoter: Link<Promote>,
    /// Runs a drift check on request.
    pub drift_checker: Link<CheckDrift>,
    /// How drift is checked (`GET /drift/stats` reads the same windows).
    pub drift_settings: DriftSettings,
    probes: Vec<Link<Healthz>>,
    backfill: Option<JoinHandle<Result<BackfillReport, Undelivered>>>,
    ticker: Option<(watch::Sender<bool>, JoinHandle<()>)>,
    /// Kept so scheduled jobs live as long as the runtime.
    _schedule: Schedule,
    /// The thread of the Retrainer and the DriftChecker.
    background: actix::Arbiter,
    /// The Kafka consumer groups' members (Kafka mode).
    consumers: Vec<KafkaConsumer>,
}

impl Runtime {
    /// Opens the store (running migrations), starts every actor, and
    /// starts the producer: a backfill first if the store is empty.
    /// Must be called inside an actix system.
    pub async fn start(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let store = Store::open(&config.database_url).await?;
        let metrics = Arc::new(Metrics::new());
        let health = Arc::new(HealthRegistry::new(config.restart_budget, metrics.clone()));
        let faults = FaultInjector::default();
        let supervision = Supervision {
            policy: config.supervision,
            registry: health.clone(),
            faults: faults.clone(),
            store: store.clone(),
        };

        let raw_store = supervision.spawn(RawStore::factory(store.clone(), metrics.clone()));
        let alerter = supervision.spawn(Alerter::factory(
            store.clone(),
            metrics.clone(),
            config.webhook.clone(),
        ));
        let scorer = supervision.spawn(Scorer::factory(
            store.clone(),
            config.thresholds,
            metrics.clone(),
            alerter.link(),
        ));
        // Training and drift checks read large windows and serialize
        // models: on their own thread, the Scorer never waits for them.
        let background = actix::Arbiter::new();
        let retrainer = supervision.spawn_on(
            &background.handle(),
            Retrainer::factory(
                store.clone(),
                config.training.clone(),
                metrics.clone(),
                scorer.link(),
            ),
        );
        let feature_engine = supervision.spawn(FeatureEngine::factory(
            store.clone(),
            config.features.clone(),
            metrics.clone(),
            scorer.link(),
        ));
        let raw_sinks = ConsumerSinks {
            transactions: raw_store.link(),
            labels: raw_store.link(),
            ownership: None,
        };
        let feature_sinks = ConsumerSinks {
            transactions: feature_engine.link(),
            labels: feature_engine.link(),
            ownership: Some(feature_engine.link()),
        };
        let (bus, consumers) = match &config.kafka {
            None => (in_process_bus([raw_sinks, feature_sinks]), Vec::new()),
            Some(settings) => {
                let sinks = [
                    (ConsumerRole::Raw, raw_sinks),
                    (ConsumerRole::Features, feature_sinks),
                ];
                kafka_bus(settings, &store, &metrics, &health, sinks).await?
            }
        };

        if config.kafka.is_none() {
            recovery::finish_in_flight(&store, &feature_engine.link(), &scorer.link()).await?;
        }

        let mut probes = vec![
            raw_store.link(),
            feature_engine.link(),
            scorer.link(),
            alerter.link(),
            retrainer.link(),
        ];
        let drift_checker = supervision.spawn_on(
            &background.handle(),
            DriftChecker::factory(
                store.clone(),
                config.drift.clone(),
                metrics.clone(),
                retrainer.link(),
            ),
        );
        probes.push(drift_checker.link());
        let producer = supervision.spawn(Producer::factory(
            config.producer.clone(),
            bus.clone(),
            metrics.clone(),
        ));
        probes.insert(0, producer.link());

        let (history_ready, history_known) = watch::channel(false);
        let backfill = if config.backfill_days > 0 && !store.has_raw_events().await? {
            let to = Utc::now();
            let from = to - TimeDelta::days(i64::from(config.backfill_days));
            let link = producer.link::<Backfill, _>();
            let (store, on_kafka) = (store.clone(), !bus.processes_before_returning());
            Some(actix::spawn(async move {
                let report = link.send(Backfill { from, to }).await;
                if let (Ok(report), true) = (&report, on_kafka) {
                    // Published is not processed on Kafka: train once the
                    // consumers have caught up.
                    wait_for_feature_rows(&store, report.transactions).await;
                }
                let _ = history_ready.send(true);
                report
            }))
        } else {
            let _ = history_ready.send(true);
            None
        };
        if config.train_on_start {
            spawn_first_training(store.clone(), retrainer.link(), history_known);
        }
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
        let ticker = (config.producer.rate > 0.0 || backfill.is_some())
            .then(|| spawn_ticker(producer.link(), config.tick));

        Ok(Runtime {
            store,
            metrics,
            health,
            faults,
            bus,
            scorer: scorer.link(),
            retrainer: retrainer.link(),
            promoter: retrainer.link(),
            drift_checker: drift_checker.link(),
            drift_settings: config.drift.clone(),
            probes,
            backfill,
            ticker,
            _schedule: schedule,
            background,
            consumers,
        })
    }

    /// Waits until every actor has built its worker and answers a probe.
    pub async fn ready(&self) -> Result<(), Undelivered> {
        for probe in &self.probes {
            probe.send(Healthz).await?;
        }
        Ok(())
    }

    /// Waits for the start-up backfill, if one runs.
    pub async fn backfill_finished(&mut self) -> Option<Result<BackfillReport, Undelivered>> {
        let handle = self.backfill.take()?;
        Some(handle.await.unwrap_or_else(|e| {
            Err(Undelivered {
                actor: "producer",
                reason: format!("backfill task failed: {e}"),
                transient: false,
            })
        }))
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
}

/// Kafka mode: the topics, the publisher, and a member of each consumer
/// group feeding its actors.
async fn kafka_bus(
    settings: &KafkaSettings,
    store: &Store,
    metrics: &Arc<Metrics>,
    health: &HealthRegistry,
    sinks: [(ConsumerRole, ConsumerSinks); 2],
) -> Result<(Bus, Vec<KafkaConsumer>), RuntimeError> {
    let status = Arc::new(KafkaStatus::new(metrics.consumer_lag.clone()));
    health.watch_kafka(status.clone());
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
        .map(|(role, sinks)| KafkaConsumer::start(settings, role, sinks, services.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((Bus::Kafka(publisher), consumers))
}

/// The in-process bus: each consumer gets every batch as an actor message.
fn in_process_bus(sinks: [ConsumerSinks; 2]) -> Bus {
    let mut bus = InProcessBus::default();
    for sink in sinks {
        bus.subscribe_transactions(sink.transactions);
        bus.subscribe_labels(sink.labels);
    }
    Bus::InProcess(bus)
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.background.stop();
        if let Some((stop, _)) = &self.ticker {
            let _ = stop.send(true);
        }
    }
}

/// Trains once the history is in, unless a model is already in production:
/// a fresh `cargo run` serves a model right after its backfill.
fn spawn_first_training(
    store: Store,
    retrainer: Link<Retrain>,
    mut history: watch::Receiver<bool>,
) {
    actix::spawn(async move {
        if history.wait_for(|ready| *ready).await.is_err() {
            return;
        }
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
    });
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

/// Sends `Tick` to the producer every `period` until told to stop. Each
/// tick is awaited, so a slow pipeline delays the next one (backpressure).
fn spawn_ticker(producer: Link<Tick>, period: Duration) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop, mut stopped) = watch::channel(false);
    let handle = actix::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                _ = interval.tick() => {
                    if let Err(undelivered) = producer.send(Tick).await {
                        tracing::error!(%undelivered, "producer tick failed");
                    }
                }
            }
        }
    });
    (stop, handle)
}

//! Wiring: configuration → runtime → HTTP server.

use std::time::Instant;

use actix_web::{App, HttpServer};
use vigil_actors::bus::kafka::{KafkaSettings, Topics};
use vigil_actors::decisions::DecisionSettings;
use vigil_actors::drift_checker::DriftSettings;
use vigil_actors::health::RestartBudget;
use vigil_actors::lifecycle::Phase;
use vigil_actors::producer::ProducerSettings;
use vigil_actors::store::Store;
use vigil_actors::supervisor::RestartPolicy;
use vigil_actors::training::TrainingSettings;
use vigil_actors::webhook::WebhookSettings;
use vigil_actors::{Runtime, RuntimeConfig, ShutdownReport};
use vigil_core::features::FeatureConfig;
use vigil_core::model::Thresholds;
use vigil_core::model::dataset::SplitConfig;
use vigil_core::model::gates::QualityGates;
use vigil_core::model::gbdt::GbdtParams;
use vigil_core::model::iforest::IsolationForestParams;
use vigil_core::model::training::TrainingParams;

use vigil_actors::messages::TrainingOutcome;
use vigil_core::model::training::Stage;

use crate::config::Config;
use crate::http::{self, AppState};

/// Why `vigil` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Runtime(#[from] vigil_actors::runtime::RuntimeError),
    #[error(transparent)]
    Store(#[from] vigil_actors::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("feature rebuild failed: {0}")]
    Features(vigil_actors::ActorError),
    #[error("training failed: {0}")]
    Training(vigil_actors::ActorError),
    #[error("http server failed: {0}")]
    Http(std::io::Error),
    #[error("start-up failed: {0}")]
    Startup(String),
}

/// Exit code of `vigil serve` when its graceful stop ran out of time (or a
/// second signal cut it short): work was left in flight.
pub const EXIT_SHUTDOWN_TIMED_OUT: i32 = 3;

/// The runtime's configuration derived from Vigil's.
pub fn runtime_config(config: &Config) -> RuntimeConfig {
    let p = &config.producer;
    let s = &config.supervisor;
    let world = crate::world::world(p, config.seed);
    RuntimeConfig {
        database_url: config.database_url(),
        producer: ProducerSettings {
            synth: world.synth,
            rate: world.live_rate,
            activity: p.activity,
            batch_size: p.batch_size,
        },
        features: FeatureConfig {
            label_delay: to_time_delta(config.features.label_delay),
            allowed_lateness: to_time_delta(config.features.allowed_lateness),
        },
        backfill_days: config.backfill.days,
        tick: p.tick,
        supervision: RestartPolicy {
            backoff_initial: s.backoff_initial,
            backoff_max: s.backoff_max,
            mailbox_capacity: s.mailbox_capacity,
        },
        restart_budget: RestartBudget {
            max_restarts: s.max_restarts,
            window: s.restart_window,
        },
        stall_timeout: s.stall_timeout,
        thresholds: thresholds(config),
        training: training_settings(config),
        retrain_schedule: Some(config.model.retrain_schedule.clone()).filter(|c| !c.is_empty()),
        train_on_start: config.model.train_on_start,
        webhook: config
            .alerts
            .webhook_url
            .clone()
            .map(|url| WebhookSettings {
                url,
                attempts: config.alerts.webhook_attempts,
                timeout: config.alerts.webhook_timeout,
                backoff: std::time::Duration::from_millis(200),
                queue_capacity: config.alerts.webhook_queue,
                senders: config.alerts.webhook_concurrency,
            }),
        drift: drift_settings(config),
        drift_schedule: Some(config.drift.schedule.clone()).filter(|c| !c.is_empty()),
        kafka: kafka_settings(config),
        decisions: DecisionSettings {
            max_batch: config.http.score_batch_max,
            cache_capacity: config.http.decision_cache,
        },
    }
}

/// Kafka settings when brokers are configured.
fn kafka_settings(config: &Config) -> Option<KafkaSettings> {
    let k = &config.kafka;
    k.brokers.as_ref().map(|brokers| KafkaSettings {
        partitions: k.partitions,
        replication: k.replication,
        batch_size: k.batch_size,
        topics: Topics {
            transactions: k.transactions_topic.clone(),
            labels: k.labels_topic.clone(),
        },
        group_prefix: k.group_prefix.clone(),
        session_timeout: k.session_timeout,
        instance_id: k.instance_id.clone(),
        ..KafkaSettings::new(brokers.clone())
    })
}

/// How drift is checked, from the `[drift]` section (validated at load).
fn drift_settings(config: &Config) -> DriftSettings {
    let d = &config.drift;
    DriftSettings {
        reference_rows: d.reference_rows,
        current_rows: d.current_rows,
        min_rows: d.min_rows,
        numeric_test: d.numeric_test,
        categorical_test: d.categorical_test,
        share_threshold: d.share_threshold,
        retrain_on_drift: d.retrain_on_drift,
        retrain_cooldown: d.retrain_cooldown,
    }
}

fn thresholds(config: &Config) -> Thresholds {
    Thresholds {
        review: config.model.review_threshold,
        block: config.model.block_threshold,
    }
}

/// How models are trained and judged, from the `[model]` section.
pub fn training_settings(config: &Config) -> TrainingSettings {
    let m = &config.model;
    let params = TrainingParams {
        gbdt: GbdtParams {
            iterations: m.iterations,
            learning_rate: m.learning_rate,
            max_depth: m.max_depth,
            seed: config.seed,
            ..GbdtParams::default()
        },
        iforest: IsolationForestParams {
            trees: m.iforest_trees,
            seed: config.seed,
            ..IsolationForestParams::default()
        },
        split: SplitConfig {
            label_delay: to_time_delta(config.features.label_delay),
            test_fraction: m.test_fraction,
        },
        thresholds: thresholds(config),
        card_k: m.card_k,
    };
    TrainingSettings {
        params,
        gates: QualityGates {
            min_pr_auc: m.min_pr_auc,
            min_recall: m.min_recall,
        },
        mlflow_uri: config.mlflow.tracking_uri.clone(),
    }
}

/// Configured durations are bounded far below chrono's range; saturate
/// rather than fail for absurd values.
fn to_time_delta(duration: std::time::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX)
}

/// `vigil serve`: the runtime and the HTTP API until SIGTERM or SIGINT,
/// then a graceful stop within `shutdown.timeout` (see
/// [`Runtime::shutdown`]). The API answers from the first moment: start-up
/// (recovery, backfill, first training) runs behind it.
///
/// A report that is not clean means work is still in flight: the caller
/// should exit at once, non-zero, without tearing the runtime down.
pub async fn serve(config: Config) -> Result<ShutdownReport, AppError> {
    let started = Instant::now();
    warn_if_exposed_without_key(&config);
    // Bound before anything starts, so that a taken port stops nothing.
    let bind = |source| AppError::Bind {
        addr: config.http.addr,
        source,
    };
    let listener = std::net::TcpListener::bind(config.http.addr).map_err(bind)?;
    let runtime = Runtime::start(runtime_config(&config)).await?;
    let state = AppState::of(&runtime, None).with_api_keys(http::ApiKeys::new(
        config.api_key.clone(),
        config.api_keys.clone(),
        config.http.protect_reads,
    ));
    let requests = state.requests.clone();
    let max_body = config.http.max_body_bytes;
    let server =
        HttpServer::new(move || App::new().configure(http::configure(state.clone(), max_body)))
            .workers(2)
            // Signals are Vigil's to handle: the API keeps answering (503)
            // while the runtime drains.
            .disable_signals()
            .shutdown_timeout(5)
            .listen(listener)
            .map_err(bind)?
            .run();
    let handle = server.handle();
    let mut server = actix::spawn(server);
    tracing::info!(
        addr = %config.http.addr,
        store = runtime.store.backend_name(),
        "listening: http://{0}/health  http://{0}/health/actors  http://{0}/metrics  http://{0}/docs",
        config.http.addr
    );
    let lifecycle = runtime.lifecycle.clone();
    actix::spawn(async move {
        if lifecycle.started().await == Phase::Running {
            tracing::info!(ms = started.elapsed().as_millis() as u64, "vigil is up");
        }
    });

    let failure = tokio::select! {
        signal = stop_signal() => {
            tracing::info!(
                signal,
                timeout_seconds = config.shutdown.timeout.as_secs_f64(),
                "stopping: taking no new work, finishing what is in flight"
            );
            None
        }
        reason = runtime.lifecycle.failed() => Some(AppError::Startup(reason)),
        served = &mut server => Some(AppError::Http(match served {
            Ok(Ok(())) => std::io::Error::other("the server stopped by itself"),
            Ok(Err(e)) => e,
            Err(e) => std::io::Error::other(e),
        })),
    };
    // A second signal does not wait.
    actix::spawn(async {
        let signal = stop_signal().await;
        tracing::error!(
            signal,
            "second signal: exiting now, leaving what is in flight"
        );
        std::process::exit(EXIT_SHUTDOWN_TIMED_OUT);
    });
    let report = runtime
        .shutdown(config.shutdown.timeout, move || requests.in_flight())
        .await;
    if !report.abandoned.is_empty() {
        tracing::warn!(abandoned = ?report.abandoned, "background work given up (nothing of it was stored)");
    }
    if report.is_clean() {
        handle.stop(true).await;
        tracing::info!(
            seconds = report.elapsed.as_secs_f64(),
            "stopped: everything in flight was finished"
        );
    } else {
        tracing::error!(
            seconds = report.elapsed.as_secs_f64(),
            left = ?report.left,
            "shutdown timed out: work left in flight"
        );
    }
    match failure {
        Some(error) if report.is_clean() => Err(error),
        _ => Ok(report),
    }
}

/// The first SIGTERM or SIGINT, by name.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on SIGINT only");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Anyone who reaches a non-loopback address could retrain, promote a
/// model or post labels when no API key is set: say so on every start.
fn warn_if_exposed_without_key(config: &Config) {
    let no_key = config.api_key.is_none() && config.api_keys.is_empty();
    if no_key && !config.http.addr.ip().is_loopback() {
        tracing::warn!(
            addr = %config.http.addr,
            "!!! the HTTP API listens on a non-loopback address WITHOUT an API key: \
             anyone who can reach it may retrain, promote models, post labels and run drift \
             checks. Set VIGIL_API_KEY (or api_key in vigil.toml) !!!"
        );
    }
}

/// `vigil migrate`: runs pending migrations and exits.
pub async fn migrate(config: &Config) -> Result<(), AppError> {
    let store = Store::open(&config.database_url()).await?;
    tracing::info!(store = store.backend_name(), "the store is up to date");
    Ok(())
}

/// `vigil features rebuild`: the offline feature path over the whole store.
pub async fn rebuild_features(config: &Config) -> Result<(), AppError> {
    let store = Store::open(&config.database_url()).await?;
    let started = Instant::now();
    let features = runtime_config(config).features;
    let report = vigil_actors::decider::rebuild_all(&store, &features)
        .await
        .map_err(AppError::Features)?;
    tracing::info!(
        transactions = report.transactions,
        labels = report.labels,
        seconds = started.elapsed().as_secs_f64(),
        "features rebuilt"
    );
    Ok(())
}

/// `vigil train`: one training run with a progress display, then the
/// metrics table.
pub async fn train(config: &Config) -> Result<(), AppError> {
    let store = Store::open(&config.database_url()).await?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message("reading labelled transactions");
    let stages = bar.clone();
    let run = vigil_actors::training::train_and_register(
        &store,
        &training_settings(config),
        "cli",
        move |stage| {
            stages.set_message(match stage {
                Stage::Detector => "training the isolation forest",
                Stage::Classifier => "training the gradient-boosted trees",
                Stage::Evaluation => "evaluating on the test window",
            })
        },
    )
    .await
    .map_err(AppError::Training)?;
    if let Some(candidate) = &run.promote {
        store
            .promote_model(candidate.version, &candidate.reason)
            .await
            .map_err(|e| AppError::Training(e.into()))?;
    }
    if let Some(log) = &run.mlflow {
        bar.set_message("logging the run to mlflow");
        vigil_actors::training::log_to_mlflow(log).await;
    }
    bar.finish_and_clear();
    println!("{}", training_summary(&run.outcome));
    Ok(())
}

/// The outcome of a training as a small table for a terminal.
fn training_summary(outcome: &TrainingOutcome) -> String {
    let (version, promoted, reason, metrics, seconds) = match outcome {
        TrainingOutcome::Skipped { reason } => return format!("no model trained: {reason}"),
        TrainingOutcome::Trained {
            version,
            promoted,
            reason,
            metrics,
            train_seconds,
        } => (version, promoted, reason, metrics, train_seconds),
    };
    let e = &metrics.evaluation;
    let number = |v: Option<f64>| v.map_or("n/a".into(), |x| format!("{x:.4}"));
    let mut lines = vec![
        format!(
            "model version {version}: {}",
            if *promoted {
                "promoted to production"
            } else {
                "kept as candidate"
            }
        ),
        format!("  {reason}"),
        format!(
            "  trained in {seconds:.2} s on {} rows, tested on {} rows ({} frauds)",
            metrics.train_rows, e.rows, e.positives
        ),
        String::new(),
        format!("  {:<24}{:>10}", "metric", "value"),
        format!("  {:<24}{:>10}", "roc_auc", number(e.roc_auc)),
        format!("  {:<24}{:>10}", "pr_auc", number(e.pr_auc)),
    ];
    for (tier, t) in [("at_review", &e.at_review), ("at_block", &e.at_block)] {
        for (key, value) in [
            ("precision", t.precision),
            ("recall", t.recall),
            ("f1", t.f1),
        ] {
            lines.push(format!(
                "  {:<24}{:>10}",
                format!("{key} {tier} ({})", t.threshold),
                number(Some(value))
            ));
        }
        let c = &t.confusion;
        lines.push(format!(
            "  {:<24}{:>10}",
            format!("confusion {tier}"),
            format!("tp {} fp {} tn {} fn {}", c.tp, c.fp, c.tn, c.fn_)
        ));
    }
    lines.push(format!(
        "  {:<24}{:>10}",
        format!("card_precision@{}", e.k),
        number(e.card_precision_at_k)
    ));
    lines.join("\n")
}

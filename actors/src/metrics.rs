//! Prometheus metrics of the runtime. Names are part of the interface:
//! the Grafana dashboards and alert rules rely on them.

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The `outcome` label values of `fraud_model_trainings_total`.
pub const TRAINING_OUTCOMES: [&str; 4] = ["promoted", "candidate", "skipped", "failed"];

/// The `reason` label values of `fraud_alert_webhook_dead_letters_total`.
pub const WEBHOOK_DEAD_LETTER_REASONS: [&str; 3] = ["queue_full", "rejected", "shutdown"];

/// The `stage` label values of `fraud_decision_stage_seconds`. Per
/// `POST /score` transaction: waiting in the decision queue (`queue`), its
/// batch through the bus and the decision stage (`pipeline`), reading the
/// batch's stored scores back (`answer`). Per batch of the decision stage,
/// whatever its source: computing features (`features`), scoring
/// (`model`), the one database transaction that stores it (`commit`).
pub const DECISION_STAGES: [&str; 6] =
    ["queue", "pipeline", "answer", "features", "model", "commit"];

/// Every metric the runtime exports, registered in one registry of its own
/// (not the global one) so several runtimes can live in one test process.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// fraud_transactions_produced_total
    pub transactions_produced: IntCounter,
    /// fraud_producer_errors_total
    pub producer_errors: IntCounter,
    /// fraud_labels_produced_total
    pub labels_produced: IntCounter,
    /// fraud_stream_consumer_messages_total: transactions stored by RawStore
    pub stream_consumer_messages: IntCounter,
    /// fraud_labels_stored_total
    pub labels_stored: IntCounter,
    /// fraud_feature_consumer_messages_total: transactions seen by the feature engine
    pub feature_consumer_messages: IntCounter,
    /// fraud_feature_computation_seconds: time to compute one feature vector
    pub feature_latency: Histogram,
    /// fraud_feature_state_bytes: approximate size of the whole online
    /// feature state, updated at most once a second
    pub feature_state_bytes: IntGauge,
    /// fraud_feature_state_part_bytes{part}: the same by part (users,
    /// merchants, labels, interners)
    pub feature_state_part_bytes: IntGaugeVec,
    /// fraud_features_unscored_total: feature vectors that arrived while no model was loaded
    pub features_unscored: IntCounter,
    /// fraud_scoring_requests_total: transactions scored (stream and API)
    pub scoring_requests: IntCounter,
    /// fraud_scoring_latency_seconds: model + explanation time per transaction
    pub scoring_latency: Histogram,
    /// fraud_model_predictions{decision}
    pub model_predictions: IntCounterVec,
    /// fraud_decision_queue_depth: `POST /score` transactions waiting for
    /// the decision queue to take them
    pub decision_queue_depth: IntGauge,
    /// fraud_decision_batch_size: transactions per batch the decision
    /// queue published
    pub decision_batch_size: Histogram,
    /// fraud_decision_stage_seconds{stage}: time of a `POST /score`
    /// transaction in each stage (see [`DECISION_STAGES`])
    pub decision_stage_seconds: HistogramVec,
    /// fraud_alerts_created_total
    pub alerts_created: IntCounter,
    /// fraud_alert_webhook_failures_total: alerts the webhook never got
    /// (every reason of `alert_webhook_dead_letters`)
    pub alert_webhook_failures: IntCounter,
    /// fraud_alert_webhook_dead_letters_total{reason}: undelivered alerts
    /// by reason (queue_full, rejected, shutdown)
    pub alert_webhook_dead_letters: IntCounterVec,
    /// fraud_alert_webhook_queue_depth: alerts waiting for a webhook sender
    pub alert_webhook_queue: IntGauge,
    /// fraud_model_version: the production model's version (0 = none)
    pub model_version: IntGauge,
    /// fraud_model_trained_timestamp_seconds: when the served model was
    /// trained (registered), Unix seconds; 0 when none is served
    pub model_trained_timestamp: Gauge,
    /// fraud_model_trainings_total{outcome}: promoted, candidate, skipped, failed
    pub model_trainings: IntCounterVec,
    /// fraud_model_training_seconds: duration of the last training
    pub model_training_seconds: Gauge,
    /// fraud_drift_detected: 1 when the last check found dataset drift
    pub drift_detected: IntGauge,
    /// fraud_drift_share: share of monitored features that drifted
    pub drift_share: Gauge,
    /// fraud_drift_features_drifted: monitored features that drifted in the last check
    pub drift_features_drifted: IntGauge,
    /// fraud_drift_feature_score{feature}: the last drift score per feature
    pub drift_feature_score: GaugeVec,
    /// fraud_drift_reference_mean{feature}: mean of a numeric feature in the
    /// last check's reference window
    pub drift_reference_mean: GaugeVec,
    /// fraud_drift_current_mean{feature}: mean of a numeric feature in the
    /// last check's current window
    pub drift_current_mean: GaugeVec,
    /// fraud_drift_check_duration_seconds
    pub drift_check_duration: Histogram,
    /// fraud_dead_letters_total{actor}
    pub dead_letters: IntCounterVec,
    /// fraud_actor_restarts_total{actor}
    pub actor_restarts: IntCounterVec,
    /// fraud_actor_mailbox_depth{actor}
    pub actor_mailbox_depth: IntGaugeVec,
    /// fraud_consumer_lag{group,topic,partition}: Kafka messages not yet
    /// committed by a consumer group (Kafka mode only)
    pub consumer_lag: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let metrics = Metrics {
            transactions_produced: counter(
                "fraud_transactions_produced_total",
                "Transactions published by the producer",
            ),
            producer_errors: counter(
                "fraud_producer_errors_total",
                "Transactions the producer could not publish",
            ),
            labels_produced: counter(
                "fraud_labels_produced_total",
                "Labels (chargebacks) published by the producer",
            ),
            stream_consumer_messages: counter(
                "fraud_stream_consumer_messages_total",
                "Transactions persisted to raw_events by the raw store",
            ),
            labels_stored: counter("fraud_labels_stored_total", "Labels persisted"),
            feature_consumer_messages: counter(
                "fraud_feature_consumer_messages_total",
                "Transactions consumed by the feature engine",
            ),
            feature_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "fraud_feature_computation_seconds",
                    "Time to compute one transaction's feature vector",
                )
                .buckets(vec![
                    1e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 1e-3,
                ]),
            )
            .expect("valid metric definition"),
            features_unscored: counter(
                "fraud_features_unscored_total",
                "Feature vectors received while no model was loaded",
            ),
            scoring_requests: counter(
                "fraud_scoring_requests_total",
                "Transactions scored, from the stream and the API",
            ),
            scoring_latency: Histogram::with_opts(
                HistogramOpts::new(
                    "fraud_scoring_latency_seconds",
                    "Time to score and explain one transaction",
                )
                .buckets(vec![
                    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2,
                ]),
            )
            .expect("valid metric definition"),
            model_predictions: counter_vec(
                "fraud_model_predictions",
                "Decisions taken, by decision",
                "decision",
            ),
            alerts_created: counter("fraud_alerts_created_total", "Alerts opened"),
            alert_webhook_failures: counter(
                "fraud_alert_webhook_failures_total",
                "Alerts the webhook did not get: rejected after every retry, queue full, or shutdown",
            ),
            alert_webhook_dead_letters: counter_vec(
                "fraud_alert_webhook_dead_letters_total",
                "Alerts dead-lettered instead of delivered, by reason: queue_full, rejected, shutdown",
                "reason",
            ),
            decision_queue_depth: IntGauge::new(
                "fraud_decision_queue_depth",
                "POST /score transactions waiting for the decision queue",
            )
            .expect("valid metric definition"),
            decision_batch_size: Histogram::with_opts(
                HistogramOpts::new(
                    "fraud_decision_batch_size",
                    "Transactions per batch published by the decision queue",
                )
                .buckets(vec![
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
                ]),
            )
            .expect("valid metric definition"),
            decision_stage_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "fraud_decision_stage_seconds",
                    "Time in each stage of a decision: queue, pipeline, answer (per POST /score \
                     transaction); features, model, commit (per batch of the decision stage)",
                )
                .buckets(vec![
                    1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1,
                    0.5,
                ]),
                &["stage"],
            )
            .expect("valid metric definition"),
            alert_webhook_queue: IntGauge::new(
                "fraud_alert_webhook_queue_depth",
                "Alerts waiting for a webhook sender",
            )
            .expect("valid metric definition"),
            feature_state_bytes: IntGauge::new(
                "fraud_feature_state_bytes",
                "Approximate size of the whole online feature state",
            )
            .expect("valid metric definition"),
            feature_state_part_bytes: IntGaugeVec::new(
                Opts::new(
                    "fraud_feature_state_part_bytes",
                    "Approximate size of each part of the online feature state",
                ),
                &["part"],
            )
            .expect("valid metric definition"),
            model_version: IntGauge::new(
                "fraud_model_version",
                "Version of the production model (0 when none)",
            )
            .expect("valid metric definition"),
            model_trained_timestamp: Gauge::new(
                "fraud_model_trained_timestamp_seconds",
                "When the served model was trained, Unix seconds (0 when none is served)",
            )
            .expect("valid metric definition"),
            model_trainings: counter_vec(
                "fraud_model_trainings_total",
                "Trainings by outcome: promoted, candidate, skipped or failed",
                "outcome",
            ),
            model_training_seconds: Gauge::new(
                "fraud_model_training_seconds",
                "Duration of the last training",
            )
            .expect("valid metric definition"),
            drift_detected: IntGauge::new(
                "fraud_drift_detected",
                "1 when the last drift check found dataset drift",
            )
            .expect("valid metric definition"),
            drift_share: Gauge::new(
                "fraud_drift_share",
                "Share of monitored features that drifted in the last check",
            )
            .expect("valid metric definition"),
            drift_features_drifted: IntGauge::new(
                "fraud_drift_features_drifted",
                "Monitored features that drifted in the last drift check",
            )
            .expect("valid metric definition"),
            drift_feature_score: feature_gauge(
                "fraud_drift_feature_score",
                "Drift score of each monitored feature in the last check",
            ),
            drift_reference_mean: feature_gauge(
                "fraud_drift_reference_mean",
                "Mean of each numeric feature in the last check's reference window",
            ),
            drift_current_mean: feature_gauge(
                "fraud_drift_current_mean",
                "Mean of each numeric feature in the last check's current window",
            ),
            drift_check_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "fraud_drift_check_duration_seconds",
                    "Duration of a drift check, reading the windows included",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
            )
            .expect("valid metric definition"),
            dead_letters: counter_vec(
                "fraud_dead_letters_total",
                "Messages written to dead_letters",
                "actor",
            ),
            actor_restarts: counter_vec(
                "fraud_actor_restarts_total",
                "Restarts of supervised actors",
                "actor",
            ),
            actor_mailbox_depth: IntGaugeVec::new(
                Opts::new(
                    "fraud_actor_mailbox_depth",
                    "Messages waiting in an actor's mailbox",
                ),
                &["actor"],
            )
            .expect("valid metric definition"),
            consumer_lag: IntGaugeVec::new(
                Opts::new(
                    "fraud_consumer_lag",
                    "Kafka messages not yet committed, per consumer group and partition",
                ),
                &["group", "topic", "partition"],
            )
            .expect("valid metric definition"),
            registry,
        };
        metrics.register_all();
        metrics.initialize_labels();
        metrics
    }

    /// Creates the series of every known label value at zero. A series
    /// that appears only with its first increment hides that increment
    /// from `rate()` and `increase()`, and a ratio such as the block rate
    /// would be empty rather than 0 until the first BLOCK.
    fn initialize_labels(&self) {
        for decision in vigil_core::model::Decision::ALL {
            self.model_predictions
                .with_label_values(&[decision.as_str()]);
        }
        for outcome in TRAINING_OUTCOMES {
            self.model_trainings.with_label_values(&[outcome]);
        }
        for reason in WEBHOOK_DEAD_LETTER_REASONS {
            self.alert_webhook_dead_letters.with_label_values(&[reason]);
        }
        for stage in DECISION_STAGES {
            self.decision_stage_seconds.with_label_values(&[stage]);
        }
    }

    fn register_all(&self) {
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(self.transactions_produced.clone()),
            Box::new(self.producer_errors.clone()),
            Box::new(self.labels_produced.clone()),
            Box::new(self.stream_consumer_messages.clone()),
            Box::new(self.labels_stored.clone()),
            Box::new(self.feature_consumer_messages.clone()),
            Box::new(self.feature_latency.clone()),
            Box::new(self.feature_state_bytes.clone()),
            Box::new(self.feature_state_part_bytes.clone()),
            Box::new(self.features_unscored.clone()),
            Box::new(self.scoring_requests.clone()),
            Box::new(self.scoring_latency.clone()),
            Box::new(self.model_predictions.clone()),
            Box::new(self.decision_queue_depth.clone()),
            Box::new(self.decision_batch_size.clone()),
            Box::new(self.decision_stage_seconds.clone()),
            Box::new(self.alerts_created.clone()),
            Box::new(self.alert_webhook_failures.clone()),
            Box::new(self.alert_webhook_dead_letters.clone()),
            Box::new(self.alert_webhook_queue.clone()),
            Box::new(self.model_version.clone()),
            Box::new(self.model_trained_timestamp.clone()),
            Box::new(self.model_trainings.clone()),
            Box::new(self.model_training_seconds.clone()),
            Box::new(self.drift_detected.clone()),
            Box::new(self.drift_share.clone()),
            Box::new(self.drift_features_drifted.clone()),
            Box::new(self.drift_feature_score.clone()),
            Box::new(self.drift_reference_mean.clone()),
            Box::new(self.drift_current_mean.clone()),
            Box::new(self.drift_check_duration.clone()),
            Box::new(self.dead_letters.clone()),
            Box::new(self.actor_restarts.clone()),
            Box::new(self.actor_mailbox_depth.clone()),
            Box::new(self.consumer_lag.clone()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        for collector in collectors {
            self.registry
                .register(collector)
                .expect("metric names are unique");
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding into memory cannot fail");
        String::from_utf8(buffer).expect("prometheus text is utf-8")
    }
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("valid metric definition")
}

fn feature_gauge(name: &str, help: &str) -> GaugeVec {
    GaugeVec::new(Opts::new(name, help), &["feature"]).expect("valid metric definition")
}

fn counter_vec(name: &str, help: &str, label: &str) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric definition")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_names() {
        let metrics = Metrics::new();
        metrics.transactions_produced.inc_by(3);
        metrics
            .actor_restarts
            .with_label_values(&["producer"])
            .inc();
        metrics
            .actor_mailbox_depth
            .with_label_values(&["raw_store"])
            .set(2);
        let text = metrics.render();
        assert!(
            text.contains("fraud_transactions_produced_total 3"),
            "{text}"
        );
        assert!(text.contains("fraud_actor_restarts_total{actor=\"producer\"} 1"));
        assert!(text.contains("fraud_actor_mailbox_depth{actor=\"raw_store\"} 2"));
        assert!(text.contains("fraud_producer_errors_total 0"));
        assert!(text.contains("fraud_stream_consumer_messages_total 0"));
    }

    #[test]
    fn labelled_counters_exist_at_zero_before_their_first_event() {
        let text = Metrics::new().render();
        for decision in ["APPROVE", "REVIEW", "BLOCK"] {
            let series = format!("fraud_model_predictions{{decision=\"{decision}\"}} 0");
            assert!(text.contains(&series), "{series} missing:\n{text}");
        }
        for outcome in TRAINING_OUTCOMES {
            let series = format!("fraud_model_trainings_total{{outcome=\"{outcome}\"}} 0");
            assert!(text.contains(&series), "{series} missing:\n{text}");
        }
        assert!(text.contains("fraud_model_trained_timestamp_seconds 0"));
    }
}

//! Prometheus metrics of the runtime. Names are part of the interface:
//! the Grafana dashboards and alert rules rely on them.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

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
    /// fraud_features_unscored_total: feature vectors that arrived while no model was loaded
    pub features_unscored: IntCounter,
    /// fraud_dead_letters_total{actor}
    pub dead_letters: IntCounterVec,
    /// fraud_actor_restarts_total{actor}
    pub actor_restarts: IntCounterVec,
    /// fraud_actor_mailbox_depth{actor}
    pub actor_mailbox_depth: IntGaugeVec,
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
            registry,
        };
        metrics.register_all();
        metrics
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
            Box::new(self.features_unscored.clone()),
            Box::new(self.dead_letters.clone()),
            Box::new(self.actor_restarts.clone()),
            Box::new(self.actor_mailbox_depth.clone()),
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
}

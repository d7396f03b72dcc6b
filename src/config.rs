//! Configuration: defaults < `vigil.toml` < `VIGIL_*` environment < CLI
//! flags. Every key has a fixed environment name: `section.key` is
//! `VIGIL_SECTION_KEY`, a top-level `key` is `VIGIL_KEY`. Unknown keys and
//! bad values stop start-up with a message naming them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use vigil_actors::decisions::DecisionSettings;
use vigil_core::drift::StatTest;
use vigil_core::drift::check::DriftSettings;
use vigil_core::synth::Activity;

/// MLflow's own variable, honoured when `mlflow.tracking_uri` is not set.
const MLFLOW_ENV: &str = "MLFLOW_TRACKING_URI";

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_FILE: &str = "vigil.toml";

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("invalid configuration: `{key}` {message}")]
    Invalid { key: &'static str, message: String },
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite file (`vigil.db`) and artifacts live.
    pub data_dir: PathBuf,
    /// Seed of the synthetic generator.
    pub seed: u64,
    /// Bearer token required by admin endpoints when set (key id
    /// `default` in the audit trail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// More bearer tokens by key id (`[api_keys] ops = "…"`, or
    /// `VIGIL_API_KEYS='{ops="…",ci="…"}'`); the id is what the audit
    /// trail records.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub api_keys: BTreeMap<String, String>,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub kafka: KafkaConfig,
    pub producer: ProducerConfig,
    pub backfill: BackfillConfig,
    pub features: FeaturesConfig,
    pub supervisor: SupervisorConfig,
    pub model: ModelConfig,
    pub alerts: AlertsConfig,
    pub mlflow: MlflowConfig,
    pub drift: DriftConfig,
    pub shutdown: ShutdownConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// How long a graceful stop (SIGTERM, SIGINT) may take to finish what
    /// is in flight; past it, Vigil exits non-zero and says what it left.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            timeout: Duration::from_secs(30),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line per event for people.
    #[default]
    Text,
    /// One JSON object per line, with the span fields (Loki, Elasticsearch).
    Json,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address.
    pub addr: SocketAddr,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Require an API key on every endpoint but `/health`, `/metrics`
    /// and the API docs (when a key is configured).
    pub protect_reads: bool,
    /// Most new transactions of `POST /score` published as one batch.
    pub score_batch_max: usize,
    /// Stored decisions kept in memory for `POST /score` by id (0: none).
    pub decision_cache: usize,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite://…`; SQLite in `data_dir` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Kafka bootstrap servers; the in-process bus when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brokers: Option<String>,
    /// Partitions of the topics Vigil creates (existing topics are kept).
    pub partitions: i32,
    /// Replication factor of the topics Vigil creates.
    pub replication: i32,
    /// Most messages a consumer hands to its actors at once.
    pub batch_size: usize,
    /// Topic of the transactions (its dead letters: `<topic>.dlq`).
    pub transactions_topic: String,
    /// Topic of the labels (its dead letters: `<topic>.dlq`).
    pub labels_topic: String,
    /// Consumer groups are `<prefix>-raw` and `<prefix>-features`: two
    /// deployments sharing a cluster need different prefixes and topics.
    pub group_prefix: String,
    /// A member whose heartbeats stop for this long loses its partitions.
    #[serde(with = "humantime_serde")]
    pub session_timeout: Duration,
    /// Static group membership: a process restarted under the same id
    /// takes its partitions back without a rebalance. Unique per process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        let defaults = vigil_actors::bus::kafka::KafkaSettings::new("");
        KafkaConfig {
            brokers: None,
            partitions: defaults.partitions,
            replication: defaults.replication,
            batch_size: defaults.batch_size,
            transactions_topic: defaults.topics.transactions,
            labels_topic: defaults.topics.labels,
            group_prefix: defaults.group_prefix,
            session_timeout: defaults.session_timeout,
            instance_id: defaults.instance_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProducerConfig {
    /// Transactions per second of the simulated world, its history and its
    /// live stream alike: the population (`users`, `merchants`) is scaled
    /// to it, each cardholder keeping their own pace. Unset: the natural
    /// rate of `users` cardholders. 0 = no live transactions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Simulated card holders at the natural rate.
    pub users: usize,
    /// Simulated merchants at the natural rate.
    pub merchants: usize,
    /// Whether `rate` scales the population (the default). `false` keeps
    /// `users` and `merchants` and drives them at `rate` after a history at
    /// their natural rate: every card then shops faster than it did, which
    /// is what load and crash tests want and what a model flags.
    pub scale_population: bool,
    /// How the live stream spreads over the day: `daily` follows the
    /// cardholders' hours and `rate` is its mean over a week (the
    /// default); `flat` streams `rate` at every hour, so that a benchmark
    /// started at night is fed what it asks for. The history always
    /// follows the day.
    pub activity: Activity,
    /// Target share of fraudulent transactions.
    pub fraud_rate: f64,
    /// How long after a fraud its chargeback label arrives.
    #[serde(with = "humantime_serde")]
    pub label_delay: Duration,
    /// Transactions per published batch.
    pub batch_size: usize,
    /// How often the live producer wakes up.
    #[serde(with = "humantime_serde")]
    pub tick: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackfillConfig {
    /// Days of simulated history generated into an empty store (0 = none).
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// Labels are assumed known this long after a transaction; merchant
    /// fraud rates look only at transactions older than that.
    #[serde(with = "humantime_serde")]
    pub label_delay: Duration,
    /// How late an event may arrive and still be added to the feature state.
    #[serde(with = "humantime_serde")]
    pub allowed_lateness: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisorConfig {
    /// Restarts within `restart_window` after which an actor is failed.
    pub max_restarts: usize,
    #[serde(with = "humantime_serde")]
    pub restart_window: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Messages an actor's mailbox holds before senders wait.
    pub mailbox_capacity: usize,
    /// An actor with work pending and no progress this long is reported
    /// stalled, and restarted after as long again.
    #[serde(with = "humantime_serde")]
    pub stall_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Cron expression with seconds for scheduled retraining ("" = off).
    pub retrain_schedule: String,
    /// Train after start-up (and any backfill) when no model is in production.
    pub train_on_start: bool,
    /// Probability from which a transaction is sent to REVIEW.
    pub review_threshold: f64,
    /// Probability above which a transaction is blocked.
    pub block_threshold: f64,
    /// Quality gate: minimum PR-AUC on the test window.
    pub min_pr_auc: f64,
    /// Quality gate: minimum recall at the review threshold.
    pub min_recall: f64,
    /// Boosting rounds (trees).
    pub iterations: usize,
    pub learning_rate: f32,
    pub max_depth: usize,
    /// Isolation Forest trees.
    pub iforest_trees: usize,
    /// Share of the labelled span held out for testing.
    pub test_fraction: f64,
    /// k of Card Precision@k.
    pub card_k: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// URL each new REVIEW / BLOCK alert is POSTed to (unset = none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Delivery attempts per alert.
    pub webhook_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub webhook_timeout: Duration,
    /// Alerts waiting for delivery at most; more are dead-lettered.
    pub webhook_queue: usize,
    /// Alerts delivered at the same time.
    pub webhook_concurrency: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MlflowConfig {
    /// MLflow tracking server; falls back to `MLFLOW_TRACKING_URI`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftConfig {
    /// Cron expression with seconds for drift checks ("" = off).
    pub schedule: String,
    /// Rows of the reference window (at most): the production model's
    /// training window at the current window's times of the day, sampled
    /// evenly.
    pub reference_rows: u64,
    /// Rows of the current window (at most): the newest, none older than a day.
    pub current_rows: u64,
    /// Fewer rows than this in a window: no verdict.
    pub min_rows: u64,
    /// Test for numeric features: wasserstein, ks, psi, jensenshannon, chisquare.
    pub numeric_test: StatTest,
    /// Test for categorical features: psi, jensenshannon, chisquare.
    pub categorical_test: StatTest,
    /// Dataset drift when this share of features drifted.
    pub share_threshold: f64,
    /// Retrain when dataset drift is detected.
    pub retrain_on_drift: bool,
    /// At most one drift-triggered retraining per this period.
    #[serde(with = "humantime_serde")]
    pub retrain_cooldown: Duration,
}

impl Default for DriftConfig {
    /// The drift checker's own defaults, and a check every five minutes.
    fn default() -> Self {
        let d = DriftSettings::default();
        DriftConfig {
            schedule: "0 */5 * * * *".into(),
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
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            retrain_schedule: "0 0 3 * * *".into(),
            train_on_start: true,
            review_threshold: 0.3,
            block_threshold: 0.7,
            min_pr_auc: 0.15,
            min_recall: 0.30,
            iterations: 100,
            learning_rate: 0.1,
            max_depth: 6,
            iforest_trees: 100,
            test_fraction: 0.25,
            card_k: 20,
        }
    }
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook_url: None,
            webhook_attempts: 3,
            webhook_timeout: Duration::from_secs(5),
            webhook_queue: 1000,
            webhook_concurrency: 4,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            seed: 42,
            api_key: None,
            api_keys: BTreeMap::new(),
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            kafka: KafkaConfig::default(),
            producer: ProducerConfig::default(),
            backfill: BackfillConfig::default(),
            features: FeaturesConfig::default(),
            supervisor: SupervisorConfig::default(),
            model: ModelConfig::default(),
            alerts: AlertsConfig::default(),
            mlflow: MlflowConfig::default(),
            drift: DriftConfig::default(),
            shutdown: ShutdownConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            max_body_bytes: 64 * 1024,
            protect_reads: false,
            score_batch_max: DecisionSettings::default().max_batch,
            decision_cache: DecisionSettings::default().cache_capacity,
        }
    }
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            rate: None,
            users: 2000,
            merchants: 500,
            scale_population: true,
            activity: Activity::Daily,
            fraud_rate: 0.01,
            label_delay: Duration::from_secs(7 * 24 * 3600),
            batch_size: 500,
            tick: Duration::from_millis(100),
        }
    }
}

impl Default for BackfillConfig {
    fn default() -> Self {
        BackfillConfig { days: 30 }
    }
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        FeaturesConfig {
            label_delay: Duration::from_secs(7 * 24 * 3600),
            allowed_lateness: Duration::from_secs(10 * 60),
        }
    }
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            max_restarts: 5,
            restart_window: Duration::from_secs(60),
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            mailbox_capacity: 16,
            stall_timeout: vigil_actors::health::DEFAULT_STALL_TIMEOUT,
        }
    }
}

/// The sections of the configuration file: the tables of [`Config`], read
/// from its serialized defaults so that a new section needs no list. An
/// environment variable whose name starts with one of them (plus `_`) sets
/// a key of that section.
fn sections() -> &'static [String] {
    static SECTIONS: LazyLock<Vec<String>> =
        LazyLock::new(|| match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(keys)) => keys
                .into_iter()
                .filter(|(_, value)| value.is_object())
                .map(|(key, _)| key)
                .collect(),
            _ => Vec::new(),
        });
    &SECTIONS
}

/// Maps `VIGIL_PRODUCER_RATE` (already stripped and lowercased to
/// `producer_rate`) to the key path `producer.rate`.
fn env_key_path(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    for section in sections() {
        if let Some(rest) = key.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
            return format!("{section}.{rest}");
        }
    }
    key
}

/// figment's errors, each naming its key as the file writes it
/// (`model.iterations`, whichever layer set it) and where the value came
/// from.
fn parse_error(error: figment::Error) -> ConfigError {
    let messages: Vec<String> = error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".").to_ascii_lowercase();
            let from = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{from}", e.kind)
            } else {
                format!("`{key}`: {}{from}", e.kind)
            }
        })
        .collect();
    ConfigError::Parse(messages.join("; "))
}

/// The most card holders a rate may scale the population to: beyond, the
/// world alone would take gigabytes and its backfill hours.
const MAX_SCALED_USERS: usize = 2_000_000;

impl Config {
    /// Card holders the configured rate scales the population to, when it does.
    fn scaled_users(&self) -> Option<usize> {
        let p = &self.producer;
        (p.scale_population && p.rate.is_some()).then(|| crate::world::scaled(p, self.seed).users)
    }

    /// Loads the layered configuration. `file` is an explicit `--config`;
    /// without it `vigil.toml` is read if present. `overrides` holds the
    /// CLI flags, already shaped like the file (see `cli.rs`).
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_FILE).exists() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_FILE));
            }
            None => {}
        }
        let env = Env::prefixed("VIGIL_")
            .ignore(&["config"])
            .map(|key| env_key_path(key.as_str()).into());
        let mut config: Config = figment
            .merge(env)
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(parse_error)?;
        if config.mlflow.tracking_uri.is_none() {
            config.mlflow.tracking_uri = std::env::var(MLFLOW_ENV).ok().filter(|v| !v.is_empty());
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_owned(),
        };
        let p = &self.producer;
        if p.rate.is_some_and(|r| !r.is_finite() || r < 0.0) {
            return Err(invalid("producer.rate", "must be a finite number ≥ 0"));
        }
        if !(0.0..=0.5).contains(&p.fraud_rate) {
            return Err(invalid("producer.fraud_rate", "must be between 0 and 0.5"));
        }
        if p.users == 0 {
            return Err(invalid("producer.users", "must be at least 1"));
        }
        if p.merchants == 0 {
            return Err(invalid("producer.merchants", "must be at least 1"));
        }
        if let Some(holders) = self.scaled_users().filter(|n| *n > MAX_SCALED_USERS) {
            return Err(invalid(
                "producer.rate",
                &format!(
                    "would simulate {holders} card holders (at most {MAX_SCALED_USERS}): lower it, \
                     or keep the population (`scale_population = false`) for a load test"
                ),
            ));
        }
        if p.batch_size == 0 {
            return Err(invalid("producer.batch_size", "must be at least 1"));
        }
        if p.tick.is_zero() {
            return Err(invalid("producer.tick", "must be longer than 0"));
        }
        let s = &self.supervisor;
        if s.max_restarts == 0 {
            return Err(invalid("supervisor.max_restarts", "must be at least 1"));
        }
        if s.mailbox_capacity == 0 {
            return Err(invalid("supervisor.mailbox_capacity", "must be at least 1"));
        }
        if s.backoff_initial > s.backoff_max {
            return Err(invalid(
                "supervisor.backoff_initial",
                "must not exceed supervisor.backoff_max",
            ));
        }
        if s.stall_timeout < Duration::from_millis(100) {
            return Err(invalid(
                "supervisor.stall_timeout",
                "must be at least 100ms",
            ));
        }
        if self.shutdown.timeout.is_zero() {
            return Err(invalid("shutdown.timeout", "must be longer than 0"));
        }
        if self.http.score_batch_max == 0 {
            return Err(invalid("http.score_batch_max", "must be at least 1"));
        }
        if self.http.max_body_bytes == 0 {
            return Err(invalid("http.max_body_bytes", "must be at least 1"));
        }
        if self.api_key.as_deref() == Some("") || self.api_keys.values().any(String::is_empty) {
            return Err(invalid("api_keys", "an API key must not be empty"));
        }
        if let Some(url) = &self.database.url
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
        {
            return Err(invalid(
                "database.url",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }
        self.validate_model()?;
        self.validate_drift()?;
        if let Some(url) = &self.alerts.webhook_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid(
                "alerts.webhook_url",
                "must start with http:// or https://",
            ));
        }
        if self.alerts.webhook_attempts == 0 {
            return Err(invalid("alerts.webhook_attempts", "must be at least 1"));
        }
        if self.alerts.webhook_queue == 0 {
            return Err(invalid("alerts.webhook_queue", "must be at least 1"));
        }
        if self.alerts.webhook_concurrency == 0 {
            return Err(invalid("alerts.webhook_concurrency", "must be at least 1"));
        }
        self.validate_kafka()
    }

    fn validate_kafka(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_owned(),
        };
        let k = &self.kafka;
        if k.brokers.as_deref().is_some_and(|b| b.trim().is_empty()) {
            return Err(invalid(
                "kafka.brokers",
                "is empty; unset it to use the in-process bus",
            ));
        }
        if k.partitions < 1 {
            return Err(invalid("kafka.partitions", "must be at least 1"));
        }
        if k.replication < 1 {
            return Err(invalid("kafka.replication", "must be at least 1"));
        }
        if k.batch_size == 0 {
            return Err(invalid("kafka.batch_size", "must be at least 1"));
        }
        for (key, name) in [
            ("kafka.transactions_topic", &k.transactions_topic),
            ("kafka.labels_topic", &k.labels_topic),
            ("kafka.group_prefix", &k.group_prefix),
        ] {
            if name.trim().is_empty() {
                return Err(invalid(key, "must not be empty"));
            }
        }
        if k.instance_id
            .as_deref()
            .is_some_and(|id| id.trim().is_empty())
        {
            return Err(invalid(
                "kafka.instance_id",
                "is empty; unset it for dynamic group membership",
            ));
        }
        // The bounds of Kafka's group.min/max.session.timeout.ms defaults.
        if !(Duration::from_secs(6)..=Duration::from_secs(300)).contains(&k.session_timeout) {
            return Err(invalid(
                "kafka.session_timeout",
                "must be between 6s and 5m (the broker's usual bounds)",
            ));
        }
        if k.transactions_topic == k.labels_topic {
            return Err(invalid(
                "kafka.labels_topic",
                "must differ from kafka.transactions_topic",
            ));
        }
        Ok(())
    }

    fn validate_model(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| ConfigError::Invalid { key, message };
        let m = &self.model;
        for (key, value) in [
            ("model.review_threshold", m.review_threshold),
            ("model.block_threshold", m.block_threshold),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(invalid(key, "must be between 0 and 1".into()));
            }
        }
        let thresholds = vigil_core::model::Thresholds {
            review: m.review_threshold,
            block: m.block_threshold,
        };
        // Each is valid alone: what is left is their order.
        thresholds
            .validate()
            .map_err(|e| invalid("model.block_threshold", e))?;
        if !m.retrain_schedule.is_empty() {
            vigil_actors::schedule::validate_cron(&m.retrain_schedule)
                .map_err(|e| invalid("model.retrain_schedule", e))?;
        }
        if !(0.05..=0.5).contains(&m.test_fraction) {
            return Err(invalid(
                "model.test_fraction",
                "must be between 0.05 and 0.5".into(),
            ));
        }
        for (key, value) in [
            ("model.iterations", m.iterations),
            ("model.max_depth", m.max_depth),
            ("model.iforest_trees", m.iforest_trees),
            ("model.card_k", m.card_k),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        if !(m.learning_rate > 0.0 && m.learning_rate <= 1.0) {
            return Err(invalid("model.learning_rate", "must be in (0, 1]".into()));
        }
        Ok(())
    }

    fn validate_drift(&self) -> Result<(), ConfigError> {
        use vigil_core::drift::FeatureKind;
        let invalid = |key, message: String| ConfigError::Invalid { key, message };
        let d = &self.drift;
        if !d.schedule.is_empty() {
            vigil_actors::schedule::validate_cron(&d.schedule)
                .map_err(|e| invalid("drift.schedule", e))?;
        }
        // Unknown test names are refused when the file is read (serde
        // names the key and the accepted values).
        let categorical = d.categorical_test;
        debug_assert!(d.numeric_test.applies_to(FeatureKind::Numeric));
        if !categorical.applies_to(FeatureKind::Categorical) {
            return Err(invalid(
                "drift.categorical_test",
                format!("{categorical} does not apply to categorical features"),
            ));
        }
        for (key, value) in [
            ("drift.reference_rows", d.reference_rows),
            ("drift.current_rows", d.current_rows),
            ("drift.min_rows", d.min_rows),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        if !(d.share_threshold > 0.0 && d.share_threshold <= 1.0) {
            return Err(invalid("drift.share_threshold", "must be in (0, 1]".into()));
        }
        Ok(())
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| vigil_actors::store::sqlite_url(&self.data_dir))
    }

    /// The configuration as TOML, secrets masked, for `vigil config`.
    pub fn to_display_toml(&self) -> String {
        let mut shown = self.clone();
        if shown.api_key.is_some() {
            shown.api_key = Some("***".to_owned());
        }
        for key in shown.api_keys.values_mut() {
            *key = "***".to_owned();
        }
        shown.database.url = Some(vigil_actors::store::redact(&self.database_url()));
        toml::to_string(&shown).unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}

#[cfg(test)]
// figment's `Jail` closures return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn the_sections_are_the_tables_of_the_configuration() {
        let sections = sections();
        for section in [
            "http", "database", "kafka", "producer", "drift", "shutdown", "log",
        ] {
            assert!(
                sections.iter().any(|s| s == section),
                "{section}: {sections:?}"
            );
        }
        for scalar in ["data_dir", "seed", "api_key", "api_keys"] {
            assert!(
                !sections.iter().any(|s| s == scalar),
                "{scalar}: {sections:?}"
            );
        }
        assert_eq!(sections.len(), 13, "{sections:?}");
    }

    #[test]
    fn environment_names_map_to_sections() {
        assert_eq!(env_key_path("http_addr"), "http.addr");
        assert_eq!(env_key_path("database_url"), "database.url");
        assert_eq!(env_key_path("kafka_brokers"), "kafka.brokers");
        assert_eq!(env_key_path("producer_rate"), "producer.rate");
        assert_eq!(env_key_path("backfill_days"), "backfill.days");
        assert_eq!(env_key_path("data_dir"), "data_dir");
        assert_eq!(env_key_path("seed"), "seed");
        assert_eq!(env_key_path("api_key"), "api_key");
        assert_eq!(env_key_path("PRODUCER_RATE"), "producer.rate");
    }

    #[test]
    fn layers_apply_in_order_and_unknown_keys_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("vigil.toml", "seed = 7\n[producer]\nrate = 3.5\n")?;
            let config = Config::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(config.seed, 7);
            assert_eq!(config.producer.rate, Some(3.5));

            jail.set_env("VIGIL_PRODUCER_RATE", "4");
            jail.set_env("VIGIL_HTTP_ADDR", "127.0.0.1:9000");
            let config = Config::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(config.producer.rate, Some(4.0));
            assert_eq!(config.http.addr.port(), 9000);

            let cli = serde_json::json!({"producer": {"rate": 5.0}});
            let config = Config::load(None, cli).expect("loads");
            assert_eq!(config.producer.rate, Some(5.0));

            jail.create_file("bad.toml", "[producer]\nspeed = 1\n")?;
            let err = Config::load(Some(Path::new("bad.toml")), serde_json::json!({})).unwrap_err();
            assert!(err.to_string().contains("speed"), "{err}");

            jail.set_env("VIGIL_BOGUS", "1");
            let err = Config::load(None, serde_json::json!({})).unwrap_err();
            assert!(err.to_string().contains("bogus"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_their_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("vigil.toml", "[producer]\nrate = -1\n")?;
            let err = Config::load(None, serde_json::json!({})).unwrap_err();
            assert!(err.to_string().contains("producer.rate"), "{err}");
            jail.create_file("vigil.toml", "[http]\naddr = \"nowhere\"\n")?;
            let err = Config::load(None, serde_json::json!({})).unwrap_err();
            assert!(err.to_string().contains("addr"), "{err}");
            jail.create_file("vigil.toml", "[supervisor]\nrestart_window = \"soon\"\n")?;
            let err = Config::load(None, serde_json::json!({})).unwrap_err();
            assert!(err.to_string().contains("restart_window"), "{err}");
            jail.create_file("vigil.toml", "[kafka]\nsession_timeout = \"1s\"\n")?;
            let err = Config::load(None, serde_json::json!({})).unwrap_err();
            assert!(err.to_string().contains("kafka.session_timeout"), "{err}");
            Ok(())
        });
    }

    /// Each bad value names its own key, set through the environment as an
    /// operator would.
    #[test]
    fn each_bad_value_names_its_own_key() {
        let cases = [
            ("VIGIL_MODEL_IFOREST_TREES", "0", "model.iforest_trees"),
            ("VIGIL_MODEL_ITERATIONS", "0", "model.iterations"),
            ("VIGIL_MODEL_MAX_DEPTH", "0", "model.max_depth"),
            ("VIGIL_MODEL_CARD_K", "0", "model.card_k"),
            ("VIGIL_MODEL_ITERATIONS", "many", "model.iterations"),
            (
                "VIGIL_MODEL_REVIEW_THRESHOLD",
                "1.5",
                "model.review_threshold",
            ),
            (
                "VIGIL_MODEL_BLOCK_THRESHOLD",
                "0.2",
                "model.block_threshold",
            ),
            ("VIGIL_MODEL_LEARNING_RATE", "0", "model.learning_rate"),
            ("VIGIL_DRIFT_REFERENCE_ROWS", "0", "drift.reference_rows"),
            ("VIGIL_DRIFT_CURRENT_ROWS", "0", "drift.current_rows"),
            ("VIGIL_DRIFT_MIN_ROWS", "0", "drift.min_rows"),
            ("VIGIL_SHUTDOWN_TIMEOUT", "0s", "shutdown.timeout"),
            (
                "VIGIL_SUPERVISOR_STALL_TIMEOUT",
                "1ms",
                "supervisor.stall_timeout",
            ),
            ("VIGIL_ALERTS_WEBHOOK_QUEUE", "0", "alerts.webhook_queue"),
            (
                "VIGIL_ALERTS_WEBHOOK_CONCURRENCY",
                "0",
                "alerts.webhook_concurrency",
            ),
            ("VIGIL_LOG_FORMAT", "xml", "log.format"),
            ("VIGIL_PRODUCER_USERS", "0", "producer.users"),
            ("VIGIL_PRODUCER_RATE", "-2", "producer.rate"),
            // 1,000/s would take some thirty million card holders.
            ("VIGIL_PRODUCER_RATE", "1000", "producer.rate"),
            (
                "VIGIL_PRODUCER_SCALE_POPULATION",
                "maybe",
                "producer.scale_population",
            ),
        ];
        for (variable, value, key) in cases {
            figment::Jail::expect_with(|jail| {
                jail.set_env(variable, value);
                let err = Config::load(None, serde_json::json!({})).unwrap_err();
                let message = err.to_string();
                assert!(message.contains(key), "{variable}={value}: {message}");
                // No other key of the section is blamed.
                let section = key.split('.').next().unwrap();
                let blamed: Vec<&str> = message
                    .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '_'))
                    .filter(|word| word.starts_with(&format!("{section}.")) && *word != key)
                    .collect();
                assert!(blamed.is_empty(), "{variable}={value}: {message}");
                Ok(())
            });
        }
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let err = Config::load(
            Some(Path::new("/nonexistent/vigil.toml")),
            serde_json::json!({}),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile(_)));
    }

    #[test]
    fn display_masks_secrets() {
        let config = Config {
            api_key: Some("secret".into()),
            api_keys: BTreeMap::from([("ops".into(), "hidden".into())]),
            database: DatabaseConfig {
                url: Some("postgres://u:pw@h/db".into()),
            },
            ..Config::default()
        };
        let shown = config.to_display_toml();
        assert!(
            !shown.contains("secret") && !shown.contains("pw@") && !shown.contains("hidden"),
            "{shown}"
        );
        assert!(shown.contains("[producer]") && shown.contains("ops"));
    }

    #[test]
    fn named_api_keys_come_from_the_file_or_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("vigil.toml", "[api_keys]\nops = \"k1\"\n")?;
            let config = Config::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(config.api_keys["ops"], "k1");
            jail.set_env("VIGIL_API_KEYS", r#"{ci="k2",ops="k3"}"#);
            let config = Config::load(None, serde_json::json!({})).expect("loads");
            assert_eq!(config.api_keys["ci"], "k2");
            assert_eq!(config.api_keys["ops"], "k3");
            jail.set_env("VIGIL_API_KEYS", r#"{ops=""}"#);
            let err = Config::load(None, serde_json::json!({})).unwrap_err();
            assert!(err.to_string().contains("api_keys"), "{err}");
            Ok(())
        });
    }
}

//! Data messages: what happened in the world.

use actix::Message;
use serde::Serialize;
use vigil_core::features::FeatureVector;
use vigil_core::model::Decision;
use vigil_core::model::explain::RiskFactor;
use vigil_core::{Label, Transaction};

use crate::error::Undelivered;

/// Where a transaction entered Vigil (kept in `raw_events.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    /// The synthetic producer.
    Producer,
    /// `POST /score` with a full transaction.
    Api,
    /// `vigil replay` of an external file.
    Replay,
    /// Consumed from Kafka.
    Kafka,
    /// Stored before a crash, featurized at the next start-up.
    Recovery,
}

impl EventSource {
    /// The name stored in `raw_events.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Producer => "producer",
            EventSource::Api => "api",
            EventSource::Replay => "replay",
            EventSource::Kafka => "kafka",
            EventSource::Recovery => "recovery",
        }
    }
}

/// Transactions in event-time order, batched so that stores write them in
/// one round trip. The reply is how many were new (not duplicates).
#[derive(Debug, Clone, Serialize, Message)]
#[rtype(result = "Result<u64, Undelivered>")]
pub struct TransactionBatch {
    pub source: EventSource,
    pub transactions: Vec<Transaction>,
    /// The ids the transactions had in a replayed file, in the same order;
    /// empty when they came with Vigil's own UUIDs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub original_ids: Vec<String>,
}

/// Labels (chargebacks, analyst verdicts) as they become known. The reply
/// is how many were new.
#[derive(Debug, Clone, Serialize, Message)]
#[rtype(result = "Result<u64, Undelivered>")]
pub struct LabelBatch {
    pub labels: Vec<Label>,
}

/// Transactions with their feature vectors, in processing order. The reply
/// is their scores (empty while no model is in production).
#[derive(Debug, Clone, Serialize, Message)]
#[rtype(result = "Result<Vec<Scored>, Undelivered>")]
pub struct FeatureBatch {
    pub rows: Vec<(Transaction, FeatureVector)>,
}

/// A transaction's score and the decision taken on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub transaction_id: uuid::Uuid,
    pub user_id: String,
    pub fraud_probability: f64,
    pub anomaly_score: f64,
    pub decision: Decision,
    pub risk_factors: Vec<RiskFactor>,
    pub model_version: i32,
    /// Time spent computing the score (features excluded), milliseconds.
    pub latency_ms: f64,
    pub scored_at: chrono::DateTime<chrono::Utc>,
}

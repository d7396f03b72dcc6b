//! Commands and probes.

use std::time::Duration;

use actix::Message;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Undelivered;

/// Liveness probe: answered once the actor's worker exists and its mailbox
/// is moving.
#[derive(Debug, Clone, Copy, Serialize, Message)]
#[rtype(result = "Result<(), Undelivered>")]
pub struct Healthz;

/// Generate simulated history from `from` to `to` as fast as the store
/// takes it, then continue live from `to`.
#[derive(Debug, Clone, Copy, Serialize, Message)]
#[rtype(result = "Result<BackfillReport, Undelivered>")]
pub struct Backfill {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// What a backfill produced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BackfillReport {
    pub transactions: u64,
    pub labels: u64,
    pub elapsed: Duration,
}

/// Produce the live events that are due by now.
#[derive(Debug, Clone, Copy, Serialize, Message)]
#[rtype(result = "Result<u64, Undelivered>")]
pub struct Tick;

/// Serve this model from now on (sent on promotion).
#[derive(Clone, Message)]
#[rtype(result = "Result<(), Undelivered>")]
pub struct SwapModel {
    pub version: i32,
    pub model: std::sync::Arc<vigil_core::model::FraudModel>,
    /// When the version was registered: the model's age is watched.
    pub trained_at: DateTime<Utc>,
}

/// A dead letter records which version failed to load, not megabytes of
/// trees (the model is in the registry).
impl Serialize for SwapModel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("SwapModel", 1)?;
        s.serialize_field("version", &self.version)?;
        s.end()
    }
}

/// Train a model now, judge it, and promote it if it earns it.
#[derive(Debug, Clone, Serialize, Message)]
#[rtype(result = "Result<TrainingOutcome, Undelivered>")]
pub struct Retrain {
    /// Why: `schedule`, `startup`, `api`, `cli`.
    pub trigger: String,
}

/// What a training did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TrainingOutcome {
    /// A new version was registered (and maybe promoted).
    Trained {
        version: i32,
        promoted: bool,
        reason: String,
        /// As stored with the version (`GET /models`).
        #[schema(value_type = Object)]
        metrics: Box<vigil_core::model::VersionMetrics>,
        train_seconds: f64,
    },
    /// There was not enough labelled data; nothing was registered.
    Skipped { reason: String },
}

/// Make a registered version the production model, bypassing the gates
/// (an operator's decision).
#[derive(Debug, Clone, Serialize, Message)]
#[rtype(result = "Result<PromoteOutcome, Undelivered>")]
pub struct Promote {
    pub version: i32,
    pub reason: String,
}

/// Make a model the Retrainer just trained and registered production: it
/// passed the gates. Sent to the Promoter, so that automatic and manual
/// promotions are applied one at a time, in order.
#[derive(Clone, Message)]
#[rtype(result = "Result<(), Undelivered>")]
pub struct PromoteTrained {
    pub version: i32,
    pub reason: String,
    pub model: std::sync::Arc<vigil_core::model::FraudModel>,
    pub registered_at: DateTime<Utc>,
}

/// A dead letter records the version, not the model.
impl Serialize for PromoteTrained {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("PromoteTrained", 2)?;
        s.serialize_field("version", &self.version)?;
        s.serialize_field("reason", &self.reason)?;
        s.end()
    }
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PromoteOutcome {
    /// The version is production and served now.
    Promoted,
    /// There is no such version.
    NoSuchVersion,
    /// The stored model cannot be loaded (corrupt artifact): it was not
    /// promoted and the served model is unchanged.
    Unloadable(String),
}

/// Compare the newest transactions with the reference window now.
#[derive(Debug, Clone, Serialize, Message)]
#[rtype(result = "Result<crate::drift_checker::DriftCheck, Undelivered>")]
pub struct CheckDrift {
    /// Why: `schedule` or `api`.
    pub trigger: String,
}

/// After a Kafka rebalance: the partitions of the transactions topic this
/// process now owns. The Decider keeps state for their users only,
/// rebuilt from the store before any of their messages is processed. The
/// reply is how many users it now holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Message)]
#[rtype(result = "Result<u64, Undelivered>")]
pub struct OwnPartitions {
    pub partitions: std::collections::BTreeSet<i32>,
    /// Partitions of the topic (to recompute a user's partition).
    pub partition_count: i32,
}

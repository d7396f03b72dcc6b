//! `scores`: one row per (transaction, model version) scored.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One scoring of one transaction.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scores")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub score_id: Uuid,
    pub transaction_id: Uuid,
    pub fraud_probability: f64,
    pub anomaly_score: f64,
    /// APPROVE, REVIEW or BLOCK.
    pub decision: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub risk_factors: Json,
    pub model_version: i32,
    pub latency_ms: f64,
    pub scored_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

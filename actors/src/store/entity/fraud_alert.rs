//! `fraud_alerts`: REVIEW / BLOCK decisions and their investigation status.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One alert; at most one per transaction.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "fraud_alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub alert_id: Uuid,
    #[sea_orm(unique)]
    pub transaction_id: Uuid,
    pub user_id: String,
    pub decision: String,
    pub fraud_probability: f64,
    #[sea_orm(column_type = "JsonBinary")]
    pub risk_factors: Json,
    pub model_version: i32,
    /// open, confirmed or dismissed.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

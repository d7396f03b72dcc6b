//! `fraud_alerts`: REVIEW / BLOCK decisions and their investigation status.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One alert; at most one per transaction.
// Served by `GET /alerts` as the schema `FraudAlert`; the text and JSON
// columns hold what `Store::record_decisions` writes.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(table_name = "fraud_alerts")]
#[schema(as = FraudAlert)]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub alert_id: Uuid,
    #[sea_orm(unique)]
    pub transaction_id: Uuid,
    pub user_id: String,
    /// REVIEW or BLOCK.
    #[schema(schema_with = alert_decision)]
    pub decision: String,
    pub fraud_probability: f64,
    #[sea_orm(column_type = "JsonBinary")]
    #[schema(value_type = Vec<vigil_core::model::explain::RiskFactor>)]
    pub risk_factors: Json,
    pub model_version: i32,
    /// open, confirmed or dismissed.
    pub status: String,
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub created_at: DateTimeUtc,
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub updated_at: DateTimeUtc,
}

/// The decisions that open an alert (the column holds their names).
fn alert_decision() -> utoipa::openapi::Object {
    use utoipa::openapi::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["REVIEW", "BLOCK"]))
        .build()
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

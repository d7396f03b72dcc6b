//! `drift_reports`: one row per drift check.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// The summary of one drift check; per-feature results in `details`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "drift_reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub report_id: Uuid,
    pub checked_at: DateTimeUtc,
    /// ok or insufficient_data.
    pub status: String,
    pub dataset_drift: bool,
    pub drift_share: f64,
    pub num_features_checked: i32,
    pub num_features_drifted: i32,
    pub reference_rows: i64,
    pub current_rows: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub details: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

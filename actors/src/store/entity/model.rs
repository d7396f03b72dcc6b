//! `models`: the model registry.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One registered model version.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "models")]
pub struct Model {
    /// Assigned by the registry (max + 1), not by the database.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// candidate, production or archived.
    pub stage: String,
    pub algorithm: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub params: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub metrics: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub feature_schema: Json,
    /// The serialized model.
    #[sea_orm(column_type = "Blob")]
    pub artifact: Vec<u8>,
    /// Further artifacts by name (e.g. SVG plots).
    #[sea_orm(column_type = "JsonBinary")]
    pub artifacts: Json,
    pub train_start: DateTimeUtc,
    pub train_end: DateTimeUtc,
    pub test_start: DateTimeUtc,
    pub test_end: DateTimeUtc,
    pub train_rows: i64,
    pub test_rows: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub stage_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub promoted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `audit_log`: who did what through the admin API, and how it ended.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One admin action.
// Served by `GET /audit` as the schema `AuditEntry`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(table_name = "audit_log")]
#[schema(as = AuditEntry)]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub audit_id: Uuid,
    #[schema(value_type = chrono::DateTime<chrono::Utc>)]
    pub at: DateTimeUtc,
    /// The id of the API key that authorised it (`anonymous` without keys).
    pub key_id: String,
    /// e.g. `model.promote`, `label.create`.
    pub action: String,
    /// What it acted on: a model version, a transaction id, …
    pub target: String,
    /// The action's parameters, e.g. `{"reason": …}` of a promotion.
    #[sea_orm(column_type = "JsonBinary")]
    #[schema(value_type = Object)]
    pub detail: Json,
    /// `pending` while it runs, then `ok` or `failed: <reason>`.
    pub outcome: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `raw_events`: every transaction as received; insert-only.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One received transaction.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "raw_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub transaction_id: Uuid,
    pub user_id: String,
    pub merchant_id: String,
    pub merchant_category: Option<String>,
    pub amount: f64,
    pub currency: Option<String>,
    pub country: Option<String>,
    pub device_id: Option<String>,
    pub channel: Option<String>,
    pub event_time: DateTimeUtc,
    /// The transaction as received.
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    /// Who sent it: producer, api, replay or kafka.
    pub source: String,
    /// Its id in an external replayed file, if any.
    pub original_id: Option<String>,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

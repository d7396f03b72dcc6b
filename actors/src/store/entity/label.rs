//! `labels`: fraud / not-fraud feedback, which arrives late.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One label of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "labels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub label_id: Uuid,
    pub transaction_id: Uuid,
    pub is_fraud: bool,
    pub source: String,
    pub labeled_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `dead_letters`: messages that could not be processed, and why.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One dead-lettered message.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "dead_letters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub dead_letter_id: Uuid,
    pub actor: String,
    pub message_kind: String,
    /// The original bytes, or the message as JSON.
    #[sea_orm(column_type = "Blob")]
    pub payload: Vec<u8>,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub attempts: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

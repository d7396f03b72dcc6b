//! `dead_letters`: what could not be processed, and why.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait};
use uuid::Uuid;

use super::Store;
use super::entity::dead_letter;

/// A message that failed twice (or could not be parsed).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub actor: String,
    pub message_kind: String,
    /// The original bytes, or the message as JSON.
    pub payload: Vec<u8>,
    pub reason: String,
    pub attempts: i32,
}

impl Store {
    /// Stores a dead letter.
    pub async fn insert_dead_letter(&self, letter: &DeadLetter) -> Result<(), DbErr> {
        let row = dead_letter::ActiveModel {
            dead_letter_id: Set(Uuid::new_v4()),
            actor: Set(letter.actor.clone()),
            message_kind: Set(letter.message_kind.clone()),
            payload: Set(letter.payload.clone()),
            reason: Set(letter.reason.clone()),
            attempts: Set(letter.attempts),
            created_at: Set(Utc::now()),
        };
        dead_letter::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// The stored dead letters, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<dead_letter::Model>, DbErr> {
        use sea_orm::QueryOrder;
        dead_letter::Entity::find()
            .order_by_asc(dead_letter::Column::CreatedAt)
            .all(&self.db)
            .await
    }
}

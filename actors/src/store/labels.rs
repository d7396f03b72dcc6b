//! `labels`: feedback that arrives late. Idempotent on `label_id`.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait, TryInsertResult};
use vigil_core::Label;

use super::Store;
use super::entity::label;

const CHUNK: usize = 1000;

impl Store {
    /// Inserts labels, ignoring those already stored. Returns how many were new.
    pub async fn insert_labels(&self, labels: &[Label]) -> Result<u64, DbErr> {
        let received_at = Utc::now();
        let mut inserted = 0;
        for chunk in labels.chunks(CHUNK) {
            let rows = chunk.iter().map(|l| label::ActiveModel {
                label_id: Set(l.label_id),
                transaction_id: Set(l.transaction_id),
                is_fraud: Set(l.is_fraud),
                source: Set(l.source.clone()),
                labeled_at: Set(l.labeled_at),
                received_at: Set(received_at),
            });
            let result = label::Entity::insert_many(rows)
                .on_conflict_do_nothing()
                .exec_without_returning(&self.db)
                .await?;
            if let TryInsertResult::Inserted(n) = result {
                inserted += n;
            }
        }
        Ok(inserted)
    }
}

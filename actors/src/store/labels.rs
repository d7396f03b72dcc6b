//! `labels`: feedback that arrives late. Idempotent on `label_id`.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, DbErr};
use vigil_core::Label;

use super::entity::label;
use super::{Store, insert_new};

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
            inserted += insert_new(&self.db, rows).await?;
        }
        Ok(inserted)
    }
}

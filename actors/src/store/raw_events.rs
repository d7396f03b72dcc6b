//! `raw_events`: the immutable audit log. This module only inserts; no code
//! path in Vigil updates or deletes a raw event.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, EntityTrait, PaginatorTrait, QuerySelect, TransactionTrait,
};
use vigil_core::Transaction;

use super::entity::raw_event;
use super::{Store, insert_new, statement_chunks};
use sea_orm::DbErr;

/// Rows per INSERT statement at most: below SQLite's and PostgreSQL's
/// limits on bound parameters (14 columns × 512 rows).
const CHUNK: usize = 512;

impl Store {
    /// Inserts transactions, ignoring those already stored (idempotent on
    /// `transaction_id`). `original_ids` are their ids in a replayed file,
    /// in the same order, or empty. Returns how many rows were new. One
    /// database transaction per call, all or nothing: a commit per chunk
    /// made a replay spend a third more time in the kernel.
    pub async fn insert_raw_events(
        &self,
        transactions: &[Transaction],
        source: &str,
        original_ids: &[String],
    ) -> Result<u64, DbErr> {
        let txn = self.db.begin().await?;
        let inserted = insert_raw_events(&txn, transactions, source, original_ids).await?;
        txn.commit().await?;
        Ok(inserted)
    }

    /// Number of stored raw events.
    pub async fn count_raw_events(&self) -> Result<u64, DbErr> {
        raw_event::Entity::find().count(&self.db).await
    }

    /// Whether any raw event is stored (cheaper than counting).
    pub async fn has_raw_events(&self) -> Result<bool, DbErr> {
        let first = raw_event::Entity::find()
            .select_only()
            .column(raw_event::Column::TransactionId)
            .into_tuple::<uuid::Uuid>()
            .one(&self.db)
            .await?;
        Ok(first.is_some())
    }
}

/// The rows of [`Store::insert_raw_events`], in the caller's database
/// transaction.
pub(super) async fn insert_raw_events(
    db: &impl ConnectionTrait,
    transactions: &[Transaction],
    source: &str,
    original_ids: &[String],
) -> Result<u64, DbErr> {
    let received_at = Utc::now();
    let mut inserted = 0;
    let mut offset = 0;
    for chunk in statement_chunks(transactions, CHUNK) {
        let rows = chunk.iter().enumerate().map(|(i, t)| {
            let original = original_ids.get(offset + i).cloned();
            active_model(t, source, original, received_at)
        });
        inserted += insert_new(db, rows).await?;
        offset += chunk.len();
    }
    Ok(inserted)
}

fn active_model(
    t: &Transaction,
    source: &str,
    original_id: Option<String>,
    received_at: chrono::DateTime<Utc>,
) -> raw_event::ActiveModel {
    raw_event::ActiveModel {
        transaction_id: Set(t.transaction_id),
        user_id: Set(t.user_id.clone()),
        merchant_id: Set(t.merchant_id.clone()),
        merchant_category: Set(t.merchant_category.clone()),
        amount: Set(t.amount),
        currency: Set(t.currency.clone()),
        country: Set(t.country.clone()),
        device_id: Set(t.device_id.clone()),
        channel: Set(t.channel.map(|c| c.as_str().to_owned())),
        event_time: Set(t.timestamp),
        payload: Set(serde_json::to_value(t).expect("a transaction serializes to JSON")),
        source: Set(source.to_owned()),
        original_id: Set(original_id),
        received_at: Set(received_at),
    }
}

//! Drops the secondary indexes no query of Vigil's uses: every insert
//! into `raw_events` maintained four B-trees and into
//! `transaction_features` three, on the hot path of every decision.
//!
//! - `raw_events (user_id, event_time)` and `(merchant_id, event_time)`:
//!   Vigil reads raw events by time only (history, recovery);
//! - `transaction_features (user_id, event_time)`: read by id or by time.
//!
//! What stays: the primary keys, the unique `(transaction_id,
//! model_version)` of `scores` and `transaction_id` of `fraud_alerts`
//! (idempotent writes), and the time and status indexes the history,
//! drift, alert and label queries use. Nothing else changes and no row
//! moves; `down` puts the indexes back.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The dropped indexes: name, table, columns.
const DROPPED: [(&str, &str, &[&str]); 3] = [
    (
        "idx_raw_events_user_id_event_time",
        "raw_events",
        &["user_id", "event_time"],
    ),
    (
        "idx_raw_events_merchant_id_event_time",
        "raw_events",
        &["merchant_id", "event_time"],
    ),
    (
        "idx_transaction_features_user_id_event_time",
        "transaction_features",
        &["user_id", "event_time"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in DROPPED {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in DROPPED {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table)).if_not_exists();
            for column in columns {
                index.col(Alias::new(*column));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }
}

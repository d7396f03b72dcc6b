//! `transaction_features.fraud_known_at`: since when the feature engine
//! counts the transaction as fraud (the earliest `labeled_at` of the fraud
//! labels it has counted; NULL while there is none).
//!
//! The online feature state keeps no book of transactions any more: a
//! label finds its transaction's merchant and time in this table, and this
//! column tells a repeated or redelivered label from a new one. An
//! existing store is carried over: the column is filled from the labels
//! already stored, which the previous engine had all counted.

use sea_orm_migration::{prelude::*, schema::*};

/// Sets `fraud_known_at` from the stored fraud labels, the earliest of each
/// transaction (the runtime's offline rebuild runs it too).
pub const FRAUD_KNOWN_FROM_LABELS: &str = "UPDATE transaction_features SET fraud_known_at = (\
       SELECT MIN(l.labeled_at) FROM labels l \
       WHERE l.transaction_id = transaction_features.transaction_id AND l.is_fraud) \
     WHERE transaction_id IN (SELECT transaction_id FROM labels WHERE is_fraud)";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TransactionFeatures::Table)
                    .add_column(timestamp_with_time_zone_null(
                        TransactionFeatures::FraudKnownAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(FRAUD_KNOWN_FROM_LABELS)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TransactionFeatures::Table)
                    .drop_column(TransactionFeatures::FraudKnownAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum TransactionFeatures {
    Table,
    FraudKnownAt,
}

//! `labels`: fraud / not-fraud feedback, which arrives after the transaction.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Labels::Table)
                    .if_not_exists()
                    .col(pk_uuid(Labels::LabelId))
                    .col(uuid(Labels::TransactionId))
                    .col(boolean(Labels::IsFraud))
                    .col(string(Labels::Source))
                    .col(timestamp_with_time_zone(Labels::LabeledAt))
                    .col(timestamp_with_time_zone(Labels::ReceivedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("idx_labels_transaction_id")
                    .table(Labels::Table)
                    .col(Labels::TransactionId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_labels_labeled_at")
                    .table(Labels::Table)
                    .col(Labels::LabeledAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Labels::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Labels {
    Table,
    LabelId,
    TransactionId,
    IsFraud,
    Source,
    LabeledAt,
    ReceivedAt,
}

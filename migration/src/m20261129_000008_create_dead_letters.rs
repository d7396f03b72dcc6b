//! `dead_letters`: messages that could not be processed, and why.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeadLetters::Table)
                    .if_not_exists()
                    .col(pk_uuid(DeadLetters::DeadLetterId))
                    .col(string(DeadLetters::Actor))
                    .col(string(DeadLetters::MessageKind))
                    .col(blob(DeadLetters::Payload))
                    .col(text(DeadLetters::Reason))
                    .col(integer(DeadLetters::Attempts))
                    .col(timestamp_with_time_zone(DeadLetters::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("idx_dead_letters_created_at")
                    .table(DeadLetters::Table)
                    .col(DeadLetters::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(DeadLetters::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum DeadLetters {
    Table,
    DeadLetterId,
    Actor,
    MessageKind,
    Payload,
    Reason,
    Attempts,
    CreatedAt,
}

//! `raw_events`: every transaction as received; an insert-only audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RawEvents::Table)
                    .if_not_exists()
                    .col(pk_uuid(RawEvents::TransactionId))
                    .col(string(RawEvents::UserId))
                    .col(string(RawEvents::MerchantId))
                    .col(string_null(RawEvents::MerchantCategory))
                    .col(double(RawEvents::Amount))
                    .col(string_null(RawEvents::Currency))
                    .col(string_null(RawEvents::Country))
                    .col(string_null(RawEvents::DeviceId))
                    .col(string_null(RawEvents::Channel))
                    .col(timestamp_with_time_zone(RawEvents::EventTime))
                    .col(json_binary(RawEvents::Payload))
                    .col(string(RawEvents::Source))
                    .col(string_null(RawEvents::OriginalId))
                    .col(timestamp_with_time_zone(RawEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("idx_raw_events_user_id_event_time")
                    .table(RawEvents::Table)
                    .col(RawEvents::UserId)
                    .col(RawEvents::EventTime)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_raw_events_merchant_id_event_time")
                    .table(RawEvents::Table)
                    .col(RawEvents::MerchantId)
                    .col(RawEvents::EventTime)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_raw_events_event_time")
                    .table(RawEvents::Table)
                    .col(RawEvents::EventTime)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RawEvents::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RawEvents {
    Table,
    TransactionId,
    UserId,
    MerchantId,
    MerchantCategory,
    Amount,
    Currency,
    Country,
    DeviceId,
    Channel,
    EventTime,
    Payload,
    Source,
    OriginalId,
    ReceivedAt,
}

//! `transaction_features`: one row per transaction, one nullable column per feature.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(TransactionFeatures::Table)
            .if_not_exists()
            .col(pk_uuid(TransactionFeatures::TransactionId))
            .col(string(TransactionFeatures::UserId))
            .col(string(TransactionFeatures::MerchantId))
            .col(timestamp_with_time_zone(TransactionFeatures::EventTime))
            .col(timestamp_with_time_zone(TransactionFeatures::ComputedAt));
        for feature in FEATURES {
            table.col(double_null(feature));
        }
        manager.create_table(table).await?;

        manager
            .create_index(
                Index::create()
                    .name("idx_transaction_features_event_time")
                    .table(TransactionFeatures::Table)
                    .col(TransactionFeatures::EventTime)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_transaction_features_user_id_event_time")
                    .table(TransactionFeatures::Table)
                    .col(TransactionFeatures::UserId)
                    .col(TransactionFeatures::EventTime)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(TransactionFeatures::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

/// Feature columns, in the order of the feature vector.
const FEATURES: [TransactionFeatures; 26] = [
    TransactionFeatures::Amount,
    TransactionFeatures::AmountZscore,
    TransactionFeatures::UserAvgAmount30d,
    TransactionFeatures::UserTxnCount10m,
    TransactionFeatures::UserTxnCount1h,
    TransactionFeatures::UserTxnCount24h,
    TransactionFeatures::UserTxnCount7d,
    TransactionFeatures::UserAmountSum1h,
    TransactionFeatures::UserAmountSum24h,
    TransactionFeatures::UniqueCountries24h,
    TransactionFeatures::UniqueMerchants24h,
    TransactionFeatures::CountryChangeFlag,
    TransactionFeatures::DeviceChangeFlag,
    TransactionFeatures::UserMerchantFirstTime,
    TransactionFeatures::HourOfDay,
    TransactionFeatures::DayOfWeek,
    TransactionFeatures::IsWeekend,
    TransactionFeatures::IsNight,
    TransactionFeatures::MinutesSinceLastTxn,
    TransactionFeatures::ChannelEncoded,
    TransactionFeatures::MerchantTxnCount1d,
    TransactionFeatures::MerchantTxnCount7d,
    TransactionFeatures::MerchantTxnCount30d,
    TransactionFeatures::MerchantFraudRate1d,
    TransactionFeatures::MerchantFraudRate7d,
    TransactionFeatures::MerchantFraudRate30d,
];

// Names with digits are spelled out: the derived snake_case would split
// `30d` differently from the column names the feature engine uses.
#[derive(DeriveIden, Clone, Copy)]
enum TransactionFeatures {
    Table,
    TransactionId,
    UserId,
    MerchantId,
    EventTime,
    ComputedAt,
    Amount,
    AmountZscore,
    #[sea_orm(iden = "user_avg_amount_30d")]
    UserAvgAmount30d,
    #[sea_orm(iden = "user_txn_count_10m")]
    UserTxnCount10m,
    #[sea_orm(iden = "user_txn_count_1h")]
    UserTxnCount1h,
    #[sea_orm(iden = "user_txn_count_24h")]
    UserTxnCount24h,
    #[sea_orm(iden = "user_txn_count_7d")]
    UserTxnCount7d,
    #[sea_orm(iden = "user_amount_sum_1h")]
    UserAmountSum1h,
    #[sea_orm(iden = "user_amount_sum_24h")]
    UserAmountSum24h,
    #[sea_orm(iden = "unique_countries_24h")]
    UniqueCountries24h,
    #[sea_orm(iden = "unique_merchants_24h")]
    UniqueMerchants24h,
    CountryChangeFlag,
    DeviceChangeFlag,
    UserMerchantFirstTime,
    HourOfDay,
    DayOfWeek,
    IsWeekend,
    IsNight,
    MinutesSinceLastTxn,
    ChannelEncoded,
    #[sea_orm(iden = "merchant_txn_count_1d")]
    MerchantTxnCount1d,
    #[sea_orm(iden = "merchant_txn_count_7d")]
    MerchantTxnCount7d,
    #[sea_orm(iden = "merchant_txn_count_30d")]
    MerchantTxnCount30d,
    #[sea_orm(iden = "merchant_fraud_rate_1d")]
    MerchantFraudRate1d,
    #[sea_orm(iden = "merchant_fraud_rate_7d")]
    MerchantFraudRate7d,
    #[sea_orm(iden = "merchant_fraud_rate_30d")]
    MerchantFraudRate30d,
}

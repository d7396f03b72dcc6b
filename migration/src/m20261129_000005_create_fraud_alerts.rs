//! `fraud_alerts`: REVIEW / BLOCK decisions and their investigation status.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FraudAlerts::Table)
                    .if_not_exists()
                    .col(pk_uuid(FraudAlerts::AlertId))
                    // Unique so that re-delivered transactions alert once.
                    .col(uuid_uniq(FraudAlerts::TransactionId))
                    .col(string(FraudAlerts::UserId))
                    .col(string(FraudAlerts::Decision))
                    .col(double(FraudAlerts::FraudProbability))
                    .col(json_binary(FraudAlerts::RiskFactors))
                    .col(integer(FraudAlerts::ModelVersion))
                    .col(string(FraudAlerts::Status))
                    .col(timestamp_with_time_zone(FraudAlerts::CreatedAt))
                    .col(timestamp_with_time_zone(FraudAlerts::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("idx_fraud_alerts_created_at")
                    .table(FraudAlerts::Table)
                    .col(FraudAlerts::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_fraud_alerts_status")
                    .table(FraudAlerts::Table)
                    .col(FraudAlerts::Status)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(FraudAlerts::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum FraudAlerts {
    Table,
    AlertId,
    TransactionId,
    UserId,
    Decision,
    FraudProbability,
    RiskFactors,
    ModelVersion,
    Status,
    CreatedAt,
    UpdatedAt,
}

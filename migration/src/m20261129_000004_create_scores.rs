//! `scores`: one row per (transaction, model version) scored.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Scores::Table)
                    .if_not_exists()
                    .col(pk_uuid(Scores::ScoreId))
                    .col(uuid(Scores::TransactionId))
                    .col(double(Scores::FraudProbability))
                    .col(double(Scores::AnomalyScore))
                    .col(string(Scores::Decision))
                    .col(json_binary(Scores::RiskFactors))
                    .col(integer(Scores::ModelVersion))
                    .col(double(Scores::LatencyMs))
                    .col(timestamp_with_time_zone(Scores::ScoredAt))
                    .to_owned(),
            )
            .await?;

        // Unique so that re-delivered transactions score idempotently.
        manager
            .create_index(
                Index::create()
                    .name("idx_scores_transaction_id_model_version")
                    .table(Scores::Table)
                    .col(Scores::TransactionId)
                    .col(Scores::ModelVersion)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scores_scored_at")
                    .table(Scores::Table)
                    .col(Scores::ScoredAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Scores::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Scores {
    Table,
    ScoreId,
    TransactionId,
    FraudProbability,
    AnomalyScore,
    Decision,
    RiskFactors,
    ModelVersion,
    LatencyMs,
    ScoredAt,
}

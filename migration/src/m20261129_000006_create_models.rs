//! `models`: the model registry (versions, stages, artifacts, training windows).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Models::Table)
                    .if_not_exists()
                    // Not auto-increment: the registry assigns max + 1.
                    .col(integer(Models::Version).primary_key())
                    .col(string(Models::Stage))
                    .col(string(Models::Algorithm))
                    .col(json_binary(Models::Params))
                    .col(json_binary(Models::Metrics))
                    .col(json_binary(Models::FeatureSchema))
                    .col(blob(Models::Artifact))
                    .col(json_binary(Models::Artifacts))
                    .col(timestamp_with_time_zone(Models::TrainStart))
                    .col(timestamp_with_time_zone(Models::TrainEnd))
                    .col(timestamp_with_time_zone(Models::TestStart))
                    .col(timestamp_with_time_zone(Models::TestEnd))
                    .col(big_integer(Models::TrainRows))
                    .col(big_integer(Models::TestRows))
                    .col(text_null(Models::StageReason))
                    .col(timestamp_with_time_zone(Models::CreatedAt))
                    .col(timestamp_with_time_zone_null(Models::PromotedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("idx_models_stage")
                    .table(Models::Table)
                    .col(Models::Stage)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Models::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Models {
    Table,
    Version,
    Stage,
    Algorithm,
    Params,
    Metrics,
    FeatureSchema,
    Artifact,
    Artifacts,
    TrainStart,
    TrainEnd,
    TestStart,
    TestEnd,
    TrainRows,
    TestRows,
    StageReason,
    CreatedAt,
    PromotedAt,
}

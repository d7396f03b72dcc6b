//! `transaction_features`: one row per transaction, one column per feature.
//!
//! Feature columns are nullable so that a feature added later can stay
//! empty for older rows.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// The features of one transaction.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "transaction_features")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub transaction_id: Uuid,
    pub user_id: String,
    pub merchant_id: String,
    pub event_time: DateTimeUtc,
    pub computed_at: DateTimeUtc,
    pub amount: Option<f64>,
    pub amount_zscore: Option<f64>,
    // Names ending in a number get explicit column names so that no case
    // conversion can ever move the underscore before the digits.
    #[sea_orm(column_name = "user_avg_amount_30d")]
    pub user_avg_amount_30d: Option<f64>,
    #[sea_orm(column_name = "user_txn_count_10m")]
    pub user_txn_count_10m: Option<f64>,
    #[sea_orm(column_name = "user_txn_count_1h")]
    pub user_txn_count_1h: Option<f64>,
    #[sea_orm(column_name = "user_txn_count_24h")]
    pub user_txn_count_24h: Option<f64>,
    #[sea_orm(column_name = "user_txn_count_7d")]
    pub user_txn_count_7d: Option<f64>,
    #[sea_orm(column_name = "user_amount_sum_1h")]
    pub user_amount_sum_1h: Option<f64>,
    #[sea_orm(column_name = "user_amount_sum_24h")]
    pub user_amount_sum_24h: Option<f64>,
    #[sea_orm(column_name = "unique_countries_24h")]
    pub unique_countries_24h: Option<f64>,
    #[sea_orm(column_name = "unique_merchants_24h")]
    pub unique_merchants_24h: Option<f64>,
    pub country_change_flag: Option<f64>,
    pub device_change_flag: Option<f64>,
    pub user_merchant_first_time: Option<f64>,
    pub hour_of_day: Option<f64>,
    pub day_of_week: Option<f64>,
    pub is_weekend: Option<f64>,
    pub is_night: Option<f64>,
    pub minutes_since_last_txn: Option<f64>,
    pub channel_encoded: Option<f64>,
    #[sea_orm(column_name = "merchant_txn_count_1d")]
    pub merchant_txn_count_1d: Option<f64>,
    #[sea_orm(column_name = "merchant_txn_count_7d")]
    pub merchant_txn_count_7d: Option<f64>,
    #[sea_orm(column_name = "merchant_txn_count_30d")]
    pub merchant_txn_count_30d: Option<f64>,
    #[sea_orm(column_name = "merchant_fraud_rate_1d")]
    pub merchant_fraud_rate_1d: Option<f64>,
    #[sea_orm(column_name = "merchant_fraud_rate_7d")]
    pub merchant_fraud_rate_7d: Option<f64>,
    #[sea_orm(column_name = "merchant_fraud_rate_30d")]
    pub merchant_fraud_rate_30d: Option<f64>,
    /// Since when the feature engine counts this transaction as fraud: the
    /// earliest `labeled_at` of its fraud labels it counted (NULL: none).
    pub fraud_known_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

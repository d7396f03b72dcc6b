//! `transaction_features`: one row per transaction, one column per feature,
//! idempotent on `transaction_id`.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    DbErr, EntityTrait, QueryOrder, TransactionTrait,
};
use uuid::Uuid;
use vigil_core::Transaction;
use vigil_core::features::FeatureVector;

use super::Store;
use super::entity::transaction_feature::{self, Column};

/// Rows per INSERT: 31 columns × 500 rows stays below SQLite's 32,766
/// bound parameters.
const CHUNK: usize = 500;

/// What to do with a row that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExisting {
    /// Keep the stored row (online path: a redelivered transaction).
    Keep,
    /// Overwrite it (offline rebuild).
    Replace,
}

impl Store {
    /// Writes feature rows in one database transaction, so a failure leaves
    /// either all of them or none.
    pub async fn insert_features(
        &self,
        rows: &[(&Transaction, FeatureVector)],
        on_existing: OnExisting,
    ) -> Result<(), DbErr> {
        let computed_at = Utc::now();
        let txn = self.db.begin().await?;
        for chunk in rows.chunks(CHUNK) {
            let models = chunk.iter().map(|(t, f)| active_model(t, f, computed_at));
            let conflict = match on_existing {
                OnExisting::Keep => OnConflict::column(Column::TransactionId)
                    .do_nothing()
                    .to_owned(),
                OnExisting::Replace => OnConflict::column(Column::TransactionId)
                    .update_columns(feature_columns())
                    .update_column(Column::ComputedAt)
                    .to_owned(),
            };
            transaction_feature::Entity::insert_many(models)
                .on_conflict(conflict)
                .try_insert()
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await
    }

    /// Every stored feature row, oldest event first.
    pub async fn feature_rows(&self) -> Result<Vec<(Uuid, FeatureVector)>, DbErr> {
        let rows = transaction_feature::Entity::find()
            .order_by_asc(Column::EventTime)
            .order_by_asc(Column::TransactionId)
            .all(&self.db)
            .await?;
        Ok(rows.iter().map(|r| (r.transaction_id, vector(r))).collect())
    }
}

fn feature_columns() -> Vec<Column> {
    use Column::*;
    vec![
        Amount,
        AmountZscore,
        UserAvgAmount30d,
        UserTxnCount10m,
        UserTxnCount1h,
        UserTxnCount24h,
        UserTxnCount7d,
        UserAmountSum1h,
        UserAmountSum24h,
        UniqueCountries24h,
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
        MerchantTxnCount1d,
        MerchantTxnCount7d,
        MerchantTxnCount30d,
        MerchantFraudRate1d,
        MerchantFraudRate7d,
        MerchantFraudRate30d,
    ]
}

fn active_model(
    t: &Transaction,
    f: &FeatureVector,
    computed_at: chrono::DateTime<Utc>,
) -> transaction_feature::ActiveModel {
    transaction_feature::ActiveModel {
        transaction_id: Set(t.transaction_id),
        user_id: Set(t.user_id.clone()),
        merchant_id: Set(t.merchant_id.clone()),
        event_time: Set(t.timestamp),
        computed_at: Set(computed_at),
        amount: Set(Some(f.amount)),
        amount_zscore: Set(Some(f.amount_zscore)),
        user_avg_amount_30d: Set(Some(f.user_avg_amount_30d)),
        user_txn_count_10m: Set(Some(f.user_txn_count_10m)),
        user_txn_count_1h: Set(Some(f.user_txn_count_1h)),
        user_txn_count_24h: Set(Some(f.user_txn_count_24h)),
        user_txn_count_7d: Set(Some(f.user_txn_count_7d)),
        user_amount_sum_1h: Set(Some(f.user_amount_sum_1h)),
        user_amount_sum_24h: Set(Some(f.user_amount_sum_24h)),
        unique_countries_24h: Set(Some(f.unique_countries_24h)),
        unique_merchants_24h: Set(Some(f.unique_merchants_24h)),
        country_change_flag: Set(Some(f.country_change_flag)),
        device_change_flag: Set(Some(f.device_change_flag)),
        user_merchant_first_time: Set(Some(f.user_merchant_first_time)),
        hour_of_day: Set(Some(f.hour_of_day)),
        day_of_week: Set(Some(f.day_of_week)),
        is_weekend: Set(Some(f.is_weekend)),
        is_night: Set(Some(f.is_night)),
        minutes_since_last_txn: Set(Some(f.minutes_since_last_txn)),
        channel_encoded: Set(Some(f.channel_encoded)),
        merchant_txn_count_1d: Set(Some(f.merchant_txn_count_1d)),
        merchant_txn_count_7d: Set(Some(f.merchant_txn_count_7d)),
        merchant_txn_count_30d: Set(Some(f.merchant_txn_count_30d)),
        merchant_fraud_rate_1d: Set(Some(f.merchant_fraud_rate_1d)),
        merchant_fraud_rate_7d: Set(Some(f.merchant_fraud_rate_7d)),
        merchant_fraud_rate_30d: Set(Some(f.merchant_fraud_rate_30d)),
        // Written by the label path only (`fraud.rs`).
        fraud_known_at: NotSet,
    }
}

/// A stored row as a vector; a missing (NULL) feature reads as NaN.
pub(super) fn vector(r: &transaction_feature::Model) -> FeatureVector {
    let v = |x: Option<f64>| x.unwrap_or(f64::NAN);
    FeatureVector {
        amount: v(r.amount),
        amount_zscore: v(r.amount_zscore),
        user_avg_amount_30d: v(r.user_avg_amount_30d),
        user_txn_count_10m: v(r.user_txn_count_10m),
        user_txn_count_1h: v(r.user_txn_count_1h),
        user_txn_count_24h: v(r.user_txn_count_24h),
        user_txn_count_7d: v(r.user_txn_count_7d),
        user_amount_sum_1h: v(r.user_amount_sum_1h),
        user_amount_sum_24h: v(r.user_amount_sum_24h),
        unique_countries_24h: v(r.unique_countries_24h),
        unique_merchants_24h: v(r.unique_merchants_24h),
        country_change_flag: v(r.country_change_flag),
        device_change_flag: v(r.device_change_flag),
        user_merchant_first_time: v(r.user_merchant_first_time),
        hour_of_day: v(r.hour_of_day),
        day_of_week: v(r.day_of_week),
        is_weekend: v(r.is_weekend),
        is_night: v(r.is_night),
        minutes_since_last_txn: v(r.minutes_since_last_txn),
        channel_encoded: v(r.channel_encoded),
        merchant_txn_count_1d: v(r.merchant_txn_count_1d),
        merchant_txn_count_7d: v(r.merchant_txn_count_7d),
        merchant_txn_count_30d: v(r.merchant_txn_count_30d),
        merchant_fraud_rate_1d: v(r.merchant_fraud_rate_1d),
        merchant_fraud_rate_7d: v(r.merchant_fraud_rate_7d),
        merchant_fraud_rate_30d: v(r.merchant_fraud_rate_30d),
    }
}

impl Store {
    /// The stored features of those of `ids` that have features but no
    /// score yet: what a redelivered batch still owes the Scorer (after a
    /// crash between the feature write and the score write).
    pub async fn unscored_features(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, FeatureVector>, DbErr> {
        use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};

        use super::entity::score;

        let mut owed = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let scored: std::collections::HashSet<Uuid> = score::Entity::find()
                .select_only()
                .column(score::Column::TransactionId)
                .filter(score::Column::TransactionId.is_in(chunk.iter().copied()))
                .into_tuple::<Uuid>()
                .all(&self.db)
                .await?
                .into_iter()
                .collect();
            let unscored = chunk.iter().copied().filter(|id| !scored.contains(id));
            let rows = transaction_feature::Entity::find()
                .filter(Column::TransactionId.is_in(unscored))
                .all(&self.db)
                .await?;
            owed.extend(rows.iter().map(|r| (r.transaction_id, vector(r))));
        }
        Ok(owed)
    }
}

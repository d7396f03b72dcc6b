//! `transaction_features`: one row per transaction, one column per feature,
//! idempotent on `transaction_id`.

use std::str::FromStr;
use std::sync::LazyLock;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DbErr, EntityTrait, ModelTrait, QueryOrder, TransactionTrait, Value,
};
use uuid::Uuid;
use vigil_core::Transaction;
use vigil_core::features::{FEATURE_NAMES, FeatureVector, N};

use super::Store;
use super::entity::transaction_feature::{self, Column};

/// Rows per INSERT at most: 31 columns × 512 rows stays below SQLite's
/// 32,766 bound parameters.
const CHUNK: usize = 512;

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
        let txn = self.db.begin().await?;
        insert_features(&txn, rows, on_existing).await?;
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

/// The rows of [`Store::insert_features`], in the caller's database
/// transaction.
pub(super) async fn insert_features(
    db: &impl ConnectionTrait,
    rows: &[(&Transaction, FeatureVector)],
    on_existing: OnExisting,
) -> Result<(), DbErr> {
    let computed_at = Utc::now();
    for chunk in super::statement_chunks(rows, CHUNK) {
        let models = chunk.iter().map(|(t, f)| active_model(t, f, computed_at));
        let conflict = match on_existing {
            OnExisting::Keep => OnConflict::column(Column::TransactionId)
                .do_nothing()
                .to_owned(),
            OnExisting::Replace => OnConflict::column(Column::TransactionId)
                .update_columns(feature_columns().iter().copied())
                .update_column(Column::ComputedAt)
                .to_owned(),
        };
        transaction_feature::Entity::insert_many(models)
            .on_conflict(conflict)
            .try_insert()
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The feature columns in [`FEATURE_NAMES`] order: each is named as its
/// feature, so the list in `vigil_core::features` is the only one to edit
/// (with a migration adding the column and a field of the entity).
fn feature_columns() -> &'static [Column; N] {
    static COLUMNS: LazyLock<[Column; N]> = LazyLock::new(|| {
        FEATURE_NAMES.map(|name| {
            Column::from_str(name)
                .unwrap_or_else(|_| panic!("transaction_features has no column {name}"))
        })
    });
    &COLUMNS
}

fn active_model(
    t: &Transaction,
    f: &FeatureVector,
    computed_at: chrono::DateTime<Utc>,
) -> transaction_feature::ActiveModel {
    let mut model = transaction_feature::ActiveModel {
        transaction_id: Set(t.transaction_id),
        user_id: Set(t.user_id.clone()),
        merchant_id: Set(t.merchant_id.clone()),
        event_time: Set(t.timestamp),
        computed_at: Set(computed_at),
        // Written by the label path only (`fraud.rs`).
        fraud_known_at: NotSet,
        ..ActiveModelTrait::default()
    };
    for (column, value) in feature_columns().iter().zip(f.to_array()) {
        model.set(*column, Some(value).into());
    }
    model
}

/// A stored row as a vector; a missing (NULL) feature reads as NaN.
pub(super) fn vector(r: &transaction_feature::Model) -> FeatureVector {
    let columns = feature_columns();
    FeatureVector::from_array(std::array::from_fn(|i| match r.get(columns[i]) {
        Value::Double(Some(value)) => value,
        _ => f64::NAN,
    }))
}

impl Store {
    /// The stored features of those of `ids` that have features but no
    /// score yet: what a redelivered batch still owes (features stored
    /// before a model was served, or by an earlier version that committed
    /// features and scores apart).
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

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic, TryIntoModel};

    use super::*;

    #[test]
    fn every_feature_has_the_column_of_its_name() {
        let names: Vec<&str> = feature_columns().iter().map(|c| c.as_str()).collect();
        assert_eq!(names, FEATURE_NAMES);
    }

    #[test]
    fn a_vector_round_trips_through_a_row() {
        let vector_in = FeatureVector::from_array(std::array::from_fn(|i| i as f64 * 1.5 - 3.0));
        let transaction = vigil_core::Transaction::new(
            Uuid::nil(),
            "u1",
            "m1",
            12.5,
            chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        );
        let mut row = active_model(&transaction, &vector_in, Utc::now());
        row.fraud_known_at = Set(None);
        let row = row.try_into_model().expect("every column set");
        assert_eq!(vector(&row), vector_in);
        assert_eq!(row.user_txn_count_1h, Some(vector_in.user_txn_count_1h));
    }
}

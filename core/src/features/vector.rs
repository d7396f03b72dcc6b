//! The feature vector: one named f64 per feature, in a fixed order.

use serde::{Deserialize, Serialize};

/// Declares the features once: the struct fields, their names, their
/// order and which ones the drift checker watches all come from this list,
/// so they cannot drift apart. The store's columns are looked up by these
/// names too (`actors/src/store/features.rs`).
///
/// `name: monitored` marks a feature whose distribution the drift checks
/// compare between windows.
macro_rules! features {
    ($( $(#[doc = $doc:literal])+ $name:ident $(: $kind:ident)?, )+) => {
        /// The features of one transaction, one field per name in [`FEATURE_NAMES`].
        #[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
        pub struct FeatureVector {
            $( $(#[doc = $doc])+ pub $name: f64, )+
        }

        /// The feature names, in the order of [`FeatureVector::to_array`].
        pub const FEATURE_NAMES: [&str; N] = [$(stringify!($name),)+];

        /// The features the drift checks compare, in [`FEATURE_NAMES`] order.
        pub const MONITORED_FEATURES: &[&str] = &[$($(kind!($kind, $name),)?)+];

        impl FeatureVector {
            /// The values in [`FEATURE_NAMES`] order.
            pub fn to_array(&self) -> [f64; N] {
                [$(self.$name,)+]
            }

            /// Builds a vector from values in [`FEATURE_NAMES`] order.
            pub fn from_array(values: [f64; N]) -> Self {
                let [$($name,)+] = values;
                FeatureVector { $($name,)+ }
            }

            /// The value of the feature called `name`, if there is one.
            pub fn get(&self, name: &str) -> Option<f64> {
                match name {
                    $(stringify!($name) => Some(self.$name),)+
                    _ => None,
                }
            }
        }
    };
}

/// The name of a feature marked `monitored`; any other mark does not compile.
macro_rules! kind {
    (monitored, $name:ident) => {
        stringify!($name)
    };
}

/// Number of features.
pub const N: usize = 26;

features! {
    /// The transaction amount as received.
    amount: monitored,
    /// (amount − mean) / population std of the user's previous transactions in 30 days; 0 with fewer than 2 or std 0.
    amount_zscore: monitored,
    /// Mean amount of the user's transactions in 30 days, this one included.
    user_avg_amount_30d,
    /// The user's transactions in the last 10 minutes, this one included.
    user_txn_count_10m,
    /// The user's transactions in the last hour, this one included.
    user_txn_count_1h: monitored,
    /// The user's transactions in the last 24 hours, this one included.
    user_txn_count_24h: monitored,
    /// The user's transactions in the last 7 days, this one included.
    user_txn_count_7d,
    /// Sum of the user's amounts in the last hour, this one included.
    user_amount_sum_1h: monitored,
    /// Sum of the user's amounts in the last 24 hours, this one included.
    user_amount_sum_24h: monitored,
    /// Distinct countries of the user's transactions in 24 hours (missing countries not counted).
    unique_countries_24h: monitored,
    /// Distinct merchants of the user's transactions in 24 hours.
    unique_merchants_24h: monitored,
    /// 1 when this and the user's previous transaction (within 30 days) both have a country and they differ (several previous ones at the same millisecond: any of them).
    country_change_flag,
    /// 1 when this transaction has a device and the user's previous one with a device (within 30 days) had another (several at the same millisecond: any of them).
    device_change_flag,
    /// 1 when the user has no transaction at this merchant in the previous 30 days.
    user_merchant_first_time,
    /// Hour of the day, 0–23, UTC.
    hour_of_day: monitored,
    /// Day of the week, 0 = Monday … 6 = Sunday, UTC.
    day_of_week,
    /// 1 on Saturday and Sunday (UTC).
    is_weekend,
    /// 1 when the hour (UTC) is before 6 or from 22 on.
    is_night,
    /// Minutes since the user's previous transaction; 43,200 (30 days) when none in 30 days.
    minutes_since_last_txn,
    /// online 0, pos 1, atm 2, mobile 3, missing −1.
    channel_encoded,
    /// The merchant's transactions in the last day, this one included.
    merchant_txn_count_1d,
    /// The merchant's transactions in the last 7 days, this one included.
    merchant_txn_count_7d,
    /// The merchant's transactions in the last 30 days, this one included.
    merchant_txn_count_30d,
    /// Share of the merchant's transactions on the day of t − delay with a fraud label known at t.
    merchant_fraud_rate_1d,
    /// Share of the merchant's transactions in the 7 days ending with the day of t − delay with a fraud label known at t.
    merchant_fraud_rate_7d,
    /// Share of the merchant's transactions in the 30 days ending with the day of t − delay with a fraud label known at t.
    merchant_fraud_rate_30d,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_api_order() {
        let expected = [
            "amount",
            "amount_zscore",
            "user_avg_amount_30d",
            "user_txn_count_10m",
            "user_txn_count_1h",
            "user_txn_count_24h",
            "user_txn_count_7d",
            "user_amount_sum_1h",
            "user_amount_sum_24h",
            "unique_countries_24h",
            "unique_merchants_24h",
            "country_change_flag",
            "device_change_flag",
            "user_merchant_first_time",
            "hour_of_day",
            "day_of_week",
            "is_weekend",
            "is_night",
            "minutes_since_last_txn",
            "channel_encoded",
            "merchant_txn_count_1d",
            "merchant_txn_count_7d",
            "merchant_txn_count_30d",
            "merchant_fraud_rate_1d",
            "merchant_fraud_rate_7d",
            "merchant_fraud_rate_30d",
        ];
        assert_eq!(FEATURE_NAMES, expected);
    }

    #[test]
    fn the_monitored_features_are_marked_in_the_list() {
        assert_eq!(
            MONITORED_FEATURES,
            [
                "amount",
                "amount_zscore",
                "user_txn_count_1h",
                "user_txn_count_24h",
                "user_amount_sum_1h",
                "user_amount_sum_24h",
                "unique_countries_24h",
                "unique_merchants_24h",
                "hour_of_day",
            ]
        );
    }

    #[test]
    fn array_round_trip_and_lookup_by_name() {
        let values: [f64; N] = std::array::from_fn(|i| i as f64 + 0.5);
        let v = FeatureVector::from_array(values);
        assert_eq!(v.to_array(), values);
        for (i, name) in FEATURE_NAMES.iter().enumerate() {
            assert_eq!(v.get(name), Some(values[i]), "{name}");
        }
        assert_eq!(v.amount_zscore, 1.5);
        assert_eq!(v.merchant_fraud_rate_30d, 25.5);
        assert_eq!(v.get("no_such_feature"), None);
    }

    #[test]
    fn serde_uses_the_feature_names() {
        let v = FeatureVector::from_array(std::array::from_fn(|i| i as f64));
        let json = serde_json::to_value(v).unwrap();
        for (i, name) in FEATURE_NAMES.iter().enumerate() {
            assert_eq!(json[name], serde_json::json!(i as f64), "{name}");
        }
        let back: FeatureVector = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
    }
}

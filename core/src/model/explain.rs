//! Readable reasons for a score: per-prediction feature contributions
//! (decision-path contributions in log-odds, see [`super::gbdt::Gbdt::contributions`])
//! grouped into reason codes an analyst knows.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One reason a transaction scored high.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RiskFactor {
    /// Reason code, e.g. `velocity_spike`.
    pub code: String,
    /// The input that contributed most to this reason.
    pub feature: String,
    /// That input's value for this transaction.
    pub value: f64,
    /// Log-odds this reason added to the score (all its inputs together).
    pub contribution: f64,
}

/// Most reasons reported for one transaction.
pub const MAX_RISK_FACTORS: usize = 4;

/// Contributions below this (in log-odds, about a 10% change in odds) are
/// noise, not reasons.
pub const MIN_CONTRIBUTION: f64 = 0.1;

/// The reason code of a model input.
pub fn reason_code(input: &str, values: &dyn Fn(&str) -> Option<f64>) -> &'static str {
    match input {
        // A card-testing probe is unusually small, a cash-out unusually
        // large: the same inputs, opposite reasons.
        "amount" | "amount_zscore" | "user_avg_amount_30d" => {
            if values("amount_zscore").unwrap_or(0.0) < 0.0 {
                "low_amount"
            } else {
                "high_amount"
            }
        }
        "user_txn_count_10m"
        | "user_txn_count_1h"
        | "user_txn_count_24h"
        | "user_txn_count_7d"
        | "user_amount_sum_1h"
        | "user_amount_sum_24h"
        | "minutes_since_last_txn" => "velocity_spike",
        "unique_countries_24h" | "country_change_flag" => "country_change",
        "unique_merchants_24h" => "many_merchants",
        "device_change_flag" => "new_device",
        "user_merchant_first_time" => "new_merchant",
        "hour_of_day" | "is_night" | "day_of_week" | "is_weekend" => "unusual_hour",
        "channel_encoded" => "unusual_channel",
        "merchant_txn_count_1d" | "merchant_txn_count_7d" | "merchant_txn_count_30d" => {
            "merchant_activity"
        }
        "merchant_fraud_rate_1d" | "merchant_fraud_rate_7d" | "merchant_fraud_rate_30d" => {
            "risky_merchant"
        }
        "anomaly_score" => "anomalous_pattern",
        _ => "other",
    }
}

/// The reasons behind one prediction: inputs pushing towards fraud,
/// grouped by reason code, strongest first. `contributions` has one value
/// per input (a trailing bias term is ignored).
pub fn risk_factors(names: &[&str], values: &[f64], contributions: &[f64]) -> Vec<RiskFactor> {
    let lookup = |name: &str| names.iter().position(|n| *n == name).map(|i| values[i]);
    let mut factors: Vec<RiskFactor> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let contribution = contributions[i];
        if contribution <= 0.0 {
            continue;
        }
        let code = reason_code(name, &lookup);
        match factors.iter_mut().find(|f| f.code == code) {
            Some(factor) => {
                if contribution > factor.contribution_of_feature(names, contributions) {
                    factor.feature = (*name).to_string();
                    factor.value = values[i];
                }
                factor.contribution += contribution;
            }
            None => factors.push(RiskFactor {
                code: code.to_string(),
                feature: (*name).to_string(),
                value: values[i],
                contribution,
            }),
        }
    }
    factors.retain(|f| f.contribution >= MIN_CONTRIBUTION);
    factors.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    factors.truncate(MAX_RISK_FACTORS);
    factors
}

impl RiskFactor {
    fn contribution_of_feature(&self, names: &[&str], contributions: &[f64]) -> f64 {
        names
            .iter()
            .position(|n| *n == self.feature)
            .map_or(0.0, |i| contributions[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 5] = [
        "amount",
        "amount_zscore",
        "user_txn_count_1h",
        "user_txn_count_24h",
        "hour_of_day",
    ];

    #[test]
    fn groups_inputs_by_reason_and_orders_by_strength() {
        let values = [900.0, 4.2, 6.0, 9.0, 3.0];
        let contributions = [0.5, 0.9, 0.6, 0.7, -0.4, -3.0];
        let factors = risk_factors(&NAMES, &values, &contributions);
        let codes: Vec<_> = factors.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["high_amount", "velocity_spike"]);
        assert!((factors[0].contribution - 1.4).abs() < 1e-12);
        // the strongest input of the group names the factor
        assert_eq!(factors[0].feature, "amount_zscore");
        assert_eq!(factors[0].value, 4.2);
        assert_eq!(factors[1].feature, "user_txn_count_24h");
    }

    #[test]
    fn small_amount_probes_are_low_amount_and_weak_reasons_are_dropped() {
        let values = [1.0, -1.5, 1.0, 1.0, 14.0];
        let contributions = [0.8, 0.1, 0.05, 0.02, 0.09, -2.0];
        let factors = risk_factors(&NAMES, &values, &contributions);
        assert_eq!(factors.len(), 1);
        assert_eq!(factors[0].code, "low_amount");
    }

    #[test]
    fn every_model_input_has_a_reason_code() {
        let none = |_: &str| None;
        for name in crate::features::FEATURE_NAMES {
            assert_ne!(reason_code(name, &none), "other", "{name}");
        }
        assert_eq!(reason_code("anomaly_score", &none), "anomalous_pattern");
    }
}

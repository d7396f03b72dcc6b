//! A drift check: the monitored features and the model's output compared
//! between a reference and a current window, and the dataset verdict.
//!
//! Pure: the caller reads the windows (the drift checker actor, from the
//! store; tests and benchmarks, from [`simulated_rows`]), and passes the
//! clock and the report's id.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    DatasetDrift, FeatureDrift, StatTest, dataset_drift, feature_drift_categorical,
    feature_drift_numeric,
};
use crate::features::FeatureVector;

/// Numeric features monitored: those marked in the feature list
/// (`core/src/features/vector.rs`).
pub const NUMERIC_FEATURES: &[&str] = crate::features::MONITORED_FEATURES;

/// Categorical features monitored (from the raw events).
pub const CATEGORICAL_FEATURES: [&str; 2] = ["channel", "country"];

/// One transaction as a drift check sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftRow {
    pub time: DateTime<Utc>,
    pub features: FeatureVector,
    pub country: Option<String>,
    pub channel: Option<String>,
}

impl DriftRow {
    /// The value of the categorical feature `name` (one of
    /// [`CATEGORICAL_FEATURES`]); `None` when the row has none.
    pub fn category(&self, name: &str) -> Option<&str> {
        match name {
            "channel" => self.channel.as_deref(),
            "country" => self.country.as_deref(),
            _ => None,
        }
    }
}

/// A model output row.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    pub fraud_probability: f64,
    pub decision: String,
}

/// How checks are made.
#[derive(Debug, Clone)]
pub struct DriftSettings {
    /// Rows sampled evenly across the reference window (at most).
    pub reference_rows: u64,
    /// Rows in the current window: the newest, none older than a day (at most).
    pub current_rows: u64,
    /// Fewer rows than this in either window: no verdict.
    pub min_rows: u64,
    pub numeric_test: StatTest,
    pub categorical_test: StatTest,
    /// Dataset drift when at least this share of features drifted.
    pub share_threshold: f64,
    /// Send `Retrain` when dataset drift is detected…
    pub retrain_on_drift: bool,
    /// …at most once per this period.
    pub retrain_cooldown: Duration,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            reference_rows: 5_000,
            current_rows: 1_000,
            min_rows: 100,
            numeric_test: StatTest::Wasserstein,
            categorical_test: StatTest::JensenShannon,
            share_threshold: 0.5,
            retrain_on_drift: false,
            retrain_cooldown: Duration::from_secs(6 * 3600),
        }
    }
}

/// Outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftStatus {
    /// Checked, no dataset drift.
    Ok,
    /// Checked, dataset drift detected.
    Drift,
    /// A window has too few rows for a verdict.
    InsufficientData,
}

impl DriftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftStatus::Ok => "ok",
            DriftStatus::Drift => "drift",
            DriftStatus::InsufficientData => "insufficient_data",
        }
    }
}

/// Where a window's rows came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WindowInfo {
    /// `production_model_training_window` or `before_current_window` (the
    /// reference without a model), `newest_rows` (the current window).
    pub source: String,
    pub model_version: Option<i32>,
    pub rows: usize,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// One check, in the shape the seed's `/drift/status` returned plus
/// windows, thresholds and histograms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DriftCheck {
    pub report_id: Uuid,
    pub timestamp: DateTime<Utc>,
    pub status: DriftStatus,
    /// Why there is no verdict, when there is none.
    pub message: Option<String>,
    pub dataset_drift_detected: bool,
    pub dataset_drift_share: f64,
    pub share_threshold: f64,
    pub num_features_checked: usize,
    pub num_features_drifted: usize,
    pub reference_rows: usize,
    pub current_rows: usize,
    pub reference_window: WindowInfo,
    pub current_window: WindowInfo,
    pub drifted_features: Vec<String>,
    pub feature_details: Vec<FeatureDrift>,
    /// The model's output: `fraud_probability` and `decision`.
    pub prediction_details: Vec<FeatureDrift>,
    pub duration_ms: f64,
}

/// The windows a check compares.
pub struct Windows {
    pub reference: Vec<DriftRow>,
    pub current: Vec<DriftRow>,
    pub reference_scores: Vec<ScoreRow>,
    pub current_scores: Vec<ScoreRow>,
    pub reference_info: WindowInfo,
    pub current_info: WindowInfo,
}

/// The source name of the current window.
pub const CURRENT_SOURCE: &str = "newest_rows";

pub fn window_info(source: &str, model_version: Option<i32>, rows: &[DriftRow]) -> WindowInfo {
    WindowInfo {
        source: source.to_owned(),
        model_version,
        rows: rows.len(),
        start: rows.first().map(|r| r.time),
        end: rows.last().map(|r| r.time),
    }
}

/// The statistics of a check. Pure: no store, no clock but `now`, and the
/// report's id given; `duration_ms` is left at 0 for the caller, who
/// knows what the check's time includes (reading the windows, say).
pub fn check(
    windows: &Windows,
    settings: &DriftSettings,
    now: DateTime<Utc>,
    report_id: Uuid,
) -> DriftCheck {
    let (r, c) = (&windows.reference, &windows.current);
    let enough = |n: usize| n as u64 >= settings.min_rows;
    let message = if !enough(r.len()) || !enough(c.len()) {
        Some(format!(
            "not enough data: the reference window has {} rows and the current window {}; at least {} each are needed",
            r.len(),
            c.len(),
            settings.min_rows
        ))
    } else {
        None
    };
    let (drift, predictions) = if message.is_some() {
        (
            dataset_drift(Vec::new(), settings.share_threshold),
            Vec::new(),
        )
    } else {
        (
            dataset_drift(feature_checks(r, c, settings), settings.share_threshold),
            prediction_checks(windows, settings),
        )
    };
    let status = match (&message, drift.dataset_drift) {
        (Some(_), _) => DriftStatus::InsufficientData,
        (None, true) => DriftStatus::Drift,
        (None, false) => DriftStatus::Ok,
    };
    summarize(
        drift,
        predictions,
        status,
        message,
        windows,
        settings,
        now,
        report_id,
    )
}

#[allow(clippy::too_many_arguments)]
fn summarize(
    drift: DatasetDrift,
    predictions: Vec<FeatureDrift>,
    status: DriftStatus,
    message: Option<String>,
    windows: &Windows,
    settings: &DriftSettings,
    now: DateTime<Utc>,
    report_id: Uuid,
) -> DriftCheck {
    DriftCheck {
        report_id,
        timestamp: now,
        status,
        message,
        dataset_drift_detected: drift.dataset_drift,
        dataset_drift_share: drift.drift_share,
        share_threshold: settings.share_threshold,
        num_features_checked: drift.num_features_checked,
        num_features_drifted: drift.num_features_drifted,
        reference_rows: windows.reference.len(),
        current_rows: windows.current.len(),
        reference_window: windows.reference_info.clone(),
        current_window: windows.current_info.clone(),
        drifted_features: drift
            .features
            .iter()
            .filter(|f| f.drift_detected)
            .map(|f| f.feature.clone())
            .collect(),
        feature_details: drift.features,
        prediction_details: predictions,
        duration_ms: 0.0,
    }
}

fn feature_checks(r: &[DriftRow], c: &[DriftRow], settings: &DriftSettings) -> Vec<FeatureDrift> {
    let numeric = NUMERIC_FEATURES.iter().map(|name| {
        let values = |rows: &[DriftRow]| -> Vec<f64> {
            rows.iter()
                .map(|row| row.features.get(name).unwrap_or(f64::NAN))
                .collect()
        };
        feature_drift_numeric(name, &values(r), &values(c), settings.numeric_test, None)
    });
    let categorical = CATEGORICAL_FEATURES.iter().map(|name| {
        let values = |rows: &[DriftRow]| -> Vec<String> {
            rows.iter()
                .map(|row| row.category(name).unwrap_or("(missing)").to_owned())
                .collect()
        };
        feature_drift_categorical(
            name,
            &values(r),
            &values(c),
            settings.categorical_test,
            None,
        )
    });
    numeric.chain(categorical).collect()
}

fn prediction_checks(windows: &Windows, settings: &DriftSettings) -> Vec<FeatureDrift> {
    let (r, c) = (&windows.reference_scores, &windows.current_scores);
    if (r.len() as u64) < settings.min_rows || (c.len() as u64) < settings.min_rows {
        return Vec::new();
    }
    let probabilities =
        |rows: &[ScoreRow]| -> Vec<f64> { rows.iter().map(|s| s.fraud_probability).collect() };
    let decisions =
        |rows: &[ScoreRow]| -> Vec<String> { rows.iter().map(|s| s.decision.clone()).collect() };
    vec![
        feature_drift_numeric(
            "fraud_probability",
            &probabilities(r),
            &probabilities(c),
            settings.numeric_test,
            None,
        ),
        feature_drift_categorical(
            "decision",
            &decisions(r),
            &decisions(c),
            settings.categorical_test,
            None,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::simulated::shifted_week as windows;

    fn drifted(check: &DriftCheck, feature: &str) -> bool {
        check
            .feature_details
            .iter()
            .find(|f| f.feature == feature)
            .unwrap_or_else(|| panic!("{feature} not checked"))
            .drift_detected
    }

    #[test]
    fn a_shifted_amount_is_flagged_and_untouched_features_are_not() {
        let check = check(
            &windows(3.0),
            &DriftSettings::default(),
            Utc::now(),
            Uuid::nil(),
        );
        assert_eq!(check.num_features_checked, 11);
        assert!(drifted(&check, "amount"), "{:?}", check.drifted_features);
        for untouched in [
            "hour_of_day",
            "user_txn_count_1h",
            "user_txn_count_24h",
            "unique_countries_24h",
            "unique_merchants_24h",
            "channel",
            "country",
        ] {
            assert!(
                !drifted(&check, untouched),
                "{untouched} flagged: {:?}",
                check.drifted_features
            );
        }
    }

    #[test]
    fn the_same_stream_without_a_shift_is_not_flagged() {
        let check = check(
            &windows(1.0),
            &DriftSettings::default(),
            Utc::now(),
            Uuid::nil(),
        );

        assert_eq!(check.status, DriftStatus::Ok);
        assert!(!check.dataset_drift_detected);
        assert!(
            check.drifted_features.is_empty(),
            "{:?}",
            check.drifted_features
        );
    }

    #[test]
    fn too_little_data_is_a_status_not_a_verdict() {
        let mut few = windows(1.0);
        few.current.truncate(20);
        let check = check(&few, &DriftSettings::default(), Utc::now(), Uuid::nil());
        assert_eq!(check.status, DriftStatus::InsufficientData);
        assert!(!check.dataset_drift_detected);
        assert!(check.message.as_deref().unwrap().contains("20"));
        assert!(check.feature_details.is_empty());
    }
}

//! DriftChecker: compares the newest transactions with a reference window,
//! feature by feature, on schedule and on request, and stores every check
//! in `drift_reports`.
//!
//! Current window: the newest rows (none older than a day). Reference
//! window: the production model's training window when there is one (what
//! the model learned from), otherwise every row before the current window,
//! at the same times of the day as the current window and sampled evenly
//! to a bound in the store (`vigil_core::drift::windows`), so that features
//! which follow the clock compare like with like. Numeric features use
//! normed Wasserstein by default, categorical ones Jensen–Shannon
//! (configurable). The model's
//! output (probability distribution, decision mix) is checked too, against
//! the production model's oldest scores, and reported apart: it follows
//! from the inputs and does not count towards the dataset drift share.

use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_core::drift::windows::{TimesOfDay, WARM_UP, current_floor};
use vigil_core::drift::{
    DatasetDrift, FeatureDrift, StatTest, dataset_drift, feature_drift_categorical,
    feature_drift_numeric,
};
use vigil_core::features::{FeatureConfig, HistoryEvent, compute_history};
use vigil_core::synth::{Generator, SynthConfig, SynthEvent};

use crate::error::ActorError;
use crate::messages::{CheckDrift, Retrain};
use crate::metrics::Metrics;
use crate::store::{DriftRow, NewDriftReport, ScoreRow, Store, WindowSpec};
use crate::supervisor::{Factory, Handles, Link, Worker};

/// Numeric features monitored.
pub const NUMERIC_FEATURES: [&str; 9] = [
    "amount",
    "amount_zscore",
    "user_txn_count_1h",
    "user_txn_count_24h",
    "user_amount_sum_1h",
    "user_amount_sum_24h",
    "unique_countries_24h",
    "unique_merchants_24h",
    "hour_of_day",
];

/// Categorical features monitored (from the raw events).
pub const CATEGORICAL_FEATURES: [&str; 2] = ["channel", "country"];

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

/// Checks drift.
pub struct DriftChecker {
    store: Store,
    settings: DriftSettings,
    metrics: Arc<Metrics>,
    retrainer: Link<Retrain>,
    last_retrain: Option<Instant>,
}

impl DriftChecker {
    /// A factory for the supervisor.
    pub fn factory(
        store: Store,
        settings: DriftSettings,
        metrics: Arc<Metrics>,
        retrainer: Link<Retrain>,
    ) -> Factory<DriftChecker> {
        Arc::new(move || {
            let checker = DriftChecker {
                store: store.clone(),
                settings: settings.clone(),
                metrics: metrics.clone(),
                retrainer: retrainer.clone(),
                last_retrain: None,
            };
            Box::pin(async move { Ok(checker) })
        })
    }

    /// Sends `Retrain` without waiting for the training, unless one was
    /// sent within the cooldown.
    fn maybe_retrain(&mut self) {
        let cooled = self
            .last_retrain
            .is_none_or(|t| t.elapsed() >= self.settings.retrain_cooldown);
        if !(self.settings.retrain_on_drift && cooled) {
            return;
        }
        self.last_retrain = Some(Instant::now());
        let retrainer = self.retrainer.clone();
        actix::spawn(async move {
            let retrain = Retrain {
                trigger: "drift".into(),
            };
            if let Err(undelivered) = retrainer.send(retrain).await {
                tracing::error!(%undelivered, "retraining on drift failed");
            }
        });
    }
}

/// Publishes a check's results. A check without a verdict leaves the
/// gauges of the last real check in place: "not enough data" says nothing
/// about drift.
fn record_metrics(metrics: &Metrics, check: &DriftCheck, elapsed: Duration) {
    metrics.drift_check_duration.observe(elapsed.as_secs_f64());
    if check.status == DriftStatus::InsufficientData {
        return;
    }
    metrics
        .drift_detected
        .set(i64::from(check.dataset_drift_detected));
    metrics.drift_share.set(check.dataset_drift_share);
    metrics
        .drift_features_drifted
        .set(check.num_features_drifted as i64);
    for f in check
        .feature_details
        .iter()
        .chain(&check.prediction_details)
    {
        let feature = [f.feature.as_str()];
        if let Some(score) = f.drift_score {
            metrics
                .drift_feature_score
                .with_label_values(&feature)
                .set(score);
        }
        // Means exist for numeric features only; with the scores they show
        // which way a feature moved, not just that it moved.
        if let (Some(reference), Some(current)) = (f.reference_mean, f.current_mean) {
            metrics
                .drift_reference_mean
                .with_label_values(&feature)
                .set(reference);
            metrics
                .drift_current_mean
                .with_label_values(&feature)
                .set(current);
        }
    }
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

/// Reads both windows from the store (see `vigil_core::drift::windows`):
/// the current window is the newest rows of the last day, the reference
/// window an even sample of the production model's training window (or,
/// without a model, of everything before the current window), less the
/// store's first day, at the same times of the day.
pub async fn read_windows(store: &Store, settings: &DriftSettings) -> Result<Windows, ActorError> {
    let production = store.production_model().await?;
    let Some((oldest, newest)) = store.feature_time_span().await? else {
        return Ok(windows_of(Vec::new(), Vec::new()));
    };
    let current = store
        .drift_rows(WindowSpec::Newest {
            after: current_floor(newest),
            n: settings.current_rows,
        })
        .await?;
    let times = match (current.first(), current.last()) {
        (Some(first), Some(last)) => TimesOfDay::covering(first.time, last.time),
        _ => TimesOfDay::ALL,
    };
    let warm = oldest + WARM_UP;
    let (from, to, source, version) = match &production {
        Some(model) => (
            model.train_start.max(warm),
            Bound::Included(model.train_end),
            "production_model_training_window",
            Some(model.version),
        ),
        None => (
            warm,
            // Never the current window's own rows.
            current
                .first()
                .map_or(Bound::Unbounded, |row| Bound::Excluded(row.time)),
            "before_current_window",
            None,
        ),
    };
    let sampled = |times| WindowSpec::Sampled {
        from: Bound::Included(from),
        to,
        times,
        n: settings.reference_rows,
    };
    let mut reference = store.drift_rows(sampled(times)).await?;
    if (reference.len() as u64) < settings.min_rows && !times.is_all() {
        // Too few rows at these very minutes (a fast stream over a slower
        // history): the same hours instead.
        reference = store.drift_rows(sampled(times.whole_hours())).await?;
    }
    let (reference_scores, current_scores) = match version {
        Some(v) => (
            store.score_rows(v, false, settings.reference_rows).await?,
            store.score_rows(v, true, settings.current_rows).await?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Windows {
        reference_info: window_info(source, version, &reference),
        current_info: window_info(CURRENT_SOURCE, None, &current),
        reference,
        current,
        reference_scores,
        current_scores,
    })
}

/// The source name of the current window.
const CURRENT_SOURCE: &str = "newest_rows";

fn window_info(source: &str, model_version: Option<i32>, rows: &[DriftRow]) -> WindowInfo {
    WindowInfo {
        source: source.to_owned(),
        model_version,
        rows: rows.len(),
        start: rows.first().map(|r| r.time),
        end: rows.last().map(|r| r.time),
    }
}

/// The statistics of a check (pure: no store, no clock but `now`).
pub fn check(windows: &Windows, settings: &DriftSettings, now: DateTime<Utc>) -> DriftCheck {
    let started = Instant::now();
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
        started,
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
    started: Instant,
) -> DriftCheck {
    DriftCheck {
        report_id: Uuid::new_v4(),
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
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
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
                .map(|row| {
                    let value = if *name == "channel" {
                        &row.channel
                    } else {
                        &row.country
                    };
                    value.clone().unwrap_or_else(|| "(missing)".into())
                })
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

impl Worker for DriftChecker {
    const NAME: &'static str = "drift_checker";
}

impl Handles<CheckDrift> for DriftChecker {
    type Reply = DriftCheck;

    async fn handle(&mut self, _: &CheckDrift) -> Result<DriftCheck, ActorError> {
        let started = Instant::now();
        let windows = read_windows(&self.store, &self.settings).await?;
        let settings = self.settings.clone();
        // Sorting and binning thousands of values is CPU work: off the
        // actor thread, like training.
        let mut result =
            tokio::task::spawn_blocking(move || check(&windows, &settings, Utc::now()))
                .await
                .map_err(|e| ActorError::Failed(format!("drift check task failed: {e}")))?;
        result.duration_ms = started.elapsed().as_secs_f64() * 1e3;
        self.store
            .insert_drift_report(
                result.report_id,
                NewDriftReport {
                    checked_at: result.timestamp,
                    status: result.status.as_str().to_owned(),
                    dataset_drift: result.dataset_drift_detected,
                    drift_share: result.dataset_drift_share,
                    num_features_checked: result.num_features_checked as i32,
                    num_features_drifted: result.num_features_drifted as i32,
                    reference_rows: result.reference_rows as i64,
                    current_rows: result.current_rows as i64,
                    details: serde_json::to_value(&result)
                        .map_err(|e| ActorError::Failed(format!("drift report: {e}")))?,
                },
            )
            .await?;
        record_metrics(&self.metrics, &result, started.elapsed());
        if result.dataset_drift_detected {
            tracing::warn!(share = result.dataset_drift_share, features = ?result.drifted_features, "dataset drift detected");
            self.maybe_retrain();
        }
        Ok(result)
    }
}

/// Drift rows of a simulated stream from `start` to `end`, in time order,
/// with every amount from `shift.0` on multiplied by `shift.1` before the
/// features are computed: the data of the drift tests and benchmark.
pub fn simulated_rows(
    synth: &SynthConfig,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    shift: (DateTime<Utc>, f64),
) -> Vec<DriftRow> {
    let (shift_from, factor) = shift;
    let mut generator = Generator::new(synth.clone(), start, synth.natural_rate_per_sec());
    let mut events = Vec::new();
    let mut transactions = std::collections::HashMap::new();
    while let Some(event) = generator.next_before(end) {
        match event {
            SynthEvent::Transaction {
                mut transaction, ..
            } => {
                if transaction.timestamp >= shift_from {
                    transaction.amount *= factor;
                }
                transactions.insert(transaction.transaction_id, transaction.clone());
                events.push(HistoryEvent::Transaction(transaction));
            }
            SynthEvent::Label(label) => events.push(HistoryEvent::Label(label)),
        }
    }
    // compute_history returns the rows in processing (time) order.
    compute_history(&FeatureConfig::default(), events)
        .into_iter()
        .map(|(id, features)| {
            let t = &transactions[&id];
            DriftRow {
                time: t.timestamp,
                features,
                country: t.country.clone(),
                channel: t.channel.map(|c| c.as_str().to_owned()),
            }
        })
        .collect()
}

/// Windows of `rows`, for checks outside the store (tests, benchmarks).
pub fn windows_of(reference: Vec<DriftRow>, current: Vec<DriftRow>) -> Windows {
    Windows {
        reference_info: window_info("before_current_window", None, &reference),
        current_info: window_info(CURRENT_SOURCE, None, &current),
        reference,
        current,
        reference_scores: Vec::new(),
        current_scores: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    /// Five weekdays of a 500-holder population, amounts multiplied by
    /// `factor` on the last day. Reference: days two to four (the first
    /// day warms up the 24-hour windows); current: the last day — whole
    /// days, so the time of day is comparable.
    fn windows(factor: f64) -> Windows {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap(); // a Monday
        let shift_from = start + TimeDelta::days(4);
        let config = SynthConfig {
            users: 500,
            merchants: 200,
            ..SynthConfig::default()
        };
        let day = |n| start + TimeDelta::days(n);
        let rows = simulated_rows(&config, start, day(5), (shift_from, factor));
        let (reference, rest): (Vec<DriftRow>, Vec<DriftRow>) = rows
            .into_iter()
            .partition(|r| r.time >= day(1) && r.time < day(4));
        let current = rest.into_iter().filter(|r| r.time >= shift_from).collect();
        windows_of(reference, current)
    }

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
        let check = check(&windows(3.0), &DriftSettings::default(), Utc::now());
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
        let check = check(&windows(1.0), &DriftSettings::default(), Utc::now());

        assert_eq!(check.status, DriftStatus::Ok);
        assert!(!check.dataset_drift_detected);
        assert!(
            check.drifted_features.is_empty(),
            "{:?}",
            check.drifted_features
        );
    }

    /// The value of one sample in Prometheus text, e.g.
    /// `fraud_drift_current_mean{feature="amount"}`.
    fn sample(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("{series} not exported:\n{text}"))
            .parse()
            .unwrap()
    }

    #[test]
    fn a_check_publishes_its_count_and_both_windows_means() {
        let check = check(&windows(3.0), &DriftSettings::default(), Utc::now());
        let metrics = Metrics::new();
        record_metrics(&metrics, &check, Duration::from_millis(5));
        let text = metrics.render();
        assert_eq!(
            sample(&text, "fraud_drift_features_drifted"),
            check.num_features_drifted as f64
        );
        assert!(check.num_features_drifted >= 1);
        let amount = check
            .feature_details
            .iter()
            .find(|f| f.feature == "amount")
            .unwrap();
        let reference = sample(&text, "fraud_drift_reference_mean{feature=\"amount\"}");
        let current = sample(&text, "fraud_drift_current_mean{feature=\"amount\"}");
        assert_eq!(Some(reference), amount.reference_mean);
        assert_eq!(Some(current), amount.current_mean);
        // Amounts were tripled in the current window.
        assert!(current > 2.0 * reference, "{reference} -> {current}");
        // Categorical features have no mean to publish.
        assert!(!text.contains("fraud_drift_current_mean{feature=\"channel\"}"));
    }

    #[test]
    fn a_check_without_a_verdict_keeps_the_last_gauges() {
        let metrics = Metrics::new();
        let drifted = check(&windows(3.0), &DriftSettings::default(), Utc::now());
        record_metrics(&metrics, &drifted, Duration::from_millis(5));
        let mut few = windows(1.0);
        few.current.truncate(20);
        let empty = check(&few, &DriftSettings::default(), Utc::now());
        record_metrics(&metrics, &empty, Duration::from_millis(5));
        let text = metrics.render();
        assert_eq!(
            sample(&text, "fraud_drift_features_drifted"),
            drifted.num_features_drifted as f64
        );
        assert_eq!(
            sample(&text, "fraud_drift_check_duration_seconds_count"),
            2.0
        );
    }

    #[test]
    fn too_little_data_is_a_status_not_a_verdict() {
        let mut few = windows(1.0);
        few.current.truncate(20);
        let check = check(&few, &DriftSettings::default(), Utc::now());
        assert_eq!(check.status, DriftStatus::InsufficientData);
        assert!(!check.dataset_drift_detected);
        assert!(check.message.as_deref().unwrap().contains("20"));
        assert!(check.feature_details.is_empty());
    }
}

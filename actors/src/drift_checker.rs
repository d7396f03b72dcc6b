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

use chrono::Utc;
use uuid::Uuid;
pub use vigil_core::drift::check::{
    CATEGORICAL_FEATURES, DriftCheck, DriftSettings, DriftStatus, NUMERIC_FEATURES, WindowInfo,
    Windows,
};
use vigil_core::drift::check::{CURRENT_SOURCE, check, window_info};
use vigil_core::drift::simulated::windows_of;
use vigil_core::drift::windows::{TimesOfDay, WARM_UP, current_floor};

use crate::error::ActorError;
use crate::messages::{CheckDrift, Retrain};
use crate::metrics::Metrics;
use crate::store::{NewDriftReport, Store, WindowSpec};
use crate::supervisor::{Factory, Link, Processes, Worker};

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
        Arc::new(move |_| {
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

impl Worker for DriftChecker {
    const NAME: &'static str = "drift_checker";
    type Kept = ();
}

impl Processes<CheckDrift> for DriftChecker {
    type Reply = DriftCheck;

    async fn handle(&mut self, _: &CheckDrift) -> Result<DriftCheck, ActorError> {
        let started = Instant::now();
        let windows = read_windows(&self.store, &self.settings).await?;
        let settings = self.settings.clone();
        // Sorting and binning thousands of values is CPU work: off the
        // actor thread, like training.
        let mut result = tokio::task::spawn_blocking(move || {
            check(&windows, &settings, Utc::now(), Uuid::new_v4())
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::drift::simulated::shifted_week as windows;

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
        let check = check(
            &windows(3.0),
            &DriftSettings::default(),
            Utc::now(),
            Uuid::nil(),
        );
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
        let drifted = check(
            &windows(3.0),
            &DriftSettings::default(),
            Utc::now(),
            Uuid::nil(),
        );
        record_metrics(&metrics, &drifted, Duration::from_millis(5));
        let mut few = windows(1.0);
        few.current.truncate(20);
        let empty = check(&few, &DriftSettings::default(), Utc::now(), Uuid::nil());
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
}

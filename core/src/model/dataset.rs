//! Labelled rows and the time-ordered train/test split.
//!
//! Fraud labels arrive late (chargebacks), so the split mimics deployment:
//! only rows whose label delay has passed are used at all; the newest of
//! them are the test window; the training window ends one label delay
//! before the test window starts, because a model trained today has only
//! seen labels that are at least that old when it meets new traffic.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::features::FeatureVector;

/// One transaction's features and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledRow {
    pub transaction_id: Uuid,
    pub user_id: String,
    pub time: DateTime<Utc>,
    pub features: FeatureVector,
    pub is_fraud: bool,
}

/// How to split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitConfig {
    /// Gap between training and test windows; also how old a row must be
    /// for its label to count as known.
    pub label_delay: TimeDelta,
    /// Share of the labelled time span used for testing.
    pub test_fraction: f64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            label_delay: TimeDelta::days(7),
            test_fraction: 0.25,
        }
    }
}

/// A time window, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Training and test rows, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Vec<LabeledRow>,
    pub test: Vec<LabeledRow>,
    pub train_window: Window,
    pub test_window: Window,
}

/// Why the data cannot be split into something worth training on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    #[error("no transaction is older than the label delay of {0}")]
    NoMatureRows(String),
    #[error(
        "the {window} window has {rows} rows and {frauds} frauds; at least {min_rows} rows with {min_frauds} frauds are needed"
    )]
    TooSmall {
        window: &'static str,
        rows: usize,
        frauds: usize,
        min_rows: usize,
        min_frauds: usize,
    },
}

/// Fewest rows and frauds a window needs: fewer frauds make every metric
/// noise.
pub const MIN_ROWS: usize = 200;
pub const MIN_FRAUDS: usize = 10;

/// Splits `rows` as of `now` (the newest event time, for simulated or
/// replayed history the end of the data).
pub fn time_split(
    mut rows: Vec<LabeledRow>,
    now: DateTime<Utc>,
    config: &SplitConfig,
) -> Result<Split, SplitError> {
    let labels_known_until = now - config.label_delay;
    rows.retain(|r| r.time <= labels_known_until);
    rows.sort_by_key(|r| (r.time, r.transaction_id));
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Err(SplitError::NoMatureRows(format!(
            "{} days",
            config.label_delay.num_days()
        )));
    };
    let (first, last) = (first.time, last.time);
    let span = (last - first).as_seconds_f64();
    let test_start = last - TimeDelta::milliseconds((span * config.test_fraction * 1e3) as i64);
    let train_end = test_start - config.label_delay;
    let test_from = rows.partition_point(|r| r.time < test_start);
    let test = rows.split_off(test_from);
    rows.retain(|r| r.time < train_end);
    check_size("training", &rows)?;
    check_size("test", &test)?;
    Ok(Split {
        train_window: window_of(&rows),
        test_window: window_of(&test),
        train: rows,
        test,
    })
}

fn check_size(window: &'static str, rows: &[LabeledRow]) -> Result<(), SplitError> {
    let frauds = rows.iter().filter(|r| r.is_fraud).count();
    if rows.len() < MIN_ROWS || frauds < MIN_FRAUDS {
        return Err(SplitError::TooSmall {
            window,
            rows: rows.len(),
            frauds,
            min_rows: MIN_ROWS,
            min_frauds: MIN_FRAUDS,
        });
    }
    Ok(())
}

fn window_of(rows: &[LabeledRow]) -> Window {
    Window {
        start: rows.first().map_or(DateTime::UNIX_EPOCH, |r| r.time),
        end: rows.last().map_or(DateTime::UNIX_EPOCH, |r| r.time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row per hour for `days` days, every 10th a fraud.
    fn hourly(days: i64) -> Vec<LabeledRow> {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        (0..days * 24)
            .map(|h| LabeledRow {
                transaction_id: Uuid::from_u128(h as u128),
                user_id: format!("u{}", h % 7),
                time: start + TimeDelta::hours(h),
                features: FeatureVector::default(),
                is_fraud: h % 10 == 0,
            })
            .collect()
    }

    #[test]
    fn windows_are_ordered_with_a_label_delay_gap_and_no_unlabelled_rows() {
        let rows = hourly(48);
        let now = rows.last().unwrap().time;
        let config = SplitConfig::default();
        let split = time_split(rows, now, &config).unwrap();
        // 48 days hourly, the last 7 not yet labelled: hours 0–983 usable;
        // the newest quarter of that span (245.75 h) is tested, hours
        // 738–983; training ends 7 days before 737.25 h, at hour 569.
        assert!(split.test_window.end <= now - config.label_delay);
        assert!(split.train_window.end + config.label_delay < split.test_window.start);
        assert_eq!(split.test.len(), 983 - 738 + 1);
        assert_eq!(split.train.len(), 570);
        assert!(split.train.windows(2).all(|w| w[0].time <= w[1].time));
    }

    #[test]
    fn too_little_history_is_a_clear_error() {
        let rows = hourly(8);
        let now = rows.last().unwrap().time;
        let err = time_split(rows, now, &SplitConfig::default()).unwrap_err();
        assert!(matches!(err, SplitError::TooSmall { .. }), "{err}");
        let err = time_split(Vec::new(), now, &SplitConfig::default()).unwrap_err();
        assert_eq!(err, SplitError::NoMatureRows("7 days".into()));
    }
}

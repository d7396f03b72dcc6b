//! Summary statistics of the windows a check compares, per monitored
//! feature: what `GET /drift/stats` shows beside the verdicts.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::check::{CATEGORICAL_FEATURES, DriftRow, NUMERIC_FEATURES, Windows};

/// Summary statistics of one numeric feature in one window; the
/// statistics are `null` when the window has no finite value.
#[derive(Debug, Serialize, ToSchema)]
pub struct NumericSummary {
    pub count: usize,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub p25: Option<f64>,
    pub median: Option<f64>,
    pub p75: Option<f64>,
    pub max: Option<f64>,
}

/// One numeric feature in both windows.
#[derive(Debug, Serialize, ToSchema)]
pub struct NumericWindows {
    pub reference: NumericSummary,
    pub current: NumericSummary,
}

/// One categorical feature's counts per category (`(missing)` for rows
/// without one) in both windows.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryWindows {
    pub reference: BTreeMap<String, u64>,
    pub current: BTreeMap<String, u64>,
}

/// The statistics of both windows, by feature name.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowStats {
    pub numeric: BTreeMap<String, NumericWindows>,
    pub categorical: BTreeMap<String, CategoryWindows>,
}

impl WindowStats {
    /// The summaries of every monitored feature in `windows`.
    pub fn of(windows: &Windows) -> WindowStats {
        let numeric = NUMERIC_FEATURES
            .iter()
            .map(|name| {
                let pick = |rows: &[DriftRow]| {
                    numeric_summary(
                        rows.iter()
                            .map(|r| r.features.get(name).unwrap_or(f64::NAN)),
                    )
                };
                let summaries = NumericWindows {
                    reference: pick(&windows.reference),
                    current: pick(&windows.current),
                };
                (name.to_string(), summaries)
            })
            .collect();
        let categorical = CATEGORICAL_FEATURES
            .iter()
            .map(|name| {
                let pick = |rows: &[DriftRow]| {
                    let mut counts = BTreeMap::<String, u64>::new();
                    for r in rows {
                        let value = r.category(name).unwrap_or("(missing)");
                        *counts.entry(value.to_owned()).or_default() += 1;
                    }
                    counts
                };
                let counts = CategoryWindows {
                    reference: pick(&windows.reference),
                    current: pick(&windows.current),
                };
                (name.to_string(), counts)
            })
            .collect();
        WindowStats {
            numeric,
            categorical,
        }
    }
}

fn numeric_summary(values: impl Iterator<Item = f64>) -> NumericSummary {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let quantile = |q: f64| (n > 0).then(|| v[((n - 1) as f64 * q).round() as usize]);
    let mean = (n > 0).then(|| v.iter().sum::<f64>() / n as f64);
    let std = mean.map(|m| (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt());
    NumericSummary {
        count: n,
        mean,
        std,
        min: v.first().copied(),
        p25: quantile(0.25),
        median: quantile(0.5),
        p75: quantile(0.75),
        max: v.last().copied(),
    }
}

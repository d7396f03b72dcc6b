//! Per-feature drift results and the dataset-level verdict.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::binning::{
    Buckets, categorical_counts, equal_width_edges, histogram_sorted, numeric_buckets,
};
use super::chi_square::chi_square_counts;
use super::jensen_shannon::js_buckets;
use super::ks::{KsMethod, ks_sorted};
use super::psi::psi_buckets;
use super::wasserstein::wasserstein_normed_sorted;
use super::{StatTest, clean_sorted, mean};

/// Share of drifted features at or above which the dataset has drifted
/// (Evidently's `drift_share` default).
pub const DEFAULT_DRIFT_SHARE: f64 = 0.5;

/// Number of equal-width bins of a numeric display histogram.
pub const HISTOGRAM_BINS: usize = 20;

/// Whether a feature holds numbers or categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    /// Numbers (`&[f64]`).
    Numeric,
    /// Labels (`&[impl AsRef<str>]`).
    Categorical,
}

/// Reference and current distributions of one feature, for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Histogram {
    /// [`HISTOGRAM_BINS`] equal-width bins over the pooled range of both
    /// windows (±0.5 around a constant), `[e_i, e_{i+1})` with the last bin
    /// closed; `edges` has one more entry than the counts. Empty when both
    /// windows are.
    Numeric {
        edges: Vec<f64>,
        reference_counts: Vec<u64>,
        current_counts: Vec<u64>,
    },
    /// The categories of both windows, most frequent in the reference
    /// first (ties: most frequent in current, then by name).
    Categorical {
        categories: Vec<String>,
        reference_counts: Vec<u64>,
        current_counts: Vec<u64>,
    },
}

impl Histogram {
    /// Counts of the reference window, one per bin or category.
    pub fn reference_counts(&self) -> &[u64] {
        match self {
            Histogram::Numeric {
                reference_counts, ..
            }
            | Histogram::Categorical {
                reference_counts, ..
            } => reference_counts,
        }
    }

    /// Counts of the current window, one per bin or category.
    pub fn current_counts(&self) -> &[u64] {
        match self {
            Histogram::Numeric { current_counts, .. }
            | Histogram::Categorical { current_counts, .. } => current_counts,
        }
    }
}

/// The drift check of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FeatureDrift {
    pub feature: String,
    pub kind: FeatureKind,
    /// Serialized as Evidently's name ("wasserstein", "ks", …).
    pub stattest: StatTest,
    /// The distance or p-value; `None` when it could not be computed (an
    /// empty window, or a test that does not apply — see `note`).
    pub drift_score: Option<f64>,
    pub threshold: f64,
    /// `stattest.is_drift_at(drift_score, threshold)`; false without a score.
    pub drift_detected: bool,
    /// Values used (after dropping NaN/±∞ for numeric features).
    pub reference_count: usize,
    pub current_count: usize,
    /// Means of the numeric values; `None` for categorical features and
    /// empty windows.
    pub reference_mean: Option<f64>,
    pub current_mean: Option<f64>,
    pub histogram: Histogram,
    /// Why there is no score, when there is none.
    pub note: Option<String>,
}

/// Drift check of a numeric feature. NaN and ±∞ are dropped from both
/// windows first; `threshold` defaults to `test.default_threshold()`.
/// Chi-square runs over Evidently's buckets (see [`super::binning`]).
pub fn feature_drift_numeric(
    name: &str,
    reference: &[f64],
    current: &[f64],
    test: StatTest,
    threshold: Option<f64>,
) -> FeatureDrift {
    let r = clean_sorted(reference);
    let c = clean_sorted(current);
    let histogram = numeric_histogram(&r, &c);
    let (score, note) = match empty_note(r.len(), c.len()) {
        Some(note) => (None, Some(note)),
        None => {
            let score = match test {
                StatTest::Wasserstein => wasserstein_normed_sorted(&r, &c),
                StatTest::Ks => ks_sorted(&r, &c, KsMethod::Auto).map(|k| k.p_value),
                StatTest::Psi => Some(psi_buckets(&numeric_buckets(&r, &c))),
                StatTest::JensenShannon => Some(js_buckets(&numeric_buckets(&r, &c))),
                StatTest::ChiSquare => {
                    let b = numeric_buckets(&r, &c);
                    chi_square_counts(&b.reference, &b.current).map(|x| x.p_value)
                }
            };
            (score, None)
        }
    };
    build(
        name,
        FeatureKind::Numeric,
        test,
        threshold,
        score,
        note,
        (r.len(), c.len()),
        (mean(&r), mean(&c)),
        histogram,
    )
}

/// Drift check of a categorical feature; `threshold` defaults to
/// `test.default_threshold()`. Wasserstein and KS do not apply: the result
/// then has no score and says so in `note`.
pub fn feature_drift_categorical<S: AsRef<str>>(
    name: &str,
    reference: &[S],
    current: &[S],
    test: StatTest,
    threshold: Option<f64>,
) -> FeatureDrift {
    let (categories, buckets) = categorical_counts(reference, current);
    let counts = (reference.len(), current.len());
    let (score, note) = if !test.applies_to(FeatureKind::Categorical) {
        (
            None,
            Some(format!("{test} does not apply to categorical features")),
        )
    } else if let Some(note) = empty_note(counts.0, counts.1) {
        (None, Some(note))
    } else {
        let score = match test {
            StatTest::Psi => Some(psi_buckets(&buckets)),
            StatTest::JensenShannon => Some(js_buckets(&buckets)),
            StatTest::ChiSquare => {
                chi_square_counts(&buckets.reference, &buckets.current).map(|x| x.p_value)
            }
            StatTest::Wasserstein | StatTest::Ks => None,
        };
        (score, None)
    };
    let histogram = categorical_histogram(categories, buckets);
    build(
        name,
        FeatureKind::Categorical,
        test,
        threshold,
        score,
        note,
        counts,
        (None, None),
        histogram,
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    name: &str,
    kind: FeatureKind,
    test: StatTest,
    threshold: Option<f64>,
    score: Option<f64>,
    mut note: Option<String>,
    (reference_count, current_count): (usize, usize),
    (reference_mean, current_mean): (Option<f64>, Option<f64>),
    histogram: Histogram,
) -> FeatureDrift {
    let threshold = threshold.unwrap_or(test.default_threshold());
    let score = match score {
        Some(s) if s.is_nan() => {
            note.get_or_insert_with(|| format!("{test} gave no value"));
            None
        }
        s => s,
    };
    FeatureDrift {
        feature: name.to_string(),
        kind,
        stattest: test,
        drift_score: score,
        threshold,
        drift_detected: score.is_some_and(|s| test.is_drift_at(s, threshold)),
        reference_count,
        current_count,
        reference_mean,
        current_mean,
        histogram,
        note,
    }
}

fn empty_note(reference: usize, current: usize) -> Option<String> {
    match (reference, current) {
        (0, 0) => Some("both windows are empty".to_string()),
        (0, _) => Some("reference window is empty".to_string()),
        (_, 0) => Some("current window is empty".to_string()),
        _ => None,
    }
}

fn numeric_histogram(r: &[f64], c: &[f64]) -> Histogram {
    if r.is_empty() && c.is_empty() {
        return Histogram::Numeric {
            edges: Vec::new(),
            reference_counts: Vec::new(),
            current_counts: Vec::new(),
        };
    }
    let edges = equal_width_edges(r, c, HISTOGRAM_BINS);
    Histogram::Numeric {
        reference_counts: histogram_sorted(r, &edges),
        current_counts: histogram_sorted(c, &edges),
        edges,
    }
}

fn categorical_histogram(categories: Vec<String>, buckets: Buckets) -> Histogram {
    let mut rows: Vec<(String, u64, u64)> = categories
        .into_iter()
        .zip(buckets.reference)
        .zip(buckets.current)
        .map(|((k, r), c)| (k, r, c))
        .collect();
    rows.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(b.2.cmp(&a.2))
            .then_with(|| a.0.cmp(&b.0))
    });
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (k, r, c) in rows {
        out.0.push(k);
        out.1.push(r);
        out.2.push(c);
    }
    Histogram::Categorical {
        categories: out.0,
        reference_counts: out.1,
        current_counts: out.2,
    }
}

/// Drift over a set of features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetDrift {
    pub features: Vec<FeatureDrift>,
    /// Features with a score (those without one are listed but not counted).
    pub num_features_checked: usize,
    pub num_features_drifted: usize,
    /// drifted / checked; 0 when nothing was checked.
    pub drift_share: f64,
    /// The share at or above which the dataset has drifted.
    pub share_threshold: f64,
    /// `num_features_checked > 0 && drift_share >= share_threshold`.
    pub dataset_drift: bool,
}

/// Dataset drift: the share of drifted features among those checked, and
/// whether it reaches `share_threshold` (Evidently: 0.5,
/// [`DEFAULT_DRIFT_SHARE`]; drift when `share >= threshold`).
pub fn dataset_drift(features: Vec<FeatureDrift>, share_threshold: f64) -> DatasetDrift {
    let checked = features.iter().filter(|f| f.drift_score.is_some()).count();
    let drifted = features.iter().filter(|f| f.drift_detected).count();
    let drift_share = if checked == 0 {
        0.0
    } else {
        drifted as f64 / checked as f64
    };
    DatasetDrift {
        features,
        num_features_checked: checked,
        num_features_drifted: drifted,
        drift_share,
        share_threshold,
        dataset_drift: checked > 0 && drift_share >= share_threshold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalish(n: usize, shift: f64) -> Vec<f64> {
        // Deterministic, roughly bell-shaped values.
        (0..n)
            .map(|i| {
                ((i * 7919 % 1000) as f64 / 1000.0 + (i * 104_729 % 997) as f64 / 997.0) + shift
            })
            .collect()
    }

    #[test]
    fn identical_windows_do_not_drift() {
        let a = normalish(1000, 0.0);
        for t in StatTest::ALL {
            let f = feature_drift_numeric("amount", &a, &a, t, None);
            assert!(!f.drift_detected, "{t}: {f:?}");
            assert!(f.drift_score.is_some(), "{t}");
            assert_eq!(f.note, None);
        }
        let cats = ["web", "pos", "pos", "atm"];
        for t in [StatTest::Psi, StatTest::JensenShannon, StatTest::ChiSquare] {
            let f = feature_drift_categorical("channel", &cats, &cats, t, None);
            assert!(!f.drift_detected, "{t}: {f:?}");
        }
    }

    #[test]
    fn shifted_windows_drift() {
        let a = normalish(2000, 0.0);
        let b = normalish(500, 1.0);
        for t in StatTest::ALL {
            let f = feature_drift_numeric("amount", &a, &b, t, None);
            assert!(f.drift_detected, "{t}: {f:?}");
        }
        let r: Vec<&str> = (0..400).map(|i| ["web", "pos", "atm"][i % 3]).collect();
        let c: Vec<&str> = (0..400)
            .map(|i| if i % 2 == 0 { "web" } else { "pos" })
            .collect();
        for t in [StatTest::Psi, StatTest::JensenShannon, StatTest::ChiSquare] {
            let f = feature_drift_categorical("channel", &r, &c, t, None);
            assert!(f.drift_detected, "{t}: {f:?}");
        }
    }

    #[test]
    fn empty_windows_give_a_note_not_a_panic() {
        for t in StatTest::ALL {
            let f = feature_drift_numeric("amount", &[1.0, 2.0], &[f64::NAN], t, None);
            assert_eq!(f.drift_score, None);
            assert!(!f.drift_detected);
            assert_eq!(f.note.as_deref(), Some("current window is empty"));
            assert_eq!(f.current_count, 0);
            assert_eq!(f.current_mean, None);
            let f = feature_drift_numeric("amount", &[], &[], t, None);
            assert_eq!(f.note.as_deref(), Some("both windows are empty"));
            assert_eq!(f.histogram.reference_counts(), &[] as &[u64]);
            let f = feature_drift_categorical::<&str>("channel", &[], &["web"], t, None);
            assert_eq!(f.drift_score, None);
            assert!(!f.drift_detected);
        }
    }

    #[test]
    fn inapplicable_test_is_reported() {
        let f = feature_drift_categorical("channel", &["a"], &["a"], StatTest::Ks, None);
        assert_eq!(f.drift_score, None);
        assert!(!f.drift_detected);
        assert_eq!(
            f.note.as_deref(),
            Some("ks does not apply to categorical features")
        );
    }

    #[test]
    fn nan_values_are_dropped() {
        let f = feature_drift_numeric(
            "x",
            &[1.0, f64::NAN, 3.0],
            &[2.0, f64::INFINITY],
            StatTest::Wasserstein,
            None,
        );
        assert_eq!((f.reference_count, f.current_count), (2, 1));
        assert_eq!(f.reference_mean, Some(2.0));
        assert_eq!(f.current_mean, Some(2.0));
        // |F_ref − F_cur| = 1/2 on [1, 3): distance 1, reference std 1.
        assert_eq!(f.drift_score, Some(1.0));
        assert!(f.drift_detected);
    }

    #[test]
    fn custom_threshold() {
        let f = feature_drift_numeric("x", &[1.0, 3.0], &[2.0], StatTest::Wasserstein, Some(1.5));
        assert_eq!(f.threshold, 1.5);
        assert!(!f.drift_detected);
    }

    #[test]
    fn histograms() {
        let f = feature_drift_numeric("x", &[0.0, 1.0, 2.0], &[10.0], StatTest::Ks, None);
        let Histogram::Numeric {
            edges,
            reference_counts,
            current_counts,
        } = &f.histogram
        else {
            panic!()
        };
        assert_eq!(edges.len(), HISTOGRAM_BINS + 1);
        assert_eq!((edges[0], edges[HISTOGRAM_BINS]), (0.0, 10.0));
        assert_eq!(reference_counts.iter().sum::<u64>(), 3);
        assert_eq!(current_counts[HISTOGRAM_BINS - 1], 1);
        // Constant pool: edges from x − 0.5 to x + 0.5.
        let f = feature_drift_numeric("x", &[5.0], &[5.0], StatTest::Psi, None);
        let Histogram::Numeric {
            edges,
            reference_counts,
            ..
        } = &f.histogram
        else {
            panic!()
        };
        assert_eq!((edges[0], edges[HISTOGRAM_BINS]), (4.5, 5.5));
        assert_eq!(reference_counts.iter().sum::<u64>(), 1);

        let f = feature_drift_categorical(
            "c",
            &["b", "a", "a", "c"],
            &["d", "b", "b"],
            StatTest::JensenShannon,
            None,
        );
        let Histogram::Categorical {
            categories,
            reference_counts,
            current_counts,
        } = &f.histogram
        else {
            panic!()
        };
        assert_eq!(categories, &["a", "b", "c", "d"]);
        assert_eq!(reference_counts, &[2, 1, 1, 0]);
        assert_eq!(current_counts, &[0, 2, 0, 1]);
    }

    #[test]
    fn serde_round_trip() {
        let f = feature_drift_categorical(
            "channel",
            &["web", "pos"],
            &["web"],
            StatTest::ChiSquare,
            None,
        );
        let g = feature_drift_numeric("amount", &[1.0, 2.0], &[], StatTest::Ks, None);
        let d = dataset_drift(vec![f, g], DEFAULT_DRIFT_SHARE);
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.contains("\"stattest\":\"chisquare\""));
        assert!(json.contains("\"kind\":\"categorical\""));
        let back: DatasetDrift = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn dataset_share() {
        let drifted =
            feature_drift_numeric("a", &[0.0, 1.0], &[5.0, 6.0], StatTest::Wasserstein, None);
        let same =
            feature_drift_numeric("b", &[0.0, 1.0], &[0.0, 1.0], StatTest::Wasserstein, None);
        let empty = feature_drift_numeric("c", &[0.0, 1.0], &[], StatTest::Wasserstein, None);
        let d = dataset_drift(vec![drifted.clone(), same.clone(), empty.clone()], 0.5);
        assert_eq!((d.num_features_checked, d.num_features_drifted), (2, 1));
        assert_eq!(d.drift_share, 0.5);
        assert!(d.dataset_drift, "share ≥ threshold is drift");
        let d = dataset_drift(vec![drifted, same.clone(), same], 0.5);
        assert!(!d.dataset_drift);
        let d = dataset_drift(vec![empty], 0.5);
        assert_eq!(
            (d.num_features_checked, d.drift_share, d.dataset_drift),
            (0, 0.0, false)
        );
        let d = dataset_drift(Vec::new(), 0.5);
        assert!(!d.dataset_drift);
    }
}

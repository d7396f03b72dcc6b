//! Drift statistics: compare a *reference* window of feature values with a
//! *current* one, per feature, and decide whether the data has drifted.
//!
//! The statistics reproduce SciPy, and the drift decisions Evidently's
//! stat tests of the same names; `fixtures/drift.json`, written by
//! `scripts/fixtures/drift.py` with SciPy and NumPy, holds the reference
//! values the tests match within 1e-6 (p-values included).
//!
//! | test | function | SciPy / Evidently equivalent | drift when |
//! | --- | --- | --- | --- |
//! | `wasserstein` | [`wasserstein_normed`] | `wasserstein_distance(r, c) / max(np.std(r), 0.001)` | score ≥ 0.1 |
//! | `ks` | [`ks_two_sample`] | `ks_2samp(r, c)` p-value (`method='auto'`) | p < 0.05 |
//! | `psi` | [`psi`], [`psi_categorical`] | Evidently `psi` (Sturges bins, zero fill) | score ≥ 0.1 |
//! | `jensenshannon` | [`jensen_shannon_distance`], [`jensen_shannon_distance_numeric`] | `distance.jensenshannon` of Evidently's bucket shares | score ≥ 0.1 |
//! | `chisquare` | [`chi_square`] | `chisquare(cur_counts, ref_counts · n_cur/n_ref)` p-value | p < 0.05 |
//!
//! Conventions shared by every function:
//!
//! - **Missing values.** NaN (and ±∞) numeric values are dropped before
//!   anything is computed; categorical values are taken as they are (an
//!   empty string is a category like any other).
//! - **Empty windows.** When either side has no value left, the
//!   statistics return `None`, and [`feature_drift_numeric`] /
//!   [`feature_drift_categorical`] return a [`FeatureDrift`] with no score,
//!   `drift_detected: false` and a `note`. Nothing panics.
//! - **Binning** (PSI, Jensen–Shannon, chi-square on a numeric feature):
//!   Evidently's `get_binned_data`, see [`binning`].
//! - **P-value tests** (`ks`, `chisquare`) detect drift when
//!   `p < threshold`; distance tests when `score >= threshold`, as
//!   Evidently does. (Evidently's `ks` alone uses `p <= threshold`; the
//!   two differ only at exact equality.)
//!
//! Special functions are implemented here ([`special`], [`kolmogorov`]):
//! no statistics crate is used.

pub mod binning;
pub mod check;
mod chi_square;
mod jensen_shannon;
mod kolmogorov;
mod ks;
mod psi;
mod report;
pub mod simulated;
mod special;
pub mod stats;
mod wasserstein;
pub mod windows;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use chi_square::{ChiSquareResult, chi_square, chi_square_counts};
pub use jensen_shannon::{
    jensen_shannon_distance, jensen_shannon_distance_numeric, jensen_shannon_probabilities,
};
pub use ks::{KS_MAX_AUTO_N, KsMethod, KsResult, ks_two_sample, ks_two_sample_with};
pub use psi::{psi, psi_categorical};
pub use report::{
    DEFAULT_DRIFT_SHARE, DatasetDrift, FeatureDrift, FeatureKind, HISTOGRAM_BINS, Histogram,
    dataset_drift, feature_drift_categorical, feature_drift_numeric,
};
pub use wasserstein::{WASSERSTEIN_STD_FLOOR, wasserstein_distance, wasserstein_normed};

/// A drift test, named as in Evidently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatTest {
    /// Wasserstein distance normed by the reference std (numeric only).
    Wasserstein,
    /// Two-sample Kolmogorov–Smirnov p-value (numeric only).
    Ks,
    /// Population Stability Index.
    Psi,
    /// Jensen–Shannon distance.
    JensenShannon,
    /// Chi-square goodness-of-fit p-value (categorical; on a numeric
    /// feature it runs over Evidently's buckets).
    ChiSquare,
}

impl StatTest {
    /// Every test.
    pub const ALL: [StatTest; 5] = [
        StatTest::Wasserstein,
        StatTest::Ks,
        StatTest::Psi,
        StatTest::JensenShannon,
        StatTest::ChiSquare,
    ];

    /// Evidently's stattest name: "wasserstein", "ks", "psi",
    /// "jensenshannon", "chisquare".
    pub fn name(self) -> &'static str {
        match self {
            StatTest::Wasserstein => "wasserstein",
            StatTest::Ks => "ks",
            StatTest::Psi => "psi",
            StatTest::JensenShannon => "jensenshannon",
            StatTest::ChiSquare => "chisquare",
        }
    }

    /// Evidently's default threshold: 0.1 for the distances (normed
    /// Wasserstein, PSI, Jensen–Shannon), 0.05 for the p-values.
    pub fn default_threshold(self) -> f64 {
        if self.is_p_value() { 0.05 } else { 0.1 }
    }

    /// Whether the score is a p-value (small means drift) rather than a
    /// distance (large means drift).
    pub fn is_p_value(self) -> bool {
        matches!(self, StatTest::Ks | StatTest::ChiSquare)
    }

    /// Drift at the default threshold.
    pub fn is_drift(self, score: f64) -> bool {
        self.is_drift_at(score, self.default_threshold())
    }

    /// Drift at `threshold`: `score < threshold` for p-values,
    /// `score >= threshold` for distances. A NaN score is never drift.
    pub fn is_drift_at(self, score: f64, threshold: f64) -> bool {
        if self.is_p_value() {
            score < threshold
        } else {
            score >= threshold
        }
    }

    /// Whether the test applies to features of `kind` (Wasserstein and KS
    /// need numbers).
    pub fn applies_to(self, kind: FeatureKind) -> bool {
        kind == FeatureKind::Numeric || !matches!(self, StatTest::Wasserstein | StatTest::Ks)
    }

    /// Evidently's choice for windows of more than 1,000 rows: normed
    /// Wasserstein for numeric features, Jensen–Shannon for categorical ones.
    pub fn default_for(kind: FeatureKind) -> StatTest {
        match kind {
            FeatureKind::Numeric => StatTest::Wasserstein,
            FeatureKind::Categorical => StatTest::JensenShannon,
        }
    }
}

impl fmt::Display for StatTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown stat-test name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stat test {0:?} (expected one of wasserstein, ks, psi, jensenshannon, chisquare)")]
pub struct UnknownStatTest(pub String);

impl FromStr for StatTest {
    type Err = UnknownStatTest;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StatTest::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownStatTest(s.to_string()))
    }
}

/// The finite values, sorted, with −0.0 turned into 0.0.
pub(crate) fn clean_sorted(values: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = values
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| x + 0.0)
        .collect();
    out.sort_unstable_by(f64::total_cmp);
    out
}

pub(crate) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// Population (ddof = 0) standard deviation, two-pass like `np.std`.
pub(crate) fn population_std(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    let var = values.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / values.len() as f64;
    Some(var.sqrt())
}

#[cfg(test)]
mod fixture_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in StatTest::ALL {
            assert_eq!(t.name().parse::<StatTest>(), Ok(t));
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.name())
            );
            assert_eq!(t.to_string(), t.name());
        }
        assert!("kolmogorov".parse::<StatTest>().is_err());
    }

    #[test]
    fn thresholds_and_decisions() {
        assert_eq!(StatTest::Wasserstein.default_threshold(), 0.1);
        assert_eq!(StatTest::Psi.default_threshold(), 0.1);
        assert_eq!(StatTest::JensenShannon.default_threshold(), 0.1);
        assert_eq!(StatTest::Ks.default_threshold(), 0.05);
        assert_eq!(StatTest::ChiSquare.default_threshold(), 0.05);
        // Distances: drift at or above the threshold.
        assert!(StatTest::Psi.is_drift(0.1));
        assert!(!StatTest::Psi.is_drift(0.099));
        // P-values: drift strictly below.
        assert!(StatTest::Ks.is_drift(0.049));
        assert!(!StatTest::Ks.is_drift(0.05));
        assert!(!StatTest::ChiSquare.is_drift_at(f64::NAN, 0.05));
        assert!(!StatTest::Wasserstein.is_drift_at(f64::NAN, 0.1));
    }

    #[test]
    fn applicability() {
        assert!(StatTest::Ks.applies_to(FeatureKind::Numeric));
        assert!(!StatTest::Ks.applies_to(FeatureKind::Categorical));
        assert!(!StatTest::Wasserstein.applies_to(FeatureKind::Categorical));
        assert!(StatTest::ChiSquare.applies_to(FeatureKind::Categorical));
        assert!(StatTest::Psi.applies_to(FeatureKind::Categorical));
    }

    #[test]
    fn cleaning() {
        assert_eq!(
            clean_sorted(&[3.0, f64::NAN, -0.0, f64::INFINITY, 1.0]),
            vec![0.0, 1.0, 3.0]
        );
        assert!(clean_sorted(&[-0.0])[0].is_sign_positive());
        assert_eq!(population_std(&[1.0, 3.0]), Some(1.0));
        assert_eq!(population_std(&[]), None);
    }
}

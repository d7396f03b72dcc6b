//! The metrics stored with a registered model version: its `metrics`
//! column, the training's report to its caller and the MLflow run's
//! `metrics.json`. Typed, so that renaming a metric is a compile error
//! rather than a `null` in a report.

use serde::{Deserialize, Serialize};

use super::metrics::Evaluation;
use super::training::TrainingReport;

/// A version's evaluation and what it was trained on, with the production
/// model's figures on the same test window when there was one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionMetrics {
    pub evaluation: Evaluation,
    /// The evaluation's ROC AUC, at the top level for queries and charts.
    pub roc_auc: Option<f64>,
    /// The evaluation's PR AUC (average precision), likewise.
    pub pr_auc: Option<f64>,
    pub train_rows: usize,
    pub train_frauds: usize,
    pub test_rows: usize,
    pub test_frauds: usize,
    /// Weight of a fraud row relative to a legitimate one.
    pub positive_weight: f64,
    pub train_seconds: f64,
    /// The production model on the same test window.
    pub champion: Option<ChampionMetrics>,
}

/// The production model's figures beside a candidate's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChampionMetrics {
    pub version: i32,
    pub pr_auc: Option<f64>,
    pub roc_auc: Option<f64>,
}

impl VersionMetrics {
    /// The metrics of a training, beside the champion's evaluation.
    pub fn new(report: &TrainingReport, champion: Option<(i32, &Evaluation)>) -> VersionMetrics {
        VersionMetrics {
            evaluation: report.evaluation.clone(),
            roc_auc: report.evaluation.roc_auc,
            pr_auc: report.evaluation.pr_auc,
            train_rows: report.train_rows,
            train_frauds: report.train_frauds,
            test_rows: report.test_rows,
            test_frauds: report.test_frauds,
            positive_weight: report.positive_weight,
            train_seconds: report.train_seconds,
            champion: champion.map(|(version, e)| ChampionMetrics {
                version,
                pr_auc: e.pr_auc,
                roc_auc: e.roc_auc,
            }),
        }
    }
}

//! Training: the Isolation Forest, then the classifier on the features
//! plus the anomaly score, then an evaluation on the held-out window.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::dataset::{LabeledRow, Split, SplitConfig, Window};
use super::decision::Thresholds;
use super::fraud_model::{FraudModel, INPUTS, ModelError};
use super::gbdt::{Gbdt, GbdtParams};
use super::iforest::{IsolationForest, IsolationForestParams};
use super::metrics::{self, CardScore, CurvePoint, Evaluation};
use crate::features::N;

/// Everything that decides what a training produces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainingParams {
    pub gbdt: GbdtParams,
    pub iforest: IsolationForestParams,
    pub split: SplitConfig,
    pub thresholds: Thresholds,
    /// k of Card Precision@k: cards an investigator checks per day.
    pub card_k: usize,
}

impl Default for TrainingParams {
    fn default() -> Self {
        TrainingParams {
            gbdt: GbdtParams::default(),
            iforest: IsolationForestParams::default(),
            split: SplitConfig::default(),
            thresholds: Thresholds::default(),
            card_k: 20,
        }
    }
}

/// Steps reported to a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Detector,
    Classifier,
    Evaluation,
}

/// What a training measured, kept in the registry with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingReport {
    pub evaluation: Evaluation,
    pub train_window: Window,
    pub test_window: Window,
    pub train_rows: usize,
    pub train_frauds: usize,
    pub test_rows: usize,
    pub test_frauds: usize,
    /// Weight of a fraud row relative to a legitimate one.
    pub positive_weight: f64,
    /// Importance per classifier input, strongest first.
    pub importance: Vec<(String, f64)>,
    pub roc_curve: Vec<CurvePoint>,
    pub pr_curve: Vec<CurvePoint>,
    pub train_seconds: f64,
}

/// A trained model and its report.
#[derive(Debug)]
pub struct Trained {
    pub model: FraudModel,
    pub report: TrainingReport,
}

/// Points kept per stored curve.
const CURVE_POINTS: usize = 200;

/// Trains both models on `split.train` and evaluates them on `split.test`.
pub fn train(
    split: &Split,
    params: &TrainingParams,
    progress: &mut dyn FnMut(Stage),
) -> Result<Trained, ModelError> {
    let started = Instant::now();
    let model = fit(&split.train, params, progress)?;
    let positive_weight = positive_weight(&split.train);
    let train_seconds = started.elapsed().as_secs_f64();

    progress(Stage::Evaluation);
    let scores = model.probabilities(&split.test.iter().map(|r| r.features).collect::<Vec<_>>());
    let evaluation = evaluate(&split.test, &scores, params);
    let test_labels: Vec<bool> = split.test.iter().map(|r| r.is_fraud).collect();
    let mut importance = model.importance();
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));
    let report = TrainingReport {
        evaluation,
        train_window: split.train_window,
        test_window: split.test_window,
        train_rows: split.train.len(),
        train_frauds: split.train.iter().filter(|r| r.is_fraud).count(),
        test_rows: split.test.len(),
        test_frauds: split.test.iter().filter(|r| r.is_fraud).count(),
        positive_weight,
        importance,
        roc_curve: metrics::thin(&metrics::roc_curve(&test_labels, &scores), CURVE_POINTS),
        pr_curve: metrics::thin(&metrics::pr_curve(&test_labels, &scores), CURVE_POINTS),
        train_seconds,
    };
    Ok(Trained { model, report })
}

/// Trains the Isolation Forest, then the classifier on the features plus
/// the anomaly score, on `rows` (no evaluation).
pub fn fit(
    rows: &[LabeledRow],
    params: &TrainingParams,
    progress: &mut dyn FnMut(Stage),
) -> Result<FraudModel, ModelError> {
    progress(Stage::Detector);
    let features: Vec<f64> = rows.iter().flat_map(|r| r.features.to_array()).collect();
    let detector = IsolationForest::fit(&features, N, &params.iforest)?;

    progress(Stage::Classifier);
    let anomaly = detector.score_all(&features);
    let inputs: Vec<f64> = features
        .chunks_exact(N)
        .zip(&anomaly)
        .flat_map(|(row, a)| row.iter().copied().chain(std::iter::once(*a)))
        .collect();
    let labels: Vec<f64> = rows
        .iter()
        .map(|r| f64::from(u8::from(r.is_fraud)))
        .collect();
    let positive_weight = positive_weight(rows);
    let weights: Vec<f64> = rows
        .iter()
        .map(|r| if r.is_fraud { positive_weight } else { 1.0 })
        .collect();
    let classifier = Gbdt::fit(&inputs, INPUTS, &labels, &weights, &params.gbdt)?;
    FraudModel::new(detector, classifier)
}

/// Evaluates `model` on `rows` (used for the champion on a challenger's
/// test window).
pub fn evaluate_model(
    model: &FraudModel,
    rows: &[LabeledRow],
    params: &TrainingParams,
) -> Evaluation {
    let scores = model.probabilities(&rows.iter().map(|r| r.features).collect::<Vec<_>>());
    evaluate(rows, &scores, params)
}

fn evaluate(rows: &[LabeledRow], scores: &[f64], params: &TrainingParams) -> Evaluation {
    let labels: Vec<bool> = rows.iter().map(|r| r.is_fraud).collect();
    let cards: Vec<CardScore> = rows
        .iter()
        .zip(scores)
        .map(|(r, s)| CardScore {
            day: r.time.timestamp().div_euclid(86_400),
            user: r.user_id.clone(),
            score: *s,
            is_fraud: r.is_fraud,
        })
        .collect();
    metrics::evaluate(
        &labels,
        scores,
        &cards,
        params.thresholds.review,
        params.thresholds.block,
        params.card_k,
    )
}

/// Frauds are about 1 in 100: unweighted, the trees barely split on them;
/// fully balanced (weight 100) the probabilities inflate a hundredfold and
/// REVIEW fires on anything slightly odd. The square root of the class
/// ratio is the usual middle ground.
fn positive_weight(rows: &[LabeledRow]) -> f64 {
    let frauds = rows.iter().filter(|r| r.is_fraud).count().max(1) as f64;
    let legit = (rows.len() as f64 - frauds).max(1.0);
    (legit / frauds).sqrt().max(1.0)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use smartcore::linalg::basic::arrays::Array;
    use smartcore::linalg::basic::matrix::DenseMatrix;
    use smartcore::linear::logistic_regression::{
        LogisticRegression, LogisticRegressionParameters,
    };

    use super::*;
    use crate::features::FeatureConfig;
    use crate::model::dataset::time_split;
    use crate::model::gates::{QualityGates, judge};
    use crate::model::simulate::simulate;
    use crate::synth::SynthConfig;

    /// 30 days of the default population (the history `cargo run`
    /// backfills), simulated once for all tests.
    fn month() -> &'static Split {
        static MONTH: std::sync::OnceLock<Split> = std::sync::OnceLock::new();
        MONTH.get_or_init(|| {
            let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
            let rows = simulate(
                &SynthConfig::default(),
                &FeatureConfig::default(),
                start,
                30,
            );
            let now = rows.last().unwrap().time;
            time_split(rows, now, &SplitConfig::default()).unwrap()
        })
    }

    /// The default model trained on [`month`], once.
    fn trained() -> &'static Trained {
        static TRAINED: std::sync::OnceLock<Trained> = std::sync::OnceLock::new();
        TRAINED.get_or_init(|| train(month(), &TrainingParams::default(), &mut |_| {}).unwrap())
    }

    /// A smartcore logistic regression on standardised features: the
    /// baseline a boosted model must beat to be worth its complexity.
    fn logistic_baseline(split: &Split) -> f64 {
        let columns = N;
        let to_rows = |rows: &[LabeledRow]| -> Vec<Vec<f64>> {
            rows.iter()
                .map(|r| r.features.to_array().to_vec())
                .collect()
        };
        let train = to_rows(&split.train);
        let (mean, std): (Vec<f64>, Vec<f64>) = (0..columns)
            .map(|c| {
                let n = train.len() as f64;
                let mean = train.iter().map(|r| r[c]).sum::<f64>() / n;
                let var = train.iter().map(|r| (r[c] - mean).powi(2)).sum::<f64>() / n;
                (mean, var.sqrt().max(1e-9))
            })
            .unzip();
        let scale = |rows: Vec<Vec<f64>>| -> Vec<Vec<f64>> {
            rows.into_iter()
                .map(|r| {
                    r.iter()
                        .enumerate()
                        .map(|(c, v)| (v - mean[c]) / std[c])
                        .collect()
                })
                .collect()
        };
        let x = DenseMatrix::from_2d_vec(&scale(train)).unwrap();
        let y: Vec<i32> = split.train.iter().map(|r| i32::from(r.is_fraud)).collect();
        let model =
            LogisticRegression::fit(&x, &y, LogisticRegressionParameters::default()).unwrap();
        // smartcore predicts classes, not probabilities: score with the
        // fitted linear function instead.
        let coefficients = model.coefficients();
        let intercept = *model.intercept().get((0, 0));
        let test = scale(to_rows(&split.test));
        let scores: Vec<f64> = test
            .iter()
            .map(|r| {
                intercept
                    + r.iter()
                        .enumerate()
                        .map(|(c, v)| v * coefficients.get((0, c)))
                        .sum::<f64>()
            })
            .collect();
        let labels: Vec<bool> = split.test.iter().map(|r| r.is_fraud).collect();
        metrics::average_precision(&labels, &scores).unwrap()
    }

    #[test]
    fn trained_model_passes_the_gates_by_a_wide_margin_and_beats_a_linear_baseline() {
        let split = month();
        let trained = trained();
        let e = &trained.report.evaluation;
        let (roc_auc, pr_auc) = (e.roc_auc.unwrap(), e.pr_auc.unwrap());
        eprintln!(
            "train {} rows ({} frauds), test {} rows ({} frauds): roc_auc {roc_auc:.4} pr_auc {pr_auc:.4} \
             recall@review {:.3} precision@review {:.3} recall@block {:.3} precision@block {:.3} cp@{} {:?} in {:.2}s",
            trained.report.train_rows,
            trained.report.train_frauds,
            trained.report.test_rows,
            trained.report.test_frauds,
            e.at_review.recall,
            e.at_review.precision,
            e.at_block.recall,
            e.at_block.precision,
            e.k,
            e.card_precision_at_k,
            trained.report.train_seconds,
        );
        let gates = QualityGates::default();
        assert!(pr_auc >= 2.0 * gates.min_pr_auc, "pr_auc {pr_auc}");
        assert!(
            e.at_review.recall >= 1.5 * gates.min_recall,
            "recall {}",
            e.at_review.recall
        );
        assert!(roc_auc > 0.9, "roc_auc {roc_auc}");
        assert!(judge(&gates, e, None).promote);

        let baseline = logistic_baseline(split);
        eprintln!("smartcore logistic regression pr_auc {baseline:.4}");
        assert!(pr_auc > baseline, "gbdt {pr_auc} vs logistic {baseline}");
    }

    #[test]
    fn a_worse_challenger_is_not_promoted_over_the_champion() {
        let split = month();
        let champion = trained();
        // Two stumps learn little: a clearly weaker model.
        let weak = TrainingParams {
            gbdt: GbdtParams {
                iterations: 2,
                max_depth: 1,
                ..GbdtParams::default()
            },
            ..TrainingParams::default()
        };
        let challenger = train(split, &weak, &mut |_| {}).unwrap();
        let champion_on_window =
            evaluate_model(&champion.model, &split.test, &TrainingParams::default());
        let verdict = judge(
            &QualityGates {
                min_pr_auc: 0.0,
                min_recall: 0.0,
            },
            &challenger.report.evaluation,
            Some(&champion_on_window),
        );
        assert!(!verdict.promote, "{}", verdict.reason);
        assert!(
            verdict.reason.contains("below the production model"),
            "{}",
            verdict.reason
        );
    }

    #[test]
    fn predictions_explain_themselves_and_survive_serialization() {
        let split = month();
        let trained = trained();
        let bytes = trained.model.to_bytes();
        let loaded = FraudModel::from_bytes(&bytes).unwrap();
        let fraud = split
            .test
            .iter()
            .find(|r| r.is_fraud && trained.model.probability(&r.features) > 0.7);
        let fraud = fraud.expect("some fraud is blocked");
        let prediction = loaded.predict(&fraud.features);
        // Contributions sum the trees' f32 leaf weights in another order.
        assert!(
            (prediction.fraud_probability - trained.model.probability(&fraud.features)).abs()
                < 1e-6
        );
        assert!(!prediction.risk_factors.is_empty());
        assert!(
            prediction
                .risk_factors
                .iter()
                .all(|f| f.contribution >= 0.1)
        );
        assert!(FraudModel::from_bytes(b"{}").is_err());
    }

    #[test]
    fn the_anomaly_score_is_a_classifier_input_that_the_trees_use() {
        let trained = trained();
        let importance: std::collections::HashMap<_, _> =
            trained.report.importance.iter().cloned().collect();
        assert_eq!(importance.len(), crate::model::fraud_model::INPUTS);
        assert!(
            importance["anomaly_score"] > 0.0,
            "{:?}",
            trained.report.importance
        );
        // The input row carries the detector's score as its last column.
        let row = &month().test[0];
        let inputs = trained.model.inputs(&row.features);
        assert_eq!(&inputs[..N], &row.features.to_array()[..]);
        assert!(inputs[N] > 0.0 && inputs[N] < 1.0);
    }
}

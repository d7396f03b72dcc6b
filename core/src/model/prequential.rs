//! Prequential evaluation (Le Borgne et al., *Reproducible Machine
//! Learning for Credit Card Fraud Detection*, ch. 5): several folds, each
//! training on a window of days, skipping a label delay, and testing on
//! the days that follow, the fold start moving forward by a step.
//!
//! A fold trains with the labels known when its model would go live (the
//! end of the delay window): with a delay at least as long as the real
//! label delay that is every label of the training window, otherwise the
//! frauds whose chargeback came too late count as legitimate, as they would
//! in production. Test transactions are judged by their final label.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::dataset::LabeledRow;
use super::fraud_model::ModelError;
use super::metrics;
use super::training::{TrainingParams, fit};
use crate::features::FeatureVector;

/// How the folds are laid out, in whole days from `start` (UTC midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoldPlan {
    /// First day of the first fold's training window.
    pub start: NaiveDate,
    pub train_days: u32,
    pub delay_days: u32,
    pub test_days: u32,
    pub folds: u32,
    /// Days between the starts of two consecutive folds.
    pub step_days: u32,
}

/// A half-open time span `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    /// Whether `t` is inside.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// One fold's windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fold {
    pub train: Span,
    /// Starts `delay_days` after the training window ends.
    pub test: Span,
}

/// Why a plan cannot be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("`{0}` must be at least 1")]
    Zero(&'static str),
    #[error(
        "fold {fold} ({start}): its training window has {rows} transactions and {frauds} known frauds; training needs both classes"
    )]
    Untrainable {
        fold: usize,
        start: NaiveDate,
        rows: usize,
        frauds: usize,
    },
    #[error("fold {fold} ({start}): no transaction in its test window")]
    EmptyTest { fold: usize, start: NaiveDate },
    #[error("fold {fold}: {source}")]
    Model { fold: usize, source: ModelError },
}

impl FoldPlan {
    /// The folds, oldest first.
    pub fn folds(&self) -> Result<Vec<Fold>, PlanError> {
        for (name, value) in [
            ("train-days", self.train_days),
            ("test-days", self.test_days),
            ("folds", self.folds),
            ("step-days", self.step_days),
        ] {
            if value == 0 {
                return Err(PlanError::Zero(name));
            }
        }
        let day = |n: u32| TimeDelta::days(i64::from(n));
        let origin = self
            .start
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc();
        Ok((0..self.folds)
            .map(|i| {
                let start = origin + day(i * self.step_days);
                let train_end = start + day(self.train_days);
                let test_start = train_end + day(self.delay_days);
                Fold {
                    train: Span {
                        start,
                        end: train_end,
                    },
                    test: Span {
                        start: test_start,
                        end: test_start + day(self.test_days),
                    },
                }
            })
            .collect())
    }
}

/// A stored transaction with its features, keyed by the evaluated entity
/// (the card, by default).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRow {
    pub transaction_id: Uuid,
    pub entity: String,
    pub time: DateTime<Utc>,
    pub features: FeatureVector,
}

/// A stored label with the time it became known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnownLabel {
    pub transaction_id: Uuid,
    pub is_fraud: bool,
    pub labeled_at: DateTime<Utc>,
}

/// The labels of a data set, in the order they became known.
#[derive(Debug, Clone)]
pub struct LabelHistory {
    labels: Vec<KnownLabel>,
    last: HashMap<Uuid, bool>,
}

impl LabelHistory {
    pub fn new(mut labels: Vec<KnownLabel>) -> LabelHistory {
        labels.sort_by_key(|l| l.labeled_at);
        let last = labels
            .iter()
            .map(|l| (l.transaction_id, l.is_fraud))
            .collect();
        LabelHistory { labels, last }
    }

    /// The newest verdict per transaction among the labels known at `at`
    /// (inclusive). A later label overturns an earlier one.
    fn known_at(&self, at: DateTime<Utc>) -> HashMap<Uuid, bool> {
        let known = self.labels.partition_point(|l| l.labeled_at <= at);
        self.labels[..known]
            .iter()
            .map(|l| (l.transaction_id, l.is_fraud))
            .collect()
    }

    /// The final verdict: unlabelled transactions are legitimate.
    pub fn is_fraud(&self, id: &Uuid) -> bool {
        self.last.get(id).copied().unwrap_or(false)
    }
}

/// One test day's Card Precision@k.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayPrecision {
    pub day: NaiveDate,
    /// Entities left to rank after the exclusions.
    pub candidates: usize,
    /// Compromised entities among the top k.
    pub hits: usize,
    pub precision: f64,
}

/// A scored test transaction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestScore {
    pub transaction_id: Uuid,
    pub score: f64,
}

/// What one fold measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldResult {
    pub fold: Fold,
    pub train_rows: usize,
    pub train_frauds: usize,
    pub test_rows: usize,
    pub test_frauds: usize,
    /// `None` when the test window lacks one of the classes.
    pub roc_auc: Option<f64>,
    pub average_precision: Option<f64>,
    /// Mean of the days' Card Precision@k.
    pub card_precision_at_k: f64,
    pub days: Vec<DayPrecision>,
    #[serde(skip)]
    pub scores: Vec<TestScore>,
}

/// A test transaction's score for Card Precision@k.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntityScore<'a> {
    pub entity: &'a str,
    pub time: DateTime<Utc>,
    pub score: f64,
    pub is_fraud: bool,
}

/// Card Precision@k per test day (ch. 4 of the book, with its removal of
/// known cards): each day the entities are ranked by their highest score
/// that day, and the day's precision is the share of truly compromised ones
/// among the top k (divided by k even when fewer entities are left: unused
/// investigation capacity counts against the model). Excluded from a day's
/// ranking are entities already known compromised when the day starts (a
/// fraud label known by then, see [`first_known_fraud`]) and entities
/// detected (compromised and in the top k) on earlier days of the fold.
/// Ties in score are broken by entity name, so that the result is
/// reproducible. Days are counted from `test_start`; days without any
/// transaction are left out.
pub fn card_precision_per_day(
    scores: &[EntityScore<'_>],
    test_start: DateTime<Utc>,
    known_compromised: &HashMap<&str, DateTime<Utc>>,
    k: usize,
) -> Vec<DayPrecision> {
    let mut by_day: BTreeMap<i64, HashMap<&str, (f64, bool)>> = BTreeMap::new();
    for s in scores {
        let entity = by_day
            .entry((s.time - test_start).num_days())
            .or_default()
            .entry(s.entity)
            .or_insert((f64::NEG_INFINITY, false));
        entity.0 = entity.0.max(s.score);
        entity.1 |= s.is_fraud;
    }
    let mut detected: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(by_day.len());
    for (day, entities) in by_day {
        let day_start = test_start + TimeDelta::days(day);
        let mut ranked: Vec<(&str, f64, bool)> = entities
            .into_iter()
            .filter(|(e, _)| !detected.contains(e))
            .filter(|(e, _)| known_compromised.get(e).is_none_or(|at| *at > day_start))
            .map(|(e, (score, fraud))| (e, score, fraud))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let hits: Vec<&str> = ranked
            .iter()
            .take(k)
            .filter(|(_, _, fraud)| *fraud)
            .map(|(e, _, _)| *e)
            .collect();
        out.push(DayPrecision {
            day: day_start.date_naive(),
            candidates: ranked.len(),
            hits: hits.len(),
            precision: hits.len() as f64 / k.max(1) as f64,
        });
        detected.extend(hits);
    }
    out
}

/// Entity → when its first fraud label became known (over every label:
/// which of them is known on a given day is decided by comparing times).
pub fn first_known_fraud<'a>(
    rows: &'a [EvalRow],
    labels: &LabelHistory,
) -> HashMap<&'a str, DateTime<Utc>> {
    let frauds: HashMap<Uuid, DateTime<Utc>> = labels
        .labels
        .iter()
        .rev()
        .filter(|l| l.is_fraud)
        .map(|l| (l.transaction_id, l.labeled_at))
        .collect();
    let mut known: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for r in rows {
        if let Some(at) = frauds.get(&r.transaction_id) {
            let first = known.entry(r.entity.as_str()).or_insert(*at);
            *first = (*first).min(*at);
        }
    }
    known
}

/// What a fold needs besides its windows: the rows in time order, the
/// labels, and who was known compromised when.
pub struct EvalData<'a> {
    pub rows: &'a [EvalRow],
    pub labels: &'a LabelHistory,
    pub known_compromised: &'a HashMap<&'a str, DateTime<Utc>>,
}

impl EvalData<'_> {
    fn window(&self, span: Span) -> &[EvalRow] {
        let from = self.rows.partition_point(|r| r.time < span.start);
        let to = self.rows.partition_point(|r| r.time < span.end);
        &self.rows[from..to]
    }
}

/// Trains on the fold's training window (labels known at the end of its
/// delay window), scores its test window and measures it. `index` counts
/// folds from 0, for messages.
pub fn evaluate_fold(
    index: usize,
    fold: Fold,
    data: &EvalData<'_>,
    params: &TrainingParams,
    k: usize,
) -> Result<FoldResult, PlanError> {
    let start = fold.train.start.date_naive();
    let known = data.labels.known_at(fold.test.start);
    let train: Vec<LabeledRow> = data
        .window(fold.train)
        .iter()
        .map(|r| LabeledRow {
            transaction_id: r.transaction_id,
            user_id: r.entity.clone(),
            time: r.time,
            features: r.features,
            is_fraud: known.get(&r.transaction_id).copied().unwrap_or(false),
        })
        .collect();
    let train_frauds = train.iter().filter(|r| r.is_fraud).count();
    if train_frauds == 0 || train_frauds == train.len() {
        return Err(PlanError::Untrainable {
            fold: index + 1,
            start,
            rows: train.len(),
            frauds: train_frauds,
        });
    }
    let test = data.window(fold.test);
    if test.is_empty() {
        return Err(PlanError::EmptyTest {
            fold: index + 1,
            start,
        });
    }
    let model = fit(&train, params, &mut |_| {}).map_err(|source| PlanError::Model {
        fold: index + 1,
        source,
    })?;
    let features: Vec<FeatureVector> = test.iter().map(|r| r.features).collect();
    let mut result = measure(fold, test, &model.probabilities(&features), data, k);
    result.train_rows = train.len();
    result.train_frauds = train_frauds;
    Ok(result)
}

/// The metrics of `scores` on the `test` rows (training counts left at 0).
pub fn measure(
    fold: Fold,
    test: &[EvalRow],
    scores: &[f64],
    data: &EvalData<'_>,
    k: usize,
) -> FoldResult {
    let truth: Vec<bool> = test
        .iter()
        .map(|r| data.labels.is_fraud(&r.transaction_id))
        .collect();
    let entity_scores: Vec<EntityScore<'_>> = test
        .iter()
        .zip(scores)
        .zip(&truth)
        .map(|((r, score), is_fraud)| EntityScore {
            entity: &r.entity,
            time: r.time,
            score: *score,
            is_fraud: *is_fraud,
        })
        .collect();
    let days = card_precision_per_day(&entity_scores, fold.test.start, data.known_compromised, k);
    FoldResult {
        fold,
        train_rows: 0,
        train_frauds: 0,
        test_rows: test.len(),
        test_frauds: truth.iter().filter(|f| **f).count(),
        roc_auc: metrics::roc_auc(&truth, scores),
        average_precision: metrics::average_precision(&truth, scores),
        card_precision_at_k: days.iter().map(|d| d.precision).sum::<f64>()
            / days.len().max(1) as f64,
        days,
        scores: test
            .iter()
            .zip(scores)
            .map(|(r, score)| TestScore {
                transaction_id: r.transaction_id,
                score: *score,
            })
            .collect(),
    }
}

/// Mean and sample standard deviation (`None` below two values), as pandas
/// reports them in the book's tables.
pub fn mean_std(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.len() > 1)
        .then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (Some(mean), std)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn folds_move_by_the_step_and_skip_the_delay() {
        let plan = FoldPlan {
            start: NaiveDate::from_ymd_opt(2018, 4, 1).unwrap(),
            train_days: 7,
            delay_days: 7,
            test_days: 7,
            folds: 3,
            step_days: 7,
        };
        let folds = plan.folds().unwrap();
        assert_eq!(folds.len(), 3);
        assert_eq!(folds[0].train.start, at("2018-04-01T00:00:00Z"));
        assert_eq!(folds[0].train.end, at("2018-04-08T00:00:00Z"));
        assert_eq!(folds[0].test.start, at("2018-04-15T00:00:00Z"));
        assert_eq!(folds[0].test.end, at("2018-04-22T00:00:00Z"));
        assert_eq!(folds[2].train.start, at("2018-04-15T00:00:00Z"));
        assert_eq!(folds[2].test.end, at("2018-05-06T00:00:00Z"));
        assert!(folds[0].train.contains(at("2018-04-07T23:59:59Z")));
        assert!(!folds[0].train.contains(at("2018-04-08T00:00:00Z")));
        let zero = FoldPlan { folds: 0, ..plan };
        assert!(matches!(zero.folds(), Err(PlanError::Zero("folds"))));
    }

    fn score<'a>(entity: &'a str, time: &str, score: f64, is_fraud: bool) -> EntityScore<'a> {
        EntityScore {
            entity,
            time: at(time),
            score,
            is_fraud,
        }
    }

    /// Three test days, k = 2, worked out by hand:
    /// - day 1: a 0.9 (fraud on another transaction), b 0.8, c 0.7 (fraud);
    ///   d is known compromised since before the day (label at day-1 08:00
    ///   … day start is 00:00, so it is known only from day 2). Top 2: a, b
    ///   → a is compromised (max over its day: one fraud) → 1/2; a detected.
    /// - day 2: a 0.99 (detected on day 1: excluded), d 0.95 (known since
    ///   day 1 08:00: excluded), c 0.6 (fraud), e 0.5 → top 2 c, e → 1/2.
    /// - day 3: c (detected on day 2) is excluded although it scores 0.9;
    ///   h 0.3, then f 0.1 and g 0.1 (fraud) tie and the tie is broken by
    ///   name: top 2 h, f → 0/2.
    #[test]
    fn card_precision_per_day_excludes_known_and_detected_entities() {
        let scores = [
            score("a", "2018-04-15T01:00:00Z", 0.9, false),
            score("a", "2018-04-15T02:00:00Z", 0.2, true),
            score("b", "2018-04-15T03:00:00Z", 0.8, false),
            score("c", "2018-04-15T04:00:00Z", 0.7, true),
            score("d", "2018-04-15T05:00:00Z", 0.1, false),
            score("a", "2018-04-16T01:00:00Z", 0.99, true),
            score("d", "2018-04-16T02:00:00Z", 0.95, true),
            score("c", "2018-04-16T03:00:00Z", 0.6, true),
            score("e", "2018-04-16T04:00:00Z", 0.5, false),
            score("c", "2018-04-17T00:00:00Z", 0.9, true),
            score("h", "2018-04-17T04:00:00Z", 0.3, false),
            score("g", "2018-04-17T05:00:00Z", 0.1, true),
            score("f", "2018-04-17T06:00:00Z", 0.1, false),
        ];
        let known: HashMap<&str, DateTime<Utc>> =
            HashMap::from([("d", at("2018-04-15T08:00:00Z"))]);
        let days = card_precision_per_day(&scores, at("2018-04-15T00:00:00Z"), &known, 2);
        let got: Vec<(String, usize, usize)> = days
            .iter()
            .map(|d| (d.day.to_string(), d.candidates, d.hits))
            .collect();
        assert_eq!(
            got,
            [
                ("2018-04-15".into(), 4, 1),
                ("2018-04-16".into(), 2, 1),
                ("2018-04-17".into(), 3, 0),
            ]
        );
        assert_eq!(days[0].precision, 0.5);
        // Day 3 alone without c, k = 3: h, f, g → 1/3.
        let wide = card_precision_per_day(&scores[10..], at("2018-04-15T00:00:00Z"), &known, 3);
        assert_eq!((wide[0].hits, wide[0].candidates), (1, 3));
        assert!((wide[0].precision - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn the_first_fraud_label_marks_an_entity_and_later_labels_overturn_earlier_ones() {
        let id = |n: u128| Uuid::from_u128(n);
        let row = |n: u128, entity: &str| EvalRow {
            transaction_id: id(n),
            entity: entity.into(),
            time: at("2018-04-01T00:00:00Z"),
            features: FeatureVector::default(),
        };
        let rows = [row(1, "a"), row(2, "a"), row(3, "b")];
        let label = |n: u128, is_fraud: bool, when: &str| KnownLabel {
            transaction_id: id(n),
            is_fraud,
            labeled_at: at(when),
        };
        let history = LabelHistory::new(vec![
            label(2, true, "2018-04-09T00:00:00Z"),
            label(1, true, "2018-04-08T00:00:00Z"),
            label(3, true, "2018-04-05T00:00:00Z"),
            label(3, false, "2018-04-06T00:00:00Z"),
        ]);
        let known = first_known_fraud(&rows, &history);
        assert_eq!(known["a"], at("2018-04-08T00:00:00Z"));
        assert_eq!(known["b"], at("2018-04-05T00:00:00Z"));
        assert!(history.is_fraud(&id(1)));
        assert!(!history.is_fraud(&id(3)), "the analyst overturned it");
        let at_7th = history.known_at(at("2018-04-07T00:00:00Z"));
        assert_eq!(at_7th.get(&id(1)), None);
        assert_eq!(at_7th.get(&id(3)), Some(&false));
    }

    /// `fixtures/prequential.json`, written by
    /// `scripts/fixtures/prequential.py`: scikit-learn's ROC-AUC and AP and
    /// an independent Card Precision@k with exclusions, on the same scores.
    #[test]
    fn measure_matches_scikit_learn_and_the_reference_card_precision() {
        #[derive(serde::Deserialize)]
        struct Row {
            entity: String,
            time: i64,
            score: f64,
            fraud: u8,
        }
        #[derive(serde::Deserialize)]
        struct Day {
            candidates: usize,
            hits: usize,
        }
        #[derive(serde::Deserialize)]
        struct Fixture {
            test_start: i64,
            k: usize,
            rows: Vec<Row>,
            known: HashMap<String, i64>,
            roc_auc: f64,
            average_precision: f64,
            days: Vec<Day>,
        }
        let f: Fixture = serde_json::from_str(include_str!("fixtures/prequential.json")).unwrap();
        let time = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let rows: Vec<EvalRow> = f
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| EvalRow {
                transaction_id: Uuid::from_u128(i as u128),
                entity: r.entity.clone(),
                time: time(r.time),
                features: FeatureVector::default(),
            })
            .collect();
        // Final labels only: they come after the window.
        let labels = LabelHistory::new(
            f.rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.fraud == 1)
                .map(|(i, _)| KnownLabel {
                    transaction_id: Uuid::from_u128(i as u128),
                    is_fraud: true,
                    labeled_at: time(f.test_start + 30 * 86_400),
                })
                .collect(),
        );
        let known: HashMap<&str, DateTime<Utc>> = f
            .known
            .iter()
            .map(|(e, t)| (e.as_str(), time(*t)))
            .collect();
        let data = EvalData {
            rows: &rows,
            labels: &labels,
            known_compromised: &known,
        };
        let test = Span {
            start: time(f.test_start),
            end: time(f.test_start + 5 * 86_400),
        };
        let fold = Fold { train: test, test };
        let scores: Vec<f64> = f.rows.iter().map(|r| r.score).collect();
        let result = measure(fold, &rows, &scores, &data, f.k);
        assert!((result.roc_auc.unwrap() - f.roc_auc).abs() < 1e-12);
        assert!((result.average_precision.unwrap() - f.average_precision).abs() < 1e-12);
        let got: Vec<(usize, usize)> = result.days.iter().map(|d| (d.candidates, d.hits)).collect();
        let expected: Vec<(usize, usize)> = f.days.iter().map(|d| (d.candidates, d.hits)).collect();
        assert_eq!(got, expected);
        assert!(expected.iter().any(|d| d.1 > 0) && expected.iter().any(|d| d.1 < f.k));
        assert_eq!(
            result.test_frauds,
            f.rows.iter().filter(|r| r.fraud == 1).count()
        );
    }

    #[test]
    fn mean_and_sample_std() {
        assert_eq!(mean_std(&[]), (None, None));
        assert_eq!(mean_std(&[0.5]), (Some(0.5), None));
        let (mean, std) = mean_std(&[1.0, 2.0, 4.0]);
        assert!((mean.unwrap() - 7.0 / 3.0).abs() < 1e-12);
        // Σ(x−m)² = 16/9 + 1/9 + 25/9 = 42/9; /2 = 7/3.
        assert!((std.unwrap() - (7.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}

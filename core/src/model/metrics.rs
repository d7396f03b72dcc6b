//! Evaluation metrics for the binary fraud classifier.
//!
//! The ranking metrics ([`roc_auc`], [`average_precision`], the curves) are
//! defined to agree with scikit-learn's (`roc_auc_score`,
//! `average_precision_score`, `roc_curve(drop_intermediate=False)`,
//! `precision_recall_curve`), so numbers reported by Vigil can be checked
//! against a notebook; the tests hold them to sklearn's output within 1e-9.
//! All of them come from one table of cumulative counts per distinct score,
//! built with one sort, so tied scores always move together: a threshold can
//! only flag all rows of a tie or none of them.
//!
//! Invalid input never panics. Labels and scores of different lengths, or a
//! NaN score (it has no rank, and sklearn refuses it too), make the ranking
//! metrics `None` and the curves empty; [`Confusion::at_threshold`] then
//! counts nothing. Metrics that divide by an empty class are `None` rather
//! than NaN so that they serialize and compare cleanly.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// How many points of a curve are kept for storage by default (see
/// [`thin`]): enough for a smooth plot, small enough for a model record.
pub const STORED_CURVE_POINTS: usize = 200;

/// The threshold recorded for a curve's starting point, where no row is
/// flagged. sklearn uses +∞, but JSON cannot hold infinities (serde_json
/// writes `null` and then fails to read it back), so the largest finite
/// double stands in: no probability reaches it.
pub const ABOVE_ALL_SCORES: f64 = f64::MAX;

/// One point of a ROC or precision-recall curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// False-positive rate (ROC) or recall (PR).
    pub x: f64,
    /// True-positive rate (ROC) or precision (PR).
    pub y: f64,
    /// Rows with `score >= threshold` are flagged at this point.
    pub threshold: f64,
}

/// Cumulative counts at each distinct score, highest score first: the table
/// sklearn's `_binary_clf_curve` builds. Entry `i` counts the rows with
/// `score >= thresholds[i]`.
struct Ranked {
    thresholds: Vec<f64>,
    tps: Vec<u64>,
    fps: Vec<u64>,
}

impl Ranked {
    /// `None` for input no ranking can be read from: mismatched lengths or
    /// a NaN score.
    fn new(labels: &[bool], scores: &[f64]) -> Option<Ranked> {
        if labels.len() != scores.len() || scores.iter().any(|s| s.is_nan()) {
            return None;
        }
        let mut rows: Vec<(f64, bool)> =
            scores.iter().copied().zip(labels.iter().copied()).collect();
        // total_cmp orders -0.0 just below 0.0, so the two stay adjacent and
        // the `==` grouping below still treats them as one tie.
        rows.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        let mut ranked = Ranked {
            thresholds: Vec::new(),
            tps: Vec::new(),
            fps: Vec::new(),
        };
        let (mut tp, mut fp) = (0u64, 0u64);
        for tie in rows.chunk_by(|a, b| a.0 == b.0) {
            let positives = tie.iter().filter(|r| r.1).count() as u64;
            tp += positives;
            fp += tie.len() as u64 - positives;
            ranked.thresholds.push(tie[0].0);
            ranked.tps.push(tp);
            ranked.fps.push(fp);
        }
        Some(ranked)
    }

    fn positives(&self) -> u64 {
        self.tps.last().copied().unwrap_or(0)
    }

    fn negatives(&self) -> u64 {
        self.fps.last().copied().unwrap_or(0)
    }

    fn roc_auc(&self) -> Option<f64> {
        let (p, n) = (self.positives(), self.negatives());
        if p == 0 || n == 0 {
            return None;
        }
        // Trapezoids in integer counts: a tie that holds both classes is a
        // diagonal step, i.e. it counts each of its (positive, negative)
        // pairs as half-correct, exactly like sklearn. Twice the area fits
        // u128 for any input that fits in memory, and dividing once at the
        // end avoids accumulating rounding error over 100k steps.
        let mut twice_area: u128 = 0;
        let (mut prev_tp, mut prev_fp) = (0u64, 0u64);
        for (&tp, &fp) in self.tps.iter().zip(&self.fps) {
            twice_area += u128::from(fp - prev_fp) * u128::from(tp + prev_tp);
            (prev_tp, prev_fp) = (tp, fp);
        }
        Some(twice_area as f64 / (2.0 * p as f64 * n as f64))
    }

    fn average_precision(&self) -> Option<f64> {
        let p = self.positives();
        if p == 0 {
            return None;
        }
        // Step-wise, not trapezoidal: interpolating precision between
        // thresholds overstates it (sklearn's reason for the same choice).
        let mut sum = 0.0;
        let mut prev_tp = 0u64;
        for (&tp, &fp) in self.tps.iter().zip(&self.fps) {
            if tp > prev_tp {
                sum += (tp - prev_tp) as f64 * (tp as f64 / (tp + fp) as f64);
            }
            prev_tp = tp;
        }
        Some(sum / p as f64)
    }

    fn roc_curve(&self) -> Vec<CurvePoint> {
        let (p, n) = (self.positives(), self.negatives());
        if p == 0 || n == 0 {
            return Vec::new();
        }
        let mut points = Vec::with_capacity(self.thresholds.len() + 1);
        points.push(CurvePoint {
            x: 0.0,
            y: 0.0,
            threshold: ABOVE_ALL_SCORES,
        });
        for i in 0..self.thresholds.len() {
            points.push(CurvePoint {
                x: self.fps[i] as f64 / n as f64,
                y: self.tps[i] as f64 / p as f64,
                threshold: self.thresholds[i],
            });
        }
        points
    }

    fn pr_curve(&self) -> Vec<CurvePoint> {
        let p = self.positives();
        if p == 0 {
            return Vec::new();
        }
        let mut points = Vec::with_capacity(self.thresholds.len() + 1);
        // sklearn's conventional end point (recall 0, precision 1), which
        // makes the step integral of the curve equal average precision.
        points.push(CurvePoint {
            x: 0.0,
            y: 1.0,
            threshold: ABOVE_ALL_SCORES,
        });
        for i in 0..self.thresholds.len() {
            let (tp, fp) = (self.tps[i], self.fps[i]);
            points.push(CurvePoint {
                x: tp as f64 / p as f64,
                y: tp as f64 / (tp + fp) as f64,
                threshold: self.thresholds[i],
            });
        }
        points
    }
}

/// Area under the ROC curve, as sklearn's `roc_auc_score`: the probability
/// that a random fraud outscores a random legitimate row, ties counting
/// half. `None` when either class is absent (the rate on that axis is
/// undefined), on mismatched lengths or on a NaN score.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    Ranked::new(labels, scores)?.roc_auc()
}

/// Average precision, as sklearn's `average_precision_score`: the sum over
/// distinct scores, highest first, of (Rₙ − Rₙ₋₁)·Pₙ. This is the "PR AUC"
/// reported by Vigil. `None` when there is no positive (recall is
/// undefined), on mismatched lengths or on a NaN score.
pub fn average_precision(labels: &[bool], scores: &[f64]) -> Option<f64> {
    Ranked::new(labels, scores)?.average_precision()
}

/// The ROC curve, as sklearn's `roc_curve(..., drop_intermediate=False)`:
/// x is the false-positive rate and y the true-positive rate, one point per
/// distinct score in decreasing order, after a starting point (0, 0) at
/// threshold [`ABOVE_ALL_SCORES`]. Empty when either class is absent, on
/// mismatched lengths or on a NaN score. Use [`thin`] before storing it.
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Vec<CurvePoint> {
    Ranked::new(labels, scores).map_or_else(Vec::new, |r| r.roc_curve())
}

/// The precision-recall curve, the points of sklearn's
/// `precision_recall_curve` in order of increasing recall (sklearn lists
/// them the other way): x is recall and y precision, first (0, 1) at
/// threshold [`ABOVE_ALL_SCORES`], then one point per distinct score in
/// decreasing order. Empty when there is no positive, on mismatched lengths
/// or on a NaN score. Use [`thin`] before storing it.
pub fn pr_curve(labels: &[bool], scores: &[f64]) -> Vec<CurvePoint> {
    Ranked::new(labels, scores).map_or_else(Vec::new, |r| r.pr_curve())
}

/// At most `max` points of `points`, evenly spaced by index and always
/// including the first and the last (so a ROC curve still runs from (0, 0)
/// to (1, 1)). Spacing by index keeps an equal share of the distinct
/// thresholds between kept points, so detail stays where the scores are
/// dense. `max` 0 gives nothing and 1 only the first point.
pub fn thin(points: &[CurvePoint], max: usize) -> Vec<CurvePoint> {
    let n = points.len();
    if n <= max {
        return points.to_vec();
    }
    match max {
        0 => Vec::new(),
        1 => vec![points[0].clone()],
        // n > max, so consecutive indices differ by at least one: no point
        // is taken twice.
        _ => (0..max)
            .map(|i| points[i * (n - 1) / (max - 1)].clone())
            .collect(),
    }
}

/// The confusion matrix at one threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    /// False negatives (`fn` is a Rust keyword; the JSON name is `fn`).
    #[serde(rename = "fn")]
    pub fn_: u64,
}

impl Confusion {
    /// Counts with a row predicted fraudulent when `score >= threshold`, so
    /// a NaN score is never flagged. Mismatched lengths count nothing (all
    /// zeros) rather than silently pairing a prefix.
    pub fn at_threshold(labels: &[bool], scores: &[f64], threshold: f64) -> Confusion {
        let mut c = Confusion::default();
        if labels.len() != scores.len() {
            return c;
        }
        for (&fraud, &score) in labels.iter().zip(scores) {
            match (fraud, score >= threshold) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (false, false) => c.tn += 1,
                (true, false) => c.fn_ += 1,
            }
        }
        c
    }

    /// TP / (TP + FP); 0 when nothing is flagged (sklearn's
    /// `zero_division=0`), so an idle threshold never looks perfect.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// TP / (TP + FN); 0 when there is no fraud (sklearn's
    /// `zero_division=0`).
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// The harmonic mean of precision and recall, computed as
    /// 2·TP / (2·TP + FP + FN), which is the same number without the
    /// 0/0 of precision or recall; 0 when that denominator is 0.
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// One scored transaction for [`card_precision_at_k`].
#[derive(Debug, Clone, PartialEq)]
pub struct CardScore {
    /// The day the transaction belongs to (e.g. days since the epoch): the
    /// unit in which investigators work through alerts.
    pub day: i64,
    /// The card, i.e. [`Transaction::user_id`](crate::Transaction): a
    /// String like the domain's identifier, so callers need no interning or
    /// hashing (and no risk of collisions); only equality matters.
    pub user: String,
    pub score: f64,
    pub is_fraud: bool,
}

/// Card Precision@k (Le Borgne et al., *Reproducible Machine Learning for
/// Credit Card Fraud Detection*, ch. 4): investigators can check k cards a
/// day, so what matters is how many of the k most suspicious cards were
/// really compromised. For each day, a card's score is its highest score
/// that day and it counts as compromised when it had at least one fraud
/// that day; the day's precision is (compromised cards among the top k) / k
/// and the result is the mean over the days present in `rows`.
///
/// Choices:
/// - A day with fewer than k cards is still divided by k, as in the book:
///   the unused investigation capacity counts against the model.
/// - Ties at the cut-off are taken in expectation over a random order
///   (sklearn's treatment of ties in AUC, in spirit): if 3 cards tie for the
///   last 2 places and 1 of them is compromised, that day gains 2/3. The
///   book's pandas sort breaks such ties arbitrarily; taking the expectation
///   keeps the result deterministic and neither optimistic nor pessimistic.
///   A constant-score model thus gets the base rate, not 0 or 1.
/// - Cards detected on earlier days are *not* removed from later days. The
///   book's code does that by default (`remove_detected_compromised_cards`);
///   this is its variant without removal, which depends on no investigation
///   history.
///
/// `None` when there is no row, when `k` is 0, or on a NaN score.
pub fn card_precision_at_k(rows: &[CardScore], k: usize) -> Option<f64> {
    if rows.is_empty() || k == 0 || rows.iter().any(|r| r.score.is_nan()) {
        return None;
    }
    let mut per_card: HashMap<(i64, &str), (f64, bool)> = HashMap::with_capacity(rows.len());
    for r in rows {
        let card = per_card
            .entry((r.day, r.user.as_str()))
            .or_insert((r.score, false));
        card.0 = card.0.max(r.score);
        card.1 |= r.is_fraud;
    }
    let mut cards: Vec<(i64, f64, bool)> = per_card
        .into_iter()
        .map(|((day, _), (score, fraud))| (day, score, fraud))
        .collect();
    cards.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));

    let mut sum = 0.0;
    let mut days = 0usize;
    for day in cards.chunk_by(|a, b| a.0 == b.0) {
        let mut taken = 0usize;
        let mut hits = 0.0;
        for tie in day.chunk_by(|a, b| a.1 == b.1) {
            let room = k - taken;
            if room == 0 {
                break;
            }
            let frauds = tie.iter().filter(|c| c.2).count();
            if tie.len() <= room {
                hits += frauds as f64;
                taken += tie.len();
            } else {
                hits += frauds as f64 * room as f64 / tie.len() as f64;
                taken = k;
            }
        }
        sum += hits / k as f64;
        days += 1;
    }
    Some(sum / days as f64)
}

/// The operating point at one decision threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdMetrics {
    pub threshold: f64,
    pub confusion: Confusion,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl ThresholdMetrics {
    /// The confusion matrix at `threshold` (see [`Confusion::at_threshold`])
    /// with its derived rates, stored alongside so a reader of the JSON
    /// needs no arithmetic.
    pub fn at(labels: &[bool], scores: &[f64], threshold: f64) -> ThresholdMetrics {
        let confusion = Confusion::at_threshold(labels, scores, threshold);
        ThresholdMetrics {
            threshold,
            confusion,
            precision: confusion.precision(),
            recall: confusion.recall(),
            f1: confusion.f1(),
        }
    }
}

/// A model's evaluation on a held-out set, as stored with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Rows in the evaluation set (the length of `labels`).
    pub rows: u64,
    /// Fraudulent rows among them.
    pub positives: u64,
    /// See [`roc_auc`].
    pub roc_auc: Option<f64>,
    /// Average precision, see [`average_precision`].
    pub pr_auc: Option<f64>,
    /// At the REVIEW threshold.
    pub at_review: ThresholdMetrics,
    /// At the BLOCK threshold.
    pub at_block: ThresholdMetrics,
    /// See [`card_precision_at_k`].
    pub card_precision_at_k: Option<f64>,
    /// The k of `card_precision_at_k`.
    pub k: usize,
}

/// Every metric of an [`Evaluation`]. `labels[i]` and `scores[i]` describe
/// the same row; `cards` are the same rows keyed by day and card, for Card
/// Precision@k. Both ranking metrics share one sort, which is what makes
/// this affordable on 100k-row test sets. Mismatched lengths or NaN scores
/// leave the metrics that cannot be computed `None` or zero (see the module
/// documentation) instead of failing.
pub fn evaluate(
    labels: &[bool],
    scores: &[f64],
    cards: &[CardScore],
    review_threshold: f64,
    block_threshold: f64,
    k: usize,
) -> Evaluation {
    let ranked = Ranked::new(labels, scores);
    Evaluation {
        rows: labels.len() as u64,
        positives: labels.iter().filter(|&&l| l).count() as u64,
        roc_auc: ranked.as_ref().and_then(Ranked::roc_auc),
        pr_auc: ranked.as_ref().and_then(Ranked::average_precision),
        at_review: ThresholdMetrics::at(labels, scores, review_threshold),
        at_block: ThresholdMetrics::at(labels, scores, block_threshold),
        card_precision_at_k: card_precision_at_k(cards, k),
        k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-9;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= EPS
    }

    fn assert_close(actual: f64, expected: f64, what: &str) {
        assert!(
            close(actual, expected),
            "{what}: got {actual}, expected {expected}"
        );
    }

    fn bools(v: &[u8]) -> Vec<bool> {
        v.iter().map(|&b| b == 1).collect()
    }

    #[test]
    fn roc_auc_hand_computed() {
        // labels [1,0,1,0], scores [0.9,0.8,0.4,0.1]. Pairs (pos, neg):
        // (0.9,0.8) ✓ (0.9,0.1) ✓ (0.4,0.8) ✗ (0.4,0.1) ✓ → 3/4.
        let labels = bools(&[1, 0, 1, 0]);
        assert_eq!(roc_auc(&labels, &[0.9, 0.8, 0.4, 0.1]), Some(0.75));
        // Perfect and reversed rankings.
        assert_eq!(roc_auc(&labels, &[0.9, 0.1, 0.8, 0.2]), Some(1.0));
        assert_eq!(roc_auc(&labels, &[0.1, 0.9, 0.2, 0.8]), Some(0.0));
    }

    #[test]
    fn roc_auc_ties_count_half() {
        // labels [1,0,1,0], scores [0.5,0.5,0.4,0.1]. Pairs:
        // (0.5,0.5) tie ½, (0.5,0.1) ✓, (0.4,0.5) ✗, (0.4,0.1) ✓ → 2.5/4.
        let labels = bools(&[1, 0, 1, 0]);
        assert_eq!(roc_auc(&labels, &[0.5, 0.5, 0.4, 0.1]), Some(0.625));
        // A constant score ties every pair: ½.
        assert_eq!(roc_auc(&labels, &[0.3; 4]), Some(0.5));
        // -0.0 and 0.0 are the same score: one tie, ½.
        assert_eq!(roc_auc(&[true, false], &[-0.0, 0.0]), Some(0.5));
    }

    #[test]
    fn average_precision_hand_computed() {
        // labels [1,0,1,0], scores [0.9,0.8,0.4,0.1], highest first:
        // 0.9: TP1 FP0, R=½ P=1   → ½·1
        // 0.8: TP1 FP1, R=½        → no recall step
        // 0.4: TP2 FP1, R=1 P=⅔   → ½·⅔
        // AP = ½ + ⅓ = ⅚.
        let labels = bools(&[1, 0, 1, 0]);
        let ap = average_precision(&labels, &[0.9, 0.8, 0.4, 0.1]).unwrap();
        assert_close(ap, 5.0 / 6.0, "AP");
    }

    #[test]
    fn average_precision_groups_ties() {
        // labels [1,0,1,0], scores [0.5,0.5,0.4,0.1]: the tie at 0.5 is one
        // threshold, TP1 FP1, R=½ P=½ → ½·½; then 0.4: TP2 FP1, R=1 P=⅔
        // → ½·⅔. AP = ¼ + ⅓ = 7/12. Ranking row by row instead would give
        // ⅚ with the fraud first inside the tie and 7/12 with it second:
        // grouping makes the answer independent of row order.
        let labels = bools(&[1, 0, 1, 0]);
        let ap = average_precision(&labels, &[0.5, 0.5, 0.4, 0.1]).unwrap();
        assert_close(ap, 7.0 / 12.0, "AP");
        let swapped = average_precision(&bools(&[0, 1, 1, 0]), &[0.5, 0.5, 0.4, 0.1]).unwrap();
        assert_close(swapped, ap, "AP with the tie's rows swapped");
    }

    #[test]
    fn one_class_or_bad_input_gives_none() {
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.9]), None);
        assert_eq!(roc_auc(&[false, false], &[0.1, 0.9]), None);
        assert_eq!(roc_auc(&[], &[]), None);
        // AP needs positives only: all-positive is defined (precision 1).
        assert_eq!(average_precision(&[true, true], &[0.1, 0.9]), Some(1.0));
        assert_eq!(average_precision(&[false, false], &[0.1, 0.9]), None);
        assert_eq!(average_precision(&[], &[]), None);
        // Mismatched lengths and NaN.
        assert_eq!(roc_auc(&[true, false], &[0.1]), None);
        assert_eq!(roc_auc(&[true, false], &[f64::NAN, 0.2]), None);
        assert_eq!(average_precision(&[true, false], &[f64::NAN, 0.2]), None);
        assert!(roc_curve(&[true, true], &[0.1, 0.9]).is_empty());
        assert!(pr_curve(&[false], &[0.1]).is_empty());
        assert!(roc_curve(&[], &[]).is_empty());
        assert!(pr_curve(&[true], &[f64::NAN]).is_empty());
    }

    #[test]
    fn curves_hand_computed() {
        let labels = bools(&[1, 0, 1, 0]);
        let scores = [0.9, 0.8, 0.4, 0.1];
        let roc: Vec<(f64, f64, f64)> = roc_curve(&labels, &scores)
            .into_iter()
            .map(|p| (p.x, p.y, p.threshold))
            .collect();
        assert_eq!(
            roc,
            vec![
                (0.0, 0.0, ABOVE_ALL_SCORES),
                (0.0, 0.5, 0.9),
                (0.5, 0.5, 0.8),
                (0.5, 1.0, 0.4),
                (1.0, 1.0, 0.1),
            ]
        );
        let pr: Vec<(f64, f64, f64)> = pr_curve(&labels, &scores)
            .into_iter()
            .map(|p| (p.x, p.y, p.threshold))
            .collect();
        assert_eq!(
            pr,
            vec![
                (0.0, 1.0, ABOVE_ALL_SCORES),
                (0.5, 1.0, 0.9),
                (0.5, 0.5, 0.8),
                (1.0, 2.0 / 3.0, 0.4),
                (1.0, 0.5, 0.1),
            ]
        );
    }

    #[test]
    fn curve_points_round_trip_through_json() {
        let points = roc_curve(&bools(&[1, 0]), &[0.7, 0.2]);
        let json = serde_json::to_string(&points).unwrap();
        let back: Vec<CurvePoint> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, points);
    }

    #[test]
    fn thin_keeps_ends_and_bounds() {
        let points: Vec<CurvePoint> = (0..1000)
            .map(|i| CurvePoint {
                x: i as f64,
                y: 0.0,
                threshold: 0.0,
            })
            .collect();
        let thinned = thin(&points, STORED_CURVE_POINTS);
        assert_eq!(thinned.len(), STORED_CURVE_POINTS);
        assert_eq!(thinned.first(), points.first());
        assert_eq!(thinned.last(), points.last());
        assert!(thinned.windows(2).all(|w| w[0].x < w[1].x));
        assert_eq!(thin(&points[..5], 200), points[..5].to_vec());
        assert_eq!(
            thin(&points, 2),
            vec![points[0].clone(), points[999].clone()]
        );
        assert_eq!(thin(&points, 1), vec![points[0].clone()]);
        assert!(thin(&points, 0).is_empty());
        assert!(thin(&[], 10).is_empty());
        // n = max + 1: the tightest case, still no duplicate.
        let tight = thin(&points[..201], 200);
        assert_eq!(tight.len(), 200);
        assert!(tight.windows(2).all(|w| w[0].x < w[1].x));
    }

    #[test]
    fn confusion_hand_computed() {
        // labels [1,0,1,0,1], scores [0.9,0.8,0.4,0.1,0.5], threshold 0.5
        // (inclusive): flagged 0.9(1) 0.8(0) 0.5(1) → TP2 FP1; not flagged
        // 0.4(1) 0.1(0) → FN1 TN1. P=⅔ R=⅔ F1=4/6.
        let labels = bools(&[1, 0, 1, 0, 1]);
        let scores = [0.9, 0.8, 0.4, 0.1, 0.5];
        let c = Confusion::at_threshold(&labels, &scores, 0.5);
        assert_eq!(
            c,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 1,
                fn_: 1
            }
        );
        assert_close(c.precision(), 2.0 / 3.0, "precision");
        assert_close(c.recall(), 2.0 / 3.0, "recall");
        assert_close(c.f1(), 2.0 / 3.0, "f1");
        // Nothing flagged: precision and F1 are 0, not NaN.
        let none = Confusion::at_threshold(&labels, &scores, 0.95);
        assert_eq!((none.tp, none.fp, none.tn, none.fn_), (0, 0, 2, 3));
        assert_eq!(
            (none.precision(), none.recall(), none.f1()),
            (0.0, 0.0, 0.0)
        );
        // Empty, mismatched and NaN input.
        assert_eq!(Confusion::at_threshold(&[], &[], 0.5), Confusion::default());
        assert_eq!(Confusion::default().f1(), 0.0);
        assert_eq!(
            Confusion::at_threshold(&labels, &scores[..2], 0.5),
            Confusion::default()
        );
        let nan = Confusion::at_threshold(&[true], &[f64::NAN], 0.5);
        assert_eq!(nan.fn_, 1);
    }

    #[test]
    fn confusion_serializes_fn_field_as_fn() {
        let c = Confusion {
            tp: 1,
            fp: 2,
            tn: 3,
            fn_: 4,
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"tp":1,"fp":2,"tn":3,"fn":4}"#);
        assert_eq!(serde_json::from_str::<Confusion>(&json).unwrap(), c);
    }

    fn card(day: i64, user: u32, score: f64, is_fraud: bool) -> CardScore {
        CardScore {
            day,
            user: format!("u{user}"),
            score,
            is_fraud,
        }
    }

    #[test]
    fn card_precision_at_k_multi_day() {
        let rows = [
            // Day 1, card maxima: u1 0.9 (fraud on its *other* transaction),
            // u2 0.8 (legit), u3 0.7 (fraud), u4 0.2 (fraud).
            card(1, 1, 0.9, false),
            card(1, 1, 0.3, true),
            card(1, 2, 0.8, false),
            card(1, 2, 0.1, false),
            card(1, 3, 0.7, true),
            card(1, 4, 0.2, true),
            // Day 2: u1 is a different card-day; its day-1 fraud does not
            // carry over. Maxima: u1 0.95 legit, u5 0.6 fraud.
            card(2, 1, 0.95, false),
            card(2, 5, 0.6, true),
            card(2, 5, 0.4, false),
            // Day 3: one card only, fraudulent.
            card(3, 6, 0.5, true),
        ];
        // k = 2: day 1 top {u1 ✓, u2 ✗} → 1/2; day 2 {u1 ✗, u5 ✓} → 1/2;
        // day 3 {u6 ✓} but still divided by k → 1/2. Mean 1/2.
        assert_close(card_precision_at_k(&rows, 2).unwrap(), 0.5, "k=2");
        // k = 3: day 1 {u1 ✓, u2 ✗, u3 ✓} → 2/3; day 2 → 1/3; day 3 → 1/3.
        // Mean (2/3 + 1/3 + 1/3) / 3 = 4/9.
        assert_close(card_precision_at_k(&rows, 3).unwrap(), 4.0 / 9.0, "k=3");
        // k = 1: day 1 u1 ✓, day 2 u1 ✗, day 3 u6 ✓ → 2/3.
        assert_close(card_precision_at_k(&rows, 1).unwrap(), 2.0 / 3.0, "k=1");
        // Row order does not matter.
        let mut reversed = rows.to_vec();
        reversed.reverse();
        assert_close(
            card_precision_at_k(&reversed, 3).unwrap(),
            4.0 / 9.0,
            "reversed",
        );
    }

    #[test]
    fn card_precision_at_k_ties_at_cutoff_in_expectation() {
        // One day, u1 0.9 fraud, then u2/u3/u4 tie at 0.5 with one fraud
        // among them. k = 3: u1 ✓ plus 2 of the 3 tied places, expected
        // 2·(1/3) frauds → (1 + 2/3) / 3 = 5/9.
        let rows = [
            card(0, 1, 0.9, true),
            card(0, 2, 0.5, false),
            card(0, 3, 0.5, true),
            card(0, 4, 0.5, false),
        ];
        assert_close(card_precision_at_k(&rows, 3).unwrap(), 5.0 / 9.0, "tie");
        // A constant score gets the share of compromised cards.
        let flat = [card(0, 1, 0.1, true), card(0, 2, 0.1, false)];
        assert_close(card_precision_at_k(&flat, 1).unwrap(), 0.5, "constant");
    }

    #[test]
    fn card_precision_at_k_degenerate_input() {
        assert_eq!(card_precision_at_k(&[], 10), None);
        assert_eq!(card_precision_at_k(&[card(0, 1, 0.5, true)], 0), None);
        assert_eq!(card_precision_at_k(&[card(0, 1, f64::NAN, true)], 1), None);
    }

    #[test]
    fn evaluate_bundles_everything() {
        let labels = bools(&[1, 0, 1, 0]);
        let scores = [0.9, 0.8, 0.4, 0.1];
        let cards: Vec<CardScore> = labels
            .iter()
            .zip(&scores)
            .enumerate()
            .map(|(i, (&l, &s))| card(0, i as u32, s, l))
            .collect();
        let e = evaluate(&labels, &scores, &cards, 0.3, 0.85, 2);
        assert_eq!((e.rows, e.positives, e.k), (4, 2, 2));
        assert_eq!(e.roc_auc, Some(0.75));
        assert_close(e.pr_auc.unwrap(), 5.0 / 6.0, "pr_auc");
        assert_eq!(e.at_review.threshold, 0.3);
        assert_eq!((e.at_review.confusion.tp, e.at_review.confusion.fp), (2, 1));
        assert_eq!((e.at_block.confusion.tp, e.at_block.confusion.fp), (1, 0));
        assert_eq!(e.at_block.precision, 1.0);
        assert_eq!(e.at_block.recall, 0.5);
        // top 2 cards: 0.9 ✓, 0.8 ✗ → ½.
        assert_eq!(e.card_precision_at_k, Some(0.5));
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Evaluation>(&json).unwrap(), e);

        let empty = evaluate(&[], &[], &[], 0.3, 0.7, 10);
        assert_eq!((empty.rows, empty.roc_auc, empty.pr_auc), (0, None, None));
        assert_eq!(empty.card_precision_at_k, None);
        assert_eq!(empty.at_block.f1, 0.0);
    }

    /// One dataset of `fixtures/metrics.json`, written by
    /// `scripts/fixtures/model_metrics.py` with scikit-learn.
    #[derive(Deserialize)]
    struct Fixture {
        name: String,
        labels: Vec<u8>,
        scores: Vec<f64>,
        roc_auc: f64,
        average_precision: f64,
        at_threshold: Vec<FixtureThreshold>,
        roc_curve: Option<FixtureCurve>,
        pr_curve: Option<FixtureCurve>,
    }

    #[derive(Deserialize)]
    struct FixtureThreshold {
        threshold: f64,
        precision: f64,
        recall: f64,
        f1: f64,
    }

    #[derive(Deserialize)]
    struct FixtureCurve {
        x: Vec<f64>,
        y: Vec<f64>,
        /// sklearn's PR thresholds (ascending, one fewer than the points);
        /// absent for ROC, whose first one is +∞.
        thresholds: Option<Vec<f64>>,
    }

    fn fixtures() -> Vec<Fixture> {
        #[derive(Deserialize)]
        struct File {
            datasets: Vec<Fixture>,
        }
        let file: File = serde_json::from_str(include_str!("fixtures/metrics.json")).unwrap();
        assert!(file.datasets.len() >= 4);
        file.datasets
    }

    #[test]
    fn matches_scikit_learn_scores() {
        for f in fixtures() {
            let labels = bools(&f.labels);
            let name = &f.name;
            assert_close(
                roc_auc(&labels, &f.scores).unwrap(),
                f.roc_auc,
                &format!("{name} roc_auc"),
            );
            assert_close(
                average_precision(&labels, &f.scores).unwrap(),
                f.average_precision,
                &format!("{name} average_precision"),
            );
            for t in &f.at_threshold {
                let c = Confusion::at_threshold(&labels, &f.scores, t.threshold);
                let at = format!("{name} @{}", t.threshold);
                assert_close(c.precision(), t.precision, &format!("{at} precision"));
                assert_close(c.recall(), t.recall, &format!("{at} recall"));
                assert_close(c.f1(), t.f1, &format!("{at} f1"));
            }
        }
    }

    #[test]
    fn matches_scikit_learn_curves() {
        let mut compared = 0;
        for f in fixtures() {
            let labels = bools(&f.labels);
            if let Some(expected) = &f.roc_curve {
                let roc = roc_curve(&labels, &f.scores);
                assert_eq!(roc.len(), expected.x.len(), "{} ROC length", f.name);
                for (p, (x, y)) in roc.iter().zip(expected.x.iter().zip(&expected.y)) {
                    assert!(
                        close(p.x, *x) && close(p.y, *y),
                        "{} ROC {p:?} vs ({x}, {y})",
                        f.name
                    );
                }
                compared += 1;
            }
            if let Some(expected) = &f.pr_curve {
                // sklearn lists PR points by decreasing recall.
                let pr = pr_curve(&labels, &f.scores);
                assert_eq!(pr.len(), expected.x.len(), "{} PR length", f.name);
                let thresholds = expected.thresholds.as_ref().unwrap();
                for (i, p) in pr.iter().enumerate() {
                    let j = expected.x.len() - 1 - i;
                    let (x, y) = (expected.x[j], expected.y[j]);
                    assert!(
                        close(p.x, x) && close(p.y, y),
                        "{} PR {p:?} vs ({x}, {y})",
                        f.name
                    );
                    if i > 0 {
                        assert_eq!(p.threshold, thresholds[j], "{} PR threshold", f.name);
                    }
                }
                compared += 1;
            }
        }
        assert!(
            compared >= 4,
            "the fixture should hold curves for the small sets"
        );
    }

    #[test]
    fn roc_auc_matches_mann_whitney_on_100k_tied_rows() {
        // Fraud-test-set size with only 101 distinct scores: checks the
        // result against the pairwise definition computed on counts per
        // score, which is exact for any tie structure.
        let n = 100_000u64;
        let labels: Vec<bool> = (0..n)
            .map(|i| i.wrapping_mul(2_654_435_761) % 97 == 0)
            .collect();
        let scores: Vec<f64> = (0..n)
            .map(|i| {
                ((i.wrapping_mul(40_503) % 1000) as f64 / 1000.0
                    + if labels[i as usize] { 0.3 } else { 0.0 })
                .min(1.0)
            })
            .map(|s| (s * 100.0).round() / 100.0)
            .collect();
        let auc = roc_auc(&labels, &scores).unwrap();
        // Mann-Whitney on 101 score buckets: P(pos > neg) + ½ P(tie).
        let mut pos = [0u64; 101];
        let mut neg = [0u64; 101];
        for (&l, &s) in labels.iter().zip(&scores) {
            let b = (s * 100.0).round() as usize;
            if l { pos[b] += 1 } else { neg[b] += 1 }
        }
        let (p, q): (u64, u64) = (pos.iter().sum(), neg.iter().sum());
        let mut wins = 0.0;
        let mut below = 0u64;
        for b in 0..101 {
            wins += pos[b] as f64 * (below as f64 + neg[b] as f64 / 2.0);
            below += neg[b];
        }
        assert_close(auc, wins / (p as f64 * q as f64), "AUC vs Mann-Whitney");
        assert!(roc_curve(&labels, &scores).len() <= 102);
    }
}

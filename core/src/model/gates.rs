//! Quality gates and champion/challenger: whether a newly trained model may
//! replace the one in production.

use serde::{Deserialize, Serialize};

use super::metrics::Evaluation;

/// Minimum quality for production. Recall is measured at the REVIEW
/// threshold: that is where an analyst first sees a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityGates {
    pub min_pr_auc: f64,
    pub min_recall: f64,
}

impl Default for QualityGates {
    fn default() -> Self {
        QualityGates {
            min_pr_auc: 0.15,
            min_recall: 0.30,
        }
    }
}

/// The outcome of judging a challenger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub promote: bool,
    /// Why, in words an operator reads in `GET /models/{version}`.
    pub reason: String,
}

/// Judges `challenger` against the gates and, when there is one, the
/// production model evaluated on the same test window. "Not worse" means
/// a PR-AUC at least the champion's: PR-AUC is the metric that follows
/// what fraud teams care about under heavy class imbalance.
pub fn judge(
    gates: &QualityGates,
    challenger: &Evaluation,
    champion: Option<&Evaluation>,
) -> Verdict {
    let pr_auc = challenger.pr_auc.unwrap_or(0.0);
    let recall = challenger.at_review.recall;
    let mut failures = Vec::new();
    if pr_auc < gates.min_pr_auc {
        failures.push(format!("pr_auc {pr_auc:.4} < {:.4}", gates.min_pr_auc));
    }
    if recall < gates.min_recall {
        failures.push(format!("recall {recall:.4} < {:.4}", gates.min_recall));
    }
    if let Some(champion) = champion {
        let best = champion.pr_auc.unwrap_or(0.0);
        if pr_auc < best {
            failures.push(format!(
                "pr_auc {pr_auc:.4} below the production model's {best:.4} on the same test window"
            ));
        }
    }
    if failures.is_empty() {
        let against = match champion {
            Some(c) => format!(
                " and matches or beats production (pr_auc {:.4})",
                c.pr_auc.unwrap_or(0.0)
            ),
            None => String::new(),
        };
        Verdict {
            promote: true,
            reason: format!(
                "passes the quality gates (pr_auc {pr_auc:.4}, recall {recall:.4}){against}"
            ),
        }
    } else {
        Verdict {
            promote: false,
            reason: format!("not promoted: {}", failures.join("; ")),
        }
    }
}

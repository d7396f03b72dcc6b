//! The three-tier decision taken from a fraud probability.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What Vigil tells the payment flow to do with a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Decision {
    Approve,
    Review,
    Block,
}

impl Decision {
    /// Every decision, in increasing severity.
    pub const ALL: [Decision; 3] = [Decision::Approve, Decision::Review, Decision::Block];

    /// The name used in the API, the store and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "APPROVE",
            Decision::Review => "REVIEW",
            Decision::Block => "BLOCK",
        }
    }

    /// Parses [`Decision::as_str`] (case-insensitive).
    pub fn parse(name: &str) -> Option<Decision> {
        Decision::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }
}

/// Probability cut-offs: below `review` APPROVE, from `review` to `block`
/// REVIEW, above `block` BLOCK.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub review: f64,
    pub block: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            review: 0.3,
            block: 0.7,
        }
    }
}

impl Thresholds {
    /// The decision for a fraud probability.
    pub fn decide(&self, probability: f64) -> Decision {
        if probability > self.block {
            Decision::Block
        } else if probability >= self.review {
            Decision::Review
        } else {
            Decision::Approve
        }
    }

    /// Checks 0 ≤ review ≤ block ≤ 1.
    pub fn validate(&self) -> Result<(), String> {
        let ordered = 0.0 <= self.review && self.review <= self.block && self.block <= 1.0;
        if ordered {
            Ok(())
        } else {
            Err(format!(
                "thresholds must satisfy 0 <= review <= block <= 1, got review {} and block {}",
                self.review, self.block
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tiers_follow_the_design() {
        let t = Thresholds::default();
        assert_eq!(t.decide(0.0), Decision::Approve);
        assert_eq!(t.decide(0.299), Decision::Approve);
        assert_eq!(t.decide(0.3), Decision::Review);
        assert_eq!(t.decide(0.7), Decision::Review);
        assert_eq!(t.decide(0.701), Decision::Block);
    }

    #[test]
    fn names_round_trip() {
        for d in Decision::ALL {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
            assert_eq!(
                serde_json::to_string(&d).unwrap(),
                format!("\"{}\"", d.as_str())
            );
        }
        assert_eq!(Decision::parse("block"), Some(Decision::Block));
        assert_eq!(Decision::parse("deny"), None);
    }

    #[test]
    fn unordered_thresholds_are_rejected() {
        let bad = Thresholds {
            review: 0.8,
            block: 0.5,
        };
        assert!(bad.validate().is_err());
        assert!(Thresholds::default().validate().is_ok());
    }
}

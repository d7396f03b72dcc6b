//! Models: the gradient-boosted classifier, the Isolation Forest, how they
//! combine into one [`FraudModel`], how it is trained, evaluated, gated and
//! explained.
//!
//! How the two models combine: the Isolation Forest is trained first,
//! without labels, on the training rows; its anomaly score becomes one more
//! input column of the classifier (`anomaly_score`, after the 26 features).
//! The classifier therefore learns how much novelty matters next to the
//! behavioural features, instead of a hand-set escalation rule overriding
//! it, and the anomaly's share of a decision shows up in the per-prediction
//! contributions like any other feature (risk factor `anomalous_pattern`).

pub mod dataset;
pub mod decision;
pub mod explain;
pub mod fraud_model;
pub mod gates;
pub mod gbdt;
pub mod iforest;
pub mod metrics;
pub mod plots;
pub mod prequential;
pub mod simulate;
pub mod training;
pub mod version_metrics;

pub use decision::{Decision, Thresholds};
pub use fraud_model::{FraudModel, ModelError, Prediction};
pub use version_metrics::VersionMetrics;

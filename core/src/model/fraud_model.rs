//! The deployed model: Isolation Forest + gradient-boosted classifier.

use serde::{Deserialize, Serialize};

use super::explain::{RiskFactor, risk_factors};
use super::gbdt::{Gbdt, GbdtError};
use super::iforest::{IsolationForest, IsolationForestError};
use crate::features::{FEATURE_NAMES, FeatureVector, N};

/// Number of classifier inputs: the features and the anomaly score.
pub const INPUTS: usize = N + 1;

/// The classifier's input names, in column order.
pub fn input_names() -> [&'static str; INPUTS] {
    std::array::from_fn(|i| {
        if i < N {
            FEATURE_NAMES[i]
        } else {
            "anomaly_score"
        }
    })
}

/// A score with its explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Probability of fraud, from the classifier.
    pub fraud_probability: f64,
    /// Isolation Forest score in (0, 1); above 0.5 is unusual.
    pub anomaly_score: f64,
    /// Reasons, strongest first (empty when nothing stands out).
    pub risk_factors: Vec<RiskFactor>,
}

/// Why a model could not be built or loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Classifier(#[from] GbdtError),
    #[error(transparent)]
    Detector(#[from] IsolationForestError),
    #[error("the model was trained on {found} inputs, this build computes {expected}")]
    Schema { expected: usize, found: usize },
    #[error("cannot decode the stored model: {0}")]
    Decode(String),
}

/// The two models, applied together. See the module docs of
/// [`crate::model`] for how they combine.
#[derive(Debug, Serialize, Deserialize)]
pub struct FraudModel {
    detector: IsolationForest,
    classifier: Gbdt,
}

impl FraudModel {
    /// Combines a detector over the features and a classifier over the
    /// features plus the anomaly score.
    pub fn new(detector: IsolationForest, classifier: Gbdt) -> Result<Self, ModelError> {
        if detector.dims() != N {
            return Err(ModelError::Schema {
                expected: N,
                found: detector.dims(),
            });
        }
        if classifier.cols() != INPUTS {
            return Err(ModelError::Schema {
                expected: INPUTS,
                found: classifier.cols(),
            });
        }
        Ok(FraudModel {
            detector,
            classifier,
        })
    }

    /// The classifier's input row for a feature vector.
    pub fn inputs(&self, features: &FeatureVector) -> [f64; INPUTS] {
        let values = features.to_array();
        let anomaly = self.detector.score(&values);
        std::array::from_fn(|i| if i < N { values[i] } else { anomaly })
    }

    /// Scores and explains one transaction.
    pub fn predict(&self, features: &FeatureVector) -> Prediction {
        let inputs = self.inputs(features);
        let contributions = self.classifier.contributions(&inputs);
        let log_odds: f64 = contributions.iter().sum();
        Prediction {
            fraud_probability: super::gbdt::sigmoid(log_odds),
            anomaly_score: inputs[N],
            risk_factors: risk_factors(&input_names(), &inputs, &contributions),
        }
    }

    /// The fraud probability alone (evaluation needs no explanation).
    pub fn probability(&self, features: &FeatureVector) -> f64 {
        self.classifier.probability(&self.inputs(features))
    }

    /// Fraud probabilities of many transactions.
    pub fn probabilities(&self, rows: &[FeatureVector]) -> Vec<f64> {
        let inputs: Vec<f64> = rows.iter().flat_map(|f| self.inputs(f)).collect();
        self.classifier.probabilities(&inputs)
    }

    /// Importance of each input (total split gain, sums to 1).
    pub fn importance(&self) -> Vec<(String, f64)> {
        input_names()
            .iter()
            .map(|n| n.to_string())
            .zip(self.classifier.importance())
            .collect()
    }

    /// The serialized form kept in the registry.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a model always serializes")
    }

    /// Loads a model from [`FraudModel::to_bytes`], checking its shape.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let model: FraudModel =
            serde_json::from_slice(bytes).map_err(|e| ModelError::Decode(e.to_string()))?;
        FraudModel::new(model.detector, model.classifier)
    }
}

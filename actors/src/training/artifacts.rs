//! What a training stores with its version beside the model: the ROC, PR
//! and feature-importance charts (SVG) and the data behind them (JSON).

use serde_json::{Value, json};
use vigil_core::model::plots;
use vigil_core::model::training::TrainingReport;

use crate::error::ActorError;

/// Artifact name → body: the SVG charts, and the data behind them as JSON.
pub(super) fn artifacts(r: &TrainingReport) -> Result<serde_json::Map<String, Value>, ActorError> {
    let plot = |e: plots::PlotError| ActorError::Failed(format!("cannot draw artifact: {e}"));
    let base_rate = r.test_frauds as f64 / r.test_rows.max(1) as f64;
    let mut map = serde_json::Map::new();
    map.insert(
        "roc_curve.svg".into(),
        Value::String(plots::roc_svg(&r.roc_curve, r.evaluation.roc_auc).map_err(plot)?),
    );
    map.insert(
        "pr_curve.svg".into(),
        Value::String(plots::pr_svg(&r.pr_curve, r.evaluation.pr_auc, base_rate).map_err(plot)?),
    );
    map.insert(
        "feature_importance.svg".into(),
        Value::String(plots::importance_svg(&r.importance).map_err(plot)?),
    );
    map.insert("feature_importance.json".into(), json!(r.importance));
    map.insert(
        "curves.json".into(),
        json!({"roc": r.roc_curve, "pr": r.pr_curve}),
    );
    Ok(map)
}

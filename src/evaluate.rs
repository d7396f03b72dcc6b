//! `vigil evaluate`: prequential evaluation over the stored data, as a
//! table, JSON, and optionally every test score as CSV.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use vigil_actors::store::{Entity, Store};
use vigil_core::model::prequential::{
    EvalData, FoldPlan, FoldResult, LabelHistory, PlanError, evaluate_fold, first_known_fraud,
    mean_std,
};
use vigil_core::model::training::TrainingParams;

/// What to evaluate.
#[derive(Debug, Clone)]
pub struct EvaluateSettings {
    /// First day of the first fold; `None`: the day of the oldest stored
    /// transaction.
    pub start: Option<NaiveDate>,
    pub train_days: u32,
    pub delay_days: u32,
    pub test_days: u32,
    pub folds: u32,
    pub step_days: u32,
    pub k: usize,
    pub entity: Entity,
    pub params: TrainingParams,
    pub scores_out: Option<PathBuf>,
}

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error("{0}")]
    Open(String),
    #[error("cannot read the store: {0}")]
    Store(#[from] sea_orm::DbErr),
    #[error("nothing to evaluate: the store has no featurized transaction")]
    Empty,
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The evaluation's result, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationReport {
    pub start: NaiveDate,
    pub train_days: u32,
    pub delay_days: u32,
    pub test_days: u32,
    pub step_days: u32,
    pub k: usize,
    pub entity: &'static str,
    pub folds: Vec<FoldResult>,
    /// Metric → {mean, std} over the folds (std: sample, null below two).
    pub summary: serde_json::Value,
    /// Time spent reading the store, then in total.
    pub read_seconds: f64,
    pub seconds: f64,
}

/// Reads the store and runs every fold.
pub async fn evaluate(
    store: &Store,
    settings: &EvaluateSettings,
    progress: impl Fn(&str),
) -> Result<EvaluationReport, EvaluateError> {
    let started = Instant::now();
    progress("reading the stored features and labels");
    let rows = store.evaluation_rows(settings.entity).await?;
    let labels = LabelHistory::new(store.known_labels().await?);
    let read_seconds = started.elapsed().as_secs_f64();
    let first = rows.first().ok_or(EvaluateError::Empty)?;
    let plan = FoldPlan {
        start: settings.start.unwrap_or(first.time.date_naive()),
        train_days: settings.train_days,
        delay_days: settings.delay_days,
        test_days: settings.test_days,
        folds: settings.folds,
        step_days: settings.step_days,
    };
    let known_compromised = first_known_fraud(&rows, &labels);
    let data = EvalData {
        rows: &rows,
        labels: &labels,
        known_compromised: &known_compromised,
    };
    let mut folds = Vec::new();
    for (i, fold) in plan.folds()?.into_iter().enumerate() {
        progress(&format!(
            "fold {}/{}: training on {} – {}",
            i + 1,
            plan.folds,
            fold.train.start.date_naive(),
            fold.train.end.date_naive()
        ));
        folds.push(evaluate_fold(i, fold, &data, &settings.params, settings.k)?);
    }
    if let Some(path) = &settings.scores_out {
        progress("writing the scores");
        let original = store.original_ids().await?;
        write_scores(path, &folds, |id| {
            original.get(id).cloned().unwrap_or_else(|| id.to_string())
        })
        .map_err(|source| EvaluateError::Write {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(EvaluationReport {
        start: plan.start,
        train_days: plan.train_days,
        delay_days: plan.delay_days,
        test_days: plan.test_days,
        step_days: plan.step_days,
        k: settings.k,
        entity: match settings.entity {
            Entity::User => "user_id",
            Entity::Merchant => "merchant_id",
        },
        summary: summary(&folds),
        folds,
        read_seconds,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The metrics of the folds, each as (name, value per fold).
fn metric_columns(folds: &[FoldResult]) -> [(&'static str, Vec<Option<f64>>); 3] {
    [
        ("roc_auc", folds.iter().map(|f| f.roc_auc).collect()),
        (
            "average_precision",
            folds.iter().map(|f| f.average_precision).collect(),
        ),
        (
            "card_precision_at_k",
            folds.iter().map(|f| Some(f.card_precision_at_k)).collect(),
        ),
    ]
}

fn summary(folds: &[FoldResult]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (name, values) in metric_columns(folds) {
        // A fold whose test window lacks a class has no AUC; the mean is
        // over the folds that have one.
        let present: Vec<f64> = values.into_iter().flatten().collect();
        let (mean, std) = mean_std(&present);
        out.insert(
            name.into(),
            json!({"mean": mean, "std": std, "folds": present.len()}),
        );
    }
    serde_json::Value::Object(out)
}

/// `original_id,fold_start,score` for every scored test transaction.
fn write_scores(
    path: &Path,
    folds: &[FoldResult],
    original_id: impl Fn(&uuid::Uuid) -> String,
) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
    out.write_record(["original_id", "fold_start", "score"])?;
    for fold in folds {
        let start = fold.fold.train.start.date_naive().to_string();
        for s in &fold.scores {
            // `{}` prints the shortest representation that parses back to
            // the same double, so other tools see exactly our scores.
            out.write_record([
                original_id(&s.transaction_id),
                start.clone(),
                s.score.to_string(),
            ])?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The report as a table for a terminal.
pub fn table(report: &EvaluationReport) -> String {
    let number = |v: Option<f64>| v.map_or("n/a".into(), |x| format!("{x:.4}"));
    let mut lines = vec![
        format!(
            "prequential evaluation: {} folds from {}, train {} d, delay {} d, test {} d, step {} d; card precision@{} per {}",
            report.folds.len(),
            report.start,
            report.train_days,
            report.delay_days,
            report.test_days,
            report.step_days,
            report.k,
            report.entity
        ),
        String::new(),
        format!(
            "{:<12}{:>10}{:>8}{:>10}{:>8}{:>10}{:>10}{:>12}",
            "fold start", "train", "frauds", "test", "frauds", "roc_auc", "avg_prec", "card_prec@k"
        ),
    ];
    for f in &report.folds {
        lines.push(format!(
            "{:<12}{:>10}{:>8}{:>10}{:>8}{:>10}{:>10}{:>12}",
            f.fold.train.start.date_naive().to_string(),
            f.train_rows,
            f.train_frauds,
            f.test_rows,
            f.test_frauds,
            number(f.roc_auc),
            number(f.average_precision),
            number(Some(f.card_precision_at_k)),
        ));
    }
    let cell = |name: &str| {
        let m = &report.summary[name];
        let mean = number(m["mean"].as_f64());
        match m["std"].as_f64() {
            Some(std) => format!("{mean} ± {std:.4}"),
            None => mean,
        }
    };
    lines.push(String::new());
    for name in ["roc_auc", "average_precision", "card_precision_at_k"] {
        lines.push(format!("{:<22}{:>20}", name, cell(name)));
    }
    lines.push(format!(
        "evaluated in {:.2} s ({:.2} s reading the store)",
        report.seconds, report.read_seconds
    ));
    lines.join("\n")
}

/// Prints the report as JSON.
pub fn print_json(report: &EvaluationReport) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, report)?;
    writeln!(stdout)
}

impl EvaluateSettings {
    /// Settings from `vigil evaluate`'s flags; model parameters default to
    /// the `[model]` configuration, as for `vigil train`.
    pub fn from_args(
        config: &crate::config::Config,
        args: &crate::cli::EvaluateArgs,
    ) -> EvaluateSettings {
        let mut params = crate::app::training_settings(config).params;
        if let Some(n) = args.iterations {
            params.gbdt.iterations = n;
        }
        if let Some(rate) = args.learning_rate {
            params.gbdt.learning_rate = rate;
        }
        if let Some(depth) = args.max_depth {
            params.gbdt.max_depth = depth;
        }
        if let Some(trees) = args.iforest_trees {
            params.iforest.trees = trees;
        }
        let k = args.k.unwrap_or(config.model.card_k);
        params.card_k = k;
        EvaluateSettings {
            start: args.start,
            train_days: args.train_days,
            delay_days: args.delay_days,
            test_days: args.test_days,
            folds: args.folds,
            step_days: args.step_days,
            k,
            entity: if args.entity == "merchant_id" {
                Entity::Merchant
            } else {
                Entity::User
            },
            params,
            scores_out: args.scores_out.clone(),
        }
    }
}

/// `vigil evaluate` without a runtime: only reads the store.
pub async fn run(
    config: &crate::config::Config,
    settings: &EvaluateSettings,
) -> Result<EvaluationReport, EvaluateError> {
    let store = Store::open(&config.database_url())
        .await
        .map_err(|e| EvaluateError::Open(e.to_string()))?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let report = evaluate(&store, settings, |stage| bar.set_message(stage.to_owned())).await;
    bar.finish_and_clear();
    report
}

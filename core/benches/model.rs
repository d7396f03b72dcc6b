//! The model: (1) latency of one prediction on the online path — the
//! features of the next transaction on a state holding 30 days of the
//! default population's history (`FeatureState::process`), then
//! `FraudModel::predict` (Isolation Forest, classifier, TreeSHAP risk
//! factors), and the same with `FraudModel::probability` instead, so the
//! cost of the explanation shows; (2) training time on exactly 100,000
//! rows: the whole `train()` (Isolation Forest, classifier, evaluation) and
//! the classifier's fit alone, on the very matrix `train()` fits it on.
//!
//! With `VIGIL_EXPORT_MATRIX=DIR` the setup also writes that matrix for
//! `scripts/bench/xgboost_compare.py`: `DIR/train.csv` and `DIR/test.csv`
//! (the 27 classifier inputs — features, then the anomaly score of the
//! trained Isolation Forest —, `label`, `weight`: fraud rows weigh the
//! report's `positive_weight`, the others 1) and `DIR/rust_scores.csv`
//! (the trained model's fraud probability of each test row, in order).

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use vigil_core::Transaction;
use vigil_core::features::{
    FeatureConfig, FeatureState, HistoryEvent, LabelResolver, order_history,
};
use vigil_core::model::FraudModel;
use vigil_core::model::dataset::{LabeledRow, Split, SplitConfig, Window, time_split};
use vigil_core::model::fraud_model::{INPUTS, input_names};
use vigil_core::model::gbdt::{Gbdt, GbdtParams};
use vigil_core::model::metrics::average_precision;
use vigil_core::model::simulate::simulate;
use vigil_core::model::training::{TrainingParams, train};
use vigil_core::synth::{Generator, SynthConfig, SynthEvent};

/// Days of history the model is trained on and the feature state holds.
const HISTORY_DAYS: i64 = 30;
/// Days of traffic after the history whose transactions are predicted, in
/// order; when they run out the state is rebuilt (outside the timing).
const UPCOMING_DAYS: i64 = 14;
/// Rows the training benchmark trains on.
const TRAIN_ROWS: usize = 100_000;
/// The synthetic chargebacks arrive 7 days ± 10 % after the fraud: rows at
/// least this old at the end of the simulation have their final label.
const LABELS_SETTLED: TimeDelta = TimeDelta::days(8);

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// The default population's stream: the history, then the upcoming days,
/// each in processing order.
fn streams() -> (Vec<HistoryEvent>, Vec<HistoryEvent>) {
    let config = SynthConfig::default();
    let rate = config.natural_rate_per_sec();
    let mut generator = Generator::new(config, start(), rate);
    let mut until = |end: DateTime<Utc>| {
        let mut events: Vec<HistoryEvent> = std::iter::from_fn(|| generator.next_before(end))
            .map(|e| match e {
                SynthEvent::Transaction { transaction, .. } => {
                    HistoryEvent::Transaction(transaction)
                }
                SynthEvent::Label(label) => HistoryEvent::Label(label),
            })
            .collect();
        order_history(&mut events);
        events
    };
    let history = until(start() + TimeDelta::days(HISTORY_DAYS));
    let upcoming = until(start() + TimeDelta::days(HISTORY_DAYS + UPCOMING_DAYS));
    (history, upcoming)
}

/// A feature state fed with the history, walking through the upcoming
/// events.
struct Online<'a> {
    history: &'a [HistoryEvent],
    upcoming: &'a [HistoryEvent],
    state: FeatureState,
    /// Resolves the upcoming labels against every transaction.
    labels: LabelResolver,
    next: usize,
}

impl<'a> Online<'a> {
    fn new(history: &'a [HistoryEvent], upcoming: &'a [HistoryEvent]) -> Self {
        Online {
            history,
            upcoming,
            state: warmed(history),
            labels: resolver(history, upcoming),
            next: 0,
        }
    }

    /// The next upcoming transaction, after observing the labels before it;
    /// starts over from the warmed state when the upcoming days run out.
    fn next_transaction(&mut self) -> &'a Transaction {
        loop {
            if self.next == self.upcoming.len() {
                self.state = warmed(self.history);
                self.labels = resolver(self.history, self.upcoming);
                self.next = 0;
            }
            let event = &self.upcoming[self.next];
            self.next += 1;
            match event {
                HistoryEvent::Transaction(t) => return t,
                HistoryEvent::Label(l) => {
                    if let Some(fraud) = self.labels.resolve(l) {
                        self.state.observe_fraud(&fraud);
                    }
                }
                HistoryEvent::Fraud(f) => self.state.observe_fraud(f),
            }
        }
    }
}

/// Resolves labels against the transactions of both spans.
fn resolver(history: &[HistoryEvent], upcoming: &[HistoryEvent]) -> LabelResolver {
    let all: Vec<HistoryEvent> = history.iter().chain(upcoming).cloned().collect();
    LabelResolver::for_history(&all)
}

fn warmed(history: &[HistoryEvent]) -> FeatureState {
    let mut state = FeatureState::new(FeatureConfig::default());
    state.replay(history);
    state
}

/// The default model, trained as the Retrainer would on the 30 days.
fn month_model() -> FraudModel {
    let rows = simulate(
        &SynthConfig::default(),
        &FeatureConfig::default(),
        start(),
        HISTORY_DAYS,
    );
    let now = rows.last().expect("rows").time;
    let split = time_split(rows, now, &SplitConfig::default()).expect("a usable split");
    train(&split, &TrainingParams::default(), &mut |_| {})
        .expect("training succeeds")
        .model
}

fn predict(c: &mut Criterion) {
    let (history, upcoming) = streams();
    let model = month_model();
    let mut online = Online::new(&history, &upcoming);

    let mut group = c.benchmark_group("predict");
    // Only process + predict is timed: the labels observed between
    // transactions and the occasional rebuild of the state are not.
    group.bench_function("single", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = online.next_transaction();
                let started = Instant::now();
                let features = online.state.process(black_box(t));
                black_box(model.predict(&features));
                total += started.elapsed();
            }
            total
        })
    });
    group.bench_function("probability_only", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = online.next_transaction();
                let started = Instant::now();
                let features = online.state.process(black_box(t));
                black_box(model.probability(&features));
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

/// Exactly [`TRAIN_ROWS`] training rows, the oldest of 30 days of the
/// default population, and as test rows the ones after them whose labels
/// had time to arrive.
fn hundred_k() -> Split {
    let mut rows = simulate(
        &SynthConfig::default(),
        &FeatureConfig::default(),
        start(),
        HISTORY_DAYS,
    );
    assert!(rows.len() > TRAIN_ROWS, "only {} rows", rows.len());
    let settled = start() + TimeDelta::days(HISTORY_DAYS) - LABELS_SETTLED;
    let mut test = rows.split_off(TRAIN_ROWS);
    test.retain(|r| r.time <= settled);
    assert!(!test.is_empty(), "no settled row after the training rows");
    Split {
        train_window: window(&rows),
        test_window: window(&test),
        train: rows,
        test,
    }
}

fn window(rows: &[LabeledRow]) -> Window {
    Window {
        start: rows.first().expect("rows").time,
        end: rows.last().expect("rows").time,
    }
}

/// The classifier's inputs, labels and weights for `rows`, as `train()`
/// builds them.
struct Matrix {
    inputs: Vec<f64>,
    labels: Vec<f64>,
    weights: Vec<f64>,
}

fn matrix(model: &FraudModel, rows: &[LabeledRow], positive_weight: f64) -> Matrix {
    Matrix {
        inputs: rows
            .iter()
            .flat_map(|r| model.inputs(&r.features))
            .collect(),
        labels: rows
            .iter()
            .map(|r| f64::from(u8::from(r.is_fraud)))
            .collect(),
        weights: rows
            .iter()
            .map(|r| if r.is_fraud { positive_weight } else { 1.0 })
            .collect(),
    }
}

fn training(c: &mut Criterion) {
    let split = hundred_k();
    let params = TrainingParams::default();
    let trained = train(&split, &params, &mut |_| {}).expect("training succeeds");
    let report = &trained.report;
    let train_matrix = matrix(&trained.model, &split.train, report.positive_weight);
    let test_labels: Vec<bool> = split.test.iter().map(|r| r.is_fraud).collect();
    let test_scores = trained
        .model
        .probabilities(&split.test.iter().map(|r| r.features).collect::<Vec<_>>());
    eprintln!(
        "train/100k: {} training rows ({} frauds, positive weight {:.3}), {} test rows ({} frauds); \
         average precision on the test rows {:.4}; setup training took {:.2}s (train_seconds)",
        report.train_rows,
        report.train_frauds,
        report.positive_weight,
        report.test_rows,
        report.test_frauds,
        average_precision(&test_labels, &test_scores).unwrap_or(f64::NAN),
        report.train_seconds,
    );
    if let Some(dir) = std::env::var_os("VIGIL_EXPORT_MATRIX") {
        let dir = Path::new(&dir);
        let test_matrix = matrix(&trained.model, &split.test, report.positive_weight);
        export(dir, &train_matrix, &test_matrix, &test_scores).expect("export the matrix");
        eprintln!(
            "train/100k: wrote train.csv, test.csv and rust_scores.csv to {}",
            dir.display()
        );
    }

    // One training per sample: 10 samples take ~20 s + ~15 s on two cores.
    // (Criterion warns that it cannot complete 10 samples in the target
    // time whenever a sample is a single iteration; that is intended.)
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("100k", |b| {
        b.iter(|| black_box(train(&split, &params, &mut |_| {}).expect("training succeeds")))
    });
    // The classifier alone: what xgboost's fit() is compared with.
    group.bench_function("100k_classifier", |b| {
        b.iter(|| {
            black_box(
                Gbdt::fit(
                    &train_matrix.inputs,
                    INPUTS,
                    &train_matrix.labels,
                    &train_matrix.weights,
                    &GbdtParams::default(),
                )
                .expect("fit succeeds"),
            )
        })
    });
    group.finish();
}

/// Writes `train.csv`, `test.csv` and `rust_scores.csv` into `dir`.
fn export(dir: &Path, train: &Matrix, test: &Matrix, test_scores: &[f64]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_matrix(&dir.join("train.csv"), train)?;
    write_matrix(&dir.join("test.csv"), test)?;
    let mut out = BufWriter::new(File::create(dir.join("rust_scores.csv"))?);
    writeln!(out, "fraud_probability")?;
    for p in test_scores {
        writeln!(out, "{p}")?;
    }
    out.flush()
}

/// One row per line; `{}` prints the shortest decimal that reads back as
/// the same f64, so Python gets exactly these values.
fn write_matrix(path: &Path, m: &Matrix) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(out, "{},label,weight", input_names().join(","))?;
    for ((row, label), weight) in m.inputs.chunks_exact(INPUTS).zip(&m.labels).zip(&m.weights) {
        for v in row {
            write!(out, "{v},")?;
        }
        writeln!(out, "{label},{weight}")?;
    }
    out.flush()
}

criterion_group!(benches, predict, training);
criterion_main!(benches);

//! `vigil replay`: an external labelled file through the live path.
//!
//! The rows are published on the runtime's bus as `TransactionBatch`es
//! (`EventSource::Replay`) and their chargebacks as `LabelBatch`es at their
//! label time, so the Decider and RawStore handle them exactly as
//! live events, in simulated time and as fast as the store takes them.

mod reader;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use indicatif::{ProgressBar, ProgressStyle};
use vigil_actors::Runtime;
use vigil_actors::messages::{EventSource, LabelBatch, TransactionBatch};
use vigil_core::replay::{Batch, ColumnMapping, batches, in_time_order, sort_by_time};

pub use reader::{BadRow, ReadError, read_rows};

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct ReplaySettings {
    pub csv: PathBuf,
    pub mapping: ColumnMapping,
    /// Label time = transaction time + this.
    pub label_delay: TimeDelta,
    /// Transactions per published batch (cut earlier to keep a batch's
    /// span below the label delay).
    pub batch_size: usize,
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayReport {
    pub transactions: u64,
    pub labels: u64,
    pub bad_rows: Vec<BadRow>,
    /// Whether the file had to be sorted by time.
    pub sorted: bool,
    /// The production model that scored the replay, if any.
    pub scored_by: Option<i32>,
    pub read_seconds: f64,
    pub publish_seconds: f64,
}

impl ReplayReport {
    /// Transactions published per second (reading excluded).
    pub fn events_per_sec(&self) -> f64 {
        self.transactions as f64 / self.publish_seconds.max(1e-9)
    }
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("the store refused the replay: {0}")]
    Store(#[from] sea_orm::DbErr),
    #[error("a batch was not delivered: {0}")]
    Undelivered(#[from] vigil_actors::error::Undelivered),
}

/// Reads the file, then publishes it on `runtime`'s bus.
pub async fn replay(
    runtime: &Runtime,
    settings: &ReplaySettings,
) -> Result<ReplayReport, ReplayError> {
    let started = Instant::now();
    let reading = spinner("reading");
    let parsed = {
        let bar = reading.clone();
        let (path, mapping) = (settings.csv.clone(), settings.mapping.clone());
        // Parsing millions of rows is CPU work: off the async runtime.
        tokio::task::spawn_blocking(move || {
            read_rows(&path, &mapping, |n| {
                bar.set_message(format!("{n} rows read"))
            })
        })
        .await
        .map_err(|e| ReadError::Open {
            path: settings.csv.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })??
    };
    reading.finish_and_clear();
    let mut rows = parsed.rows;
    let sorted = !in_time_order(&rows);
    if sorted {
        sort_by_time(&mut rows);
    }
    let read_seconds = started.elapsed().as_secs_f64();
    let scored_by = runtime.store.production_model().await?.map(|m| m.version);

    let published = Instant::now();
    let bar = progress_bar(rows.len() as u64);
    let (mut transactions, mut labels) = (0, 0);
    for batch in batches(rows, settings.label_delay, settings.batch_size) {
        let (t, l) = publish(runtime, batch).await?;
        transactions += t;
        labels += l;
        bar.set_position(transactions);
    }
    bar.finish_and_clear();
    Ok(ReplayReport {
        transactions,
        labels,
        bad_rows: parsed.bad,
        sorted,
        scored_by,
        read_seconds,
        publish_seconds: published.elapsed().as_secs_f64(),
    })
}

/// Publishes a batch's due labels, then its transactions.
async fn publish(runtime: &Runtime, batch: Batch) -> Result<(u64, u64), ReplayError> {
    let n_labels = batch.labels.len() as u64;
    if n_labels > 0 {
        runtime
            .bus
            .publish_labels(LabelBatch {
                labels: batch.labels,
            })
            .await?;
    }
    let n_tx = batch.rows.len() as u64;
    if n_tx > 0 {
        let (transactions, original_ids) = batch
            .rows
            .into_iter()
            .map(|r| (r.transaction, r.original_id))
            .unzip();
        runtime
            .bus
            .publish(TransactionBatch {
                source: EventSource::Replay,
                transactions,
                original_ids,
            })
            .await?;
    }
    Ok((n_tx, n_labels))
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn progress_bar(total: u64) -> ProgressBar {
    // Hidden automatically when stderr is not a terminal (CI, logs).
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "replay {wide_bar} {pos}/{len} transactions, {per_sec}, {elapsed} elapsed, ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The end-of-replay summary: the first bad rows with their line numbers,
/// their count, and the throughput.
pub fn summary(report: &ReplayReport) -> String {
    const SHOWN: usize = 20;
    let mut lines: Vec<String> = report
        .bad_rows
        .iter()
        .take(SHOWN)
        .map(|b| format!("skipped line {}: {}", b.line, b.reason))
        .collect();
    if report.bad_rows.len() > SHOWN {
        lines.push(format!(
            "… and {} more skipped lines",
            report.bad_rows.len() - SHOWN
        ));
    }
    if report.sorted {
        lines.push("rows were not in time order: sorted by timestamp".into());
    }
    lines.push(match report.scored_by {
        Some(v) => format!("scored by production model version {v}"),
        None => "no model in production: features only (no scores, no alerts)".into(),
    });
    lines.push(format!(
        "replayed {} transactions and {} labels, {} bad rows skipped; read in {:.1} s, published in {:.1} s ({:.0} transactions/s)",
        report.transactions,
        report.labels,
        report.bad_rows.len(),
        report.read_seconds,
        report.publish_seconds,
        report.events_per_sec()
    ));
    lines.join("\n")
}

/// Why `vigil replay` could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read the mapping file {path}: {reason}")]
    MapFile { path: String, reason: String },
    #[error(transparent)]
    Mapping(#[from] vigil_core::replay::MappingError),
    #[error("--label-delay-days must be between 0 and 3650, got {0}")]
    Delay(f64),
    #[error("--batch-size must be at least 1")]
    BatchSize,
    #[error(transparent)]
    Runtime(#[from] vigil_actors::runtime::RuntimeError),
    #[error("the runtime did not start: {0}")]
    Startup(vigil_actors::Undelivered),
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

impl ReplaySettings {
    /// Settings from `vigil replay`'s flags.
    pub fn from_args(args: &crate::cli::ReplayArgs) -> Result<ReplaySettings, SetupError> {
        let mapping = match (&args.map, &args.map_file) {
            (Some(spec), _) => ColumnMapping::parse(spec)?,
            (None, Some(path)) => mapping_file(path)?,
            (None, None) => ColumnMapping::default(),
        };
        let days = args.label_delay_days;
        if !(0.0..=3650.0).contains(&days) {
            return Err(SetupError::Delay(days));
        }
        if args.batch_size == 0 {
            return Err(SetupError::BatchSize);
        }
        Ok(ReplaySettings {
            csv: args.csv.clone(),
            mapping,
            label_delay: TimeDelta::milliseconds((days * 86_400_000.0).round() as i64),
            batch_size: args.batch_size,
        })
    }
}

/// A TOML file of `field = "COLUMN"` lines, at the top level or under
/// `[map]`.
fn mapping_file(path: &std::path::Path) -> Result<ColumnMapping, SetupError> {
    let error = |reason: String| SetupError::MapFile {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| error(e.to_string()))?;
    if let Some(toml::Value::Table(map)) = table.remove("map") {
        table = map;
    }
    let mut pairs = Vec::new();
    for (field, column) in &table {
        let column = column
            .as_str()
            .ok_or_else(|| error(format!("`{field}` must be a string (a column name)")))?;
        pairs.push((field.as_str(), column));
    }
    Ok(ColumnMapping::from_pairs(pairs)?)
}

/// `vigil replay`: a runtime without producer, backfill, schedules or
/// start-up training (nothing but the replay writes), then the replay.
pub async fn run(
    config: &crate::config::Config,
    settings: &ReplaySettings,
) -> Result<ReplayReport, SetupError> {
    let mut runtime_config = crate::app::runtime_config(config);
    runtime_config.backfill_days = 0;
    runtime_config.producer.rate = 0.0;
    runtime_config.train_on_start = false;
    runtime_config.retrain_schedule = None;
    runtime_config.drift_schedule = None;
    // Always in-process, even when Kafka is configured: a replay is an
    // offline run into its own store whose batches keep their original ids
    // and whose chargebacks must land between exactly the right
    // transactions; live topics would interleave other traffic.
    runtime_config.kafka = None;
    let runtime = Runtime::start(runtime_config).await?;
    // What a crashed run left in flight is finished before new rows flow.
    runtime.ready().await.map_err(SetupError::Startup)?;
    if runtime
        .store
        .has_raw_events()
        .await
        .map_err(ReplayError::from)?
    {
        tracing::warn!(
            "the store already holds transactions: replayed rows join them (rows replayed before are skipped)"
        );
    }
    Ok(replay(&runtime, settings).await?)
}

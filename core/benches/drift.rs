//! The drift check: `drift_checker::check` on production-size windows —
//! 5,000 reference rows and 1,000 current rows of the default synthetic
//! population, features from `compute_history` — over the monitored
//! features (the 9 numeric ones of `NUMERIC_FEATURES` and the 2
//! categorical ones of `CATEGORICAL_FEATURES`: 11 features), once with the
//! default tests (normed Wasserstein for numeric, Jensen–Shannon for
//! categorical features) and once with the exact two-sample KS test for
//! the numeric ones.
//!
//! Reference: the first 5,000 transactions after a one-day warm-up (the
//! 24-hour windows fill up); current: the first 1,000 transactions from
//! day 4 on, with every amount from then on multiplied by 1.5
//! (`VIGIL_DRIFT_AMOUNT_FACTOR` overrides; 1 for no shift) before the
//! features are computed, so the amount features drift. The windows are
//! consecutive rows, like the DriftChecker's: 1,000 rows span only a few
//! hours, so `hour_of_day` drifts too.
//!
//! With `VIGIL_EXPORT_DRIFT=DIR` the setup also writes, for
//! `scripts/bench/evidently_compare.py`, `DIR/reference.csv` and
//! `DIR/current.csv` (exactly the 11 monitored columns: the numeric
//! features, then `channel` and `country`, missing ones as "(missing)" as
//! the check sees them) and `DIR/vigil.json` (the `feature_details` of
//! both checks, keyed by the numeric test: `{"wasserstein": […], "ks":
//! […]}`).

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use uuid::Uuid;
use vigil_core::drift::StatTest;
use vigil_core::drift::check::{
    CATEGORICAL_FEATURES, DriftRow, DriftSettings, NUMERIC_FEATURES, Windows, check,
};
use vigil_core::drift::simulated::{simulated_rows, windows_of};
use vigil_core::synth::SynthConfig;

/// Rows of the reference window (`DriftSettings::reference_rows`).
const REFERENCE_ROWS: usize = 5_000;
/// Rows of the current window (`DriftSettings::current_rows`).
const CURRENT_ROWS: usize = 1_000;
/// The reference window starts after this warm-up…
const WARM_UP_DAYS: i64 = 1;
/// …and the current one this many days after the start.
const CURRENT_FROM_DAYS: i64 = 4;
/// Amounts from the current window's start on are multiplied by this.
const AMOUNT_FACTOR: f64 = 1.5;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn amount_factor() -> f64 {
    match std::env::var("VIGIL_DRIFT_AMOUNT_FACTOR") {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("VIGIL_DRIFT_AMOUNT_FACTOR={v:?} is not a number")),
        Err(_) => AMOUNT_FACTOR,
    }
}

/// The two windows, from the default population's stream.
fn windows(factor: f64) -> Windows {
    let shift_from = start() + TimeDelta::days(CURRENT_FROM_DAYS);
    // A whole day past the current window's start: more than enough rows.
    let end = shift_from + TimeDelta::days(1);
    let rows = simulated_rows(&SynthConfig::default(), start(), end, (shift_from, factor));
    let take = |from: DateTime<Utc>, n: usize| -> Vec<DriftRow> {
        let window: Vec<DriftRow> = rows
            .iter()
            .filter(|r| r.time >= from)
            .take(n)
            .cloned()
            .collect();
        assert_eq!(window.len(), n, "too few rows from {from}");
        window
    };
    let reference = take(start() + TimeDelta::days(WARM_UP_DAYS), REFERENCE_ROWS);
    let current = take(shift_from, CURRENT_ROWS);
    assert!(
        reference.last().expect("rows").time < shift_from,
        "the reference window runs into the current one"
    );
    windows_of(reference, current)
}

fn drift(c: &mut Criterion) {
    let factor = amount_factor();
    let windows = windows(factor);
    let now = Utc::now();
    let wasserstein = DriftSettings::default();
    let ks = DriftSettings {
        numeric_test: StatTest::Ks,
        ..DriftSettings::default()
    };
    assert_eq!(
        (wasserstein.numeric_test, wasserstein.categorical_test),
        (StatTest::Wasserstein, StatTest::JensenShannon)
    );

    let mut results = Vec::new();
    for (name, settings) in [("wasserstein", &wasserstein), ("ks", &ks)] {
        let result = check(&windows, settings, now, Uuid::nil());
        assert_eq!(
            result.num_features_checked,
            NUMERIC_FEATURES.len() + CATEGORICAL_FEATURES.len()
        );
        eprintln!(
            "drift/{name}: {} reference rows ({} – {}), {} current rows ({} – {}), amounts x{factor}; \
             {} features checked, {} drifted: {:?}",
            result.reference_rows,
            result.reference_window.start.expect("rows"),
            result.reference_window.end.expect("rows"),
            result.current_rows,
            result.current_window.start.expect("rows"),
            result.current_window.end.expect("rows"),
            result.num_features_checked,
            result.num_features_drifted,
            result.drifted_features,
        );
        results.push((name, result.feature_details));
    }
    if let Some(dir) = std::env::var_os("VIGIL_EXPORT_DRIFT") {
        let dir = Path::new(&dir);
        export(dir, &windows, &results).expect("export the windows");
        eprintln!(
            "drift: wrote reference.csv, current.csv and vigil.json to {}",
            dir.display()
        );
    }

    // The KS check takes ~11 ms: 100 samples need ~6 s.
    let mut group = c.benchmark_group("drift");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("check_wasserstein", |b| {
        b.iter(|| black_box(check(black_box(&windows), &wasserstein, now, Uuid::nil())))
    });
    group.bench_function("check_ks", |b| {
        b.iter(|| black_box(check(black_box(&windows), &ks, now, Uuid::nil())))
    });
    group.finish();
}

/// Writes `reference.csv`, `current.csv` and `vigil.json` into `dir`.
fn export(
    dir: &Path,
    windows: &Windows,
    results: &[(&str, Vec<vigil_core::drift::FeatureDrift>)],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_window(&dir.join("reference.csv"), &windows.reference)?;
    write_window(&dir.join("current.csv"), &windows.current)?;
    let json: serde_json::Map<String, serde_json::Value> = results
        .iter()
        .map(|(name, features)| {
            let value = serde_json::to_value(features).expect("serializable");
            (name.to_string(), value)
        })
        .collect();
    let mut out = BufWriter::new(File::create(dir.join("vigil.json"))?);
    serde_json::to_writer_pretty(&mut out, &json)?;
    writeln!(out)?;
    out.flush()
}

/// The monitored columns, one row per line, as the check reads them: a
/// missing numeric value is an empty field (NaN to pandas), a missing
/// category "(missing)". `{}` prints the shortest decimal that reads back
/// as the same f64. Channels and country codes hold no commas or quotes.
fn write_window(path: &Path, rows: &[DriftRow]) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    let header: Vec<&str> = NUMERIC_FEATURES
        .iter()
        .chain(&CATEGORICAL_FEATURES)
        .copied()
        .collect();
    writeln!(out, "{}", header.join(","))?;
    for row in rows {
        for name in NUMERIC_FEATURES {
            match row.features.get(name).filter(|v| v.is_finite()) {
                Some(v) => write!(out, "{v},")?,
                None => write!(out, ",")?,
            }
        }
        let categories: Vec<&str> = CATEGORICAL_FEATURES
            .iter()
            .map(|name| row.category(name).unwrap_or("(missing)"))
            .collect();
        writeln!(out, "{}", categories.join(","))?;
    }
    out.flush()
}

criterion_group!(benches, drift);
criterion_main!(benches);

//! Drift rows of a simulated stream, for the drift tests and benchmark.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::check::{DriftRow, Windows};
use crate::features::{FeatureConfig, HistoryEvent, compute_history};
use crate::synth::{Generator, SynthConfig, SynthEvent};

/// Drift rows of a simulated stream from `start` to `end`, in time order,
/// with every amount from `shift.0` on multiplied by `shift.1` before the
/// features are computed: the data of the drift tests and benchmark.
pub fn simulated_rows(
    synth: &SynthConfig,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    shift: (DateTime<Utc>, f64),
) -> Vec<DriftRow> {
    let (shift_from, factor) = shift;
    let mut generator = Generator::new(synth.clone(), start, synth.natural_rate_per_sec());
    let mut events = Vec::new();
    let mut transactions = std::collections::HashMap::new();
    while let Some(event) = generator.next_before(end) {
        match event {
            SynthEvent::Transaction {
                mut transaction, ..
            } => {
                if transaction.timestamp >= shift_from {
                    transaction.amount *= factor;
                }
                transactions.insert(transaction.transaction_id, transaction.clone());
                events.push(HistoryEvent::Transaction(transaction));
            }
            SynthEvent::Label(label) => events.push(HistoryEvent::Label(label)),
        }
    }
    // compute_history returns the rows in processing (time) order.
    compute_history(&FeatureConfig::default(), events)
        .into_iter()
        .map(|(id, features)| {
            let t = &transactions[&id];
            DriftRow {
                time: t.timestamp,
                features,
                country: t.country.clone(),
                channel: t.channel.map(|c| c.as_str().to_owned()),
            }
        })
        .collect()
}

/// Windows of `rows`, for checks outside the store (tests, benchmarks).
pub fn windows_of(reference: Vec<DriftRow>, current: Vec<DriftRow>) -> Windows {
    use super::check::{CURRENT_SOURCE, window_info};
    Windows {
        reference_info: window_info("before_current_window", None, &reference),
        current_info: window_info(CURRENT_SOURCE, None, &current),
        reference,
        current,
        reference_scores: Vec::new(),
        current_scores: Vec::new(),
    }
}

/// Five weekdays of a 500-holder population with every amount of the last
/// day multiplied by `factor`. Reference: days two to four (the first day
/// warms up the 24-hour windows); current: the last day, so both are
/// whole days and the times of day compare. The drift tests' data.
pub fn shifted_week(factor: f64) -> Windows {
    let start = Utc
        .with_ymd_and_hms(2026, 3, 2, 0, 0, 0)
        .single()
        .expect("a valid date"); // a Monday
    let day = |n| start + TimeDelta::days(n);
    let shift_from = day(4);
    let config = SynthConfig {
        users: 500,
        merchants: 200,
        ..SynthConfig::default()
    };
    let rows = simulated_rows(&config, start, day(5), (shift_from, factor));
    let (reference, rest): (Vec<DriftRow>, Vec<DriftRow>) = rows
        .into_iter()
        .partition(|r| r.time >= day(1) && r.time < day(4));
    let current = rest.into_iter().filter(|r| r.time >= shift_from).collect();
    windows_of(reference, current)
}

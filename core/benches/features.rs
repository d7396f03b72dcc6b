//! Feature computation on one core, in memory:
//!
//! 1. features per second (criterion) over three streams: the default
//!    population's 30 days (typical cardholders), ten minutes of the
//!    soak's dense population (2,000 users and 500 merchants at 5,000
//!    transactions a second) and the same with heavy merchants (half of
//!    the transactions at five shops), a fresh state per iteration;
//! 2. flatness, printed once: the median time per event in each minute of
//!    those ten-minute streams, first minute against last;
//! 3. bytes of state per active user after 30 days of the default
//!    population, shared state (merchants, labels, name tables) included,
//!    printed once.

use std::time::Instant;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_core::features::{FeatureConfig, FeatureState, HistoryEvent, order_history};
use vigil_core::synth::{Generator, SynthConfig, SynthEvent};

/// Events of `config` from `start` for `span` at `rate` per second (the
/// natural rate when `None`), in processing order.
fn stream(
    config: SynthConfig,
    start: DateTime<Utc>,
    span: TimeDelta,
    rate: Option<f64>,
) -> Vec<HistoryEvent> {
    let rate = rate.unwrap_or_else(|| config.natural_rate_per_sec());
    let mut generator = Generator::new(config, start, rate);
    let end = start + span;
    let mut events: Vec<HistoryEvent> = std::iter::from_fn(|| generator.next_before(end))
        .map(|e| match e {
            SynthEvent::Transaction { transaction, .. } => HistoryEvent::Transaction(transaction),
            SynthEvent::Label(label) => HistoryEvent::Label(label),
        })
        .collect();
    order_history(&mut events);
    events
}

fn day(d: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, d, hour, 0, 0)
        .single()
        .expect("valid date")
}

/// The default population's 30 days.
fn typical() -> Vec<HistoryEvent> {
    stream(SynthConfig::default(), day(1, 0), TimeDelta::days(30), None)
}

/// Ten minutes of the soak's dense population at 5,000 a second, around
/// noon (where the day's activity curve is flat).
fn dense() -> Vec<HistoryEvent> {
    let config = SynthConfig {
        users: 2_000,
        merchants: 500,
        ..SynthConfig::default()
    };
    stream(config, day(4, 12), TimeDelta::minutes(10), Some(5_000.0))
}

/// [`dense`] with half of the transactions moved to five heavy merchants
/// (500 a second each: a supermarket chain's volume).
fn heavy_merchants() -> Vec<HistoryEvent> {
    let mut events = dense();
    for e in &mut events {
        if let HistoryEvent::Transaction(t) = e {
            let n = t.transaction_id.as_u128();
            if n % 2 == 0 {
                t.merchant_id = format!("heavy-{}", (n >> 8) % 5);
            }
        }
    }
    events
}

fn transactions(events: &[HistoryEvent]) -> u64 {
    events
        .iter()
        .filter(|e| matches!(e, HistoryEvent::Transaction(_)))
        .count() as u64
}

fn features(c: &mut Criterion) {
    let streams = [
        ("typical_30d", typical()),
        ("dense_10min", dense()),
        ("heavy_merchants_10min", heavy_merchants()),
    ];
    report_memory(&streams[0].1);
    for (name, events) in &streams[1..] {
        report_flatness(name, events);
    }
    let mut group = c.benchmark_group("features");
    group.sample_size(10);
    for (name, events) in &streams {
        group.throughput(Throughput::Elements(transactions(events)));
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut state = FeatureState::new(FeatureConfig::default());
                std::hint::black_box(state.replay(events).len())
            })
        });
    }
    group.finish();
}

/// Prints the median time per event of each minute of event time (from
/// batches of 1,000 events) and the last minute against the first.
fn report_flatness(name: &str, events: &[HistoryEvent]) {
    let mut state = FeatureState::new(FeatureConfig::default());
    let Some(start) = events.first().map(HistoryEvent::time) else {
        return;
    };
    let mut per_minute: Vec<Vec<f64>> = Vec::new();
    for chunk in events.chunks(1_000) {
        let began = Instant::now();
        let n = state.replay(chunk).len().max(1);
        let ns = began.elapsed().as_nanos() as f64 / n as f64;
        let minute = (chunk[0].time() - start).num_minutes() as usize;
        per_minute.resize_with(per_minute.len().max(minute + 1), Vec::new);
        per_minute[minute].push(ns);
    }
    let medians: Vec<f64> = per_minute.iter_mut().map(|v| median(v)).collect();
    let (first, last) = (medians[0], medians[medians.len() - 1]);
    eprintln!(
        "features/flatness {name}: median ns per event by minute {:?}; last / first = {:.3}; \
         state {:.1} MB for {} users",
        medians.iter().map(|m| m.round() as u64).collect::<Vec<_>>(),
        last / first,
        state.approx_bytes() as f64 / 1e6,
        state.active_users(),
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Prints the bytes of state per active user after 30 days of typical
/// history, shared parts included, and each part.
fn report_memory(events: &[HistoryEvent]) {
    let mut state = FeatureState::new(FeatureConfig::default());
    state.replay(events);
    state.evict();
    let users = state.active_users().max(1);
    let memory = state.memory();
    eprintln!(
        "features/memory: {} transactions, {} active users ({:.1} transactions each), \
         {:.0} bytes of state per active user, shared state included; by part per user: {}",
        transactions(events),
        state.active_users(),
        transactions(events) as f64 / users as f64,
        memory.total() as f64 / users as f64,
        memory
            .parts()
            .iter()
            .map(|(part, bytes)| format!("{part} {:.0}", *bytes as f64 / users as f64))
            .collect::<Vec<_>>()
            .join(", "),
    );
}

criterion_group!(benches, features);
criterion_main!(benches);

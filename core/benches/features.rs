//! Feature computation on one core, in memory. Labels are resolved
//! against their transactions while the streams are built (online the
//! store does that, off the engine), and each event goes through
//! `process` or `observe_fraud` with its vector dropped at once, so the
//! times are the engine's alone: no 200-byte-per-event output to page in.
//!
//! 1. features per second (criterion) over three streams: the default
//!    population's 30 days (typical cardholders), ten minutes of the
//!    soak's dense population (2,000 users and 500 merchants at 5,000
//!    transactions a second) and the same with heavy merchants (half of
//!    the transactions at five shops), a fresh state per iteration;
//! 2. flatness, printed once: the median time per event in the first
//!    minute of those ten-minute streams against the last;
//! 3. bytes of state per active user after 30 days of the default
//!    population, shared state (merchants, labels, name tables) included,
//!    printed once.

use std::time::Instant;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_core::features::{
    FeatureConfig, FeatureState, HistoryEvent, LabelResolver, order_history,
};
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
    resolve_labels(events)
}

/// The events with each label that counts replaced by its resolved fraud
/// label, and the rest of the labels dropped.
fn resolve_labels(events: Vec<HistoryEvent>) -> Vec<HistoryEvent> {
    let mut resolver = LabelResolver::for_history(&events);
    events
        .into_iter()
        .filter_map(|e| match e {
            HistoryEvent::Label(l) => resolver.resolve(&l).map(HistoryEvent::Fraud),
            other => Some(other),
        })
        .collect()
}

/// Feeds `events` to `state` one by one; how many transactions it took.
fn run(state: &mut FeatureState, events: &[HistoryEvent]) -> usize {
    let mut n = 0;
    for e in events {
        match e {
            HistoryEvent::Transaction(t) => {
                std::hint::black_box(state.process(t));
                n += 1;
            }
            HistoryEvent::Fraud(f) => state.observe_fraud(f),
            HistoryEvent::Label(_) => unreachable!("labels are resolved when built"),
        }
    }
    n
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
                std::hint::black_box(run(&mut state, events))
            })
        });
    }
    group.finish();
}

/// Prints the median time per event of the stream's first minute against
/// its last. Both are timed in the same run, batch by batch in turns: the
/// first minute on a fresh state, the last on a state that took the nine
/// before it. A burst of noise on the machine then slows both alike, where
/// timing the minutes nine minutes apart would credit it to one of them.
fn report_flatness(name: &str, events: &[HistoryEvent]) {
    let Some(start) = events.first().map(HistoryEvent::time) else {
        return;
    };
    let from_minute = |m: i64| events.partition_point(|e| (e.time() - start).num_minutes() < m);
    let (second, last) = (from_minute(1), from_minute(9));
    let (mut first_ns, mut last_ns) = (Vec::new(), Vec::new());
    let mut late = FeatureState::new(FeatureConfig::default());
    for _ in 0..FLATNESS_PASSES {
        let mut early = FeatureState::new(FeatureConfig::default());
        late = FeatureState::new(FeatureConfig::default());
        run(&mut late, &events[..last]);
        let batches = events[..second]
            .chunks(BATCH)
            .zip(events[last..].chunks(BATCH));
        for (first_batch, last_batch) in batches {
            first_ns.push(time_per_event(&mut early, first_batch));
            last_ns.push(time_per_event(&mut late, last_batch));
        }
    }
    let (first, last) = (median(&mut first_ns), median(&mut last_ns));
    eprintln!(
        "features/flatness {name}: median ns per event, minute 1 {first:.0}, minute 10 {last:.0}; \
         last / first = {:.3}; state {:.1} MB for {} users",
        last / first,
        late.approx_bytes() as f64 / 1e6,
        late.active_users(),
    );
}

/// Events per timed batch in the flatness report.
const BATCH: usize = 1_000;
/// Passes over a stream for the flatness report.
const FLATNESS_PASSES: usize = 3;

/// Nanoseconds per transaction of one batch.
fn time_per_event(state: &mut FeatureState, batch: &[HistoryEvent]) -> f64 {
    let began = Instant::now();
    let n = run(state, batch).max(1);
    began.elapsed().as_nanos() as f64 / n as f64
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
    run(&mut state, events);
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

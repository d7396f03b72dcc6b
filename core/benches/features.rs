//! Feature computation: (1) features per second on one core over a 30-day
//! stream of the default synthetic population (transactions and labels),
//! a fresh state per iteration; (2) bytes of state per active user after
//! those 30 days, printed once.

use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_core::features::{FeatureConfig, FeatureState, HistoryEvent, order_history};
use vigil_core::synth::{Generator, SynthConfig, SynthEvent};

const DAYS: i64 = 30;

/// The default population's 30-day stream, in processing order.
fn stream() -> Vec<HistoryEvent> {
    let config = SynthConfig::default();
    let start = Utc
        .with_ymd_and_hms(2024, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    let rate = config.natural_rate_per_sec();
    let mut generator = Generator::new(config, start, rate);
    let end = start + TimeDelta::days(DAYS);
    let mut events: Vec<HistoryEvent> = std::iter::from_fn(|| generator.next_before(end))
        .map(|e| match e {
            SynthEvent::Transaction { transaction, .. } => HistoryEvent::Transaction(transaction),
            SynthEvent::Label(label) => HistoryEvent::Label(label),
        })
        .collect();
    order_history(&mut events);
    events
}

/// Feeds every event to `state`; returns a checksum so nothing is optimised away.
fn run(state: &mut FeatureState, events: &[HistoryEvent]) -> f64 {
    let mut checksum = 0.0;
    for e in events {
        match e {
            HistoryEvent::Transaction(t) => checksum += state.process(t).amount_zscore,
            HistoryEvent::Label(l) => state.observe_label(l),
        }
    }
    checksum
}

fn features(c: &mut Criterion) {
    let events = stream();
    let transactions = events
        .iter()
        .filter(|e| matches!(e, HistoryEvent::Transaction(_)))
        .count();
    report_memory(&events, transactions);

    let mut group = c.benchmark_group("features");
    group.throughput(Throughput::Elements(transactions as u64));
    group.bench_function("process_30d_default_population", |b| {
        b.iter(|| {
            let mut state = FeatureState::new(FeatureConfig::default());
            std::hint::black_box(run(&mut state, &events))
        })
    });
    group.finish();
}

/// Prints the per-user bytes after 30 days of typical history.
fn report_memory(events: &[HistoryEvent], transactions: usize) {
    let mut state = FeatureState::new(FeatureConfig::default());
    run(&mut state, events);
    state.evict();
    let users = state.active_users().max(1);
    eprintln!(
        "features/memory: {} transactions, {} active users ({:.1} transactions each), \
         {:.0} bytes of state per active user (approx_bytes / active_users); \
         shared merchant + label state {:.1} MB",
        transactions,
        state.active_users(),
        transactions as f64 / users as f64,
        state.approx_bytes() as f64 / users as f64,
        state.approx_shared_bytes() as f64 / 1e6,
    );
}

criterion_group!(benches, features);
criterion_main!(benches);

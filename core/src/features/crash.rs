//! Crashes of the online engine, simulated the way the runtime recovers
//! (`actors/src/feature_engine.rs` `rebuild_state`, `actors/src/recovery.rs`
//! `finish_in_flight`): the state is rebuilt from the featurized
//! transactions of the look-back window and what the engine had counted as
//! fraud (`transaction_features.fraud_known_at`), in store order; then the
//! batch in flight at the crash is featurized and the labels stored but not
//! yet counted are counted; then new live events follow. The features first served for each transaction must
//! equal the offline ones of [`compute_history`] over everything stored.
//!
//! In the crash test's world (300 users, 800 transactions per second) a
//! user's transactions often share a millisecond; they arrive in
//! generation order but are read back from the store, and so processed
//! offline and by a rebuild, in transaction-id order. The country change
//! flag of the next transaction once depended on that order.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use uuid::Uuid;

use super::{
    FEATURE_NAMES, FeatureConfig, FeatureState, FeatureVector, FraudLabel, HistoryEvent,
    LabelEffect, N, compute_history, order_history,
};
use crate::synth::{Generator, SynthConfig, SynthEvent};
use crate::transaction::{Label, Transaction};

/// One published batch: its transactions, then its labels (two messages).
#[derive(Debug, Clone, Default)]
struct Batch {
    transactions: Vec<Transaction>,
    labels: Vec<Label>,
}

/// The store as the runtime keeps it: raw events and labels (written
/// before the engine sees them) and the features first computed.
#[derive(Default)]
struct Store {
    raw: Vec<Transaction>,
    labels: Vec<Label>,
    features: HashMap<Uuid, FeatureVector>,
    /// Merchant and event time of each featurized transaction.
    featurized: HashMap<Uuid, (String, DateTime<Utc>)>,
    /// `fraud_known_at`: since when the engine counts each as fraud.
    known_since: HashMap<Uuid, DateTime<Utc>>,
}

impl Store {
    /// Raw events ordered as the store returns them: (event time, id).
    fn raw_in_store_order(&self) -> Vec<Transaction> {
        let mut raw = self.raw.clone();
        raw.sort_by_key(|t| (t.timestamp, t.transaction_id));
        raw
    }

    /// `Store::history(Some(since), Featurized)`: the featurized
    /// transactions after `since` and what was counted as fraud of them.
    fn featurized_history(&self, since: DateTime<Utc>) -> Vec<HistoryEvent> {
        let mut events: Vec<HistoryEvent> = self
            .raw_in_store_order()
            .into_iter()
            .filter(|t| t.timestamp > since && self.features.contains_key(&t.transaction_id))
            .map(HistoryEvent::Transaction)
            .collect();
        for (id, &labeled_at) in &self.known_since {
            let (merchant, time) = &self.featurized[id];
            if *time > since {
                events.push(HistoryEvent::Fraud(FraudLabel {
                    transaction_id: *id,
                    merchant_id: merchant.clone(),
                    transaction_time: *time,
                    labeled_at,
                    replaces: None,
                }));
            }
        }
        events
    }

    /// Everything stored, for the offline rebuild.
    fn all_history(&self) -> Vec<HistoryEvent> {
        let mut events: Vec<HistoryEvent> = self
            .raw_in_store_order()
            .into_iter()
            .map(HistoryEvent::Transaction)
            .collect();
        let mut labels = self.labels.clone();
        labels.sort_by_key(|l| l.labeled_at);
        events.extend(labels.into_iter().map(HistoryEvent::Label));
        events
    }
}

/// The engine of one process.
struct Engine {
    state: FeatureState,
}

impl Engine {
    /// `rebuild_state`: a fresh state from the store's look-back window.
    fn start(config: &FeatureConfig, store: &Store) -> Engine {
        let mut state = FeatureState::new(config.clone());
        if let Some(newest) = store.featurized.values().map(|(_, time)| *time).max() {
            let look_back = TimeDelta::days(32) + config.label_delay + config.allowed_lateness;
            let mut history = store.featurized_history(newest - look_back);
            order_history(&mut history);
            state.replay(&history);
        }
        Engine { state }
    }

    /// `Processes<TransactionBatch>`: redeliveries skipped, first row kept.
    fn transactions(&mut self, store: &mut Store, transactions: &[Transaction]) {
        for t in transactions {
            let id = t.transaction_id;
            if self.state.may_have_processed(t) && store.features.contains_key(&id) {
                continue;
            }
            let v = self.state.process(t);
            store.features.entry(id).or_insert(v);
            store
                .featurized
                .insert(id, (t.merchant_id.clone(), t.timestamp));
        }
    }

    /// `finish_in_flight`: raw events without features, in store order,
    /// then the stored labels not counted yet. Returns how many raw events
    /// there were.
    fn recover(&mut self, store: &mut Store) -> usize {
        let owed: Vec<Transaction> = store
            .raw_in_store_order()
            .into_iter()
            .filter(|t| !store.features.contains_key(&t.transaction_id))
            .collect();
        for chunk in owed.chunks(500) {
            self.transactions(store, chunk);
        }
        let mut labels = store.labels.clone();
        labels.sort_by_key(|l| l.labeled_at);
        self.labels(store, &labels);
        owed.len()
    }

    /// `Processes<LabelBatch>`: each label resolved against the featurized
    /// transaction, counted if it changes what is known, recorded.
    fn labels(&mut self, store: &mut Store, labels: &[Label]) {
        for l in labels {
            let Some((merchant, time)) = store.featurized.get(&l.transaction_id) else {
                continue;
            };
            let known = store.known_since.get(&l.transaction_id).copied();
            if let Some(fraud) = LabelEffect::of(l, known).resolve(l, merchant, *time) {
                self.state.observe_fraud(&fraud);
                store.known_since.insert(l.transaction_id, l.labeled_at);
            }
        }
    }
}

/// What happens to the batches of one process lifetime.
#[derive(Debug, Clone, Copy)]
enum Crash {
    /// All batches processed, then killed.
    Clean,
    /// The last batch was stored (raw events, labels) but not processed.
    InFlight,
}

/// Runs the process lifetimes (`batches` each, in arrival order) through
/// the engine with a crash after each, then a last start that only
/// recovers. Returns the store and how many transactions recovery
/// featurized.
fn run(config: &FeatureConfig, lifetimes: &[(Vec<Batch>, Crash)]) -> (Store, usize) {
    let mut store = Store::default();
    let mut recovered = 0;
    for (batches, crash) in lifetimes {
        let mut engine = Engine::start(config, &store);
        recovered += engine.recover(&mut store);
        let processed = match crash {
            Crash::Clean => batches.len(),
            Crash::InFlight => batches.len().saturating_sub(1),
        };
        for (i, b) in batches.iter().enumerate() {
            // The audit log stores a batch before the engine gets it.
            store.raw.extend(b.transactions.iter().cloned());
            store.labels.extend(b.labels.iter().cloned());
            if i < processed {
                engine.transactions(&mut store, &b.transactions);
                engine.labels(&mut store, &b.labels);
            }
        }
    }
    let mut last = Engine::start(config, &store);
    recovered += last.recover(&mut store);
    (store, recovered)
}

/// The transactions whose served features differ from the offline ones:
/// (transaction, feature name, online, offline).
fn differences(
    config: &FeatureConfig,
    store: &Store,
) -> Vec<(Transaction, &'static str, f64, f64)> {
    let offline: HashMap<Uuid, [f64; N]> = compute_history(config, store.all_history())
        .into_iter()
        .map(|(id, v)| (id, v.to_array()))
        .collect();
    assert_eq!(offline.len(), store.raw.len());
    assert_eq!(
        store.features.len(),
        store.raw.len(),
        "every event featurized"
    );
    let mut out = Vec::new();
    for t in store.raw_in_store_order() {
        let online = store.features[&t.transaction_id].to_array();
        let expected = offline[&t.transaction_id];
        for i in 0..N {
            if online[i].to_bits() != expected[i].to_bits() {
                out.push((t.clone(), FEATURE_NAMES[i], online[i], expected[i]));
            }
        }
    }
    out
}

/// The generator's events up to `until` as the producer publishes them:
/// batches of at most `size` transactions, a transaction after a label
/// starting the next batch; one call per `tick`.
fn publish(
    generator: &mut Generator,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    tick: TimeDelta,
    size: usize,
) -> Vec<Batch> {
    let mut batches = Vec::new();
    let mut now = from;
    while now < until {
        now = (now + tick).min(until);
        let mut batch = Batch::default();
        while let Some(event) = generator.next_before(now) {
            match event {
                SynthEvent::Transaction { transaction, .. } => {
                    if !batch.labels.is_empty() || batch.transactions.len() == size {
                        batches.push(std::mem::take(&mut batch));
                    }
                    batch.transactions.push(transaction);
                }
                SynthEvent::Label(l) => batch.labels.push(l),
            }
        }
        if !batch.transactions.is_empty() || !batch.labels.is_empty() {
            batches.push(batch);
        }
    }
    batches
}

/// The crash test's world (`tests/crash.rs`): 300 users, 60 merchants, 5%
/// fraud, labels after a day, a 6-day backfill at the natural rate, then
/// 800 transactions per second live, the process killed every few seconds
/// and started again on the wall clock.
fn crash_test_world() -> SynthConfig {
    SynthConfig {
        seed: 7,
        users: 300,
        merchants: 60,
        fraud_rate: 0.05,
        label_delay: TimeDelta::days(1),
    }
}

fn crash_test_config() -> FeatureConfig {
    FeatureConfig {
        label_delay: TimeDelta::days(1),
        ..FeatureConfig::default()
    }
}

fn wall_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 6, 9, 0, 0)
        .single()
        .expect("valid date")
}

/// The lifetimes of the crash test: a backfill then `live` seconds, then
/// restarts of `live` seconds each, `gap` apart.
fn crash_test_lifetimes(seed: u64, live: i64, restarts: usize) -> Vec<(Vec<Batch>, Crash)> {
    let world = SynthConfig {
        seed,
        ..crash_test_world()
    };
    let tick = TimeDelta::milliseconds(100);
    let to = wall_start();
    let from = to - TimeDelta::days(6);
    let mut generator = Generator::new(world.clone(), from, world.natural_rate_per_sec());
    let mut first = publish(&mut generator, from, to, TimeDelta::hours(1), 500);
    generator.set_rate(800.0);
    let mut end = to + TimeDelta::seconds(live);
    first.extend(publish(&mut generator, to, end, tick, 500));
    let mut lifetimes = vec![(first, Crash::InFlight)];
    for i in 0..restarts {
        let start = end + TimeDelta::seconds(2);
        end = start + TimeDelta::seconds(live);
        let mut generator = Generator::new(world.clone(), start, 800.0);
        let crash = if i % 2 == 0 {
            Crash::InFlight
        } else {
            Crash::Clean
        };
        lifetimes.push((publish(&mut generator, start, end, tick, 500), crash));
    }
    lifetimes
}

/// Pairs of one user's transactions stamped the same millisecond with
/// different countries: what made the crash test fail once in four runs.
fn simultaneous_in_two_countries(lifetimes: &[(Vec<Batch>, Crash)]) -> usize {
    let mut by_key: HashMap<(&str, DateTime<Utc>), HashSet<Option<&str>>> = HashMap::new();
    for t in lifetimes
        .iter()
        .flat_map(|(batches, _)| batches.iter().flat_map(|b| &b.transactions))
    {
        by_key
            .entry((t.user_id.as_str(), t.timestamp))
            .or_default()
            .insert(t.country.as_deref());
    }
    by_key.values().filter(|c| c.len() > 1).count()
}

#[test]
fn crash_test_stream_online_equals_offline() {
    let config = crash_test_config();
    let mut all_ties = 0;
    for seed in [7, 8, 9] {
        let lifetimes = crash_test_lifetimes(seed, 3, 6);
        let ties = simultaneous_in_two_countries(&lifetimes);
        all_ties += ties;
        let (store, recovered) = run(&config, &lifetimes);
        assert!(recovered > 0, "seed {seed}: no batch in flight");
        let diffs = differences(&config, &store);
        let shown: Vec<String> = diffs
            .iter()
            .take(5)
            .map(|(t, name, online, offline)| {
                format!(
                    "{} {} {}: {name} online {online} offline {offline}",
                    t.timestamp, t.user_id, t.transaction_id
                )
            })
            .collect();
        assert!(
            diffs.is_empty(),
            "seed {seed}: {} differences ({ties} simultaneous pairs in two countries): {shown:#?}",
            diffs.len()
        );
    }
    // The streams have what made the crash test fail.
    assert!(all_ties > 0);
}

#[test]
fn offline_features_do_not_depend_on_the_order_of_simultaneous_transactions() {
    let config = crash_test_config();
    let lifetimes = crash_test_lifetimes(7, 3, 2);
    let (store, _) = run(&config, &lifetimes);
    let bits = |events: Vec<HistoryEvent>| -> HashMap<Uuid, [u64; N]> {
        compute_history(&config, events)
            .into_iter()
            .map(|(id, v)| (id, v.to_array().map(f64::to_bits)))
            .collect()
    };
    let store_order = bits(store.all_history());
    // Simultaneous transactions in the opposite order.
    let mut reversed = store.raw_in_store_order();
    reversed.sort_by_key(|t| (t.timestamp, std::cmp::Reverse(t.transaction_id)));
    let mut events: Vec<HistoryEvent> = reversed
        .into_iter()
        .map(HistoryEvent::Transaction)
        .collect();
    events.extend(store.labels.iter().cloned().map(HistoryEvent::Label));
    assert!(bits(events) == store_order);
    assert!(simultaneous_in_two_countries(&lifetimes) > 0);
}

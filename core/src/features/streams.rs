//! Properties over generated streams: online equals offline, a restart
//! that replays the store equals no restart, labels known later never
//! change earlier features, eviction never changes features, and late
//! arrivals match a naive oracle that recomputes every window from the
//! raw list of earlier transactions.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::labels::LabelEffect;
use super::oracle::{Oracle, assert_close};
use super::windows::{DAY, LONGEST, MINUTE, millis};
use super::{
    FeatureConfig, FeatureState, FeatureVector, HistoryEvent, N, compute_history, order_history,
};
use crate::synth::{Generator, SynthConfig, SynthEvent};
use crate::transaction::{Label, Transaction};

const WEEK: i64 = 7 * DAY;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// `days` of the generator's stream, in its own order.
fn generate(config: SynthConfig, days: i64) -> Vec<HistoryEvent> {
    let rate = config.natural_rate_per_sec();
    let mut generator = Generator::new(config, start(), rate);
    let end = start() + TimeDelta::days(days);
    std::iter::from_fn(|| generator.next_before(end))
        .map(|e| match e {
            SynthEvent::Transaction { transaction, .. } => HistoryEvent::Transaction(transaction),
            SynthEvent::Label(label) => HistoryEvent::Label(label),
        })
        .collect()
}

/// Ten days of the default population (over 50,000 transactions) with
/// chargebacks after about two days, so that labels keep arriving.
fn large() -> &'static [HistoryEvent] {
    static EVENTS: OnceLock<Vec<HistoryEvent>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let config = SynthConfig {
            label_delay: TimeDelta::days(2),
            ..SynthConfig::default()
        };
        generate(config, 10)
    })
}

/// A two-day label delay: labels arrive around two days after their
/// transaction, so in the day of t − delay some are known at feature time
/// and some are not yet.
fn config() -> FeatureConfig {
    FeatureConfig {
        label_delay: TimeDelta::days(2),
        ..FeatureConfig::default()
    }
}

/// What the online engine finds in its store: the merchant and time of
/// every transaction it featurized, and since when each is known as fraud.
#[derive(Default)]
pub(super) struct Store {
    featurized: HashMap<Uuid, (String, DateTime<Utc>)>,
    known_since: HashMap<Uuid, DateTime<Utc>>,
}

/// Feeds `events` one by one to `state` as the feature engine does, with
/// labels resolved through `store`; the vectors of the transactions.
pub(super) fn feed(
    state: &mut FeatureState,
    store: &mut Store,
    events: &[HistoryEvent],
) -> Vec<(Uuid, FeatureVector)> {
    let mut out = Vec::new();
    for e in events {
        match e {
            HistoryEvent::Transaction(t) => {
                out.push((t.transaction_id, state.process(t)));
                store
                    .featurized
                    .insert(t.transaction_id, (t.merchant_id.clone(), t.timestamp));
            }
            HistoryEvent::Label(l) => {
                let Some((merchant, time)) = store.featurized.get(&l.transaction_id) else {
                    continue;
                };
                let known = store.known_since.get(&l.transaction_id).copied();
                if let Some(fraud) = LabelEffect::of(l, known).resolve(l, merchant, *time) {
                    state.observe_fraud(&fraud);
                    store.known_since.insert(l.transaction_id, l.labeled_at);
                }
            }
            HistoryEvent::Fraud(f) => state.observe_fraud(f),
        }
    }
    out
}

/// [`feed`] into a fresh state and store.
fn feed_fresh(
    config: FeatureConfig,
    events: &[HistoryEvent],
) -> (FeatureState, Vec<(Uuid, FeatureVector)>) {
    let mut state = FeatureState::new(config);
    let out = feed(&mut state, &mut Store::default(), events);
    (state, out)
}

/// The vectors as bits, so that equality is exact (and -0.0 ≠ 0.0).
fn bits(vectors: &[(Uuid, FeatureVector)]) -> Vec<(Uuid, [u64; N])> {
    vectors
        .iter()
        .map(|(id, v)| (*id, v.to_array().map(f64::to_bits)))
        .collect()
}

fn transactions(events: &[HistoryEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, HistoryEvent::Transaction(_)))
        .count()
}

/// How many vectors have a non-zero value of `feature`.
fn nonzero(vectors: &[(Uuid, FeatureVector)], feature: &str) -> usize {
    vectors
        .iter()
        .filter(|(_, v)| v.get(feature).is_some_and(|x| x != 0.0))
        .count()
}

#[test]
fn online_equals_offline_on_a_large_history() {
    let events = large();
    assert!(transactions(events) >= 50_000, "{}", transactions(events));
    let offline = compute_history(&config(), events.iter().cloned());
    let mut ordered = events.to_vec();
    order_history(&mut ordered);
    let (state, online) = feed_fresh(config(), &ordered);
    assert_eq!(online.len(), offline.len());
    assert!(bits(&online) == bits(&offline), "online and offline differ");
    assert_eq!(state.late_events(), 0);
    // The stream exercises the stateful features.
    for feature in [
        "merchant_fraud_rate_1d",
        "merchant_fraud_rate_30d",
        "country_change_flag",
        "device_change_flag",
        "amount_zscore",
    ] {
        assert!(nonzero(&offline, feature) > 20, "{feature} is always 0");
    }
    // The whole state, shared parts included, per active user.
    let bytes_per_user = state.approx_bytes() / state.active_users();
    assert!(bytes_per_user < 1024, "{bytes_per_user} bytes per user");
}

#[test]
fn restart_by_replaying_the_first_half_gives_the_same_features() {
    let mut events = large().to_vec();
    order_history(&mut events);
    let whole = compute_history(&config(), events.iter().cloned());
    let (first, second) = events.split_at(events.len() / 2);
    let mut store = Store::default();
    let mut served = feed(&mut FeatureState::new(config()), &mut store, first);
    // A restarted engine rebuilds its state from the store (the
    // transactions and what is known as fraud), then goes on.
    let mut rebuilt = FeatureState::new(config());
    let mut rebuild = Store::default();
    feed(&mut rebuilt, &mut rebuild, first);
    served.extend(feed(&mut rebuilt, &mut store, second));
    assert!(
        bits(&served) == bits(&whole),
        "the restart changed features"
    );
}

#[test]
fn labels_known_later_never_change_earlier_features() {
    let events = large();
    let full: HashMap<Uuid, [u64; N]> = bits(&compute_history(&config(), events.iter().cloned()))
        .into_iter()
        .collect();
    let time_of = times(events);
    let mut rng = StdRng::seed_from_u64(7);
    for day in [3, 5, 7, 9] {
        let cutoff = start() + TimeDelta::days(day);
        // Every label known after the cutoff is removed, and fake fraud
        // labels for other transactions are known 1 ms after it.
        let mut changed: Vec<HistoryEvent> = events
            .iter()
            .filter(|e| match e {
                HistoryEvent::Label(l) => l.labeled_at <= cutoff,
                _ => true,
            })
            .cloned()
            .collect();
        let fakes: Vec<Label> = events
            .iter()
            .filter_map(|e| match e {
                HistoryEvent::Transaction(t) if t.timestamp <= cutoff && rng.random_bool(0.05) => {
                    Some(fake_label(t, cutoff + TimeDelta::milliseconds(1)))
                }
                _ => None,
            })
            .collect();
        changed.extend(fakes.into_iter().map(HistoryEvent::Label));
        let mut same = 0;
        let mut later_differs = 0;
        for (id, v) in bits(&compute_history(&config(), changed)) {
            let at = time_of[&id];
            if at <= cutoff {
                assert_eq!(
                    v, full[&id],
                    "labels after {cutoff} changed a feature at {at}"
                );
                same += 1;
            } else {
                later_differs += usize::from(v != full[&id]);
            }
        }
        assert!(same > 10_000, "{same}");
        // The changed labels do matter after the cutoff: the test can fail.
        assert!(later_differs > 0, "labels never matter after day {day}");
    }
}

#[test]
fn labels_delivered_early_change_nothing() {
    // Online, labels may be observed long before their labeled_at (a
    // replay that loads labels with their transactions). Deliver every
    // label right after its transaction, plus fake fraud labels known up
    // to three days later: the features must be those of the time-ordered
    // history, where each label only arrives at its labeled_at.
    let mut rng = StdRng::seed_from_u64(8);
    let mut ordered = large().to_vec();
    order_history(&mut ordered);
    let mut labels: HashMap<Uuid, Vec<Label>> = HashMap::new();
    for e in &ordered {
        match e {
            HistoryEvent::Label(l) => labels.entry(l.transaction_id).or_default().push(l.clone()),
            HistoryEvent::Transaction(t) if rng.random_bool(0.05) => {
                let later = TimeDelta::milliseconds(rng.random_range(1..3 * DAY));
                let fake = fake_label(t, t.timestamp + later);
                labels.entry(t.transaction_id).or_default().push(fake);
            }
            _ => {}
        }
    }
    let mut early = Vec::new();
    let mut on_time = Vec::new();
    for e in ordered
        .iter()
        .filter(|e| matches!(e, HistoryEvent::Transaction(_)))
    {
        early.push(e.clone());
        on_time.push(e.clone());
        if let HistoryEvent::Transaction(t) = e {
            for l in labels.remove(&t.transaction_id).unwrap_or_default() {
                early.push(HistoryEvent::Label(l.clone()));
                on_time.push(HistoryEvent::Label(l));
            }
        }
    }
    let expected = compute_history(&config(), on_time);
    let (_, got) = feed_fresh(config(), &early);
    assert!(
        bits(&got) == bits(&expected),
        "early labels leaked into features"
    );
    assert!(nonzero(&expected, "merchant_fraud_rate_7d") > 1_000);
}

fn fake_label(t: &Transaction, labeled_at: DateTime<Utc>) -> Label {
    Label {
        label_id: Uuid::new_v4(),
        transaction_id: t.transaction_id,
        is_fraud: true,
        source: "fake".into(),
        labeled_at,
    }
}

/// Transaction id → timestamp.
fn times(events: &[HistoryEvent]) -> HashMap<Uuid, DateTime<Utc>> {
    events
        .iter()
        .filter_map(|e| match e {
            HistoryEvent::Transaction(t) => Some((t.transaction_id, t.timestamp)),
            _ => None,
        })
        .collect()
}

#[test]
fn memory_follows_active_users() {
    let mut events = large().to_vec();
    order_history(&mut events);
    let (mut state, _) = feed_fresh(config(), &events);
    state.evict();
    let active = state.active_users();
    assert!(active > 1_900, "{active}");
    let busy = state.approx_bytes();
    // A month and more later only one user is active.
    let later = start() + TimeDelta::days(10) + TimeDelta::milliseconds(LONGEST + WEEK + 2 * DAY);
    let HistoryEvent::Transaction(mut t) = events[0].clone() else {
        panic!("a label first");
    };
    t.timestamp = later;
    state.process(&t);
    state.evict();
    assert_eq!(state.active_users(), 1);
    assert_eq!(state.active_merchants(), 1);
    let idle = state.memory();
    eprintln!("{idle:?} of {busy}");
    assert!(idle.users * 100 < busy, "{idle:?} of {busy}");
    assert!(idle.total() * 5 < busy, "{idle:?} of {busy}");
}

/// A small, busy world for the oracle: few users and merchants, much
/// fraud, chargebacks within a day.
fn small() -> &'static [HistoryEvent] {
    static EVENTS: OnceLock<Vec<HistoryEvent>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let config = SynthConfig {
            seed: 5,
            users: 150,
            merchants: 40,
            fraud_rate: 0.05,
            label_delay: TimeDelta::hours(20),
        };
        generate(config, 6)
    })
}

/// The small stream as it arrives: each transaction up to 15 minutes after
/// its time (so some arrive beyond the 10-minute lateness), labels on time.
fn jittered() -> Vec<HistoryEvent> {
    let mut rng = StdRng::seed_from_u64(11);
    let mut arrivals: Vec<(DateTime<Utc>, HistoryEvent)> = small()
        .iter()
        .map(|e| {
            let delay = match e {
                HistoryEvent::Transaction(_) => rng.random_range(0..=15 * MINUTE),
                _ => 0,
            };
            (e.time() + TimeDelta::milliseconds(delay), e.clone())
        })
        .collect();
    arrivals.sort_by_key(|(arrival, _)| *arrival);
    arrivals.into_iter().map(|(_, e)| e).collect()
}

fn oracle_config() -> FeatureConfig {
    FeatureConfig {
        label_delay: TimeDelta::hours(12),
        ..FeatureConfig::default()
    }
}

#[test]
fn late_arrivals_match_the_naive_oracle() {
    let events = jittered();
    let mut state = FeatureState::new(oracle_config());
    let mut store = Store::default();
    let mut oracle = Oracle::new(&oracle_config());
    let mut compared = 0;
    let mut late_within = 0;
    for e in &events {
        if let HistoryEvent::Transaction(t) = e {
            late_within += usize::from(millis(t.timestamp) < oracle.newest);
            let got = feed(&mut state, &mut store, std::slice::from_ref(e));
            if let Some(expected) = oracle.process(t) {
                assert_close(&got[0].1, &expected, t);
                compared += 1;
            }
        } else if let HistoryEvent::Label(l) = e {
            feed(&mut state, &mut store, std::slice::from_ref(e));
            oracle.observe_label(l);
        }
    }
    assert_eq!(state.late_events(), oracle.late);
    assert!(oracle.late > 50, "{} beyond the lateness", oracle.late);
    assert!(late_within > 1_000, "{late_within} late arrivals");
    assert!(compared > 2_000, "{compared}");
    assert!(oracle.fraud_rates_seen > 100, "{}", oracle.fraud_rates_seen);
}

#[test]
fn eviction_never_changes_features() {
    let events = jittered();
    let (_, expected) = feed_fresh(oracle_config(), &events);
    // Evicting after every event settles and trims as early as possible.
    let mut eager = FeatureState::new(oracle_config());
    let mut store = Store::default();
    let mut got = Vec::new();
    for e in &events {
        got.extend(feed(&mut eager, &mut store, std::slice::from_ref(e)));
        eager.evict();
    }
    // Transactions beyond the lateness are best effort: what they see
    // depends on how much of the state is settled already.
    let accepted = accepted_ids(&events, oracle_config().allowed_lateness);
    let keep = |v: Vec<(Uuid, FeatureVector)>| -> Vec<(Uuid, FeatureVector)> {
        v.into_iter()
            .filter(|(id, _)| accepted.contains(id))
            .collect()
    };
    let (got, expected) = (keep(got), keep(expected));
    assert!(got.len() > 2_000, "{}", got.len());
    assert!(bits(&got) == bits(&expected), "eviction changed features");
}

/// The transactions of `events` (in arrival order) within the lateness.
fn accepted_ids(events: &[HistoryEvent], lateness: TimeDelta) -> std::collections::HashSet<Uuid> {
    let mut newest = i64::MIN;
    let mut out = std::collections::HashSet::new();
    for e in events {
        if let HistoryEvent::Transaction(t) = e {
            let time = millis(t.timestamp);
            newest = newest.max(time);
            if time >= newest - lateness.num_milliseconds() {
                out.insert(t.transaction_id);
            }
        }
    }
    out
}

//! The online feature state: computes each transaction's features at its
//! event time, then adds it; counts resolved fraud labels; evicts idle
//! state.

use crate::transaction::Transaction;

use super::FeatureConfig;
use super::calendar::{Calendar, channel_code};
use super::intern::{Interner, MISSING, MIXED, Remap, UNKNOWN};
use super::labels::FraudLabel;
use super::memory::StateBytes;
use super::merchant::{MerchantFeatures, MerchantState};
use super::merchants::Merchants;
use super::user::{Recent, UserState};
use super::user_features::{Query, UserFeatures};
use super::users::Users;
use super::vector::FeatureVector;
use super::windows::{Horizons, MAX_LABEL_DELAY, MAX_LATENESS, cents, millis, span};

/// Eviction runs by itself after this many processed transactions, or
/// after as many as there are active users if that is more, so that its
/// cost (linear in the users) stays constant per transaction.
pub const EVICT_EVERY: u64 = 10_000;

/// Interners are checked for dead ids once they grew past this (or twice
/// the live ids found at the last check).
const FIRST_ID_CHECK: usize = 1024;

/// Per-user and per-merchant state of the online feature path.
pub struct FeatureState {
    config: FeatureConfig,
    /// Allowed lateness in ms, clamped.
    lateness: i64,
    /// Label delay in ms, clamped.
    delay: i64,
    /// Newest transaction time seen (ms), `i64::MIN` before the first.
    newest: i64,
    /// Transactions processed since the last eviction.
    since_evict: u64,
    late: u64,
    users: Users,
    merchants: Merchants,
    countries: Interner,
    devices: Interner,
    /// Interner sizes at which dead ids are looked for next.
    next_id_check: IdChecks,
}

/// When each interner is next checked for dead ids.
#[derive(Debug, Clone, Copy)]
struct IdChecks {
    merchants: usize,
    countries: usize,
    devices: usize,
}

impl FeatureState {
    /// An empty state. Lateness is clamped to [0, 7 days] and the label
    /// delay to [0, 365 days] (see the module docs).
    pub fn new(config: FeatureConfig) -> Self {
        FeatureState {
            lateness: span(config.allowed_lateness, MAX_LATENESS),
            delay: span(config.label_delay, MAX_LABEL_DELAY),
            config,
            newest: i64::MIN,
            since_evict: 0,
            late: 0,
            users: Users::default(),
            merchants: Merchants::default(),
            countries: Interner::default(),
            devices: Interner::default(),
            next_id_check: IdChecks {
                merchants: FIRST_ID_CHECK,
                countries: FIRST_ID_CHECK,
                devices: FIRST_ID_CHECK,
            },
        }
    }

    /// The configuration this state was built with.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Computes the features of `t` at its event time and then adds `t` to
    /// the state (unless it is later than the allowed lateness). Returns the
    /// vector. Runs [`FeatureState::evict`] every [`EVICT_EVERY`] calls (or
    /// every `active_users()` calls when that is more).
    pub fn process(&mut self, t: &Transaction) -> FeatureVector {
        let time = millis(t.timestamp);
        let accepted = self.accept(time);
        let h = self.horizons();
        let q = self.query(t, time, accepted);
        let user = self.user_features(&t.user_id, &q, accepted, &h);
        let merchant = self.merchant_features(&q, accepted, &h);
        self.since_evict += 1;
        if self.since_evict >= EVICT_EVERY.max(self.users.len() as u64) {
            self.evict();
        }
        assemble(t, time, &user, &merchant)
    }

    /// Whether `t` may already be in the state, so that a caller which can
    /// see a transaction twice (redelivery, retries) must check its store
    /// before processing it: true when `t` is not newer than its user's
    /// newest transaction, or is older than the allowed lateness (then it
    /// would not change the state, but its stored features must be kept).
    /// A new transaction of an in-order stream is never suspect, except
    /// when it shares its user's newest millisecond.
    pub fn may_have_processed(&self, t: &Transaction) -> bool {
        let time = millis(t.timestamp);
        time < self.newest.saturating_sub(self.lateness)
            || self.users.get(&t.user_id).is_some_and(|u| time <= u.newest)
    }

    /// Counts a resolved fraud label at its transaction's merchant: the
    /// transaction counts as fraud for features at or after `labeled_at`.
    /// A label for a merchant or a day the state no longer holds changes
    /// nothing.
    pub fn observe_fraud(&mut self, label: &FraudLabel) {
        let h = self.horizons();
        let merchant = self.merchants.get(&label.merchant_id);
        if let Some(m) = self.merchants.state_mut(merchant) {
            m.record_fraud(
                label.transaction_id,
                millis(label.transaction_time),
                millis(label.labeled_at),
                label.replaces.map(millis),
                &h,
            );
        }
    }

    /// Drops users and merchants outside every window of any transaction
    /// the state still accepts, settles and trims the rest and releases
    /// memory slack. Never changes a feature.
    pub fn evict(&mut self) {
        self.since_evict = 0;
        let h = self.horizons();
        self.users.evict(&h);
        self.merchants.maintain(&h);
        self.compact_ids();
    }

    /// Number of users with state.
    pub fn active_users(&self) -> usize {
        self.users.len()
    }

    /// Number of merchants with transactions held.
    pub fn active_merchants(&self) -> usize {
        self.merchants.active()
    }

    /// Approximate bytes of the whole state, by part (users, merchants,
    /// labels, interners): inline sizes and heap capacities.
    pub fn memory(&self) -> StateBytes {
        StateBytes {
            users: self.users.approx_bytes(),
            merchants: self.merchants.heap_bytes(),
            labels: self.merchants.label_bytes(),
            interners: self.merchants.name_bytes()
                + self.countries.approx_bytes()
                + self.devices.approx_bytes(),
        }
    }

    /// Approximate bytes of the whole state ([`FeatureState::memory`]'s total).
    pub fn approx_bytes(&self) -> usize {
        self.memory().total()
    }

    /// How many transactions arrived later than the allowed lateness (their
    /// features were computed but they were not added to the state).
    pub fn late_events(&self) -> u64 {
        self.late
    }

    /// Advances the newest time; whether `time` is within the lateness.
    fn accept(&mut self, time: i64) -> bool {
        self.newest = self.newest.max(time);
        let accepted = time >= self.newest.saturating_sub(self.lateness);
        if !accepted {
            self.late += 1;
        }
        accepted
    }

    fn horizons(&self) -> Horizons {
        Horizons::new(self.newest, self.lateness, self.delay)
    }

    /// The ids of `t`'s merchant, country and device: interned when `t` will
    /// be stored, only looked up otherwise so that nothing is added.
    fn query(&mut self, t: &Transaction, time: i64, accepted: bool) -> Query {
        let (country, device) = (t.country.as_deref(), t.device_id.as_deref());
        let (merchant, country, device) = if accepted {
            (
                self.merchants.intern(&t.merchant_id),
                self.countries.intern_opt(country),
                self.devices.intern_opt(device),
            )
        } else {
            // The merchant is interned anyway: a late transaction still
            // counts in its merchant's day (see `count_late`).
            (
                self.merchants.intern(&t.merchant_id),
                self.countries.get_opt(country),
                self.devices.get_opt(device),
            )
        };
        Query {
            t: time,
            cents: cents(t.amount),
            merchant,
            country,
            device,
        }
    }

    fn user_features(&mut self, id: &str, q: &Query, accepted: bool, h: &Horizons) -> UserFeatures {
        if !accepted {
            return match self.users.get(id) {
                Some(user) => user.features(q),
                None => UserState::default().features(q),
            };
        }
        let user = self.users.get_or_insert(id);
        let features = user.features(q);
        user.insert(
            Recent {
                time: q.t,
                cents: q.cents,
                merchant: q.merchant,
                country: q.country,
                device: q.device,
            },
            Some(features.distinct),
            h,
        );
        features
    }

    fn merchant_features(&mut self, q: &Query, accepted: bool, h: &Horizons) -> MerchantFeatures {
        let delay = self.delay;
        match self.merchants.state_mut(q.merchant) {
            Some(m) if accepted => {
                let features = m.features(q.t, delay);
                m.insert(q.t, h);
                features
            }
            Some(m) => {
                let features = m.features(q.t, delay);
                m.count_late(q.t, h);
                features
            }
            None => MerchantState::default().features(q.t, delay),
        }
    }

    /// Forgets interned ids nothing refers to any more, when an interner has
    /// grown enough since its last check for that to be worth a pass.
    fn compact_ids(&mut self) {
        if self.merchants.ids() >= self.next_id_check.merchants {
            let mut live = vec![false; self.merchants.ids()];
            self.merchants.mark(&mut live);
            self.users
                .iter()
                .for_each(|u| u.mark(&mut live, &mut [], &mut []));
            if let Some(remap) = self.merchants.compact(&live) {
                self.users
                    .for_each_mut(|u| u.remap(Some(&remap), None, None));
            }
            self.next_id_check.merchants = next_check(self.merchants.ids());
        }
        if self.countries.len() >= self.next_id_check.countries {
            if let Some(remap) = compact(&mut self.countries, &self.users, |u, live| {
                u.mark(&mut [], live, &mut [])
            }) {
                self.users
                    .for_each_mut(|u| u.remap(None, Some(&remap), None));
            }
            self.next_id_check.countries = next_check(self.countries.len());
        }
        if self.devices.len() >= self.next_id_check.devices {
            if let Some(remap) = compact(&mut self.devices, &self.users, |u, live| {
                u.mark(&mut [], &mut [], live)
            }) {
                self.users
                    .for_each_mut(|u| u.remap(None, None, Some(&remap)));
            }
            self.next_id_check.devices = next_check(self.devices.len());
        }
    }
}

/// Compacts an interner whose ids only users refer to, when most are dead.
fn compact(
    names: &mut Interner,
    users: &Users,
    mark: impl Fn(&UserState, &mut [bool]),
) -> Option<Remap> {
    let mut live = vec![false; names.len()];
    users.iter().for_each(|u| mark(u, &mut live));
    let count = live.iter().filter(|&&l| l).count();
    names.worth_compacting(count).then(|| names.compact(&live))
}

impl std::fmt::Debug for FeatureState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureState")
            .field("config", &self.config)
            .field("newest_ms", &self.newest)
            .field("active_users", &self.users.len())
            .field("active_merchants", &self.merchants.active())
            .field("late_events", &self.late)
            .finish_non_exhaustive()
    }
}

/// The interner size at which to look again: twice the ids now live.
fn next_check(live: usize) -> usize {
    (2 * live).max(FIRST_ID_CHECK)
}

/// The full vector from the three groups of features.
fn assemble(t: &Transaction, time: i64, u: &UserFeatures, m: &MerchantFeatures) -> FeatureVector {
    let c = Calendar::of(time);
    FeatureVector {
        amount: t.amount,
        amount_zscore: u.amount_zscore,
        user_avg_amount_30d: u.avg_amount_30d,
        user_txn_count_10m: u.count_10m,
        user_txn_count_1h: u.count_1h,
        user_txn_count_24h: u.count_24h,
        user_txn_count_7d: u.count_7d,
        user_amount_sum_1h: u.amount_sum_1h,
        user_amount_sum_24h: u.amount_sum_24h,
        unique_countries_24h: u.unique_countries_24h,
        unique_merchants_24h: u.unique_merchants_24h,
        country_change_flag: u.country_change,
        device_change_flag: u.device_change,
        user_merchant_first_time: u.merchant_first_time,
        hour_of_day: c.hour_of_day,
        day_of_week: c.day_of_week,
        is_weekend: c.is_weekend,
        is_night: c.is_night,
        minutes_since_last_txn: u.minutes_since_last,
        channel_encoded: channel_code(t.channel),
        merchant_txn_count_1d: m.count_1d,
        merchant_txn_count_7d: m.count_7d,
        merchant_txn_count_30d: m.count_30d,
        merchant_fraud_rate_1d: m.fraud_rate_1d,
        merchant_fraud_rate_7d: m.fraud_rate_7d,
        merchant_fraud_rate_30d: m.fraud_rate_30d,
    }
}

// Ids that are never stored must never equal stored ones.
const _: () = assert!(MISSING != UNKNOWN && MIXED != UNKNOWN && MIXED != MISSING);

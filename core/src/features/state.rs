//! The online feature state: computes each transaction's features at its
//! event time, then adds it; attaches fraud labels; evicts idle state.

use crate::transaction::{Label, Transaction};

use super::FeatureConfig;
use super::calendar::{Calendar, channel_code};
use super::intern::{Interner, MISSING, MIXED, UNKNOWN};
use super::labels::LabelBook;
use super::merchant::{MerchantFeatures, MerchantState};
use super::merchants::Merchants;
use super::user::{Detail, UserState};
use super::user_features::{Query, UserFeatures};
use super::users::Users;
use super::vector::FeatureVector;
use super::windows::{Horizons, LONGEST, MAX_LABEL_DELAY, MAX_LATENESS, cents, millis, span};

/// Eviction runs by itself after this many processed transactions, or
/// after as many as there are active users if that is more, so that its
/// cost (linear in the users) stays constant per transaction.
pub const EVICT_EVERY: u64 = 10_000;

/// Interners are checked for dead ids once they grew past this (or twice
/// the live ids found at the last check).
const FIRST_ID_CHECK: usize = 1024;

/// Per-user, per-merchant and label state of the online feature path.
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
    book: LabelBook,
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
            book: LabelBook::default(),
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
        let q = self.query(t, time, accepted);
        let user = self.user_features(&t.user_id, &q, accepted);
        let merchant = self.merchant_features(&q, accepted);
        if accepted {
            self.book.attach(t.transaction_id, q.merchant, time);
        }
        self.since_evict += 1;
        if self.since_evict >= EVICT_EVERY.max(self.users.len() as u64) {
            self.evict();
        }
        assemble(t, time, &user, &merchant)
    }

    /// Whether transaction `id` was added to the state and is still within
    /// the span the state keeps (30 days plus the label delay). A caller
    /// that may see a transaction twice (redelivery, retries) checks this
    /// first: processing it again would count it twice. A duplicate older
    /// than that span is beyond the allowed lateness anyway, so processing
    /// it changes nothing.
    pub fn remembers(&self, id: &uuid::Uuid) -> bool {
        self.book.contains(id)
    }

    /// Records a label: a fraud label for a transaction in the state makes
    /// it count as fraud for features at or after `labeled_at`; anything
    /// else is ignored, and applying the same label twice changes nothing.
    pub fn observe_label(&mut self, label: &Label) {
        if !label.is_fraud {
            return;
        }
        let Some(a) = self
            .book
            .label(&label.transaction_id, millis(label.labeled_at))
        else {
            return;
        };
        if let Some(m) = self.merchants.state_mut(a.merchant) {
            m.record_fraud(a.time, a.labeled_at, a.replaces);
        }
    }

    /// Drops users and merchants whose newest transaction is outside every
    /// window of any transaction the state still accepts (older than
    /// newest − lateness − 30 days, and − label delay for merchants), trims
    /// the rest and releases memory slack. Never changes a feature.
    pub fn evict(&mut self) {
        self.since_evict = 0;
        let h = self.horizons();
        self.users.evict(&h);
        self.merchants.maintain(h.merchant);
        // The book spans 30 days + label delay: sweeping it after an eighth
        // of that keeps it within ~12% of its size, at a small cost.
        self.book.maintain(h.merchant, (LONGEST + self.delay) / 8);
        self.compact_ids();
    }

    /// Number of users with state.
    pub fn active_users(&self) -> usize {
        self.users.len()
    }

    /// Number of merchants with retained transactions.
    pub fn active_merchants(&self) -> usize {
        self.merchants.active()
    }

    /// Approximate heap + inline bytes of all per-user state (user map,
    /// user states and their vectors at capacity; shared interners, merchant
    /// state and the label book are not included, nor allocator overhead).
    pub fn approx_bytes(&self) -> usize {
        self.users.approx_bytes()
    }

    /// Approximate heap bytes of merchant states and the label book, the
    /// state that is not per user.
    pub fn approx_shared_bytes(&self) -> usize {
        self.merchants.heap_bytes() + self.book.approx_bytes()
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
            (
                self.merchants.get(&t.merchant_id),
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

    /// Old state is only dropped by [`FeatureState::evict`]: the windows
    /// ignore it anyway, so trimming per transaction would only cost time.
    fn user_features(&mut self, id: &str, q: &Query, accepted: bool) -> UserFeatures {
        if !accepted {
            return match self.users.get(id) {
                Some(user) => user.features(q),
                None => UserState::default().features(q),
            };
        }
        let user = self.users.get_or_insert(id);
        let features = user.features(q);
        let detail = Detail {
            merchant: q.merchant,
            country: q.country,
            device: q.device,
        };
        user.insert(q.t, q.cents, detail);
        features
    }

    fn merchant_features(&mut self, q: &Query, accepted: bool) -> MerchantFeatures {
        let delay = self.delay;
        match self.merchants.state_mut(q.merchant) {
            Some(m) if accepted => {
                let features = m.features(q.t, delay);
                m.insert(q.t);
                features
            }
            // The search hints change, nothing else.
            Some(m) => m.features(q.t, delay),
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
                self.users.remap_merchants(&remap);
                self.book.remap(&remap);
            }
            self.next_id_check.merchants = next_check(self.merchants.ids());
        }
        if self.countries.len() >= self.next_id_check.countries {
            let mut live = vec![false; self.countries.len()];
            self.users
                .iter()
                .for_each(|u| u.mark(&mut [], &mut live, &mut []));
            if self.countries.worth_compacting(count(&live)) {
                let remap = self.countries.compact(&live);
                self.users.for_each_mut(|u| u.remap_countries(&remap));
            }
            self.next_id_check.countries = next_check(self.countries.len());
        }
        if self.devices.len() >= self.next_id_check.devices {
            let mut live = vec![false; self.devices.len()];
            self.users
                .iter()
                .for_each(|u| u.mark(&mut [], &mut [], &mut live));
            if self.devices.worth_compacting(count(&live)) {
                let remap = self.devices.compact(&live);
                self.users.for_each_mut(|u| u.remap_devices(&remap));
            }
            self.next_id_check.devices = next_check(self.devices.len());
        }
    }
}

impl std::fmt::Debug for FeatureState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureState")
            .field("config", &self.config)
            .field("newest_ms", &self.newest)
            .field("active_users", &self.users.len())
            .field("label_book", &self.book.len())
            .field("late_events", &self.late)
            .finish_non_exhaustive()
    }
}

/// The interner size at which to look again: twice the ids now live.
fn next_check(live: usize) -> usize {
    (2 * live).max(FIRST_ID_CHECK)
}

fn count(live: &[bool]) -> usize {
    live.iter().filter(|&&l| l).count()
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

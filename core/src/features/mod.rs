//! Behavioural features of card transactions, computed per event at its
//! event time — the same code online ([`FeatureState::process`] /
//! [`FeatureState::observe_label`]) and offline ([`compute_history`]).
//!
//! # Definitions
//!
//! The 26 features are listed, one line each, on [`FeatureVector`]; their
//! order is [`FEATURE_NAMES`]. All user and merchant windows are in event
//! time, exact (individual events are kept, not buckets): they cover the
//! other transactions with time in `(t − w, t)` — `w` one of 10 min, 1 h,
//! 24 h, 7 d, 30 d as fixed durations — plus the current transaction, so
//! counts are ≥ 1 and sums include its amount. The exception is
//! `amount_zscore`, which compares the amount with the user's *earlier*
//! transactions only.
//!
//! Events stamped the very millisecond of `t` (other transactions, labels)
//! are left out: their order relative to the current transaction depends
//! on delivery (two producers, two Kafka partitions, a batch boundary), and
//! leaving them out makes every feature independent of it, so online and
//! offline agree whatever the order of simultaneous events.
//!
//! - "Previous transaction" (country/device change, minutes since last)
//!   means the user's newest earlier transaction inside the 30-day window,
//!   so state outside every window can be dropped without changing a
//!   feature. Several earlier transactions stamped that same millisecond
//!   have no order (it depends on delivery), so they are all previous: the
//!   country change flag is set when the transaction has a country and any
//!   of them had a different one (likewise the device change flag, over
//!   the newest earlier transactions that had a device).
//! - `merchant_fraud_rate_w`: with `D` the label delay, among the
//!   merchant's transactions with time in `(t − D − w, t − D]`, the share
//!   with a fraud label whose `labeled_at < t`; 0 when there are none. A
//!   label that becomes known after `t` never changes the features of `t`.
//!   Labels count once they have been observed, so online a label must be
//!   observed before the later transactions it should count for: the
//!   producer and the replay publish events in time order.
//!
//! # Precision
//!
//! Times are whole milliseconds (sub-millisecond digits are dropped), so a
//! window edge is exact to the millisecond. Amounts are kept in state as
//! whole cents (rounded; negative → 0, beyond u32 cents saturates), and all
//! sums and moments are exact integers, so online and offline results are
//! bit-identical whatever the processing history. The `amount` feature is
//! the amount as received.
//!
//! # Late and out-of-order transactions
//!
//! Every user and merchant keeps its transactions sorted by time. Let `N`
//! be the newest transaction time seen so far (labels do not move it). A
//! transaction with time `t < N` is *late*:
//!
//! - Within `allowed_lateness` (`t ≥ N − allowed_lateness`) it is inserted
//!   at its sorted position (after equal times), and its windows are
//!   computed exactly over the transactions with time ≤ `t` (ones that
//!   already arrived with later times are not counted for it).
//! - Beyond `allowed_lateness` its features are computed the same way,
//!   read-only, but it is not added to the state (so it cannot disturb
//!   windows already served) and [`FeatureState::late_events`] counts it.
//!   Its windows only see what the state still holds: transactions older
//!   than `N − allowed_lateness − 30 d` may be gone, and per-transaction
//!   details (merchant, country, device) are only kept for `N −
//!   allowed_lateness − 24 h` onwards, so its distinct counts and
//!   first-time / change flags are best effort.
//!
//! Allowed lateness is clamped to [0, 7 days] and the label delay to
//! [0, 365 days]; a negative value means 0.
//!
//! # Memory and eviction
//!
//! Per user: 6 bytes of (time, cents) per transaction for 30 days plus lateness,
//! 12-byte details for the last 24 h plus lateness, and the newest time per
//! merchant for older ones (see `user.rs`); merchant, country and device
//! strings are interned in shared tables. Per merchant: transaction times
//! for 30 days plus label delay plus lateness, and its fraud labels. A
//! transaction id → merchant map is kept for the same span so labels can be
//! attached.
//!
//! [`FeatureState::evict`] drops users and merchants whose newest
//! transaction is older than every window of an acceptable transaction
//! (`N − allowed_lateness − 30 d`, minus the label delay for merchants),
//! folds and trims the rest and releases memory slack; `process` runs it
//! every [`EVICT_EVERY`] transactions (or every `active_users()`
//! transactions when there are more users, so its cost per transaction
//! stays constant). Eviction never changes a feature: a user seen again
//! after it gets exactly the features a new user would.
//!
//! Duplicate deliveries of one transaction are processed as two
//! transactions; de-duplicating by `transaction_id` is the caller's job.

mod calendar;
mod hash;
mod history;
mod intern;
mod labels;
mod ledger;
mod merchant;
mod merchants;
mod state;
mod user;
mod user_features;
mod users;
mod vector;
mod windows;

#[cfg(test)]
mod cases;
#[cfg(test)]
mod crash;
#[cfg(test)]
mod streams;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

pub use history::{HistoryEvent, compute_history, order_history};
pub use state::{EVICT_EVERY, FeatureState};
pub use vector::{FEATURE_NAMES, FeatureVector, N};

/// Settings of the feature computation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// How long before a transaction's time the fraud-rate windows end, so
    /// that their transactions had time to be labelled (default 7 days).
    pub label_delay: TimeDelta,
    /// How late a transaction may arrive and still be added to the state
    /// (default 10 minutes).
    pub allowed_lateness: TimeDelta,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            label_delay: TimeDelta::days(7),
            allowed_lateness: TimeDelta::minutes(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_partial_json() {
        let c = FeatureConfig::default();
        assert_eq!(c.label_delay, TimeDelta::days(7));
        assert_eq!(c.allowed_lateness, TimeDelta::minutes(10));
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<FeatureConfig>(&json).unwrap(), c);
        let partial: FeatureConfig = serde_json::from_str(r#"{"label_delay": [60, 0]}"#).unwrap();
        assert_eq!(partial.label_delay, TimeDelta::minutes(1));
        assert_eq!(partial.allowed_lateness, TimeDelta::minutes(10));
        assert!(serde_json::from_str::<FeatureConfig>(r#"{"delay": [1, 0]}"#).is_err());
    }
}

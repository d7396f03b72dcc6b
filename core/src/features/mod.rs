//! Behavioural features of card transactions, computed per event at its
//! event time — the same code online ([`FeatureState::process`] /
//! [`FeatureState::observe_fraud`]) and offline ([`compute_history`]).
//!
//! # Definitions
//!
//! The 26 features are listed, one line each, on [`FeatureVector`]; their
//! order is [`FEATURE_NAMES`]. Windows are in event time and made of whole
//! buckets (minutes, hours, days, five-day periods, counted from the Unix
//! epoch in UTC): a window of `n` buckets is the bucket of the
//! transaction, up to the transaction, and the `n − 1` before it. They
//! count the entity's *earlier* transactions (stamped before the
//! transaction's millisecond) plus the current one:
//!
//! | window | buckets | covers |
//! |---|---|---|
//! | user 10 min | 10 minutes | 9–10 min |
//! | user 1 h | 60 minutes | 59–60 min |
//! | user 24 h (counts, sums, distinct countries and merchants), merchant 1 d | 24 hours | 23–24 h |
//! | user 7 d, merchant 7 d | 7 days | 6–7 d |
//! | first time at a merchant, merchant 30 d | 30 days | 29–30 d |
//! | amount profile (`amount_zscore`, `user_avg_amount_30d`) | 6 periods of 5 days | 25–30 d |
//!
//! So a window never reaches further back than its nominal length, and
//! its end is exact to the millisecond. The amount profile has periods of
//! five days because exact moments take 32 bytes per bucket: six of them
//! fit the per-user memory budget, thirty day buckets would not.
//! `amount_zscore` compares the amount with the user's *earlier*
//! transactions only.
//!
//! - "Previous transaction" (country/device change, minutes since last)
//!   means the user's newest earlier transaction within exactly 30 days.
//!   Several earlier transactions stamped that same millisecond have no
//!   order (it depends on delivery), so they are all previous: the
//!   country change flag is set when the transaction has a country and any
//!   of them had a different one (likewise the device change flag, over
//!   the newest earlier transactions that had a device).
//! - `merchant_fraud_rate_w` (w = 1, 7, 30 days): with `D` the label delay
//!   and `d` the day of `t − D`, among the merchant's earlier transactions
//!   of the `w` days ending with day `d`, the share with a fraud label
//!   whose `labeled_at < t`; 0 when there are none. A label that becomes known
//!   after `t` never changes the features of `t`. A transaction counts as
//!   fraud from its earliest fraud label on; labels reach the state
//!   resolved against their transaction ([`FraudLabel`], see `labels.rs`)
//!   and count once observed, so online a label must be observed before
//!   the later transactions it should count for: the producer and the
//!   replay publish events in time order.
//!
//! Events stamped the very millisecond of `t` (other transactions, labels)
//! are left out: their order relative to the current transaction depends
//! on delivery (two producers, two Kafka partitions, a batch boundary), and
//! leaving them out makes every feature independent of it, so online and
//! offline agree whatever the order of simultaneous events.
//!
//! # Precision
//!
//! Times are whole milliseconds (sub-millisecond digits are dropped).
//! Amounts are kept in state as whole cents (rounded; negative → 0, beyond
//! u32 cents saturates), and all sums and moments are exact integers, so
//! online and offline results are bit-identical whatever the processing
//! history. The `amount` feature is the amount as received.
//!
//! # How the state is kept: bounded by entities, constant cost per event
//!
//! Per user and per merchant the state keeps per-bucket aggregates
//! (counts, cents, exact moments, fraud labels per day), never one record
//! per transaction beyond its newest few:
//!
//! - *Buckets* count every transaction at once. A window's value is the
//!   sum of its buckets, less the transactions stamped at or after the
//!   current one (in an in-order stream: those of its own millisecond).
//! - The *tail* keeps each entity's newest transactions one by one so
//!   that they can be taken out again: until they are *settled* (older
//!   than the newest time seen minus the allowed lateness, so before every
//!   transaction the state still accepts), and at most 8 per user and 32
//!   per merchant (never splitting one millisecond).
//! - A settled transaction leaves its merchant and country as *seen* by
//!   the user at its hour (the first-time flag and the distinct counts,
//!   which hour buckets count "last seen here"), and becomes the summary
//!   of the newest settled transaction (the previous-transaction flags).
//! - Each user also keeps the distinct counts its newest transaction was
//!   given (12 bytes). The next transaction, when it is later than every
//!   one held and its 24-hour window starts in the same hour, can only add
//!   its own merchant and country to them: one lookup each in the seen
//!   lists instead of one per tail record. Anything that may take a value
//!   out of the window (eviction, forgetting over the seen cap, renumbered
//!   ids, a late transaction) drops the kept counts, and the next count is
//!   made in full.
//! - A fraud label adds one to its transaction's day at the merchant; the
//!   merchant lists the labels not yet known to every accepted
//!   transaction (labeled at or after the accept horizon, at most 256) so
//!   that a transaction before their `labeled_at` leaves them out.
//!
//! Bounds, whatever an entity's volume (with the default 10-minute
//! lateness and 7-day label delay): a user holds at most 71 minute, 25
//! hour, 8 day and 7 period buckets, 8 tail records and 1,024 seen
//! merchants and 1,024 seen countries (the one seen longest ago is
//! forgotten first); a merchant 26 hour and 38 day buckets (31 + label
//! delay + lateness), 32 tail records and 256 recent labels. That is at
//! most about 2.5 KB plus 16 KB of seen lists per user and 1.5 KB plus
//! 8 KB of recent labels per merchant (`bounds.rs` in this module feeds
//! 100,000 transactions a day to one card and 2,000,000 a month to one
//! merchant); a typical cardholder holds a few hundred bytes (`cargo bench
//! -p vigil-core --bench features`). Each event costs a few bucket updates
//! and sums over at most the buckets of its windows.
//!
//! # Late and out-of-order transactions
//!
//! Let `N` be the newest transaction time seen so far (labels do not move
//! it). A transaction with time `t < N` is *late*:
//!
//! - Within `allowed_lateness` (`t ≥ N − allowed_lateness`) it is added
//!   to the state and its windows are computed over the transactions with
//!   time < `t`, exactly as if it had come in order, as long as its user
//!   and merchant tails still hold every transaction stamped at or after
//!   `t` (fewer than 8 of the user's, 32 of the merchant's). Past those
//!   caps, transactions stamped after it in its own last bucket may count.
//! - Beyond `allowed_lateness` its features are computed the same way,
//!   read-only, and [`FeatureState::late_events`] counts it. It is not
//!   added to its user's state nor to its merchant's recent windows (the
//!   hours and the tail), only to its merchant's day, so that a fraud
//!   label on it has a transaction to count against in the fraud rates.
//!   Settled state may include transactions after it: best effort.
//!
//! Allowed lateness is clamped to [0, 7 days] and the label delay to
//! [0, 365 days]; a negative value means 0.
//!
//! # Eviction
//!
//! [`FeatureState::evict`] drops users and merchants whose newest
//! transaction is outside every window of an acceptable transaction,
//! settles and trims the rest and releases memory slack; `process` runs it
//! every [`EVICT_EVERY`] transactions (or every `active_users()`
//! transactions when there are more users, so its cost per transaction
//! stays constant). Eviction never changes a feature: a user seen again
//! after it gets exactly the features a new user would.
//!
//! Duplicate deliveries of one transaction would be processed as two
//! transactions: a caller that can see one twice asks
//! [`FeatureState::may_have_processed`] and checks its store for those.

mod buckets;
mod calendar;
mod hash;
mod history;
mod intern;
mod labels;
mod memory;
mod merchant;
mod merchants;
mod state;
mod tail;
mod user;
mod user_features;
mod users;
mod vector;
mod windows;

#[cfg(test)]
mod bounds;
#[cfg(test)]
mod cases;
#[cfg(test)]
mod crash;
#[cfg(test)]
mod oracle;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod streams;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

pub use history::{HistoryEvent, compute_history, order_history};
pub use labels::{FraudLabel, LabelEffect, LabelResolver};
pub use memory::StateBytes;
pub use state::{EVICT_EVERY, FeatureState};
pub use vector::{FEATURE_NAMES, FeatureVector, MONITORED_FEATURES, N};

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

//! Stored decisions served again: `POST /score` by id answers from the
//! decision already stored for the served model, with no write, and keeps
//! the hottest of them in a bounded in-memory cache.
//!
//! A decision is valid while the model that made it is served: the decision
//! stage says which one that is ([`Decisions::serve`]) whenever it loads or
//! swaps a model, and entries of any other version are not answered (they
//! are re-scored, which stores the new model's decision). The cache holds
//! stored rows only, read back from the store, so what it answers is
//! always what the audit trail holds.

use std::sync::atomic::{AtomicI32, Ordering};

use quick_cache::sync::Cache;
use uuid::Uuid;

use crate::store::entity::score;

/// How `POST /score` batches new transactions and keeps decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionSettings {
    /// Most new transactions published as one batch (see
    /// `crate::decision_queue`).
    pub max_batch: usize,
    /// Stored decisions kept in memory for requests by id (0: none).
    pub cache_capacity: usize,
}

impl Default for DecisionSettings {
    fn default() -> Self {
        DecisionSettings {
            max_batch: 256,
            cache_capacity: 100_000,
        }
    }
}

/// The served model's version, 0 while none is (registry versions start
/// at 1).
const NONE_SERVED: i32 = 0;

/// The served model and the stored decisions answered recently.
pub struct Decisions {
    served: AtomicI32,
    /// None when caching is off (capacity 0).
    cache: Option<Cache<Uuid, score::Model>>,
}

impl Decisions {
    /// No model served yet, a cache of at most `capacity` decisions.
    pub fn new(capacity: usize) -> Self {
        Decisions {
            served: AtomicI32::new(NONE_SERVED),
            cache: (capacity > 0).then(|| Cache::new(capacity)),
        }
    }

    /// Records which model version is served (`None`: none).
    pub fn serve(&self, version: Option<i32>) {
        self.served
            .store(version.unwrap_or(NONE_SERVED), Ordering::Release);
    }

    /// The version of the served model, if any.
    pub fn served(&self) -> Option<i32> {
        let v = self.served.load(Ordering::Acquire);
        (v != NONE_SERVED).then_some(v)
    }

    /// Whether `row` was decided by the served model.
    fn is_current(&self, row: &score::Model) -> bool {
        self.served() == Some(row.model_version)
    }

    /// The cached decision on `transaction_id`, if it is the served model's.
    pub fn get(&self, transaction_id: Uuid) -> Option<score::Model> {
        let row = self.cache.as_ref()?.get(&transaction_id)?;
        self.is_current(&row).then_some(row)
    }

    /// Keeps a stored decision for the next request on it when the served
    /// model made it; whether it did.
    pub fn keep_if_current(&self, row: &score::Model) -> bool {
        let current = self.is_current(row);
        if let (true, Some(cache)) = (current, &self.cache) {
            cache.insert(row.transaction_id, row.clone());
        }
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: Uuid, version: i32) -> score::Model {
        score::Model {
            score_id: Uuid::new_v4(),
            transaction_id: id,
            fraud_probability: 0.5,
            anomaly_score: 0.1,
            decision: "REVIEW".into(),
            risk_factors: serde_json::json!([]),
            model_version: version,
            latency_ms: 0.01,
            scored_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn only_the_served_models_decisions_are_answered() {
        let decisions = Decisions::new(10);
        let id = Uuid::new_v4();
        assert!(!decisions.keep_if_current(&row(id, 3)), "no model served");
        assert_eq!(decisions.get(id), None);
        decisions.serve(Some(3));
        assert!(decisions.keep_if_current(&row(id, 3)));
        assert_eq!(decisions.get(id).map(|r| r.model_version), Some(3));
        decisions.serve(Some(4));
        assert_eq!(decisions.get(id), None, "a newer model is served");
        assert!(!decisions.is_current(&row(id, 3)));
        decisions.serve(None);
        assert_eq!(decisions.served(), None);
    }

    #[test]
    fn a_zero_capacity_caches_nothing() {
        let decisions = Decisions::new(0);
        decisions.serve(Some(1));
        let id = Uuid::new_v4();
        assert!(decisions.keep_if_current(&row(id, 1)));
        assert_eq!(decisions.get(id), None);
    }
}

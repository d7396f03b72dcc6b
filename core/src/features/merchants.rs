//! All merchants: the merchant-id interner, whose ids index the merchant
//! states directly.

use super::intern::{Interner, Remap, UNKNOWN};
use super::merchant::MerchantState;

/// Merchant states by interned id.
#[derive(Debug, Default)]
pub(super) struct Merchants {
    names: Interner,
    states: Vec<MerchantState>,
}

impl Merchants {
    /// The id of `name`, creating an empty state for a new merchant.
    pub fn intern(&mut self, name: &str) -> u32 {
        let id = self.names.intern(name);
        let index = id as usize;
        if id != UNKNOWN && index >= self.states.len() {
            self.states.resize_with(index + 1, MerchantState::default);
        }
        id
    }

    /// The id of `name` without storing anything ([`UNKNOWN`] when new).
    pub fn get(&self, name: &str) -> u32 {
        self.names.get(name)
    }

    /// The state of merchant `id` for changes, if it has one.
    pub fn state_mut(&mut self, id: u32) -> Option<&mut MerchantState> {
        self.states.get_mut(id as usize)
    }

    /// Number of merchants with retained transactions.
    pub fn active(&self) -> usize {
        self.states.iter().filter(|m| !m.is_empty()).count()
    }

    /// Drops transactions and labels at or before `horizon` everywhere and
    /// frees the memory of merchants left without transactions.
    pub fn maintain(&mut self, horizon: i64) {
        for m in &mut self.states {
            m.maintain(horizon);
            if m.is_empty() {
                *m = MerchantState::default();
            } else {
                m.shrink();
            }
        }
    }

    /// Number of ids handed out (the size a liveness table needs).
    pub fn ids(&self) -> usize {
        self.names.len()
    }

    /// Marks merchants that still have transactions.
    pub fn mark(&self, live: &mut [bool]) {
        for (slot, m) in live.iter_mut().zip(&self.states) {
            *slot |= !m.is_empty();
        }
    }

    /// Forgets merchants not marked in `live` when that frees at least half
    /// of the ids; the caller must apply the returned [`Remap`].
    pub fn compact(&mut self, live: &[bool]) -> Option<Remap> {
        let count = live.iter().filter(|&&l| l).count();
        if !self.names.worth_compacting(count) {
            return None;
        }
        let remap = self.names.compact(live);
        let old = std::mem::take(&mut self.states);
        self.states = old
            .into_iter()
            .zip(live.iter().chain(std::iter::repeat(&false)))
            .filter_map(|(m, &keep)| keep.then_some(m))
            .collect();
        Some(remap)
    }

    /// Heap bytes of all merchant states (not part of the per-user budget).
    pub fn heap_bytes(&self) -> usize {
        self.states.capacity() * size_of::<MerchantState>()
            + self.states.iter().map(|m| m.heap_bytes()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_index_states_and_survive_compaction() {
        let mut m = Merchants::default();
        let names: Vec<String> = (0..3000).map(|i| format!("m{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            let id = m.intern(n);
            m.state_mut(id).unwrap().insert(i as i64);
        }
        assert_eq!(m.get("nope"), UNKNOWN);
        // Everything up to time 2000 expires.
        m.maintain(2000);
        assert_eq!(m.active(), 999);
        let mut live = vec![false; m.ids()];
        m.mark(&mut live);
        let remap = m.compact(&live).expect("two thirds are dead");
        assert_eq!(m.ids(), 999);
        let id = m.get("m2500");
        assert_eq!(remap.apply(2500), id);
        assert!(!m.state_mut(id).unwrap().is_empty());
        assert_eq!(m.get("m5"), UNKNOWN);
    }
}

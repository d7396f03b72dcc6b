//! All merchants: the merchant-id interner, whose ids index the merchant
//! states directly.

use super::intern::{Interner, Remap, UNKNOWN};
use super::merchant::MerchantState;
use super::windows::Horizons;

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

    /// Drops what no accepted transaction can look at everywhere; a
    /// merchant left without transactions frees its memory.
    pub fn maintain(&mut self, h: &Horizons) {
        for m in &mut self.states {
            m.maintain(h);
            m.shrink();
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

    /// Bytes of all merchant states (inline and heap), labels aside.
    pub fn heap_bytes(&self) -> usize {
        self.states.capacity() * size_of::<MerchantState>()
            + self.states.iter().map(|m| m.heap_bytes()).sum::<usize>()
    }

    /// Heap bytes of the merchants' recent labels.
    pub fn label_bytes(&self) -> usize {
        self.states.iter().map(|m| m.label_bytes()).sum()
    }

    /// Bytes of the merchant name table.
    pub fn name_bytes(&self) -> usize {
        self.names.approx_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::windows::DAY;

    #[test]
    fn ids_index_states_and_survive_compaction() {
        let mut m = Merchants::default();
        let names: Vec<String> = (0..3000).map(|i| format!("m{i}")).collect();
        let h = |newest: i64| Horizons::new(newest, 0, 0);
        for (i, n) in names.iter().enumerate() {
            let id = m.intern(n);
            let time = i as i64 * DAY;
            m.state_mut(id).unwrap().insert(time, &h(time));
        }
        assert_eq!(m.get("nope"), UNKNOWN);
        // Merchants seen more than 30 days before day 2999 expire.
        m.maintain(&h(2999 * DAY));
        assert_eq!(m.active(), 31);
        let mut live = vec![false; m.ids()];
        m.mark(&mut live);
        let remap = m.compact(&live).expect("most are dead");
        assert_eq!(m.ids(), 31);
        let id = m.get("m2990");
        assert_eq!(remap.apply(2990), id);
        assert!(!m.state_mut(id).unwrap().is_empty());
        assert_eq!(m.get("m5"), UNKNOWN);
    }
}

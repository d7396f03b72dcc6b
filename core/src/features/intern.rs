//! Shared string interners: merchant, country and device ids become u32 so
//! that per-user state stores 4 bytes instead of a string per reference.

use super::hash::FastMap;
use super::memory::table_bytes;

/// The id of an absent optional field (no country, no device).
pub(super) const MISSING: u32 = u32::MAX;
/// The id of a present value the state has never stored (looked up on the
/// read-only path): it equals no stored id, which is exactly what an unseen
/// value means.
pub(super) const UNKNOWN: u32 = u32::MAX - 1;
/// The summary of simultaneous transactions with different values (see
/// `UserState::previous_country`): differs from every value. Never handed
/// out as an id and never stored in a transaction's details.
pub(super) const MIXED: u32 = u32::MAX - 2;

/// Interners are compacted only past this size, so small states never pay
/// for it.
const COMPACT_MIN: usize = 1024;

/// Maps strings to dense u32 ids and back to nothing: only equality of ids
/// matters to the features, never their values.
#[derive(Debug, Default)]
pub(super) struct Interner {
    ids: FastMap<Box<str>, u32>,
    /// Ids handed out so far; every id is below this.
    next: u32,
}

impl Interner {
    /// The id of `name`, handing out a new one when it is new. Past ~4
    /// billion live ids it answers [`UNKNOWN`] rather than wrap around into
    /// the sentinels.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        if self.next >= MIXED {
            return UNKNOWN;
        }
        let id = self.next;
        self.ids.insert(name.into(), id);
        self.next += 1;
        id
    }

    /// Like [`Interner::intern`] for an optional field: [`MISSING`] for none.
    pub fn intern_opt(&mut self, name: Option<&str>) -> u32 {
        name.map_or(MISSING, |n| self.intern(n))
    }

    /// The id of `name` without storing anything: [`UNKNOWN`] when new.
    pub fn get(&self, name: &str) -> u32 {
        self.ids.get(name).copied().unwrap_or(UNKNOWN)
    }

    /// Like [`Interner::get`] for an optional field: [`MISSING`] for none.
    pub fn get_opt(&self, name: Option<&str>) -> u32 {
        name.map_or(MISSING, |n| self.get(n))
    }

    /// Number of ids handed out (the size a liveness table needs).
    pub fn len(&self) -> usize {
        self.next as usize
    }

    /// Approximate bytes: the table's buckets and the name strings.
    pub fn approx_bytes(&self) -> usize {
        let names: usize = self.ids.keys().map(|k| k.len()).sum();
        table_bytes(self.ids.capacity(), size_of::<(Box<str>, u32)>()) + names
    }

    /// Whether compacting pays off: many ids handed out and most of them dead.
    pub fn worth_compacting(&self, live: usize) -> bool {
        self.len() > COMPACT_MIN && live * 2 < self.len()
    }

    /// Forgets the ids not marked in `live` and renumbers the rest densely in
    /// their old order (so the result is deterministic). The caller must
    /// apply the returned [`Remap`] to every id it stores.
    pub fn compact(&mut self, live: &[bool]) -> Remap {
        let mut map = vec![UNKNOWN; self.len()];
        let mut next = 0u32;
        for (old, new) in map.iter_mut().enumerate() {
            if live.get(old).copied().unwrap_or(false) {
                *new = next;
                next += 1;
            }
        }
        self.ids.retain(|_, id| match map.get(*id as usize) {
            Some(&new) if new != UNKNOWN => {
                *id = new;
                true
            }
            _ => false,
        });
        self.ids.shrink_to_fit();
        self.next = next;
        Remap(map)
    }
}

/// Old id → new id after a compaction.
#[derive(Debug)]
pub(super) struct Remap(Vec<u32>);

impl Remap {
    /// The new id of `id`: [`MISSING`] and [`MIXED`] stay; a forgotten id
    /// becomes [`UNKNOWN`], which matches nothing, as a forgotten value
    /// should.
    pub fn apply(&self, id: u32) -> u32 {
        if id == MISSING || id == MIXED {
            return id;
        }
        self.0.get(id as usize).copied().unwrap_or(UNKNOWN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_name_same_id_and_lookups_do_not_store() {
        let mut i = Interner::default();
        let a = i.intern("a");
        assert_eq!(i.intern("b"), a + 1);
        assert_eq!(i.intern("a"), a);
        assert_eq!(i.get("a"), a);
        assert_eq!(i.get("c"), UNKNOWN);
        assert_eq!(i.len(), 2);
        assert_eq!(i.intern_opt(None), MISSING);
        assert_eq!(i.get_opt(None), MISSING);
        assert_eq!(i.get_opt(Some("b")), a + 1);
    }

    #[test]
    fn compaction_keeps_live_ids_in_order_and_forgets_dead_ones() {
        let mut i = Interner::default();
        let names: Vec<String> = (0..2000).map(|n| format!("d{n}")).collect();
        for n in &names {
            i.intern(n);
        }
        let live: Vec<bool> = (0..2000).map(|n| n % 3 == 0).collect();
        assert!(i.worth_compacting(667));
        assert!(!i.worth_compacting(1500));
        let remap = i.compact(&live);
        assert_eq!(i.len(), 667);
        assert_eq!(remap.apply(0), 0);
        assert_eq!(remap.apply(3), 1);
        assert_eq!(remap.apply(1), UNKNOWN);
        assert_eq!(remap.apply(MISSING), MISSING);
        assert_eq!(remap.apply(MIXED), MIXED);
        assert_eq!(i.get("d3"), 1);
        assert_eq!(i.get("d1"), UNKNOWN);
        // New names continue after the survivors.
        assert_eq!(i.intern("new"), 667);
    }
}

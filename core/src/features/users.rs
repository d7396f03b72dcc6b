//! All users: states in a dense vector, found through an id → slot map.
//!
//! A map straight to the states would leave the load-factor slack of the
//! hash table on every ~120-byte state; with slots it is on 24-byte entries.

use super::hash::FastMap;
use super::intern::Remap;
use super::ledger::{grow, shrink};
use super::user::UserState;
use super::windows::Horizons;

/// User states by user id.
#[derive(Debug, Default)]
pub(super) struct Users {
    slots: FastMap<Box<str>, u32>,
    states: Vec<UserState>,
}

impl Users {
    /// Number of users with state.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The state of user `id`, if any.
    pub fn get(&self, id: &str) -> Option<&UserState> {
        let slot = *self.slots.get(id)?;
        self.states.get(slot as usize)
    }

    /// The state of user `id`, created empty when new.
    pub fn get_or_insert(&mut self, id: &str) -> &mut UserState {
        let slot = match self.slots.get(id) {
            Some(&slot) => slot as usize,
            None => {
                let slot = self.states.len();
                grow(&mut self.states);
                self.states.push(UserState::default());
                // More than u32::MAX users cannot fit in memory anyway.
                self.slots.insert(id.into(), slot as u32);
                slot
            }
        };
        &mut self.states[slot]
    }

    /// Maintains every user and drops users left without transactions,
    /// renumbering the slots of the rest in their old order.
    pub fn evict(&mut self, h: &Horizons) {
        for u in &mut self.states {
            u.maintain(h);
            u.shrink();
        }
        if self.states.iter().all(|u| !u.is_empty()) {
            return;
        }
        let mut renumber = vec![u32::MAX; self.states.len()];
        let mut next = 0u32;
        for (new, u) in renumber.iter_mut().zip(&self.states) {
            if !u.is_empty() {
                *new = next;
                next += 1;
            }
        }
        self.states.retain(|u| !u.is_empty());
        shrink(&mut self.states);
        self.slots
            .retain(|_, slot| match renumber.get(*slot as usize) {
                Some(&new) if new != u32::MAX => {
                    *slot = new;
                    true
                }
                _ => false,
            });
        if self.slots.capacity() > 2 * self.slots.len() + 64 {
            self.slots.shrink_to_fit();
        }
    }

    /// Approximate bytes of all per-user state: the slot vector at
    /// capacity, the id map's buckets (entry plus control byte), the id
    /// strings and every state's heap. Allocator overhead is not included.
    pub fn approx_bytes(&self) -> usize {
        let map_entry = size_of::<(Box<str>, u32)>() + 1;
        let keys: usize = self.slots.keys().map(|k| k.len()).sum();
        let heaps: usize = self.states.iter().map(UserState::heap_bytes).sum();
        self.states.capacity() * size_of::<UserState>()
            + buckets(self.slots.capacity()) * map_entry
            + keys
            + heaps
    }

    /// Every user state, for marking and renumbering ids.
    pub fn iter(&self) -> impl Iterator<Item = &UserState> {
        self.states.iter()
    }

    /// Applies `f` to every user state.
    pub fn for_each_mut(&mut self, f: impl FnMut(&mut UserState)) {
        self.states.iter_mut().for_each(f);
    }

    /// Renumbers merchant ids in every user.
    pub fn remap_merchants(&mut self, remap: &Remap) {
        self.for_each_mut(|u| u.remap_merchants(remap));
    }
}

/// Buckets of a std hash table with this capacity: it keeps at most 7/8 of
/// a power-of-two bucket count filled.
fn buckets(capacity: usize) -> usize {
    if capacity == 0 {
        0
    } else {
        (capacity * 8 / 7).next_power_of_two()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::intern::MISSING;
    use crate::features::user::Detail;
    use crate::features::windows::{DAY, LONGEST, TEN_MINUTES, WEEK};

    #[test]
    fn eviction_drops_idle_users_and_keeps_slots_consistent() {
        let mut users = Users::default();
        let d = Detail {
            merchant: 0,
            country: MISSING,
            device: MISSING,
        };
        for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
            users
                .get_or_insert(name)
                .insert(i as i64 * 10 * DAY, i as u32, d);
        }
        assert_eq!(users.len(), 4);
        // Newest 30 d + lateness after "b": a and b are out of every window.
        users.evict(&Horizons::new(
            10 * DAY + LONGEST + TEN_MINUTES,
            TEN_MINUTES,
            WEEK,
        ));
        assert_eq!(users.len(), 2);
        assert!(users.get("a").is_none() && users.get("b").is_none());
        assert_eq!(users.get("c").and_then(UserState::newest), Some(20 * DAY));
        assert_eq!(users.get("d").and_then(UserState::newest), Some(30 * DAY));
        assert!(users.approx_bytes() > 0);
    }
}

//! All users: states in a dense vector, found through an id → slot map.
//!
//! A map straight to the states would leave the load-factor slack of the
//! hash table on every ~120-byte state; with slots it is on 24-byte entries.

use super::hash::FastMap;
use super::memory::{grow, shrink, table_bytes};
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

    /// Maintains every user and drops idle users (nothing of them in any
    /// window), renumbering the slots of the rest in their old order.
    pub fn evict(&mut self, h: &Horizons) {
        for u in &mut self.states {
            u.maintain(h);
            u.shrink();
        }
        if self.states.iter().all(|u| !u.idle(h)) {
            return;
        }
        let mut renumber = vec![u32::MAX; self.states.len()];
        let mut next = 0u32;
        for (new, u) in renumber.iter_mut().zip(&self.states) {
            if !u.idle(h) {
                *new = next;
                next += 1;
            }
        }
        self.states.retain(|u| !u.idle(h));
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
        let keys: usize = self.slots.keys().map(|k| k.len()).sum();
        let heaps: usize = self.states.iter().map(UserState::heap_bytes).sum();
        self.states.capacity() * size_of::<UserState>()
            + table_bytes(self.slots.capacity(), size_of::<(Box<str>, u32)>())
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::intern::MISSING;
    use crate::features::user::Recent;
    use crate::features::windows::{DAY, LONGEST, MINUTE};

    #[test]
    fn eviction_drops_idle_users_and_keeps_slots_consistent() {
        let mut users = Users::default();
        let lateness = 10 * MINUTE;
        for (i, name) in ["a", "b", "c", "d"].iter().enumerate() {
            let time = i as i64 * 10 * DAY;
            let r = Recent {
                time,
                cents: i as u32,
                merchant: 0,
                country: MISSING,
                device: MISSING,
            };
            users
                .get_or_insert(name)
                .insert(r, None, &Horizons::new(time, lateness, 7 * DAY));
        }
        assert_eq!(users.len(), 4);
        // Newest 30 d + lateness after "b": a and b are out of every window.
        users.evict(&Horizons::new(
            10 * DAY + LONGEST + lateness,
            lateness,
            7 * DAY,
        ));
        assert_eq!(users.len(), 2);
        assert!(users.get("a").is_none() && users.get("b").is_none());
        assert_eq!(users.get("c").map(|u| u.newest), Some(20 * DAY));
        assert_eq!(users.get("d").map(|u| u.newest), Some(30 * DAY));
        assert!(users.approx_bytes() > 0);
    }
}

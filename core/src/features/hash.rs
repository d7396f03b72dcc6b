//! A fast keyed hasher for the state's maps (ids, merchants, devices,
//! transaction ids). SipHash, std's default, was a fifth of the time per
//! transaction; this folded-multiply hash (the construction of foldhash and
//! aHash's fallback) is several times cheaper. Its keys are drawn from
//! std's random source per map, so colliding keys cannot be precomputed.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};

/// A `HashMap` with the keyed fast hasher.
pub(super) type FastMap<K, V> = HashMap<K, V, Keyed>;

/// Odd constants (from the fractional digits of π) that spread the bits.
const MIX: [u64; 2] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7345];

/// Builds [`FoldHasher`]s with per-map random keys.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keyed {
    keys: [u64; 2],
}

impl Default for Keyed {
    fn default() -> Self {
        let random = RandomState::new();
        Keyed {
            keys: [random.hash_one(MIX[0]), random.hash_one(MIX[1]) | 1],
        }
    }
}

impl BuildHasher for Keyed {
    type Hasher = FoldHasher;

    fn build_hasher(&self) -> FoldHasher {
        FoldHasher {
            acc: self.keys[0],
            key: self.keys[1],
        }
    }
}

/// Hashes 8 bytes at a time with a folded 64×64→128-bit multiply.
#[derive(Debug, Clone, Copy)]
pub(super) struct FoldHasher {
    acc: u64,
    key: u64,
}

impl FoldHasher {
    fn mix(&mut self, word: u64) {
        self.acc = fold(self.acc ^ word, self.key ^ MIX[0]);
    }
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length tells "ab" from "ab\0".
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn finish(&self) -> u64 {
        fold(self.acc, self.key ^ MIX[1])
    }
}

/// The high and low halves of the full product, xored.
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn equal_keys_hash_equal_and_near_keys_spread() {
        let b = Keyed::default();
        assert_eq!(b.hash_one("u000123"), b.hash_one("u000123"));
        assert_ne!(b.hash_one("ab"), b.hash_one("ab\0"));
        // Sequential ids land in distinct buckets of a small table.
        let buckets: HashSet<u64> = (0..1000)
            .map(|i| b.hash_one(format!("u{i:06}")) >> 54)
            .collect();
        assert!(buckets.len() > 550, "{}", buckets.len());
    }

    #[test]
    fn maps_work_with_it() {
        let mut m: FastMap<Box<str>, u32> = FastMap::default();
        for i in 0..10_000u32 {
            m.insert(format!("m{i}").into(), i);
        }
        assert_eq!(m.get("m4242"), Some(&4242));
        assert_eq!(m.get("m10000"), None);
    }
}

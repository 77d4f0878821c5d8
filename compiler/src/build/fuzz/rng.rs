//! The hardening run's random numbers: SplitMix64, written out here so that a seed means the
//! same inputs on every machine and every clawc version that keeps this file (a library's
//! generator may change its stream between releases; `--seed` must not).

/// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, every seed valid, good enough
/// statistics for choosing test inputs.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// A generator for one named stream of `seed`: each tool gets its own, so testing one
    /// integration alone reproduces the same inputs as testing them all.
    pub fn for_stream(seed: u64, name: &str) -> Rng {
        // FNV-1a: stable (never `std::hash`) and plenty for mixing a name into a seed.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in name.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Rng::new(seed ^ hash)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; 0 when `n` is 0. (Modulo bias is irrelevant at test-input scale.)
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `0..n` as an index.
    pub fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// Uniform in `lo..=hi` (`lo` when the range is empty).
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        // The span may not fit an i64 (i64::MIN..=i64::MAX); it always fits a u64 + 1.
        let span = hi.abs_diff(lo);
        let offset = if span == u64::MAX {
            self.next_u64()
        } else {
            self.below(span + 1)
        };
        lo.wrapping_add_unsigned(offset)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        // The top 53 bits: exactly the doubles of the form k / 2^53.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.index(items.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_splitmix64() {
        // Reference values of SplitMix64 from seed 0 (as in the authors' reference code).
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn streams_differ_by_name_and_repeat_by_seed() {
        let take = |mut rng: Rng| (0..4).map(|_| rng.next_u64()).collect::<Vec<_>>();
        assert_eq!(
            take(Rng::for_stream(7, "a/b")),
            take(Rng::for_stream(7, "a/b"))
        );
        assert_ne!(
            take(Rng::for_stream(7, "a/b")),
            take(Rng::for_stream(7, "a/c"))
        );
        assert_ne!(
            take(Rng::for_stream(7, "a/b")),
            take(Rng::for_stream(8, "a/b"))
        );
    }

    #[test]
    fn ranges_hold_their_bounds() {
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            let x = rng.between(-3, 5);
            assert!((-3..=5).contains(&x));
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(rng.below(7) < 7);
        }
        assert_eq!(rng.between(4, 4), 4);
        assert_eq!(rng.between(9, 2), 9);
        assert_eq!(rng.below(0), 0);
        // The whole i64 range is a valid range.
        let _ = rng.between(i64::MIN, i64::MAX);
        assert!(rng.pick::<u8>(&[]).is_none());
    }
}

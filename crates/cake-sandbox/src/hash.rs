//! Deterministic mixing: every synthetic value is a pure function of the seed and of where it
//! sits (report, row, column, item), so the same seed always gives the same bytes.

/// FNV-1a of a string, for salting hashes with names.
pub(crate) const fn fnv(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// The SplitMix64 finalizer.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
pub(crate) fn h2(a: u64, b: u64) -> u64 {
    mix(a ^ mix(b))
}

#[inline]
pub(crate) fn h3(a: u64, b: u64, c: u64) -> u64 {
    h2(h2(a, b), c)
}

/// A hash (or any part of one, shifted) as a number in `[0, 1)`; mixed again so that shifted
/// inputs stay uniform.
#[inline]
pub(crate) fn unit(h: u64) -> f64 {
    (mix(h) >> 11) as f64 / (1u64 << 53) as f64
}

/// A hash reduced to `0..n` (`0` when `n` is 0).
#[inline]
pub(crate) fn below(h: u64, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (h % n as u64) as usize
    }
}

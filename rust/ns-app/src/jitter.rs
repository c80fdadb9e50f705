//! The waits between retries, shared by `keys ca` ([`crate::provision`]) and the MQTT
//! session ([`crate::mqtt::session`]): exponential backoff with "equal jitter".

/// A splitmix64 stream from the home's seed (devices that fail together should not
/// retry together; it need not be secret).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Jitter {
    state: u64,
}

impl Jitter {
    pub(crate) const fn new(seed: u64) -> Self {
        Jitter { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The wait after the `n`-th failure (n >= 1; 0 counts as 1): `w/2 + r mod
    /// (w/2 + 1)` ms, `w = min(cap_ms, base_ms * 2^(n-1))`.
    pub(crate) fn backoff_ms(&mut self, base_ms: u32, cap_ms: u32, n: u32) -> u32 {
        let doubled = u64::from(base_ms) << (n.max(1) - 1).min(31);
        let window = doubled.min(u64::from(cap_ms));
        let half = window / 2;
        (half + self.next() % (window - half + 1)) as u32
    }
}

//! TCP sequence numbers with serial-number arithmetic (RFC 1982, as TCP uses it in RFC 9293 §3.4).

/// A 32-bit TCP sequence number; comparisons wrap around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Signed distance `self - other`, valid while the two are less than 2^31 apart.
    pub fn diff(self, other: SeqNumber) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }

    /// `self + n`, wrapping.
    pub fn plus(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// True when `self` comes after `other`.
    pub fn after(self, other: SeqNumber) -> bool {
        self.diff(other) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around() {
        let near_end = SeqNumber(u32::MAX - 10);
        let wrapped = near_end.plus(20);
        assert_eq!(wrapped, SeqNumber(9));
        assert_eq!(wrapped.diff(near_end), 20);
        assert_eq!(near_end.diff(wrapped), -20);
        assert!(wrapped.after(near_end));
        assert!(!near_end.after(wrapped));
    }
}

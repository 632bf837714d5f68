//! Packet timestamps: nanoseconds since the Unix epoch, formatted as RFC 3339 in UTC.

use std::fmt;

/// A capture timestamp in nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Builds a timestamp from seconds and a fraction counted in `units_per_second`.
    pub fn from_parts(seconds: i64, fraction: u64, units_per_second: u64) -> Timestamp {
        let units = units_per_second.max(1) as u128;
        let nanos = (fraction as u128 * 1_000_000_000 / units) as i64;
        Timestamp(seconds.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    /// Whole seconds since the epoch.
    pub fn seconds(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Signed difference `self - earlier` in nanoseconds.
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// RFC 3339 with microseconds, e.g. `2026-11-27T16:53:30.123456Z`.
    pub fn rfc3339_micros(self) -> String {
        let text = self.rfc3339_bytes();
        String::from_utf8_lossy(&text).into_owned()
    }

    /// The 27 bytes of the RFC 3339 text, digit by digit (a flow report formats two or three
    /// times, and the formatting machinery took ten times as long). Nanoseconds in an `i64`
    /// span the years 1677 to 2262: four digits always.
    fn rfc3339_bytes(self) -> [u8; 27] {
        let secs = self.seconds();
        let micros = self.0.rem_euclid(1_000_000_000) / 1000;
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        digits(&mut text[0..4], year.unsigned_abs());
        digits(&mut text[5..7], u64::from(month));
        digits(&mut text[8..10], u64::from(day));
        digits(&mut text[11..13], (sod / 3600) as u64);
        digits(&mut text[14..16], (sod % 3600 / 60) as u64);
        digits(&mut text[17..19], (sod % 60) as u64);
        digits(&mut text[20..26], micros as u64);
        text
    }
}

/// Writes the last `out.len()` decimal digits of `value` into `out`, zero-padded.
fn digits(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Days since the epoch → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.rfc3339_bytes();
        f.write_str(&String::from_utf8_lossy(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text as the formatting machinery writes it.
    fn formatted(t: Timestamp) -> String {
        let secs = t.seconds();
        let micros = t.0.rem_euclid(1_000_000_000) / 1000;
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        )
    }

    /// Digit by digit, the text is what `format!` writes, over the whole range of an `i64`
    /// (years 1677 to 2262) and around every day, month and year boundary.
    #[test]
    fn digits_are_those_format_writes() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut samples = vec![i64::MIN, i64::MAX, 0, -1, 1, 999, 1000, -1000];
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            samples.push(state as i64);
        }
        // Midnights of 1969 to 2101, and a nanosecond either side.
        for day in -365..48_000i64 {
            let midnight = day * 86_400 * 1_000_000_000;
            samples.extend([midnight - 1, midnight, midnight + 1]);
        }
        for nanos in samples {
            let t = Timestamp(nanos);
            assert_eq!(t.rfc3339_micros(), formatted(t), "{nanos}");
            assert_eq!(t.to_string(), formatted(t), "{nanos}");
        }
    }

    #[test]
    fn formats_rfc3339_with_microseconds() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000Z");
        let t = Timestamp::from_parts(1_709_251_200, 123_456_789, 1_000_000_000);
        assert_eq!(t.to_string(), "2024-03-01T00:00:00.123456Z");
        let t = Timestamp::from_parts(951_782_400, 5, 1_000_000);
        assert_eq!(t.to_string(), "2000-02-29T00:00:00.000005Z");
    }
}

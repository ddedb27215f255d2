//! A UTC instant as `inspect` names and records it: milliseconds since the Unix epoch, shown as
//! RFC 3339 (`2026-12-01T09:13:19.123Z`) in reports and as a folder name without colons
//! (`2026-12-01T09-13-19.123Z`) under `output/runs/`, so names sort in time order and are valid
//! on every file system.
//!
//! The calendar conversion is the days-from-civil algorithm (H. Hinnant), a dozen lines, instead of
//! a date-time crate: nothing else here needs time zones or parsing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub unix_ms: i64,
}

impl UtcTime {
    /// Now, from the system clock.
    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    /// The instant of a [`SystemTime`] (times before 1970 count back from the epoch).
    pub fn from_system(t: SystemTime) -> Self {
        let unix_ms = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Self { unix_ms }
    }

    /// The instant `unix_ms` milliseconds after the epoch.
    pub fn from_unix_ms(unix_ms: i64) -> Self {
        Self { unix_ms }
    }

    /// This instant moved back by `d`.
    #[must_use]
    pub fn minus(self, d: Duration) -> Self {
        Self {
            unix_ms: self
                .unix_ms
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    }

    /// Seconds since the epoch, as Prometheus wants timestamps.
    pub fn unix_seconds(self) -> f64 {
        self.unix_ms as f64 / 1000.0
    }

    fn parts(self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let ms = self.unix_ms.rem_euclid(1000) as u32;
        let secs = self.unix_ms.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        (y, m, d, sod / 3600, sod / 60 % 60, sod % 60, ms)
    }

    /// `2026-12-01T09:13:19.123Z`.
    pub fn rfc3339(self) -> String {
        let (y, mo, d, h, mi, s, ms) = self.parts();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }

    /// `2026-12-01T09-13-19.123Z`: the run folder's name.
    pub fn folder_name(self) -> String {
        let (y, mo, d, h, mi, s, ms) = self.parts();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}-{mi:02}-{s:02}.{ms:03}Z")
    }
}

/// Year, month (1-12), day (1-31) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(
            UtcTime::from_unix_ms(0).rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
        // 2000-02-29 (a leap day in a century year divisible by 400).
        assert_eq!(
            UtcTime::from_unix_ms(951_782_400_000 + 3_723_456).rfc3339(),
            "2000-02-29T01:02:03.456Z"
        );
        assert_eq!(
            UtcTime::from_unix_ms(1_796_116_399_007).folder_name(),
            "2026-12-01T09-13-19.007Z"
        );
        assert_eq!(
            UtcTime::from_unix_ms(-1).rfc3339(),
            "1969-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn folder_names_sort_in_time_order() {
        let a = UtcTime::from_unix_ms(1_796_116_399_007);
        let b = UtcTime::from_unix_ms(1_796_116_399_007 + 86_400_000 * 40 + 1);
        assert!(a.folder_name() < b.folder_name());
        assert_eq!(b.minus(Duration::from_millis(86_400_000 * 40 + 1)), a);
    }
}

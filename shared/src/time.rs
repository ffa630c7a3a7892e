//! The workshop's clock: China Standard Time, UTC+8 all year (China keeps no daylight
//! saving time).
//!
//! Days, deadlines and dates without a time are days in this zone wherever the server or
//! the tablet runs, so a report of "Monday" means the same 24 hours to everyone. It is a
//! fixed offset rather than the `Asia/Shanghai` zone of the tz database: the offset has
//! not changed since 1991, and a fixed offset needs no zone data in the wasm bundle.

use chrono::FixedOffset;

/// China Standard Time, UTC+8.
pub const CHINA: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    // Evaluated at compile time: an offset out of range would fail the build, not a run.
    None => panic!("UTC+8 is a valid offset"),
};

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::CHINA;

    #[test]
    fn china_standard_time_is_eight_hours_ahead_of_utc() {
        let midnight_utc = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(
            midnight_utc.with_timezone(&CHINA).to_rfc3339(),
            "2026-01-01T08:00:00+08:00"
        );
    }
}

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

/// The source of "now" for everything in irsa. Nothing else calls
/// `SystemTime::now`, so tests can pin and move time.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> SystemTime;

    /// Now as a UTC date-time (for formatting and date conditions).
    fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::from(self.now())
    }

    /// Whole seconds since the Unix epoch (JWT `exp`/`iat` arithmetic).
    fn unix_seconds(&self) -> i64 {
        self.now_utc().unix_timestamp()
    }
}

/// A clock shared across tasks.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Clone)]
pub struct TestClock {
    now: Arc<Mutex<SystemTime>>,
}

impl TestClock {
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// A clock starting at the given Unix time in seconds.
    pub fn at_unix(seconds: u64) -> Self {
        Self::new(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
    }

    pub fn set(&self, to: SystemTime) {
        *self.lock() = to;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SystemTime> {
        // A poisoned lock still holds a valid SystemTime.
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.lock()
    }
}

impl fmt::Debug for TestClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClock")
            .field("now", &self.now())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_moves_only_when_told() {
        let clock = TestClock::at_unix(1_700_000_000);
        assert_eq!(clock.unix_seconds(), 1_700_000_000);
        let shared = clock.clone();
        clock.advance(Duration::from_secs(90));
        assert_eq!(shared.unix_seconds(), 1_700_000_090);
        shared.set(SystemTime::UNIX_EPOCH);
        assert_eq!(clock.unix_seconds(), 0);
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(SystemClock.unix_seconds() > 1_704_067_200);
    }
}

/// Writes `at` in UTC as `YYYY-MM-DDTHH:MM:SSZ`, or with `micros` as
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`: the shape of AWS response timestamps and
/// of log lines. Digits are written straight into a buffer: this runs for
/// every response and every log line, and `fmt`'s padding machinery cost
/// more than the rest of the line. Years outside 0..=9999 take `fmt`.
pub fn write_utc_timestamp(
    out: &mut impl fmt::Write,
    at: OffsetDateTime,
    micros: bool,
) -> fmt::Result {
    let at = at.to_offset(time::UtcOffset::UTC);
    let Ok(year) = u32::try_from(at.year()) else {
        return write_utc_timestamp_slow(out, at, micros);
    };
    if year > 9999 {
        return write_utc_timestamp_slow(out, at, micros);
    }
    let mut buf = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for slot in buf[at..at + width].iter_mut().rev() {
            // A digit: `value % 10` is below 10.
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, u32::from(u8::from(at.month())));
    put(8, 2, u32::from(at.day()));
    put(11, 2, u32::from(at.hour()));
    put(14, 2, u32::from(at.minute()));
    put(17, 2, u32::from(at.second()));
    let text: &[u8] = if micros {
        put(20, 6, at.microsecond());
        &buf
    } else {
        buf[19] = b'Z';
        &buf[..20]
    };
    // Only ASCII digits and separators were written.
    out.write_str(std::str::from_utf8(text).map_err(|_| fmt::Error)?)
}

fn write_utc_timestamp_slow(
    out: &mut impl fmt::Write,
    at: OffsetDateTime,
    micros: bool,
) -> fmt::Result {
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )?;
    if micros {
        write!(out, ".{:06}", at.microsecond())?;
    }
    out.write_char('Z')
}

#[cfg(test)]
mod timestamp_tests {
    use super::*;
    use proptest::prelude::*;

    fn written(at: OffsetDateTime, micros: bool) -> String {
        let mut out = String::new();
        write_utc_timestamp(&mut out, at, micros).unwrap();
        out
    }

    #[test]
    fn seconds_and_microseconds() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_764_950_405_123_456_789).unwrap();
        assert_eq!(written(at, false), "2025-12-05T16:00:05Z");
        assert_eq!(written(at, true), "2025-12-05T16:00:05.123456Z");
        let offset = at.to_offset(time::UtcOffset::from_hms(5, 30, 0).unwrap());
        assert_eq!(written(offset, false), "2025-12-05T16:00:05Z");
        let epoch = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(written(epoch, true), "1970-01-01T00:00:00.000000Z");
    }

    proptest! {
        /// The digit writer agrees with `fmt` everywhere `time` can go,
        /// including the years it hands to `fmt`.
        #[test]
        fn agrees_with_fmt(nanos in -377_705_116_800_000_000_000i128..253_402_300_799_999_999_999i128, micros: bool) {
            let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
            let mut slow = String::new();
            write_utc_timestamp_slow(&mut slow, at, micros).unwrap();
            prop_assert_eq!(written(at, micros), slow);
        }
    }
}

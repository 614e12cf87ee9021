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

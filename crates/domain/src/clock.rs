//! Time as Varco sees it: a [`Timestamp`] in unix seconds and the [`Clock`]
//! that hands out the current one.
//!
//! Invariant: [`SystemClock`] is the only place in the workspace that reads the
//! system clock. Everything else receives a `&dyn Clock` (or a `Timestamp`), so
//! expiry, lockout and session tests drive time with a [`FixedClock`] instead
//! of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, in whole seconds since 1970-01-01T00:00:00Z.
///
/// Arithmetic saturates instead of overflowing: a lifetime added to a far
/// future timestamp stays in the far future.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// This timestamp moved `s` seconds forward (backward when negative).
    #[must_use]
    pub fn plus_secs(self, s: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(s))
    }

    /// Seconds from `self` to `later`; negative when `later` is in the past.
    #[must_use]
    pub fn secs_until(self, later: Timestamp) -> i64 {
        later.0.saturating_sub(self.0)
    }

    /// RFC 3339 in UTC, e.g. `2026-11-23T11:26:07Z`.
    ///
    /// Timestamps outside the years 0000–9999 cannot be written as RFC 3339;
    /// they render as `unix:<seconds>` rather than panicking.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|moment| moment.format(&Rfc3339).ok())
            .unwrap_or_else(|| format!("unix:{}", self.0))
    }
}

/// Source of the current time. Inject it; never read the system clock directly.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The real clock, backed by [`SystemTime`].
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(clippy::disallowed_methods, reason = "the one sanctioned read of the system clock")]
    fn now(&self) -> Timestamp {
        let now = SystemTime::now();
        let secs = match now.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_secs())
                .map(|secs| -secs)
                .unwrap_or(i64::MIN),
        };
        Timestamp(secs)
    }
}

/// A clock that only moves when told to; for tests and for replaying events.
#[derive(Debug)]
pub struct FixedClock {
    secs: AtomicI64,
}

impl FixedClock {
    /// A clock stopped at `at`.
    #[must_use]
    pub fn new(at: Timestamp) -> FixedClock {
        FixedClock {
            secs: AtomicI64::new(at.0),
        }
    }

    /// Moves the clock to `at` (forward or backward).
    pub fn set(&self, at: Timestamp) {
        self.secs.store(at.0, Ordering::SeqCst);
    }

    /// Moves the clock `secs` seconds forward (backward when negative).
    pub fn advance(&self, secs: i64) {
        // fetch_update cannot fail: the closure always returns Some.
        let _ = self.secs.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
            Some(current.saturating_add(secs))
        });
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.secs.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_plain_and_saturating() {
        let t = Timestamp(1_000);
        assert_eq!(t.plus_secs(60), Timestamp(1_060));
        assert_eq!(t.plus_secs(-1_000), Timestamp(0));
        assert_eq!(t.secs_until(Timestamp(1_900)), 900);
        assert_eq!(t.secs_until(Timestamp(900)), -100);
        assert_eq!(Timestamp(i64::MAX).plus_secs(1), Timestamp(i64::MAX));
        assert_eq!(Timestamp(i64::MIN).secs_until(Timestamp(i64::MAX)), i64::MAX);
    }

    #[test]
    fn formats_rfc3339_in_utc() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1_795_433_167).to_rfc3339(), "2026-11-23T11:26:07Z");
        assert_eq!(Timestamp(i64::MAX).to_rfc3339(), format!("unix:{}", i64::MAX));
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let clock = FixedClock::new(Timestamp(100));
        assert_eq!(clock.now(), Timestamp(100));
        clock.advance(50);
        assert_eq!(clock.now(), Timestamp(150));
        clock.advance(-20);
        assert_eq!(clock.now(), Timestamp(130));
        clock.set(Timestamp(7));
        assert_eq!(clock.now(), Timestamp(7));
    }

    #[test]
    fn system_clock_is_after_2024() {
        let now = SystemClock.now();
        assert!(now > Timestamp(1_704_067_200));
    }

    #[test]
    fn clocks_are_usable_as_trait_objects() {
        let clock: Box<dyn Clock> = Box::new(FixedClock::new(Timestamp(5)));
        assert_eq!(clock.now(), Timestamp(5));
    }

    #[test]
    fn timestamp_serializes_as_a_number() {
        assert_eq!(serde_json::to_string(&Timestamp(42)).unwrap(), "42");
        let back: Timestamp = serde_json::from_str("42").unwrap();
        assert_eq!(back, Timestamp(42));
    }
}

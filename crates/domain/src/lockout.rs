//! Per-account failed-login throttling: growing delays, then a temporary lock.
//!
//! Invariant: a login attempt is checked against the password only when
//! [`LockoutPolicy::admit`] says [`Admission::Allowed`]; every wrong password
//! adds one to `failed_count` and may set `blocked_until`; a correct password
//! resets both. The state is a plain value (stored per account, shared by all
//! nodes) and every transition takes `now` from the caller, so the machine is
//! a pure function of its inputs.
//!
//! ```text
//!                          wrong password,
//!                          count < delay_after
//!                            ┌─────────┐
//!                            │         ▼
//!   right password ──►  ┌────┴──────────────┐
//!   (any state once     │     COUNTING      │  blocked_until = None
//!    admitted: reset)   │ failed_count = n  │
//!                       └────┬──────────────┘
//!                            │ wrong password, delay_after ≤ count < lock_after
//!                            ▼
//!                       ┌───────────────────┐  blocked_until =
//!               ┌──────►│      DELAYED      │    now + min(2^(count − delay_after),
//!               │       │ attempts refused  │          max_delay_secs)
//!               │       │ until the delay   │
//!               │       │ has passed        │
//!               │       └────┬──────────┬───┘
//!               └────────────┘          │
//!        wrong password after the       │ wrong password, count ≥ lock_after
//!        delay: the next delay doubles  ▼
//!                       ┌───────────────────┐  blocked_until = now + lock_secs
//!                       │      LOCKED       │  (FailureOutcome::locked = true:
//!                       │ attempts refused  │   audit it, tell the owner)
//!                       │ for lock_secs     │
//!                       └────┬──────────────┘
//!                            │ lock_secs pass: attempts are admitted again; the
//!                            │ count is forgiven only slowly (below), so the next
//!                            ▼ wrong password soon after locks again at once
//!                       (back to LOCKED, or reset by a right password)
//! ```
//!
//! With the defaults (3, 60 s, 10, 900 s) the 3rd failure waits 1 s, then 2,
//! 4, 8, 16, 32, 60 s, and the 10th locks for 15 minutes; from then on each
//! wrong password locks again, so an online guesser gets about one try per
//! quarter hour, and the lock comes far below NIST's cap of 100 consecutive
//! failures. A locked user can still reset by email or be unlocked by an
//! operator (`varco account unlock`); both end in [`LockoutPolicy::after_success`]'s
//! reset state.
//!
//! **Forgiveness.** Old failures fade: the count halves for every full
//! `forgive_after_secs` (1 hour) without a failure, counted from the last
//! failure. Someone who mistyped ten times last week starts almost fresh;
//! a guesser who keeps trying every few minutes never gets there.
//!
//! **Reservation (no race).** An attempt is counted as a failure *before* its
//! password is checked ([`LockoutPolicy::reserve`]), in a write transaction
//! that serialises attempts on one account; a right password then resets the
//! state. So parallel guesses queue behind each other's reservations and the
//! delays bind them all: N requests sent at once get no more checks than N
//! requests sent one by one (security review finding 4).
//!
//! A refused attempt (blocked) is not a failure and must not be recorded: the
//! password was never checked.

use crate::clock::Timestamp;

/// Thresholds and durations for failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct LockoutPolicy {
    /// Failures after which each further attempt must wait.
    pub delay_after: u32,
    /// Longest wait between attempts before the lock, in seconds.
    pub max_delay_secs: i64,
    /// Failures after which the account locks.
    pub lock_after: u32,
    /// How long a lock lasts, in seconds.
    pub lock_secs: i64,
    /// Quiet time after which the failure count halves, in seconds (each
    /// further full period halves it again); 0 never forgives.
    pub forgive_after_secs: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            delay_after: 3,
            max_delay_secs: 60,
            lock_after: 10,
            lock_secs: 900,
            forgive_after_secs: 3600,
        }
    }
}

/// What is remembered about an account's failed logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockState {
    /// Wrong passwords since the last right one.
    pub failed_count: u32,
    /// Attempts are refused until this moment.
    pub blocked_until: Option<Timestamp>,
    /// When the last failure was counted (`None`: never, or not known).
    pub last_failure_at: Option<Timestamp>,
}

/// Whether an attempt may be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check the password.
    Allowed,
    /// Refuse without checking; say nothing more specific than for a wrong
    /// password.
    Blocked {
        /// When attempts are admitted again.
        until: Timestamp,
    },
}

/// The answer to [`LockoutPolicy::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Check the password. Store `if_wrong.state` now, before checking; on
    /// a right password store [`LockoutPolicy::after_success`] instead.
    Reserved {
        /// The state as if this attempt failed.
        if_wrong: FailureOutcome,
    },
    /// Refuse without checking.
    Blocked {
        /// When attempts are admitted again.
        until: Timestamp,
    },
}

/// The state after a wrong password, and whether it locked the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    /// The state to store.
    pub state: LockState,
    /// This failure imposed the long lock (`lock_secs`): worth an audit event
    /// and a notification.
    pub locked: bool,
}

impl LockoutPolicy {
    /// Whether an attempt at `now` may be checked: blocked while
    /// `now < blocked_until`.
    #[must_use]
    pub fn admit(&self, state: &LockState, now: Timestamp) -> Admission {
        match state.blocked_until {
            Some(until) if now < until => Admission::Blocked { until },
            _ => Admission::Allowed,
        }
    }

    /// Admits an attempt and counts it as a failure in advance, or refuses it.
    #[must_use]
    pub fn reserve(&self, state: &LockState, now: Timestamp) -> Reservation {
        match self.admit(state, now) {
            Admission::Blocked { until } => Reservation::Blocked { until },
            Admission::Allowed => Reservation::Reserved {
                if_wrong: self.after_failure(state, now),
            },
        }
    }

    /// The failure count at `now` once old failures are forgiven: halved for
    /// each full `forgive_after_secs` since the last failure.
    #[must_use]
    pub fn forgiven_count(&self, state: &LockState, now: Timestamp) -> u32 {
        let (Some(last), true) = (state.last_failure_at, self.forgive_after_secs > 0) else {
            return state.failed_count;
        };
        let periods = (now.0 - last.0).max(0) / self.forgive_after_secs;
        if periods >= 32 {
            0
        } else {
            state.failed_count >> periods
        }
    }

    /// The state after a wrong password checked at `now`.
    #[must_use]
    pub fn after_failure(&self, state: &LockState, now: Timestamp) -> FailureOutcome {
        let failed_count = self.forgiven_count(state, now).saturating_add(1);
        let last_failure_at = Some(now);
        if failed_count >= self.lock_after {
            return FailureOutcome {
                state: LockState {
                    failed_count,
                    blocked_until: Some(now.plus_secs(self.lock_secs.max(0))),
                    last_failure_at,
                },
                locked: true,
            };
        }
        let blocked_until =
            (failed_count >= self.delay_after).then(|| now.plus_secs(self.delay_secs(failed_count - self.delay_after)));
        FailureOutcome {
            state: LockState {
                failed_count,
                blocked_until,
                last_failure_at,
            },
            locked: false,
        }
    }

    /// The state after a right password (or a desk unlock, or a completed
    /// reset): nothing remembered.
    #[must_use]
    pub fn after_success(&self) -> LockState {
        LockState::default()
    }

    /// `2^exponent` seconds, capped at `max_delay_secs` (and never negative).
    fn delay_secs(&self, exponent: u32) -> i64 {
        let cap = self.max_delay_secs.max(0);
        // 2^62 is the largest power of two an i64 holds.
        if exponent >= 62 {
            cap
        } else {
            (1_i64 << exponent).min(cap)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_800_000_000);

    fn policy() -> LockoutPolicy {
        LockoutPolicy::default()
    }

    #[test]
    fn defaults() {
        assert_eq!(
            policy(),
            LockoutPolicy {
                delay_after: 3,
                max_delay_secs: 60,
                lock_after: 10,
                lock_secs: 900,
                forgive_after_secs: 3600,
            }
        );
    }

    #[test]
    fn a_fresh_account_is_admitted() {
        assert_eq!(policy().admit(&LockState::default(), T0), Admission::Allowed);
    }

    #[test]
    fn first_failures_only_count() {
        let policy = policy();
        let one = policy.after_failure(&LockState::default(), T0);
        assert_eq!(
            one,
            FailureOutcome {
                state: LockState {
                    failed_count: 1,
                    blocked_until: None,
                    last_failure_at: Some(T0),
                },
                locked: false
            }
        );
        let two = policy.after_failure(&one.state, T0.plus_secs(1));
        assert_eq!(two.state.failed_count, 2);
        assert_eq!(two.state.blocked_until, None);
        assert_eq!(policy.admit(&two.state, T0.plus_secs(1)), Admission::Allowed);
    }

    #[test]
    fn walks_counting_delayed_locked_and_back() {
        let policy = policy();
        let mut state = LockState::default();
        let mut now = T0;
        // Expected wait after failures 1..=9, then the lock on the 10th.
        let expected_waits = [0, 0, 1, 2, 4, 8, 16, 32, 60];
        for (index, &wait) in expected_waits.iter().enumerate() {
            assert_eq!(policy.admit(&state, now), Admission::Allowed, "attempt {}", index + 1);
            let outcome = policy.after_failure(&state, now);
            assert!(!outcome.locked);
            state = outcome.state;
            assert_eq!(state.failed_count, u32::try_from(index + 1).unwrap());
            if wait == 0 {
                assert_eq!(state.blocked_until, None);
            } else {
                let until = now.plus_secs(wait);
                assert_eq!(state.blocked_until, Some(until));
                // One second before the end: still blocked; at the end: admitted.
                assert_eq!(policy.admit(&state, until.plus_secs(-1)), Admission::Blocked { until });
                assert_eq!(policy.admit(&state, until), Admission::Allowed);
                now = until;
            }
        }

        // 10th failure: LOCKED for 15 minutes.
        let outcome = policy.after_failure(&state, now);
        assert!(outcome.locked);
        state = outcome.state;
        let until = now.plus_secs(900);
        assert_eq!(
            state,
            LockState {
                failed_count: 10,
                blocked_until: Some(until),
                last_failure_at: Some(now),
            }
        );
        assert_eq!(policy.admit(&state, now), Admission::Blocked { until });
        assert_eq!(policy.admit(&state, until.plus_secs(-1)), Admission::Blocked { until });
        assert_eq!(policy.admit(&state, until), Admission::Allowed);

        // After the lock, one more failure locks again at once.
        let relock = policy.after_failure(&state, until);
        assert!(relock.locked);
        assert_eq!(relock.state.failed_count, 11);
        assert_eq!(relock.state.blocked_until, Some(until.plus_secs(900)));

        // A right password (after the lock) forgets everything.
        let reset = policy.after_success();
        assert_eq!(reset, LockState::default());
        assert_eq!(policy.admit(&reset, until), Admission::Allowed);
        assert_eq!(policy.after_failure(&reset, until).state.blocked_until, None);
    }

    #[test]
    fn success_in_the_middle_resets() {
        let policy = policy();
        let mut state = LockState::default();
        for _ in 0..5 {
            state = policy.after_failure(&state, T0).state;
        }
        assert_eq!(state.failed_count, 5);
        state = policy.after_success();
        assert_eq!(state, LockState::default());
    }

    #[test]
    fn delays_never_exceed_the_cap_even_for_huge_counts() {
        let policy = LockoutPolicy {
            lock_after: u32::MAX,
            ..policy()
        };
        for failed_count in [40, 64, 65, 1_000, u32::MAX - 2] {
            let state = LockState {
                failed_count,
                blocked_until: None,
                last_failure_at: None,
            };
            let outcome = policy.after_failure(&state, T0);
            assert_eq!(outcome.state.blocked_until, Some(T0.plus_secs(60)));
            assert!(!outcome.locked);
        }
        let saturated = LockState {
            failed_count: u32::MAX,
            blocked_until: None,
            last_failure_at: None,
        };
        let outcome = policy.after_failure(&saturated, T0);
        assert_eq!(outcome.state.failed_count, u32::MAX);
        assert!(outcome.locked);
    }

    #[test]
    fn custom_policy() {
        let policy = LockoutPolicy {
            delay_after: 1,
            max_delay_secs: 5,
            lock_after: 4,
            lock_secs: 60,
            forgive_after_secs: 0,
        };
        let first = policy.after_failure(&LockState::default(), T0);
        assert_eq!(first.state.blocked_until, Some(T0.plus_secs(1)));
        let second = policy.after_failure(&first.state, T0.plus_secs(1));
        assert_eq!(second.state.blocked_until, Some(T0.plus_secs(3)));
        let third = policy.after_failure(&second.state, T0.plus_secs(3));
        assert_eq!(third.state.blocked_until, Some(T0.plus_secs(7)));
        let fourth = policy.after_failure(&third.state, T0.plus_secs(7));
        assert!(fourth.locked);
        assert_eq!(fourth.state.blocked_until, Some(T0.plus_secs(67)));
    }

    #[test]
    fn reservation_counts_first_and_blocks_the_next_in_the_delay() {
        let policy = policy();
        let mut state = LockState::default();
        // Three attempts arrive at the same instant: the first two are
        // reserved as failures, the third reservation starts the 1 s delay,
        // and a fourth at that instant is refused unchecked.
        for expected in 1..=3 {
            match policy.reserve(&state, T0) {
                Reservation::Reserved { if_wrong } => {
                    assert_eq!(if_wrong.state.failed_count, expected);
                    state = if_wrong.state;
                }
                Reservation::Blocked { .. } => panic!("attempt {expected} refused"),
            }
        }
        assert_eq!(
            policy.reserve(&state, T0),
            Reservation::Blocked { until: T0.plus_secs(1) }
        );
    }

    #[test]
    fn old_failures_are_forgiven_slowly() {
        let policy = policy();
        let mut state = LockState::default();
        let mut now = T0;
        for _ in 0..10 {
            now = state.blocked_until.unwrap_or(now);
            state = policy.after_failure(&state, now).state;
        }
        assert_eq!(state.failed_count, 10);
        // Right after the lock ends, a wrong password locks again.
        let lock_end = state.blocked_until.unwrap();
        assert!(policy.after_failure(&state, lock_end).locked);
        // One quiet hour after the last failure halves the count; two, a quarter.
        let last = state.last_failure_at.unwrap();
        assert_eq!(policy.forgiven_count(&state, last.plus_secs(3599)), 10);
        assert_eq!(policy.forgiven_count(&state, last.plus_secs(3600)), 5);
        assert_eq!(policy.forgiven_count(&state, last.plus_secs(7200)), 2);
        assert_eq!(policy.forgiven_count(&state, last.plus_secs(3600 * 40)), 0);
        let later = policy.after_failure(&state, last.plus_secs(3600));
        assert!(!later.locked);
        assert_eq!(later.state.failed_count, 6);
        // A guesser who never pauses an hour is never forgiven.
        let mut guesser = state;
        for _ in 0..20 {
            let at = guesser.blocked_until.unwrap();
            let outcome = policy.after_failure(&guesser, at);
            assert!(outcome.locked);
            guesser = outcome.state;
        }
        // Unknown last failure (rows from before this field): nothing forgiven.
        let unknown = LockState {
            last_failure_at: None,
            ..state
        };
        assert_eq!(policy.forgiven_count(&unknown, last.plus_secs(3600 * 40)), 10);
    }

    #[test]
    fn deserializes_with_defaults() {
        let policy: LockoutPolicy = serde_json::from_str(r#"{"lock_after": 5}"#).unwrap();
        assert_eq!(policy.lock_after, 5);
        assert_eq!(policy.delay_after, 3);
        assert_eq!(policy.lock_secs, 900);
    }
}

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
//!                            │ lock_secs pass: attempts are admitted again, but
//!                            │ the count is not forgiven, so the next wrong
//!                            ▼ password locks again at once
//!                       (back to LOCKED, or reset by a right password)
//! ```
//!
//! With the defaults (3, 60 s, 10, 900 s) the 3rd failure waits 1 s, then 2,
//! 4, 8, 16, 32, 60 s, and the 10th locks for 15 minutes; from then on each
//! wrong password locks again, so an online guesser gets one try per quarter
//! hour — and the lock comes far below NIST's cap of 100 consecutive failures. A locked user can still reset by email or be unlocked by the
//! desk; both end with [`LockoutPolicy::after_success`]'s reset state.
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
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            delay_after: 3,
            max_delay_secs: 60,
            lock_after: 10,
            lock_secs: 900,
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

    /// The state after a wrong password checked at `now`.
    #[must_use]
    pub fn after_failure(&self, state: &LockState, now: Timestamp) -> FailureOutcome {
        let failed_count = state.failed_count.saturating_add(1);
        if failed_count >= self.lock_after {
            return FailureOutcome {
                state: LockState {
                    failed_count,
                    blocked_until: Some(now.plus_secs(self.lock_secs.max(0))),
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
                    blocked_until: None
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
                blocked_until: Some(until)
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
            };
            let outcome = policy.after_failure(&state, T0);
            assert_eq!(outcome.state.blocked_until, Some(T0.plus_secs(60)));
            assert!(!outcome.locked);
        }
        let saturated = LockState {
            failed_count: u32::MAX,
            blocked_until: None,
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
    fn deserializes_with_defaults() {
        let policy: LockoutPolicy = serde_json::from_str(r#"{"lock_after": 5}"#).unwrap();
        assert_eq!(policy.lock_after, 5);
        assert_eq!(policy.delay_after, 3);
        assert_eq!(policy.lock_secs, 900);
    }
}

//! Periodic password expiry and the reminders sent before it.
//!
//! A deliberate departure from ASVS 6.2.10 and NIST SP 800-63B, which advise
//! against periodic expiry: the national staff portal requires it, so Varco
//! supports it per account kind, announces it by email beforehand (ASVS 6.4.5),
//! and lets a deployment turn it off.
//!
//! Invariant: all answers are pure functions of the policy, the time of the last
//! change and the `now` the caller passes (from its injected clock). A password
//! is expired from the instant `changed_at + max_age_days` on; before that
//! `days_left` is the number of started 24-hour periods remaining, so it is
//! never 0 while the password is valid. At most one reminder is due at a time:
//! the smallest threshold already reached.

use crate::clock::Timestamp;

const SECS_PER_DAY: i64 = 24 * 60 * 60;

/// When passwords of one kind of account expire, and when to warn.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ExpiryPolicy {
    /// Days a password lasts after it was set; `None`: it never expires.
    pub max_age_days: Option<u32>,
    /// Days before expiry at which a reminder is due, e.g. `[14, 7, 1]`.
    pub reminder_days: Vec<u32>,
}

/// Where a password stands against its [`ExpiryPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryStatus {
    /// The policy has no maximum age.
    NoExpiry,
    /// Valid; `days_left` is the whole days until expiry, rounded up (1 means
    /// it expires within 24 hours).
    Valid {
        /// At least 1.
        days_left: u32,
    },
    /// `now` is at or past the expiry instant.
    Expired,
}

/// The reminder thresholds used unless configured otherwise.
const DEFAULT_REMINDER_DAYS: [u32; 3] = [14, 7, 1];

impl Default for ExpiryPolicy {
    /// No expiry; reminders at 14, 7 and 1 days should a maximum age be set.
    fn default() -> Self {
        ExpiryPolicy {
            max_age_days: None,
            reminder_days: DEFAULT_REMINDER_DAYS.to_vec(),
        }
    }
}

impl ExpiryPolicy {
    /// Staff accounts: 180 days, as the national portal requires.
    #[must_use]
    pub fn staff_default() -> ExpiryPolicy {
        ExpiryPolicy {
            max_age_days: Some(180),
            ..ExpiryPolicy::default()
        }
    }

    /// Family and student accounts: no expiry.
    #[must_use]
    pub fn family_default() -> ExpiryPolicy {
        ExpiryPolicy::default()
    }

    /// The instant a password set at `changed_at` expires, if it ever does.
    #[must_use]
    pub fn expires_at(&self, changed_at: Timestamp) -> Option<Timestamp> {
        self.max_age_days
            .map(|days| changed_at.plus_secs(i64::from(days) * SECS_PER_DAY))
    }

    /// Where a password set at `changed_at` stands at `now`.
    #[must_use]
    pub fn status(&self, changed_at: Timestamp, now: Timestamp) -> ExpiryStatus {
        let Some(expires_at) = self.expires_at(changed_at) else {
            return ExpiryStatus::NoExpiry;
        };
        let secs_left = now.secs_until(expires_at);
        if secs_left <= 0 {
            return ExpiryStatus::Expired;
        }
        // Round up: any part of a day left counts as a day. `secs_left` is
        // positive here, so its absolute value is itself.
        let days_left = secs_left.unsigned_abs().div_ceil(SECS_PER_DAY.unsigned_abs());
        ExpiryStatus::Valid {
            days_left: u32::try_from(days_left).unwrap_or(u32::MAX),
        }
    }

    /// The reminder to send now, if any: the smallest threshold in
    /// `reminder_days` that `days_left` has reached (`days_left <= t`). The
    /// caller sends it and marks it and every larger threshold as done, so
    /// after an outage only the most urgent reminder goes out. `None` when the
    /// password never expires, has already expired, or no threshold is
    /// reached.
    #[must_use]
    pub fn reminder_due(&self, changed_at: Timestamp, now: Timestamp) -> Option<u32> {
        let ExpiryStatus::Valid { days_left } = self.status(changed_at, now) else {
            return None;
        };
        self.reminder_days
            .iter()
            .copied()
            .filter(|threshold| days_left <= *threshold)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANGED: Timestamp = Timestamp(1_767_225_600); // 2026-01-01T00:00:00Z
    const DAY: i64 = SECS_PER_DAY;

    fn staff() -> ExpiryPolicy {
        ExpiryPolicy::staff_default()
    }

    /// `now` such that exactly `secs` seconds remain before a staff password
    /// set at `CHANGED` expires.
    fn left(secs: i64) -> Timestamp {
        staff().expires_at(CHANGED).unwrap().plus_secs(-secs)
    }

    #[test]
    fn defaults() {
        assert_eq!(
            ExpiryPolicy::default(),
            ExpiryPolicy {
                max_age_days: None,
                reminder_days: vec![14, 7, 1]
            }
        );
        assert_eq!(staff().max_age_days, Some(180));
        assert_eq!(staff().reminder_days, [14, 7, 1]);
        assert_eq!(ExpiryPolicy::family_default(), ExpiryPolicy::default());
    }

    #[test]
    fn expires_max_age_days_after_the_change() {
        assert_eq!(staff().expires_at(CHANGED), Some(CHANGED.plus_secs(180 * DAY)));
        assert_eq!(
            staff().expires_at(CHANGED).unwrap().to_rfc3339(),
            "2026-06-30T00:00:00Z"
        );
        assert_eq!(ExpiryPolicy::family_default().expires_at(CHANGED), None);
        assert_eq!(
            ExpiryPolicy {
                max_age_days: Some(u32::MAX),
                ..staff()
            }
            .expires_at(Timestamp(i64::MAX - 10)),
            Some(Timestamp(i64::MAX))
        );
    }

    #[test]
    fn days_left_round_up() {
        assert_eq!(staff().status(CHANGED, CHANGED), ExpiryStatus::Valid { days_left: 180 });
        assert_eq!(
            staff().status(CHANGED, left(14 * DAY + 1)),
            ExpiryStatus::Valid { days_left: 15 }
        );
        assert_eq!(
            staff().status(CHANGED, left(14 * DAY)),
            ExpiryStatus::Valid { days_left: 14 }
        );
        assert_eq!(
            staff().status(CHANGED, left(14 * DAY - 1)),
            ExpiryStatus::Valid { days_left: 14 }
        );
        assert_eq!(
            staff().status(CHANGED, left(DAY + 1)),
            ExpiryStatus::Valid { days_left: 2 }
        );
        assert_eq!(staff().status(CHANGED, left(DAY)), ExpiryStatus::Valid { days_left: 1 });
        assert_eq!(staff().status(CHANGED, left(1)), ExpiryStatus::Valid { days_left: 1 });
    }

    #[test]
    fn expired_from_the_expiry_instant_on() {
        assert_eq!(staff().status(CHANGED, left(0)), ExpiryStatus::Expired);
        assert_eq!(staff().status(CHANGED, left(-1)), ExpiryStatus::Expired);
        assert_eq!(staff().status(CHANGED, left(-400 * DAY)), ExpiryStatus::Expired);
        let zero = ExpiryPolicy {
            max_age_days: Some(0),
            ..staff()
        };
        assert_eq!(zero.status(CHANGED, CHANGED), ExpiryStatus::Expired);
    }

    #[test]
    fn no_expiry_is_never_due() {
        let family = ExpiryPolicy::family_default();
        for now in [CHANGED, CHANGED.plus_secs(10_000 * DAY), Timestamp(i64::MAX)] {
            assert_eq!(family.status(CHANGED, now), ExpiryStatus::NoExpiry);
            assert_eq!(family.reminder_due(CHANGED, now), None);
        }
    }

    #[test]
    fn a_clock_before_the_change_is_still_valid() {
        assert_eq!(
            staff().status(CHANGED, CHANGED.plus_secs(-DAY)),
            ExpiryStatus::Valid { days_left: 181 }
        );
    }

    #[test]
    fn reminder_at_each_threshold() {
        let policy = staff();
        assert_eq!(policy.reminder_due(CHANGED, CHANGED), None);
        assert_eq!(policy.reminder_due(CHANGED, left(14 * DAY + 1)), None);
        assert_eq!(policy.reminder_due(CHANGED, left(14 * DAY)), Some(14));
        assert_eq!(policy.reminder_due(CHANGED, left(14 * DAY - 1)), Some(14));
        assert_eq!(policy.reminder_due(CHANGED, left(7 * DAY + 1)), Some(14));
        assert_eq!(policy.reminder_due(CHANGED, left(7 * DAY)), Some(7));
        assert_eq!(policy.reminder_due(CHANGED, left(2 * DAY)), Some(7));
        assert_eq!(policy.reminder_due(CHANGED, left(DAY)), Some(1));
        assert_eq!(policy.reminder_due(CHANGED, left(1)), Some(1));
        assert_eq!(policy.reminder_due(CHANGED, left(0)), None);
        assert_eq!(policy.reminder_due(CHANGED, left(-1)), None);
    }

    #[test]
    fn after_an_outage_only_the_most_urgent_reminder_is_due() {
        // Down from 15 days before to 3 days before: one reminder, the 7-day one.
        assert_eq!(staff().reminder_due(CHANGED, left(3 * DAY)), Some(7));
    }

    #[test]
    fn reminder_order_in_the_configuration_does_not_matter() {
        let shuffled = ExpiryPolicy {
            reminder_days: vec![1, 14, 7, 7],
            ..staff()
        };
        assert_eq!(shuffled.reminder_due(CHANGED, left(10 * DAY)), Some(14));
        assert_eq!(shuffled.reminder_due(CHANGED, left(5 * DAY)), Some(7));
    }

    #[test]
    fn empty_reminder_list_sends_nothing() {
        let silent = ExpiryPolicy {
            reminder_days: Vec::new(),
            ..staff()
        };
        assert_eq!(silent.status(CHANGED, left(1)), ExpiryStatus::Valid { days_left: 1 });
        assert_eq!(silent.reminder_due(CHANGED, left(1)), None);
    }

    #[test]
    fn deserializes_with_defaults() {
        let policy: ExpiryPolicy = serde_json::from_str(r#"{"max_age_days": 90}"#).unwrap();
        assert_eq!(
            policy,
            ExpiryPolicy {
                max_age_days: Some(90),
                reminder_days: vec![14, 7, 1]
            }
        );
        let off: ExpiryPolicy = serde_json::from_str(r#"{"max_age_days": null, "reminder_days": []}"#).unwrap();
        assert_eq!(off.max_age_days, None);
        assert!(off.reminder_days.is_empty());
        assert_eq!(
            serde_json::to_string(&ExpiryPolicy::staff_default()).unwrap(),
            r#"{"max_age_days":180,"reminder_days":[14,7,1]}"#
        );
    }
}

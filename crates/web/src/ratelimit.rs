//! Per-address rate limits, in memory on each node (GCRA).
//!
//! Per-account counters live in the database (see `varco_app::login`); these
//! limits only stop one address from hammering an endpoint. A limit of 0
//! disables it (for benchmarks on loopback).
//!
//! An endpoint takes a cell **before** the work ([`IpLimiter::attempt`]) and
//! gives it back when the attempt succeeded ([`Attempt::succeeded`]): so the
//! limits count failed attempts, two hundred teachers behind one school router
//! can all sign in at 08:00, and parallel guesses cannot slip past the check
//! while the first ones are still being hashed.
//!
//! IPv6 addresses are keyed by their network (a /64 by default): a line
//! usually gets a whole /64, so keying per /128 would give every guess a
//! fresh budget.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The key of an address: IPv4 as is, IPv6 reduced to its network prefix.
pub fn address_key(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            // An IPv4-mapped address (::ffff:a.b.c.d) is an IPv4 client.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let prefix = u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[derive(Debug)]
struct Inner {
    /// Time between two cells coming back.
    interval: Duration,
    /// How far ahead of now an address's theoretical arrival time may be.
    tolerance: Duration,
    ipv6_prefix: u8,
    /// Theoretical arrival time of each address that has used cells.
    tat: Mutex<HashMap<IpAddr, Instant>>,
}

impl Inner {
    fn map(&self) -> MutexGuard<'_, HashMap<IpAddr, Instant>> {
        // A panic while holding the lock leaves a consistent map.
        self.tat.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A per-address limiter (GCRA); a limiter with no budget (0 per minute) lets everything through.
#[derive(Debug, Clone)]
pub struct IpLimiter {
    inner: Option<Arc<Inner>>,
}

impl IpLimiter {
    /// `per_minute` cells per minute per address, with the same burst; IPv6
    /// addresses grouped per /`ipv6_prefix`.
    pub fn per_minute(per_minute: u32, ipv6_prefix: u8) -> IpLimiter {
        IpLimiter {
            inner: (per_minute > 0).then(|| {
                let interval = Duration::from_secs(60) / per_minute;
                Arc::new(Inner {
                    interval,
                    tolerance: interval * per_minute,
                    ipv6_prefix,
                    tat: Mutex::new(HashMap::new()),
                })
            }),
        }
    }

    /// Takes a cell, or `Err(seconds to wait)` when the address has none left.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.take_at(ip, Instant::now())
    }

    /// Takes a cell for an attempt whose outcome is not known yet; the cell
    /// comes back if the attempt succeeds. No address (no TCP peer, as in
    /// unit tests): no limit.
    pub fn attempt(&self, ip: Option<IpAddr>) -> Result<Attempt, u64> {
        let key = match (&self.inner, ip) {
            (Some(inner), Some(ip)) => {
                self.take_at(ip, Instant::now())?;
                Some((inner.clone(), address_key(ip, inner.ipv6_prefix)))
            }
            _ => None,
        };
        Ok(Attempt { key })
    }

    fn take_at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let key = address_key(ip, inner.ipv6_prefix);
        let mut map = inner.map();
        let tat = map.get(&key).copied().unwrap_or(now).max(now);
        let next = tat + inner.interval;
        if next - now > inner.tolerance {
            let wait = next - now - inner.tolerance;
            return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        map.insert(key, next);
        Ok(())
    }

    /// Forgets addresses whose budget is full again (memory stays bounded).
    pub fn shrink(&self) {
        self.shrink_at(Instant::now());
    }

    fn shrink_at(&self, now: Instant) {
        if let Some(inner) = &self.inner {
            let mut map = inner.map();
            map.retain(|_, tat| *tat > now);
            map.shrink_to_fit();
        }
    }

    /// Addresses remembered (for tests of the upkeep).
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |inner| inner.map().len())
    }

    /// Whether no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A cell taken for an attempt. Dropped without [`Attempt::succeeded`], the
/// attempt counts as failed.
#[derive(Debug)]
#[must_use = "call succeeded() when the attempt succeeded, or drop it to count a failure"]
pub struct Attempt {
    key: Option<(Arc<Inner>, IpAddr)>,
}

impl Attempt {
    /// Gives the cell back: a success does not count against the address.
    pub fn succeeded(self) {
        if let Some((inner, key)) = &self.key {
            let mut map = inner.map();
            if let Some(tat) = map.get_mut(key) {
                *tat = tat.checked_sub(inner.interval).unwrap_or(*tat);
            }
        }
    }

    /// Gives the cell back when `failed` is false.
    pub fn settle(self, failed: bool) {
        if !failed {
            self.succeeded();
        }
    }
}

/// Whether a sign-in (or a check of the current password) failed in a way
/// that counts against the address: wrong credentials, or a login still in
/// its delay after earlier failures.
pub fn failed_sign_in<T>(result: &Result<T, varco_app::AppError>) -> bool {
    matches!(
        result,
        Err(varco_app::AppError::InvalidCredentials
            | varco_app::AppError::Throttled { .. }
            | varco_app::AppError::LoginDelayed { .. })
    )
}

/// Whether the use of an emailed link failed in a way that counts against
/// the address: anything but success or a refused new password (a policy
/// refusal is the owner's typing, not a guess).
pub fn failed_link_use<T>(result: &Result<T, varco_app::AppError>) -> bool {
    !matches!(
        result,
        Ok(_)
            | Err(varco_app::AppError::PasswordPolicy(_)
                | varco_app::AppError::InputTooLong
                | varco_app::AppError::Invalid { .. })
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_is_grouped_per_64_and_ipv4_stays_whole() {
        assert_eq!(address_key(ip("2001:db8:1:2:aaaa::1"), 64), ip("2001:db8:1:2::"));
        assert_eq!(
            address_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), 64),
            address_key(ip("2001:db8:1:2::7"), 64)
        );
        assert_ne!(
            address_key(ip("2001:db8:1:3::1"), 64),
            address_key(ip("2001:db8:1:2::1"), 64)
        );
        assert_eq!(
            address_key(ip("2001:db8:1:3::1"), 56),
            address_key(ip("2001:db8:1:2::1"), 56)
        );
        assert_eq!(address_key(ip("2001:db8::1"), 128), ip("2001:db8::1"));
        assert_eq!(address_key(ip("2001:db8::1"), 0), ip("::"));
        assert_eq!(address_key(ip("192.0.2.7"), 64), ip("192.0.2.7"));
        assert_eq!(address_key(ip("::ffff:192.0.2.7"), 64), ip("192.0.2.7"));
    }

    #[test]
    fn one_64_shares_one_budget() {
        let limiter = IpLimiter::per_minute(3, 64);
        let now = Instant::now();
        for i in 1..=3 {
            let addr = ip(&format!("2001:db8:0:1::{i}"));
            assert!(limiter.take_at(addr, now).is_ok());
        }
        assert!(limiter.take_at(ip("2001:db8:0:1:ffff::9"), now).is_err());
        assert!(
            limiter.take_at(ip("2001:db8:0:2::1"), now).is_ok(),
            "another /64 has its own budget"
        );
        assert!(limiter.take_at(ip("192.0.2.1"), now).is_ok());
    }

    #[test]
    fn burst_then_wait_then_refill() {
        let limiter = IpLimiter::per_minute(30, 64);
        let a = ip("192.0.2.1");
        let start = Instant::now();
        for _ in 0..30 {
            assert!(limiter.take_at(a, start).is_ok());
        }
        let wait = limiter.take_at(a, start).unwrap_err();
        assert_eq!(wait, 2, "one cell comes back every 2 s");
        assert!(limiter.take_at(a, start + Duration::from_secs(2)).is_ok());
        assert!(limiter.take_at(a, start + Duration::from_secs(2)).is_err());
        limiter.shrink_at(start + Duration::from_secs(30));
        assert_eq!(limiter.len(), 1, "not yet full again");
        limiter.shrink_at(start + Duration::from_secs(63));
        assert_eq!(limiter.len(), 0, "a full budget is forgotten");
    }

    #[test]
    fn successes_give_their_cell_back() {
        let limiter = IpLimiter::per_minute(3, 64);
        let a = Some(ip("192.0.2.1"));
        for _ in 0..100 {
            limiter.attempt(a).expect("successes never run out").succeeded();
        }
        for _ in 0..3 {
            let attempt = limiter.attempt(a).expect("three failures allowed");
            attempt.settle(true);
        }
        assert!(limiter.attempt(a).is_err(), "the fourth failure is refused");
    }

    #[test]
    fn zero_disables() {
        let limiter = IpLimiter::per_minute(0, 64);
        for _ in 0..1000 {
            assert!(limiter.check(ip("192.0.2.1")).is_ok());
        }
        assert!(limiter.is_empty());
    }
}

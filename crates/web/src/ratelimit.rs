//! Per-IP rate limits, in memory on each node (GCRA via `governor`).
//!
//! Per-account counters live in the database (see `varco_app::login`); these
//! limits only stop one address from hammering an endpoint. A limit of 0
//! disables it (for benchmarks on loopback).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Debug, Clone)]
pub struct IpLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

impl IpLimiter {
    /// `per_minute` requests per minute per address, with the same burst.
    pub fn per_minute(per_minute: u32) -> IpLimiter {
        IpLimiter {
            limiter: NonZeroU32::new(per_minute).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n)))),
        }
    }

    /// `Err(seconds to wait)` when the address is over its limit.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + 1
        })
    }

    /// Forgets addresses whose budget is full again (memory stays bounded).
    pub fn shrink(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

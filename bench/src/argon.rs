//! Raw Argon2id verifications per second in this process, with the server's
//! parameters (m=19456 KiB, t=2, p=1, v0x13): the ceiling a login can reach.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use crate::stats::median;

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

pub fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(|e| anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThreadResult {
    pub threads: usize,
    /// Median over the rounds.
    pub verifications_per_sec: f64,
    pub rounds: Vec<f64>,
    /// The largest share of the machine other processes used in a round.
    pub other_load: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArgonReport {
    pub phc_prefix: String,
    pub seconds_per_round: f64,
    pub results: Vec<ThreadResult>,
}

/// One round: `threads` threads verify the same hash until `round` has
/// passed (each at most `max_per_thread` times); returns verifications/s.
fn round(phc: &Arc<String>, password: &Arc<String>, threads: usize, round: Duration) -> anyhow::Result<f64> {
    const MAX_PER_THREAD: u64 = 10_000;
    let start = Instant::now();
    let deadline = start + round;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let phc = Arc::clone(phc);
            let password = Arc::clone(password);
            std::thread::spawn(move || -> anyhow::Result<f64> {
                let argon = hasher()?;
                let parsed = PasswordHash::new(&phc).map_err(|e| anyhow!("PHC: {e}"))?;
                let mut done = 0u64;
                while done < MAX_PER_THREAD && (done == 0 || Instant::now() < deadline) {
                    argon
                        .verify_password(password.as_bytes(), &parsed)
                        .map_err(|e| anyhow!("verification failed: {e}"))?;
                    done += 1;
                }
                Ok(done as f64 / start.elapsed().as_secs_f64())
            })
        })
        .collect();
    // Each thread stops after its first verification past the deadline and
    // reports its own rate; the rates add up.
    let mut total = 0.0;
    for handle in handles {
        total += handle.join().map_err(|_| anyhow!("verifier thread panicked"))??;
    }
    Ok(total)
}

pub fn run(thread_counts: &[usize], seconds: f64, rounds: usize) -> anyhow::Result<ArgonReport> {
    let password = Arc::new("bench-argon2-password-0123456789".to_owned());
    let salt = SaltString::generate(&mut OsRng);
    let phc = hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow!("hashing: {e}"))?
        .to_string();
    let phc_prefix = phc.split('$').take(4).collect::<Vec<_>>().join("$");
    let phc = Arc::new(phc);
    // Warm up: page in the code and let the allocator settle.
    round(&phc, &password, 1, Duration::from_millis(200)).context("warm-up")?;
    let mut results = Vec::new();
    for &threads in thread_counts {
        let mut per_round = Vec::new();
        let mut other_load: f64 = 0.0;
        for _ in 0..rounds.max(1) {
            let before = crate::cpu::snapshot(None);
            per_round.push(round(
                &phc,
                &password,
                threads.max(1),
                Duration::from_secs_f64(seconds),
            )?);
            other_load = other_load.max(crate::cpu::others_share(&before, &crate::cpu::snapshot(None)));
        }
        let verifications_per_sec = median(&per_round);
        eprintln!(
            "argon2: {threads} thread(s): {verifications_per_sec:.1} verifications/s (rounds {per_round:.1?}), other load {:.0}%",
            other_load * 100.0
        );
        results.push(ThreadResult {
            threads,
            verifications_per_sec,
            rounds: per_round,
            other_load,
        });
    }
    Ok(ArgonReport {
        phc_prefix,
        seconds_per_round: seconds,
        results,
    })
}

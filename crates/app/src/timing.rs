//! Equal time for every failed login (security review finding 7).
//!
//! A wrong password costs what the account's stored hash costs: an imported
//! bcrypt-12 takes ten times an Argon2id, and an email shared by three
//! accounts three verifications. Left alone, the time of a refusal tells
//! which logins exist. So every refused login answers no earlier than a
//! *floor* after it arrived: the slowest refusal this database can produce
//! (the costliest stored hash, or `max_email_candidates` verifications),
//! with a margin. Sleeping costs no CPU.
//!
//! The floor is measured on the hashing threads when the first login comes,
//! and again every [`RECALIBRATE_EVERY`] in the background (a roster import
//! may bring costlier hashes); `Settings::failure_floor_ms` fixes it instead.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;
use varco_domain::password::PasswordInput;

use crate::{App, AppError};

/// How often the floor is measured again.
pub const RECALIBRATE_EVERY: Duration = Duration::from_secs(600);

/// How much slower than the slowest measured path the floor is.
const MARGIN: f64 = 1.3;
/// Added to the floor, for scheduling noise on a busy machine.
const SLACK: Duration = Duration::from_millis(5);
/// Hashes looked at when measuring (one per distinct cost is verified).
const SAMPLE_LIMIT: i64 = 100_000;

/// The floor of failed-login answers, shared by clones of the [`App`].
#[derive(Debug, Default)]
pub struct FailureFloor {
    value: OnceCell<Mutex<(Duration, Instant)>>,
}

impl FailureFloor {
    /// The current floor; measures it at the first call, and starts a new
    /// measurement in the background once the last one is old.
    pub(crate) async fn get(&self, app: &App) -> Result<Duration, AppError> {
        if let Some(ms) = app.settings.failure_floor_ms {
            return Ok(Duration::from_millis(ms));
        }
        let cell = self
            .value
            .get_or_try_init(|| async { Ok::<_, AppError>(Mutex::new((measure(app).await?, Instant::now()))) })
            .await?;
        let (floor, stale) = {
            let mut guard = cell.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let stale = guard.1.elapsed() >= RECALIBRATE_EVERY;
            if stale {
                // Whoever sees it stale first measures; the rest keep the old value.
                guard.1 = Instant::now();
            }
            (guard.0, stale)
        };
        if stale {
            let app = app.clone();
            tokio::spawn(async move {
                match measure(&app).await {
                    Ok(fresh) => {
                        if let Some(cell) = app.failure_floor.value.get() {
                            cell.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0 = fresh;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %crate::error_chain(&e), "could not measure the failed-login floor")
                    }
                }
            });
        }
        Ok(floor)
    }
}

/// The kind and cost of a stored hash, without its salt and output: hashes
/// with the same key cost the same to verify.
fn cost_key(stored: &str) -> &str {
    let cut = |n: usize| stored.match_indices('$').nth(n).map_or(stored, |(i, _)| &stored[..i]);
    if stored.starts_with("$argon2") {
        cut(3)
    } else if stored.starts_with("$2") {
        cut(2)
    } else if stored.starts_with("pbkdf2_") {
        cut(1)
    } else {
        cut(0)
    }
}

/// Measures the slowest refusal: one verification per distinct stored cost,
/// and the dummy verification times the most email candidates.
async fn measure(app: &App) -> Result<Duration, AppError> {
    let probe = PasswordInput::new("una password che nessuno ha mai scelto 8c1f")
        .map_err(|e| AppError::internal_because("probe password", e))?;
    let mut dummies = Vec::with_capacity(3);
    for _ in 0..3 {
        let started = Instant::now();
        app.hashing.verify_dummy(probe.clone()).await?;
        dummies.push(started.elapsed());
    }
    dummies.sort();
    let dummy = dummies[1];
    let params = app.hashing.params();
    let current = format!(
        "$argon2id$v=19$m={},t={},p={}$",
        params.memory_kib, params.iterations, params.parallelism
    );
    let mut tx = app.store.begin_read().await?;
    let stored = tx.uncommon_password_hashes(&current, SAMPLE_LIMIT).await?;
    tx.commit().await?;
    let mut by_cost: BTreeMap<&str, &str> = BTreeMap::new();
    for hash in &stored {
        by_cost.entry(cost_key(hash)).or_insert(hash);
    }
    let mut slowest = dummy * u32::try_from(app.settings.max_email_candidates.max(1)).unwrap_or(3);
    for (key, hash) in by_cost {
        let started = Instant::now();
        app.hashing.verify((*hash).to_owned(), probe.clone()).await?;
        let took = started.elapsed();
        tracing::debug!(cost = key, ?took, "measured a stored hash cost");
        slowest = slowest.max(took);
    }
    let floor = slowest.mul_f64(MARGIN) + SLACK;
    tracing::info!(
        floor_ms = floor.as_millis(),
        "failed logins answer after at least this long"
    );
    Ok(floor)
}

#[cfg(test)]
mod tests {
    use super::cost_key;

    #[test]
    fn cost_keys_drop_salt_and_output() {
        assert_eq!(
            cost_key("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
            "$argon2id$v=19$m=19456,t=2,p=1"
        );
        assert_eq!(
            cost_key("$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"),
            "$2b$12"
        );
        assert_eq!(cost_key("pbkdf2_sha256$1000000$salt$key="), "pbkdf2_sha256$1000000");
        assert_eq!(cost_key("md5$salt$0123"), "md5");
        assert_eq!(cost_key("sha1$salt$0123"), "sha1");
        assert_eq!(cost_key("nonsense"), "nonsense");
    }
}

//! Password hashing off the async executor, with bounded concurrency.
//!
//! Argon2id with m=19 MiB costs tens of milliseconds of one core and 19 MiB of
//! memory. Each hash or verification waits for a permit of a semaphore sized
//! to the number of cores, then runs on tokio's blocking pool. A login flood
//! therefore queues (cheaply, as futures) instead of starving the workers
//! that answer other requests or multiplying memory use.

use std::sync::Arc;

use tokio::sync::Semaphore;
use varco_domain::password::{HashParams, PasswordHasher, PasswordInput, Verification};

use crate::AppError;

#[derive(Debug, Clone)]
pub struct HashingPool {
    hasher: PasswordHasher,
    permits: Arc<Semaphore>,
}

impl HashingPool {
    pub fn new(params: HashParams, concurrency: usize) -> Result<HashingPool, AppError> {
        let hasher =
            PasswordHasher::new(params).map_err(|e| AppError::Internal(format!("password hashing parameters: {e}")))?;
        Ok(HashingPool {
            hasher,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        })
    }

    pub fn params(&self) -> HashParams {
        self.hasher.params()
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::Internal("hashing pool closed".into()))?;
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || job(&hasher))
            .await
            .map_err(|e| AppError::Internal(format!("hashing task failed: {e}")))
    }

    pub async fn hash(&self, password: PasswordInput) -> Result<String, AppError> {
        self.run(move |h| h.hash(&password))
            .await?
            .map_err(|e| AppError::Internal(format!("hashing failed: {e}")))
    }

    /// Verifies against a stored hash; a malformed stored hash counts as a
    /// mismatch (and is logged), never as a success.
    pub async fn verify(&self, stored: String, password: PasswordInput) -> Result<Verification, AppError> {
        let outcome = self.run(move |h| h.verify(&stored, &password)).await?;
        Ok(outcome.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "stored password hash could not be read");
            Verification {
                matches: false,
                needs_rehash: false,
            }
        }))
    }

    /// Spends the time of one verification on a hash that matches nothing, so
    /// an unknown or unusable account answers as slowly as a real one.
    pub async fn verify_dummy(&self, password: PasswordInput) -> Result<(), AppError> {
        self.run(move |h| {
            let _ = h.verify(h.dummy_hash(), &password);
        })
        .await
    }
}

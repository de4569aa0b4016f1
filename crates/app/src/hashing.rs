//! Password hashing off the async executor, on a fixed set of threads.
//!
//! Argon2id with m=19 MiB costs tens of milliseconds of one core and 19 MiB of
//! memory. Every hash or verification is a job sent to one of `concurrency`
//! dedicated threads (one per core by default) and awaited through a oneshot
//! channel. A login flood therefore queues (cheaply, as small jobs) instead of
//! starving the tokio workers that answer other requests.
//!
//! Why dedicated threads rather than `spawn_blocking`: the allocator keeps a
//! memory arena per thread, and each Argon2 run allocates its 19 MiB working
//! area there. Spread over tokio's elastic blocking pool (up to 512 threads),
//! a flood left hundreds of MiB cached in idle arenas; on a fixed set of
//! threads each keeps one reusable working area while busy (no page faults
//! per login) and frees it after two idle seconds.
//!
//! The queue in front of the threads is bounded: a flood that fills it gets
//! [`AppError::Busy`] (503 with `Retry-After`) at once instead of waiting in
//! an ever longer line that delays every sign-in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use varco_domain::password::{HashParams, PasswordHasher, PasswordInput, Verification};

use crate::AppError;

type Job = Box<dyn FnOnce(&PasswordHasher) + Send>;

/// A hashing thread idle this long frees its Argon2 working area.
const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_secs(2);

/// Jobs that may wait per hashing thread (at ~25 ms each, a full queue is
/// about three seconds of work), and never fewer than [`MIN_QUEUE`] in all.
const QUEUE_PER_THREAD: usize = 128;
const MIN_QUEUE: usize = 256;

/// The hashing threads. Cloning shares them; they stop when the last clone
/// is dropped.
#[derive(Clone)]
pub struct HashingPool {
    hasher: PasswordHasher,
    jobs: mpsc::SyncSender<Job>,
    threads: usize,
    /// Jobs accepted into the queue since the pool started.
    submitted: Arc<AtomicU64>,
}

impl std::fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingPool")
            .field("params", &self.hasher.params())
            .field("threads", &self.threads)
            .finish()
    }
}

impl HashingPool {
    /// `concurrency` threads (at least one) behind a queue sized for them.
    pub fn new(params: HashParams, concurrency: usize) -> Result<HashingPool, AppError> {
        let threads = concurrency.max(1);
        HashingPool::with_queue(params, threads, (threads * QUEUE_PER_THREAD).max(MIN_QUEUE))
    }

    /// `concurrency` threads behind a queue of at most `queue` waiting jobs
    /// (at least one); a job offered to a full queue is refused with
    /// [`AppError::Busy`].
    pub fn with_queue(params: HashParams, concurrency: usize, queue: usize) -> Result<HashingPool, AppError> {
        let hasher =
            PasswordHasher::new(params).map_err(|e| AppError::internal_because("password hashing parameters", e))?;
        let threads = concurrency.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(queue.max(1));
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            let hasher = hasher.clone();
            std::thread::Builder::new()
                .name(format!("varco-hash-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while taking a job, not while hashing.
                        let job = match queue.lock() {
                            Ok(receiver) => receiver.recv_timeout(IDLE_RELEASE),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&hasher),
                            // Idle for a while: give the 19 MiB working area back.
                            Err(mpsc::RecvTimeoutError::Timeout) => varco_domain::password::release_hash_memory(),
                            Err(mpsc::RecvTimeoutError::Disconnected) => return, // the pool is gone
                        }
                    }
                })
                .map_err(|e| AppError::internal_because("cannot start a hashing thread", e))?;
        }
        Ok(HashingPool {
            hasher,
            jobs,
            threads,
            submitted: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many hashing jobs (hashes, verifications, dummy verifications)
    /// were accepted since the pool started: lets tests prove that a request
    /// was answered without touching Argon2.
    pub fn jobs_submitted(&self) -> u64 {
        self.submitted.load(Ordering::Relaxed)
    }

    pub fn params(&self) -> HashParams {
        self.hasher.params()
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let (done, result) = oneshot::channel();
        self.jobs
            .try_send(Box::new(move |hasher| {
                // The request was dropped (the client hung up): skip the work.
                if done.is_closed() {
                    return;
                }
                let _ = done.send(job(hasher));
            }))
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => AppError::Busy,
                mpsc::TrySendError::Disconnected(_) => AppError::internal("the hashing threads have stopped"),
            })?;
        self.submitted.fetch_add(1, Ordering::Relaxed);
        result
            .await
            .map_err(|e| AppError::internal_because("a hashing job was dropped", e))
    }

    pub async fn hash(&self, password: PasswordInput) -> Result<String, AppError> {
        self.run(move |h| h.hash(&password))
            .await?
            .map_err(|e| AppError::internal_because("hashing failed", e))
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
                prefix_only: false,
            }
        }))
    }

    /// Spends the time of one verification on a hash that matches nothing, so
    /// an unknown or unusable account answers as slowly as a real one.
    pub async fn verify_dummy(&self, password: PasswordInput) -> Result<(), AppError> {
        self.run(move |h| h.verify_dummy(&password)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> HashingPool {
        HashingPool::new(
            HashParams {
                memory_kib: 1024,
                iterations: 1,
                parallelism: 1,
            },
            threads,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_and_verifies_on_the_pool() {
        let pool = pool(2);
        let password = PasswordInput::new("a long enough passphrase").unwrap();
        let hash = pool.hash(password.clone()).await.unwrap();
        assert!(pool.verify(hash.clone(), password).await.unwrap().matches);
        let wrong = PasswordInput::new("another passphrase").unwrap();
        assert!(!pool.verify(hash, wrong).await.unwrap().matches);
        let garbage = pool
            .verify("not a hash".into(), PasswordInput::new("x").unwrap())
            .await
            .unwrap();
        assert!(!garbage.matches);
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let pool = HashingPool::with_queue(
            HashParams {
                memory_kib: 1024,
                iterations: 1,
                parallelism: 1,
            },
            1,
            1,
        )
        .unwrap();
        // Hold the only thread so that nothing leaves the queue.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, running) = oneshot::channel::<()>();
        let blocker = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move |_| {
                    let _ = started.send(());
                    let _ = held.recv();
                })
                .await
            })
        };
        running.await.unwrap();
        // One job fits in the queue...
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.hash(PasswordInput::new("the queued one").unwrap()).await })
        };
        while pool.jobs_submitted() < 2 {
            tokio::task::yield_now().await;
        }
        // ...the next one is refused without waiting.
        let refused = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            pool.hash(PasswordInput::new("one too many").unwrap()),
        )
        .await
        .expect("answered at once");
        assert!(matches!(refused, Err(AppError::Busy)), "{refused:?}");
        assert_eq!(pool.jobs_submitted(), 2, "the refused job was not counted");
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        assert!(queued.await.unwrap().unwrap().starts_with("$argon2id$"));
        // Room again.
        assert!(pool.hash(PasswordInput::new("after the wait").unwrap()).await.is_ok());
        assert_eq!(pool.jobs_submitted(), 3);
    }

    #[tokio::test]
    async fn many_jobs_queue_on_few_threads() {
        let pool = pool(1);
        let jobs: Vec<_> = (0..16)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    pool.hash(PasswordInput::new(&format!("password number {i}")).unwrap())
                        .await
                })
            })
            .collect();
        for job in jobs {
            assert!(job.await.unwrap().unwrap().starts_with("$argon2id$"));
        }
    }
}

//! One attempt at a time per login text and per account, on this node.
//!
//! Every password check is reserved in the database as a failure before its
//! hash is checked, so that parallel guesses cannot pass the lockout (security
//! review finding 4). Left alone, that rule also turned away the *right*
//! password when several arrived at once: a parent signing in from the phone
//! and the laptop, a teacher double-clicking, a class signing in with one
//! shared account — the fourth simultaneous reservation met the delay the
//! first three had put down, before any of them was settled.
//!
//! The gates serialize reserve → check → settle for the same login text and
//! the same account inside one node: each attempt sees the one before it
//! settled (a success clears the count), so right passwords all get in and
//! wrong ones are counted exactly as if sent one by one. Across nodes the
//! database reservation still decides. A gate is dropped from the map as soon
//! as nobody holds or waits for it, so the map holds only attempts in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use varco_domain::AccountId;

/// The gates of one node, shared by every request.
#[derive(Debug, Default)]
pub struct Gates {
    open: Mutex<HashMap<String, Arc<AsyncMutex<()>>>>,
}

/// Held while an attempt is in flight; the gates open again when it drops.
#[derive(Debug)]
pub(crate) struct Held {
    gates: Arc<Gates>,
    held: Vec<(String, Option<OwnedMutexGuard<()>>)>,
}

impl Gates {
    /// Waits for every gate of `keys`, taken in one global order (sorted,
    /// without repeats) so two attempts can never wait for each other.
    pub(crate) async fn enter(self: &Arc<Self>, keys: impl IntoIterator<Item = String>) -> Held {
        let mut keys: Vec<String> = keys.into_iter().collect();
        keys.sort();
        keys.dedup();
        let mut held = Held {
            gates: Arc::clone(self),
            held: Vec::with_capacity(keys.len()),
        };
        for key in keys {
            let gate = {
                let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                Arc::clone(open.entry(key.clone()).or_default())
            };
            // Pushed before waiting: a cancelled wait still tidies up its key.
            held.held.push((key, None));
            let guard = gate.lock_owned().await;
            if let Some(last) = held.held.last_mut() {
                last.1 = Some(guard);
            }
        }
        held
    }

    /// How many gates are in the map (held or waited for).
    pub fn in_flight(&self) -> usize {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.gates.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (key, guard) in self.held.drain(..) {
            drop(guard);
            // Only the map itself still points at an unused gate.
            if open.get(&key).is_some_and(|gate| Arc::strong_count(gate) == 1) {
                open.remove(&key);
            }
        }
    }
}

/// The gate of a login text (its fingerprint).
pub(crate) fn login_text(fingerprint: &str) -> String {
    format!("login:{fingerprint}")
}

/// The gate of an account.
pub(crate) fn account(id: AccountId) -> String {
    format!("account:{id}")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_and_nothing_left_behind() {
        let gates = Arc::new(Gates::default());
        let first = gates.enter([account(AccountId(1)), login_text("x")]).await;
        assert_eq!(gates.in_flight(), 2);
        let waiting = {
            let gates = Arc::clone(&gates);
            tokio::spawn(async move { gates.enter([account(AccountId(1))]).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the second attempt waits for the first");
        // Another account is not held up.
        let other = gates.enter([account(AccountId(2))]).await;
        drop(other);
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the gate opens")
            .expect("task");
        assert_eq!(gates.in_flight(), 1, "only the held gate stays");
        drop(second);
        assert_eq!(gates.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_wait_leaves_nothing_behind() {
        let gates = Arc::new(Gates::default());
        let first = gates.enter([account(AccountId(7))]).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(20), gates.enter([account(AccountId(7))])).await;
        assert!(gave_up.is_err());
        drop(first);
        assert_eq!(gates.in_flight(), 0);
    }

    #[tokio::test]
    async fn crossing_orders_do_not_deadlock() {
        let gates = Arc::new(Gates::default());
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            let gates = Arc::clone(&gates);
            tasks.spawn(async move {
                let keys = if i % 2 == 0 {
                    vec![account(AccountId(1)), account(AccountId(2))]
                } else {
                    vec![account(AccountId(2)), account(AccountId(1))]
                };
                let _held = gates.enter(keys).await;
                tokio::task::yield_now().await;
            });
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(done) = tasks.join_next().await {
                done.expect("task");
            }
        })
        .await
        .expect("no deadlock");
        assert_eq!(gates.in_flight(), 0);
    }
}

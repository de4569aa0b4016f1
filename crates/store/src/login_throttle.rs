//! Failed logins per typed login text, whether or not an account answers to
//! it. The key is the SHA-256 of the normalised text, so the table holds no
//! login in clear. It lets Varco tell a person how long to wait after wrong
//! passwords with the same schedule and words for a real account and for a
//! login that matches nothing, so the answer reveals no account.

use sqlx::Row;
use varco_domain::clock::Timestamp;
use varco_domain::lockout::LockState;

use crate::{Backend, StoreError, Tx};

impl Tx {
    /// The schedule of a login text, its row locked for the rest of the
    /// transaction (on PostgreSQL; SQLite's write transaction already
    /// serialises writers). A text never seen has the default state.
    pub async fn login_throttle_for_update(&mut self, login_hash: &str) -> Result<LockState, StoreError> {
        let sql = if self.backend == Backend::Postgres {
            "SELECT failed_count, blocked_until, last_failed_at FROM login_throttle WHERE login_hash = $1 FOR UPDATE"
        } else {
            "SELECT failed_count, blocked_until, last_failed_at FROM login_throttle WHERE login_hash = $1"
        };
        let row = sqlx::query(sql).bind(login_hash).fetch_optional(self.conn()).await?;
        let Some(row) = row else {
            return Ok(LockState::default());
        };
        let count: i64 = row.try_get("failed_count")?;
        Ok(LockState {
            failed_count: u32::try_from(count).unwrap_or(u32::MAX),
            blocked_until: row.try_get::<Option<i64>, _>("blocked_until")?.map(Timestamp),
            last_failure_at: Some(Timestamp(row.try_get("last_failed_at")?)),
        })
    }

    /// Stores the schedule of a login text (an upsert).
    pub async fn set_login_throttle(&mut self, login_hash: &str, state: &LockState) -> Result<(), StoreError> {
        let last = state.last_failure_at.map_or(0, |t| t.0);
        sqlx::query(
            "INSERT INTO login_throttle (login_hash, failed_count, blocked_until, last_failed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (login_hash) DO UPDATE SET \
             failed_count = excluded.failed_count, blocked_until = excluded.blocked_until, \
             last_failed_at = excluded.last_failed_at",
        )
        .bind(login_hash)
        .bind(i64::from(state.failed_count))
        .bind(state.blocked_until.map(|t| t.0))
        .bind(last)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Forgets a login text's failures (after a successful login with it).
    pub async fn clear_login_throttle(&mut self, login_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_throttle WHERE login_hash = $1")
            .bind(login_hash)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Drops the schedules whose last failure is older than `before` and
    /// that block nothing any more; returns how many went.
    pub async fn trim_login_throttle(&mut self, before: i64) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "DELETE FROM login_throttle WHERE last_failed_at < $1 AND (blocked_until IS NULL OR blocked_until < $1)",
        )
        .bind(before)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected())
    }
}

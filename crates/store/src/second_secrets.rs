//! The PIN or personal code of an account (table `second_secrets`): its
//! hash, and the consecutive wrong entries that lock it.

use sqlx::Row;
use varco_domain::AccountId;
use varco_domain::clock::Timestamp;

use crate::{StoreError, Tx};

/// An account's second secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondSecretRecord {
    /// `pin` or `personal_code`.
    pub kind: String,
    /// Argon2id PHC string.
    pub hash: String,
    /// Consecutive wrong entries.
    pub failures: u32,
    /// When five wrong entries locked it.
    pub locked_at: Option<Timestamp>,
    /// When it was issued or last changed.
    pub set_at: Timestamp,
}

impl Tx {
    /// The account's second secret, if it has one.
    pub async fn second_secret(&mut self, account_id: AccountId) -> Result<Option<SecondSecretRecord>, StoreError> {
        let row =
            sqlx::query("SELECT kind, hash, failures, locked_at, set_at FROM second_secrets WHERE account_id = $1")
                .bind(account_id.0)
                .fetch_optional(self.conn())
                .await?;
        row.map(|r| {
            Ok(SecondSecretRecord {
                kind: r.try_get("kind")?,
                hash: r.try_get("hash")?,
                failures: u32::try_from(r.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX),
                locked_at: r.try_get::<Option<i64>, _>("locked_at")?.map(Timestamp),
                set_at: Timestamp(r.try_get("set_at")?),
            })
        })
        .transpose()
    }

    /// Sets (or replaces) the account's second secret: no failures, no lock.
    pub async fn set_second_secret(
        &mut self,
        account_id: AccountId,
        kind: &str,
        hash: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO second_secrets (account_id, kind, hash, failures, locked_at, set_at) \
             VALUES ($1, $2, $3, 0, NULL, $4) \
             ON CONFLICT (account_id) DO UPDATE SET kind = $2, hash = $3, failures = 0, locked_at = NULL, set_at = $4",
        )
        .bind(account_id.0)
        .bind(kind)
        .bind(hash)
        .bind(now.0)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Counts one wrong entry against the secret whose hash is `hash` (not
    /// one issued meanwhile) while it is not locked, locking it at
    /// `lock_after`; one statement, so concurrent wrong entries all count and
    /// the count stops at the lock. Returns the failures now and whether it
    /// is locked, or `None` when the secret changed or was locked meanwhile.
    pub async fn fail_second_secret(
        &mut self,
        account_id: AccountId,
        hash: &str,
        lock_after: u32,
        now: Timestamp,
    ) -> Result<Option<(u32, bool)>, StoreError> {
        let row = sqlx::query(
            "UPDATE second_secrets SET failures = failures + 1, \
             locked_at = CASE WHEN locked_at IS NULL AND failures + 1 >= $3 THEN $4 ELSE locked_at END \
             WHERE account_id = $1 AND hash = $2 AND locked_at IS NULL RETURNING failures, locked_at",
        )
        .bind(account_id.0)
        .bind(hash)
        .bind(i64::from(lock_after))
        .bind(now.0)
        .fetch_optional(self.conn())
        .await?;
        row.map(|r| {
            Ok((
                u32::try_from(r.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX),
                r.try_get::<Option<i64>, _>("locked_at")?.is_some(),
            ))
        })
        .transpose()
    }

    /// A right entry: the failures start again from zero, unless the secret
    /// was locked (or changed) meanwhile. Returns whether it counted.
    pub async fn succeed_second_secret(&mut self, account_id: AccountId, hash: &str) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE second_secrets SET failures = 0 WHERE account_id = $1 AND hash = $2 AND locked_at IS NULL",
        )
        .bind(account_id.0)
        .bind(hash)
        .execute(self.conn())
        .await?;
        Ok(result.rows_affected() == 1)
    }
}

//! Password lifecycle records: history of replaced hashes, forced change,
//! expiry reminders already sent, once-per-period job claims.

use sqlx::Row;
use varco_domain::clock::Timestamp;
use varco_domain::{AccountId, AccountKind, Lang};

use crate::{Store, StoreError, Tx};

/// An account whose password has an age, for the expiry job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordAge {
    /// The account's row id.
    pub account_id: AccountId,
    /// Staff or family (each has its own expiry policy).
    pub kind: AccountKind,
    /// When the password was last set.
    pub password_changed_at: Timestamp,
}

impl Tx {
    /// The most recent `limit` replaced hashes of an account, newest first.
    pub async fn password_history(&mut self, account_id: AccountId, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT password_hash FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2")
                .bind(account_id.0)
                .bind(limit)
                .fetch_all(self.conn())
                .await?;
        rows.iter().map(|r| Ok(r.try_get("password_hash")?)).collect()
    }

    /// Remembers a replaced hash and keeps only the newest `keep` of them.
    pub async fn push_password_history(
        &mut self,
        account_id: AccountId,
        hash: &str,
        now: i64,
        keep: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO password_history (account_id, password_hash, replaced_at) VALUES ($1, $2, $3)")
            .bind(account_id.0)
            .bind(hash)
            .bind(now)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "DELETE FROM password_history WHERE account_id = $1 AND id NOT IN \
             (SELECT id FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2)",
        )
        .bind(account_id.0)
        .bind(keep.max(0))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Sets or clears the "must change the password" flag of an account. A missing account
    /// is not an error (nothing changes).
    pub async fn set_password_change_required(
        &mut self,
        account_id: AccountId,
        required: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET password_change_required = $2, updated_at = $3 WHERE id = $1")
            .bind(account_id.0)
            .bind(i64::from(required))
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Remembers the account's preferred language for emails (no write when it is already
    /// that one). A missing account is not an error.
    pub async fn set_account_lang(&mut self, account_id: AccountId, lang: Lang) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET lang = $2 WHERE id = $1 AND (lang IS NULL OR lang <> $2)")
            .bind(account_id.0)
            .bind(lang.as_str())
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Records that the reminder for `threshold_days` was sent (false if it already was).
    pub async fn record_expiry_reminder(
        &mut self,
        account_id: AccountId,
        password_changed_at: Timestamp,
        threshold_days: i64,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO expiry_reminders (account_id, password_changed_at, threshold_days, sent_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(account_id.0)
        .bind(password_changed_at.0)
        .bind(threshold_days)
        .bind(now.0)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Whether the reminder for `threshold_days` (or a more urgent one) went out for this password.
    pub async fn expiry_reminder_sent(
        &mut self,
        account_id: AccountId,
        password_changed_at: Timestamp,
        threshold_days: i64,
    ) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM expiry_reminders WHERE account_id = $1 AND password_changed_at = $2 \
             AND threshold_days <= $3",
        )
        .bind(account_id.0)
        .bind(password_changed_at.0)
        .bind(threshold_days)
        .fetch_one(self.conn())
        .await?;
        Ok(n > 0)
    }
}

impl Store {
    /// Active accounts of a kind with a password set before `changed_before`,
    /// in id order from `after_id` (for paging through large tables).
    pub async fn password_ages(
        &self,
        kind: AccountKind,
        changed_before: Timestamp,
        after_id: AccountId,
        limit: i64,
    ) -> Result<Vec<PasswordAge>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, password_changed_at FROM accounts WHERE kind = $1 AND status = 'active' \
             AND password_hash IS NOT NULL AND password_changed_at IS NOT NULL AND password_changed_at < $2 \
             AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(kind.as_str())
        .bind(changed_before.0)
        .bind(after_id.0)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(PasswordAge {
                    account_id: AccountId(r.try_get("id")?),
                    kind: AccountKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("account kind {kind:?}")))?,
                    password_changed_at: Timestamp(r.try_get("password_changed_at")?),
                })
            })
            .collect()
    }

    /// Claims a job's period for this node. A claim left unfinished for
    /// `stale_secs` (a node died mid-run) can be taken over.
    pub async fn claim_job(
        &self,
        job: &str,
        period: &str,
        node: &str,
        now: i64,
        stale_secs: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO job_runs (job, period, node, started_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(job)
        .bind(period)
        .bind(node)
        .bind(now)
        .execute(tx.conn())
        .await?
        .rows_affected()
            == 1;
        let claimed = inserted
            || sqlx::query(
                "UPDATE job_runs SET node = $3, started_at = $4 WHERE job = $1 AND period = $2 \
                 AND finished_at IS NULL AND started_at <= $5",
            )
            .bind(job)
            .bind(period)
            .bind(node)
            .bind(now)
            .bind(now - stale_secs)
            .execute(tx.conn())
            .await?
            .rows_affected()
                == 1;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Marks the job's period finished (in its own transaction); it is not claimed again.
    pub async fn finish_job(&self, job: &str, period: &str, now: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE job_runs SET finished_at = $3 WHERE job = $1 AND period = $2")
            .bind(job)
            .bind(period)
            .bind(now)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }
}

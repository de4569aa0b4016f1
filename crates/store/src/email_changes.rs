//! Email changes asked for by the account's owner: one row per request,
//! bound to the confirmation token sent to the new address and, once
//! confirmed, to the undo token sent to the old one. The row remembers the
//! old address and whether it was verified, so an undo puts back exactly
//! what was there. Marking a row confirmed or undone is a conditional
//! UPDATE: a second attempt changes nothing and reports false.

use sqlx::Row;
use sqlx::any::AnyRow;

use varco_domain::AccountId;

use crate::{StoreError, Tx};

/// One email change asked for by an account's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChangeRecord {
    /// Row id.
    pub id: i64,
    /// The account whose address changes.
    pub account_id: AccountId,
    /// The address replaced: as requested, then as it was at confirmation.
    pub old_email: Option<String>,
    /// Whether the replaced address was verified (an undo restores the flag).
    pub old_email_verified: bool,
    /// The address asked for.
    pub new_email: String,
    /// The token mailed to `new_email` to confirm the change.
    pub confirm_token_id: i64,
    /// The token mailed to the old address once confirmed, if it had one.
    pub undo_token_id: Option<i64>,
    /// When the change was asked for, unix seconds.
    pub requested_at: i64,
    /// When it was confirmed, if it was.
    pub confirmed_at: Option<i64>,
    /// When it was undone, if it was.
    pub undone_at: Option<i64>,
}

/// An email change to insert (see [`Tx::insert_email_change`]).
#[derive(Debug, Clone)]
pub struct NewEmailChange<'a> {
    /// The account whose address changes.
    pub account_id: AccountId,
    /// Its current address, if any.
    pub old_email: Option<&'a str>,
    /// Whether that address is verified.
    pub old_email_verified: bool,
    /// The address asked for.
    pub new_email: &'a str,
    /// The confirmation token already inserted for it.
    pub confirm_token_id: i64,
    /// Unix seconds, stored as `requested_at`.
    pub now: i64,
}

const COLUMNS: &str = "id, account_id, old_email, old_email_verified, new_email, confirm_token_id, \
     undo_token_id, requested_at, confirmed_at, undone_at";

fn from_row(row: &AnyRow) -> Result<EmailChangeRecord, StoreError> {
    Ok(EmailChangeRecord {
        id: row.try_get("id")?,
        account_id: AccountId(row.try_get("account_id")?),
        old_email: row.try_get("old_email")?,
        old_email_verified: row.try_get::<i64, _>("old_email_verified")? != 0,
        new_email: row.try_get("new_email")?,
        confirm_token_id: row.try_get("confirm_token_id")?,
        undo_token_id: row.try_get("undo_token_id")?,
        requested_at: row.try_get("requested_at")?,
        confirmed_at: row.try_get("confirmed_at")?,
        undone_at: row.try_get("undone_at")?,
    })
}

impl Tx {
    /// Inserts a requested (not yet confirmed) change; returns its row id.
    pub async fn insert_email_change(&mut self, c: &NewEmailChange<'_>) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO email_changes (account_id, old_email, old_email_verified, new_email, confirm_token_id, \
             requested_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(c.account_id.0)
        .bind(c.old_email)
        .bind(i64::from(c.old_email_verified))
        .bind(c.new_email)
        .bind(c.confirm_token_id)
        .bind(c.now)
        .fetch_one(self.conn())
        .await?)
    }

    /// The change a confirmation token was issued for.
    pub async fn email_change_by_confirm_token(
        &mut self,
        token_id: i64,
    ) -> Result<Option<EmailChangeRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM email_changes WHERE confirm_token_id = $1"
        ))
        .bind(token_id)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The change an undo token was issued for.
    pub async fn email_change_by_undo_token(&mut self, token_id: i64) -> Result<Option<EmailChangeRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM email_changes WHERE undo_token_id = $1"))
            .bind(token_id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Records the confirmation: the address replaced at that moment (and
    /// whether it was verified) and the undo token sent to it. False when the
    /// change was already confirmed.
    pub async fn mark_email_change_confirmed(
        &mut self,
        id: i64,
        old_email: Option<&str>,
        old_email_verified: bool,
        undo_token_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE email_changes SET old_email = $2, old_email_verified = $3, undo_token_id = $4, \
             confirmed_at = $5 WHERE id = $1 AND confirmed_at IS NULL",
        )
        .bind(id)
        .bind(old_email)
        .bind(i64::from(old_email_verified))
        .bind(undo_token_id)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The confirmed, not undone changes of an account made after change
    /// `after_id`, oldest first (an undo of an older change rolls them back too).
    pub async fn confirmed_email_changes_after(
        &mut self,
        account_id: AccountId,
        after_id: i64,
    ) -> Result<Vec<EmailChangeRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM email_changes WHERE account_id = $1 AND id > $2 \
             AND confirmed_at IS NOT NULL AND undone_at IS NULL ORDER BY id"
        ))
        .bind(account_id.0)
        .bind(after_id)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Records the undo of a confirmed change; false when already undone.
    pub async fn mark_email_change_undone(&mut self, id: i64, now: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE email_changes SET undone_at = $2 WHERE id = $1 AND confirmed_at IS NOT NULL AND undone_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Replaces an account's address and its verified flag.
    pub async fn set_account_email(
        &mut self,
        account_id: AccountId,
        email: Option<&str>,
        verified: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query("UPDATE accounts SET email = $2, email_verified = $3, updated_at = $4 WHERE id = $1")
            .bind(account_id.0)
            .bind(email)
            .bind(i64::from(verified))
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}

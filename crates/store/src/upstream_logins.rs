//! Sign-ins under way at an upstream provider (SPID/CIE, issue 9).
//!
//! A row is keyed by the SHA-256 of a random handle (the `state` sent to the
//! provider, or the handle of the school-choice page) and bound to one
//! browser by the SHA-256 of a random cookie value. Its payload is sealed by
//! the application; the store never sees it in clear. Rows are single use:
//! [`Tx::take_upstream_login`] deletes the row it returns, so a replayed
//! callback finds nothing.

use sqlx::Row;
use sqlx::any::AnyRow;
use varco_domain::clock::Timestamp;

use crate::{StoreError, Tx};

/// Which step a pending upstream sign-in waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamLoginStage {
    /// The provider's redirect back to Varco.
    Callback,
    /// The person's choice among several schools' accounts.
    Choice,
}

impl UpstreamLoginStage {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamLoginStage::Callback => "callback",
            UpstreamLoginStage::Choice => "choice",
        }
    }
}

/// A pending upstream sign-in to store.
#[derive(Debug, Clone, Copy)]
pub struct NewUpstreamLogin<'a> {
    /// SHA-256 of the handle (never the handle itself).
    pub handle_hash: &'a str,
    /// The step it waits for.
    pub stage: UpstreamLoginStage,
    /// The provider's configured name.
    pub provider: &'a str,
    /// SHA-256 of the browser-binding cookie value.
    pub binding_hash: &'a str,
    /// The application's sealed payload.
    pub sealed: &'a str,
    /// When it started.
    pub now: Timestamp,
    /// When it stops being usable.
    pub expires_at: Timestamp,
}

/// A pending upstream sign-in, as taken from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLoginRecord {
    /// The provider's configured name.
    pub provider: String,
    /// SHA-256 of the browser-binding cookie value.
    pub binding_hash: String,
    /// The application's sealed payload.
    pub sealed: String,
    /// When it started.
    pub created_at: Timestamp,
    /// When it stops being usable (the caller checks).
    pub expires_at: Timestamp,
}

fn from_row(row: &AnyRow) -> Result<UpstreamLoginRecord, StoreError> {
    Ok(UpstreamLoginRecord {
        provider: row.try_get("provider")?,
        binding_hash: row.try_get("binding_hash")?,
        sealed: row.try_get("sealed")?,
        created_at: Timestamp(row.try_get("created_at")?),
        expires_at: Timestamp(row.try_get("expires_at")?),
    })
}

impl Tx {
    /// Stores a pending upstream sign-in. A handle already stored is a
    /// [`StoreError::Conflict`] (handles are random, so that means a bug).
    pub async fn insert_upstream_login(&mut self, l: &NewUpstreamLogin<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO upstream_logins (handle_hash, stage, provider, binding_hash, sealed, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(l.handle_hash)
        .bind(l.stage.as_str())
        .bind(l.provider)
        .bind(l.binding_hash)
        .bind(l.sealed)
        .bind(l.now.0)
        .bind(l.expires_at.0)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Takes (reads and deletes) the pending sign-in with this handle at this
    /// stage, whatever its age (the caller checks `expires_at` and the
    /// binding). `None` when there is none: unknown, another stage, or
    /// already taken.
    pub async fn take_upstream_login(
        &mut self,
        handle_hash: &str,
        stage: UpstreamLoginStage,
    ) -> Result<Option<UpstreamLoginRecord>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM upstream_logins WHERE handle_hash = $1 AND stage = $2 \
             RETURNING provider, binding_hash, sealed, created_at, expires_at",
        )
        .bind(handle_hash)
        .bind(stage.as_str())
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Removes pending sign-ins that expired at or before `now`; returns how many.
    pub async fn delete_expired_upstream_logins(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM upstream_logins WHERE expires_at <= $1")
            .bind(now.0)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }
}

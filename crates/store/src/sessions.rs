//! Server-side sessions. Only the SHA-256 of the session id is stored, so a
//! copy of the database does not let anyone act as a logged-in user.

use sqlx::Row;
use sqlx::any::AnyRow;
use varco_domain::clock::Timestamp;
use varco_domain::{AccountId, SessionId};

use crate::oidc::{from_json, to_json};
use crate::{StoreError, Tx};

/// A signed-in session, as stored (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Row id.
    pub id: SessionId,
    /// The signed-in account.
    pub account_id: AccountId,
    /// The CSRF token bound to the session (pages send it back in forms).
    pub csrf_token: String,
    /// When the owner signed in.
    pub created_at: Timestamp,
    /// When the session was last used (the idle limit counts from here).
    pub last_seen_at: Timestamp,
    /// Absolute end of the session.
    pub expires_at: Timestamp,
    /// Client address at sign-in, if known.
    pub ip: Option<String>,
    /// Client's User-Agent at sign-in, if known.
    pub user_agent: Option<String>,
    /// The session may only change the password.
    pub password_change_required: bool,
    /// How the person signed in: the `acr` reported in ID tokens.
    pub acr: String,
    /// How the person signed in: the `amr` values reported in ID tokens.
    pub amr: Vec<String>,
    /// The upstream provider signed in through (its configured name), if any.
    pub upstream_provider: Option<String>,
    /// The upstream access token, sealed by the application, if kept (for revocation at logout).
    pub upstream_token_sealed: Option<String>,
}

/// A session to insert (see [`Tx::insert_session`]).
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// SHA-256 of the session id the cookie carries (the id itself is never stored).
    pub token_hash: &'a str,
    /// The signed-in account.
    pub account_id: AccountId,
    /// The CSRF token bound to the session.
    pub csrf_token: &'a str,
    /// Unix seconds, stored as `created_at` and `last_seen_at`.
    pub now: Timestamp,
    /// Absolute end of the session.
    pub expires_at: Timestamp,
    /// Client address, if known.
    pub ip: Option<&'a str>,
    /// Client's User-Agent, if known.
    pub user_agent: Option<&'a str>,
    /// The session may only change the password.
    pub password_change_required: bool,
    /// How the person signed in (`acr`).
    pub acr: &'a str,
    /// How the person signed in (`amr` values).
    pub amr: &'a [String],
    /// The upstream provider signed in through, if any.
    pub upstream_provider: Option<&'a str>,
    /// The upstream access token, already sealed by the caller, if kept.
    pub upstream_token_sealed: Option<&'a str>,
}

const COLUMNS: &str = "id, account_id, csrf_token, created_at, last_seen_at, expires_at, ip, user_agent, \
     password_change_required, acr, amr, upstream_provider, upstream_token_sealed";

fn from_row(row: &AnyRow) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: SessionId(row.try_get("id")?),
        account_id: AccountId(row.try_get("account_id")?),
        csrf_token: row.try_get("csrf_token")?,
        created_at: Timestamp(row.try_get("created_at")?),
        last_seen_at: Timestamp(row.try_get("last_seen_at")?),
        expires_at: Timestamp(row.try_get("expires_at")?),
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        password_change_required: row.try_get::<i64, _>("password_change_required")? != 0,
        acr: row.try_get("acr")?,
        amr: from_json("session amr", &row.try_get::<String, _>("amr")?)?,
        upstream_provider: row.try_get("upstream_provider")?,
        upstream_token_sealed: row.try_get("upstream_token_sealed")?,
    })
}

impl Tx {
    /// Inserts a session in the caller's transaction; returns its row id.
    pub async fn insert_session(&mut self, s: &NewSession<'_>) -> Result<SessionId, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sessions (token_hash, account_id, csrf_token, created_at, last_seen_at, expires_at, \
             ip, user_agent, password_change_required, acr, amr, upstream_provider, upstream_token_sealed) \
             VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(s.token_hash)
        .bind(s.account_id.0)
        .bind(s.csrf_token)
        .bind(s.now.0)
        .bind(s.expires_at.0)
        .bind(s.ip)
        .bind(s.user_agent)
        .bind(i64::from(s.password_change_required))
        .bind(s.acr)
        .bind(to_json(s.amr))
        .bind(s.upstream_provider)
        .bind(s.upstream_token_sealed)
        .fetch_one(self.conn())
        .await?;
        Ok(SessionId(id))
    }

    /// The session whose id hashes to `token_hash`, or `None`, whatever its age (the caller
    /// checks the limits). Takes no lock.
    pub async fn session_by_token_hash(&mut self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sessions WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every session of an account, most recently used first; empty for a missing account.
    pub async fn sessions_of_account(&mut self, account_id: AccountId) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE account_id = $1 ORDER BY last_seen_at DESC"
        ))
        .bind(account_id.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Records that the session was used at `now`. A missing session is not an error
    /// (nothing changes).
    pub async fn touch_session(&mut self, id: SessionId, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(now.0)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Ends a session; returns false when there was no such session.
    pub async fn delete_session(&mut self, id: SessionId) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Ends every session of an account except `keep` (if given); returns how many ended.
    pub async fn delete_sessions_of_account(
        &mut self,
        account_id: AccountId,
        keep: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND ($2 IS NULL OR id <> $2)")
            .bind(account_id.0)
            .bind(keep.map(|k| k.0))
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }

    /// Removes sessions past their absolute or idle limit.
    pub async fn delete_expired_sessions(&mut self, now: Timestamp, idle_cutoff: Timestamp) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now.0)
            .bind(idle_cutoff.0)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }
}

impl Tx {
    /// Sets or clears the "may only change the password" flag of a session.
    pub async fn set_session_password_change_required(
        &mut self,
        id: SessionId,
        required: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET password_change_required = $2 WHERE id = $1")
            .bind(id.0)
            .bind(i64::from(required))
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Restricts every session of an account to changing the password.
    pub async fn restrict_sessions_of_account(&mut self, account_id: AccountId) -> Result<u64, StoreError> {
        let r = sqlx::query("UPDATE sessions SET password_change_required = 1 WHERE account_id = $1")
            .bind(account_id.0)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }
}

//! Act confirmations (see the `confirmations` table): created by a school
//! application, confirmed by the person with their PIN or personal code,
//! redeemed once by the same application.

use sqlx::Row;
use sqlx::any::AnyRow;
use varco_domain::AccountId;
use varco_domain::clock::Timestamp;

use crate::{StoreError, Tx};

/// Where a confirmation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationStatus {
    /// Waiting for the person.
    Pending,
    /// The person entered the right secret; the code waits for the client.
    Confirmed,
    /// The person declined.
    Cancelled,
    /// The client redeemed the code (single use).
    Redeemed,
}

impl ConfirmationStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmationStatus::Pending => "pending",
            ConfirmationStatus::Confirmed => "confirmed",
            ConfirmationStatus::Cancelled => "cancelled",
            ConfirmationStatus::Redeemed => "redeemed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => ConfirmationStatus::Pending,
            "confirmed" => ConfirmationStatus::Confirmed,
            "cancelled" => ConfirmationStatus::Cancelled,
            "redeemed" => ConfirmationStatus::Redeemed,
            _ => return None,
        })
    }
}

/// A confirmation to insert.
#[derive(Debug, Clone)]
pub struct NewConfirmation<'a> {
    /// The random id of its page and proof.
    pub public_id: &'a str,
    /// The application that asked.
    pub client_id: &'a str,
    /// The person who confirms.
    pub account_id: AccountId,
    /// What the person reads.
    pub description: &'a str,
    /// Canonical JSON.
    pub payload: &'a str,
    /// base64url SHA-256 of `payload`.
    pub payload_hash: &'a str,
    /// Where the browser goes back (registered by the client).
    pub redirect_uri: &'a str,
    /// Echoed back to the client.
    pub state: Option<&'a str>,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// Until when the person may confirm.
    pub expires_at: Timestamp,
}

/// A stored confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationRecord {
    /// Row id.
    pub id: i64,
    /// The random id of its page and proof.
    pub public_id: String,
    /// The application that asked.
    pub client_id: String,
    /// The person who confirms.
    pub account_id: AccountId,
    /// What the person reads.
    pub description: String,
    /// The act as canonical JSON.
    pub payload: String,
    /// base64url SHA-256 of `payload`.
    pub payload_hash: String,
    /// Where the browser goes back (registered by the client).
    pub redirect_uri: String,
    /// Echoed back to the client.
    pub state: Option<String>,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// Until when the person may confirm.
    pub expires_at: Timestamp,
    /// Where it stands.
    pub status: ConfirmationStatus,
    /// When the person entered the secret.
    pub confirmed_at: Option<Timestamp>,
    /// `pin` or `personal_code`.
    pub method: Option<String>,
    /// Until when the client may redeem the code.
    pub code_expires_at: Option<Timestamp>,
    /// When the client redeemed the code.
    pub redeemed_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, public_id, client_id, account_id, description, payload, payload_hash, redirect_uri, \
                       state, created_at, expires_at, status, confirmed_at, method, code_expires_at, redeemed_at";

fn from_row(row: &AnyRow) -> Result<ConfirmationRecord, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(ConfirmationRecord {
        id: row.try_get("id")?,
        public_id: row.try_get("public_id")?,
        client_id: row.try_get("client_id")?,
        account_id: AccountId(row.try_get("account_id")?),
        description: row.try_get("description")?,
        payload: row.try_get("payload")?,
        payload_hash: row.try_get("payload_hash")?,
        redirect_uri: row.try_get("redirect_uri")?,
        state: row.try_get("state")?,
        created_at: Timestamp(row.try_get("created_at")?),
        expires_at: Timestamp(row.try_get("expires_at")?),
        status: ConfirmationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("confirmation status {status:?}")))?,
        confirmed_at: row.try_get::<Option<i64>, _>("confirmed_at")?.map(Timestamp),
        method: row.try_get("method")?,
        code_expires_at: row.try_get::<Option<i64>, _>("code_expires_at")?.map(Timestamp),
        redeemed_at: row.try_get::<Option<i64>, _>("redeemed_at")?.map(Timestamp),
    })
}

impl Tx {
    /// Inserts a pending confirmation.
    pub async fn insert_confirmation(&mut self, c: &NewConfirmation<'_>) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO confirmations (public_id, client_id, account_id, description, payload, payload_hash, \
             redirect_uri, state, created_at, expires_at, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending') RETURNING id",
        )
        .bind(c.public_id)
        .bind(c.client_id)
        .bind(c.account_id.0)
        .bind(c.description)
        .bind(c.payload)
        .bind(c.payload_hash)
        .bind(c.redirect_uri)
        .bind(c.state)
        .bind(c.created_at.0)
        .bind(c.expires_at.0)
        .fetch_one(self.conn())
        .await?;
        Ok(row.try_get("id")?)
    }

    /// A confirmation by its public id.
    pub async fn confirmation(&mut self, public_id: &str) -> Result<Option<ConfirmationRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM confirmations WHERE public_id = $1"))
            .bind(public_id)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A confirmation by the hash of its one-time code.
    pub async fn confirmation_by_code(&mut self, code_hash: &str) -> Result<Option<ConfirmationRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM confirmations WHERE code_hash = $1"))
            .bind(code_hash)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Pending → confirmed, with the code's hash; false when it was no
    /// longer pending (confirmed twice at once: one wins).
    pub async fn confirm_confirmation(
        &mut self,
        id: i64,
        method: &str,
        code_hash: &str,
        now: Timestamp,
        code_expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE confirmations SET status = 'confirmed', confirmed_at = $2, method = $3, code_hash = $4, \
             code_expires_at = $5 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(now.0)
        .bind(method)
        .bind(code_hash)
        .bind(code_expires_at.0)
        .execute(self.conn())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Pending → cancelled; false when it was no longer pending.
    pub async fn cancel_confirmation(&mut self, id: i64) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE confirmations SET status = 'cancelled' WHERE id = $1 AND status = 'pending'")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Confirmed → redeemed, once: false when it was already redeemed (or
    /// never confirmed), so that two concurrent redemptions cannot both win.
    pub async fn redeem_confirmation(&mut self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE confirmations SET status = 'redeemed', redeemed_at = $2 WHERE id = $1 AND status = 'confirmed'",
        )
        .bind(id)
        .bind(now.0)
        .execute(self.conn())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The accounts with a live grant of a client, with their subject (the
    /// people a client may ask to confirm an act).
    pub async fn granted_subjects(
        &mut self,
        client_id: &str,
        now: Timestamp,
    ) -> Result<Vec<(AccountId, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT g.account_id, a.subject FROM oidc_grants g JOIN accounts a ON a.id = g.account_id \
             WHERE g.client_id = $1 AND g.revoked_at IS NULL AND g.expires_at > $2 AND a.subject IS NOT NULL",
        )
        .bind(client_id)
        .bind(now.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| Ok((AccountId(r.try_get("account_id")?), r.try_get("subject")?)))
            .collect()
    }

    /// Removes confirmations expired more than a day ago.
    pub async fn purge_confirmations(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM confirmations WHERE expires_at < $1")
            .bind(now.0 - 86_400)
            .execute(self.conn())
            .await?;
        Ok(result.rows_affected())
    }
}

//! One-time tokens: the setup link, reset and activation links, email-change
//! confirmation and undo links.
//! Only the SHA-256 of a token is stored; spending one is a single
//! conditional UPDATE, so two parallel uses cannot both succeed.

use sqlx::Row;
use sqlx::any::AnyRow;
use varco_domain::clock::Timestamp;
use varco_domain::{AccountId, TokenPurpose};

use crate::{StoreError, Tx};

/// A one-time token, as stored (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Row id.
    pub id: i64,
    /// What the link is for.
    pub purpose: TokenPurpose,
    /// The account it acts on; `None` for setup links.
    pub account_id: Option<AccountId>,
    /// When it was issued.
    pub created_at: Timestamp,
    /// It cannot be spent from then on.
    pub expires_at: Timestamp,
    /// When it was spent (used, or killed by a newer link), if it was.
    pub used_at: Option<Timestamp>,
    /// SHA-256 of the lower-cased address the link was mailed to, if bound.
    pub recipient_hash: Option<String>,
}

/// A token to insert (see [`Tx::insert_token`]).
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// SHA-256 of the secret sent in the link (the secret itself is never stored).
    pub token_hash: &'a str,
    /// What the link is for.
    pub purpose: TokenPurpose,
    /// The account it acts on, if any.
    pub account_id: Option<AccountId>,
    /// When it is issued.
    pub now: Timestamp,
    /// It cannot be spent from then on.
    pub expires_at: Timestamp,
    /// SHA-256 of the lower-cased address the link goes to, if bound.
    pub recipient_hash: Option<&'a str>,
}

const COLUMNS: &str = "id, purpose, account_id, created_at, expires_at, used_at, recipient_hash";

/// A row of `one_time_tokens` as stored; private, so that callers only ever
/// see a [`TokenRecord`] whose purpose parsed.
struct DbToken {
    id: i64,
    purpose: String,
    account_id: Option<i64>,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    recipient_hash: Option<String>,
}

impl TryFrom<&AnyRow> for DbToken {
    type Error = sqlx::Error;

    fn try_from(row: &AnyRow) -> Result<DbToken, sqlx::Error> {
        Ok(DbToken {
            id: row.try_get("id")?,
            purpose: row.try_get("purpose")?,
            account_id: row.try_get("account_id")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            recipient_hash: row.try_get("recipient_hash")?,
        })
    }
}

impl TryFrom<DbToken> for TokenRecord {
    type Error = StoreError;

    fn try_from(db: DbToken) -> Result<TokenRecord, StoreError> {
        let purpose = TokenPurpose::parse(&db.purpose)
            .ok_or_else(|| StoreError::Corrupt(format!("token purpose {:?}", db.purpose)))?;
        Ok(TokenRecord {
            id: db.id,
            purpose,
            account_id: db.account_id.map(AccountId),
            created_at: Timestamp(db.created_at),
            expires_at: Timestamp(db.expires_at),
            used_at: db.used_at.map(Timestamp),
            recipient_hash: db.recipient_hash,
        })
    }
}

fn from_row(row: &AnyRow) -> Result<TokenRecord, StoreError> {
    TokenRecord::try_from(DbToken::try_from(row)?)
}

impl Tx {
    /// Inserts a token (unused) in the caller's transaction; returns its row id.
    pub async fn insert_token(&mut self, t: &NewToken<'_>) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO one_time_tokens (token_hash, purpose, account_id, created_at, expires_at, recipient_hash) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(t.token_hash)
        .bind(t.purpose.as_str())
        .bind(t.account_id.map(|a| a.0))
        .bind(t.now.0)
        .bind(t.expires_at.0)
        .bind(t.recipient_hash)
        .fetch_one(self.conn())
        .await?)
    }

    /// The token with this hash and purpose if it is unused and not expired.
    pub async fn live_token(
        &mut self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM one_time_tokens \
             WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3"
        ))
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now.0)
        .fetch_optional(self.conn())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Spends a token; true only for the one caller that found it unused and live.
    pub async fn spend_token(&mut self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE one_time_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(id)
        .bind(now.0)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Spends every outstanding token of a purpose (a newer link kills older
    /// ones): of one account, or of nobody in particular (`None`: setup links).
    /// Two statements rather than `($2 IS NULL OR …)`, which no index serves.
    pub async fn spend_tokens_of_purpose(
        &mut self,
        purpose: TokenPurpose,
        account_id: Option<AccountId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let r = match account_id {
            Some(AccountId(id)) => sqlx::query(
                "UPDATE one_time_tokens SET used_at = $3 WHERE account_id = $2 AND purpose = $1 AND used_at IS NULL",
            )
            .bind(purpose.as_str())
            .bind(id)
            .bind(now.0)
            .execute(self.conn())
            .await?,
            None => {
                sqlx::query("UPDATE one_time_tokens SET used_at = $2 WHERE purpose = $1 AND used_at IS NULL")
                    .bind(purpose.as_str())
                    .bind(now.0)
                    .execute(self.conn())
                    .await?
            }
        };
        Ok(r.rows_affected())
    }
}

impl Tx {
    /// Spends every outstanding token of an account whose purpose is one of
    /// `purposes`; returns how many were spent.
    pub async fn spend_account_tokens(
        &mut self,
        account_id: AccountId,
        purposes: &[TokenPurpose],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut spent = 0;
        for purpose in purposes {
            spent += self.spend_tokens_of_purpose(*purpose, Some(account_id), now).await?;
        }
        Ok(spent)
    }

    /// The token with this hash whatever its state (for telling "expired" or
    /// "used" apart from "unknown" on the page a link opens).
    pub async fn token_by_hash(&mut self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM one_time_tokens WHERE token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(self.conn())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// How many tokens of a purpose were issued to an account since `since`
    /// (per-account throttling of links by email).
    pub async fn count_tokens_since(
        &mut self,
        account_id: AccountId,
        purpose: TokenPurpose,
        since: Timestamp,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM one_time_tokens WHERE account_id = $1 AND purpose = $2 AND created_at >= $3",
        )
        .bind(account_id.0)
        .bind(purpose.as_str())
        .bind(since.0)
        .fetch_one(self.conn())
        .await?)
    }
}

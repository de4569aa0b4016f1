//! The transactional outbox: messages are inserted in the same transaction
//! as the change that causes them and delivered later by a worker.
//!
//! Claiming takes a lease (`locked_until`) on a batch of due messages. On
//! PostgreSQL the batch is chosen with `FOR UPDATE SKIP LOCKED`, so several
//! nodes never claim the same row; SQLite has one writer at a time and needs
//! no more than the `UPDATE … RETURNING`. A node that dies mid-send leaves
//! its lease to expire and another claim delivers the message again: at
//! least once, with the same `Message-ID`. After delivery the payload is
//! emptied (data minimisation); the row stays as a record.

use sqlx::Row;
use sqlx::any::AnyRow;
use varco_domain::clock::Timestamp;
use varco_domain::{OutboxStatus, SchoolId};

use crate::{Backend, Store, StoreError, Tx};

/// One queued email, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    /// Row id.
    pub id: i64,
    /// The `Message-ID` every delivery attempt of this message uses.
    pub message_id: String,
    /// The address it goes to.
    pub recipient: String,
    /// The template's name.
    pub template: String,
    /// The language of the template (`it` or `en`).
    pub lang: String,
    /// The school whose helpdesk the message names, if any.
    pub school_id: Option<SchoolId>,
    /// JSON object with the template's values; `{}` once sent.
    pub payload: String,
    /// Waiting, delivered or given up on.
    pub status: OutboxStatus,
    /// Delivery attempts made so far.
    pub attempts: i64,
    /// Not to be tried before then.
    pub next_attempt_at: Timestamp,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When it was queued (or queued again by a retry).
    pub created_at: Timestamp,
    /// When it was delivered, if it was.
    pub sent_at: Option<Timestamp>,
}

/// An email to queue (see [`Tx::insert_outbox`]).
#[derive(Debug, Clone)]
pub struct NewOutboxMessage<'a> {
    /// The `Message-ID` to send it with.
    pub message_id: &'a str,
    /// The address it goes to.
    pub recipient: &'a str,
    /// The template's name.
    pub template: &'a str,
    /// The language of the template.
    pub lang: &'a str,
    /// The school whose helpdesk the message names, if any.
    pub school_id: Option<SchoolId>,
    /// JSON object with the template's values.
    pub payload: &'a str,
    /// When it is queued; it is due at once.
    pub now: Timestamp,
}

const COLUMNS: &str = "id, message_id, recipient, template, lang, school_id, payload, status, attempts, \
     next_attempt_at, last_error, created_at, sent_at";

/// A row of `outbox` as stored; private, so that callers only ever see an
/// [`OutboxRecord`] whose status parsed.
struct DbOutbox {
    id: i64,
    message_id: String,
    recipient: String,
    template: String,
    lang: String,
    school_id: Option<i64>,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
}

impl TryFrom<&AnyRow> for DbOutbox {
    type Error = sqlx::Error;

    fn try_from(row: &AnyRow) -> Result<DbOutbox, sqlx::Error> {
        Ok(DbOutbox {
            id: row.try_get("id")?,
            message_id: row.try_get("message_id")?,
            recipient: row.try_get("recipient")?,
            template: row.try_get("template")?,
            lang: row.try_get("lang")?,
            school_id: row.try_get("school_id")?,
            payload: row.try_get("payload")?,
            status: row.try_get("status")?,
            attempts: row.try_get("attempts")?,
            next_attempt_at: row.try_get("next_attempt_at")?,
            last_error: row.try_get("last_error")?,
            created_at: row.try_get("created_at")?,
            sent_at: row.try_get("sent_at")?,
        })
    }
}

impl TryFrom<DbOutbox> for OutboxRecord {
    type Error = StoreError;

    fn try_from(db: DbOutbox) -> Result<OutboxRecord, StoreError> {
        let status = OutboxStatus::parse(&db.status)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox status {:?}", db.status)))?;
        Ok(OutboxRecord {
            id: db.id,
            message_id: db.message_id,
            recipient: db.recipient,
            template: db.template,
            lang: db.lang,
            school_id: db.school_id.map(SchoolId),
            payload: db.payload,
            status,
            attempts: db.attempts,
            next_attempt_at: Timestamp(db.next_attempt_at),
            last_error: db.last_error,
            created_at: Timestamp(db.created_at),
            sent_at: db.sent_at.map(Timestamp),
        })
    }
}

fn from_row(row: &AnyRow) -> Result<OutboxRecord, StoreError> {
    OutboxRecord::try_from(DbOutbox::try_from(row)?)
}

impl Tx {
    /// Queues a message (pending, due now) in the caller's transaction; returns its row id.
    pub async fn insert_outbox(&mut self, m: &NewOutboxMessage<'_>) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO outbox (message_id, recipient, template, lang, school_id, payload, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) RETURNING id",
        )
        .bind(m.message_id)
        .bind(m.recipient)
        .bind(m.template)
        .bind(m.lang)
        .bind(m.school_id.map(|s| s.0))
        .bind(m.payload)
        .bind(m.now.0)
        .fetch_one(self.conn())
        .await?)
    }

    /// Puts a failed (or pending) message back in the queue, due now, in
    /// the caller's transaction (with its audit record). False when there
    /// is no such message or it was already sent.
    pub async fn retry_outbox(&mut self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, locked_until = NULL, \
             created_at = $2 WHERE id = $1 AND status <> 'sent'",
        )
        .bind(id)
        .bind(now.0)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

/// Which messages `list_outbox` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxFilter {
    /// Every message.
    All,
    /// Only the messages given up on.
    Failed,
    /// The messages not delivered: waiting or given up on.
    Unsent,
}

impl Store {
    /// Claims up to `limit` due messages for `lease_secs` and counts the attempt.
    pub async fn claim_outbox(
        &self,
        now: Timestamp,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        let skip_locked = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&format!(
            "UPDATE outbox SET locked_until = $2, attempts = attempts + 1 WHERE id IN (\
               SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
               AND (locked_until IS NULL OR locked_until <= $1) ORDER BY next_attempt_at, id LIMIT $3{skip_locked}\
             ) RETURNING {COLUMNS}"
        ))
        .bind(now.0)
        .bind(now.plus_secs(lease_secs).0)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;
        let mut records: Vec<OutboxRecord> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
        records.sort_by_key(|r| r.id);
        Ok(records)
    }

    /// Records a delivery and forgets the payload.
    pub async fn mark_outbox_sent(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $2, payload = '{}', locked_until = NULL, last_error = NULL \
             WHERE id = $1",
        )
        .bind(id)
        .bind(now.0)
        .execute(tx.conn())
        .await?;
        tx.commit().await
    }

    /// Records a failed attempt: try again at `next_attempt_at`, or give up
    /// (`failed`) when it is `None`.
    pub async fn mark_outbox_attempt_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let error: String = error.chars().take(1000).collect();
        match next_attempt_at {
            Some(at) => {
                sqlx::query(
                    "UPDATE outbox SET next_attempt_at = $2, last_error = $3, locked_until = NULL WHERE id = $1",
                )
                .bind(id)
                .bind(at.0)
                .bind(&error)
                .execute(tx.conn())
                .await?
            }
            None => {
                sqlx::query("UPDATE outbox SET status = 'failed', last_error = $2, locked_until = NULL WHERE id = $1")
                    .bind(id)
                    .bind(&error)
                    .execute(tx.conn())
                    .await?
            }
        };
        tx.commit().await
    }

    /// The newest `limit` messages matching `filter`, newest first, outside any transaction.
    pub async fn list_outbox(&self, filter: OutboxFilter, limit: i64) -> Result<Vec<OutboxRecord>, StoreError> {
        let condition = match filter {
            OutboxFilter::All => "",
            OutboxFilter::Failed => "WHERE status = 'failed'",
            OutboxFilter::Unsent => "WHERE status <> 'sent'",
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbox {condition} ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// How many messages wait (pending), for health and tests.
    pub async fn count_pending_outbox(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

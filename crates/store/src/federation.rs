//! The tables of SPID/CIE sign-in: upstream identities linked to accounts,
//! and the relying party's tamper-evident transaction log.
//!
//! An upstream identity is keyed by (issuer, subject), unique across the
//! deployment: linking one that is already linked is a
//! [`StoreError::Conflict`], never a silent move to another account.
//!
//! The log is a hash chain (the rule and the canonical text are in
//! `varco_domain::federation_log`). [`Tx::append_federation_log`] reads the
//! last record and writes the next one in the caller's write transaction,
//! serialised across nodes: SQLite's write transactions already take the
//! database lock (`BEGIN IMMEDIATE`); on PostgreSQL the table is locked in a
//! mode that excludes other appenders but not readers. The unique
//! `prev_hash` stops a fork even if that lock were forgotten.

use sqlx::Row;
use sqlx::any::AnyRow;
use varco_domain::AccountId;
use varco_domain::clock::Timestamp;
use varco_domain::federation_log::{ChainBreak, FederationRecord, FederationRecordKind, GENESIS_HASH, verify_link};

use crate::{Backend, StoreError, Tx};

/// An identity at an upstream provider, linked to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentityRecord {
    /// The row id.
    pub id: i64,
    /// The provider's `iss`, exactly as it sends it.
    pub issuer: String,
    /// The provider's `sub` for this person.
    pub subject: String,
    /// The account it signs in to.
    pub account_id: AccountId,
    /// The provider's name as shown to people (e.g. "SPID — Poste ID", "CIE").
    pub provider: String,
    /// When it was linked.
    pub linked_at: Timestamp,
    /// The last sign-in through it, if any.
    pub last_login_at: Option<Timestamp>,
}

/// An identity to link; see [`UpstreamIdentityRecord`].
#[derive(Debug, Clone, Copy)]
pub struct NewUpstreamIdentity<'a> {
    /// The provider's `iss`.
    pub issuer: &'a str,
    /// The provider's `sub`.
    pub subject: &'a str,
    /// The account it signs in to.
    pub account_id: AccountId,
    /// The provider's name as shown to people.
    pub provider: &'a str,
    /// When it is linked.
    pub now: Timestamp,
}

/// A record to append to the federation log (its position and hashes are
/// the store's to compute); see [`FederationRecord`].
#[derive(Debug, Clone, Copy)]
pub struct NewFederationLogEntry<'a> {
    /// When it happened.
    pub at: Timestamp,
    /// The provider's name or entity id.
    pub provider: &'a str,
    /// What exchange it records.
    pub kind: FederationRecordKind,
    /// The request's identifier, if any.
    pub request_id: Option<&'a str>,
    /// The response's identifier, if any.
    pub response_id: Option<&'a str>,
    /// The provider's subject, if the exchange revealed one.
    pub subject: Option<&'a str>,
    /// `success`, or a short error code.
    pub outcome: &'a str,
}

/// A stored record of the federation log, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationLogRecord {
    /// The hashed content.
    pub record: FederationRecord,
    /// The previous record's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

/// The result of checking the whole federation log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerification {
    /// Every record follows the one before it.
    Intact {
        /// How many records were checked.
        records: i64,
        /// The last record's hash (to anchor elsewhere), [`GENESIS_HASH`] when empty.
        head: String,
    },
    /// The first record that does not follow.
    Broken {
        /// Its position.
        seq: i64,
        /// What is wrong with it.
        reason: ChainBreak,
    },
}

/// Records read per round by [`Tx::verify_federation_log`].
const VERIFY_BATCH: i64 = 1000;

const IDENTITY_COLUMNS: &str = "id, issuer, subject, account_id, provider, linked_at, last_login_at";
const LOG_COLUMNS: &str = "seq, at, provider, kind, request_id, response_id, subject, outcome, prev_hash, hash";

/// A row of `upstream_identities` as stored.
struct DbUpstreamIdentity {
    id: i64,
    issuer: String,
    subject: String,
    account_id: i64,
    provider: String,
    linked_at: i64,
    last_login_at: Option<i64>,
}

impl TryFrom<&AnyRow> for DbUpstreamIdentity {
    type Error = sqlx::Error;

    fn try_from(row: &AnyRow) -> Result<DbUpstreamIdentity, sqlx::Error> {
        Ok(DbUpstreamIdentity {
            id: row.try_get("id")?,
            issuer: row.try_get("issuer")?,
            subject: row.try_get("subject")?,
            account_id: row.try_get("account_id")?,
            provider: row.try_get("provider")?,
            linked_at: row.try_get("linked_at")?,
            last_login_at: row.try_get("last_login_at")?,
        })
    }
}

impl From<DbUpstreamIdentity> for UpstreamIdentityRecord {
    fn from(db: DbUpstreamIdentity) -> UpstreamIdentityRecord {
        UpstreamIdentityRecord {
            id: db.id,
            issuer: db.issuer,
            subject: db.subject,
            account_id: AccountId(db.account_id),
            provider: db.provider,
            linked_at: Timestamp(db.linked_at),
            last_login_at: db.last_login_at.map(Timestamp),
        }
    }
}

fn identity_from_row(row: &AnyRow) -> Result<UpstreamIdentityRecord, StoreError> {
    Ok(DbUpstreamIdentity::try_from(row)?.into())
}

/// A row of `federation_log` as stored.
struct DbFederationLog {
    seq: i64,
    at: i64,
    provider: String,
    kind: String,
    request_id: Option<String>,
    response_id: Option<String>,
    subject: Option<String>,
    outcome: String,
    prev_hash: String,
    hash: String,
}

impl TryFrom<&AnyRow> for DbFederationLog {
    type Error = sqlx::Error;

    fn try_from(row: &AnyRow) -> Result<DbFederationLog, sqlx::Error> {
        Ok(DbFederationLog {
            seq: row.try_get("seq")?,
            at: row.try_get("at")?,
            provider: row.try_get("provider")?,
            kind: row.try_get("kind")?,
            request_id: row.try_get("request_id")?,
            response_id: row.try_get("response_id")?,
            subject: row.try_get("subject")?,
            outcome: row.try_get("outcome")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        })
    }
}

impl TryFrom<DbFederationLog> for FederationLogRecord {
    type Error = StoreError;

    fn try_from(db: DbFederationLog) -> Result<FederationLogRecord, StoreError> {
        let kind = FederationRecordKind::parse(&db.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("federation log {}: kind {:?}", db.seq, db.kind)))?;
        Ok(FederationLogRecord {
            record: FederationRecord {
                seq: db.seq,
                at: Timestamp(db.at),
                provider: db.provider,
                kind,
                request_id: db.request_id,
                response_id: db.response_id,
                subject: db.subject,
                outcome: db.outcome,
            },
            prev_hash: db.prev_hash,
            hash: db.hash,
        })
    }
}

fn log_from_row(row: &AnyRow) -> Result<FederationLogRecord, StoreError> {
    FederationLogRecord::try_from(DbFederationLog::try_from(row)?)
}

impl Tx {
    /// Links an upstream identity to an account; returns its row id.
    /// [`StoreError::Conflict`] when the (issuer, subject) is already linked
    /// (to this account or another).
    pub async fn link_upstream_identity(&mut self, new: &NewUpstreamIdentity<'_>) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO upstream_identities (issuer, subject, account_id, provider, linked_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(new.issuer)
        .bind(new.subject)
        .bind(new.account_id.0)
        .bind(new.provider)
        .bind(new.now.0)
        .fetch_one(self.conn())
        .await?)
    }

    /// The identity an upstream provider names, if it is linked.
    pub async fn upstream_identity(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<UpstreamIdentityRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM upstream_identities WHERE issuer = $1 AND subject = $2"
        ))
        .bind(issuer)
        .bind(subject)
        .fetch_optional(self.conn())
        .await?
        .as_ref()
        .map(identity_from_row)
        .transpose()
    }

    /// Every identity linked to an account, oldest link first.
    pub async fn upstream_identities_of(
        &mut self,
        account_id: AccountId,
    ) -> Result<Vec<UpstreamIdentityRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM upstream_identities WHERE account_id = $1 ORDER BY linked_at, id"
        ))
        .bind(account_id.0)
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(identity_from_row)
        .collect()
    }

    /// Records a sign-in through a linked identity; false when it is not linked.
    pub async fn touch_upstream_identity(
        &mut self,
        issuer: &str,
        subject: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE upstream_identities SET last_login_at = $3 WHERE issuer = $1 AND subject = $2")
                .bind(issuer)
                .bind(subject)
                .bind(now.0)
                .execute(self.conn())
                .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Unlinks an identity from the account it belongs to; false when it
    /// was not linked to that account.
    pub async fn unlink_upstream_identity(
        &mut self,
        account_id: AccountId,
        issuer: &str,
        subject: &str,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("DELETE FROM upstream_identities WHERE account_id = $1 AND issuer = $2 AND subject = $3")
                .bind(account_id.0)
                .bind(issuer)
                .bind(subject)
                .execute(self.conn())
                .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Appends a record to the federation log, chained to the last one, in
    /// this (write) transaction; returns it as stored. Appenders queue behind
    /// each other until the transaction ends.
    pub async fn append_federation_log(
        &mut self,
        entry: &NewFederationLogEntry<'_>,
    ) -> Result<FederationLogRecord, StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE federation_log IN SHARE ROW EXCLUSIVE MODE")
                .execute(self.conn())
                .await?;
        }
        let last = sqlx::query("SELECT seq, hash FROM federation_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(self.conn())
            .await?;
        let (previous_seq, prev_hash) = match last {
            Some(row) => (row.try_get::<i64, _>("seq")?, row.try_get::<String, _>("hash")?),
            None => (0, GENESIS_HASH.to_owned()),
        };
        let record = FederationRecord {
            seq: previous_seq + 1,
            at: entry.at,
            provider: entry.provider.to_owned(),
            kind: entry.kind,
            request_id: entry.request_id.map(str::to_owned),
            response_id: entry.response_id.map(str::to_owned),
            subject: entry.subject.map(str::to_owned),
            outcome: entry.outcome.to_owned(),
        };
        let hash = record.chain_hash(&prev_hash);
        sqlx::query(&format!(
            "INSERT INTO federation_log ({LOG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(record.seq)
        .bind(record.at.0)
        .bind(&record.provider)
        .bind(record.kind.as_str())
        .bind(record.request_id.as_deref())
        .bind(record.response_id.as_deref())
        .bind(record.subject.as_deref())
        .bind(&record.outcome)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(self.conn())
        .await?;
        Ok(FederationLogRecord {
            record,
            prev_hash,
            hash,
        })
    }

    /// Records from position `after + 1` on, in order, at most `limit`.
    pub async fn federation_log_after(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<FederationLogRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {LOG_COLUMNS} FROM federation_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(self.conn())
        .await?
        .iter()
        .map(log_from_row)
        .collect()
    }

    /// Walks the whole log and checks that each record follows the one
    /// before it: positions without gaps, each `prev_hash` the previous
    /// hash, each hash recomputed from the content. A record whose kind no
    /// longer parses is reported as changed.
    pub async fn verify_federation_log(&mut self) -> Result<ChainVerification, StoreError> {
        let mut previous_seq = 0;
        let mut previous_hash = GENESIS_HASH.to_owned();
        loop {
            let rows = sqlx::query(&format!(
                "SELECT {LOG_COLUMNS} FROM federation_log WHERE seq > $1 ORDER BY seq LIMIT $2"
            ))
            .bind(previous_seq)
            .bind(VERIFY_BATCH)
            .fetch_all(self.conn())
            .await?;
            if rows.is_empty() {
                return Ok(ChainVerification::Intact {
                    records: previous_seq,
                    head: previous_hash,
                });
            }
            for row in &rows {
                let db = DbFederationLog::try_from(row)?;
                let seq = db.seq;
                let stored = match FederationLogRecord::try_from(db) {
                    Ok(stored) => stored,
                    Err(StoreError::Corrupt(_)) => {
                        return Ok(ChainVerification::Broken {
                            seq,
                            reason: ChainBreak::HashMismatch,
                        });
                    }
                    Err(e) => return Err(e),
                };
                if let Err(reason) = verify_link(
                    previous_seq,
                    &previous_hash,
                    &stored.record,
                    &stored.prev_hash,
                    &stored.hash,
                ) {
                    return Ok(ChainVerification::Broken { seq, reason });
                }
                previous_seq = seq;
                previous_hash = stored.hash;
            }
        }
    }
}

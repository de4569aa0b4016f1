//! The SPID/CIE transaction log, for admins: read it in order and check its
//! hash chain (the rules ask for a tamper-evident log kept ≥ 24 months).
//!
//! Varco never deletes these records (no purge job touches them).

use serde::Serialize;
use varco_domain::federation_log::ChainBreak;
use varco_store::ChainVerification;

use crate::{App, AppError};

/// One record as the CLI shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When it was written (RFC 3339, UTC).
    pub at: String,
    /// The upstream provider.
    pub provider: String,
    /// What exchange it records.
    pub kind: &'static str,
    /// The request's identifier, if any.
    pub request_id: Option<String>,
    /// The response's identifier, if any.
    pub response_id: Option<String>,
    /// The provider's subject, if the exchange revealed one.
    pub subject: Option<String>,
    /// `success` or a short error code.
    pub outcome: String,
    /// This record's hash (hex), chained to the previous one.
    pub hash: String,
}

/// Records after position `after`, oldest first, at most `limit`.
pub async fn list(app: &App, after: i64, limit: i64) -> Result<Vec<LogEntry>, AppError> {
    let mut tx = app.store.begin_read().await?;
    let records = tx.federation_log_after(after.max(0), limit.clamp(1, 100_000)).await?;
    tx.commit().await?;
    Ok(records
        .into_iter()
        .map(|r| LogEntry {
            seq: r.record.seq,
            at: r.record.at.to_rfc3339(),
            provider: r.record.provider,
            kind: r.record.kind.as_str(),
            request_id: r.record.request_id,
            response_id: r.record.response_id,
            subject: r.record.subject,
            outcome: r.record.outcome,
            hash: r.hash,
        })
        .collect())
}

/// The outcome of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "chain", rename_all = "snake_case")]
pub enum Verification {
    /// Every record follows the one before it.
    Intact {
        /// How many records were checked.
        records: i64,
        /// The last record's hash: keep it elsewhere (a printout, a
        /// ticket) to detect later that the newest records were removed.
        head: String,
    },
    /// The first record that does not follow.
    Broken {
        /// Its position.
        seq: i64,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Checks the whole chain, from the first record.
pub async fn verify(app: &App) -> Result<Verification, AppError> {
    let mut tx = app.store.begin_read().await?;
    let outcome = tx.verify_federation_log().await?;
    tx.commit().await?;
    Ok(match outcome {
        ChainVerification::Intact { records, head } => Verification::Intact { records, head },
        ChainVerification::Broken { seq, reason } => Verification::Broken {
            seq,
            reason: match reason {
                ChainBreak::Gap => "a record is missing or was inserted",
                ChainBreak::PrevHashMismatch => "it does not point to the record before it",
                ChainBreak::HashMismatch => "its content was changed",
            },
        },
    })
}

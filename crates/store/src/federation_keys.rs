//! Varco's own keys as a relying party of the SPID/CIE federation
//! (`federation_keys`): the federation key, the OIDC core signing key and the
//! core encryption key, sealed like the provider's signing keys.
//!
//! A retired key stays listed until its `publish_until`, so what it signed
//! still verifies and what was encrypted to it still opens.

use sqlx::Row;
use sqlx::any::AnyRow;
use varco_domain::clock::Timestamp;

use crate::{KeyRecord, StoreError, Tx};

/// What one of the relying party's keys is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FederationKeyPurpose {
    /// Signs the entity configuration (published in its `jwks`).
    Federation,
    /// Signs request objects and client assertions (OIDC core, `use` = `sig`).
    CoreSig,
    /// Userinfo is encrypted to it (OIDC core, `use` = `enc`).
    CoreEnc,
}

impl FederationKeyPurpose {
    /// Every purpose, in a fixed order.
    pub const ALL: [FederationKeyPurpose; 3] = [
        FederationKeyPurpose::Federation,
        FederationKeyPurpose::CoreSig,
        FederationKeyPurpose::CoreEnc,
    ];

    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            FederationKeyPurpose::Federation => "federation",
            FederationKeyPurpose::CoreSig => "core_sig",
            FederationKeyPurpose::CoreEnc => "core_enc",
        }
    }

    /// The purpose of a stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<FederationKeyPurpose> {
        FederationKeyPurpose::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// A stored relying-party key: its purpose and the sealed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationKeyRecord {
    /// What the key is for.
    pub purpose: FederationKeyPurpose,
    /// The key, sealed, with its dates.
    pub key: KeyRecord,
}

const COLUMNS: &str = "kid, purpose, alg, sealed_private, public_jwk, created_at, retired_at, publish_until";

/// The purpose, and the key read as the provider's keys are (same columns).
fn record_from_row(row: &AnyRow) -> Result<FederationKeyRecord, StoreError> {
    let purpose: String = row.try_get("purpose")?;
    let purpose = FederationKeyPurpose::parse(&purpose)
        .ok_or_else(|| StoreError::Corrupt(format!("federation key with purpose {purpose:?}")))?;
    Ok(FederationKeyRecord {
        purpose,
        key: crate::oidc::key_from_row(row)?,
    })
}

/// The relying party's keys.
impl Tx {
    /// Stores a key as given; a `kid` already taken is [`StoreError::Conflict`].
    pub async fn insert_federation_key(&mut self, record: &FederationKeyRecord) -> Result<(), StoreError> {
        let k = &record.key;
        sqlx::query(&format!(
            "INSERT INTO federation_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(k.kid.as_str())
        .bind(record.purpose.as_str())
        .bind(k.alg.as_str())
        .bind(k.sealed_private.as_str())
        .bind(k.public_jwk.as_str())
        .bind(k.created_at.0)
        .bind(k.retired_at.map(|t| t.0))
        .bind(k.publish_until.map(|t| t.0))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Every key still published (`publish_until` unset or after `now`),
    /// newest first; the active ones are those with no `retired_at`.
    pub async fn federation_keys(&mut self, now: Timestamp) -> Result<Vec<FederationKeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM federation_keys WHERE publish_until IS NULL OR publish_until > $1 \
             ORDER BY created_at DESC, kid DESC"
        ))
        .bind(now.0)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Retires every active key (`retired_at = now`), keeping it published
    /// until `publish_until`; returns how many were retired.
    pub async fn retire_federation_keys(
        &mut self,
        now: Timestamp,
        publish_until: Timestamp,
    ) -> Result<u64, StoreError> {
        let r = sqlx::query("UPDATE federation_keys SET retired_at = $1, publish_until = $2 WHERE retired_at IS NULL")
            .bind(now.0)
            .bind(publish_until.0)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected())
    }
}

//! The SPID/CIE transaction log as a tamper-evident hash chain.
//!
//! The SPID/CIE relying-party rules ask for a log of every exchange with an
//! identity provider, kept at least 24 months, whose tampering shows. Each
//! record carries the hash of the one before it (`prev_hash`) and its own
//! `hash`, the SHA-256 of the previous hash and the record's canonical text:
//!
//! ```text
//! hash(n) = hex(SHA-256(prev_hash(n) "\n" canonical(n)))      prev_hash(1) = 64 × "0"
//! ```
//!
//! Changing, inserting or removing a record breaks the chain at that point:
//! [`verify_link`] finds the first record whose stored hash or `prev_hash`
//! no longer follows. (Rewriting the whole tail after a change also
//! recomputes; anchoring the latest hash elsewhere — a signed export, a
//! daily email to the school — is what makes that visible.)
//!
//! The canonical text is versioned and length-prefixed, so no value can be
//! chosen to make two different records read the same. Records hold
//! identifiers only (request and response ids, the provider's subject),
//! never names, tax codes or tokens.

use sha2::{Digest as _, Sha256};

use crate::clock::Timestamp;

/// The `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What kind of exchange a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FederationRecordKind {
    /// The authorization request sent to a provider (the signed request object).
    AuthorizationRequest,
    /// The callback with the code (or the provider's error).
    AuthorizationResponse,
    /// The code exchanged at the provider's token endpoint.
    TokenResponse,
    /// The userinfo answer (decrypted and verified).
    Userinfo,
    /// The access token revoked at logout.
    Revocation,
    /// A provider's entity statement or trust chain fetched.
    TrustChain,
}

impl FederationRecordKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [FederationRecordKind] = &[
        FederationRecordKind::AuthorizationRequest,
        FederationRecordKind::AuthorizationResponse,
        FederationRecordKind::TokenResponse,
        FederationRecordKind::Userinfo,
        FederationRecordKind::Revocation,
        FederationRecordKind::TrustChain,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FederationRecordKind::AuthorizationRequest => "authorization_request",
            FederationRecordKind::AuthorizationResponse => "authorization_response",
            FederationRecordKind::TokenResponse => "token_response",
            FederationRecordKind::Userinfo => "userinfo",
            FederationRecordKind::Revocation => "revocation",
            FederationRecordKind::TrustChain => "trust_chain",
        }
    }

    /// Reads a stored spelling.
    pub fn parse(text: &str) -> Option<FederationRecordKind> {
        Self::ALL.iter().copied().find(|k| k.as_str() == text)
    }
}

/// One record of the log, as hashed: everything but its own hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When it was written.
    pub at: Timestamp,
    /// The provider's name or entity id.
    pub provider: String,
    /// What exchange it records.
    pub kind: FederationRecordKind,
    /// The request's identifier (the `state`, a request object's `jti`), if any.
    pub request_id: Option<String>,
    /// The response's identifier (an ID token's `jti`, a code's hash), if any.
    pub response_id: Option<String>,
    /// The provider's subject, when the exchange revealed one.
    pub subject: Option<String>,
    /// `success`, or a short error code such as `invalid_signature`.
    pub outcome: String,
}

impl FederationRecord {
    /// The record as one unambiguous text: a version line, then each field
    /// as `name=length:value` (`-` for an absent one).
    pub fn canonical(&self) -> String {
        let mut text = String::from("varco-federation-log-v1");
        let mut field = |name: &str, value: Option<&str>| {
            text.push('\n');
            text.push_str(name);
            text.push('=');
            match value {
                Some(v) => {
                    text.push_str(&v.len().to_string());
                    text.push(':');
                    text.push_str(v);
                }
                None => text.push('-'),
            }
        };
        field("seq", Some(&self.seq.to_string()));
        field("at", Some(&self.at.0.to_string()));
        field("provider", Some(&self.provider));
        field("kind", Some(self.kind.as_str()));
        field("request_id", self.request_id.as_deref());
        field("response_id", self.response_id.as_deref());
        field("subject", self.subject.as_deref());
        field("outcome", Some(&self.outcome));
        text
    }

    /// This record's hash when it follows `prev_hash`.
    pub fn chain_hash(&self, prev_hash: &str) -> String {
        let mut digest = Sha256::new();
        digest.update(prev_hash.as_bytes());
        digest.update(b"\n");
        digest.update(self.canonical().as_bytes());
        hex::encode(digest.finalize())
    }
}

/// Why a stored record does not follow the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainBreak {
    /// Its position is not the previous one plus one (a record was removed or inserted).
    Gap,
    /// Its `prev_hash` is not the previous record's hash.
    PrevHashMismatch,
    /// Its hash is not what its content and `prev_hash` give (the record was changed).
    HashMismatch,
}

/// Checks that `record`, stored with `prev_hash` and `hash`, follows a
/// record at `previous_seq` whose hash is `previous_hash` (for the first
/// record: 0 and [`GENESIS_HASH`]).
pub fn verify_link(
    previous_seq: i64,
    previous_hash: &str,
    record: &FederationRecord,
    prev_hash: &str,
    hash: &str,
) -> Result<(), ChainBreak> {
    if record.seq != previous_seq + 1 {
        return Err(ChainBreak::Gap);
    }
    if prev_hash != previous_hash {
        return Err(ChainBreak::PrevHashMismatch);
    }
    if record.chain_hash(prev_hash) != hash {
        return Err(ChainBreak::HashMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64) -> FederationRecord {
        FederationRecord {
            seq,
            at: Timestamp(1_800_000_000),
            provider: "https://id.example".into(),
            kind: FederationRecordKind::TokenResponse,
            request_id: Some("state-1".into()),
            response_id: None,
            subject: Some("sub-1".into()),
            outcome: "success".into(),
        }
    }

    #[test]
    fn kinds_read_back() {
        for kind in FederationRecordKind::ALL {
            assert_eq!(FederationRecordKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(FederationRecordKind::parse("login"), None);
    }

    #[test]
    fn the_canonical_text_cannot_be_forged_by_moving_a_separator() {
        let a = FederationRecord {
            request_id: Some("a\nresponse_id=1:b".into()),
            response_id: None,
            ..record(1)
        };
        let b = FederationRecord {
            request_id: Some("a".into()),
            response_id: Some("b".into()),
            ..record(1)
        };
        assert_ne!(a.canonical(), b.canonical());
        let absent = FederationRecord {
            subject: None,
            ..record(1)
        };
        let empty = FederationRecord {
            subject: Some(String::new()),
            ..record(1)
        };
        assert_ne!(absent.canonical(), empty.canonical());
    }

    #[test]
    fn a_hash_depends_on_the_previous_one_and_every_field() {
        let first = record(1);
        let hash = first.chain_hash(GENESIS_HASH);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, first.chain_hash(&"1".repeat(64)));
        let changed = FederationRecord {
            outcome: "invalid_signature".into(),
            ..record(1)
        };
        assert_ne!(hash, changed.chain_hash(GENESIS_HASH));
        assert_eq!(verify_link(0, GENESIS_HASH, &first, GENESIS_HASH, &hash), Ok(()));
        assert_eq!(
            verify_link(0, GENESIS_HASH, &changed, GENESIS_HASH, &hash),
            Err(ChainBreak::HashMismatch)
        );
        let second = record(2);
        let second_hash = second.chain_hash(&hash);
        assert_eq!(verify_link(1, &hash, &second, &hash, &second_hash), Ok(()));
        assert_eq!(
            verify_link(1, GENESIS_HASH, &second, &hash, &second_hash),
            Err(ChainBreak::PrevHashMismatch)
        );
        assert_eq!(
            verify_link(0, GENESIS_HASH, &second, &hash, &second_hash),
            Err(ChainBreak::Gap)
        );
    }
}

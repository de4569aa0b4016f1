//! Varco as a relying party of the SPID/CIE OpenID Connect Federation: the
//! pieces that decide whom to trust.
//!
//! - [`UnverifiedStatement`] / [`EntityStatement`]: entity configurations and
//!   subordinate statements, checked (`typ`, signature by `kid`, `iat`/`exp`).
//! - [`build_entity_configuration`] and [`FederationKey`]: Varco's own signed
//!   entity configuration and its keys (`kid` = RFC 7638 thumbprint, with `use`).
//! - [`TrustChainResolver`]: the trust chain of an OP up to the configured
//!   [`TrustAnchor`], with the metadata policy applied ([`policy`]) and the
//!   trust marks verified ([`UnverifiedTrustMark`]).
//!
//! Invariant: sans IO. No HTTP client, no database, no clock: the caller
//! passes `now` and a [`Fetcher`] that performs GETs, so every decision is
//! here and testable offline with hand-made federations.

mod chain;
mod configuration;
mod error;
mod jose;
pub mod policy;
mod statement;
mod trust_mark;

pub use chain::{DEFAULT_MAX_DEPTH, Fetcher, MAX_HINTS, OPENID_PROVIDER, TrustAnchor, TrustChain, TrustChainResolver};
pub use configuration::{EntityConfiguration, build_entity_configuration};
pub use error::{FederationError, FetchError};
pub use jose::{DEFAULT_RSA_BITS, FederationKey, Jwks, KeyAlg, KeyUse, thumbprint};
pub use statement::{
    DEFAULT_SKEW_SECS, ENTITY_STATEMENT_TYP, EntityStatement, TrustMarkEntry, UnverifiedStatement, WELL_KNOWN_PATH,
    check_entity_id, fetch_url, well_known_url,
};
pub use trust_mark::{TRUST_MARK_TYP, TrustMark, UnverifiedTrustMark, parse_entry as parse_trust_mark_entry};

/// The entity type of Varco's own relying-party metadata.
pub const OPENID_RELYING_PARTY: &str = "openid_relying_party";

/// The entity type of federation metadata (endpoints, organization).
pub const FEDERATION_ENTITY: &str = "federation_entity";

/// The content type of an entity statement over HTTP.
pub const ENTITY_STATEMENT_CONTENT_TYPE: &str = "application/entity-statement+jwt";

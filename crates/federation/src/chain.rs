//! Trust chain resolution, sans IO: the caller's [`Fetcher`] gets the
//! documents, this module decides.
//!
//! The walk (OpenID Federation 1.0 §10): from the leaf's entity
//! configuration, follow `authority_hints` (the configured trust anchor
//! first); for each superior fetch its entity configuration from
//! `/.well-known/openid-federation` and its statement about the subordinate
//! from its `federation_fetch_endpoint?sub=…` (SPID/CIE: `…/fetch`). The
//! reference trust anchor's `/resolve` answers 404 (research §2b.12), so the
//! chain is always built here.
//!
//! Invariants:
//! - Each entity configuration verifies with its own keys *and* with the
//!   keys its superior's subordinate statement lists for it; each
//!   subordinate statement verifies with its issuer's keys; the trust
//!   anchor's configuration verifies with the pinned keys from Varco's
//!   configuration, never with keys it merely publishes.
//! - The walk never revisits an entity (a loop is an error), never goes
//!   above `max_depth` superiors, and follows at most [`MAX_HINTS`] hints per
//!   entity; every URL it fetches is built from an entity identifier that
//!   passed [`crate::check_entity_id`] or from a verified statement.
//! - The chain expires at the earliest `exp` of its statements.
//! - Metadata policies are merged from the trust anchor down and applied to
//!   the leaf's metadata, after the immediate superior's `metadata` override.
//! - A trust mark counts only once verified against the trust anchor's
//!   `trust_mark_issuers`, the issuer's verified keys and the leaf's `sub`.

use std::collections::HashMap;
use std::future::Future;

use josekit::{Map, Value};

use crate::jose::Jwks;
use crate::policy::{apply_policy, merge_policies};
use crate::statement::{
    DEFAULT_SKEW_SECS, EntityStatement, UnverifiedStatement, check_entity_id, fetch_url, well_known_url,
};
use crate::trust_mark::{TrustMark, parse_entry};
use crate::{FederationError, FetchError};

/// The default limit of superiors above the leaf, trust anchor included.
pub const DEFAULT_MAX_DEPTH: usize = 4;

/// The most authority hints followed from one entity.
pub const MAX_HINTS: usize = 8;

/// The entity type of an OpenID provider's metadata.
pub const OPENID_PROVIDER: &str = "openid_provider";

/// Gets a federation document for the resolver. The implementation does the
/// HTTP GET (with its own timeouts, size limit and address policy) and
/// returns the body of a 200 answer; any other status is a
/// [`FetchError::Status`].
pub trait Fetcher {
    /// The body at `url`.
    fn fetch(&self, url: &str) -> impl Future<Output = Result<String, FetchError>> + Send;
}

/// The trust anchor Varco trusts, from its configuration: the entity
/// identifier and its federation keys, pinned.
#[derive(Clone, Debug)]
pub struct TrustAnchor {
    entity_id: String,
    jwks: Jwks,
}

impl TrustAnchor {
    /// The trust anchor `entity_id` whose entity configuration must verify
    /// with `jwks`.
    pub fn new(entity_id: &str, jwks: Jwks) -> Result<TrustAnchor, FederationError> {
        check_entity_id(entity_id)?;
        if jwks.keys().is_empty() {
            return Err(FederationError::InvalidJwks {
                entity: entity_id.to_owned(),
                reason: "no keys",
            });
        }
        Ok(TrustAnchor {
            entity_id: entity_id.to_owned(),
            jwks,
        })
    }

    /// The entity identifier.
    #[must_use]
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The pinned keys.
    #[must_use]
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}

/// A verified trust chain and what it yields.
#[derive(Clone, Debug)]
pub struct TrustChain {
    entity_type: String,
    statements: Vec<EntityStatement>,
    superior_configurations: Vec<EntityStatement>,
    expires_at: i64,
    metadata: Map<String, Value>,
    trust_marks: Vec<TrustMark>,
    rejected_trust_marks: Vec<(Option<String>, FederationError)>,
}

impl TrustChain {
    /// The leaf entity.
    #[must_use]
    pub fn subject(&self) -> &str {
        self.statements[0].subject()
    }

    /// The trust anchor it ends at.
    #[must_use]
    pub fn trust_anchor(&self) -> &str {
        self.statements[self.statements.len() - 1].subject()
    }

    /// The entity type resolved.
    #[must_use]
    pub fn entity_type(&self) -> &str {
        &self.entity_type
    }

    /// The chain as OpenID Federation orders it: the leaf's entity
    /// configuration, the subordinate statements from the leaf's superior
    /// up, the trust anchor's entity configuration.
    #[must_use]
    pub fn statements(&self) -> &[EntityStatement] {
        &self.statements
    }

    /// The entity configurations of the intermediates, from the leaf's
    /// superior up (the trust anchor's is the last of [`TrustChain::statements`]).
    #[must_use]
    pub fn intermediate_configurations(&self) -> &[EntityStatement] {
        &self.superior_configurations
    }

    /// The chain's JWTs in [`TrustChain::statements`] order (for the
    /// transaction log and a `trust_chain` parameter).
    #[must_use]
    pub fn jwts(&self) -> Vec<&str> {
        self.statements.iter().map(EntityStatement::jwt).collect()
    }

    /// The leaf's entity configuration.
    #[must_use]
    pub fn leaf(&self) -> &EntityStatement {
        &self.statements[0]
    }

    /// When the chain expires: the earliest `exp` in it. Resolve again before.
    #[must_use]
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The leaf's metadata of the resolved entity type, policies applied.
    #[must_use]
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// The inline `jwks` of the resolved metadata (an OP's signing and
    /// encryption keys: CIE publishes them inline, not at `jwks_uri`).
    pub fn metadata_jwks(&self) -> Result<Jwks, FederationError> {
        Jwks::from_value(self.metadata.get("jwks").unwrap_or(&Value::Null), self.subject())
    }

    /// The leaf's trust marks that verified.
    #[must_use]
    pub fn trust_marks(&self) -> &[TrustMark] {
        &self.trust_marks
    }

    /// The leaf's trust marks that did not verify, with the identifier
    /// their entry names and why (for the log).
    #[must_use]
    pub fn rejected_trust_marks(&self) -> &[(Option<String>, FederationError)] {
        &self.rejected_trust_marks
    }

    /// The verified trust mark `id` of the leaf, or why there is none: the
    /// reason its trust mark was refused, or [`FederationError::MissingTrustMark`].
    pub fn require_trust_mark(&self, id: &str) -> Result<&TrustMark, FederationError> {
        if let Some(mark) = self.trust_marks.iter().find(|mark| mark.id() == id) {
            return Ok(mark);
        }
        let rejected = self
            .rejected_trust_marks
            .iter()
            .find(|(entry_id, _)| entry_id.as_deref() == Some(id));
        Err(match rejected {
            Some((_, error)) => error.clone(),
            None => FederationError::MissingTrustMark {
                entity: self.subject().to_owned(),
                id: id.to_owned(),
            },
        })
    }
}

/// The verified path from a leaf to the trust anchor.
struct Path {
    leaf: EntityStatement,
    /// Subordinate statements, from the leaf's superior up.
    statements: Vec<EntityStatement>,
    /// Entity configurations of the intermediates, from the leaf's superior up.
    intermediates: Vec<EntityStatement>,
    trust_anchor: EntityStatement,
}

/// One entity on the walk up.
struct Frame {
    configuration: EntityStatement,
    /// The statement this entity issued about the frame below (none for the leaf).
    about_below: Option<EntityStatement>,
    hints: Vec<String>,
    next: usize,
}

/// Resolves trust chains up to one trust anchor through a [`Fetcher`].
#[derive(Debug)]
pub struct TrustChainResolver<'a, F> {
    fetcher: &'a F,
    trust_anchor: &'a TrustAnchor,
    max_depth: usize,
    skew_secs: i64,
    required_trust_marks: Vec<String>,
}

impl<'a, F: Fetcher + Sync> TrustChainResolver<'a, F> {
    /// A resolver to `trust_anchor` fetching through `fetcher`, with
    /// [`DEFAULT_MAX_DEPTH`], [`DEFAULT_SKEW_SECS`] and no required trust mark.
    #[must_use]
    pub fn new(fetcher: &'a F, trust_anchor: &'a TrustAnchor) -> TrustChainResolver<'a, F> {
        TrustChainResolver {
            fetcher,
            trust_anchor,
            max_depth: DEFAULT_MAX_DEPTH,
            skew_secs: DEFAULT_SKEW_SECS,
            required_trust_marks: Vec::new(),
        }
    }

    /// At most `max_depth` superiors above the leaf (trust anchor included).
    #[must_use]
    pub fn max_depth(mut self, max_depth: usize) -> TrustChainResolver<'a, F> {
        self.max_depth = max_depth;
        self
    }

    /// The clock skew allowed on `iat`/`exp`, in seconds.
    #[must_use]
    pub fn skew_secs(mut self, skew_secs: i64) -> TrustChainResolver<'a, F> {
        self.skew_secs = skew_secs;
        self
    }

    /// Refuses a leaf without a verified trust mark `id`.
    #[must_use]
    pub fn require_trust_mark(mut self, id: impl Into<String>) -> TrustChainResolver<'a, F> {
        self.required_trust_marks.push(id.into());
        self
    }

    /// Fetches the entity configuration of `entity_id` and resolves its
    /// trust chain for `entity_type` metadata (e.g. [`OPENID_PROVIDER`]).
    pub async fn resolve(&self, entity_id: &str, entity_type: &str, now: i64) -> Result<TrustChain, FederationError> {
        check_entity_id(entity_id)?;
        let configuration = self.fetch(&well_known_url(entity_id)).await?;
        self.resolve_configuration(&configuration, entity_id, entity_type, now)
            .await
    }

    /// Resolves the trust chain of `entity_id` from its entity
    /// configuration `configuration_jwt`, already fetched.
    pub async fn resolve_configuration(
        &self,
        configuration_jwt: &str,
        entity_id: &str,
        entity_type: &str,
        now: i64,
    ) -> Result<TrustChain, FederationError> {
        check_entity_id(entity_id)?;
        let leaf = UnverifiedStatement::parse(configuration_jwt)?.verify_self_signed(entity_id, now, self.skew_secs)?;
        let path = self.walk(leaf, now).await?;

        // Policies from the trust anchor down to the leaf's superior.
        let crit: Vec<String> = path
            .statements
            .iter()
            .flat_map(|statement| statement.metadata_policy_crit().iter().cloned())
            .collect();
        let policies: Vec<Option<&Map<String, Value>>> = path
            .statements
            .iter()
            .rev()
            .map(|statement| statement.metadata_policy().get(entity_type).and_then(Value::as_object))
            .collect();
        let policy = merge_policies(entity_type, &policies, &crit)?;
        let mut metadata =
            path.leaf
                .metadata_of(entity_type)
                .cloned()
                .ok_or_else(|| FederationError::MissingMetadata {
                    entity: entity_id.to_owned(),
                    entity_type: entity_type.to_owned(),
                })?;
        if let Some(overrides) = path
            .statements
            .first()
            .and_then(|statement| statement.metadata_of(entity_type))
        {
            for (parameter, value) in overrides {
                metadata.insert(parameter.clone(), value.clone());
            }
        }
        let metadata = apply_policy(entity_id, entity_type, &policy, &metadata)?;

        let (trust_marks, rejected_trust_marks) = self.verify_trust_marks(&path, now).await;
        let expires_at = std::iter::once(&path.leaf)
            .chain(&path.statements)
            .chain(&path.intermediates)
            .chain(std::iter::once(&path.trust_anchor))
            .map(EntityStatement::expires_at)
            .min()
            .unwrap_or(i64::MIN);

        let mut statements = Vec::with_capacity(path.statements.len() + 2);
        statements.push(path.leaf);
        statements.extend(path.statements);
        if statements[0].subject() != path.trust_anchor.subject() {
            statements.push(path.trust_anchor);
        }
        let chain = TrustChain {
            entity_type: entity_type.to_owned(),
            statements,
            superior_configurations: path.intermediates,
            expires_at,
            metadata,
            trust_marks,
            rejected_trust_marks,
        };
        for id in &self.required_trust_marks {
            chain.require_trust_mark(id)?;
        }
        Ok(chain)
    }

    async fn fetch(&self, url: &str) -> Result<String, FederationError> {
        self.fetcher.fetch(url).await.map_err(|source| FederationError::Fetch {
            url: url.to_owned(),
            source,
        })
    }

    /// Walks up from `leaf` (an entity configuration verified with its own
    /// keys) to the trust anchor, depth first, trust anchor hints first.
    async fn walk(&self, leaf: EntityStatement, now: i64) -> Result<Path, FederationError> {
        let anchor = self.trust_anchor.entity_id();
        if leaf.subject() == anchor {
            // The leaf is the trust anchor: only the pinned keys vouch for it.
            let verified =
                UnverifiedStatement::parse(leaf.jwt())?.verify(self.trust_anchor.jwks(), now, self.skew_secs)?;
            return Ok(Path {
                leaf,
                statements: Vec::new(),
                intermediates: Vec::new(),
                trust_anchor: verified,
            });
        }
        let mut frames = vec![Frame {
            hints: ordered_hints(&leaf, anchor),
            configuration: leaf,
            about_below: None,
            next: 0,
        }];
        let mut first_error: Option<FederationError> = None;
        while let Some(top) = frames.last_mut() {
            if top.next >= top.hints.len() {
                if top.hints.is_empty() {
                    first_error.get_or_insert_with(|| FederationError::NotTheTrustAnchor {
                        entity: top.configuration.subject().to_owned(),
                        trust_anchor: anchor.to_owned(),
                    });
                }
                frames.pop();
                continue;
            }
            let hint = top.hints[top.next].clone();
            top.next += 1;
            let level = frames.len();
            if frames.iter().any(|frame| frame.configuration.subject() == hint) {
                first_error.get_or_insert(FederationError::Loop { entity: hint });
                continue;
            }
            if level > self.max_depth {
                first_error.get_or_insert_with(|| FederationError::TooDeep {
                    max_depth: self.max_depth,
                    subject: frames[0].configuration.subject().to_owned(),
                });
                continue;
            }
            let subordinate = &frames[level - 1].configuration;
            match self.step_up(subordinate, &hint, now).await {
                Ok((superior, statement)) if hint == anchor => {
                    let mut statements = Vec::with_capacity(frames.len());
                    let mut intermediates = Vec::with_capacity(frames.len());
                    let mut frames = frames.into_iter();
                    let leaf = frames.next().map(|frame| frame.configuration);
                    for frame in frames {
                        statements.extend(frame.about_below);
                        intermediates.push(frame.configuration);
                    }
                    statements.push(statement);
                    return Ok(Path {
                        leaf: leaf.unwrap_or_else(|| unreachable!("the leaf frame is never popped before success")),
                        statements,
                        intermediates,
                        trust_anchor: superior,
                    });
                }
                Ok((superior, statement)) => frames.push(Frame {
                    hints: ordered_hints(&superior, anchor),
                    configuration: superior,
                    about_below: Some(statement),
                    next: 0,
                }),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| FederationError::NotTheTrustAnchor {
            entity: String::new(),
            trust_anchor: anchor.to_owned(),
        }))
    }

    /// Goes from `subordinate` to its superior `hint`: the superior's
    /// entity configuration (pinned keys for the trust anchor), its
    /// statement about `subordinate`, and the check that this statement's
    /// keys verify `subordinate`'s configuration.
    async fn step_up(
        &self,
        subordinate: &EntityStatement,
        hint: &str,
        now: i64,
    ) -> Result<(EntityStatement, EntityStatement), FederationError> {
        check_entity_id(hint)?;
        let body = self.fetch(&well_known_url(hint)).await?;
        let unverified = UnverifiedStatement::parse(&body)?;
        let superior = if hint == self.trust_anchor.entity_id() {
            let superior = unverified.verify(self.trust_anchor.jwks(), now, self.skew_secs)?;
            superior.expect(hint, hint)?;
            superior
        } else {
            unverified.verify_self_signed(hint, now, self.skew_secs)?
        };
        let endpoint = superior
            .federation_fetch_endpoint()
            .ok_or_else(|| FederationError::NoFetchEndpoint {
                entity: hint.to_owned(),
            })?;
        let body = self.fetch(&fetch_url(endpoint, subordinate.subject())).await?;
        let statement = UnverifiedStatement::parse(&body)?.verify(superior.jwks(), now, self.skew_secs)?;
        statement.expect(hint, subordinate.subject())?;
        UnverifiedStatement::parse(subordinate.jwt())?.verify(statement.jwks(), now, self.skew_secs)?;
        Ok((superior, statement))
    }

    /// Verifies the leaf's trust marks; an issuer other than the trust
    /// anchor has its keys taken from its own resolved trust chain.
    async fn verify_trust_marks(
        &self,
        path: &Path,
        now: i64,
    ) -> (Vec<TrustMark>, Vec<(Option<String>, FederationError)>) {
        let mut verified = Vec::new();
        let mut rejected = Vec::new();
        let mut issuer_keys: HashMap<String, Result<Jwks, FederationError>> = HashMap::new();
        for entry in path.leaf.trust_marks() {
            let mark = match parse_entry(entry) {
                Ok(mark) => mark,
                Err(error) => {
                    rejected.push((entry.id.clone(), error));
                    continue;
                }
            };
            let id = Some(mark.id().to_owned());
            if !mark.issuer_is_allowed(&path.trust_anchor) {
                let error = FederationError::TrustMarkIssuerNotAllowed {
                    id: mark.id().to_owned(),
                    issuer: mark.issuer().to_owned(),
                    trust_anchor: path.trust_anchor.subject().to_owned(),
                };
                rejected.push((id, error));
                continue;
            }
            if !issuer_keys.contains_key(mark.issuer()) {
                let keys = self.issuer_keys(mark.issuer(), &path.trust_anchor, now).await;
                issuer_keys.insert(mark.issuer().to_owned(), keys);
            }
            let keys = match &issuer_keys[mark.issuer()] {
                Ok(keys) => keys,
                Err(error) => {
                    rejected.push((id, error.clone()));
                    continue;
                }
            };
            match mark.verify(&path.trust_anchor, keys, path.leaf.subject(), now, self.skew_secs) {
                Ok(mark) => verified.push(mark),
                Err(error) => rejected.push((id, error)),
            }
        }
        (verified, rejected)
    }

    /// The verified federation keys of a trust mark issuer.
    async fn issuer_keys(
        &self,
        issuer: &str,
        trust_anchor: &EntityStatement,
        now: i64,
    ) -> Result<Jwks, FederationError> {
        if issuer == trust_anchor.subject() {
            return Ok(trust_anchor.jwks().clone());
        }
        check_entity_id(issuer)?;
        let body = self.fetch(&well_known_url(issuer)).await?;
        let configuration = UnverifiedStatement::parse(&body)?.verify_self_signed(issuer, now, self.skew_secs)?;
        let path = self.walk(configuration, now).await?;
        // The walk checked the issuer's configuration against its superior's
        // statement, so its keys are vouched for by the trust anchor.
        Ok(path.leaf.jwks().clone())
    }
}

/// The authority hints of `configuration`, the trust anchor's first, at
/// most [`MAX_HINTS`], without duplicates.
fn ordered_hints(configuration: &EntityStatement, anchor: &str) -> Vec<String> {
    let mut hints: Vec<String> = Vec::new();
    for hint in configuration.authority_hints().iter().take(MAX_HINTS) {
        if !hints.contains(hint) {
            hints.push(hint.clone());
        }
    }
    hints.sort_by_key(|hint| hint != anchor);
    hints
}

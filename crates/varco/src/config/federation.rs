//! `[federation]`: Varco as a relying party of the SPID/CIE OpenID Connect
//! Federation — who it is, whom it trusts, what it was given at onboarding.
//!
//! ```toml
//! [federation]
//! entity_id = "https://varco.example.it"          # default: public_url
//! organization_name = "Istituto Comprensivo Roma 1"
//! homepage_uri = "https://www.ic-roma1.edu.it"
//! policy_uri = "https://www.ic-roma1.edu.it/privacy"
//! logo_uri = "https://www.ic-roma1.edu.it/logo.svg"
//! contacts = ["ic-roma1@pec.istruzione.it"]       # the PEC
//! authority_hints = ["https://registry.spid.gov.it"]
//! entity_configuration_lifetime_hours = 24
//!
//! [[federation.trust_anchors]]
//! entity_id = "https://registry.spid.gov.it"
//! jwks_file = "/etc/varco/spid-ta.jwks.json"      # or jwks = '{"keys": [...]}'
//!
//! [[federation.trust_marks]]
//! id = "https://registry.spid.gov.it/openid_relying_party/public"
//! trust_mark = "eyJ..."
//! ```
//!
//! The redirect URI is the public URL + `/login/upstream/callback`. Every
//! mistake stops the start and names the key.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use varco_app::federation::{CALLBACK_PATH, FederationSettings};
use varco_federation::{Jwks, TrustAnchor, TrustMarkEntry, UnverifiedTrustMark, check_entity_id};

use super::ConfigError;

/// `[federation]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationConfig {
    /// Varco's entity identifier; empty (the default): the public URL.
    pub entity_id: String,
    /// The trust anchors, their keys pinned.
    pub trust_anchors: Vec<TrustAnchorConfig>,
    /// The superiors Varco is registered under (trust anchor or intermediate).
    pub authority_hints: Vec<String>,
    /// The trust marks received at onboarding.
    pub trust_marks: Vec<TrustMarkConfig>,
    /// The organisation's name (also the relying party's `client_name`).
    pub organization_name: String,
    /// The organisation's home page.
    pub homepage_uri: Option<String>,
    /// The privacy policy page.
    pub policy_uri: Option<String>,
    /// The logo.
    pub logo_uri: Option<String>,
    /// Contacts, the PEC address first.
    pub contacts: Vec<String>,
    /// `exp` − `iat` of the entity configuration, in hours.
    pub entity_configuration_lifetime_hours: i64,
    /// Timeout of each fetch of a federation document, in seconds.
    pub fetch_timeout_secs: u64,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            entity_id: String::new(),
            trust_anchors: Vec::new(),
            authority_hints: Vec::new(),
            trust_marks: Vec::new(),
            organization_name: String::new(),
            homepage_uri: None,
            policy_uri: None,
            logo_uri: None,
            contacts: Vec::new(),
            entity_configuration_lifetime_hours: 24,
            fetch_timeout_secs: 5,
        }
    }
}

/// `[[federation.trust_anchors]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustAnchorConfig {
    /// The trust anchor's entity identifier.
    pub entity_id: String,
    /// Its federation JWK Set as JSON text.
    pub jwks: Option<String>,
    /// A file holding its federation JWK Set (JSON).
    pub jwks_file: Option<PathBuf>,
}

/// `[[federation.trust_marks]]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustMarkConfig {
    /// The trust mark identifier.
    pub id: String,
    /// The trust mark JWT.
    pub trust_mark: String,
}

fn invalid(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid(format!("federation.{key}: {message}"))
}

fn optional_url(key: &str, value: &Option<String>) -> Result<Option<String>, ConfigError> {
    match value {
        None => Ok(None),
        Some(url)
            if (url.starts_with("https://") || url.starts_with("http://"))
                && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(Some(url.clone()))
        }
        Some(url) => Err(invalid(key, format!("{url:?} is not an http(s) URL"))),
    }
}

impl FederationConfig {
    /// The checked settings; `public_url` is the effective public URL.
    pub fn settings(&self, public_url: &str) -> Result<FederationSettings, ConfigError> {
        let public_url = public_url.trim_end_matches('/');
        let entity_id = if self.entity_id.is_empty() {
            public_url.to_owned()
        } else {
            self.entity_id.trim_end_matches('/').to_owned()
        };
        check_entity_id(&entity_id).map_err(|_| {
            invalid(
                "entity_id",
                format!("{entity_id:?} must be an https URL (http only on a loopback host), without query"),
            )
        })?;
        if self.organization_name.trim().is_empty() {
            return Err(invalid("organization_name", "must be set"));
        }
        if self.contacts.is_empty() || self.contacts.iter().any(|c| !c.contains('@')) {
            return Err(invalid("contacts", "at least one email address (the PEC) is required"));
        }
        let hours = self.entity_configuration_lifetime_hours;
        if !(1..=24 * 7).contains(&hours) {
            return Err(invalid(
                "entity_configuration_lifetime_hours",
                "must be between 1 and 168",
            ));
        }
        if !(1..=60).contains(&self.fetch_timeout_secs) {
            return Err(invalid("fetch_timeout_secs", "must be between 1 and 60"));
        }
        for hint in &self.authority_hints {
            check_entity_id(hint).map_err(|_| invalid("authority_hints", format!("{hint:?} is not an entity id")))?;
        }
        let mut trust_anchors = Vec::new();
        for (i, anchor) in self.trust_anchors.iter().enumerate() {
            let key = format!("trust_anchors[{i}]");
            let text = match (&anchor.jwks, &anchor.jwks_file) {
                (Some(text), None) => text.clone(),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|e| invalid(&format!("{key}.jwks_file"), format!("{}: {e}", path.display())))?,
                _ => return Err(invalid(&key, "give exactly one of jwks and jwks_file")),
            };
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| invalid(&format!("{key}.jwks"), format!("not JSON: {e}")))?;
            let jwks = Jwks::from_value(&value, &anchor.entity_id).map_err(|e| invalid(&format!("{key}.jwks"), e))?;
            let trust_anchor =
                TrustAnchor::new(anchor.entity_id.trim_end_matches('/'), jwks).map_err(|e| invalid(&key, e))?;
            if trust_anchors
                .iter()
                .any(|a: &TrustAnchor| a.entity_id() == trust_anchor.entity_id())
            {
                return Err(invalid(&key, format!("{} is listed twice", anchor.entity_id)));
            }
            trust_anchors.push(trust_anchor);
        }
        let mut trust_marks = Vec::new();
        for (i, mark) in self.trust_marks.iter().enumerate() {
            let key = format!("trust_marks[{i}]");
            let parsed = UnverifiedTrustMark::parse(mark.trust_mark.trim())
                .map_err(|e| invalid(&format!("{key}.trust_mark"), e))?;
            if mark.id.is_empty() || parsed.id() != mark.id {
                return Err(invalid(
                    &format!("{key}.id"),
                    format!("{:?} is not the id the trust mark carries ({:?})", mark.id, parsed.id()),
                ));
            }
            trust_marks.push(TrustMarkEntry {
                id: Some(mark.id.clone()),
                trust_mark: mark.trust_mark.trim().to_owned(),
            });
        }
        Ok(FederationSettings {
            entity_id,
            trust_anchors,
            authority_hints: self.authority_hints.clone(),
            trust_marks,
            organization_name: self.organization_name.clone(),
            homepage_uri: optional_url("homepage_uri", &self.homepage_uri)?,
            policy_uri: optional_url("policy_uri", &self.policy_uri)?,
            logo_uri: optional_url("logo_uri", &self.logo_uri)?,
            contacts: self.contacts.clone(),
            entity_configuration_secs: hours * 3600,
            redirect_uri: format!("{public_url}{CALLBACK_PATH}"),
            fetch_timeout: Duration::from_secs(self.fetch_timeout_secs),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn good() -> FederationConfig {
        FederationConfig {
            organization_name: "IC Roma 1".into(),
            contacts: vec!["ic@pec.example.it".into()],
            authority_hints: vec!["https://ta.example.it".into()],
            ..FederationConfig::default()
        }
    }

    #[test]
    fn the_entity_id_defaults_to_the_public_url_and_the_callback_follows_it() {
        let settings = good().settings("https://varco.example.it/").unwrap();
        assert_eq!(settings.entity_id, "https://varco.example.it");
        assert_eq!(
            settings.redirect_uri,
            "https://varco.example.it/login/upstream/callback"
        );
        assert_eq!(settings.entity_configuration_secs, 24 * 3600);
    }

    #[test]
    fn bad_values_are_refused_by_key() {
        let refused = |config: FederationConfig, key: &str| {
            let error = config.settings("https://varco.example.it").unwrap_err().to_string();
            assert!(error.contains(key), "{error} should name {key}");
        };
        refused(
            FederationConfig {
                entity_id: "http://varco.example.it".into(),
                ..good()
            },
            "federation.entity_id",
        );
        refused(
            FederationConfig {
                organization_name: String::new(),
                ..good()
            },
            "federation.organization_name",
        );
        refused(
            FederationConfig {
                contacts: vec![],
                ..good()
            },
            "federation.contacts",
        );
        refused(
            FederationConfig {
                authority_hints: vec!["ftp://ta".into()],
                ..good()
            },
            "federation.authority_hints",
        );
        refused(
            FederationConfig {
                entity_configuration_lifetime_hours: 0,
                ..good()
            },
            "entity_configuration_lifetime_hours",
        );
        refused(
            FederationConfig {
                trust_anchors: vec![TrustAnchorConfig {
                    entity_id: "https://ta.example.it".into(),
                    jwks: Some("{\"keys\": \"none\"}".into()),
                    jwks_file: None,
                }],
                ..good()
            },
            "federation.trust_anchors[0].jwks",
        );
        refused(
            FederationConfig {
                trust_anchors: vec![TrustAnchorConfig {
                    entity_id: "https://ta.example.it".into(),
                    jwks: None,
                    jwks_file: None,
                }],
                ..good()
            },
            "federation.trust_anchors[0]",
        );
        refused(
            FederationConfig {
                trust_marks: vec![TrustMarkConfig {
                    id: "https://ta.example.it/public".into(),
                    trust_mark: "not-a-jwt".into(),
                }],
                ..good()
            },
            "federation.trust_marks[0].trust_mark",
        );
    }
}

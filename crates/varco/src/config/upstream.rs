//! `[[upstream]]`: the providers people sign in through with SPID or CIE
//! (issue 9). None configured: no SPID/CIE buttons, everything as before.
//!
//! ```toml
//! [[upstream]]
//! name = "gateway"                 # slug, used in URLs: /login/upstream/gateway
//! kind = "spid"                    # which button: "spid" or "cie"
//! label = "SPID (gateway regionale)"
//! mode = "static"                  # "static" (plain OIDC) or "federation"
//! issuer = "https://gateway.example"   # discovery: issuer + /.well-known/openid-configuration
//! client_id = "varco"
//! client_secret_file = "/etc/varco/gateway-secret"   # or client_secret = "..."
//! acr = "https://www.spid.gov.it/SpidL2"             # the lowest level accepted (default)
//! scope = "openid profile"                           # default
//! ```
//!
//! Only in the file (the environment cannot set a list of tables). Every
//! mistake stops the start and names the entry.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use varco_app::upstream_rp::{UpstreamKind, UpstreamMode, UpstreamProvider, UpstreamSettings};
use varco_oidc::rp::SpidLevel;

use super::ConfigError;

/// Names that are routes of their own under `/login/upstream/`.
const RESERVED_NAMES: &[&str] = &["callback", "choose", "spid", "cie"];

/// One `[[upstream]]` entry.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Slug (lowercase letters, digits, `-`), unique, used in URLs.
    pub name: String,
    /// `spid` or `cie`: which button.
    pub kind: String,
    /// The name shown to people (the identity provider or gateway).
    pub label: String,
    /// `static` or `federation`.
    #[serde(default = "default_mode")]
    pub mode: String,
    /// The provider's issuer identifier.
    #[serde(default)]
    pub issuer: String,
    /// Varco's client id at the provider.
    #[serde(default)]
    pub client_id: String,
    /// The client secret (static mode), or use `client_secret_file`.
    #[serde(default)]
    pub client_secret: String,
    /// A file holding the client secret (static mode).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// The lowest level of assurance accepted, a SPID level URI.
    #[serde(default = "default_acr")]
    pub acr: String,
    /// The scopes asked for, space-separated; must include `openid`.
    #[serde(default = "default_scope")]
    pub scope: String,
    /// Federation mode: the trust anchor (an `entity_id` of
    /// `[[federation.trust_anchors]]`) the provider's chain must reach;
    /// default the first configured one.
    #[serde(default)]
    pub trust_anchor: Option<String>,
    /// Federation mode: a trust mark id the provider must hold.
    #[serde(default)]
    pub trust_mark: Option<String>,
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("label", &self.label)
            .field("mode", &self.mode)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &if self.client_secret.is_empty() { "" } else { "[set]" },
            )
            .field("client_secret_file", &self.client_secret_file)
            .field("acr", &self.acr)
            .field("scope", &self.scope)
            .finish()
    }
}

fn default_mode() -> String {
    "static".into()
}

fn default_acr() -> String {
    SpidLevel::L2.uri().into()
}

fn default_scope() -> String {
    "openid profile".into()
}

fn invalid(index: usize, name: &str, message: impl std::fmt::Display) -> ConfigError {
    let which = if name.is_empty() {
        format!("upstream[{index}]")
    } else {
        format!("upstream[{index}] ({name})")
    };
    ConfigError::Invalid(format!("{which}: {message}"))
}

/// Whether `issuer` is https, or plain http on a loopback address (tests,
/// a gateway on the same machine).
fn acceptable_issuer(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else { return false };
    if url.query().is_some() || url.fragment().is_some() || url.host_str().is_none() {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        },
        _ => false,
    }
}

impl UpstreamConfig {
    /// The checked provider; reads `client_secret_file`.
    fn provider(&self, index: usize) -> Result<UpstreamProvider, ConfigError> {
        let name = self.name.as_str();
        if name.is_empty()
            || name.len() > 40
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(
                index,
                name,
                "name must be 1 to 40 lowercase letters, digits or -",
            ));
        }
        if RESERVED_NAMES.contains(&name) {
            return Err(invalid(
                index,
                name,
                format!("name {name:?} is reserved, choose another"),
            ));
        }
        let kind = match self.kind.as_str() {
            "spid" => UpstreamKind::Spid,
            "cie" => UpstreamKind::Cie,
            other => {
                return Err(invalid(
                    index,
                    name,
                    format!("kind must be \"spid\" or \"cie\" (got {other:?})"),
                ));
            }
        };
        if self.label.trim().is_empty() {
            return Err(invalid(index, name, "label must not be empty"));
        }
        let mode = match self.mode.as_str() {
            "static" => UpstreamMode::Static,
            "federation" => UpstreamMode::Federation,
            other => {
                return Err(invalid(
                    index,
                    name,
                    format!("mode must be \"static\" or \"federation\" (got {other:?})"),
                ));
            }
        };
        if !acceptable_issuer(&self.issuer) {
            return Err(invalid(
                index,
                name,
                "issuer must be an https:// URL (http:// only on loopback) without query",
            ));
        }
        // In federation mode Varco's client_id is its entity id.
        if mode == UpstreamMode::Static && self.client_id.trim().is_empty() {
            return Err(invalid(index, name, "client_id must not be empty"));
        }
        if mode == UpstreamMode::Static && (self.trust_anchor.is_some() || self.trust_mark.is_some()) {
            return Err(invalid(
                index,
                name,
                "trust_anchor and trust_mark are for federation mode",
            ));
        }
        let client_secret = match (mode, self.client_secret.is_empty(), &self.client_secret_file) {
            (UpstreamMode::Federation, true, None) => None,
            (UpstreamMode::Federation, _, _) => {
                return Err(invalid(
                    index,
                    name,
                    "federation mode authenticates with private_key_jwt: remove client_secret",
                ));
            }
            (UpstreamMode::Static, false, None) => Some(self.client_secret.clone()),
            (UpstreamMode::Static, true, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| invalid(index, name, format!("client_secret_file {}: {e}", path.display())))?;
                let secret = text.trim();
                if secret.is_empty() {
                    return Err(invalid(
                        index,
                        name,
                        format!("client_secret_file {} is empty", path.display()),
                    ));
                }
                Some(secret.to_owned())
            }
            (UpstreamMode::Static, true, None) => {
                return Err(invalid(
                    index,
                    name,
                    "static mode needs client_secret or client_secret_file",
                ));
            }
            (UpstreamMode::Static, false, Some(_)) => {
                return Err(invalid(
                    index,
                    name,
                    "set client_secret or client_secret_file, not both",
                ));
            }
        };
        let acr_min = SpidLevel::from_uri(&self.acr).ok_or_else(|| {
            invalid(
                index,
                name,
                format!(
                    "acr must be a SPID level: {}, {} or {} (got {:?})",
                    SpidLevel::L1.uri(),
                    SpidLevel::L2.uri(),
                    SpidLevel::L3.uri(),
                    self.acr
                ),
            )
        })?;
        if !self.scope.split_ascii_whitespace().any(|s| s == "openid") {
            return Err(invalid(index, name, "scope must include openid"));
        }
        Ok(UpstreamProvider {
            name: self.name.clone(),
            kind,
            label: self.label.trim().to_owned(),
            mode,
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret,
            acr_min,
            scope: self.scope.split_ascii_whitespace().collect::<Vec<_>>().join(" "),
            trust_anchor: self.trust_anchor.clone(),
            trust_mark: self.trust_mark.clone(),
        })
    }
}

/// Federation-mode entries need `[federation]`, and a `trust_anchor` they
/// name must be one of its trust anchors.
pub fn check_federation_links(
    upstream: &UpstreamSettings,
    federation: Option<&varco_app::federation::FederationSettings>,
) -> Result<(), ConfigError> {
    for (index, provider) in upstream.providers.iter().enumerate() {
        if provider.mode != UpstreamMode::Federation {
            continue;
        }
        let Some(federation) = federation else {
            return Err(invalid(
                index,
                &provider.name,
                "federation mode needs a [federation] section",
            ));
        };
        match &provider.trust_anchor {
            Some(anchor) if federation.trust_anchor(anchor).is_none() => {
                return Err(invalid(
                    index,
                    &provider.name,
                    format!("trust_anchor {anchor:?} is not one of [[federation.trust_anchors]]"),
                ));
            }
            None if federation.trust_anchors.is_empty() => {
                return Err(invalid(index, &provider.name, "federation mode needs a trust anchor"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The checked upstream settings of every `[[upstream]]` entry.
pub fn upstream_settings(entries: &[UpstreamConfig]) -> Result<UpstreamSettings, ConfigError> {
    let mut providers: Vec<UpstreamProvider> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let provider = entry.provider(index)?;
        if providers.iter().any(|p| p.name == provider.name) {
            return Err(invalid(index, &provider.name, "name is used by an earlier entry"));
        }
        providers.push(provider);
    }
    Ok(UpstreamSettings {
        providers,
        ..UpstreamSettings::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> UpstreamConfig {
        UpstreamConfig {
            name: "gateway".into(),
            kind: "spid".into(),
            label: "SPID gateway".into(),
            mode: default_mode(),
            issuer: "https://gateway.example".into(),
            client_id: "varco".into(),
            client_secret: "s3cret".into(),
            client_secret_file: None,
            acr: default_acr(),
            scope: default_scope(),
            trust_anchor: None,
            trust_mark: None,
        }
    }

    #[test]
    fn federation_entries_need_the_federation_section_and_a_known_trust_anchor() {
        let federated = UpstreamConfig {
            mode: "federation".into(),
            client_secret: String::new(),
            ..entry()
        };
        let settings = upstream_settings(std::slice::from_ref(&federated)).unwrap();
        let error = check_federation_links(&settings, None).unwrap_err().to_string();
        assert!(error.contains("needs a [federation] section"), "{error}");
        let federation = crate::config::federation::tests::good()
            .settings("https://varco.example.it")
            .unwrap();
        assert!(federation.trust_anchors.is_empty());
        let error = check_federation_links(&settings, Some(&federation))
            .unwrap_err()
            .to_string();
        assert!(error.contains("needs a trust anchor"), "{error}");
        let named = UpstreamConfig {
            trust_anchor: Some("https://unknown-ta.example.it".into()),
            ..federated
        };
        let settings = upstream_settings(&[named]).unwrap();
        let error = check_federation_links(&settings, Some(&federation))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not one of [[federation.trust_anchors]]"), "{error}");
        // Static entries need neither, and may not name a trust anchor.
        let settings = upstream_settings(&[entry()]).unwrap();
        assert!(check_federation_links(&settings, None).is_ok());
        let error = refused(UpstreamConfig {
            trust_mark: Some("https://ta.example.it/openid_provider/public".into()),
            ..entry()
        });
        assert!(error.contains("for federation mode"), "{error}");
    }

    fn refused(e: UpstreamConfig) -> String {
        upstream_settings(&[e]).expect_err("refused").to_string()
    }

    #[test]
    fn a_static_entry_becomes_a_provider() {
        let s = upstream_settings(&[entry()]).unwrap();
        let p = &s.providers[0];
        assert_eq!(p.kind, UpstreamKind::Spid);
        assert_eq!(p.mode, UpstreamMode::Static);
        assert_eq!(p.acr_min, SpidLevel::L2);
        assert_eq!(p.client_secret.as_deref(), Some("s3cret"));
        assert!(!format!("{p:?}").contains("s3cret"));
        assert!(!format!("{:?}", entry()).contains("s3cret"));
        assert!(upstream_settings(&[]).unwrap().providers.is_empty());
    }

    #[test]
    fn the_secret_may_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "from-file\n").unwrap();
        let e = UpstreamConfig {
            client_secret: String::new(),
            client_secret_file: Some(path.clone()),
            ..entry()
        };
        let s = upstream_settings(std::slice::from_ref(&e)).unwrap();
        assert_eq!(s.providers[0].client_secret.as_deref(), Some("from-file"));
        std::fs::remove_file(&path).unwrap();
        assert!(refused(e).contains("client_secret_file"));
    }

    #[test]
    fn every_mistake_is_named() {
        for (e, expected) in [
            (
                UpstreamConfig {
                    name: "Gate Way".into(),
                    ..entry()
                },
                "name must be",
            ),
            (
                UpstreamConfig {
                    name: "callback".into(),
                    ..entry()
                },
                "reserved",
            ),
            (
                UpstreamConfig {
                    kind: "eidas".into(),
                    ..entry()
                },
                "kind must be",
            ),
            (
                UpstreamConfig {
                    label: " ".into(),
                    ..entry()
                },
                "label",
            ),
            (
                UpstreamConfig {
                    mode: "dynamic".into(),
                    ..entry()
                },
                "mode must be",
            ),
            (
                UpstreamConfig {
                    issuer: "http://gateway.example".into(),
                    ..entry()
                },
                "issuer",
            ),
            (
                UpstreamConfig {
                    issuer: "https://g.example/?x=1".into(),
                    ..entry()
                },
                "issuer",
            ),
            (
                UpstreamConfig {
                    client_id: String::new(),
                    ..entry()
                },
                "client_id",
            ),
            (
                UpstreamConfig {
                    client_secret: String::new(),
                    ..entry()
                },
                "needs client_secret",
            ),
            (
                UpstreamConfig {
                    client_secret_file: Some("/nonexistent".into()),
                    ..entry()
                },
                "not both",
            ),
            (
                UpstreamConfig {
                    mode: "federation".into(),
                    ..entry()
                },
                "private_key_jwt",
            ),
            (
                UpstreamConfig {
                    acr: "https://www.spid.gov.it/SpidL4".into(),
                    ..entry()
                },
                "acr must be",
            ),
            (
                UpstreamConfig {
                    scope: "profile".into(),
                    ..entry()
                },
                "openid",
            ),
        ] {
            let message = refused(e);
            assert!(message.contains(expected), "{message} (expected {expected})");
            assert!(message.starts_with("configuration: upstream[0]"), "{message}");
        }
        let twice = upstream_settings(&[entry(), entry()]).unwrap_err().to_string();
        assert!(twice.contains("upstream[1] (gateway): name is used"), "{twice}");
    }

    #[test]
    fn loopback_http_and_federation_without_secret_are_accepted() {
        let e = UpstreamConfig {
            issuer: "http://127.0.0.1:4000".into(),
            ..entry()
        };
        assert!(upstream_settings(&[e]).is_ok());
        let f = UpstreamConfig {
            mode: "federation".into(),
            kind: "cie".into(),
            client_secret: String::new(),
            acr: SpidLevel::L3.uri().into(),
            ..entry()
        };
        let s = upstream_settings(&[f]).unwrap();
        assert_eq!(s.providers[0].mode, UpstreamMode::Federation);
        assert_eq!(s.providers[0].acr_min, SpidLevel::L3);
        assert_eq!(s.providers[0].client_secret, None);
    }
}

//! HTML rendering with minijinja. Templates live in `templates/` and are
//! compiled into the binary; auto-escaping is on for every `.html` template.
//! Texts come from Fluent through the `t(key, **args)` function, which reads
//! the page's `lang` from the render context.

use std::sync::Arc;

use fluent_bundle::FluentValue;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind, State};

use serde::{Deserialize, Serialize};

use crate::i18n::{I18n, Lang};

/// How the deployment names itself, and the legal pages every PA site links
/// from its footer (`[branding]` in the configuration). Unset links are not
/// shown; an unset name shows the product's tagline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Branding {
    /// The school's or the service's name, e.g. "IC Via Roma – Registro elettronico".
    pub name: Option<String>,
    /// The GDPR notice ("Privacy").
    pub privacy_url: Option<String>,
    /// "Note legali".
    pub legal_notes_url: Option<String>,
    /// "Dichiarazione di accessibilità".
    pub accessibility_url: Option<String>,
}

/// A footer link: its Fluent key and where it goes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FooterLink {
    /// The Fluent key of the link's text.
    pub key: &'static str,
    /// Where it goes.
    pub url: String,
}

impl Branding {
    /// The configured footer links, in the order AgID sites show them.
    pub fn links(&self) -> Vec<FooterLink> {
        [
            ("footer-privacy", &self.privacy_url),
            ("footer-legal-notes", &self.legal_notes_url),
            ("footer-accessibility", &self.accessibility_url),
        ]
        .into_iter()
        .filter_map(|(key, url)| {
            url.as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(|u| FooterLink { key, url: u.to_owned() })
        })
        .collect()
    }

    /// The `From` of every message: the configured sender, with the
    /// deployment's name as display name when the sender still says "Varco"
    /// (the default) or has no display name.
    pub fn mail_from(&self, configured: &str) -> String {
        let Some(name) = self.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) else {
            return configured.to_owned();
        };
        let configured = configured.trim();
        let (display, address) = match (configured.find('<'), configured.ends_with('>')) {
            (Some(open), true) => (configured[..open].trim(), &configured[open..]),
            _ => ("", configured),
        };
        if !display.is_empty() && display != "Varco" {
            return configured.to_owned();
        }
        let address = address.trim_start_matches('<').trim_end_matches('>');
        let quoted: String = name
            .chars()
            .filter(|c| !c.is_control())
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{quoted}\" <{address}>")
    }
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("requests_form.html", include_str!("../templates/requests_form.html")),
    ("requests_sent.html", include_str!("../templates/requests_sent.html")),
    (
        "requests_status.html",
        include_str!("../templates/requests_status.html"),
    ),
    ("requests_list.html", include_str!("../templates/requests_list.html")),
    (
        "requests_detail.html",
        include_str!("../templates/requests_detail.html"),
    ),
    ("_form.html", include_str!("../templates/_form.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("account.html", include_str!("../templates/account.html")),
    ("_children.html", include_str!("../templates/_children.html")),
    ("_desk_children.html", include_str!("../templates/_desk_children.html")),
    ("_desk_students.html", include_str!("../templates/_desk_students.html")),
    ("help.html", include_str!("../templates/help.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("setup.html", include_str!("../templates/setup.html")),
    ("setup_done.html", include_str!("../templates/setup_done.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("oidc_error.html", include_str!("../templates/oidc_error.html")),
    ("oidc_consent.html", include_str!("../templates/oidc_consent.html")),
    ("confirm.html", include_str!("../templates/confirm.html")),
    ("second_secret.html", include_str!("../templates/second_secret.html")),
    ("oidc_step_up.html", include_str!("../templates/oidc_step_up.html")),
    ("oidc_logout.html", include_str!("../templates/oidc_logout.html")),
    ("forgot.html", include_str!("../templates/forgot.html")),
    ("forgot_sent.html", include_str!("../templates/forgot_sent.html")),
    ("reset.html", include_str!("../templates/reset.html")),
    ("reset_done.html", include_str!("../templates/reset_done.html")),
    ("link_invalid.html", include_str!("../templates/link_invalid.html")),
    ("spid_cie_only.html", include_str!("../templates/spid_cie_only.html")),
    (
        "_upstream_buttons.html",
        include_str!("../templates/_upstream_buttons.html"),
    ),
    ("upstream_spid.html", include_str!("../templates/upstream_spid.html")),
    (
        "upstream_choose.html",
        include_str!("../templates/upstream_choose.html"),
    ),
    (
        "upstream_refused.html",
        include_str!("../templates/upstream_refused.html"),
    ),
    (
        "_sign_in_notices.html",
        include_str!("../templates/_sign_in_notices.html"),
    ),
    ("email_change.html", include_str!("../templates/email_change.html")),
    (
        "email_change_sent.html",
        include_str!("../templates/email_change_sent.html"),
    ),
    ("email_confirm.html", include_str!("../templates/email_confirm.html")),
    (
        "email_confirmed.html",
        include_str!("../templates/email_confirmed.html"),
    ),
    ("email_undo.html", include_str!("../templates/email_undo.html")),
    ("email_undone.html", include_str!("../templates/email_undone.html")),
    (
        "email_link_invalid.html",
        include_str!("../templates/email_link_invalid.html"),
    ),
    ("sessions.html", include_str!("../templates/sessions.html")),
    ("desk.html", include_str!("../templates/desk.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    ("admin_audit.html", include_str!("../templates/admin_audit.html")),
    ("admin_outbox.html", include_str!("../templates/admin_outbox.html")),
    ("admin_schools.html", include_str!("../templates/admin_schools.html")),
    ("admin_school.html", include_str!("../templates/admin_school.html")),
    (
        "admin_operators.html",
        include_str!("../templates/admin_operators.html"),
    ),
    ("admin_clients.html", include_str!("../templates/admin_clients.html")),
    ("desk_account.html", include_str!("../templates/desk_account.html")),
    ("desk_confirm.html", include_str!("../templates/desk_confirm.html")),
    ("desk_letter.html", include_str!("../templates/desk_letter.html")),
    ("recover.html", include_str!("../templates/recover.html")),
    (
        "password_change.html",
        include_str!("../templates/password_change.html"),
    ),
    (
        "password_changed.html",
        include_str!("../templates/password_changed.html"),
    ),
];

/// The bundled MiniJinja page templates, with a `t(key, ...)` function that reads the Fluent
/// messages.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

fn to_fluent(value: &Value) -> FluentValue<'static> {
    if let Some(n) = value.as_i64() {
        FluentValue::from(n)
    } else {
        FluentValue::from(value.to_string())
    }
}

impl Templates {
    /// Loads the bundled templates (panics if one does not parse: they are compiled in).
    pub fn load(i18n: Arc<I18n>) -> Templates {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source).expect("the bundled templates parse");
        }
        env.add_function(
            "t",
            move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, Error> {
                let lang = state
                    .lookup("lang")
                    .and_then(|v| v.as_str().and_then(Lang::from_code))
                    .ok_or_else(|| Error::new(ErrorKind::UndefinedError, "the page has no lang"))?;
                let args: Vec<(&str, FluentValue<'_>)> = kwargs
                    .args()
                    .map(|name| Ok((name, to_fluent(&kwargs.get::<Value>(name)?))))
                    .collect::<Result<_, Error>>()?;
                kwargs.assert_all_used()?;
                Ok(i18n.text(lang, key, &args))
            },
        );
        Templates { env }
    }

    /// Renders a template with `context`.
    pub fn render(&self, name: &str, context: Value) -> Result<String, Error> {
        self.env.get_template(name)?.render(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literal keys in `text`: what follows each `marker` up to the closing quote.
    fn keys_after<'a>(text: &'a str, marker: &str, quote: char) -> Vec<&'a str> {
        text.match_indices(marker)
            .filter_map(|(i, m)| {
                let rest = &text[i + m.len()..];
                let end = rest.find(quote)?;
                let key = &rest[..end];
                // `t("account-kind-" ~ kind)`: a prefix, not a key.
                let after = rest[end + 1..].trim_start();
                let whole = after.starts_with(')') || after.starts_with(',');
                (whole && !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                    .then_some(key)
            })
            .collect()
    }

    #[test]
    fn every_key_the_templates_and_pages_use_exists_in_both_languages() {
        let mut used: Vec<String> = Vec::new();
        for (_, source) in TEMPLATES {
            used.extend(keys_after(source, "t(\"", '"').into_iter().map(str::to_owned));
            used.extend(keys_after(source, "t('", '\'').into_iter().map(str::to_owned));
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src.join("security.rs"), src.join("problem.rs")];
        for entry in std::fs::read_dir(src.join("pages")).expect("pages folder") {
            files.push(entry.expect("entry").path());
        }
        for file in files {
            let source = std::fs::read_to_string(&file).expect("source file");
            for marker in ["text(lang, \"", "text(&state, \"", "text(state, \""] {
                used.extend(keys_after(&source, marker, '"').into_iter().map(str::to_owned));
            }
        }
        used.extend(Branding::default().links().iter().map(|l| l.key.to_owned()));
        used.extend(["footer-privacy", "footer-legal-notes", "footer-accessibility"].map(str::to_owned));
        assert!(used.len() > 100, "{} keys found: the scan is broken", used.len());
        let i18n = I18n::load();
        for &lang in Lang::ALL {
            let missing: Vec<&String> = used.iter().filter(|k| !i18n.has(lang, k)).collect();
            assert!(missing.is_empty(), "missing in {}: {missing:?}", lang.code());
        }
    }

    fn named(name: &str) -> Branding {
        Branding {
            name: Some(name.into()),
            ..Branding::default()
        }
    }

    #[test]
    fn the_mail_sender_takes_the_deployment_name() {
        let b = named("IC Via Roma – Registro elettronico");
        assert_eq!(
            b.mail_from("Varco <no-reply@varco.invalid>"),
            "\"IC Via Roma – Registro elettronico\" <no-reply@varco.invalid>"
        );
        assert_eq!(
            b.mail_from("no-reply@scuola.it"),
            "\"IC Via Roma – Registro elettronico\" <no-reply@scuola.it>"
        );
        // A sender the operator named is left alone.
        assert_eq!(b.mail_from("Segreteria <s@scuola.it>"), "Segreteria <s@scuola.it>");
        // Quotes cannot break out of the display name.
        assert_eq!(named("A \"B\"").mail_from("x@y.it"), "\"A \\\"B\\\"\" <x@y.it>");
        // No name: the configured sender as it is.
        assert_eq!(Branding::default().mail_from("Varco <a@b.it>"), "Varco <a@b.it>");
    }

    #[test]
    fn only_configured_footer_links_are_shown() {
        let b = Branding {
            privacy_url: Some("https://s.it/privacy".into()),
            legal_notes_url: Some("  ".into()),
            ..Branding::default()
        };
        assert_eq!(
            b.links(),
            vec![FooterLink {
                key: "footer-privacy",
                url: "https://s.it/privacy".into()
            }]
        );
        assert!(Branding::default().links().is_empty());
    }
}

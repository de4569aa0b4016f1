//! Translations: Fluent files under `locales/`, Italian by default.
//!
//! The language of a request comes, in order, from the `varco_lang` cookie
//! (set by the visible switch), the `Accept-Language` header, and finally
//! Italian. Every text a person reads is a Fluent message; a message missing
//! in one language is a test failure, not a silent fallback.

use std::collections::HashMap;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// The languages Varco speaks: the domain's vocabulary, the same for pages,
/// emails and the account's remembered preference.
pub use varco_domain::Lang;

/// Picks the best language from an `Accept-Language` header (RFC 9110
/// weights); Italian when nothing matches.
pub fn negotiate(accept_language: Option<&str>) -> Lang {
    let Some(header) = accept_language else {
        return Lang::It;
    };
    let mut best: Option<(f32, usize, Lang)> = None;
    for (position, item) in header.split(',').enumerate() {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let weight = parts
            .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(lang) = Lang::from_code(primary)
            && weight > 0.0
            && best.is_none_or(|(w, p, _)| weight > w || (weight == w && position < p))
        {
            best = Some((weight, position, lang));
        }
    }
    best.map(|(_, _, lang)| lang).unwrap_or(Lang::It)
}

/// The language of a request: the switch's cookie, then `Accept-Language`.
pub fn lang_of(headers: &axum::http::HeaderMap) -> Lang {
    crate::session::cookie_value(headers, crate::session::LANG_COOKIE)
        .and_then(|c| Lang::from_code(&c))
        .unwrap_or_else(|| {
            negotiate(
                headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )
        })
}

/// The Fluent files of each language (one resource per area of the product).
const SOURCES: [(Lang, &[&str]); 2] = [
    (
        Lang::It,
        &[
            include_str!("../locales/it/main.ftl"),
            include_str!("../locales/it/recovery.ftl"),
            include_str!("../locales/it/account.ftl"),
            include_str!("../locales/it/oidc.ftl"),
            include_str!("../locales/it/login_policy.ftl"),
            include_str!("../locales/it/upstream.ftl"),
            include_str!("../locales/it/desk.ftl"),
            include_str!("../locales/it/requests.ftl"),
            include_str!("../locales/it/desk_recovery.ftl"),
            include_str!("../locales/it/admin.ftl"),
            include_str!("../locales/it/students.ftl"),
            include_str!("../locales/it/confirm.ftl"),
        ],
    ),
    (
        Lang::En,
        &[
            include_str!("../locales/en/main.ftl"),
            include_str!("../locales/en/recovery.ftl"),
            include_str!("../locales/en/account.ftl"),
            include_str!("../locales/en/oidc.ftl"),
            include_str!("../locales/en/login_policy.ftl"),
            include_str!("../locales/en/upstream.ftl"),
            include_str!("../locales/en/desk.ftl"),
            include_str!("../locales/en/requests.ftl"),
            include_str!("../locales/en/desk_recovery.ftl"),
            include_str!("../locales/en/admin.ftl"),
            include_str!("../locales/en/students.ftl"),
            include_str!("../locales/en/confirm.ftl"),
        ],
    ),
];

/// The loaded bundles.
pub struct I18n {
    bundles: HashMap<Lang, FluentBundle<FluentResource>>,
}

impl std::fmt::Debug for I18n {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I18n").finish_non_exhaustive()
    }
}

impl I18n {
    /// Parses the bundled Fluent files of every language (panics if one does not parse:
    /// they are compiled in).
    pub fn load() -> I18n {
        let mut bundles = HashMap::new();
        for (lang, sources) in SOURCES {
            let id: LanguageIdentifier = lang.code().parse().expect("language identifier");
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            bundle.set_use_isolating(false);
            for source in sources {
                let resource = FluentResource::try_new((*source).to_owned()).expect("the bundled Fluent files parse");
                bundle.add_resource(resource).expect("no duplicate Fluent messages");
            }
            bundles.insert(lang, bundle);
        }
        I18n { bundles }
    }

    /// Whether the language has a message with this key.
    pub fn has(&self, lang: Lang, key: &str) -> bool {
        self.bundles[&lang].has_message(key)
    }

    /// The text of a message; the key itself when it is missing (tests catch that).
    pub fn text(&self, lang: Lang, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let bundle = &self.bundles[&lang];
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(key, lang = lang.code(), "missing translation");
            return key.to_owned();
        };
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, Some(&fluent_args), &mut errors)
            .into_owned()
    }

    /// Message ids of one language, for the completeness test.
    pub fn message_ids(lang: Lang) -> Vec<String> {
        let sources = SOURCES.iter().find(|(l, _)| *l == lang).map(|(_, s)| *s).unwrap_or(&[]);
        sources
            .iter()
            .flat_map(|s| s.lines())
            .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains(" = "))
            .filter_map(|l| l.split(" = ").next().map(str::to_owned))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn italian_is_the_default_and_weights_are_honoured() {
        assert_eq!(negotiate(None), Lang::It);
        assert_eq!(negotiate(Some("de-DE,fr;q=0.8")), Lang::It);
        assert_eq!(negotiate(Some("en-GB,en;q=0.9,it;q=0.8")), Lang::En);
        assert_eq!(negotiate(Some("it-IT,it;q=0.9,en;q=0.8")), Lang::It);
        assert_eq!(negotiate(Some("en;q=0.2, it;q=0.9")), Lang::It);
        assert_eq!(negotiate(Some("en;q=0")), Lang::It);
    }

    #[test]
    fn every_message_exists_in_both_languages() {
        let it = I18n::message_ids(Lang::It);
        let en = I18n::message_ids(Lang::En);
        assert!(it.len() > 50, "{} messages", it.len());
        let missing_en: Vec<_> = it.iter().filter(|k| !en.contains(k)).collect();
        let missing_it: Vec<_> = en.iter().filter(|k| !it.contains(k)).collect();
        assert!(missing_en.is_empty(), "missing in English: {missing_en:?}");
        assert!(missing_it.is_empty(), "missing in Italian: {missing_it:?}");
    }

    #[test]
    fn arguments_are_formatted_without_isolation_marks() {
        let i18n = I18n::load();
        let text = i18n.text(Lang::It, "login-throttled", &[("seconds", FluentValue::from(30))]);
        assert_eq!(text, "Troppi tentativi da questa connessione. Riprova tra 30 secondi.");
    }
}

//! What a refused form shows: each error tied to its field (the templates
//! mark the field `aria-invalid` and point `aria-describedby` at the error
//! text, and list every error in a summary that takes the focus), and the
//! password-strength advice apart from the errors.

use std::collections::BTreeMap;

use serde::Serialize;
use varco_domain::password::{PasswordPolicy, PolicyRefusal};

use crate::WebState;
use crate::i18n::Lang;

/// One error: the field it is about (its `id`), if any, and the text.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// The `id` of the field at fault, or `None` for the whole form.
    pub field: Option<&'static str>,
    /// The text shown, in the visitor's language.
    pub message: String,
}

/// The errors and advice of a refused form.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FormErrors {
    /// In the order of the form's fields; general errors first.
    pub errors: Vec<FieldError>,
    /// Strength advice: not errors, shown apart.
    pub advice: Vec<String>,
    /// The text for each field with an error (several joined by a space).
    pub by_field: BTreeMap<&'static str, String>,
}

impl FormErrors {
    /// No error (a form shown for the first time).
    pub fn none() -> FormErrors {
        FormErrors::default()
    }

    /// One error about one field.
    pub fn on(field: &'static str, message: String) -> FormErrors {
        let mut errors = FormErrors::default();
        errors.push(Some(field), message);
        errors
    }

    /// One error about the whole form.
    pub fn general(message: String) -> FormErrors {
        let mut errors = FormErrors::default();
        errors.push(None, message);
        errors
    }

    /// Adds an error about `field` (or the whole form, for `None`).
    pub fn push(&mut self, field: Option<&'static str>, message: String) {
        if let Some(field) = field {
            self.by_field
                .entry(field)
                .and_modify(|m| {
                    m.push(' ');
                    m.push_str(&message);
                })
                .or_insert_with(|| message.clone());
        }
        self.errors.push(FieldError { field, message });
    }

    /// Whether there is no error (advice does not count).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// A refused password: one error per violated rule on `field`, and the
    /// strength estimator's advice.
    pub fn policy(
        state: &WebState,
        lang: Lang,
        field: &'static str,
        policy: &PasswordPolicy,
        refusal: &PolicyRefusal,
    ) -> FormErrors {
        let min = (policy.min_length as i64).into();
        let max = (policy.max_length as i64).into();
        let mut errors = FormErrors::default();
        for v in &refusal.violations {
            let text = state.i18n.text(
                lang,
                &format!("policy-{}", v.code()),
                &[
                    ("min", fluent_bundle::FluentValue::clone(&min)),
                    ("max", fluent_bundle::FluentValue::clone(&max)),
                ],
            );
            errors.push(Some(field), text);
        }
        if let Some(feedback) = &refusal.feedback {
            for code in feedback.warning.iter().chain(feedback.suggestions.iter()) {
                errors
                    .advice
                    .push(state.i18n.text(lang, &format!("feedback-{code}"), &[]));
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_kept_per_field_and_in_order() {
        let mut e = FormErrors::general("a".into());
        e.push(Some("new_password"), "b".into());
        e.push(Some("new_password"), "c".into());
        assert_eq!(e.errors.len(), 3);
        assert_eq!(e.errors[0].field, None);
        assert_eq!(e.by_field.get("new_password").map(String::as_str), Some("b c"));
        assert!(!e.is_empty());
        assert!(FormErrors::none().is_empty());
    }
}

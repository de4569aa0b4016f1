//! The acts the register asks Varco to confirm: for each, the sentence the
//! person reads on Varco's page and the machine payload bound to it.
//!
//! Invariant: a payload is built with every object's keys in sorted order,
//! so `serde_json::to_vec` gives the same bytes whether serde_json keeps
//! insertion order (its `preserve_order` feature, which other crates may turn
//! on) or sorts (its default); [`payload_hash`] is then the hash Varco
//! computes, and the very same `Value` is sent at creation and at
//! redemption.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::civil::Date;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Varco's limit on a description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// Varco's limit on a serialized payload, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 8192;

/// The longest free text the person may add to "altro".
pub const MAX_NOTE_CHARS: usize = 200;

/// The one application a teacher confirms in this example.
pub const APPLICATION_ID: &str = "mobilita-2027-28";

/// Its title, as pages and the description show it.
pub const APPLICATION_TITLE: &str = "Domanda di mobilità 2027/28";

/// `payload_hash` as Varco computes it: base64url without padding of the
/// SHA-256 of `serde_json::to_vec(payload)`.
#[must_use]
pub fn payload_hash(payload: &Value) -> String {
    // Serializing a `Value` cannot fail (its keys are strings).
    let bytes = serde_json::to_vec(payload).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// A date as Italians write it: `12/11/2026`.
#[must_use]
pub fn italian_date(date: Date) -> String {
    date.strftime("%d/%m/%Y").to_string()
}

/// Why the absences are justified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// "motivi di salute".
    Health,
    /// "motivi di famiglia".
    Family,
    /// "altro", with the person's words.
    Other(String),
}

/// What is wrong with the justification form, in Italian, for the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// No absence was ticked.
    #[error("Seleziona almeno un'assenza da giustificare.")]
    NoAbsence,
    /// The reason is missing or not one of the three.
    #[error("Scegli il motivo dell'assenza.")]
    NoReason,
    /// "altro" without a word.
    #[error("Con il motivo «altro» scrivi una breve spiegazione.")]
    NoteMissing,
    /// A note longer than [`MAX_NOTE_CHARS`].
    #[error("La spiegazione può essere lunga al massimo {MAX_NOTE_CHARS} caratteri.")]
    NoteTooLong,
    /// A ticked absence that is not (or no longer) to be justified.
    #[error("Una delle assenze selezionate non è da giustificare: ricarica la pagina e riprova.")]
    UnknownAbsence,
    /// Too much for one confirmation.
    #[error("Le assenze selezionate sono troppe per una sola giustificazione: giustificale in più volte.")]
    TooLong,
}

impl Reason {
    /// The reason chosen in the form (`salute`, `famiglia`, `altro`) and the
    /// text typed next to it (used only with `altro`).
    pub fn from_form(code: &str, note: &str) -> Result<Reason, FormError> {
        let note = note.trim();
        match code {
            "salute" => Ok(Reason::Health),
            "famiglia" => Ok(Reason::Family),
            "altro" if note.is_empty() => Err(FormError::NoteMissing),
            "altro" if note.chars().count() > MAX_NOTE_CHARS => Err(FormError::NoteTooLong),
            "altro" => Ok(Reason::Other(note.to_owned())),
            _ => Err(FormError::NoReason),
        }
    }

    /// The code in the payload and the store.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Health => "salute",
            Reason::Family => "famiglia",
            Reason::Other(_) => "altro",
        }
    }

    /// The person's words for `altro`.
    #[must_use]
    pub fn note(&self) -> Option<&str> {
        match self {
            Reason::Other(note) => Some(note),
            _ => None,
        }
    }

    /// How the description and the pages say it.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Reason::Health => "motivi di salute".into(),
            Reason::Family => "motivi di famiglia".into(),
            Reason::Other(note) => format!("altro ({note})"),
        }
    }

    /// A reason read back from the store.
    #[must_use]
    pub fn from_stored(code: &str, note: Option<&str>) -> Reason {
        match code {
            "salute" => Reason::Health,
            "famiglia" => Reason::Family,
            _ => Reason::Other(note.unwrap_or_default().to_owned()),
        }
    }
}

/// One or several absences of one student, justified for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Justification {
    /// The student's id (pseudonymous, as Varco gives it to this register).
    pub student: String,
    /// The student's name, for the description.
    pub student_name: String,
    /// The days, sorted, without repetitions, at least one.
    pub dates: Vec<Date>,
    /// Why.
    pub reason: Reason,
}

impl Justification {
    /// A justification of `dates` (any order, repeats ignored), checked
    /// against Varco's limits.
    pub fn new(student: &str, student_name: &str, mut dates: Vec<Date>, reason: Reason) -> Result<Self, FormError> {
        dates.sort();
        dates.dedup();
        if dates.is_empty() {
            return Err(FormError::NoAbsence);
        }
        let justification = Justification {
            student: student.to_owned(),
            student_name: student_name.to_owned(),
            dates,
            reason,
        };
        let payload = serde_json::to_vec(&justification.payload()).unwrap_or_default();
        if justification.description().chars().count() > MAX_DESCRIPTION_CHARS || payload.len() > MAX_PAYLOAD_BYTES {
            return Err(FormError::TooLong);
        }
        Ok(justification)
    }

    /// The sentence the person reads on Varco's page: "Giustificazione
    /// delle assenze di Marco Rossi del 12/11/2026 e del 13/11/2026 —
    /// motivo: motivi di salute".
    #[must_use]
    pub fn description(&self) -> String {
        let days: Vec<String> = self.dates.iter().map(|d| format!("del {}", italian_date(*d))).collect();
        let days = match days.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} e {last}", rest.join(", ")),
            None => String::new(),
        };
        let what = if self.dates.len() == 1 {
            "dell'assenza"
        } else {
            "delle assenze"
        };
        format!(
            "Giustificazione {what} di {} {days} — motivo: {}",
            self.student_name,
            self.reason.label()
        )
    }

    /// The machine payload: `{"absences": [{"date", "student"}, …],
    /// "reason": "salute"|"famiglia"|"altro", ["reason_text": …,]
    /// "students": [id], "type": "absence_justification"}`. `students`
    /// asks Varco to check that the person is still a guardian of the
    /// student (at creation, confirmation and redemption).
    #[must_use]
    pub fn payload(&self) -> Value {
        let absences: Vec<Value> = self
            .dates
            .iter()
            .map(|d| json!({"date": d.to_string(), "student": self.student}))
            .collect();
        // Keys in sorted order (see the module's invariant).
        let mut payload = serde_json::Map::new();
        payload.insert("absences".into(), Value::Array(absences));
        payload.insert("reason".into(), json!(self.reason.code()));
        if let Some(note) = self.reason.note() {
            payload.insert("reason_text".into(), json!(note));
        }
        payload.insert("students".into(), json!([self.student]));
        payload.insert("type".into(), json!("absence_justification"));
        Value::Object(payload)
    }
}

/// The teacher's application, confirmed with the personal code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Who confirms it, for the description.
    pub applicant_name: String,
}

impl Application {
    /// "Conferma della domanda di mobilità 2027/28 di Maria Docente".
    #[must_use]
    pub fn description(&self) -> String {
        format!("Conferma della domanda di mobilità 2027/28 di {}", self.applicant_name)
    }

    /// `{"application": "mobilita-2027-28", "type": "application"}`.
    #[must_use]
    pub fn payload(&self) -> Value {
        json!({"application": APPLICATION_ID, "type": "application"})
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn marco(dates: Vec<Date>, reason: Reason) -> Justification {
        Justification::new("st-1", "Marco Rossi", dates, reason).unwrap()
    }

    #[test]
    fn the_description_names_the_child_the_days_and_the_reason() {
        let two = marco(vec![date(2026, 11, 13), date(2026, 11, 12)], Reason::Health);
        assert_eq!(
            two.description(),
            "Giustificazione delle assenze di Marco Rossi del 12/11/2026 e del 13/11/2026 — motivo: motivi di salute"
        );
        let one = marco(vec![date(2026, 11, 12)], Reason::Family);
        assert_eq!(
            one.description(),
            "Giustificazione dell'assenza di Marco Rossi del 12/11/2026 — motivo: motivi di famiglia"
        );
        let three = marco(
            vec![
                date(2026, 11, 19),
                date(2026, 11, 12),
                date(2026, 11, 13),
                date(2026, 11, 12),
            ],
            Reason::from_form("altro", "  visita in questura ").unwrap(),
        );
        assert_eq!(
            three.description(),
            "Giustificazione delle assenze di Marco Rossi del 12/11/2026, del 13/11/2026 e del 19/11/2026 \
             — motivo: altro (visita in questura)"
        );
    }

    #[test]
    fn the_payload_lists_each_absence_and_the_student() {
        let two = marco(vec![date(2026, 11, 13), date(2026, 11, 12)], Reason::Health);
        assert_eq!(
            two.payload(),
            json!({
                "type": "absence_justification",
                "students": ["st-1"],
                "absences": [
                    {"student": "st-1", "date": "2026-11-12"},
                    {"student": "st-1", "date": "2026-11-13"},
                ],
                "reason": "salute",
            })
        );
        let other = marco(vec![date(2026, 11, 12)], Reason::Other("visita".into()));
        assert_eq!(other.payload()["reason"], "altro");
        assert_eq!(other.payload()["reason_text"], "visita");
        assert!(two.payload().get("reason_text").is_none());
        assert_eq!(
            Application {
                applicant_name: "Maria Docente".into()
            }
            .description(),
            "Conferma della domanda di mobilità 2027/28 di Maria Docente"
        );
    }

    #[test]
    fn payload_keys_are_serialized_in_sorted_order() {
        let payload = marco(vec![date(2026, 11, 12)], Reason::Other("x".into())).payload();
        assert_eq!(
            String::from_utf8(serde_json::to_vec(&payload).unwrap()).unwrap(),
            r#"{"absences":[{"date":"2026-11-12","student":"st-1"}],"reason":"altro","reason_text":"x","students":["st-1"],"type":"absence_justification"}"#
        );
        let application = Application {
            applicant_name: "M".into(),
        }
        .payload();
        assert_eq!(
            serde_json::to_string(&application).unwrap(),
            r#"{"application":"mobilita-2027-28","type":"application"}"#
        );
    }

    #[test]
    fn the_payload_hash_is_base64url_of_the_sha256_of_the_compact_json() {
        // SHA-256 of the 2 bytes `{}`, checked with `printf '{}' | sha256sum`.
        assert_eq!(payload_hash(&json!({})), "RBNvo1WzZ4oRRq0W9-hknpT7T8If536DEMBg9hyq_4o");
        let payload = marco(vec![date(2026, 11, 12), date(2026, 11, 13)], Reason::Health).payload();
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(serde_json::to_vec(&payload).unwrap()));
        assert_eq!(payload_hash(&payload), expected);
        assert_eq!(payload_hash(&payload).len(), 43, "no padding");
        assert!(!payload_hash(&payload).contains(['+', '/', '=']));
        // Any change of the act changes the hash.
        let family = marco(vec![date(2026, 11, 12), date(2026, 11, 13)], Reason::Family).payload();
        let one_day = marco(vec![date(2026, 11, 12)], Reason::Health).payload();
        assert_ne!(payload_hash(&payload), payload_hash(&family));
        assert_ne!(payload_hash(&payload), payload_hash(&one_day));
    }

    #[test]
    fn bad_forms_are_refused_with_a_reason() {
        assert_eq!(Reason::from_form("", ""), Err(FormError::NoReason));
        assert_eq!(Reason::from_form("vacanza", ""), Err(FormError::NoReason));
        assert_eq!(Reason::from_form("altro", "   "), Err(FormError::NoteMissing));
        assert_eq!(
            Reason::from_form("altro", &"x".repeat(201)),
            Err(FormError::NoteTooLong)
        );
        assert_eq!(
            Reason::from_form("altro", &"è".repeat(200)),
            Ok(Reason::Other("è".repeat(200)))
        );
        assert_eq!(Reason::from_form("salute", "ignored"), Ok(Reason::Health));
        assert_eq!(
            Justification::new("st-1", "Marco Rossi", Vec::new(), Reason::Health),
            Err(FormError::NoAbsence)
        );
        let many: Vec<Date> = (1..=31).map(|d| date(2026, 10, d)).collect();
        assert_eq!(
            Justification::new("st-1", "Marco Rossi", many, Reason::Health),
            Err(FormError::TooLong),
            "more than 500 characters of description"
        );
    }
}

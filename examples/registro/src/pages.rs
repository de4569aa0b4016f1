//! The register's pages: Italian, plain HTML forms that work without
//! JavaScript, one `h1` each, every control labelled. Templates are
//! compiled in and escape what they show (minijinja's HTML auto-escaping,
//! by the `.html` names).

use std::collections::BTreeSet;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use minijinja::{Environment, context};
use serde::Serialize;

use crate::act::{APPLICATION_ID, APPLICATION_TITLE, Reason, italian_date};
use crate::person::Person;
use crate::session::Flash;
use crate::store::{Confirmed, Data};

const TEMPLATES: [(&str, &str); 5] = [
    ("base.html", include_str!("../templates/base.html")),
    ("welcome.html", include_str!("../templates/welcome.html")),
    ("home.html", include_str!("../templates/home.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("bye.html", include_str!("../templates/bye.html")),
];

/// The compiled templates and the headers every page carries.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
    csp: HeaderValue,
}

/// What the person typed in a justification form the register refused, to
/// show it again with the reason.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FormState {
    /// The student the form was for.
    pub student: String,
    /// The message.
    pub error: String,
    /// The ticked days.
    pub dates: BTreeSet<String>,
    /// The chosen reason code.
    pub reason: String,
    /// The typed text.
    pub note: String,
}

#[derive(Serialize)]
struct ChildView {
    id: String,
    name: String,
    details: String,
    absences: Vec<AbsenceView>,
    pending: usize,
    form: Option<FormState>,
}

#[derive(Serialize)]
struct AbsenceView {
    date: String,
    label: String,
    checked: bool,
    justified: Option<JustifiedView>,
}

#[derive(Serialize)]
struct JustifiedView {
    reason: String,
    when: String,
    confirmation: String,
}

#[derive(Serialize)]
struct ApplicationView {
    title: &'static str,
    confirmed: Option<JustifiedView>,
}

#[derive(Serialize)]
struct PersonView<'a> {
    name: &'a str,
    school: Option<&'a str>,
    staff: bool,
}

/// "giovedì 12/11/2026".
#[must_use]
pub fn day_label(date: Date) -> String {
    let day = match date.weekday() {
        Weekday::Monday => "lunedì",
        Weekday::Tuesday => "martedì",
        Weekday::Wednesday => "mercoledì",
        Weekday::Thursday => "giovedì",
        Weekday::Friday => "venerdì",
        Weekday::Saturday => "sabato",
        Weekday::Sunday => "domenica",
    };
    format!("{day} {}", italian_date(date))
}

/// A Unix time in the school's zone: "26/11/2026 alle 18:34".
#[must_use]
pub fn italian_time(unix: i64) -> String {
    let zone = TimeZone::get("Europe/Rome").unwrap_or(TimeZone::UTC);
    jiff::Timestamp::from_second(unix)
        .map(|t| t.to_zoned(zone).strftime("%d/%m/%Y alle %H:%M").to_string())
        .unwrap_or_default()
}

fn confirmed_view(reason: String, confirmed: &Confirmed) -> JustifiedView {
    JustifiedView {
        reason,
        when: italian_time(confirmed.confirmed_at),
        confirmation: confirmed.confirmation.clone(),
    }
}

impl Pages {
    /// Compiles the templates; `varco_origin` may receive the forms'
    /// redirects (the Content-Security-Policy's `form-action`).
    #[must_use]
    pub fn new(varco_origin: &str) -> Pages {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source).expect("the bundled templates parse");
        }
        let csp = format!(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {varco_origin}; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        Pages {
            env,
            csp: HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
        }
    }

    fn render(&self, status: StatusCode, name: &str, context: minijinja::Value) -> Response {
        let body = match self.env.get_template(name).and_then(|t| t.render(context)) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(template = name, "cannot render: {e:#}");
                return (StatusCode::INTERNAL_SERVER_ERROR, "Errore interno del registro.").into_response();
            }
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        response
    }

    /// The page of someone not signed in.
    pub fn welcome(&self, flash: Option<&Flash>) -> Response {
        self.render(
            StatusCode::OK,
            "welcome.html",
            context! { title => "Registro elettronico", flash => flash_view(flash) },
        )
    }

    /// The signed-in person's page: their children's absences, the
    /// teacher's application; `form` shows a refused form again.
    pub fn home(
        &self,
        status: StatusCode,
        person: &Person,
        data: &Data,
        csrf: &str,
        flash: Option<&Flash>,
        form: Option<&FormState>,
    ) -> Response {
        let children: Vec<ChildView> = person
            .students
            .iter()
            .map(|student| {
                let form = form.filter(|f| f.student == student.id).cloned();
                let absences: Vec<AbsenceView> = data
                    .students
                    .get(&student.id)
                    .map(|r| r.absences.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .map(|absence| AbsenceView {
                        date: absence.date.to_string(),
                        label: day_label(absence.date),
                        checked: form
                            .as_ref()
                            .is_some_and(|f| f.dates.contains(&absence.date.to_string())),
                        justified: absence.justified.as_ref().map(|j| {
                            let reason = Reason::from_stored(&j.reason, j.reason_text.as_deref());
                            confirmed_view(reason.label(), &j.confirmed)
                        }),
                    })
                    .collect();
                let details = [
                    (!student.class_name.is_empty()).then(|| format!("classe {}", student.class_name)),
                    Some(school_order_label(&student.school_order).to_owned()),
                    Some(student.school.clone()),
                    Some(student.building.clone()),
                ]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · ");
                ChildView {
                    id: student.id.clone(),
                    name: student.name(),
                    details,
                    pending: absences.iter().filter(|a| a.justified.is_none()).count(),
                    absences,
                    form,
                }
            })
            .collect();
        let application = person.staff.then(|| ApplicationView {
            title: APPLICATION_TITLE,
            confirmed: data
                .applications
                .get(&person.sub)
                .and_then(|mine| mine.get(APPLICATION_ID))
                .map(|c| confirmed_view(String::new(), c)),
        });
        self.render(
            status,
            "home.html",
            context! {
                title => "Registro elettronico",
                person => PersonView { name: &person.name, school: person.school.as_deref(), staff: person.staff },
                csrf,
                flash => flash_view(flash),
                children,
                application,
            },
        )
    }

    /// A clear page for something that went wrong; `unchanged` adds that
    /// no data was changed.
    pub fn error(&self, status: StatusCode, title: &str, text: &str, unchanged: bool) -> Response {
        self.render(status, "error.html", context! { title, text, unchanged })
    }

    /// After signing out.
    pub fn bye(&self, varco: &str) -> Response {
        self.render(
            StatusCode::OK,
            "bye.html",
            context! { title => "Sei uscito dal registro", varco },
        )
    }
}

fn flash_view(flash: Option<&Flash>) -> Option<minijinja::Value> {
    flash.map(|f| context! { kind => f.kind, text => f.text })
}

/// The school order as Italian families read it (the claim carries the
/// glossary's code, `primary` and so on).
fn school_order_label(code: &str) -> &str {
    match code {
        "preschool" => "scuola dell'infanzia",
        "primary" => "scuola primaria",
        "lower_secondary" => "secondaria di I grado",
        "upper_secondary" => "secondaria di II grado",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::person::Student;
    use crate::store::{Absence, Justified, StudentRecord};

    fn parent() -> Person {
        Person {
            sub: "sub-1".into(),
            name: "Giulia <Genitore>".into(),
            staff: false,
            school: Some("IC Demo".into()),
            students: vec![Student {
                id: "st-1".into(),
                given_name: "Marco".into(),
                family_name: "Rossi".into(),
                school: "IC Demo".into(),
                school_order: "primaria".into(),
                class_name: "3A".into(),
                building: String::new(),
            }],
        }
    }

    fn data() -> Data {
        let mut data = Data::default();
        data.students.insert(
            "st-1".into(),
            StudentRecord {
                absences: vec![
                    Absence {
                        date: date(2026, 11, 12),
                        justified: Some(Justified {
                            reason: "salute".into(),
                            reason_text: None,
                            confirmed: Confirmed {
                                confirmation: "conf-1".into(),
                                confirmed_at: 1_795_710_840,
                                acr: "urn:varco:acr:second-secret".into(),
                            },
                        }),
                    },
                    Absence {
                        date: date(2026, 11, 13),
                        justified: None,
                    },
                ],
            },
        );
        data
    }

    /// The page's HTML, with the `/` minijinja escapes as `&#x2f;` put back.
    fn body(response: Response) -> String {
        let bytes = futures_body(response);
        String::from_utf8(bytes).unwrap().replace("&#x2f;", "/")
    }

    fn futures_body(response: Response) -> Vec<u8> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
            .unwrap()
            .to_vec()
    }

    #[test]
    fn dates_and_times_read_the_italian_way() {
        assert_eq!(day_label(date(2026, 11, 12)), "giovedì 12/11/2026");
        assert_eq!(day_label(date(2026, 11, 15)), "domenica 15/11/2026");
        // 1_795_710_840 is 2026-11-26 16:34 UTC: 17:34 in Rome (CET).
        assert_eq!(italian_time(1_795_710_840), "26/11/2026 alle 17:34");
        // Summer time: 2026-07-01 10:00 UTC is 12:00 in Rome (CEST).
        assert_eq!(italian_time(1_782_900_000), "01/07/2026 alle 12:00");
    }

    #[test]
    fn the_home_page_lists_absences_labels_controls_and_escapes() {
        let pages = Pages::new("http://127.0.0.1:8080");
        let response = pages.home(StatusCode::OK, &parent(), &data(), "tok", None, None);
        assert!(
            response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("form-action 'self' http://127.0.0.1:8080")
        );
        let page = body(response);
        assert!(page.contains("<html lang=\"it\">"), "{page}");
        assert!(page.contains("Giulia &lt;Genitore&gt;") && !page.contains("<Genitore>"));
        assert_eq!(page.matches("<h1").count(), 1);
        assert!(page.contains("Marco Rossi") && page.contains("classe 3A · primaria · IC Demo"));
        assert!(page.contains("giovedì 12/11/2026") && page.contains("Giustificata"));
        assert!(page.contains("motivi di salute") && page.contains("26/11/2026 alle 17:34"));
        // Only the pending day has a checkbox, and it is labelled.
        assert_eq!(page.matches("type=\"checkbox\"").count(), 1);
        assert!(page.contains("value=\"2026-11-13\""));
        let id = page
            .split("type=\"checkbox\" id=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        assert!(page.contains(&format!("<label for=\"{id}\">")), "{page}");
        assert!(page.contains("name=\"csrf\" value=\"tok\""));
        for control in ["name=\"reason\"", "name=\"note\""] {
            let id = page
                .split(control)
                .next()
                .and_then(|before| before.rsplit("id=\"").next())
                .and_then(|rest| rest.split('"').next())
                .unwrap();
            assert!(page.contains(&format!("<label for=\"{id}\">")), "{control}: {page}");
        }
        assert!(page.contains(">Giustifica</button>"));
        assert!(!page.contains("Domanda di mobilità"), "a parent has no application");
    }

    #[test]
    fn a_refused_form_is_shown_again_with_its_error_and_choices() {
        let pages = Pages::new("http://127.0.0.1:8080");
        let form = FormState {
            student: "st-1".into(),
            error: "Con il motivo «altro» scrivi una breve spiegazione.".into(),
            dates: ["2026-11-13".to_owned()].into(),
            reason: "altro".into(),
            note: "<b>".into(),
        };
        let page = body(pages.home(
            StatusCode::UNPROCESSABLE_ENTITY,
            &parent(),
            &data(),
            "tok",
            None,
            Some(&form),
        ));
        assert!(page.contains("role=\"alert\"") && page.contains("scrivi una breve spiegazione"));
        assert!(page.contains("value=\"2026-11-13\" checked"), "{page}");
        assert!(page.contains("value=\"altro\" selected"), "{page}");
        assert!(page.contains("value=\"&lt;b&gt;\""), "{page}");
    }

    #[test]
    fn a_teacher_sees_the_application_and_its_state() {
        let pages = Pages::new("http://127.0.0.1:8080");
        let teacher = Person {
            sub: "sub-t".into(),
            name: "Maria Docente".into(),
            staff: true,
            school: None,
            students: Vec::new(),
        };
        let mut data = Data::default();
        let page = body(pages.home(StatusCode::OK, &teacher, &data, "tok", None, None));
        assert!(page.contains("Domanda di mobilità 2027/28") && page.contains("action=\"/domanda\""));
        assert!(!page.contains("Nessuno studente"), "{page}");
        data.applications.entry("sub-t".into()).or_default().insert(
            APPLICATION_ID.into(),
            Confirmed {
                confirmation: "conf-9".into(),
                confirmed_at: 1_795_710_840,
                acr: "urn:varco:acr:second-secret".into(),
            },
        );
        let page = body(pages.home(StatusCode::OK, &teacher, &data, "tok", None, None));
        assert!(page.contains("Confermata") && page.contains("conf-9"), "{page}");
        assert!(!page.contains("action=\"/domanda\""));
    }
}

//! The signed-in person as the register knows them: the `sub` Varco gives
//! this register, the name, whether the school claim says staff, and a
//! guardian's children from the students claim. The claims are read
//! leniently: a field missing or shaped a little differently leaves a blank
//! rather than failing the sign-in; only a student without an `id` is left
//! out.

use serde::Serialize;
use serde_json::Value;

/// A guardian's child as the students claim gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Student {
    /// Pseudonymous, stable for this register.
    pub id: String,
    /// First name.
    pub given_name: String,
    /// Last name.
    pub family_name: String,
    /// The school.
    pub school: String,
    /// "primaria", "secondaria di primo grado", …
    pub school_order: String,
    /// The class ("3A").
    pub class_name: String,
    /// The building.
    pub building: String,
}

impl Student {
    /// "Marco Rossi".
    #[must_use]
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name).trim().to_owned()
    }

    /// Reads one entry of the claim; `None` without an `id`. Other fields
    /// may be missing; an object (`{"code", "name"}`) gives its name.
    fn from_claim(entry: &Value) -> Option<Student> {
        let text = |key: &str| match entry.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let id = entry.get("id").and_then(Value::as_str).filter(|id| !id.is_empty())?;
        Some(Student {
            id: id.to_owned(),
            given_name: text("given_name"),
            family_name: text("family_name"),
            school: text("school"),
            school_order: text("school_order"),
            class_name: text("class_name"),
            building: text("building"),
        })
    }
}

/// The signed-in person, as Varco described them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The `sub` Varco gives this register.
    pub sub: String,
    /// Given and family names.
    pub name: String,
    /// A staff account (the school claim's `kind`).
    pub staff: bool,
    /// The school's name, if the claim came.
    pub school: Option<String>,
    /// The guardian's children (empty for others).
    pub students: Vec<Student>,
}

impl Person {
    /// Builds the person from the verified `sub`, the names and the two
    /// namespaced claims of userinfo.
    #[must_use]
    pub fn from_claims(sub: &str, name: &str, school: Option<&Value>, students: Option<&Value>) -> Person {
        let schools = school.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let staff = schools
            .iter()
            .any(|s| s.get("kind").and_then(Value::as_str) == Some("staff"));
        let school = schools
            .first()
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let students = students
            .and_then(Value::as_array)
            .map(|entries| entries.iter().filter_map(Student::from_claim).collect())
            .unwrap_or_default();
        Person {
            sub: sub.to_owned(),
            name: name.to_owned(),
            staff,
            school,
            students,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_person_is_read_from_the_claims_leniently() {
        let school = json!([{"code": "DEMO000001", "name": "IC Demo", "kind": "family", "roles": []}]);
        let students = json!([
            {"id": "st-1", "given_name": "Marco", "family_name": "Rossi", "school": "IC Demo",
             "school_order": "primaria", "class_name": "3A", "building": "Plesso Verdi"},
            {"id": "st-2", "given_name": "Anna", "family_name": "Rossi",
             "school": {"code": "X", "name": "IC Altro"}, "class_name": 2},
            {"given_name": "Senza id"},
            "not an object",
        ]);
        let parent = Person::from_claims("sub-1", "Giulia Genitore", Some(&school), Some(&students));
        assert!(!parent.staff);
        assert_eq!(parent.school.as_deref(), Some("IC Demo"));
        assert_eq!(parent.students.len(), 2, "entries without an id are left out");
        assert_eq!(parent.students[0].name(), "Marco Rossi");
        assert_eq!(parent.students[0].building, "Plesso Verdi");
        assert_eq!(parent.students[1].school, "IC Altro");
        assert_eq!(parent.students[1].class_name, "2");
        assert_eq!(parent.students[1].building, "");

        let staff = json!([{"code": "DEMO000001", "name": "IC Demo", "kind": "staff", "roles": []}]);
        let teacher = Person::from_claims("sub-2", "Maria Docente", Some(&staff), None);
        assert!(teacher.staff);
        assert!(teacher.students.is_empty());
        let nobody = Person::from_claims("sub-3", "", None, Some(&json!({"id": "x"})));
        assert!(!nobody.staff && nobody.students.is_empty() && nobody.school.is_none());
    }
}

//! A helpdesk's contacts (the school's or the national one), as `/help` and
//! every email footer show them. One type for the web pages, the mail
//! templates and the configuration; every field is optional and an unset one
//! is simply not shown.

/// Name, email, phone and opening hours of a helpdesk.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Helpdesk {
    /// Who answers, e.g. "Assistenza Registro elettronico".
    pub name: Option<String>,
    /// Address to write to.
    pub email: Option<String>,
    /// Number to call.
    pub phone: Option<String>,
    /// Opening hours as written by the school, e.g. "lun-ven 10-13".
    pub hours: Option<String>,
}

impl Helpdesk {
    /// Whether any contact is set (an empty helpdesk is not shown).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.phone.is_none() && self.hours.is_none()
    }
}

//! Email addresses as Varco stores and compares them.
//!
//! Invariant: an [`EmailAddress`] has exactly one `@`, a local part of 1–64
//! characters kept exactly as typed, and a lower-cased domain of 1–253
//! characters with at least one dot, no empty label and no leading or trailing
//! dot; no whitespace or control character anywhere; at most 254 characters in
//! all. This is a plausibility check, not RFC 5322: the only proof that an
//! address works is a confirmation link that reaches it.

use std::fmt;

/// Longest local part (RFC 5321).
const MAX_LOCAL: usize = 64;
/// Longest domain (RFC 1035).
const MAX_DOMAIN: usize = 253;
/// Longest address that fits in an SMTP path (RFC 5321 errata 1690).
const MAX_TOTAL: usize = 254;

/// Why a string is not an email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Not a plausible address.
    #[error("not a valid email address")]
    Invalid,
}

/// A plausible email address: local part as typed, domain lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses user input: trims, then checks the shape and lower-cases the
    /// domain.
    pub fn parse(input: &str) -> Result<EmailAddress, EmailError> {
        let address = input.trim();
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::Invalid);
        }
        let (local, domain) = address.split_once('@').ok_or(EmailError::Invalid)?;
        if domain.contains('@') {
            return Err(EmailError::Invalid);
        }
        // Lengths are checked on the stored form: lower-casing a few non-ASCII
        // letters changes their length.
        let domain = domain.to_lowercase();
        let local_length = local.chars().count();
        let domain_length = domain.chars().count();
        if !(1..=MAX_LOCAL).contains(&local_length)
            || !(1..=MAX_DOMAIN).contains(&domain_length)
            || local_length + 1 + domain_length > MAX_TOTAL
        {
            return Err(EmailError::Invalid);
        }
        // Requiring a dot rejects `user@localhost`; refusing empty labels
        // covers leading, trailing and doubled dots.
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(EmailError::Invalid);
        }
        Ok(EmailAddress(format!("{local}@{domain}")))
    }

    /// The whole address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`, as typed.
    #[must_use]
    pub fn local_part(&self) -> &str {
        self.split().0
    }

    /// The part after the `@`, lower case.
    #[must_use]
    pub fn domain(&self) -> &str {
        self.split().1
    }

    /// The address with most of the local part hidden, for screens that
    /// confirm where a message went: `m•••o@example.it`, or `m•••@example.it`
    /// when the local part is a single character.
    #[must_use]
    pub fn masked(&self) -> String {
        let (local, domain) = self.split();
        let mut chars = local.chars();
        let first = chars.next().map(String::from).unwrap_or_default();
        let last = chars.next_back().map(String::from).unwrap_or_default();
        format!("{first}•••{last}@{domain}")
    }

    fn split(&self) -> (&str, &str) {
        // Construction guarantees exactly one '@'.
        self.0.split_once('@').unwrap_or((&self.0, ""))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = EmailError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        EmailAddress::parse(input)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;

    fn try_from(input: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&input)
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> String {
        address.0
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for input in [
            "mario.rossi@example.it",
            "m@example.it",
            "Mario.Rossi+scuola@istruzione.gov.it",
            "segreteria@czic813004.edu.it",
        ] {
            assert_eq!(EmailAddress::parse(input).unwrap().as_str(), input);
        }
    }

    #[test]
    fn trims_and_lower_cases_only_the_domain() {
        let address = EmailAddress::parse("  Mario.Rossi@Example.IT \n").unwrap();
        assert_eq!(address.as_str(), "Mario.Rossi@example.it");
        assert_eq!(address.local_part(), "Mario.Rossi");
        assert_eq!(address.domain(), "example.it");
        assert_eq!(address.to_string(), "Mario.Rossi@example.it");
    }

    #[test]
    fn rejects_implausible_addresses() {
        for input in [
            "",
            "mario.rossi",
            "@example.it",
            "mario@",
            "mario@@example.it",
            "mario@rossi@example.it",
            "mario@localhost",
            "mario@.example.it",
            "mario@example.it.",
            "mario@example..it",
            "mario rossi@example.it",
            "mario@exa mple.it",
            "mario\u{0}@example.it",
            "mario@example.it\u{7}x",
        ] {
            assert_eq!(EmailAddress::parse(input), Err(EmailError::Invalid), "{input:?}");
        }
    }

    #[test]
    fn enforces_length_limits() {
        let local64 = "a".repeat(64);
        assert!(EmailAddress::parse(&format!("{local64}@example.it")).is_ok());
        let local65 = "a".repeat(65);
        assert!(EmailAddress::parse(&format!("{local65}@example.it")).is_err());

        // 64 + 1 + 189 = 254: the longest allowed.
        let domain189 = format!("{}.it", "d".repeat(186));
        assert_eq!(domain189.len(), 189);
        assert!(EmailAddress::parse(&format!("{local64}@{domain189}")).is_ok());
        let domain190 = format!("{}.it", "d".repeat(187));
        assert!(EmailAddress::parse(&format!("{local64}@{domain190}")).is_err());

        let domain254 = format!("{}.it", "d".repeat(251));
        assert!(EmailAddress::parse(&format!("a@{domain254}")).is_err());
    }

    #[test]
    fn masks_the_local_part() {
        let masked = |input: &str| EmailAddress::parse(input).unwrap().masked();
        assert_eq!(masked("mario@example.it"), "m•••o@example.it");
        assert_eq!(masked("mo@example.it"), "m•••o@example.it");
        assert_eq!(masked("m@example.it"), "m•••@example.it");
        assert_eq!(masked("élodie@Example.IT"), "é•••e@example.it");
    }

    #[test]
    fn serializes_as_a_string() {
        let address = EmailAddress::parse("Mario@Example.it").unwrap();
        assert_eq!(serde_json::to_string(&address).unwrap(), "\"Mario@example.it\"");
        let back: EmailAddress = serde_json::from_str("\"Mario@EXAMPLE.it\"").unwrap();
        assert_eq!(back, address);
        assert!(serde_json::from_str::<EmailAddress>("\"nope\"").is_err());
    }
}

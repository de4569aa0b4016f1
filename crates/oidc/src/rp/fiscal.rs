//! The person's tax code from the provider's claims.
//!
//! SPID/CIE send `https://attributes.eid.gov.it/fiscal_number` =
//! `TINIT-<codice fiscale>`; the reference provider's CIE profile names it
//! plain `fiscal_number`, so that name is accepted too.
//!
//! Invariant: a tax code comes back only when a claim holds `TINIT-`
//! followed by a valid [`TaxCode`] (check character and omocodia included),
//! case aside; a foreign TIN (another country's prefix, as eIDAS sends) is
//! refused as such, and two claims that disagree are refused rather than one
//! picked.

use serde_json::{Map, Value};
use varco_domain::TaxCode;

use super::RpError;
use crate::FISCAL_NUMBER_CLAIM;

/// The plain name some providers use for the fiscal number.
pub const FISCAL_NUMBER_PLAIN_CLAIM: &str = "fiscal_number";

/// The prefix of an Italian tax code in a fiscal-number claim.
pub const TAX_CODE_PREFIX: &str = "TINIT-";

/// The person's [`TaxCode`] from userinfo (or ID token) `claims`.
pub fn fiscal_number(claims: &Map<String, Value>) -> Result<TaxCode, RpError> {
    let value = |name: &str| -> Result<Option<&str>, RpError> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.as_str())),
            Some(_) => Err(RpError::FiscalNumberMissing),
        }
    };
    let raw = match (value(FISCAL_NUMBER_CLAIM)?, value(FISCAL_NUMBER_PLAIN_CLAIM)?) {
        (Some(official), Some(plain)) if !official.trim().eq_ignore_ascii_case(plain.trim()) => {
            return Err(RpError::FiscalNumberConflict);
        }
        (Some(value), _) | (None, Some(value)) => value,
        (None, None) => return Err(RpError::FiscalNumberMissing),
    };
    let upper = raw.trim().to_ascii_uppercase();
    if upper.is_empty() {
        return Err(RpError::FiscalNumberMissing);
    }
    let code = upper
        .strip_prefix(TAX_CODE_PREFIX)
        .ok_or(RpError::FiscalNumberNotItalian)?;
    TaxCode::parse(code).map_err(RpError::FiscalNumberInvalid)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use varco_domain::TaxCodeError;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn official(value: &str) -> Map<String, Value> {
        claims(json!({ FISCAL_NUMBER_CLAIM: value }))
    }

    #[test]
    fn the_official_or_the_plain_claim_gives_the_tax_code() {
        assert_eq!(
            fiscal_number(&official("TINIT-RSSMRA85T10A562S")).unwrap().as_str(),
            "RSSMRA85T10A562S"
        );
        assert_eq!(
            fiscal_number(&claims(json!({"fiscal_number": "TINIT-RSSMRA85T10A562S"})))
                .unwrap()
                .as_str(),
            "RSSMRA85T10A562S"
        );
        // Case and surrounding blanks aside.
        assert_eq!(
            fiscal_number(&official(" tinit-rssmra85t10a562s ")).unwrap().as_str(),
            "RSSMRA85T10A562S"
        );
        // Both present and equal.
        let both = claims(json!({
            FISCAL_NUMBER_CLAIM: "TINIT-RSSMRA85T10A562S",
            "fiscal_number": "tinit-RSSMRA85T10A562S",
        }));
        assert_eq!(fiscal_number(&both).unwrap().as_str(), "RSSMRA85T10A562S");
    }

    #[test]
    fn an_omocodic_code_is_accepted_as_sent() {
        // The domain crate's omocodic example: 2 at position 15 written as N.
        assert_eq!(
            fiscal_number(&official("TINIT-RSSMRA85T10A56NH")).unwrap().as_str(),
            "RSSMRA85T10A56NH"
        );
    }

    #[test]
    fn a_missing_or_non_string_claim_is_refused() {
        assert!(matches!(
            fiscal_number(&claims(json!({"given_name": "Mario"}))),
            Err(RpError::FiscalNumberMissing)
        ));
        assert!(matches!(
            fiscal_number(&claims(json!({ FISCAL_NUMBER_CLAIM: null }))),
            Err(RpError::FiscalNumberMissing)
        ));
        assert!(matches!(
            fiscal_number(&claims(json!({ FISCAL_NUMBER_CLAIM: 42 }))),
            Err(RpError::FiscalNumberMissing)
        ));
        assert!(matches!(
            fiscal_number(&official("  ")),
            Err(RpError::FiscalNumberMissing)
        ));
    }

    #[test]
    fn a_value_without_tinit_is_refused_as_not_italian() {
        for value in [
            "RSSMRA85T10A562S",
            "TINDE-12345678901",
            "TINIT RSSMRA85T10A562S",
            "TIN-RSSMRA85T10A562S",
            "IT-RSSMRA85T10A562S",
        ] {
            assert!(
                matches!(fiscal_number(&official(value)), Err(RpError::FiscalNumberNotItalian)),
                "{value}"
            );
        }
    }

    #[test]
    fn an_invalid_tax_code_after_tinit_is_refused() {
        assert!(matches!(
            fiscal_number(&official("TINIT-RSSMRA85T10A562A")),
            Err(RpError::FiscalNumberInvalid(TaxCodeError::CheckCharacter {
                expected: 'S',
                found: 'A'
            }))
        ));
        assert!(matches!(
            fiscal_number(&official("TINIT-RSSMRA85T10A562")),
            Err(RpError::FiscalNumberInvalid(TaxCodeError::Length { found: 15 }))
        ));
        assert!(matches!(
            fiscal_number(&official("TINIT-")),
            Err(RpError::FiscalNumberInvalid(TaxCodeError::Empty))
        ));
        // The message names no part of the code.
        let error = fiscal_number(&official("TINIT-RSSMRA85T10A562A")).unwrap_err();
        assert!(!error.to_string().contains("RSSMRA"));
    }

    #[test]
    fn two_different_fiscal_numbers_are_refused() {
        let both = claims(json!({
            FISCAL_NUMBER_CLAIM: "TINIT-RSSMRA85T10A562S",
            "fiscal_number": "TINIT-MRTMTT25D09F205Z",
        }));
        assert!(matches!(fiscal_number(&both), Err(RpError::FiscalNumberConflict)));
    }
}

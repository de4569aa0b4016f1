//! The protocol pieces of Varco's OpenID Connect provider: signing keys and
//! their sealing, JWS signing and verification, the JWK Set, PKCE, opaque
//! tokens, client authentication, `at_hash`, pairwise subjects and the
//! discovery document; and, in [`rp`], of Varco as a relying party towards
//! SPID/CIE and plain OpenID providers.
//!
//! Invariant: this crate holds no state and speaks to no database or network;
//! the only IO is [`Kek::load_or_create`] reading or writing the key-encryption
//! key file. Every check that decides whether a token, a verifier or a client
//! is accepted lives here, next to a unit test that shows it refusing.
//! Comparisons of secrets and PKCE challenges are constant-time.

pub mod act;
pub mod client_auth;
mod discovery;
mod error;
mod kek;
pub mod pkce;
pub mod rp;
pub mod secret;
mod signing;
mod subject;

pub use client_auth::AssertionClaims;
pub use discovery::Discovery;
pub use error::OidcError;
pub use kek::{KEK_FILE, Kek};
pub use signing::{SigningKey, at_hash, jwks, verify_jws};
pub use subject::pairwise_subject;

use std::fmt;
use std::str::FromStr;

/// The `events` member of a back-channel logout token (OpenID Connect
/// Back-Channel Logout 1.0 §2.4): `{"<BACKCHANNEL_EVENT>": {}}`.
pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The `typ` header of a back-channel logout token (Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// The tax-code claim, with values `TINIT-<tax code>`, as SPID/CIE name it.
pub const FISCAL_NUMBER_CLAIM: &str = "https://attributes.eid.gov.it/fiscal_number";

/// The claim listing the account's schools (the final URI is the lead's call).
pub const SCHOOL_CLAIM: &str = "urn:varco:claims:school";

/// The claim listing the students the signed-in guardian is linked to,
/// each under an id pseudonymous per client (scope `students`).
pub const STUDENTS_CLAIM: &str = "urn:varco:claims:students";

/// A signing algorithm Varco's own keys use. RS256 is the default for ID
/// tokens (every relying party understands it); ES256 is opt-in per client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, on a 2048-bit RSA key.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl Alg {
    /// Both algorithms, RS256 first.
    pub const ALL: [Alg; 2] = [Alg::Rs256, Alg::Es256];

    /// The JOSE name: `RS256` or `ES256`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }

    /// The algorithm with this exact JOSE name.
    pub fn parse(name: &str) -> Result<Alg, OidcError> {
        match name {
            "RS256" => Ok(Alg::Rs256),
            "ES256" => Ok(Alg::Es256),
            other => Err(OidcError::UnsupportedAlg(other.to_owned())),
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = OidcError;

    fn from_str(name: &str) -> Result<Alg, OidcError> {
        Alg::parse(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_round_trip_and_others_are_refused() {
        for alg in Alg::ALL {
            assert_eq!(Alg::parse(alg.as_str()).unwrap(), alg);
            assert_eq!(alg.to_string().parse::<Alg>().unwrap(), alg);
        }
        for name in ["rs256", "HS256", "none", "PS256", ""] {
            assert!(matches!(Alg::parse(name), Err(OidcError::UnsupportedAlg(_))), "{name}");
        }
    }
}

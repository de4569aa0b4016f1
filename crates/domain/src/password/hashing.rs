//! Password storage: Argon2id PHC strings, verification, and the signal to
//! upgrade a stored hash.
//!
//! Invariant: every hash this module makes is Argon2id, version 0x13, with the
//! configured memory/time/parallelism and a fresh 16-byte salt from the
//! operating system's CSPRNG, written as a PHC string
//! (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). Verification never fails open: a
//! stored string it cannot read is an error, not a match, and
//! `needs_rehash` is only ever set together with `matches`, so a failed login
//! can never trigger a rehash. No error message carries the password.
//!
//! Stored formats are told apart by their shape in [`super::format`]: Argon2
//! PHC strings are verified here, and the legacy formats of the registers
//! schools migrate from (bcrypt, Django `pbkdf2_sha256`, salted MD5 and
//! SHA-1) in [`super::legacy`], each verifying with `needs_rehash = true`.

use std::fmt;

use argon2::password_hash::{self, PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use rand::rngs::OsRng;

use super::format::StoredFormat;
use super::input::PasswordInput;

/// Salt length in bytes (ASVS and OWASP ask for at least 16).
const SALT_BYTES: usize = 16;

thread_local! {
    /// Argon2's working area, kept by each thread between computations: a
    /// fresh 19 MiB area per hash costs thousands of page faults (the
    /// allocator hands such blocks straight back to the system), about a
    /// third of a login's time. Threads that hash often (the server's hashing
    /// threads) reuse it, and call [`release_hash_memory`] when idle.
    static WORKING_AREA: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Frees this thread's Argon2 working area (it is rebuilt at the next use).
pub fn release_hash_memory() {
    WORKING_AREA.with(|area| *area.borrow_mut() = Vec::new());
}

/// Runs Argon2 into `out` on this thread's reusable working area.
fn argon2_into(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    WORKING_AREA.with(|area| {
        let mut area = area.borrow_mut();
        let blocks = params.block_count();
        if area.len() < blocks {
            area.resize(blocks, argon2::Block::default());
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut area[..blocks])
            .map_err(|_| HashError::Malformed)
    })
}

/// Argon2 cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct HashParams {
    /// Memory in KiB (`m`).
    pub memory_kib: u32,
    /// Passes over memory (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl Default for HashParams {
    /// OWASP's Argon2id baseline: m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        HashParams {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl HashParams {
    /// Checks the parameters without hashing anything (Argon2's own limits).
    pub fn validate(&self) -> Result<(), HashError> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map(|_| ())
            .map_err(HashError::Params)
    }
}

/// Why hashing or verification could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The configured parameters are outside what Argon2 accepts.
    #[error("invalid password hashing parameters: {0}")]
    Params(#[source] argon2::Error),
    /// The stored hash is not a readable PHC string or legacy hash (or lacks
    /// its salt or output, or carries a cost outside the accepted bounds).
    #[error("the stored password hash is malformed")]
    Malformed,
    /// The stored hash is well formed but in a format this build cannot
    /// verify.
    #[error("the stored password hash uses an unsupported scheme: {scheme}")]
    UnsupportedScheme {
        /// The PHC identifier or prefix found, e.g. `scrypt`, `pbkdf2_sha1`.
        scheme: String,
    },
    /// Argon2 itself failed (for example, memory could not be allocated).
    #[error("password hashing failed: {0}")]
    Hashing(#[source] password_hash::Error),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password is the one the hash was made from.
    pub matches: bool,
    /// The password matches and the stored hash is weaker than or different
    /// from what [`PasswordHasher::hash`] makes now; store a fresh hash.
    /// Always `false` when `matches` is `false`.
    pub needs_rehash: bool,
    /// The match looked only at a prefix of what was typed (bcrypt reads 72
    /// bytes): the typed text must not become the new hash, since the real
    /// password may differ after the prefix. Ask for a new password instead.
    pub prefix_only: bool,
}

/// Hashes and verifies passwords with one set of Argon2id parameters.
#[derive(Clone)]
pub struct PasswordHasher {
    params: HashParams,
    argon2: Argon2<'static>,
    dummy_hash: String,
}

impl PasswordHasher {
    /// Validates `params` and prepares the dummy hash (one full hash, so this
    /// takes as long as a login).
    pub fn new(params: HashParams) -> Result<Self, HashError> {
        let argon2_params =
            Params::new(params.memory_kib, params.iterations, params.parallelism, None).map_err(HashError::Params)?;
        let mut hasher = PasswordHasher {
            params,
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params),
            dummy_hash: String::new(),
        };
        // Nobody knows this password, so the dummy hash matches nothing typed.
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        hasher.dummy_hash = hasher.hash_bytes(hex::encode(secret).as_bytes())?;
        // The constructing thread rarely hashes again: do not keep its area.
        release_hash_memory();
        Ok(hasher)
    }

    /// A new PHC string for `password`, with a fresh random salt.
    pub fn hash(&self, password: &PasswordInput) -> Result<String, HashError> {
        self.hash_bytes(password.as_str().as_bytes())
    }

    /// Checks `password` against a stored hash. A wrong password is
    /// `Ok(matches: false)`; only an unreadable or unsupported stored hash
    /// (or an Argon2 failure) is an error.
    pub fn verify(&self, phc: &str, password: &PasswordInput) -> Result<Verification, HashError> {
        match StoredFormat::detect(phc)? {
            StoredFormat::Argon2(hash) => self.verify_argon2(&hash, password),
            StoredFormat::Legacy(legacy) => {
                let matches = legacy.matches(password)?;
                let prefix_only = matches && legacy.reads_only_a_prefix_of(password);
                if legacy.is_cheap() {
                    // Pad an MD5/SHA-1 check to the cost of a real one, so a
                    // migrated account does not answer faster than the rest.
                    self.verify_dummy(password);
                }
                // Any legacy format is weaker than Argon2id: replace it at
                // once, unless only a prefix of the input was checked.
                Ok(Verification {
                    matches,
                    needs_rehash: matches && !prefix_only,
                    prefix_only,
                })
            }
        }
    }

    /// A hash of a random password with this hasher's parameters, made at
    /// construction. Verify against it when the account does not exist, so
    /// unknown accounts cost the same time as known ones.
    #[must_use]
    pub fn dummy_hash(&self) -> &str {
        &self.dummy_hash
    }

    /// Spends one verification against [`Self::dummy_hash`] and discards the
    /// result: the timing stand-in for an unknown account.
    pub fn verify_dummy(&self, password: &PasswordInput) {
        // The outcome is meaningless by design; only the time spent matters.
        let _ = self.verify(&self.dummy_hash, password);
    }

    /// The parameters new hashes are made with.
    #[must_use]
    pub fn params(&self) -> HashParams {
        self.params
    }

    fn hash_bytes(&self, password: &[u8]) -> Result<String, HashError> {
        use base64::Engine as _;
        let mut salt = [0u8; SALT_BYTES];
        OsRng.fill_bytes(&mut salt);
        let params = Params::new(
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
            None,
        )
        .map_err(HashError::Params)?;
        let mut out = [0u8; 32];
        argon2_into(&self.argon2, &params, password, &salt, &mut out)?;
        // The PHC string format: B64 is standard base64 without padding.
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
            b64.encode(salt),
            b64.encode(out)
        ))
    }

    fn verify_argon2(&self, hash: &PasswordHash<'_>, password: &PasswordInput) -> Result<Verification, HashError> {
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(HashError::Malformed);
        }
        // Argon2's verifier rebuilds the hasher from the stored algorithm,
        // version and parameters, so argon2i/argon2d and older costs verify
        // too (and are then flagged for rehash).
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return Err(HashError::Malformed);
        };
        let algorithm = Algorithm::try_from(hash.algorithm).map_err(|_| HashError::Malformed)?;
        let version = match hash.version {
            Some(v) => Version::try_from(v).map_err(|_| HashError::Malformed)?,
            None => Version::V0x13,
        };
        let params = Params::try_from(hash).map_err(|_| HashError::Malformed)?;
        let mut salt_buffer = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_buffer).map_err(|_| HashError::Malformed)?;
        let mut out = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        argon2_into(&argon2, &params, password.as_str().as_bytes(), salt, &mut out)?;
        let matches = bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), out.as_slice()));
        Ok(Verification {
            matches,
            needs_rehash: matches && !self.is_current(hash),
            prefix_only: false,
        })
    }

    /// Whether `hash` is exactly what [`Self::hash`] would make now.
    fn is_current(&self, hash: &PasswordHash<'_>) -> bool {
        let Ok(stored) = Params::try_from(hash) else {
            return false;
        };
        hash.algorithm == Algorithm::Argon2id.ident()
            && hash.version == Some(Version::V0x13.into())
            && stored.m_cost() == self.params.memory_kib
            && stored.t_cost() == self.params.iterations
            && stored.p_cost() == self.params.parallelism
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};

    #[test]
    fn our_phc_strings_verify_with_the_reference_implementation() {
        let hasher = PasswordHasher::new(HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let password = PasswordInput::new("una password di prova").unwrap();
        let phc = hasher.hash(&password).unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"una password di prova", &parsed)
                .is_ok()
        );
        assert!(Argon2::default().verify_password(b"un'altra", &parsed).is_err());
        // And the reference's strings verify with ours (reused working area).
        let salt = SaltString::encode_b64(&[3u8; 16]).unwrap();
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"una password di prova", &salt)
        .unwrap()
        .to_string();
        for _ in 0..3 {
            assert!(hasher.verify(&reference, &password).unwrap().matches);
        }
        release_hash_memory();
        assert!(hasher.verify(&phc, &password).unwrap().matches);
    }
    use super::*;

    /// Small costs keep the tests fast; production uses the defaults.
    fn fast() -> HashParams {
        HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(fast()).unwrap()
    }

    fn password(text: &str) -> PasswordInput {
        PasswordInput::new(text).unwrap()
    }

    #[test]
    fn defaults_are_the_owasp_baseline() {
        assert_eq!(
            HashParams::default(),
            HashParams {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[test]
    fn hashes_are_argon2id_phc_strings_with_16_byte_salts() {
        let hasher = hasher();
        let phc = hasher.hash(&password("una password lunga abbastanza")).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap();
        let mut salt = [0u8; 64];
        assert_eq!(parsed.salt.unwrap().decode_b64(&mut salt).unwrap().len(), 16);
        assert!(!phc.contains("una password"));
    }

    #[test]
    fn same_password_gets_different_salts() {
        let hasher = hasher();
        let first = hasher.hash(&password("ripetuta")).unwrap();
        let second = hasher.hash(&password("ripetuta")).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn verifies_right_and_wrong_passwords() {
        let hasher = hasher();
        let phc = hasher.hash(&password("correct horse battery staple")).unwrap();
        assert_eq!(
            hasher.verify(&phc, &password("correct horse battery staple")).unwrap(),
            Verification {
                matches: true,
                needs_rehash: false,
                prefix_only: false
            }
        );
        assert_eq!(
            hasher.verify(&phc, &password("Correct horse battery staple")).unwrap(),
            Verification {
                matches: false,
                needs_rehash: false,
                prefix_only: false
            }
        );
    }

    #[test]
    fn normalisation_makes_accents_verify_alike() {
        let hasher = hasher();
        let phc = hasher.hash(&password("perch\u{e9} no")).unwrap();
        assert!(hasher.verify(&phc, &password("perche\u{301} no")).unwrap().matches);
    }

    #[test]
    fn different_parameters_ask_for_a_rehash_only_on_a_match() {
        let old = hasher();
        let phc = old.hash(&password("vecchi parametri")).unwrap();
        let stronger = PasswordHasher::new(HashParams {
            memory_kib: 2048,
            ..fast()
        })
        .unwrap();
        assert_eq!(
            stronger.verify(&phc, &password("vecchi parametri")).unwrap(),
            Verification {
                matches: true,
                needs_rehash: true,
                prefix_only: false
            }
        );
        assert_eq!(
            stronger.verify(&phc, &password("sbagliata")).unwrap(),
            Verification {
                matches: false,
                needs_rehash: false,
                prefix_only: false
            }
        );
        for changed in [
            HashParams {
                iterations: 2,
                ..fast()
            },
            HashParams {
                parallelism: 2,
                ..fast()
            },
        ] {
            let other = PasswordHasher::new(changed).unwrap();
            assert!(other.verify(&phc, &password("vecchi parametri")).unwrap().needs_rehash);
        }
    }

    #[test]
    fn other_argon2_variants_verify_and_ask_for_a_rehash() {
        let hasher = hasher();
        let params = Params::new(1024, 1, 1, None).unwrap();
        for algorithm in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let legacy = Argon2::new(algorithm, Version::V0x13, params.clone());
            let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
            let phc = legacy.hash_password(b"password di prima", &salt).unwrap().to_string();
            assert_eq!(
                hasher.verify(&phc, &password("password di prima")).unwrap(),
                Verification {
                    matches: true,
                    needs_rehash: true,
                    prefix_only: false
                },
                "{phc}"
            );
        }
        let v16 = Argon2::new(Algorithm::Argon2id, Version::V0x10, params);
        let salt = SaltString::encode_b64(&[9u8; 16]).unwrap();
        let phc = v16.hash_password(b"versione 16", &salt).unwrap().to_string();
        assert!(hasher.verify(&phc, &password("versione 16")).unwrap().needs_rehash);
    }

    #[test]
    fn malformed_hashes_are_errors_not_mismatches() {
        let hasher = hasher();
        let good = hasher.hash(&password("qualcosa")).unwrap();
        let without_output = good.rsplit_once('$').unwrap().0.to_owned();
        for stored in [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=1024,t=1,p=1$!!!$!!!",
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            without_output.as_str(),
        ] {
            assert!(
                matches!(hasher.verify(stored, &password("qualcosa")), Err(HashError::Malformed)),
                "{stored:?}"
            );
        }
    }

    #[test]
    fn unknown_phc_schemes_are_reported_by_name() {
        let hasher = hasher();
        let scrypt = "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E";
        let error = hasher.verify(scrypt, &password("x")).unwrap_err();
        assert!(
            matches!(&error, HashError::UnsupportedScheme { scheme } if scheme == "scrypt"),
            "{error:?}"
        );
    }

    #[test]
    fn invalid_parameters_are_refused() {
        for params in [
            HashParams {
                memory_kib: 1,
                ..fast()
            },
            HashParams {
                iterations: 0,
                ..fast()
            },
            HashParams {
                parallelism: 0,
                ..fast()
            },
        ] {
            assert!(matches!(PasswordHasher::new(params), Err(HashError::Params(_))));
        }
    }

    #[test]
    fn dummy_hash_has_the_same_parameters_and_matches_nothing_typed() {
        let hasher = hasher();
        assert!(hasher.dummy_hash().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        let outcome = hasher.verify(hasher.dummy_hash(), &password("password")).unwrap();
        assert!(!outcome.matches);
        hasher.verify_dummy(&password("password"));
        assert_ne!(hasher.dummy_hash(), PasswordHasher::new(fast()).unwrap().dummy_hash());
    }

    #[test]
    fn params_and_debug_reveal_nothing_secret() {
        let hasher = hasher();
        assert_eq!(hasher.params(), fast());
        let debug = format!("{hasher:?}");
        assert!(!debug.contains(hasher.dummy_hash()), "{debug}");
        assert!(debug.contains("memory_kib: 1024"));
    }

    #[test]
    fn params_deserialize_with_defaults_for_missing_fields() {
        let params: HashParams = serde_json::from_str(r#"{"memory_kib": 65536}"#).unwrap();
        assert_eq!(
            params,
            HashParams {
                memory_kib: 65_536,
                ..HashParams::default()
            }
        );
    }
}

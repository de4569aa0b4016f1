//! Password hashes inherited from the register a school migrates from: bcrypt
//! (`$2a$`, `$2b$`, `$2y$`), Django's `pbkdf2_sha256$…`, and Django's old
//! salted `md5$…` and `sha1$…`. They are only ever verified, never made: a
//! match asks the caller to replace the hash with Argon2id.
//!
//! Invariant: a `LegacyHash` exists only for a string whose whole syntax was
//! checked (prefix, field count, cost within bounds, digest of the exact
//! length), so verification either answers or fails on the hash, never on a
//! half-read one; costs are capped ([`MAX_BCRYPT_COST`],
//! [`MAX_PBKDF2_ITERATIONS`]) so an absurd imported value cannot pin a CPU for
//! minutes; digests are compared in constant time, and the microsecond-cheap
//! MD5/SHA-1 checks are padded by the caller with one dummy Argon2
//! verification so they take as long as any login. The password is hashed as
//! the UTF-8 of its NFC form, which is what every register we know of stored
//! (browsers send precomposed accents).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::format::HashFormat;
use super::hashing::HashError;
use super::input::PasswordInput;

/// Highest bcrypt cost accepted (2^16 rounds, a few seconds of CPU). PHP and
/// most frameworks store 10–12; a larger value in an import is a mistake or an
/// attack on the login path.
pub const MAX_BCRYPT_COST: u32 = 16;

/// Highest PBKDF2 iteration count accepted, about as long as the bcrypt cap.
/// Django 5.2 stores 1,000,000.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Length of a Django `pbkdf2_sha256` derived key (one SHA-256 block).
const PBKDF2_KEY_BYTES: usize = 32;

/// A legacy hash whose syntax has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LegacyHash<'a> {
    /// The whole 60-character modular crypt string, e.g. `$2y$10$…`.
    Bcrypt(&'a str),
    /// `pbkdf2_sha256$<iterations>$<salt>$<base64 key>`.
    DjangoPbkdf2Sha256 {
        iterations: u32,
        salt: &'a str,
        key: [u8; PBKDF2_KEY_BYTES],
    },
    /// `md5$<salt>$<hex of md5(salt || password)>`.
    SaltedMd5 { salt: &'a str, digest: [u8; 16] },
    /// `sha1$<salt>$<hex of sha1(salt || password)>`.
    SaltedSha1 { salt: &'a str, digest: [u8; 20] },
}

impl<'a> LegacyHash<'a> {
    /// `None` when `stored` does not start like any legacy format (so the
    /// caller may try others); `Some(Err(Malformed))` when it starts like one
    /// but is not a well-formed hash of it.
    pub(super) fn parse(stored: &'a str) -> Option<Result<LegacyHash<'a>, HashError>> {
        if ["$2a$", "$2b$", "$2y$"].iter().any(|prefix| stored.starts_with(prefix)) {
            return Some(parse_bcrypt(stored));
        }
        let (scheme, rest) = stored.split_once('$')?;
        match scheme {
            "pbkdf2_sha256" => Some(parse_django_pbkdf2(rest)),
            "md5" => Some(parse_salted(rest).map(|(salt, digest)| LegacyHash::SaltedMd5 { salt, digest })),
            "sha1" => Some(parse_salted(rest).map(|(salt, digest)| LegacyHash::SaltedSha1 { salt, digest })),
            _ => None,
        }
    }

    /// Which format this is.
    pub(super) fn format(&self) -> HashFormat {
        match self {
            LegacyHash::Bcrypt(_) => HashFormat::Bcrypt,
            LegacyHash::DjangoPbkdf2Sha256 { .. } => HashFormat::DjangoPbkdf2Sha256,
            LegacyHash::SaltedMd5 { .. } => HashFormat::SaltedMd5,
            LegacyHash::SaltedSha1 { .. } => HashFormat::SaltedSha1,
        }
    }

    /// Whether checking this hash takes microseconds rather than the tens of
    /// milliseconds of a login, so timing alone would tell these accounts
    /// apart from unknown ones.
    pub(super) fn is_cheap(&self) -> bool {
        matches!(self, LegacyHash::SaltedMd5 { .. } | LegacyHash::SaltedSha1 { .. })
    }

    /// Whether checking `password` against this hash reads only a prefix of
    /// it: bcrypt ignores everything after 72 bytes.
    pub(super) fn reads_only_a_prefix_of(&self, password: &PasswordInput) -> bool {
        matches!(self, LegacyHash::Bcrypt(_)) && password.as_str().len() > BCRYPT_MAX_BYTES
    }

    /// Whether `password` is the one this hash was made from.
    pub(super) fn matches(&self, password: &PasswordInput) -> Result<bool, HashError> {
        let password = password.as_str().as_bytes();
        match self {
            // bcrypt reads at most 72 bytes, as every bcrypt that made these
            // hashes did; the crate compares in constant time.
            LegacyHash::Bcrypt(stored) => bcrypt::verify(password, stored).map_err(|_| HashError::Malformed),
            LegacyHash::DjangoPbkdf2Sha256 { iterations, salt, key } => {
                let mut derived = [0u8; PBKDF2_KEY_BYTES];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt.as_bytes(), *iterations, &mut derived);
                Ok(derived.ct_eq(key).into())
            }
            LegacyHash::SaltedMd5 { salt, digest } => {
                let computed = Md5::new().chain_update(salt).chain_update(password).finalize();
                Ok(computed.as_slice().ct_eq(digest).into())
            }
            LegacyHash::SaltedSha1 { salt, digest } => {
                let computed = Sha1::new().chain_update(salt).chain_update(password).finalize();
                Ok(computed.as_slice().ct_eq(digest).into())
            }
        }
    }
}

/// The longest input bcrypt reads.
const BCRYPT_MAX_BYTES: usize = 72;

fn parse_bcrypt(stored: &str) -> Result<LegacyHash<'_>, HashError> {
    // The crate's parser checks length, separators and both base64 fields.
    let parts: bcrypt::HashParts = stored.parse().map_err(|_| HashError::Malformed)?;
    if !(4..=MAX_BCRYPT_COST).contains(&parts.get_cost()) {
        return Err(HashError::Malformed);
    }
    Ok(LegacyHash::Bcrypt(stored))
}

/// `rest` is what follows `pbkdf2_sha256$`.
fn parse_django_pbkdf2(rest: &str) -> Result<LegacyHash<'_>, HashError> {
    let mut fields = rest.split('$');
    let (Some(iterations), Some(salt), Some(encoded), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(HashError::Malformed);
    };
    let iterations = parse_decimal(iterations)
        .filter(|count| (1..=MAX_PBKDF2_ITERATIONS).contains(count))
        .ok_or(HashError::Malformed)?;
    if salt.is_empty() {
        return Err(HashError::Malformed);
    }
    let key = STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| <[u8; PBKDF2_KEY_BYTES]>::try_from(bytes).ok())
        .ok_or(HashError::Malformed)?;
    Ok(LegacyHash::DjangoPbkdf2Sha256 { iterations, salt, key })
}

/// `rest` is what follows `md5$` or `sha1$`: `<salt>$<hex digest>`. The salt
/// may be empty (Django's "unsalted" `md5$$…`), the digest must be exactly
/// `N` bytes.
fn parse_salted<const N: usize>(rest: &str) -> Result<(&str, [u8; N]), HashError> {
    let (salt, digest) = rest.split_once('$').ok_or(HashError::Malformed)?;
    let mut bytes = [0u8; N];
    hex::decode_to_slice(digest, &mut bytes).map_err(|_| HashError::Malformed)?;
    Ok((salt, bytes))
}

/// Plain ASCII digits only: no sign, no spaces, no leading zero.
fn parse_decimal(text: &str) -> Option<u32> {
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
    if plain { text.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::format::recognise_stored_hash;
    use crate::password::hashing::{HashParams, PasswordHasher, Verification};

    const MATCH: Verification = Verification {
        matches: true,
        needs_rehash: true,
        prefix_only: false,
    };
    const NO_MATCH: Verification = Verification {
        matches: false,
        needs_rehash: false,
        prefix_only: false,
    };

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    fn password(text: &str) -> PasswordInput {
        PasswordInput::new(text).unwrap()
    }

    /// Checks one stored hash end to end: recognised as `format`, the right
    /// password matches and asks for a rehash, a wrong one does not.
    fn assert_verifies(stored: &str, format: HashFormat, right: &str) {
        let hasher = hasher();
        assert_eq!(recognise_stored_hash(stored).unwrap(), format, "{stored}");
        assert_eq!(hasher.verify(stored, &password(right)).unwrap(), MATCH, "{stored}");
        assert_eq!(
            hasher.verify(stored, &password(&format!("{right}x"))).unwrap(),
            NO_MATCH,
            "{stored}"
        );
        assert_eq!(
            hasher.verify(stored, &password("tutt'altra")).unwrap(),
            NO_MATCH,
            "{stored}"
        );
    }

    fn assert_malformed(stored: &str) {
        assert!(
            matches!(
                hasher().verify(stored, &password("qualsiasi")),
                Err(HashError::Malformed)
            ),
            "verify {stored:?}"
        );
        assert!(
            matches!(recognise_stored_hash(stored), Err(HashError::Malformed)),
            "recognise {stored:?}"
        );
    }

    fn django_pbkdf2(password: &str, salt: &str, iterations: u32) -> String {
        let mut key = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut key);
        format!("pbkdf2_sha256${iterations}${salt}${}", STANDARD.encode(key))
    }

    #[test]
    fn bcrypt_made_in_the_test_verifies_for_every_prefix() {
        let made = bcrypt::hash("la mia vecchia password", 4).unwrap();
        assert!(made.starts_with("$2b$04$"), "{made}");
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let stored = format!("{prefix}{}", &made[4..]);
            assert_verifies(&stored, HashFormat::Bcrypt, "la mia vecchia password");
        }
    }

    #[test]
    fn bcrypt_published_vectors() {
        // OpenBSD/Openwall crypt_blowfish test vectors (also in John the Ripper).
        assert_verifies(
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
            HashFormat::Bcrypt,
            "U*U",
        );
        assert_verifies(
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK",
            HashFormat::Bcrypt,
            "U*U*",
        );
    }

    #[test]
    fn bcrypt_reads_only_the_first_72_bytes_like_php() {
        let long = "a".repeat(72);
        let stored = bcrypt::hash(&long, 4).unwrap();
        // Exactly 72 bytes: a full match, rehashed as usual.
        assert_eq!(hasher().verify(&stored, &password(&long)).unwrap(), MATCH);
        // Longer: bcrypt matches on the prefix, but the typed text must not
        // become the new hash (security review finding 13).
        assert_eq!(
            hasher().verify(&stored, &password(&format!("{long}b"))).unwrap(),
            Verification {
                matches: true,
                needs_rehash: false,
                prefix_only: true,
            }
        );
    }

    #[test]
    fn malformed_bcrypt() {
        let good = bcrypt::hash("x", 4).unwrap();
        let salt_and_hash = &good[7..];
        for stored in [
            "$2y$".to_owned(),
            format!("$2y$10${}", &salt_and_hash[1..]),
            format!("$2y$10${salt_and_hash}A"),
            format!("$2y$1a${salt_and_hash}"),
            format!("$2y$03${salt_and_hash}"),
            format!("$2y$17${salt_and_hash}"),
            format!("$2y$31${salt_and_hash}"),
            format!("$2y$10${}!", &salt_and_hash[..52]),
            format!("$2y$10${}è", &salt_and_hash[..51]),
        ] {
            assert_malformed(&stored);
        }
        // `$2x$` (the buggy 2011 PHP variant) is well formed but refused by name.
        let error = hasher()
            .verify(&format!("$2x$04${salt_and_hash}"), &password("x"))
            .unwrap_err();
        assert!(
            matches!(&error, HashError::UnsupportedScheme { scheme } if scheme == "2x"),
            "{error:?}"
        );
    }

    #[test]
    fn django_pbkdf2_made_in_the_test_verifies() {
        let stored = django_pbkdf2("perch\u{e9} no", "c2FsZXNhbGU", 1_000);
        assert_verifies(&stored, HashFormat::DjangoPbkdf2Sha256, "perch\u{e9} no");
        // Typed with a combining accent, it is the same password after NFC.
        assert!(hasher().verify(&stored, &password("perche\u{301} no")).unwrap().matches);
    }

    #[test]
    fn django_pbkdf2_published_vectors() {
        // RFC 7914 §11 PBKDF2-HMAC-SHA256 vectors; Django keeps the first 32
        // bytes (the first block does not depend on the requested length).
        // Checked independently with Python's hashlib.pbkdf2_hmac.
        assert_verifies(
            "pbkdf2_sha256$1$salt$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw=",
            HashFormat::DjangoPbkdf2Sha256,
            "passwd",
        );
        assert_verifies(
            "pbkdf2_sha256$80000$NaCl$TdzY9guYviGDDO5e8icB+WQaRBjQTAQUrv8Ih2s0q1Y=",
            HashFormat::DjangoPbkdf2Sha256,
            "Password",
        );
    }

    #[test]
    fn malformed_django_pbkdf2() {
        let good = django_pbkdf2("x", "salt", 10);
        let key = good.rsplit_once('$').unwrap().1;
        for stored in [
            "pbkdf2_sha256$".to_owned(),
            "pbkdf2_sha256$10$salt".to_owned(),
            format!("pbkdf2_sha256$10$salt${key}$extra"),
            format!("pbkdf2_sha256$0$salt${key}"),
            format!("pbkdf2_sha256$010$salt${key}"),
            format!("pbkdf2_sha256$+10$salt${key}"),
            format!("pbkdf2_sha256$ten$salt${key}"),
            format!("pbkdf2_sha256$10000001$salt${key}"),
            format!("pbkdf2_sha256$99999999999$salt${key}"),
            format!("pbkdf2_sha256$10$${key}"),
            "pbkdf2_sha256$10$salt$not base64!".to_owned(),
            format!("pbkdf2_sha256$10$salt${}", STANDARD.encode([0u8; 31])),
            format!("pbkdf2_sha256$10$salt${}", STANDARD.encode([0u8; 64])),
            format!("pbkdf2_sha256$10$salt${}", key.trim_end_matches('=')),
        ] {
            assert_malformed(&stored);
        }
        assert_eq!(
            recognise_stored_hash(&format!("pbkdf2_sha256$10000000$salt${key}")).unwrap(),
            HashFormat::DjangoPbkdf2Sha256
        );
    }

    #[test]
    fn salted_md5_made_in_the_test_verifies() {
        let digest = Md5::new()
            .chain_update("sale")
            .chain_update("vecchia scuola")
            .finalize();
        let stored = format!("md5$sale${}", hex::encode(digest));
        assert_verifies(&stored, HashFormat::SaltedMd5, "vecchia scuola");
    }

    #[test]
    fn salted_md5_published_vectors() {
        // Django's own test suite (tests/auth_tests/test_hashers.py) for
        // make_password("lètmein", "seasalt", "md5"), and the unsalted form
        // `md5$$…` for "password" (RFC 1321-style plain MD5 of it).
        // Both checked independently with Python's hashlib.
        assert_verifies(
            "md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3",
            HashFormat::SaltedMd5,
            "l\u{e8}tmein",
        );
        assert_verifies(
            "md5$$5f4dcc3b5aa765d61d8327deb882cf99",
            HashFormat::SaltedMd5,
            "password",
        );
    }

    #[test]
    fn salted_sha1_made_in_the_test_verifies() {
        let digest = Sha1::new()
            .chain_update("sale")
            .chain_update("vecchia scuola")
            .finalize();
        let stored = format!("sha1$sale${}", hex::encode(digest));
        assert_verifies(&stored, HashFormat::SaltedSha1, "vecchia scuola");
    }

    #[test]
    fn salted_sha1_published_vector() {
        // Django's test suite: make_password("lètmein", "seasalt", "sha1");
        // checked independently with Python's hashlib.
        assert_verifies(
            "sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8",
            HashFormat::SaltedSha1,
            "l\u{e8}tmein",
        );
    }

    #[test]
    fn malformed_salted_digests() {
        for stored in [
            "md5$",
            "md5$salt",
            "md5$salt$",
            "md5$salt$3f86d0d3d465b7b458c231bf3555c0e",
            "md5$salt$3f86d0d3d465b7b458c231bf3555c0e3aa",
            "md5$salt$3f86d0d3d465b7b458c231bf3555c0eg",
            "md5$salt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8",
            "sha1$salt$3f86d0d3d465b7b458c231bf3555c0e3",
            "sha1$sa$lt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8",
            "sha1$salt",
        ] {
            assert_malformed(stored);
        }
    }

    #[test]
    fn verification_is_constant_time_over_the_whole_digest() {
        // A digest differing only in its last byte is still a plain mismatch.
        let digest = Md5::new().chain_update("s").chain_update("p").finalize();
        let mut almost = digest;
        almost[15] ^= 1;
        let stored = format!("md5$s${}", hex::encode(almost));
        assert_eq!(hasher().verify(&stored, &password("p")).unwrap(), NO_MATCH);
    }

    #[test]
    fn only_plain_digests_count_as_cheap() {
        let cheap = |stored: &str| LegacyHash::parse(stored).unwrap().unwrap().is_cheap();
        assert!(cheap("md5$s$3f86d0d3d465b7b458c231bf3555c0e3"));
        assert!(cheap("sha1$s$cff36ea83f5706ce9aa7454e63e431fc726b2dc8"));
        assert!(!cheap(
            "pbkdf2_sha256$1$salt$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw="
        ));
        assert!(!cheap("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
    }

    #[test]
    fn unknown_prefixes_are_not_legacy() {
        for stored in [
            "",
            "md5",
            "pbkdf2_sha1$10$salt$abc",
            "crypt$salt$hash",
            "$argon2id$v=19$",
        ] {
            assert!(LegacyHash::parse(stored).is_none(), "{stored}");
        }
    }
}

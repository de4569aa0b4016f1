//! Telling stored password hashes apart by their shape: Argon2 PHC strings
//! (`$argon2id$…`) and the legacy formats of the registers schools migrate
//! from (see [`super::legacy`]).
//!
//! Invariant: [`recognise_stored_hash`] and
//! [`PasswordHasher::verify`](super::hashing::PasswordHasher::verify) read a
//! string through the same `StoredFormat::detect`, so a hash the roster import
//! accepts is one login can verify, and one it refuses fails the same way at
//! login: `Malformed` for a broken string of a known format or an unreadable
//! one, `UnsupportedScheme` (with its name) for a recognisable format Varco
//! does not verify.

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Params};

use super::hashing::HashError;
use super::legacy::LegacyHash;

/// The formats
/// [`PasswordHasher::verify`](super::hashing::PasswordHasher::verify) reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    /// `$argon2id$…`, what Varco makes.
    Argon2id,
    /// `$argon2i$…` or `$argon2d$…`.
    Argon2Other,
    /// `$2a$`, `$2b$` or `$2y$` bcrypt.
    Bcrypt,
    /// Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 key>`.
    DjangoPbkdf2Sha256,
    /// Django's legacy `md5$<salt>$<hex>`.
    SaltedMd5,
    /// Django's legacy `sha1$<salt>$<hex>`.
    SaltedSha1,
}

impl HashFormat {
    /// A short stable name for logs, reports and import summaries.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            HashFormat::Argon2id => "argon2id",
            HashFormat::Argon2Other => "argon2",
            HashFormat::Bcrypt => "bcrypt",
            HashFormat::DjangoPbkdf2Sha256 => "pbkdf2_sha256",
            HashFormat::SaltedMd5 => "md5",
            HashFormat::SaltedSha1 => "sha1",
        }
    }
}

/// The format of a stored hash, checking its syntax (prefix, fields,
/// encodings, cost bounds) without verifying anything: what the roster import
/// uses to refuse an unusable `password_hash` column before storing it.
/// A string [`PasswordHasher::verify`](super::hashing::PasswordHasher::verify)
/// would call malformed or unsupported is the same error here.
pub fn recognise_stored_hash(stored: &str) -> Result<HashFormat, HashError> {
    StoredFormat::detect(stored).map(|format| format.format())
}

/// A stored password hash, recognised by its shape.
pub(super) enum StoredFormat<'a> {
    /// `$argon2id$…`, `$argon2i$…` or `$argon2d$…`.
    Argon2(PasswordHash<'a>),
    /// A hash from the register the school migrated from.
    Legacy(LegacyHash<'a>),
}

impl<'a> StoredFormat<'a> {
    pub(super) fn detect(stored: &'a str) -> Result<StoredFormat<'a>, HashError> {
        if let Some(legacy) = LegacyHash::parse(stored) {
            return legacy.map(StoredFormat::Legacy);
        }
        let Some(modular) = stored.strip_prefix('$') else {
            // Django style: `<scheme>$…`.
            return Err(unsupported_scheme(stored).unwrap_or(HashError::Malformed));
        };
        let Ok(hash) = PasswordHash::new(stored) else {
            // Not PHC, but perhaps another modular crypt format (`$2x$`,
            // `$1$`, `$6$`…): name it, unless it claims to be Argon2.
            return Err(unsupported_scheme(modular)
                .filter(|_| !modular.starts_with("argon2"))
                .unwrap_or(HashError::Malformed));
        };
        let argon2_ids = [
            Algorithm::Argon2id.ident(),
            Algorithm::Argon2i.ident(),
            Algorithm::Argon2d.ident(),
        ];
        if !argon2_ids.contains(&hash.algorithm) {
            return Err(HashError::UnsupportedScheme {
                scheme: hash.algorithm.as_str().to_owned(),
            });
        }
        // Argon2 refuses these at verification; refuse them here already so
        // recognising and verifying agree.
        if hash.salt.is_none() || hash.hash.is_none() || Params::try_from(&hash).is_err() {
            return Err(HashError::Malformed);
        }
        Ok(StoredFormat::Argon2(hash))
    }

    fn format(&self) -> HashFormat {
        match self {
            StoredFormat::Argon2(hash) if hash.algorithm == Algorithm::Argon2id.ident() => HashFormat::Argon2id,
            StoredFormat::Argon2(_) => HashFormat::Argon2Other,
            StoredFormat::Legacy(legacy) => legacy.format(),
        }
    }
}

/// `UnsupportedScheme` for `<scheme>$…` (Django's style, or a modular crypt
/// string without its leading `$`) whose scheme is not one we verify
/// (`pbkdf2_sha1`, `crypt`, `2x`, `6`, …), so the import can name it; `None`
/// when the text before the first `$` does not look like a scheme name.
fn unsupported_scheme(stored: &str) -> Option<HashError> {
    let (scheme, _) = stored.split_once('$')?;
    let plausible = !scheme.is_empty()
        && scheme.len() <= 32
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    plausible.then(|| HashError::UnsupportedScheme {
        scheme: scheme.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    use argon2::{Argon2, Version};

    use super::*;
    use crate::password::hashing::{HashParams, PasswordHasher};
    use crate::password::input::PasswordInput;

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

    #[test]
    fn other_schemes_are_reported_by_name() {
        let hasher = hasher();
        for (stored, name) in [
            ("pbkdf2_sha1$260000$salt$aGFzaA==", "pbkdf2_sha1"),
            ("bcrypt_sha256$$2b$12$abc", "bcrypt_sha256"),
            ("crypt$$abN5QlHnMYSwE", "crypt"),
            ("$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "1"),
            (
                "$6$rounds=5000$saltsalt$aQ2EwXi1lk0XQ1zBc0j4Xk6ByvnhC5Z2bj8tW3fCTuAAqHTEOF.OSamB4hH5LBRzHkQ.vaxzVB9Bmc1o6W/lf/",
                "6",
            ),
        ] {
            let error = hasher.verify(stored, &password("x")).unwrap_err();
            assert!(
                matches!(&error, HashError::UnsupportedScheme { scheme } if scheme == name),
                "{stored}: {error:?}"
            );
            assert!(matches!(
                recognise_stored_hash(stored),
                Err(HashError::UnsupportedScheme { .. })
            ));
        }
        for stored in [
            "Not A Hash$",
            "$",
            "plain text password",
            "5f4dcc3b5aa765d61d8327deb882cf99",
        ] {
            assert!(
                matches!(recognise_stored_hash(stored), Err(HashError::Malformed)),
                "{stored}"
            );
        }
    }

    #[test]
    fn recognises_argon2_formats_without_verifying() {
        let hasher = hasher();
        let phc = hasher.hash(&password("qualcosa")).unwrap();
        assert_eq!(recognise_stored_hash(&phc).unwrap(), HashFormat::Argon2id);
        assert_eq!(
            recognise_stored_hash(hasher.dummy_hash()).unwrap(),
            HashFormat::Argon2id
        );
        let params = Params::new(1024, 1, 1, None).unwrap();
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        for algorithm in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let other = Argon2::new(algorithm, Version::V0x13, params.clone());
            let phc = other.hash_password(b"x", &salt).unwrap().to_string();
            assert_eq!(recognise_stored_hash(&phc).unwrap(), HashFormat::Argon2Other, "{phc}");
        }
        let without_output = phc.rsplit_once('$').unwrap().0;
        for stored in [
            without_output,
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$",
        ] {
            assert!(
                matches!(recognise_stored_hash(stored), Err(HashError::Malformed)),
                "{stored}"
            );
        }
    }

    #[test]
    fn format_names_are_stable() {
        let names: Vec<&str> = [
            HashFormat::Argon2id,
            HashFormat::Argon2Other,
            HashFormat::Bcrypt,
            HashFormat::DjangoPbkdf2Sha256,
            HashFormat::SaltedMd5,
            HashFormat::SaltedSha1,
        ]
        .into_iter()
        .map(HashFormat::name)
        .collect();
        assert_eq!(names, ["argon2id", "argon2", "bcrypt", "pbkdf2_sha256", "md5", "sha1"]);
    }
}

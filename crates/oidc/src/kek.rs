//! The key-encryption key (KEK): 32 random bytes that seal the provider's
//! private signing keys at rest and, through [`Kek::derive`], give each other
//! use (pairwise subjects, …) its own independent key.
//!
//! Invariant: the KEK lives in one file, `<dir>/oidc-kek`, holding the base64
//! of exactly 32 bytes, created with mode 0600 and never rewritten. A file of
//! any other size is refused rather than silently replaced, because replacing
//! it would make every sealed key unreadable. The bytes never appear in
//! `Debug` output or error messages.

use std::fmt;
use std::fs;
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use josekit::jwe::{self, Dir, JweHeader};
use rand::RngCore as _;
use rand::rngs::OsRng;
use sha2::Sha256;

use crate::OidcError;

/// The file name of the KEK inside the data folder.
pub const KEK_FILE: &str = "oidc-kek";

/// Bytes in a KEK.
const KEK_BYTES: usize = 32;

/// The 32-byte key-encryption key.
#[derive(Clone)]
pub struct Kek([u8; KEK_BYTES]);

impl Kek {
    /// A fresh KEK from the operating system's CSPRNG.
    #[must_use]
    pub fn generate() -> Kek {
        let mut bytes = [0u8; KEK_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Kek(bytes)
    }

    /// A KEK written as standard base64 (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Kek, OidcError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| OidcError::KekEncoding)?;
        let found = bytes.len();
        let bytes: [u8; KEK_BYTES] = bytes.try_into().map_err(|_| OidcError::KekLength { found })?;
        Ok(Kek(bytes))
    }

    /// The KEK kept in `dir/oidc-kek`, created (mode 0600, with `dir` if
    /// missing) on first use. An existing file that is not the base64 of
    /// exactly 32 bytes is an error, never overwritten.
    ///
    /// The new file is written under a temporary name and hard-linked into
    /// place, so the KEK file appears complete or not at all, and of two
    /// processes starting together one creates it and both use that one.
    pub fn load_or_create(dir: &Path) -> Result<Kek, OidcError> {
        let path = dir.join(KEK_FILE);
        if let Some(kek) = read_kek_file(&path)? {
            return Ok(kek);
        }
        fs::create_dir_all(dir).map_err(kek_io(dir))?;

        let kek = Kek::generate();
        let mut suffix = [0u8; 8];
        OsRng.fill_bytes(&mut suffix);
        let temporary = dir.join(format!(".{KEK_FILE}.{}.tmp", hex::encode(suffix)));
        let written = write_private_file(&temporary, format!("{}\n", STANDARD.encode(kek.0)).as_bytes());
        let linked = written.and_then(|()| fs::hard_link(&temporary, &path));
        // The temporary name goes whatever happened; a leftover would only be clutter.
        let _ = fs::remove_file(&temporary);
        match linked {
            Ok(()) => Ok(kek),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                read_kek_file(&path)?.ok_or_else(|| OidcError::KekIo {
                    path,
                    source: ErrorKind::NotFound.into(),
                })
            }
            Err(error) => Err(OidcError::KekIo { path, source: error }),
        }
    }

    /// A 32-byte key for one purpose, named by `label` (HMAC-SHA256 of the
    /// label under the KEK): different labels give independent keys, and none
    /// reveals the KEK.
    #[must_use]
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// `plaintext` encrypted and authenticated under the key derived for
    /// `label`, as a compact JWE (`dir` + `A256GCM`), for storage. Only
    /// [`Kek::open`] with the same label reads it back.
    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Result<String, OidcError> {
        let mut header = JweHeader::new();
        header.set_content_encryption("A256GCM");
        let encrypter = Dir.encrypter_from_bytes(self.derive(label)).map_err(OidcError::Seal)?;
        jwe::serialize_compact(plaintext, &header, &encrypter).map_err(OidcError::Seal)
    }

    /// What [`Kek::seal`] sealed under `label`; [`OidcError::Unseal`] for
    /// anything else (another label or KEK, a changed byte).
    pub fn open(&self, label: &str, sealed: &str) -> Result<Vec<u8>, OidcError> {
        let decrypter = Dir
            .decrypter_from_bytes(self.derive(label))
            .map_err(|_| OidcError::Unseal)?;
        let (plaintext, header) = jwe::deserialize_compact(sealed, &decrypter).map_err(|_| OidcError::Unseal)?;
        if header.content_encryption() != Some("A256GCM") {
            return Err(OidcError::Unseal);
        }
        Ok(plaintext)
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(***)")
    }
}

/// The KEK in `path`, `None` when there is no such file.
fn read_kek_file(path: &Path) -> Result<Option<Kek>, OidcError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(OidcError::KekIo {
                path: path.to_owned(),
                source: error,
            });
        }
    };
    match Kek::from_base64(&text) {
        Ok(kek) => Ok(Some(kek)),
        Err(OidcError::KekLength { found }) => Err(OidcError::KekFileLength {
            path: path.to_owned(),
            found,
        }),
        Err(_) => Err(OidcError::KekFileEncoding { path: path.to_owned() }),
    }
}

/// Creates `path` (which must not exist) readable and writable by its owner
/// only, writes `contents` and flushes them to disk.
fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn kek_io(path: &Path) -> impl FnOnce(std::io::Error) -> OidcError {
    let path: PathBuf = path.to_owned();
    move |source| OidcError::KekIo { path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_only_with_the_same_kek_and_label() {
        let kek = Kek::generate();
        let sealed = kek.seal("label/a", b"secret bytes").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(kek.open("label/a", &sealed).unwrap(), b"secret bytes");
        assert!(matches!(kek.open("label/b", &sealed), Err(OidcError::Unseal)));
        assert!(matches!(
            Kek::generate().open("label/a", &sealed),
            Err(OidcError::Unseal)
        ));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(kek.open("label/a", std::str::from_utf8(&tampered).unwrap()).is_err());
        assert_ne!(
            kek.seal("label/a", b"secret bytes").unwrap(),
            sealed,
            "fresh IV each time"
        );
    }

    #[test]
    fn load_or_create_writes_a_private_file_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let created = Kek::load_or_create(&data).unwrap();
        let path = data.join(KEK_FILE);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
        }
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(STANDARD.decode(text.trim()).unwrap(), created.0);

        let reloaded = Kek::load_or_create(&data).unwrap();
        assert_eq!(reloaded.0, created.0);
        assert_eq!(reloaded.derive("x"), created.derive("x"));
        // Nothing but the KEK file is left behind.
        assert_eq!(fs::read_dir(&data).unwrap().count(), 1);
    }

    #[test]
    fn a_file_of_the_wrong_size_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEK_FILE);
        let short = STANDARD.encode([7u8; 16]);
        fs::write(&path, &short).unwrap();

        let error = Kek::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(error, OidcError::KekFileLength { found: 16, .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.contains("oidc-kek") && message.contains("16") && message.contains("32"),
            "{message}"
        );
        assert!(!message.contains(&short));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            short,
            "the file must not be replaced"
        );
    }

    #[test]
    fn a_file_that_is_not_base64_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEK_FILE), "not base64 at all!").unwrap();
        let error = Kek::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(error, OidcError::KekFileEncoding { .. }), "{error:?}");
    }

    #[test]
    fn from_base64_checks_encoding_and_length() {
        let kek = Kek::generate();
        let text = STANDARD.encode(kek.0);
        assert_eq!(Kek::from_base64(&format!(" {text}\n")).unwrap().0, kek.0);
        assert!(matches!(Kek::from_base64("%%%"), Err(OidcError::KekEncoding)));
        assert!(matches!(
            Kek::from_base64(&STANDARD.encode([1u8; 33])),
            Err(OidcError::KekLength { found: 33 })
        ));
    }

    #[test]
    fn derived_keys_differ_per_label_and_per_kek_and_debug_hides_the_key() {
        let kek = Kek::from_base64(&STANDARD.encode([9u8; 32])).unwrap();
        assert_ne!(kek.derive("seal"), kek.derive("pairwise"));
        assert_ne!(kek.derive("seal"), Kek::generate().derive("seal"));
        assert_ne!(kek.derive("seal"), [9u8; 32]);
        assert_eq!(format!("{kek:?}"), "Kek(***)");
    }
}

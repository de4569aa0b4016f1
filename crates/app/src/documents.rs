//! Identity documents of email-change requests, at rest: their kind is
//! recognised by content (magic bytes), never by name or declared type;
//! each is a file under the configured folder (outside anything served),
//! with a random name, encrypted and authenticated under a key derived from
//! the KEK for that file name (AES-256-GCM through [`varco_oidc::Kek::seal`]),
//! so a file renamed or swapped does not open. Part of the lower layer.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;
use rand::rngs::OsRng;

use crate::{App, AppError};

/// The largest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// The kinds of document accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Pdf,
    Jpeg,
    Png,
}

impl DocumentKind {
    /// What the content is, by its first bytes; `None` for anything else.
    pub fn sniff(bytes: &[u8]) -> Option<DocumentKind> {
        if bytes.starts_with(b"%PDF-") {
            Some(DocumentKind::Pdf)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(DocumentKind::Jpeg)
        } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(DocumentKind::Png)
        } else {
            None
        }
    }

    /// The stored spelling: `pdf`, `jpeg`, `png`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "pdf",
            DocumentKind::Jpeg => "jpeg",
            DocumentKind::Png => "png",
        }
    }

    /// The kind of a stored spelling.
    pub fn parse(text: &str) -> Option<DocumentKind> {
        match text {
            "pdf" => Some(DocumentKind::Pdf),
            "jpeg" => Some(DocumentKind::Jpeg),
            "png" => Some(DocumentKind::Png),
            _ => None,
        }
    }

    /// The media type served.
    pub fn media_type(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "application/pdf",
            DocumentKind::Jpeg => "image/jpeg",
            DocumentKind::Png => "image/png",
        }
    }

    /// The file extension of a download.
    pub fn extension(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "pdf",
            DocumentKind::Jpeg => "jpg",
            DocumentKind::Png => "png",
        }
    }
}

fn label(name: &str) -> String {
    format!("varco-request-document:{name}")
}

/// A file name is 32 lower-case hex digits: anything else is refused before
/// it reaches the file system.
fn path_of(dir: &Path, name: &str) -> Result<PathBuf, AppError> {
    if name.len() != 32 || !name.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(AppError::internal_because(
            "document name",
            std::io::Error::other("not a document name"),
        ));
    }
    Ok(dir.join(format!("{name}.jwe")))
}

fn io_error(what: &'static str) -> impl FnOnce(std::io::Error) -> AppError {
    move |e| AppError::internal_because(what, e)
}

/// Encrypts `bytes` into a new file with a random name; returns the name.
pub(crate) async fn store(app: &App, bytes: Vec<u8>) -> Result<String, AppError> {
    let mut random = [0u8; 16];
    OsRng.fill_bytes(&mut random);
    let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let sealed = app
        .settings
        .provider
        .kek
        .seal(&label(&name), &bytes)
        .map_err(|e| AppError::internal_because("document encryption", e))?;
    let dir = app.settings.requests.documents_dir.clone();
    let path = path_of(&dir, &name)?;
    tokio::task::spawn_blocking(move || -> Result<(), AppError> {
        create_private_dir(&dir).map_err(io_error("document folder"))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io_error("document file"))?;
        let written = file.write_all(sealed.as_bytes()).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&path);
            return Err(io_error("document file")(e));
        }
        Ok(())
    })
    .await
    .map_err(|e| AppError::internal_because("document writer", e))??;
    Ok(name)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The plaintext of the document stored as `name`.
pub(crate) async fn load(app: &App, name: &str) -> Result<Vec<u8>, AppError> {
    let path = path_of(&app.settings.requests.documents_dir, name)?;
    let sealed = tokio::fs::read_to_string(&path)
        .await
        .map_err(io_error("document file"))?;
    app.settings
        .provider
        .kek
        .open(&label(name), &sealed)
        .map_err(|e| AppError::internal_because("document decryption", e))
}

/// Deletes the document stored as `name`; a file already gone is fine.
pub(crate) async fn remove(app: &App, name: &str) -> Result<(), AppError> {
    let path = path_of(&app.settings.requests.documents_dir, name)?;
    match tokio::fs::remove_file(&path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("document file")(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_content() {
        assert_eq!(DocumentKind::sniff(b"%PDF-1.7\n..."), Some(DocumentKind::Pdf));
        assert_eq!(
            DocumentKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]),
            Some(DocumentKind::Jpeg)
        );
        assert_eq!(
            DocumentKind::sniff(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Some(DocumentKind::Png)
        );
        assert_eq!(DocumentKind::sniff(b"MZ\x90\x00 this is an executable"), None);
        assert_eq!(DocumentKind::sniff(b"\x7fELF"), None);
        assert_eq!(DocumentKind::sniff(b""), None);
        assert_eq!(DocumentKind::sniff(b"%PD"), None);
    }

    #[test]
    fn only_generated_names_reach_the_file_system() {
        let dir = Path::new("/tmp/x");
        assert!(path_of(dir, "0123456789abcdef0123456789abcdef").is_ok());
        for bad in ["../../etc/passwd", "0123456789ABCDEF0123456789ABCDEF", "", "0123"] {
            assert!(path_of(dir, bad).is_err(), "{bad}");
        }
    }
}

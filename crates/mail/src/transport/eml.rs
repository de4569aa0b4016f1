//! The `.eml` transport: each message becomes `<dir>/<Message-ID>.eml`,
//! readable by any mail client and easy to hand to another system.
//!
//! Invariants: a file appears complete or not at all (written to a temporary
//! name in the same directory, synced, then renamed over the final name); the
//! file name depends only on the Message-ID, so delivering a message again
//! replaces its file instead of adding one; the name never leaves the
//! directory (no separators, no leading dot); the directory is private to
//! Varco's user (0700) and each file is 0600, because the messages hold live
//! links.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::SendError;
use crate::RenderedMessage;

/// Creates `dir` (and missing parents) readable by Varco's user only, and
/// tightens it if it already existed.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        builder.mode(0o700);
        builder.create(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// Longest kept part of a Message-ID in a file name.
const MAX_NAME: usize = 150;

/// Writes the message; returns the file's path.
pub(crate) async fn write(dir: &Path, message: &RenderedMessage) -> Result<PathBuf, SendError> {
    let dir = dir.to_owned();
    let name = file_name(&message.message_id);
    let bytes = message.bytes.clone();
    tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &bytes))
        .await
        .map_err(|e| SendError::Transient(format!("the file writer stopped: {e}")))?
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, SendError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let fail = |what: &str, path: &Path, e: std::io::Error| {
        SendError::Transient(format!("cannot {what} {}: {e}", path.display()))
    };
    create_private_dir(dir).map_err(|e| fail("create", dir, e))?;
    let target = dir.join(name);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let temporary = dir.join(format!(".{name}.{}.{unique}.tmp", std::process::id()));
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, &target)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temporary);
        return Err(fail("write", &target, e));
    }
    // Makes the rename itself durable; not every platform can open a directory.
    if let Ok(directory) = File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(target)
}

/// `<id>.eml` with every character outside `A–Z a–z 0–9 . - _ @ + =` replaced
/// by `_`; when anything had to change, a hash of the original keeps two
/// different ids from sharing a file.
fn file_name(message_id: &str) -> String {
    let id = message_id.trim().trim_start_matches('<').trim_end_matches('>');
    let mut name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '+' | '=') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME)
        .collect();
    if name.starts_with('.') {
        name.replace_range(0..1, "_");
    }
    if name.is_empty() || name != id {
        name.push_str(&format!("-{:016x}", fnv1a(id.as_bytes())));
    }
    name.push_str(".eml");
    name
}

/// FNV-1a, 64 bits: stable across runs and platforms (unlike `DefaultHasher`'s contract).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, body: &str) -> RenderedMessage {
        RenderedMessage {
            message_id: id.to_owned(),
            to: "a@example.org".to_owned(),
            subject: "s".to_owned(),
            text: body.to_owned(),
            html: String::new(),
            lang: "it".to_owned(),
            bytes: format!("Message-ID: <{id}>\r\n\r\n{body}\r\n").into_bytes(),
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn ordinary_ids_are_kept_as_they_are() {
        assert_eq!(
            file_name("1795433167.00ff@accesso.example"),
            "1795433167.00ff@accesso.example.eml"
        );
        assert_eq!(file_name("<a@b>"), "a@b.eml");
    }

    #[test]
    fn unusual_ids_cannot_escape_or_collide() {
        let climbing = file_name("../../etc/passwd");
        assert!(!climbing.contains('/') && !climbing.starts_with('.'), "{climbing}");
        assert_ne!(file_name("a/b@c"), file_name("a_b@c"));
        assert_ne!(file_name("a b@c"), file_name("a/b@c"));
        assert!(file_name("").ends_with(".eml"));
        assert!(file_name(&"x".repeat(1000)).len() < MAX_NAME + 30);
        assert!(!file_name("a\r\nb").contains('\n'));
    }

    #[tokio::test]
    async fn one_file_per_message_id_and_a_resend_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("mail");
        let first = write(&out, &message("1@varco.invalid", "first")).await.unwrap();
        write(&out, &message("2@varco.invalid", "second")).await.unwrap();
        assert_eq!(files(&out), ["1@varco.invalid.eml", "2@varco.invalid.eml"]);

        let again = write(&out, &message("1@varco.invalid", "again")).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(
            files(&out),
            ["1@varco.invalid.eml", "2@varco.invalid.eml"],
            "no temporary file left"
        );
        let content = fs::read_to_string(&first).unwrap();
        assert_eq!(content, "Message-ID: <1@varco.invalid>\r\n\r\nagain\r\n");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_directory_and_the_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/mail");
        let file = write(&out, &message("1@varco.invalid", "a live link")).await.unwrap();
        assert_eq!(mode(&out), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&file), 0o600);
        // A directory left open by an older version is tightened.
        fs::set_permissions(&out, fs::Permissions::from_mode(0o755)).unwrap();
        write(&out, &message("2@varco.invalid", "another")).await.unwrap();
        assert_eq!(mode(&out), 0o700);
    }

    #[tokio::test]
    async fn an_unwritable_directory_is_a_transient_failure() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-directory");
        fs::write(&blocker, b"").unwrap();
        let error = write(&blocker, &message("1@x", "body")).await.unwrap_err();
        assert!(error.is_transient(), "{error}");
    }

    #[test]
    fn the_hash_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}

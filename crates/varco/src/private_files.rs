//! Files that only Varco's user may read: the data directory (0700) and the
//! SQLite database with its `-wal` and `-shm` companions (0600). They hold
//! password hashes, session hashes and, until sent, messages with live links.
//!
//! No umask is changed (std has none, and it would need `unsafe`): the
//! directory is created with its mode, the database file is created empty
//! with 0600 before SQLite opens it (SQLite gives its `-wal` and `-shm` files
//! the mode of the database file), and existing files are tightened.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Creates `dir` and its missing parents as 0700; tightens `dir` itself if it
/// already existed.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
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

/// The file of a `sqlite://PATH[?options]` URL (`None` for memory databases).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

/// Makes sure the database file exists with mode 0600 before SQLite opens
/// it, and tightens its `-wal` and `-shm` files if they are already there.
pub fn prepare_sqlite_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // Creates an empty file (which SQLite takes for a new database) or
        // leaves an existing one untouched.
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            match fs::set_permissions(Path::new(&name), fs::Permissions::from_mode(0o600)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Writes `bytes` to `path`, created or truncated with mode 0600 (an
/// existing file is tightened first).
pub fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        match fs::set_permissions(path, fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_of_a_sqlite_url() {
        assert_eq!(
            sqlite_file("sqlite://./d/varco.db"),
            Some(PathBuf::from("./d/varco.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///abs/v.db?mode=rwc"),
            Some(PathBuf::from("/abs/v.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_700_and_600_and_existing_files_are_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/data");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        let db = dir.join("varco.db");
        prepare_sqlite_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(fs::metadata(&db).unwrap().len(), 0);

        fs::write(&db, b"keep me").unwrap();
        fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).unwrap();
        let wal = dir.join("varco.db-wal");
        fs::write(&wal, b"").unwrap();
        fs::set_permissions(&wal, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        prepare_sqlite_file(&db).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&wal), 0o600);
        assert_eq!(
            fs::read(&db).unwrap(),
            b"keep me",
            "an existing database is not truncated"
        );

        let secret = dir.join("secret");
        fs::write(&secret, b"an old, longer secret").unwrap();
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();
        write_private_file(&secret, b"new").unwrap();
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(fs::read(&secret).unwrap(), b"new", "replaced, not appended");
        let fresh = dir.join("fresh");
        write_private_file(&fresh, b"x").unwrap();
        assert_eq!(mode(&fresh), 0o600);
    }
}

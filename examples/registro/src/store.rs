//! The register's own tiny store: one JSON file with each student's
//! absences and each teacher's confirmed application.
//!
//! Invariants: the file on disk is always a whole, parseable document — it
//! is replaced by writing a temporary file beside it, syncing it and
//! renaming it over the old one, so a crash or a full disk leaves the
//! previous version; and memory changes only after the file did, so a failed
//! write changes nothing. A file that does not parse stops the register at
//! start rather than being overwritten.
//!
//! Students are known by the pseudonymous id Varco gives this register; the
//! first time one is seen, three absences on fixed dates are recorded, so
//! that a demo has something to justify.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use jiff::civil::Date;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

/// The absences recorded for a student the first time the register sees
/// them (Thursday 12, Friday 13 and Thursday 19 November 2026).
pub const SEED_DATES: [&str; 3] = ["2026-11-12", "2026-11-13", "2026-11-19"];

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file cannot be read or written.
    #[error("cannot {action} the register's data file {path}: {source}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file is not a document this register wrote.
    #[error("the register's data file {path} is not valid: {source} (fix or move it; it is never overwritten)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// An absence asked for is unknown or already justified.
    #[error("an absence is unknown or already justified")]
    NotPending,
    /// The application is already confirmed.
    #[error("the application is already confirmed")]
    AlreadyConfirmed,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Data {
    /// Absences by student id.
    #[serde(default)]
    pub students: BTreeMap<String, StudentRecord>,
    /// Confirmed applications: by the teacher's `sub`, then by application id.
    #[serde(default)]
    pub applications: BTreeMap<String, BTreeMap<String, Confirmed>>,
}

/// One student's absences, in date order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StudentRecord {
    /// The absences.
    pub absences: Vec<Absence>,
}

/// One day of absence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Absence {
    /// The day (`YYYY-MM-DD` in the file).
    #[serde(with = "date_text")]
    pub date: Date,
    /// Set once a confirmed justification covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justified: Option<Justified>,
}

/// A justification Varco confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Justified {
    /// `salute`, `famiglia` or `altro`.
    pub reason: String,
    /// The words given with `altro`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_text: Option<String>,
    /// The proof: the confirmation's `jti` and when the secret was entered.
    #[serde(flatten)]
    pub confirmed: Confirmed,
}

/// The trace of a confirmation kept with what it confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confirmed {
    /// The confirmation JWT's `jti` (Varco's confirmation id).
    pub confirmation: String,
    /// When the person confirmed (Unix seconds, from Varco).
    pub confirmed_at: i64,
    /// The confirmation's `acr` (`urn:varco:acr:second-secret`).
    pub acr: String,
}

/// The store: the file and its content in memory.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    data: Mutex<Data>,
}

impl Store {
    /// Opens the file at `path`; a missing file is an empty store (created
    /// at the first change).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let data = match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt {
                path: path.to_owned(),
                source,
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Data::default(),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Ok(Store {
            path: path.to_owned(),
            data: Mutex::new(data),
        })
    }

    /// A copy of the content, to show it.
    #[must_use]
    pub fn snapshot(&self) -> Data {
        self.lock().clone()
    }

    /// Records [`SEED_DATES`] for each student never seen before.
    pub fn seed(&self, students: &[&str]) -> Result<(), StoreError> {
        self.update(|data| {
            for id in students {
                data.students.entry((*id).to_owned()).or_insert_with(|| StudentRecord {
                    absences: SEED_DATES
                        .iter()
                        .filter_map(|d| d.parse().ok())
                        .map(|date| Absence { date, justified: None })
                        .collect(),
                });
            }
            Ok(())
        })
    }

    /// The student's absences not yet justified.
    #[must_use]
    pub fn pending(&self, student: &str) -> Vec<Date> {
        self.lock()
            .students
            .get(student)
            .map(|record| {
                record
                    .absences
                    .iter()
                    .filter(|a| a.justified.is_none())
                    .map(|a| a.date)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Marks the student's absences on `dates` justified: all of them or,
    /// when one is unknown or already justified, none.
    pub fn justify(&self, student: &str, dates: &[Date], justified: &Justified) -> Result<(), StoreError> {
        self.update(|data| {
            let record = data.students.get_mut(student).ok_or(StoreError::NotPending)?;
            for date in dates {
                let absence = record
                    .absences
                    .iter_mut()
                    .find(|a| a.date == *date && a.justified.is_none())
                    .ok_or(StoreError::NotPending)?;
                absence.justified = Some(justified.clone());
            }
            Ok(())
        })
    }

    /// Records the teacher's confirmed application.
    pub fn confirm_application(&self, sub: &str, application: &str, confirmed: &Confirmed) -> Result<(), StoreError> {
        self.update(|data| {
            let mine = data.applications.entry(sub.to_owned()).or_default();
            if mine.contains_key(application) {
                return Err(StoreError::AlreadyConfirmed);
            }
            mine.insert(application.to_owned(), confirmed.clone());
            Ok(())
        })
    }

    /// Applies `change` to a copy, writes the copy if it differs, and only
    /// then keeps it.
    fn update<T>(&self, change: impl FnOnce(&mut Data) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut data = self.lock();
        let mut next = data.clone();
        let answer = change(&mut next)?;
        if next != *data {
            let mut bytes = serde_json::to_vec_pretty(&next).unwrap_or_default();
            bytes.push(b'\n');
            write_atomically(&self.path, &bytes).map_err(|source| StoreError::Io {
                action: "write",
                path: self.path.clone(),
                source,
            })?;
            *data = next;
        }
        Ok(answer)
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock cannot leave a half change: changes
        // are made on a copy.
        self.data.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Replaces `path` with `bytes`: a new file (0600) beside it, synced, then
/// renamed over it; the temporary file is removed if anything fails.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the data path names no file"))?;
    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let temporary = dir.join(format!(".{}.{suffix}.tmp", name.to_string_lossy()));
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
        return written;
    }
    // The rename itself survives a crash once the directory is synced.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A civil date as `YYYY-MM-DD` in the file.
mod date_text {
    use jiff::civil::Date;
    use serde::{Deserialize as _, Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(date)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|_| de::Error::custom(format!("{text:?} is not a YYYY-MM-DD date")))
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn confirmed(jti: &str) -> Confirmed {
        Confirmed {
            confirmation: jti.into(),
            confirmed_at: 1_790_000_000,
            acr: "urn:varco:acr:second-secret".into(),
        }
    }

    fn health(jti: &str) -> Justified {
        Justified {
            reason: "salute".into(),
            reason_text: None,
            confirmed: confirmed(jti),
        }
    }

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_student_gets_three_absences_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registro.json");
        let store = Store::open(&path).unwrap();
        assert!(!path.exists(), "nothing written before the first change");
        store.seed(&["st-1"]).unwrap();
        let days = |store: &Store, id: &str| -> Vec<String> {
            store.snapshot().students[id]
                .absences
                .iter()
                .map(|a| a.date.to_string())
                .collect()
        };
        assert_eq!(days(&store, "st-1"), SEED_DATES);
        store.justify("st-1", &[date(2026, 11, 12)], &health("c-1")).unwrap();
        let written = fs::read(&path).unwrap();

        // Seen again (with a sibling): the first keeps its state, nothing is re-seeded.
        store.seed(&["st-1", "st-2"]).unwrap();
        assert_eq!(days(&store, "st-2"), SEED_DATES);
        assert_eq!(store.pending("st-1"), [date(2026, 11, 13), date(2026, 11, 19)]);
        let before = fs::read(&path).unwrap();
        assert_ne!(before, written, "the sibling was written");
        store.seed(&["st-2"]).unwrap();
        assert_eq!(fs::read(&path).unwrap(), before, "nothing new, nothing written");

        // Reopened, the file gives the same content.
        let reopened = Store::open(&path).unwrap();
        assert_eq!(reopened.snapshot(), store.snapshot());
        assert_eq!(reopened.pending("st-1").len(), 2);
        assert_eq!(
            reopened.snapshot().students["st-1"].absences[0].justified,
            Some(health("c-1"))
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(files_in(dir.path()), ["registro.json"], "no temporary file left");
    }

    #[test]
    fn a_justification_covers_all_its_days_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("r.json")).unwrap();
        store.seed(&["st-1"]).unwrap();
        let before = store.snapshot();
        for dates in [vec![date(2026, 11, 12), date(2026, 11, 14)], vec![date(2026, 11, 1)]] {
            assert!(matches!(
                store.justify("st-1", &dates, &health("c-1")),
                Err(StoreError::NotPending)
            ));
        }
        assert!(matches!(
            store.justify("st-unknown", &[date(2026, 11, 12)], &health("c-1")),
            Err(StoreError::NotPending)
        ));
        assert_eq!(store.snapshot(), before, "nothing changed");
        store
            .justify("st-1", &[date(2026, 11, 12), date(2026, 11, 13)], &health("c-1"))
            .unwrap();
        assert_eq!(store.pending("st-1"), [date(2026, 11, 19)]);
        // Twice: refused, the first proof stays.
        assert!(matches!(
            store.justify("st-1", &[date(2026, 11, 13), date(2026, 11, 19)], &health("c-2")),
            Err(StoreError::NotPending)
        ));
        assert_eq!(store.pending("st-1"), [date(2026, 11, 19)]);
        assert_eq!(
            store.snapshot().students["st-1"].absences[1].justified,
            Some(health("c-1"))
        );

        store.confirm_application("sub-1", "app", &confirmed("c-3")).unwrap();
        assert!(matches!(
            store.confirm_application("sub-1", "app", &confirmed("c-4")),
            Err(StoreError::AlreadyConfirmed)
        ));
        assert_eq!(store.snapshot().applications["sub-1"]["app"], confirmed("c-3"));
    }

    #[test]
    fn a_failed_write_changes_nothing_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registro.json");
        let store = Store::open(&path).unwrap();
        // The rename cannot replace a non-empty directory: the write fails
        // after the temporary file was made.
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), b"x").unwrap();
        let failed = store.seed(&["st-1"]);
        assert!(
            matches!(failed, Err(StoreError::Io { action: "write", .. })),
            "{failed:?}"
        );
        assert_eq!(store.snapshot(), Data::default(), "memory unchanged");
        assert!(store.pending("st-1").is_empty());
        assert_eq!(files_in(dir.path()), ["registro.json"], "the temporary file is gone");
        assert_eq!(fs::read(path.join("keep")).unwrap(), b"x");

        // Once the path is free again, the same change goes through.
        fs::remove_dir_all(&path).unwrap();
        store.seed(&["st-1"]).unwrap();
        assert_eq!(store.pending("st-1").len(), 3);
    }

    #[test]
    fn a_file_that_does_not_parse_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registro.json");
        for bad in [
            &b"{\"students\": {\"st-1\": {\"absences\": [{\"date\": \"12/11/2026\"}]}}}"[..],
            b"{\"students\": ",
        ] {
            fs::write(&path, bad).unwrap();
            let error = Store::open(&path).unwrap_err();
            assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
            assert!(error.to_string().contains("never overwritten"), "{error}");
            assert_eq!(fs::read(&path).unwrap(), bad);
        }
        // A temporary file left by a crash is ignored.
        fs::write(&path, b"{}").unwrap();
        fs::write(dir.path().join(".registro.json.0011223344556677.tmp"), b"{\"stud").unwrap();
        assert_eq!(Store::open(&path).unwrap().snapshot(), Data::default());
    }
}

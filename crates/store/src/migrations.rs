//! Schema migrations, embedded in the binary.
//!
//! Each engine has its own folder (`migrations/sqlite`, `migrations/postgres`)
//! holding the same file names in the same order; the test at the bottom fails
//! when they drift apart. Migrations only go forward, and a database that has
//! a migration this binary does not know is refused rather than touched.

use std::borrow::Cow;

use sqlx::AnyPool;
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};

use crate::{Backend, StoreError};

/// The migration file names, in order, shared by both engines.
pub const MIGRATION_NAMES: &[&str] = &[
    "0001_foundation.sql",
    "0002_password_lifecycle.sql",
    "0003_recovery.sql",
    "0004_solid_ground.sql",
    "0005_oidc_provider.sql",
    "0006_federation.sql",
    "0007_upstream_sign_in.sql",
    "0008_federation_keys.sql",
    "0010_requests.sql",
    "0011_school_town.sql",
    "0012_scheduled_disable.sql",
    "0013_second_secrets.sql",
    "0014_students.sql",
    "0015_confirmations.sql",
];

const SQLITE: &[&str] = &[
    include_str!("../migrations/sqlite/0001_foundation.sql"),
    include_str!("../migrations/sqlite/0002_password_lifecycle.sql"),
    include_str!("../migrations/sqlite/0003_recovery.sql"),
    include_str!("../migrations/sqlite/0004_solid_ground.sql"),
    include_str!("../migrations/sqlite/0005_oidc_provider.sql"),
    include_str!("../migrations/sqlite/0006_federation.sql"),
    include_str!("../migrations/sqlite/0007_upstream_sign_in.sql"),
    include_str!("../migrations/sqlite/0008_federation_keys.sql"),
    include_str!("../migrations/sqlite/0010_requests.sql"),
    include_str!("../migrations/sqlite/0011_school_town.sql"),
    include_str!("../migrations/sqlite/0012_scheduled_disable.sql"),
    include_str!("../migrations/sqlite/0013_second_secrets.sql"),
    include_str!("../migrations/sqlite/0014_students.sql"),
    include_str!("../migrations/sqlite/0015_confirmations.sql"),
];
const POSTGRES: &[&str] = &[
    include_str!("../migrations/postgres/0001_foundation.sql"),
    include_str!("../migrations/postgres/0002_password_lifecycle.sql"),
    include_str!("../migrations/postgres/0003_recovery.sql"),
    include_str!("../migrations/postgres/0004_solid_ground.sql"),
    include_str!("../migrations/postgres/0005_oidc_provider.sql"),
    include_str!("../migrations/postgres/0006_federation.sql"),
    include_str!("../migrations/postgres/0007_upstream_sign_in.sql"),
    include_str!("../migrations/postgres/0008_federation_keys.sql"),
    include_str!("../migrations/postgres/0010_requests.sql"),
    include_str!("../migrations/postgres/0011_school_town.sql"),
    include_str!("../migrations/postgres/0012_scheduled_disable.sql"),
    include_str!("../migrations/postgres/0013_second_secrets.sql"),
    include_str!("../migrations/postgres/0014_students.sql"),
    include_str!("../migrations/postgres/0015_confirmations.sql"),
];

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// How many migrations this binary knows.
    pub known: usize,
    /// How many of them this call applied.
    pub applied_now: usize,
}

fn migrator(backend: Backend) -> Migrator {
    let sources = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let migrations: Vec<Migration> = MIGRATION_NAMES
        .iter()
        .zip(sources)
        .map(|(name, sql)| {
            let (version, description) = name
                .trim_end_matches(".sql")
                .split_once('_')
                .expect("migration names are NNNN_description.sql");
            Migration::new(
                version.parse().expect("migration names start with a number"),
                Cow::Owned(description.replace('_', " ")),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<MigrationReport, StoreError> {
    let migrator = migrator(backend);
    let before = applied_count(pool).await;
    migrator.run(pool).await.map_err(|e| match e {
        MigrateError::VersionMissing(version) => StoreError::TooNew { version },
        MigrateError::Execute(e) => StoreError::from(e),
        other => StoreError::Migration(other.to_string()),
    })?;
    let after = applied_count(pool).await;
    Ok(MigrationReport {
        known: MIGRATION_NAMES.len(),
        applied_now: after.saturating_sub(before),
    })
}

async fn applied_count(pool: &AnyPool) -> usize {
    // The table does not exist before the first migration: that counts as zero.
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
        .fetch_one(pool)
        .await
        .map(|n| usize::try_from(n).unwrap_or(0))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(folder: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(folder);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn both_engines_have_the_same_migration_files_and_all_are_embedded() {
        let sqlite = names_in("sqlite");
        let postgres = names_in("postgres");
        assert_eq!(sqlite, postgres, "migration folders drifted apart");
        let embedded: Vec<String> = MIGRATION_NAMES.iter().map(|s| s.to_string()).collect();
        assert_eq!(sqlite, embedded, "a migration file is not embedded in MIGRATION_NAMES");
        assert_eq!(SQLITE.len(), MIGRATION_NAMES.len());
        assert_eq!(POSTGRES.len(), MIGRATION_NAMES.len());
    }

    #[test]
    fn versions_are_strictly_increasing() {
        let m = migrator(Backend::Sqlite);
        let versions: Vec<i64> = m.iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]));
    }
}

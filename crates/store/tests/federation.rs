//! The SPID/CIE tables' store methods (upstream identities, the federation
//! log's hash chain), each run against SQLite (a file in a temporary
//! directory) and PostgreSQL (a fresh database, dropped afterwards).
//!
//! PostgreSQL comes from `VARCO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432`). When it cannot be reached the
//! PostgreSQL half of each test fails under CI (`CI` set) and is skipped,
//! saying so, elsewhere.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use varco_domain::clock::Timestamp;
use varco_domain::federation_log::{ChainBreak, FederationRecordKind, GENESIS_HASH};
use varco_domain::{AccountId, AccountKind, AccountStatus};
use varco_store::{
    ChainVerification, ConnectOptions, FederationKeyPurpose, FederationKeyRecord, KeyRecord, MIGRATION_NAMES,
    NewAccount, NewFederationLogEntry, NewSchool, NewSession, NewUpstreamIdentity, NewUpstreamLogin, Store, StoreError,
    UpstreamLoginStage,
};

/// Chosen so that tests never depend on the real date.
const T0: i64 = 1_800_000_000;

fn at(offset: i64) -> Timestamp {
    Timestamp(T0 + offset)
}

#[derive(Debug, Clone, Copy)]
enum Engine {
    Sqlite,
    Postgres,
}

/// Runs a test body once per engine.
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name(super::Engine::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    super::$name(super::Engine::Postgres).await
                }
            }
        )*
    };
}

both_engines!(
    migration_is_registered,
    identities_link_find_touch_and_unlink,
    an_identity_belongs_to_one_account,
    the_log_chains_each_record_to_the_last,
    a_changed_row_breaks_the_chain,
    a_removed_row_breaks_the_chain,
    concurrent_appends_keep_one_chain,
    relying_party_keys_are_published_until_their_overlap_ends,
    pending_upstream_logins_are_single_use,
    expired_upstream_logins_are_swept,
    sessions_record_how_they_were_signed_in,
    accounts_are_found_by_tax_code_across_schools,
);

fn postgres_base() -> String {
    std::env::var("VARCO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, migrated database with one school and two accounts. Dropping it
/// removes the database.
struct Db {
    store: Store,
    url: String,
    account: AccountId,
    other_account: AccountId,
    _dir: tempfile::TempDir,
    postgres_name: Option<String>,
}

impl Db {
    /// `None` when PostgreSQL is unreachable outside CI (the test then skips).
    async fn create(engine: Engine) -> Option<Db> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (url, postgres_name) = match engine {
            Engine::Sqlite => (format!("sqlite://{}", dir.path().join("varco.db").display()), None),
            Engine::Postgres => {
                let base = postgres_base();
                let name = format!(
                    "varco_store_fed_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    rand::random::<u32>()
                );
                let mut conn = match sqlx::PgConnection::connect(&format!("{base}/postgres")).await {
                    Ok(conn) => conn,
                    Err(e) => {
                        if std::env::var_os("CI").is_some() {
                            panic!("PostgreSQL is required in CI but {base} cannot be reached: {e}");
                        }
                        eprintln!(
                            "SKIPPING the PostgreSQL half of this test: {base} cannot be reached ({e}); \
                             set VARCO_TEST_POSTGRES_URL"
                        );
                        return None;
                    }
                };
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                (format!("{base}/{name}"), Some(name))
            }
        };
        let options = ConnectOptions {
            max_connections: 10,
            ..ConnectOptions::default()
        };
        let store = match Store::connect(&url, &options).await {
            Ok(store) => store,
            Err(e) => {
                if let Some(name) = postgres_name {
                    drop_postgres_database(name);
                }
                panic!("connect to {url}: {e}");
            }
        };
        let mut db = Db {
            store,
            url: url.clone(),
            account: AccountId(0),
            other_account: AccountId(0),
            _dir: dir,
            postgres_name,
        };
        let report = db.store.migrate().await.expect("migrate");
        assert_eq!(report.applied_now, MIGRATION_NAMES.len());
        let mut tx = db.store.begin().await.expect("begin");
        let school = tx
            .insert_school(&NewSchool {
                code: "RMIC81200X",
                name: "IC Roma 1",
                email: None,
                helpdesk_email: None,
                helpdesk_phone: None,
                helpdesk_hours: None,
                town: None,
                created_at: T0,
            })
            .await
            .expect("school");
        let mut accounts = Vec::new();
        for tax_code in ["RSSMRA80A01H501U", "VRDLGU75B02F205A"] {
            let code = varco_domain::UserCode::generate(&mut rand::thread_rng());
            let code = code.as_str();
            accounts.push(
                tx.insert_account(&NewAccount {
                    user_code: code,
                    school_id: school.id,
                    kind: AccountKind::Family,
                    first_name: "Mario",
                    last_name: "Rossi",
                    tax_code,
                    email: None,
                    username: None,
                    status: AccountStatus::Active,
                    password_hash: None,
                    now: T0,
                })
                .await
                .expect("account"),
            );
        }
        db.account = accounts[0];
        db.other_account = accounts[1];
        tx.commit().await.expect("commit");
        Some(db)
    }
}

fn drop_postgres_database(name: String) {
    let admin_url = format!("{}/postgres", postgres_base());
    // Drop runs outside any runtime we may block on: use a thread.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        });
    })
    .join();
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(name) = self.postgres_name.take() {
            drop_postgres_database(name);
        }
    }
}

impl Db {
    /// Runs a statement behind the store's back (tampering, deleting an account).
    async fn raw(&self, sql: &str) {
        let pool = sqlx::AnyPool::connect(&self.url).await.expect("raw pool");
        sqlx::query(sql).execute(&pool).await.expect(sql);
        pool.close().await;
    }
}

const SPID: &str = "https://id.provider.example";
const CIE: &str = "https://cie.example";

fn entry(offset: i64, kind: FederationRecordKind, outcome: &str) -> NewFederationLogEntry<'_> {
    NewFederationLogEntry {
        at: at(offset),
        provider: SPID,
        kind,
        request_id: Some("state-0123456789abcdef0123456789abcdef"),
        response_id: None,
        subject: Some("sub-42"),
        outcome,
    }
}

async fn migration_is_registered(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    assert!(MIGRATION_NAMES.contains(&"0006_federation.sql"));
    assert!(MIGRATION_NAMES.contains(&"0007_upstream_sign_in.sql"));
    assert_eq!(db.store.migrate().await.expect("again").applied_now, 0);
}

async fn identities_link_find_touch_and_unlink(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    let id = tx
        .link_upstream_identity(&NewUpstreamIdentity {
            issuer: SPID,
            subject: "sub-42",
            account_id: db.account,
            provider: "SPID",
            now: at(0),
        })
        .await
        .unwrap();
    tx.link_upstream_identity(&NewUpstreamIdentity {
        issuer: CIE,
        subject: "sub-42",
        account_id: db.account,
        provider: "CIE",
        now: at(10),
    })
    .await
    .expect("the same subject at another issuer is another identity");
    tx.commit().await.unwrap();

    let mut tx = db.store.begin().await.unwrap();
    let found = tx.upstream_identity(SPID, "sub-42").await.unwrap().expect("linked");
    assert_eq!(found.id, id);
    assert_eq!(found.account_id, db.account);
    assert_eq!(found.provider, "SPID");
    assert_eq!(found.linked_at, at(0));
    assert_eq!(found.last_login_at, None);
    assert_eq!(tx.upstream_identity(SPID, "sub-43").await.unwrap(), None);
    assert_eq!(
        tx.upstream_identity("https://ID.provider.example", "sub-42")
            .await
            .unwrap(),
        None,
        "issuers are compared exactly"
    );
    let mine = tx.upstream_identities_of(db.account).await.unwrap();
    assert_eq!(mine.iter().map(|i| i.issuer.as_str()).collect::<Vec<_>>(), [SPID, CIE]);
    assert!(tx.upstream_identities_of(db.other_account).await.unwrap().is_empty());

    assert!(tx.touch_upstream_identity(SPID, "sub-42", at(60)).await.unwrap());
    assert!(!tx.touch_upstream_identity(SPID, "nobody", at(60)).await.unwrap());
    let touched = tx.upstream_identity(SPID, "sub-42").await.unwrap().unwrap();
    assert_eq!(touched.last_login_at, Some(at(60)));

    assert!(
        !tx.unlink_upstream_identity(db.other_account, SPID, "sub-42")
            .await
            .unwrap(),
        "only from the account it belongs to"
    );
    assert!(tx.unlink_upstream_identity(db.account, SPID, "sub-42").await.unwrap());
    assert!(!tx.unlink_upstream_identity(db.account, SPID, "sub-42").await.unwrap());
    assert_eq!(tx.upstream_identity(SPID, "sub-42").await.unwrap(), None);
    assert_eq!(tx.upstream_identities_of(db.account).await.unwrap().len(), 1);
    tx.commit().await.unwrap();
}

async fn an_identity_belongs_to_one_account(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    let link = |account_id| NewUpstreamIdentity {
        issuer: SPID,
        subject: "sub-42",
        account_id,
        provider: "SPID",
        now: at(0),
    };
    tx.link_upstream_identity(&link(db.account)).await.unwrap();
    tx.commit().await.unwrap();
    for account in [db.account, db.other_account] {
        let mut tx = db.store.begin().await.unwrap();
        let error = tx.link_upstream_identity(&link(account)).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
    }
    let mut tx = db.store.begin_read().await.unwrap();
    let found = tx.upstream_identity(SPID, "sub-42").await.unwrap().unwrap();
    assert_eq!(found.account_id, db.account, "never moved silently");
    tx.commit().await.unwrap();
    // Deleting the account (Varco itself only disables them) removes its links.
    db.raw(&format!("DELETE FROM accounts WHERE id = {}", db.account.0))
        .await;
    let mut tx = db.store.begin_read().await.unwrap();
    assert_eq!(tx.upstream_identity(SPID, "sub-42").await.unwrap(), None);
    tx.commit().await.unwrap();
}

async fn the_log_chains_each_record_to_the_last(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(
        tx.verify_federation_log().await.unwrap(),
        ChainVerification::Intact {
            records: 0,
            head: GENESIS_HASH.to_owned()
        }
    );
    let first = tx
        .append_federation_log(&entry(0, FederationRecordKind::AuthorizationRequest, "success"))
        .await
        .unwrap();
    assert_eq!(first.record.seq, 1);
    assert_eq!(first.prev_hash, GENESIS_HASH);
    assert_eq!(first.hash, first.record.chain_hash(GENESIS_HASH));
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    let second = tx
        .append_federation_log(&NewFederationLogEntry {
            response_id: Some("jti-1"),
            ..entry(5, FederationRecordKind::TokenResponse, "invalid_nonce")
        })
        .await
        .unwrap();
    assert_eq!(second.record.seq, 2);
    assert_eq!(second.prev_hash, first.hash);
    tx.commit().await.unwrap();

    let mut tx = db.store.begin_read().await.unwrap();
    let stored = tx.federation_log_after(0, 10).await.unwrap();
    assert_eq!(stored, [first.clone(), second.clone()]);
    assert_eq!(stored[1].record.response_id.as_deref(), Some("jti-1"));
    assert_eq!(stored[1].record.outcome, "invalid_nonce");
    assert_eq!(
        tx.federation_log_after(1, 10).await.unwrap(),
        std::slice::from_ref(&second)
    );
    assert_eq!(
        tx.verify_federation_log().await.unwrap(),
        ChainVerification::Intact {
            records: 2,
            head: second.hash
        }
    );
    tx.commit().await.unwrap();
}

async fn append_three(db: &Db) {
    for (offset, kind) in [
        (0, FederationRecordKind::AuthorizationRequest),
        (1, FederationRecordKind::AuthorizationResponse),
        (2, FederationRecordKind::Userinfo),
    ] {
        let mut tx = db.store.begin().await.unwrap();
        tx.append_federation_log(&entry(offset, kind, "success")).await.unwrap();
        tx.commit().await.unwrap();
    }
}

async fn verify(db: &Db) -> ChainVerification {
    let mut tx = db.store.begin_read().await.unwrap();
    let verification = tx.verify_federation_log().await.unwrap();
    tx.commit().await.unwrap();
    verification
}

async fn a_changed_row_breaks_the_chain(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    append_three(&db).await;
    const RESTORE: &str = "UPDATE federation_log SET subject = 'sub-42', outcome = 'success', \
                           kind = 'authorization_response', at = 1800000001 WHERE seq = 2";
    for change in [
        "subject = 'someone-else'",
        "subject = NULL",
        "outcome = 'failure'",
        "kind = 'userinfo'",
        "kind = 'forged'",
        "at = 1800000099",
    ] {
        db.raw(&format!("UPDATE federation_log SET {change} WHERE seq = 2"))
            .await;
        assert_eq!(
            verify(&db).await,
            ChainVerification::Broken {
                seq: 2,
                reason: ChainBreak::HashMismatch
            },
            "{change}"
        );
        db.raw(RESTORE).await;
        assert!(
            matches!(verify(&db).await, ChainVerification::Intact { records: 3, .. }),
            "restored after {change}"
        );
    }
    // Recomputing the changed row's own hash is not enough: the next row
    // still names the old one.
    let mut tx = db.store.begin_read().await.unwrap();
    let rows = tx.federation_log_after(0, 10).await.unwrap();
    tx.commit().await.unwrap();
    let mut forged = rows[1].record.clone();
    forged.subject = Some("someone-else".into());
    let forged_hash = forged.chain_hash(&rows[1].prev_hash);
    db.raw(&format!(
        "UPDATE federation_log SET subject = 'someone-else', hash = '{forged_hash}' WHERE seq = 2"
    ))
    .await;
    assert_eq!(
        verify(&db).await,
        ChainVerification::Broken {
            seq: 3,
            reason: ChainBreak::PrevHashMismatch
        }
    );
}

async fn a_removed_row_breaks_the_chain(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    append_three(&db).await;
    db.raw("DELETE FROM federation_log WHERE seq = 2").await;
    assert_eq!(
        verify(&db).await,
        ChainVerification::Broken {
            seq: 3,
            reason: ChainBreak::Gap
        }
    );
    db.raw("DELETE FROM federation_log WHERE seq = 1").await;
    assert_eq!(
        verify(&db).await,
        ChainVerification::Broken {
            seq: 3,
            reason: ChainBreak::Gap
        }
    );
}

async fn concurrent_appends_keep_one_chain(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..5 {
                let mut tx = store.begin().await.expect("begin");
                tx.append_federation_log(&entry(i * 10 + j, FederationRecordKind::Userinfo, "success"))
                    .await
                    .expect("append");
                tx.commit().await.expect("commit");
            }
        }));
    }
    for task in tasks {
        task.await.expect("appender");
    }
    let mut tx = db.store.begin_read().await.unwrap();
    assert!(matches!(
        tx.verify_federation_log().await.unwrap(),
        ChainVerification::Intact { records: 40, .. }
    ));
    tx.commit().await.unwrap();
}

async fn relying_party_keys_are_published_until_their_overlap_ends(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let key = |purpose: FederationKeyPurpose, kid: &str, created: i64| FederationKeyRecord {
        purpose,
        key: KeyRecord {
            kid: kid.to_owned(),
            alg: if purpose == FederationKeyPurpose::CoreEnc {
                "RSA-OAEP"
            } else {
                "RS256"
            }
            .to_owned(),
            sealed_private: format!("eyJhbGciOiJkaXIi.{kid}.sealed"),
            public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
            created_at: at(created),
            retired_at: None,
            publish_until: None,
        },
    };
    let fed = key(FederationKeyPurpose::Federation, "fed-1", 10);
    let sig = key(FederationKeyPurpose::CoreSig, "sig-1", 20);
    let enc = key(FederationKeyPurpose::CoreEnc, "enc-1", 30);
    let mut tx = db.store.begin().await.unwrap();
    for k in [&fed, &sig, &enc] {
        tx.insert_federation_key(k).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    assert!(matches!(
        tx.insert_federation_key(&fed).await,
        Err(StoreError::Conflict { .. })
    ));
    drop(tx);
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(
        tx.federation_keys(at(40)).await.unwrap(),
        vec![enc.clone(), sig.clone(), fed.clone()]
    );

    assert_eq!(tx.retire_federation_keys(at(50), at(100)).await.unwrap(), 3);
    let fresh = key(FederationKeyPurpose::Federation, "fed-2", 50);
    tx.insert_federation_key(&fresh).await.unwrap();
    let retired = |k: &FederationKeyRecord| {
        let mut k = k.clone();
        k.key.retired_at = Some(at(50));
        k.key.publish_until = Some(at(100));
        k
    };
    assert_eq!(
        tx.federation_keys(at(60)).await.unwrap(),
        vec![fresh.clone(), retired(&enc), retired(&sig), retired(&fed)]
    );
    // `publish_until` is exclusive; only the new key is left.
    assert_eq!(tx.federation_keys(at(100)).await.unwrap(), vec![fresh.clone()]);
    assert_eq!(tx.retire_federation_keys(at(60), at(70)).await.unwrap(), 1);
    tx.commit().await.unwrap();

    // The provider's own keys are another table.
    let mut tx = db.store.begin_read().await.unwrap();
    assert_eq!(tx.oidc_keys(at(60)).await.unwrap(), vec![]);
    tx.commit().await.unwrap();
}

fn pending(handle_hash: &str, stage: UpstreamLoginStage) -> NewUpstreamLogin<'_> {
    NewUpstreamLogin {
        handle_hash,
        stage,
        provider: "gateway",
        binding_hash: "binding-hash",
        sealed: "sealed-payload",
        now: at(0),
        expires_at: at(600),
    }
}

async fn pending_upstream_logins_are_single_use(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_upstream_login(&pending("state-1", UpstreamLoginStage::Callback))
        .await
        .unwrap();
    tx.insert_upstream_login(&pending("choice-1", UpstreamLoginStage::Choice))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    let again = tx
        .insert_upstream_login(&pending("state-1", UpstreamLoginStage::Callback))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })), "{again:?}");
    drop(tx);

    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(
        tx.take_upstream_login("state-1", UpstreamLoginStage::Choice)
            .await
            .unwrap(),
        None,
        "a handle is only good for its own stage"
    );
    let taken = tx
        .take_upstream_login("state-1", UpstreamLoginStage::Callback)
        .await
        .unwrap()
        .expect("pending");
    assert_eq!(taken.provider, "gateway");
    assert_eq!(taken.binding_hash, "binding-hash");
    assert_eq!(taken.sealed, "sealed-payload");
    assert_eq!(taken.created_at, at(0));
    assert_eq!(taken.expires_at, at(600));
    assert_eq!(
        tx.take_upstream_login("state-1", UpstreamLoginStage::Callback)
            .await
            .unwrap(),
        None,
        "taken once"
    );
    assert!(
        tx.take_upstream_login("choice-1", UpstreamLoginStage::Choice)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        tx.take_upstream_login("nobody", UpstreamLoginStage::Callback)
            .await
            .unwrap(),
        None
    );
    tx.commit().await.unwrap();
}

async fn expired_upstream_logins_are_swept(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_upstream_login(&pending("old", UpstreamLoginStage::Callback))
        .await
        .unwrap();
    tx.insert_upstream_login(&NewUpstreamLogin {
        expires_at: at(1200),
        ..pending("young", UpstreamLoginStage::Callback)
    })
    .await
    .unwrap();
    assert_eq!(tx.delete_expired_upstream_logins(at(599)).await.unwrap(), 0);
    assert_eq!(tx.delete_expired_upstream_logins(at(600)).await.unwrap(), 1);
    assert_eq!(
        tx.take_upstream_login("old", UpstreamLoginStage::Callback)
            .await
            .unwrap(),
        None
    );
    assert!(
        tx.take_upstream_login("young", UpstreamLoginStage::Callback)
            .await
            .unwrap()
            .is_some()
    );
    tx.commit().await.unwrap();
}

async fn sessions_record_how_they_were_signed_in(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    // A row written without the new columns (as before the migration) reads as a password sign-in.
    db.raw(&format!(
        "INSERT INTO sessions (token_hash, account_id, csrf_token, created_at, last_seen_at, expires_at) \
         VALUES ('old-hash', {}, 'csrf', {T0}, {T0}, {})",
        db.account.0,
        T0 + 3600
    ))
    .await;
    let amr = vec!["spid".to_owned()];
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_session(&NewSession {
        token_hash: "spid-hash",
        account_id: db.account,
        csrf_token: "csrf2",
        now: at(0),
        expires_at: at(3600),
        ip: None,
        user_agent: None,
        password_change_required: false,
        acr: "https://www.spid.gov.it/SpidL2",
        amr: &amr,
        upstream_provider: Some("gateway"),
        upstream_token_sealed: Some("sealed-token"),
    })
    .await
    .unwrap();
    let old = tx.session_by_token_hash("old-hash").await.unwrap().expect("old");
    assert_eq!(old.acr, "urn:varco:acr:password");
    assert_eq!(old.amr, ["pwd"]);
    assert_eq!(old.upstream_provider, None);
    assert_eq!(old.upstream_token_sealed, None);
    let spid = tx.session_by_token_hash("spid-hash").await.unwrap().expect("spid");
    assert_eq!(spid.acr, "https://www.spid.gov.it/SpidL2");
    assert_eq!(spid.amr, ["spid"]);
    assert_eq!(spid.upstream_provider.as_deref(), Some("gateway"));
    assert_eq!(spid.upstream_token_sealed.as_deref(), Some("sealed-token"));
    tx.commit().await.unwrap();
}

async fn accounts_are_found_by_tax_code_across_schools(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    let other = tx
        .insert_school(&NewSchool {
            code: "MIIC80000A",
            name: "IC Milano",
            email: None,
            helpdesk_email: None,
            helpdesk_phone: None,
            helpdesk_hours: None,
            town: None,
            created_at: T0,
        })
        .await
        .unwrap();
    let code = varco_domain::UserCode::generate(&mut rand::thread_rng());
    tx.insert_account(&NewAccount {
        user_code: code.as_str(),
        school_id: other.id,
        kind: AccountKind::Staff,
        first_name: "Mario",
        last_name: "Rossi",
        tax_code: "RSSMRA80A01H501U",
        email: None,
        username: None,
        status: AccountStatus::Active,
        password_hash: None,
        now: T0,
    })
    .await
    .unwrap();
    let found = tx.accounts_by_tax_code("RSSMRA80A01H501U").await.unwrap();
    assert_eq!(
        found
            .iter()
            .map(|a| (a.school_code.as_str(), a.school_name.as_str()))
            .collect::<Vec<_>>(),
        [("MIIC80000A", "IC Milano"), ("RMIC81200X", "IC Roma 1")]
    );
    assert_eq!(found[1].id, db.account);
    assert_eq!(tx.accounts_by_tax_code("VRDLGU75B02F205A").await.unwrap().len(), 1);
    assert!(tx.accounts_by_tax_code("BNCGVN80A01H501X").await.unwrap().is_empty());
    tx.commit().await.unwrap();
}

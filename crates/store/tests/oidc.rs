//! The OpenID Connect provider's store methods, each run against SQLite (a
//! file in a temporary directory) and PostgreSQL (a fresh database, dropped
//! afterwards).
//!
//! PostgreSQL comes from `VARCO_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432`). When it cannot be reached the
//! PostgreSQL half of each test fails under CI (`CI` set) and is skipped,
//! saying so, elsewhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::Connection;
use varco_domain::clock::Timestamp;
use varco_domain::{AccountId, AccountKind, AccountStatus, EmailAddress, TaxCode, UserCode};
use varco_store::{
    ClientRecord, CodeRecord, CodeSpend, ConnectOptions, GrantRecord, KeyRecord, MIGRATION_NAMES, NewAccount,
    NewClient, NewCode, NewGrant, NewSchool, OIDC_GRANT_RETENTION_SECS, RefreshUse, Store, StoreError,
};

/// Chosen so that tests never depend on the real date.
const T0: i64 = 1_800_000_000;

fn at(offset: i64) -> Timestamp {
    Timestamp(T0 + offset)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
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
    clients,
    removing_a_client_removes_what_hangs_on_it,
    lists_that_do_not_parse_are_corrupt,
    accounts_carry_domain_values_and_bad_stored_ones_are_corrupt,
    keys,
    codes,
    grants,
    revoking_grants_by_filter,
    refresh_tokens,
    access_tokens,
    bearers_come_with_their_account_in_one_read,
    consents,
    assertions_are_accepted_once,
    subjects,
    purge,
    concurrent_spends_have_one_winner,
);

fn postgres_base() -> String {
    std::env::var("VARCO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, migrated database with one school, two accounts and two
/// clients. Dropping it removes the database.
struct Db {
    store: Store,
    url: String,
    account: AccountId,
    other_account: AccountId,
    _dir: tempfile::TempDir,
    postgres_name: Option<String>,
}

/// The confidential client of every fixture.
const CLIENT: &str = "client-confidential-0000001";
/// The public client of every fixture.
const PUBLIC: &str = "client-public-000000000001";

impl Db {
    /// `None` when PostgreSQL is unreachable outside CI (the test then skips).
    async fn create(engine: Engine) -> Option<Db> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (url, postgres_name) = match engine {
            Engine::Sqlite => (format!("sqlite://{}", dir.path().join("varco.db").display()), None),
            Engine::Postgres => {
                let base = postgres_base();
                let name = format!(
                    "varco_store_oidc_{}_{}_{}",
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
            max_connections: 20,
            ..ConnectOptions::default()
        };
        // Built before connecting, so that a failure below still drops the database.
        let mut db = Db {
            store: match Store::connect(&url, &options).await {
                Ok(store) => store,
                Err(e) => {
                    if let Some(name) = postgres_name {
                        drop_postgres_database(name);
                    }
                    panic!("connect to {url}: {e}");
                }
            },
            url,
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
            let code = UserCode::generate(&mut rand::thread_rng());
            let id = tx
                .insert_account(&NewAccount {
                    user_code: code.as_str(),
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
                .expect("account");
            accounts.push(id);
        }
        db.account = accounts[0];
        db.other_account = accounts[1];
        let uris = strings(&["https://app.example/cb"]);
        let scopes = strings(&["openid", "profile"]);
        for (client_id, name, public) in [(CLIENT, "Registro", false), (PUBLIC, "App", true)] {
            tx.insert_oidc_client(&NewClient {
                client_id,
                name,
                public,
                auth_method: if public { "none" } else { "client_secret_basic" },
                secret_hash: (!public).then_some("00ff"),
                jwks: None,
                redirect_uris: &uris,
                post_logout_redirect_uris: &[],
                scopes: &scopes,
                schools: None,
                first_party: true,
                id_token_alg: "RS256",
                pairwise: false,
                backchannel_logout_uri: None,
                now: at(0),
            })
            .await
            .expect("client");
        }
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

/// A grant of `account` to `client` from sign-in `sid`, created at `created`
/// and ending at `expires`.
fn grant<'a>(account_id: AccountId, client_id: &'a str, sid: &'a str, created: i64, expires: i64) -> NewGrant<'a> {
    NewGrant {
        client_id,
        account_id,
        sid,
        scope: "openid profile",
        auth_time: at(-5),
        acr: "https://www.spid.gov.it/SpidL2",
        amr: &[],
        nonce: None,
        now: at(created),
        expires_at: at(expires),
    }
}

fn code<'a>(code_hash: &'a str, account_id: AccountId, amr: &'a [String], expires: i64) -> NewCode<'a> {
    NewCode {
        code_hash,
        client_id: CLIENT,
        account_id,
        sid: "sid-1",
        redirect_uri: "https://app.example/cb",
        scope: "openid profile",
        nonce: Some("n-0S6_WzA2Mj"),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        auth_time: at(-30),
        acr: "https://www.spid.gov.it/SpidL2",
        amr,
        now: at(0),
        expires_at: at(expires),
    }
}

async fn migration_is_registered(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    assert!(MIGRATION_NAMES.contains(&"0005_oidc_provider.sql"));
    let again = db.store.migrate().await.expect("migrate again");
    assert_eq!(again.applied_now, 0);
    assert_eq!(again.known, MIGRATION_NAMES.len());
}

async fn clients(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    let uris = strings(&["https://scuola.example/cb", "https://scuola.example/cb2"]);
    let logout_uris = strings(&["https://scuola.example/bye"]);
    let scopes = strings(&["openid", "email", "offline_access"]);
    let schools = strings(&["RMIC81200X", "MIIC80000A"]);
    let new = NewClient {
        client_id: "zz-third-party-client-01",
        name: "Zeta",
        public: false,
        auth_method: "private_key_jwt",
        secret_hash: None,
        jwks: Some(r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}"#),
        redirect_uris: &uris,
        post_logout_redirect_uris: &logout_uris,
        scopes: &scopes,
        schools: Some(&schools),
        first_party: false,
        id_token_alg: "ES256",
        pairwise: true,
        backchannel_logout_uri: Some("https://scuola.example/backchannel"),
        now: at(7),
    };
    tx.insert_oidc_client(&new).await.unwrap();
    let expected = ClientRecord {
        client_id: "zz-third-party-client-01".into(),
        name: "Zeta".into(),
        public: false,
        auth_method: "private_key_jwt".into(),
        secret_hash: None,
        jwks: Some(r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}"#.into()),
        redirect_uris: uris.clone(),
        post_logout_redirect_uris: logout_uris.clone(),
        scopes: scopes.clone(),
        schools: Some(schools.clone()),
        first_party: false,
        id_token_alg: "ES256".into(),
        pairwise: true,
        backchannel_logout_uri: Some("https://scuola.example/backchannel".into()),
        created_at: at(7),
        secret_rotated_at: None,
    };
    assert_eq!(
        tx.oidc_client("zz-third-party-client-01").await.unwrap(),
        Some(expected.clone())
    );

    // The fixture's public client: no secret, every school, booleans read back.
    let public = tx.oidc_client(PUBLIC).await.unwrap().expect("public client");
    assert!(public.public && public.first_party && !public.pairwise);
    assert_eq!(public.secret_hash, None);
    assert_eq!(public.schools, None);
    assert_eq!(public.post_logout_redirect_uris, Vec::<String>::new());
    assert_eq!(public.redirect_uris, strings(&["https://app.example/cb"]));

    tx.commit().await.unwrap();

    let mut tx = db.store.begin().await.unwrap();
    let clash = tx.insert_oidc_client(&new).await.expect_err("duplicate id");
    assert!(clash.is_conflict(), "{clash:?}");
    // A PostgreSQL transaction is unusable after a failed statement.
    drop(tx);

    let mut tx = db.store.begin().await.unwrap();
    tx.insert_oidc_client(&NewClient {
        client_id: "aa-second-app",
        name: "App",
        ..new.clone()
    })
    .await
    .unwrap();
    let order: Vec<(String, String)> = tx
        .oidc_clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.client_id))
        .collect();
    assert_eq!(
        order,
        vec![
            ("App".to_owned(), "aa-second-app".to_owned()),
            ("App".to_owned(), PUBLIC.to_owned()),
            ("Registro".to_owned(), CLIENT.to_owned()),
            ("Zeta".to_owned(), "zz-third-party-client-01".to_owned()),
        ]
    );

    assert!(tx.set_oidc_client_secret(CLIENT, "abcdef", at(99)).await.unwrap());
    let rotated = tx.oidc_client(CLIENT).await.unwrap().unwrap();
    assert_eq!(rotated.secret_hash.as_deref(), Some("abcdef"));
    assert_eq!(rotated.secret_rotated_at, Some(at(99)));
    assert_eq!(rotated.created_at, at(0));
    assert!(!tx.set_oidc_client_secret("nobody", "abcdef", at(99)).await.unwrap());
    assert_eq!(tx.oidc_client("nobody").await.unwrap(), None);
    // The other client is untouched.
    assert_eq!(
        tx.oidc_client("zz-third-party-client-01").await.unwrap(),
        Some(expected)
    );
    tx.commit().await.unwrap();
}

async fn removing_a_client_removes_what_hangs_on_it(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    let mut grants = Vec::new();
    for client in [CLIENT, PUBLIC] {
        let g = tx
            .insert_oidc_grant(&grant(db.account, client, "sid-1", 0, 1000))
            .await
            .unwrap();
        tx.insert_oidc_access_token(&format!("at-{client}"), g, at(0), at(100))
            .await
            .unwrap();
        tx.insert_oidc_refresh_token(&format!("rt-{client}"), g, 1, at(0), at(100))
            .await
            .unwrap();
        tx.insert_oidc_code(&NewCode {
            client_id: client,
            ..code(&format!("code-{client}"), db.account, &[], 60)
        })
        .await
        .unwrap();
        tx.set_oidc_consent(db.account, client, &strings(&["openid"]), at(0))
            .await
            .unwrap();
        grants.push(g);
    }
    tx.commit().await.unwrap();

    let mut tx = db.store.begin().await.unwrap();
    assert!(tx.remove_oidc_client(CLIENT).await.unwrap());
    assert!(!tx.remove_oidc_client(CLIENT).await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.oidc_client(CLIENT).await.unwrap(), None);
    assert_eq!(tx.oidc_grant(grants[0]).await.unwrap(), None);
    assert_eq!(
        tx.oidc_access_token(&format!("at-{CLIENT}"), at(1)).await.unwrap(),
        None
    );
    assert!(!tx.delete_oidc_access_token(&format!("at-{CLIENT}")).await.unwrap());
    assert_eq!(
        tx.rotate_oidc_refresh_token(&format!("rt-{CLIENT}"), at(1))
            .await
            .unwrap(),
        RefreshUse::Unknown
    );
    assert_eq!(
        tx.spend_oidc_code(&format!("code-{CLIENT}"), at(1)).await.unwrap(),
        CodeSpend::Unknown
    );
    assert_eq!(tx.oidc_consent(db.account, CLIENT).await.unwrap(), None);

    // The other client keeps everything.
    assert!(tx.oidc_client(PUBLIC).await.unwrap().is_some());
    assert_eq!(
        tx.oidc_access_token(&format!("at-{PUBLIC}"), at(1))
            .await
            .unwrap()
            .map(|g| g.id),
        Some(grants[1])
    );
    assert!(matches!(
        tx.spend_oidc_code(&format!("code-{PUBLIC}"), at(1)).await.unwrap(),
        CodeSpend::Fresh(_)
    ));
    assert_eq!(
        tx.rotate_oidc_refresh_token(&format!("rt-{PUBLIC}"), at(1))
            .await
            .unwrap(),
        RefreshUse::Fresh {
            grant_id: grants[1],
            generation: 1,
            expires_at: at(100)
        }
    );
    assert_eq!(
        tx.oidc_consent(db.account, PUBLIC).await.unwrap(),
        Some(strings(&["openid"]))
    );
    tx.commit().await.unwrap();
}

async fn lists_that_do_not_parse_are_corrupt(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    tx.set_oidc_consent(db.account, CLIENT, &strings(&["openid"]), at(0))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Damage the stored JSON behind the store's back.
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("raw pool");
    sqlx::query("UPDATE oidc_clients SET scopes = 'openid profile' WHERE client_id = $1")
        .bind(CLIENT)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE oidc_consents SET scopes = '[1, 2]'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let mut tx = db.store.begin_read().await.unwrap();
    assert!(matches!(tx.oidc_client(CLIENT).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(tx.oidc_clients().await, Err(StoreError::Corrupt(_))));
    assert!(matches!(
        tx.oidc_consent(db.account, CLIENT).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(tx.oidc_client(PUBLIC).await.unwrap().is_some());
}

/// Accounts come back with parsed codes and address; a stored value that no
/// longer parses is `Corrupt`, and the error does not repeat it.
async fn accounts_carry_domain_values_and_bad_stored_ones_are_corrupt(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let user_code = UserCode::generate(&mut rand::thread_rng());
    let tax_code = TaxCode::complete("BNCGLI85C41H501").expect("a tax code");
    let email = EmailAddress::parse("giulia.bianchi@example.it").unwrap();
    let mut tx = db.store.begin().await.unwrap();
    let school = tx.school_by_code("RMIC81200X").await.unwrap().expect("school");
    let id = tx
        .insert_account(&NewAccount {
            user_code: user_code.as_str(),
            school_id: school.id,
            kind: AccountKind::Staff,
            first_name: "Giulia",
            last_name: "Bianchi",
            tax_code: tax_code.as_str(),
            email: Some(email.as_str()),
            username: None,
            status: AccountStatus::Active,
            password_hash: None,
            now: T0,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.begin_read().await.unwrap();
    let account = tx
        .account_by_user_code(user_code.as_str())
        .await
        .unwrap()
        .expect("account");
    assert_eq!(account.id, id);
    assert_eq!(account.school_id, school.id);
    assert_eq!(account.user_code, user_code);
    assert_eq!(account.tax_code, tax_code);
    assert_eq!(account.email, Some(email));
    drop(tx);

    let pool = sqlx::AnyPool::connect(&db.url).await.expect("raw pool");
    for (column, bad) in [
        ("tax_code", "BNCGLI85C41H50"),
        ("user_code", "ABCDEFGH"),
        ("email", "giulia.bianchi"),
    ] {
        let good: String = sqlx::query_scalar(&format!("SELECT {column} FROM accounts WHERE id = $1"))
            .bind(id.0)
            .fetch_one(&pool)
            .await
            .unwrap();
        sqlx::query(&format!("UPDATE accounts SET {column} = $1 WHERE id = $2"))
            .bind(bad)
            .bind(id.0)
            .execute(&pool)
            .await
            .unwrap();
        let mut tx = db.store.begin_read().await.unwrap();
        match tx.account_by_id(id).await {
            Err(StoreError::Corrupt(why)) => assert!(!why.contains(bad), "{column}: {why}"),
            other => panic!("{column} {bad:?} read as {other:?}"),
        }
        drop(tx);
        sqlx::query(&format!("UPDATE accounts SET {column} = $1 WHERE id = $2"))
            .bind(good)
            .bind(id.0)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let mut tx = db.store.begin_read().await.unwrap();
    assert!(
        tx.account_by_id(id).await.unwrap().is_some(),
        "repaired, it reads again"
    );
}

async fn keys(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let key = |kid: &str, created: i64, retired: Option<i64>, until: Option<i64>| KeyRecord {
        kid: kid.to_owned(),
        alg: if kid.starts_with("ec") { "ES256" } else { "RS256" }.to_owned(),
        sealed_private: format!("eyJhbGciOiJkaXIi.{kid}.sealed"),
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        created_at: at(created),
        retired_at: retired.map(at),
        publish_until: until.map(at),
    };
    let old = key("rsa-old", 0, Some(1), Some(50));
    let rsa = key("rsa-1", 10, None, None);
    let ec = key("ec-1", 20, None, None);
    let mut tx = db.store.begin().await.unwrap();
    for k in [&old, &rsa, &ec] {
        tx.insert_oidc_key(k).await.unwrap();
    }
    assert_eq!(
        tx.oidc_keys(at(30)).await.unwrap(),
        vec![ec.clone(), rsa.clone(), old.clone()]
    );
    // `publish_until` is exclusive.
    assert_eq!(tx.oidc_keys(at(50)).await.unwrap(), vec![ec.clone(), rsa.clone()]);

    assert_eq!(tx.retire_oidc_keys(at(60), at(200)).await.unwrap(), 2);
    let retired = |k: &KeyRecord| KeyRecord {
        retired_at: Some(at(60)),
        publish_until: Some(at(200)),
        ..k.clone()
    };
    assert_eq!(tx.oidc_keys(at(61)).await.unwrap(), vec![retired(&ec), retired(&rsa)]);
    // The key retired before keeps its own dates.
    assert_eq!(tx.oidc_keys(at(5)).await.unwrap()[2], old);
    assert_eq!(tx.retire_oidc_keys(at(70), at(300)).await.unwrap(), 0);
    assert_eq!(tx.oidc_keys(at(200)).await.unwrap(), vec![]);

    // A new active key is published alongside the retired ones.
    let fresh = key("rsa-2", 60, None, None);
    tx.insert_oidc_key(&fresh).await.unwrap();
    assert_eq!(
        tx.oidc_keys(at(100)).await.unwrap(),
        vec![fresh.clone(), retired(&ec), retired(&rsa)]
    );
    let clash = tx.insert_oidc_key(&fresh).await.expect_err("duplicate kid");
    assert!(clash.is_conflict(), "{clash:?}");
}

async fn codes(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let amr = strings(&["pwd", "otp"]);
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_oidc_code(&code("code-1", db.account, &amr, 60))
        .await
        .unwrap();
    tx.insert_oidc_code(&NewCode {
        nonce: None,
        ..code("code-2", db.other_account, &[], 60)
    })
    .await
    .unwrap();
    tx.insert_oidc_code(&code("code-short", db.account, &amr, 10))
        .await
        .unwrap();

    let expected = CodeRecord {
        code_hash: "code-1".into(),
        client_id: CLIENT.into(),
        account_id: db.account,
        sid: "sid-1".into(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid profile".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        auth_time: at(-30),
        acr: "https://www.spid.gov.it/SpidL2".into(),
        amr: amr.clone(),
        created_at: at(0),
        expires_at: at(60),
        used_at: Some(at(5)),
        grant_id: None,
    };
    assert_eq!(
        tx.spend_oidc_code("code-1", at(5)).await.unwrap(),
        CodeSpend::Fresh(expected.clone())
    );
    // Spent again later: a replay, with the first spend's time.
    assert_eq!(
        tx.spend_oidc_code("code-1", at(6)).await.unwrap(),
        CodeSpend::Replayed(expected.clone())
    );
    let g = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "sid-1", 5, 1000))
        .await
        .unwrap();
    tx.set_oidc_code_grant("code-1", g).await.unwrap();
    // Even after expiry a spent code is told as replayed, naming its grant.
    assert_eq!(
        tx.spend_oidc_code("code-1", at(500)).await.unwrap(),
        CodeSpend::Replayed(CodeRecord {
            grant_id: Some(g),
            ..expected
        })
    );

    match tx.spend_oidc_code("code-2", at(1)).await.unwrap() {
        CodeSpend::Fresh(c) => {
            assert_eq!(c.nonce, None);
            assert_eq!(c.amr, Vec::<String>::new());
            assert_eq!(c.account_id, db.other_account);
        }
        other => panic!("expected a fresh code, got {other:?}"),
    }

    // Expired and unused: unknown, and left unspent.
    assert_eq!(
        tx.spend_oidc_code("code-short", at(10)).await.unwrap(),
        CodeSpend::Unknown
    );
    assert!(matches!(
        tx.spend_oidc_code("code-short", at(9)).await.unwrap(),
        CodeSpend::Fresh(_)
    ));
    assert_eq!(
        tx.spend_oidc_code("no-such-code", at(1)).await.unwrap(),
        CodeSpend::Unknown
    );

    let clash = tx
        .insert_oidc_code(&code("code-1", db.account, &amr, 60))
        .await
        .expect_err("duplicate code");
    assert!(clash.is_conflict(), "{clash:?}");
}

async fn grants(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let amr = strings(&["pwd"]);
    let mut tx = db.store.begin().await.unwrap();
    let g1 = tx
        .insert_oidc_grant(&NewGrant {
            amr: &amr,
            nonce: Some("nonce-1"),
            ..grant(db.account, CLIENT, "sid-1", 0, 1000)
        })
        .await
        .unwrap();
    let g2 = tx
        .insert_oidc_grant(&grant(db.account, PUBLIC, "sid-1", 10, 1000))
        .await
        .unwrap();
    let g3 = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "sid-2", 20, 1000))
        .await
        .unwrap();
    let expired = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "sid-3", 30, 50))
        .await
        .unwrap();
    let other = tx
        .insert_oidc_grant(&grant(db.other_account, CLIENT, "sid-9", 40, 1000))
        .await
        .unwrap();

    let first = GrantRecord {
        id: g1,
        client_id: CLIENT.into(),
        account_id: db.account,
        sid: "sid-1".into(),
        scope: "openid profile".into(),
        auth_time: at(-5),
        acr: "https://www.spid.gov.it/SpidL2".into(),
        amr: amr.clone(),
        nonce: Some("nonce-1".into()),
        created_at: at(0),
        expires_at: at(1000),
        last_used_at: at(0),
        revoked_at: None,
        revoked_reason: None,
    };
    assert_eq!(tx.oidc_grant(g1).await.unwrap(), Some(first.clone()));
    assert!(first.is_live(at(999)) && !first.is_live(at(1000)));
    assert_eq!(tx.oidc_grant(-1).await.unwrap(), None);

    tx.touch_oidc_grant(g1, at(77)).await.unwrap();
    assert_eq!(tx.oidc_grant(g1).await.unwrap().unwrap().last_used_at, at(77));

    let live = |grants: Vec<GrantRecord>| grants.into_iter().map(|g| g.id).collect::<Vec<_>>();
    assert_eq!(
        live(tx.oidc_grants_of_account(db.account, at(40)).await.unwrap()),
        vec![expired, g3, g2, g1]
    );
    assert_eq!(
        live(tx.oidc_grants_of_account(db.account, at(50)).await.unwrap()),
        vec![g3, g2, g1]
    );
    assert_eq!(
        live(tx.oidc_grants_of_account(db.other_account, at(50)).await.unwrap()),
        vec![other]
    );

    tx.insert_oidc_access_token("at-g2", g2, at(10), at(500)).await.unwrap();
    tx.insert_oidc_access_token("at-g1", g1, at(10), at(500)).await.unwrap();
    assert!(tx.revoke_oidc_grant(g2, at(100), "user_revoked").await.unwrap());
    assert!(!tx.revoke_oidc_grant(g2, at(101), "logout").await.unwrap());
    let revoked = tx.oidc_grant(g2).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at(100)));
    assert_eq!(revoked.revoked_reason.as_deref(), Some("user_revoked"));
    assert!(!revoked.is_live(at(100)));
    // Its access token went with it; the other grant's stayed.
    assert!(!tx.delete_oidc_access_token("at-g2").await.unwrap());
    assert_eq!(
        tx.oidc_access_token("at-g1", at(100)).await.unwrap().map(|g| g.id),
        Some(g1)
    );
    assert_eq!(
        live(tx.oidc_grants_of_account(db.account, at(100)).await.unwrap()),
        vec![g3, g1]
    );
    assert!(!tx.revoke_oidc_grant(-1, at(100), "logout").await.unwrap());
}

async fn revoking_grants_by_filter(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    let a_client_s1 = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s1", 0, 1000))
        .await
        .unwrap();
    let a_public_s1 = tx
        .insert_oidc_grant(&grant(db.account, PUBLIC, "s1", 0, 1000))
        .await
        .unwrap();
    let a_client_s2 = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s2", 0, 1000))
        .await
        .unwrap();
    let b_client_s3 = tx
        .insert_oidc_grant(&grant(db.other_account, CLIENT, "s3", 0, 1000))
        .await
        .unwrap();
    let b_public_s3 = tx
        .insert_oidc_grant(&grant(db.other_account, PUBLIC, "s3", 0, 1000))
        .await
        .unwrap();
    for (i, g) in [a_client_s1, a_public_s1, a_client_s2, b_client_s3, b_public_s3]
        .iter()
        .enumerate()
    {
        tx.insert_oidc_access_token(&format!("at-{i}"), *g, at(0), at(500))
            .await
            .unwrap();
        tx.insert_oidc_refresh_token(&format!("rt-{i}"), *g, 1, at(0), at(500))
            .await
            .unwrap();
    }
    let ids = |grants: &[GrantRecord]| grants.iter().map(|g| g.id).collect::<Vec<_>>();

    // No filter: nothing at all.
    assert_eq!(
        tx.revoke_oidc_grants_where(None, None, None, at(1), "x").await.unwrap(),
        vec![]
    );
    assert_eq!(tx.oidc_grants_of_account(db.account, at(1)).await.unwrap().len(), 3);

    // By sign-in session alone.
    let by_sid = tx
        .revoke_oidc_grants_where(None, None, Some("s1"), at(10), "logout")
        .await
        .unwrap();
    assert_eq!(ids(&by_sid), vec![a_client_s1, a_public_s1]);
    assert!(
        by_sid
            .iter()
            .all(|g| g.revoked_at == Some(at(10)) && g.revoked_reason.as_deref() == Some("logout"))
    );
    assert_eq!(tx.oidc_access_token("at-0", at(11)).await.unwrap(), None);
    assert_eq!(tx.oidc_access_token("at-1", at(11)).await.unwrap(), None);
    // The refresh token of a revoked grant is not usable, and stays unused.
    assert_eq!(
        tx.rotate_oidc_refresh_token("rt-0", at(11)).await.unwrap(),
        RefreshUse::Unknown
    );

    // Account and client together: only grants not revoked yet come back.
    let both = tx
        .revoke_oidc_grants_where(Some(db.account), Some(CLIENT), None, at(20), "account_disabled")
        .await
        .unwrap();
    assert_eq!(ids(&both), vec![a_client_s2]);
    assert_eq!(
        tx.oidc_grant(a_client_s1)
            .await
            .unwrap()
            .unwrap()
            .revoked_reason
            .as_deref(),
        Some("logout")
    );

    // Client alone reaches the other account; its other client is untouched.
    let by_client = tx
        .revoke_oidc_grants_where(None, Some(CLIENT), None, at(30), "client_removed")
        .await
        .unwrap();
    assert_eq!(ids(&by_client), vec![b_client_s3]);
    assert_eq!(tx.oidc_access_token("at-3", at(31)).await.unwrap(), None);
    assert_eq!(
        tx.oidc_access_token("at-4", at(31)).await.unwrap().map(|g| g.id),
        Some(b_public_s3)
    );

    // All three filters must match at once.
    assert_eq!(
        tx.revoke_oidc_grants_where(Some(db.account), Some(PUBLIC), Some("s3"), at(40), "x")
            .await
            .unwrap(),
        vec![]
    );
    let all = tx
        .revoke_oidc_grants_where(Some(db.other_account), Some(PUBLIC), Some("s3"), at(40), "x")
        .await
        .unwrap();
    assert_eq!(ids(&all), vec![b_public_s3]);
    assert_eq!(
        tx.oidc_grants_of_account(db.other_account, at(41)).await.unwrap(),
        vec![]
    );
    assert_eq!(tx.oidc_grants_of_account(db.account, at(41)).await.unwrap(), vec![]);
}

async fn refresh_tokens(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    let g = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s1", 0, 1000))
        .await
        .unwrap();
    let short = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s2", 0, 30))
        .await
        .unwrap();
    tx.insert_oidc_refresh_token("rt-1", g, 1, at(0), at(100))
        .await
        .unwrap();
    tx.insert_oidc_refresh_token("rt-expiring", g, 4, at(0), at(20))
        .await
        .unwrap();
    tx.insert_oidc_refresh_token("rt-short-grant", short, 1, at(0), at(100))
        .await
        .unwrap();

    assert_eq!(
        tx.rotate_oidc_refresh_token("rt-1", at(10)).await.unwrap(),
        RefreshUse::Fresh {
            grant_id: g,
            generation: 1,
            expires_at: at(100)
        }
    );
    tx.insert_oidc_refresh_token("rt-2", g, 2, at(10), at(110))
        .await
        .unwrap();
    assert_eq!(
        tx.rotate_oidc_refresh_token("rt-1", at(11)).await.unwrap(),
        RefreshUse::Reused { grant_id: g }
    );
    // Reuse is recognized even once the token has expired.
    assert_eq!(
        tx.rotate_oidc_refresh_token("rt-1", at(5000)).await.unwrap(),
        RefreshUse::Reused { grant_id: g }
    );
    assert_eq!(
        tx.rotate_oidc_refresh_token("rt-2", at(12)).await.unwrap(),
        RefreshUse::Fresh {
            grant_id: g,
            generation: 2,
            expires_at: at(110)
        }
    );

    // Expired and unused: unknown, and left unused.
    assert_eq!(
        tx.rotate_oidc_refresh_token("rt-expiring", at(20)).await.unwrap(),
        RefreshUse::Unknown
    );
    assert_eq!(
        tx.rotate_oidc_refresh_token("rt-expiring", at(19)).await.unwrap(),
        RefreshUse::Fresh {
            grant_id: g,
            generation: 4,
            expires_at: at(20)
        }
    );
    // A grant past its absolute end takes its refresh tokens with it.
    assert_eq!(
        tx.rotate_oidc_refresh_token("rt-short-grant", at(30)).await.unwrap(),
        RefreshUse::Unknown
    );
    assert!(matches!(
        tx.rotate_oidc_refresh_token("rt-short-grant", at(29)).await.unwrap(),
        RefreshUse::Fresh { grant_id, .. } if grant_id == short
    ));
    assert_eq!(
        tx.rotate_oidc_refresh_token("no-such-token", at(1)).await.unwrap(),
        RefreshUse::Unknown
    );

    let clash = tx
        .insert_oidc_refresh_token("rt-1", g, 9, at(0), at(100))
        .await
        .expect_err("duplicate refresh token");
    assert!(clash.is_conflict(), "{clash:?}");
}

async fn access_tokens(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    let g = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s1", 0, 1000))
        .await
        .unwrap();
    let short = tx
        .insert_oidc_grant(&grant(db.account, PUBLIC, "s1", 0, 40))
        .await
        .unwrap();
    tx.insert_oidc_access_token("at-1", g, at(0), at(100)).await.unwrap();
    tx.insert_oidc_access_token("at-short-grant", short, at(0), at(100))
        .await
        .unwrap();

    let found = tx.oidc_access_token("at-1", at(99)).await.unwrap().expect("live token");
    assert_eq!(Some(found), tx.oidc_grant(g).await.unwrap());
    assert_eq!(tx.oidc_access_token("at-1", at(100)).await.unwrap(), None);
    assert_eq!(tx.oidc_access_token("no-such-token", at(1)).await.unwrap(), None);

    assert_eq!(
        tx.oidc_access_token("at-short-grant", at(39))
            .await
            .unwrap()
            .map(|g| g.id),
        Some(short)
    );
    assert_eq!(tx.oidc_access_token("at-short-grant", at(40)).await.unwrap(), None);

    assert!(tx.delete_oidc_access_token("at-1").await.unwrap());
    assert!(!tx.delete_oidc_access_token("at-1").await.unwrap());
    assert_eq!(tx.oidc_access_token("at-1", at(1)).await.unwrap(), None);

    let clash = tx
        .insert_oidc_access_token("at-short-grant", g, at(0), at(100))
        .await
        .expect_err("duplicate access token");
    assert!(clash.is_conflict(), "{clash:?}");
}

async fn bearers_come_with_their_account_in_one_read(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    let uris = strings(&["https://pairwise.example/cb"]);
    let scopes = strings(&["openid"]);
    tx.insert_oidc_client(&NewClient {
        client_id: "client-pairwise",
        name: "Pairwise",
        public: true,
        auth_method: "none",
        secret_hash: None,
        jwks: None,
        redirect_uris: &uris,
        post_logout_redirect_uris: &[],
        scopes: &scopes,
        schools: None,
        first_party: true,
        id_token_alg: "RS256",
        pairwise: true,
        backchannel_logout_uri: None,
        now: at(0),
    })
    .await
    .unwrap();
    let g = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s1", 0, 1000))
        .await
        .unwrap();
    let p = tx
        .insert_oidc_grant(&grant(db.other_account, "client-pairwise", "s2", 0, 1000))
        .await
        .unwrap();
    tx.set_account_subject(db.account, "sub-one").await.unwrap();
    tx.insert_oidc_access_token("at-g", g, at(0), at(100)).await.unwrap();
    tx.insert_oidc_access_token("at-p", p, at(0), at(100)).await.unwrap();
    tx.insert_oidc_refresh_token("rt-g", g, 1, at(0), at(100))
        .await
        .unwrap();
    tx.insert_oidc_refresh_token("rt-p", p, 1, at(0), at(100))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Outside any transaction: each statement sees what is committed.
    let mut read = db.store.read().await.unwrap();
    let bearer = read.oidc_bearer("at-g", at(99)).await.unwrap().expect("live token");
    assert_eq!(Some(&bearer.grant), read.oidc_grant(g).await.unwrap().as_ref());
    assert_eq!(
        Some(&bearer.account),
        read.account_by_id(db.account).await.unwrap().as_ref()
    );
    assert_eq!(bearer.account.subject.as_deref(), Some("sub-one"));
    assert!(!bearer.client_pairwise);
    let other = read.oidc_bearer("at-p", at(1)).await.unwrap().expect("live token");
    assert_eq!(other.grant.id, p);
    assert_eq!(other.account.id, db.other_account);
    assert_eq!(other.account.subject, None, "no subject until one is made");
    assert!(other.client_pairwise);
    assert!(
        read.oidc_bearer("at-g", at(100)).await.unwrap().is_none(),
        "expired token"
    );
    assert!(read.oidc_bearer("no-such", at(1)).await.unwrap().is_none());

    let (with_grant, with_account) = read
        .oidc_refresh_grant_with_account("rt-g")
        .await
        .unwrap()
        .expect("grant");
    assert_eq!(with_grant, bearer.grant);
    assert_eq!(with_account, bearer.account);
    assert!(read.oidc_refresh_grant_with_account("no-such").await.unwrap().is_none());

    // A revocation committed meanwhile is seen by the very next read.
    let mut write = db.store.begin().await.unwrap();
    assert!(write.revoke_oidc_grant(p, at(2), "test").await.unwrap());
    write.commit().await.unwrap();
    assert!(
        read.oidc_bearer("at-p", at(3)).await.unwrap().is_none(),
        "revoked grant"
    );
    let (revoked, _) = read
        .oidc_refresh_grant_with_account("rt-p")
        .await
        .unwrap()
        .expect("a revoked grant is still found by its refresh token");
    assert_eq!(revoked.revoked_at, Some(at(2)));
    read.commit().await.unwrap();
}

async fn consents(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.oidc_consent(db.account, CLIENT).await.unwrap(), None);
    tx.set_oidc_consent(db.account, CLIENT, &strings(&["openid", "profile", "email"]), at(0))
        .await
        .unwrap();
    tx.set_oidc_consent(db.other_account, CLIENT, &[], at(0)).await.unwrap();
    assert_eq!(
        tx.oidc_consent(db.account, CLIENT).await.unwrap(),
        Some(strings(&["openid", "profile", "email"]))
    );
    // Replaced, not merged.
    tx.set_oidc_consent(db.account, CLIENT, &strings(&["openid"]), at(5))
        .await
        .unwrap();
    assert_eq!(
        tx.oidc_consent(db.account, CLIENT).await.unwrap(),
        Some(strings(&["openid"]))
    );
    assert_eq!(tx.oidc_consent(db.other_account, CLIENT).await.unwrap(), Some(vec![]));
    assert_eq!(tx.oidc_consent(db.account, PUBLIC).await.unwrap(), None);

    assert!(tx.delete_oidc_consent(db.account, CLIENT).await.unwrap());
    assert!(!tx.delete_oidc_consent(db.account, CLIENT).await.unwrap());
    assert_eq!(tx.oidc_consent(db.account, CLIENT).await.unwrap(), None);
    assert_eq!(tx.oidc_consent(db.other_account, CLIENT).await.unwrap(), Some(vec![]));
}

async fn assertions_are_accepted_once(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    assert!(tx.remember_oidc_assertion(CLIENT, "jti-1", at(600)).await.unwrap());
    assert!(
        !tx.remember_oidc_assertion(CLIENT, "jti-1", at(600)).await.unwrap(),
        "a replay"
    );
    // The same jti from another client is another assertion.
    assert!(tx.remember_oidc_assertion(PUBLIC, "jti-1", at(600)).await.unwrap());
    // Forgotten once expired.
    tx.purge_oidc(at(601)).await.unwrap();
    assert!(tx.remember_oidc_assertion(CLIENT, "jti-1", at(1200)).await.unwrap());
    tx.commit().await.unwrap();
}

async fn subjects(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.account_subject(db.account).await.unwrap(), None);
    assert_eq!(tx.account_subject(AccountId(-1)).await.unwrap(), None);
    tx.set_account_subject(db.account, "sub-one").await.unwrap();
    assert_eq!(
        tx.account_subject(db.account).await.unwrap().as_deref(),
        Some("sub-one")
    );
    // Set once, never changed.
    tx.set_account_subject(db.account, "sub-two").await.unwrap();
    assert_eq!(
        tx.account_subject(db.account).await.unwrap().as_deref(),
        Some("sub-one")
    );
    assert_eq!(tx.account_subject(db.other_account).await.unwrap(), None);
    tx.set_account_subject(db.other_account, "sub-two").await.unwrap();
    assert_eq!(
        tx.account_subject(db.other_account).await.unwrap().as_deref(),
        Some("sub-two")
    );
    tx.commit().await.unwrap();

    // Two accounts cannot share a subject.
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_school(&NewSchool {
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
    let school = tx.school_by_code("MIIC80000A").await.unwrap().unwrap();
    let third = tx
        .insert_account(&NewAccount {
            user_code: "C2345678",
            school_id: school.id,
            kind: AccountKind::Staff,
            first_name: "Anna",
            last_name: "Bianchi",
            tax_code: "BNCNNA80A41H501X",
            email: None,
            username: None,
            status: AccountStatus::Active,
            password_hash: None,
            now: T0,
        })
        .await
        .unwrap();
    let clash = tx
        .set_account_subject(third, "sub-one")
        .await
        .expect_err("shared subject");
    assert!(clash.is_conflict(), "{clash:?}");
}

async fn purge(engine: Engine) {
    let Some(db) = Db::create(engine).await else { return };
    let day = 24 * 60 * 60;
    let now = 40 * day;
    let mut tx = db.store.begin().await.unwrap();
    // Codes: one expired, one live.
    tx.insert_oidc_code(&code("code-old", db.account, &[], 60))
        .await
        .unwrap();
    tx.insert_oidc_code(&NewCode {
        now: at(now),
        ..code("code-live", db.account, &[], now + 60)
    })
    .await
    .unwrap();
    // A live grant with an expired and a live access token, an expired and a
    // used but unexpired refresh token.
    let live = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s1", 0, now + 1000))
        .await
        .unwrap();
    tx.insert_oidc_access_token("at-expired", live, at(0), at(now))
        .await
        .unwrap();
    tx.insert_oidc_access_token("at-live", live, at(now), at(now + 1))
        .await
        .unwrap();
    tx.insert_oidc_refresh_token("rt-expired", live, 1, at(0), at(now - 1))
        .await
        .unwrap();
    tx.insert_oidc_refresh_token("rt-used", live, 2, at(0), at(now + 100))
        .await
        .unwrap();
    assert!(matches!(
        tx.rotate_oidc_refresh_token("rt-used", at(now - 10)).await.unwrap(),
        RefreshUse::Fresh { .. }
    ));
    // Revoked long ago (gone, with its unexpired refresh token) and recently (kept).
    let revoked_old = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s2", 0, now + 1000))
        .await
        .unwrap();
    tx.insert_oidc_refresh_token("rt-revoked-old", revoked_old, 1, at(0), at(now + 1000))
        .await
        .unwrap();
    assert!(
        tx.revoke_oidc_grant(revoked_old, at(now - OIDC_GRANT_RETENTION_SECS), "logout")
            .await
            .unwrap()
    );
    let revoked_recent = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s3", 0, now + 1000))
        .await
        .unwrap();
    assert!(
        tx.revoke_oidc_grant(revoked_recent, at(now - 10 * day), "logout")
            .await
            .unwrap()
    );
    // Expired long ago (gone) and recently (kept).
    let expired_old = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s4", 0, now - 31 * day))
        .await
        .unwrap();
    let expired_recent = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s5", 0, now - day))
        .await
        .unwrap();
    // An access token outliving its grant goes with the grant.
    tx.insert_oidc_access_token("at-expired-grant", expired_old, at(0), at(now + 10))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.store.begin().await.unwrap();
    // 1 code + 2 access tokens + 2 refresh tokens + 2 grants.
    assert_eq!(tx.purge_oidc(at(now)).await.unwrap(), 7);
    assert_eq!(tx.purge_oidc(at(now)).await.unwrap(), 0);
    tx.commit().await.unwrap();

    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(tx.spend_oidc_code("code-old", at(0)).await.unwrap(), CodeSpend::Unknown);
    assert!(matches!(
        tx.spend_oidc_code("code-live", at(now)).await.unwrap(),
        CodeSpend::Fresh(_)
    ));
    assert!(tx.oidc_grant(live).await.unwrap().is_some());
    assert!(tx.oidc_grant(revoked_recent).await.unwrap().is_some());
    assert!(tx.oidc_grant(expired_recent).await.unwrap().is_some());
    assert_eq!(tx.oidc_grant(revoked_old).await.unwrap(), None);
    assert_eq!(tx.oidc_grant(expired_old).await.unwrap(), None);
    assert!(!tx.delete_oidc_access_token("at-expired").await.unwrap());
    assert_eq!(
        tx.oidc_access_token("at-live", at(now)).await.unwrap().map(|g| g.id),
        Some(live)
    );
    assert_eq!(
        tx.rotate_oidc_refresh_token("rt-expired", at(0)).await.unwrap(),
        RefreshUse::Unknown
    );
    // A used, unexpired refresh token is kept: reuse is still detected.
    assert_eq!(
        tx.rotate_oidc_refresh_token("rt-used", at(now)).await.unwrap(),
        RefreshUse::Reused { grant_id: live }
    );
}

/// Sixteen transactions spend one code, and sixteen rotate one refresh
/// token, at the same time: exactly one of each wins.
async fn concurrent_spends_have_one_winner(engine: Engine) {
    const RACERS: usize = 16;
    let Some(db) = Db::create(engine).await else { return };
    let mut tx = db.store.begin().await.unwrap();
    tx.insert_oidc_code(&code("code-raced", db.account, &[], 60))
        .await
        .unwrap();
    let g = tx
        .insert_oidc_grant(&grant(db.account, CLIENT, "s1", 0, 1000))
        .await
        .unwrap();
    tx.insert_oidc_refresh_token("rt-raced", g, 3, at(0), at(100))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = db.store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut tx = store.begin().await.expect("begin");
            let spend = tx.spend_oidc_code("code-raced", at(1 + i as i64)).await.expect("spend");
            // Hold the row a little so the others pile up behind it.
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.commit().await.expect("commit");
            spend
        }));
    }
    let mut spends = Vec::new();
    for task in tasks {
        spends.push(task.await.expect("task"));
    }
    let fresh: Vec<&CodeRecord> = spends
        .iter()
        .filter_map(|s| match s {
            CodeSpend::Fresh(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(fresh.len(), 1, "{spends:?}");
    let won_at = fresh[0].used_at.expect("spent");
    for spend in &spends {
        match spend {
            CodeSpend::Fresh(_) => {}
            CodeSpend::Replayed(c) => assert_eq!(c.used_at, Some(won_at), "the winner's time stays"),
            CodeSpend::Unknown => panic!("a racer saw the code as unknown: {spends:?}"),
        }
    }

    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = db.store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut tx = store.begin().await.expect("begin");
            let used = tx
                .rotate_oidc_refresh_token("rt-raced", at(1 + i as i64))
                .await
                .expect("rotate");
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.commit().await.expect("commit");
            used
        }));
    }
    let mut uses = Vec::new();
    for task in tasks {
        uses.push(task.await.expect("task"));
    }
    let fresh = uses
        .iter()
        .filter(|u| {
            **u == RefreshUse::Fresh {
                grant_id: g,
                generation: 3,
                expires_at: at(100),
            }
        })
        .count();
    let reused = uses
        .iter()
        .filter(|u| **u == RefreshUse::Reused { grant_id: g })
        .count();
    assert_eq!((fresh, reused), (1, RACERS - 1), "{uses:?}");
}

//! The real `varco` binary: admin commands, their output and exit codes, the
//! roster import, and start-up refusals for bad configuration.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::harness::{Backend, Database, PASSWORD, both_backends, tax_code};

both_backends!(
    admin_commands_work_as_the_contract_says,
    roster_import_is_all_or_nothing_and_idempotent
);

struct Cli<'a> {
    db: &'a Database,
}

impl Cli<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_varco"));
        c.args(args)
            .env("VARCO_DATA_DIR", self.db.dir.path().join("data"))
            .env("VARCO_DATABASE_URL", &self.db.url)
            .env("VARCO_LOG", "warn")
            .env_remove("VARCO_CONFIG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().expect("run varco")
    }

    fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn varco");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "varco {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "varco {args:?} should fail");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!stderr.trim().is_empty(), "a failure says why");
        stderr
    }
}

async fn admin_commands_work_as_the_contract_says(backend: Backend) {
    let Some(db) = Database::create(backend).await else {
        return;
    };
    let cli = Cli { db: &db };
    cli.ok(&["migrate"]);
    cli.ok(&["migrate"]);
    assert_eq!(
        cli.ok(&[
            "school",
            "add",
            "--code",
            "rmic81200x",
            "--name",
            "IC Via Roma",
            "--email",
            "rmic81200x@istruzione.it"
        ])
        .trim(),
        "RMIC81200X"
    );
    let err = cli.fails(&["school", "add", "--code", "RMIC81200X", "--name", "Again"]);
    assert!(err.contains("already exists"), "{err}");
    let err = cli.fails(&["school", "add", "--code", "12", "--name", "Bad"]);
    assert!(err.contains("code"), "{err}");
    assert!(cli.ok(&["school", "list"]).contains("RMIC81200X\tIC Via Roma"));

    let cf = tax_code(1);
    let spaced = format!(" {} {} ", &cf[..6].to_lowercase(), &cf[6..]);
    let add = [
        "account",
        "add",
        "--school",
        "RMIC81200X",
        "--kind",
        "staff",
        "--first-name",
        "Maria",
        "--last-name",
        "Rossi",
        "--tax-code",
        &spaced,
        "--email",
        "maria.rossi@example.it",
        "--username",
        "mrossi",
        "--password-stdin",
    ];
    let out = cli.run_with_stdin(&add, &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let user_code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(user_code.len(), 9, "only the user code on stdout: {user_code:?}");
    let shown = cli.ok(&["account", "show", &user_code, "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["tax_code"], cf.as_str());
    assert_eq!(shown["status"], "active");
    assert!(!shown.to_string().contains(PASSWORD));

    // A wrong check character, a weak password, no password: clear answers.
    let mut bad_cf = cf.clone();
    let last = bad_cf.pop().unwrap();
    bad_cf.push(if last == 'A' { 'B' } else { 'A' });
    let mut args = add.to_vec();
    args[11] = &bad_cf;
    let out = cli.run_with_stdin(&args, &format!("{PASSWORD}\n"));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("check character"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cf2 = tax_code(2);
    let mut args = add.to_vec();
    args[11] = &cf2;
    args[15] = "mrossi2";
    let out = cli.run_with_stdin(&args, "short\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("too_short"));
    let pending = cli.ok(&[
        "account",
        "add",
        "--school",
        "RMIC81200X",
        "--kind",
        "family",
        "--first-name",
        "Luca",
        "--last-name",
        "Verdi",
        "--tax-code",
        &cf2,
        "--email",
        "luca@example.it",
    ]);
    let pending = pending.trim();
    assert!(cli.ok(&["account", "show", pending]).contains("pending_activation"));

    cli.ok(&[
        "role",
        "grant",
        "--account",
        &user_code,
        "--role",
        "desk",
        "--school",
        "RMIC81200X",
    ]);
    cli.ok(&["role", "grant", "--account", &user_code, "--role", "admin"]);
    let err = cli.fails(&["role", "grant", "--account", &user_code, "--role", "desk"]);
    assert!(err.contains("--school"), "{err}");
    let err = cli.fails(&["role", "grant", "--account", "ABCDEFGH2", "--role", "admin"]);
    assert!(err.contains("user_code") || err.contains("not found"), "{err}");
    assert!(
        cli.ok(&["account", "show", &user_code])
            .contains("admin, desk@RMIC81200X")
    );
    cli.ok(&["account", "disable", &user_code]);
    assert!(cli.ok(&["account", "show", &user_code]).contains("disabled"));
    cli.ok(&["account", "enable", &user_code]);
    assert!(cli.ok(&["account", "list", "--school", "RMIC81200X"]).lines().count() == 2);
    // Nothing to lift (a real lock is lifted in security::finding_12_…).
    cli.ok(&["account", "unlock", &user_code]);
    let err = cli.fails(&["account", "unlock", "ABCDEFGH2"]);
    assert!(err.contains("user_code") || err.contains("not found"), "{err}");

    let audit = cli.ok(&["audit", "--json"]);
    let events: Vec<serde_json::Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names[0], "account_enabled", "newest first: {names:?}");
    for expected in ["account_disabled", "role_granted", "account_created", "school_created"] {
        assert!(names.contains(&expected), "{expected} missing");
    }
    let mine = cli.ok(&["audit", "--account", &user_code]);
    assert!(mine.lines().all(|l| l.contains(&user_code)), "{mine}");
    assert!(!audit.contains(PASSWORD));
    // A test message to check the mail settings: queued, audited, masked.
    let err = cli.fails(&["outbox", "test", "--to", "not-an-address"]);
    assert!(err.contains("to"), "{err}");
    cli.ok(&["outbox", "test", "--to", "prova.posta@example.it"]);
    let queued = cli.ok(&["outbox", "list"]);
    assert!(
        queued
            .lines()
            .any(|l| l.contains("test_message") && l.contains("prova.posta@example.it") && l.contains("pending")),
        "{queued}"
    );
    let audit = cli.ok(&["audit", "--json"]);
    assert!(
        audit.contains("mail_test_queued") && !audit.contains("prova.posta@"),
        "{audit}"
    );

    // Unknown flags and bad usage: exit 2 from clap with a message.
    let out = cli.run(&["account", "add", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(cli.ok(&["import", "--help"]).contains("--skip-invalid"));
}

fn write(db: &Database, name: &str, content: &[u8]) -> String {
    let path = db.dir.path().join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

async fn roster_import_is_all_or_nothing_and_idempotent(backend: Backend) {
    let Some(db) = Database::create(backend).await else {
        return;
    };
    let cli = Cli { db: &db };
    cli.ok(&["school", "add", "--code", "RMIC81200X", "--name", "IC Via Roma"]);
    let mut bad_cf = tax_code(12);
    bad_cf.pop();
    bad_cf.push('1');
    let with_errors = format!(
        "\u{feff}tax_code;first_name;last_name;kind;email;username\n\
         {};Anna;Neri;family;anna@example.it;\n\
         {bad_cf};Bruno;Blu;family;bruno@example.it;\n\
         {};\"Carla; detta Carlotta\";Gialli;teacher;carla@example.it;\n\
         {};Dario;Rosa;staff;not-an-email;\n",
        tax_code(10),
        tax_code(13),
        tax_code(14)
    );
    let path = write(&db, "bad.csv", with_errors.as_bytes());
    let err = cli.fails(&["import", "--school", "RMIC81200X", &path]);
    assert!(err.contains(":3:") && err.contains("tax_code"), "{err}");
    assert!(err.contains(":4:") && err.contains("teacher"), "{err}");
    assert!(err.contains(":5:") && err.contains("email"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(cli.ok(&["account", "list"]).lines().count(), 0, "nothing half-written");
    let out = cli.ok(&["import", "--school", "RMIC81200X", "--skip-invalid", &path]);
    assert!(out.contains("created: 1") && out.contains("skipped: 3"), "{out}");

    // Comma-separated, quoted fields, Italian header names, no BOM.
    let good = format!(
        "codice_fiscale,nome,cognome,tipo,email,username\n\
         {},Anna,Neri-Bianchi,family,anna@example.it,\n\
         {},\"Elena, Maria\",Viola,staff,elena@example.it,eviola\n\
         {},Franco,Marrone,family,,\n",
        tax_code(10),
        tax_code(15),
        tax_code(16)
    );
    let path = write(&db, "good.csv", good.as_bytes());
    let out = cli.ok(&["import", "--school", "RMIC81200X", &path]);
    assert!(out.contains("rows: 3, created: 2, updated: 1, unchanged: 0"), "{out}");
    let out = cli.ok(&["import", "--school", "RMIC81200X", &path]);
    assert!(
        out.contains("rows: 3, created: 0, updated: 0, unchanged: 3"),
        "re-import changes nothing: {out}"
    );
    let list = cli.ok(&["account", "list", "--json"]);
    assert_eq!(list.lines().count(), 3);
    assert!(list.lines().all(|l| l.contains("\"status\":\"pending_activation\"")));
    assert!(list.contains("Neri-Bianchi") && list.contains("Elena, Maria"));

    // Whole-file problems: missing file, not UTF-8, no header, unknown column.
    let err = cli.fails(&["import", "--school", "RMIC81200X", "/nonexistent/roster.csv"]);
    assert!(err.contains("cannot open"), "{err}");
    let latin1 = write(
        &db,
        "latin1.csv",
        b"tax_code;first_name;last_name;kind\nX;Nicol\xf2;Y;staff\n",
    );
    assert!(
        cli.fails(&["import", "--school", "RMIC81200X", &latin1])
            .contains("UTF-8")
    );
    let empty = write(&db, "empty.csv", b"");
    assert!(
        cli.fails(&["import", "--school", "RMIC81200X", &empty])
            .contains("empty")
    );
    let unknown = write(&db, "unknown.csv", b"tax_code;first_name;last_name;kind;shoe_size\n");
    assert!(
        cli.fails(&["import", "--school", "RMIC81200X", &unknown])
            .contains("shoe_size")
    );
    let err = cli.fails(&["import", "--school", "XXXX000000", &path]);
    assert!(err.contains("school"), "{err}");
}

#[test]
fn bad_configuration_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_varco"));
        c.args(args)
            .env("VARCO_DATA_DIR", dir.path())
            .env("VARCO_LOG", "warn")
            .env_remove("VARCO_DATABASE_URL");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.stdin(Stdio::null()).output().unwrap()
    };
    let out = run(&[("VARCO_DATABASE_URL", "mysql://localhost/x")], &["migrate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("database_url"));
    let out = run(&[("VARCO_LISTEN", "not-an-address")], &["serve"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
    let config = dir.path().join("varco.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:8080\"\nlisten_typo = 1\n").unwrap();
    let out = run(&[], &["--config", config.to_str().unwrap(), "migrate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listen_typo"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[], &["--config", "/nonexistent/varco.toml", "migrate"]);
    assert_eq!(out.status.code(), Some(2));
    // The environment wins over the file.
    std::fs::write(&config, "database_url = \"mysql://from-file\"\n").unwrap();
    let url = format!("sqlite://{}/env.db", dir.path().display());
    let out = run(
        &[("VARCO_DATABASE_URL", &url)],
        &["--config", config.to_str().unwrap(), "migrate"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // An unwritable data directory (a path below a regular file).
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = run(&[("VARCO_DATA_DIR", file.join("sub").to_str().unwrap())], &["migrate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("data directory"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = run(&[("VARCO_LISTEN", &address)], &["serve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_starts_on_a_fresh_directory_prints_the_setup_link_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_varco"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("VARCO_DATA_DIR")
        .env_remove("VARCO_DATABASE_URL")
        .env("VARCO_LISTEN", format!("127.0.0.1:{port}"))
        .env("VARCO_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ok = false;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Read;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut response = String::new();
            s.read_to_string(&mut response).unwrap();
            ok = response.starts_with("HTTP/1.1 200");
            break;
        }
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(ok, "healthz answered 200: {stderr}");
    assert!(out.status.success(), "graceful exit on SIGTERM: {stderr}");
    assert!(
        dir.path().join("varco-data/varco.db").exists(),
        "SQLite under ./varco-data by default"
    );
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{port}/setup?token=")),
        "{stderr}"
    );
}

both_backends!(a_database_from_a_newer_varco_is_refused);

async fn a_database_from_a_newer_varco_is_refused(backend: Backend) {
    use sqlx::Connection;
    let Some(db) = Database::create(backend).await else {
        return;
    };
    let cli = Cli { db: &db };
    cli.ok(&["migrate"]);
    let insert = match backend {
        Backend::Sqlite => {
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99999, 'from the future', 1, x'00', 0)"
        }
        Backend::Postgres => {
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99999, 'from the future', TRUE, '\\x00'::bytea, 0)"
        }
    };
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(insert).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let err = cli.fails(&["migrate"]);
    assert!(err.contains("newer version of Varco"), "{err}");
    let err = cli.fails(&["school", "list"]);
    assert!(err.contains("newer version of Varco"), "{err}");
}

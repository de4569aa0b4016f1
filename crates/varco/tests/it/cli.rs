//! The real `varco` binary: admin commands, their output and exit codes, the
//! roster import, and start-up refusals for bad configuration.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::harness::{Backend, Database, PASSWORD, both_backends, tax_code};

both_backends!(
    admin_commands_work_as_the_contract_says,
    roster_import_is_all_or_nothing_and_idempotent,
    a_year_end_import_shows_its_plan_and_needs_its_code
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
    let long_town = "R".repeat(101);
    let err = cli.fails(&[
        "school",
        "add",
        "--code",
        "RMIC80000Z",
        "--name",
        "IC Pascoli",
        "--town",
        &long_town,
    ]);
    assert!(err.contains("town"), "{err}");
    cli.ok(&[
        "school",
        "add",
        "--code",
        "RMIC80000Z",
        "--name",
        "IC Pascoli",
        "--town",
        "Frascati",
    ]);
    assert!(cli.ok(&["school", "list", "--json"]).contains("Frascati"));

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
    assert!(cli.ok(&["import", "--help"]).contains("--dry-run"));
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

async fn a_year_end_import_shows_its_plan_and_needs_its_code(backend: Backend) {
    let Some(db) = Database::create(backend).await else {
        return;
    };
    let cli = Cli { db: &db };
    cli.ok(&["school", "add", "--code", "RMIC81200X", "--name", "IC Via Roma"]);
    let last_year = format!(
        "tax_code;first_name;last_name;kind\n{};Anna;Neri;family\n{};Bruno;Blu;family\n{};Carla;Gialli;staff\n",
        tax_code(20),
        tax_code(21),
        tax_code(22)
    );
    let path = write(&db, "2026.csv", last_year.as_bytes());
    cli.ok(&["import", "--school", "RMIC81200X", "--no-activation-email", &path]);
    let this_year = format!(
        "tax_code;first_name;last_name;kind\n{};Anna;Neri-Rossi;family\n{};Dario;Verdi;family\n",
        tax_code(20),
        tax_code(23)
    );
    let path = write(&db, "2027.csv", this_year.as_bytes());
    let rome_today = jiff::Timestamp::now().in_tz("Europe/Rome").unwrap().date();
    let on = rome_today.tomorrow().unwrap().to_string();
    let base = [
        "import",
        "--school",
        "RMIC81200X",
        "--year-end",
        "--disable-on",
        &on,
        &path,
    ];

    let err = cli.fails(&base);
    assert!(err.contains("--dry-run") && err.contains("1 account"), "{err}");
    let mut dry = base.to_vec();
    dry.push("--dry-run");
    let plan = cli.ok(&dry);
    assert!(
        plan.contains("line 2: update") && plan.contains("(last_name)"),
        "{plan}"
    );
    assert!(
        plan.contains("line 3: create") && plan.contains("Verdi Dario"),
        "{plan}"
    );
    assert!(
        plan.contains("disable: ") && plan.contains("Blu Bruno [family]"),
        "{plan}"
    );
    assert!(!plan.contains("Gialli"), "a family roster leaves staff alone: {plan}");
    assert!(
        plan.contains("dry run, nothing written") && plan.contains("would be created: 1"),
        "{plan}"
    );
    let code = plan
        .lines()
        .find_map(|l| l.strip_prefix("to apply, repeat the command without --dry-run and with --confirm "))
        .expect("the dry run prints the code")
        .to_owned();
    let list = cli.ok(&["account", "list", "--json"]);
    assert_eq!(list.lines().count(), 3, "the dry run created nobody");
    assert!(!list.contains("Neri-Rossi"));

    let err = cli.fails(&[&base[..], &["--confirm", "ffffffffff"]].concat());
    assert!(err.contains("run the dry run again"), "{err}");
    let done = cli.ok(&[&base[..], &["--confirm", &code]].concat());
    assert!(done.contains("created: 1, updated: 1"), "{done}");
    assert!(done.contains(&format!("1 disabled from {on}")), "{done}");
    let audit = cli.ok(&["audit", "--json"]);
    assert!(
        audit.contains("account_disable_scheduled") && audit.contains("roster_year_end"),
        "{audit}"
    );

    // Without --disable-on, or with a date that is not one: clear errors.
    let err = cli.fails(&["import", "--school", "RMIC81200X", "--year-end", &path]);
    assert!(err.contains("--disable-on"), "{err}");
    let err = cli.fails(&[
        "import",
        "--school",
        "RMIC81200X",
        "--year-end",
        "--disable-on",
        "31/08/2027",
        &path,
    ]);
    assert!(err.contains("31/08/2027"), "{err}");
    let err = cli.fails(&[
        "import",
        "--school",
        "RMIC81200X",
        "--year-end",
        "--disable-on",
        "2020-08-31",
        &path,
    ]);
    assert!(err.contains("in the past"), "{err}");
    assert!(
        cli.ok(&["jobs", "run", "scheduled-disables"])
            .contains("accounts disabled: 0")
    );
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

/// A child process that is killed when the test ends, passed or not.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `varco client try` running: its stdout line by line as it comes.
struct Trying {
    child: Reaped,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Trying {
    fn spawn(mut command: Command) -> Trying {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn varco client try");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Trying {
            child: Reaped(child),
            lines,
        }
    }

    /// The first line: the authorization URL.
    fn url(&self) -> String {
        self.lines
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("client try prints the authorization URL")
    }

    /// Waits for the exit: the status, the rest of stdout, stderr.
    fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        use std::io::Read;
        let status = self.child.0.wait().unwrap();
        let mut stderr = String::new();
        self.child.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let rest: Vec<String> = self.lines.iter().collect();
        (status, rest.join("\n"), stderr)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value after `key ` in a line of `varco demo`.
fn after<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_once(&format!("{key} "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{key} in {line:?}"))
}

/// `varco demo --start`: Varco and, as its child, the example register; the
/// demo parent signs in to the register through Varco (password form, no
/// consent for a first-party client) and sees the two demo children with
/// their absences. SIGTERM to Varco stops the register too; a second
/// `--start` on the filled database starts both again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_start_runs_the_example_register_next_to_varco() {
    use std::io::BufRead as _;
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_varco")).with_file_name("registro");
    assert!(
        bin.is_file(),
        "the example register is built beside varco by `cargo test --workspace`: {} is missing",
        bin.display()
    );
    let register = format!("http://127.0.0.1:{}", varco_app::setup::REGISTER_PORT);
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", varco_app::setup::REGISTER_PORT)).is_ok(),
        "the demo register's port {} is taken",
        varco_app::setup::REGISTER_PORT
    );
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let stderr_file = dir.path().join("stderr.txt");
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_varco"))
            .args(["demo", "--start"])
            .current_dir(dir.path())
            .env("VARCO_DATA_DIR", dir.path().join("data"))
            .env("VARCO_LISTEN", &listen)
            .env("VARCO_LOG", "warn")
            .env("REGISTRO_LOG", "info")
            .env_remove("VARCO_DATABASE_URL")
            .env_remove("VARCO_PUBLIC_URL")
            .env_remove("VARCO_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_file).unwrap())
            .spawn()
            .expect("start varco demo --start")
    };
    async fn up(url: &str) -> bool {
        for _ in 0..300 {
            if reqwest::get(url).await.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    }
    let stop = |mut child: std::process::Child| {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let status = child.wait().expect("varco exits");
        (status, std::fs::read_to_string(&stderr_file).unwrap_or_default())
    };

    let mut child = start();
    // What the demo made comes first, on stdout, up to the register's command.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    while !printed.contains("start the example register") {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the demo's output ended early: {printed}"
        );
        printed.push_str(&line);
    }
    let family = printed
        .lines()
        .find(|l| l.starts_with("family "))
        .unwrap_or_else(|| panic!("{printed}"));
    let password = after(family, "password").to_owned();
    let pin = after(family, "PIN");
    assert!(pin.len() == 6 && pin.bytes().all(|b| b.is_ascii_digit()), "{family}");
    assert!(printed.contains("student Luca Genitore, class 4A"), "{printed}");
    assert!(printed.contains("student Sara Genitore, class 2B"), "{printed}");
    assert!(up(&format!("{register}/healthz")).await, "the register answers");
    assert!(up(&format!("{base}/healthz")).await, "Varco answers");

    // The parent signs in to the register through Varco's password form.
    let http = crate::harness::client();
    let (status, at, login) = crate::upstream::follow(&http, format!("{register}/login")).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{at}");
    assert!(at.starts_with(&format!("{base}/login")), "{at}");
    let csrf = crate::kit::input_value(&login, "csrf");
    let next = crate::oidc::unescape(&crate::kit::input_value(&login, "next"));
    assert!(next.starts_with("/oauth2/authorize?"), "{next}");
    let r = http
        .post(format!("{base}/login"))
        .header("origin", &base)
        .form(&[
            ("login", "demo.genitore"),
            ("password", password.as_str()),
            ("csrf", csrf.as_str()),
            ("next", next.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let to = url::Url::parse(&base).unwrap().join(&to).unwrap().to_string();
    let (status, at, home) = crate::upstream::follow(&http, to).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{at}: {home}");
    assert_eq!(at.trim_end_matches('/'), register, "back on the register");
    for shown in ["Luca", "Sara", "4A", "2B"] {
        assert!(home.contains(shown), "{shown} on the register's page: {home}");
    }

    // SIGTERM to Varco stops both.
    let (status, stderr) = stop(child);
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("example register started next to Varco"), "{stderr}");
    assert!(
        stderr.contains("registro in ascolto"),
        "the register's own log: {stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "no colours in a file: {stderr}");
    assert!(
        reqwest::get(format!("{register}/healthz")).await.is_err(),
        "the register stopped with Varco"
    );

    // Again on the filled database: nothing printed, both start.
    let mut child = start();
    assert!(up(&format!("{register}/healthz")).await, "the register answers again");
    let mut out = child.stdout.take().unwrap();
    let (status, stderr) = stop(child);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("the demo is already filled"), "{stderr}");
    assert!(rest.is_empty(), "no new accounts, no passwords: {rest}");
}

/// The newcomer's minute: `varco demo` registers a public demo client and
/// says how to try it; `varco client try` plays a relying party on loopback
/// while a browser (a cookie-keeping HTTP client here) signs in through the
/// real server; forged answers and a browser that never comes are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_client_and_client_try_sign_in_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let varco = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_varco"));
        c.args(args)
            .current_dir(dir.path())
            .env("VARCO_DATA_DIR", dir.path().join("data"))
            .env("VARCO_LISTEN", &listen)
            .env("VARCO_LOG", "warn")
            .env_remove("VARCO_DATABASE_URL")
            .env_remove("VARCO_PUBLIC_URL")
            .env_remove("VARCO_CONFIG");
        c
    };
    let run = |args: &[&str]| varco(args).stdin(Stdio::null()).output().expect("run varco");

    // The demo prints its client and the command to try it, after the accounts.
    let out = run(&["demo"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let client_at = lines
        .iter()
        .position(|l| l.starts_with("client "))
        .unwrap_or_else(|| panic!("the demo client is printed: {stdout}"));
    assert!(
        lines.iter().position(|l| l.starts_with("family ")).unwrap() < client_at,
        "{stdout}"
    );
    let client_line = lines[client_at];
    assert!(client_line.contains("Applicazione di prova"), "{client_line}");
    assert!(client_line.contains("http://127.0.0.1:8765/callback"), "{client_line}");
    let demo_client = after(client_line, "client_id").to_owned();
    assert!(
        stdout.contains(&format!("varco client try {demo_client}")),
        "the one command to try it: {stdout}"
    );
    let staff = lines.iter().find(|l| l.starts_with("staff ")).expect("a staff account");
    let (email, password) = (after(staff, "email").to_owned(), after(staff, "password").to_owned());

    // The example register's confidential client: its secret in a private
    // file of the data directory, never on the terminal, and the one
    // command that starts the register.
    let register_line = lines
        .iter()
        .find(|l| l.starts_with("register "))
        .unwrap_or_else(|| panic!("the register's client is printed: {stdout}"));
    assert!(
        register_line.contains("Registro elettronico (esempio)"),
        "{register_line}"
    );
    assert!(
        register_line.contains("http://127.0.0.1:8081/callback"),
        "{register_line}"
    );
    let register_client = after(register_line, "client_id").to_owned();
    let secret_file = std::path::PathBuf::from(after(register_line, "secret in"));
    assert_eq!(secret_file, dir.path().join("data").join("registro-client-secret"));
    let register_secret = std::fs::read_to_string(&secret_file).unwrap().trim().to_owned();
    assert_eq!(register_secret.len(), 43, "256 bits, base64url");
    assert!(!stdout.contains(&register_secret), "the secret is not printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }
    assert!(
        stdout.contains(&format!(
            "cargo run -p registro -- --varco {base} --client-id {register_client} --client-secret-file {} --data {}",
            secret_file.display(),
            dir.path().join("data").join("registro.json").display()
        )),
        "the one command that starts the register: {stdout}"
    );

    let out = run(&["client", "list", "--json"]);
    let clients: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a client per line"))
        .collect();
    assert_eq!(clients.len(), 2, "{clients:?}");
    let listed = clients
        .iter()
        .find(|c| c["client_id"] == demo_client.as_str())
        .expect("the demo client");
    let register = clients
        .iter()
        .find(|c| c["client_id"] == register_client.as_str())
        .expect("the register's client");
    assert_eq!(register["name"], "Registro elettronico (esempio)");
    assert_eq!(register["auth_method"], "client_secret_basic", "confidential");
    assert_eq!(register["first_party"], true);
    assert_eq!(
        register["redirect_uris"],
        serde_json::json!(["http://127.0.0.1:8081/callback"])
    );
    // openid profile school students: students once this Varco knows the scope.
    let expected_scopes: Vec<&str> = ["openid", "profile", "school", "students"]
        .into_iter()
        .filter(|s| varco_app::provider::SCOPES.contains(s))
        .collect();
    assert_eq!(register["scopes"], serde_json::json!(expected_scopes));
    assert_eq!(listed["client_id"], demo_client.as_str());
    assert_eq!(listed["name"], "Applicazione di prova");
    assert_eq!(listed["auth_method"], "none", "public: PKCE only");
    assert_eq!(listed["first_party"], true);
    assert_eq!(
        listed["redirect_uris"],
        serde_json::json!(["http://127.0.0.1:8765/callback"])
    );
    assert_eq!(
        listed["post_logout_redirect_uris"],
        serde_json::json!(["http://127.0.0.1:8765/"])
    );

    // Refusals before anything listens: an unknown client, a port the
    // client does not accept, a confidential client.
    let out = run(&["client", "try", "varco-0000", "--port", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown client varco-0000"));
    let port = free_port();
    let port_text = port.to_string();
    let out = run(&["client", "try", &demo_client, "--port", &port_text]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{port}/callback")) && stderr.contains("8765"),
        "{stderr}"
    );
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let add = |extra: &[&str]| {
        let mut args = vec![
            "client",
            "add",
            "--name",
            "Prova",
            "--first-party",
            "--redirect-uri",
            &redirect,
        ];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned()
    };
    let confidential = add(&[]);
    let out = run(&["client", "try", &confidential, "--port", &port_text]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("confidential"));
    // A public client like the demo's, on a free port for this test.
    let client_id = add(&["--public"]);

    // Without a server: a clear message.
    let out = run(&["client", "try", &client_id, "--port", &port_text]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("varco serve"));

    let _server = Reaped(
        varco(&["serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "varco serve answers");
    // The secret in the file authenticates the register's client (and only it).
    for (secret, status) in [(register_secret.as_str(), 200), ("not-the-secret", 401)] {
        let r = http
            .post(format!("{base}/oauth2/introspect"))
            .basic_auth(&register_client, Some(secret))
            .form(&[("token", "no-such-token")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status);
    }
    let try_args = |timeout: &str| {
        let mut c = varco(&[
            "client",
            "try",
            &client_id,
            "--port",
            &port_text,
            "--timeout-secs",
            timeout,
        ]);
        c.stdin(Stdio::null());
        c
    };

    // No browser comes: exit 1 after the (shortened) wait, saying so.
    let trying = Trying::spawn(try_args("1"));
    let url = trying.url();
    assert!(url.starts_with(&format!("{base}/oauth2/authorize?")), "{url}");
    let (status, _, stderr) = trying.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no browser came back") && stderr.contains("within 1 s"),
        "{stderr}"
    );
    assert!(stderr.contains("Apri questo indirizzo nel browser"), "{stderr}");

    // A forged answer (another state): refused, page and exit code say so.
    let trying = Trying::spawn(try_args("60"));
    let _ = trying.url();
    let r = http
        .get(format!("http://127.0.0.1:{port}/callback"))
        .query(&[("code", "forged"), ("state", "forged"), ("iss", base.as_str())])
        .send()
        .await
        .expect("callback");
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Accesso non riuscito") && page.contains("state"),
        "{page}"
    );
    let (status, stdout, stderr) = trying.finish();
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("state parameter"), "{stderr}");
    assert!(!stdout.contains("Accesso riuscito"), "{stdout}");

    // The whole sign-in: the browser signs in, opens the printed URL and is
    // sent back to the listener, which checks everything and shows the page.
    let trying = Trying::spawn(try_args("60"));
    let url = trying.url();
    let params: std::collections::HashMap<String, String> =
        url::Url::parse(&url).unwrap().query_pairs().into_owned().collect();
    assert_eq!(params["client_id"], client_id);
    assert_eq!(params["redirect_uri"], redirect);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(!params["state"].is_empty() && !params["nonce"].is_empty());
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let r = browser
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({ "login": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let r = browser.get(&url).send().await.expect("authorize, then the callback");
    assert_eq!(
        r.url().as_str().split('?').next().unwrap(),
        redirect,
        "back at the client"
    );
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("<h1>Accesso riuscito</h1>"), "{page}");
    assert!(page.contains("Maria Docente") && page.contains(&email), "{page}");
    let (status, stdout, stderr) = trying.finish();
    assert!(status.success(), "{stderr}\n{stdout}");
    assert!(
        stdout.starts_with("Accesso riuscito / Sign-in succeeded: Maria Docente"),
        "{stdout}"
    );
    let json_after = |label: &str| -> serde_json::Value {
        let start = stdout.find(label).unwrap_or_else(|| panic!("{label} in {stdout}")) + label.len();
        let mut values = serde_json::Deserializer::from_str(stdout[start..].trim_start()).into_iter();
        values.next().expect("a JSON value").expect("JSON")
    };
    let claims = json_after("signature verified against the JWKS):");
    let userinfo = json_after("userinfo:");
    assert_eq!(claims["iss"], base.as_str());
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["nonce"], params["nonce"].as_str());
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["sub"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(userinfo["sub"], claims["sub"]);
    assert_eq!(userinfo["email"], email.as_str());
    assert_eq!(userinfo["name"], "Maria Docente");
    // The tokens are secrets: only their presence is told.
    assert!(stdout.contains("access token: presente, non mostrato"), "{stdout}");
    assert!(stdout.contains("refresh token: presente, non mostrato"), "{stdout}");
    assert!(!stdout.contains("access_token") && !stdout.contains("refresh_token") && !stdout.contains("id_token"));
    assert!(!stdout.contains(&password) && !stderr.contains(&password));

    // The attempt is over: the listener is gone.
    assert!(http.get(&redirect).send().await.is_err());
}

both_backends!(the_federation_log_is_listed_in_order_and_a_changed_record_is_found);

/// `varco federation-log list|verify`: records in order with their hashes;
/// an edited record breaks the chain at that record and `verify` exits 1.
async fn the_federation_log_is_listed_in_order_and_a_changed_record_is_found(backend: Backend) {
    use sqlx::Connection;
    use varco_domain::clock::Timestamp;
    use varco_domain::federation_log::FederationRecordKind;
    use varco_store::{ConnectOptions, NewFederationLogEntry, Store};
    let Some(db) = Database::create(backend).await else {
        return;
    };
    let cli = Cli { db: &db };
    cli.ok(&["migrate"]);
    let empty = cli.ok(&["federation-log", "verify"]);
    assert!(empty.starts_with("intact: 0 record(s)"), "{empty}");
    let store = Store::connect(&db.url, &ConnectOptions::default()).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    for (i, (kind, outcome)) in [
        (FederationRecordKind::AuthorizationRequest, "success"),
        (FederationRecordKind::AuthorizationResponse, "success"),
        (FederationRecordKind::TokenResponse, "invalid_grant"),
    ]
    .into_iter()
    .enumerate()
    {
        tx.append_federation_log(&NewFederationLogEntry {
            at: Timestamp(1_800_000_000 + i as i64),
            provider: "spid-test",
            kind,
            request_id: Some("state-1"),
            response_id: None,
            subject: None,
            outcome,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    store.close().await;

    let listed = cli.ok(&["federation-log", "list", "--json"]);
    let rows: Vec<serde_json::Value> = listed.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3, "{listed}");
    let seqs: Vec<i64> = rows.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(rows[2]["outcome"], "invalid_grant");
    assert_eq!(rows[0]["kind"], "authorization_request");
    let after = cli.ok(&["federation-log", "list", "--after", "2"]);
    assert_eq!(after.lines().count(), 1, "{after}");
    assert!(after.starts_with("3\t"), "{after}");
    let intact = cli.ok(&["federation-log", "verify", "--json"]);
    let intact: serde_json::Value = serde_json::from_str(intact.trim()).unwrap();
    assert_eq!(intact["chain"], "intact");
    assert_eq!(intact["records"], 3);
    assert_eq!(intact["head"], rows[2]["hash"]);

    // Someone edits the second record in the database.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE federation_log SET outcome = 'access_denied' WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let err = cli.fails(&["federation-log", "verify"]);
    assert!(err.contains("broken at record 2"), "{err}");
    assert!(err.contains("content was changed"), "{err}");
}

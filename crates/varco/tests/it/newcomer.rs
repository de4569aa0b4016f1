//! Newcomer traps, with the real binary: the public URL follows the listen
//! address, a public URL that cannot reach the listener is warned about,
//! `/login` says when setup is pending, `demo` prints emails, logs to a pipe
//! have no colour codes, a misspelt key anywhere stops the start, files are
//! private, and plain SMTP with credentials to a remote host is refused.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `varco ARGS` in `dir`, with no configuration from the caller's environment.
fn varco(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_varco"));
    c.args(args)
        .current_dir(dir)
        .env_remove("VARCO_CONFIG")
        .env_remove("VARCO_DATA_DIR")
        .env_remove("VARCO_DATABASE_URL")
        .env_remove("VARCO_PUBLIC_URL")
        .env_remove("VARCO_LISTEN")
        .env_remove("VARCO_SMTP_URL")
        .env("VARCO_LOG", "info")
        .stdin(Stdio::null());
    for (k, v) in envs {
        c.env(k, v);
    }
    c
}

fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    varco(dir, args, envs).output().expect("run varco")
}

/// A plain HTTP/1.1 GET; `None` while nothing listens.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Starts `serve` and waits until `/healthz` answers.
fn serve(dir: &Path, port: u16, envs: &[(&str, &str)]) -> Child {
    let listen = format!("127.0.0.1:{port}");
    let mut all = vec![("VARCO_LISTEN", listen.as_str())];
    all.extend_from_slice(envs);
    let mut child = varco(dir, &["serve"], &all)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn varco serve");
    for _ in 0..150 {
        std::thread::sleep(Duration::from_millis(100));
        if get(port, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            panic!("varco serve exited with {status}: {stderr}");
        }
    }
    let _ = child.kill();
    panic!("varco serve did not answer on {port}");
}

/// SIGTERM, then the whole stderr.
fn stop(child: Child) -> String {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "graceful exit");
    String::from_utf8(out.stderr).unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_first_start_follows_listen_hints_setup_on_login_keeps_files_private_and_logs_plain() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // No VARCO_PUBLIC_URL: links and the origin check follow VARCO_LISTEN.
    let child = serve(dir.path(), port, &[]);
    let login = get(port, "/login").unwrap();
    assert!(login.starts_with("HTTP/1.1 200"), "{login}");
    assert!(
        login.contains("la prima configurazione è in attesa") && login.contains("varco serve"),
        "the login page says that setup is pending and where the link is: {login}"
    );
    #[cfg(unix)]
    {
        let data = dir.path().join("varco-data");
        assert_eq!(mode(&data), 0o700, "data directory");
        for file in ["varco.db", "varco.db-wal", "varco.db-shm"] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
        assert_eq!(mode(&data.join("mail")), 0o700, "mail directory");
    }
    let stderr = stop(child);
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{port}/setup?token=")),
        "the setup link uses the listening port: {stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no ANSI codes in logs to a pipe: {stderr:?}"
    );
    assert!(stderr.contains("INFO"), "the log is there, plain: {stderr}");
    assert!(varco_warnings(&stderr).is_empty(), "nothing to warn about: {stderr}");
}

#[test]
fn a_public_url_that_cannot_reach_the_listener_is_warned_about_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = serve(dir.path(), port, &[("VARCO_PUBLIC_URL", "http://127.0.0.1:8080")]);
    let stderr = stop(child);
    let warning = varco_warnings(&stderr)
        .into_iter()
        .find(|l| l.contains("public"))
        .unwrap_or_else(|| panic!("a warning at start: {stderr}"));
    assert!(
        warning.contains("http://127.0.0.1:8080") && warning.contains(&format!("127.0.0.1:{port}")),
        "the warning names both: {warning}"
    );

    // https (a proxy's business) is not warned about.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = serve(
        dir.path(),
        port,
        &[("VARCO_PUBLIC_URL", "https://accesso.scuola.example")],
    );
    let stderr = stop(child);
    assert!(varco_warnings(&stderr).is_empty(), "{stderr}");
}

/// Varco's own warnings: a slow statement that sqlx reports on a busy
/// machine is not about the configuration.
fn varco_warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("WARN") && !l.contains("slow statement"))
        .collect()
}

#[test]
fn demo_prints_the_url_of_the_listener_and_the_emails() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let out = run(dir.path(), &["demo"], &[("VARCO_LISTEN", &listen)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{port}/login")),
        "demo names the listening port: {stderr}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    for email in [
        "admin@demo.scuola.example",
        "segreteria@demo.scuola.example",
        "docente@demo.scuola.example",
        "genitore@demo.scuola.example",
    ] {
        assert!(stdout.contains(email), "{email}: {stdout}");
    }

    // A public URL on another port: demo says so too.
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["demo"],
        &[("VARCO_LISTEN", &listen), ("VARCO_PUBLIC_URL", "http://127.0.0.1:8080")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: public_url http://127.0.0.1:8080"), "{stderr}");
}

#[test]
fn a_misspelt_key_in_any_section_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("varco.toml");
    for (toml, key) in [
        ("lisen = \"127.0.0.1:8080\"", "lisen"),
        ("[session]\nidle_minute = 5", "session.idle_minute"),
        ("[lockout]\nlock_aftr = 3", "lockout.lock_aftr"),
        ("[rate_limits]\nlogin_per_minut = 3", "rate_limits.login_per_minut"),
        ("[helpdesk]\nphon = \"06 1234\"", "helpdesk.phon"),
        ("[password.hash]\nmemory = 65536", "password.hash.memory"),
        ("[password.staff]\nmin_lenght = 12", "password.staff.min_lenght"),
        ("[password.family]\nhistroy = 3", "password.family.histroy"),
        ("[mail]\nfrom_adress = \"a@b.it\"", "mail.from_adress"),
    ] {
        std::fs::write(&config, toml).unwrap();
        let out = run(dir.path(), &["--config", config.to_str().unwrap(), "migrate"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {stderr}");
        assert!(stderr.contains(key), "{toml}: {stderr}");
    }
    // The environment is checked the same way.
    let out = run(dir.path(), &["migrate"], &[("VARCO_LOCKOUT__LOCK_AFTR", "3")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lockout.lock_aftr"));
    let out = run(dir.path(), &["migrate"], &[("VARCO_PASSWORD__STAFF__MIN_LENGT", "12")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password.staff.min_lengt"));
    // A kind's policy keys sit inline in its section: the environment reaches them.
    let out = run(dir.path(), &["migrate"], &[("VARCO_PASSWORD__STAFF__MIN_LENGTH", "7")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password.staff: min_length"));
    let out = run(dir.path(), &["migrate"], &[("VARCO_PASSWORD__STAFF__MIN_LENGTH", "12")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Correct keys still load.
    std::fs::write(
        &config,
        "[lockout]\nlock_after = 12\n[password.hash]\nmemory_kib = 19456\n",
    )
    .unwrap();
    let out = run(dir.path(), &["--config", config.to_str().unwrap(), "migrate"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn plain_smtp_credentials_to_a_remote_host_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["migrate"],
        &[("VARCO_SMTP_URL", "smtp://mailer:s3cret@relay.example.org:25")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("clear text") && stderr.contains("starttls"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    // With TLS, or to a relay on this machine, it is accepted.
    for url in [
        "smtp://mailer:s3cret@relay.example.org?tls=starttls",
        "smtps://mailer:s3cret@relay.example.org",
        "smtp://mailer:s3cret@127.0.0.1:2525",
    ] {
        let out = run(dir.path(), &["migrate"], &[("VARCO_SMTP_URL", url)]);
        assert!(out.status.success(), "{url}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn jobs_run_names_the_known_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["jobs", "run", "expiry-reminder"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expiry-reminders"));
    let out = run(dir.path(), &["jobs", "run", "expiry-reminders"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("examined: 0"));
    let out = run(dir.path(), &["jobs", "run", "retention"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("request documents deleted: 0"));
}

#[test]
fn a_bad_login_policy_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("varco.toml");
    for (toml, expected) in [
        (
            "[login.family]\nmethods = [\"spid\"]",
            "login.family.methods: unknown method \"spid\"",
        ),
        (
            "[login.staff]\npassword_until = \"30/09/2026\"",
            "login.staff.password_until",
        ),
        (
            "[login.family]\nmethods = [\"password\"]\npassword_until = \"2026-09-30\"",
            "nobody could sign in",
        ),
        (
            "[login.schools.XYZ.staff]\nmethods = [\"spid_cie\"]",
            "login.schools.XYZ",
        ),
        ("[login.family]\nmetodi = [\"spid_cie\"]", "metodi"),
    ] {
        std::fs::write(&config, toml).unwrap();
        let out = run(dir.path(), &["--config", config.to_str().unwrap(), "migrate"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {stderr}");
        assert!(stderr.contains(expected), "{toml}: {stderr}");
    }
    // The environment reaches the same keys.
    let out = run(
        dir.path(),
        &["migrate"],
        &[("VARCO_LOGIN__STAFF__PASSWORD_UNTIL", "2026-13-01")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("login.staff.password_until"));
    // A good policy loads.
    std::fs::write(
        &config,
        "[login.staff]\npassword_until = \"2026-09-30\"\n[login.schools.RMIC81200X.family]\nmethods = [\"spid_cie\"]",
    )
    .unwrap();
    let out = run(dir.path(), &["--config", config.to_str().unwrap(), "migrate"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_bad_upstream_entry_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("varco.toml");
    let good = "[[upstream]]\nname = \"gateway\"\nkind = \"spid\"\nlabel = \"SPID gateway\"\n\
                issuer = \"https://gateway.example\"\nclient_id = \"varco\"\nclient_secret = \"s\"\n";
    for (toml, expected) in [
        (format!("{good}clent_id = \"x\"\n"), "clent_id"),
        (
            good.replace("\"spid\"", "\"eidas\""),
            "upstream[0] (gateway): kind must be",
        ),
        (good.replace("client_secret = \"s\"\n", ""), "needs client_secret"),
        (
            format!("{good}acr = \"https://www.spid.gov.it/SpidL9\"\n"),
            "upstream[0] (gateway): acr must be a SPID level",
        ),
        (format!("{good}{good}"), "upstream[1] (gateway): name is used"),
    ] {
        std::fs::write(&config, &toml).unwrap();
        let out = run(dir.path(), &["--config", config.to_str().unwrap(), "migrate"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {stderr}");
        assert!(stderr.contains(expected), "{toml}: {stderr}");
    }
    std::fs::write(&config, good).unwrap();
    let out = run(dir.path(), &["--config", config.to_str().unwrap(), "migrate"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

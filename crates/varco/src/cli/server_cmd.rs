//! The commands around the server itself: `serve`, `migrate` and `demo`.

use anyhow::Context;

use super::admin::{app_error, open, out};
use crate::config::Config;
use crate::server;

pub(super) async fn serve(config: &Config) -> anyhow::Result<()> {
    // A public URL that cannot reach the listener: every form would be
    // refused as cross-origin. Said once, at start.
    if let Some(warning) = config.public_url_warning() {
        tracing::warn!(public_url = %config.effective_public_url(), listen = %config.listen, "{warning}");
    }
    // Installed before the listener opens (see `shutdown_signal`).
    let signal = server::shutdown_signal();
    let running = server::start(config).await?;
    running.wait(signal).await
}

pub(super) async fn migrate(config: &Config) -> anyhow::Result<()> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        server::prepare_data_dir(config)?;
    }
    let store = varco_store::Store::connect(&url, &varco_store::ConnectOptions::default())
        .await
        .with_context(|| format!("cannot open the database {}", crate::config::redact_url(&url)))?;
    let report = store.migrate().await.context("cannot migrate the database")?;
    eprintln!(
        "migrations: {} known, {} applied now, database up to date",
        report.known, report.applied_now
    );
    store.close().await;
    Ok(())
}

/// The file of the data directory where `varco demo` writes the example
/// register's client secret (mode 0600).
const REGISTER_SECRET_FILE: &str = "registro-client-secret";

/// `varco demo [--start]`: fills an empty database and prints what it made;
/// with `--start`, then runs Varco and the example register side by side
/// (on a database the demo already filled, only starts them).
pub(super) async fn demo(config: &Config, start: bool) -> anyhow::Result<()> {
    // Looked for before anything is written: a missing register stops at once.
    let register_bin = start.then(register_binary).transpose()?;
    let app = open(config).await?;
    let secret_file = std::path::absolute(config.data_dir.join(REGISTER_SECRET_FILE))?;
    let register_data = std::path::absolute(config.data_dir.join("registro.json"))?;
    let filled = match varco_app::setup::demo(&app).await {
        Ok(report) => Some(report),
        Err(varco_app::AppError::Conflict { .. }) if start => None,
        Err(e) => return Err(app_error(e)),
    };
    let register_client_id = match filled {
        Some(report) => {
            print_demo(config, &report, &secret_file, &register_data)?;
            report.register_client_id
        }
        None => {
            let again = demo_register_client(&app, &secret_file).await?;
            eprintln!(
                "the demo is already filled: starting it again (sign in with the accounts it printed then, at {}/login)",
                config.effective_public_url()
            );
            again
        }
    };
    app.store.close().await;
    let Some(bin) = register_bin else {
        return Ok(());
    };
    serve_with_register(config, &bin, &register_client_id, &secret_file, &register_data).await
}

/// The example register's executable: `registro` beside the running `varco`.
fn register_binary() -> anyhow::Result<std::path::PathBuf> {
    let exe = std::env::current_exe().context("cannot find the varco executable")?;
    let bin = exe.with_file_name(format!("registro{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        anyhow::bail!(
            "the example register is not built: {} is missing (build it with `cargo build --release --workspace`, \
             or without --release for a debug varco), then run this again",
            bin.display()
        );
    }
    Ok(bin)
}

/// The register's client of a database the demo filled earlier, whose
/// secret is still in the data directory.
async fn demo_register_client(app: &varco_app::App, secret_file: &std::path::Path) -> anyhow::Result<String> {
    let clients = varco_app::clients::list(app).await.map_err(app_error)?;
    let client = clients
        .into_iter()
        .find(|c| c.name == varco_app::setup::REGISTER_CLIENT_NAME)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "this database was not filled by `varco demo` (it has schools or accounts but no example register); \
                 use an empty data directory"
            )
        })?;
    if !secret_file.is_file() {
        anyhow::bail!(
            "the example register's secret file {} is missing; start from an empty data directory",
            secret_file.display()
        );
    }
    Ok(client.client_id)
}

/// Runs Varco with the example register as a child process; the register
/// stops with Varco (Ctrl-C or SIGTERM). A register that stops on its own
/// (its port taken, say) is reported and Varco goes on.
async fn serve_with_register(
    config: &Config,
    bin: &std::path::Path,
    client_id: &str,
    secret_file: &std::path::Path,
    data: &std::path::Path,
) -> anyhow::Result<()> {
    let signal = server::shutdown_signal();
    let running = server::start(config).await?;
    let register_url = format!("http://127.0.0.1:{}", varco_app::setup::REGISTER_PORT);
    let mut child = tokio::process::Command::new(bin)
        .arg("--varco")
        .arg(config.effective_public_url())
        .arg("--client-id")
        .arg(client_id)
        .arg("--client-secret-file")
        .arg(secret_file)
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", varco_app::setup::REGISTER_PORT))
        .arg("--public-url")
        .arg(&register_url)
        .env_remove("REGISTRO_CLIENT_SECRET")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start the example register {}", bin.display()))?;
    eprintln!("example register started next to Varco: open {register_url} (Ctrl-C stops both)");
    let watched = async {
        tokio::pin!(signal);
        tokio::select! {
            () = &mut signal => {}
            status = child.wait() => {
                // Ctrl-C in a terminal reaches the register too (one process
                // group): when Varco's own signal follows at once, that was it.
                let grace = std::time::Duration::from_millis(500);
                if tokio::time::timeout(grace, &mut signal).await.is_ok() {
                    return;
                }
                match status {
                    Ok(status) => eprintln!("warning: the example register stopped ({status}); Varco goes on"),
                    Err(e) => eprintln!("warning: the example register cannot be watched: {e}"),
                }
                signal.await;
            }
        }
    };
    let result = running.wait(watched).await;
    if child.try_wait().ok().flatten().is_none() {
        let _ = child.kill().await;
    }
    result
}

/// What the demo made, on stdout (accounts, clients, the register's
/// command); the register's secret goes to a private file, never to the
/// terminal.
fn print_demo(
    config: &Config,
    report: &varco_app::setup::DemoReport,
    secret_file: &std::path::Path,
    register_data: &std::path::Path,
) -> anyhow::Result<()> {
    out(format!("school: {} {}", report.school.code, report.school.name));
    for a in &report.accounts {
        out(format!(
            "{:<7} user code {}  username {:<16}  email {:<32}  password {}  {} {}",
            a.label,
            a.user_code,
            a.username,
            a.email,
            a.password,
            if a.label == "family" { "PIN" } else { "personal code" },
            a.second_secret
        ));
    }
    for s in &report.students {
        out(format!(
            "student {} {}, class {}, child of the family account",
            s.first_name, s.last_name, s.class_name
        ));
    }
    out(format!(
        "client  {:<22} client_id {}  redirect URI {}",
        varco_app::setup::DEMO_CLIENT_NAME,
        report.client_id,
        varco_app::setup::loopback_redirect_uri(varco_app::setup::DEMO_CLIENT_PORT)
    ));
    out(format!(
        "try a sign-in through it, with `varco serve` running: varco client try {}",
        report.client_id
    ));
    // The register's secret goes to a private file, never to the terminal.
    crate::private_files::create_private_dir(&config.data_dir)
        .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    crate::private_files::write_private_file(secret_file, format!("{}\n", report.register_client_secret).as_bytes())
        .with_context(|| format!("cannot write {}", secret_file.display()))?;
    out(format!(
        "register {}  client_id {}  redirect URI {}  secret in {}",
        varco_app::setup::REGISTER_CLIENT_NAME,
        report.register_client_id,
        varco_app::setup::loopback_redirect_uri(varco_app::setup::REGISTER_PORT),
        secret_file.display()
    ));
    out(format!(
        "start the example register next to `varco serve` (then open http://127.0.0.1:{}): \
         cargo run -p registro -- --varco {} --client-id {} --client-secret-file {} --data {}",
        varco_app::setup::REGISTER_PORT,
        config.effective_public_url(),
        report.register_client_id,
        secret_file.display(),
        register_data.display()
    ));
    eprintln!(
        "demo ready: sign in at {}/login with any of the accounts above (user code, username or email)",
        config.effective_public_url()
    );
    if let Some(warning) = config.public_url_warning() {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

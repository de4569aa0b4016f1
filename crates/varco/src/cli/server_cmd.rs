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

pub(super) async fn demo(config: &Config) -> anyhow::Result<()> {
    let app = open(config).await?;
    let report = varco_app::setup::demo(&app).await.map_err(app_error)?;
    out(format!("school: {} {}", report.school.code, report.school.name));
    for a in &report.accounts {
        out(format!(
            "{:<7} user code {}  username {:<16}  email {:<32}  password {}",
            a.label, a.user_code, a.username, a.email, a.password
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
    let secret_file = std::path::absolute(config.data_dir.join(REGISTER_SECRET_FILE))?;
    crate::private_files::write_private_file(&secret_file, format!("{}\n", report.register_client_secret).as_bytes())
        .with_context(|| format!("cannot write {}", secret_file.display()))?;
    let register_data = std::path::absolute(config.data_dir.join("registro.json"))?;
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

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
    eprintln!(
        "demo ready: sign in at {}/login with any of the accounts above (user code, username or email)",
        config.effective_public_url()
    );
    if let Some(warning) = config.public_url_warning() {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

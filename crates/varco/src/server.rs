//! Starting and stopping the server: checks at start (data directory,
//! database, port), migrations, the first-run setup link, background upkeep,
//! and graceful shutdown (in-flight requests finish).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use varco_app::App;
use varco_domain::clock::{Clock, SystemClock};
use varco_store::{ConnectOptions, Store};

use crate::config::{Config, redact_url};

/// Makes sure the data directory exists (0700), is writable, and that a
/// SQLite database in it is private (0600).
pub fn prepare_data_dir(config: &Config) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    crate::private_files::create_private_dir(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    if let Some(db) = crate::private_files::sqlite_file(&config.database_url()) {
        crate::private_files::prepare_sqlite_file(&db)
            .with_context(|| format!("cannot create the database file {}", db.display()))?;
    }
    let probe = dir.join(".varco-write-test");
    std::fs::write(&probe, b"ok").with_context(|| format!("the data directory {} is not writable", dir.display()))?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

/// Opens the database and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        prepare_data_dir(config)?;
    }
    let options = ConnectOptions {
        max_connections: config.database_max_connections,
        ..ConnectOptions::default()
    };
    let store = Store::connect(&url, &options)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(&url)))?;
    store.migrate().await.context("cannot migrate the database")?;
    Ok(store)
}

/// Builds the use-case layer over an open store.
pub fn build_app(config: &Config, store: Store, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
    let settings = config.app_settings()?;
    App::new(store, clock, settings).map_err(anyhow::Error::new)
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    pub local_addr: SocketAddr,
    pub app: App,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    background: watch::Sender<bool>,
    worker: JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections, lets in-flight requests finish, lets the
    /// mail worker finish the message in hand, closes the pool.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.context("server task")?.context("server")?;
        let _ = self.background.send(true);
        let _ = self.worker.await;
        // Back-channel logout notices in flight get a moment to arrive.
        self.app.background.drain(Duration::from_secs(3)).await;
        self.app.store.close().await;
        Ok(())
    }

    /// Runs until `signal`, then stops gracefully.
    pub async fn wait(self, signal: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down: finishing in-flight requests");
        self.stop().await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Starts the server with the system clock.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

pub async fn start_with_clock(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(&config.listen).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("cannot listen on {}: the port is already in use", config.listen)
        } else {
            anyhow::anyhow!("cannot listen on {}: {e}", config.listen)
        }
    })?;
    let local_addr = listener.local_addr()?;
    let mut effective = config.clone();
    if config.listen.ends_with(":0") && config.public_url == Config::default().public_url {
        // Port 0 (tests): the default public URL cannot be right; use the real one.
        effective.public_url = format!("http://{local_addr}");
    }
    let config = &effective;
    let store = open_store(config).await?;
    let app = build_app(config, store, clock)?;
    let web_config = config.web_config();
    let public_url = web_config.public_url.clone();
    let state = varco_web::WebState::new(app.clone(), web_config);

    if varco_app::setup::needs_setup(&app).await? {
        let token = varco_app::setup::issue_setup_token(&app).await?;
        eprintln!(
            "\nVarco has no administrator yet. Open this one-time link within 1 hour to create the first school and admin:\n\n    {public_url}/setup?token={}\n",
            token.as_str()
        );
    }

    let (background, background_rx) = watch::channel(false);
    let mail_config = config.mail_config();
    let renderer = varco_mail::Renderer::new(&mail_config).context("mail templates")?;
    let transport = varco_mail::Transport::from_config(&mail_config).context("mail transport")?;
    tracing::info!(transport = %transport.describe(), "mail");
    let worker = varco_mail::OutboxWorker::new(
        app.store.clone(),
        renderer,
        transport,
        app.clock.clone(),
        config.worker_settings(),
    )
    .with_notifier(app.mail_notify.clone());
    let worker = tokio::spawn(worker.run(background_rx.clone()));
    spawn_upkeep(app.clone(), state.clone(), background_rx);
    let router = varco_web::router(state);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(address = %local_addr, public_url = %public_url, backend = app.store.backend().name(), "varco is listening");
    Ok(Running {
        local_addr,
        app,
        shutdown: Some(tx),
        task,
        background,
        worker,
    })
}

/// Hourly upkeep: the daily jobs (claimed once per day across nodes), the
/// year-end disables whose date has come, the purge of expired sessions, provider codes and pending SPID/CIE sign-ins,
/// the trimming of per-IP limiters.
fn spawn_upkeep(app: App, state: varco_web::WebState, mut stop: watch::Receiver<bool>) {
    let node = format!("{}-{}", std::process::id(), rand::random::<u32>());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            // An error once shutdown has begun is the closing pool, not news.
            let stopping = |stop: &watch::Receiver<bool>| *stop.borrow();
            match varco_app::jobs::run_daily_if_due(&app, &node).await {
                Ok(true) => tracing::info!("daily jobs ran"),
                Ok(false) => {}
                Err(_) if stopping(&stop) => return,
                Err(e) => tracing::warn!(error = %varco_app::error_chain(&e), "daily jobs failed"),
            }
            match varco_app::jobs::scheduled_disables(&app).await {
                Ok(n) if n > 0 => tracing::info!(accounts = n, "accounts disabled on their year-end date"),
                Ok(_) => {}
                Err(_) if stopping(&stop) => return,
                Err(e) => tracing::warn!(error = %varco_app::error_chain(&e), "scheduled disables failed"),
            }
            match varco_app::sessions::purge_expired(&app).await {
                Ok(n) if n > 0 => tracing::info!(sessions = n, "expired sessions removed"),
                Ok(_) => {}
                Err(_) if stopping(&stop) => return,
                Err(e) => tracing::warn!(error = %varco_app::error_chain(&e), "session purge failed"),
            }
            match varco_app::oauth_tokens::purge_expired(&app).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "expired provider codes, tokens and grants removed"),
                Ok(_) => {}
                Err(_) if stopping(&stop) => return,
                Err(e) => tracing::warn!(error = %varco_app::error_chain(&e), "provider purge failed"),
            }
            match varco_app::confirmations::purge_expired(&app).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "expired act confirmations removed"),
                Ok(_) => {}
                Err(_) if stopping(&stop) => return,
                Err(e) => tracing::warn!(error = %varco_app::error_chain(&e), "act confirmation purge failed"),
            }
            match varco_app::upstream::purge_expired(&app).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "expired SPID/CIE sign-ins removed"),
                Ok(_) => {}
                Err(_) if stopping(&stop) => return,
                Err(e) => tracing::warn!(error = %varco_app::error_chain(&e), "SPID/CIE sign-in purge failed"),
            }
            state.upkeep();
        }
    });
}

/// A future that resolves on Ctrl-C or SIGTERM. The handlers are installed
/// when this is called, not when the future is first polled: call it before
/// the listener opens, so that a SIGTERM arriving while the server starts
/// stops it gracefully instead of killing it.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut interrupt, mut terminate) = handlers;
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt.take()) => {},
                () = wait(terminate.take()) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

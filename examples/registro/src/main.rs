//! `registro`: the example electronic register (see the library's docs and
//! `examples/registro/README.md`).

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Parser;
use registro::Settings;
use tokio::net::TcpListener;

/// The environment variable that may carry the client secret instead of a file.
const SECRET_ENV: &str = "REGISTRO_CLIENT_SECRET";

/// Registro elettronico di esempio: accesso e conferme tramite Varco.
#[derive(Debug, Parser)]
#[command(name = "registro", version, about)]
struct Args {
    /// Varco's public URL (its OpenID Connect issuer), e.g. http://127.0.0.1:8080.
    #[arg(long, env = "REGISTRO_VARCO")]
    varco: String,
    /// The register's client id at Varco (`varco client add` or `varco demo` prints it).
    #[arg(long, env = "REGISTRO_CLIENT_ID")]
    client_id: String,
    /// A file holding the client secret (or set REGISTRO_CLIENT_SECRET).
    #[arg(long, env = "REGISTRO_CLIENT_SECRET_FILE")]
    client_secret_file: Option<PathBuf>,
    /// Where the register listens.
    #[arg(long, env = "REGISTRO_LISTEN", default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// The register's public URL; `<URL>/callback` must be a redirect URI of the client.
    #[arg(long, env = "REGISTRO_PUBLIC_URL", default_value = "http://127.0.0.1:8081")]
    public_url: String,
    /// The register's data file (JSON), created at the first change.
    #[arg(long, env = "REGISTRO_DATA", default_value = "registro.json")]
    data: PathBuf,
}

/// The secret from the file or the environment: exactly one of them.
fn client_secret(file: Option<&PathBuf>) -> anyhow::Result<String> {
    let from_env = std::env::var(SECRET_ENV).ok().filter(|s| !s.trim().is_empty());
    let secret = match (file, from_env) {
        (Some(_), Some(_)) => bail!("give the client secret once: --client-secret-file or {SECRET_ENV}, not both"),
        (Some(path), None) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the client secret file {}", path.display()))?,
        (None, Some(secret)) => secret,
        (None, None) => bail!("the client secret is missing: --client-secret-file FILE or {SECRET_ENV}"),
    };
    let secret = secret.trim().to_owned();
    if secret.is_empty() {
        bail!("the client secret is empty");
    }
    Ok(secret)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REGISTRO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal only, not in a file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    let settings = Settings {
        varco: args.varco.trim_end_matches('/').to_owned(),
        client_id: args.client_id,
        client_secret: client_secret(args.client_secret_file.as_ref())?,
        public_url: args.public_url.trim_end_matches('/').to_owned(),
        data: args.data,
    };
    let register = registro::build(&settings)?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(
        varco = %settings.varco,
        redirect_uri = %settings.redirect_uri(),
        data = %settings.data.display(),
        "registro in ascolto su / listening on {}",
        settings.public_url
    );
    registro::serve(listener, register, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("the server stopped")
}

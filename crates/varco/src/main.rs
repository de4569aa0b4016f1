//! `varco`: parse the command line, load the configuration, run the command.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use varco::cli::Cli;
use varco::config::{Config, LogFormat};

fn init_logging(config: &Config, json: bool) {
    let filter = EnvFilter::try_from_env("VARCO_LOG").unwrap_or_else(|_| EnvFilter::new(&config.log_level));
    // Colours only for a person at a terminal: a file, a pipe or the journal
    // gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json || config.log_format == LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// glibc raises its mmap threshold to the size of the largest block freed
/// (the 19 MiB Argon2 area), after which mid-sized buffers of a login flood
/// pile up in the heap and are never returned: 250 MiB after a flood, 57 MiB
/// idle after two logins. A fixed 1 MiB threshold keeps large blocks mmapped
/// and returned (measured: 80 MiB peak, 21 MiB idle). The threshold can only
/// be fixed before the allocator starts, through the environment, so `serve`
/// re-executes itself once with it set (unless the operator set it).
#[cfg(all(unix, target_env = "gnu"))]
fn tune_allocator_for_serve() {
    use std::os::unix::process::CommandExt;
    const VARIABLE: &str = "MALLOC_MMAP_THRESHOLD_";
    let serving = std::env::args_os().any(|a| a == "serve");
    if !serving || std::env::var_os(VARIABLE).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let error = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(VARIABLE, "1048576")
        .exec();
    // Only reached when exec failed: go on with the default allocator settings.
    eprintln!("note: could not re-execute with {VARIABLE} set ({error}); continuing");
}

#[cfg(not(all(unix, target_env = "gnu")))]
fn tune_allocator_for_serve() {}

fn main() -> ExitCode {
    tune_allocator_for_serve();
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config, cli.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(varco::cli::run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! `varco-bench`: the measuring half of the Varco benchmarks. `bench/run.sh`
//! builds Varco, starts and stops the servers, and calls these subcommands;
//! each writes its results as JSON, and `report` turns them into Markdown.
//! Every loop here is bounded in count and time, and the only target is the
//! server URL given (127.0.0.1 in run.sh).

mod argon;
mod cpu;
mod flood;
mod login;
mod mail;
mod oidc;
mod report;
mod roster;
mod seed;
mod stats;
mod taxcode;
mod timing;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(
    name = "varco-bench",
    about = "Benchmarks of the Varco server (driven by bench/run.sh)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Outbox delivery rate (local SMTP sink and .eml files) and the
    /// forgot-password answer time, existing versus unknown login.
    MailRecovery {
        #[arg(long)]
        varco: PathBuf,
        #[arg(long, default_value_t = 3000)]
        messages: usize,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
    /// Failed-login answer time per kind of stored hash, for a shared email
    /// and for unknown logins (security review finding 7).
    LoginTiming {
        #[arg(long)]
        varco: PathBuf,
        #[arg(long, default_value_t = 30)]
        samples: usize,
    },
    /// Print a free TCP port on 127.0.0.1.
    FreePort,
    /// Wait until GET URL/healthz answers 200 (fails if PID exits or on timeout).
    Wait {
        #[arg(long)]
        url: String,
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
    /// Create a school and accounts with random passwords through the varco CLI
    /// (configuration from the environment); write them as JSON.
    Seed {
        #[arg(long)]
        varco: PathBuf,
        #[arg(long)]
        school: String,
        #[arg(long, default_value_t = 64)]
        count: usize,
        #[arg(long, default_value_t = 24)]
        password_len: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Raw Argon2id verifications per second in this process, per thread count.
    Argon2 {
        /// Thread counts, comma-separated (default: 1 and the number of cores).
        #[arg(long, value_delimiter = ',')]
        threads: Vec<usize>,
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Login throughput and latency at each concurrency level.
    Login {
        #[arg(long)]
        url: String,
        /// The server's process id (to tell its CPU use from other processes').
        #[arg(long)]
        pid: Option<u32>,
        #[arg(long)]
        accounts: PathBuf,
        #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
        concurrency: Vec<usize>,
        /// Requests per level: max(min_requests, per_client × C).
        #[arg(long, default_value_t = 60)]
        min_requests: usize,
        #[arg(long, default_value_t = 15)]
        per_client: usize,
        #[arg(long, default_value_t = 1)]
        repeats: usize,
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
        /// A round stops issuing requests after this long, whatever the count.
        #[arg(long, default_value_t = 120)]
        max_round_secs: u64,
        /// Client worker threads (1 = a single-threaded runtime, the cheapest).
        #[arg(long, default_value_t = 1)]
        client_threads: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Many clients looping logins while one client probes /healthz; samples
    /// the server's memory (PID) before and during the flood; then a
    /// disconnect storm (every client starts a login and hangs up).
    Flood {
        #[arg(long)]
        url: String,
        #[arg(long)]
        pid: u32,
        #[arg(long)]
        accounts: PathBuf,
        #[arg(long, default_value_t = 500)]
        clients: usize,
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        #[arg(long, default_value_t = 20)]
        healthz_ms: u64,
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
        #[arg(long, default_value_t = 1)]
        client_threads: usize,
        /// Skip the disconnect storm after the flood.
        #[arg(long)]
        no_storm: bool,
        #[arg(long)]
        out: PathBuf,
    },
    /// Register the benchmark's confidential OpenID Connect clients (RS256 and ES256) with
    /// `varco client add` (configuration from the environment); write it as JSON.
    OidcClient {
        #[arg(long)]
        varco: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// The OpenID Connect provider: refresh-token grants/s (rotating),
    /// userinfo requests/s, and what the code exchange adds to a sign-in.
    Oidc {
        #[arg(long)]
        url: String,
        /// The server's process id (its CPU time per request is reported).
        #[arg(long)]
        pid: Option<u32>,
        #[arg(long)]
        accounts: PathBuf,
        /// The clients written by `oidc-client`.
        #[arg(long)]
        client: PathBuf,
        /// Concurrent clients for the refresh and userinfo rounds; the
        /// largest is also the number of grants made.
        #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
        concurrency: Vec<usize>,
        /// Rounds per concurrency (and of the code exchange).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Length of one refresh or userinfo round.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// A round starts no more requests than this, whatever the time.
        #[arg(long, default_value_t = 200_000)]
        max_requests: usize,
        /// Sign-ins, each with a code exchange, per exchange round.
        #[arg(long, default_value_t = 50)]
        exchanges: usize,
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
        /// Client worker threads (1 = a single-threaded runtime, the cheapest).
        #[arg(long, default_value_t = 1)]
        client_threads: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate a roster CSV, then time `varco import` on it twice.
    Import {
        #[arg(long)]
        varco: PathBuf,
        #[arg(long)]
        school: String,
        /// Where to write the CSV.
        #[arg(long)]
        file: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        /// Kill an import that takes longer than this.
        #[arg(long, default_value_t = 120)]
        timeout_secs: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Write only the roster CSV.
    Roster {
        #[arg(long)]
        file: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Render the Markdown report from the JSON files in DIR.
    Report {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "sqlite")]
        backend: String,
        #[arg(long, default_value = "unknown")]
        commit: String,
        #[arg(long, default_value = "")]
        date: String,
        #[arg(long)]
        total_seconds: Option<f64>,
        /// Also write the report here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

fn read_accounts(path: &Path) -> anyhow::Result<seed::Accounts> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    Ok(runtime)
}

fn wait_ready(url: &str, pid: u32, timeout: Duration) -> anyhow::Result<()> {
    let url = format!("{}/healthz", url.trim_end_matches('/'));
    runtime(1)?.block_on(async {
        let client = login::client(Duration::from_secs(2))?;
        let start = Instant::now();
        while start.elapsed() < timeout {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                bail!("the server (pid {pid}) exited before answering {url}");
            }
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{url} did not answer 200 within {} s", timeout.as_secs())
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::FreePort => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", listener.local_addr()?.port());
        }
        Command::Wait { url, pid, timeout_secs } => wait_ready(&url, pid, Duration::from_secs(timeout_secs))?,
        Command::Seed {
            varco,
            school,
            count,
            password_len,
            out,
        } => write_json(&out, &seed::run(&varco, &school, count, password_len)?)?,
        Command::Argon2 {
            mut threads,
            seconds,
            rounds,
            out,
        } => {
            if threads.is_empty() {
                let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
                threads = if cores > 1 { vec![1, cores] } else { vec![1] };
            }
            if !(0.1..=60.0).contains(&seconds) || rounds > 20 || threads.iter().any(|&t| t == 0 || t > 256) {
                bail!("argon2: seconds must be 0.1-60, rounds at most 20, threads 1-256");
            }
            write_json(&out, &argon::run(&threads, seconds, rounds)?)?;
        }
        Command::Login {
            url,
            pid,
            accounts,
            concurrency,
            min_requests,
            per_client,
            repeats,
            timeout_secs,
            max_round_secs,
            client_threads,
            out,
        } => {
            if concurrency.iter().any(|&c| c == 0 || c > 4096) || repeats > 20 {
                bail!("login: concurrency must be 1-4096 and repeats at most 20");
            }
            let accounts = read_accounts(&accounts)?;
            let plan = login::Plan {
                levels: concurrency,
                min_requests,
                requests_per_client: per_client,
                repeats,
                timeout: Duration::from_secs(timeout_secs),
                max_round_time: Duration::from_secs(max_round_secs),
                server_pid: pid,
            };
            let report = runtime(client_threads)?.block_on(login::run(&url, &accounts, &plan))?;
            write_json(&out, &report)?;
        }
        Command::Flood {
            url,
            pid,
            accounts,
            clients,
            seconds,
            healthz_ms,
            timeout_secs,
            client_threads,
            no_storm,
            out,
        } => {
            if !(1..=4096).contains(&clients) || !(1.0..=300.0).contains(&seconds) || healthz_ms == 0 {
                bail!("flood: clients must be 1-4096, seconds 1-300, healthz-ms positive");
            }
            let accounts = read_accounts(&accounts)?;
            let plan = flood::Plan {
                clients,
                duration: Duration::from_secs_f64(seconds),
                healthz_interval: Duration::from_millis(healthz_ms),
                timeout: Duration::from_secs(timeout_secs),
                storm: !no_storm,
            };
            let report = runtime(client_threads)?.block_on(flood::run(&url, pid, &accounts, &plan))?;
            write_json(&out, &report)?;
        }
        Command::Import {
            varco,
            school,
            file,
            rows,
            timeout_secs,
            out,
        } => write_json(
            &out,
            &roster::run(&varco, &school, &file, rows, Duration::from_secs(timeout_secs))?,
        )?,
        Command::OidcClient { varco, out } => write_json(&out, &oidc::register(&varco)?)?,
        Command::Oidc {
            url,
            pid,
            accounts,
            client,
            concurrency,
            rounds,
            seconds,
            max_requests,
            exchanges,
            timeout_secs,
            client_threads,
            out,
        } => {
            if concurrency.is_empty()
                || concurrency.iter().any(|&c| c == 0 || c > 1024)
                || rounds > 20
                || !(0.5..=120.0).contains(&seconds)
                || exchanges > 10_000
                || max_requests > 10_000_000
            {
                bail!(
                    "oidc: concurrency must be 1-1024, rounds at most 20, seconds 0.5-120, \
                     exchanges at most 10,000, max-requests at most 10,000,000"
                );
            }
            let accounts = read_accounts(&accounts)?;
            let text = std::fs::read_to_string(&client).with_context(|| format!("reading {}", client.display()))?;
            let clients: oidc::Clients =
                serde_json::from_str(&text).with_context(|| format!("parsing {}", client.display()))?;
            let plan = oidc::Plan {
                levels: concurrency,
                rounds,
                round_time: Duration::from_secs_f64(seconds),
                max_requests,
                exchanges,
                timeout: Duration::from_secs(timeout_secs),
                server_pid: pid,
            };
            let report = runtime(client_threads)?.block_on(oidc::run(&url, &accounts, clients, &plan))?;
            write_json(&out, &report)?;
        }
        Command::Roster { file, rows, seed } => roster::generate(&file, rows, seed)?,
        Command::MailRecovery {
            varco,
            messages,
            requests,
        } => mail_recovery(&varco, messages, requests)?,
        Command::LoginTiming { varco, samples } => {
            let figures = tokio::runtime::Runtime::new()?.block_on(timing::login_timing(&varco, samples))?;
            print!("{}", timing::render(&figures));
        }
        Command::Report {
            dir,
            backend,
            commit,
            date,
            total_seconds,
            out,
        } => {
            let text = report::render(
                &dir,
                &report::Meta {
                    backend,
                    commit,
                    date,
                    total_seconds,
                },
            );
            print!("{text}");
            if let Some(out) = out {
                if let Some(parent) = out.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
            }
        }
    }
    Ok(())
}

fn mail_recovery(varco: &std::path::Path, messages: usize, requests: usize) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async move {
        let smtp = mail::outbox(varco, messages, true).await?;
        let eml = mail::outbox(varco, messages, false).await?;
        let forgot = mail::forgot(varco, requests).await?;
        println!(
            "## Outbox delivery ({} queued messages, worker batch 100)\n",
            smtp.messages
        );
        println!("| transport | messages | seconds | messages/s | SMTP connections | target |");
        println!("|---|---:|---:|---:|---:|---|");
        println!(
            "| SMTP (local sink on 127.0.0.1) | {} | {:.2} | **{:.0}** | {} | ≥ 500/s: {} |",
            smtp.messages,
            smtp.seconds,
            smtp.per_second,
            smtp.connections,
            if smtp.per_second >= 500.0 { "PASS" } else { "MISS" }
        );
        println!(
            "| .eml files | {} | {:.2} | **{:.0}** | - | |\n",
            eml.messages, eml.seconds, eml.per_second
        );
        println!(
            "## Forgot password: existing versus unknown login ({} requests each, interleaved, one client)\n",
            forgot.requests
        );
        println!("| login | median ms | p99 ms |");
        println!("|---|---:|---:|");
        println!(
            "| existing account | {:.3} | {:.3} |",
            forgot.existing_median_ms, forgot.existing_p99_ms
        );
        println!(
            "| unknown login | {:.3} | {:.3} |",
            forgot.unknown_median_ms, forgot.unknown_p99_ms
        );
        println!(
            "\nDifference of the medians: **{:.1} %** (target < 5 %: {}); status and body identical for all: {}; \
                 throughput with 16 clients: **{:.0} requests/s**.",
            forgot.median_difference_percent,
            if forgot.median_difference_percent < 5.0 {
                "PASS"
            } else {
                "MISS"
            },
            forgot.statuses_equal,
            forgot.per_second
        );
        anyhow::Ok(())
    })
}

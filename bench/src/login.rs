//! Login throughput at fixed concurrency levels, over keep-alive HTTP/1.1
//! connections of one shared client without a cookie jar.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::seed::{Account, Accounts};
use crate::stats::{Latency, median, ms};

/// A client for many concurrent keep-alive connections to one host: no
/// cookie jar, no proxy, a per-request timeout.
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(300))
        .tcp_nodelay(true)
        .timeout(timeout)
        .build()
        .context("building the HTTP client")
}

/// What one login attempt came to.
pub enum Outcome {
    Ok(Duration),
    Status(u16),
    Timeout,
    Failed(String),
}

impl Outcome {
    /// What went wrong, if anything.
    pub fn error(&self) -> Option<String> {
        match self {
            Outcome::Ok(_) => None,
            Outcome::Status(s) => Some(format!("HTTP {s}")),
            Outcome::Timeout => Some("timeout".into()),
            Outcome::Failed(e) => Some(e.clone()),
        }
    }
}

pub async fn login(client: &reqwest::Client, url: &str, account: &Account) -> Outcome {
    let body = serde_json::json!({ "login": account.username, "password": account.password });
    let start = Instant::now();
    let response = match client.post(url).json(&body).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Outcome::Timeout,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let status = response.status().as_u16();
    // Read the body to the end so the connection goes back to the pool.
    match response.bytes().await {
        Ok(_) if status == 200 => Outcome::Ok(start.elapsed()),
        Ok(_) => Outcome::Status(status),
        Err(e) if e.is_timeout() => Outcome::Timeout,
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Round {
    pub requests: usize,
    pub ok: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub seconds: f64,
    pub logins_per_sec: f64,
    pub latency: Latency,
    /// Share of the machine used by other processes meanwhile (0..1).
    pub other_load: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Level {
    pub concurrency: usize,
    pub requests: usize,
    /// Medians over the rounds.
    pub logins_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
    pub first_error: Option<String>,
    /// The largest share of the machine other processes used in a round.
    pub other_load: f64,
    pub rounds: Vec<Round>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginReport {
    pub accounts: usize,
    pub levels: Vec<Level>,
}

async fn round(
    client: &reqwest::Client,
    url: &Arc<String>,
    accounts: &Arc<Vec<Account>>,
    concurrency: usize,
    requests: usize,
    max_time: Duration,
    server_pid: Option<u32>,
) -> anyhow::Result<Round> {
    let cpu_before = crate::cpu::snapshot(server_pid);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + max_time;
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, url, accounts, next) = (client.clone(), Arc::clone(url), Arc::clone(accounts), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() >= deadline {
                    break;
                }
                let outcome = login(&client, &url, &accounts[i % accounts.len()]).await;
                match outcome {
                    Outcome::Ok(d) => latencies.push(ms(d)),
                    ref other => {
                        errors += 1;
                        first_error = first_error.or_else(|| other.error());
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        let (l, e, f) = task.await.context("login worker")?;
        latencies.extend(l);
        errors += e;
        first_error = first_error.or(f);
    }
    let seconds = start.elapsed().as_secs_f64();
    let other_load = crate::cpu::others_share(&cpu_before, &crate::cpu::snapshot(server_pid));
    let ok = latencies.len();
    Ok(Round {
        requests: ok + errors,
        ok,
        errors,
        first_error,
        seconds,
        logins_per_sec: ok as f64 / seconds,
        latency: Latency::of(latencies),
        other_load,
    })
}

pub struct Plan {
    pub levels: Vec<usize>,
    pub min_requests: usize,
    pub requests_per_client: usize,
    pub repeats: usize,
    pub timeout: Duration,
    pub max_round_time: Duration,
    pub server_pid: Option<u32>,
}

pub async fn run(base_url: &str, accounts: &Accounts, plan: &Plan) -> anyhow::Result<LoginReport> {
    if accounts.accounts.is_empty() {
        bail!("no accounts to log in with");
    }
    let url = Arc::new(format!("{}/api/v1/login", base_url.trim_end_matches('/')));
    let list = Arc::new(accounts.accounts.clone());
    let client = client(plan.timeout)?;
    // Warm-up: check every credential works once (and fail early if not).
    let warm = round(
        &client,
        &url,
        &list,
        2,
        list.len(),
        plan.max_round_time,
        plan.server_pid,
    )
    .await?;
    if warm.errors > 0 {
        bail!(
            "warm-up logins failed: {} of {} ({})",
            warm.errors,
            warm.requests,
            warm.first_error.unwrap_or_default()
        );
    }
    let mut levels = Vec::new();
    for &concurrency in &plan.levels {
        let requests = plan.min_requests.max(plan.requests_per_client * concurrency);
        let mut rounds = Vec::new();
        for _ in 0..plan.repeats.max(1) {
            let r = round(
                &client,
                &url,
                &list,
                concurrency,
                requests,
                plan.max_round_time,
                plan.server_pid,
            )
            .await?;
            eprintln!(
                "login: C={concurrency}: {:.1} logins/s, p50 {:.1} ms, p99 {:.1} ms, {} errors, other load {:.0}%",
                r.logins_per_sec,
                r.latency.p50_ms,
                r.latency.p99_ms,
                r.errors,
                r.other_load * 100.0
            );
            rounds.push(r);
        }
        let pick = |f: fn(&Round) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
        levels.push(Level {
            concurrency,
            requests,
            logins_per_sec: pick(|r| r.logins_per_sec),
            p50_ms: pick(|r| r.latency.p50_ms),
            p99_ms: pick(|r| r.latency.p99_ms),
            errors: rounds.iter().map(|r| r.errors).sum(),
            first_error: rounds.iter().find_map(|r| r.first_error.clone()),
            other_load: rounds.iter().map(|r| r.other_load).fold(0.0, f64::max),
            rounds,
        });
    }
    Ok(LoginReport {
        accounts: list.len(),
        levels,
    })
}

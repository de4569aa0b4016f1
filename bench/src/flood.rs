//! Liveness under a login flood: many clients looping logins while one
//! separate client probes `/healthz`; the server's memory is sampled meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::login::{Outcome, client, login};
use crate::seed::Accounts;
use crate::stats::{Latency, ms};

/// A `Vm*` line of /proc/PID/status, in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status (is the server still running?)"))?;
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .ok_or_else(|| anyhow!("no {field} in /proc/{pid}/status"))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FloodReport {
    pub clients: usize,
    pub seconds: f64,
    pub healthz: Latency,
    pub healthz_failures: usize,
    pub healthz_first_error: Option<String>,
    pub logins_ok: usize,
    pub logins_per_sec: f64,
    pub login_latency: Latency,
    pub login_errors: usize,
    pub login_timeouts: usize,
    /// Requests still waiting when the flood ended (abandoned by the client).
    pub logins_cut_at_end: usize,
    pub login_first_error: Option<String>,
    pub rss_start_kib: u64,
    /// After a few /healthz requests and 2 s idle.
    pub rss_idle_kib: u64,
    /// After two logins more and 2 s idle.
    pub rss_idle_after_login_kib: u64,
    pub rss_peak_sampled_kib: u64,
    pub rss_samples: usize,
    pub hwm_kib: u64,
    pub rss_after_kib: u64,
}

pub struct Plan {
    pub clients: usize,
    pub duration: Duration,
    pub healthz_interval: Duration,
    pub timeout: Duration,
}

/// Latencies (ms) of the successful probes, the failure count and the first failure.
struct Probes {
    samples: Vec<f64>,
    failures: usize,
    first_error: Option<String>,
}

/// GET /healthz every `interval` until `deadline` on its own thread, runtime
/// and connection, so the flood's client work does not delay the probe.
fn healthz_prober(
    url: String,
    interval: Duration,
    deadline: Instant,
) -> std::thread::JoinHandle<anyhow::Result<Probes>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let client = client(Duration::from_secs(5))?;
            let max_samples = (deadline.saturating_duration_since(Instant::now()).as_secs_f64()
                / interval.as_secs_f64().max(0.001)) as usize
                + 10;
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut samples = Vec::with_capacity(max_samples);
            let mut failures = 0;
            let mut first_error = None;
            while samples.len() + failures < max_samples {
                tick.tick().await;
                if Instant::now() >= deadline {
                    break;
                }
                let start = Instant::now();
                let result = match client.get(&url).send().await {
                    Ok(r) => {
                        let status = r.status();
                        match r.bytes().await {
                            Ok(_) if status.is_success() => Ok(()),
                            Ok(_) => Err(format!("HTTP {}", status.as_u16())),
                            Err(e) => Err(e.to_string()),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                };
                match result {
                    Ok(()) => samples.push(ms(start.elapsed())),
                    Err(e) => {
                        failures += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            Ok(Probes {
                samples,
                failures,
                first_error,
            })
        })
    })
}

/// Samples VmRSS every 100 ms until `deadline`; returns (peak KiB, samples).
fn rss_sampler(pid: u32, deadline: Instant) -> std::thread::JoinHandle<(u64, usize)> {
    std::thread::spawn(move || {
        let mut peak = 0;
        let mut samples = 0;
        while Instant::now() < deadline && samples < 100_000 {
            if let Ok(kib) = proc_status_kib(pid, "VmRSS") {
                peak = peak.max(kib);
                samples += 1;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (peak, samples)
    })
}

#[derive(Default)]
struct ClientTally {
    latencies: Vec<f64>,
    errors: usize,
    timeouts: usize,
    cut: usize,
    first_error: Option<String>,
}

pub async fn run(base_url: &str, pid: u32, accounts: &Accounts, plan: &Plan) -> anyhow::Result<FloodReport> {
    if accounts.accounts.is_empty() {
        bail!("no accounts to log in with");
    }
    let base = base_url.trim_end_matches('/').to_owned();
    let login_url = Arc::new(format!("{base}/api/v1/login"));
    let healthz_url = format!("{base}/healthz");
    let list = Arc::new(accounts.accounts.clone());

    // Idle memory: start-up, then a few requests and 2 s of quiet.
    let rss_start_kib = proc_status_kib(pid, "VmRSS")?;
    let probe = client(Duration::from_secs(5))?;
    for _ in 0..3 {
        let r = probe.get(&healthz_url).send().await.context("GET /healthz")?;
        if !r.status().is_success() {
            bail!("GET /healthz answered {}", r.status());
        }
        r.bytes().await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle_kib = proc_status_kib(pid, "VmRSS")?;
    for account in list.iter().take(2) {
        if let Some(e) = login(&probe, &login_url, account).await.error() {
            bail!("a login before the flood failed: {e}");
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle_after_login_kib = proc_status_kib(pid, "VmRSS")?;
    drop(probe);
    eprintln!(
        "flood: RSS at start {} KiB, idle {} KiB, idle after 2 logins {} KiB",
        rss_start_kib, rss_idle_kib, rss_idle_after_login_kib
    );

    let flood_client = client(plan.timeout)?;
    let start = Instant::now();
    let deadline = start + plan.duration;
    let healthz = healthz_prober(healthz_url, plan.healthz_interval, deadline);
    let rss = rss_sampler(pid, deadline);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(plan.clients);
    for _ in 0..plan.clients {
        let (client, url, list, next) = (
            flood_client.clone(),
            Arc::clone(&login_url),
            Arc::clone(&list),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            let mut tally = ClientTally::default();
            // Bounded by time, and by count as a backstop.
            for _ in 0..100_000 {
                if Instant::now() >= deadline {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let attempt = login(&client, &url, &list[i % list.len()]);
                match tokio::time::timeout_at(deadline.into(), attempt).await {
                    Err(_) => tally.cut += 1,
                    Ok(Outcome::Ok(d)) => tally.latencies.push(ms(d)),
                    Ok(Outcome::Timeout) => tally.timeouts += 1,
                    Ok(other) => {
                        tally.errors += 1;
                        if tally.first_error.is_none() {
                            tally.first_error = other.error();
                        }
                    }
                }
            }
            tally
        }));
    }
    let mut all = ClientTally::default();
    for task in tasks {
        let t = task.await.context("flood client")?;
        all.latencies.extend(t.latencies);
        all.errors += t.errors;
        all.timeouts += t.timeouts;
        all.cut += t.cut;
        all.first_error = all.first_error.or(t.first_error);
    }
    let seconds = start.elapsed().as_secs_f64();
    let probes = healthz.join().map_err(|_| anyhow!("healthz prober panicked"))??;
    let (rss_peak_sampled_kib, rss_samples) = rss.join().map_err(|_| anyhow!("RSS sampler panicked"))?;
    let hwm_kib = proc_status_kib(pid, "VmHWM")?;
    drop(flood_client);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_kib = proc_status_kib(pid, "VmRSS")?;
    let logins_ok = all.latencies.len();
    let report = FloodReport {
        clients: plan.clients,
        seconds,
        healthz: Latency::of(probes.samples),
        healthz_failures: probes.failures,
        healthz_first_error: probes.first_error,
        logins_ok,
        logins_per_sec: logins_ok as f64 / seconds,
        login_latency: Latency::of(all.latencies),
        login_errors: all.errors,
        login_timeouts: all.timeouts,
        logins_cut_at_end: all.cut,
        login_first_error: all.first_error,
        rss_start_kib,
        rss_idle_kib,
        rss_idle_after_login_kib,
        rss_peak_sampled_kib,
        rss_samples,
        hwm_kib,
        rss_after_kib,
    };
    eprintln!(
        "flood: {} clients, {:.1} s: healthz p50 {:.1} ms p99 {:.1} ms max {:.1} ms ({} samples, {} failed); {} logins ok ({:.1}/s), {} errors, {} timeouts; peak RSS {} KiB, HWM {} KiB",
        report.clients,
        report.seconds,
        report.healthz.p50_ms,
        report.healthz.p99_ms,
        report.healthz.max_ms,
        report.healthz.count,
        report.healthz_failures,
        report.logins_ok,
        report.logins_per_sec,
        report.login_errors,
        report.login_timeouts,
        report.rss_peak_sampled_kib,
        report.hwm_kib
    );
    Ok(report)
}

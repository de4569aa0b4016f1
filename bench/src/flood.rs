//! Liveness under a login flood: many clients looping logins while one
//! separate client probes `/healthz`; the server's memory is sampled meanwhile.
//! Then a disconnect storm: the same clients each start one login and hang up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::login::{Outcome, client, login};
use crate::seed::{Account, Accounts};
use crate::stats::{Latency, ms};

/// A numeric line of /proc/PID/status (`Vm*` ones are in KiB).
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

/// CPU seconds (user + system) the process has used, assuming the usual 100
/// clock ticks per second.
fn proc_cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    Ok(crate::cpu::process_ticks(&pid.to_string()) as f64 / 100.0)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FloodReport {
    pub clients: usize,
    /// The flood's length: no login starts after it.
    pub seconds: f64,
    /// Until the last in-flight login answered.
    pub seconds_with_drain: f64,
    pub healthz: Latency,
    pub healthz_failures: usize,
    pub healthz_first_error: Option<String>,
    pub logins_ok: usize,
    pub logins_per_sec: f64,
    pub login_latency: Latency,
    pub login_errors: usize,
    pub login_timeouts: usize,
    pub login_first_error: Option<String>,
    pub rss_start_kib: u64,
    /// After a few /healthz requests and 2 s idle.
    pub rss_idle_kib: u64,
    /// After two logins more and 2 s idle.
    pub rss_idle_after_login_kib: u64,
    pub rss_peak_sampled_kib: u64,
    pub rss_samples: usize,
    pub threads_start: u64,
    pub threads_peak: u64,
    pub hwm_kib: u64,
    pub rss_after_kib: u64,
    /// Share of the machine other processes used during the flood (0..1).
    pub other_load: f64,
    pub storm: Option<StormReport>,
}

/// The disconnect storm: every client starts a login, all hang up together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StormReport {
    pub clients: usize,
    pub rss_peak_sampled_kib: u64,
    pub threads_peak: u64,
    pub hwm_kib: u64,
    pub rss_after_kib: u64,
    /// Server CPU seconds spent in the 3 s after every client hung up; with
    /// the hashing bound kept, at most the few verifications already running.
    pub cpu_seconds_after_hangup: f64,
}

pub struct Plan {
    pub clients: usize,
    pub duration: Duration,
    pub healthz_interval: Duration,
    pub timeout: Duration,
    pub storm: bool,
}

/// Latencies (ms) of the successful probes, the failure count and the first failure.
struct Probes {
    samples: Vec<f64>,
    failures: usize,
    first_error: Option<String>,
}

/// GET /healthz every `interval` until `stop` is set (or `hard_deadline`), on
/// its own thread, runtime and connection, so the flood's client work does not
/// delay the probe.
fn healthz_prober(
    url: String,
    interval: Duration,
    stop: Arc<AtomicBool>,
    hard_deadline: Instant,
) -> std::thread::JoinHandle<anyhow::Result<Probes>> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let client = client(Duration::from_secs(5))?;
            let max_samples = (hard_deadline.saturating_duration_since(Instant::now()).as_secs_f64()
                / interval.as_secs_f64().max(0.001)) as usize
                + 10;
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut samples = Vec::with_capacity(max_samples);
            let mut failures = 0;
            let mut first_error = None;
            while samples.len() + failures < max_samples {
                tick.tick().await;
                if stop.load(Ordering::Relaxed) || Instant::now() >= hard_deadline {
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

/// Peaks seen by the memory sampler.
#[derive(Default)]
struct Peaks {
    rss_kib: u64,
    threads: u64,
    samples: usize,
}

/// Samples VmRSS and the thread count every 100 ms until `stop` is set (or `hard_deadline`).
fn rss_sampler(pid: u32, stop: Arc<AtomicBool>, hard_deadline: Instant) -> std::thread::JoinHandle<Peaks> {
    std::thread::spawn(move || {
        let mut peaks = Peaks::default();
        while !stop.load(Ordering::Relaxed) && Instant::now() < hard_deadline {
            if let Ok(kib) = proc_status_kib(pid, "VmRSS") {
                peaks.rss_kib = peaks.rss_kib.max(kib);
                peaks.samples += 1;
            }
            if let Ok(threads) = proc_status_kib(pid, "Threads") {
                peaks.threads = peaks.threads.max(threads);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        peaks
    })
}

#[derive(Default)]
struct ClientTally {
    latencies: Vec<f64>,
    errors: usize,
    timeouts: usize,
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
    let threads_start = proc_status_kib(pid, "Threads")?;
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

    // The flood: no login starts after `deadline`; those in flight then finish
    // (each bounded by the request timeout), and the probes go on meanwhile.
    let flood_client = client(plan.timeout)?;
    let cpu_before = crate::cpu::snapshot(Some(pid));
    let start = Instant::now();
    let deadline = start + plan.duration;
    let hard_deadline = deadline + plan.timeout + Duration::from_secs(5);
    let stop = Arc::new(AtomicBool::new(false));
    let healthz = healthz_prober(healthz_url, plan.healthz_interval, Arc::clone(&stop), hard_deadline);
    let rss = rss_sampler(pid, Arc::clone(&stop), hard_deadline);
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
                match login(&client, &url, &list[i % list.len()]).await {
                    Outcome::Ok(d) => tally.latencies.push(ms(d)),
                    Outcome::Timeout => tally.timeouts += 1,
                    other => {
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
        all.first_error = all.first_error.or(t.first_error);
    }
    let seconds_with_drain = start.elapsed().as_secs_f64();
    let other_load = crate::cpu::others_share(&cpu_before, &crate::cpu::snapshot(Some(pid)));
    stop.store(true, Ordering::Relaxed);
    let probes = healthz.join().map_err(|_| anyhow!("healthz prober panicked"))??;
    let peaks = rss.join().map_err(|_| anyhow!("RSS sampler panicked"))?;
    let hwm_kib = proc_status_kib(pid, "VmHWM")?;
    drop(flood_client);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_kib = proc_status_kib(pid, "VmRSS")?;
    let logins_ok = all.latencies.len();
    let mut report = FloodReport {
        clients: plan.clients,
        seconds: plan.duration.as_secs_f64(),
        seconds_with_drain,
        healthz: Latency::of(probes.samples),
        healthz_failures: probes.failures,
        healthz_first_error: probes.first_error,
        logins_ok,
        logins_per_sec: logins_ok as f64 / seconds_with_drain,
        login_latency: Latency::of(all.latencies),
        login_errors: all.errors,
        login_timeouts: all.timeouts,
        login_first_error: all.first_error,
        rss_start_kib,
        rss_idle_kib,
        rss_idle_after_login_kib,
        rss_peak_sampled_kib: peaks.rss_kib,
        rss_samples: peaks.samples,
        threads_start,
        threads_peak: peaks.threads,
        hwm_kib,
        rss_after_kib,
        other_load,
        storm: None,
    };
    eprintln!(
        "flood: {} clients, {:.1} s (+{:.1} s drain): healthz p50 {:.1} ms p99 {:.1} ms max {:.1} ms ({} samples, {} failed); {} logins ok ({:.1}/s), {} errors, {} timeouts; peak RSS {} KiB, HWM {} KiB, peak threads {}",
        report.clients,
        report.seconds,
        report.seconds_with_drain - report.seconds,
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
        report.hwm_kib,
        report.threads_peak
    );
    if plan.storm {
        report.storm = Some(storm(pid, &login_url, &list, plan.clients).await?);
    }
    Ok(report)
}

/// Every client starts one login; after 1 s all hang up at once. A server
/// that keeps its hashing bound does at most the verifications already
/// running; one that frees a hashing slot when a request is dropped (while
/// its verification goes on) starts many at once.
async fn storm(pid: u32, url: &Arc<String>, list: &Arc<Vec<Account>>, clients: usize) -> anyhow::Result<StormReport> {
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = rss_sampler(pid, Arc::clone(&stop), Instant::now() + Duration::from_secs(30));
    let storm_client = client(Duration::from_secs(30))?;
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (client, url, list) = (storm_client.clone(), Arc::clone(url), Arc::clone(list));
            tokio::spawn(async move {
                let _ = login(&client, &url, &list[i % list.len()]).await;
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_before = proc_cpu_seconds(pid)?;
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    drop(storm_client);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu_seconds_after_hangup = proc_cpu_seconds(pid)? - cpu_before;
    stop.store(true, Ordering::Relaxed);
    let peaks = sampler.join().map_err(|_| anyhow!("RSS sampler panicked"))?;
    let report = StormReport {
        clients,
        rss_peak_sampled_kib: peaks.rss_kib,
        threads_peak: peaks.threads,
        hwm_kib: proc_status_kib(pid, "VmHWM")?,
        rss_after_kib: proc_status_kib(pid, "VmRSS")?,
        cpu_seconds_after_hangup,
    };
    eprintln!(
        "storm: {clients} clients hung up mid-login: peak RSS {} KiB, HWM {} KiB, peak threads {}, server CPU {:.2} s in the 3 s after",
        report.rss_peak_sampled_kib, report.hwm_kib, report.threads_peak, report.cpu_seconds_after_hangup
    );
    Ok(report)
}

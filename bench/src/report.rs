//! The Markdown report, from the JSON files the benchmarks left in one directory.

use std::fmt::Write as _;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::argon::{ArgonReport, ITERATIONS, MEMORY_KIB, PARALLELISM};
use crate::flood::FloodReport;
use crate::login::LoginReport;
use crate::oidc::{Level, OidcReport};
use crate::roster::ImportReport;

pub struct Meta {
    pub backend: String,
    pub commit: String,
    pub date: String,
    pub total_seconds: Option<f64>,
}

fn load<T: DeserializeOwned>(dir: &Path, name: &str) -> Option<T> {
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!("report: cannot read {name}: {e}");
            None
        }
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

pub fn render(dir: &Path, meta: &Meta) -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let argon: Option<ArgonReport> = load(dir, "argon2.json");
    let login: Option<LoginReport> = load(dir, "login.json");
    let flood: Option<FloodReport> = load(dir, "flood.json");
    let import: Option<ImportReport> = load(dir, "import.json");
    let oidc: Option<OidcReport> = load(dir, "oidc.json");

    let raw = |threads: usize| {
        argon
            .as_ref()
            .and_then(|a| a.results.iter().find(|r| r.threads == threads))
            .map(|r| r.verifications_per_sec)
    };
    // C below the core count compares with C threads (1 → 1 thread); C at or above it with all cores.
    let raw_for = |c: usize| raw(c.min(cores)).map(|v| (c.min(cores), v));

    let mut summary: Vec<[String; 4]> = Vec::new();
    let mut s = String::new();
    let _ = writeln!(s, "# Varco benchmarks\n");
    let _ = writeln!(
        s,
        "- date: {} · commit: `{}` · backend: **{}** · machine: {cores} cores, {}, {:.0} GiB{}",
        meta.date,
        meta.commit,
        meta.backend,
        cpu_model(),
        mem_total_gib(),
        meta.total_seconds
            .map(|t| format!(" · whole run: {t:.0} s"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "- Argon2id m={MEMORY_KIB} KiB, t={ITERATIONS}, p={PARALLELISM}, v0x13 (server and in-process reference)\n"
    );

    let mut details = String::new();
    // 1. Login throughput.
    let _ = writeln!(details, "## 1. Login throughput\n");
    match &argon {
        Some(a) => {
            let list: Vec<String> = a
                .results
                .iter()
                .map(|r| {
                    format!(
                        "{} thread(s): **{:.1}/s** (other load {:.0}%)",
                        r.threads,
                        r.verifications_per_sec,
                        r.other_load * 100.0
                    )
                })
                .collect();
            let _ = writeln!(
                details,
                "Raw Argon2id verifications in process (median of {} rounds of {:.0} s): {}.\n",
                a.results.first().map(|r| r.rounds.len()).unwrap_or(0),
                a.seconds_per_round,
                list.join(", ")
            );
        }
        None => {
            let _ = writeln!(details, "Raw Argon2id measurement: not run.\n");
        }
    }
    match &login {
        Some(l) => {
            let _ = writeln!(
                details,
                "Successful logins over {} accounts, round robin, one shared keep-alive client; medians of {} round(s).\n",
                l.accounts,
                l.levels.first().map(|x| x.rounds.len()).unwrap_or(0)
            );
            let _ = writeln!(
                details,
                "| C | requests | logins/s | p50 ms | p99 ms | errors | raw verif/s (threads) | ratio | target ≥ 0.9 | other load |"
            );
            let _ = writeln!(details, "|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|");
            for level in &l.levels {
                let (raw_text, ratio_text, pass) = match raw_for(level.concurrency) {
                    Some((threads, v)) => {
                        let ratio = level.logins_per_sec / v;
                        (
                            format!("{v:.1} ({threads})"),
                            format!("{ratio:.2}"),
                            verdict(ratio >= 0.9),
                        )
                    }
                    None => ("-".into(), "-".into(), "-"),
                };
                let errors = match &level.first_error {
                    Some(e) if level.errors > 0 => format!("{} ({e})", level.errors),
                    _ => level.errors.to_string(),
                };
                let _ = writeln!(
                    details,
                    "| {} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {:.0}% |",
                    level.concurrency,
                    level.requests,
                    level.logins_per_sec,
                    level.p50_ms,
                    level.p99_ms,
                    errors,
                    raw_text,
                    ratio_text,
                    pass,
                    level.other_load * 100.0
                );
                if pass != "-" {
                    summary.push([
                        format!("logins/s ÷ raw verif/s, C={}", level.concurrency),
                        ratio_text,
                        "≥ 0.9".into(),
                        pass.into(),
                    ]);
                }
            }
            let _ = writeln!(details);
        }
        None => {
            let _ = writeln!(details, "Not run (not selected, or failed: see the log).\n");
        }
    }

    // 2. Flood.
    let _ = writeln!(details, "## 2. /healthz and memory under a login flood\n");
    match &flood {
        Some(f) => {
            let _ = writeln!(
                details,
                "{} clients loop successful logins for {:.0} s (those in flight then finish: {:.1} s in all); meanwhile one separate client GETs /healthz every 20 ms and the server's VmRSS is read every 100 ms.\n",
                f.clients, f.seconds, f.seconds_with_drain
            );
            let _ = writeln!(details, "| measure | value | target | |");
            let _ = writeln!(details, "|---|---:|---:|:---:|");
            let mut row = |name: &str, value: String, target: &str, pass: Option<bool>| {
                let v = pass.map(verdict).unwrap_or("");
                let _ = writeln!(details, "| {name} | {value} | {target} | {v} |");
                if let Some(p) = pass {
                    summary.push([name.to_owned(), value, target.to_owned(), verdict(p).into()]);
                }
            };
            row(
                "other load during the flood",
                format!("{:.0}%", f.other_load * 100.0),
                "",
                None,
            );
            row("healthz p50", format!("{:.1} ms", f.healthz.p50_ms), "", None);
            row(
                "healthz p99 during flood",
                format!("{:.1} ms", f.healthz.p99_ms),
                "< 50 ms",
                Some(f.healthz.p99_ms < 50.0 && f.healthz_failures == 0),
            );
            row("healthz max", format!("{:.1} ms", f.healthz.max_ms), "", None);
            row(
                "healthz samples (failed)",
                format!(
                    "{} ({}{})",
                    f.healthz.count,
                    f.healthz_failures,
                    f.healthz_first_error
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                ),
                "",
                None,
            );
            row(
                "logins completed during flood",
                format!("{} ({:.1}/s)", f.logins_ok, f.logins_per_sec),
                "",
                None,
            );
            row(
                "login latency p50 / p99 in flood",
                format!("{:.0} / {:.0} ms", f.login_latency.p50_ms, f.login_latency.p99_ms),
                "",
                None,
            );
            row(
                "login errors / timeouts",
                format!(
                    "{} / {}{}",
                    f.login_errors,
                    f.login_timeouts,
                    f.login_first_error
                        .as_ref()
                        .map(|e| format!(" (first error: {e})"))
                        .unwrap_or_default()
                ),
                "",
                None,
            );
            row(
                "RSS just after start-up",
                format!("{:.1} MiB", mib(f.rss_start_kib)),
                "",
                None,
            );
            row(
                "idle RSS (3 × /healthz, 2 s idle)",
                format!("{:.1} MiB", mib(f.rss_idle_kib)),
                "< 30 MiB",
                Some(mib(f.rss_idle_kib) < 30.0),
            );
            row(
                "idle RSS (then 2 logins, 2 s idle)",
                format!("{:.1} MiB", mib(f.rss_idle_after_login_kib)),
                "< 30 MiB",
                Some(mib(f.rss_idle_after_login_kib) < 30.0),
            );
            row(
                "peak RSS in flood (VmRSS every 100 ms)",
                format!("{:.1} MiB ({} samples)", mib(f.rss_peak_sampled_kib), f.rss_samples),
                "< 300 MiB",
                Some(mib(f.rss_peak_sampled_kib) < 300.0),
            );
            row(
                "VmHWM after flood",
                format!("{:.1} MiB", mib(f.hwm_kib)),
                "< 300 MiB",
                Some(mib(f.hwm_kib) < 300.0),
            );
            row(
                "RSS 1 s after flood",
                format!("{:.1} MiB", mib(f.rss_after_kib)),
                "",
                None,
            );
            row(
                "server threads at start / peak in flood",
                format!("{} / {}", f.threads_start, f.threads_peak),
                "",
                None,
            );
            if let Some(storm) = &f.storm {
                row(
                    &format!(
                        "disconnect storm ({} logins started, all hung up after 1 s): server CPU in the 3 s after",
                        storm.clients
                    ),
                    format!("{:.2} s", storm.cpu_seconds_after_hangup),
                    &match raw(1) {
                        Some(v) => format!("info: {cores} verifications ≈ {:.2} s", cores as f64 / v),
                        None => "info".to_owned(),
                    },
                    None,
                );
                row(
                    "disconnect storm: peak RSS / VmHWM / peak threads",
                    format!(
                        "{:.1} / {:.1} MiB / {}",
                        mib(storm.rss_peak_sampled_kib),
                        mib(storm.hwm_kib),
                        storm.threads_peak
                    ),
                    "",
                    None,
                );
            }
            let _ = writeln!(details);
        }
        None => {
            let _ = writeln!(details, "Not run (not selected, or failed: see the log).\n");
        }
    }

    // 3. Import.
    let _ = writeln!(details, "## 3. Roster import (`varco import`)\n");
    match &import {
        Some(i) => {
            let _ = writeln!(
                details,
                "{} rows (generated in {:.1} s), one school, wall clock of the whole `varco import` process.\n",
                i.file_rows, i.generate_seconds
            );
            let _ = writeln!(details, "| run | seconds | rows/s | report | target | |");
            let _ = writeln!(details, "|---|---:|---:|---|---:|:---:|");
            let first_ok = !i.first.timed_out && i.first.seconds < 30.0 && i.first.created as usize == i.file_rows;
            let again_ok = i.again.as_ref().is_some_and(|a| !a.timed_out && a.created == 0);
            let mut runs = vec![(
                "first import (fresh database)",
                &i.first,
                "< 30 s, all created",
                first_ok,
            )];
            if let Some(again) = &i.again {
                runs.push(("same file again", again, "created: 0", again_ok));
            }
            for (name, run, target, ok) in runs {
                let seconds = if run.timed_out {
                    format!("> {:.0} (killed)", run.seconds)
                } else {
                    format!("{:.1}", run.seconds)
                };
                let rate = if run.timed_out {
                    "-".to_owned()
                } else {
                    format!("{:.0}", run.rows as f64 / run.seconds)
                };
                let _ = writeln!(
                    details,
                    "| {name} | {seconds} | {rate} | {} | {target} | {} |",
                    run.output,
                    verdict(ok)
                );
            }
            if i.again.is_none() {
                let _ = writeln!(
                    details,
                    "| same file again | - | - | not run: the first import did not finish | created: 0 | MISS |"
                );
            }
            summary.push([
                format!("import {} rows", i.file_rows),
                if i.first.timed_out {
                    format!("> {:.0} s (killed)", i.first.seconds)
                } else {
                    format!("{:.1} s", i.first.seconds)
                },
                "< 30 s".into(),
                verdict(first_ok).into(),
            ]);
            summary.push([
                "re-import is idempotent".into(),
                match &i.again {
                    Some(a) => format!("created: {} ({:.1} s)", a.created, a.seconds),
                    None => "not run".to_owned(),
                },
                "created: 0".into(),
                verdict(again_ok).into(),
            ]);
            let _ = writeln!(details);
        }
        None => {
            let _ = writeln!(details, "Not run (not selected, or failed: see the log).\n");
        }
    }

    // 4. OpenID Connect provider.
    let _ = writeln!(details, "## 4. OpenID Connect provider\n");
    match &oidc {
        Some(o) => oidc_section(&mut details, &mut summary, o, cores),
        None => {
            let _ = writeln!(details, "Not run (not selected, or failed: see the log).\n");
        }
    }

    let mut other_loads: Vec<f64> = Vec::new();
    if let Some(a) = &argon {
        other_loads.extend(a.results.iter().map(|r| r.other_load));
    }
    if let Some(l) = &login {
        other_loads.extend(l.levels.iter().map(|x| x.other_load));
    }
    if let Some(f) = &flood {
        other_loads.push(f.other_load);
    }
    if let Some(o) = &oidc {
        other_loads.extend(o.refresh.iter().chain(&o.userinfo).map(|x| x.other_load));
        other_loads.push(o.exchange.other_load);
    }
    let worst = other_loads.iter().copied().fold(0.0, f64::max);
    if worst > 0.05 {
        let _ = writeln!(
            s,
            "> **Warning:** other processes used up to {:.0}% of the machine during the measurements (column *other load*); CPU-bound figures from those parts are too low. Rerun on an idle machine.\n",
            worst * 100.0
        );
    }
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(s, "| target | result | wanted | |");
    let _ = writeln!(s, "|---|---:|---:|:---:|");
    for [a, b, c, d] in &summary {
        let _ = writeln!(s, "| {a} | {b} | {c} | {d} |");
    }
    let _ = writeln!(s);
    s.push_str(&details);
    s
}

/// Goals of issue 8.
pub const REFRESH_GOAL: f64 = 1_500.0;
pub const USERINFO_GOAL: f64 = 10_000.0;
pub const EXCHANGE_GOAL_MS: f64 = 5.0;
/// Keycloak's sizing guide: refresh-token grants per second per vCPU.
pub const KEYCLOAK_REFRESH_PER_VCPU: f64 = 120.0;

/// The level with the most requests per second (medians of its rounds).
fn best(levels: &[Level]) -> Option<&Level> {
    levels.iter().max_by(|a, b| a.per_sec.total_cmp(&b.per_sec))
}

fn level_table(out: &mut String, what: &str, levels: &[Level]) {
    let _ = writeln!(
        out,
        "| C | {what}/s | p50 ms | p99 ms | server CPU ms/request | load generator CPU ms/request | errors | other load |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    for l in levels {
        let errors = match &l.first_error {
            Some(e) if l.errors > 0 => format!("{} ({e})", l.errors),
            _ => l.errors.to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {:.2} | {:.3} | {:.3} | {} | {:.0}% |",
            l.concurrency,
            l.per_sec,
            l.p50_ms,
            l.p99_ms,
            l.server_cpu_ms,
            l.client_cpu_ms,
            errors,
            l.other_load * 100.0
        );
    }
    let _ = writeln!(out);
}

fn oidc_section(details: &mut String, summary: &mut Vec<[String; 4]>, o: &OidcReport, cores: usize) {
    let rounds = o.refresh.first().map(|l| l.rounds.len()).unwrap_or(0);
    let _ = writeln!(
        details,
        "Two first-party confidential clients (`client_secret_basic`): one with RS256 ID tokens (the default: every row unless said) and one with ES256; {} grants each, from {} sign-ins, scope `{}`. \
         Each concurrent client owns one grant. Medians of {rounds} round(s) of {:.0} s per concurrency C. \
         CPU per request is the server's (and the load generator's, which shares the cores) CPU time in the round ÷ successful requests.\n",
        o.grants, o.accounts, o.scope, o.seconds_per_round
    );
    let signing: Vec<String> = o
        .signing
        .iter()
        .map(|r| {
            format!(
                "{} {} thread(s): **{:.0}/s** ({:.3} ms of CPU each)",
                r.alg,
                r.threads,
                r.signs_per_sec,
                r.threads as f64 * 1000.0 / r.signs_per_sec.max(f64::MIN_POSITIVE)
            )
        })
        .collect();
    let _ = writeln!(
        details,
        "In-process ID token signing with the server's own key type (`varco_oidc::SigningKey`, median of {} 1-s rounds), the reference for a refresh: {}.\n",
        o.signing.first().map(|r| r.rounds.len()).unwrap_or(0),
        signing.join(", ")
    );
    let r = &o.rotation;
    let _ = writeln!(
        details,
        "Rotation check on a grant of its own: refresh rotates: {}; the rotated token presented again is refused: {}; the newest token is then refused too (grant revoked): {}.\n",
        r.first_refresh_ok, r.reused_token_refused, r.newest_token_refused_after_reuse
    );
    let _ = writeln!(
        details,
        "### Refresh-token grants (`POST /oauth2/token`, grant_type=refresh_token; each rotates, each client presents the newest token)\n"
    );
    level_table(details, "grants", &o.refresh);
    if let Some(l) = &o.refresh_es256 {
        let _ = writeln!(
            details,
            "The same with a client whose ID tokens are ES256 (`varco client add --es256`), at C = {}:\n",
            l.concurrency
        );
        level_table(details, "grants", std::slice::from_ref(l));
    }
    let _ = writeln!(details, "### Userinfo (`GET /oauth2/userinfo`, Bearer)\n");
    level_table(details, "requests", &o.userinfo);
    if let (Some(h), Some(d)) = (&o.healthz, &o.discovery) {
        let _ = writeln!(
            details,
            "Floors at C = {}: `GET /.well-known/openid-configuration` (HTTP and the middleware only, no database) and `GET /healthz` (the same plus one `SELECT 1` on a pooled connection, no transaction). \
             Userinfo makes one database round trip (token, grant, account, its roles and client in one SELECT, no transaction).\n",
            h.concurrency
        );
        let _ = writeln!(
            details,
            "| request | requests/s | p50 ms | p99 ms | server CPU ms/request | load generator CPU ms/request | errors | other load |"
        );
        let _ = writeln!(details, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for (name, l) in [("discovery (no database)", d), ("healthz (one `SELECT 1`)", h)] {
            let _ = writeln!(
                details,
                "| {name} | {:.0} | {:.2} | {:.2} | {:.3} | {:.3} | {} | {:.0}% |",
                l.per_sec,
                l.p50_ms,
                l.p99_ms,
                l.server_cpu_ms,
                l.client_cpu_ms,
                l.errors,
                l.other_load * 100.0
            );
        }
        let _ = writeln!(details);
    }
    let e = &o.exchange;
    let _ = writeln!(
        details,
        "### Code exchange\n\nOne client, one at a time: `POST /api/v1/login`, then `GET /oauth2/authorize` with the session cookie (a 303 with the code), then `POST /oauth2/token` with the code and the PKCE verifier. Medians over {} round(s) of each round's median ({} sign-ins per round).\n",
        e.rounds.len(),
        e.rounds.first().map(|r| r.samples).unwrap_or(0)
    );
    let _ = writeln!(details, "| step | p50 ms |");
    let _ = writeln!(details, "|---|---:|");
    let _ = writeln!(details, "| login alone | {:.2} |", e.login_p50_ms);
    let _ = writeln!(details, "| authorize | {:.2} |", e.authorize_p50_ms);
    let _ = writeln!(details, "| token (code exchange) | {:.2} |", e.token_p50_ms);
    let _ = writeln!(
        details,
        "| **authorize + token** (per sign-in; p99 {:.2}) | **{:.2}** |",
        e.exchange_p99_ms, e.exchange_p50_ms
    );
    let _ = writeln!(details, "| login + authorize + token | {:.2} |", e.full_p50_ms);
    let _ = writeln!(
        details,
        "| median(login + authorize + token) − median(login) | {:.2} |\n",
        e.difference_ms
    );

    let mut goal = |name: String, value: f64, goal: f64| {
        summary.push([
            name,
            format!("{value:.0}/s (× {:.2} of the goal)", value / goal),
            format!("≥ {goal:.0}/s"),
            verdict(value >= goal).into(),
        ]);
    };
    if let Some(b) = best(&o.refresh) {
        goal(
            format!(
                "refresh grants/s (best C = {}; {:.0}/s per core, Keycloak's guide: {:.0})",
                b.concurrency,
                b.per_sec / cores as f64,
                KEYCLOAK_REFRESH_PER_VCPU
            ),
            b.per_sec,
            REFRESH_GOAL,
        );
    }
    if let Some(b) = best(&o.userinfo) {
        goal(
            format!("userinfo requests/s (best C = {})", b.concurrency),
            b.per_sec,
            USERINFO_GOAL,
        );
    }
    summary.push([
        "code exchange added to a sign-in (median authorize + token)".into(),
        format!(
            "{:.2} ms (× {:.2} of the budget; difference of medians: {:.2} ms)",
            e.exchange_p50_ms,
            e.exchange_p50_ms / EXCHANGE_GOAL_MS,
            e.difference_ms
        ),
        format!("< {EXCHANGE_GOAL_MS:.0} ms"),
        verdict(e.exchange_p50_ms < EXCHANGE_GOAL_MS).into(),
    ]);
}

fn mem_total_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .split_whitespace()
                    .next()?
                    .parse::<f64>()
                    .ok()
            })
        })
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0)
}

//! Failed-login timing (security review finding 7): how long a wrong
//! password takes to answer for an account with each kind of stored hash
//! (Argon2id, bcrypt cost 10 and 12, Django PBKDF2 with 1,000,000 rounds,
//! salted MD5), for an email shared by three accounts, and for logins that
//! match nobody. Varco pads every refusal to a floor measured from the
//! costliest stored hash, so each median should sit within 10% of the
//! unknown-login median.
//!
//! The accounts come from a roster import with a `password_hash` column
//! (the migration path those formats exist for). The lockout's delays are
//! switched off for the run, so every sample is a real verification of the
//! same accounts rather than a refusal during a delay. Samples are taken one
//! at a time, round-robin over the kinds, so machine noise hits them alike.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, bail};
use base64::Engine as _;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use sha2::Sha256;

use crate::mail::{Server, free_port, run_ok, varco, wait_healthy};
use crate::stats::median;
use crate::taxcode::tax_code;

/// One kind of failed login and its answer times.
#[derive(Debug, Serialize)]
pub struct Kind {
    pub name: &'static str,
    pub median_ms: f64,
    /// Median divided by the unknown-login median.
    pub ratio: f64,
    pub status: u16,
}

#[derive(Debug, Serialize)]
pub struct TimingFigures {
    pub samples: usize,
    pub kinds: Vec<Kind>,
    pub unknown_median_ms: f64,
    pub worst_difference_percent: f64,
}

const SCHOOL: &str = "BNCH000002";
const SHARED: &str = "famiglia.condivisa@example.it";

fn md5_hash(password: &str) -> String {
    use md5::Digest as _;
    let salt = "s4lt";
    let digest = md5::Md5::new().chain_update(salt).chain_update(password).finalize();
    format!("md5${salt}${}", hex::encode(digest))
}

fn pbkdf2_hash(password: &str, rounds: u32) -> String {
    let salt = "benchsalt1234567";
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), rounds, &mut key);
    let key = base64::engine::general_purpose::STANDARD.encode(key);
    format!("pbkdf2_sha256${rounds}${salt}${key}")
}

fn argon2_hash(password: &str) -> anyhow::Result<String> {
    use argon2::PasswordHasher as _;
    let salt =
        argon2::password_hash::SaltString::from_b64("YmVuY2hzYWx0YmVuY2hzYQ").map_err(|e| anyhow::anyhow!("{e}"))?;
    let params = argon2::Params::new(19_456, 2, 1, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hasher = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    Ok(hasher
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string())
}

/// Measures `samples` failed logins of each kind against a fresh server.
pub async fn login_timing(varco_bin: &Path, samples: usize) -> anyhow::Result<TimingFigures> {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "varco-bench-timing-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let data = dir.join("data");
    run_ok(varco(
        varco_bin,
        &data,
        &[],
        &["school", "add", "--code", SCHOOL, "--name", "Bench timing"],
    ))?;
    let password = "la password vera di questa persona";
    let bcrypt10 = bcrypt::hash(password, 10).map_err(|e| anyhow::anyhow!("bcrypt: {e:?}"))?;
    let bcrypt12 = bcrypt::hash(password, 12).map_err(|e| anyhow::anyhow!("bcrypt: {e:?}"))?;
    let rows: Vec<(&str, Option<&str>, String)> = vec![
        ("argon2", Some("a.argon2"), argon2_hash(password)?),
        ("bcrypt10", Some("a.bcrypt10"), bcrypt10),
        ("bcrypt12", Some("a.bcrypt12"), bcrypt12),
        ("pbkdf2", Some("a.pbkdf2"), pbkdf2_hash(password, 1_000_000)),
        ("md5", Some("a.md5"), md5_hash(password)),
        ("shared1", None, argon2_hash(password)?),
        ("shared2", None, argon2_hash(password)?),
        ("shared3", None, argon2_hash(password)?),
    ];
    let mut csv = String::from("tax_code;first_name;last_name;kind;email;username;password_hash\n");
    let mut rng = StdRng::seed_from_u64(7);
    for (index, (name, username, hash)) in rows.iter().enumerate() {
        let email = if username.is_some() {
            format!("{name}@example.it")
        } else {
            SHARED.to_owned()
        };
        csv.push_str(&format!(
            "{};Bench;{name};family;{email};{};{hash}\n",
            tax_code(index as u64 + 1, &mut rng),
            username.unwrap_or("")
        ));
    }
    std::fs::create_dir_all(&dir)?;
    let roster = dir.join("roster.csv");
    std::fs::File::create(&roster)?.write_all(csv.as_bytes())?;
    run_ok(varco(
        varco_bin,
        &data,
        &[],
        &["import", "--school", SCHOOL, roster.to_str().context("path")?],
    ))?;

    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let envs = [
        ("VARCO_LISTEN", format!("127.0.0.1:{port}")),
        ("VARCO_PUBLIC_URL", base.clone()),
        ("VARCO_RATE_LIMITS__LOGIN_PER_MINUTE", "0".to_owned()),
        ("VARCO_RATE_LIMITS__API_PER_MINUTE", "0".to_owned()),
        ("VARCO_LOCKOUT__DELAY_AFTER", "1000000".to_owned()),
        ("VARCO_LOCKOUT__LOCK_AFTER", "1000000".to_owned()),
    ];
    let child = varco(varco_bin, &data, &envs, &["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let _server = Server { child };
    wait_healthy(&base).await?;
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/login");
    let attempt = |login: String| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let started = Instant::now();
            let r = client
                .post(&url)
                .json(&serde_json::json!({ "login": login, "password": "non è la password giusta" }))
                .send()
                .await?;
            let status = r.status().as_u16();
            r.bytes().await?;
            anyhow::Ok((started.elapsed().as_secs_f64() * 1000.0, status))
        }
    };
    // Kinds: (name, login for sample i). Unknown logins differ at each
    // sample, as a prober's would.
    type LoginOf = Box<dyn Fn(usize) -> String>;
    let kinds: Vec<(&'static str, LoginOf)> = vec![
        ("unknown username", Box::new(|i| format!("nessuno.{i:05}"))),
        ("unknown email", Box::new(|i| format!("nessuno{i:05}@example.it"))),
        ("Argon2id account", Box::new(|_| "a.argon2".to_owned())),
        ("bcrypt cost 10", Box::new(|_| "a.bcrypt10".to_owned())),
        ("bcrypt cost 12", Box::new(|_| "a.bcrypt12".to_owned())),
        ("PBKDF2 1,000,000 rounds", Box::new(|_| "a.pbkdf2".to_owned())),
        ("salted MD5", Box::new(|_| "a.md5".to_owned())),
        ("email shared by 3 accounts", Box::new(|_| SHARED.to_owned())),
    ];
    // The first login measures the floor; then a warm-up round.
    for (_, login) in &kinds {
        attempt(login(99_999)).await?;
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(samples); kinds.len()];
    let mut statuses = vec![0u16; kinds.len()];
    for i in 0..samples {
        for (k, (_, login)) in kinds.iter().enumerate() {
            let (ms, status) = attempt(login(i)).await?;
            times[k].push(ms);
            statuses[k] = status;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if statuses.iter().any(|s| *s != 401) {
        bail!("every attempt should be refused with 401: {statuses:?}");
    }
    let unknown = median(&times[0]);
    let kinds: Vec<Kind> = kinds
        .iter()
        .zip(&times)
        .zip(&statuses)
        .map(|(((name, _), times), status)| {
            let m = median(times);
            Kind {
                name,
                median_ms: m,
                ratio: m / unknown,
                status: *status,
            }
        })
        .collect();
    let worst = kinds.iter().map(|k| (k.ratio - 1.0).abs() * 100.0).fold(0.0, f64::max);
    Ok(TimingFigures {
        samples,
        kinds,
        unknown_median_ms: unknown,
        worst_difference_percent: worst,
    })
}

/// The figures as a Markdown table.
pub fn render(figures: &TimingFigures) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "## Failed-login answer time ({} samples per kind, one at a time)\n\n",
        figures.samples
    ));
    out.push_str("| wrong password for | median ms | ratio to unknown username |\n|---|---:|---:|\n");
    for kind in &figures.kinds {
        out.push_str(&format!(
            "| {} | {:.1} | {:.3} |\n",
            kind.name, kind.median_ms, kind.ratio
        ));
    }
    out.push_str(&format!(
        "\nLargest difference from the unknown-username median: {:.1}% (target: under 10%).\n",
        figures.worst_difference_percent
    ));
    out
}

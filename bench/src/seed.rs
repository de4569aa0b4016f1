//! Seeding accounts through the real `varco` CLI, each with its own random password.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::taxcode::tax_code;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub password: String,
    pub user_code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accounts {
    pub school: String,
    pub accounts: Vec<Account>,
    pub seconds: f64,
}

const PASSWORD_CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_.!";

/// A random password of `len` characters that contains none of `avoid`
/// (compared lower-case), so the password policy accepts it.
fn password(rng: &mut impl Rng, len: usize, avoid: &[String]) -> String {
    loop {
        let p: String = (0..len)
            .map(|_| PASSWORD_CHARS[rng.gen_range(0..PASSWORD_CHARS.len())] as char)
            .collect();
        let lower = p.to_lowercase();
        if !avoid.iter().any(|w| lower.contains(w.as_str())) {
            return p;
        }
    }
}

/// Why a `varco` run gave no output.
#[derive(Debug)]
pub enum RunError {
    /// Killed after the time limit.
    TimedOut(Duration),
    Other(anyhow::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::TimedOut(d) => write!(f, "killed after {} s", d.as_secs()),
            RunError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<anyhow::Error> for RunError {
    fn from(e: anyhow::Error) -> Self {
        RunError::Other(e)
    }
}

impl From<std::io::Error> for RunError {
    fn from(e: std::io::Error) -> Self {
        RunError::Other(e.into())
    }
}

/// Runs `varco` with `args` (environment inherited), feeding `stdin`; kills
/// it after `timeout`. Returns stdout.
pub fn varco_within(varco: &Path, args: &[&str], stdin: Option<&str>, timeout: Duration) -> Result<String, RunError> {
    let mut child = Command::new(varco)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", varco.display()))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
        pipe.write_all(b"\n")?;
    }
    // Drain the pipes on threads so a chatty child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RunError::TimedOut(timeout));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        return Err(RunError::Other(anyhow!(
            "varco {} failed ({status}): {}",
            args.first().copied().unwrap_or(""),
            stderr.trim()
        )));
    }
    Ok(stdout)
}

/// [`varco_within`] with a 60 s limit, for quick admin commands.
pub fn varco(varco_bin: &Path, args: &[&str], stdin: Option<&str>) -> anyhow::Result<String> {
    varco_within(varco_bin, args, stdin, Duration::from_secs(60)).map_err(|e| anyhow!("{e}"))
}

pub fn run(varco_bin: &Path, school: &str, count: usize, password_len: usize) -> anyhow::Result<Accounts> {
    let start = Instant::now();
    varco(
        varco_bin,
        &["school", "add", "--code", school, "--name", "Bench School"],
        None,
    )
    .context("adding the school")?;
    let mut rng = StdRng::from_entropy();
    let mut accounts = Vec::with_capacity(count);
    for i in 0..count {
        let username = format!("benchuser{i}");
        let email = format!("bench{i}@example.it");
        // Tax codes of the seeded accounts start far from the roster's (index 0..).
        let cf = tax_code(20_000_000 + i as u64, &mut rng);
        let avoid: Vec<String> = ["bench", "user", "utente", "school", &username, &cf, "example"]
            .iter()
            .map(|w| w.to_lowercase())
            .collect();
        let password = password(&mut rng, password_len.max(20), &avoid);
        let out = varco(
            varco_bin,
            &[
                "account",
                "add",
                "--school",
                school,
                "--kind",
                "staff",
                "--first-name",
                "Bench",
                "--last-name",
                "Utente",
                "--tax-code",
                &cf,
                "--email",
                &email,
                "--username",
                &username,
                "--password-stdin",
            ],
            Some(&password),
        )
        .with_context(|| format!("adding account {username}"))?;
        let user_code = out.trim().to_owned();
        if user_code.is_empty() {
            bail!("varco account add printed no user code for {username}");
        }
        accounts.push(Account {
            username,
            password,
            user_code,
        });
    }
    let seconds = start.elapsed().as_secs_f64();
    eprintln!("seed: {count} accounts in {seconds:.1} s");
    Ok(Accounts {
        school: school.to_owned(),
        accounts,
        seconds,
    })
}

//! Mail and recovery benchmarks: outbox delivery rate (to a local SMTP sink
//! and to `.eml` files) and the forgot-password answer time for an existing
//! versus an unknown login.
//!
//! The SMTP sink is a minimal in-process server on 127.0.0.1 that answers
//! every command at once and counts messages, so the figure measures Varco's
//! worker (claim, render, send over one reused connection, mark sent), not
//! the peer. Every loop is bounded in count and time.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

pub(crate) struct Server {
    pub(crate) child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) fn varco(varco: &Path, data: &Path, envs: &[(&str, String)], args: &[&str]) -> Command {
    let mut c = Command::new(varco);
    c.args(args)
        .env("VARCO_DATA_DIR", data)
        .env("VARCO_LOG", "warn")
        .env_remove("VARCO_DATABASE_URL")
        .env_remove("VARCO_SMTP_URL")
        .env_remove("VARCO_CONFIG");
    for (k, v) in envs {
        c.env(k, v);
    }
    c
}

pub(crate) fn run_ok(mut c: Command) -> anyhow::Result<String> {
    let out = c.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        bail!("{:?} failed: {}", c, String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub(crate) async fn wait_healthy(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not become healthy")
}

/// A minimal SMTP server that accepts everything and records when each message ended.
async fn smtp_sink() -> anyhow::Result<(u16, Arc<Mutex<Vec<Instant>>>, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (r, c) = (received.clone(), connections.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_nodelay(true);
            let received = r.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                    return;
                }
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            received.lock().await.push(Instant::now());
                            let _ = write.write_all(b"250 queued\r\n").await;
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            in_data = true;
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    if write.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((port, received, connections))
}

async fn queue_messages(db: &Path, count: usize) -> anyhow::Result<()> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&format!("sqlite://{}", db.display())).await?;
    let mut tx = conn.begin().await?;
    for i in 0..count {
        sqlx::query(
            "INSERT INTO outbox (message_id, recipient, template, lang, payload, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, 'test_message', 'it', '{\"first_name\": \"Prova\"}', 'pending', 0, 0, strftime('%s','now'))",
        )
        .bind(format!("bench-{i}@varco.bench"))
        .bind(format!("destinatario{i}@example.it"))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub struct OutboxFigures {
    pub messages: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub connections: usize,
}

/// Delivers `count` queued messages through `varco serve` and times them.
pub async fn outbox(varco_bin: &Path, count: usize, to_smtp: bool) -> anyhow::Result<OutboxFigures> {
    let dir = std::env::temp_dir().join(format!(
        "varco-bench-mail-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir)?;
    let data = dir.join("data");
    run_ok(varco(varco_bin, &data, &[], &["migrate"]))?;
    queue_messages(&data.join("varco.db"), count).await?;
    let port = free_port()?;
    let mut envs = vec![
        ("VARCO_LISTEN", format!("127.0.0.1:{port}")),
        ("VARCO_PUBLIC_URL", format!("http://127.0.0.1:{port}")),
        ("VARCO_MAIL__BATCH", "100".to_owned()),
    ];
    let sink = if to_smtp {
        let (sink_port, received, connections) = smtp_sink().await?;
        envs.push(("VARCO_SMTP_URL", format!("smtp://127.0.0.1:{sink_port}")));
        Some((received, connections))
    } else {
        None
    };
    let child = varco(varco_bin, &data, &envs, &["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let _server = Server { child };
    let eml_dir = data.join("mail");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut first: Option<Instant> = None;
    let (last, done) = loop {
        let (n, latest) = match &sink {
            Some((received, _)) => {
                let r = received.lock().await;
                if first.is_none() {
                    first = r.first().copied();
                }
                (r.len(), r.last().copied())
            }
            None => {
                let n = std::fs::read_dir(&eml_dir)
                    .map(|d| {
                        d.filter_map(Result::ok)
                            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                            .count()
                    })
                    .unwrap_or(0);
                if n > 0 && first.is_none() {
                    first = Some(Instant::now());
                }
                (n, Some(Instant::now()))
            }
        };
        if n >= count || Instant::now() > deadline {
            break (latest, n);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let connections = sink.as_ref().map(|(_, c)| c.load(Ordering::SeqCst)).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);
    let (Some(first), Some(last)) = (first, last) else {
        bail!("no message was delivered")
    };
    if done < count {
        bail!("only {done} of {count} messages delivered in 120 s");
    }
    let seconds = last.duration_since(first).as_secs_f64().max(1e-6);
    Ok(OutboxFigures {
        messages: done,
        seconds,
        per_second: (done.saturating_sub(1)) as f64 / seconds,
        connections,
    })
}

pub struct ForgotFigures {
    pub requests: usize,
    pub existing_median_ms: f64,
    pub existing_p99_ms: f64,
    pub unknown_median_ms: f64,
    pub unknown_p99_ms: f64,
    pub median_difference_percent: f64,
    pub per_second: f64,
    pub statuses_equal: bool,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Times `POST /api/v1/password/forgot` for an existing and an unknown login,
/// interleaved, then measures throughput with 16 concurrent clients.
pub async fn forgot(varco_bin: &Path, requests: usize) -> anyhow::Result<ForgotFigures> {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "varco-bench-forgot-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let data = dir.join("data");
    run_ok(varco(
        varco_bin,
        &data,
        &[],
        &["school", "add", "--code", "BNCH000001", "--name", "Bench"],
    ))?;
    let mut add = varco(
        varco_bin,
        &data,
        &[],
        &[
            "account",
            "add",
            "--school",
            "BNCH000001",
            "--kind",
            "family",
            "--first-name",
            "Bench",
            "--last-name",
            "Genitore",
            "--tax-code",
            "RSSMRA85T10A562S",
            "--email",
            "genitore@example.it",
            "--password-stdin",
        ],
    );
    let mut child = add
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(b"una password lunga e sicura davvero\n")?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("account add failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let envs = [
        ("VARCO_LISTEN", format!("127.0.0.1:{port}")),
        ("VARCO_PUBLIC_URL", base.clone()),
        ("VARCO_RATE_LIMITS__RECOVERY_PER_MINUTE", "0".to_owned()),
    ];
    let child = varco(varco_bin, &data, &envs, &["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let _server = Server { child };
    wait_healthy(&base).await?;
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/password/forgot");
    let post = move |login: String| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let started = Instant::now();
            let r = client
                .post(&url)
                .json(&serde_json::json!({ "login": login }))
                .send()
                .await?;
            let status = r.status().as_u16();
            let body = r.text().await?;
            anyhow::Ok((started.elapsed().as_secs_f64() * 1000.0, status, body))
        }
    };
    // Both kinds of login have the same shape and length: the existing
    // account's address, and addresses that match nobody.
    let existing_login = "genitore@example.it".to_owned();
    let unknown_login = |i: usize| format!("gen{:05}@example.it", i % 100_000);
    for i in 0..20 {
        post(if i % 2 == 0 {
            existing_login.clone()
        } else {
            unknown_login(i)
        })
        .await?;
    }
    let (mut existing, mut unknown) = (Vec::new(), Vec::new());
    let mut answers = std::collections::BTreeSet::new();
    for i in 0..2 * requests {
        let (login, bucket) = if i % 2 == 0 {
            (existing_login.clone(), &mut existing)
        } else {
            (unknown_login(i), &mut unknown)
        };
        let (ms, status, body) = post(login).await?;
        answers.insert((status, body));
        bucket.push(ms);
    }
    existing.sort_by(f64::total_cmp);
    unknown.sort_by(f64::total_cmp);
    let (em, um) = (percentile(&existing, 50.0), percentile(&unknown, 50.0));
    // Throughput: 16 clients, a bounded number of requests.
    let total = 2000;
    let started = Instant::now();
    let counter = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let counter = counter.clone();
        let post = post.clone();
        tasks.push(tokio::spawn(async move {
            while counter.fetch_add(1, Ordering::SeqCst) < total {
                let _ = post("qualcuno@example.it".to_owned()).await;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let per_second = total as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ForgotFigures {
        requests,
        existing_median_ms: em,
        existing_p99_ms: percentile(&existing, 99.0),
        unknown_median_ms: um,
        unknown_p99_ms: percentile(&unknown, 99.0),
        median_difference_percent: (em - um).abs() / um * 100.0,
        per_second,
        statuses_equal: answers.len() == 1,
    })
}

//! The OpenID Connect provider under load, driven over HTTP as a relying
//! party drives it (issue 8's benchmark):
//!
//! - **refresh**: refresh-token grants per second. Every grant rotates the
//!   refresh token, and every client always presents the newest one it got
//!   (each client owns one grant); a client whose request failed stops, since
//!   it can no longer know which token is the newest.
//! - **userinfo**: requests per second with valid access tokens (one per
//!   client, the newest its grant gave).
//! - **code exchange**: what `GET /oauth2/authorize` (with the session
//!   cookie, answered by a redirect with a code) plus the code's exchange at
//!   `POST /oauth2/token` add to a sign-in, one client at a time.
//!
//! Before the server is loaded, the in-process cost of signing an ID token
//! (the server's own `varco_oidc::SigningKey`, RS256 and ES256) is measured
//! as a reference, like the raw Argon2id rate of the login benchmark.
//!
//! Every loop is bounded in count and time; the only target is the URL given.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::seed::{Account, Accounts};
use crate::stats::{Latency, median, ms};

/// The benchmark client's only redirect URI; nothing listens there (the
/// redirect is read from the `Location` header, never followed).
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
/// The scopes every grant asks for: all the claims a school application reads.
pub const SCOPE: &str = "openid profile email school fiscal_number";

/// A registered confidential client, as `varco client add` printed it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientFile {
    pub client_id: String,
    pub secret: String,
    pub redirect_uri: String,
}

/// The benchmark's two clients: RS256 ID tokens (the default, measured at
/// every concurrency) and ES256 (measured at the best one, for comparison).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Clients {
    pub rs256: ClientFile,
    pub es256: ClientFile,
}

/// Registers a first-party confidential client (`client_secret_basic`, no
/// consent page) with the real CLI, configuration from the environment.
fn register_one(varco: &Path, name: &str, es256: bool) -> anyhow::Result<ClientFile> {
    let mut args = vec![
        "client",
        "add",
        "--name",
        name,
        "--redirect-uri",
        REDIRECT_URI,
        "--first-party",
    ];
    if es256 {
        args.push("--es256");
    }
    let out = crate::seed::varco(varco, &args, None).with_context(|| format!("registering the client {name}"))?;
    let mut lines = out.lines().map(str::trim).filter(|l| !l.is_empty());
    let (Some(client_id), Some(secret)) = (lines.next(), lines.next()) else {
        bail!("varco client add printed no client_id and secret: {out:?}");
    };
    Ok(ClientFile {
        client_id: client_id.to_owned(),
        secret: secret.to_owned(),
        redirect_uri: REDIRECT_URI.to_owned(),
    })
}

/// Registers the benchmark's clients.
pub fn register(varco: &Path) -> anyhow::Result<Clients> {
    Ok(Clients {
        rs256: register_one(varco, "Varco bench", false)?,
        es256: register_one(varco, "Varco bench ES256", true)?,
    })
}

/// Keep-alive HTTP/1.1 to one host: no cookie jar (cookies are sent by
/// hand), no proxy, redirects never followed.
fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(usize::MAX)
        .pool_idle_timeout(Duration::from_secs(300))
        .tcp_nodelay(true)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the HTTP client")
}

/// A PKCE verifier (43 characters from 256 random bits) and its S256 challenge.
fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The endpoints and the client, shared by every worker.
struct Target {
    http: reqwest::Client,
    base: String,
    login: String,
    authorize: String,
    token: String,
    userinfo: String,
    healthz: String,
    discovery: String,
    client: ClientFile,
    /// The client's ID token algorithm, for the log.
    label: &'static str,
}

impl Target {
    fn new(base: &str, client: ClientFile, label: &'static str, timeout: Duration) -> anyhow::Result<Target> {
        let base = base.trim_end_matches('/').to_owned();
        Ok(Target {
            http: http_client(timeout)?,
            login: format!("{base}/api/v1/login"),
            authorize: format!("{base}/oauth2/authorize"),
            token: format!("{base}/oauth2/token"),
            userinfo: format!("{base}/oauth2/userinfo"),
            healthz: format!("{base}/healthz"),
            discovery: format!("{base}/.well-known/openid-configuration"),
            base,
            client,
            label,
        })
    }

    /// Signs in over the JSON API; returns the `name=value` of the session cookie.
    async fn sign_in(&self, account: &Account) -> Result<String, String> {
        let body = serde_json::json!({ "login": account.username, "password": account.password });
        let response = self
            .http
            .post(&self.login)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("login: {e}"))?;
        let status = response.status();
        let cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| {
                pair.split_once('=')
                    .is_some_and(|(name, _)| name.ends_with("varco_session"))
            })
            .map(str::to_owned);
        // Read the body to the end so the connection goes back to the pool.
        response.bytes().await.map_err(|e| format!("login body: {e}"))?;
        match cookie {
            Some(cookie) if status.is_success() => Ok(cookie),
            _ => Err(format!(
                "login as {}: HTTP {status}, no session cookie",
                account.username
            )),
        }
    }

    /// An authorization request with PKCE, as signed-in `cookie`; returns the code.
    async fn authorize(&self, cookie: &str, challenge: &str) -> Result<String, String> {
        let mut state = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut state);
        let state = URL_SAFE_NO_PAD.encode(state);
        let query = [
            ("response_type", "code"),
            ("client_id", self.client.client_id.as_str()),
            ("redirect_uri", self.client.redirect_uri.as_str()),
            ("scope", SCOPE),
            ("state", state.as_str()),
            ("nonce", state.as_str()),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ];
        let response = self
            .http
            .get(&self.authorize)
            .query(&query)
            .header(reqwest::header::COOKIE, cookie)
            .send()
            .await
            .map_err(|e| format!("authorize: {e}"))?;
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        response.bytes().await.map_err(|e| format!("authorize body: {e}"))?;
        if !status.is_redirection() || !location.starts_with(&self.client.redirect_uri) {
            return Err(format!("authorize: HTTP {status} to {location:?}, not a code"));
        }
        let url = reqwest::Url::parse(&location).map_err(|e| format!("authorize redirect {location:?}: {e}"))?;
        let get = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        if get("state").as_deref() != Some(state.as_str()) || get("iss").as_deref() != Some(self.base.as_str()) {
            return Err(format!("authorize: wrong state or iss in {location:?}"));
        }
        get("code").ok_or_else(|| format!("authorize: no code in {location:?}"))
    }

    /// A token request with `client_secret_basic`.
    async fn token(&self, form: &[(&str, &str)]) -> Result<Tokens, String> {
        let response = self
            .http
            .post(&self.token)
            .basic_auth(&self.client.client_id, Some(&self.client.secret))
            .form(form)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timeout".to_owned()
                } else {
                    e.to_string()
                }
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            if e.is_timeout() {
                "timeout".to_owned()
            } else {
                e.to_string()
            }
        })?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(format!("HTTP {status}: {}", text.chars().take(200).collect::<String>()));
        }
        let tokens: Tokens = serde_json::from_slice(&body).map_err(|e| format!("token response: {e}"))?;
        if tokens.id_token.split('.').count() != 3 || tokens.access_token.is_empty() {
            return Err("token response without an ID token or access token".into());
        }
        Ok(tokens)
    }

    async fn exchange(&self, code: &str, verifier: &str) -> Result<Tokens, String> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.client.redirect_uri),
            ("code_verifier", verifier),
        ])
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, String> {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
            .await
    }

    /// A GET that must answer 200.
    async fn get_ok(&self, url: &str) -> Result<(), String> {
        let response = self.http.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                "timeout".to_owned()
            } else {
                e.to_string()
            }
        })?;
        let status = response.status();
        response.bytes().await.map_err(|e| {
            if e.is_timeout() {
                "timeout".to_owned()
            } else {
                e.to_string()
            }
        })?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }

    async fn userinfo(&self, access_token: &str) -> Result<(), String> {
        let response = self
            .http
            .get(&self.userinfo)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timeout".to_owned()
                } else {
                    e.to_string()
                }
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            if e.is_timeout() {
                "timeout".to_owned()
            } else {
                e.to_string()
            }
        })?;
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        // A claims object with a subject, not an empty answer.
        if !body.starts_with(b"{") || !body.windows(6).any(|w| w == b"\"sub\":") {
            return Err("userinfo answer without sub".into());
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct Tokens {
    access_token: String,
    refresh_token: String,
    id_token: String,
}

/// One client's grant: the newest tokens it got.
#[derive(Debug, Clone)]
struct Chain {
    refresh_token: String,
    access_token: String,
    /// False once a request failed: the client cannot know which token is
    /// the newest any more (a timed-out request may have rotated it).
    alive: bool,
}

/// In-process signing of an ID token-sized claim set with the server's key type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignRate {
    pub alg: String,
    pub threads: usize,
    /// Median over the rounds.
    pub signs_per_sec: f64,
    pub rounds: Vec<f64>,
    pub other_load: f64,
}

/// One measured round at one concurrency.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Round {
    pub ok: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub seconds: f64,
    pub per_sec: f64,
    pub latency: Latency,
    /// CPU milliseconds the server spent per successful request.
    pub server_cpu_ms: f64,
    /// CPU milliseconds this load generator spent per successful request.
    pub client_cpu_ms: f64,
    /// Share of the machine used by other processes meanwhile (0..1).
    pub other_load: f64,
}

/// The rounds at one concurrency and their medians.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Level {
    pub concurrency: usize,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub server_cpu_ms: f64,
    pub client_cpu_ms: f64,
    pub errors: usize,
    pub first_error: Option<String>,
    /// The largest share other processes used in a round.
    pub other_load: f64,
    pub rounds: Vec<Round>,
}

/// One round of sequential sign-ins, each followed by a code exchange.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExchangeRound {
    pub samples: usize,
    /// `POST /api/v1/login` (Argon2id verification included).
    pub login: Latency,
    /// `GET /oauth2/authorize` with the session cookie, to the redirect with a code.
    pub authorize: Latency,
    /// `POST /oauth2/token` with the code (grant_type=authorization_code).
    pub token: Latency,
    /// authorize + token of each sample: what the exchange adds to a sign-in.
    pub exchange: Latency,
    /// login + authorize + token of each sample.
    pub full: Latency,
    pub other_load: f64,
}

/// The code exchange figures: medians over the rounds of each round's value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchange {
    pub login_p50_ms: f64,
    pub authorize_p50_ms: f64,
    pub token_p50_ms: f64,
    /// The headline figure: median of (authorize + token) per sign-in.
    pub exchange_p50_ms: f64,
    pub exchange_p99_ms: f64,
    pub full_p50_ms: f64,
    /// median(login + authorize + token) − median(login): the same question
    /// asked the other way; noisier, since it subtracts two ~30 ms figures.
    pub difference_ms: f64,
    pub other_load: f64,
    pub rounds: Vec<ExchangeRound>,
}

/// Presenting a rotated refresh token again must fail and end the grant:
/// checked once on a grant of its own, so the measured path is the real one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationCheck {
    pub first_refresh_ok: bool,
    pub reused_token_refused: bool,
    pub newest_token_refused_after_reuse: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcReport {
    pub accounts: usize,
    pub grants: usize,
    pub scope: String,
    pub seconds_per_round: f64,
    pub signing: Vec<SignRate>,
    pub rotation: RotationCheck,
    pub refresh: Vec<Level>,
    /// Refresh grants of an ES256 client at the RS256 run's best concurrency.
    pub refresh_es256: Option<Level>,
    pub userinfo: Vec<Level>,
    /// `GET /healthz` (HTTP and one `SELECT 1`) at userinfo's best concurrency.
    pub healthz: Option<Level>,
    /// `GET /.well-known/openid-configuration` (no database), likewise.
    pub discovery: Option<Level>,
    pub exchange: Exchange,
    pub setup_seconds: f64,
}

pub struct Plan {
    pub levels: Vec<usize>,
    pub rounds: usize,
    pub round_time: Duration,
    /// A round stops after this many requests, whatever the time.
    pub max_requests: usize,
    /// Sign-ins with a code exchange per exchange round.
    pub exchanges: usize,
    pub timeout: Duration,
    pub server_pid: Option<u32>,
}

/// Signs a typical ID token's claims with one key on `threads` threads for
/// `time`; returns signatures per second.
fn sign_round(key: &Arc<varco_oidc::SigningKey>, threads: usize, time: Duration) -> anyhow::Result<f64> {
    const MAX_PER_THREAD: u64 = 1_000_000;
    let start = Instant::now();
    let deadline = start + time;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let key = Arc::clone(key);
            std::thread::spawn(move || -> anyhow::Result<f64> {
                let mut done = 0u64;
                while done < MAX_PER_THREAD && (done == 0 || Instant::now() < deadline) {
                    let mut claims = serde_json::Map::new();
                    claims.insert("iss".into(), "http://127.0.0.1:8080".into());
                    claims.insert("sub".into(), "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG".into());
                    claims.insert("aud".into(), "varco-0123456789abcdef0123456789abcdef".into());
                    claims.insert("azp".into(), "varco-0123456789abcdef0123456789abcdef".into());
                    claims.insert("exp".into(), 1_900_000_600.into());
                    claims.insert("iat".into(), 1_900_000_000.into());
                    claims.insert("auth_time".into(), 1_900_000_000.into());
                    claims.insert("acr".into(), "urn:varco:acr:password".into());
                    claims.insert("amr".into(), serde_json::json!(["pwd"]));
                    claims.insert("sid".into(), "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG".into());
                    claims.insert(
                        "at_hash".into(),
                        varco_oidc::at_hash("0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", key.alg()).into(),
                    );
                    key.sign(&claims, Some("JWT")).map_err(|e| anyhow!("signing: {e}"))?;
                    done += 1;
                }
                Ok(done as f64 / start.elapsed().as_secs_f64())
            })
        })
        .collect();
    let mut total = 0.0;
    for handle in handles {
        total += handle.join().map_err(|_| anyhow!("signing thread panicked"))??;
    }
    Ok(total)
}

fn signing_rates(rounds: usize) -> anyhow::Result<Vec<SignRate>> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads: Vec<usize> = if cores > 1 { vec![1, cores] } else { vec![1] };
    let mut out = Vec::new();
    for alg in [varco_oidc::Alg::Rs256, varco_oidc::Alg::Es256] {
        let key = Arc::new(varco_oidc::SigningKey::generate(alg).map_err(|e| anyhow!("key generation: {e}"))?);
        sign_round(&key, 1, Duration::from_millis(200)).context("signing warm-up")?;
        for &t in &threads {
            let mut per_round = Vec::new();
            let mut other_load: f64 = 0.0;
            for _ in 0..rounds.max(1) {
                let before = crate::cpu::snapshot(None);
                per_round.push(sign_round(&key, t, Duration::from_secs(1))?);
                other_load = other_load.max(crate::cpu::others_share(&before, &crate::cpu::snapshot(None)));
            }
            let signs_per_sec = median(&per_round);
            eprintln!(
                "oidc: {} in process, {t} thread(s): {signs_per_sec:.0} signatures/s, other load {:.0}%",
                alg.as_str(),
                other_load * 100.0
            );
            out.push(SignRate {
                alg: alg.as_str().to_owned(),
                threads: t,
                signs_per_sec,
                rounds: per_round,
                other_load,
            });
        }
    }
    Ok(out)
}

/// Signs in and runs one code flow; returns the first tokens.
async fn new_grant(target: &Target, cookie: &str) -> Result<Tokens, String> {
    let (verifier, challenge) = pkce();
    let code = target.authorize(cookie, &challenge).await?;
    target
        .exchange(&code, &verifier)
        .await
        .map_err(|e| format!("code exchange: {e}"))
}

async fn rotation_check(target: &Target, cookie: &str) -> anyhow::Result<RotationCheck> {
    let first = new_grant(target, cookie).await.map_err(|e| anyhow!(e))?;
    let second = target.refresh(&first.refresh_token).await;
    let Ok(second) = second else {
        return Ok(RotationCheck {
            first_refresh_ok: false,
            reused_token_refused: false,
            newest_token_refused_after_reuse: false,
        });
    };
    let reused = target.refresh(&first.refresh_token).await;
    let newest = target.refresh(&second.refresh_token).await;
    Ok(RotationCheck {
        first_refresh_ok: second.refresh_token != first.refresh_token,
        reused_token_refused: reused.as_ref().is_err_and(|e| e.contains("invalid_grant")),
        newest_token_refused_after_reuse: newest.as_ref().is_err_and(|e| e.contains("invalid_grant")),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Refresh,
    Userinfo,
    /// `GET /healthz`: HTTP and one `SELECT 1`, a floor for userinfo.
    Healthz,
    /// `GET /.well-known/openid-configuration`: HTTP without the database.
    Discovery,
}

/// One round: the first `concurrency` chains, one client each, until
/// `plan.round_time` has passed or `plan.max_requests` were started.
async fn round(target: &Arc<Target>, chains: &mut [Chain], kind: Kind, plan: &Plan) -> anyhow::Result<Round> {
    let cpu_before = crate::cpu::snapshot(plan.server_pid);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + plan.round_time;
    let max_requests = plan.max_requests;
    let mut tasks = Vec::with_capacity(chains.len());
    for chain in chains.iter() {
        let (target, next, mut chain) = (Arc::clone(target), Arc::clone(&next), chain.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut first_error: Option<String> = None;
            // A userinfo client keeps its access token even if its grant's
            // refresh chain broke (errors then show it).
            while chain.alive || kind != Kind::Refresh {
                if next.fetch_add(1, Ordering::Relaxed) >= max_requests || Instant::now() >= deadline {
                    break;
                }
                let sent = Instant::now();
                let outcome = match kind {
                    Kind::Refresh => target.refresh(&chain.refresh_token).await.and_then(|tokens| {
                        if tokens.refresh_token == chain.refresh_token {
                            return Err("the refresh token did not rotate".into());
                        }
                        chain.refresh_token = tokens.refresh_token;
                        chain.access_token = tokens.access_token;
                        Ok(())
                    }),
                    Kind::Userinfo => target.userinfo(&chain.access_token).await,
                    Kind::Healthz => target.get_ok(&target.healthz).await,
                    Kind::Discovery => target.get_ok(&target.discovery).await,
                };
                match outcome {
                    Ok(()) => latencies.push(ms(sent.elapsed())),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        // A refresh that failed leaves the newest token unknown.
                        if kind == Kind::Refresh {
                            chain.alive = false;
                        }
                    }
                }
            }
            (chain, latencies, errors, first_error)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for (slot, task) in chains.iter_mut().zip(tasks) {
        let (chain, l, e, f) = task.await.context("worker")?;
        *slot = chain;
        latencies.extend(l);
        errors += e;
        first_error = first_error.or(f);
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_after = crate::cpu::snapshot(plan.server_pid);
    let (server_cpu, client_cpu) = crate::cpu::seconds_used(&cpu_before, &cpu_after);
    let ok = latencies.len();
    let per_ok = |s: f64| if ok > 0 { s * 1000.0 / ok as f64 } else { 0.0 };
    Ok(Round {
        ok,
        errors,
        first_error,
        seconds,
        per_sec: ok as f64 / seconds,
        latency: Latency::of(latencies),
        server_cpu_ms: per_ok(server_cpu),
        client_cpu_ms: per_ok(client_cpu),
        other_load: crate::cpu::others_share(&cpu_before, &cpu_after),
    })
}

async fn levels(
    target: &Arc<Target>,
    chains: &mut [Chain],
    kind: Kind,
    plan: &Plan,
    concurrency_levels: &[usize],
) -> anyhow::Result<Vec<Level>> {
    let name = match kind {
        Kind::Refresh => "refresh grants",
        Kind::Userinfo => "userinfo requests",
        Kind::Healthz => "healthz requests",
        Kind::Discovery => "discovery requests",
    };
    let mut out = Vec::new();
    for &concurrency in concurrency_levels {
        let mut rounds = Vec::new();
        for _ in 0..plan.rounds.max(1) {
            let r = round(target, &mut chains[..concurrency], kind, plan).await?;
            eprintln!(
                "oidc: {name} ({}), C={concurrency}: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, server CPU {:.3} ms and client CPU {:.3} ms per request, {} errors, other load {:.0}%",
                target.label,
                r.per_sec,
                r.latency.p50_ms,
                r.latency.p99_ms,
                r.server_cpu_ms,
                r.client_cpu_ms,
                r.errors,
                r.other_load * 100.0
            );
            rounds.push(r);
        }
        let pick = |f: fn(&Round) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
        out.push(Level {
            concurrency,
            per_sec: pick(|r| r.per_sec),
            p50_ms: pick(|r| r.latency.p50_ms),
            p99_ms: pick(|r| r.latency.p99_ms),
            server_cpu_ms: pick(|r| r.server_cpu_ms),
            client_cpu_ms: pick(|r| r.client_cpu_ms),
            errors: rounds.iter().map(|r| r.errors).sum(),
            first_error: rounds.iter().find_map(|r| r.first_error.clone()),
            other_load: rounds.iter().map(|r| r.other_load).fold(0.0, f64::max),
            rounds,
        });
    }
    Ok(out)
}

/// Sequential sign-ins (accounts round robin), each followed by a code flow.
async fn exchange_rounds(target: &Target, accounts: &[Account], plan: &Plan) -> anyhow::Result<Exchange> {
    let mut rounds = Vec::new();
    let mut next = 0usize;
    for _ in 0..plan.rounds.max(1) {
        let cpu_before = crate::cpu::snapshot(plan.server_pid);
        let (mut login, mut authorize, mut token, mut exchange, mut full) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..plan.exchanges.max(1) {
            let account = &accounts[next % accounts.len()];
            next += 1;
            let (verifier, challenge) = pkce();
            let t0 = Instant::now();
            let cookie = target.sign_in(account).await.map_err(|e| anyhow!(e))?;
            let t1 = Instant::now();
            let code = target.authorize(&cookie, &challenge).await.map_err(|e| anyhow!(e))?;
            let t2 = Instant::now();
            target
                .exchange(&code, &verifier)
                .await
                .map_err(|e| anyhow!("code exchange: {e}"))?;
            let t3 = Instant::now();
            login.push(ms(t1 - t0));
            authorize.push(ms(t2 - t1));
            token.push(ms(t3 - t2));
            exchange.push(ms(t3 - t1));
            full.push(ms(t3 - t0));
        }
        let r = ExchangeRound {
            samples: login.len(),
            login: Latency::of(login),
            authorize: Latency::of(authorize),
            token: Latency::of(token),
            exchange: Latency::of(exchange),
            full: Latency::of(full),
            other_load: crate::cpu::others_share(&cpu_before, &crate::cpu::snapshot(plan.server_pid)),
        };
        eprintln!(
            "oidc: code exchange: login {:.2} ms, authorize {:.2} ms, token {:.2} ms, authorize+token {:.2} ms (p99 {:.2}), medians of {} sign-ins, other load {:.0}%",
            r.login.p50_ms,
            r.authorize.p50_ms,
            r.token.p50_ms,
            r.exchange.p50_ms,
            r.exchange.p99_ms,
            r.samples,
            r.other_load * 100.0
        );
        rounds.push(r);
    }
    let pick = |f: fn(&ExchangeRound) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
    let login_p50_ms = pick(|r| r.login.p50_ms);
    let full_p50_ms = pick(|r| r.full.p50_ms);
    Ok(Exchange {
        login_p50_ms,
        authorize_p50_ms: pick(|r| r.authorize.p50_ms),
        token_p50_ms: pick(|r| r.token.p50_ms),
        exchange_p50_ms: pick(|r| r.exchange.p50_ms),
        exchange_p99_ms: pick(|r| r.exchange.p99_ms),
        full_p50_ms,
        difference_ms: full_p50_ms - login_p50_ms,
        other_load: rounds.iter().map(|r| r.other_load).fold(0.0, f64::max),
        rounds,
    })
}

/// One grant per client, sign-ins round robin.
async fn make_chains(target: &Target, cookies: &[String], grants: usize) -> anyhow::Result<Vec<Chain>> {
    let mut chains = Vec::with_capacity(grants);
    for i in 0..grants {
        let tokens = new_grant(target, &cookies[i % cookies.len()])
            .await
            .map_err(|e| anyhow!("{} grant {i}: {e}", target.label))?;
        chains.push(Chain {
            refresh_token: tokens.refresh_token,
            access_token: tokens.access_token,
            alive: true,
        });
    }
    Ok(chains)
}

pub async fn run(base_url: &str, accounts: &Accounts, clients: Clients, plan: &Plan) -> anyhow::Result<OidcReport> {
    if accounts.accounts.is_empty() {
        bail!("no accounts to sign in with");
    }
    let grants = plan.levels.iter().copied().max().unwrap_or(1);
    // The server is idle now: the in-process signing reference first.
    let signing = tokio::task::spawn_blocking({
        let rounds = plan.rounds;
        move || signing_rates(rounds)
    })
    .await
    .context("signing reference")??;

    let target = Arc::new(Target::new(base_url, clients.rs256, "RS256", plan.timeout)?);
    let es256 = Arc::new(Target::new(base_url, clients.es256, "ES256", plan.timeout)?);
    let setup = Instant::now();
    // One session per account (as many as there are grants to make), then
    // one code flow per grant: several grants may share a sign-in.
    let sessions = grants.min(accounts.accounts.len());
    let mut cookies = Vec::with_capacity(sessions);
    for account in &accounts.accounts[..sessions] {
        cookies.push(target.sign_in(account).await.map_err(|e| anyhow!(e))?);
    }
    let mut chains = make_chains(&target, &cookies, grants).await?;
    let mut es256_chains = make_chains(&es256, &cookies, grants).await?;
    let rotation = rotation_check(&target, &cookies[0]).await?;
    let setup_seconds = setup.elapsed().as_secs_f64();
    eprintln!("oidc: {sessions} sign-ins and {grants} grants in {setup_seconds:.1} s; rotation check: {rotation:?}");
    if !(rotation.first_refresh_ok && rotation.reused_token_refused && rotation.newest_token_refused_after_reuse) {
        bail!("refresh tokens do not rotate as they should: {rotation:?}");
    }

    let refresh = levels(&target, &mut chains, Kind::Refresh, plan, &plan.levels).await?;
    let dead = chains.iter().filter(|c| !c.alive).count();
    if dead > 0 {
        eprintln!("oidc: {dead} of {grants} clients stopped after a failed refresh");
    }
    // The same at the best concurrency with ES256 ID tokens: what RSA costs.
    let best = refresh
        .iter()
        .max_by(|a, b| a.per_sec.total_cmp(&b.per_sec))
        .map_or(1, |l| l.concurrency);
    let refresh_es256 = levels(&es256, &mut es256_chains, Kind::Refresh, plan, &[best])
        .await?
        .pop();
    let userinfo = levels(&target, &mut chains, Kind::Userinfo, plan, &plan.levels).await?;
    // Floors at userinfo's best concurrency: the HTTP stack alone, and with
    // one database round trip.
    let best = userinfo
        .iter()
        .max_by(|a, b| a.per_sec.total_cmp(&b.per_sec))
        .map_or(1, |l| l.concurrency);
    let healthz = levels(&target, &mut chains, Kind::Healthz, plan, &[best]).await?.pop();
    let discovery = levels(&target, &mut chains, Kind::Discovery, plan, &[best])
        .await?
        .pop();
    let exchange = exchange_rounds(&target, &accounts.accounts, plan).await?;
    Ok(OidcReport {
        accounts: sessions,
        grants,
        scope: SCOPE.to_owned(),
        seconds_per_round: plan.round_time.as_secs_f64(),
        signing,
        rotation,
        refresh,
        refresh_es256,
        userinfo,
        healthz,
        discovery,
        exchange,
        setup_seconds,
    })
}

//! Developer check against the reference SPID/CIE implementation
//! (`e2e/spid/peers.py`: a trust anchor, a SPID OP and a CIE OP on
//! 127.0.0.1): Varco's entity configuration makes a valid trust chain under
//! the reference trust anchor (its statement, its metadata policy, the trust
//! mark it issued), and `resolve_provider` resolves both reference OPs.
//!
//! Runs only with `VARCO_SPID_PYTHON` set to the peers' venv python
//! (`PY=$(e2e/spid/setup.sh | tail -n1)`); otherwise it says so and passes.
//! SQLite only, real clock (the peers sign with the real time).

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use varco::config::{Config, FederationConfig, TrustAnchorConfig, TrustMarkConfig};
use varco::server::start_with_clock;
use varco_app::federation::{HttpFetcher, resolve_provider};
use varco_domain::clock::SystemClock;
use varco_federation::{OPENID_RELYING_PARTY, TrustChainResolver, UnverifiedStatement};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Four consecutive free ports (the peers take base … base+3).
fn free_port_base() -> u16 {
    for base in (21_000..40_000).step_by(97) {
        if (base..base + 4).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no four free ports in a row");
}

struct Peers(Child);

impl Drop for Peers {
    fn drop(&mut self) {
        // SIGTERM through `kill` (the launcher stops its children on it).
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn config(dir: &std::path::Path, port: u16, federation: FederationConfig) -> Config {
    Config {
        data_dir: dir.join("data"),
        listen: format!("127.0.0.1:{port}"),
        public_url: format!("http://127.0.0.1:{port}"),
        federation: Some(federation),
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_peers_accept_varco_and_resolve() {
    let Some(python) = std::env::var_os("VARCO_SPID_PYTHON") else {
        eprintln!("SKIPPING the reference-peer check: set VARCO_SPID_PYTHON to e2e/spid/setup.sh's python");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = free_port_base();
    let ta = format!("http://127.0.0.1:{base}");
    let varco = format!("http://127.0.0.1:{port}");
    let organisation = FederationConfig {
        organization_name: "IC Roma 1".into(),
        contacts: vec!["ic-roma1@pec.example.it".into()],
        authority_hints: vec![ta.clone()],
        ..FederationConfig::default()
    };

    // 1. Varco's keys, made at first start, published.
    let first = start_with_clock(&config(dir.path(), port, organisation.clone()), Arc::new(SystemClock))
        .await
        .expect("starts");
    let client = reqwest::Client::new();
    let jwt = client
        .get(format!("{varco}/.well-known/openid-federation"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let now = first.app.now().0;
    let ours = UnverifiedStatement::parse(&jwt)
        .unwrap()
        .verify_self_signed(&varco, now, 0)
        .unwrap();
    let rp_jwks = ours.metadata_of("openid_relying_party").unwrap()["jwks"].clone();
    std::fs::write(dir.path().join("rp-core.json"), rp_jwks.to_string()).unwrap();
    std::fs::write(dir.path().join("rp-fed.json"), ours.jwks().to_value().to_string()).unwrap();
    first.stop().await.unwrap();

    // 2. The reference peers, with Varco registered under the trust anchor.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../e2e/spid/peers.py");
    let workdir = dir.path().join("peers");
    let mut child = Command::new(&python)
        .arg(script)
        .arg("start")
        .arg("--workdir")
        .arg(&workdir)
        .arg("--port-base")
        .arg(base.to_string())
        .arg("--rp-entity-id")
        .arg(&varco)
        .arg("--rp-jwks")
        .arg(dir.path().join("rp-core.json"))
        .arg("--rp-federation-jwks")
        .arg(dir.path().join("rp-fed.json"))
        .arg("--timeout")
        .arg("120")
        .stdout(Stdio::piped())
        .spawn()
        .expect("peers.py runs");
    let stdout = child.stdout.take().unwrap();
    let peers = Peers(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("peers.py printed {line:?}: {e}"));

    // 3. Varco again, same database and keys, now with the trust anchor and
    //    the trust mark it was given.
    let mut federation = organisation;
    federation.trust_anchors = vec![TrustAnchorConfig {
        entity_id: ta.clone(),
        jwks: Some(info["trust_anchor"]["jwks"].to_string()),
        jwks_file: None,
    }];
    federation.trust_marks = vec![TrustMarkConfig {
        id: info["trust_mark_id"].as_str().unwrap().to_owned(),
        trust_mark: info["trust_mark"].as_str().unwrap().to_owned(),
    }];
    let second = start_with_clock(&config(dir.path(), port, federation), Arc::new(SystemClock))
        .await
        .expect("starts again");

    // The trust anchor lists Varco as its descendant: its statement about
    // Varco, Varco's entity configuration (with the trust mark it was given)
    // and the anchor's metadata policy for relying parties make a valid
    // chain — what the reference OPs check before accepting Varco. (The
    // reference `/resolve` only answers chains it has cached already.)
    let fetcher = HttpFetcher::new(Duration::from_secs(5)).unwrap();
    let anchor = second.app.settings.federation.as_ref().unwrap().trust_anchors[0].clone();
    let rp_mark = info["trust_mark_id"].as_str().unwrap();
    let chain = TrustChainResolver::new(&fetcher, &anchor)
        .require_trust_mark(rp_mark)
        .resolve(&varco, OPENID_RELYING_PARTY, second.app.now().0)
        .await
        .unwrap_or_else(|e| panic!("Varco's chain: {e}"));
    eprintln!(
        "Varco's chain under the reference TA: {} statements, metadata after policy: {}",
        chain.statements().len(),
        Value::Object(chain.metadata().clone())
    );
    assert_eq!(chain.metadata()["client_id"], varco.as_str());
    assert_eq!(chain.trust_marks().len(), 1);

    // Varco resolves both reference providers.
    let op_mark = info["op_trust_mark_id"].as_str().unwrap();
    for (role, cie) in [("op_spid", false), ("op_cie", true)] {
        let op = info[role]["entity_id"].as_str().unwrap();
        let (provider, until) = resolve_provider(&second.app, &fetcher, op, &ta, Some(op_mark), cie)
            .await
            .unwrap_or_else(|e| panic!("{role}: {}", varco_app::error_chain(&e)));
        eprintln!("{role}: {provider:?} until {until}");
        assert_eq!(provider.issuer, op);
        assert_eq!(
            Some(provider.token_endpoint.as_str()),
            info[role]["token_endpoint"].as_str()
        );
        assert!(until > now);
    }
    second.stop().await.unwrap();
    drop(peers);
}

//! Behind a proxy, and a throttle that fits a school: per-address limits that
//! count failures, trusted proxies, IPv6 grouping, https-only headers, and
//! the README's nginx configuration in front of a real server.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::{Backend, Options, PASSWORD, TestApp, both_backends};

both_backends!(
    a_school_signs_in_while_a_guesser_is_stopped,
    forwarding_headers_from_an_untrusted_peer_are_ignored,
    forwarding_headers_from_a_trusted_proxy_name_the_client,
    ipv6_clients_share_one_budget_per_64,
    https_sends_hsts_and_host_prefixed_cookies,
    through_nginx,
);

fn options(login_per_minute: u32, trusted: &'static [&'static str]) -> Options {
    Options {
        login_per_minute,
        tweak: Box::new(move |c| c.trusted_proxies = trusted.iter().map(|s| (*s).to_owned()).collect()),
    }
}

async fn api_login(client: &reqwest::Client, url: &str, login: &str, password: &str, xff: Option<&str>) -> StatusCode {
    let mut request = client
        .post(url)
        .json(&serde_json::json!({ "login": login, "password": password }));
    if let Some(xff) = xff {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.expect("request").status()
}

/// The addresses of the failed logins of an account, newest first.
async fn failure_ips(t: &TestApp, user_code: &str) -> Vec<Option<String>> {
    varco_app::audit::list(t.app(), Some(user_code), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == "login" && e.outcome == "failure")
        .map(|e| e.ip)
        .collect()
}

async fn a_school_signs_in_while_a_guesser_is_stopped(backend: Backend) {
    let defaults = varco_web::RateLimits::default();
    let Some(t) = TestApp::spawn_with(backend, options(defaults.login_per_minute, &[])).await else {
        return;
    };
    t.add_school().await;
    let mut users = Vec::new();
    for n in 0..10 {
        let account = t
            .add_account(
                n,
                &format!("docente{n}@example.it"),
                Some(&format!("docente{n}")),
                Some(PASSWORD),
            )
            .await;
        users.push(account.user_code);
    }
    // 200 successful sign-ins from one address (a school router), well
    // within a minute: none is refused.
    let started = Instant::now();
    let url = t.url("/api/v1/login");
    let mut tasks = tokio::task::JoinSet::new();
    for user in users.clone() {
        let url = url.clone();
        tasks.spawn(async move {
            let client = reqwest::Client::new();
            let mut statuses = Vec::new();
            for _ in 0..20 {
                statuses.push(api_login(&client, &url, &user, PASSWORD, None).await);
            }
            statuses
        });
    }
    let mut ok = 0;
    while let Some(statuses) = tasks.join_next().await {
        for status in statuses.unwrap() {
            assert_eq!(status, StatusCode::OK, "a successful login was refused");
            ok += 1;
        }
    }
    assert_eq!(ok, 200);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    // One address guessing 40 accounts is stopped at the limit.
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    let guessing = Instant::now();
    for i in 0..40 {
        statuses.push(api_login(&client, &url, &format!("guess{i}"), "wrong password here", None).await);
    }
    let guessing = guessing.elapsed().as_secs_f64();
    let refused = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    // The burst (30 at once), plus the cells that came back while the
    // guesses were answered (one every 60/30 = 2 s; each refused login
    // takes the failure floor, longer on a busy machine).
    let limit = defaults.login_per_minute as usize;
    let refilled = (guessing * defaults.login_per_minute as f64 / 60.0).ceil() as usize;
    assert!(
        (limit..=limit + refilled + 1).contains(&refused),
        "{refused} refused in {guessing:.1} s: {statuses:?}"
    );
    // On a very slow machine every guess may have found a cell refilled.
    assert!(
        throttled >= 40usize.saturating_sub(limit + refilled + 1),
        "{statuses:?}"
    );
    assert_eq!(throttled, 40 - refused, "{statuses:?}");
    // The address is throttled now, for the right password too. Ten sent
    // at once: a cell or two may have come back since the last guess (one
    // every 2 s, and a success gives its cell back), so a few may pass; the
    // rest meet the throttle, never a password check.
    let burst: Vec<_> = (0..10)
        .map(|_| {
            let (client, url, login) = (client.clone(), url.clone(), users[0].clone());
            tokio::spawn(async move { api_login(&client, &url, &login, PASSWORD, None).await })
        })
        .collect();
    let mut right = Vec::new();
    for attempt in burst {
        right.push(attempt.await.unwrap());
    }
    assert!(
        right
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::TOO_MANY_REQUESTS),
        "{right:?}"
    );
    let met_the_throttle = right.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(
        met_the_throttle >= 5,
        "the right password from a throttled address: {right:?}"
    );
    t.stop().await;
}

async fn forwarding_headers_from_an_untrusted_peer_are_ignored(backend: Backend) {
    let Some(t) = TestApp::spawn_with(backend, options(3, &[])).await else {
        return;
    };
    t.add_school().await;
    let a = t
        .add_account(1, "falso@example.it", Some("falso"), Some(PASSWORD))
        .await;
    let url = t.url("/api/v1/login");
    let client = reqwest::Client::new();
    // A new forged address on every try does not give a new budget.
    for i in 0..3 {
        let forged = format!("203.0.113.{i}");
        let status = api_login(&client, &url, "falso", "wrong password here", Some(&forged)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let r = client
        .post(&url)
        .header("forwarded", "for=198.51.100.7")
        .header("x-forwarded-for", "198.51.100.8")
        .json(&serde_json::json!({ "login": "falso", "password": "wrong password here" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let ips = failure_ips(&t, &a.user_code).await;
    assert_eq!(ips.len(), 3);
    assert!(ips.iter().all(|ip| ip.as_deref() == Some("127.0.0.1")), "{ips:?}");
    t.stop().await;
}

async fn forwarding_headers_from_a_trusted_proxy_name_the_client(backend: Backend) {
    let Some(t) = TestApp::spawn_with(backend, options(3, &["127.0.0.1/32"])).await else {
        return;
    };
    t.add_school().await;
    let a = t.add_account(1, "vero@example.it", Some("vero"), Some(PASSWORD)).await;
    let b = t.add_account(2, "sei@example.it", Some("sei"), Some(PASSWORD)).await;
    let url = t.url("/api/v1/login");
    let client = reqwest::Client::new();
    // A sign-in records the client (the session and the audit row).
    assert_eq!(
        api_login(&client, &url, "vero", PASSWORD, Some("203.0.113.51")).await,
        StatusCode::OK
    );
    // The leftmost entry is the client's own claim; the proxy appended the truth.
    let chain = "10.9.9.9, 203.0.113.50";
    for _ in 0..3 {
        assert_eq!(
            api_login(&client, &url, "vero", "wrong password here", Some(chain)).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        api_login(&client, &url, "vero", "wrong password here", Some(chain)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the forwarded client has its own budget and used it"
    );
    // Another client behind the same proxy is not affected.
    let r = client
        .post(&url)
        .header("forwarded", r#"for="[2001:db8:cafe::17]:4711";proto=https"#)
        .json(&serde_json::json!({ "login": "sei", "password": "wrong password here" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        failure_ips(&t, &a.user_code).await,
        vec![Some("203.0.113.50".to_owned()); 3]
    );
    assert_eq!(
        failure_ips(&t, &b.user_code).await,
        vec![Some("2001:db8:cafe::17".to_owned())]
    );
    // The sign-in's session records the client too.
    let login = varco_app::audit::list(t.app(), Some(&a.user_code), 100)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event == "login" && e.outcome == "success")
        .expect("a successful login");
    assert_eq!(login.ip.as_deref(), Some("203.0.113.51"));
    t.stop().await;
}

async fn ipv6_clients_share_one_budget_per_64(backend: Backend) {
    let Some(t) = TestApp::spawn_with(backend, options(3, &["127.0.0.1/32"])).await else {
        return;
    };
    let url = t.url("/api/v1/login");
    let client = reqwest::Client::new();
    for i in 1..=3 {
        let address = format!("2001:db8:1:2::{i:x}");
        assert_eq!(
            // A different login each time: the per-login wait must not kick in.
            api_login(
                &client,
                &url,
                &format!("nessuno{i}"),
                "wrong password here",
                Some(&address)
            )
            .await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        api_login(
            &client,
            &url,
            "nessuno4",
            "wrong password here",
            Some("2001:db8:1:2:ffff::1")
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS,
        "another address of the same /64"
    );
    assert_eq!(
        api_login(
            &client,
            &url,
            "nessuno5",
            "wrong password here",
            Some("2001:db8:1:3::1")
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "the next /64 has its own budget"
    );
    t.stop().await;
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn https_sends_hsts_and_host_prefixed_cookies(backend: Backend) {
    const PUBLIC: &str = "https://127.0.0.1:8443";
    let options = Options {
        tweak: Box::new(|c| c.public_url = PUBLIC.into()),
        ..Options::default()
    };
    let Some(t) = TestApp::spawn_with(backend, options).await else {
        return;
    };
    t.add_school().await;
    t.add_account(1, "sicuro@example.it", Some("sicuro"), Some(PASSWORD))
        .await;
    // The client keeps no cookies: Secure ones would not go back over http.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(t.url("/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert!(r.headers().contains_key("x-request-id"));
    // A client (not a trusted proxy) cannot choose its request id; the id
    // Varco made is on the error page.
    let missing = client
        .get(t.url("/no-such-page"))
        .header("x-request-id", "chosen-by-the-client")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let id = missing.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "chosen-by-the-client");
    assert_eq!(id.len(), 16);
    assert!(missing.text().await.unwrap().contains(&id));
    let cookies = set_cookies(&r);
    let csrf_cookie = cookies
        .iter()
        .find(|c| c.starts_with("__Host-varco_csrf="))
        .unwrap_or_else(|| panic!("no __Host- CSRF cookie in {cookies:?}"));
    for attribute in ["Secure", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(
            csrf_cookie.split("; ").any(|a| a == attribute),
            "{attribute} missing: {csrf_cookie}"
        );
    }
    assert!(!csrf_cookie.contains("Domain="));
    let csrf = csrf_cookie["__Host-varco_csrf=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // The token cookie of plain http is not accepted in its place.
    let r = client
        .post(t.url("/login"))
        .header("origin", PUBLIC)
        .header("cookie", format!("varco_csrf={csrf}"))
        .form(&[("login", "sicuro"), ("password", PASSWORD), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client
        .post(t.url("/login"))
        .header("origin", PUBLIC)
        .header("cookie", format!("__Host-varco_csrf={csrf}"))
        .form(&[("login", "sicuro"), ("password", PASSWORD), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let session = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("__Host-varco_session="))
        .expect("the session cookie");
    for attribute in ["Secure", "Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(
            session.split("; ").any(|a| a == attribute),
            "{attribute} missing: {session}"
        );
    }
    // A plain http instance sends neither.
    t.stop().await;
    let Some(t) = TestApp::spawn(backend).await else { return };
    let r = client.get(t.url("/login")).send().await.unwrap();
    assert!(!r.headers().contains_key("strict-transport-security"));
    assert!(
        set_cookies(&r)
            .iter()
            .any(|c| c.starts_with("varco_csrf=") && !c.contains("Secure"))
    );
    t.stop().await;
}

/// The `location / { … }` block of the README's nginx example.
fn readme_nginx_location() -> String {
    let readme = include_str!("../../../../README.md");
    let block = readme
        .split("```nginx\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has an nginx example");
    let start = block.find("location / {").expect("a location / block");
    let end = start + block[start..].find("\n    }").expect("its end") + "\n    }".len();
    block[start..end].to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx, as the README configures it, in front of Varco: the audit log
/// shows the address nginx saw, not nginx's own nor a forged one.
async fn through_nginx(backend: Backend) {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(nginx) = nginx else {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is required in CI (apt-get install nginx-light)"
        );
        eprintln!("SKIPPING through_nginx: nginx is not installed (apt-get install nginx-light)");
        return;
    };
    let Some(t) = TestApp::spawn_with(backend, options(0, &["127.0.0.1/32"])).await else {
        return;
    };
    t.add_school().await;
    let a = t
        .add_account(1, "dietro@example.it", Some("dietro"), Some(PASSWORD))
        .await;
    let upstream = t.base.trim_start_matches("http://").to_owned();
    let location = readme_nginx_location();
    assert!(location.contains("proxy_pass http://127.0.0.1:8080;"), "{location}");
    let location = location.replace("127.0.0.1:8080", &upstream);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let port = free_port();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n    access_log off;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    \
         fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n    \
         server {{\n        listen 127.0.0.1:{port};\n        server_name varco.test;\n    {location}\n    }}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), &conf).unwrap();
    let mut child = KillOnDrop(
        std::process::Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .spawn()
            .expect("nginx starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            panic!("nginx exited ({status}):\n{log}\n{conf}");
        }
        assert!(Instant::now() < deadline, "nginx did not start listening");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Connect from 127.0.0.2 (any 127/8 address is local on Linux): nginx
    // sees that address and Varco, whose peer is nginx at 127.0.0.1, must
    // show it.
    let source: IpAddr = "127.0.0.2".parse().unwrap();
    let client = reqwest::Client::builder().local_address(source).build().unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/login");
    let status = api_login(&client, &url, "dietro", "wrong password here", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A forged header is kept by nginx on the left, where Varco ignores it.
    let status = api_login(&client, &url, "dietro", "wrong password here", Some("198.51.100.66")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-request-id"));
    // An id set by the trusted proxy is kept, and shown on error pages.
    let r = client
        .get(format!("http://127.0.0.1:{port}/no-such-page"))
        .header("x-request-id", "nginx-abc123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["x-request-id"], "nginx-abc123");
    assert!(r.text().await.unwrap().contains("nginx-abc123"));
    drop(child);
    let ips = failure_ips(&t, &a.user_code).await;
    assert_eq!(ips, vec![Some("127.0.0.2".to_owned()); 2]);
    t.stop().await;
}

#[test]
fn trusted_proxies_come_from_the_environment_or_the_file() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_varco"));
        c.args(args)
            .env("VARCO_DATA_DIR", dir.path())
            .env("VARCO_LOG", "warn")
            .env_remove("VARCO_DATABASE_URL")
            .env_remove("VARCO_TRUSTED_PROXIES");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.stdin(Stdio::null()).output().unwrap()
    };
    let out = run(&[("VARCO_TRUSTED_PROXIES", "10.0.0.0/8, ::1,127.0.0.1")], &["migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&[("VARCO_TRUSTED_PROXIES", "10.0.0.0/8,bogus/99")], &["migrate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("trusted_proxies") && stderr.contains("bogus/99"),
        "{stderr}"
    );
    let config = dir.path().join("varco.toml");
    std::fs::write(&config, "trusted_proxies = [\"192.168.0.0/16\", \"10.0.0.0/40\"]\n").unwrap();
    let out = run(&[], &["--config", config.to_str().unwrap(), "migrate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("10.0.0.0/40"), "{stderr}");
    std::fs::write(&config, "trusted_proxies = [\"192.168.0.0/16\", \"fd00::/8\"]\n").unwrap();
    let out = run(&[], &["--config", config.to_str().unwrap(), "migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

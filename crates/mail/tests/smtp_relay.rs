//! Delivery to a real SMTP server on loopback: Python's `aiosmtpd` with a
//! Maildir handler (never a mock transport).
//!
//! What it proves: consecutive sends reuse one pooled connection (every
//! message arrives from the same client port), the headers survive the trip,
//! a 5xx reply to `RCPT` is a permanent failure, and the worker marks rows
//! sent or failed accordingly. Without `aiosmtpd` the test is skipped, except
//! under CI (`CI` set), where a missing server is a failure.

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use varco_domain::OutboxStatus;
use varco_domain::clock::{FixedClock, Timestamp};
use varco_domain::outbound::OutboundMessage;
use varco_mail::{
    DeliveryReport, Helpdesk, MailConfig, OutboxWorker, RenderInput, Renderer, SchoolFooter, SendError, Transport,
    WorkerSettings,
};
use varco_store::{ConnectOptions, NewOutboxMessage, OutboxFilter, Store};

/// A Maildir handler that refuses recipients starting with `rejected`.
const HANDLER: &str = r#"
from aiosmtpd.handlers import Mailbox

class RejectingMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("rejected"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

/// The SMTP server; killed when dropped.
struct Relay {
    child: Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aiosmtpd_available() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn start_relay(dir: &Path) -> Relay {
    std::fs::write(dir.join("varco_test_relay.py"), HANDLER).unwrap();
    let maildir = dir.join("maildir");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .args(["-c", "varco_test_relay.RejectingMailbox"])
        .arg(&maildir)
        .env("PYTHONPATH", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 starts");
    let relay = Relay { child, port, maildir };
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not listen on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    relay
}

/// The headers of every message in the Maildir, unfolded, keyed by lower-case name.
fn received(maildir: &Path) -> Vec<Vec<(String, String)>> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut messages = Vec::new();
    for entry in entries {
        let raw = std::fs::read_to_string(entry.unwrap().path())
            .unwrap()
            .replace("\r\n", "\n");
        let head = raw.split("\n\n").next().unwrap_or_default();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        messages.push(headers);
    }
    messages
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

async fn wait_for(maildir: &Path, count: usize) -> Vec<Vec<(String, String)>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let messages = received(maildir);
        if messages.len() >= count || Instant::now() > deadline {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn config(port: u16, eml_dir: &Path) -> MailConfig {
    MailConfig {
        from: "Varco <no-reply@varco.example>".to_owned(),
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        eml_dir: eml_dir.to_owned(),
        national_helpdesk: Helpdesk {
            email: Some("aiuto@varco.example".to_owned()),
            ..Helpdesk::default()
        },
        public_url: "http://127.0.0.1:8080".to_owned(),
        ..MailConfig::default()
    }
}

#[tokio::test]
async fn three_messages_reuse_one_connection_and_keep_their_headers() {
    if !aiosmtpd_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "aiosmtpd is required under CI: pip install aiosmtpd"
        );
        println!("SKIPPING: python3 -m aiosmtpd is not available (pip install aiosmtpd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let relay = start_relay(dir.path());
    let config = config(relay.port, &dir.path().join("unused"));
    let renderer = Renderer::new(&config).unwrap();
    let transport = Transport::from_config(&config).unwrap();
    let school = SchoolFooter {
        code: "RMIC81500X".to_owned(),
        name: "IC Via dei Glicini".to_owned(),
        helpdesk_email: Some("segreteria@glicini.example".to_owned()),
        ..SchoolFooter::default()
    };

    let names = ["Giulia", "Marco", "Eve\r\nBcc: x@evil.example"];
    let mut ids = BTreeSet::new();
    for (n, name) in names.iter().enumerate() {
        let message_id = format!("{n}.relay@varco.example");
        let test = OutboundMessage::TestMessage {
            first_name: (*name).to_owned(),
        };
        let message = renderer
            .render(&RenderInput {
                message_id: &message_id,
                recipient: &format!("utente{n}@example.org"),
                message: &test,
                lang: if n == 1 { "en" } else { "it" },
                school: Some(school.clone()),
            })
            .unwrap();
        transport.send(&message).await.unwrap();
        ids.insert(format!("<{message_id}>"));
    }

    let messages = wait_for(&relay.maildir, 3).await;
    assert_eq!(messages.len(), 3, "three messages arrive");
    let peers: BTreeSet<&str> = messages.iter().flat_map(|m| header(m, "x-peer")).collect();
    assert_eq!(peers.len(), 1, "all three came over one connection: {peers:?}");
    let arrived: BTreeSet<String> = messages
        .iter()
        .flat_map(|m| header(m, "message-id"))
        .map(str::to_owned)
        .collect();
    assert_eq!(arrived, ids);
    for headers in &messages {
        let id = header(headers, "message-id")[0];
        let n = &id[1..2];
        assert_eq!(header(headers, "to"), [format!("utente{n}@example.org").as_str()]);
        assert_eq!(
            header(headers, "x-rcptto"),
            [format!("utente{n}@example.org").as_str()],
            "envelope recipient"
        );
        assert_eq!(header(headers, "x-mailfrom"), ["no-reply@varco.example"]);
        assert_eq!(header(headers, "from"), ["Varco <no-reply@varco.example>"]);
        assert_eq!(header(headers, "auto-submitted"), ["auto-generated"]);
        assert!(header(headers, "bcc").is_empty(), "no injected Bcc");
        assert!(header(headers, "date").len() == 1);
        let subject = header(headers, "subject")[0];
        let lang = header(headers, "content-language")[0];
        match n {
            "0" => assert_eq!((subject, lang), ("Messaggio di prova per Giulia", "it")),
            "1" => assert_eq!((subject, lang), ("Test message for Marco", "en")),
            _ => assert_eq!(
                (subject, lang),
                ("Messaggio di prova per Eve Bcc: x@evil.example", "it")
            ),
        }
        assert!(header(headers, "content-type")[0].starts_with("multipart/alternative"));
    }

    let rejected = renderer
        .render(&RenderInput {
            message_id: "rejected.relay@varco.example",
            recipient: "rejected@example.org",
            message: &OutboundMessage::TestMessage {
                first_name: "Nessuno".to_owned(),
            },
            lang: "it",
            school: None,
        })
        .unwrap();
    let error = transport.send(&rejected).await.unwrap_err();
    assert!(
        matches!(error, SendError::Permanent(ref text) if text.contains("550")),
        "{error}"
    );
    transport.shutdown().await;
}

#[tokio::test]
async fn the_worker_delivers_through_the_relay_and_fails_refused_recipients() {
    if !aiosmtpd_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "aiosmtpd is required under CI: pip install aiosmtpd"
        );
        println!("SKIPPING: python3 -m aiosmtpd is not available (pip install aiosmtpd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let relay = start_relay(dir.path());
    let url = format!("sqlite://{}", dir.path().join("varco.db").display());
    let store = Store::connect(&url, &ConnectOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    let now = Timestamp(1_795_433_167);
    let mut tx = store.begin().await.unwrap();
    for (id, to) in [
        ("w1@varco.example", "a@example.org"),
        ("w2@varco.example", "rejected@example.org"),
    ] {
        tx.insert_outbox(&NewOutboxMessage {
            message_id: id,
            recipient: to,
            template: "test_message",
            lang: "it",
            school_id: None,
            payload: r#"{"first_name":"Giulia"}"#,
            now,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let config = config(relay.port, &dir.path().join("unused"));
    let worker = OutboxWorker::new(
        store.clone(),
        Renderer::new(&config).unwrap(),
        Transport::from_config(&config).unwrap(),
        Arc::new(FixedClock::new(now)),
        WorkerSettings::default(),
    );
    let report = worker.run_once().await.unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            claimed: 2,
            sent: 1,
            retried: 0,
            failed: 1
        }
    );
    let messages = wait_for(&relay.maildir, 1).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(header(&messages[0], "message-id"), ["<w1@varco.example>"]);
    assert_eq!(
        header(&messages[0], "date"),
        ["Mon, 23 Nov 2026 11:26:07 +0000"],
        "the injected clock dates the message"
    );

    let rows = store.list_outbox(OutboxFilter::All, 10).await.unwrap();
    let status = |id: &str| rows.iter().find(|r| r.message_id == id).unwrap().clone();
    assert_eq!(status("w1@varco.example").status, OutboxStatus::Sent);
    let refused = status("w2@varco.example");
    assert_eq!(refused.status, OutboxStatus::Failed);
    assert!(refused.last_error.unwrap().contains("550"));
}

//! The outbox worker: claims due messages, renders and delivers them, and
//! records each outcome.
//!
//! ```text
//!  pending ──claim (lease, attempts+1)──► sending ──ok──────────────► sent (payload emptied)
//!     ▲                                      │
//!     │                                      ├─ transient, young ───► pending, due after backoff
//!     └──────────────────────────────────────┤
//!                                            ├─ transient, older than give_up_after ─► failed
//!                                            └─ permanent or unrenderable ───────────► failed
//! ```
//!
//! Backoff after attempt n is 30 s · 2^(n−1), capped at one hour, plus up to
//! 10 % jitter derived from the Message-ID (so retries of many messages
//! spread out, and tests stay deterministic).
//!
//! Invariants: a claimed message is either delivered and marked sent, or
//! given back with its error, or left to its lease (only when the store is
//! unreachable); a message in hand is always finished before the worker stops
//! or its lease runs out; a stored error never holds a credential; the worker
//! never dies of an error, it logs and tries again on the next tick.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use varco_domain::SchoolId;
use varco_domain::clock::{Clock, Timestamp};
use varco_domain::outbound::OutboundMessage;
use varco_store::{OutboxRecord, Store, StoreError};

use crate::transport::stable_hash;
use crate::{MailError, RenderInput, Renderer, SchoolFooter, SendError, Transport};

/// First retry delay, doubled at each further attempt.
const FIRST_RETRY_SECS: i64 = 30;
/// Longest delay between two attempts (before jitter).
const MAX_RETRY_SECS: i64 = 3600;
/// Messages not yet started when this little of the lease is left go back to the queue.
const LEASE_MARGIN_SECS: i64 = 10;
/// Longest pause after repeated store errors.
const MAX_ERROR_PAUSE: Duration = Duration::from_secs(30);

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Messages claimed at once.
    pub batch: i64,
    /// How long a claim keeps other nodes off a message.
    pub lease_secs: i64,
    /// Pause when nothing was due (a notification ends it early).
    pub idle_poll: Duration,
    /// A message still failing this long after it was queued is given up.
    pub give_up_after_secs: i64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            batch: 50,
            lease_secs: 60,
            idle_poll: Duration::from_secs(1),
            give_up_after_secs: 24 * 3600,
        }
    }
}

/// What one pass did. Messages handed back unsent (shutdown, lease running
/// out, store unreachable for the school) count as `retried`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Delivers the outbox. One per node; nodes share the work through claims.
#[derive(Debug)]
pub struct OutboxWorker {
    store: Store,
    renderer: Renderer,
    transport: Transport,
    clock: Arc<dyn Clock>,
    settings: WorkerSettings,
    notify: Arc<Notify>,
}

/// How one message ended.
enum Outcome {
    Sent,
    /// Failed for now; `String` is the error to store.
    Transient(String),
    Permanent(String),
}

impl OutboxWorker {
    pub fn new(
        store: Store,
        mut renderer: Renderer,
        transport: Transport,
        clock: Arc<dyn Clock>,
        settings: WorkerSettings,
    ) -> OutboxWorker {
        renderer.set_clock(Arc::clone(&clock));
        OutboxWorker {
            store,
            renderer,
            transport,
            clock,
            settings,
            notify: Arc::new(Notify::new()),
        }
    }

    /// Wakes the worker on `notify` instead of its own (e.g. `App::mail_notify`).
    #[must_use]
    pub fn with_notifier(mut self, notify: Arc<Notify>) -> OutboxWorker {
        self.notify = notify;
        self
    }

    /// Call `notify_one` on it after committing a message: the worker looks now
    /// instead of at its next poll.
    pub fn notifier(&self) -> Arc<Notify> {
        Arc::clone(&self.notify)
    }

    /// One pass: claim a batch and deal with every message in it.
    pub async fn run_once(&self) -> Result<DeliveryReport, MailError> {
        self.deliver_batch(None).await
    }

    /// Runs until `shutdown` turns true (or its sender is dropped), finishing
    /// the message in hand first; then closes the SMTP connections.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(transport = %self.transport.describe(), "outbox worker started");
        let mut error_pause = self.settings.idle_poll;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let pause = match self.deliver_batch(Some(&shutdown)).await {
                Ok(report) => {
                    error_pause = self.settings.idle_poll;
                    if report.claimed > 0 {
                        tracing::debug!(?report, "outbox pass");
                    }
                    let full = i64::try_from(report.claimed).unwrap_or(i64::MAX) >= self.settings.batch;
                    // A full batch means more may be due right now.
                    if full { Duration::ZERO } else { self.settings.idle_poll }
                }
                Err(error) => {
                    tracing::warn!(error = %self.transport.redact(&error.to_string()), "outbox pass failed; retrying");
                    let pause = error_pause;
                    error_pause = (error_pause * 2).min(MAX_ERROR_PAUSE);
                    pause
                }
            };
            if pause.is_zero() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.notify.notified() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        self.transport.shutdown().await;
        tracing::info!("outbox worker stopped");
    }

    async fn deliver_batch(&self, shutdown: Option<&watch::Receiver<bool>>) -> Result<DeliveryReport, MailError> {
        let claimed_at = self.clock.now();
        let records = self
            .store
            .claim_outbox(claimed_at, self.settings.lease_secs, self.settings.batch)
            .await?;
        let mut report = DeliveryReport {
            claimed: records.len(),
            ..DeliveryReport::default()
        };
        if records.is_empty() {
            return Ok(report);
        }
        let schools = self.load_schools(&records).await;
        // Start no message once the claim is about to lapse (another node may
        // then take it), but always attempt the first: a short lease must not
        // hand everything back forever.
        let usable = (self.settings.lease_secs - LEASE_MARGIN_SECS).max(self.settings.lease_secs / 2);
        let lease_end = claimed_at.plus_secs(usable);
        for (index, record) in records.iter().enumerate() {
            let stopping = shutdown.is_some_and(|receiver| *receiver.borrow());
            if stopping || (index > 0 && self.clock.now() >= lease_end) {
                let reason = if stopping {
                    "the worker stopped"
                } else {
                    "the claim ran out of time"
                };
                report.retried += self.hand_back(&records[index..], reason).await;
                break;
            }
            match self.deliver(record, &schools).await {
                Outcome::Sent => {
                    report.sent += 1;
                    if let Err(e) = self.store.mark_outbox_sent(record.id, self.clock.now()).await {
                        // Delivered but not recorded: the lease will expire and the
                        // message go out again with the same Message-ID.
                        tracing::error!(outbox_id = record.id, error = %e, "cannot record a delivered message");
                    }
                }
                Outcome::Transient(error) => {
                    let now = self.clock.now();
                    let age = record.created_at.secs_until(now);
                    let next = if age >= self.settings.give_up_after_secs {
                        report.failed += 1;
                        None
                    } else {
                        report.retried += 1;
                        Some(now.plus_secs(retry_delay(record.attempts, &record.message_id)))
                    };
                    let stored = match next {
                        Some(_) => error,
                        None => format!("gave up after {} attempts: {error}", record.attempts),
                    };
                    tracing::warn!(
                        outbox_id = record.id,
                        template = %record.template,
                        attempts = record.attempts,
                        retry_at = next.map(Timestamp::to_rfc3339),
                        error = %stored,
                        "mail not delivered"
                    );
                    self.record_failure(record.id, &stored, next).await;
                }
                Outcome::Permanent(error) => {
                    report.failed += 1;
                    tracing::warn!(outbox_id = record.id, template = %record.template, error = %error, "mail failed for good");
                    self.record_failure(record.id, &error, None).await;
                }
            }
        }
        Ok(report)
    }

    async fn deliver(
        &self,
        record: &OutboxRecord,
        schools: &HashMap<SchoolId, Result<Option<SchoolFooter>, String>>,
    ) -> Outcome {
        let message = match OutboundMessage::from_outbox(&record.template, &record.payload) {
            Ok(message) => message,
            Err(e) => return Outcome::Permanent(e.to_string()),
        };
        let school = match record.school_id.map(|id| schools.get(&id)) {
            None => None,
            Some(Some(Ok(school))) => school.clone(),
            Some(Some(Err(error))) => return Outcome::Transient(error.clone()),
            Some(None) => return Outcome::Transient("the school was not looked up".to_owned()),
        };
        let input = RenderInput {
            message_id: &record.message_id,
            recipient: &record.recipient,
            message: &message,
            lang: &record.lang,
            school,
        };
        let message = match self.renderer.render(&input) {
            Ok(message) => message,
            Err(e) => return Outcome::Permanent(e.to_string()),
        };
        match self.transport.send(&message).await {
            Ok(()) => {
                tracing::info!(outbox_id = record.id, template = %record.template, message_id = %record.message_id, "mail delivered");
                Outcome::Sent
            }
            Err(SendError::Transient(e)) => Outcome::Transient(self.transport.redact(&e)),
            Err(SendError::Permanent(e)) => Outcome::Permanent(self.transport.redact(&e)),
        }
    }

    /// The footers of the batch's schools, read in one short transaction
    /// (never held open across a send). A failed lookup is kept per school so
    /// only its messages wait for a retry.
    async fn load_schools(&self, records: &[OutboxRecord]) -> HashMap<SchoolId, Result<Option<SchoolFooter>, String>> {
        let mut ids: Vec<SchoolId> = records.iter().filter_map(|r| r.school_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut schools = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return schools;
        }
        let mut tx = match self.store.begin_read().await {
            Ok(tx) => tx,
            Err(e) => {
                let error = format!("cannot read the school: {e}");
                return ids.into_iter().map(|id| (id, Err(error.clone()))).collect();
            }
        };
        for id in ids {
            let school = tx
                .school_by_id(id)
                .await
                .map(|found| found.as_ref().map(SchoolFooter::from))
                .map_err(|e: StoreError| format!("cannot read the school: {e}"));
            schools.insert(id, school);
        }
        // Read only: ending it any way is fine.
        let _ = tx.commit().await;
        schools
    }

    /// Gives unsent messages back to the queue, due now; returns how many.
    async fn hand_back(&self, records: &[OutboxRecord], reason: &str) -> usize {
        let now = self.clock.now();
        let note = format!("not attempted: {reason}");
        for record in records {
            self.record_failure(record.id, &note, Some(now)).await;
        }
        tracing::info!(count = records.len(), reason, "unsent mail handed back to the queue");
        records.len()
    }

    async fn record_failure(&self, id: i64, error: &str, next: Option<Timestamp>) {
        let error = self.transport.redact(error);
        if let Err(e) = self.store.mark_outbox_attempt_failed(id, &error, next).await {
            // The lease will expire and the message be claimed again.
            tracing::error!(outbox_id = id, error = %e, "cannot record a failed delivery");
        }
    }
}

/// Seconds to wait after `attempts` failed attempts (attempts ≥ 1).
fn retry_delay(attempts: i64, message_id: &str) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let base = FIRST_RETRY_SECS.saturating_mul(1_i64 << doublings).min(MAX_RETRY_SECS);
    let mut seed = message_id.as_bytes().to_vec();
    seed.extend_from_slice(&attempts.to_le_bytes());
    let spread = u64::try_from(base / 10 + 1).unwrap_or(1);
    let jitter = i64::try_from(stable_hash(&seed) % spread).unwrap_or(0);
    base + jitter
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Helpdesk, MailConfig};
    use serde_json::json;
    use std::path::Path;
    use varco_domain::OutboxStatus;
    use varco_domain::clock::FixedClock;
    use varco_store::{ConnectOptions, NewOutboxMessage, NewSchool, OutboxFilter};

    const START: i64 = 1_795_433_167;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        clock: Arc<FixedClock>,
        eml_dir: std::path::PathBuf,
        school_id: SchoolId,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("varco.db").display());
        let store = Store::connect(&url, &ConnectOptions::default()).await.unwrap();
        store.migrate().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let school = tx
            .insert_school(&NewSchool {
                code: "RMIC81500X",
                name: "IC Via dei Glicini",
                email: None,
                helpdesk_email: Some("segreteria@glicini.example"),
                helpdesk_phone: Some("06 1234 5678"),
                helpdesk_hours: Some("lun–ven 10–13"),
                town: None,
                created_at: START,
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let eml_dir = dir.path().join("mail");
        Fixture {
            store,
            clock: Arc::new(FixedClock::new(Timestamp(START))),
            eml_dir,
            school_id: school.id,
            _dir: dir,
        }
    }

    fn config(eml_dir: &Path, smtp_url: Option<String>) -> MailConfig {
        MailConfig {
            smtp_url,
            eml_dir: eml_dir.to_owned(),
            national_helpdesk: Helpdesk {
                email: Some("aiuto@varco.example".to_owned()),
                ..Helpdesk::default()
            },
            ..MailConfig::default()
        }
    }

    fn worker(fixture: &Fixture, smtp_url: Option<String>) -> OutboxWorker {
        let config = config(&fixture.eml_dir, smtp_url);
        OutboxWorker::new(
            fixture.store.clone(),
            Renderer::new(&config).unwrap(),
            Transport::from_config(&config).unwrap(),
            fixture.clock.clone(),
            WorkerSettings::default(),
        )
    }

    async fn enqueue(fixture: &Fixture, message_id: &str, template: &str, payload: &str) {
        let mut tx = fixture.store.begin().await.unwrap();
        tx.insert_outbox(&NewOutboxMessage {
            message_id,
            recipient: "giulia@example.org",
            template,
            lang: "it",
            school_id: Some(fixture.school_id),
            payload,
            now: fixture.clock.now(),
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    async fn record(fixture: &Fixture, message_id: &str) -> OutboxRecord {
        let all = fixture.store.list_outbox(OutboxFilter::All, 100).await.unwrap();
        all.into_iter().find(|r| r.message_id == message_id).unwrap()
    }

    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[test]
    fn backoff_doubles_is_capped_and_jitters_a_little() {
        for (attempts, base) in [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (40, 3600)] {
            let delay = retry_delay(attempts, "1@x");
            assert!(
                (base..=base + base / 10).contains(&delay),
                "attempt {attempts}: {delay}"
            );
        }
        assert_eq!(retry_delay(3, "1@x"), retry_delay(3, "1@x"), "deterministic");
        let spread: std::collections::HashSet<i64> = (0..50).map(|n| retry_delay(8, &format!("{n}@x"))).collect();
        assert!(spread.len() > 10, "messages spread out: {spread:?}");
        assert!((30..=33).contains(&retry_delay(0, "1@x")), "attempts are at least one");
    }

    #[tokio::test]
    async fn delivers_to_eml_files_and_records_the_delivery() {
        let fixture = fixture().await;
        let worker = worker(&fixture, None);
        enqueue(&fixture, "1@varco.test", "test_message", r#"{"first_name":"Giulia"}"#).await;
        enqueue(&fixture, "2@varco.test", "test_message", r#"{"first_name":"Marco"}"#).await;

        let report = worker.run_once().await.unwrap();
        assert_eq!(
            report,
            DeliveryReport {
                claimed: 2,
                sent: 2,
                retried: 0,
                failed: 0
            }
        );
        let file = std::fs::read_to_string(fixture.eml_dir.join("1@varco.test.eml")).unwrap();
        assert!(file.contains("Message-ID: <1@varco.test>"));
        assert!(
            file.contains("segreteria@glicini.example"),
            "school footer loaded from the store"
        );
        let sent = record(&fixture, "1@varco.test").await;
        assert_eq!(sent.status, OutboxStatus::Sent);
        assert_eq!(sent.sent_at, Some(Timestamp(START)));
        assert_eq!(sent.payload, "{}", "payload forgotten after delivery");

        assert_eq!(
            worker.run_once().await.unwrap(),
            DeliveryReport::default(),
            "nothing left"
        );
    }

    #[tokio::test]
    async fn render_errors_fail_at_once() {
        let fixture = fixture().await;
        let worker = worker(&fixture, None);
        enqueue(&fixture, "bad-json@x", "test_message", "{not json").await;
        enqueue(&fixture, "bad-template@x", "no_such_template", "{}").await;
        enqueue(&fixture, "missing-value@x", "test_message", "{}").await;
        let report = worker.run_once().await.unwrap();
        assert_eq!(
            report,
            DeliveryReport {
                claimed: 3,
                sent: 0,
                retried: 0,
                failed: 3
            }
        );
        for id in ["bad-json@x", "bad-template@x", "missing-value@x"] {
            let failed = record(&fixture, id).await;
            assert_eq!(failed.status, OutboxStatus::Failed, "{id}");
            assert!(failed.last_error.is_some(), "{id}");
        }
    }

    #[tokio::test]
    async fn transient_failures_back_off_then_give_up_without_leaking_the_password() {
        let fixture = fixture().await;
        let url = format!("smtp://mailer:s3cret@127.0.0.1:{}", closed_port());
        let worker = worker(&fixture, Some(url));
        enqueue(&fixture, "1@varco.test", "test_message", r#"{"first_name":"Giulia"}"#).await;

        let report = worker.run_once().await.unwrap();
        assert_eq!(
            report,
            DeliveryReport {
                claimed: 1,
                sent: 0,
                retried: 1,
                failed: 0
            }
        );
        let waiting = record(&fixture, "1@varco.test").await;
        assert_eq!(waiting.status, OutboxStatus::Pending);
        assert_eq!(waiting.attempts, 1);
        assert!(
            (START + 30..=START + 33).contains(&waiting.next_attempt_at.0),
            "{}",
            waiting.next_attempt_at.0
        );
        let error = waiting.last_error.unwrap();
        assert!(!error.contains("s3cret"), "{error}");

        assert_eq!(worker.run_once().await.unwrap().claimed, 0, "not due yet");
        fixture.clock.advance(40);
        assert_eq!(worker.run_once().await.unwrap().retried, 1);
        let waiting = record(&fixture, "1@varco.test").await;
        assert_eq!(waiting.attempts, 2);
        assert!((START + 40 + 60..=START + 40 + 66).contains(&waiting.next_attempt_at.0));

        fixture.clock.advance(24 * 3600);
        let report = worker.run_once().await.unwrap();
        assert_eq!(
            report,
            DeliveryReport {
                claimed: 1,
                sent: 0,
                retried: 0,
                failed: 1
            }
        );
        let failed = record(&fixture, "1@varco.test").await;
        assert_eq!(failed.status, OutboxStatus::Failed);
        let error = failed.last_error.unwrap();
        assert!(error.starts_with("gave up after 3 attempts"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[tokio::test]
    async fn a_missing_school_still_gets_the_national_footer() {
        let fixture = fixture().await;
        let worker = worker(&fixture, None);
        let mut tx = fixture.store.begin().await.unwrap();
        tx.insert_outbox(&NewOutboxMessage {
            message_id: "no-school@x",
            recipient: "giulia@example.org",
            template: "test_message",
            lang: "en",
            school_id: None,
            payload: r#"{"first_name":"Giulia"}"#,
            now: Timestamp(START),
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(worker.run_once().await.unwrap().sent, 1);
        let file = std::fs::read_to_string(fixture.eml_dir.join("no-school@x.eml")).unwrap();
        assert!(file.contains("aiuto@varco.example"));
        assert!(file.contains("Content-Language: en"));
    }

    #[tokio::test]
    async fn run_wakes_on_notify_and_stops_on_shutdown() {
        let fixture = fixture().await;
        let mut worker = worker(&fixture, None);
        worker.settings.idle_poll = Duration::from_secs(3600);
        let notify = worker.notifier();
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(worker.run(stopped));

        enqueue(&fixture, "woken@x", "test_message", r#"{"first_name":"Giulia"}"#).await;
        notify.notify_one();
        let target = fixture.eml_dir.join("woken@x.eml");
        for _ in 0..200 {
            if target.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            target.exists(),
            "the notification woke the worker before its hour-long poll"
        );

        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_stopping_worker_hands_back_what_it_has_not_started() {
        let fixture = fixture().await;
        let worker = worker(&fixture, None);
        enqueue(&fixture, "1@x", "test_message", r#"{"first_name":"Giulia"}"#).await;
        enqueue(&fixture, "2@x", "test_message", r#"{"first_name":"Marco"}"#).await;
        let (_stop, stopped) = watch::channel(true);
        let report = worker.deliver_batch(Some(&stopped)).await.unwrap();
        assert_eq!(
            report,
            DeliveryReport {
                claimed: 2,
                sent: 0,
                retried: 2,
                failed: 0
            }
        );
        let back = record(&fixture, "1@x").await;
        assert_eq!(back.status, OutboxStatus::Pending);
        assert_eq!(back.next_attempt_at, Timestamp(START));
        let report = worker.run_once().await.unwrap();
        assert_eq!(report.sent, 2, "handed-back messages are due at once");
    }

    /// A clock that moves 20 s every time it is read: a slow batch.
    #[derive(Debug)]
    struct SlowClock(FixedClock);

    impl Clock for SlowClock {
        fn now(&self) -> Timestamp {
            self.0.advance(20);
            self.0.now()
        }
    }

    #[tokio::test]
    async fn messages_not_started_before_the_lease_lapses_go_back_to_the_queue() {
        let fixture = fixture().await;
        let config = config(&fixture.eml_dir, None);
        let worker = OutboxWorker::new(
            fixture.store.clone(),
            Renderer::new(&config).unwrap(),
            Transport::from_config(&config).unwrap(),
            Arc::new(SlowClock(FixedClock::new(Timestamp(START)))),
            WorkerSettings::default(),
        );
        for n in 0..3 {
            enqueue(
                &fixture,
                &format!("{n}@x"),
                "test_message",
                r#"{"first_name":"Giulia"}"#,
            )
            .await;
        }
        let report = worker.run_once().await.unwrap();
        assert_eq!(report.claimed, 3);
        assert!(report.sent >= 1, "the first message is always attempted: {report:?}");
        assert!(report.retried >= 1, "the rest waits for a fresh claim: {report:?}");
        assert_eq!(report.sent + report.retried, 3, "{report:?}");
        assert_eq!(
            fixture.store.count_pending_outbox().await.unwrap(),
            i64::try_from(report.retried).unwrap()
        );
    }

    #[tokio::test]
    async fn an_injected_header_in_a_payload_stays_out_of_the_headers() {
        let fixture = fixture().await;
        let worker = worker(&fixture, None);
        let payload = json!({ "first_name": "Eve\r\nBcc: x@evil.example" }).to_string();
        enqueue(&fixture, "eve@x", "test_message", &payload).await;
        assert_eq!(worker.run_once().await.unwrap().sent, 1);
        let file = std::fs::read_to_string(fixture.eml_dir.join("eve@x.eml")).unwrap();
        let headers = file.split("\r\n\r\n").next().unwrap();
        assert!(
            !headers.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{headers}"
        );
    }
}

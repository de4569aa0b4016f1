//! The outbox as operators see it: listing messages and putting one that
//! failed back in the queue.

use varco_domain::OutboxStatus;
use varco_domain::clock::Timestamp;

use crate::audit::{self, AuditEvent, Target};
use crate::{Actor, App, AppError, RequestContext};

/// A queued or sent message as operators see it (no payload: it may hold links).
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub status: OutboxStatus,
    pub template: String,
    pub recipient: String,
    pub attempts: i64,
    pub created_at: String,
    pub next_attempt_at: String,
    pub sent_at: Option<String>,
    pub last_error: Option<String>,
    pub message_id: String,
}

/// Messages newest first; `failed_only` shows the ones that gave up.
pub async fn list(app: &App, failed_only: bool, limit: i64) -> Result<Vec<OutboxEntry>, AppError> {
    let filter = if failed_only {
        varco_store::OutboxFilter::Failed
    } else {
        varco_store::OutboxFilter::All
    };
    let records = app.store.list_outbox(filter, limit).await?;
    Ok(records
        .into_iter()
        .map(|r| OutboxEntry {
            id: r.id,
            status: r.status,
            template: r.template,
            recipient: r.recipient,
            attempts: r.attempts,
            created_at: r.created_at.to_rfc3339(),
            next_attempt_at: r.next_attempt_at.to_rfc3339(),
            sent_at: r.sent_at.map(Timestamp::to_rfc3339),
            last_error: r.last_error,
            message_id: r.message_id,
        })
        .collect())
}

/// Puts a message that failed (or still waits) back in the queue, due now.
/// The change and its audit record commit together.
pub async fn retry(app: &App, actor: &Actor, id: i64) -> Result<(), AppError> {
    let now = app.now();
    let mut tx = app.store.begin().await?;
    if !tx.retry_outbox(id, now).await? {
        return Err(AppError::NotFound("message not yet delivered with this id"));
    }
    audit::record(
        &mut tx,
        now,
        actor,
        &RequestContext::default(),
        Target::Nobody,
        AuditEvent::MailRetry { outbox_id: id },
    )
    .await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(())
}

/// Queues the test message to `to`, to check the mail settings end to end:
/// the running server's worker delivers it, and `list` shows how it went.
pub async fn send_test(app: &App, actor: &Actor, to: &str) -> Result<(), AppError> {
    let address = varco_domain::email::EmailAddress::parse(to).map_err(|e| AppError::invalid("to", e))?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    crate::mail::enqueue(
        &mut tx,
        app,
        crate::mail::Mail {
            to: address.as_str(),
            lang: varco_domain::Lang::default(),
            school_id: None,
            message: varco_domain::OutboundMessage::TestMessage {
                first_name: address.as_str().split('@').next().unwrap_or_default().to_owned(),
            },
        },
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        &RequestContext::default(),
        Target::Nobody,
        AuditEvent::MailTestQueued { to: address.masked() },
    )
    .await?;
    tx.commit().await?;
    app.mail_queued();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use varco_domain::clock::FixedClock;
    use varco_store::{ConnectOptions, NewOutboxMessage, Store};

    use super::*;
    use crate::Settings;

    const START: i64 = 1_795_433_167;

    async fn app(dir: &tempfile::TempDir) -> App {
        let url = format!("sqlite://{}", dir.path().join("varco.db").display());
        let store = Store::connect(&url, &ConnectOptions::default()).await.unwrap();
        store.migrate().await.unwrap();
        let settings = Settings {
            hash_concurrency: 1,
            ..Settings::default()
        };
        App::new(store, Arc::new(FixedClock::new(Timestamp(START))), settings).unwrap()
    }

    async fn queue(app: &App, message_id: &str) -> i64 {
        let mut tx = app.store.begin().await.unwrap();
        let id = tx
            .insert_outbox(&NewOutboxMessage {
                message_id,
                recipient: "giulia@example.org",
                template: "test_message",
                lang: "it",
                school_id: None,
                payload: r#"{"first_name":"Giulia"}"#,
                now: Timestamp(START - 600),
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    }

    async fn audit_events(app: &App) -> Vec<(String, Option<String>)> {
        let mut tx = app.store.begin_read().await.unwrap();
        let records = tx
            .list_audit(&varco_store::AuditFilter {
                account_id: None,
                limit: 100,
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        records.into_iter().map(|r| (r.event, r.detail)).collect()
    }

    #[tokio::test]
    async fn a_retry_requeues_the_message_with_its_audit_record_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(&dir).await;
        let failed = queue(&app, "failed@x").await;
        app.store
            .mark_outbox_attempt_failed(failed, "gave up", None)
            .await
            .unwrap();
        let sent = queue(&app, "sent@x").await;
        app.store.mark_outbox_sent(sent, Timestamp(START - 300)).await.unwrap();

        retry(&app, &Actor::Cli, failed).await.unwrap();
        let listed = list(&app, false, 10).await.unwrap();
        let again = listed.iter().find(|m| m.id == failed).unwrap();
        assert_eq!(again.status, OutboxStatus::Pending);
        assert_eq!(again.attempts, 0);
        assert_eq!(again.next_attempt_at, Timestamp(START).to_rfc3339());
        assert_eq!(
            audit_events(&app).await,
            [("mail_retry".to_owned(), Some(format!("outbox_id={failed}")))]
        );

        for refused in [sent, 9_999] {
            assert!(matches!(
                retry(&app, &Actor::Cli, refused).await,
                Err(AppError::NotFound(_))
            ));
        }
        assert_eq!(
            audit_events(&app).await.len(),
            1,
            "a refused retry leaves no audit record"
        );
    }
}

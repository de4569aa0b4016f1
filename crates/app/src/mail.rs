//! Queuing email. A message is a row of the outbox written in the caller's
//! transaction, so it exists exactly when the change that caused it does;
//! the outbox worker (`varco_mail`) renders and delivers it later.
//!
//! A message is an [`OutboundMessage`]: one variant per template, with the
//! fields the template shows (names, dates, links), never a password; the
//! worker empties the payload after delivery.

use rand::RngCore;
use rand::rngs::OsRng;
use varco_domain::Lang;
use varco_domain::SchoolId;
use varco_domain::clock::Timestamp;
use varco_domain::outbound::OutboundMessage;
use varco_store::{AccountRecord, NewOutboxMessage, Tx};

use crate::{App, AppError};

/// One message to queue.
#[derive(Debug, Clone)]
pub struct Mail<'a> {
    pub to: &'a str,
    pub lang: Lang,
    pub school_id: Option<SchoolId>,
    pub message: OutboundMessage,
}

/// The host part of the public URL, for Message-IDs.
fn message_id_domain(public_url: &str) -> &str {
    let rest = public_url.split_once("://").map(|(_, r)| r).unwrap_or(public_url);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("varco.invalid");
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    if host.is_empty() { "varco.invalid" } else { host }
}

/// Queues a message in the caller's transaction. Call [`App::mail_queued`]
/// after the commit to wake the worker.
pub async fn enqueue(tx: &mut Tx, app: &App, mail: Mail<'_>) -> Result<(), AppError> {
    let mut random = [0u8; 16];
    OsRng.fill_bytes(&mut random);
    let now = app.now();
    let message_id = format!(
        "{}.{}@{}",
        now.0,
        hex_string(&random),
        message_id_domain(&app.settings.public_url)
    );
    let (template, payload) = mail.message.to_outbox();
    tx.insert_outbox(&NewOutboxMessage {
        message_id: &message_id,
        recipient: mail.to,
        template,
        lang: mail.lang.as_str(),
        school_id: mail.school_id,
        payload: &payload,
        now,
    })
    .await?;
    Ok(())
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The language to write to an account in.
pub fn lang_of(account: &AccountRecord) -> Lang {
    account.lang.unwrap_or_default()
}

/// The zone of the times people read (pages and emails): the schools' zone.
pub const SCHOOL_TIME_ZONE: &str = "Europe/Rome";

/// A date and time as people read it, in the schools' zone:
/// `23/11/2026 12:26`. The texts around it name the zone ("ora italiana").
pub fn format_time(t: Timestamp) -> String {
    local(t)
        .map(|z| z.strftime("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_else(|| t.to_rfc3339())
}

/// A date as people read it, in the schools' zone: `23/11/2026`.
pub fn format_date(t: Timestamp) -> String {
    local(t)
        .map(|z| z.strftime("%d/%m/%Y").to_string())
        .unwrap_or_else(|| t.to_rfc3339())
}

/// The schools' time zone (Europe/Rome; UTC only if the bundled database
/// lacked it).
pub(crate) fn school_zone() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(SCHOOL_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// The date in the schools' zone at `t`.
pub(crate) fn school_date(t: Timestamp) -> jiff::civil::Date {
    jiff::Timestamp::from_second(t.0)
        .map(|ts| ts.to_zoned(school_zone()).date())
        .unwrap_or_default()
}

/// The first second of `date` in the schools' zone.
pub(crate) fn start_of_day(date: jiff::civil::Date) -> Timestamp {
    Timestamp(
        date.to_zoned(school_zone())
            .map(|z| z.timestamp().as_second())
            .unwrap_or_default(),
    )
}

/// A date as people read it, `dd/mm/yyyy`.
pub(crate) fn format_civil_date(date: jiff::civil::Date) -> String {
    date.strftime("%d/%m/%Y").to_string()
}

fn local(t: Timestamp) -> Option<jiff::Zoned> {
    // The bundled database always has Europe/Rome; UTC only if it were missing.
    let zone = jiff::tz::TimeZone::get(SCHOOL_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_second(t.0).ok().map(|ts| ts.to_zoned(zone))
}

impl App {
    /// Wakes the outbox worker after a transaction that queued mail committed.
    pub fn mail_queued(&self) {
        self.mail_notify.notify_one();
    }

    /// An absolute link to a page of Varco.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.settings.public_url.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_use_the_public_host() {
        assert_eq!(message_id_domain("https://accesso.scuola.it/base"), "accesso.scuola.it");
        assert_eq!(message_id_domain("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(message_id_domain(""), "varco.invalid");
    }

    #[test]
    fn times_are_formatted_for_people() {
        // 11:26 UTC in November is 12:26 in Rome (CET, UTC+1).
        assert_eq!(format_time(Timestamp(1_795_433_167)), "23/11/2026 12:26");
        assert_eq!(format_date(Timestamp(1_795_433_167)), "23/11/2026");
        // In summer Rome is UTC+2: 2026-07-01 22:30 UTC is already 2 July there.
        assert_eq!(format_time(Timestamp(1_782_945_000)), "02/07/2026 00:30");
        assert_eq!(format_date(Timestamp(1_782_945_000)), "02/07/2026");
    }
}

//! The signed-in user's view of their own sessions (ASVS 7.5.2): which
//! devices are signed in, and ending one of them or all the others.
//!
//! Invariants: a user sees and ends only sessions of their own account (any
//! other id is "not found", whether it exists or not); the current session is
//! never ended from here (logging out does that); a session restricted to
//! changing the password can do none of this. Every ending is audited.

use serde::Serialize;
use varco_domain::SessionId;
use varco_domain::clock::Timestamp;
use varco_store::SessionRecord;

use crate::audit::{self, AuditEvent, Target};
use crate::mail::format_time;
use crate::sessions::Authenticated;
use crate::{App, AppError, RequestContext};

/// One session as its owner sees it. The id is the row id, not the secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SessionView {
    pub id: SessionId,
    /// A short readable form of the user agent (`Firefox · Windows`), if recognised.
    pub device: Option<String>,
    pub ip: Option<String>,
    pub started_at: String,
    pub last_seen_at: String,
    /// The session of the request that asks.
    pub current: bool,
}

fn require_full(session: &Authenticated) -> Result<(), AppError> {
    if session.session.password_change_required {
        Err(AppError::PasswordChangeRequired)
    } else {
        Ok(())
    }
}

fn is_live(app: &App, s: &SessionRecord, now: Timestamp) -> bool {
    now < s.expires_at && s.last_seen_at.secs_until(now) < app.settings.session_idle_secs
}

/// The account's live sessions, the current one first, then the most recently seen.
pub async fn list(app: &App, session: &Authenticated) -> Result<Vec<SessionView>, AppError> {
    require_full(session)?;
    let now = app.now();
    let mut tx = app.store.begin_read().await?;
    let records = tx.sessions_of_account(session.account.id).await?;
    tx.commit().await?;
    let mut views: Vec<SessionView> = records
        .iter()
        .filter(|s| s.id == session.session.id || is_live(app, s, now))
        .map(|s| SessionView {
            id: s.id,
            device: s.user_agent.as_deref().and_then(device_of),
            ip: s.ip.clone(),
            started_at: format_time(s.created_at),
            last_seen_at: format_time(s.last_seen_at),
            current: s.id == session.session.id,
        })
        .collect();
    // Stable: the store already ordered the rest by last activity.
    views.sort_by_key(|v| !v.current);
    Ok(views)
}

/// Ends one other session of the signed-in account.
pub async fn end(app: &App, session: &Authenticated, id: SessionId, ctx: &RequestContext) -> Result<(), AppError> {
    require_full(session)?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let found = id != session.session.id
        && tx
            .sessions_of_account(session.account.id)
            .await?
            .iter()
            .any(|s| s.id == id);
    if !found || !tx.delete_session(id).await? {
        return Err(AppError::NotFound("session"));
    }
    audit::record(
        &mut tx,
        now,
        &session.actor(),
        ctx,
        Target::from(&session.account),
        AuditEvent::SessionEnded { session_id: id },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every session of the signed-in account but the current one; returns how many.
pub async fn end_others(app: &App, session: &Authenticated, ctx: &RequestContext) -> Result<u64, AppError> {
    require_full(session)?;
    let now = app.now();
    let mut tx = app.store.begin().await?;
    let ended = tx
        .delete_sessions_of_account(session.account.id, Some(session.session.id))
        .await?;
    audit::record(
        &mut tx,
        now,
        &session.actor(),
        ctx,
        Target::from(&session.account),
        AuditEvent::OtherSessionsEnded { count: ended },
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

/// `Browser · System` from a user agent, as far as it can be told; brand
/// names need no translation. Order matters: Edge and Opera also say
/// "Chrome", Chrome also says "Safari", Android also says "Linux".
pub fn device_of(user_agent: &str) -> Option<String> {
    const BROWSERS: &[(&str, &str)] = &[
        ("Edg", "Edge"),
        ("OPR/", "Opera"),
        ("Opera", "Opera"),
        ("SamsungBrowser/", "Samsung Internet"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    const SYSTEMS: &[(&str, &str)] = &[
        ("Windows", "Windows"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("CrOS", "ChromeOS"),
        ("Macintosh", "macOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(marker, _)| user_agent.contains(marker))
            .map(|(_, name)| *name)
    };
    match (find(BROWSERS), find(SYSTEMS)) {
        (Some(browser), Some(system)) => Some(format!("{browser} · {system}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_user_agents_read_well() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
                "Edge · Windows",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
                "Firefox · Windows",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
                "Chrome · Android",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                "Safari · iPhone",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
                "Safari · macOS",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
                "Opera · Linux",
            ),
            ("curl/8.5.0", "curl"),
        ];
        for (agent, expected) in cases {
            assert_eq!(device_of(agent).as_deref(), Some(expected), "{agent}");
        }
        assert_eq!(device_of("some-bot/1.0"), None);
    }
}

//! The register's own sessions: a random token in an HttpOnly, SameSite=Lax
//! cookie (Secure when the public URL is https), kept in memory under its
//! SHA-256, with what the session waits for — a sign-in or a confirmation,
//! each bound to the `state` it sent — and the CSRF token of its forms.
//!
//! Invariants: a `state` or CSRF token is compared in constant time and a
//! pending request is taken out of the session when its answer arrives, so
//! an answer is used at most once; signing in gives a new session token
//! (no fixation). Sessions live in memory: a restart signs everyone out and
//! drops requests in flight, never data.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::civil::Date;
use rand::RngCore as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::act::Reason;
use crate::person::Person;
use crate::varco::SignInRequest;

/// The session cookie's name (Varco's own cookies have other names, and a
/// browser sends cookies of every port of a host to each).
pub const COOKIE: &str = "registro_session";

/// A session unused this long is forgotten.
const IDLE: Duration = Duration::from_secs(8 * 3600);

/// A sign-in or a confirmation not answered within this is forgotten.
pub const PENDING: Duration = Duration::from_secs(15 * 60);

/// At most this many sessions are kept (the oldest go first).
const MAX_SESSIONS: usize = 10_000;

/// 256 random bits, base64url.
#[must_use]
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Equality that takes the same time wherever the strings differ.
#[must_use]
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a confirmation in flight is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Absences of one student.
    Absences {
        /// The student's id.
        student: String,
        /// The days.
        dates: Vec<Date>,
        /// Why.
        reason: Reason,
    },
    /// The teacher's application.
    Application,
}

/// A confirmation asked of Varco, waiting for the browser to come back.
#[derive(Debug, Clone)]
pub struct PendingConfirmation {
    /// The `state` sent with it.
    pub state: String,
    /// Varco's id for it.
    pub confirmation_id: String,
    /// The very payload sent, to send again at redemption.
    pub payload: Value,
    /// What to record once confirmed.
    pub act: Act,
    /// When it was asked.
    pub at: Instant,
}

/// A sign-in sent to Varco, waiting for the browser to come back.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    /// `state`, `nonce` and the PKCE verifier.
    pub request: SignInRequest,
    /// When it was sent.
    pub at: Instant,
}

/// A message shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// `success` or `error`.
    pub kind: &'static str,
    /// The text.
    pub text: String,
}

/// One browser's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The CSRF token of its forms.
    pub csrf: String,
    /// Who is signed in.
    pub person: Option<Person>,
    /// A sign-in in flight.
    pub sign_in: Option<PendingSignIn>,
    /// A confirmation in flight (a new one replaces it).
    pub confirmation: Option<PendingConfirmation>,
    /// A message for the next page.
    pub flash: Option<Flash>,
    last_seen: Instant,
}

impl Session {
    fn new() -> Session {
        Session {
            csrf: random_token(),
            person: None,
            sign_in: None,
            confirmation: None,
            flash: None,
            last_seen: Instant::now(),
        }
    }

    /// Whether `token` is this session's CSRF token.
    #[must_use]
    pub fn csrf_ok(&self, token: Option<&str>) -> bool {
        token.is_some_and(|token| same(token, &self.csrf))
    }

    /// Takes the sign-in whose `state` came back, if it is this one and fresh.
    pub fn take_sign_in(&mut self, state: &str) -> Option<PendingSignIn> {
        let pending = self.sign_in.as_ref()?;
        if pending.at.elapsed() < PENDING && same(&pending.request.state, state) {
            self.sign_in.take()
        } else {
            None
        }
    }

    /// Takes the confirmation whose `state` came back, if it is this one
    /// and fresh.
    pub fn take_confirmation(&mut self, state: &str) -> Option<PendingConfirmation> {
        let pending = self.confirmation.as_ref()?;
        if pending.at.elapsed() < PENDING && same(&pending.state, state) {
            self.confirmation.take()
        } else {
            None
        }
    }
}

/// All sessions, by the SHA-256 of their token.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

fn key(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The session of `token`, if it exists and is not idle too long.
    #[must_use]
    pub fn get(&self, token: &str) -> Option<Session> {
        let mut map = self.lock();
        let session = map.get_mut(&key(token))?;
        if session.last_seen.elapsed() > IDLE {
            map.remove(&key(token));
            return None;
        }
        session.last_seen = Instant::now();
        Some(session.clone())
    }

    /// Stores `session` under `token`.
    pub fn put(&self, token: &str, session: Session) {
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.last_seen.elapsed() <= IDLE);
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(key(token), session);
    }

    /// Changes the session of `token` in place; `None` if there is none.
    pub fn update<T>(&self, token: &str, change: impl FnOnce(&mut Session) -> T) -> Option<T> {
        let mut map = self.lock();
        map.get_mut(&key(token)).map(change)
    }

    /// Forgets the session of `token`.
    pub fn remove(&self, token: &str) {
        self.lock().remove(&key(token));
    }

    /// A new empty session and its token.
    pub fn create(&self) -> (String, Session) {
        let token = random_token();
        let session = Session::new();
        self.put(&token, session.clone());
        (token, session)
    }

    /// The session of `token` moved to a new token (after signing in).
    pub fn renew(&self, token: &str) -> Option<(String, Session)> {
        let mut session = self.lock().remove(&key(token))?;
        session.csrf = random_token();
        let token = random_token();
        self.put(&token, session.clone());
        Some((token, session))
    }
}

/// The session token in the request's cookies.
#[must_use]
pub fn token_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 64)
}

/// The `Set-Cookie` of a session token.
#[must_use]
pub fn set_cookie(token: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static("registro_session=; Path=/"))
}

/// The `Set-Cookie` that deletes the session cookie.
#[must_use]
pub fn clear_cookie(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static("registro_session=; Path=/; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sign_in(state: &str) -> PendingSignIn {
        PendingSignIn {
            request: SignInRequest {
                url: "http://varco/authorize".into(),
                state: state.into(),
                nonce: "n".into(),
                verifier: "v".into(),
            },
            at: Instant::now(),
        }
    }

    fn confirmation(state: &str) -> PendingConfirmation {
        PendingConfirmation {
            state: state.into(),
            confirmation_id: "c-1".into(),
            payload: json!({"type": "application"}),
            act: Act::Application,
            at: Instant::now(),
        }
    }

    #[test]
    fn a_state_matches_once_and_only_its_own_request() {
        let mut session = Session::new();
        session.sign_in = Some(sign_in("state-a"));
        session.confirmation = Some(confirmation("state-b"));
        assert!(
            session.take_sign_in("state-b").is_none(),
            "a confirmation's state is not a sign-in's"
        );
        assert!(session.take_confirmation("state-a").is_none());
        assert!(session.take_sign_in("state-").is_none());
        assert!(session.take_sign_in("").is_none());
        assert!(session.take_sign_in("state-a").is_some());
        assert!(session.take_sign_in("state-a").is_none(), "used once");
        assert!(session.take_confirmation("state-b").is_some());
        assert!(session.take_confirmation("state-b").is_none(), "used once");

        // Too old: refused (and left for the next request to replace).
        let mut stale = confirmation("state-c");
        stale.at = Instant::now().checked_sub(PENDING + Duration::from_secs(1)).unwrap();
        session.confirmation = Some(stale);
        assert!(session.take_confirmation("state-c").is_none());
    }

    #[test]
    fn csrf_tokens_are_checked_exactly() {
        let session = Session::new();
        let token = session.csrf.clone();
        assert_eq!(token.len(), 43);
        assert!(session.csrf_ok(Some(&token)));
        assert!(!session.csrf_ok(None));
        assert!(!session.csrf_ok(Some("")));
        assert!(!session.csrf_ok(Some(&token[..42])));
        assert!(!session.csrf_ok(Some(&format!("{token}x"))));
        assert!(!session.csrf_ok(Some(&Session::new().csrf)), "another session's token");
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }

    #[test]
    fn sessions_are_found_by_token_and_renewed_on_sign_in() {
        let sessions = Sessions::default();
        let (token, session) = sessions.create();
        assert_eq!(sessions.get(&token).unwrap().csrf, session.csrf);
        assert!(sessions.get("another").is_none());
        sessions.update(&token, |s| {
            s.flash = Some(Flash {
                kind: "success",
                text: "ok".into(),
            })
        });
        let (renewed, after) = sessions.renew(&token).unwrap();
        assert_ne!(renewed, token);
        assert_ne!(after.csrf, session.csrf, "a new CSRF token too");
        assert!(sessions.get(&token).is_none(), "the old token is dead");
        assert_eq!(sessions.get(&renewed).unwrap().flash.unwrap().text, "ok");
        sessions.remove(&renewed);
        assert!(sessions.get(&renewed).is_none());
    }

    #[test]
    fn the_cookie_is_httponly_lax_and_read_back() {
        let cookie = set_cookie("tok", false);
        assert_eq!(cookie, "registro_session=tok; Path=/; HttpOnly; SameSite=Lax");
        assert!(set_cookie("tok", true).to_str().unwrap().ends_with("; Secure"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("varco_session=x; registro_session=tok; other=y"),
        );
        assert_eq!(token_of(&headers).as_deref(), Some("tok"));
        headers.insert(header::COOKIE, HeaderValue::from_static("registro_sessionx=tok"));
        assert_eq!(token_of(&headers), None);
        assert!(clear_cookie(false).to_str().unwrap().contains("Max-Age=0"));
    }
}

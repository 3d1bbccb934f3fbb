//! Server-side sessions: the tokens stay here, the DUI only holds an opaque handle.
//!
//! A session ends at the first of: its idle timeout (no lookup for `session_idle_secs`), its absolute timeout
//! (`session_max_secs` after login), a logout, or a failed refresh. Tokens are [`openidconnect`] token types and
//! [`Secret`]s: their `Debug` is redacted and nothing here logs them. The clock is injected ([`Clock`]) so the
//! timeouts are tested without waiting.

use super::professional::Professional;
use crate::secret::Secret;
use openidconnect::{AccessToken, RefreshToken};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// The time source.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// Starts at the current time.
    pub fn new() -> Self {
        ManualClock(Mutex::new(OffsetDateTime::now_utc()))
    }

    /// Moves forward.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|_| OffsetDateTime::now_utc())
    }
}

/// The tokens of a session.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Access token.
    pub access: AccessToken,
    /// Refresh token, when the provider gave one.
    pub refresh: Option<RefreshToken>,
    /// The raw ID token (for `id_token_hint` at logout).
    pub id_token: Secret,
    /// When the access token expires (provider's `expires_in`), if known.
    pub access_expires_at: Option<OffsetDateTime>,
}

/// One logged-in professional.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub professional: Professional,
    /// `acr` of the ID token.
    pub acr: String,
    /// Tokens (never leave the daemon).
    pub tokens: Tokens,
    /// Login time.
    pub created_at: OffsetDateTime,
    /// Last use.
    pub last_used: OffsetDateTime,
}

/// Timeouts of sessions.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Without use.
    pub idle: Duration,
    /// Since login.
    pub absolute: Duration,
}

impl Session {
    /// When the session ends if unused from now on.
    pub fn expires_at(&self, t: Timeouts) -> OffsetDateTime {
        (self.last_used + t.idle).min(self.created_at + t.absolute)
    }

    /// Why it is over at `now`, if it is.
    pub fn expired(&self, now: OffsetDateTime, t: Timeouts) -> Option<&'static str> {
        if now >= self.created_at + t.absolute {
            Some("absolute timeout (psc.session_max_secs)")
        } else if now >= self.last_used + t.idle {
            Some("idle timeout (psc.session_idle_secs)")
        } else {
            None
        }
    }
}

/// The in-memory store, keyed by handle.
#[derive(Debug)]
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Session>>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Time source.
    pub clock: Arc<dyn Clock>,
}

/// A lookup's outcome.
#[derive(Debug)]
pub enum Lookup {
    /// Live (and touched).
    Live(Box<Session>),
    /// Was there but is over (now removed).
    Expired(&'static str),
    /// Unknown handle.
    Missing,
}

impl SessionStore {
    /// An empty store.
    pub fn new(timeouts: Timeouts, clock: Arc<dyn Clock>) -> Self {
        SessionStore {
            sessions: Mutex::new(HashMap::new()),
            timeouts,
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a new session and returns its handle (256 random bits, URL-safe).
    pub fn insert(&self, session: Session) -> String {
        let handle = new_handle();
        self.lock().insert(handle.clone(), session);
        handle
    }

    /// Looks up, applying the timeouts and touching a live session.
    pub fn get(&self, handle: &str) -> Lookup {
        let now = self.clock.now();
        let mut map = self.lock();
        let Some(s) = map.get_mut(handle) else {
            return Lookup::Missing;
        };
        if let Some(why) = s.expired(now, self.timeouts) {
            map.remove(handle);
            return Lookup::Expired(why);
        }
        s.last_used = now;
        Lookup::Live(Box::new(s.clone()))
    }

    /// Replaces the tokens of a live session (after a refresh).
    pub fn set_tokens(&self, handle: &str, tokens: Tokens) {
        if let Some(s) = self.lock().get_mut(handle) {
            s.tokens = tokens;
        }
    }

    /// Removes a session, returning it.
    pub fn remove(&self, handle: &str) -> Option<Session> {
        self.lock().remove(handle)
    }

    /// Drops every expired session; returns how many were dropped.
    pub fn sweep(&self) -> usize {
        let now = self.clock.now();
        let t = self.timeouts;
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, s| s.expired(now, t).is_none());
        before - map.len()
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A fresh opaque handle: 32 random bytes, base64url without padding.
pub fn new_handle() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: OffsetDateTime) -> Session {
        Session {
            professional: Professional {
                sub: "s".into(),
                ..Default::default()
            },
            acr: "eidas1".into(),
            tokens: Tokens {
                access: AccessToken::new("at-secret".into()),
                refresh: Some(RefreshToken::new("rt-secret".into())),
                id_token: Secret::new("idt-secret"),
                access_expires_at: None,
            },
            created_at: now,
            last_used: now,
        }
    }

    #[test]
    fn idle_and_absolute_timeouts_and_redacted_debug() {
        let clock = Arc::new(ManualClock::new());
        let t = Timeouts {
            idle: Duration::minutes(10),
            absolute: Duration::minutes(25),
        };
        let store = SessionStore::new(t, clock.clone());
        let h = store.insert(session(clock.now()));
        assert_eq!(h.len(), 43);
        let debug = format!("{:?}", store.remove(&h).unwrap());
        assert!(!debug.contains("secret"), "{debug}");
        let h = store.insert(session(clock.now()));
        for _ in 0..2 {
            clock.advance(Duration::minutes(9));
            assert!(matches!(store.get(&h), Lookup::Live(_)));
        }
        clock.advance(Duration::minutes(8));
        assert!(matches!(store.get(&h), Lookup::Expired(w) if w.contains("absolute")));
        assert!(matches!(store.get(&h), Lookup::Missing));
        let h = store.insert(session(clock.now()));
        clock.advance(Duration::minutes(11));
        assert!(matches!(store.get(&h), Lookup::Expired(w) if w.contains("idle")));
        store.insert(session(clock.now()));
        clock.advance(Duration::minutes(11));
        assert_eq!(store.sweep(), 1);
        assert!(store.is_empty());
    }
}

//! CIBA (OpenID Connect Client-Initiated Backchannel Authentication Core 1.0), poll mode: the login request is
//! pushed to the professional's e-CPS app; the daemon polls the token endpoint with
//! `grant_type=urn:openid:params:grant-type:ciba`, waiting `interval` seconds between polls and 5 more after each
//! `slow_down` (CIBA §7.3, RFC 8628 §3.5), until tokens, `access_denied` or `expired_token`. Success opens a session
//! exactly as the code flow does (no nonce in CIBA; the `acr` is still required).

use super::PscError;
use super::flow::Psc;
use openidconnect::core::CoreTokenResponse;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `urn:openid:params:grant-type:ciba` grant.
pub const GRANT: &str = "urn:openid:params:grant-type:ciba";

/// Answer of the back-channel authentication endpoint (CIBA §7.3).
#[derive(Debug, Clone, Deserialize)]
pub struct StartAnswer {
    /// The request id (a secret bearer of the pending login: not logged).
    pub auth_req_id: String,
    /// Seconds before it expires.
    pub expires_in: u64,
    /// Poll interval in seconds (default 5).
    #[serde(default)]
    pub interval: Option<u64>,
}

/// One poll's outcome.
#[derive(Debug)]
pub enum Poll {
    /// Tokens.
    Tokens(Box<CoreTokenResponse>),
    /// `authorization_pending`.
    Pending,
    /// `slow_down`.
    SlowDown,
    /// `access_denied`.
    Denied,
    /// `expired_token`.
    Expired,
    /// Another error.
    Failed(String),
}

/// Reads a token-endpoint answer of a CIBA poll (pure).
pub fn parse_poll(status: u16, body: &[u8]) -> Poll {
    if status == 200 {
        return match serde_json::from_slice::<CoreTokenResponse>(body) {
            Ok(t) => Poll::Tokens(Box::new(t)),
            Err(e) => Poll::Failed(format!("unreadable token answer: {e}")),
        };
    }
    #[derive(Deserialize)]
    struct E {
        error: String,
    }
    match serde_json::from_slice::<E>(body).map(|e| e.error) {
        Ok(e) if e == "authorization_pending" => Poll::Pending,
        Ok(e) if e == "slow_down" => Poll::SlowDown,
        Ok(e) if e == "access_denied" => Poll::Denied,
        Ok(e) if e == "expired_token" => Poll::Expired,
        Ok(e) => Poll::Failed(e),
        Err(_) => Poll::Failed(format!("HTTP {status}")),
    }
}

/// The wait before the next poll (pure): `slow_down` adds 5 seconds for this and every later poll.
pub fn next_interval(current: Duration, poll: &Poll) -> Duration {
    match poll {
        Poll::SlowDown => current + Duration::from_secs(5),
        _ => current,
    }
}

/// State of a back-channel login, as `GET /v1/psc/ciba/{id}` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CibaStatus {
    /// Waiting for the professional.
    Pending,
    /// Approved: a session is open.
    Approved {
        /// Session handle.
        session: String,
    },
    /// The professional refused.
    Denied,
    /// Nobody answered in time.
    Expired,
    /// Something else failed.
    Failed {
        /// Error code.
        code: String,
        /// Explanation.
        message: String,
    },
}

/// How long the outcome of a back-channel login stays readable.
const KEEP: Duration = Duration::from_secs(3600);

/// The back-channel requests of the daemon, by local id (outcomes kept for an hour).
#[derive(Debug, Default)]
pub struct CibaRequests(Mutex<HashMap<String, (CibaStatus, std::time::Instant)>>);

impl CibaRequests {
    fn set(&self, id: &str, s: CibaStatus) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|_, (_, at)| at.elapsed() < KEEP);
            m.insert(id.to_string(), (s, std::time::Instant::now()));
        }
    }

    /// Current state.
    pub fn get(&self, id: &str) -> Option<CibaStatus> {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(id).map(|(s, _)| s.clone()))
    }
}

/// What starting a back-channel login answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CibaStarted {
    /// Local id to poll `GET /v1/psc/ciba/{id}` with.
    pub id: String,
    /// Seconds before the request expires.
    pub expires_in: u64,
    /// Seconds between provider polls.
    pub interval: u64,
}

impl Psc {
    /// Pushes a login request to the professional (`login_hint` = national id) and polls in the background.
    pub async fn ciba_start(
        self: &Arc<Self>,
        login_hint: &str,
        binding_message: Option<&str>,
    ) -> Result<CibaStarted, PscError> {
        let m = self.metadata.get(&self.http).await?;
        let url = m
            .additional_metadata()
            .backchannel_authentication_endpoint
            .clone()
            .ok_or(PscError::CibaUnsupported)?;
        let token_url = m
            .token_endpoint()
            .map(|u| u.to_string())
            .ok_or_else(|| PscError::Token("no token endpoint".into()))?;
        let mut scope = vec!["openid".to_string()];
        scope.extend(
            self.settings
                .scopes
                .iter()
                .filter(|s| s.as_str() != "openid")
                .cloned(),
        );
        let mut form = vec![
            ("scope", scope.join(" ")),
            ("login_hint", login_hint.to_string()),
            ("acr_values", self.settings.acr.clone()),
        ];
        if let Some(b) = binding_message {
            form.push(("binding_message", b.to_string()));
        }
        let (status, body) = self.back_channel_post(&url, form).await?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body);
            let error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string));
            if status == 400 && error.as_deref() == Some("unknown_user_id") {
                return Err(PscError::CibaUnknownUser(text.into_owned()));
            }
            return Err(PscError::Token(format!(
                "CIBA request refused (HTTP {status}): {text}"
            )));
        }
        let start: StartAnswer = serde_json::from_slice(&body)
            .map_err(|e| PscError::Token(format!("unreadable CIBA answer: {e}")))?;
        let id = super::session::new_handle();
        let interval = start.interval.unwrap_or(5).max(1);
        self.ciba.set(&id, CibaStatus::Pending);
        let me = self.clone();
        let local = id.clone();
        let expires_in = start.expires_in;
        tokio::spawn(async move {
            let status = me.ciba_poll_loop(&token_url, start).await;
            me.ciba.set(&local, status);
        });
        Ok(CibaStarted {
            id,
            expires_in,
            interval,
        })
    }

    /// The state of a back-channel login.
    pub fn ciba_status(&self, id: &str) -> Result<CibaStatus, PscError> {
        self.ciba.get(id).ok_or(PscError::CibaNotFound)
    }

    async fn ciba_poll_loop(&self, token_url: &str, start: StartAnswer) -> CibaStatus {
        let mut wait = Duration::from_secs(start.interval.unwrap_or(5).max(1));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(start.expires_in);
        loop {
            tokio::time::sleep(wait).await;
            if tokio::time::Instant::now() > deadline + Duration::from_secs(1) {
                return CibaStatus::Expired;
            }
            let form = vec![
                ("grant_type", GRANT.to_string()),
                ("auth_req_id", start.auth_req_id.clone()),
            ];
            let poll = match self.back_channel_post(token_url, form).await {
                Ok((status, body)) => parse_poll(status, &body),
                Err(e) => {
                    tracing::warn!(error = %e, "CIBA poll failed; retrying");
                    Poll::Pending
                }
            };
            wait = next_interval(wait, &poll);
            match poll {
                Poll::Pending | Poll::SlowDown => continue,
                Poll::Denied => return CibaStatus::Denied,
                Poll::Expired => return CibaStatus::Expired,
                Poll::Failed(m) => {
                    return CibaStatus::Failed {
                        code: "psc.token_refused".into(),
                        message: m,
                    };
                }
                Poll::Tokens(t) => {
                    let opened = async {
                        let m = self.metadata.get(&self.http).await?;
                        let client = self.client(&m)?;
                        self.open_session(&client, &t, None).await
                    }
                    .await;
                    return match opened {
                        Ok(session) => CibaStatus::Approved { session },
                        Err(e) => CibaStatus::Failed {
                            code: e.code().into(),
                            message: e.to_string(),
                        },
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_answers_and_slow_down() {
        let p = parse_poll(400, br#"{"error":"slow_down"}"#);
        assert!(matches!(p, Poll::SlowDown));
        assert_eq!(
            next_interval(Duration::from_secs(2), &p),
            Duration::from_secs(7)
        );
        let p = parse_poll(400, br#"{"error":"authorization_pending"}"#);
        assert_eq!(
            next_interval(Duration::from_secs(7), &p),
            Duration::from_secs(7)
        );
        assert!(matches!(
            parse_poll(403, br#"{"error":"access_denied"}"#),
            Poll::Denied
        ));
        assert!(matches!(
            parse_poll(400, br#"{"error":"expired_token"}"#),
            Poll::Expired
        ));
        assert!(matches!(parse_poll(500, b"<html>"), Poll::Failed(_)));
        assert!(matches!(parse_poll(200, b"{}"), Poll::Failed(_)));
        let ok = br#"{"access_token":"a","token_type":"Bearer"}"#;
        assert!(matches!(parse_poll(200, ok), Poll::Tokens(_)));
    }
}

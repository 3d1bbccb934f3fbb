//! The login flow (OpenID Connect Core §3.1 authorization code, RFC 7636 PKCE S256), refresh and logout.

use super::error::from_claims_error;
use super::http::{HttpError, OidcHttp};
use super::metadata::{MetadataCache, PscMetadata};
use super::professional::Professional;
use super::session::{Clock, Lookup, Session, SessionStore, Tokens};
use super::{ClientAuth, PscError, Settings};
use crate::secret::Secret;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdTokenVerifier,
    CoreJwsSigningAlgorithm, CoreTokenResponse,
};
use openidconnect::{
    AdditionalClaims, AuthType, AuthenticationContextClass, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError,
    Scope, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// The `openidconnect` client as built from discovery.
pub type PscClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Every UserInfo claim, kept as JSON and typed by [`Professional::from_claims`].
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PscClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for PscClaims {}

/// ID token algorithms accepted (spec: RS256/ES256 through the JWKS, HS256 with the client secret).
const ALGS: [CoreJwsSigningAlgorithm; 3] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::HmacSha256,
];

/// Logins waiting for their callback, at most.
const MAX_PENDING: usize = 10_000;

struct Pending {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
    browser: String,
    return_to: String,
    started: OffsetDateTime,
}

/// What `/psc/login` answers: where to send the browser, and the cookie binding the login to it.
#[derive(Debug)]
pub struct LoginStart {
    /// The provider's authorization URL.
    pub url: String,
    /// Random value to set as a cookie (HttpOnly) and give back to [`Psc::finish_login`].
    pub browser_binding: String,
}

/// A finished login.
#[derive(Debug)]
pub struct LoginDone {
    /// Session handle for the DUI.
    pub handle: String,
    /// Where to send the browser.
    pub return_to: String,
    /// The professional's national id (or `sub`), for the audit log.
    pub professional: String,
}

/// The public view of a session (no token).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Who.
    pub professional: Professional,
    /// When the session ends if unused (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub expires_at: OffsetDateTime,
    /// Authentication level (`eidas1`).
    pub acr: String,
}

/// The PSC client with its pending logins and sessions.
pub struct Psc {
    pub(super) settings: Settings,
    pub(super) http: OidcHttp,
    pub(super) metadata: MetadataCache,
    pending: Mutex<HashMap<String, Pending>>,
    /// The sessions.
    pub sessions: SessionStore,
    pub(super) ciba: super::ciba::CibaRequests,
}

impl std::fmt::Debug for Psc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Psc")
            .field("issuer", &self.settings.issuer)
            .field("client_id", &self.settings.client_id)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

pub(super) fn token_error(
    e: RequestTokenError<
        HttpError,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> PscError {
    match e {
        RequestTokenError::Request(e) => PscError::Unavailable(e.to_string()),
        RequestTokenError::ServerResponse(r) => PscError::Token(r.to_string()),
        RequestTokenError::Parse(e, _) => PscError::Token(format!("unreadable answer: {e}")),
        RequestTokenError::Other(m) => PscError::Token(m),
    }
}

impl Psc {
    /// A client; nothing is fetched until the first login.
    pub fn new(settings: Settings, http: reqwest::Client, clock: Arc<dyn Clock>) -> Psc {
        let metadata = MetadataCache::new(
            settings.issuer.clone(),
            settings.discovery_url.clone(),
            settings.metadata_refresh,
        );
        Psc {
            sessions: SessionStore::new(settings.sessions, clock),
            settings,
            http: OidcHttp::new(http),
            metadata,
            pending: Mutex::new(HashMap::new()),
            ciba: Default::default(),
        }
    }

    /// Records every exchange with the provider (evidence reports; see [`crate::exchange`]).
    pub fn with_recorder(mut self, recorder: crate::exchange::Recorder) -> Psc {
        self.http = self.http.with_recorder(recorder);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(super) fn now(&self) -> OffsetDateTime {
        self.sessions.clock.now()
    }

    pub(super) fn client(&self, m: &PscMetadata) -> Result<PscClient, PscError> {
        let redirect = RedirectUrl::new(self.settings.redirect_uri.clone())
            .map_err(|e| PscError::Token(format!("psc.redirect_uri: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            m.clone(),
            ClientId::new(self.settings.client_id.clone()),
            self.settings
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_string())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(match self.settings.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::Post => AuthType::RequestBody,
        }))
    }

    pub(super) fn verifier<'a>(&self, client: &'a PscClient) -> CoreIdTokenVerifier<'a> {
        let clock = self.sessions.clock.clone();
        client
            .id_token_verifier()
            .set_allowed_algs(ALGS)
            .set_time_fn(move || {
                let now = clock.now();
                chrono::DateTime::from_timestamp(now.unix_timestamp(), now.nanosecond())
                    .unwrap_or_default()
            })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Step 1: checks `return_to`, prepares state, nonce and PKCE, returns the authorization URL.
    pub async fn start_login(&self, return_to: &str) -> Result<LoginStart, PscError> {
        let return_to = self.settings.return_to.check(return_to)?;
        let m = self.metadata.get(&self.http).await?;
        let client = self.client(&m)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .add_auth_context_value(AuthenticationContextClass::new(self.settings.acr.clone()));
        for s in self
            .settings
            .scopes
            .iter()
            .filter(|s| s.as_str() != "openid")
        {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.url();
        let browser = super::session::new_handle();
        let now = self.now();
        let timeout = self.settings.login_timeout;
        let mut pending = self.pending();
        pending.retain(|_, p| now - p.started < timeout);
        if pending.len() >= MAX_PENDING {
            // The login route needs no key: bound what an anonymous flood can make the daemon hold.
            return Err(PscError::Unavailable(
                "too many logins in progress; retry in a minute".into(),
            ));
        }
        pending.insert(
            state.secret().clone(),
            Pending {
                verifier,
                nonce,
                browser: browser.clone(),
                return_to: return_to.to_string(),
                started: now,
            },
        );
        Ok(LoginStart {
            url: url.to_string(),
            browser_binding: browser,
        })
    }

    /// Step 2 (the callback): checks the state against the browser, exchanges the code, verifies the ID token
    /// and its `acr`, reads UserInfo and opens a session. Returns the handle and the `return_to` URL.
    pub async fn finish_login(
        &self,
        params: &CallbackParams,
        browser_binding: Option<&str>,
    ) -> Result<LoginDone, PscError> {
        let state = params.state.as_deref().ok_or(PscError::StateMismatch)?;
        let pending = {
            let mut map = self.pending();
            match map.get(state) {
                Some(p) if Some(p.browser.as_str()) == browser_binding => map.remove(state),
                _ => None,
            }
        }
        .ok_or(PscError::StateMismatch)?;
        if self.now() - pending.started >= self.settings.login_timeout {
            return Err(PscError::StateMismatch);
        }
        // RFC 9207: when the provider names itself, it must be ours (mix-up defence).
        if let Some(iss) = &params.iss
            && iss.trim_end_matches('/') != self.settings.issuer.trim_end_matches('/')
        {
            return Err(PscError::IdToken(format!("callback from issuer {iss:?}")));
        }
        if let Some(error) = &params.error {
            return Err(PscError::ProviderRefused {
                error: error.clone(),
                description: params.error_description.clone(),
            });
        }
        let code = params
            .code
            .clone()
            .ok_or_else(|| PscError::Token("callback without code".into()))?;
        let m = self.metadata.get(&self.http).await?;
        let client = self.client(&m)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| PscError::Token(e.to_string()))?
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let handle = match self
            .open_session(&client, &token, Some(&pending.nonce))
            .await
        {
            // The provider rotated its keys since the JWKS was cached: fetch it again, verify once more.
            Err(PscError::UnknownKey) => {
                self.metadata.invalidate();
                let m = self.metadata.get(&self.http).await?;
                let client = self.client(&m)?;
                self.open_session(&client, &token, Some(&pending.nonce))
                    .await?
            }
            other => other?,
        };
        let professional = match self.sessions.get(&handle) {
            Lookup::Live(s) => s
                .professional
                .national_id
                .map_or(s.professional.sub, |n| n.value),
            _ => String::new(),
        };
        Ok(LoginDone {
            handle,
            return_to: pending.return_to,
            professional,
        })
    }

    /// Verifies the ID token of `token` (nonce when given), its `acr`, reads UserInfo, stores the session.
    pub(super) async fn open_session(
        &self,
        client: &PscClient,
        token: &CoreTokenResponse,
        nonce: Option<&Nonce>,
    ) -> Result<String, PscError> {
        let id_token = token.id_token().ok_or(PscError::MissingIdToken)?;
        let verifier = self.verifier(client);
        let claims = match nonce {
            Some(n) => id_token.claims(&verifier, n),
            None => id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        }
        .map_err(from_claims_error)?;
        let acr = claims.auth_context_ref().map(|a| a.as_str().to_string());
        if acr.as_deref() != Some(self.settings.acr.as_str()) {
            return Err(PscError::AcrRefused {
                got: acr,
                expected: self.settings.acr.clone(),
            });
        }
        let subject = claims.subject().clone();
        let professional =
            match client.user_info(token.access_token().clone(), Some(subject.clone())) {
                Ok(req) => {
                    let info: UserInfoClaims<PscClaims, CoreGenderClaim> = req
                        .request_async(&self.http)
                        .await
                        .map_err(|e| PscError::UserInfo(user_info_error(&e)))?;
                    let json = serde_json::to_value(&info)
                        .map_err(|e| PscError::UserInfo(e.to_string()))?;
                    let mut map = json.as_object().cloned().unwrap_or_default();
                    map.insert("sub".into(), subject.as_str().into());
                    Professional::from_claims(&map).map_err(PscError::UserInfo)?
                }
                Err(_) => Professional {
                    sub: subject.to_string(),
                    ..Default::default()
                },
            };
        let now = self.now();
        let tokens = Tokens {
            access: token.access_token().clone(),
            refresh: token.refresh_token().cloned(),
            id_token: Secret::new(id_token.to_string()),
            access_expires_at: token
                .expires_in()
                .and_then(|d| time::Duration::try_from(d).ok())
                .map(|d| now + d),
        };
        let session = Session {
            professional,
            acr: acr.unwrap_or_default(),
            tokens,
            created_at: now,
            last_used: now,
        };
        tracing::info!(sub = %session.professional.sub, "PSC session opened");
        Ok(self.sessions.insert(session))
    }

    /// The session behind `handle`; refreshes its tokens first when the access token is about to expire.
    pub async fn session(&self, handle: &str) -> Result<SessionView, PscError> {
        let s = match self.sessions.get(handle) {
            Lookup::Live(s) => s,
            Lookup::Expired(why) => return Err(PscError::SessionExpired(why)),
            Lookup::Missing => return Err(PscError::SessionNotFound),
        };
        let due = s
            .tokens
            .access_expires_at
            .is_some_and(|at| at - self.now() <= self.settings.refresh_margin);
        if due && let Err(e) = self.refresh(handle, &s).await {
            if e.is_transient() {
                // The provider is unreachable: keep the session, the next lookup tries again.
                tracing::warn!(error = %e, "PSC refresh failed; will retry");
            } else {
                tracing::warn!(error = %e, "PSC refresh refused; session closed");
                self.sessions.remove(handle);
                return Err(PscError::SessionExpired(
                    "the provider refused to refresh the tokens",
                ));
            }
        }
        Ok(SessionView {
            expires_at: s.expires_at(self.sessions.timeouts),
            professional: s.professional,
            acr: s.acr,
        })
    }

    /// Refreshes the tokens of a session with its refresh token (OpenID Connect Core §12).
    pub async fn refresh(&self, handle: &str, s: &Session) -> Result<(), PscError> {
        let rt = s.tokens.refresh.clone().ok_or(PscError::SessionExpired(
            "access token expired and no refresh token",
        ))?;
        let m = self.metadata.get(&self.http).await?;
        let client = self.client(&m)?;
        let token = client
            .exchange_refresh_token(&rt)
            .map_err(|e| PscError::Token(e.to_string()))?
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        let id_token = match token.id_token() {
            Some(t) => {
                let verifier = self.verifier(&client);
                let claims = t
                    .claims(&verifier, |_: Option<&Nonce>| Ok(()))
                    .map_err(from_claims_error)?;
                if claims.subject().as_str() != s.professional.sub {
                    return Err(PscError::IdToken(
                        "refreshed ID token for another subject".into(),
                    ));
                }
                Secret::new(t.to_string())
            }
            None => s.tokens.id_token.clone(),
        };
        let now = self.now();
        self.sessions.set_tokens(
            handle,
            Tokens {
                access: token.access_token().clone(),
                refresh: token.refresh_token().cloned().or(Some(rt)),
                id_token,
                access_expires_at: token
                    .expires_in()
                    .and_then(|d| time::Duration::try_from(d).ok())
                    .map(|d| now + d),
            },
        );
        Ok(())
    }

    /// Ends a session: the provider's end-session endpoint is called (back-channel, `id_token_hint`), then the
    /// session is deleted whatever the provider answered. Returns whether the provider acknowledged.
    pub async fn logout(&self, handle: &str) -> Result<bool, PscError> {
        let s = self
            .sessions
            .remove(handle)
            .ok_or(PscError::SessionNotFound)?;
        let m = self.metadata.get(&self.http).await?;
        let Some(url) = m.additional_metadata().end_session_endpoint.clone() else {
            return Ok(false);
        };
        let mut form = vec![
            ("id_token_hint", s.tokens.id_token.expose().to_string()),
            ("client_id", self.settings.client_id.clone()),
        ];
        if let Some(rt) = &s.tokens.refresh {
            form.push(("refresh_token", rt.secret().clone()));
        }
        let r = self.back_channel_post(&url, form).await;
        match r {
            Ok((status, _)) if (200..400).contains(&status) => Ok(true),
            Ok((status, _)) => {
                tracing::warn!(
                    status,
                    "PSC end-session answered an error; session deleted anyway"
                );
                Ok(false)
            }
            Err(e) => {
                tracing::warn!(error = %e, "PSC end-session unreachable; session deleted anyway");
                Ok(false)
            }
        }
    }

    /// POSTs a form to a provider endpoint with the client authentication (basic or post).
    pub(super) async fn back_channel_post(
        &self,
        url: &str,
        mut form: Vec<(&'static str, String)>,
    ) -> Result<(u16, Vec<u8>), PscError> {
        let mut req = self
            .http
            .inner()
            .post(url)
            .header("accept", "application/json");
        let secret = self
            .settings
            .client_secret
            .as_ref()
            .map(|s| s.expose().to_string());
        match (self.settings.client_auth, secret) {
            (ClientAuth::Basic, Some(secret)) => {
                use base64::Engine;
                let enc = |s: &str| {
                    openidconnect::url::form_urlencoded::byte_serialize(s.as_bytes())
                        .collect::<String>()
                };
                let raw = format!("{}:{}", enc(&self.settings.client_id), enc(&secret));
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                );
                req = req.header("authorization", value);
            }
            (ClientAuth::Post, Some(secret)) => {
                if !form.iter().any(|(k, _)| *k == "client_id") {
                    form.push(("client_id", self.settings.client_id.clone()));
                }
                form.push(("client_secret", secret));
            }
            (_, None) => {
                if !form.iter().any(|(k, _)| *k == "client_id") {
                    form.push(("client_id", self.settings.client_id.clone()));
                }
            }
        }
        let body = openidconnect::url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        self.http
            .send(
                req.header("content-type", "application/x-www-form-urlencoded")
                    .body(body),
            )
            .await
            .map_err(PscError::Unavailable)
    }
}

fn user_info_error(e: &openidconnect::UserInfoError<HttpError>) -> String {
    match e {
        openidconnect::UserInfoError::Response(status, _, m) => format!("HTTP {status}: {m}"),
        other => other.to_string(),
    }
}

/// Query of `/psc/callback` (OpenID Connect Core §3.1.2.5/§3.1.2.6).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct CallbackParams {
    /// Authorization code.
    pub code: Option<String>,
    /// The state sent.
    pub state: Option<String>,
    /// Error code when the provider refused.
    pub error: Option<String>,
    /// Its description.
    pub error_description: Option<String>,
    /// The provider's issuer (RFC 9207), checked when present.
    pub iss: Option<String>,
}

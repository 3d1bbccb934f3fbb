//! Routes and state of the PSC simulator.

use super::jwt::{self, SigningKey};
use super::professionals::{self, TestProfessional};
use super::{CLIENT_ID, CLIENT_SECRET, REALM};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Configurable behaviour (and misbehaviours) of the simulator. Every field has a default; `PUT /sim/behaviour`
/// replaces the whole set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// `acr` put in ID tokens (PSC: `eidas1`; set e.g. `eidas0` to test the refusal).
    pub acr: String,
    /// `RS256` (JWKS) or `HS256` (client secret).
    pub id_token_alg: String,
    /// Corrupt the ID token signature.
    pub bad_signature: bool,
    /// Sign HS256 ID tokens with another secret than the client's.
    pub hs256_wrong_secret: bool,
    /// Issue ID tokens that expired an hour ago.
    pub expired_id_token: bool,
    /// Put another nonce than the one requested.
    pub wrong_nonce: bool,
    /// Refuse refresh-token grants (`invalid_grant`), as after a logout elsewhere.
    pub refuse_refresh: bool,
    /// Answer UserInfo as a signed JWT (`application/jwt`) instead of JSON.
    pub userinfo_jwt: bool,
    /// Access token lifetime, seconds.
    pub access_token_secs: u64,
    /// CIBA poll interval the simulator asks for, seconds.
    pub ciba_interval_secs: u64,
    /// CIBA request lifetime, seconds.
    pub ciba_expires_secs: u64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            acr: "eidas1".into(),
            id_token_alg: "RS256".into(),
            bad_signature: false,
            hs256_wrong_secret: false,
            expired_id_token: false,
            wrong_nonce: false,
            refuse_refresh: false,
            userinfo_jwt: false,
            access_token_secs: 300,
            ciba_interval_secs: 5,
            ciba_expires_secs: 120,
        }
    }
}

struct Grant {
    professional: &'static TestProfessional,
    redirect_uri: String,
    challenge: Option<String>,
    nonce: Option<String>,
    issued: Instant,
}

#[derive(Clone, Copy, PartialEq)]
enum Decision {
    Pending,
    Approved,
    Denied,
}

struct Ciba {
    professional: &'static TestProfessional,
    decision: Decision,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
}

#[derive(Default)]
struct Tables {
    codes: HashMap<String, Grant>,
    access: HashMap<String, (&'static TestProfessional, Instant)>,
    refresh: HashMap<String, &'static TestProfessional>,
    ciba: HashMap<String, Ciba>,
}

/// The simulator's state.
pub struct SimPsc {
    key: std::sync::RwLock<Option<Arc<SigningKey>>>,
    port: AtomicU16,
    behaviour: Mutex<Behaviour>,
    tables: Mutex<Tables>,
    end_sessions: AtomicU64,
    refreshes: AtomicU64,
}

impl std::fmt::Debug for SimPsc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimPsc")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

fn random() -> String {
    B64.encode(rand::random::<[u8; 24]>())
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl SimPsc {
    /// New state. The RS256 key is generated on first use, or earlier by [`SimPsc::generate_key_in_background`]
    /// (RSA generation takes tens of milliseconds: the daemon's start-up does not wait for it).
    pub fn new() -> Result<SimPsc, String> {
        Ok(SimPsc {
            key: std::sync::RwLock::new(None),
            port: AtomicU16::new(0),
            behaviour: Mutex::new(Behaviour::default()),
            tables: Mutex::new(Tables::default()),
            end_sessions: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
        })
    }

    /// Generates the signing key on another thread, unless a request needed it first.
    pub fn generate_key_in_background(self: &Arc<Self>) {
        let me = self.clone();
        std::thread::spawn(move || {
            let _ = me.key();
        });
    }

    /// The current signing key (generated at first use).
    fn key(&self) -> Result<Arc<SigningKey>, String> {
        if let Some(k) = self.key.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            return Ok(k.clone());
        }
        let mut slot = self.key.write().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = slot.as_ref() {
            return Ok(k.clone());
        }
        let key = Arc::new(SigningKey::generate()?);
        *slot = Some(key.clone());
        Ok(key)
    }

    /// Replaces the signing key (key rotation: the JWKS then publishes only the new key).
    pub fn rotate_key(&self) -> Result<(), String> {
        let key = Arc::new(SigningKey::generate()?);
        *self.key.write().unwrap_or_else(|p| p.into_inner()) = Some(key);
        Ok(())
    }

    /// Records the bound port (URLs in discovery and tokens depend on it).
    pub fn set_port(&self, port: u16) {
        self.port.store(port, Ordering::Release);
    }

    /// The issuer URL.
    pub fn issuer(&self) -> String {
        format!(
            "https://127.0.0.1:{}{REALM}",
            self.port.load(Ordering::Acquire)
        )
    }

    /// Replaces the behaviour.
    pub fn set_behaviour(&self, b: Behaviour) {
        if let Ok(mut cur) = self.behaviour.lock() {
            *cur = b;
        }
    }

    /// The current behaviour.
    pub fn behaviour(&self) -> Behaviour {
        self.behaviour.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// The national id of the professional holding `token`, when it is an access token this simulator issued
    /// and it has not expired (the MSSanté simulator checks XOAUTH2 logins with it).
    pub fn check_access_token(&self, token: &str) -> Option<&'static str> {
        let found = self.tables().access.get(token).copied();
        found
            .filter(|(_, exp)| Instant::now() < *exp)
            .map(|(p, _)| p.national_id)
    }

    /// Issues an access token for a test professional, valid for `valid` (zero: already expired), as the token
    /// endpoint would; `None` for an unknown national id. For tests of the services that accept PSC tokens.
    pub fn issue_access_token(&self, national_id: &str, valid: Duration) -> Option<String> {
        let p = super::professionals::find(national_id)?;
        let token = random();
        self.tables()
            .access
            .insert(token.clone(), (p, Instant::now() + valid));
        Some(token)
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn discovery(&self) -> Value {
        let iss = self.issuer();
        let oidc = format!("{iss}/protocol/openid-connect");
        json!({
            "issuer": iss,
            "authorization_endpoint": format!("https://localhost:{}/auth", self.port.load(Ordering::Acquire)),
            "token_endpoint": format!("{oidc}/token"),
            "userinfo_endpoint": format!("{oidc}/userinfo"),
            "end_session_endpoint": format!("{oidc}/logout"),
            "jwks_uri": format!("{oidc}/certs"),
            "backchannel_authentication_endpoint": format!("{oidc}/ext/ciba/auth"),
            "backchannel_token_delivery_modes_supported": ["poll"],
            "grant_types_supported": ["authorization_code", "refresh_token", crate::psc::ciba::GRANT],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "HS256"],
            "userinfo_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": ["eidas1"],
            "scopes_supported": ["openid", "scope_all"],
            "claims_supported": ["sub", "SubjectNameID", "given_name", "family_name", "preferred_username",
                                 "SubjectRefPro", "SubjectOrganization", "Mode_Acces_Raison", "acr"],
        })
    }

    fn id_token(&self, p: &TestProfessional, nonce: Option<&str>) -> Result<String, String> {
        let b = self.behaviour();
        let now = now_secs();
        let (iat, exp) = if b.expired_id_token {
            (now - 7200, now - 3600)
        } else {
            (now, now + 300)
        };
        let mut claims = json!({
            "iss": self.issuer(), "sub": p.sub(), "aud": CLIENT_ID, "azp": CLIENT_ID,
            "iat": iat, "exp": exp, "auth_time": iat, "acr": b.acr,
            "SubjectNameID": p.national_id, "preferred_username": p.national_id,
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(if b.wrong_nonce {
                format!("{n}-other")
            } else {
                n.to_string()
            });
        }
        let token = if b.id_token_alg == "HS256" {
            let secret = if b.hs256_wrong_secret {
                "not-the-client-secret"
            } else {
                CLIENT_SECRET
            };
            jwt::sign_hs256(&claims, secret.as_bytes())
        } else {
            self.key()?.sign_rs256(&claims, "JWT")?
        };
        Ok(if b.bad_signature {
            jwt::corrupt(&token)
        } else {
            token
        })
    }

    fn tokens(&self, p: &'static TestProfessional, nonce: Option<&str>) -> Response {
        let id_token = match self.id_token(p, nonce) {
            Ok(t) => t,
            Err(e) => return oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
        };
        let secs = self.behaviour().access_token_secs;
        let (access, refresh) = (random(), random());
        let mut t = self.tables();
        t.access.insert(
            access.clone(),
            (p, Instant::now() + Duration::from_secs(secs)),
        );
        t.refresh.insert(refresh.clone(), p);
        drop(t);
        let body = json!({
            "access_token": access, "token_type": "Bearer", "expires_in": secs,
            "refresh_token": refresh, "id_token": id_token, "scope": "openid scope_all",
        });
        ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    openidconnect::url::form_urlencoded::parse(body)
        .into_owned()
        .collect()
}

/// Client authentication: `client_secret_basic` or `client_secret_post`.
fn client_ok(headers: &HeaderMap, f: &HashMap<String, String>) -> bool {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let (id, secret) = match basic {
        Some(pair) => {
            let Some((id, secret)) = pair.split_once(':') else {
                return false;
            };
            let dec = |s: &str| {
                openidconnect::url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            (dec(id), dec(secret))
        }
        None => (f.get("client_id").cloned(), f.get("client_secret").cloned()),
    };
    id.as_deref() == Some(CLIENT_ID) && secret.as_deref() == Some(CLIENT_SECRET)
}

/// The router.
pub fn router(state: Arc<SimPsc>) -> Router {
    let oidc = format!("{REALM}/protocol/openid-connect");
    Router::new()
        .route(
            &format!("{REALM}/.well-known/wallet-openid-configuration"),
            get(discovery),
        )
        .route(&format!("{oidc}/certs"), get(certs))
        .route("/auth", get(authorize_page).post(authorize_submit))
        .route(&format!("{oidc}/token"), post(token))
        .route(&format!("{oidc}/userinfo"), get(userinfo).post(userinfo))
        .route(
            &format!("{oidc}/logout"),
            get(end_session).post(end_session),
        )
        .route(&format!("{oidc}/ext/ciba/auth"), post(ciba_auth))
        .route("/sim/behaviour", get(get_behaviour).put(put_behaviour))
        .route("/sim/ciba/decide", post(ciba_decide))
        .route("/sim/stats", get(stats))
        .route("/sim/rotate-key", post(rotate_key))
        .with_state(state)
}

async fn discovery(State(s): State<Arc<SimPsc>>) -> Json<Value> {
    Json(s.discovery())
}

async fn certs(State(s): State<Arc<SimPsc>>) -> Response {
    match s.key() {
        Ok(k) => Json(k.jwks()).into_response(),
        Err(e) => oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const CARRIED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "acr_values",
    "response_type",
];

async fn authorize_page(Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (
            StatusCode::BAD_REQUEST,
            Html("<p>Unknown client_id.</p>".to_string()),
        )
            .into_response();
    }
    if q.get("response_type").map(String::as_str) != Some("code") || !q.contains_key("redirect_uri")
    {
        return (
            StatusCode::BAD_REQUEST,
            Html("<p>response_type=code and redirect_uri required.</p>".to_string()),
        )
            .into_response();
    }
    let hidden: String = CARRIED
        .iter()
        .filter_map(|k| {
            q.get(*k).map(|v| {
                format!(
                    "<input type=\"hidden\" name=\"{k}\" value=\"{}\">\n",
                    esc(v)
                )
            })
        })
        .collect();
    let choices: String = professionals::PROFESSIONALS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "<label><input type=\"radio\" name=\"professional\" value=\"{}\"{}> {} {} — {} ({})</label><br>\n",
                p.national_id,
                if i == 0 { " checked" } else { "" },
                esc(p.given_name),
                esc(p.family_name),
                esc(p.label),
                p.national_id
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Pro Santé Connect (simulateur)</title></head>\
         <body><h1>Pro Santé Connect — simulateur</h1><p>Choisissez le professionnel qui se connecte avec sa e-CPS.</p>\
         <form method=\"post\" action=\"/auth\">\n{hidden}{choices}\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Se connecter</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Refuser</button></form></body></html>"
    ))
    .into_response()
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = match openidconnect::url::Url::parse(base) {
        Ok(u) => u,
        Err(_) => return base.to_string(),
    };
    url.query_pairs_mut()
        .extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()));
    url.to_string()
}

async fn authorize_submit(State(s): State<Arc<SimPsc>>, body: Bytes) -> Response {
    let f = form(&body);
    let (Some(redirect), Some(CLIENT_ID)) = (
        f.get("redirect_uri"),
        f.get("client_id").map(String::as_str),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            "client_id and redirect_uri required",
        )
            .into_response();
    };
    let state = f.get("state").cloned().unwrap_or_default();
    if f.get("decision").map(String::as_str) != Some("approve") {
        return Redirect::to(&with_query(
            redirect,
            &[("error", "access_denied"), ("state", &state)],
        ))
        .into_response();
    }
    let Some(p) = f.get("professional").and_then(|id| professionals::find(id)) else {
        return (StatusCode::BAD_REQUEST, "unknown professional").into_response();
    };
    let challenge = f.get("code_challenge").cloned();
    if challenge.is_some() && f.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return Redirect::to(&with_query(
            redirect,
            &[
                ("error", "invalid_request"),
                ("error_description", "S256 only"),
                ("state", &state),
            ],
        ))
        .into_response();
    }
    let code = random();
    s.tables().codes.insert(
        code.clone(),
        Grant {
            professional: p,
            redirect_uri: redirect.clone(),
            challenge,
            nonce: f.get("nonce").cloned(),
            issued: Instant::now(),
        },
    );
    Redirect::to(&with_query(redirect, &[("code", &code), ("state", &state)])).into_response()
}

async fn token(State(s): State<Arc<SimPsc>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    if !client_ok(&headers, &f) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let grant = f.get("code").and_then(|c| s.tables().codes.remove(c));
            let Some(g) = grant.filter(|g| g.issued.elapsed() < Duration::from_secs(60)) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown, used or expired code",
                );
            };
            if f.get("redirect_uri") != Some(&g.redirect_uri) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri mismatch",
                );
            }
            if let Some(ch) = &g.challenge {
                let verifier = f
                    .get("code_verifier")
                    .map(String::as_str)
                    .unwrap_or_default();
                let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
                if &B64.encode(digest.as_ref()) != ch {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "PKCE verification failed",
                    );
                }
            }
            s.tokens(g.professional, g.nonce.as_deref())
        }
        Some("refresh_token") => {
            let p = f
                .get("refresh_token")
                .and_then(|r| s.tables().refresh.remove(r))
                .filter(|_| !s.behaviour().refuse_refresh);
            let Some(p) = p else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown refresh token",
                );
            };
            s.refreshes.fetch_add(1, Ordering::Relaxed);
            s.tokens(p, None)
        }
        Some(crate::psc::ciba::GRANT) => ciba_poll(
            &s,
            f.get("auth_req_id").map(String::as_str).unwrap_or_default(),
        ),
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type not supported",
        ),
    }
}

async fn userinfo(State(s): State<Arc<SimPsc>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let found = token.and_then(|t| s.tables().access.get(t).copied());
    let Some((p, _)) = found.filter(|(_, exp)| Instant::now() < *exp) else {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response();
    };
    let mut claims = p.claims();
    claims["acr"] = json!(s.behaviour().acr);
    if s.behaviour().userinfo_jwt {
        claims["iss"] = json!(s.issuer());
        claims["aud"] = json!(CLIENT_ID);
        match s.key().and_then(|k| k.sign_rs256(&claims, "JWT")) {
            Ok(jwt) => ([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response(),
            Err(e) => oauth_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
        }
    } else {
        Json(claims).into_response()
    }
}

async fn end_session(
    State(s): State<Arc<SimPsc>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut f = form(&body);
    f.extend(q);
    if let Some(rt) = f.get("refresh_token") {
        s.tables().refresh.remove(rt);
    }
    s.end_sessions.fetch_add(1, Ordering::Relaxed);
    match f.get("post_logout_redirect_uri") {
        Some(u) => Redirect::to(&with_query(
            u,
            &[("state", f.get("state").map(String::as_str).unwrap_or(""))],
        ))
        .into_response(),
        None => Html("<p>Déconnecté.</p>").into_response(),
    }
}

async fn ciba_auth(State(s): State<Arc<SimPsc>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    if !client_ok(&headers, &f) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    if !f
        .get("scope")
        .is_some_and(|sc| sc.split(' ').any(|x| x == "openid"))
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "openid scope required",
        );
    }
    let Some(p) = f.get("login_hint").and_then(|h| professionals::find(h)) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unknown_user_id",
            "login_hint is not a known professional",
        );
    };
    let b = s.behaviour();
    let id = random();
    s.tables().ciba.insert(
        id.clone(),
        Ciba {
            professional: p,
            decision: Decision::Pending,
            expires: Instant::now() + Duration::from_secs(b.ciba_expires_secs),
            interval: Duration::from_secs(b.ciba_interval_secs),
            last_poll: None,
        },
    );
    Json(json!({"auth_req_id": id, "expires_in": b.ciba_expires_secs, "interval": b.ciba_interval_secs})).into_response()
}

fn ciba_poll(s: &SimPsc, id: &str) -> Response {
    let now = Instant::now();
    let mut t = s.tables();
    let Some(c) = t.ciba.get_mut(id) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown auth_req_id",
        );
    };
    if now >= c.expires {
        t.ciba.remove(id);
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "expired_token",
            "the request expired",
        );
    }
    let too_soon = c
        .last_poll
        .is_some_and(|l| now < l + c.interval.mul_f32(0.8));
    c.last_poll = Some(now);
    if too_soon {
        return oauth_error(StatusCode::BAD_REQUEST, "slow_down", "polling too fast");
    }
    match c.decision {
        Decision::Pending => oauth_error(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "waiting for the professional",
        ),
        Decision::Denied => {
            t.ciba.remove(id);
            oauth_error(
                StatusCode::BAD_REQUEST,
                "access_denied",
                "the professional refused",
            )
        }
        Decision::Approved => {
            let p = c.professional;
            t.ciba.remove(id);
            drop(t);
            s.tokens(p, None)
        }
    }
}

async fn ciba_decide(State(s): State<Arc<SimPsc>>, body: Bytes) -> Response {
    let f = form(&body);
    let decision = match f.get("decision").map(String::as_str) {
        Some("approve") => Decision::Approved,
        Some("deny") => Decision::Denied,
        _ => return (StatusCode::BAD_REQUEST, "decision=approve|deny").into_response(),
    };
    let hint = f.get("login_hint").cloned().unwrap_or_default();
    let mut n = 0;
    for c in s.tables().ciba.values_mut() {
        if c.professional.national_id == hint && c.decision == Decision::Pending {
            c.decision = decision;
            n += 1;
        }
    }
    Json(json!({"decided": n})).into_response()
}

async fn get_behaviour(State(s): State<Arc<SimPsc>>) -> Json<Behaviour> {
    Json(s.behaviour())
}

async fn put_behaviour(State(s): State<Arc<SimPsc>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Behaviour>(&body) {
        Ok(b) => {
            s.set_behaviour(b.clone());
            Json(b).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn stats(State(s): State<Arc<SimPsc>>) -> Json<Value> {
    Json(json!({
        "end_session": s.end_sessions.load(Ordering::Relaxed),
        "refresh": s.refreshes.load(Ordering::Relaxed),
    }))
}

async fn rotate_key(State(s): State<Arc<SimPsc>>) -> Response {
    match s.rotate_key() {
        Ok(()) => Json(json!({"kid": s.key().map(|k| k.kid.clone()).ok()})).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

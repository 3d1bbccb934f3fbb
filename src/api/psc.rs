//! Pro Santé Connect routes. The DUI opens `/v1/psc/login` in the professional's browser (no bearer: a browser
//! has no API key); the provider sends the browser back to `/v1/psc/callback`, which redirects to the DUI's
//! `return_to` with `?session=<handle>`. The DUI then reads the professional with its API key. Tokens never leave
//! the daemon. Errors of the browser routes are JSON `{code, message}` like every other route.

use super::AppState;
use super::context::Ctx;
use super::error::ApiError;
use super::json::ApiJson;
use crate::psc::ciba::{CibaStarted, CibaStatus};
use crate::psc::flow::CallbackParams;
use crate::psc::{Psc, PscError, SessionView};
use crate::store::audit::AuditEntry;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Cookie binding a login to the browser that started it.
const COOKIE: &str = "segur_psc_login";

impl From<PscError> for ApiError {
    fn from(e: PscError) -> Self {
        let status = match &e {
            PscError::NotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            PscError::Unavailable(_)
            | PscError::Discovery { .. }
            | PscError::Token(_)
            | PscError::MissingIdToken
            | PscError::UserInfo(_) => StatusCode::BAD_GATEWAY,
            PscError::ReturnToRefused(_) | PscError::StateMismatch => StatusCode::BAD_REQUEST,
            PscError::ProviderRefused { .. } => StatusCode::FORBIDDEN,
            PscError::NonceMismatch
            | PscError::BadSignature(_)
            | PscError::UnknownKey
            | PscError::Expired(_)
            | PscError::IdToken(_)
            | PscError::AcrRefused { .. } => StatusCode::UNAUTHORIZED,
            PscError::SessionNotFound | PscError::CibaNotFound => StatusCode::NOT_FOUND,
            PscError::SessionExpired(_) => StatusCode::GONE,
            PscError::CibaUnsupported => StatusCode::NOT_IMPLEMENTED,
            PscError::CibaUnknownUser(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        if status.is_server_error() {
            tracing::warn!(code = e.code(), error = %e, "PSC");
        } else {
            tracing::info!(code = e.code(), error = %e, "PSC refused");
        }
        ApiError::new(status, e.code(), e.to_string())
    }
}

fn psc(state: &AppState) -> Result<&Arc<Psc>, ApiError> {
    state
        .psc
        .as_ref()
        .ok_or_else(|| PscError::NotConfigured.into())
}

/// Browser routes (no API key).
pub(super) fn public() -> Router<AppState> {
    Router::new()
        .route("/v1/psc/login", get(login))
        .route("/v1/psc/callback", get(callback))
}

/// Routes under API-key auth.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/psc/sessions/{handle}", get(session))
        .route("/v1/psc/sessions/{handle}/logout", post(logout))
        .route("/v1/psc/ciba", post(ciba_start))
        .route("/v1/psc/ciba/{id}", get(ciba_status))
}

/// `/v1/psc/login` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LoginQuery {
    /// Where the browser goes after login (`?session=<handle>` is added); must match `psc.return_to_allow`.
    pub return_to: String,
}

/// Starts a login: redirects the browser to Pro Santé Connect.
#[utoipa::path(get, path = "/v1/psc/login", params(LoginQuery), responses(
    (status = 302, description = "To the provider's authorization page; sets the login cookie"),
    (status = 400, description = "`psc.return_to_refused`", body = ApiError),
    (status = 502, body = ApiError), (status = 503, body = ApiError)
))]
pub(super) async fn login(
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    let psc = psc(&state)?;
    let start = psc.start_login(&q.return_to).await?;
    let max_age = psc.settings().login_timeout.whole_seconds();
    let cookie = format!(
        "{COOKIE}={}; {}; Max-Age={max_age}",
        start.browser_binding,
        cookie_attributes(psc)
    );
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, start.url),
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response())
}

/// Scope of the login cookie: the callback's path as the browser sees it (the redirect URI may sit behind a
/// reverse proxy prefix), `Secure` when the callback is HTTPS, not sent on cross-site subrequests.
fn cookie_attributes(psc: &Psc) -> String {
    let url = openidconnect::url::Url::parse(&psc.settings().redirect_uri).ok();
    let path = url.as_ref().map_or("/", |u| u.path());
    let secure = url.as_ref().is_some_and(|u| u.scheme() == "https");
    format!(
        "Path={path}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The provider's redirect: finishes the login and sends the browser back to `return_to?session=<handle>`.
#[utoipa::path(get, path = "/v1/psc/callback", params(CallbackParams), responses(
    (status = 302, description = "To `return_to` with `session=<handle>`"),
    (status = 400, description = "`psc.state_mismatch`", body = ApiError),
    (status = 401, description = "`psc.nonce_mismatch`, `psc.id_token_signature`, `psc.id_token_expired`, `psc.id_token_invalid`, `psc.acr_refused`", body = ApiError),
    (status = 403, description = "`psc.provider_refused`", body = ApiError),
    (status = 502, body = ApiError)
))]
pub(super) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackParams>,
) -> Result<Response, ApiError> {
    let psc = psc(&state)?;
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let entry = |outcome: &str, subject: Option<String>| AuditEntry {
        actor: "psc:browser".into(),
        action: "psc.login".into(),
        subject,
        outcome: outcome.into(),
        correlation_id: request_id.clone(),
        details: None,
    };
    let done = match psc.finish_login(&q, cookie(&headers).as_deref()).await {
        Ok(done) => done,
        Err(e) => {
            state.audit.record(entry(e.code(), None)).await;
            return Err(e.into());
        }
    };
    state
        .audit
        .record(entry("ok", Some(done.professional.clone())))
        .await;
    let mut url = openidconnect::url::Url::parse(&done.return_to)
        .map_err(|_| PscError::ReturnToRefused(done.return_to.clone()))?;
    url.query_pairs_mut().append_pair("session", &done.handle);
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, url.to_string()),
            (
                header::SET_COOKIE,
                format!("{COOKIE}=; {}; Max-Age=0", cookie_attributes(psc)),
            ),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response())
}

/// The professional of a session (refreshing its tokens when due).
#[utoipa::path(get, path = "/v1/psc/sessions/{handle}", security(("api_key" = [])),
    params(("handle" = String, Path, description = "Session handle from the callback")),
    responses(
        (status = 200, body = SessionView),
        (status = 404, description = "`psc.session_not_found`", body = ApiError),
        (status = 410, description = "`psc.session_expired`", body = ApiError),
        (status = 401, body = ApiError)
))]
pub(super) async fn session(
    State(state): State<AppState>,
    Path(handle): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(psc(&state)?.session(&handle).await?))
}

/// Ends a session (the provider's end-session endpoint is called).
#[utoipa::path(post, path = "/v1/psc/sessions/{handle}/logout", security(("api_key" = [])),
    params(("handle" = String, Path, description = "Session handle")),
    responses(
        (status = 200, description = "`{\"logged_out\": true, \"provider_acknowledged\": bool}`"),
        (status = 404, body = ApiError), (status = 401, body = ApiError)
))]
pub(super) async fn logout(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(handle): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let ack = psc(&state)?.logout(&handle).await?;
    state
        .audit
        .record(ctx.audit("psc.logout", None, "ok", None))
        .await;
    Ok(Json(
        json!({"logged_out": true, "provider_acknowledged": ack}),
    ))
}

/// `POST /v1/psc/ciba` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CibaBody {
    /// The professional's national id (`SubjectNameID`, e.g. `8` + RPPS).
    pub login_hint: String,
    /// Short text shown in the e-CPS app.
    #[serde(default)]
    pub binding_message: Option<String>,
}

/// Starts a back-channel login (push to the professional's e-CPS app); poll `GET /v1/psc/ciba/{id}`.
#[utoipa::path(post, path = "/v1/psc/ciba", security(("api_key" = [])), request_body = CibaBody, responses(
    (status = 202, body = CibaStarted), (status = 502, body = ApiError), (status = 501, body = ApiError),
    (status = 401, body = ApiError), (status = 422, body = ApiError)
))]
pub(super) async fn ciba_start(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<CibaBody>,
) -> Result<(StatusCode, Json<CibaStarted>), ApiError> {
    let started = psc(&state)?
        .ciba_start(&body.login_hint, body.binding_message.as_deref())
        .await;
    let outcome = started.as_ref().map_or_else(|e| e.code(), |_| "ok");
    let entry = ctx.audit("psc.ciba", Some(body.login_hint.clone()), outcome, None);
    state.audit.record(entry).await;
    let started = started?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

/// State of a back-channel login: `pending`, `approved` (with the session handle), `denied`, `expired`, `failed`.
#[utoipa::path(get, path = "/v1/psc/ciba/{id}", security(("api_key" = [])),
    params(("id" = String, Path, description = "Id from POST /v1/psc/ciba")),
    responses((status = 200, body = CibaStatus), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub(super) async fn ciba_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CibaStatus>, ApiError> {
    Ok(Json(psc(&state)?.ciba_status(&id)?))
}

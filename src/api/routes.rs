//! Route handlers of the foundation and the OpenAPI document.

use super::error::ApiError;
use super::json::ApiJson;
use super::{AppState, WatchedCert};
use crate::pki::{CertInfo, Expiry};
use crate::sim::SimInfo;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use utoipa::OpenApi;

/// Routes without authentication.
pub(super) fn public() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(super::psc::public())
}

/// `/v1` routes (the caller adds the API-key layer).
pub(super) fn v1() -> Router<AppState> {
    Router::new()
        .route("/v1/sandbox", get(sandbox))
        .route("/v1/certs/inspect", post(inspect_cert))
        .merge(super::ins::routes())
        .merge(super::finess::routes())
        .merge(super::psc::routes())
        .merge(super::dmp::routes())
        .merge(super::mss::routes())
        .merge(super::mss_inbox::routes())
        .merge(super::jobs::routes())
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "segur-gateway local API", description = "Ségur numérique médico-social gateway: INSi, Pro Santé Connect, FINESS, DMP, MSSanté."),
    paths(
        health, metrics, openapi, sandbox, inspect_cert,
        super::ins::search, super::ins::search_vitale, super::ins::create_person, super::ins::get_person,
        super::ins::patch_person, super::ins::person_insi, super::ins::identity_document,
        super::finess::lookup, super::finess::search,
        super::psc::login, super::psc::callback, super::psc::session, super::psc::logout,
        super::psc::ciba_start, super::psc::ciba_status,
        super::mss::send, super::mss::get_message, super::mss_inbox::list, super::mss_inbox::one,
        super::mss_inbox::ack,
        super::dmp::create_pps, super::dmp::get_document, super::dmp::access, super::dmp::send,
        super::jobs::get_job, super::jobs::list, super::jobs::retry, super::jobs::cancel,
    ),
    components(schemas(
        Health, Check, SandboxAnswer, SimInfo, InspectRequest, ApiError,
        super::ins::TraitsBody, super::ins::VitaleBody, super::ins::DocumentBody, crate::ins::person::PersonPatch,
        super::psc::CibaBody, crate::psc::SessionView, crate::psc::Professional, crate::psc::Exercice,
        crate::psc::Activity, crate::psc::NationalId, crate::psc::NationalIdKind, crate::psc::ciba::CibaStarted,
        crate::psc::ciba::CibaStatus,
        super::dmp::PpsBody, super::dmp::PpsCreated, super::dmp::AccessBody, super::dmp::SendBody,
        crate::dmp::answer::AccessResult, super::mss::SendBody, super::mss_inbox::AckBody,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// `/health` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// One entry per check.
    pub checks: BTreeMap<String, Check>,
}

/// One health check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `ok`, `warning` or `error`.
    pub status: &'static str,
    /// What was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn cert_check(c: &WatchedCert, windows: (u32, u32)) -> (Check, Option<i64>) {
    let now = time::OffsetDateTime::now_utc();
    let subject = c
        .info
        .common_name
        .clone()
        .unwrap_or_else(|| c.info.subject.clone());
    let (status, message, days) = match c.info.expiry(now, windows.0, windows.1) {
        Expiry::Valid { days_left } => (
            "ok",
            format!("{subject}: {days_left} days left"),
            Some(days_left),
        ),
        Expiry::Warning { days_left } => (
            "warning",
            format!("{subject} expires in {days_left} days: order its renewal (segur certs csr)"),
            Some(days_left),
        ),
        Expiry::Critical { days_left } => (
            "error",
            format!("{subject} expires in {days_left} days: renew it now"),
            Some(days_left),
        ),
        Expiry::Expired => ("error", format!("{subject} has expired"), Some(0)),
        Expiry::NotYetValid => ("error", format!("{subject} is not valid yet"), None),
    };
    (
        Check {
            status,
            message: Some(message),
        },
        days,
    )
}

/// Liveness and readiness with details.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, description = "Up: `ok`, or `degraded` when a check warns or fails", body = Health),
    (status = 503, description = "The store does not answer", body = Health)
))]
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let mut checks = BTreeMap::new();
    let store_ok = state.store.ping().await.is_ok();
    checks.insert(
        "store".to_string(),
        Check {
            status: if store_ok { "ok" } else { "error" },
            message: (!store_ok).then(|| "the store does not answer".to_string()),
        },
    );
    for c in &state.certs {
        let (check, days) = cert_check(c, state.expiry_windows);
        if let Some(d) = days {
            state
                .metrics
                .cert_days_left
                .get_or_create(&super::metrics::CertLabels {
                    role: c.role.clone(),
                })
                .set(d);
        }
        checks.insert(format!("certificate:{}", c.role), check);
    }
    for (service, n) in state.outbox.degraded() {
        checks.insert(
            format!("service:{service}"),
            Check {
                status: "warning",
                message: Some(format!(
                    "the last {n} attempts to {service} failed with transient errors (jobs are retried)"
                )),
            },
        );
    }
    if let Some(sims) = &state.sandbox {
        checks.insert(
            "sandbox".to_string(),
            Check {
                status: "ok",
                message: Some(format!("{} simulator(s) running", sims.len())),
            },
        );
    }
    let degraded = checks.values().any(|c| c.status != "ok");
    let body = Health {
        status: if degraded { "degraded" } else { "ok" },
        checks,
    };
    let code = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.job_counts().await {
        Ok(counts) => state.metrics.set_queue_depth(&counts),
        Err(e) => tracing::warn!(error = %e, "queue depth not read"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3 document")))]
async fn openapi() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// `GET /v1/sandbox` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SandboxAnswer {
    /// True when the daemon runs the sandbox.
    pub enabled: bool,
    /// Running simulators.
    pub simulators: Vec<SimInfo>,
    /// Test certificate files (relative to the repository) to use with other clients, by role.
    #[schema(value_type = Object)]
    pub certificates: Value,
}

/// Running simulators and the test certificates to reach them.
#[utoipa::path(get, path = "/v1/sandbox", security(("api_key" = [])), responses(
    (status = 200, body = SandboxAnswer), (status = 401, body = ApiError)
))]
async fn sandbox(State(state): State<AppState>) -> Json<SandboxAnswer> {
    let files: serde_json::Map<String, Value> = crate::pki::testpki::FILES
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    Json(SandboxAnswer {
        enabled: state.sandbox.is_some(),
        simulators: state.sandbox.clone().unwrap_or_default(),
        certificates: json!({
            "files": files,
            "pkcs12_password": crate::pki::generate::TEST_P12_PASSWORD,
            "note": "test PKI shaped like IGC Santé TEST; simulators require a client certificate from TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS",
        }),
    })
}

/// `POST /v1/certs/inspect` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectRequest {
    /// One PEM certificate (a chain: the first is inspected).
    pub pem: String,
}

/// What a certificate says: subject, structure id (`OU`), usages, validity and expiry state.
#[utoipa::path(post, path = "/v1/certs/inspect", security(("api_key" = [])), request_body = InspectRequest, responses(
    (status = 200, description = "Certificate details"),
    (status = 400, body = ApiError), (status = 413, body = ApiError), (status = 422, body = ApiError)
))]
async fn inspect_cert(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<InspectRequest>,
) -> Result<Json<Value>, ApiError> {
    let certs = crate::pki::identity::parse_pem_certs(req.pem.as_bytes(), "pem").map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "certs.invalid",
            e.to_string(),
        )
    })?;
    let info = CertInfo::from_der(&certs[0]).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "certs.invalid",
            e.to_string(),
        )
    })?;
    let expiry = info.expiry(
        time::OffsetDateTime::now_utc(),
        state.expiry_windows.0,
        state.expiry_windows.1,
    );
    Ok(Json(json!({
        "certificate": info,
        "structure_id": info.structure_id(),
        "expiry": expiry,
    })))
}

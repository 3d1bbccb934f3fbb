//! The local HTTP API the DUI calls (axum), documented as OpenAPI 3 (utoipa) at `/openapi.json`.
//!
//! - Loopback by default (`127.0.0.1:8088`); another address needs `api.allow_remote = true` and TLS.
//! - Every `/v1/*` route needs `Authorization: Bearer <API key>` ([`auth`]); `/health`, `/metrics` and
//!   `/openapi.json` do not.
//! - Every error is JSON `{"code", "message", "details"}` ([`error::ApiError`]), including unknown routes (404),
//!   wrong methods (405), bad JSON (400 with line/column), bad query parameters (400 naming the parameter),
//!   oversize bodies (413) and timeouts (503).
//! - Every answer carries `X-Request-Id` (the caller's, or a new UUID), which also goes to the audit log.

pub mod auth;
pub mod context;
pub mod dmp;
pub mod error;
pub mod finess;
mod ins;
pub mod jobs;
pub mod json;
pub mod metrics;
pub mod mss;
pub mod mss_inbox;
pub mod mss_reader;
mod psc;
pub mod query;
mod routes;

pub use error::ApiError;
pub use finess::finess_json;
pub use routes::ApiDoc;

use crate::pki::CertInfo;
use crate::sim::SimInfo;
use crate::store::Store;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// A certificate the daemon watches for expiry.
#[derive(Debug, Clone)]
pub struct WatchedCert {
    /// Role (`auth_cli`, `sign`, `sandbox:insi-auto`…).
    pub role: String,
    /// The certificate.
    pub info: CertInfo,
}

/// What handlers share.
#[derive(Debug)]
pub struct Shared {
    /// The store.
    pub store: Store,
    /// FINESS index (shared with the sandbox FHIR simulator).
    pub finess: Arc<finess::FinessState>,
    /// Annuaire Santé FHIR client for online FINESS lookups (configured API, or the sandbox simulator).
    pub annuaire: Option<segur_annuaire::AnnuaireClient>,
    /// Persons and identity statuses.
    pub persons: crate::ins::person::Persons,
    /// INSi client (configured endpoint or the sandbox simulator).
    pub insi: Option<crate::ins::client::InsiClient>,
    /// Pro Santé Connect client and sessions (configured realm or the sandbox provider).
    pub psc: Option<Arc<crate::psc::Psc>>,
    /// DMP client and document settings.
    pub dmp: dmp::DmpState,
    /// MSSanté transport and sending rules.
    pub mss: mss::MssState,
    /// The group-committing audit writer.
    pub audit: crate::store::audit::AuditLog,
    /// The durable outbox (DMP pushes, MSSanté messages).
    pub outbox: crate::outbox::Outbox,
    /// API keys.
    pub keys: auth::Keys,
    /// Metrics.
    pub metrics: metrics::Metrics,
    /// Certificates watched by `/health`.
    pub certs: Vec<WatchedCert>,
    /// Warning and error windows in days.
    pub expiry_windows: (u32, u32),
    /// Running simulators, in sandbox mode.
    pub sandbox: Option<Vec<SimInfo>>,
    /// Per-request deadline.
    pub request_timeout: Duration,
    /// Largest body.
    pub body_limit: usize,
}

/// Handler state.
pub type AppState = Arc<Shared>;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole router with its layers.
pub fn router(state: AppState) -> Router {
    let v1 = routes::v1().route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_key,
    ));
    Router::new()
        .merge(routes::public())
        .merge(v1)
        .route_layer(middleware::from_fn_with_state(state.clone(), observe))
        .fallback(|| async { ApiError::no_route() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "route.method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(state.body_limit))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Deadline, metrics and a trace line per request.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let response = match tokio::time::timeout(state.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "request.timeout",
            format!(
                "the request took longer than {} s (api.request_timeout_secs)",
                state.request_timeout.as_secs()
            ),
        )
        .into_response(),
    };
    let status = response.status().as_u16();
    let elapsed = start.elapsed();
    state
        .metrics
        .requests
        .get_or_create(&metrics::RequestLabels {
            method: method.clone(),
            route: route.clone(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&metrics::RouteLabels {
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    tracing::debug!(%method, %route, status, elapsed_ms = elapsed.as_secs_f64() * 1e3, "request");
    response
}

//! Outbox jobs ([`crate::outbox`]): read, list, retry, cancel; and the `Idempotency-Key` rule of every `POST` that
//! creates a job.
//!
//! - `GET /v1/jobs/{id}` → `{"job_id", "kind", "status", "result", "attempts", "max_attempts", "next_at",
//!   "created_at", "updated_at", "document_id"?}`; `status` is `queued`, `sending`, `done`, `failed` or
//!   `cancelled`; `result` is the success result or the last error (`{"error": {"code", "message",
//!   "transient"}}`), `null` before the first attempt ends.
//! - `GET /v1/jobs?status=&limit=` → `{"jobs": [...]}` newest first (limit 1–1000, default 100).
//! - `POST /v1/jobs/{id}/retry`: a `failed` or `cancelled` job is queued again with a fresh attempt budget (the
//!   same ids are sent again, so a document the DMP already holds is recognised); 409 `job.not_retryable`.
//! - `POST /v1/jobs/{id}/cancel`: a `queued` job (also one waiting for a retry) is `cancelled`; 409
//!   `job.not_cancellable` otherwise (a job being sent cannot be called back).
//!
//! `Idempotency-Key` (1–255 visible ASCII characters, else 400 `idempotency.invalid_key`): per caller, the same
//! key with the same request gives the same job (same 202 answer); with another request 409
//! `idempotency.key_reused`. Keys are kept as long as their job.

use super::AppState;
use super::context::Ctx;
use super::error::ApiError;
use super::query::ApiQuery;
use crate::outbox::{EnqueueError, Submit};
use crate::store::StoreError;
use crate::store::outbox::{Enqueued, JobRow};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The routes (under API-key auth).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/jobs", get(list))
        .route("/v1/jobs/{id}", get(get_job))
        .route("/v1/jobs/{id}/retry", post(retry))
        .route("/v1/jobs/{id}/cancel", post(cancel))
}

/// The `Idempotency-Key` of a request, checked.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "idempotency.invalid_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
    };
    let s = v.to_str().map_err(|_| bad())?;
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(s.to_string()))
}

/// 409: the Idempotency-Key came with another request before.
pub(super) fn key_reused() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "idempotency.key_reused",
        "this Idempotency-Key was already used with another request",
    )
}

/// Creates a job for a request (`route` + canonical JSON `body` are what "same request" compares) and gives the
/// 202 answer; the job is durably committed before this returns.
pub async fn create(
    state: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    route: &str,
    body: &Value,
    mut submit: Submit,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let Some(key) = idempotency_key(headers)? {
        let request = format!("{route}\n{body}").into_bytes();
        submit.idempotency = Some((ctx.actor.clone(), key, request));
    }
    let r = state.outbox.enqueue(submit).await.map_err(|e| match e {
        EnqueueError::KeyReused => key_reused(),
        EnqueueError::UnknownKind(k) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "job.kind_unavailable",
            format!("this daemon cannot send jobs of kind {k}"),
        ),
        EnqueueError::Store(e) => e.into(),
    })?;
    let (id, replayed) = match r {
        Enqueued::New(id) => (id, false),
        Enqueued::Existing(id) => (id, true),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"job_id": id, "idempotent_replay": replayed})),
    ))
}

fn view(j: JobRow) -> Value {
    let mut v = json!({
        "job_id": j.id, "kind": j.kind, "status": j.status, "result": j.result.unwrap_or(Value::Null),
        "attempts": j.attempts, "max_attempts": j.max_attempts, "next_at": j.next_at,
        "created_at": j.created_at, "updated_at": j.updated_at,
    });
    if let Some(d) = j.payload.get("document_id") {
        v["document_id"] = d.clone();
    }
    v
}

fn job_error(e: StoreError, conflict_code: &str) -> ApiError {
    match e {
        StoreError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "job.not_found", m),
        StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, conflict_code, m),
        other => other.into(),
    }
}

/// A job.
#[utoipa::path(get, path = "/v1/jobs/{id}", security(("api_key" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "`{\"job_id\", \"kind\", \"status\", \"result\", \"attempts\"…}`"),
        (status = 404, body = ApiError)))]
pub(super) async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let j = state
        .store
        .job(&id)
        .await
        .map_err(|e| job_error(e, "job.conflict"))?;
    Ok(Json(view(j)))
}

/// `GET /v1/jobs` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only jobs in this status.
    #[serde(default)]
    pub status: Option<String>,
    /// At most this many (1–1000, default 100).
    #[serde(default)]
    pub limit: Option<i64>,
}

const STATUSES: [&str; 5] = ["queued", "sending", "done", "failed", "cancelled"];

/// Jobs, newest first.
#[utoipa::path(get, path = "/v1/jobs", security(("api_key" = [])),
    params(("status" = Option<String>, Query, description = "queued, sending, done, failed or cancelled"),
        ("limit" = Option<i64>, Query, description = "1 to 1000, default 100")),
    responses((status = 200, description = "`{\"jobs\": [...]}`"), (status = 400, body = ApiError)))]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(s) = &q.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.invalid_query",
            format!("status must be one of {}", STATUSES.join(", ")),
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.invalid_query",
            "limit must be between 1 and 1000",
        ));
    }
    let jobs = state.store.jobs(q.status.as_deref(), limit).await?;
    Ok(Json(
        json!({"jobs": jobs.into_iter().map(view).collect::<Vec<_>>()}),
    ))
}

/// Queues a failed or cancelled job again.
#[utoipa::path(post, path = "/v1/jobs/{id}/retry", security(("api_key" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job"), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn retry(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .retry_job(&id, OffsetDateTime::now_utc())
        .await
        .map_err(|e| job_error(e, "job.not_retryable"))?;
    state.outbox.wake();
    state
        .audit
        .record(ctx.audit("job.retry", Some(id.clone()), "ok", None))
        .await;
    get_job(State(state), Path(id)).await
}

/// Cancels a queued job.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", security(("api_key" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job"), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn cancel(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .cancel_job(&id, OffsetDateTime::now_utc())
        .await
        .map_err(|e| job_error(e, "job.not_cancellable"))?;
    state
        .audit
        .record(ctx.audit("job.cancel", Some(id.clone()), "ok", None))
        .await;
    get_job(State(state), Path(id)).await
}

//! Received MSSanté messages (`spec/mssante.md` "Receiving"): list, read with their documents, acknowledge.
//!
//! - `GET /v1/mss/inbox` → `{"messages":[{"id","message_id","from","subject","status","received_at",
//!   "documents"}]}` (newest first, at most 500; `status` = `received`, `acked` or `rejected`).
//! - `GET /v1/mss/inbox/{id}` → the message and `documents: [{"path","mime_type","title","unique_id",
//!   "hash_ok","size","content_base64"}]`.
//! - `POST /v1/mss/inbox/{id}/ack` `{"error"?: "reason"}` → sends the MDN the MSSanté client rules require
//!   (`processed`, or `processed/Error: <reason>` when the DUI could not integrate the document) to the
//!   `Disposition-Notification-To` of the message, then marks it `acked`. 409 `mss.not_received` for a message
//!   already acknowledged or rejected; 502 with the submission error code when the MDN could not be sent.
//!
//! A message that is not a report and cannot be read (malformed MIME, no XDM package, unsafe or oversized
//! package) is kept as `rejected` with its error code in `detail`, never dropped. Choice where the spec is
//! silent: a message without `Disposition-Notification-To` is marked `acked` without any MDN.

use super::AppState;
use super::error::ApiError;
use super::json::ApiJson;
use crate::mss::incoming::parse_incoming;
use crate::mss::report::{MdnInput, build_mdn};
use crate::mss::xdm::ReadLimits;
use crate::store::StoreError;
use crate::store::mss::{InboxDocumentRow, InboxRow};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest as _;

/// The routes (under API-key auth).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/mss/inbox", get(list))
        .route("/v1/mss/inbox/{id}", get(one))
        .route("/v1/mss/inbox/{id}/ack", post(ack))
}

/// Stores a received message that is not a report: its documents, or `rejected` with the reason. Idempotent: a
/// message read again (the reader stopped before moving it) is recognised by its `Message-ID` (a rejected one by
/// the SHA-256 of its bytes) and not stored twice. `Ok(true)` when it was new.
pub async fn receive(
    store: &crate::store::Store,
    bytes: &[u8],
    max_bytes: usize,
) -> Result<bool, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let (row, docs) = match parse_incoming(bytes, max_bytes, &ReadLimits::default()) {
        Ok(m) => (
            InboxRow {
                id,
                message_id: m.message_id,
                from: m.from,
                subject: m.subject,
                ack_to: m.disposition_notification_to,
                status: "received".into(),
                detail: None,
                received_at: String::new(),
            },
            m.documents
                .into_iter()
                .map(|d| InboxDocumentRow {
                    path: d.path,
                    mime_type: d.mime_type,
                    title: d.title,
                    unique_id: d.unique_id,
                    hash_ok: d.hash_ok,
                    content: d.bytes,
                })
                .collect(),
        ),
        Err(e) => {
            tracing::warn!(code = e.code(), "received MSSanté message rejected");
            let digest = hex::encode(sha2::Sha256::digest(bytes));
            (
                rejected_row(
                    id,
                    format!("rejected-{digest}"),
                    json!({"code": e.code(), "message": e.to_string()}),
                ),
                Vec::new(),
            )
        }
    };
    store.mss_inbox_insert(&row, &docs).await
}

/// Records a message left unread because it is over the size limit (`key` identifies it in the mailbox).
pub async fn receive_oversized(
    store: &crate::store::Store,
    key: &str,
    size: u64,
    max_bytes: usize,
) -> Result<bool, StoreError> {
    tracing::warn!(
        size,
        max_bytes,
        "received MSSanté message over the size limit, moved aside unread"
    );
    let row = rejected_row(
        uuid::Uuid::new_v4().to_string(),
        format!("oversized-{key}"),
        json!({"code": "mss.too_large", "message": format!("{size} bytes, more than the {max_bytes} allowed: moved aside unread"), "size": size}),
    );
    store.mss_inbox_insert(&row, &[]).await
}

fn rejected_row(id: String, message_id: String, detail: Value) -> InboxRow {
    InboxRow {
        message_id,
        id,
        from: String::new(),
        subject: String::new(),
        ack_to: None,
        status: "rejected".into(),
        detail: Some(detail),
        received_at: String::new(),
    }
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "message.not_found", m),
        other => other.into(),
    }
}

/// Received messages.
#[utoipa::path(get, path = "/v1/mss/inbox", security(("api_key" = [])),
    responses((status = 200, description = "`{\"messages\":[...]}`")))]
pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let rows = state.store.mss_inbox().await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let (_, docs) = state.store.mss_inbox_message(&r.id).await?;
        let mut v = serde_json::to_value(&r).map_err(|e| ApiError::internal(e.to_string()))?;
        v["documents"] = json!(docs.len());
        out.push(v);
    }
    Ok(Json(json!({ "messages": out })))
}

/// A received message with its documents.
#[utoipa::path(get, path = "/v1/mss/inbox/{id}", security(("api_key" = [])),
    params(("id" = String, Path, description = "Received message id")),
    responses((status = 200, description = "metadata + documents"), (status = 404, body = ApiError)))]
pub(super) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (row, docs) = state
        .store
        .mss_inbox_message(&id)
        .await
        .map_err(not_found)?;
    let mut v = serde_json::to_value(&row).map_err(|e| ApiError::internal(e.to_string()))?;
    v["documents"] = docs
        .iter()
        .map(|d| {
            json!({
                "path": d.path, "mime_type": d.mime_type, "title": d.title, "unique_id": d.unique_id,
                "hash_ok": d.hash_ok, "size": d.content.len(),
                "content_base64": base64::engine::general_purpose::STANDARD.encode(&d.content),
            })
        })
        .collect();
    Ok(Json(v))
}

/// `POST /v1/mss/inbox/{id}/ack`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// Why the document could not be integrated (MDN `processed/Error`); absent = `processed`.
    #[serde(default)]
    pub error: Option<String>,
}

/// Acknowledges a received message (MDN).
#[utoipa::path(post, path = "/v1/mss/inbox/{id}/ack", security(("api_key" = [])), request_body = AckBody,
    params(("id" = String, Path, description = "Received message id")),
    responses((status = 200, description = "`{\"status\":\"acked\",\"mdn_sent\"}`"), (status = 404, body = ApiError),
        (status = 409, body = ApiError), (status = 502, body = ApiError), (status = 503, body = ApiError)))]
pub(super) async fn ack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AckBody>,
) -> Result<Json<Value>, ApiError> {
    let (row, _) = state
        .store
        .mss_inbox_message(&id)
        .await
        .map_err(not_found)?;
    if row.status != "received" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "mss.not_received",
            format!("the message is {}", row.status),
        ));
    }
    let mut mdn_sent = false;
    if let Some(to) = &row.ack_to {
        let transport = state.mss.transport.clone().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "mss.not_configured",
                "no MSSanté operator to send the acknowledgement",
            )
        })?;
        let mdn_id = format!(
            "{}@{}",
            uuid::Uuid::new_v4(),
            state.mss.from.rsplit('@').next().unwrap_or("localhost")
        );
        let bytes = build_mdn(&MdnInput {
            from: &state.mss.from,
            to,
            original_message_id: &row.message_id,
            original_subject: &row.subject,
            error: body.error.as_deref(),
            reporting_ua: &state.mss.policy.sender.software,
            id: &mdn_id,
            date: time::OffsetDateTime::now_utc(),
        });
        let mdn = crate::mss::BuiltMessage {
            message_id: format!("<{mdn_id}>"),
            from: String::new(),
            to: vec![to.clone()],
            bytes,
        };
        transport
            .submit(&mdn)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, e.code(), e.to_string()))?;
        mdn_sent = true;
    }
    let detail = json!({"mdn_sent": mdn_sent, "error": body.error});
    state.store.mss_inbox_set(&id, "acked", &detail).await?;
    Ok(Json(json!({"status": "acked", "mdn_sent": mdn_sent})))
}

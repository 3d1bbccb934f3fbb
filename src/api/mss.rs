//! MSSanté (`spec/mssante.md`): send a stored PPS by secure messaging and follow its acknowledgements.
//!
//! - `POST /v1/mss/messages` `{"to":[...]` or `"patient_person_id", "document_id", "body"?, "ack"?}` → 202
//!   `{"message_id","job_id"}`. The message is built (and checked: domains, QUAL identity for the patient
//!   mailbox, size) before the answer, so a refusal is a 4xx, never a failed job. `ack` defaults to `true`.
//! - `GET /v1/mss/messages/{id}` (message id or job id) → `{"message_id","job_id","document_id","status",
//!   "events":[{"at","kind","detail"}]}` with status `queued`, `sent`, `delivered`, `read` or `failed`.
//!
//! The submission is a durable outbox job (kind `mss_send`, [`crate::outbox::mss`]) calling [`attempt`]: a
//! refused submission makes the message `failed` with the error in its `submit_failed` event; a transient failure
//! (server unreachable, 4xx SMTP reply) leaves it `queued` and the outbox tries again with backoff, the same
//! `Message-ID` each time, until its last attempt. Reports (DSN, MDN) move the
//! status through [`apply_report`], read over IMAP by [`super::mss_reader`] (the operator's server, or the
//! sandbox's `mss_imap` simulator). Received messages: [`super::mss_inbox`].
//!
//! Errors: 422 `mss.bad_recipients` (neither or both of `to`/`patient_person_id`), `mss.domain_not_allowed`,
//! `mss.bad_address`, `mss.mixed_recipients`, `mss.too_large`; 409 `mss.identity_not_qualified`,
//! `document.other_person`; 404 `document.not_found`, `message.not_found`; 503 `mss.not_configured`.

use super::AppState;
use super::context::Ctx;
use super::error::ApiError;
use super::json::ApiJson;
use crate::ins::IdentityStatus;
use crate::mss::message::{
    BuiltMessage, MessageError, Outgoing, Policy, Recipients, build_message,
};
use crate::mss::report::{MessageStatus, Report, parse_report};
use crate::mss::smtp::MailTransport;
use crate::store::StoreError;
use crate::store::mss::MssMessageRow;
use crate::xds::pps::SubmissionIds;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// What the MSSanté routes need.
#[derive(Clone)]
pub struct MssState {
    /// Submission transport (operator or sandbox simulator); `None` when neither.
    pub transport: Option<Arc<dyn MailTransport>>,
    /// Sending rules.
    pub policy: Policy,
    /// The application mailbox.
    pub from: String,
}

impl std::fmt::Debug for MssState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MssState")
            .field("configured", &self.transport.is_some())
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// The routes (under API-key auth).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/mss/messages", post(send))
        .route("/v1/mss/messages/{id}", get(get_message))
}

/// `POST /v1/mss/messages`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// Professional MSSanté addresses.
    #[serde(default)]
    pub to: Option<Vec<String>>,
    /// Or: the person, to send to their Mon espace santé mailbox (QUAL identity only).
    #[serde(default)]
    pub patient_person_id: Option<String>,
    /// A stored PPS (`POST /v1/documents/pps`).
    pub document_id: String,
    /// Text body.
    #[serde(default)]
    pub body: Option<String>,
    /// Ask for read and delivery receipts (default `true`).
    #[serde(default)]
    pub ack: Option<bool>,
}

/// Rebuilds the validated CDA of a stored document from its plan (it must equal the stored XML), with the
/// version it replaces.
async fn rebuild(
    state: &AppState,
    doc: &crate::store::dmp::DocumentRow,
) -> Result<
    (
        crate::cda::PpsDocument,
        crate::cda::Cda,
        Option<crate::store::dmp::DocumentRow>,
    ),
    ApiError,
> {
    let internal = |m: String| ApiError::internal(m);
    let plan: crate::cda::PpsDocument =
        serde_json::from_str(&doc.plan).map_err(|e| internal(e.to_string()))?;
    let built_at = time::OffsetDateTime::parse(
        &doc.built_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| internal(e.to_string()))?;
    let previous = match &doc.replaces {
        Some(id) => Some(state.store.document(id).await?),
        None => None,
    };
    let ids = crate::cda::DocumentIds {
        id: doc.cda_id.clone(),
        set_id: doc.set_id.clone(),
        version: u32::try_from(doc.version).unwrap_or(u32::MAX),
        replaces: previous.as_ref().map(|p| p.cda_id.clone()),
    };
    let (pdf, xml) = (doc.pdf.clone(), doc.xml.clone());
    let built = tokio::task::spawn_blocking(move || {
        let body = match &pdf {
            Some(p) => crate::cda::Body::N1 { pdf: p },
            None => crate::cda::Body::N3,
        };
        crate::cda::build(&plan, &ids, body, built_at, &crate::cda::Xmllint::cda())
            .map(|c| (plan, c))
    })
    .await
    .map_err(|_| internal("the document builder stopped".into()))?;
    match built {
        Ok((plan, cda)) if cda.xml() == xml => Ok((plan, cda, previous)),
        Ok(_) => Err(internal(
            "the rebuilt document differs from the stored one".into(),
        )),
        Err(e) => {
            let status = if e.code() == "cda.validator_unavailable" {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            Err(ApiError::new(status, e.code(), e.to_string()))
        }
    }
}

fn e422(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

fn message_error(e: &MessageError) -> ApiError {
    let status = match e {
        MessageError::NotQualified(_) => StatusCode::CONFLICT,
        MessageError::Mime(_) | MessageError::Xdm(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, e.code(), e.to_string())
}

/// Sends a stored PPS by MSSanté.
#[utoipa::path(post, path = "/v1/mss/messages", security(("api_key" = [])), request_body = SendBody, responses(
    (status = 202, description = "`{\"message_id\",\"job_id\"}`"), (status = 404, body = ApiError),
    (status = 409, body = ApiError), (status = 422, body = ApiError), (status = 503, body = ApiError)))]
pub(super) async fn send(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state.mss.transport.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "mss.not_configured",
            "no MSSanté operator (mss.smtp_host, mss.from) and no sandbox simulator",
        )
    })?;
    // With an Idempotency-Key the message id is derived from (caller, key): a replay finds the message it
    // created (even when the daemon stopped between the message and its job) instead of building another one.
    let key = super::jobs::idempotency_key(&headers)?;
    let id = match &key {
        Some(k) => uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("segur-gateway:mss:{}\u{1f}{k}", ctx.actor).as_bytes(),
        ),
        None => uuid::Uuid::new_v4(),
    };
    let mut row = match existing(&state, key.as_deref(), &id).await? {
        Some(row) => row,
        None => {
            let row = new_message(&state, &body, id).await?;
            // The message (durable), then the outbox job that sends it, whose id the message then records.
            match state.store.mss_insert(&row).await {
                Ok(()) => row,
                Err(e) => existing(&state, key.as_deref(), &id).await?.ok_or(e)?,
            }
        }
    };
    if row.document_id != body.document_id {
        return Err(super::jobs::key_reused());
    }
    let request = json!({"document_id": body.document_id, "to": body.to,
        "patient_person_id": body.patient_person_id, "body": body.body, "ack": body.ack});
    let job = state
        .outbox
        .enqueue(crate::outbox::Submit {
            kind: crate::outbox::mss::KIND,
            payload: json!({"message_id": row.id}),
            subject: Some(row.document_id.clone()),
            idempotency: key.map(|k| {
                let request = format!("/v1/mss/messages\n{request}").into_bytes();
                (ctx.actor.clone(), k, request)
            }),
        })
        .await
        .map_err(|e| match e {
            crate::outbox::EnqueueError::KeyReused => super::jobs::key_reused(),
            other => ApiError::internal(other.to_string()),
        })?;
    let replayed = match job {
        crate::store::outbox::Enqueued::New(j) => {
            row.job_id = j;
            state.store.mss_set_job(&row.id, &row.job_id).await?;
            state
                .audit
                .record(ctx.audit(
                    "mss.send_queued",
                    Some(row.document_id.clone()),
                    "ok",
                    Some(json!({"message_id": row.id, "job_id": row.job_id, "recipients": row.recipients.len()})),
                ))
                .await;
            false
        }
        crate::store::outbox::Enqueued::Existing(j) => {
            row.job_id = j;
            true
        }
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"message_id": row.id, "job_id": row.job_id, "idempotent_replay": replayed})),
    ))
}

/// The message an earlier request with the same Idempotency-Key created, if any.
async fn existing(
    state: &AppState,
    key: Option<&str>,
    id: &uuid::Uuid,
) -> Result<Option<MssMessageRow>, ApiError> {
    if key.is_none() {
        return Ok(None);
    }
    match state.store.mss_message(&id.to_string()).await {
        Ok(row) => Ok(Some(row)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Builds the message of `body` (checks, CDA rebuild, XDM, MIME) as a `queued` row with id `id`.
async fn new_message(
    state: &AppState,
    body: &SendBody,
    id: uuid::Uuid,
) -> Result<MssMessageRow, ApiError> {
    let doc = state
        .store
        .document(&body.document_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(m) => {
                ApiError::new(StatusCode::NOT_FOUND, "document.not_found", m)
            }
            other => other.into(),
        })?;
    let to = match (&body.to, &body.patient_person_id) {
        (Some(list), None) => Recipients::Professionals(list.clone()),
        (None, Some(pid)) => {
            if *pid != doc.person_id {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "document.other_person",
                    "the document is not about this person",
                ));
            }
            let p = state
                .persons
                .get(pid)
                .await
                .map_err(super::ins::person_error)?;
            if p.status != IdentityStatus::Qual {
                return Err(message_error(&MessageError::NotQualified(p.status)));
            }
            Recipients::Patient
        }
        _ => {
            return Err(e422(
                "mss.bad_recipients",
                "give either \"to\" (professional addresses) or \"patient_person_id\"",
            ));
        }
    };
    let (plan, cda, previous) = rebuild(state, &doc).await?;
    let now = time::OffsetDateTime::now_utc();
    let entry = uuid::Uuid::parse_str(&doc.entry_uuid)
        .map_err(|_| ApiError::internal("stored entryUUID unreadable"))?;
    let submission = crate::xds::pps::submission(
        &plan,
        &cda,
        &SubmissionIds {
            set_entry: uuid::Uuid::new_v4(),
            document_entry: entry,
            set_unique: uuid::Uuid::new_v4(),
            source_id: state.dmp.source_id.clone(),
            submission_time: now,
            replaces: previous.map(|p| p.entry_uuid),
        },
    );
    let text = body.body.clone().unwrap_or_else(|| {
        "Bonjour,\r\n\r\nVeuillez trouver ci-joint le plan personnalisé de coordination en santé.\r\n".into()
    });
    let built = build_message(
        &Outgoing {
            doc: &plan,
            cda: &cda,
            submission: &submission,
            pdf: doc.pdf.as_deref(),
            from: &state.mss.from,
            to,
            body: &text,
            ack: body.ack.unwrap_or(true),
            id,
            date: now,
        },
        &state.mss.policy,
    )
    .map_err(|e| message_error(&e))?;
    Ok(MssMessageRow {
        id: id.to_string(),
        // `job_id` is UNIQUE: a placeholder of its own until the job exists (an empty one made concurrent sends
        // collide with 503 store errors).
        job_id: format!("pending-{id}"),
        document_id: doc.id.clone(),
        message_id: built.message_id.trim_matches(['<', '>']).to_owned(),
        sender: built.from.clone(),
        recipients: built.to.clone(),
        content: built.bytes,
        status: MessageStatus::Queued.as_str().into(),
    })
}

/// What one submission attempt did.
#[derive(Debug)]
pub enum Attempt {
    /// Accepted by the server: the message is `sent`.
    Sent(Value),
    /// The message is no longer `queued` (sent before, or moved by reports): nothing done.
    NotQueued(String),
    /// Refused or unreachable; `transient` failures leave the message `queued` unless `last` was set.
    Failed {
        /// Worth trying again.
        transient: bool,
        /// `{"code","message","transient"}`.
        detail: Value,
    },
}

/// Submits a queued message and records the outcome (`sent`, or `failed` with the error); a transient failure
/// leaves it `queued` for the next attempt unless `last` (then it is `failed` too). Does nothing for a message
/// that is no longer `queued`. Called by the outbox's `mss_send` handler ([`crate::outbox::mss`]).
pub async fn attempt(
    store: &crate::store::Store,
    transport: &dyn MailTransport,
    id: &str,
    last: bool,
) -> Result<Attempt, StoreError> {
    let row = store.mss_message(id).await?;
    if row.status != MessageStatus::Queued.as_str() {
        return Ok(Attempt::NotQueued(row.status));
    }
    let message = BuiltMessage {
        message_id: format!("<{}>", row.message_id),
        from: row.sender.clone(),
        to: row.recipients.clone(),
        bytes: row.content.clone(),
    };
    let (status, kind, detail, outcome) = match transport.submit(&message).await {
        Ok(a) => {
            let detail = json!({"reply": a.reply, "dsn_requested": a.dsn_requested});
            (
                MessageStatus::Sent,
                "submitted",
                detail.clone(),
                Attempt::Sent(detail),
            )
        }
        Err(e) => {
            let detail =
                json!({"code": e.code(), "message": e.to_string(), "transient": e.is_transient()});
            let outcome = Attempt::Failed {
                transient: e.is_transient(),
                detail: detail.clone(),
            };
            if e.is_transient() && !last {
                return Ok(outcome);
            }
            (MessageStatus::Failed, "submit_failed", detail, outcome)
        }
    };
    record(store, id, status, kind, &detail).await?;
    Ok(outcome)
}

/// Moves the message to `status` with an event, unless reports already moved it past `sent`.
async fn record(
    store: &crate::store::Store,
    id: &str,
    status: MessageStatus,
    kind: &str,
    detail: &Value,
) -> Result<(), StoreError> {
    // Reports may already have moved it past `sent` (a fast DSN): then only the event is kept.
    for _ in 0..3 {
        let current = store.mss_message(id).await?.status;
        let next = match (current.as_str(), status) {
            ("queued", s) => s,
            (_, MessageStatus::Failed) => MessageStatus::Failed,
            (other, _) => MessageStatus::parse(other).unwrap_or(status),
        };
        if store
            .mss_transition(id, &current, next.as_str(), kind, detail)
            .await?
        {
            return Ok(());
        }
    }
    Err(StoreError::Conflict(format!("message {id} kept changing")))
}

fn report_detail(r: &Report) -> (&'static str, Value) {
    match r {
        Report::Dsn(d) => (
            "dsn",
            json!({"recipients": d.recipients.iter().map(|x| json!({
                "recipient": x.final_recipient, "action": format!("{:?}", x.action).to_lowercase(),
                "status": x.status, "diagnostic": x.diagnostic,
            })).collect::<Vec<_>>()}),
        ),
        Report::Mdn(m) => (
            "mdn",
            json!({"recipient": m.final_recipient, "disposition": match &m.disposition {
                crate::mss::report::Disposition::Processed => "processed".to_owned(),
                crate::mss::report::Disposition::Displayed => "displayed".to_owned(),
                crate::mss::report::Disposition::Error(e) => format!("processed/error: {e}"),
                crate::mss::report::Disposition::Other(o) => o.clone(),
            }}),
        ),
    }
}

/// Applies a received report to the message it refers to; `Ok(Some(id))` when one was found and updated,
/// `Ok(None)` for anything else (not a report, unknown message).
pub async fn apply_report(
    store: &crate::store::Store,
    bytes: &[u8],
) -> Result<Option<String>, StoreError> {
    let Ok(report) = parse_report(bytes) else {
        return Ok(None);
    };
    let Some(reference) = report.reference() else {
        return Ok(None);
    };
    let id = reference.split('@').next().unwrap_or("").to_owned();
    let (kind, detail) = report_detail(&report);
    for _ in 0..3 {
        let row = match store.mss_message(&id).await {
            Ok(r) => r,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        // The same report read again (the reader stopped before moving it): already applied.
        if store
            .mss_events(&id)
            .await?
            .iter()
            .any(|e| e.kind == kind && e.detail == detail)
        {
            return Ok(Some(id));
        }
        let current = MessageStatus::parse(&row.status).unwrap_or(MessageStatus::Sent);
        let next = current.apply(&report);
        if store
            .mss_transition(&id, &row.status, next.as_str(), kind, &detail)
            .await?
        {
            return Ok(Some(id));
        }
    }
    Err(StoreError::Conflict(format!("message {id} kept changing")))
}

/// A sent message and its events.
#[utoipa::path(get, path = "/v1/mss/messages/{id}", security(("api_key" = [])),
    params(("id" = String, Path, description = "Message id or job id")),
    responses((status = 200, description = "`{\"status\", \"events\"}`"), (status = 404, body = ApiError)))]
pub(super) async fn get_message(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = state.store.mss_message(&id).await.map_err(|e| match e {
        StoreError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "message.not_found", m),
        other => other.into(),
    })?;
    let events = state.store.mss_events(&row.id).await?;
    Ok(Json(json!({
        "message_id": row.id, "job_id": row.job_id, "document_id": row.document_id,
        "status": row.status, "events": events,
    })))
}

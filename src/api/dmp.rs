//! PPS documents and the DMP (`spec/dmp.md`, `spec/cda-pps.md`): build and store a PPS, read it back, test access
//! to the patient's DMP (TD0.2), send a document (ITI-41) as a background job, read the job.
//!
//! - `POST /v1/documents/pps`: `{"person_id", "plan", "pdf_base64"?, "replaces"?}` → 201
//!   `{"document_id","cda_id","set_id","version"}`. The plan is a `PpsDocument` without `person` but with the
//!   person's `local_id`: the person (traits, identity status, INS) comes from the gateway's own record, never from
//!   the caller. With `pdf_base64` the document is N1, else N3. `replaces` = a stored document of the same person:
//!   the new one is its next version (same `setId`, `RPLC`), and only the latest version may be replaced.
//! - `GET /v1/documents/{id}`: the CDA XML.
//! - `POST /v1/dmp/access` `{"person_id"}`: TD0.2 result.
//! - `POST /v1/dmp/documents` `{"document_id"}` (optional `Idempotency-Key` header) → 202 `{"job_id"}`: a
//!   `dmp_push` job of the durable outbox ([`crate::outbox::dmp`]), committed before the answer; `GET /v1/jobs/{id}`
//!   → `{"status":"queued"|"sending"|"done"|"failed"|"cancelled","result":{...}}` ([`super::jobs`]). A registry
//!   `Failure` gives `failed` with `result.error.code` = `dmp.registry.<errorCode>` of the first error, and every
//!   error in `result.errors`; transient errors are retried with backoff.
//!
//! Errors: 409 `dmp.identity_not_qualified` (person not QUAL); 422 `dmp.missing_eg`, `cda.invalid_date`,
//! `cda.invalid_period`, `cda.pdf_too_large` (over `dmp.max_pdf_bytes`), `cda.not_pdf`, `cda.invalid_pdf_base64`,
//! `cda.invalid_plan` (and the builder's other `cda.*` codes); 404 `person.not_found`, `document.not_found`,
//! `job.not_found`; 409 `document.superseded`, `document.other_person`; 503 `dmp.not_configured`,
//! `cda.validator_unavailable`, `dmp.unavailable`; 502 `dmp.refused`, `dmp.bad_answer`, `dmp.tls`.

use super::AppState;
use super::context::Ctx;
use super::error::ApiError;
use super::json::ApiJson;
use crate::cda::{self, Body, CdaError, DocumentIds, PpsDocument, SchemaError};
use crate::dmp::Actor;
use crate::dmp::client::{DmpClient, DmpError};
use crate::ins::person::Person;
use crate::ins::{IdentityStatus, Ins, InsOid};
use crate::store::StoreError;
use crate::store::dmp::DocumentRow;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What the DMP routes need.
#[derive(Debug, Clone)]
pub struct DmpState {
    /// The client (configured DMP or the sandbox simulator); `None` when neither.
    pub client: Option<DmpClient>,
    /// XDS `sourceId` of this installation (an OID).
    pub source_id: String,
    /// Largest N1 PDF accepted (`dmp.max_pdf_bytes`).
    pub max_pdf_bytes: usize,
}

/// The routes (under API-key auth).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/documents/pps", post(create_pps))
        .route("/v1/documents/{id}", get(get_document))
        .route("/v1/dmp/access", post(access))
        .route("/v1/dmp/documents", post(send))
}

fn e422(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

fn not_found(code: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, code, m),
        other => other.into(),
    }
}

fn not_qualified(status: IdentityStatus) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "dmp.identity_not_qualified",
        format!(
            "the person's identity is {status:?}, not QUAL: the INS cannot be used and nothing goes to the DMP"
        ),
    )
}

/// The person's INS, when the identity is QUAL.
fn qualified_ins(p: &Person) -> Result<Ins, ApiError> {
    if p.status != IdentityStatus::Qual {
        return Err(not_qualified(p.status));
    }
    let stored = p.ins.as_ref().ok_or_else(|| not_qualified(p.status))?;
    let oid: InsOid = stored
        .oid
        .parse()
        .map_err(|_| ApiError::internal("stored INS OID unreadable"))?;
    Ins::parse(&stored.value, oid).map_err(|_| ApiError::internal("stored INS unreadable"))
}

async fn person(state: &AppState, id: &str) -> Result<Person, ApiError> {
    state
        .persons
        .get(id)
        .await
        .map_err(super::ins::person_error)
}

fn cda_error(e: &CdaError) -> ApiError {
    match e {
        CdaError::IdentityNotQualified { status } => not_qualified(*status),
        CdaError::Schema(SchemaError::Unavailable(m)) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "cda.validator_unavailable",
            m.clone(),
        ),
        other => e422(other.code(), other.to_string()),
    }
}

/// `POST /v1/documents/pps` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PpsBody {
    /// The person (must be QUAL).
    pub person_id: String,
    /// The plan: a `PpsDocument` (see `segur cda pps --sample`) without `person`, with `local_id` (the person's
    /// identifier in the structure: `{"root": OID, "extension"}`).
    #[schema(value_type = Object)]
    pub plan: Map<String, Value>,
    /// PDF of an N1 document, base64; absent = N3 structured document.
    #[serde(default)]
    pub pdf_base64: Option<String>,
    /// A stored document this one replaces (next version, `RPLC`).
    #[serde(default)]
    pub replaces: Option<String>,
}

/// `POST /v1/documents/pps` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PpsCreated {
    /// Gateway id of the document.
    pub document_id: String,
    /// CDA `id` root (XDS uniqueId).
    pub cda_id: String,
    /// CDA `setId` root.
    pub set_id: String,
    /// Version number.
    pub version: u32,
}

fn plan_document(p: &Person, mut plan: Map<String, Value>) -> Result<PpsDocument, ApiError> {
    if plan.contains_key("person") {
        return Err(e422(
            "cda.invalid_plan",
            "plan.person must not be given: the person comes from person_id",
        ));
    }
    let eg = plan
        .get("structure")
        .and_then(|s| s.get("eg_finess"))
        .is_some_and(|v| v.as_str().is_some_and(|s| !s.trim().is_empty()));
    if !eg {
        return Err(e422(
            "dmp.missing_eg",
            "plan.structure.eg_finess (FINESS of the site, EG) is required",
        ));
    }
    let period = plan.get("period").cloned().unwrap_or(Value::Null);
    serde_json::from_value::<cda::Period>(period)
        .map_err(|e| e422("cda.invalid_date", format!("plan.period: {e}")))?;
    let local_id = plan
        .remove("local_id")
        .ok_or_else(|| e422("cda.invalid_plan", "plan.local_id is required"))?;
    let t = &p.traits;
    let ins = p
        .ins
        .as_ref()
        .map(|i| json!({"value": i.value, "oid": i.oid}));
    plan.insert(
        "person".into(),
        json!({
            "identity_status": p.status,
            "ins": ins,
            "local_id": local_id,
            "birth_name": t.birth_name,
            "given_names": t.given_names,
            "sex": t.sex,
            "birth_date": t.birth_date,
            "birth_place": t.birth_place,
        }),
    );
    let v = Value::Object(plan);
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let code = if path.contains("date") || path.contains("start") || path.contains("end") {
            "cda.invalid_date"
        } else {
            "cda.invalid_plan"
        };
        e422(code, format!("plan.{path}: {}", e.inner()))
    })
}

async fn build_cda(
    doc: PpsDocument,
    ids: DocumentIds,
    pdf: Option<Vec<u8>>,
    now: OffsetDateTime,
) -> Result<(PpsDocument, cda::Cda), ApiError> {
    tokio::task::spawn_blocking(move || {
        let body = match &pdf {
            Some(p) => Body::N1 { pdf: p },
            None => Body::N3,
        };
        let built = cda::build(&doc, &ids, body, now, &cda::Xmllint::cda());
        built.map(|c| (doc, c)).map_err(|e| cda_error(&e))
    })
    .await
    .map_err(|_| ApiError::internal("the document builder stopped"))?
}

/// Builds, validates and stores a PPS (N1 with a PDF, else N3), or the next version of a stored one.
#[utoipa::path(post, path = "/v1/documents/pps", security(("api_key" = [])), request_body = PpsBody, responses(
    (status = 201, body = PpsCreated), (status = 404, body = ApiError),
    (status = 409, description = "dmp.identity_not_qualified, document.superseded", body = ApiError),
    (status = 422, description = "dmp.missing_eg, cda.invalid_date, cda.pdf_too_large, cda.not_pdf…", body = ApiError),
    (status = 503, body = ApiError)
))]
pub(super) async fn create_pps(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<PpsBody>,
) -> Result<(StatusCode, Json<PpsCreated>), ApiError> {
    let p = person(&state, &body.person_id).await?;
    qualified_ins(&p)?;
    let doc = plan_document(&p, body.plan)?;
    let pdf = match &body.pdf_base64 {
        None => None,
        Some(b) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|e| e422("cda.invalid_pdf_base64", e.to_string()))?;
            if bytes.len() > state.dmp.max_pdf_bytes {
                return Err(e422(
                    "cda.pdf_too_large",
                    format!(
                        "the PDF has {} bytes, over dmp.max_pdf_bytes = {}",
                        bytes.len(),
                        state.dmp.max_pdf_bytes
                    ),
                ));
            }
            if !bytes.starts_with(b"%PDF-") {
                return Err(e422(
                    "cda.not_pdf",
                    "the content is not a PDF (no %PDF- header)",
                ));
            }
            Some(bytes)
        }
    };
    let (ids, replaces) = match &body.replaces {
        None => (
            DocumentIds::first(uuid::Uuid::new_v4(), uuid::Uuid::new_v4()),
            None,
        ),
        Some(old_id) => {
            let old = state
                .store
                .document(old_id)
                .await
                .map_err(|e| not_found("document.not_found", e))?;
            if old.person_id != p.id {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "document.other_person",
                    "the replaced document is about another person",
                ));
            }
            if state.store.document_superseded(&old).await? {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "document.superseded",
                    "only the latest version of a document can be replaced",
                ));
            }
            let prev = DocumentIds {
                id: old.cda_id.clone(),
                set_id: old.set_id.clone(),
                version: u32::try_from(old.version).unwrap_or(u32::MAX),
                replaces: None,
            };
            (prev.next(uuid::Uuid::new_v4()), Some(old.id))
        }
    };
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let (doc, cda) = build_cda(doc, ids.clone(), pdf.clone(), now).await?;
    let row = DocumentRow {
        id: uuid::Uuid::new_v4().to_string(),
        person_id: p.id.clone(),
        cda_id: ids.id.clone(),
        set_id: ids.set_id.clone(),
        version: i64::from(ids.version),
        replaces,
        entry_uuid: uuid::Uuid::new_v4().urn().to_string(),
        plan: serde_json::to_string(&doc).map_err(|e| ApiError::internal(e.to_string()))?,
        pdf,
        built_at: now.format(&Rfc3339).unwrap_or_default(),
        xml: cda.xml().to_string(),
    };
    state.store.insert_document(&row).await?;
    state
        .audit
        .record(ctx.audit(
            "document.pps_created",
            Some(row.id.clone()),
            "ok",
            Some(json!({"person_id": p.id, "version": ids.version, "level": cda.level()})),
        ))
        .await;
    Ok((
        StatusCode::CREATED,
        Json(PpsCreated {
            document_id: row.id,
            cda_id: ids.id,
            set_id: ids.set_id,
            version: ids.version,
        }),
    ))
}

/// The stored CDA document.
#[utoipa::path(get, path = "/v1/documents/{id}", security(("api_key" = [])),
    params(("id" = String, Path, description = "Document id")),
    responses((status = 200, description = "CDA R2 XML", content_type = "application/xml"), (status = 404, body = ApiError)))]
pub(super) async fn get_document(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let d = state
        .store
        .document(&id)
        .await
        .map_err(|e| not_found("document.not_found", e))?;
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        d.xml,
    ))
}

fn client(state: &AppState) -> Result<&DmpClient, ApiError> {
    state.dmp.client.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "dmp.not_configured",
            "no DMP endpoint (dmp.endpoint) and no sandbox simulator",
        )
    })
}

/// The API error of a failed DMP call.
pub fn dmp_error(e: &DmpError) -> ApiError {
    let status = if e.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::BAD_GATEWAY
    };
    ApiError::new(status, e.code(), e.to_string())
}

/// `POST /v1/dmp/access` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessBody {
    /// The person (must be QUAL).
    pub person_id: String,
    /// A Pro Santé Connect session handle: the professional acts (VIHF `NameID`, roles); absent = the software
    /// (`AUTOMATE`).
    #[serde(default)]
    pub psc_session: Option<String>,
}

/// The actor of a DMP request: the professional of `psc_session`, or the software.
async fn actor(state: &AppState, psc_session: Option<&str>) -> Result<Actor, ApiError> {
    let Some(handle) = psc_session else {
        return Ok(Actor::Automaton);
    };
    let psc = state
        .psc
        .as_ref()
        .ok_or_else(|| ApiError::from(crate::psc::PscError::NotConfigured))?;
    let view = psc.session(handle).await?;
    Actor::from_professional(&view.professional)
        .map_err(|m| e422("dmp.professional_without_profession", m))
}

/// TD0.2: does the person have a DMP this structure may write to?
#[utoipa::path(post, path = "/v1/dmp/access", security(("api_key" = [])), request_body = AccessBody, responses(
    (status = 200, description = "`{\"dmp\": \"exists\"|\"absent\"|\"access_refused\", \"detail\"}`", body = crate::dmp::answer::AccessResult),
    (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 502, body = ApiError), (status = 503, body = ApiError)
))]
pub(super) async fn access(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<AccessBody>,
) -> Result<Json<Value>, ApiError> {
    let p = person(&state, &body.person_id).await?;
    let ins = qualified_ins(&p)?;
    let actor = actor(&state, body.psc_session.as_deref()).await?;
    let result = client(&state)?.access_as(&ins, &actor).await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    state
        .audit
        .record(ctx.audit("dmp.td02", Some(p.id.clone()), outcome, None))
        .await;
    let r = result.map_err(|e| dmp_error(&e))?;
    let mut v = serde_json::to_value(&r).map_err(|e| ApiError::internal(e.to_string()))?;
    v["person_id"] = json!(p.id);
    Ok(Json(v))
}

/// `POST /v1/dmp/documents` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// The stored document to send.
    pub document_id: String,
    /// A Pro Santé Connect session handle: the professional sends (VIHF); absent = the software (`AUTOMATE`).
    #[serde(default)]
    pub psc_session: Option<String>,
}

/// Sends a stored document to the person's DMP (ITI-41) in the background.
#[utoipa::path(post, path = "/v1/dmp/documents", security(("api_key" = [])), request_body = SendBody, responses(
    (status = 202, description = "`{\"job_id\"}`"), (status = 404, body = ApiError), (status = 409, body = ApiError),
    (status = 503, body = ApiError)
))]
pub(super) async fn send(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let doc = state
        .store
        .document(&body.document_id)
        .await
        .map_err(|e| not_found("document.not_found", e))?;
    let p = person(&state, &doc.person_id).await?;
    qualified_ins(&p)?;
    client(&state)?;
    let actor = actor(&state, body.psc_session.as_deref()).await?;
    let mut payload = crate::outbox::dmp::DmpPushPayload::new(&doc.id, OffsetDateTime::now_utc());
    payload.actor = match actor {
        Actor::Automaton => None,
        professional => Some(professional),
    };
    let submit = crate::outbox::Submit {
        kind: crate::outbox::dmp::KIND,
        payload: serde_json::to_value(&payload).map_err(|e| ApiError::internal(e.to_string()))?,
        subject: Some(doc.id.clone()),
        idempotency: None,
    };
    let request = json!({"document_id": body.document_id, "psc_session": body.psc_session});
    let answer = super::jobs::create(
        &state,
        &ctx,
        &headers,
        "/v1/dmp/documents",
        &request,
        submit,
    )
    .await?;
    state
        .audit
        .record(ctx.audit(
            "dmp.send_queued",
            Some(doc.id.clone()),
            "ok",
            Some(json!({"job_id": answer.1["job_id"]})),
        ))
        .await;
    Ok(answer)
}

//! INS routes: INSi searches and persons with their RNIV identity status.
//!
//! Error codes: 422 `ins.invalid_*` (bad INS or traits), 404 `person.not_found`, 409
//! `identity.insi_forbidden` (doubtful/fictitious) and `person.conflict` (changed concurrently), 503
//! `insi.unavailable` (network, timeout, INSi technical fault), 502 `insi.fault` / `insi.malformed_response`
//! (INSi refused or answered nonsense), 502 `insi.tls` (trust or certificate problem).

use super::AppState;
use super::context::Ctx;
use super::error::ApiError;
use super::json::ApiJson;
use crate::ins::client::{InsiError, SearchReport};
use crate::ins::person::{Actor, PersonError, PersonPatch};
use crate::ins::soap::{InsiIdentity, InsiResponse, VitaleQuery};
use crate::ins::status::{DocumentKind, HighTrustDocument};
use crate::ins::traits::{BirthDate, StrictTraits};
use crate::store::StoreError;
use crate::store::audit::mask_ins;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// The INS routes (under API-key auth).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/ins/search", post(search))
        .route("/v1/ins/search-vitale", post(search_vitale))
        .route("/v1/persons", post(create_person))
        .route("/v1/persons/{id}", get(get_person).patch(patch_person))
        .route("/v1/persons/{id}/insi", post(person_insi))
        .route(
            "/v1/persons/{id}/identity-document",
            post(identity_document),
        )
}

/// Traits as the DUI sends them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraitsBody {
    /// Birth name (nom de naissance).
    pub birth_name: String,
    /// Given names in order; the first is the first given name.
    pub given_names: Vec<String>,
    /// `M` or `F`.
    pub sex: String,
    /// `YYYY-MM-DD`, `00` for unknown month/day.
    pub birth_date: String,
    /// INSEE COG code of the birth commune (`99xxx` abroad).
    pub birth_place: Option<String>,
}

impl TraitsBody {
    fn into_traits(self) -> Result<StrictTraits, ApiError> {
        let v = json!({
            "birth_name": self.birth_name,
            "first_given_name": self.given_names.first().cloned().unwrap_or_default(),
            "given_names": self.given_names,
            "sex": self.sex,
            "birth_date": self.birth_date,
            "birth_place": self.birth_place,
        });
        let traits: StrictTraits = serde_json::from_value(v).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "ins.invalid_traits",
                e.to_string(),
            )
        })?;
        traits
            .normalized()
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))
    }
}

pub(super) fn insi_error(e: &InsiError) -> ApiError {
    let status = match e {
        InsiError::Transport(crate::ins::transport::TransportError::Tls { .. }) => {
            StatusCode::BAD_GATEWAY
        }
        e if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    };
    let code = if status == StatusCode::SERVICE_UNAVAILABLE {
        "insi.unavailable"
    } else {
        e.code()
    };
    ApiError::new(status, code, e.to_string())
}

pub(super) fn person_error(e: PersonError) -> ApiError {
    match e {
        PersonError::Traits(t) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, t.code(), t.to_string())
        }
        PersonError::Status(s) => ApiError::new(StatusCode::CONFLICT, s.code(), s.to_string()),
        PersonError::Insi(i) => insi_error(&i),
        PersonError::Store(StoreError::NotFound(m)) => {
            ApiError::new(StatusCode::NOT_FOUND, "person.not_found", m)
        }
        PersonError::Store(StoreError::Conflict(m)) => {
            ApiError::new(StatusCode::CONFLICT, "person.conflict", m)
        }
        PersonError::Store(s) => s.into(),
    }
}

fn client(state: &AppState) -> Result<&crate::ins::client::InsiClient, ApiError> {
    state.insi.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "insi.not_configured",
            "no INSi endpoint configured (ins.endpoint) and not in sandbox mode",
        )
    })
}

fn identity_json(id: &InsiIdentity) -> Value {
    json!({
        "ins": {
            "value": id.ins.value(),
            "matricule": id.ins.matricule().expose(),
            "key": format!("{:02}", id.ins.key()),
            "oid": id.ins.oid().as_str(),
            "cx": id.ins.to_cx(),
        },
        "traits": id.traits,
        "history": id.history.iter().map(|h| json!({
            "value": h.ins.value(), "oid": h.ins.oid().as_str(), "start": h.start, "end": h.end,
        })).collect::<Vec<_>>(),
    })
}

fn report_json(r: &SearchReport) -> Value {
    let mut v = json!({
        "outcome": r.outcome,
        "attempts": r.attempts,
        "differences": r.differences,
        "history": [],
    });
    if let Some(id) = &r.identity {
        let idj = identity_json(id);
        v["ins"] = idj["ins"].clone();
        v["traits"] = idj["traits"].clone();
        v["history"] = idj["history"].clone();
    }
    v
}

/// Searches the INS of a person by traits, with the INS guide strategy.
#[utoipa::path(post, path = "/v1/ins/search", tag = "ins", security(("api_key" = [])), request_body = TraitsBody, responses(
    (status = 200, description = "`{outcome: found|not_found|multiple, ins?, traits?, history, attempts, differences}`"),
    (status = 422, body = ApiError), (status = 502, body = ApiError), (status = 503, body = ApiError)
))]
pub(super) async fn search(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<TraitsBody>,
) -> Result<Json<Value>, ApiError> {
    let traits = body.into_traits()?;
    let result = client(&state)?.search(&traits).await;
    let (outcome, subject, details) = match &result {
        Ok(r) => (
            r.outcome,
            r.identity.as_ref().map(|i| i.ins.masked()),
            json!({"attempts": r.attempts.len(), "differences": r.differences.len()}),
        ),
        Err(e) => ("error", None, json!({"code": e.code()})),
    };
    state
        .audit
        .record(ctx.audit("insi.search", subject, outcome, Some(details)))
        .await;
    let report = result.map_err(|e| insi_error(&e))?;
    Ok(Json(report_json(&report)))
}

/// Carte Vitale data.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VitaleBody {
    /// NIR of the person (13 characters) as read from the card.
    pub matricule_individu: String,
    /// NIR of the opening-rights holder (13 characters).
    pub matricule_od: String,
    /// Birth name.
    pub birth_name: String,
    /// Birth date as on the card (`YYYY-MM-DD`).
    pub birth_date: String,
    /// Birth rank (rang de naissance, 1 for most people).
    pub rang_naissance: u8,
}

/// Searches the INS with carte Vitale data.
#[utoipa::path(post, path = "/v1/ins/search-vitale", tag = "ins", security(("api_key" = [])), request_body = VitaleBody, responses(
    (status = 200, description = "Same shape as /v1/ins/search"), (status = 422, body = ApiError), (status = 503, body = ApiError)
))]
pub(super) async fn search_vitale(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(b): ApiJson<VitaleBody>,
) -> Result<Json<Value>, ApiError> {
    let invalid = |code: &str, m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, m);
    let matricule = crate::ins::Matricule::parse(&b.matricule_individu)
        .map_err(|e| invalid(e.code(), e.to_string()))?;
    let od = crate::ins::Matricule::parse(&b.matricule_od)
        .map_err(|e| invalid(e.code(), e.to_string()))?;
    let birth_date: BirthDate = serde_json::from_value(json!(b.birth_date))
        .map_err(|e| invalid("ins.invalid_birth_date", e.to_string()))?;
    let birth_name =
        crate::ins::normalize_name(&b.birth_name).map_err(|e| invalid(e.code(), e.to_string()))?;
    let q = VitaleQuery {
        matricule_individu: matricule.clone(),
        matricule_od: od,
        birth_name,
        birth_date,
        rang_naissance: b.rang_naissance,
    };
    let result = client(&state)?.search_vitale(&q).await;
    let (outcome, subject) = match &result {
        Ok(InsiResponse::Found(id)) => ("found", Some(id.ins.masked())),
        Ok(InsiResponse::NotFound) => ("not_found", Some(mask_ins(matricule.expose()))),
        Ok(InsiResponse::Multiple) => ("multiple", Some(mask_ins(matricule.expose()))),
        Err(_) => ("error", Some(mask_ins(matricule.expose()))),
    };
    state
        .audit
        .record(ctx.audit("insi.search_vitale", subject, outcome, None))
        .await;
    let r = result.map_err(|e| insi_error(&e))?;
    let attempts = json!([{"kind": "carte_vitale", "outcome": outcome}]);
    Ok(Json(match r {
        InsiResponse::Found(id) => {
            let idj = identity_json(&id);
            json!({"outcome": "found", "ins": idj["ins"], "traits": idj["traits"], "history": idj["history"],
                   "attempts": attempts, "differences": []})
        }
        InsiResponse::NotFound => {
            json!({"outcome": "not_found", "history": [], "attempts": attempts, "differences": []})
        }
        InsiResponse::Multiple => {
            json!({"outcome": "multiple", "history": [], "attempts": attempts, "differences": []})
        }
    }))
}

fn actor(ctx: &Ctx) -> Actor {
    Actor {
        name: ctx.actor.clone(),
        correlation_id: ctx.request_id.clone(),
    }
}

/// Creates a person with local traits (status PROV).
#[utoipa::path(post, path = "/v1/persons", tag = "persons", security(("api_key" = [])), request_body = TraitsBody, responses(
    (status = 201, description = "The person"), (status = 422, body = ApiError)
))]
pub(super) async fn create_person(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(body): ApiJson<TraitsBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let traits = body.into_traits()?;
    let p = state
        .persons
        .create(traits, &actor(&ctx))
        .await
        .map_err(person_error)?;
    Ok((StatusCode::CREATED, Json(json!(p))))
}

/// A person, with status and INS data.
#[utoipa::path(get, path = "/v1/persons/{id}", tag = "persons", security(("api_key" = [])), params(("id" = String, Path)), responses(
    (status = 200, description = "The person"), (status = 404, body = ApiError)
))]
pub(super) async fn get_person(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let p = state.persons.get(&id).await.map_err(person_error)?;
    Ok(Json(json!(p)))
}

/// Runs INSi for the person and moves the status (see the module doc of `ins::person`).
#[utoipa::path(post, path = "/v1/persons/{id}/insi", tag = "persons", security(("api_key" = [])), params(("id" = String, Path)), responses(
    (status = 200, description = "`{person, search, transition}`"), (status = 404, body = ApiError),
    (status = 409, body = ApiError), (status = 503, body = ApiError)
))]
pub(super) async fn person_insi(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let client = client(&state)?;
    let check = state
        .persons
        .check_insi(&id, client, &actor(&ctx))
        .await
        .map_err(person_error)?;
    let mut search = report_json(&check.search);
    if check.search.identity.is_some() && !check.search.differences.is_empty() {
        search["qualification"] = json!("blocked_by_differences");
    }
    Ok(Json(
        json!({"person": check.person, "search": search, "transition": check.transition}),
    ))
}

/// A high-trust identity document check.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentBody {
    /// `identity_card`, `passport`, `residence_permit`, `family_record_book_with_parent_id`,
    /// `birth_certificate_with_parent_id`.
    #[schema(value_type = String)]
    pub kind: DocumentKind,
}

/// Records a high-trust document check (VALI, or QUAL with an INSi-verified INS).
#[utoipa::path(post, path = "/v1/persons/{id}/identity-document", tag = "persons", security(("api_key" = [])), params(("id" = String, Path)), request_body = DocumentBody, responses(
    (status = 200, description = "`{person, transition}`"), (status = 404, body = ApiError), (status = 409, body = ApiError)
))]
pub(super) async fn identity_document(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DocumentBody>,
) -> Result<Json<Value>, ApiError> {
    let doc = HighTrustDocument {
        kind: body.kind,
        checked_at: time::OffsetDateTime::now_utc(),
    };
    let (p, t) = state
        .persons
        .document_checked(&id, doc, &actor(&ctx))
        .await
        .map_err(person_error)?;
    Ok(Json(json!({"person": p, "transition": t})))
}

/// Changes traits (a strict-trait change downgrades the status) or attributes.
#[utoipa::path(patch, path = "/v1/persons/{id}", tag = "persons", security(("api_key" = [])), params(("id" = String, Path)), request_body = PersonPatch, responses(
    (status = 200, description = "`{person, transitions}`"), (status = 404, body = ApiError), (status = 409, body = ApiError)
))]
pub(super) async fn patch_person(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PersonPatch>,
) -> Result<Json<Value>, ApiError> {
    let (p, ts) = state
        .persons
        .patch(&id, body, &actor(&ctx))
        .await
        .map_err(person_error)?;
    Ok(Json(json!({"person": p, "transitions": ts})))
}

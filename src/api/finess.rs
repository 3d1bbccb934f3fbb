//! FINESS routes: look a structure up by number, search by name with filters; from the imported national file,
//! or online from the Annuaire Santé when asked (`source=online|auto`, see [`crate::finess::online`]).
//!
//! The index is built from the stored national files at start-up (in the background: until it is ready the
//! routes answer 503 `finess.loading`) and rebuilt when another process imports a new generation (checked every
//! [`RELOAD_EVERY`]); the new index replaces the old one atomically.

use super::AppState;
use super::error::ApiError;
use super::query::ApiQuery;
use crate::finess::index::{FinessIndex, SearchQuery, Structure, StructureKind};
use crate::finess::online::{self, Source};
use crate::finess::{Category, Finess};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often the store is checked for a new import.
pub const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// The current index and its generation.
#[derive(Debug, Default)]
pub struct FinessState {
    current: RwLock<Option<Arc<(i64, FinessIndex)>>>,
    ready: std::sync::atomic::AtomicBool,
}

impl FinessState {
    /// The current index and its generation, `None` while none is loaded.
    pub fn get(&self) -> Option<Arc<(i64, FinessIndex)>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    fn generation(&self) -> Option<i64> {
        self.get().map(|c| c.0)
    }

    /// Replaces the index; returns the one it replaced, if any.
    pub fn set(&self, generation: i64, index: FinessIndex) -> Option<Arc<(i64, FinessIndex)>> {
        let mut current = self.current.write().ok()?;
        current.replace(Arc::new((generation, index)))
    }

    fn mark_ready(&self) {
        self.ready.store(true, std::sync::atomic::Ordering::Release);
    }

    fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Loads the index now, then keeps it in step with the store. Runs until the daemon stops.
pub async fn keep_loaded(state: AppState) {
    loop {
        let stored = state.store.finess_generation().await.ok().flatten();
        if stored.is_some() && stored != state.finess.generation() {
            match crate::finess::load::load_index(&state.store).await {
                Ok(Some((g, index))) => {
                    tracing::info!(
                        generation = g,
                        structures = index.len(),
                        "FINESS index loaded"
                    );
                    // `load_index` already handed back what the build freed; an index replaced here is freed
                    // now (unless a request still holds it), and its pages go back too.
                    if let Some(previous) = state.finess.set(g, index) {
                        drop(previous);
                        tokio::task::spawn_blocking(crate::finess::load::release_free_memory);
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "FINESS index not loaded"),
            }
        }
        state.finess.mark_ready();
        tokio::time::sleep(RELOAD_EVERY).await;
    }
}

/// Routes (under API-key auth).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/finess", get(search))
        .route("/v1/finess/{id}", get(lookup))
}

fn index(state: &AppState) -> Result<Arc<(i64, FinessIndex)>, ApiError> {
    match state.finess.get() {
        Some(i) => Ok(i),
        None if !state.finess.is_ready() => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "finess.loading",
            "the FINESS index is being loaded; retry in a few seconds",
        )),
        None => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "finess.no_data",
            "no FINESS national file imported yet: run segur finess import FILE…",
        )),
    }
}

fn category_json(code: Option<&str>, label: Option<&str>) -> Value {
    match code {
        Some(c) => {
            let info = Category::lookup(c);
            json!({
                "code": c,
                "label": info.map(|i| i.label.to_string()).or(label.map(str::to_string)),
                "family": info.map(|i| i.family),
            })
        }
        None => Value::Null,
    }
}

fn eligible(code: Option<&str>) -> bool {
    code.and_then(Category::lookup)
        .is_some_and(|c| c.eligible_segur_ms)
}

fn summary(s: Structure<'_>) -> Value {
    match s {
        Structure::Entity(e) => json!({
            "finess": e.finess.to_string(), "kind": "EJ", "name": e.name(), "active": e.active,
            "category": category_json(e.category(), e.category_label()),
        }),
        Structure::Establishment(e) => json!({
            "finess": e.finess.to_string(), "kind": "ET", "name": e.name(), "active": e.active,
            "category": category_json(e.category(), e.category_label()),
            "department": e.department_code(),
            "eligible_segur_ms": eligible(e.category()),
        }),
    }
}

/// The full JSON of a structure with its EJ or ETs and its Ségur médico-social eligibility.
pub fn finess_json(index: &FinessIndex, s: Structure<'_>) -> Value {
    let mut v = summary(s);
    match s {
        Structure::Entity(e) => {
            let ets: Vec<Value> = index
                .establishments_of(&e.finess)
                .map(|et| summary(Structure::Establishment(et)))
                .collect();
            v["address"] = json!(e.address());
            v["legal_status"] = json!(e.legal_status());
            v["id_nat_struct"] = json!(e.finess.to_id_nat_struct());
            v["eligible_segur_ms"] = json!(
                index
                    .establishments_of(&e.finess)
                    .any(|et| eligible(et.category()))
            );
            v["establishments"] = json!(ets);
        }
        Structure::Establishment(e) => {
            v["address"] = json!(e.address());
            v["coordinates"] = json!(e.coordinates);
            v["id_nat_struct"] = json!(e.finess.to_id_nat_struct());
            v["entity"] = index
                .entity_of(&e.finess)
                .map_or(Value::Null, |ej| summary(Structure::Entity(ej)));
        }
    }
    v
}

/// Where to look.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LookupParams {
    /// `local` (the imported national file, default), `online` (the Annuaire Santé API) or `auto` (the file,
    /// then the Annuaire when the file has no answer).
    #[param(value_type = Option<String>)]
    pub source: Option<Source>,
}

/// A structure (EJ or ET) by FINESS number or `1<FINESS>`.
#[utoipa::path(get, path = "/v1/finess/{id}", tag = "finess", security(("api_key" = [])), params(("id" = String, Path), LookupParams), responses(
    (status = 200, description = "`{finess, kind: EJ|ET, name, category, address, entity?, establishments?, eligible_segur_ms}`; online answers add `source: annuaire`"),
    (status = 404, body = ApiError), (status = 422, body = ApiError), (status = 502, body = ApiError), (status = 503, body = ApiError)
))]
pub(super) async fn lookup(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<LookupParams>,
) -> Result<Json<Value>, ApiError> {
    let parsed = if id.len() == 10 {
        Finess::from_id_nat_struct(&id)
    } else {
        Finess::parse(&id)
    };
    let finess = parsed.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "finess.invalid",
            e.to_string(),
        )
        .with_details(json!({"rule": e.code()}))
    })?;
    let not_found = |where_: &str| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "finess.not_found",
            format!("{finess} is not in {where_}"),
        )
    };
    let source = p.source.unwrap_or_default();
    if source != Source::Online {
        let local = match index(&state) {
            Ok(current) => current.1.get(&finess).map(|s| finess_json(&current.1, s)),
            Err(e) if source == Source::Local => return Err(e),
            Err(_) => None,
        };
        match (local, source) {
            (Some(v), _) => return Ok(Json(v)),
            (None, Source::Local) => return Err(not_found("the imported FINESS data")),
            _ => {}
        }
    }
    let client = annuaire(&state)?;
    online::lookup(client, &finess)
        .await
        .map_err(annuaire_error)?
        .map(Json)
        .ok_or_else(|| not_found("the Annuaire Santé"))
}

fn annuaire(state: &AppState) -> Result<&segur_annuaire::AnnuaireClient, ApiError> {
    state.annuaire.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "finess.online_not_configured",
            "online lookups need the Annuaire Santé API: set finess.fhir_base_url and finess.api_key",
        )
    })
}

/// Annuaire failures: 503 when trying again may work, 502 otherwise (a refused key is a configuration problem).
fn annuaire_error(e: segur_annuaire::AnnuaireError) -> ApiError {
    use segur_annuaire::AnnuaireError as E;
    let (status, code) = match &e {
        _ if e.is_transient() => (StatusCode::SERVICE_UNAVAILABLE, "annuaire.unavailable"),
        E::Unauthorized { .. } => (StatusCode::BAD_GATEWAY, "annuaire.unauthorized"),
        _ => (StatusCode::BAD_GATEWAY, "annuaire.error"),
    };
    tracing::warn!(error = %e, code, "Annuaire Santé request failed");
    ApiError::new(status, code, e.to_string())
}

/// Search parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Name words (accent- and case-insensitive, prefixes).
    pub q: Option<String>,
    /// Department code (`63`, `2A`, `974`…).
    pub department: Option<String>,
    /// Category code (`500` EHPAD…).
    pub category: Option<String>,
    /// `EJ` or `ET`.
    pub kind: Option<String>,
    /// Most results (default 20, at most 200).
    pub limit: Option<usize>,
    /// `local` (default), `online` (the Annuaire Santé API, by name and category; the department is read from the
    /// postal code) or `auto` (the file when one is imported, else the Annuaire).
    #[param(value_type = Option<String>)]
    pub source: Option<Source>,
}

/// Ranked structures matching a name, with filters.
#[utoipa::path(get, path = "/v1/finess", tag = "finess", security(("api_key" = [])), params(SearchParams), responses(
    (status = 200, description = "`{results: [...]}` best first"), (status = 422, body = ApiError), (status = 503, body = ApiError)
))]
pub(super) async fn search(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = p.limit.unwrap_or(20).min(200);
    let text = p.q.unwrap_or_default();
    let current = match (p.source.unwrap_or_default(), index(&state)) {
        (Source::Local, loaded) => loaded?,
        (Source::Auto, Ok(current)) => current,
        (Source::Online | Source::Auto, _) => {
            if p.kind.is_some() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "finess.invalid_kind",
                    "kind is not a filter of online searches; use category",
                ));
            }
            let client = annuaire(&state)?;
            let results = online::search(
                client,
                &text,
                p.category.as_deref(),
                p.department.as_deref(),
                limit,
            )
            .await
            .map_err(annuaire_error)?;
            return Ok(Json(json!({ "results": results, "source": "annuaire" })));
        }
    };
    let index = &current.1;
    let mut q = SearchQuery::new(&text).limit(limit);
    if let Some(d) = &p.department {
        q = q.department(d);
    }
    if let Some(c) = &p.category {
        q = q.category(c);
    }
    match p.kind.as_deref() {
        Some("EJ") => q = q.kind(StructureKind::Entity),
        Some("ET") | Some("EG") => q = q.kind(StructureKind::Establishment),
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "finess.invalid_kind",
                format!("kind must be EJ or ET, not {other}"),
            ));
        }
        None => {}
    }
    let results: Vec<Value> = index
        .search(&q)
        .into_iter()
        .map(|h| summary(h.structure))
        .collect();
    Ok(Json(json!({ "results": results })))
}

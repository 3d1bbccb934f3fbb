//! The INSi simulator as an HTTPS server (mounted by [`crate::sim::SimHost`] behind mutual TLS).
//!
//! Like the real service: `POST` only, SOAP 1.2 with the action in the `Content-Type`; a client certificate whose
//! CN is not `INSI-AUTO`/`INSI-MANU` gets the `DESIR_560` fault; answers are `200` with `RESULTAT`, faults are
//! SOAP 1.2 faults with HTTP `500` (SOAP 1.2 HTTP binding).

use super::data::{SimAnswer, SimData};
use super::protocol::{SimFault, SimQuery, build_answer, build_fault, parse_request};
use crate::net::ClientCert;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use std::sync::Arc;

const SOAP_CT: &str = "application/soap+xml; charset=utf-8";

/// The router: the service answers on `/` and on `/lps` (the real endpoint's path).
pub fn router(data: Arc<SimData>) -> Router {
    Router::new()
        .route("/", post(handle))
        .route("/lps", post(handle))
        .with_state(data)
}

fn fault(f: &SimFault) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, SOAP_CT)],
        build_fault(f),
    )
        .into_response()
}

async fn handle(
    State(data): State<Arc<SimData>>,
    Extension(ClientCert(cert)): Extension<ClientCert>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let cn_ok = cert
        .as_ref()
        .and_then(|c| c.common_name.as_deref())
        .is_some_and(|cn| cn == "INSI-AUTO" || cn == "INSI-MANU");
    if !cn_ok {
        return fault(&SimFault::certificate_not_allowed());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let request = match parse_request(content_type, &body) {
        Ok(r) => r,
        Err(f) => return fault(&f),
    };
    let answer = match &request.query {
        SimQuery::Traits(q) => data.lookup(q),
        SimQuery::Vitale(q) => data.lookup_vitale(q),
    };
    let status = match answer {
        SimAnswer::Fault(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::OK,
    };
    (
        status,
        [(header::CONTENT_TYPE, SOAP_CT)],
        build_answer(&answer),
    )
        .into_response()
}

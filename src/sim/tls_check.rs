//! `tls_check`: the smallest simulator — it shows the client certificate it received.
//!
//! Reaching it at all proves the TLS set-up (trust of the IGC Santé test roots, client certificate from the
//! ORGANISATIONS CA); the answer shows what the server side reads from the certificate.

use crate::net::ClientCert;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

/// The router.
pub fn router() -> Router {
    Router::new().route("/", get(show))
}

async fn show(Extension(ClientCert(cert)): Extension<ClientCert>) -> Json<Value> {
    Json(match cert {
        Some(c) => json!({
            "client_certificate": {
                "subject": c.subject,
                "issuer": c.issuer,
                "common_name": c.common_name,
                "structure_id": c.structure_id(),
                "not_after": c.not_after.to_string(),
            }
        }),
        None => json!({ "client_certificate": null }),
    })
}

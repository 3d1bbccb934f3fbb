//! [`Ctx`]: who calls (API key name) and the request id, for handlers that write the audit log.

use super::auth::Caller;
use super::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The caller and the request id of the current request.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// API key name.
    pub actor: String,
    /// `X-Request-Id`.
    pub request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let actor = parts
            .extensions
            .get::<Caller>()
            .map(|c| c.0.clone())
            .ok_or_else(|| {
                ApiError::internal("route without authentication asked for the caller")
            })?;
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Ctx { actor, request_id })
    }
}

impl Ctx {
    /// An audit entry for this request.
    pub fn audit(
        &self,
        action: &str,
        subject: Option<String>,
        outcome: &str,
        details: Option<serde_json::Value>,
    ) -> crate::store::audit::AuditEntry {
        crate::store::audit::AuditEntry {
            actor: self.actor.clone(),
            action: action.to_string(),
            subject,
            outcome: outcome.to_string(),
            correlation_id: self.request_id.clone(),
            details,
        }
    }
}

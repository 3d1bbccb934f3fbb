//! Bearer API keys on every `/v1/*` route.
//!
//! A presented key is hashed (SHA-256) and looked up: first among the keys given by the environment
//! (`SEGUR_API_KEY`) or generated for the sandbox, then in a short-lived cache, then in the store (so a key created
//! with `segur apikey create` while the daemon runs works at once, and a revoked one stops within
//! [`CACHE_TTL`]). The caller's key name reaches handlers as [`Caller`], for the audit log.

use super::AppState;
use super::error::ApiError;
use crate::store::apikeys::hash_key;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a key found in the store is trusted without asking the store again.
pub const CACHE_TTL: Duration = Duration::from_secs(30);

/// Name of the API key that authenticated the request.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// Keys known without the store, and the cache of store keys.
#[derive(Debug, Default)]
pub struct Keys {
    fixed: HashMap<String, String>,
    cache: RwLock<HashMap<String, (String, Instant)>>,
}

impl Keys {
    /// Adds a key known from the environment or generated for the sandbox.
    pub fn add_fixed(&mut self, name: &str, key: &str) {
        self.fixed.insert(hash_key(key), name.to_string());
    }

    fn cached(&self, hash: &str) -> Option<String> {
        let cache = self.cache.read().ok()?;
        let (name, at) = cache.get(hash)?;
        (at.elapsed() < CACHE_TTL).then(|| name.clone())
    }

    fn remember(&self, hash: String, name: String) {
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(hash, (name, Instant::now()));
        }
    }
}

fn unauthorized(code: &str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// The middleware.
pub async fn require_key(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("auth.missing_key", "send Authorization: Bearer <API key>"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            unauthorized(
                "auth.malformed",
                "the Authorization header must be `Bearer <API key>`",
            )
        })?;
    let hash = hash_key(token);
    let keys = &state.keys;
    let name = match keys
        .fixed
        .get(&hash)
        .cloned()
        .or_else(|| keys.cached(&hash))
    {
        Some(n) => n,
        None => match state.store.api_key_name(&hash).await? {
            Some(n) => {
                keys.remember(hash, n.clone());
                n
            }
            None => {
                return Err(unauthorized(
                    "auth.unknown_key",
                    "unknown or revoked API key",
                ));
            }
        },
    };
    req.extensions_mut().insert(Caller(name));
    Ok(next.run(req).await)
}

//! `ApiJson<T>`: the JSON body extractor whose failures are [`ApiError`]s — 400 `request.invalid_json` with the
//! line and column of a syntax error, 422 `request.invalid_body` for a well-formed body of the wrong shape, 413
//! `request.too_large` past `api.body_limit`, 415 `request.unsupported_media_type` without a JSON content type.

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::json;

/// A JSON request body.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.unsupported_media_type",
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request.too_large",
                    "request body larger than api.body_limit",
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "request.unreadable_body",
                    r.body_text(),
                )
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses JSON bytes into `T`, mapping errors to API errors with their position.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let details = json!({ "line": inner.line(), "column": inner.column(), "path": path });
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "request.invalid_body",
                format!("body field `{path}`: {inner}"),
            ),
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                "request.invalid_json",
                format!("malformed JSON: {inner}"),
            ),
        }
        .with_details(details)
    })
}

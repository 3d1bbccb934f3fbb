//! `ApiQuery<T>`: the query-string extractor whose failures are [`ApiError`]s — 400 `request.invalid_query`
//! naming the parameter (unknown parameter, unknown value such as `source=web`, a number that is not one) —
//! instead of axum's plain-text rejection.

use super::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        parse(query).map(ApiQuery)
    }
}

/// Parses a query string (`a=1&b=x`) into `T`.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.invalid_query",
            format!("query parameter `{path}`: {}", e.into_inner()),
        )
        .with_details(serde_json::json!({ "parameter": path }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct P {
        limit: Option<usize>,
        kind: Option<String>,
    }

    #[test]
    fn errors_name_the_parameter() {
        let p: P = parse("limit=3&kind=EJ").unwrap();
        assert_eq!((p.limit, p.kind.as_deref()), (Some(3), Some("EJ")));
        let e = parse::<P>("limit=many").unwrap_err();
        assert_eq!(e.code, "request.invalid_query");
        assert!(e.message.contains("limit"), "{}", e.message);
        let e = parse::<P>("colour=red").unwrap_err();
        assert!(e.message.contains("colour"), "{}", e.message);
    }
}

//! Errors of the Annuaire client.

use std::fmt;

/// What went wrong talking to the Annuaire Santé FHIR API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnnuaireError {
    /// The base URL given to [`AnnuaireClient::new`](crate::AnnuaireClient::new) is not an absolute `http(s)` URL.
    #[error("invalid Annuaire base URL: {0}")]
    InvalidBaseUrl(String),
    /// The API key given to [`AnnuaireClient::new`](crate::AnnuaireClient::new) cannot be sent in a header
    /// (control characters, non-visible bytes). The key itself is not repeated.
    #[error("the Annuaire API key is not a valid header value")]
    InvalidApiKey,
    /// The server answered 401 or 403: the `ESANTE-API-KEY` is missing, wrong, expired or not allowed for this
    /// resource. Not transient: retrying with the same key will not help.
    #[error("the Annuaire refused the API key (HTTP {status})")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
    },
    /// Any other non-success answer; `body_excerpt` holds the start of the body (often an `OperationOutcome`).
    #[error("the Annuaire answered HTTP {status}: {body_excerpt}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// At most [`AnnuaireError::EXCERPT_LEN`] bytes of the body (cut on a character boundary).
        body_excerpt: String,
    },
    /// No answer: DNS, connection, TLS or timeout (the text says which).
    #[error("cannot reach the Annuaire: {0}")]
    Transport(String),
    /// An answer came but is not a FHIR Bundle this client can read (the text keeps the cause).
    #[error("unreadable Annuaire answer: {0}")]
    Decode(String),
    /// A `next` link points to another origin than the base URL; it is not followed (the key would leak).
    #[error("the Annuaire's next link points elsewhere: {0}")]
    ForeignNextLink(String),
}

impl AnnuaireError {
    /// Longest body excerpt kept in [`AnnuaireError::Http`].
    pub const EXCERPT_LEN: usize = 512;

    /// Whether trying again later may succeed: transport failures, 408, 429 and 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            AnnuaireError::Transport(_) => true,
            AnnuaireError::Http { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => false,
        }
    }

    /// Builds the error for a non-success HTTP status and its body.
    pub(crate) fn from_status(status: u16, body: &str) -> AnnuaireError {
        if status == 401 || status == 403 {
            return AnnuaireError::Unauthorized { status };
        }
        AnnuaireError::Http {
            status,
            body_excerpt: excerpt(body),
        }
    }

    pub(crate) fn decode(cause: impl fmt::Display) -> AnnuaireError {
        AnnuaireError::Decode(cause.to_string())
    }
}

/// The first [`AnnuaireError::EXCERPT_LEN`] bytes of `body`, cut on a character boundary.
fn excerpt(body: &str) -> String {
    let mut end = body.len().min(AnnuaireError::EXCERPT_LEN);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    body[..end].to_owned()
}

impl From<fhir_sdk::client::Error> for AnnuaireError {
    fn from(err: fhir_sdk::client::Error) -> AnnuaireError {
        use fhir_sdk::client::Error as E;
        match err {
            E::Response(status, body) => AnnuaireError::from_status(status.as_u16(), &body),
            E::OperationOutcomeR4B(status, outcome) => {
                let body = serde_json::to_string(&outcome).unwrap_or_default();
                AnnuaireError::from_status(status.as_u16(), &body)
            }
            E::Request(e) if e.is_decode() || e.is_body() => AnnuaireError::decode(error_chain(&e)),
            E::Request(e) => AnnuaireError::Transport(error_chain(&e)),
            E::Json(e) => AnnuaireError::decode(e),
            E::DifferentOrigin(url) => AnnuaireError::ForeignNextLink(url),
            E::DifferentFhirVersion(v) => {
                AnnuaireError::Decode(format!("server speaks FHIR {v}, not 4.x"))
            }
            E::HeaderParsing(e) => AnnuaireError::decode(e),
            other => AnnuaireError::Transport(other.to_string()),
        }
    }
}

/// `err` and its causes, joined by `: ` (reqwest's top-level message alone rarely says what failed).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_and_transience() {
        assert!(matches!(
            AnnuaireError::from_status(401, ""),
            AnnuaireError::Unauthorized { status: 401 }
        ));
        assert!(matches!(
            AnnuaireError::from_status(403, ""),
            AnnuaireError::Unauthorized { status: 403 }
        ));
        assert!(!AnnuaireError::from_status(401, "").is_transient());
        assert!(AnnuaireError::from_status(503, "busy").is_transient());
        assert!(AnnuaireError::from_status(429, "").is_transient());
        assert!(!AnnuaireError::from_status(400, "bad").is_transient());
        assert!(AnnuaireError::Transport("refused".into()).is_transient());
        assert!(!AnnuaireError::Decode("x".into()).is_transient());
    }

    #[test]
    fn excerpt_is_bounded_on_char_boundary() {
        let body = "é".repeat(600);
        match AnnuaireError::from_status(500, &body) {
            AnnuaireError::Http { body_excerpt, .. } => {
                assert!(body_excerpt.len() <= AnnuaireError::EXCERPT_LEN);
                assert!(body_excerpt.chars().all(|c| c == 'é'));
            }
            other => panic!("{other:?}"),
        }
    }
}

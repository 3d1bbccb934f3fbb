//! `openidconnect`'s [`AsyncHttpClient`] over the project's reqwest client, so every PSC exchange (discovery, JWKS,
//! token, UserInfo) goes through one HTTP/TLS stack: the configured trust roots and, when configured, the
//! structure's certificate presented for mutual TLS.

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;

/// Why an HTTP exchange failed (before any OAuth error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Connection, TLS or timeout.
    #[error("{0}")]
    Transport(String),
    /// The request could not be built.
    #[error("bad request: {0}")]
    Build(String),
}

/// The adapter.
#[derive(Debug, Clone)]
pub struct OidcHttp {
    client: reqwest::Client,
}

impl OidcHttp {
    /// Wraps a client (from [`crate::http::mtls_client`] or any other).
    pub fn new(client: reqwest::Client) -> Self {
        OidcHttp { client }
    }

    /// The wrapped client, for the exchanges `openidconnect` does not cover (discovery with fallback, CIBA).
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request =
            reqwest::Request::try_from(request).map_err(|e| HttpError::Build(e.to_string()))?;
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| HttpError::Transport(crate::pki::tls::describe(&e)))?;
        let mut builder = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| HttpError::Transport(crate::pki::tls::describe(&e)))?;
        builder
            .body(body.to_vec())
            .map_err(|e| HttpError::Build(e.to_string()))
    }
}

impl<'c> AsyncHttpClient<'c> for OidcHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.exchange(request))
    }
}
